//! Logging and shutdown, the same in every process: structured JSON logs via `tracing`
//! (fields are ids, kinds, tags and codes only), and the signals that stop a process.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// The filter used unless `RUST_LOG` says otherwise.
pub const DEFAULT_FILTER: &str = "info,lapin=warn,sqlx=warn";

/// Installs the JSON log subscriber on standard output, and the span export of
/// [`super::otlp`] when it is configured, for the service `service`.
pub fn init(service: &str) {
    install(filter(), std::io::stdout, Some(service));
}

/// `RUST_LOG`'s filter, or [`DEFAULT_FILTER`].
fn filter() -> EnvFilter {
    EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
}

/// As [`init`], on standard error: for a command whose standard output is its answer.
pub fn init_for_command(service: &str) {
    install(filter(), std::io::stderr, Some(service));
}

/// Installs the JSON log subscriber writing to `writer` with `filter` (`RUST_LOG` syntax),
/// without span export (tests capture the logs with it).
pub fn init_filtered<W>(filter: impl Into<EnvFilter>, writer: W)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    install(filter.into(), writer, None);
}

fn install<W>(filter: EnvFilter, writer: W, service: Option<&str>)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let logs = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .with_writer(writer);
    let _ = tracing_subscriber::registry()
        .with(service.and_then(super::otlp::layer))
        .with(logs)
        .with(filter)
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
