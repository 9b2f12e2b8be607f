//! What the SQL backends share: every statement is written once, with `$n` parameters (which
//! SQLite reads as PostgreSQL does), and [`sql_store!`] implements the store's traits with
//! them for a backend's store type. A backend keeps only what differs ([`Backend`]): how it
//! opens, how a writing transaction begins, which messages the outbox's sweep claims, and
//! how a JSON array is searched.

use async_trait::async_trait;
use sqlx::{Database, Pool, Transaction};

/// What differs between the SQL backends, beside the statements that [`sql_store!`] shares.
#[async_trait]
pub trait Backend {
    /// The driver.
    type Db: Database;
    /// Whether other gateway instances may share the store.
    const SHARED: bool;
    /// Which unconfirmed messages a sweep of the outbox claims, and how: a condition, the
    /// order and the limit (`$5`) of the rows it takes, given this instance `$2`, now `$3`,
    /// and whether it takes over other instances' claims (`$4`).
    const CLAIMABLE: &'static str;
    /// A condition on a `messages` row: its `subject_hashes` (a JSON array) hold `$1`.
    const SUBJECT_IN: &'static str;
    /// Begins a transaction on `pool` that writes, taking first what it must take first.
    async fn begin_writing(
        pool: &Pool<Self::Db>,
    ) -> Result<Transaction<'static, Self::Db>, sqlx::Error>;
}

/// Implements the batches' [`super::batch::Transact`] on the writing pool, and
/// [`super::Messages`], [`super::Payloads`], [`super::Consents`], [`super::AuditTrail`] and
/// [`super::Disclosures`] for `$store` (of the driver `$db`), which reads from the pool
/// `self.$reads`, writes to the pool `self.$writes`, and implements [`Backend`].
macro_rules! sql_store {
    ($store:ty, $db:ty, reads: $reads:ident, writes: $writes:ident) => {
        /// `sql` with `values` bound to its parameters.
        fn bound<'q>(
            sql: &'q str,
            values: &[$crate::record::batch::Value<'q>],
        ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>> {
            use $crate::record::batch::Value;
            values
                .iter()
                .fold(sqlx::query(sql), |query, value| match *value {
                    Value::Text(text) => query.bind(text),
                    Value::Bytes(bytes) => query.bind(bytes),
                })
        }

        /// The batches' transactions, on the store's writing pool.
        struct Writes(sqlx::Pool<$db>);

        #[async_trait::async_trait]
        impl $crate::record::batch::Transact for Writes {
            type Tx = sqlx::Transaction<'static, $db>;

            async fn begin(&self) -> Result<Self::Tx, sqlx::Error> {
                <$store as $crate::record::common::Backend>::begin_writing(&self.0).await
            }

            async fn commit(&self, tx: Self::Tx) -> Result<(), sqlx::Error> {
                tx.commit().await
            }

            async fn rows(
                &self,
                tx: &mut Self::Tx,
                sql: &str,
                values: &[$crate::record::batch::Value<'_>],
            ) -> Result<Vec<Vec<String>>, sqlx::Error> {
                use sqlx::Row;
                let rows = bound(sql, values).fetch_all(&mut **tx).await?;
                rows.iter()
                    .map(|row| (0..row.len()).map(|i| row.try_get(i)).collect())
                    .collect()
            }
        }

        impl $store {
            /// The views a statement of [`rows`] finds.
            async fn views(
                &self,
                statement: &$crate::record::rows::Statement,
            ) -> Result<Vec<$crate::record::StatusView>, $crate::record::StoreError> {
                let values: Vec<$crate::record::batch::Value> = statement
                    .values
                    .iter()
                    .map(|v| $crate::record::batch::Value::Text(v.as_deref()))
                    .collect();
                $crate::record::rows::views(
                    bound(&statement.sql, &values)
                        .fetch_all(&self.$reads)
                        .await?,
                )
            }
        }

        $crate::record::common::messages!($store, reads: $reads, writes: $writes);
        $crate::record::common::payloads!($store, writes: $writes);
        $crate::record::common::consents!($store, reads: $reads, writes: $writes);
        $crate::record::common::audit!($store, writes: $writes);
    };
}
pub(crate) use sql_store;

/// [`super::Messages`] for a store of [`sql_store!`].
macro_rules! messages {
    ($store:ty, reads: $reads:ident, writes: $writes:ident) => {
        #[async_trait::async_trait]
        impl $crate::record::Messages for $store {
            async fn ping(&self) -> Result<(), $crate::record::StoreError> {
                sqlx::query("SELECT 1").execute(&self.$reads).await?;
                Ok(())
            }

            fn shared(&self) -> bool {
                <Self as $crate::record::common::Backend>::SHARED
            }

            /// Records a new message (committed with the batch it joins: group commit).
            async fn record(
                &self,
                msg: &$crate::record::NewMessage,
                hold_until: time::OffsetDateTime,
            ) -> Result<$crate::record::Recorded, $crate::record::StoreError> {
                let msg = Box::new(msg.clone());
                self.batcher
                    .submit(|reply| $crate::record::batch::Write::Record {
                        msg,
                        hold_until,
                        reply,
                    })
                    .await
            }

            /// Marks a message as confirmed by the broker (committed with its batch).
            async fn mark_queued(
                &self,
                id: &contract::message::MessageId,
            ) -> Result<bool, $crate::record::StoreError> {
                let id = *id;
                self.batcher
                    .submit(|reply| $crate::record::batch::Write::MarkQueued { id, reply })
                    .await
            }

            /// Moves a message to `status` if it may move there (committed with its batch).
            async fn advance(
                &self,
                id: &contract::message::MessageId,
                status: $crate::record::Status,
                reason: Option<&str>,
            ) -> Result<bool, $crate::record::StoreError> {
                let (id, reason) = (*id, reason.map(str::to_owned));
                self.batcher
                    .submit(|reply| $crate::record::batch::Write::Advance {
                        id,
                        status,
                        reason,
                        reply,
                    })
                    .await
            }

            async fn defer(
                &self,
                id: &contract::message::MessageId,
                until: time::OffsetDateTime,
            ) -> Result<(), $crate::record::StoreError> {
                sqlx::query(
                    "UPDATE messages SET attempts = attempts + 1, next_attempt_at = $1
                     WHERE id = $2 AND next_attempt_at IS NOT NULL",
                )
                .bind($crate::record::timestamp(until))
                .bind(id)
                .execute(&self.$writes)
                .await?;
                Ok(())
            }

            async fn claim_due(
                &self,
                limit: u32,
                lease_until: time::OffsetDateTime,
                take_over: bool,
            ) -> Result<Vec<$crate::record::Outgoing>, $crate::record::StoreError> {
                let sql = format!(
                    "UPDATE messages SET next_attempt_at = $1, claimed_by = $2
                     WHERE id IN (
                         SELECT id FROM messages
                         WHERE status = 'recorded' AND next_attempt_at IS NOT NULL
                           AND {})
                     RETURNING {}",
                    <Self as $crate::record::common::Backend>::CLAIMABLE,
                    $crate::record::rows::OUTGOING,
                );
                let rows = sqlx::query(&sql)
                    .bind($crate::record::timestamp(lease_until))
                    .bind(&self.instance)
                    .bind($crate::record::timestamp(self.clock.now()))
                    .bind(take_over)
                    .bind(i64::from(limit))
                    .fetch_all(&self.$writes)
                    .await?;
                rows.iter().map($crate::record::rows::outgoing).collect()
            }

            async fn claim(
                &self,
                id: &contract::message::MessageId,
                lease_until: time::OffsetDateTime,
            ) -> Result<Option<$crate::record::Outgoing>, $crate::record::StoreError> {
                let row = sqlx::query(
                    "UPDATE messages SET next_attempt_at = $1, claimed_by = $2
                     WHERE id = $3 AND status = 'recorded' AND next_attempt_at IS NOT NULL
                       AND next_attempt_at <= $4
                     RETURNING id, sender, kind, legal_basis, routing_key, routed, key_id, wrapped_key, attempts",
                )
                .bind($crate::record::timestamp(lease_until))
                .bind(&self.instance)
                .bind(id)
                .bind($crate::record::timestamp(self.clock.now()))
                .fetch_optional(&self.$writes)
                .await?;
                row.as_ref().map($crate::record::rows::outgoing).transpose()
            }

            async fn accepted_counts(
                &self,
            ) -> Result<Vec<(String, i64)>, $crate::record::StoreError> {
                Ok(
                    sqlx::query_as("SELECT adapter, accepted FROM accepted_counts ORDER BY adapter")
                        .fetch_all(&self.$reads)
                        .await?,
                )
            }

            async fn status(
                &self,
                client_id: &contract::message::MessageId,
                sender: &contract::directory::AgencyId,
            ) -> Result<Option<$crate::record::StatusView>, $crate::record::StoreError> {
                let statement = $crate::record::rows::status(client_id, &sender.0);
                Ok(self.views(&statement).await?.pop())
            }

            async fn past_due(
                &self,
                checks: &[$crate::record::DueCheck],
                sender: Option<&contract::directory::AgencyId>,
            ) -> Result<Vec<$crate::record::StatusView>, $crate::record::StoreError> {
                if checks.is_empty() {
                    return Ok(Vec::new());
                }
                let sender = sender.map(|s| s.0.as_str());
                self.views(&$crate::record::rows::past_due(checks, sender))
                    .await
            }

            async fn open_messages(
                &self,
                sender: Option<&contract::directory::AgencyId>,
            ) -> Result<Vec<$crate::record::StatusView>, $crate::record::StoreError> {
                let sender = sender.map(|s| s.0.as_str());
                self.views(&$crate::record::rows::open_messages(sender))
                    .await
            }
        }
    };
}
pub(crate) use messages;

/// [`super::Payloads`] for a store of [`sql_store!`].
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

            async fn erase_settled(
                &self,
                before: time::OffsetDateTime,
            ) -> Result<u64, $crate::record::StoreError> {
                let erased = sqlx::query(
                    "UPDATE messages SET routed = $1, key_id = NULL, wrapped_key = NULL, erased_at = $2
                     WHERE erased_at IS NULL AND status IN ('failed', 'expired', 'queued')
                       AND updated_at <= $3",
                )
                .bind(Vec::<u8>::new())
                .bind($crate::record::timestamp(self.clock.now()))
                .bind($crate::record::timestamp(before))
                .execute(&self.$writes)
                .await?;
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

/// [`super::Consents`] for a store of [`sql_store!`].
macro_rules! consents {
    ($store:ty, reads: $reads:ident, writes: $writes:ident) => {
        #[async_trait::async_trait]
        impl $crate::record::Consents for $store {
            async fn record_consent(
                &self,
                consent: &$crate::consent::Consent,
                body_hash: &str,
            ) -> Result<$crate::record::ConsentRecorded, $crate::record::StoreError> {
                let record = serde_json::to_string(consent).expect("a consent serialises");
                let inserted = sqlx::query(
                    "INSERT INTO consents (id, organisation, subject_hash, body_hash, record, recorded_at)
                     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                )
                .bind(&consent.consent_id)
                .bind(&consent.organisation)
                .bind(&consent.subject_hash)
                .bind(body_hash)
                .bind(record)
                .bind(&consent.recorded_at)
                .execute(&self.$writes)
                .await?
                .rows_affected()
                    == 1;
                if inserted {
                    return Ok($crate::record::ConsentRecorded::New);
                }
                let body_hash = sqlx::query_scalar(
                    "SELECT body_hash FROM consents WHERE organisation = $1 AND id = $2",
                )
                .bind(&consent.organisation)
                .bind(&consent.consent_id)
                .fetch_one(&self.$writes)
                .await?;
                Ok($crate::record::ConsentRecorded::Existing { body_hash })
            }

            async fn consent(
                &self,
                organisation: &contract::directory::AgencyId,
                id: &str,
            ) -> Result<Option<$crate::consent::Consent>, $crate::record::StoreError> {
                let row = sqlx::query(
                    "SELECT subject_hash, record, withdrawn_at FROM consents
                     WHERE organisation = $1 AND id = $2",
                )
                .bind(organisation)
                .bind(id)
                .fetch_optional(&self.$reads)
                .await?;
                row.as_ref().map($crate::record::rows::consent).transpose()
            }

            /// Withdraws a consent (once; later calls report the same) and stops every
            /// message under it that is not yet delivered, in one transaction.
            async fn withdraw_consent(
                &self,
                organisation: &contract::directory::AgencyId,
                id: &str,
            ) -> Result<Option<$crate::record::Withdrawal>, $crate::record::StoreError> {
                use $crate::record::Status;
                use $crate::record::common::Backend;
                let at = $crate::record::timestamp(self.clock.now());
                let mut tx = Self::begin_writing(&self.$writes).await?;
                let withdrawn_at: Option<String> = sqlx::query_scalar(
                    "UPDATE consents SET withdrawn_at = coalesce(withdrawn_at, $1)
                     WHERE organisation = $2 AND id = $3 RETURNING withdrawn_at",
                )
                .bind(&at)
                .bind(organisation)
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(withdrawn_at) = withdrawn_at else {
                    return Ok(None);
                };
                sqlx::query(
                    "UPDATE messages SET status = $1, status_reason = 'consent withdrawn',
                     updated_at = $2, next_attempt_at = NULL
                     WHERE sender = $3 AND consent_ref = $4 AND status IN ($5, $6)",
                )
                .bind(Status::Withdrawn.as_str())
                .bind(&at)
                .bind(organisation)
                .bind(id)
                .bind(Status::Recorded.as_str())
                .bind(Status::Queued.as_str())
                .execute(&mut *tx)
                .await?;
                let rows = sqlx::query(
                    "SELECT id, client_id, routing_key, status FROM messages
                     WHERE sender = $1 AND consent_ref = $2 ORDER BY created_at",
                )
                .bind(organisation)
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                let mut withdrawal = $crate::record::Withdrawal {
                    withdrawn_at,
                    ..Default::default()
                };
                withdrawal.sort(
                    rows.iter()
                        .map($crate::record::rows::affected)
                        .collect::<Result<Vec<_>, _>>()?,
                );
                Ok(Some(withdrawal))
            }

            async fn record_refusal(
                &self,
                refused: &$crate::record::Refused<'_>,
            ) -> Result<(), $crate::record::StoreError> {
                sqlx::query(
                    "INSERT INTO refusals (at, message_id, sender, recipient, kind, legal_basis, reasons)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind($crate::record::timestamp(self.clock.now()))
                .bind(refused.message_id)
                .bind(refused.sender)
                .bind(refused.recipient)
                .bind(refused.kind)
                .bind(refused.legal_basis)
                .bind(refused.reasons.to_string())
                .execute(&self.$writes)
                .await?;
                Ok(())
            }

            async fn refusals(
                &self,
                message_id: &contract::message::MessageId,
                sender: &contract::directory::AgencyId,
            ) -> Result<Vec<serde_json::Value>, $crate::record::StoreError> {
                let rows: Vec<String> = sqlx::query_scalar(
                    "SELECT reasons FROM refusals WHERE message_id = $1 AND sender = $2 ORDER BY seq",
                )
                .bind(message_id)
                .bind(sender)
                .fetch_all(&self.$reads)
                .await?;
                rows.iter()
                    .map(|r| {
                        serde_json::from_str(r).map_err(|e| {
                            $crate::record::StoreError::Corrupt(format!("refusal: {e}"))
                        })
                    })
                    .collect()
            }
        }
    };
}
pub(crate) use consents;

/// [`super::AuditTrail`] and [`super::Disclosures`] for a store of [`sql_store!`].
macro_rules! audit {
    ($store:ty, writes: $writes:ident) => {
        #[async_trait::async_trait]
        impl $crate::record::AuditTrail for $store {
            async fn audit_head(
                &self,
            ) -> Result<$crate::record::ChainLink, $crate::record::StoreError> {
                use $crate::record::rows::Columns;
                let newest = sqlx::query(
                    "SELECT seq, chain FROM audit WHERE chain IS NOT NULL ORDER BY seq DESC LIMIT 1",
                )
                .fetch_optional(&self.$writes)
                .await?;
                match newest {
                    Some(row) => Ok($crate::record::ChainLink {
                        seq: row.int("seq")?,
                        chain: row.text("chain")?,
                    }),
                    None => self.audit_anchor().await,
                }
            }

            async fn audit_anchor(
                &self,
            ) -> Result<$crate::record::ChainLink, $crate::record::StoreError> {
                let anchor: Option<Vec<u8>> =
                    sqlx::query_scalar("SELECT value FROM settings WHERE name = 'audit_anchor'")
                        .fetch_optional(&self.$writes)
                        .await?;
                $crate::record::ChainLink::of_anchor(anchor)
            }

            async fn audit_entries(
                &self,
                after: i64,
                limit: u32,
            ) -> Result<Vec<$crate::record::AuditEntry>, $crate::record::StoreError> {
                let rows = sqlx::query(
                    "SELECT seq, at, actor, action, message_id, kind, legal_basis, recipient,
                            subject_hash, chain
                     FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2",
                )
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&self.$writes)
                .await?;
                rows.iter().map($crate::record::rows::audit_entry).collect()
            }

            async fn set_chains(
                &self,
                links: &[$crate::record::ChainLink],
            ) -> Result<(), $crate::record::StoreError> {
                use $crate::record::common::Backend;
                let mut tx = Self::begin_writing(&self.$writes).await?;
                for link in links {
                    sqlx::query("UPDATE audit SET chain = $1 WHERE seq = $2 AND chain IS NULL")
                        .bind(&link.chain)
                        .bind(link.seq)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn prune(
                &self,
                before: time::OffsetDateTime,
            ) -> Result<$crate::record::Pruned, $crate::record::StoreError> {
                use $crate::record::common::Backend;
                use $crate::record::rows::Columns;
                let before = $crate::record::timestamp(before);
                let mut tx = Self::begin_writing(&self.$writes).await?;
                sqlx::query(
                    "DELETE FROM status_history WHERE message_id IN (
                         SELECT id FROM messages WHERE erased_at IS NOT NULL AND updated_at < $1)",
                )
                .bind(&before)
                .execute(&mut *tx)
                .await?;
                let messages = sqlx::query(
                    "DELETE FROM messages WHERE erased_at IS NOT NULL AND updated_at < $1",
                )
                .bind(&before)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let refusals = sqlx::query("DELETE FROM refusals WHERE at < $1")
                    .bind(&before)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                // The newest chained entry of the period becomes the anchor; entries are
                // removed only as a prefix of the chain.
                let last = sqlx::query(
                    "SELECT seq, chain FROM audit WHERE chain IS NOT NULL AND seq <= (
                         SELECT coalesce(max(seq), 0) FROM audit WHERE at < $1)
                     ORDER BY seq DESC LIMIT 1",
                )
                .bind(&before)
                .fetch_optional(&mut *tx)
                .await?;
                let mut audit_entries = 0;
                if let Some(row) = last {
                    let anchor = $crate::record::ChainLink {
                        seq: row.int("seq")?,
                        chain: row.text("chain")?,
                    };
                    audit_entries = sqlx::query("DELETE FROM audit WHERE seq <= $1")
                        .bind(anchor.seq)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    sqlx::query(
                        "INSERT INTO settings (name, value) VALUES ('audit_anchor', $1)
                         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    )
                    .bind(anchor.to_anchor())
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok($crate::record::Pruned {
                    messages,
                    refusals,
                    audit_entries,
                })
            }
        }

        #[async_trait::async_trait]
        impl $crate::record::Disclosures for $store {
            /// Audits a disclosure report, then lists the messages about the subject, in
            /// one transaction.
            async fn disclosures(
                &self,
                request: &$crate::record::DisclosureRequest<'_>,
            ) -> Result<Vec<$crate::record::Disclosure>, $crate::record::StoreError> {
                use $crate::record::common::Backend;
                let mut tx = Self::begin_writing(&self.$writes).await?;
                sqlx::query(
                    "INSERT INTO audit (at, actor, action, message_id, kind, legal_basis, recipient, subject_hash)
                     VALUES ($1, $2, 'disclosure_report', $3, '', 'gdpr.art15', '', $4)",
                )
                .bind($crate::record::timestamp(self.clock.now()))
                .bind(request.organisation)
                .bind(request.request_id)
                .bind(request.subject_hash)
                .execute(&mut *tx)
                .await?;
                let rows = sqlx::query(&format!(
                    "SELECT id, sender, recipient, kind, legal_basis, created_at, status, updated_at
                     FROM messages WHERE {} ORDER BY created_at, id",
                    <Self as $crate::record::common::Backend>::SUBJECT_IN
                ))
                .bind(request.subject_hash)
                .fetch_all(&mut *tx)
                .await?;
                tx.commit().await?;
                rows.iter().map($crate::record::rows::disclosure).collect()
            }
        }
    };
}
pub(crate) use audit;
