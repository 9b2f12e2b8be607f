//! The audit trail and disclosure reports in SQLite.

use super::SqliteStore;
use crate::record::rows::{AUDIT_ENTRIES, DISCLOSED, audit_entry, disclosure};
use crate::record::{
    AuditEntry, AuditTrail, ChainLink, Disclosure, DisclosureRequest, Disclosures, Pruned,
    StoreError, timestamp,
};
use async_trait::async_trait;
use sqlx::Row;

#[async_trait]
impl AuditTrail for SqliteStore {
    async fn audit_head(&self) -> Result<ChainLink, StoreError> {
        let newest = sqlx::query(
            "SELECT seq, chain FROM audit WHERE chain IS NOT NULL ORDER BY seq DESC LIMIT 1",
        )
        .fetch_optional(&self.writer)
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
                .fetch_optional(&self.writer)
                .await?;
        ChainLink::of_anchor(anchor)
    }

    async fn audit_entries(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query(AUDIT_ENTRIES)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.writer)
            .await?;
        rows.iter().map(audit_entry).collect()
    }

    async fn set_chains(&self, links: &[ChainLink]) -> Result<(), StoreError> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        for link in links {
            sqlx::query("UPDATE audit SET chain = ? WHERE seq = ? AND chain IS NULL")
                .bind(&link.chain)
                .bind(link.seq)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn prune(&self, before: time::OffsetDateTime) -> Result<Pruned, StoreError> {
        let before = timestamp(before);
        let mut tx = self.writer.begin().await?;
        let old = "SELECT id FROM messages WHERE erased_at IS NOT NULL AND updated_at < ?";
        sqlx::query(&format!(
            "DELETE FROM status_history WHERE message_id IN ({old})"
        ))
        .bind(&before)
        .execute(&mut *tx)
        .await?;
        let messages =
            sqlx::query("DELETE FROM messages WHERE erased_at IS NOT NULL AND updated_at < ?")
                .bind(&before)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        let refusals = sqlx::query("DELETE FROM refusals WHERE at < ?")
            .bind(&before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        // The newest chained entry of the period becomes the anchor; entries are removed
        // only as a prefix of the chain.
        let last = sqlx::query(
            "SELECT seq, chain FROM audit WHERE chain IS NOT NULL AND seq <= (
                 SELECT coalesce(max(seq), 0) FROM audit WHERE at < ?)
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
            audit_entries = sqlx::query("DELETE FROM audit WHERE seq <= ?")
                .bind(anchor.seq)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query(
                "INSERT INTO settings (name, value) VALUES ('audit_anchor', ?)
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
impl Disclosures for SqliteStore {
    async fn disclosures(
        &self,
        request: &DisclosureRequest<'_>,
    ) -> Result<Vec<Disclosure>, StoreError> {
        let mut tx = self.writer.begin().await?;
        sqlx::query(
            "INSERT INTO audit (at, actor, action, message_id, kind, legal_basis, recipient, subject_hash)
             VALUES (?, ?, 'disclosure_report', ?, '', 'gdpr.art15', '', ?)",
        )
        .bind(timestamp(self.clock.now()))
        .bind(request.organisation)
        .bind(request.request_id)
        .bind(request.subject_hash)
        .execute(&mut *tx)
        .await?;
        let rows = sqlx::query(&format!(
            "{DISCLOSED} FROM messages
             WHERE EXISTS (SELECT 1 FROM json_each(messages.subject_hashes) WHERE value = ?)
             ORDER BY created_at, id"
        ))
        .bind(request.subject_hash)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter().map(disclosure).collect()
    }
}
