//! Optional export of the processes' spans over OTLP/HTTP (protobuf), when the standard
//! `OTEL_EXPORTER_OTLP_ENDPOINT` is set (with `OTEL_SERVICE_NAME`, `OTEL_BSP_*` as the
//! OpenTelemetry SDK reads them). A span of a message continues the message's W3C trace
//! ([`continue_trace`]): a collector shows the gateway's submission and the adapters'
//! delivery in the trace the sender's request started. Span names and fields are ids, kinds
//! and codes only, as in the logs.

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider,
};
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::OnceLock;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::Layer;
use tracing_subscriber::registry::LookupSpan;

/// The environment variable that turns the export on.
pub const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// The provider of the running export, kept to flush it at the end.
static PROVIDER: OnceLock<SdkTracerProvider> = OnceLock::new();

/// The layer that exports spans to the endpoint of [`ENDPOINT`], if it is set and a tokio
/// runtime runs (the exporter's requests run on it), for the service `service`.
pub fn layer<S>(service: &str) -> Option<Box<dyn Layer<S> + Send + Sync>>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a> + Send + Sync,
{
    let endpoint = std::env::var(ENDPOINT).ok().filter(|e| !e.is_empty())?;
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    let client = OnTokio {
        http: reqwest::Client::new(),
        runtime,
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_endpoint(format!("{}/v1/traces", endpoint.trim_end_matches('/')))
        .build()
        .ok()?;
    let name = std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| service.to_owned());
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(name)
        .build();
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build();
    let tracer = provider.tracer(service.to_owned());
    let _ = PROVIDER.set(provider);
    Some(tracing_opentelemetry::layer().with_tracer(tracer).boxed())
}

/// Makes `span` part of the W3C trace `traceparent` names (if well-formed): its parent is
/// that trace's span. Without the export it does nothing.
pub fn continue_trace(span: &tracing::Span, traceparent: &str) {
    let mut parts = traceparent.split('-').skip(1);
    let (Some(trace), Some(parent)) = (parts.next(), parts.next()) else {
        return;
    };
    let (Ok(trace), Ok(parent)) = (TraceId::from_hex(trace), SpanId::from_hex(parent)) else {
        return;
    };
    let remote = SpanContext::new(
        trace,
        parent,
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );
    let context = opentelemetry::Context::new().with_remote_span_context(remote);
    let _ = span.set_parent(context);
}

/// Exports what is still waiting and stops the export (at the end of a process).
pub async fn finish() {
    if let Some(provider) = PROVIDER.get().cloned() {
        let _ = tokio::task::spawn_blocking(move || provider.shutdown()).await;
    }
}

/// An HTTP client for the exporter that runs each request on the process's tokio runtime,
/// whatever thread the SDK's batch processor calls it from.
#[derive(Debug)]
struct OnTokio {
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl HttpClient for OnTokio {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let (parts, body) = request.into_parts();
        let mut sending = self
            .http
            .request(parts.method, parts.uri.to_string())
            .headers(parts.headers)
            .body(body);
        sending = sending.timeout(std::time::Duration::from_secs(10));
        let answered = self.runtime.spawn(async move {
            let response = sending.send().await?;
            let status = response.status();
            Ok::<_, reqwest::Error>((status, response.bytes().await?))
        });
        let (status, body) = answered.await??;
        Ok(Response::builder().status(status).body(body)?)
    }
}
