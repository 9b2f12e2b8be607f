//! [`Consents`] on a SQL backend: consents, their withdrawal, refusals.

use super::{Backend, Conn, SqlStore};
use crate::consent::Consent;
use crate::record::rows::{self, Columns};
use crate::record::{
    ConsentRecorded, Consents, Refused, Status, StoreError, Withdrawal, timestamp,
};
use async_trait::async_trait;
use contract::directory::AgencyId;
use contract::message::MessageId;
use contract::plumbing::sql::{Tx, Value};

#[async_trait]
impl<B: Backend> Consents for SqlStore<B> {
    async fn record_consent(
        &self,
        consent: &Consent,
        body_hash: &str,
    ) -> Result<ConsentRecorded, StoreError> {
        let record = serde_json::to_string(consent).expect("a consent serialises");
        let (mut tx, head) = self.begin_audited().await?;
        let inserted = tx.execute("INSERT INTO consents (id, organisation, subject_hash, body_hash, record, recorded_at)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            &[
                (&consent.consent_id).into(),
                (&consent.organisation.0).into(),
                (&consent.subject_hash).into(),
                body_hash.into(),
                (&record).into(),
                (&consent.recorded_at).into(),
            ],
        )
        .await?
            == 1;
        let recorded = if inserted {
            ConsentRecorded::New
        } else {
            let rows = tx
                .fetch(
                    "SELECT body_hash FROM consents WHERE organisation = $1 AND id = $2",
                    &[
                        (&consent.organisation.0).into(),
                        (&consent.consent_id).into(),
                    ],
                )
                .await?;
            let row = rows.first().ok_or(sqlx::Error::RowNotFound)?;
            ConsentRecorded::Existing {
                body_hash: row.text("body_hash")?,
            }
        };
        self.commit_audited(tx, head).await?;
        Ok(recorded)
    }

    async fn consent(
        &self,
        organisation: &AgencyId,
        id: &str,
    ) -> Result<Option<Consent>, StoreError> {
        let rows = self
            .db
            .fetch(
                Conn::Reader,
                "SELECT subject_hash, record, withdrawn_at FROM consents
                 WHERE organisation = $1 AND id = $2",
                &[(&organisation.0).into(), id.into()],
            )
            .await?;
        rows.first().map(rows::consent).transpose()
    }

    /// Withdraws a consent (once; later calls report the same) and stops every message
    /// under it that is not yet delivered, in one transaction.
    async fn withdraw_consent(
        &self,
        organisation: &AgencyId,
        id: &str,
    ) -> Result<Option<Withdrawal>, StoreError> {
        let at = timestamp(self.clock.now());
        let (mut tx, head) = self.begin_audited().await?;
        let withdrawn = tx
            .fetch(
                "UPDATE consents SET withdrawn_at = coalesce(withdrawn_at, $1)
             WHERE organisation = $2 AND id = $3 RETURNING withdrawn_at",
                &[(&at).into(), (&organisation.0).into(), id.into()],
            )
            .await?;
        let Some(withdrawn_at) = withdrawn
            .first()
            .map(|r| r.text("withdrawn_at"))
            .transpose()?
        else {
            return Ok(None);
        };
        tx.execute(
            "UPDATE messages SET status = $1, status_reason = 'consent withdrawn',
             updated_at = $2, next_attempt_at = NULL
             WHERE sender = $3 AND consent_ref = $4 AND status IN ($5, $6)",
            &[
                Status::Withdrawn.as_str().into(),
                (&at).into(),
                (&organisation.0).into(),
                id.into(),
                Status::Recorded.as_str().into(),
                Status::Queued.as_str().into(),
            ],
        )
        .await?;
        let rows = tx
            .fetch(
                "SELECT id, client_id, routing_key, recipient, status FROM messages
             WHERE sender = $1 AND consent_ref = $2 ORDER BY created_at",
                &[(&organisation.0).into(), id.into()],
            )
            .await?;
        self.commit_audited(tx, head).await?;
        let mut withdrawal = Withdrawal {
            withdrawn_at,
            ..Default::default()
        };
        withdrawal.sort(
            rows.iter()
                .map(rows::affected)
                .collect::<Result<Vec<_>, _>>()?,
        );
        Ok(Some(withdrawal))
    }

    async fn record_refusal(&self, refused: &Refused<'_>) -> Result<(), StoreError> {
        let (at, message_id, reasons) = (
            timestamp(self.clock.now()),
            refused.message_id.to_string(),
            refused.reasons.to_string(),
        );
        let (mut tx, head) = self.begin_audited().await?;
        tx.execute("INSERT INTO refusals (at, message_id, sender, supplier, recipient, kind, legal_basis, reasons)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            &[
                (&at).into(),
                (&message_id).into(),
                (&refused.sender.0).into(),
                refused.supplier.into(),
                refused.recipient.into(),
                refused.kind.as_str().into(),
                refused.legal_basis.into(),
                (&reasons).into(),
            ],
        )
        .await?;
        self.commit_audited(tx, head).await
    }

    async fn refusals(
        &self,
        message_id: &MessageId,
        sender: &AgencyId,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let rows = self
            .db
            .fetch(
                Conn::Reader,
                "SELECT reasons FROM refusals WHERE message_id = $1 AND sender = $2 ORDER BY seq",
                &[Value::from(&message_id.to_string()), (&sender.0).into()],
            )
            .await?;
        rows.iter()
            .map(|r| {
                serde_json::from_str(&r.text("reasons")?)
                    .map_err(|e| StoreError::Corrupt(format!("refusal: {e}")))
            })
            .collect()
    }
}
