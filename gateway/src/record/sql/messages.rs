//! [`Messages`] on a SQL backend: recording, claims, statuses. The hot writes go to the
//! batches ([`crate::record::batch`]); the rest are a statement or a transaction each.

use super::{Backend, Conn, SqlStore};
use crate::record::batch::Write;
use crate::record::rows::{self, Columns};
use crate::record::{
    DueCheck, Messages, NewMessage, Outgoing, Recorded, Status, StatusView, StoreError, timestamp,
};
use async_trait::async_trait;
use contract::directory::AgencyId;
use contract::message::MessageId;
use contract::plumbing::sql::{Tx, Value};
use time::OffsetDateTime;

#[async_trait]
impl<B: Backend> Messages for SqlStore<B> {
    async fn ping(&self) -> Result<(), StoreError> {
        self.db.fetch(Conn::Reader, "SELECT 1", &[]).await?;
        Ok(())
    }

    fn shared(&self) -> bool {
        B::SHARED
    }

    fn batch_meter(&self) -> crate::record::BatchMeter {
        self.meter.clone()
    }

    /// Records a new message (committed with the batch it joins: group commit).
    async fn record(
        &self,
        msg: &NewMessage,
        lease_until: OffsetDateTime,
    ) -> Result<Recorded, StoreError> {
        let msg = Box::new(msg.clone());
        self.batcher
            .submit(|reply| Write::Record {
                msg,
                lease_until,
                reply,
            })
            .await
    }

    /// Marks a message as confirmed by the broker (committed with its batch).
    async fn mark_queued(&self, id: &MessageId) -> Result<bool, StoreError> {
        let id = *id;
        self.batcher
            .submit(|reply| Write::MarkQueued { id, reply })
            .await
    }

    /// Queues the mark for the next batch.
    async fn mark_queued_soon(&self, id: &MessageId) -> Result<(), StoreError> {
        let id = *id;
        self.batcher
            .enqueue(|reply| Write::MarkQueued { id, reply })
            .await
    }

    /// Moves a message to `status` if it may move there (committed with its batch).
    async fn advance(
        &self,
        id: &MessageId,
        status: Status,
        reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        let (id, reason) = (*id, reason.map(str::to_owned));
        self.batcher
            .submit(|reply| Write::Advance {
                id,
                status,
                reason,
                reply,
            })
            .await
    }

    async fn defer(&self, id: &MessageId, until: OffsetDateTime) -> Result<(), StoreError> {
        self.db
            .execute(
                "UPDATE messages SET attempts = attempts + 1, next_attempt_at = $1
                 WHERE id = $2 AND next_attempt_at IS NOT NULL",
                &[(&timestamp(until)).into(), (&id.to_string()).into()],
            )
            .await?;
        Ok(())
    }

    async fn dead_letter_event(
        &self,
        id: &MessageId,
        actor: &str,
        action: &str,
        expire: Option<&str>,
    ) -> Result<bool, StoreError> {
        let at = timestamp(self.clock.now());
        let id = id.to_string();
        let (mut tx, head) = self.begin_audited().await?;
        let moved = match expire {
            Some(reason) => {
                tx.execute(
                    "UPDATE messages SET status = 'expired', status_reason = $1,
                     updated_at = $2, next_attempt_at = NULL
                     WHERE id = $3 AND status = 'failed'",
                    &[reason.into(), (&at).into(), (&id).into()],
                )
                .await?
                    == 1
            }
            None => false,
        };
        let values = [Value::from(&at), actor.into(), action.into(), (&id).into()];
        let audited = tx
            .execute(
                "INSERT INTO audit (at, actor, action, message_id, kind, legal_basis, recipient)
             SELECT $1, $2, $3, id, kind, legal_basis, recipient
             FROM messages WHERE id = $4",
                &values,
            )
            .await?;
        if audited == 0 {
            // The message itself is gone (past the audit period): the event still is.
            tx.execute(
                "INSERT INTO audit (at, actor, action, message_id, kind, legal_basis, recipient)
                 VALUES ($1, $2, $3, $4, '', '', '')",
                &values,
            )
            .await?;
        }
        self.commit_audited(tx, head).await?;
        Ok(moved)
    }

    async fn claim_due(
        &self,
        limit: u32,
        lease_until: OffsetDateTime,
        take_over: bool,
    ) -> Result<Vec<Outgoing>, StoreError> {
        let sql = format!(
            "UPDATE messages SET next_attempt_at = $1, claimed_by = $2
             WHERE id IN (
                 SELECT id FROM messages
                 WHERE status = 'recorded' AND next_attempt_at IS NOT NULL
                   AND {})
             RETURNING {}",
            B::CLAIMABLE,
            rows::OUTGOING,
        );
        let (lease_until, now) = (timestamp(lease_until), timestamp(self.clock.now()));
        let values = [
            Value::from(&lease_until),
            Value::from(&self.instance),
            Value::from(&now),
            Value::from(take_over),
            Value::from(i64::from(limit)),
        ];
        let rows = self.db.fetch(Conn::Writer, &sql, &values).await?;
        rows.iter().map(rows::outgoing).collect()
    }

    async fn claim(
        &self,
        id: &MessageId,
        lease_until: OffsetDateTime,
    ) -> Result<Option<Outgoing>, StoreError> {
        let sql = format!(
            "UPDATE messages SET next_attempt_at = $1, claimed_by = $2
             WHERE id = $3 AND status = 'recorded' AND next_attempt_at IS NOT NULL
               AND next_attempt_at <= $4
             RETURNING {}",
            rows::OUTGOING,
        );
        let (lease_until, now, id) = (
            timestamp(lease_until),
            timestamp(self.clock.now()),
            id.to_string(),
        );
        let values = [
            Value::from(&lease_until),
            Value::from(&self.instance),
            Value::from(&id),
            Value::from(&now),
        ];
        let rows = self.db.fetch(Conn::Writer, &sql, &values).await?;
        rows.first().map(rows::outgoing).transpose()
    }

    async fn recorded_at(&self, id: &MessageId) -> Result<Option<OffsetDateTime>, StoreError> {
        let rows = self
            .db
            .fetch(
                Conn::Reader,
                "SELECT created_at FROM messages WHERE id = $1",
                &[(&id.to_string()).into()],
            )
            .await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let at = row.text("created_at")?;
        crate::record::parse_timestamp(&at)
            .map(Some)
            .ok_or_else(|| StoreError::Corrupt(format!("created_at {at:?}")))
    }

    async fn outbox_depth(&self) -> Result<i64, StoreError> {
        let rows = self
            .db
            .fetch(
                Conn::Reader,
                "SELECT count(*) AS depth FROM messages WHERE next_attempt_at IS NOT NULL",
                &[],
            )
            .await?;
        Ok(rows
            .first()
            .map(|r| r.int("depth"))
            .transpose()?
            .unwrap_or(0))
    }

    async fn accepted_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = self
            .db
            .fetch(
                Conn::Reader,
                "SELECT adapter, accepted FROM accepted_counts ORDER BY adapter",
                &[],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((r.text("adapter")?, r.int("accepted")?)))
            .collect()
    }

    async fn status(
        &self,
        client_id: &MessageId,
        sender: &AgencyId,
    ) -> Result<Option<StatusView>, StoreError> {
        let statement = rows::status(client_id, sender);
        let view = self.views(&statement).await?.pop();
        if view.as_ref().is_none_or(|v| v.status != Status::Recorded) {
            return Ok(view);
        }
        // Its mark may be waiting for a batch of this instance.
        self.batcher.settle().await?;
        Ok(self.views(&statement).await?.pop())
    }

    async fn past_due(
        &self,
        checks: &[DueCheck],
        sender: Option<&AgencyId>,
    ) -> Result<Vec<StatusView>, StoreError> {
        if checks.is_empty() {
            return Ok(Vec::new());
        }
        let sender = sender.map(|s| s.0.as_str());
        self.views(&rows::past_due(checks, sender)).await
    }

    async fn recent(&self, since: OffsetDateTime) -> Result<Vec<StatusView>, StoreError> {
        self.views(&rows::recent(since)).await
    }

    async fn open_messages(
        &self,
        sender: Option<&AgencyId>,
    ) -> Result<Vec<StatusView>, StoreError> {
        let sender = sender.map(|s| s.0.as_str());
        self.views(&rows::open_messages(sender)).await
    }
}
