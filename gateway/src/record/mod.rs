//! Record: the gateway's state (messages, their status history, the outbox, the audit
//! trail) in SQLite. Everything the rest of the gateway asks of the database goes through
//! [`Store`], so that a PostgreSQL store can take its place.
//!
//! Writes go through one connection (SQLite has one writer; several connections would only
//! wait on each other's locks); reads have a pool of their own. Recording a message and
//! marking it queued are one statement each: triggers write the status history and the
//! audit trail in the same transaction.

mod clock;
mod consents;

pub use clock::{now, parse_timestamp, timestamp};
pub use consents::{Affected, ConsentRecorded, Refused, Withdrawal};

use serde::Serialize;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};
use std::path::{Path, PathBuf};
use std::time::Duration;
use time::OffsetDateTime;

/// Where a message stands, as the sender sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Recorded by the gateway; the broker has not confirmed it yet.
    Recorded,
    /// Confirmed by the broker: on its way to the recipient's adapter.
    Queued,
    /// Handed to the recipient's system.
    Delivered,
    /// Stopped before delivery: the consent it was sent under was withdrawn.
    Withdrawn,
    /// The recipient's system confirmed it has the message (a `mottatt` receipt).
    Received,
    /// The recipient gave feedback (a `tilbakemelding` receipt).
    FeedbackGiven,
    /// Delivery failed for good, or the recipient's system reported a failure (`feilet`).
    Failed,
    /// Not delivered within the retry budget.
    Expired,
}

impl Status {
    /// The status's name, as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recorded => "recorded",
            Self::Queued => "queued",
            Self::Delivered => "delivered",
            Self::Withdrawn => "withdrawn",
            Self::Received => "received",
            Self::FeedbackGiven => "feedback_given",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }

    /// Whether nothing more happens to a message in this status.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::FeedbackGiven | Self::Failed | Self::Expired | Self::Withdrawn
        )
    }

    /// The statuses a message may move to this one from (later events never undo earlier
    /// ones; a failure ends the story).
    pub fn follows(self) -> &'static [Status] {
        use Status::*;
        match self {
            Recorded => &[],
            Queued => &[Recorded],
            // From failed or expired too: an operator replayed it.
            Delivered => &[Recorded, Queued, Failed, Expired],
            Received => &[Recorded, Queued, Delivered],
            FeedbackGiven => &[Recorded, Queued, Delivered, Received],
            Failed => &[Recorded, Queued, Delivered],
            Expired => &[Recorded, Queued],
            Withdrawn => &[Recorded, Queued],
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "recorded" => Ok(Self::Recorded),
            "queued" => Ok(Self::Queued),
            "delivered" => Ok(Self::Delivered),
            "withdrawn" => Ok(Self::Withdrawn),
            "received" => Ok(Self::Received),
            "feedback_given" => Ok(Self::FeedbackGiven),
            "failed" => Ok(Self::Failed),
            "expired" => Ok(Self::Expired),
            other => Err(StoreError::Corrupt(format!("unknown status {other:?}"))),
        }
    }
}

/// The gateway's id of a message: a UUIDv5 of the sending organisation and the id the
/// sender chose. The same pair always gives the same id (a repeated request finds its
/// message); two senders' ids never give the same one.
pub fn gateway_id(sender: &str, client_id: &str) -> String {
    const NAMESPACE: uuid::Uuid = uuid::uuid!("5b0e8f5e-2d0a-4c1e-9a57-8e2f3c1d7a40");
    uuid::Uuid::new_v5(&NAMESPACE, format!("{sender}\n{client_id}").as_bytes()).to_string()
}

/// A message to record: ids, kinds and tags, and the routed bytes.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// The gateway's id ([`gateway_id`]).
    pub id: String,
    /// The id the sender chose (its idempotency key, with the sender).
    pub client_id: String,
    pub sender: String,
    pub recipient: String,
    pub kind: String,
    pub legal_basis: String,
    pub body_hash: String,
    pub routing_key: String,
    pub routed: Vec<u8>,
    /// The consent cited, if any.
    pub consent_ref: Option<String>,
}

impl NewMessage {
    /// The message as the outbox would publish it.
    pub fn outgoing(&self) -> Outgoing {
        Outgoing {
            id: self.id.clone(),
            sender: self.sender.clone(),
            kind: self.kind.clone(),
            legal_basis: self.legal_basis.clone(),
            routing_key: self.routing_key.clone(),
            routed: self.routed.clone(),
            attempts: 0,
        }
    }
}

/// The outcome of recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// The message is new and now recorded, with its outbox entry.
    New,
    /// The sender recorded a message with this id before.
    Existing { body_hash: String, status: Status },
}

/// A recorded message that the broker has not confirmed.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub id: String,
    pub sender: String,
    pub kind: String,
    pub legal_basis: String,
    pub routing_key: String,
    pub routed: Vec<u8>,
    pub attempts: i64,
}

/// One entry of a status history.
#[derive(Debug, Clone, Serialize)]
pub struct StatusEntry {
    pub status: Status,
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What the sender may see of a message.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    /// The sender's id of the message.
    pub message_id: String,
    /// The gateway's id: the one the recipient's system, receipts and operators know.
    pub gateway_id: String,
    pub kind: String,
    pub recipient: String,
    pub legal_basis: String,
    pub status: Status,
    pub history: Vec<StatusEntry>,
    /// Deadlines it has missed (filled in by the API, from the deadlines configuration).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overdue: Vec<crate::deadlines::Missed>,
}

/// A failure of the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {source}")]
    Open { path: PathBuf, source: sqlx::Error },
    #[error("cannot migrate database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("database holds an unexpected value: {0}")]
    Corrupt(String),
}

/// The gateway's database.
#[derive(Clone)]
pub struct Store {
    writer: SqlitePool,
    readers: SqlitePool,
    /// This gateway instance, as the holder of the publish claims it takes.
    instance: String,
}

impl Store {
    /// Opens (creating and migrating if needed) the SQLite database at `path`.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let open_error = |source| StoreError::Open {
            path: path.into(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| open_error(sqlx::Error::Io(e)))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
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
        Ok(Self {
            writer,
            readers,
            instance: uuid::Uuid::new_v4().to_string(),
        })
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.readers).await?;
        Ok(())
    }

    /// Records a new message, with its first status and its audit entry, its publish
    /// claimed by this instance until `hold_until` (then the outbox may take it); or reports
    /// the message its sender recorded before under this id.
    pub async fn record(
        &self,
        msg: &NewMessage,
        hold_until: OffsetDateTime,
    ) -> Result<Recorded, StoreError> {
        let at = timestamp(now());
        let inserted = sqlx::query(
            "INSERT INTO messages (id, client_id, sender, recipient, kind, legal_basis, body_hash, routing_key, routed, status, created_at, updated_at, next_attempt_at, consent_ref, claimed_by)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(&msg.id)
        .bind(&msg.client_id)
        .bind(&msg.sender)
        .bind(&msg.recipient)
        .bind(&msg.kind)
        .bind(&msg.legal_basis)
        .bind(&msg.body_hash)
        .bind(&msg.routing_key)
        .bind(&msg.routed)
        .bind(Status::Recorded.as_str())
        .bind(&at)
        .bind(&at)
        .bind(timestamp(hold_until))
        .bind(&msg.consent_ref)
        .bind(&self.instance)
        .execute(&self.writer)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            return Ok(Recorded::New);
        }
        let row = sqlx::query(
            "SELECT body_hash, status FROM messages WHERE sender = ? AND client_id = ?",
        )
        .bind(&msg.sender)
        .bind(&msg.client_id)
        .fetch_one(&self.writer)
        .await?;
        Ok(Recorded::Existing {
            body_hash: row.get("body_hash"),
            status: Status::parse(row.get("status"))?,
        })
    }

    /// Marks a message as confirmed by the broker, which takes it out of the outbox.
    /// Returns false if it was queued already.
    pub async fn mark_queued(&self, id: &str) -> Result<bool, StoreError> {
        let changed = sqlx::query(
            "UPDATE messages SET status = ?, updated_at = ?, next_attempt_at = NULL
             WHERE id = ? AND status = ?",
        )
        .bind(Status::Queued.as_str())
        .bind(timestamp(now()))
        .bind(id)
        .bind(Status::Recorded.as_str())
        .execute(&self.writer)
        .await?
        .rows_affected()
            == 1;
        Ok(changed)
    }

    /// Moves a message to `status` (with a value-free `reason`) if it may move there from
    /// where it is; returns whether it moved.
    pub async fn advance(
        &self,
        id: &str,
        status: Status,
        reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        let from = status.follows();
        if from.is_empty() {
            return Ok(false);
        }
        let placeholders = vec!["?"; from.len()].join(", ");
        let sql = format!(
            "UPDATE messages SET status = ?, status_reason = ?, updated_at = ?, next_attempt_at = NULL
             WHERE id = ? AND status IN ({placeholders})"
        );
        let mut query = sqlx::query(&sql)
            .bind(status.as_str())
            .bind(reason)
            .bind(timestamp(now()))
            .bind(id);
        for s in from {
            query = query.bind(s.as_str());
        }
        Ok(query.execute(&self.writer).await?.rows_affected() == 1)
    }

    /// Counts a failed attempt and puts the next one off until `until`.
    pub async fn defer(&self, id: &str, until: OffsetDateTime) -> Result<(), StoreError> {
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
    pub async fn claim_due(
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
             RETURNING id, sender, kind, legal_basis, routing_key, routed, attempts",
        )
        .bind(timestamp(lease_until))
        .bind(&self.instance)
        .bind(timestamp(now()))
        .bind(take_over)
        .bind(limit)
        .fetch_all(&self.writer)
        .await?;
        Ok(rows.iter().map(outgoing).collect())
    }

    /// Claims the publish of the unconfirmed message `id` until `lease_until`, if nobody
    /// holds it; the message to publish, if this claim won.
    pub async fn claim(
        &self,
        id: &str,
        lease_until: OffsetDateTime,
    ) -> Result<Option<Outgoing>, StoreError> {
        let row = sqlx::query(
            "UPDATE messages SET next_attempt_at = ?, claimed_by = ?
             WHERE id = ? AND status = 'recorded' AND next_attempt_at IS NOT NULL
               AND next_attempt_at <= ?
             RETURNING id, sender, kind, legal_basis, routing_key, routed, attempts",
        )
        .bind(timestamp(lease_until))
        .bind(&self.instance)
        .bind(id)
        .bind(timestamp(now()))
        .fetch_optional(&self.writer)
        .await?;
        Ok(row.as_ref().map(outgoing))
    }

    /// Messages accepted (reached `queued`, by whoever), per adapter name.
    pub async fn accepted_counts(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(
            sqlx::query_as("SELECT adapter, accepted FROM accepted_counts ORDER BY adapter")
                .fetch_all(&self.readers)
                .await?,
        )
    }

    /// The status of the message `sender` sent under its id `client_id`.
    pub async fn status(
        &self,
        client_id: &str,
        sender: &str,
    ) -> Result<Option<StatusView>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT id, kind, recipient, legal_basis, status FROM messages WHERE client_id = ? AND sender = ?",
        )
        .bind(client_id)
        .bind(sender)
        .fetch_optional(&self.readers)
        .await?
        else {
            return Ok(None);
        };
        let id: String = row.get("id");
        let history = sqlx::query(
            "SELECT status, at, reason FROM status_history WHERE message_id = ? ORDER BY seq",
        )
        .bind(&id)
        .fetch_all(&self.readers)
        .await?
        .iter()
        .map(|h| {
            Ok(StatusEntry {
                status: Status::parse(h.get("status"))?,
                at: h.get("at"),
                reason: h.get("reason"),
            })
        })
        .collect::<Result<_, StoreError>>()?;
        Ok(Some(StatusView {
            message_id: client_id.into(),
            gateway_id: id,
            kind: row.get("kind"),
            recipient: row.get("recipient"),
            legal_basis: row.get("legal_basis"),
            status: Status::parse(row.get("status"))?,
            history,
            overdue: Vec::new(),
        }))
    }

    /// Every message not yet in a final status (of `sender`, if given), oldest first.
    pub async fn open_messages(&self, sender: Option<&str>) -> Result<Vec<StatusView>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.id, m.client_id, m.kind, m.recipient, m.legal_basis, m.status, h.status AS h_status, h.at, h.reason
             FROM messages m JOIN status_history h ON h.message_id = m.id
             WHERE m.status NOT IN ('feedback_given', 'failed', 'expired', 'withdrawn')
               AND (?1 IS NULL OR m.sender = ?1)
             ORDER BY m.created_at, m.id, h.seq",
        )
        .bind(sender)
        .fetch_all(&self.readers)
        .await?;
        let mut views: Vec<StatusView> = Vec::new();
        for row in rows {
            let id: String = row.get("id");
            if views.last().is_none_or(|v| v.gateway_id != id) {
                views.push(StatusView {
                    message_id: row.get("client_id"),
                    gateway_id: id,
                    kind: row.get("kind"),
                    recipient: row.get("recipient"),
                    legal_basis: row.get("legal_basis"),
                    status: Status::parse(row.get("status"))?,
                    history: Vec::new(),
                    overdue: Vec::new(),
                });
            }
            views.last_mut().expect("pushed").history.push(StatusEntry {
                status: Status::parse(row.get("h_status"))?,
                at: row.get("at"),
                reason: row.get("reason"),
            });
        }
        Ok(views)
    }
}

fn outgoing(row: &sqlx::sqlite::SqliteRow) -> Outgoing {
    Outgoing {
        id: row.get("id"),
        sender: row.get("sender"),
        kind: row.get("kind"),
        legal_basis: row.get("legal_basis"),
        routing_key: row.get("routing_key"),
        routed: row.get("routed"),
        attempts: row.get("attempts"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_db() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("gw-store-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("gateway.sqlite")
    }

    fn message(client_id: &str) -> NewMessage {
        NewMessage {
            id: gateway_id("school", client_id),
            client_id: client_id.into(),
            sender: "school".into(),
            recipient: "bv".into(),
            kind: "no.bekymringsmelding".into(),
            legal_basis: "no.bvl2021.13-2".into(),
            body_hash: "h".into(),
            routing_key: "queue.bv".into(),
            routed: vec![0],
            consent_ref: None,
        }
    }

    #[tokio::test]
    async fn two_instances_racing_for_a_publish_never_both_win() {
        let path = temp_db();
        let (a, b) = (
            Store::open(&path).await.unwrap(),
            Store::open(&path).await.unwrap(),
        );
        let lease = now() + time::Duration::seconds(30);
        for round in 0..20 {
            // Recorded with a claim that has already run out, as after a failed publish.
            let msg = message(&format!("m-{round}"));
            a.record(&msg, now() - time::Duration::seconds(1))
                .await
                .unwrap();
            let (x, y) = tokio::join!(a.claim(&msg.id, lease), b.claim(&msg.id, lease));
            let winners = [x.unwrap(), y.unwrap()]
                .iter()
                .filter(|c| c.is_some())
                .count();
            assert_eq!(winners, 1, "request against request, round {round}");
            // A sweep against a request.
            let msg = message(&format!("n-{round}"));
            a.record(&msg, now() - time::Duration::seconds(1))
                .await
                .unwrap();
            let (x, y) = tokio::join!(a.claim_due(10, lease, false), b.claim(&msg.id, lease));
            let swept = x.unwrap().iter().filter(|m| m.id == msg.id).count();
            assert_eq!(
                swept + usize::from(y.unwrap().is_some()),
                1,
                "sweep against request"
            );
        }
        // At start-up a sweep takes over another instance's claims, never its own.
        let mine = message("mine");
        b.record(&mine, now() + time::Duration::seconds(30))
            .await
            .unwrap();
        let theirs = message("theirs");
        a.record(&theirs, now() + time::Duration::seconds(30))
            .await
            .unwrap();
        let taken: Vec<String> = b
            .claim_due(100, lease, true)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect();
        assert!(
            taken.contains(&theirs.id) && !taken.contains(&mine.id),
            "{taken:?}"
        );
    }

    #[tokio::test]
    async fn a_later_status_implies_queued_and_every_accepted_message_is_counted() {
        let store = Store::open(&temp_db()).await.unwrap();
        let early = message("early");
        store.record(&early, now()).await.unwrap();
        // The adapter's report arrives before the gateway marks the message queued.
        assert!(
            store
                .advance(&early.id, Status::Delivered, None)
                .await
                .unwrap()
        );
        assert!(!store.mark_queued(&early.id).await.unwrap());
        let view = store.status("early", "school").await.unwrap().unwrap();
        let statuses: Vec<Status> = view.history.iter().map(|h| h.status).collect();
        assert_eq!(
            statuses,
            [Status::Recorded, Status::Queued, Status::Delivered]
        );
        let normal = message("normal");
        store.record(&normal, now()).await.unwrap();
        assert!(store.mark_queued(&normal.id).await.unwrap());
        let withdrawn = message("withdrawn");
        store.record(&withdrawn, now()).await.unwrap();
        assert!(
            store
                .advance(&withdrawn.id, Status::Withdrawn, None)
                .await
                .unwrap()
        );
        assert_eq!(
            store.accepted_counts().await.unwrap(),
            [("queue".to_owned(), 2)]
        );
    }

    /// A database migrated up to (not including) the migration described as `migration`.
    async fn database_before(migration: &str) -> (std::path::PathBuf, SqlitePool) {
        let dir = std::env::temp_dir().join(format!("gw-migrate-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let options = SqliteConnectOptions::new()
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
        let store = Store::open(&dir.join("gateway.sqlite")).await.unwrap();
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
        let id = "6f1c2f0e-8a4b-4c55-9d6e-0b7a1f2c3d4e";
        sqlx::query(
            "INSERT INTO messages (id, sender, recipient, kind, legal_basis, body_hash, routing_key, routed, status, created_at, updated_at)
             VALUES (?, 'school', 'bv', 'no.bekymringsmelding', 'no.bvl2021.13-2', 'h', 'k', x'00', 'queued', 't', 't')",
        )
        .bind(id)
        .execute(&old)
        .await
        .unwrap();
        old.close().await;

        let store = Store::open(&path).await.unwrap();
        let view = store
            .status(id, "school")
            .await
            .unwrap()
            .expect("found by its id");
        assert_eq!(
            (view.message_id.as_str(), view.gateway_id.as_str()),
            (id, id)
        );
        assert!(store.status(id, "another").await.unwrap().is_none());
        // The same id from another sender is a message of its own.
        let new = NewMessage {
            id: gateway_id("another", id),
            client_id: id.into(),
            sender: "another".into(),
            recipient: "bv".into(),
            kind: "no.bekymringsmelding".into(),
            legal_basis: "no.bvl2021.13-2".into(),
            body_hash: "h2".into(),
            routing_key: "k".into(),
            routed: vec![0],
            consent_ref: None,
        };
        assert_eq!(store.record(&new, now()).await.unwrap(), Recorded::New);
        let _ = std::fs::remove_dir_all(dir);
    }
}
