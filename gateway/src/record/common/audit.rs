//! The audit trail and disclosure reports of a store of [`super::sql_store!`].

/// [`crate::record::AuditTrail`] and [`crate::record::Disclosures`] for a store of
/// [`super::sql_store!`], and its audited transactions (chained before they commit).
macro_rules! audit {
    ($store:ty, $db:ty, reads: $reads:ident, writes: $writes:ident) => {
        impl $store {
            /// Begins a writing transaction whose audit entries [`Self::commit_audited`]
            /// chains: with the head of the trail before them.
            async fn begin_audited(
                &self,
            ) -> Result<
                (sqlx::Transaction<'static, $db>, $crate::record::ChainLink),
                $crate::record::StoreError,
            > {
                use $crate::record::common::Backend;
                self.key.get()?;
                let mut tx = Self::begin_writing(&self.$writes).await?;
                let head = sqlx::query($crate::record::audit::HEAD)
                    .fetch_all(&mut *tx)
                    .await?;
                let head = $crate::record::ChainLink::of_head(texts(&head)?)?;
                Ok((tx, head))
            }

            /// Chains the audit entries `tx` wrote, on from `head`, and commits it.
            async fn commit_audited(
                &self,
                mut tx: sqlx::Transaction<'static, $db>,
                head: $crate::record::ChainLink,
            ) -> Result<(), $crate::record::StoreError> {
                let written = sqlx::query($crate::record::audit::WRITTEN)
                    .fetch_all(&mut *tx)
                    .await?;
                let links =
                    $crate::record::audit::chained(self.key.get()?, &head, texts(&written)?)?;
                let seqs: Vec<String> = links.iter().map(|l| l.seq.to_string()).collect();
                // A script each, so that each statement's parameters start at `$1`.
                for (links, seqs) in links
                    .chunks($crate::record::batch::LINKS)
                    .zip(seqs.chunks($crate::record::batch::LINKS))
                {
                    let mut script = $crate::record::batch::Script::new();
                    $crate::record::batch::chain(&mut script, links, seqs);
                    let (statements, values) = script.parts();
                    for statement in statements {
                        bound(statement, values).execute(&mut *tx).await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            }
        }

        /// Rows of text columns, as text.
        fn texts(
            rows: &[<$db as sqlx::Database>::Row],
        ) -> Result<Vec<Vec<String>>, $crate::record::StoreError> {
            use sqlx::Row;
            rows.iter()
                .map(|row| (0..row.len()).map(|i| row.try_get::<String, _>(i)).collect())
                .collect::<Result<_, _>>()
                .map_err($crate::record::StoreError::from)
        }

        #[async_trait::async_trait]
        impl $crate::record::AuditTrail for $store {
            fn chain_with(&self, key: aws_lc_rs::hmac::Key) {
                self.key.set(key);
            }

            async fn audit_head(
                &self,
            ) -> Result<$crate::record::ChainLink, $crate::record::StoreError> {
                let head = sqlx::query($crate::record::audit::HEAD)
                    .fetch_all(&self.$reads)
                    .await?;
                $crate::record::ChainLink::of_head(texts(&head)?)
            }

            async fn audit_anchor(
                &self,
            ) -> Result<($crate::record::ChainLink, Option<String>), $crate::record::StoreError>
            {
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

            async fn prune(
                &self,
                before: time::OffsetDateTime,
            ) -> Result<$crate::record::Pruned, $crate::record::StoreError> {
                use $crate::record::common::Backend;
                use $crate::record::rows::Columns;
                let key = self.key.get()?;
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
                // A consent goes once it was withdrawn or recorded before the period and no
                // message kept refers to it.
                let consents = sqlx::query(
                    "DELETE FROM consents
                     WHERE coalesce(withdrawn_at, recorded_at) < $1
                       AND NOT EXISTS (SELECT 1 FROM messages
                           WHERE messages.sender = consents.organisation
                             AND messages.consent_ref = consents.id)",
                )
                .bind(&before)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                // The newest entry of the period becomes the anchor, but never the newest
                // entry of all (the chain goes on from it); entries are removed only as a
                // prefix of the chain.
                let last = sqlx::query(
                    "SELECT seq, chain FROM audit WHERE chain IS NOT NULL AND seq <= (
                         SELECT coalesce(max(seq), 0) FROM audit WHERE at < $1)
                       AND seq < (SELECT max(seq) FROM audit)
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
                    .bind(anchor.to_anchor(key))
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok($crate::record::Pruned {
                    messages,
                    refusals,
                    consents,
                    audit_entries,
                })
            }
        }

        #[async_trait::async_trait]
        impl $crate::record::Disclosures for $store {
            /// Audits a disclosure report, then lists the messages about the subject that
            /// the organisations of the request's reach sent or received, in one transaction.
            async fn disclosures(
                &self,
                request: &$crate::record::DisclosureRequest<'_>,
            ) -> Result<Vec<$crate::record::Disclosure>, $crate::record::StoreError> {
                let (mut tx, head) = self.begin_audited().await?;
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
                self.commit_audited(tx, head).await?;
                let found = rows
                    .iter()
                    .map($crate::record::rows::disclosure)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(found
                    .into_iter()
                    .filter(|d| request.reach.covers(&d.sender, &d.recipient))
                    .collect())
            }
        }
    };
}
pub(crate) use audit;
