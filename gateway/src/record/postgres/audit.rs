//! The audit trail and disclosure reports in PostgreSQL.

use super::{PgStore, number_audit};
use crate::record::rows::{AUDIT_ENTRIES, DISCLOSED, audit_entry, disclosure};
use crate::record::{
    AuditEntry, AuditTrail, ChainLink, Disclosure, DisclosureRequest, Disclosures, Pruned,
    StoreError, timestamp,
};
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
impl AuditTrail for PgStore {
    async fn audit_head(&self) -> Result<ChainLink, StoreError> {
        let newest = sqlx::query(
            "SELECT seq, chain FROM audit WHERE chain IS NOT NULL ORDER BY seq DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        match newest {
            Some(row) => Ok(ChainLink {
                seq: row.try_get("seq")?,
                chain: row.try_get("chain")?,
            }),
            None => self.audit_anchor().await,
        }
    }

    async fn audit_anchor(&self) -> Result<ChainLink, StoreError> {
        let anchor: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT value FROM settings WHERE name = 'audit_anchor'")
                .fetch_optional(&self.pool)
                .await?;
        ChainLink::of_anchor(anchor)
    }

    async fn audit_entries(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(AUDIT_ENTRIES)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(audit_entry).collect()
    }

    async fn set_chains(&self, links: &[ChainLink]) -> Result<(), StoreError> {
        let (seqs, chains): (Vec<i64>, Vec<&str>) =
            links.iter().map(|l| (l.seq, l.chain.as_str())).unzip();
        sqlx::query(
            "UPDATE audit SET chain = l.chain
             FROM unnest($1::bigint[], $2::text[]) AS l(seq, chain)
             WHERE audit.seq = l.seq AND audit.chain IS NULL",
        )
        .bind(seqs)
        .bind(chains)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn prune(&self, before: time::OffsetDateTime) -> Result<Pruned, StoreError> {
        let before = timestamp(before);
        let mut tx = self.pool.begin().await?;
        number_audit(&mut tx).await?;
        let old = "SELECT id FROM messages WHERE erased_at IS NOT NULL AND updated_at < $1";
        sqlx::query(&format!(
            "DELETE FROM status_history WHERE message_id IN ({old})"
        ))
        .bind(&before)
        .execute(&mut *tx)
        .await?;
        let messages =
            sqlx::query("DELETE FROM messages WHERE erased_at IS NOT NULL AND updated_at < $1")
                .bind(&before)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        let refusals = sqlx::query("DELETE FROM refusals WHERE at < $1")
            .bind(&before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        // The newest chained entry of the period becomes the anchor; entries are removed
        // only as a prefix of the chain.
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
            let anchor = ChainLink {
                seq: row.try_get("seq")?,
                chain: row.try_get("chain")?,
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
        Ok(Pruned {
            messages,
            refusals,
            audit_entries,
        })
    }
}

#[async_trait]
impl Disclosures for PgStore {
    async fn disclosures(
        &self,
        request: &DisclosureRequest<'_>,
    ) -> Result<Vec<Disclosure>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO audit (at, actor, action, message_id, kind, legal_basis, recipient, subject_hash)
             VALUES ($1, $2, 'disclosure_report', $3, '', 'gdpr.art15', '', $4)",
        )
        .bind(timestamp(self.clock.now()))
        .bind(request.organisation)
        .bind(request.request_id)
        .bind(request.subject_hash)
        .execute(&mut *tx)
        .await?;
        let rows = sqlx::query(&format!(
            "{DISCLOSED} FROM messages
             WHERE subject_hashes::jsonb @> jsonb_build_array($1::text)
             ORDER BY created_at, id"
        ))
        .bind(request.subject_hash)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter().map(disclosure).collect()
    }
}
