//! Operators' commands (`gateway keys`, `audit`, `broker`, `dead`, `peek`): creating and
//! rotating the keys, verifying the audit trail, migrating the broker's queues, dead
//! letters, and looking into a queue. Start-up does not depend on them.

pub mod dead;
pub mod overview;
pub mod peek;

use crate::app::store::{settle_subject_key, stored_subject_key};
use crate::app::{StoreKeysError, open_store};
use crate::config::Config;
use crate::keys::{KeyRing, KeysError};
use crate::record::{AuditReport, RewrapError, Rewrapped, StoreError, rewrap, verify};
use std::path::Path;
use std::sync::Arc;

/// Why an operator's command failed.
#[derive(Debug, thiserror::Error)]
pub enum OperateError {
    #[error(transparent)]
    Keys(#[from] KeysError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    StoreKeys(#[from] StoreKeysError),
    #[error(transparent)]
    Rewrap(#[from] RewrapError),
    #[error(transparent)]
    Head(#[from] crate::record::HeadError),
    #[error("broker.management_url is not set: the migration reads queues through it")]
    NoManagement,
    #[error(transparent)]
    Directory(#[from] contract::directory::DirectoryError),
    #[error(transparent)]
    Management(#[from] contract::plumbing::broker::ManagementError),
    #[error(transparent)]
    Migrate(#[from] contract::plumbing::broker::MigrateError),
    #[error(transparent)]
    BrokerTls(#[from] contract::plumbing::broker::TlsFileError),
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
}

/// `gateway keys init`: creates the key file with fresh keys (adopting the subject key an
/// earlier version kept in the database); refuses to overwrite one.
pub async fn keys_init(config: &Config) -> Result<String, OperateError> {
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
pub async fn keys_rotate(config: &Config) -> Result<Rotation, OperateError> {
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
pub async fn broker_migrate(
    config: &Config,
) -> Result<contract::plumbing::broker::Migrated, OperateError> {
    let management = config
        .broker
        .management()
        .ok_or(OperateError::NoManagement)??;
    let topology = config.broker.topology();
    let receiving = contract::directory::Directory::load(&config.directory)?.receiving_queues();
    let (connection, channel) =
        contract::plumbing::broker::confirming(&config.broker.endpoint()?, "gateway-operator")
            .await?;
    let migrated =
        contract::plumbing::broker::migrate(&channel, &management, &topology, &receiving).await;
    let _ = connection.close(200, "done".into()).await;
    management.apply(&topology.policies(&receiving)).await?;
    Ok(migrated?)
}

/// The store, with the key file's audit key to chain what an operator's command audits.
pub async fn audited_store(config: &Config) -> Result<Arc<dyn crate::record::Store>, OperateError> {
    let keys = KeyRing::load(&config.keys, None)?;
    let store = open_store(config, Arc::default()).await?;
    store.chain_with(keys.audit_key());
    Ok(store)
}

/// `gateway audit verify`: recomputes the audit trail's chain with the key file's audit key,
/// and compares its end with the latest head exported to `head` if given.
pub async fn audit_verify(
    config: &Config,
    head: Option<&Path>,
) -> Result<AuditReport, OperateError> {
    let exported = head.map(crate::record::head::latest).transpose()?;
    let keys = KeyRing::load(&config.keys, None)?;
    let store = open_store(config, Arc::default()).await?;
    Ok(verify(store.as_ref(), &keys.audit_key(), exported.as_ref()).await?)
}
