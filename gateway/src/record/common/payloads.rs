//! The payloads at rest of a store of [`super::sql_store!`]: re-wrapping, sealing, erasing.

/// [`crate::record::Payloads`] for a store of [`super::sql_store!`].
macro_rules! payloads {
    ($store:ty, writes: $writes:ident) => {
        #[async_trait::async_trait]
        impl $crate::record::Payloads for $store {
            async fn keys_not_under(
                &self,
                current: &str,
                limit: u32,
            ) -> Result<
                Vec<(contract::message::MessageId, $crate::keys::LockedKey)>,
                $crate::record::StoreError,
            > {
                use $crate::record::rows::Columns;
                let rows = sqlx::query(
                    "SELECT id, key_id, wrapped_key FROM messages
                     WHERE key_id IS NOT NULL AND key_id <> $1 LIMIT $2",
                )
                .bind(current)
                .bind(i64::from(limit))
                .fetch_all(&self.$writes)
                .await?;
                rows.iter()
                    .map(|r| {
                        let key = $crate::keys::LockedKey {
                            key_id: r.text("key_id")?,
                            wrapped: r.bytes("wrapped_key")?,
                        };
                        Ok((r.parsed("id")?, key))
                    })
                    .collect()
            }

            async fn replace_key(
                &self,
                id: &contract::message::MessageId,
                old: &$crate::keys::LockedKey,
                new: &$crate::keys::LockedKey,
            ) -> Result<bool, $crate::record::StoreError> {
                let replaced = sqlx::query(
                    "UPDATE messages SET key_id = $1, wrapped_key = $2
                     WHERE id = $3 AND key_id = $4 AND wrapped_key = $5",
                )
                .bind(&new.key_id)
                .bind(&new.wrapped)
                .bind(id)
                .bind(&old.key_id)
                .bind(&old.wrapped)
                .execute(&self.$writes)
                .await?;
                Ok(replaced.rows_affected() == 1)
            }

            async fn clear_payloads(
                &self,
                limit: u32,
            ) -> Result<Vec<$crate::record::ClearPayload>, $crate::record::StoreError> {
                use $crate::record::rows::Columns;
                let rows = sqlx::query(
                    "SELECT id, routed FROM messages
                     WHERE key_id IS NULL AND erased_at IS NULL LIMIT $1",
                )
                .bind(i64::from(limit))
                .fetch_all(&self.$writes)
                .await?;
                rows.iter()
                    .map(|r| {
                        Ok($crate::record::ClearPayload {
                            id: r.parsed("id")?,
                            routed: r.bytes("routed")?,
                        })
                    })
                    .collect()
            }

            async fn seal_clear(
                &self,
                id: &contract::message::MessageId,
                locked: &$crate::keys::Locked,
            ) -> Result<bool, $crate::record::StoreError> {
                let sealed = sqlx::query(
                    "UPDATE messages SET routed = $1, key_id = $2, wrapped_key = $3
                     WHERE id = $4 AND key_id IS NULL AND erased_at IS NULL",
                )
                .bind(&locked.ciphertext)
                .bind(&locked.key.key_id)
                .bind(&locked.key.wrapped)
                .bind(id)
                .execute(&self.$writes)
                .await?;
                Ok(sealed.rows_affected() == 1)
            }

            async fn keys_in_use(&self) -> Result<Vec<String>, $crate::record::StoreError> {
                Ok(sqlx::query_scalar(
                    "SELECT DISTINCT key_id FROM messages WHERE key_id IS NOT NULL ORDER BY key_id",
                )
                .fetch_all(&self.$writes)
                .await?)
            }

            /// In a writing transaction: it changes many messages, as a batch of writes may,
            /// so it takes what a batch takes first (and never waits for a batch that waits
            /// for it).
            async fn erase_settled(
                &self,
                before: time::OffsetDateTime,
            ) -> Result<u64, $crate::record::StoreError> {
                use $crate::record::common::Backend;
                let mut tx = Self::begin_writing(&self.$writes).await?;
                let erased = sqlx::query(
                    "UPDATE messages SET routed = $1, key_id = NULL, wrapped_key = NULL, erased_at = $2
                     WHERE erased_at IS NULL AND status IN ('failed', 'expired', 'queued')
                       AND updated_at <= $3",
                )
                .bind(Vec::<u8>::new())
                .bind($crate::record::timestamp(self.clock.now()))
                .bind($crate::record::timestamp(before))
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(erased.rows_affected())
            }

            async fn stored_subject_key(
                &self,
            ) -> Result<Option<Vec<u8>>, $crate::record::StoreError> {
                Ok(
                    sqlx::query_scalar("SELECT value FROM settings WHERE name = 'subject_key'")
                        .fetch_optional(&self.$writes)
                        .await?,
                )
            }

            async fn reclaim_erased(&self) -> Result<(), $crate::record::StoreError> {
                use $crate::record::common::Backend;
                if let Some(sql) = Self::RECLAIM {
                    sqlx::query(sql).execute(&self.$writes).await?;
                }
                Ok(())
            }

            async fn forget_stored_subject_key(&self) -> Result<(), $crate::record::StoreError> {
                sqlx::query("DELETE FROM settings WHERE name = 'subject_key'")
                    .execute(&self.$writes)
                    .await?;
                Ok(())
            }
        }
    };
}
pub(crate) use payloads;
