//! The store in PostgreSQL, shared by several gateway instances: `synchronous_commit = on`
//! (a commit is on disk before the 202), the hot writes batched by one writer task per
//! instance ([`super::batch`]: group commit), triggers writing the status history and the
//! audit trail in the same transaction as the change they record. Publish claims are taken
//! with `FOR UPDATE SKIP LOCKED`: two instances never claim the same message, and a dead
//! instance's claims are taken over once their lease has run out.

use super::StoreError;
use super::batch::{Batcher, Numbering, Rows, Script};
use super::common::{Backend, Writing, sql_store};
use async_trait::async_trait;
use contract::clock::Clock;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgPool, Postgres, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// The gateway's database in PostgreSQL.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// This gateway instance, as the holder of the publish claims it takes.
    instance: String,
    /// The gateway's one clock: every time the store writes is its.
    clock: Arc<Clock>,
    /// The writer task of the hot writes (group commit).
    batcher: Batcher,
}

impl PgStore {
    /// Connects to the database at `url` (`postgres://…`; `options[search_path]=<schema>`
    /// picks a schema), migrating it if needed, writing times by `clock`.
    pub async fn open(url: &str, clock: Arc<Clock>) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url).map_err(|source| StoreError::Open {
            at: "(an unreadable PostgreSQL URL)".into(),
            source,
        })?;
        // Where, without the password, for error texts.
        let at = format!(
            "postgres://{}:{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or_default()
        );
        let open_error = |source| StoreError::Open { at, source };
        // A commit is on disk when it returns: a 202 means the message is recorded.
        let options = options.options([("synchronous_commit", "on")]);
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(open_error)?;
        // Instances starting at once migrate one after another (the migrator's lock).
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        let instance = uuid::Uuid::new_v4().to_string();
        Ok(Self {
            batcher: Batcher::spawn(Writes(pool.clone()), instance.clone(), clock.clone()),
            pool,
            instance,
            clock,
        })
    }
}

#[async_trait]
impl Backend for PgStore {
    type Db = Postgres;
    const SHARED: bool = true;
    const NUMBERING: Numbering = Numbering::PerStatement;
    /// Each statement is a round trip: as many rows as fit.
    const ROWS: usize = 64;

    /// A statement at a time, in a transaction that takes the audit numbering first.
    async fn run_script(
        conn: &mut PoolConnection<Self::Db>,
        script: &Script<'_>,
    ) -> Result<Vec<Rows>, sqlx::Error> {
        let mut tx = Connection::begin_with(&mut **conn, BEGIN_NUMBERED).await?;
        let mut results = Vec::with_capacity(script.len());
        for (sql, values) in script.statements() {
            let rows = bound(sql, values).fetch_all(&mut *tx).await?;
            results.push(rows.iter().map(text_row).collect::<Result<_, _>>()?);
        }
        tx.commit().await?;
        Ok(results)
    }

    /// Never another instance's claims before their lease runs out (`$4` is not used),
    /// and not the rows another sweep is claiming at this moment.
    const CLAIMABLE: &'static str =
        "next_attempt_at <= $3 ORDER BY next_attempt_at LIMIT $5 FOR UPDATE SKIP LOCKED";
    const SUBJECT_IN: &'static str = "subject_hashes::jsonb @> jsonb_build_array($1::text)";

    /// Takes the audit numbering (`audit_seq`) first where the transaction is audited, for
    /// the rest of it: so that no transaction waits for a row another holds while that one
    /// waits for the numbering.
    async fn begin_writing(
        pool: &PgPool,
        writing: Writing,
    ) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        match writing {
            Writing::Audited => pool.begin_with(BEGIN_NUMBERED).await,
            Writing::Chains => pool.begin().await,
        }
    }
}

/// Begins a transaction that takes the audit numbering (`audit_seq`) for the rest of it,
/// in one round trip.
const BEGIN_NUMBERED: &str = "BEGIN; SELECT last FROM audit_seq FOR UPDATE";

sql_store!(PgStore, Postgres, reads: pool, writes: pool);
