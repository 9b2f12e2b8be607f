//! Local SQLite files (the gateway's store, an adapter's ledger): one way to open them.

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use std::path::Path;
use std::time::Duration;

/// Options for the SQLite file at `path`, its folder created if missing: created if
/// missing, in WAL mode, waiting up to ten seconds for another writer.
pub fn options(path: &Path) -> std::io::Result<SqliteConnectOptions> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    Ok(SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(Duration::from_secs(10)))
}
