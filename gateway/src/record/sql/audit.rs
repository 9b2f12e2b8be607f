//! [`AuditTrail`] on a SQL backend, and the store's audited transactions: their audit
//! entries are chained before they commit.

use super::{Backend, Conn, SqlStore, backend::run_in};
use crate::record::audit::{self, HEAD, WRITTEN};
use crate::record::batch::{self, Script};
use crate::record::rows::{self, Columns};
use crate::record::{AuditEntry, AuditTrail, ChainLink, Pruned, StoreError, timestamp};
use async_trait::async_trait;
use contract::plumbing::sql::{Tx, Value};
use time::OffsetDateTime;

impl<B: Backend> SqlStore<B> {
    /// Begins a writing transaction whose audit entries [`Self::commit_audited`] chains:
    /// with the head of the trail before them.
    pub(super) async fn begin_audited(&self) -> Result<(B::Tx, ChainLink), StoreError> {
        self.key.get()?;
        let mut tx = self.db.begin_writing().await?;
        let head = tx.fetch(HEAD, &[]).await?;
        let head = ChainLink::of_head(texts(&head)?)?;
        Ok((tx, head))
    }

    /// Chains the audit entries `tx` wrote, on from `head`, and commits it.
    pub(super) async fn commit_audited(
        &self,
        mut tx: B::Tx,
        head: ChainLink,
    ) -> Result<(), StoreError> {
        let written = tx.fetch(WRITTEN, &[]).await?;
        let links = audit::chained(self.key.get()?, &head, texts(&written)?)?;
        let seqs: Vec<String> = links.iter().map(|l| l.seq.to_string()).collect();
        // A script each, so that each statement's parameters start at `$1`.
        for (links, seqs) in links.chunks(batch::LINKS).zip(seqs.chunks(batch::LINKS)) {
            let mut script = Script::new();
            batch::chain(&mut script, links, seqs);
            run_in(&mut tx, &script).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// Rows of text columns, as text.
fn texts<R: Columns>(rows: &[R]) -> Result<Vec<Vec<String>>, StoreError> {
    Ok(rows.iter().map(Columns::texts).collect::<Result<_, _>>()?)
}

#[async_trait]
impl<B: Backend> AuditTrail for SqlStore<B> {
    fn chain_with(&self, key: aws_lc_rs::hmac::Key) {
        self.key.set(key);
    }

    async fn audit_head(&self) -> Result<ChainLink, StoreError> {
        let head = self.db.fetch(Conn::Reader, HEAD, &[]).await?;
        ChainLink::of_head(texts(&head)?)
    }

    async fn audit_anchor(&self) -> Result<(ChainLink, Option<String>), StoreError> {
        let rows = self
            .db
            .fetch(
                Conn::Reader,
                "SELECT value FROM settings WHERE name = 'audit_anchor'",
                &[],
            )
            .await?;
        ChainLink::of_anchor(rows.first().map(|r| r.bytes("value")).transpose()?)
    }

    async fn audit_entries(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = self
            .db
            .fetch(
                Conn::Reader,
                "SELECT seq, at, actor, action, message_id, kind, legal_basis, recipient,
                        subject_hash, chain
                 FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[after.into(), i64::from(limit).into()],
            )
            .await?;
        rows.iter().map(rows::audit_entry).collect()
    }

    async fn prune(&self, before: OffsetDateTime) -> Result<Pruned, StoreError> {
        let key = self.key.get()?;
        let before = timestamp(before);
        let before = [Value::from(&before)];
        let mut tx = self.db.begin_writing().await?;
        tx.execute(
            "DELETE FROM status_history WHERE message_id IN (
                 SELECT id FROM messages WHERE erased_at IS NOT NULL AND updated_at < $1)",
            &before,
        )
        .await?;
        let messages = tx
            .execute(
                "DELETE FROM messages WHERE erased_at IS NOT NULL AND updated_at < $1",
                &before,
            )
            .await?;
        let refusals = tx
            .execute("DELETE FROM refusals WHERE at < $1", &before)
            .await?;
        // A consent goes once it was withdrawn or recorded before the period and no message
        // kept refers to it.
        let consents = tx
            .execute(
                "DELETE FROM consents
             WHERE coalesce(withdrawn_at, recorded_at) < $1
               AND NOT EXISTS (SELECT 1 FROM messages
                   WHERE messages.sender = consents.organisation
                     AND messages.consent_ref = consents.id)",
                &before,
            )
            .await?;
        // The newest entry of the period becomes the anchor, but never the newest entry of
        // all (the chain goes on from it); entries are removed only as a prefix of the chain.
        let last = tx
            .fetch(
                "SELECT seq, chain FROM audit WHERE chain IS NOT NULL AND seq <= (
                 SELECT coalesce(max(seq), 0) FROM audit WHERE at < $1)
               AND seq < (SELECT max(seq) FROM audit)
             ORDER BY seq DESC LIMIT 1",
                &before,
            )
            .await?;
        let mut audit_entries = 0;
        if let Some(row) = last.first() {
            let anchor = ChainLink {
                seq: row.int("seq")?,
                chain: row.text("chain")?,
            };
            audit_entries = tx
                .execute("DELETE FROM audit WHERE seq <= $1", &[anchor.seq.into()])
                .await?;
            tx.execute(
                "INSERT INTO settings (name, value) VALUES ('audit_anchor', $1)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                &[(&anchor.to_anchor(key)).into()],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Pruned {
            messages,
            refusals,
            consents,
            audit_entries,
        })
    }
}
