//! The outbox: publishes messages that were recorded but never confirmed (a crash between
//! record and publish, a broker outage), at start-up and then periodically. It publishes a
//! message only under a claim it won in the store, so it never publishes one a request is
//! publishing (nor the other way round).

use super::{Publisher, SendError};
use crate::record::Store;
use contract::plumbing::broker::PublishError;
use contract::plumbing::clock::Clock;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Longest wait between two attempts for one message.
const MAX_BACKOFF_SECS: i64 = 300;

/// Replays unconfirmed messages.
pub struct Outbox {
    store: Arc<dyn Store>,
    publisher: Publisher,
    interval: Duration,
    batch: u32,
    /// How long a claim holds: longer than one publish with its confirm.
    lease: Duration,
    clock: Arc<Clock>,
}

impl Outbox {
    /// An outbox sweeping every `interval`, `batch` messages at most per sweep, each under a
    /// claim of `lease` (by the gateway's `clock`).
    pub fn new(
        store: Arc<dyn Store>,
        publisher: Publisher,
        interval: Duration,
        batch: u32,
        lease: Duration,
        clock: Arc<Clock>,
    ) -> Self {
        Self {
            store,
            publisher,
            interval,
            batch,
            lease,
            clock,
        }
    }

    /// Sweeps until cancelled. Unless other instances share the store, the first sweep, at
    /// start-up, takes over every unconfirmed message another (a dead) instance held, due or
    /// not, but none that a request of this process has just recorded.
    pub async fn run(self, cancel: CancellationToken) {
        let mut take_over = !self.store.shared();
        while !cancel.is_cancelled() {
            match self.sweep(take_over).await {
                Ok(published) if published > 0 => {
                    tracing::info!(published, take_over, "outbox replayed messages");
                    take_over = false;
                }
                Ok(_) => take_over = false,
                Err(error) => tracing::warn!(%error, "outbox sweep failed"),
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(self.interval) => {}
            }
        }
    }

    /// Claims and publishes what is due, one message at a time; returns how many the broker
    /// confirmed.
    async fn sweep(&self, take_over: bool) -> Result<usize, crate::record::StoreError> {
        let mut published = 0;
        for _ in 0..self.batch {
            let Some(msg) = self
                .store
                .claim_due(1, self.clock.now() + self.lease, take_over)
                .await?
                .pop()
            else {
                break;
            };
            match self.publisher.publish(&msg).await {
                Ok(()) => {
                    self.store.mark_queued(&msg.id).await?;
                    published += 1;
                }
                Err(error) => {
                    tracing::warn!(message_id = %msg.id, %error, attempts = msg.attempts + 1, "outbox publish failed");
                    self.store
                        .defer(&msg.id, self.clock.now() + retry_delay(msg.attempts))
                        .await?;
                    if matches!(error, SendError::Broker(PublishError::Unavailable)) {
                        break;
                    }
                }
            }
        }
        Ok(published)
    }
}

/// Exponential delay before the next attempt of a message that failed `attempts` times before.
pub fn retry_delay(attempts: i64) -> time::Duration {
    time::Duration::seconds((1_i64 << attempts.clamp(0, 16)).min(MAX_BACKOFF_SECS))
}
