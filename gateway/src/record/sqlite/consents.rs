//! Consents and refusals in SQLite.

use super::SqliteStore;
use crate::consent::Consent;
use crate::record::rows::{CONSENT, REFUSALS, UNDER_CONSENT, affected, consent, reasons};
use crate::record::{
    ConsentRecorded, Consents, Refused, Status, StoreError, Withdrawal, timestamp,
};
use async_trait::async_trait;
use contract::directory::AgencyId;
use contract::message::MessageId;

#[async_trait]
impl Consents for SqliteStore {
    /// Records a consent, or reports the one recorded before under its id.
    async fn record_consent(
        &self,
        consent: &Consent,
        body_hash: &str,
    ) -> Result<ConsentRecorded, StoreError> {
        let record = serde_json::to_string(consent).expect("a consent serialises");
        let inserted = sqlx::query(
            "INSERT INTO consents (id, organisation, subject_hash, body_hash, record, recorded_at)
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(&consent.consent_id)
        .bind(&consent.organisation)
        .bind(&consent.subject_hash)
        .bind(body_hash)
        .bind(record)
        .bind(&consent.recorded_at)
        .execute(&self.writer)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            return Ok(ConsentRecorded::New);
        }
        let body_hash =
            sqlx::query_scalar("SELECT body_hash FROM consents WHERE organisation = ? AND id = ?")
                .bind(&consent.organisation)
                .bind(&consent.consent_id)
                .fetch_one(&self.writer)
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
            .fetch_optional(&self.readers)
            .await?;
        row.as_ref().map(consent).transpose()
    }

    /// Withdraws a consent (once; later calls report the same) and stops every message
    /// under it that is not yet delivered. `None` if there is no such consent.
    async fn withdraw_consent(
        &self,
        organisation: &AgencyId,
        id: &str,
    ) -> Result<Option<Withdrawal>, StoreError> {
        let at = timestamp(self.clock.now());
        let mut tx = self.writer.begin().await?;
        sqlx::query("UPDATE consents SET withdrawn_at = ? WHERE organisation = ? AND id = ? AND withdrawn_at IS NULL")
            .bind(&at)
            .bind(organisation)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let Some(withdrawn_at) = sqlx::query_scalar::<_, String>(
            "SELECT withdrawn_at FROM consents WHERE organisation = ? AND id = ?",
        )
        .bind(organisation)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        else {
            return Ok(None);
        };
        sqlx::query(
            "UPDATE messages SET status = ?, status_reason = 'consent withdrawn', updated_at = ?,
             next_attempt_at = NULL WHERE sender = ? AND consent_ref = ? AND status IN (?, ?)",
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
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(timestamp(self.clock.now()))
        .bind(refused.message_id)
        .bind(refused.sender)
        .bind(refused.recipient)
        .bind(refused.kind)
        .bind(refused.legal_basis)
        .bind(refused.reasons.to_string())
        .execute(&self.writer)
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
            .fetch_all(&self.readers)
            .await?;
        reasons(&rows)
    }
}
