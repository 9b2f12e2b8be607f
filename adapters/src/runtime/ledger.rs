//! The adapter's ledger: which messages it is delivering (a claim with a lease: only the
//! copy that wins it is delivered), has delivered (so a redelivery never reaches an agency
//! twice) and must not deliver (their consent was withdrawn). SQLite, one file per host;
//! every check-then-act is one statement, so two tasks or processes never both win.

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use std::path::Path;
use std::time::Duration;

/// What the ledger knows of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Nothing: deliver it.
    Unknown,
    /// Another copy is being delivered (its claim's lease has not run out).
    Delivering,
    /// Delivered before, to this recipient.
    Delivered { recipient: String },
    /// Its consent was withdrawn before delivery: never deliver it.
    Withdrawn,
}

/// The outcome of claiming a message's delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This copy may deliver it (no one had, or a claim ran out: its holder died).
    Won,
    /// Someone else holds or held it: what the ledger knows.
    Lost(Entry),
}

/// The ledger.
#[derive(Debug, Clone)]
pub struct Ledger {
    pool: SqlitePool,
}

/// The ledger's table, as of `user_version` 1 (0: without claims).
const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS ledger (
    message_id   TEXT PRIMARY KEY,
    state        TEXT NOT NULL CHECK (state IN ('delivering', 'delivered', 'withdrawn')),
    recipient    TEXT,
    at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    lease_until  TEXT
)";

impl Ledger {
    /// Opens (creating, or bringing a ledger without claims up to date, if needed) the ledger
    /// at `path`.
    pub async fn open(path: &Path) -> Result<Self, sqlx::Error> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10));
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
        sqlx::query("PRAGMA user_version = 1")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Self { pool })
    }

    /// What the ledger knows of `message_id`.
    pub async fn entry(&self, message_id: &str) -> Result<Entry, sqlx::Error> {
        let row: Option<(String, Option<String>, bool)> = sqlx::query_as(
            "SELECT state, recipient, lease_until > strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             FROM ledger WHERE message_id = ?",
        )
        .bind(message_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(match row {
            None => Entry::Unknown,
            Some((state, _, live)) if state == "delivering" => match live {
                true => Entry::Delivering,
                false => Entry::Unknown,
            },
            Some((state, recipient, _)) if state == "delivered" => Entry::Delivered {
                recipient: recipient.unwrap_or_default(),
            },
            Some(_) => Entry::Withdrawn,
        })
    }

    /// Claims the delivery of `message_id` for `lease`: an insert if absent, or a take-over
    /// of a claim whose lease ran out, in one statement.
    pub async fn claim(&self, message_id: &str, lease: Duration) -> Result<Claim, sqlx::Error> {
        let won = sqlx::query(
            "INSERT INTO ledger (message_id, state, lease_until)
             VALUES (?1, 'delivering', strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?2))
             ON CONFLICT (message_id) DO UPDATE SET lease_until = excluded.lease_until
                 WHERE ledger.state = 'delivering'
                   AND ledger.lease_until <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
             RETURNING message_id",
        )
        .bind(message_id)
        .bind(format!("+{} seconds", lease.as_secs()))
        .fetch_optional(&self.pool)
        .await?
        .is_some();
        Ok(match won {
            true => Claim::Won,
            false => Claim::Lost(self.entry(message_id).await?),
        })
    }

    /// Notes a delivery (to `recipient`: the agency that took it).
    pub async fn delivered(&self, message_id: &str, recipient: &str) -> Result<(), sqlx::Error> {
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
    pub async fn release(&self, message_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM ledger WHERE message_id = ? AND state = 'delivering'")
            .bind(message_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Notes that `message_id` must never be delivered, unless it was delivered already or
    /// is being delivered; returns what the ledger knew before.
    pub async fn withdraw(&self, message_id: &str) -> Result<Entry, sqlx::Error> {
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

    fn path() -> std::path::PathBuf {
        std::env::temp_dir()
            .join(format!("ledger-{}", uuid::Uuid::new_v4()))
            .join("ledger.sqlite")
    }

    #[tokio::test]
    async fn two_processes_racing_for_a_delivery_never_both_win() {
        let path = path();
        let (a, b) = (
            Ledger::open(&path).await.unwrap(),
            Ledger::open(&path).await.unwrap(),
        );
        let lease = Duration::from_secs(60);
        for i in 0..50 {
            let id = format!("m-{i}");
            let (x, y) = tokio::join!(a.claim(&id, lease), b.claim(&id, lease));
            let won = [x.unwrap(), y.unwrap()]
                .iter()
                .filter(|c| **c == Claim::Won)
                .count();
            assert_eq!(won, 1, "round {i}");
        }
        // The loser sees the delivery in progress, then its outcome.
        assert_eq!(
            a.claim("m-0", lease).await.unwrap(),
            Claim::Lost(Entry::Delivering)
        );
        a.delivered("m-0", "bv").await.unwrap();
        assert_eq!(
            b.claim("m-0", lease).await.unwrap(),
            Claim::Lost(Entry::Delivered {
                recipient: "bv".into()
            })
        );
        // A failed attempt releases its claim; a claim whose holder died runs out.
        a.release("m-1").await.unwrap();
        assert_eq!(b.claim("m-1", lease).await.unwrap(), Claim::Won);
        assert_eq!(a.claim("dead", Duration::ZERO).await.unwrap(), Claim::Won);
        assert_eq!(b.claim("dead", lease).await.unwrap(), Claim::Won);
    }

    #[tokio::test]
    async fn withdrawal_stops_what_is_not_delivered_and_waits_for_what_is_in_flight() {
        let ledger = Ledger::open(&path()).await.unwrap();
        assert_eq!(ledger.withdraw("new").await.unwrap(), Entry::Unknown);
        assert_eq!(
            ledger.claim("new", Duration::from_secs(60)).await.unwrap(),
            Claim::Lost(Entry::Withdrawn)
        );
        ledger
            .claim("flying", Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(ledger.withdraw("flying").await.unwrap(), Entry::Delivering);
        ledger.delivered("flying", "bv").await.unwrap();
        assert_eq!(
            ledger.withdraw("flying").await.unwrap(),
            Entry::Delivered {
                recipient: "bv".into()
            }
        );
    }

    #[tokio::test]
    async fn a_ledger_without_claims_is_brought_up_to_date() {
        let path = path();
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let old = SqlitePool::connect_with(options).await.unwrap();
        sqlx::query(
            "CREATE TABLE ledger (message_id TEXT PRIMARY KEY, state TEXT NOT NULL
             CHECK (state IN ('delivered', 'withdrawn')), recipient TEXT,
             at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))",
        )
        .execute(&old)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO ledger (message_id, state, recipient) VALUES ('m', 'delivered', 'bv')",
        )
        .execute(&old)
        .await
        .unwrap();
        old.close().await;
        let ledger = Ledger::open(&path).await.unwrap();
        assert_eq!(
            ledger.entry("m").await.unwrap(),
            Entry::Delivered {
                recipient: "bv".into()
            }
        );
        assert_eq!(
            ledger.claim("n", Duration::from_secs(60)).await.unwrap(),
            Claim::Won
        );
    }
}
