//! The store and its keys at start-up: the store the configuration names, the key file
//! loaded (in development, created), and every stored payload moved under the current key.

use crate::config::Config;
use crate::keys::{KeyRing, KeysError};
use crate::record::{PgStore, RewrapError, Rewrapped, SqliteStore, Store, StoreError, rewrap};
use contract::plumbing::clock::Clock;
use std::sync::Arc;

/// Why the store or its keys could not be readied.
#[derive(Debug, thiserror::Error)]
pub enum StoreKeysError {
    #[error(transparent)]
    Keys(#[from] KeysError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Rewrap(#[from] RewrapError),
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
pub async fn stored_subject_key(store: &dyn Store) -> Result<Option<[u8; 32]>, StoreKeysError> {
    store
        .stored_subject_key()
        .await?
        .map(|bytes| <[u8; 32]>::try_from(bytes).map_err(|_| StoreKeysError::SubjectKeyCorrupt))
        .transpose()
}

/// Once the key file holds the subject key the database held, the database forgets it.
pub async fn settle_subject_key(
    store: &dyn Store,
    keys: &KeyRing,
    stored: Option<[u8; 32]>,
) -> Result<(), StoreKeysError> {
    match stored {
        Some(secret) if keys.subject_is(&secret) => Ok(store.forget_stored_subject_key().await?),
        Some(_) => Err(StoreKeysError::SubjectKeyElsewhere),
        None => Ok(()),
    }
}

/// The keys of a starting gateway: loaded (in development, created), every data key moved
/// under the current KEK and every payload stored in clear encrypted.
pub async fn keys_at_start(config: &Config, store: &dyn Store) -> Result<KeyRing, StoreKeysError> {
    let stored = stored_subject_key(store).await?;
    let keys = KeyRing::load(&config.keys, stored)?;
    store.chain_with(keys.audit_key());
    settle_subject_key(store, &keys, stored).await?;
    let done = rewrap(store, &keys).await?;
    if done != Rewrapped::default() {
        tracing::info!(
            rewrapped = done.rewrapped,
            locked = done.locked,
            "payloads moved under the current key"
        );
    }
    Ok(keys)
}
