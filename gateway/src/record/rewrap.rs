//! Re-wrapping: every stored data key moved under the current KEK, and every payload an
//! earlier version stored in clear sealed. `gateway keys rotate` runs it after adding a
//! KEK; the gateway runs it at start, so that a KEK rotated away while a gateway was still
//! wrapping under it ends up unused too.

use super::{Store, StoreError};
use crate::keys::{KeyRing, KeysError};

/// What a re-wrap did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Rewrapped {
    /// Data keys moved under the current KEK.
    pub rewrapped: u64,
    /// Payloads stored in clear, now locked (encrypted at rest).
    pub locked: u64,
}

/// Why a re-wrap stopped.
#[derive(Debug, thiserror::Error)]
pub enum RewrapError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("message {message_id}: {source}")]
    Keys {
        message_id: contract::message::MessageId,
        source: KeysError,
    },
}

const BATCH: u32 = 500;

/// Moves every data key under `keys`' current KEK and seals every clear payload.
pub async fn rewrap(store: &dyn Store, keys: &KeyRing) -> Result<Rewrapped, RewrapError> {
    let mut done = Rewrapped::default();
    loop {
        let batch = store.keys_not_under(keys.current(), BATCH).await?;
        if batch.is_empty() {
            break;
        }
        for (id, old) in batch {
            let new = keys
                .rewrap(&old, id.to_string().as_bytes())
                .map_err(|source| RewrapError::Keys {
                    message_id: id,
                    source,
                })?;
            // Erased or re-wrapped meanwhile: nothing to do for it.
            done.rewrapped += u64::from(store.replace_key(&id, &old, &new).await?);
        }
    }
    loop {
        let batch = store.clear_payloads(BATCH).await?;
        if batch.is_empty() {
            break;
        }
        for clear in batch {
            let locked = keys.lock(&clear.routed, clear.id.to_string().as_bytes());
            done.locked += u64::from(store.lock_clear(&clear.id, &locked).await?);
        }
    }
    Ok(done)
}
