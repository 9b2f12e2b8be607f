//! Operators' commands on the gateway's state: creating and rotating the keys, verifying
//! the audit trail.

use crate::config::Config;
use crate::keys::{KeyRing, KeysError};
use crate::record::{
    AuditReport, PgStore, RewrapError, Rewrapped, SqliteStore, Store, StoreError, rewrap, verify,
};
use contract::clock::Clock;
use std::path::Path;
use std::sync::Arc;

/// Why an operator's command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Keys(#[from] KeysError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Rewrap(#[from] RewrapError),
    #[error(transparent)]
    Head(#[from] crate::record::HeadError),
    #[error("broker.management_url is not set: the migration reads queues through it")]
    NoManagement,
    #[error(transparent)]
    Directory(#[from] contract::directory::DirectoryError),
    #[error(transparent)]
    Management(#[from] contract::broker::ManagementError),
    #[error(transparent)]
    Migrate(#[from] contract::broker::MigrateError),
    #[error(transparent)]
    BrokerTls(#[from] contract::broker::TlsFileError),
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error(
        "the database holds a subject-hash key that the key file does not: the consents recorded under it would no longer match (restore the key file that holds it)"
    )]
    SubjectKeyElsewhere,
    #[error("the database holds a subject-hash key that is not 32 bytes")]
    SubjectKeyCorrupt,
}

/// Opens the store of `config`: PostgreSQL if it names a URL, else its SQLite file.
pub async fn open_store(config: &Config, clock: Arc<Clock>) -> Result<Arc<dyn Store>, StoreError> {
    Ok(match &config.store.url {
        Some(url) => Arc::new(PgStore::open(url, clock).await?),
        None => Arc::new(SqliteStore::open(&config.store.sqlite_path, clock).await?),
    })
}

/// The subject key an earlier version kept in the database, if it is still there.
async fn stored_subject_key(store: &dyn Store) -> Result<Option<[u8; 32]>, AdminError> {
    store
        .stored_subject_key()
        .await?
        .map(|bytes| <[u8; 32]>::try_from(bytes).map_err(|_| AdminError::SubjectKeyCorrupt))
        .transpose()
}

/// Once the key file holds the subject key the database held, the database forgets it.
async fn settle_subject_key(
    store: &dyn Store,
    keys: &KeyRing,
    stored: Option<[u8; 32]>,
) -> Result<(), AdminError> {
    match stored {
        Some(secret) if keys.subject_is(&secret) => Ok(store.forget_stored_subject_key().await?),
        Some(_) => Err(AdminError::SubjectKeyElsewhere),
        None => Ok(()),
    }
}

/// The keys of a starting gateway: loaded (in development, created), every data key moved
/// under the current KEK and every payload stored in clear sealed.
pub async fn keys_at_start(config: &Config, store: &dyn Store) -> Result<KeyRing, AdminError> {
    let stored = stored_subject_key(store).await?;
    let keys = KeyRing::load(&config.keys, stored)?;
    store.chain_with(keys.audit_key());
    settle_subject_key(store, &keys, stored).await?;
    let done = rewrap(store, &keys).await?;
    if done != Rewrapped::default() {
        tracing::info!(
            rewrapped = done.rewrapped,
            sealed = done.sealed,
            "payloads moved under the current key"
        );
    }
    Ok(keys)
}

/// `gateway keys init`: creates the key file with fresh keys (adopting the subject key an
/// earlier version kept in the database); refuses to overwrite one.
pub async fn keys_init(config: &Config) -> Result<String, AdminError> {
    let store = open_store(config, Arc::default()).await?;
    let stored = stored_subject_key(store.as_ref()).await?;
    let keys = KeyRing::generate(stored);
    keys.create(&config.keys.file)?;
    settle_subject_key(store.as_ref(), &keys, stored).await?;
    Ok(keys.current().to_owned())
}

/// What a rotation did.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rotation {
    /// The new current KEK.
    pub current: String,
    #[serde(flatten)]
    pub moved: Rewrapped,
    /// KEKs retired by an earlier rotation that nothing used any more, removed.
    pub removed: Vec<String>,
}

/// `gateway keys rotate`: adds a KEK and makes it current, re-wraps every stored data key
/// under it, and removes the KEKs of earlier rotations that nothing uses. The KEK it
/// replaces stays: a running gateway may wrap under it until it has read the file again (a
/// second later); the next rotation removes it.
pub async fn keys_rotate(config: &Config) -> Result<Rotation, AdminError> {
    let mut keys = KeyRing::read(&config.keys.file)?;
    let previous = keys.current().to_owned();
    let current = keys.rotate();
    keys.save(&config.keys.file)?;
    let store = open_store(config, Arc::default()).await?;
    let moved = rewrap(store.as_ref(), &keys).await?;
    let removed = keys.prune(&store.keys_in_use().await?, &previous);
    keys.save(&config.keys.file)?;
    Ok(Rotation {
        current,
        moved,
        removed,
    })
}

/// `gateway broker migrate`: moves the queues declared with arguments (earlier versions) to
/// plain quorum queues whose settings are policies, keeping their messages, and sets the
/// policies.
pub async fn broker_migrate(config: &Config) -> Result<contract::broker::Migrated, AdminError> {
    let management = config
        .broker
        .management()
        .ok_or(AdminError::NoManagement)??;
    let topology = config.broker.topology();
    let receiving = contract::directory::Directory::load(&config.directory)?.receiving_queues();
    let (connection, channel) =
        contract::broker::confirming(&config.broker.endpoint()?, "gateway-operator").await?;
    let migrated = contract::broker::migrate(&channel, &management, &topology, &receiving).await;
    let _ = connection.close(200, "done".into()).await;
    management.apply(&topology.policies(&receiving)).await?;
    Ok(migrated?)
}

/// `gateway audit verify`: recomputes the audit trail's chain with the key file's audit key,
/// and compares its end with the latest head exported to `head` if given.
pub async fn audit_verify(config: &Config, head: Option<&Path>) -> Result<AuditReport, AdminError> {
    let exported = head.map(crate::record::head::latest).transpose()?;
    let keys = KeyRing::load(&config.keys, None)?;
    let store = open_store(config, Arc::default()).await?;
    Ok(verify(store.as_ref(), &keys.audit_key(), exported.as_ref()).await?)
}
