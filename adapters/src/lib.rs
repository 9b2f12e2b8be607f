//! Agency adapters, one per transport. Each consumes its work queue (filled by the
//! gateway) and hands every message, rendered for its recipient, to the agency's system:
//!
//! [`runtime`] (consume, claim, ack, recover, withdraw) → a transport ([`queue`],
//! [`inbox`], [`fiks_io`]) → the agency; [`health`] tells operators how they are doing.

pub mod config;
pub mod credentials;
pub mod fiks_io;
pub mod health;
pub mod inbox;
pub mod queue;
pub mod runtime;

use config::AdaptersConfig;
use contract::directory::{Directory, Transport};
use contract::plumbing::clock::Clock;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// What a transport needs to start.
pub struct Start<'a> {
    pub config: &'a AdaptersConfig,
    pub directory: Arc<Directory>,
    pub clock: Arc<Clock>,
    pub settings: runtime::Settings,
    pub cancel: CancellationToken,
}

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
    #[error(transparent)]
    BrokerTls(#[from] contract::plumbing::broker::TlsFileError),
    #[error(transparent)]
    InboxTls(#[from] inbox::InboxTlsError),
    #[error("the delivery key (runtime.delivery_key): {0}")]
    DeliveryKey(#[from] contract::seal::KeyFileError),
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

/// Starts every transport's adapter. `clock` tells the queue adapter the time for office
/// hours.
pub async fn start(
    config: &AdaptersConfig,
    directory: Arc<Directory>,
    clock: Arc<Clock>,
) -> Result<Running, StartError> {
    let cancel = CancellationToken::new();
    let topology = config.broker.topology();
    let lease = config
        .runtime
        .claim_lease(config.broker.confirm_timeout_ms)
        .ok_or(StartError::ClaimLease)?;
    let ledger: Arc<dyn runtime::Ledger> = match &config.runtime.ledger_url {
        Some(url) => Arc::new(runtime::PgLedger::open(url, lease).await?),
        None => Arc::new(runtime::SqliteLedger::open(&config.runtime.ledger, lease).await?),
    };
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
    for kind in Transport::ALL {
        health.consumer(&topology.work_queue(kind), false);
        health.consumer(&topology.control_queue(kind), false);
    }
    let mut tasks = JoinSet::new();
    tasks.spawn(health::serve(listener, health.clone(), cancel.clone()));
    let settings = runtime::Settings {
        broker: config.broker.endpoint()?,
        topology,
        prefetch: config.runtime.prefetch,
        retry: runtime::RetryPolicy {
            budget: Duration::from_secs(config.runtime.retry_budget_secs),
        },
        confirm_timeout: Duration::from_millis(config.broker.confirm_timeout_ms),
        ledger,
        delivery_key: config
            .runtime
            .delivery_key
            .as_deref()
            .map(contract::seal::read_private)
            .transpose()?
            .map(Arc::new),
        health,
        directory: directory.clone(),
    };
    let start = Start {
        config,
        directory,
        clock,
        settings,
        cancel: cancel.clone(),
    };
    // The transports: adding one adds its folder and a line here.
    queue::start(&start, &mut tasks);
    inbox::start(&start, &mut tasks)?;
    fiks_io::start(&start, &mut tasks);
    Ok(Running {
        cancel,
        tasks,
        addr,
    })
}
