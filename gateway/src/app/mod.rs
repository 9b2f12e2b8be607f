//! Start-up, in named steps: load and check the files ([`load`]), the authenticator
//! ([`auth`]), the store and its keys ([`store`]), the link to the broker ([`broker`]), the
//! background work ([`tasks`]), and serving the API ([`serve`]).

mod auth;
mod broker;
mod serve;
pub mod store;
mod tasks;

pub use store::{StoreKeysError, open_store};

use crate::api::body::BodyLimits;
use crate::api::{AppState, router};
use crate::authenticate::KeysError;
use crate::catalog::{Catalog, CatalogError};
use crate::config::Config;
use crate::devkeys::DevKeyError;
use crate::intake::{Consents, Intake, Shared};
use crate::keys::LiveKeys;
use crate::metrics::Metrics;
use crate::parse::{Contracts, ContractsError};
use crate::publish::Publisher;
use crate::record::StoreError;
use crate::seal::{RecipientKeyError, Recipients};
use contract::directory::{Directory, DirectoryError};
use contract::plumbing::broker::BrokerLink;
use contract::plumbing::clock::Clock;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Why the gateway did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Contracts(#[from] ContractsError),
    #[error(transparent)]
    DevKey(#[from] DevKeyError),
    #[error(transparent)]
    Keys(#[from] KeysError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    StoreKeys(#[from] StoreKeysError),
    #[error(transparent)]
    BrokerTls(#[from] contract::plumbing::broker::TlsFileError),
    #[error(transparent)]
    RecipientKey(#[from] RecipientKeyError),
    #[error(transparent)]
    Management(#[from] contract::plumbing::broker::ManagementError),
    #[error(transparent)]
    OpenApi(#[from] crate::api::openapi::OpenApiError),
    #[error("auth.dev_key_dir needs auth.jwks to be a file path")]
    DevKeyNeedsFile,
    #[error("an auth.issuers entry names neither an environment nor its issuer and jwks")]
    IssuerUnnamed,
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// A running gateway.
pub struct Running {
    /// The address the API listens on (useful with port 0).
    pub addr: SocketAddr,
    /// The link to the broker.
    pub link: Arc<BrokerLink>,
    /// The gateway's clock (tests move it to test deadlines).
    pub clock: Arc<Clock>,
    cancel: CancellationToken,
    server: JoinHandle<std::io::Result<()>>,
}

impl Drop for Running {
    /// A gateway dropped without [`Running::stop`] stops too: it cancels its server and tasks.
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl Running {
    /// Stops accepting, lets requests in flight finish, and closes the broker link.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        let _ = (&mut self.server).await;
    }

    /// Serves until `signal` resolves (then stops gracefully) or the server fails.
    pub async fn run_until(
        mut self,
        signal: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        let result = tokio::select! {
            () = signal => {
                tracing::info!(addr = %self.addr, "shutting down");
                self.cancel.cancel();
                (&mut self.server).await
            }
            result = &mut self.server => result,
        };
        self.cancel.cancel();
        result.unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }
}

/// Everything the gateway loads from files, checked.
pub struct Loaded {
    pub directory: Arc<Directory>,
    pub recipients: Recipients,
    pub catalog: Arc<Catalog>,
    pub contracts: Arc<Contracts>,
}

/// Loads and checks the directory (and the recipients' keys in it), the catalog and the
/// schemas.
pub fn load(config: &Config) -> Result<Loaded, StartError> {
    let directory = Directory::load(&config.directory)?;
    Ok(Loaded {
        recipients: Recipients::load(&directory, &config.delivery)?,
        directory: Arc::new(directory),
        catalog: Arc::new(Catalog::load(&config.schemas.join("legal-bases.toml"))?),
        contracts: Arc::new(Contracts::load(&config.schemas)?),
    })
}

/// Starts the gateway.
pub async fn start(config: &Config) -> Result<Running, StartError> {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let Loaded {
        directory,
        recipients,
        catalog,
        contracts,
    } = load(config)?;
    let cancel = CancellationToken::new();
    let auth = auth::authenticator(config, directory.clone(), &cancel).await?;
    // The one clock of the store, the engine, the deadlines and the outbox.
    let clock = Arc::new(Clock::default());
    let store = open_store(config, clock.clone()).await?;
    let ring = store::keys_at_start(config, store.as_ref()).await?;
    let (subject_key, audit_key) = (ring.subject_key(), ring.audit_key());
    let keys = Arc::new(LiveKeys::new(ring, config.keys.clone()));
    let link = broker::link(config, &directory, &cancel)?;
    let confirm_timeout = Duration::from_millis(config.broker.confirm_timeout_ms);
    let metrics = Arc::new(Metrics::new(store.batch_meter()));
    let publisher = Publisher::new(
        link.clone(),
        &config.broker.topology(),
        confirm_timeout,
        keys.clone(),
        metrics.clone(),
    );
    // A request's or the outbox's claim on a message's publish: longer than one publish.
    let lease = confirm_timeout + Duration::from_secs(5);
    tasks::Tasks {
        config,
        store: store.clone(),
        link: link.clone(),
        publisher: publisher.clone(),
        keys: keys.clone(),
        audit_key,
        clock: clock.clone(),
        metrics: metrics.clone(),
        lease,
    }
    .spawn(&cancel);
    let watch = crate::operate::overview::Watch::new(config, &directory)?;
    let shared = Shared {
        store,
        clock: clock.clone(),
        catalog,
        directory,
        subject_key,
        metrics,
    };
    let state = Arc::new(AppState {
        auth,
        intake: Intake::new(
            shared.clone(),
            contracts.clone(),
            keys,
            recipients,
            publisher.clone(),
            lease,
        ),
        consents: Consents::new(shared.clone(), contracts, publisher),
        shared,
        link: link.clone(),
        body_limits: BodyLimits {
            bytes: config.http.body_limit_bytes,
            time: Duration::from_millis(config.http.body_timeout_ms.get()),
        },
        in_flight: Arc::new(tokio::sync::Semaphore::new(config.http.max_in_flight.get())),
        deadlines: config.deadlines.clone(),
        max_header_bytes: config.http.max_header_bytes.get(),
        openapi: Arc::new(crate::api::openapi::document(&config.schemas)?),
        watch,
    });
    let (addr, server) = serve::serve(&config.http, router(state), &cancel)?;
    Ok(Running {
        addr,
        link,
        clock,
        cancel,
        server,
    })
}
