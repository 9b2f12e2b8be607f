//! The store in SQLite: one file, WAL, `synchronous = FULL`. Writes go through one
//! connection (SQLite has one writer; several connections would only wait on each other's
//! locks), the hot ones (recording, marking queued, status changes) batched by one writer
//! task ([`batch`]: group commit); reads have a pool of their own. Recording a message and
//! marking it queued are one statement each: triggers write the status history and the audit
//! trail in the same transaction.

mod audit;
mod batch;
mod consents;
mod payloads;

use super::{
    DueCheck, Messages, NewMessage, Outgoing, Recorded, Status, StatusEntry, StatusView,
    StoreError, timestamp,
};
use crate::keys::{Locked, LockedKey};
use async_trait::async_trait;
use batch::{Batcher, Write};
use contract::clock::Clock;
use contract::directory::AgencyId;
use contract::message::MessageId;
use sqlx::sqlite::{SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::path::Path;
use std::sync::Arc;
use time::OffsetDateTime;

/// The gateway's database in SQLite.
#[derive(Clone)]
pub struct SqliteStore {
    writer: SqlitePool,
    readers: SqlitePool,
    /// This gateway instance, as the holder of the publish claims it takes.
    instance: String,
    /// The gateway's one clock: every time the store writes is its.
    clock: Arc<Clock>,
    /// The writer task of the hot writes (group commit).
    batcher: Batcher,
}

impl SqliteStore {
    /// Opens (creating and migrating if needed) the SQLite database at `path`, writing
    /// times by `clock`.
    pub async fn open(path: &Path, clock: Arc<Clock>) -> Result<Self, StoreError> {
        let open_error = |source| StoreError::Open {
            path: path.into(),
            source,
        };
        let options = contract::sqlite::options(path)
            .map_err(|e| open_error(sqlx::Error::Io(e)))?
            // A commit survives a power loss: a 202 means the message is on disk. Group
            // commit pays one fsync for a batch.
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(open_error)?;
        sqlx::migrate!("./migrations").run(&writer).await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options.read_only(true))
            .await
            .map_err(open_error)?;
        let instance = uuid::Uuid::new_v4().to_string();
        Ok(Self {
            batcher: Batcher::spawn(writer.clone(), instance.clone(), clock.clone()),
            writer,
            readers,
            instance,
            clock,
        })
    }
}

#[async_trait]
impl Messages for SqliteStore {
    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.readers).await?;
        Ok(())
    }

    /// Records a new message, with its first status and its audit entry, its publish
    /// claimed by this instance until `hold_until` (then the outbox may take it); or reports
    /// the message its sender recorded before under this id. Committed with the batch it
    /// joins (group commit).
    async fn record(
        &self,
        msg: &NewMessage,
        hold_until: OffsetDateTime,
    ) -> Result<Recorded, StoreError> {
        let msg = Box::new(msg.clone());
        self.batcher
            .submit(|reply| Write::Record {
                msg,
                hold_until,
                reply,
            })
            .await
    }

    /// Marks a message as confirmed by the broker, which takes it out of the outbox.
    /// Returns false if it was queued already.
    async fn mark_queued(&self, id: &MessageId) -> Result<bool, StoreError> {
        let id = *id;
        self.batcher
            .submit(|reply| Write::MarkQueued { id, reply })
            .await
    }

    /// Moves a message to `status` (with a value-free `reason`) if it may move there from
    /// where it is; returns whether it moved.
    async fn advance(
        &self,
        id: &MessageId,
        status: Status,
        reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        let (id, reason) = (*id, reason.map(str::to_owned));
        self.batcher
            .submit(|reply| Write::Advance {
                id,
                status,
                reason,
                reply,
            })
            .await
    }

    /// Counts a failed attempt and puts the next one off until `until`.
    async fn defer(&self, id: &MessageId, until: OffsetDateTime) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE messages SET attempts = attempts + 1, next_attempt_at = ?
             WHERE id = ? AND next_attempt_at IS NOT NULL",
        )
        .bind(timestamp(until))
        .bind(id)
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Claims the publish of up to `limit` unconfirmed messages whose claim has run out
    /// (`take_over`: also every claim of another instance, as at start-up, when no other
    /// instance shares the database), oldest first, until `lease_until`. One statement: two
    /// sweeps, or a sweep and a request, never claim the same message.
    async fn claim_due(
        &self,
        limit: u32,
        lease_until: OffsetDateTime,
        take_over: bool,
    ) -> Result<Vec<Outgoing>, StoreError> {
        let rows = sqlx::query(
            "UPDATE messages SET next_attempt_at = ?1, claimed_by = ?2
             WHERE id IN (
                 SELECT id FROM messages
                 WHERE status = 'recorded' AND next_attempt_at IS NOT NULL
                   AND (next_attempt_at <= ?3 OR (?4 AND claimed_by IS NOT ?2))
                 ORDER BY next_attempt_at LIMIT ?5)
             RETURNING id, sender, kind, legal_basis, routing_key, routed, key_id, wrapped_key, attempts",
        )
        .bind(timestamp(lease_until))
        .bind(&self.instance)
        .bind(timestamp(self.clock.now()))
        .bind(take_over)
        .bind(limit)
        .fetch_all(&self.writer)
        .await?;
        rows.iter().map(outgoing).collect()
    }

    /// Claims the publish of the unconfirmed message `id` until `lease_until`, if nobody
    /// holds it; the message to publish, if this claim won.
    async fn claim(
        &self,
        id: &MessageId,
        lease_until: OffsetDateTime,
    ) -> Result<Option<Outgoing>, StoreError> {
        let row = sqlx::query(
            "UPDATE messages SET next_attempt_at = ?, claimed_by = ?
             WHERE id = ? AND status = 'recorded' AND next_attempt_at IS NOT NULL
               AND next_attempt_at <= ?
             RETURNING id, sender, kind, legal_basis, routing_key, routed, key_id, wrapped_key, attempts",
        )
        .bind(timestamp(lease_until))
        .bind(&self.instance)
        .bind(id)
        .bind(timestamp(self.clock.now()))
        .fetch_optional(&self.writer)
        .await?;
        row.as_ref().map(outgoing).transpose()
    }

    /// Messages accepted (reached `queued`, by whoever), per adapter name.
    async fn accepted_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT adapter, accepted FROM accepted_counts ORDER BY adapter")
                .fetch_all(&self.readers)
                .await?,
        )
    }

    /// The status of the message `sender` sent under its id `client_id`.
    async fn status(
        &self,
        client_id: &MessageId,
        sender: &AgencyId,
    ) -> Result<Option<StatusView>, StoreError> {
        let sql = format!("{VIEWS} WHERE m.client_id = ? AND m.sender = ? ORDER BY h.seq");
        let rows = sqlx::query(&sql)
            .bind(client_id)
            .bind(sender)
            .fetch_all(&self.readers)
            .await?;
        Ok(views(rows)?.pop())
    }

    /// Every message (of `sender`, if given) that one of `checks` finds, oldest first.
    async fn past_due(
        &self,
        checks: &[DueCheck],
        sender: Option<&AgencyId>,
    ) -> Result<Vec<StatusView>, StoreError> {
        if checks.is_empty() {
            return Ok(Vec::new());
        }
        let conditions: Vec<String> = checks
            .iter()
            .map(|c| {
                format!(
                    "(m.kind = ? AND EXISTS (SELECT 1 FROM status_history a
                        WHERE a.message_id = m.id AND a.status = ? AND a.at < ?)
                     AND NOT EXISTS (SELECT 1 FROM status_history d
                        WHERE d.message_id = m.id AND d.status IN ({})))",
                    vec!["?"; c.met_by.len()].join(", ")
                )
            })
            .collect();
        let sql = format!(
            "{VIEWS} WHERE m.id IN (SELECT m.id FROM messages m
                 WHERE m.status NOT IN ({FINAL}) AND (? IS NULL OR m.sender = ?)
                   AND ({}))
             ORDER BY m.created_at, m.id, h.seq",
            conditions.join(" OR ")
        );
        let mut query = sqlx::query(&sql).bind(sender).bind(sender);
        for c in checks {
            query = query
                .bind(c.kind.as_str())
                .bind(c.after.as_str())
                .bind(timestamp(c.cutoff));
            for s in &c.met_by {
                query = query.bind(s.as_str());
            }
        }
        views(query.fetch_all(&self.readers).await?)
    }

    /// Every message not yet in a final status (of `sender`, if given), oldest first.
    async fn open_messages(
        &self,
        sender: Option<&AgencyId>,
    ) -> Result<Vec<StatusView>, StoreError> {
        let sql = format!(
            "{VIEWS} WHERE m.status NOT IN ({FINAL}) AND (?1 IS NULL OR m.sender = ?1)
             ORDER BY m.created_at, m.id, h.seq"
        );
        let rows = sqlx::query(&sql)
            .bind(sender)
            .fetch_all(&self.readers)
            .await?;
        views(rows)
    }
}

/// The statuses after which nothing more happens to a message.
const FINAL: &str = "'failed', 'expired', 'withdrawn'";

/// Messages with their history, one row per history entry (add the filter and the order).
const VIEWS: &str = "SELECT m.id, m.client_id, m.kind, m.recipient, m.legal_basis, m.status,
        m.erased_at, h.status AS h_status, h.at, h.reason
     FROM messages m JOIN status_history h ON h.message_id = m.id";

/// The views of rows of [`VIEWS`], ordered by message.
fn views(rows: Vec<sqlx::sqlite::SqliteRow>) -> Result<Vec<StatusView>, StoreError> {
    let mut views: Vec<StatusView> = Vec::new();
    for row in rows {
        let id: MessageId = row.try_get("id")?;
        if views.last().is_none_or(|v| v.gateway_id != id) {
            views.push(StatusView {
                message_id: row.try_get("client_id")?,
                gateway_id: id,
                kind: row.try_get("kind")?,
                recipient: row.get("recipient"),
                legal_basis: row.get("legal_basis"),
                status: row.try_get("status")?,
                history: Vec::new(),
                payload_erased_at: row.try_get("erased_at")?,
            });
        }
        views.last_mut().expect("pushed").history.push(StatusEntry {
            status: row.try_get("h_status")?,
            at: row.get("at"),
            reason: row.get("reason"),
        });
    }
    Ok(views)
}

fn outgoing(row: &sqlx::sqlite::SqliteRow) -> Result<Outgoing, StoreError> {
    let id: MessageId = row.try_get("id")?;
    // Sealed at start-up if an earlier version stored it in clear; none is erased while
    // it waits for the broker.
    let key_id: Option<String> = row.try_get("key_id")?;
    let key_id =
        key_id.ok_or_else(|| StoreError::Corrupt(format!("message {id} has no data key")))?;
    Ok(Outgoing {
        id,
        sender: row.try_get("sender")?,
        kind: row.try_get("kind")?,
        legal_basis: row.try_get("legal_basis")?,
        routing_key: row.try_get("routing_key")?,
        routed: Locked {
            key: LockedKey {
                key_id,
                wrapped: row.try_get("wrapped_key")?,
            },
            ciphertext: row.try_get("routed")?,
        },
        attempts: row.try_get("attempts")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::gateway_id;

    /// A database migrated up to (not including) the migration described as `migration`.
    async fn database_before(migration: &str) -> (std::path::PathBuf, SqlitePool) {
        let dir = std::env::temp_dir().join(format!("gw-migrate-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(dir.join("gateway.sqlite"))
            .create_if_missing(true);
        let old = SqlitePool::connect_with(options).await.unwrap();
        let mut before = sqlx::migrate!("./migrations");
        let at = before
            .migrations
            .iter()
            .position(|m| m.description.contains(migration))
            .expect("the migration exists");
        before.migrations = before.migrations[..at].to_vec().into();
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
            .fetch_all(&store.readers)
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
            recipient: org("bv"),
            kind: contract::message::Kind::NoBekymringsmelding,
            legal_basis: "no.bvl2021.13-2".into(),
            body_hash: "h2".into(),
            routing_key: "k".into(),
            routed: crate::keys::KeyRing::generate(None).lock(b"x", b"y"),
            consent_ref: None,
            subject_hashes: Vec::new(),
        };
        assert_eq!(
            store.record(&new, OffsetDateTime::now_utc()).await.unwrap(),
            Recorded::New
        );
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
        assert_eq!(done.sealed, 1);
        let routed: Vec<u8> = sqlx::query_scalar("SELECT routed FROM messages")
            .fetch_one(&store.readers)
            .await
            .unwrap();
        assert!(!routed.windows(12).any(|w| w == b"Ola Testbarn"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_changed_removed_or_reordered_audit_entry_is_found() {
        use crate::record::{Break, chain, verify};
        let dir = std::env::temp_dir().join(format!("gw-audit-{}", uuid::Uuid::new_v4()));
        let store = SqliteStore::open(&dir.join("gateway.sqlite"), Arc::default())
            .await
            .unwrap();
        let keys = crate::keys::KeyRing::generate(None);
        let key = keys.audit_key();
        for i in 0..6 {
            let (sender, client) = (AgencyId("school".into()), MessageId(uuid::Uuid::new_v4()));
            let new = NewMessage {
                id: gateway_id(&sender, &client),
                client_id: client,
                sender,
                recipient: AgencyId(format!("bv{i}")),
                kind: contract::message::Kind::NoBekymringsmelding,
                legal_basis: "no.bvl2021.13-2".into(),
                body_hash: "h".into(),
                routing_key: "queue.bv".into(),
                routed: keys.lock(b"x", b"y"),
                consent_ref: None,
                subject_hashes: Vec::new(),
            };
            store.record(&new, OffsetDateTime::now_utc()).await.unwrap();
        }
        chain(&store, &key).await.unwrap();
        assert!(verify(&store, &key).await.unwrap().breaks.is_empty());
        let tamper = |sql: &'static str| {
            let writer = store.writer.clone();
            async move { sqlx::query(sql).execute(&writer).await.unwrap() }
        };
        tamper("UPDATE audit SET recipient = 'elsewhere' WHERE seq = 2").await;
        tamper("DELETE FROM audit WHERE seq = 4").await;
        // Entries 5 and 6 swap places (contents and chains both).
        tamper("UPDATE audit SET seq = -5 WHERE seq = 5").await;
        tamper("UPDATE audit SET seq = 5 WHERE seq = 6").await;
        tamper("UPDATE audit SET seq = 6 WHERE seq = -5").await;
        let report = verify(&store, &key).await.unwrap();
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
