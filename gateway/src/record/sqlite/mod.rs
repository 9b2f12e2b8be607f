//! The store in SQLite: one file, WAL (checkpointed off the writer's path: [`checkpoint`]),
//! `synchronous = FULL`: one gateway process. Writes go
//! through one connection (SQLite has one writer; several connections would only wait on
//! each other's locks), the hot ones (recording, marking queued, status changes) batched by
//! one writer task ([`super::batch`]: group commit); reads have a pool of their own.
//! Recording a message and marking it queued are one statement each, their steps the
//! row's own times; triggers write the later status history and the audit trail in the
//! same transaction. The statements are those of
//! [`super::sql`].

mod checkpoint;

use super::StoreError;
use super::batch::{Rows, Script, Transact};
use super::sql::{Backend, Conn, SqlStore, script_rows};
use async_trait::async_trait;
use checkpoint::Checkpoints;
use contract::plumbing::clock::Clock;
use contract::plumbing::sql::{self as sql, Columns, Value};
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};
use std::path::Path;
use std::sync::Arc;

/// The gateway's store in SQLite.
pub type SqliteStore = SqlStore<SqliteBackend>;

/// A SQLite database file: its one writer, its readers, and the checkpoints of its log.
#[derive(Clone)]
pub struct SqliteBackend {
    writer: SqlitePool,
    readers: SqlitePool,
    /// The checkpoint task, running while the backend is held.
    _checkpoints: Checkpoints,
}

impl SqlStore<SqliteBackend> {
    /// Opens (creating and migrating if needed) the SQLite database at `path`, writing
    /// times by `clock`.
    pub async fn open(path: &Path, clock: Arc<Clock>) -> Result<Self, StoreError> {
        let open_error = |source| StoreError::Open {
            at: path.display().to_string(),
            source,
        };
        let options = contract::plumbing::sqlite::options(path)
            .map_err(|e| open_error(sqlx::Error::Io(e)))?
            // A commit survives a power loss: a 202 means the message is on disk. Group
            // commit pays one fsync for a batch.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone().pragma("wal_autocheckpoint", "0"))
            .await
            .map_err(open_error)?;
        sqlx::migrate!("./migrations/sqlite").run(&writer).await?;
        let checkpointer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(open_error)?;
        let readers = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await
            .map_err(open_error)?;
        let backend = SqliteBackend {
            _checkpoints: Checkpoints::spawn(checkpointer),
            writer,
            readers,
        };
        Ok(Self::new(backend, clock))
    }
}

#[async_trait]
impl Backend for SqliteBackend {
    type Row = SqliteRow;
    type Tx = Transaction<'static, Sqlite>;
    const SHARED: bool = false;
    /// At start-up (`$4`), also every claim of another instance: one process keeps a
    /// SQLite file, so another instance's claims are a dead one's.
    const CLAIMABLE: &'static str = "(next_attempt_at <= $3 OR ($4 AND claimed_by IS NOT $2))
         ORDER BY next_attempt_at LIMIT $5";
    /// `secure_delete` overwrites what an update or a delete frees.
    const RECLAIM: Option<&'static str> = None;
    const SUBJECT_IN: &'static str =
        "EXISTS (SELECT 1 FROM json_each(messages.subject_hashes) WHERE value = $1)";

    async fn fetch(
        &self,
        conn: Conn,
        sql: &str,
        values: &[Value<'_>],
    ) -> Result<Vec<SqliteRow>, sqlx::Error> {
        let pool = match conn {
            Conn::Reader => &self.readers,
            Conn::Writer => &self.writer,
        };
        sql::fetch_all(pool, sql, values).await
    }

    async fn execute(&self, sql: &str, values: &[Value<'_>]) -> Result<u64, sqlx::Error> {
        sql::execute(&self.writer, sql, values).await
    }

    /// IMMEDIATE, whatever it writes: the write lock at once, so another process sharing
    /// the file waits (busy timeout) rather than failing to upgrade a read.
    async fn begin_writing(&self) -> Result<Self::Tx, sqlx::Error> {
        self.writer.begin_with("BEGIN IMMEDIATE").await
    }
}

#[async_trait]
impl Transact for SqliteBackend {
    type Conn = PoolConnection<Sqlite>;
    /// SQLite finds a statement's `$n` parameter by a scan of the ones before it (when it
    /// prepares it, and when sqlx binds it), so a statement costs the square of its
    /// parameters: 16 rows, 288 parameters (64 rows cost the closed loop 4 to 10 % in
    /// runs side by side).
    const ROWS: usize = 16;

    async fn connect(&self) -> Result<Self::Conn, sqlx::Error> {
        self.writer.acquire().await
    }

    /// One call for `BEGIN IMMEDIATE` and the whole script: the driver's worker thread
    /// runs them one after another without handing back in between. The driver runs a
    /// query of many statements with parameters, which it marks deprecated because other
    /// drivers cannot (launchbadge/sqlx#3108); `Cargo.lock` pins the version that does. If
    /// a statement fails, a `ROLLBACK` leaves nothing of it.
    async fn open(
        &self,
        conn: &mut Self::Conn,
        script: &Script<'_>,
    ) -> Result<Vec<Rows>, sqlx::Error> {
        let (statements, _) = script.parts();
        let sql = format!("BEGIN IMMEDIATE;\n{}", statements.join(";\n"));
        run(conn, &sql, script, (1, 0)).await
    }

    /// One call for the script and `COMMIT`, as [`Self::open`].
    async fn close(
        &self,
        conn: &mut Self::Conn,
        script: &Script<'_>,
    ) -> Result<Vec<Rows>, sqlx::Error> {
        let (statements, _) = script.parts();
        let mut sql = statements.join(";\n");
        sql.push_str(";\nCOMMIT");
        run(conn, &sql, script, (0, 1)).await
    }

    async fn abandon(&self, conn: &mut Self::Conn) {
        rollback(conn).await;
    }
}

/// Undoes the transaction open on `conn`, if one is (fails by itself where none is).
async fn rollback(conn: &mut PoolConnection<Sqlite>) {
    let _ = sqlx::query("ROLLBACK").execute(&mut **conn).await;
}

/// Runs `sql` (the statements of `script`, and `lead` and `trail` of the transaction's own)
/// with the values of `script`; undoes the transaction if a statement fails.
async fn run(
    conn: &mut PoolConnection<Sqlite>,
    sql: &str,
    script: &Script<'_>,
    edges: (usize, usize),
) -> Result<Vec<Rows>, sqlx::Error> {
    let (statements, values) = script.parts();
    #[allow(deprecated)]
    let steps = sql::bound(sql, values).fetch_many(&mut **conn);
    let rows = script_rows(steps, SqliteRow::texts, statements.len(), edges).await;
    if rows.is_err() {
        rollback(conn).await;
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::testing::message;
    use crate::record::{AuditTrail, Messages, NewMessage, Recorded, Status, gateway_id};
    use contract::directory::AgencyId;
    use contract::message::MessageId;
    use time::OffsetDateTime;

    /// A store in a folder of its own.
    async fn scratch_store(name: &str) -> (std::path::PathBuf, SqliteStore) {
        let dir = std::env::temp_dir().join(format!("gw-{name}-{}", uuid::Uuid::new_v4()));
        let store = SqliteStore::open(&dir.join("gateway.sqlite"), Arc::default())
            .await
            .unwrap();
        store.chain_with(crate::keys::KeyRing::generate(None).audit_key());
        (dir, store)
    }

    #[tokio::test]
    async fn a_batch_whose_statement_fails_midway_leaves_nothing_and_the_next_one_commits() {
        let (dir, store) = scratch_store("script").await;
        crate::record::batch::checks::a_failing_script_leaves_nothing(store.backend().clone())
            .await;
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn the_log_is_checkpointed_and_started_over_while_messages_keep_coming() {
        let (dir, store) = scratch_store("checkpoint").await;
        let keys = crate::keys::KeyRing::generate(None);
        let wal = dir.join("gateway.sqlite-wal");
        let mut sizes = Vec::new();
        for _ in 0..6 {
            for _ in 0..100 {
                let new = message(&keys, "bv");
                store.record(&new, OffsetDateTime::now_utc()).await.unwrap();
                store.mark_queued(&new.id).await.unwrap();
            }
            tokio::time::sleep(3 * checkpoint::EVERY).await;
            sizes.push(std::fs::metadata(&wal).unwrap().len());
        }
        // Without checkpoints the log would hold all six rounds; with them, it is written
        // over from its start, so it stays near one round's size.
        assert!(sizes[5] < 2 * sizes[0], "the log grew: {sizes:?}");
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A database migrated up to (not including) the migration described as `migration`.
    async fn database_before(migration: &str) -> (std::path::PathBuf, SqlitePool) {
        let dir = std::env::temp_dir().join(format!("gw-migrate-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.join("gateway.sqlite"))
            .create_if_missing(true);
        let old = SqlitePool::connect_with(options).await.unwrap();
        let before = crate::record::testing::migrations_before(
            sqlx::migrate!("./migrations/sqlite"),
            migration,
        );
        before.run(&old).await.unwrap();
        (dir, old)
    }

    #[tokio::test]
    async fn messages_routed_by_adapter_are_routed_by_transport_after_the_upgrade() {
        let (dir, old) = database_before("transports").await;
        for (id, key) in [
            ("a", "barnevern.bv"),
            ("b", "politikontakt.pk"),
            ("c", "sspf.f"),
        ] {
            sqlx::query(
                "INSERT INTO messages (id, client_id, sender, recipient, kind, legal_basis, body_hash, routing_key, routed, status, created_at, updated_at)
                 VALUES (?1, ?1, 'school', 'r', 'k', 'b', 'h', ?2, x'00', 'queued', 't', 't')",
            )
            .bind(id)
            .bind(key)
            .execute(&old)
            .await
            .unwrap();
        }
        sqlx::query(
            "INSERT INTO accepted_counts (adapter, accepted)
             VALUES ('barnevern', 3), ('politikontakt', 2), ('sspf', 1)",
        )
        .execute(&old)
        .await
        .unwrap();
        old.close().await;
        let store = SqliteStore::open(&dir.join("gateway.sqlite"), Arc::default())
            .await
            .unwrap();
        let keys: Vec<String> = sqlx::query_scalar("SELECT routing_key FROM messages ORDER BY id")
            .fetch_all(&store.backend().readers)
            .await
            .unwrap();
        assert_eq!(keys, ["queue.bv", "inbox.pk", "inbox.f"]);
        assert_eq!(
            store.accepted_counts().await.unwrap(),
            [("inbox".to_owned(), 3), ("queue".to_owned(), 3)]
        );
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn messages_recorded_before_sender_ids_keep_their_id_as_their_senders() {
        let (dir, old) = database_before("sender message ids").await;
        let path = dir.join("gateway.sqlite");
        let id: MessageId = "6f1c2f0e-8a4b-4c55-9d6e-0b7a1f2c3d4e".parse().unwrap();
        let org = |id: &str| AgencyId(id.into());
        sqlx::query(
            "INSERT INTO messages (id, sender, recipient, kind, legal_basis, body_hash, routing_key, routed, status, created_at, updated_at)
             VALUES (?, 'school', 'bv', 'no.bekymringsmelding', 'no.bvl2021.13-2', 'h', 'k', x'00', 'queued', 't', 't')",
        )
        .bind(id)
        .execute(&old)
        .await
        .unwrap();
        old.close().await;

        let store = SqliteStore::open(&path, Arc::default()).await.unwrap();
        store.chain_with(crate::keys::KeyRing::generate(None).audit_key());
        let view = store
            .status(&id, &org("school"))
            .await
            .unwrap()
            .expect("found by its id");
        assert_eq!((view.message_id, view.gateway_id), (id, id));
        assert!(store.status(&id, &org("another")).await.unwrap().is_none());
        // The same id from another sender is a message of its own.
        let new = NewMessage {
            id: gateway_id(&org("another"), &id),
            client_id: id,
            sender: org("another"),
            supplier: None,
            recipient: org("bv"),
            kind: contract::message::Kind::NoBekymringsmelding,
            legal_basis: "no.bvl2021.13-2".into(),
            body_hash: "h2".into(),
            routing_key: "k".into(),
            routed: crate::keys::KeyRing::generate(None).lock(b"x", b"y"),
            consent_ref: None,
            subject_hashes: Vec::new(),
            trace_id: None,
        };
        assert_eq!(
            store.record(&new, OffsetDateTime::now_utc()).await.unwrap(),
            Recorded::New
        );
        // Its own sender repeating it finds it, however its new id would be derived.
        let repeated = NewMessage {
            id: gateway_id(&org("school"), &id),
            sender: org("school"),
            body_hash: "h".into(),
            ..new
        };
        assert_eq!(
            store
                .record(&repeated, OffsetDateTime::now_utc())
                .await
                .unwrap(),
            Recorded::Existing {
                body_hash: "h".into(),
                status: Status::Queued
            }
        );
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM messages")
            .fetch_one(&store.backend().readers)
            .await
            .unwrap();
        assert_eq!(count, 2, "recorded once");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_history_written_before_its_first_steps_were_derived_reads_the_same() {
        use crate::record::testing::{legacy_script, read_legacy_histories};
        let (dir, old) = database_before("history derived").await;
        sqlx::raw_sql(&legacy_script()).execute(&old).await.unwrap();
        old.close().await;
        let store = SqliteStore::open(&dir.join("gateway.sqlite"), Arc::default())
            .await
            .unwrap();
        read_legacy_histories(&store).await;
        // The first steps are no longer rows of their own: the two deliveries are.
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM status_history")
            .fetch_one(&store.backend().readers)
            .await
            .unwrap();
        assert_eq!(rows, 2);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn payloads_stored_in_clear_before_are_sealed_at_start() {
        let (dir, old) = database_before("payload at rest").await;
        sqlx::query(
            "INSERT INTO messages (id, client_id, sender, recipient, kind, legal_basis, body_hash, routing_key, routed, status, created_at, updated_at)
             VALUES ('6f1c2f0e-8a4b-4c55-9d6e-0b7a1f2c3d4e', 'c', 's', 'r', 'no.bekymringsmelding', 'b', 'h', 'queue.r', 'Ola Testbarn', 'queued', 't', 't')",
        )
        .execute(&old)
        .await
        .unwrap();
        old.close().await;
        let store = SqliteStore::open(&dir.join("gateway.sqlite"), Arc::default())
            .await
            .unwrap();
        let keys = crate::keys::KeyRing::generate(None);
        let done = crate::record::rewrap(&store, &keys).await.unwrap();
        assert_eq!(done.locked, 1);
        let routed: Vec<u8> = sqlx::query_scalar("SELECT routed FROM messages")
            .fetch_one(&store.backend().readers)
            .await
            .unwrap();
        assert!(!routed.windows(12).any(|w| w == b"Ola Testbarn"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_changed_removed_or_reordered_audit_entry_is_found() {
        use crate::record::{Break, verify};
        let dir = std::env::temp_dir().join(format!("gw-audit-{}", uuid::Uuid::new_v4()));
        let store = SqliteStore::open(&dir.join("gateway.sqlite"), Arc::default())
            .await
            .unwrap();
        let keys = crate::keys::KeyRing::generate(None);
        let key = keys.audit_key();
        store.chain_with(keys.audit_key());
        for i in 0..6 {
            let new = message(&keys, &format!("bv{i}"));
            store.record(&new, OffsetDateTime::now_utc()).await.unwrap();
        }
        assert!(verify(&store, &key, None).await.unwrap().breaks.is_empty());
        let tamper = |sql: &'static str| {
            let writer = store.backend().writer.clone();
            async move { sqlx::query(sql).execute(&writer).await.unwrap() }
        };
        tamper("UPDATE audit SET recipient = 'elsewhere' WHERE seq = 2").await;
        tamper("DELETE FROM audit WHERE seq = 4").await;
        // Entries 5 and 6 swap places (contents and chains both).
        tamper("UPDATE audit SET seq = -5 WHERE seq = 5").await;
        tamper("UPDATE audit SET seq = 5 WHERE seq = 6").await;
        tamper("UPDATE audit SET seq = 6 WHERE seq = -5").await;
        let report = verify(&store, &key, None).await.unwrap();
        assert_eq!(
            report.breaks,
            [
                Break::Changed { seq: 2 },
                Break::Removed { after: 3, next: 5 },
                Break::Changed { seq: 5 },
                Break::Changed { seq: 6 },
            ]
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
