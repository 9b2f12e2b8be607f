//! The store in PostgreSQL, shared by several gateway instances: `synchronous_commit = on`
//! (a commit is on disk before the 202), the hot writes batched by one writer task per
//! instance ([`super::batch`]: group commit), triggers writing the status history and the
//! audit trail in the same transaction as the change they record. Publish claims are taken
//! with `FOR UPDATE SKIP LOCKED`: two instances never claim the same message, and a dead
//! instance's claims are taken over once their lease has run out.

mod audit;
mod consents;
mod payloads;

use super::batch::{Batcher, Transact, Value, Write};
use super::rows::{self, CLAIM, OUTGOING, Statement, outgoing, views};
use super::{
    DueCheck, Messages, NewMessage, Outgoing, Recorded, Status, StatusView, StoreError, timestamp,
};
use async_trait::async_trait;
use contract::clock::Clock;
use contract::directory::AgencyId;
use contract::message::MessageId;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Row, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;

/// The gateway's database in PostgreSQL.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// This gateway instance, as the holder of the publish claims it takes.
    instance: String,
    /// The gateway's one clock: every time the store writes is its.
    clock: Arc<Clock>,
    /// The writer task of the hot writes (group commit).
    batcher: Batcher,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://…`; `options[search_path]=<schema>`
    /// picks a schema), migrating it if needed, writing times by `clock`.
    pub async fn open(url: &str, clock: Arc<Clock>) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(|source| StoreError::Open {
            at: "(an unreadable PostgreSQL URL)".into(),
            source,
        })?;
        // Where, without the password, for error texts.
        let at = format!(
            "postgres://{}:{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or_default()
        );
        let open_error = |source| StoreError::Open { at, source };
        // A commit is on disk when it returns: a 202 means the message is recorded.
        let options = options.options([("synchronous_commit", "on")]);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(open_error)?;
        // Instances starting at once migrate one after another (the migrator's lock).
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let instance = uuid::Uuid::new_v4().to_string();
        Ok(Self {
            batcher: Batcher::spawn(Writes(pool.clone()), instance.clone(), clock.clone()),
            pool,
            instance,
            clock,
        })
    }

    /// The views a statement of [`rows`] finds.
    async fn views(&self, statement: &Statement) -> Result<Vec<StatusView>, StoreError> {
        let values: Vec<Value> = statement
            .values
            .iter()
            .map(|v| Value::Text(v.as_deref()))
            .collect();
        views(bound(&statement.sql, &values).fetch_all(&self.pool).await?)
    }
}

/// Takes the audit numbering (`audit_seq`) for the rest of the transaction `tx`: every
/// transaction that writes audit entries and other rows takes it first, so that none waits
/// for a row another holds while that one waits for the numbering.
async fn number_audit(tx: &mut Transaction<'static, Postgres>) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT last FROM audit_seq FOR UPDATE")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The batches' transactions.
struct Writes(PgPool);

#[async_trait]
impl Transact for Writes {
    type Tx = Transaction<'static, Postgres>;

    async fn begin(&self) -> Result<Self::Tx, sqlx::Error> {
        let mut tx = self.0.begin().await?;
        number_audit(&mut tx).await?;
        Ok(tx)
    }

    async fn commit(&self, tx: Self::Tx) -> Result<(), sqlx::Error> {
        tx.commit().await
    }

    async fn execute(
        &self,
        tx: &mut Self::Tx,
        sql: &str,
        values: &[Value<'_>],
    ) -> Result<u64, sqlx::Error> {
        Ok(bound(sql, values).execute(&mut **tx).await?.rows_affected())
    }

    async fn texts(
        &self,
        tx: &mut Self::Tx,
        sql: &str,
        values: &[Value<'_>],
    ) -> Result<Vec<String>, sqlx::Error> {
        let row = bound(sql, values).fetch_one(&mut **tx).await?;
        (0..row.len()).map(|i| row.try_get(i)).collect()
    }
}

/// `sql` with `values` bound to its parameters.
fn bound<'q>(
    sql: &'q str,
    values: &[Value<'q>],
) -> sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments> {
    values
        .iter()
        .fold(sqlx::query(sql), |query, value| match *value {
            Value::Text(text) => query.bind(text),
            Value::Bytes(bytes) => query.bind(bytes),
        })
}

#[async_trait]
impl Messages for PgStore {
    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Other instances share this store: none takes over another's claims before their
    /// lease runs out.
    fn shared(&self) -> bool {
        true
    }

    /// Records a new message (committed with the batch it joins).
    async fn record(
        &self,
        msg: &NewMessage,
        hold_until: OffsetDateTime,
    ) -> Result<Recorded, StoreError> {
        let msg = Box::new(msg.clone());
        self.batcher
            .submit(|reply| Write::Record {
                msg,
                hold_until,
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

    /// Counts a failed attempt and puts the next one off until `until`.
    async fn defer(&self, id: &MessageId, until: OffsetDateTime) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE messages SET attempts = attempts + 1, next_attempt_at = $1
             WHERE id = $2 AND next_attempt_at IS NOT NULL",
        )
        .bind(timestamp(until))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Claims the publish of up to `limit` unconfirmed messages whose claim has run out,
    /// oldest first, until `lease_until`, skipping those another instance is claiming at
    /// this moment. `take_over` has no effect: the other instances sharing this store hold
    /// their claims until their lease runs out ([`Messages::shared`]).
    async fn claim_due(
        &self,
        limit: u32,
        lease_until: OffsetDateTime,
        _take_over: bool,
    ) -> Result<Vec<Outgoing>, StoreError> {
        let sql = format!(
            "UPDATE messages SET next_attempt_at = $1, claimed_by = $2
             WHERE id IN (
                 SELECT id FROM messages
                 WHERE status = 'recorded' AND next_attempt_at IS NOT NULL
                   AND next_attempt_at <= $3
                 ORDER BY next_attempt_at LIMIT $4
                 FOR UPDATE SKIP LOCKED)
             RETURNING {OUTGOING}"
        );
        let rows = sqlx::query(&sql)
            .bind(timestamp(lease_until))
            .bind(&self.instance)
            .bind(timestamp(self.clock.now()))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(outgoing).collect()
    }

    /// Claims the publish of the unconfirmed message `id` until `lease_until`, if nobody
    /// holds it; the message to publish, if this claim won.
    async fn claim(
        &self,
        id: &MessageId,
        lease_until: OffsetDateTime,
    ) -> Result<Option<Outgoing>, StoreError> {
        let row = sqlx::query(CLAIM)
            .bind(timestamp(lease_until))
            .bind(&self.instance)
            .bind(id)
            .bind(timestamp(self.clock.now()))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(outgoing).transpose()
    }

    /// Messages accepted (reached `queued`, by whoever), per adapter name.
    async fn accepted_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT adapter, accepted FROM accepted_counts ORDER BY adapter")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// The status of the message `sender` sent under its id `client_id`.
    async fn status(
        &self,
        client_id: &MessageId,
        sender: &AgencyId,
    ) -> Result<Option<StatusView>, StoreError> {
        Ok(self.views(&rows::status(client_id, &sender.0)).await?.pop())
    }

    /// Every message (of `sender`, if given) that one of `checks` finds, oldest first.
    async fn past_due(
        &self,
        checks: &[DueCheck],
        sender: Option<&AgencyId>,
    ) -> Result<Vec<StatusView>, StoreError> {
        if checks.is_empty() {
            return Ok(Vec::new());
        }
        self.views(&rows::past_due(checks, sender.map(|s| s.0.as_str())))
            .await
    }

    /// Every message not yet in a final status (of `sender`, if given), oldest first.
    async fn open_messages(
        &self,
        sender: Option<&AgencyId>,
    ) -> Result<Vec<StatusView>, StoreError> {
        self.views(&rows::open_messages(sender.map(|s| s.0.as_str())))
            .await
    }
}
