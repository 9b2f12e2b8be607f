//! The ledger in SQLite, one file per host; every check-then-act is one statement, so two
//! tasks or processes never both win.

use super::{Claim, Entry, Ledger};
use async_trait::async_trait;
use contract::message::MessageId;
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

#[async_trait]
impl Ledger for SqliteLedger {
    /// How long a claim holds.
    fn lease(&self) -> Duration {
        self.lease
    }

    /// What the ledger knows of `message_id`.
    async fn entry(&self, message_id: &MessageId) -> Result<Entry, sqlx::Error> {
        let row: Option<(String, Option<String>, Option<bool>)> = sqlx::query_as(
            "SELECT state, recipient, lease_until > strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             FROM ledger WHERE message_id = ?",
        )
        .bind(message_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(Entry::of_row(row))
    }

    /// Claims the delivery of `message_id` for the lease: an insert if absent, or a take-over
    /// of a claim whose lease ran out (its holder died, or left the outcome unknown), in one
    /// statement.
    async fn claim(&self, message_id: &MessageId) -> Result<Claim, sqlx::Error> {
        let won: Option<i64> = sqlx::query_scalar(
            "INSERT INTO ledger (message_id, state, lease_until)
             VALUES (?1, 'delivering', strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?2))
             ON CONFLICT (message_id) DO UPDATE SET lease_until = excluded.lease_until,
                 unknown = ledger.unknown + 1
                 WHERE ledger.state = 'delivering'
                   AND ledger.lease_until <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             RETURNING unknown",
        )
        .bind(message_id)
        .bind(format!("+{} seconds", self.lease.as_secs()))
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
            "UPDATE ledger SET lease_until = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             WHERE message_id = ? AND state = 'delivering'",
        )
        .bind(message_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Notes a delivery (to `recipient`: the agency that took it).
    async fn delivered(&self, message_id: &MessageId, recipient: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO ledger (message_id, state, recipient) VALUES (?, 'delivered', ?)
             ON CONFLICT (message_id) DO UPDATE SET state = 'delivered',
                 recipient = excluded.recipient, lease_until = NULL
                 WHERE ledger.state = 'delivering'",
        )
        .bind(message_id)
        .bind(recipient)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Gives up a claim after an attempt that did not deliver, so that the next copy may
    /// claim it at once.
    async fn release(&self, message_id: &MessageId) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM ledger WHERE message_id = ? AND state = 'delivering'")
            .bind(message_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Notes that `message_id` must never be delivered, unless it was delivered already or
    /// is being delivered; returns what the ledger knew before.
    async fn withdraw(&self, message_id: &MessageId) -> Result<Entry, sqlx::Error> {
        let stopped = sqlx::query(
            "INSERT INTO ledger (message_id, state) VALUES (?, 'withdrawn')
             ON CONFLICT (message_id) DO UPDATE SET state = 'withdrawn', lease_until = NULL
                 WHERE ledger.state = 'delivering'
                   AND ledger.lease_until <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             RETURNING message_id",
        )
        .bind(message_id)
        .fetch_optional(&self.pool)
        .await?
        .is_some();
        match stopped {
            true => Ok(Entry::Unknown),
            false => self.entry(message_id).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
