//! Retention: payloads are kept no longer than delivery needs. Delivered and withdrawn
//! messages lose theirs with the status change (in the store); this sweep erases those of
//! failed and expired messages once the grace period for an operator's replay is over, and
//! those of queued messages left that long (the broker holds the copy that is delivered).
//! Ids, statuses, history, refusals and the audit trail stay for the audit period, then go.

use super::{Pruned, Store};
use contract::plumbing::clock::Clock;
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long what is kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Days a failed or expired message keeps its payload for an operator's replay.
    #[serde(default = "default_grace_days")]
    pub grace_days: u32,
    /// Days ids, statuses, history, refusals and audit entries are kept.
    #[serde(default = "default_audit_days")]
    pub audit_days: u32,
    /// Time between two sweeps.
    #[serde(default = "default_sweep_secs")]
    pub sweep_secs: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            grace_days: default_grace_days(),
            audit_days: default_audit_days(),
            sweep_secs: default_sweep_secs(),
        }
    }
}

fn default_grace_days() -> u32 {
    14
}
fn default_audit_days() -> u32 {
    5 * 365
}
fn default_sweep_secs() -> u64 {
    60
}

/// The retention sweep.
pub struct Retention {
    pub store: Arc<dyn Store>,
    pub clock: Arc<Clock>,
    pub config: RetentionConfig,
}

impl Retention {
    /// Sweeps until cancelled.
    pub async fn run(self, cancel: CancellationToken) {
        while !cancel.is_cancelled() {
            let before = self.clock.now() - time::Duration::days(self.config.grace_days.into());
            match self.store.erase_settled(before).await {
                Ok(0) => {}
                Ok(erased) => tracing::info!(erased, "payloads past their grace period erased"),
                Err(error) => tracing::warn!(%error, "retention sweep failed"),
            }
            // Delivered and withdrawn messages are erased as they settle, between sweeps.
            if let Err(error) = self.store.reclaim_erased().await {
                tracing::warn!(%error, "erased payloads' space not reclaimed");
            }
            let period = self.clock.now() - time::Duration::days(self.config.audit_days.into());
            match self.store.prune(period).await {
                Ok(pruned) if pruned == Pruned::default() => {}
                Ok(pruned) => tracing::info!(?pruned, "records past the audit period removed"),
                Err(error) => tracing::warn!(%error, "audit period sweep failed"),
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(self.config.sweep_secs)) => {}
            }
        }
    }
}
