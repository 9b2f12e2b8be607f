//! Checkpoints off the writer's path. SQLite copies the write-ahead log back into the
//! database (a checkpoint) when the log has grown past a size, in the commit that grew it:
//! that commit, and every request waiting on its batch, then waits for the copy and its
//! fsync. The writer's connection does not checkpoint (`wal_autocheckpoint = 0`); a task of
//! its own does, on a connection of its own, every [`EVERY`]. A passive checkpoint takes no
//! lock the writer waits for: it copies what no reader still needs, and the writer starts
//! the log over once all of it is copied.

use sqlx::SqlitePool;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How often the log is checkpointed.
pub const EVERY: Duration = Duration::from_millis(100);

/// Keeps the checkpoint task running while it is held (by the store and its clones).
#[derive(Clone)]
pub struct Checkpoints {
    _running: Arc<()>,
}

impl Checkpoints {
    /// Starts checkpointing the database of `pool` (one connection, not read-only).
    pub fn spawn(pool: SqlitePool) -> Self {
        let held = Arc::new(());
        tokio::spawn(run(pool, Arc::downgrade(&held)));
        Self { _running: held }
    }
}

async fn run(pool: SqlitePool, held: Weak<()>) {
    let mut ticks = tokio::time::interval(EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if held.strong_count() == 0 {
            break;
        }
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::warn!(%error, "the store's log was not checkpointed");
        }
    }
    pool.close().await;
}
