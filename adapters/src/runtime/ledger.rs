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
    /// This copy may deliver it: no one had tried, or an earlier attempt surely did not
    /// deliver it.
    Won,
    /// This copy may deliver it, but an earlier attempt's outcome is unknown (its confirm
    /// or answer was lost, or its holder died mid-attempt): the agency may have it already.
    /// Delivering again is the lost-confirm window.
    WonAfterUnknown,
    /// Someone else holds or held it: what the ledger knows.
    Lost(Entry),
}

/// The ledger.
#[derive(Debug, Clone)]
pub struct Ledger {
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

impl Ledger {
    /// Opens (creating, or bringing an older ledger up to date, if needed) the ledger at
    /// `path`, whose claims hold for `lease`.
    pub async fn open(path: &Path, lease: Duration) -> Result<Self, sqlx::Error> {
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

    /// How long a claim holds.
    pub fn lease(&self) -> Duration {
        self.lease
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

    /// Claims the delivery of `message_id` for the lease: an insert if absent, or a take-over
    /// of a claim whose lease ran out (its holder died, or left the outcome unknown), in one
    /// statement.
    pub async fn claim(&self, message_id: &str) -> Result<Claim, sqlx::Error> {
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
    pub async fn unknown(&self, message_id: &str) -> Result<(), sqlx::Error> {
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

    async fn open(path: &Path) -> Ledger {
        Ledger::open(path, Duration::from_secs(60)).await.unwrap()
    }

    fn path() -> std::path::PathBuf {
        std::env::temp_dir()
            .join(format!("ledger-{}", uuid::Uuid::new_v4()))
            .join("ledger.sqlite")
    }

    #[tokio::test]
    async fn two_processes_racing_for_a_delivery_never_both_win() {
        let path = path();
        let (a, b) = (open(&path).await, open(&path).await);
        for i in 0..50 {
            let id = format!("m-{i}");
            let (x, y) = tokio::join!(a.claim(&id), b.claim(&id));
            let won = [x.unwrap(), y.unwrap()]
                .iter()
                .filter(|c| **c == Claim::Won)
                .count();
            assert_eq!(won, 1, "round {i}");
        }
        // The loser sees the delivery in progress, then its outcome.
        assert_eq!(
            a.claim("m-0").await.unwrap(),
            Claim::Lost(Entry::Delivering)
        );
        a.delivered("m-0", "bv").await.unwrap();
        assert_eq!(
            b.claim("m-0").await.unwrap(),
            Claim::Lost(Entry::Delivered {
                recipient: "bv".into()
            })
        );
        // A failed attempt releases its claim; a claim whose holder died runs out, and the
        // next holder knows that the agency may have the message.
        a.release("m-1").await.unwrap();
        assert_eq!(b.claim("m-1").await.unwrap(), Claim::Won);
        let dying = Ledger::open(&path, Duration::ZERO).await.unwrap();
        assert_eq!(dying.claim("dead").await.unwrap(), Claim::Won);
        assert_eq!(b.claim("dead").await.unwrap(), Claim::WonAfterUnknown);
    }

    #[tokio::test]
    async fn an_unknown_outcome_is_retried_at_once_and_known_as_such_by_one_racer() {
        let path = path();
        let (a, b) = (open(&path).await, open(&path).await);
        assert_eq!(a.claim("m").await.unwrap(), Claim::Won);
        a.unknown("m").await.unwrap();
        let (x, y) = tokio::join!(a.claim("m"), b.claim("m"));
        let mut claims = [x.unwrap(), y.unwrap()];
        claims.sort_by_key(|c| matches!(c, Claim::Lost(_)));
        assert_eq!(
            claims,
            [Claim::WonAfterUnknown, Claim::Lost(Entry::Delivering)]
        );
        // Once delivered, no copy is ever delivered again.
        a.delivered("m", "bv").await.unwrap();
        a.unknown("m").await.unwrap();
        assert!(matches!(
            b.claim("m").await.unwrap(),
            Claim::Lost(Entry::Delivered { .. })
        ));
    }

    #[tokio::test]
    async fn withdrawal_stops_what_is_not_delivered_and_waits_for_what_is_in_flight() {
        let ledger = open(&path()).await;
        assert_eq!(ledger.withdraw("new").await.unwrap(), Entry::Unknown);
        assert_eq!(
            ledger.claim("new").await.unwrap(),
            Claim::Lost(Entry::Withdrawn)
        );
        ledger.claim("flying").await.unwrap();
        assert_eq!(ledger.withdraw("flying").await.unwrap(), Entry::Delivering);
        ledger.delivered("flying", "bv").await.unwrap();
        assert_eq!(
            ledger.withdraw("flying").await.unwrap(),
            Entry::Delivered {
                recipient: "bv".into()
            }
        );
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
            let path = path();
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            let options = SqliteConnectOptions::new()
                .filename(&path)
                .create_if_missing(true);
            let old = SqlitePool::connect_with(options).await.unwrap();
            for statement in [
                schema.to_owned(),
                format!("PRAGMA user_version = {version}"),
                "INSERT INTO ledger (message_id, state, recipient) VALUES ('m', 'delivered', 'bv')"
                    .to_owned(),
            ] {
                sqlx::query(&statement).execute(&old).await.unwrap();
            }
            old.close().await;
            let ledger = open(&path).await;
            assert_eq!(
                ledger.entry("m").await.unwrap(),
                Entry::Delivered {
                    recipient: "bv".into()
                },
                "from version {version}"
            );
            assert_eq!(ledger.claim("n").await.unwrap(), Claim::Won);
            ledger.unknown("n").await.unwrap();
            assert_eq!(ledger.claim("n").await.unwrap(), Claim::WonAfterUnknown);
        }
    }
}
