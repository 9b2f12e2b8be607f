//! The ledger in PostgreSQL, shared by every adapter process that delivers from the same
//! queues (on several hosts); every check-then-act is one statement, so two processes never
//! both win.

use super::sql::{Backend, SqlLedger};
use async_trait::async_trait;
use contract::plumbing::sql::{self as sql, Value};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use sqlx::postgres::PgRow;
use std::time::Duration;

/// The ledger in PostgreSQL.
pub type PgLedger = SqlLedger<PgBackend>;

/// A PostgreSQL database holding the ledger.
#[derive(Debug, Clone)]
pub struct PgBackend {
    pool: PgPool,
}

/// The ledger's table (the same columns as the SQLite ledger's, with times as timestamps).
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS ledger (
    message_id   TEXT PRIMARY KEY,
    state        TEXT NOT NULL CHECK (state IN ('delivering', 'delivered', 'withdrawn')),
    recipient    TEXT,
    at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    lease_until  TIMESTAMPTZ,
    unknown      INTEGER NOT NULL DEFAULT 0,
    remote_id    TEXT UNIQUE
)";

/// What a ledger of an earlier version lacks.
const UPGRADE: &str = "ALTER TABLE ledger ADD COLUMN IF NOT EXISTS remote_id TEXT UNIQUE";

impl SqlLedger<PgBackend> {
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
        sqlx::query(UPGRADE).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(Self::new(PgBackend { pool }, lease))
    }
}

#[async_trait]
impl Backend for PgBackend {
    type Row = PgRow;
    const NOW: &'static str = "now()";
    const LATER: &'static str = "now() + make_interval(secs => $2)";

    async fn fetch(&self, sql: &str, values: &[Value<'_>]) -> Result<Vec<PgRow>, sqlx::Error> {
        sql::fetch_all(&self.pool, sql, values).await
    }

    async fn execute(&self, sql: &str, values: &[Value<'_>]) -> Result<u64, sqlx::Error> {
        sql::execute(&self.pool, sql, values).await
    }
}
