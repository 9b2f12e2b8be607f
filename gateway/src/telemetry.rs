//! Structured JSON logs via `tracing`. Log fields are ids, kinds, tags and codes only.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The filter used unless `RUST_LOG` says otherwise.
pub const DEFAULT_FILTER: &str = "info,lapin=warn,sqlx=warn";

/// Installs the JSON log subscriber on standard output.
pub fn init() {
    init_with(std::io::stdout);
}

/// Installs the JSON log subscriber writing to `writer` (filter from `RUST_LOG`, else
/// [`DEFAULT_FILTER`]).
pub fn init_with<W>(writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_writer(writer)
        .try_init();
}
