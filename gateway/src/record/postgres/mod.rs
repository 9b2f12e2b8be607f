//! The store in PostgreSQL, shared by several gateway instances: `synchronous_commit = on`
//! (a commit is on disk before the 202), the hot writes batched by one writer task per
//! instance ([`super::batch`]: group commit), triggers writing the status history and the
//! audit trail in the same transaction as the change they record. Publish claims are taken
//! with `FOR UPDATE SKIP LOCKED`: two instances never claim the same message, and a dead
//! instance's claims are taken over once their lease has run out.

use super::StoreError;
use super::batch::{Batcher, Rows, Script, Value};
use super::common::{Backend, Writing, sql_store};
use async_trait::async_trait;
use contract::clock::Clock;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};
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
    /// Statements are array elements of one call: as many rows as fit a batch.
    const ROWS: usize = 64;

    /// One round trip: the script as one call of `run_batch` (migration 0002), which runs
    /// its statements one after another, the audit numbering taken first, in the call's
    /// own transaction (committed, `synchronous_commit = on`, before the answer is read to
    /// its end); the call's text is the same for every batch, so it is prepared once.
    async fn run_script(
        conn: &mut PoolConnection<Self::Db>,
        script: &Script<'_>,
    ) -> Result<Vec<Rows>, sqlx::Error> {
        let (statements, values) = script.parts();
        let statements: Vec<String> = statements
            .iter()
            .map(|sql| in_arrays(sql, values))
            .collect();
        let (texts, bytes): (Vec<Option<&str>>, Vec<Option<&[u8]>>) = values
            .iter()
            .map(|v| match v {
                Value::Text(text) => (*text, None),
                Value::Bytes(bytes) => (None, Some(*bytes)),
            })
            .unzip();
        let rows: Vec<(i32, Vec<String>)> =
            sqlx::query_as("SELECT n, cols FROM run_batch($1, $2, $3)")
                .bind(&statements)
                .bind(&texts)
                .bind(&bytes)
                .fetch_all(&mut **conn)
                .await?;
        let mut results = vec![Rows::new(); statements.len()];
        for (n, cols) in rows {
            let at = usize::try_from(n - 1)
                .ok()
                .filter(|at| *at < results.len())
                .ok_or_else(|| sqlx::Error::Protocol(format!("a row of statement {n}")))?;
            results[at].push(cols);
        }
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

/// `sql` with each parameter `$n` read from the arrays of `run_batch`: `$1[n]` where
/// `values[n - 1]` is text, `$2[n]` where it is bytes. The batches' statements hold no
/// other `$`.
fn in_arrays(sql: &str, values: &[Value]) -> String {
    let mut out = String::with_capacity(sql.len() + sql.len() / 4);
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let array = match rest[..digits]
            .parse::<usize>()
            .ok()
            .and_then(|n| values.get(n.checked_sub(1)?))
        {
            Some(Value::Bytes(_)) => "$2",
            _ => "$1",
        };
        out.push_str(&format!("{array}[{}]", &rest[..digits]));
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

sql_store!(PgStore, Postgres, reads: pool, writes: pool);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_batch_whose_statement_fails_midway_leaves_nothing_and_the_next_one_commits() {
        let server = contract::postgres::test_server();
        let url = contract::postgres::new_schema(&server, "script")
            .await
            .unwrap();
        let store = PgStore::open(&url, Arc::default()).await.unwrap();
        crate::record::batch::checks::a_failing_script_leaves_nothing(Writes(store.pool.clone()))
            .await;
        store.pool.close().await;
        contract::postgres::drop_schema(&url).await.unwrap();
    }

    #[test]
    fn parameters_are_read_from_the_array_of_their_kind() {
        let values = [
            Value::Text(Some("a")),
            Value::Bytes(b"b"),
            Value::Text(None),
        ];
        assert_eq!(
            in_arrays("INSERT INTO t VALUES ($1, $2, $3) RETURNING id", &values),
            "INSERT INTO t VALUES ($1[1], $2[2], $1[3]) RETURNING id"
        );
    }
}
