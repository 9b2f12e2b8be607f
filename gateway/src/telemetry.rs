//! Structured JSON logs via `tracing`. Log fields are ids, kinds, tags and codes only.

use tracing_subscriber::EnvFilter;

/// Installs the JSON log subscriber (filter from `RUST_LOG`, default `info`).
pub fn init() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,lapin=warn,sqlx=warn"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .try_init();
}
