//! Agency adapters. Each consumes its work queue (filled by the gateway) and hands every
//! message to the agency's own system:
//!
//! [`runtime`] (consume, ack, recover, withdraw) → an adapter ([`barnevern`], [`inbox`])
//! → the agency.

pub mod barnevern;
pub mod config;
pub mod inbox;
pub mod runtime;

use config::AdaptersConfig;
use gateway::deadlines::Clock;
use gateway::directory::{AdapterKind, Directory};
use gateway::publish::Topology;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// Running adapters.
pub struct Running {
    cancel: CancellationToken,
    tasks: JoinSet<()>,
}

impl Running {
    /// Stops consuming, lets in-flight deliveries finish (or be requeued), and waits.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Starts every adapter of the configuration (barnevern, politikontakt, sspf).
/// `clock` tells the barnevern adapter the time for office hours.
pub async fn start(
    config: &AdaptersConfig,
    directory: Arc<Directory>,
    clock: Arc<Clock>,
) -> Result<Running, sqlx::Error> {
    let cancel = CancellationToken::new();
    let topology = Topology::new(&config.broker.prefix, config.broker.delivery_limit);
    let ledger = runtime::Ledger::open(&config.runtime.ledger).await?;
    let mut tasks = JoinSet::new();
    let barnevern = Arc::new(barnevern::Barnevern::new(
        directory.clone(),
        topology.clone(),
        config,
        clock,
        ledger.clone(),
        cancel.clone(),
    ));
    tasks.spawn(barnevern.clone().receipts(cancel.clone()));
    let settings = runtime::Settings {
        url: config.broker.url.clone(),
        topology,
        prefetch: config.runtime.prefetch,
        retry: runtime::RetryPolicy {
            budget: Duration::from_secs(config.runtime.retry_budget_secs),
        },
        confirm_timeout: Duration::from_millis(config.broker.confirm_timeout_ms),
        ledger,
    };
    tasks.spawn(runtime::consume(
        barnevern,
        settings.clone(),
        cancel.clone(),
    ));
    let timeout = Duration::from_millis(config.runtime.inbox_timeout_ms);
    for kind in [AdapterKind::Politikontakt, AdapterKind::Sspf] {
        let inbox = Arc::new(inbox::Inbox::new(kind, directory.clone(), timeout));
        tasks.spawn(runtime::consume(inbox, settings.clone(), cancel.clone()));
    }
    Ok(Running { cancel, tasks })
}
