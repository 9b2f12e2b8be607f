//! Agency adapters. Each consumes its work queue (filled by the gateway) and hands every
//! message to the agency's own system:
//!
//! [`runtime`] (consume, ack, recover, withdraw) → an adapter ([`barnevern`], [`inbox`])
//! → the agency; [`health`] tells operators how they are doing.

pub mod barnevern;
pub mod config;
pub mod health;
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
    /// Where the health, readiness and metrics endpoint listens.
    pub addr: std::net::SocketAddr,
}

/// Why the adapters did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the ledger: {0}")]
    Ledger(#[from] sqlx::Error),
    #[error(
        "runtime.claim_lease_secs must be longer than three inbox timeouts and the confirm timeout"
    )]
    ClaimLease,
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
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
) -> Result<Running, StartError> {
    let cancel = CancellationToken::new();
    let topology = Topology::new(&config.broker.prefix, config.broker.delivery_limit);
    let lease = config
        .runtime
        .claim_lease(config.broker.confirm_timeout_ms)
        .ok_or(StartError::ClaimLease)?;
    let ledger = runtime::Ledger::open(&config.runtime.ledger, lease).await?;
    let listen = |source| StartError::Listen {
        addr: config.http.listen,
        source,
    };
    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .map_err(listen)?;
    let addr = listener.local_addr().map_err(listen)?;
    // Every queue consumed, down until its consumer is up: not ready before.
    let health = Arc::new(health::Health::default());
    health.consumer(&topology.receipts_queue(), false);
    for kind in AdapterKind::ALL {
        health.consumer(&topology.work_queue(kind), false);
        health.consumer(&topology.control_queue(kind), false);
    }
    let mut tasks = JoinSet::new();
    tasks.spawn(health::serve(listener, health.clone(), cancel.clone()));
    let barnevern = Arc::new(barnevern::Barnevern::new(
        directory.clone(),
        topology.clone(),
        config,
        clock,
        ledger.clone(),
        health.clone(),
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
        health,
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
    Ok(Running {
        cancel,
        tasks,
        addr,
    })
}
