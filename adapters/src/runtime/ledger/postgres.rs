//! The ledger in PostgreSQL, shared by every adapter process that delivers from the same
//! queues (on several hosts); every check-then-act is one statement, so two processes never
//! both win.

use super::{Claim, Entry, Ledger};
use async_trait::async_trait;
use contract::message::MessageId;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

/// The ledger in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PgLedger {
    pool: PgPool,
    lease: Duration,
}

/// The ledger's table (the same columns as the SQLite ledger's, with times as timestamps).
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS ledger (
    message_id   TEXT PRIMARY KEY,
    state        TEXT NOT NULL CHECK (state IN ('delivering', 'delivered', 'withdrawn')),
    recipient    TEXT,
    at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_until  TIMESTAMPTZ,
    unknown      INTEGER NOT NULL DEFAULT 0
)";

impl PgLedger {
    /// Connects to the ledger at `url` (`postgres://…`; a `options[search_path]=<schema>`
    /// parameter picks a schema), creating its table if needed, whose claims hold for
    /// `lease`.
    pub async fn open(url: &str, lease: Duration) -> Result<Self, sqlx::Error> {
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        // Processes starting at once create the table one after another.
        let mut tx = pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('referral-adapters-ledger'))")
            .execute(&mut *tx)
            .await?;
        sqlx::query(SCHEMA).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Self { pool, lease })
    }
}

#[async_trait]
impl Ledger for PgLedger {
    /// How long a claim holds.
    fn lease(&self) -> Duration {
        self.lease
    }

    /// What the ledger knows of `message_id`.
    async fn entry(&self, message_id: &MessageId) -> Result<Entry, sqlx::Error> {
        let row: Option<(String, Option<String>, Option<bool>)> = sqlx::query_as(
            "SELECT state, recipient, lease_until > now() FROM ledger WHERE message_id = $1",
        )
        .bind(message_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(Entry::of_row(row))
    }

    /// Claims the delivery of `message_id` for the lease: an insert if absent, or a take-over
    /// of a claim whose lease ran out (its holder died, or left the outcome unknown), in one
    /// statement.
    async fn claim(&self, message_id: &MessageId) -> Result<Claim, sqlx::Error> {
        let won: Option<i32> = sqlx::query_scalar(
            "INSERT INTO ledger (message_id, state, lease_until)
             VALUES ($1, 'delivering', now() + make_interval(secs => $2))
             ON CONFLICT (message_id) DO UPDATE SET lease_until = excluded.lease_until,
                 unknown = ledger.unknown + 1
                 WHERE ledger.state = 'delivering' AND ledger.lease_until <= now()
             RETURNING unknown",
        )
        .bind(message_id.to_string())
        .bind(self.lease.as_secs_f64())
        .fetch_optional(&self.pool)
        .await?;
        Ok(match won {
            Some(0) => Claim::Won,
            Some(_) => Claim::WonAfterUnknown,
            None => Claim::Lost(self.entry(message_id).await?),
        })
    }

    /// Ends a claim after an attempt whose outcome is unknown: the next copy may claim it at
    /// once, knowing that the agency may have it.
    async fn unknown(&self, message_id: &MessageId) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE ledger SET lease_until = now()
             WHERE message_id = $1 AND state = 'delivering'",
        )
        .bind(message_id.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Notes a delivery (to `recipient`: the agency that took it).
    async fn delivered(&self, message_id: &MessageId, recipient: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO ledger (message_id, state, recipient) VALUES ($1, 'delivered', $2)
             ON CONFLICT (message_id) DO UPDATE SET state = 'delivered',
                 recipient = excluded.recipient, lease_until = NULL
                 WHERE ledger.state = 'delivering'",
        )
        .bind(message_id.to_string())
        .bind(recipient)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Gives up a claim after an attempt that did not deliver, so that the next copy may
    /// claim it at once.
    async fn release(&self, message_id: &MessageId) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM ledger WHERE message_id = $1 AND state = 'delivering'")
            .bind(message_id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Notes that `message_id` must never be delivered, unless it was delivered already or
    /// is being delivered; returns what the ledger knew before.
    async fn withdraw(&self, message_id: &MessageId) -> Result<Entry, sqlx::Error> {
        let stopped = sqlx::query(
            "INSERT INTO ledger (message_id, state) VALUES ($1, 'withdrawn')
             ON CONFLICT (message_id) DO UPDATE SET state = 'withdrawn', lease_until = NULL
                 WHERE ledger.state = 'delivering' AND ledger.lease_until <= now()
             RETURNING message_id",
        )
        .bind(message_id.to_string())
        .fetch_optional(&self.pool)
        .await?
        .is_some();
        match stopped {
            true => Ok(Entry::Unknown),
            false => self.entry(message_id).await,
        }
    }
}
