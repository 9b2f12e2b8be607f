//! [`Payloads`] on a SQL backend: re-wrapping, sealing, erasing the payloads at rest.

use super::{Backend, Conn, SqlStore};
use crate::keys::{Locked, LockedKey};
use crate::record::rows::{Columns, Parsed};
use crate::record::{ClearPayload, Payloads, StoreError, timestamp};
use async_trait::async_trait;
use contract::message::MessageId;
use contract::plumbing::sql::{Tx, Value};
use time::OffsetDateTime;

#[async_trait]
impl<B: Backend> Payloads for SqlStore<B> {
    async fn keys_not_under(
        &self,
        current: &str,
        limit: u32,
    ) -> Result<Vec<(MessageId, LockedKey)>, StoreError> {
        let rows = self
            .db
            .fetch(
                Conn::Writer,
                "SELECT id, key_id, wrapped_key FROM messages
                 WHERE key_id IS NOT NULL AND key_id <> $1 LIMIT $2",
                &[current.into(), i64::from(limit).into()],
            )
            .await?;
        rows.iter()
            .map(|r| {
                let key = LockedKey {
                    key_id: r.text("key_id")?,
                    wrapped: r.bytes("wrapped_key")?,
                };
                Ok((r.parsed("id")?, key))
            })
            .collect()
    }

    async fn replace_key(
        &self,
        id: &MessageId,
        old: &LockedKey,
        new: &LockedKey,
    ) -> Result<bool, StoreError> {
        let replaced = self
            .db
            .execute(
                "UPDATE messages SET key_id = $1, wrapped_key = $2
                 WHERE id = $3 AND key_id = $4 AND wrapped_key = $5",
                &[
                    (&new.key_id).into(),
                    (&new.wrapped).into(),
                    (&id.to_string()).into(),
                    (&old.key_id).into(),
                    (&old.wrapped).into(),
                ],
            )
            .await?;
        Ok(replaced == 1)
    }

    async fn clear_payloads(&self, limit: u32) -> Result<Vec<ClearPayload>, StoreError> {
        let rows = self
            .db
            .fetch(
                Conn::Writer,
                "SELECT id, routed FROM messages
                 WHERE key_id IS NULL AND erased_at IS NULL LIMIT $1",
                &[i64::from(limit).into()],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(ClearPayload {
                    id: r.parsed("id")?,
                    routed: r.bytes("routed")?,
                })
            })
            .collect()
    }

    async fn lock_clear(&self, id: &MessageId, locked: &Locked) -> Result<bool, StoreError> {
        let sealed = self
            .db
            .execute(
                "UPDATE messages SET routed = $1, key_id = $2, wrapped_key = $3
                 WHERE id = $4 AND key_id IS NULL AND erased_at IS NULL",
                &[
                    (&locked.ciphertext).into(),
                    (&locked.key.key_id).into(),
                    (&locked.key.wrapped).into(),
                    (&id.to_string()).into(),
                ],
            )
            .await?;
        Ok(sealed == 1)
    }

    async fn keys_in_use(&self) -> Result<Vec<String>, StoreError> {
        let rows = self
            .db
            .fetch(
                Conn::Writer,
                "SELECT DISTINCT key_id FROM messages WHERE key_id IS NOT NULL ORDER BY key_id",
                &[],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|r| r.text("key_id"))
            .collect::<Result<_, _>>()?)
    }

    /// In a writing transaction: it changes many messages, as a batch of writes may, so it
    /// takes what a batch takes first (and never waits for a batch that waits for it).
    async fn erase_settled(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let (now, before) = (timestamp(self.clock.now()), timestamp(before));
        let mut tx = self.db.begin_writing().await?;
        let erased = tx
            .execute(
                "UPDATE messages SET routed = $1, key_id = NULL, wrapped_key = NULL, erased_at = $2
             WHERE erased_at IS NULL AND status IN ('failed', 'expired', 'queued')
               AND updated_at <= $3",
                &[Value::Bytes(&[]), (&now).into(), (&before).into()],
            )
            .await?;
        tx.commit().await?;
        Ok(erased)
    }

    async fn stored_subject_key(&self) -> Result<Option<Vec<u8>>, StoreError> {
        let rows = self
            .db
            .fetch(
                Conn::Writer,
                "SELECT value FROM settings WHERE name = 'subject_key'",
                &[],
            )
            .await?;
        Ok(rows.first().map(|r| r.bytes("value")).transpose()?)
    }

    /// Only once a payload was erased: reclaiming an empty table (PostgreSQL's VACUUM)
    /// records it as empty, and the plans sessions then keep for it (the status history's
    /// foreign-key check) scan it whole as it grows.
    async fn reclaim_erased(&self) -> Result<(), StoreError> {
        let Some(sql) = B::RECLAIM else {
            return Ok(());
        };
        let erased = self
            .db
            .fetch(
                Conn::Writer,
                "SELECT 1 AS erased FROM messages WHERE erased_at IS NOT NULL LIMIT 1",
                &[],
            )
            .await?;
        if !erased.is_empty() {
            self.db.execute(sql, &[]).await?;
        }
        Ok(())
    }

    async fn forget_stored_subject_key(&self) -> Result<(), StoreError> {
        self.db
            .execute("DELETE FROM settings WHERE name = 'subject_key'", &[])
            .await?;
        Ok(())
    }
}
