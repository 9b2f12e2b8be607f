//! Payloads at rest in PostgreSQL: re-wrapping, sealing clear ones, erasing.

use super::PgStore;
use crate::keys::{Locked, LockedKey};
use crate::record::{ClearPayload, Payloads, StoreError, timestamp};
use async_trait::async_trait;
use contract::message::MessageId;
use sqlx::Row;
use time::OffsetDateTime;

#[async_trait]
impl Payloads for PgStore {
    async fn keys_not_under(
        &self,
        current: &str,
        limit: u32,
    ) -> Result<Vec<(MessageId, LockedKey)>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, key_id, wrapped_key FROM messages
             WHERE key_id IS NOT NULL AND key_id <> $1 LIMIT $2",
        )
        .bind(current)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    LockedKey {
                        key_id: r.try_get("key_id")?,
                        wrapped: r.try_get("wrapped_key")?,
                    },
                ))
            })
            .collect()
    }

    async fn replace_key(
        &self,
        id: &MessageId,
        old: &LockedKey,
        new: &LockedKey,
    ) -> Result<bool, StoreError> {
        let replaced = sqlx::query(
            "UPDATE messages SET key_id = $1, wrapped_key = $2
             WHERE id = $3 AND key_id = $4 AND wrapped_key = $5",
        )
        .bind(&new.key_id)
        .bind(&new.wrapped)
        .bind(id)
        .bind(&old.key_id)
        .bind(&old.wrapped)
        .execute(&self.pool)
        .await?;
        Ok(replaced.rows_affected() == 1)
    }

    async fn clear_payloads(&self, limit: u32) -> Result<Vec<ClearPayload>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, routed FROM messages WHERE key_id IS NULL AND erased_at IS NULL LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ClearPayload {
                    id: r.try_get("id")?,
                    routed: r.try_get("routed")?,
                })
            })
            .collect()
    }

    async fn seal_clear(&self, id: &MessageId, locked: &Locked) -> Result<bool, StoreError> {
        let sealed = sqlx::query(
            "UPDATE messages SET routed = $1, key_id = $2, wrapped_key = $3
             WHERE id = $4 AND key_id IS NULL AND erased_at IS NULL",
        )
        .bind(&locked.ciphertext)
        .bind(&locked.key.key_id)
        .bind(&locked.key.wrapped)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(sealed.rows_affected() == 1)
    }

    async fn keys_in_use(&self) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT key_id FROM messages WHERE key_id IS NOT NULL ORDER BY key_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn erase_settled(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let erased = sqlx::query(
            "UPDATE messages SET routed = ''::bytea, key_id = NULL, wrapped_key = NULL, erased_at = $1
             WHERE erased_at IS NULL AND status IN ('failed', 'expired', 'queued')
               AND updated_at <= $2",
        )
        .bind(timestamp(self.clock.now()))
        .bind(timestamp(before))
        .execute(&self.pool)
        .await?;
        Ok(erased.rows_affected())
    }

    async fn stored_subject_key(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT value FROM settings WHERE name = 'subject_key'")
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn forget_stored_subject_key(&self) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM settings WHERE name = 'subject_key'")
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
