//! The adapters' own HTTP endpoint, for operators: `/healthz` (the process answers),
//! `/readyz` (every consumer is up: not ready while any queue has lost its consumer) and
//! `/metrics` (consumers per queue, deliveries, retries, failures, duplicates suppressed).
//! Labels are adapters, queues and events: never personal data.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use contract::directory::Transport;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
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

/// Consumers and counters of one adapters process.
#[derive(Debug, Default)]
pub struct Health {
    /// Queue → consuming now.
    consumers: Mutex<BTreeMap<String, bool>>,
    counts: Mutex<BTreeMap<(Transport, Count), u64>>,
}

impl Health {
    /// Notes whether `queue` has its consumer now (registering it, down, at start-up).
    pub fn consumer(&self, queue: &str, up: bool) {
        self.consumers
            .lock()
            .expect("health lock")
            .insert(queue.to_owned(), up);
    }

    /// Counts one `count` of `adapter`.
    pub fn count(&self, adapter: Transport, count: Count) {
        *self
            .counts
            .lock()
            .expect("health lock")
            .entry((adapter, count))
            .or_default() += 1;
    }

    /// Whether every registered queue has its consumer.
    pub fn ready(&self) -> bool {
        let consumers = self.consumers.lock().expect("health lock");
        !consumers.is_empty() && consumers.values().all(|up| *up)
    }

    fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP referral_adapter_consumers Consumers this process holds, by queue (0: lost, reconnecting).\n# TYPE referral_adapter_consumers gauge"
        );
        for (queue, up) in self.consumers.lock().expect("health lock").iter() {
            let _ = writeln!(
                out,
                "referral_adapter_consumers{{queue=\"{queue}\"}} {}",
                u8::from(*up)
            );
        }
        let _ = writeln!(
            out,
            "# HELP referral_adapter_messages_total Messages handled, by adapter and outcome.\n# TYPE referral_adapter_messages_total counter"
        );
        for ((adapter, count), n) in self.counts.lock().expect("health lock").iter() {
            let _ = writeln!(
                out,
                "referral_adapter_messages_total{{adapter=\"{}\",outcome=\"{}\"}} {n}",
                adapter.as_str(),
                count.as_str()
            );
        }
        out
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
            get(|State(h): State<Arc<Health>>| async move { h.render() }),
        )
        .with_state(health);
    if let Err(error) = axum::serve(listener, app)
        .with_graceful_shutdown(cancel.cancelled_owned())
        .await
    {
        tracing::error!(%error, "adapters' HTTP endpoint failed");
    }
}
