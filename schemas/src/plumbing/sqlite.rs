//! Local SQLite files (the gateway's store, an adapter's ledger): one way to open them.

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode};
use std::path::Path;
use std::time::Duration;

/// Options for the SQLite file at `path`, created if missing (with its folder) readable by
/// its owner only ([`crate::plumbing::private`]), in WAL mode, erased content overwritten with zeros
/// (`secure_delete`), waiting up to ten seconds for another writer.
pub fn options(path: &Path) -> std::io::Result<SqliteConnectOptions> {
    crate::plumbing::private::touch(path)?;
    Ok(SqliteConnectOptions::new()
        .pragma("secure_delete", "ON")
        .pragma("temp_store", "MEMORY")
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .busy_timeout(Duration::from_secs(10)))
}
