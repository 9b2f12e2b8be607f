//! Agency adapters. Each consumes its work queue (filled by the gateway) and hands every
//! message to the agency's own system:
//!
//! [`runtime`] (consume, ack, recover) → an adapter ([`barnevern`]) → the agency.

pub mod barnevern;
pub mod config;
pub mod runtime;

use config::AdaptersConfig;
use gateway::directory::Directory;
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

/// Starts every adapter of the configuration.
pub fn start(config: &AdaptersConfig, directory: Arc<Directory>) -> Running {
    let cancel = CancellationToken::new();
    let topology = Topology::new(&config.broker.prefix, config.broker.delivery_limit);
    let mut tasks = JoinSet::new();
    let barnevern = Arc::new(barnevern::Barnevern::new(
        directory,
        topology.clone(),
        config,
        cancel.clone(),
    ));
    let settings = runtime::Settings {
        url: config.broker.url.clone(),
        topology,
        prefetch: config.runtime.prefetch,
        retry: runtime::RetryPolicy {
            budget: Duration::from_secs(config.runtime.retry_budget_secs),
        },
        confirm_timeout: Duration::from_millis(config.broker.confirm_timeout_ms),
    };
    tasks.spawn(runtime::consume(barnevern, settings, cancel.clone()));
    Running { cancel, tasks }
}
