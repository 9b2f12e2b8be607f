//! The adapter's ledger: which messages it has delivered (so a redelivery never reaches an
//! agency twice) and which it must not deliver (their consent was withdrawn). SQLite, one
//! file per adapter process.

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use std::path::Path;

/// What the ledger knows of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Nothing: deliver it.
    Unknown,
    /// Delivered before, to this recipient.
    Delivered { recipient: String },
    /// Its consent was withdrawn before delivery: never deliver it.
    Withdrawn,
}

/// The ledger.
#[derive(Debug, Clone)]
pub struct Ledger {
    pool: SqlitePool,
}

impl Ledger {
    /// Opens (creating if needed) the ledger at `path`.
    pub async fn open(path: &Path) -> Result<Self, sqlx::Error> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS ledger (
                message_id  TEXT PRIMARY KEY,
                state       TEXT NOT NULL CHECK (state IN ('delivered', 'withdrawn')),
                recipient   TEXT,
                at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
            )",
        )
        .execute(&pool)
        .await?;
        Ok(Self { pool })
    }

    /// What the ledger knows of `message_id`.
    pub async fn entry(&self, message_id: &str) -> Result<Entry, sqlx::Error> {
        let row: Option<(String, Option<String>)> =
            sqlx::query_as("SELECT state, recipient FROM ledger WHERE message_id = ?")
                .bind(message_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            None => Entry::Unknown,
            Some((state, recipient)) if state == "delivered" => Entry::Delivered {
                recipient: recipient.unwrap_or_default(),
            },
            Some(_) => Entry::Withdrawn,
        })
    }

    /// Notes a delivery.
    pub async fn delivered(&self, message_id: &str, recipient: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO ledger (message_id, state, recipient) VALUES (?, 'delivered', ?)
             ON CONFLICT DO NOTHING",
        )
        .bind(message_id)
        .bind(recipient)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Notes that `message_id` must never be delivered, unless it was delivered already;
    /// returns what the ledger knew before.
    pub async fn withdraw(&self, message_id: &str) -> Result<Entry, sqlx::Error> {
        let before = self.entry(message_id).await?;
        if before == Entry::Unknown {
            sqlx::query(
                "INSERT INTO ledger (message_id, state) VALUES (?, 'withdrawn') ON CONFLICT DO NOTHING",
            )
            .bind(message_id)
            .execute(&self.pool)
            .await?;
        }
        Ok(before)
    }
}
