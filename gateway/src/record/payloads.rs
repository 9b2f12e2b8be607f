//! What the gateway asks of its store about payloads at rest.

use super::StoreError;
use crate::keys::{Locked, LockedKey};
use async_trait::async_trait;
use contract::message::MessageId;
use time::OffsetDateTime;

/// A payload stored in clear by an earlier version, to be sealed.
#[derive(Debug, Clone)]
pub struct ClearPayload {
    pub id: MessageId,
    pub routed: Vec<u8>,
}

/// What the gateway asks of its store about payloads at rest: re-wrapping their data keys
/// under a new KEK, sealing those an earlier version stored in clear, erasing them.
#[async_trait]
pub trait Payloads: Send + Sync {
    /// Up to `limit` data keys wrapped by another KEK than `current`.
    async fn keys_not_under(
        &self,
        current: &str,
        limit: u32,
    ) -> Result<Vec<(MessageId, LockedKey)>, StoreError>;

    /// Replaces the wrapped data key of `id`, if it is still `old` (not erased, not
    /// re-wrapped by another); returns whether it did.
    async fn replace_key(
        &self,
        id: &MessageId,
        old: &LockedKey,
        new: &LockedKey,
    ) -> Result<bool, StoreError>;

    /// Up to `limit` payloads stored in clear (not erased).
    async fn clear_payloads(&self, limit: u32) -> Result<Vec<ClearPayload>, StoreError>;

    /// Seals the clear payload of `id`, if it is still in clear.
    async fn lock_clear(&self, id: &MessageId, locked: &Locked) -> Result<bool, StoreError>;

    /// The KEK ids that wrap some stored data key.
    async fn keys_in_use(&self) -> Result<Vec<String>, StoreError>;

    /// Erases the payloads of failed and expired messages, and of queued ones (the broker
    /// holds them), whose status has not changed since `before`; returns how many.
    async fn erase_settled(&self, before: OffsetDateTime) -> Result<u64, StoreError>;

    /// Reclaims the space of erased payloads' old row versions where the database keeps
    /// them after an update (PostgreSQL: `VACUUM messages`; SQLite's `secure_delete`
    /// overwrites them as it frees them).
    async fn reclaim_erased(&self) -> Result<(), StoreError>;

    /// The subject-hash key an earlier version kept in the database, if it is still there.
    async fn stored_subject_key(&self) -> Result<Option<Vec<u8>>, StoreError>;

    /// Removes that key from the database (once the key file holds it).
    async fn forget_stored_subject_key(&self) -> Result<(), StoreError>;
}
