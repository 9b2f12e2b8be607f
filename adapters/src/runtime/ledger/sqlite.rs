//! The ledger in SQLite, one file per host; every check-then-act is one statement, so two
//! tasks or processes never both win. The statements of concurrent deliveries share their
//! commits ([`Group`]).

use super::group::Group;
use super::sql::{Backend, SqlLedger};
use async_trait::async_trait;
use contract::plumbing::sql::Value;
use sqlx::sqlite::SqlitePoolOptions;
use sqlx::sqlite::SqliteRow;
use std::path::Path;
use std::time::Duration;

/// The ledger in SQLite.
pub type SqliteLedger = SqlLedger<SqliteBackend>;

/// A SQLite database holding the ledger, written through one group-commit writer.
#[derive(Debug, Clone)]
pub struct SqliteBackend {
    group: Group,
}

/// The ledger's table, as of `user_version` 3 (0: without claims; 1: without `unknown`,
/// the count of attempts whose outcome is unknown; 2: without `remote_id`, the id the
/// agency's transport gave the message).
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS ledger (
    message_id   TEXT PRIMARY KEY,
    state        TEXT NOT NULL CHECK (state IN ('delivering', 'delivered', 'withdrawn')),
    recipient    TEXT,
    at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    lease_until  TEXT,
    unknown      INTEGER NOT NULL DEFAULT 0,
    remote_id    TEXT UNIQUE
)";

/// Transports' ids are unique (SQLite cannot add a `UNIQUE` column to a table).
const REMOTE_INDEX: &str =
    "CREATE UNIQUE INDEX IF NOT EXISTS ledger_remote_id ON ledger (remote_id)";

impl SqlLedger<SqliteBackend> {
    /// Opens (creating, or bringing an older ledger up to date, if needed) the ledger at
    /// `path`, whose claims hold for `lease`.
    pub async fn open(path: &Path, lease: Duration) -> Result<Self, sqlx::Error> {
        let options = contract::plumbing::sqlite::options(path)?;
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        let mut tx = pool.begin().await?;
        let version: i64 = sqlx::query_scalar("PRAGMA user_version")
            .fetch_one(&mut *tx)
            .await?;
        let old: bool = sqlx::query_scalar(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'ledger'",
        )
        .fetch_one(&mut *tx)
        .await?;
        if version == 0 && old {
            sqlx::query("ALTER TABLE ledger RENAME TO ledger_v0")
                .execute(&mut *tx)
                .await?;
        }
        if version == 1 {
            sqlx::query("ALTER TABLE ledger ADD COLUMN unknown INTEGER NOT NULL DEFAULT 0")
                .execute(&mut *tx)
                .await?;
        }
        if version == 1 || version == 2 {
            sqlx::query("ALTER TABLE ledger ADD COLUMN remote_id TEXT")
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(SCHEMA).execute(&mut *tx).await?;
        sqlx::query(REMOTE_INDEX).execute(&mut *tx).await?;
        if version == 0 && old {
            sqlx::query(
                "INSERT INTO ledger (message_id, state, recipient, at)
                 SELECT message_id, state, recipient, at FROM ledger_v0",
            )
            .execute(&mut *tx)
            .await?;
            sqlx::query("DROP TABLE ledger_v0")
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("PRAGMA user_version = 3")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let group = Group::start(pool);
        Ok(Self::new(SqliteBackend { group }, lease))
    }
}

#[async_trait]
impl Backend for SqliteBackend {
    type Row = SqliteRow;
    const NOW: &'static str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";
    const LATER: &'static str = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+' || $2 || ' seconds')";

    async fn fetch(&self, sql: &str, values: &[Value<'_>]) -> Result<Vec<SqliteRow>, sqlx::Error> {
        self.group.rows(sql, values).await
    }

    async fn execute(&self, sql: &str, values: &[Value<'_>]) -> Result<u64, sqlx::Error> {
        self.group.count(sql, values).await
    }
}
