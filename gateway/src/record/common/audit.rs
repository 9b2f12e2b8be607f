//! The audit trail and disclosure reports of a store of [`super::sql_store!`].

/// [`crate::record::AuditTrail`] and [`crate::record::Disclosures`] for a store of [`super::sql_store!`].
macro_rules! audit {
    ($store:ty, reads: $reads:ident, writes: $writes:ident) => {
        #[async_trait::async_trait]
        impl $crate::record::AuditTrail for $store {
            async fn audit_head(
                &self,
            ) -> Result<$crate::record::ChainLink, $crate::record::StoreError> {
                use $crate::record::rows::Columns;
                let newest = sqlx::query(
                    "SELECT seq, chain FROM audit WHERE chain IS NOT NULL ORDER BY seq DESC LIMIT 1",
                )
                .fetch_optional(&self.$reads)
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
                        .fetch_optional(&self.$reads)
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
                .fetch_all(&self.$reads)
                .await?;
                rows.iter().map($crate::record::rows::audit_entry).collect()
            }

            /// Rides in the next batch of the hot writes (group commit): no transaction of
            /// its own.
            async fn set_chains(
                &self,
                links: &[$crate::record::ChainLink],
            ) -> Result<(), $crate::record::StoreError> {
                let links = links.to_vec();
                self.batcher
                    .submit(|reply| $crate::record::batch::Write::Chain { links, reply })
                    .await
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
