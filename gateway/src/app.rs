//! Start-up: load and check everything, open the store, link to the broker, start the
//! outbox and serve the API (over TLS when configured).

use crate::admin::AdminError;
use crate::api::{AppState, router};
use crate::authenticate::certificate::PeerAcceptor;
use crate::authenticate::{Authenticator, KeySet, KeySource, KeysError, TokenRules};
use crate::catalog::{Catalog, CatalogError};
use crate::config::Config;
use crate::devkeys::{DevKey, DevKeyError};
use crate::intake::Intake;
use crate::keys::LiveKeys;
use crate::metrics::Metrics;
use crate::parse::{Contracts, ContractsError};
use crate::publish::{Outbox, Publisher};
use crate::record::{Retention, StoreError};
use crate::seal::{RecipientKeyError, Recipients};
use contract::broker::BrokerLink;
use contract::clock::Clock;
use contract::directory::{Directory, DirectoryError};
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
    Admin(#[from] AdminError),
    #[error(transparent)]
    BrokerTls(#[from] contract::broker::TlsFileError),
    #[error(transparent)]
    RecipientKey(#[from] RecipientKeyError),
    #[error(transparent)]
    Management(#[from] contract::broker::ManagementError),
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

impl Running {
    /// Stops accepting, lets requests in flight finish, and closes the broker link.
    pub async fn stop(self) {
        self.cancel.cancel();
        let _ = self.server.await;
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
    pub catalog: Catalog,
    pub contracts: Contracts,
}

/// Loads and checks the directory (and the recipients' keys in it), the catalog and the
/// schemas.
pub fn load(config: &Config) -> Result<Loaded, StartError> {
    let directory = Directory::load(&config.directory)?;
    Ok(Loaded {
        recipients: Recipients::load(&directory, &config.delivery)?,
        directory: Arc::new(directory),
        catalog: Catalog::load(&config.schemas.join("legal-bases.toml"))?,
        contracts: Contracts::load(&config.schemas)?,
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
    let algorithm = config.auth.algorithm.into();
    let source = KeySource::parse(&config.auth.jwks);
    if let Some(dir) = &config.auth.dev_key_dir {
        let KeySource::File(path) = &source else {
            return Err(StartError::DevKeyNeedsFile);
        };
        DevKey::ensure(dir)?.write_jwks(path)?;
        // A Maskinporten stand-in for each such issuer whose key set is a file.
        for issuer in &config.auth.issuers {
            if let Some((_, KeySource::File(jwks))) = issuer
                .issuer_and_jwks()
                .map(|(name, jwks)| (name, KeySource::parse(&jwks)))
            {
                crate::devkeys::DevMaskinporten::ensure(dir)?.write_jwks(&jwks)?;
            }
        }
        tracing::warn!("development signing key in use: not for production");
    }
    let keys = KeySet::load(
        source,
        Duration::from_secs(config.auth.jwks_min_refresh_secs),
    )
    .await?;
    let rules = TokenRules {
        issuer: config.auth.issuer.clone(),
        audience: config.auth.audience.clone(),
        algorithm,
        max_lifetime_secs: config.auth.max_token_lifetime_secs,
        typ: config.auth.typ.clone(),
        dpo_scope: config.auth.dpo_scope.clone(),
        dpo_all_scope: config.auth.dpo_all_scope.clone(),
    };
    let cancel = CancellationToken::new();
    let issuers = issuers(config, &cancel).await?;
    let auth = Authenticator::new(rules, keys, issuers, directory.clone());
    // The one clock of the store, the engine, the deadlines and the outbox.
    let clock = Arc::new(Clock::default());
    let store = crate::admin::open_store(config, clock.clone()).await?;
    let ring = crate::admin::keys_at_start(config, store.as_ref()).await?;
    let (audit_key, subject_key) = (ring.audit_key(), ring.subject_key());
    let keys = Arc::new(LiveKeys::new(ring, config.keys.clone()));

    tokio::spawn(follow_key_file(keys.clone(), cancel.clone()));
    let topology = config.broker.topology();
    // The queues' settings, as policies, before the queues (at every connection: an operator
    // may have changed them; the gateway's are the configured ones).
    let policies = config.broker.management().transpose()?.map(|management| {
        let policies = topology.policies(&directory.receiving_queues());
        (management, Arc::new(policies))
    });
    let declare = topology.clone();
    let link = BrokerLink::spawn(
        config.broker.endpoint()?,
        "referral-gateway".into(),
        move |channel| {
            let (topology, policies) = (declare.clone(), policies.clone());
            async move {
                if let Some((management, policies)) = policies {
                    management.apply(&policies).await.map_err(|error| {
                        lapin::Error::from(std::io::Error::other(error.to_string()))
                    })?;
                }
                topology.declare_routing(&channel).await
            }
        },
        cancel.clone(),
    );
    let confirm_timeout = Duration::from_millis(config.broker.confirm_timeout_ms);
    let metrics = Arc::new(Metrics::default());
    let publisher = Publisher::new(
        link.clone(),
        &topology,
        confirm_timeout,
        keys.clone(),
        metrics.clone(),
    );
    // A request's or the outbox's claim on a message's publish: longer than one publish.
    let lease = confirm_timeout + Duration::from_secs(5);
    let outbox = Outbox::new(
        store.clone(),
        publisher.clone(),
        Duration::from_millis(config.outbox.interval_ms),
        config.outbox.batch,
        lease,
        clock.clone(),
    );
    tokio::spawn({
        let (link, cancel) = (link.clone(), cancel.clone());
        async move {
            link.wait_up(Duration::from_secs(30)).await;
            outbox.run(cancel).await;
        }
    });

    tokio::spawn(
        Retention {
            store: store.clone(),
            clock: clock.clone(),
            config: config.retention.clone(),
        }
        .run(cancel.clone()),
    );
    tokio::spawn(
        crate::record::HeadExport {
            store: store.clone(),
            key: audit_key,
            config: config.audit.clone(),
            clock: clock.clone(),
            exported: Box::new({
                let metrics = metrics.clone();
                move |seq| metrics.set_audit_head(seq)
            }),
        }
        .run(cancel.clone()),
    );
    tokio::spawn(crate::track::run(
        link.clone(),
        topology.clone(),
        store.clone(),
        metrics.clone(),
        cancel.clone(),
    ));
    tokio::spawn(crate::track::run_expired(
        link.clone(),
        topology.clone(),
        store.clone(),
        cancel.clone(),
    ));
    let state = Arc::new(AppState {
        auth,
        intake: Intake {
            contracts,
            directory,
            catalog,
            subject_key,
            keys,
            recipients,
            store,
            publisher,
            clock: clock.clone(),
            metrics,
            hold: lease,
        },
        link: link.clone(),
        body_limits: crate::api::body::BodyLimits {
            bytes: config.http.body_limit_bytes,
            time: Duration::from_millis(config.http.body_timeout_ms.get()),
        },
        in_flight: Arc::new(tokio::sync::Semaphore::new(config.http.max_in_flight.get())),
        deadlines: config.deadlines.clone(),
        max_header_bytes: config.http.max_header_bytes.get(),
        openapi: Arc::new(crate::api::openapi::document(&config.schemas)?),
    });
    let app = router(state);
    let listener =
        std::net::TcpListener::bind(config.http.listen).map_err(|source| StartError::Bind {
            addr: config.http.listen,
            source,
        })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| StartError::Bind {
            addr: config.http.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.http.listen,
        source,
    })?;
    let handle = axum_server::Handle::new();
    tokio::spawn({
        let (handle, cancel) = (handle.clone(), cancel.clone());
        async move {
            cancel.cancelled().await;
            handle.graceful_shutdown(Some(Duration::from_secs(10)));
        }
    });
    let service = app.into_make_service();
    let server = match &config.http.tls {
        Some(tls) => {
            let rustls = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(
                crate::tls::server_config(tls)?,
            ));
            let server = axum_server::from_tcp(listener)
                .map_err(|source| StartError::Bind { addr, source })?;
            let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(rustls);
            match &tls.clients {
                Some(clients) => {
                    let acceptor = PeerAcceptor {
                        inner: acceptor,
                        attribute: clients.attribute.as_str().into(),
                    };
                    tokio::spawn(server.acceptor(acceptor).handle(handle).serve(service))
                }
                None => tokio::spawn(server.acceptor(acceptor).handle(handle).serve(service)),
            }
        }
        None => {
            let server = axum_server::from_tcp(listener)
                .map_err(|source| StartError::Bind { addr, source })?;
            tokio::spawn(server.handle(handle).serve(service))
        }
    };
    tracing::info!(%addr, tls = config.http.tls.is_some(), "gateway listening");
    Ok(Running {
        addr,
        link,
        clock,
        cancel,
        server,
    })
}

/// Reads the key file again whenever it changes (a rotation), until cancelled.
/// How often an issuer's key set is fetched again without waiting for an unknown key.
const JWKS_SCHEDULE: Duration = Duration::from_secs(3600);

/// The issuers of `auth.issuers`, each with its key set (fetched again every hour until
/// `cancel`, and at once when a token names an unknown key).
async fn issuers(
    config: &Config,
    cancel: &CancellationToken,
) -> Result<Vec<crate::authenticate::Issuer>, StartError> {
    let mut issuers = Vec::new();
    for issuer in &config.auth.issuers {
        let (name, jwks) = issuer.issuer_and_jwks().ok_or(StartError::IssuerUnnamed)?;
        let keys = Arc::new(
            KeySet::load_or_later(
                KeySource::parse(&jwks),
                Duration::from_secs(config.auth.jwks_min_refresh_secs),
                &name,
            )
            .await,
        );
        tokio::spawn({
            let (keys, cancel) = (keys.clone(), cancel.clone());
            async move { keys.refresh_every(JWKS_SCHEDULE, cancel).await }
        });
        let profile = crate::authenticate::maskinporten::Profile::new(
            &name,
            issuer.audience.as_deref(),
            issuer.scopes.clone(),
            config.auth.max_token_lifetime_secs,
        );
        issuers.push(crate::authenticate::Issuer {
            issuer: name,
            keys,
            profile,
        });
    }
    Ok(issuers)
}

async fn follow_key_file(keys: Arc<LiveKeys>, cancel: CancellationToken) {
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        if let Err(error) = keys.refresh() {
            tracing::warn!(%error, "key file not read again");
        }
    }
}
