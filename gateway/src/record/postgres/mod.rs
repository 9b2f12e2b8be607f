//! The store in PostgreSQL, shared by several gateway instances: `synchronous_commit = on`
//! (a commit is on disk before the 202), the hot writes batched by one writer task per
//! instance ([`super::batch`]: group commit), triggers writing the status history and the
//! audit trail in the same transaction as the change they record. Publish claims are taken
//! with `FOR UPDATE SKIP LOCKED`: two instances never claim the same message, and a dead
//! instance's claims are taken over once their lease has run out.

use super::StoreError;
use super::batch::{Rows, Script, Transact};
use super::sql::{Backend, Conn, SqlStore, script_rows};
use async_trait::async_trait;
use contract::plumbing::clock::Clock;
use contract::plumbing::sql::{self as sql, Value};
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgPool, Postgres, Row, Transaction};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// The gateway's store in PostgreSQL.
pub type PgStore = SqlStore<PgBackend>;

/// A PostgreSQL database (a schema of one), shared by the gateway's instances.
#[derive(Clone)]
pub struct PgBackend {
    pool: PgPool,
}

impl SqlStore<PgBackend> {
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
        Ok(Self::new(PgBackend { pool }, clock))
    }
}

#[async_trait]
impl Backend for PgBackend {
    type Row = PgRow;
    type Tx = Transaction<'static, Postgres>;
    const SHARED: bool = true;
    /// Never another instance's claims before their lease runs out (`$4` is not used),
    /// and not the rows another sweep is claiming at this moment.
    const CLAIMABLE: &'static str =
        "next_attempt_at <= $3 ORDER BY next_attempt_at LIMIT $5 FOR UPDATE SKIP LOCKED";
    const SUBJECT_IN: &'static str = "subject_hashes::jsonb @> jsonb_build_array($1::text)";
    /// An update leaves the old row version (and its out-of-line payload) until a vacuum:
    /// the retention sweep does not wait for autovacuum's thresholds.
    const RECLAIM: Option<&'static str> = Some("VACUUM messages");

    /// One pool, for reading and writing alike.
    async fn fetch(
        &self,
        _: Conn,
        sql: &str,
        values: &[Value<'_>],
    ) -> Result<Vec<PgRow>, sqlx::Error> {
        sql::fetch_all(&self.pool, sql, values).await
    }

    async fn execute(&self, sql: &str, values: &[Value<'_>]) -> Result<u64, sqlx::Error> {
        sql::execute(&self.pool, sql, values).await
    }

    /// Takes the audit numbering (`audit_seq`) first, for the rest of the transaction, as
    /// a batch does: so that no transaction waits for a row another holds while that one
    /// waits for the numbering. In one round trip.
    async fn begin_writing(&self) -> Result<Self::Tx, sqlx::Error> {
        self.pool.begin_with(format!("BEGIN; {NUMBERED}")).await
    }
}

#[async_trait]
impl Transact for PgBackend {
    type Conn = PoolConnection<Postgres>;
    /// A batch's statements go in one query: a statement records as many rows as fit a batch.
    const ROWS: usize = 64;

    async fn connect(&self) -> Result<Self::Conn, sqlx::Error> {
        self.pool.acquire().await
    }

    /// One round trip: `BEGIN`, the audit numbering, and the script as one query of many
    /// statements (the simple protocol), its values written into it as literals. Not
    /// parameters: a query with parameters holds one statement, and a PL/pgSQL function
    /// running the statements given the values as arrays (tried) has the planner copy the
    /// whole array into each statement at every reference to one of its values, quadratic
    /// in the batch. If a statement fails, a `ROLLBACK` leaves nothing of it.
    async fn open(
        &self,
        conn: &mut Self::Conn,
        script: &Script<'_>,
    ) -> Result<Vec<Rows>, sqlx::Error> {
        run(conn, &format!("BEGIN;\n{NUMBERED}"), script, "", (2, 0)).await
    }

    /// One round trip: the script and `COMMIT` (`synchronous_commit = on`: on disk before
    /// the answer ends).
    async fn close(
        &self,
        conn: &mut Self::Conn,
        script: &Script<'_>,
    ) -> Result<Vec<Rows>, sqlx::Error> {
        run(conn, "", script, "COMMIT", (0, 1)).await
    }

    async fn abandon(&self, conn: &mut Self::Conn) {
        rollback(conn).await;
    }
}

/// Undoes the transaction open on `conn`, if one is (fails by itself where none is).
async fn rollback(conn: &mut PoolConnection<Postgres>) {
    let _ = sqlx::query("ROLLBACK").execute(&mut **conn).await;
}

/// Takes the audit numbering (`audit_seq`) for the rest of the transaction.
const NUMBERED: &str = "SELECT last FROM audit_seq FOR UPDATE";

/// Runs `before`, the statements of `script` with its values written in, and `after`, as
/// one query (`lead` and `trail` statements of the transaction's own); undoes the
/// transaction if a statement fails.
async fn run(
    conn: &mut PoolConnection<Postgres>,
    before: &str,
    script: &Script<'_>,
    after: &str,
    edges: (usize, usize),
) -> Result<Vec<Rows>, sqlx::Error> {
    let (statements, values) = script.parts();
    let mut sql = String::from(before);
    for statement in statements {
        if !sql.is_empty() {
            sql.push_str(";\n");
        }
        with_literals(&mut sql, statement, values)?;
    }
    if !after.is_empty() {
        if !sql.is_empty() {
            sql.push_str(";\n");
        }
        sql.push_str(after);
    }
    let steps = sqlx::raw_sql(&sql).fetch_many(&mut **conn);
    let rows = script_rows(steps, text_row, statements.len(), edges).await;
    if rows.is_err() {
        rollback(conn).await;
    }
    rows
}

/// Appends `sql` to `out` with each parameter `$n` written as the literal of `values[n -
/// 1]`: text as an escape string (`E'…'`, each `\` and `'` doubled, so that it reads the
/// same whatever `standard_conforming_strings` says) cast to `text`, bytes as hex cast to
/// `bytea`, none as `NULL::text`, integers as `bigint`, truth values as `TRUE` or `FALSE`. The batches' statements hold no other `$`. Text holding a
/// NUL, which no query can carry (nor PostgreSQL's text), is refused.
fn with_literals(out: &mut String, sql: &str, values: &[Value]) -> Result<(), sqlx::Error> {
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        rest = &rest[at + 1..];
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let value = rest[..digits]
            .parse::<usize>()
            .ok()
            .and_then(|n| values.get(n.checked_sub(1)?))
            .ok_or_else(|| sqlx::Error::Protocol("a parameter without a value".into()))?;
        match value {
            Value::Text(None) => out.push_str("NULL::text"),
            Value::Text(Some(text)) if text.contains('\0') => {
                return Err(sqlx::Error::Protocol("a text value holding NUL".into()));
            }
            Value::Text(Some(text)) => {
                out.push_str("E'");
                for c in text.chars() {
                    if c == '\'' || c == '\\' {
                        out.push(c);
                    }
                    out.push(c);
                }
                out.push_str("'::text");
            }
            Value::Bytes(bytes) => {
                out.push_str("E'\\\\x");
                out.push_str(&hex::encode(bytes));
                out.push_str("'::bytea");
            }
            Value::Int(int) => out.push_str(&format!("{int}::bigint")),
            Value::Bool(flag) => out.push_str(if *flag { "TRUE" } else { "FALSE" }),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    Ok(())
}

/// A row's columns as text (the simple protocol answers every value as text).
fn text_row(row: &PgRow) -> Result<Vec<String>, sqlx::Error> {
    (0..row.len())
        .map(|i| {
            row.try_get_raw(i)?
                .as_str()
                .map(str::to_owned)
                .map_err(|source| sqlx::Error::ColumnDecode {
                    index: i.to_string(),
                    source,
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::AuditTrail;
    use crate::record::batch::Transact;

    /// A store in a new schema (`name` its prefix) of the tests' server, and its URL.
    async fn scratch(name: &str) -> (PgStore, String) {
        let server = contract::plumbing::postgres::test_server();
        let url = contract::plumbing::postgres::new_schema(&server, name)
            .await
            .unwrap();
        let store = PgStore::open(&url, Arc::default()).await.unwrap();
        store.chain_with(crate::keys::KeyRing::generate(None).audit_key());
        (store, url)
    }

    #[tokio::test]
    async fn a_batch_whose_statement_fails_midway_leaves_nothing_and_the_next_one_commits() {
        let (store, url) = scratch("script").await;
        crate::record::batch::checks::a_failing_script_leaves_nothing(store.backend().clone())
            .await;
        store.backend().pool.close().await;
        contract::plumbing::postgres::drop_schema(&url)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn values_written_as_literals_are_stored_as_they_are_and_cannot_escape_them() {
        let (store, url) = scratch("literals").await;
        let writes = store.backend().clone();
        let hostile = [
            "it's",
            "back\\slash\\' OR '1'='1",
            "'); DROP TABLE settings; --",
            "$1 \\x00 E'\\n' \u{e6}\u{f8}\u{e5} \u{1f600}",
        ];
        let bytes: &[u8] = &[0, 1, b'\'', b'\\', 0xff];
        let mut script = Script::new();
        for name in hostile {
            script.push(
                |p| {
                    format!(
                        "INSERT INTO settings (name, value) VALUES (${p}, ${}) RETURNING name",
                        p + 1
                    )
                },
                vec![Value::Text(Some(name)), Value::Bytes(bytes)],
            );
        }
        let mut conn = writes.connect().await.unwrap();
        let rows = writes.run(&mut conn, &script).await.unwrap();
        let names: Vec<&str> = rows
            .iter()
            .flatten()
            .flatten()
            .map(String::as_str)
            .collect();
        assert_eq!(names, hostile, "each answered as it was given");
        for name in hostile {
            let value: Vec<u8> = sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                .bind(name)
                .fetch_one(&store.backend().pool)
                .await
                .unwrap();
            assert_eq!(value, bytes, "{name}");
        }
        let nul = [Value::Text(Some("a\0b"))];
        let mut refused = Script::new();
        refused.push(|p| format!("SELECT ${p}"), nul.to_vec());
        assert!(
            writes.run(&mut conn, &refused).await.is_err(),
            "a NUL is refused"
        );
        drop(conn);
        store.backend().pool.close().await;
        contract::plumbing::postgres::drop_schema(&url)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_history_written_before_its_first_steps_were_derived_reads_the_same() {
        use crate::record::testing::{legacy_script, migrations_before, read_legacy_histories};
        let server = contract::plumbing::postgres::test_server();
        let url = contract::plumbing::postgres::new_schema(&server, "history")
            .await
            .unwrap();
        let old = PgPool::connect(&url).await.unwrap();
        let before = migrations_before(sqlx::migrate!("./migrations/postgres"), "history derived");
        before.run(&old).await.unwrap();
        sqlx::raw_sql(&legacy_script()).execute(&old).await.unwrap();
        old.close().await;
        let store = PgStore::open(&url, Arc::default()).await.unwrap();
        read_legacy_histories(&store).await;
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM status_history")
            .fetch_one(&store.backend().pool)
            .await
            .unwrap();
        assert_eq!(rows, 2, "the first steps are no longer rows of their own");
        store.backend().pool.close().await;
        contract::plumbing::postgres::drop_schema(&url)
            .await
            .unwrap();
    }

    /// A VACUUM of a table that is still empty tells the planner it is empty, and each
    /// session then keeps the plan it makes for the status history's foreign-key check on
    /// `messages` (a sequential scan) while the table grows: the closed loop fell from 2,200
    /// to about 900 messages a second. So the sweep vacuums only once a payload was erased.
    #[tokio::test]
    async fn the_retention_sweep_vacuums_the_old_row_versions_once_a_payload_was_erased() {
        use crate::record::testing::message;
        use crate::record::{Messages, Payloads, Status};
        let (store, url) = scratch("reclaim").await;
        let vacuumed = || async {
            sqlx::query_scalar::<_, bool>(
                "SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables
                 WHERE relname = 'messages' AND schemaname = current_schema()",
            )
            .fetch_one(&store.backend().pool)
            .await
            .unwrap()
        };
        store.reclaim_erased().await.unwrap();
        assert!(!vacuumed().await, "nothing erased: no vacuum");
        let keys = crate::keys::KeyRing::generate(None);
        let new = message(&keys, "bv");
        store
            .record(&new, time::OffsetDateTime::now_utc())
            .await
            .unwrap();
        store.reclaim_erased().await.unwrap();
        assert!(!vacuumed().await, "a payload kept: no vacuum");
        assert!(
            store
                .advance(&new.id, Status::Delivered, None)
                .await
                .unwrap()
        );
        store.reclaim_erased().await.unwrap();
        assert!(
            vacuumed().await,
            "the delivered message's payload erased: vacuumed"
        );
        store.backend().pool.close().await;
        contract::plumbing::postgres::drop_schema(&url)
            .await
            .unwrap();
    }
}
