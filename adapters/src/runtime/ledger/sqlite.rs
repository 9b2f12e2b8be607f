//! The ledger in SQLite, one file per host; every check-then-act is one statement, so two
//! tasks or processes never both win.

use super::statements::sql_ledger;
use sqlx::SqlitePool;
use sqlx::sqlite::SqlitePoolOptions;
use std::path::Path;
use std::time::Duration;

/// The ledger in SQLite.
#[derive(Debug, Clone)]
pub struct SqliteLedger {
    pool: SqlitePool,
    lease: Duration,
}

/// The ledger's table, as of `user_version` 2 (0: without claims; 1: without `unknown`,
/// the count of attempts whose outcome is unknown).
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS ledger (
    message_id   TEXT PRIMARY KEY,
    state        TEXT NOT NULL CHECK (state IN ('delivering', 'delivered', 'withdrawn')),
    recipient    TEXT,
    at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    lease_until  TEXT,
    unknown      INTEGER NOT NULL DEFAULT 0
)";

impl SqliteLedger {
    /// Opens (creating, or bringing an older ledger up to date, if needed) the ledger at
    /// `path`, whose claims hold for `lease`.
    pub async fn open(path: &Path, lease: Duration) -> Result<Self, sqlx::Error> {
        let options = contract::sqlite::options(path)?;
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
        sqlx::query(SCHEMA).execute(&mut *tx).await?;
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
        sqlx::query("PRAGMA user_version = 2")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Self { pool, lease })
    }
}

sql_ledger!(
    SqliteLedger,
    now: "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
    later: "strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+' || $2 || ' seconds')"
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::ledger::{Claim, Entry, Ledger};
    use contract::message::MessageId;

    /// A message id named by `name` (the ledger keys by gateway ids).
    fn id(name: &str) -> MessageId {
        MessageId(uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_OID,
            name.as_bytes(),
        ))
    }

    /// The ledger's table before claims (`user_version` 0) and before `unknown` (1).
    const OLD_SCHEMAS: [(i64, &str); 2] = [
        (
            0,
            "CREATE TABLE ledger (message_id TEXT PRIMARY KEY, state TEXT NOT NULL
             CHECK (state IN ('delivered', 'withdrawn')), recipient TEXT,
             at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))",
        ),
        (
            1,
            "CREATE TABLE ledger (message_id TEXT PRIMARY KEY, state TEXT NOT NULL
             CHECK (state IN ('delivering', 'delivered', 'withdrawn')), recipient TEXT,
             at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
             lease_until TEXT)",
        ),
    ];

    #[tokio::test]
    async fn an_older_ledger_is_brought_up_to_date() {
        for (version, schema) in OLD_SCHEMAS {
            let path = std::env::temp_dir()
                .join(format!("ledger-{}", uuid::Uuid::new_v4()))
                .join("ledger.sqlite");
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true);
            let old = SqlitePool::connect_with(options).await.unwrap();
            for statement in [
                schema.to_owned(),
                format!("PRAGMA user_version = {version}"),
                format!(
                    "INSERT INTO ledger (message_id, state, recipient) VALUES ('{}', 'delivered', 'bv')",
                    id("m")
                ),
            ] {
                sqlx::query(&statement).execute(&old).await.unwrap();
            }
            old.close().await;
            let ledger = SqliteLedger::open(&path, Duration::from_secs(60))
                .await
                .unwrap();
            assert_eq!(
                ledger.entry(&id("m")).await.unwrap(),
                Entry::Delivered {
                    recipient: "bv".into()
                },
                "from version {version}"
            );
            assert_eq!(ledger.claim(&id("n")).await.unwrap(), Claim::Won);
            ledger.unknown(&id("n")).await.unwrap();
            assert_eq!(
                ledger.claim(&id("n")).await.unwrap(),
                Claim::WonAfterUnknown
            );
        }
    }
}
