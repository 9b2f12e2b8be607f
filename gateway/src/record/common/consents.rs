//! The consents and refusals of a store of [`super::sql_store!`].

/// [`crate::record::Consents`] for a store of [`super::sql_store!`].
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
                let (mut tx, head) = self.begin_audited().await?;
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
                .execute(&mut *tx)
                .await?
                .rows_affected()
                    == 1;
                let recorded = if inserted {
                    $crate::record::ConsentRecorded::New
                } else {
                    let body_hash = sqlx::query_scalar(
                        "SELECT body_hash FROM consents WHERE organisation = $1 AND id = $2",
                    )
                    .bind(&consent.organisation)
                    .bind(&consent.consent_id)
                    .fetch_one(&mut *tx)
                    .await?;
                    $crate::record::ConsentRecorded::Existing { body_hash }
                };
                self.commit_audited(tx, head).await?;
                Ok(recorded)
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
                let at = $crate::record::timestamp(self.clock.now());
                let (mut tx, head) = self.begin_audited().await?;
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
                    "SELECT id, client_id, routing_key, recipient, status FROM messages
                     WHERE sender = $1 AND consent_ref = $2 ORDER BY created_at",
                )
                .bind(organisation)
                .bind(id)
                .fetch_all(&mut *tx)
                .await?;
                self.commit_audited(tx, head).await?;
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
                let (mut tx, head) = self.begin_audited().await?;
                sqlx::query(
                    "INSERT INTO refusals (at, message_id, sender, supplier, recipient, kind, legal_basis, reasons)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind($crate::record::timestamp(self.clock.now()))
                .bind(refused.message_id)
                .bind(refused.sender)
                .bind(refused.supplier)
                .bind(refused.recipient)
                .bind(refused.kind)
                .bind(refused.legal_basis)
                .bind(refused.reasons.to_string())
                .execute(&mut *tx)
                .await?;
                self.commit_audited(tx, head).await
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
