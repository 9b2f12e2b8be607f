//! The adapters' own HTTP endpoint, for operators: `/healthz` (the process answers),
//! `/readyz` (every consumer is up: not ready while any queue has lost its consumer) and
//! `/metrics` (consumers per queue, deliveries, retries, failures, duplicates suppressed, and
//! the time from the gateway's acceptance of a message to its delivery).
//! Labels are adapters, queues and events: never personal data.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use contract::directory::Transport;
use contract::plumbing::metrics::{text, way_seconds};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What an adapter counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Count {
    /// Handed to the agency.
    Delivered,
    /// Parked for a later attempt.
    Retrying,
    /// Dead-lettered: failed for good, or expired.
    DeadLettered,
    /// A copy of a message already delivered, acked without delivering it again.
    DuplicateSuppressed,
    /// An attempt whose outcome is unknown (a lost confirm or answer).
    Unknown,
    /// A delivery tried again after an unknown outcome (or a holder that died mid-attempt):
    /// the only way a recipient can get a message twice.
    AgainAfterUnknown,
    /// An answer refused: for a message this adapter did not deliver, or from another
    /// account than its recipient's.
    AnswerRefused,
}

impl Count {
    fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Retrying => "retrying",
            Self::DeadLettered => "dead_lettered",
            Self::DuplicateSuppressed => "duplicate_suppressed",
            Self::Unknown => "unknown",
            Self::AgainAfterUnknown => "again_after_unknown",
            Self::AnswerRefused => "answer_refused",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByQueue {
    queue: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByOutcome {
    adapter: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByRecipient {
    adapter: String,
    recipient_type: String,
}

/// Makes the way histograms of a family.
#[derive(Clone)]
struct Way;

impl MetricConstructor<Histogram> for Way {
    fn new_metric(&self) -> Histogram {
        way_seconds()
    }
}

/// Consumers, counters and delivery times of one adapters process.
pub struct Health {
    /// Queue → consuming now.
    consumers: Mutex<BTreeMap<String, bool>>,
    registry: Registry,
    consuming: Family<ByQueue, Gauge>,
    counts: Family<ByOutcome, Counter>,
    delivered: Family<ByRecipient, Histogram, Way>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Health")
    }
}

impl Default for Health {
    fn default() -> Self {
        let mut registry = Registry::default();
        let consuming: Family<ByQueue, Gauge> = Family::default();
        let counts: Family<ByOutcome, Counter> = Family::default();
        let delivered = Family::new_with_constructor(Way);
        registry.register(
            "referral_adapter_consumers",
            "Consumers this process holds, by queue (0: lost, reconnecting)",
            consuming.clone(),
        );
        registry.register(
            "referral_adapter_messages",
            "Messages handled, by adapter and outcome",
            counts.clone(),
        );
        registry.register(
            "referral_delivery_seconds",
            "Time from the gateway's acceptance of a message to its delivery, by adapter and recipient type",
            delivered.clone(),
        );
        Self {
            consumers: Mutex::default(),
            registry,
            consuming,
            counts,
            delivered,
        }
    }
}

impl Health {
    /// Notes whether `queue` has its consumer now (registering it, down, at start-up).
    pub fn consumer(&self, queue: &str, up: bool) {
        self.consumers
            .lock()
            .expect("health lock")
            .insert(queue.to_owned(), up);
        let queue = queue.to_owned();
        self.consuming
            .get_or_create(&ByQueue { queue })
            .set(i64::from(up));
    }

    /// Counts one `count` of `adapter`.
    pub fn count(&self, adapter: Transport, count: Count) {
        let labels = ByOutcome {
            adapter: adapter.as_str().to_owned(),
            outcome: count.as_str().to_owned(),
        };
        self.counts.get_or_create(&labels).inc();
    }

    /// A message `adapter` delivered to an agency of `recipient_type`, `took` after the
    /// gateway accepted it.
    pub fn delivered_after(&self, adapter: Transport, recipient_type: &str, took: Duration) {
        let labels = ByRecipient {
            adapter: adapter.as_str().to_owned(),
            recipient_type: recipient_type.to_owned(),
        };
        self.delivered
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// Whether every registered queue has its consumer.
    pub fn ready(&self) -> bool {
        let consumers = self.consumers.lock().expect("health lock");
        !consumers.is_empty() && consumers.values().all(|up| *up)
    }

    fn render(&self) -> String {
        text(&self.registry)
    }
}

/// Serves the endpoint on `listener` until cancelled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    health: Arc<Health>,
    cancel: CancellationToken,
) {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(|State(h): State<Arc<Health>>| async move {
                match h.ready() {
                    true => (StatusCode::OK, "ready"),
                    false => (StatusCode::SERVICE_UNAVAILABLE, "a consumer is down"),
                }
            }),
        )
        .route(
            "/metrics",
            get(|State(h): State<Arc<Health>>| async move {
                let content_type = contract::plumbing::metrics::CONTENT_TYPE;
                (
                    [(axum::http::header::CONTENT_TYPE, content_type)],
                    h.render(),
                )
            }),
        )
        .with_state(health);
    if let Err(error) = axum::serve(listener, app)
        .with_graceful_shutdown(cancel.cancelled_owned())
        .await
    {
        tracing::error!(%error, "adapters' HTTP endpoint failed");
    }
}
