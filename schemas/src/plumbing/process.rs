//! Logging and shutdown, the same in every process: structured JSON logs via `tracing`
//! (fields are ids, kinds, tags and codes only), and the signals that stop a process.

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
    init_filtered(filter, writer);
}

/// Installs the JSON log subscriber writing to `writer` with `filter` (`RUST_LOG` syntax).
pub fn init_filtered<W>(filter: impl Into<EnvFilter>, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter.into())
        .with_current_span(false)
        .with_writer(writer)
        .try_init();
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler installs");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
