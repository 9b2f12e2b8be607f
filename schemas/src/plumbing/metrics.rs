//! Prometheus metrics as every process exposes them, on `prometheus-client`: the latency
//! histograms' buckets, and the exposition text (OpenMetrics). Labels are names of routes,
//! transports, kinds, rules and outcomes: never personal data.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The content type of [`text`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A histogram of a step's seconds, from 1 ms to about 33 s.
pub fn seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// A histogram of a message's way to its recipient, from 10 ms to about 2 days.
pub fn way_seconds() -> Histogram {
    Histogram::new(exponential_buckets(0.01, 4.0, 13))
}

/// A histogram of the time a recipient takes to answer, from a minute to about 23 days.
pub fn answer_seconds() -> Histogram {
    Histogram::new(exponential_buckets(60.0, 2.0, 16))
}

/// A histogram of how many writes a batch holds, 1 to 1024.
pub fn sizes() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 11))
}

/// The exposition text of `registry`.
pub fn text(registry: &Registry) -> String {
    let mut out = String::new();
    encode(&mut out, registry).expect("metrics encode into a string");
    out
}
