//! Group commit: the hot writes of many requests (recording a message, marking it queued,
//! moving its status) run in one transaction on the one writer connection, so that one
//! commit (one fsync: the database runs `synchronous = FULL`) serves them all. A request
//! waits for the commit of its batch. A batch is whatever queued up while the one before was
//! committing, up to [`MAX_BATCH`]: nothing waits for a batch to fill.

use crate::record::{NewMessage, Recorded, Status, StoreError, timestamp};
use contract::clock::Clock;
use contract::message::MessageId;
use sqlx::{Row, SqliteConnection, SqlitePool};
use std::sync::Arc;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

/// Writes in one transaction at most.
pub const MAX_BATCH: usize = 256;

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// One request's write.
pub(super) enum Write {
    Record {
        msg: Box<NewMessage>,
        hold_until: OffsetDateTime,
        reply: Reply<Recorded>,
    },
    MarkQueued {
        id: MessageId,
        reply: Reply<bool>,
    },
    Advance {
        id: MessageId,
        status: Status,
        reason: Option<String>,
        reply: Reply<bool>,
    },
}

/// A write done inside the transaction, its answer held until the commit.
enum Done {
    Recorded(Reply<Recorded>, Result<Recorded, sqlx::Error>),
    Changed(Reply<bool>, Result<bool, sqlx::Error>),
}

impl Done {
    /// Answers the request: its own result if the batch committed, else the commit's failure.
    fn answer(self, committed: &Result<(), String>) {
        let failed = |why: &String| StoreError::Batch(why.clone());
        match (self, committed) {
            (Done::Recorded(reply, result), Ok(())) => {
                let _ = reply.send(result.map_err(StoreError::from));
            }
            (Done::Changed(reply, result), Ok(())) => {
                let _ = reply.send(result.map_err(StoreError::from));
            }
            (Done::Recorded(reply, _), Err(why)) => {
                let _ = reply.send(Err(failed(why)));
            }
            (Done::Changed(reply, _), Err(why)) => {
                let _ = reply.send(Err(failed(why)));
            }
        }
    }
}

/// The writer task's inbox.
#[derive(Clone)]
pub(super) struct Batcher(mpsc::Sender<Write>);

/// What the writes need besides their own values.
struct Writer {
    pool: SqlitePool,
    instance: String,
    clock: Arc<Clock>,
}

impl Batcher {
    /// Starts the writer task on `pool` (one connection), for the instance `instance`.
    pub fn spawn(pool: SqlitePool, instance: String, clock: Arc<Clock>) -> Self {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let writer = Writer {
            pool,
            instance,
            clock,
        };
        tokio::spawn(writer.run(rx));
        Self(tx)
    }

    /// Queues a write and waits for its answer (after its batch committed).
    pub async fn submit<T>(&self, write: impl FnOnce(Reply<T>) -> Write) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.0
            .send(write(reply))
            .await
            .map_err(|_| StoreError::Batch("the writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Batch("the writer dropped the write".into()))?
    }
}

impl Writer {
    async fn run(self, mut rx: mpsc::Receiver<Write>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            self.commit(std::mem::take(&mut batch)).await;
        }
    }

    /// Runs `batch` in one transaction and answers each write.
    async fn commit(&self, batch: Vec<Write>) {
        let mut done = Vec::with_capacity(batch.len());
        let committed = async {
            // IMMEDIATE: the write lock at once, so another process sharing the file waits
            // (busy timeout) rather than failing to upgrade a read.
            let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
            for write in batch {
                done.push(self.apply(&mut tx, write).await);
            }
            tx.commit().await
        }
        .await
        .map_err(|e| e.to_string());
        if let Err(error) = &committed {
            tracing::warn!(%error, writes = done.len(), "a batch of writes did not commit");
        }
        for write in done {
            write.answer(&committed);
        }
    }

    async fn apply(&self, conn: &mut SqliteConnection, write: Write) -> Done {
        let now = timestamp(self.clock.now());
        match write {
            Write::Record {
                msg,
                hold_until,
                reply,
            } => {
                let result = record(conn, &msg, hold_until, &now, &self.instance).await;
                Done::Recorded(reply, result)
            }
            Write::MarkQueued { id, reply } => {
                Done::Changed(reply, mark_queued(conn, &id, &now).await)
            }
            Write::Advance {
                id,
                status,
                reason,
                reply,
            } => {
                let result = advance(conn, &id, status, reason.as_deref(), &now).await;
                Done::Changed(reply, result)
            }
        }
    }
}

async fn record(
    conn: &mut SqliteConnection,
    msg: &NewMessage,
    hold_until: OffsetDateTime,
    at: &str,
    instance: &str,
) -> Result<Recorded, sqlx::Error> {
    let inserted = sqlx::query(
        "INSERT INTO messages (id, client_id, sender, recipient, kind, legal_basis, body_hash, routing_key, routed, key_id, wrapped_key, status, created_at, updated_at, next_attempt_at, consent_ref, claimed_by, subject_hashes)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
    )
    .bind(msg.id)
    .bind(msg.client_id)
    .bind(&msg.sender)
    .bind(&msg.recipient)
    .bind(msg.kind)
    .bind(&msg.legal_basis)
    .bind(&msg.body_hash)
    .bind(&msg.routing_key)
    .bind(&msg.routed.ciphertext)
    .bind(&msg.routed.key.key_id)
    .bind(&msg.routed.key.wrapped)
    .bind(Status::Recorded.as_str())
    .bind(at)
    .bind(at)
    .bind(timestamp(hold_until))
    .bind(&msg.consent_ref)
    .bind(instance)
    .bind(serde_json::to_string(&msg.subject_hashes).expect("hashes serialise"))
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if inserted {
        return Ok(Recorded::New);
    }
    let row =
        sqlx::query("SELECT body_hash, status FROM messages WHERE sender = ? AND client_id = ?")
            .bind(&msg.sender)
            .bind(msg.client_id)
            .fetch_one(&mut *conn)
            .await?;
    Ok(Recorded::Existing {
        body_hash: row.try_get("body_hash")?,
        status: row.try_get("status")?,
    })
}

async fn mark_queued(
    conn: &mut SqliteConnection,
    id: &MessageId,
    at: &str,
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query(
        "UPDATE messages SET status = ?, updated_at = ?, next_attempt_at = NULL
         WHERE id = ? AND status = ?",
    )
    .bind(Status::Queued.as_str())
    .bind(at)
    .bind(id)
    .bind(Status::Recorded.as_str())
    .execute(conn)
    .await?;
    Ok(changed.rows_affected() == 1)
}

async fn advance(
    conn: &mut SqliteConnection,
    id: &MessageId,
    status: Status,
    reason: Option<&str>,
    at: &str,
) -> Result<bool, sqlx::Error> {
    if status.is_answer() {
        return answer(conn, id, status, reason, at).await;
    }
    let from = status.follows();
    if from.is_empty() {
        return Ok(false);
    }
    let id = id.to_string();
    changed_one(
        conn,
        "UPDATE messages SET status = ?, status_reason = ?, updated_at = ?, next_attempt_at = NULL
         WHERE id = ? AND status IN ({statuses})",
        &[Some(status.as_str()), reason, Some(at), Some(&id)],
        from,
    )
    .await
}

/// Writes an answer into the history of a message that reached its recipient, once (the
/// unique index on answers keeps a repeated one out).
async fn answer(
    conn: &mut SqliteConnection,
    id: &MessageId,
    status: Status,
    reason: Option<&str>,
    at: &str,
) -> Result<bool, sqlx::Error> {
    let id = id.to_string();
    changed_one(
        conn,
        "INSERT OR IGNORE INTO status_history (message_id, status, at, reason)
         SELECT id, ?, ?, ? FROM messages WHERE id = ? AND status IN ({statuses})",
        &[Some(status.as_str()), Some(at), reason, Some(&id)],
        Status::ANSWERED_IN,
    )
    .await
}

/// Runs `sql` with `binds`, then `statuses` for its `{statuses}` list; whether it changed
/// one row.
async fn changed_one(
    conn: &mut SqliteConnection,
    sql: &str,
    binds: &[Option<&str>],
    statuses: &[Status],
) -> Result<bool, sqlx::Error> {
    let sql = sql.replace("{statuses}", &vec!["?"; statuses.len()].join(", "));
    let mut query = sqlx::query(&sql);
    for value in binds {
        query = query.bind(*value);
    }
    for s in statuses {
        query = query.bind(s.as_str());
    }
    Ok(query.execute(conn).await?.rows_affected() == 1)
}
