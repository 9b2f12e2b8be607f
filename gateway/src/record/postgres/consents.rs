//! Consents and refusals in PostgreSQL.

use super::{PgStore, number_audit};
use crate::consent::Consent;
use crate::record::rows::{CONSENT, REFUSALS, UNDER_CONSENT, affected, consent, reasons};
use crate::record::{
    ConsentRecorded, Consents, Refused, Status, StoreError, Withdrawal, timestamp,
};
use async_trait::async_trait;
use contract::directory::AgencyId;
use contract::message::MessageId;

#[async_trait]
impl Consents for PgStore {
    /// Records a consent, or reports the one recorded before under its id.
    async fn record_consent(
        &self,
        consent: &Consent,
        body_hash: &str,
    ) -> Result<ConsentRecorded, StoreError> {
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
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            return Ok(ConsentRecorded::New);
        }
        let body_hash = sqlx::query_scalar(
            "SELECT body_hash FROM consents WHERE organisation = $1 AND id = $2",
        )
        .bind(&consent.organisation)
        .bind(&consent.consent_id)
        .fetch_one(&self.pool)
        .await?;
        Ok(ConsentRecorded::Existing { body_hash })
    }

    /// The consent `organisation` recorded under `id`.
    async fn consent(
        &self,
        organisation: &AgencyId,
        id: &str,
    ) -> Result<Option<Consent>, StoreError> {
        let row = sqlx::query(CONSENT)
            .bind(organisation)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(consent).transpose()
    }

    /// Withdraws a consent (once; later calls report the same) and stops every message
    /// under it that is not yet delivered, in one transaction. `None` if there is no such
    /// consent.
    async fn withdraw_consent(
        &self,
        organisation: &AgencyId,
        id: &str,
    ) -> Result<Option<Withdrawal>, StoreError> {
        let at = timestamp(self.clock.now());
        let mut tx = self.pool.begin().await?;
        number_audit(&mut tx).await?;
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
            "UPDATE messages SET status = $1, status_reason = 'consent withdrawn', updated_at = $2,
             next_attempt_at = NULL WHERE sender = $3 AND consent_ref = $4 AND status IN ($5, $6)",
        )
        .bind(Status::Withdrawn.as_str())
        .bind(&at)
        .bind(organisation)
        .bind(id)
        .bind(Status::Recorded.as_str())
        .bind(Status::Queued.as_str())
        .execute(&mut *tx)
        .await?;
        let rows = sqlx::query(UNDER_CONSENT)
            .bind(organisation)
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut withdrawal = Withdrawal {
            withdrawn_at,
            ..Withdrawal::default()
        };
        withdrawal.sort(rows.iter().map(affected).collect::<Result<Vec<_>, _>>()?);
        Ok(Some(withdrawal))
    }

    /// Records a refused message (ids, kind, tag and reasons only).
    async fn record_refusal(&self, refused: &Refused<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO refusals (at, message_id, sender, recipient, kind, legal_basis, reasons)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(timestamp(self.clock.now()))
        .bind(refused.message_id)
        .bind(refused.sender)
        .bind(refused.recipient)
        .bind(refused.kind)
        .bind(refused.legal_basis)
        .bind(refused.reasons.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The reasons recorded for refusals of `message_id` from `sender`, oldest first.
    async fn refusals(
        &self,
        message_id: &MessageId,
        sender: &AgencyId,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let rows: Vec<String> = sqlx::query_scalar(REFUSALS)
            .bind(message_id)
            .bind(sender)
            .fetch_all(&self.pool)
            .await?;
        reasons(&rows)
    }
}
