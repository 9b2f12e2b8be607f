//! The ledger on a SQL database: [`SqlLedger`] implements [`Ledger`] once, with statements
//! written once; a [`Backend`] runs them and says how its database writes "now" and "now
//! plus `$2` seconds" (the only thing in which the two differ).

use super::{Claim, Entry, Ledger, Stopped};
use async_trait::async_trait;
use contract::message::MessageId;
use contract::plumbing::sql::{Columns, Value};
use std::time::Duration;

/// A SQL database holding the ledger's table.
#[async_trait]
pub trait Backend: Send + Sync + std::fmt::Debug {
    /// A row it answers.
    type Row: Columns + Send;
    /// The current time, in its SQL.
    const NOW: &'static str;
    /// The time `$2` seconds from now, in its SQL.
    const LATER: &'static str;

    /// The rows `sql` with `values` answers.
    async fn fetch(&self, sql: &str, values: &[Value<'_>]) -> Result<Vec<Self::Row>, sqlx::Error>;

    /// How many rows `sql` with `values` changed.
    async fn execute(&self, sql: &str, values: &[Value<'_>]) -> Result<u64, sqlx::Error>;
}

/// The ledger on the SQL backend `B`, whose claims hold for a lease.
#[derive(Debug, Clone)]
pub struct SqlLedger<B> {
    db: B,
    lease: Duration,
}

impl<B: Backend> SqlLedger<B> {
    /// The ledger on `db` (its table created), whose claims hold for `lease`.
    pub fn new(db: B, lease: Duration) -> Self {
        Self { db, lease }
    }

    /// The lease in seconds, for `$2`.
    fn lease_secs(&self) -> Value<'static> {
        Value::Int(i64::try_from(self.lease.as_secs()).unwrap_or(i64::MAX))
    }
}

/// The entry of a row with `state`, `recipient` and `running`.
fn entry_of(row: &impl Columns) -> Result<Entry, sqlx::Error> {
    Ok(Entry::of_row(
        &row.text("state")?,
        row.maybe_text("recipient")?,
        row.maybe_flag("running")?,
    ))
}

#[async_trait]
impl<B: Backend> Ledger for SqlLedger<B> {
    fn lease(&self) -> Duration {
        self.lease
    }

    async fn entry(&self, message_id: &MessageId) -> Result<Entry, sqlx::Error> {
        let sql = format!(
            "SELECT state, recipient, lease_until > {} AS running
             FROM ledger WHERE message_id = $1",
            B::NOW
        );
        let id = message_id.to_string();
        let rows = self.db.fetch(&sql, &[(&id).into()]).await?;
        let Some(row) = rows.first() else {
            return Ok(Entry::Free);
        };
        entry_of(row)
    }

    /// An insert if absent, or a take-over of a claim whose lease ran out, in one statement.
    async fn claim(&self, message_id: &MessageId) -> Result<Claim, sqlx::Error> {
        let sql = format!(
            "INSERT INTO ledger (message_id, state, lease_until)
             VALUES ($1, 'delivering', {later})
             ON CONFLICT (message_id) DO UPDATE SET lease_until = excluded.lease_until,
                 unknown = ledger.unknown + 1
                 WHERE ledger.state = 'delivering' AND ledger.lease_until <= {now}
             RETURNING CAST(unknown AS BIGINT) AS unknown",
            later = B::LATER,
            now = B::NOW,
        );
        let id = message_id.to_string();
        let rows = self
            .db
            .fetch(&sql, &[(&id).into(), self.lease_secs()])
            .await?;
        let won = rows.first().map(|r| r.int("unknown")).transpose()?;
        Ok(match won {
            Some(0) => Claim::Won,
            Some(_) => Claim::WonAfterUnknown,
            None => Claim::Lost(self.entry(message_id).await?),
        })
    }

    async fn renew(&self, message_id: &MessageId) -> Result<bool, sqlx::Error> {
        let sql = format!(
            "UPDATE ledger SET lease_until = {later}
             WHERE message_id = $1 AND state = 'delivering' AND lease_until > {now}",
            later = B::LATER,
            now = B::NOW,
        );
        let id = message_id.to_string();
        Ok(self
            .db
            .execute(&sql, &[(&id).into(), self.lease_secs()])
            .await?
            > 0)
    }

    async fn unknown(&self, message_id: &MessageId) -> Result<(), sqlx::Error> {
        let sql = format!(
            "UPDATE ledger SET lease_until = {}
             WHERE message_id = $1 AND state = 'delivering'",
            B::NOW
        );
        let id = message_id.to_string();
        self.db.execute(&sql, &[(&id).into()]).await?;
        Ok(())
    }

    async fn delivered(
        &self,
        message_id: &MessageId,
        recipient: &str,
        remote_id: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        let id = message_id.to_string();
        self.db
            .execute(
                "INSERT INTO ledger (message_id, state, recipient, remote_id)
                 VALUES ($1, 'delivered', $2, $3)
                 ON CONFLICT (message_id) DO UPDATE SET state = 'delivered',
                     recipient = excluded.recipient, remote_id = excluded.remote_id,
                     lease_until = NULL
                     WHERE ledger.state = 'delivering'",
                &[Value::from(&id), Value::from(recipient), remote_id.into()],
            )
            .await?;
        Ok(())
    }

    async fn by_remote_id(
        &self,
        remote_id: &str,
    ) -> Result<Option<(MessageId, Entry)>, sqlx::Error> {
        let sql = format!(
            "SELECT message_id, state, recipient, lease_until > {} AS running
             FROM ledger WHERE remote_id = $1",
            B::NOW
        );
        let rows = self.db.fetch(&sql, &[remote_id.into()]).await?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let Ok(message_id) = row.text("message_id")?.parse() else {
            return Ok(None);
        };
        Ok(Some((message_id, entry_of(row)?)))
    }

    async fn release(&self, message_id: &MessageId) -> Result<(), sqlx::Error> {
        let id = message_id.to_string();
        self.db
            .execute(
                "DELETE FROM ledger WHERE message_id = $1 AND state = 'delivering'",
                &[(&id).into()],
            )
            .await?;
        Ok(())
    }

    /// Each change is one statement: a claim that ran out is stopped (and marked, by
    /// `unknown`, as one the agency may have, which a later withdrawal finds again), or else
    /// an absent message is; a claim taken in between is found as being delivered.
    async fn withdraw(&self, message_id: &MessageId) -> Result<Stopped, sqlx::Error> {
        let ran_out = format!(
            "UPDATE ledger SET state = 'withdrawn', lease_until = NULL, unknown = unknown + 1
             WHERE message_id = $1 AND ((state = 'delivering' AND lease_until <= {})
                 OR (state = 'withdrawn' AND unknown > 0))",
            B::NOW
        );
        let id = message_id.to_string();
        let id = [Value::from(&id)];
        if self.db.execute(&ran_out, &id).await? > 0 {
            return Ok(Stopped::AfterUnknown);
        }
        let absent = "INSERT INTO ledger (message_id, state) VALUES ($1, 'withdrawn')
                      ON CONFLICT (message_id) DO NOTHING";
        if self.db.execute(absent, &id).await? > 0 {
            return Ok(Stopped::Before);
        }
        Ok(Stopped::Not(self.entry(message_id).await?))
    }
}
