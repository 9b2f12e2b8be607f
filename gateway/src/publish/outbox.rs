//! The outbox: publishes messages that were recorded but never confirmed (a crash between
//! record and publish, a broker outage), at start-up and then periodically.

use super::{PublishError, Publisher};
use crate::record::{Store, now};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Longest wait between two attempts for one message.
const MAX_BACKOFF_SECS: i64 = 300;

/// Replays unconfirmed messages.
pub struct Outbox {
    store: Store,
    publisher: Publisher,
    interval: Duration,
    batch: u32,
}

impl Outbox {
    /// An outbox sweeping every `interval`, `batch` messages at most per sweep.
    pub fn new(store: Store, publisher: Publisher, interval: Duration, batch: u32) -> Self {
        Self {
            store,
            publisher,
            interval,
            batch,
        }
    }

    /// Sweeps until cancelled. The first sweep, at start-up, takes every unconfirmed message,
    /// due or not: no request of this process can be publishing them.
    pub async fn run(self, cancel: CancellationToken) {
        let mut startup = true;
        while !cancel.is_cancelled() {
            let due_by = if startup {
                now() + time::Duration::days(36_500)
            } else {
                now()
            };
            match self.sweep(due_by).await {
                Ok(published) if published > 0 => {
                    tracing::info!(published, startup, "outbox replayed messages");
                    startup = false;
                }
                Ok(_) => startup = false,
                Err(error) => tracing::warn!(%error, "outbox sweep failed"),
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(self.interval) => {}
            }
        }
    }

    /// Publishes what is due by `due_by`; returns how many the broker confirmed.
    async fn sweep(
        &self,
        due_by: time::OffsetDateTime,
    ) -> Result<usize, crate::record::StoreError> {
        let mut published = 0;
        for msg in self.store.due(due_by, self.batch).await? {
            match self.publisher.publish(&msg).await {
                Ok(()) => {
                    self.store.mark_queued(&msg.id).await?;
                    published += 1;
                }
                Err(error) => {
                    tracing::warn!(message_id = %msg.id, %error, attempts = msg.attempts + 1, "outbox publish failed");
                    self.store
                        .defer(&msg.id, now() + retry_delay(msg.attempts))
                        .await?;
                    if matches!(error, PublishError::Unavailable) {
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
