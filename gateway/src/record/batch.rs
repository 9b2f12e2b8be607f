//! Group commit: the hot writes of many requests (recording a message, marking it queued,
//! moving its status) run in one transaction, so that one commit (one fsync: SQLite runs
//! `synchronous = FULL`, PostgreSQL `synchronous_commit = on`) serves them all. A request
//! waits for the commit of its batch. A batch is whatever queued up while the one before was
//! committing, up to [`MAX_BATCH`]: nothing waits for a batch to fill. The statements are
//! the same in every backend (`$n` parameters, which SQLite reads too); a backend only runs
//! them ([`Transact`]).

use crate::record::{NewMessage, Recorded, Status, StoreError, timestamp};
use async_trait::async_trait;
use contract::clock::Clock;
use contract::message::MessageId;
use std::sync::Arc;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

/// Writes in one transaction at most.
pub const MAX_BATCH: usize = 256;

/// A value bound to a statement's parameter.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Text(Option<&'a str>),
    Bytes(&'a [u8]),
}

/// What a backend does for the batches: a transaction, and statements run in it.
#[async_trait]
pub trait Transact: Send + Sync + 'static {
    type Tx: Send;
    /// Begins a batch's transaction.
    async fn begin(&self) -> Result<Self::Tx, sqlx::Error>;
    /// Commits it.
    async fn commit(&self, tx: Self::Tx) -> Result<(), sqlx::Error>;
    /// Runs `sql` with `values` for its parameters; how many rows it changed.
    async fn execute(
        &self,
        tx: &mut Self::Tx,
        sql: &str,
        values: &[Value<'_>],
    ) -> Result<u64, sqlx::Error>;
    /// Runs `sql` with `values`; the text columns of the one row it finds.
    async fn texts(
        &self,
        tx: &mut Self::Tx,
        sql: &str,
        values: &[Value<'_>],
    ) -> Result<Vec<String>, sqlx::Error>;
}

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// One request's write.
pub enum Write {
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
    Recorded(Reply<Recorded>, Result<Recorded, StoreError>),
    Changed(Reply<bool>, Result<bool, StoreError>),
}

impl Done {
    /// Answers the request: its own result if the batch committed, else the commit's failure.
    fn answer(self, committed: &Result<(), String>) {
        let failed = |why: &String| StoreError::Batch(why.clone());
        match (self, committed) {
            (Done::Recorded(reply, result), Ok(())) => {
                let _ = reply.send(result);
            }
            (Done::Changed(reply, result), Ok(())) => {
                let _ = reply.send(result);
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
pub struct Batcher(mpsc::Sender<Write>);

/// What the writes need besides their own values.
struct Writer<T> {
    backend: T,
    instance: String,
    clock: Arc<Clock>,
}

impl Batcher {
    /// Starts the writer task on `backend`, for the instance `instance`.
    pub fn spawn(backend: impl Transact, instance: String, clock: Arc<Clock>) -> Self {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let writer = Writer {
            backend,
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

impl<T: Transact> Writer<T> {
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
            let mut tx = self.backend.begin().await?;
            for write in batch {
                done.push(self.apply(&mut tx, write).await);
            }
            self.backend.commit(tx).await
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

    async fn apply(&self, tx: &mut T::Tx, write: Write) -> Done {
        let now = timestamp(self.clock.now());
        let on = Statements {
            backend: &self.backend,
            at: &now,
        };
        match write {
            Write::Record {
                msg,
                hold_until,
                reply,
            } => {
                let result = on.record(tx, &msg, hold_until, &self.instance).await;
                Done::Recorded(reply, result)
            }
            Write::MarkQueued { id, reply } => Done::Changed(reply, on.mark_queued(tx, &id).await),
            Write::Advance {
                id,
                status,
                reason,
                reply,
            } => {
                let result = on.advance(tx, &id, status, reason.as_deref()).await;
                Done::Changed(reply, result)
            }
        }
    }
}

/// The hot writes, on a backend, at the time `at`.
struct Statements<'a, T> {
    backend: &'a T,
    at: &'a str,
}

impl<T: Transact> Statements<'_, T> {
    async fn record(
        &self,
        tx: &mut T::Tx,
        msg: &NewMessage,
        hold_until: OffsetDateTime,
        instance: &str,
    ) -> Result<Recorded, StoreError> {
        let (id, client_id) = (msg.id.to_string(), msg.client_id.to_string());
        let hold_until = timestamp(hold_until);
        let hashes = serde_json::to_string(&msg.subject_hashes).expect("hashes serialise");
        let values = [
            Value::Text(Some(&id)),
            Value::Text(Some(&client_id)),
            Value::Text(Some(&msg.sender.0)),
            Value::Text(Some(&msg.recipient.0)),
            Value::Text(Some(msg.kind.as_str())),
            Value::Text(Some(&msg.legal_basis)),
            Value::Text(Some(&msg.body_hash)),
            Value::Text(Some(&msg.routing_key)),
            Value::Bytes(&msg.routed.ciphertext),
            Value::Text(Some(&msg.routed.key.key_id)),
            Value::Bytes(&msg.routed.key.wrapped),
            Value::Text(Some(Status::Recorded.as_str())),
            Value::Text(Some(self.at)),
            Value::Text(Some(&hold_until)),
            Value::Text(msg.consent_ref.as_deref()),
            Value::Text(Some(instance)),
            Value::Text(Some(&hashes)),
        ];
        let inserted = self
            .backend
            .execute(
                tx,
                "INSERT INTO messages (id, client_id, sender, recipient, kind, legal_basis, body_hash, routing_key, routed, key_id, wrapped_key, status, created_at, updated_at, next_attempt_at, consent_ref, claimed_by, subject_hashes)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15, $16, $17)
                 ON CONFLICT DO NOTHING",
                &values,
            )
            .await?
            == 1;
        if inserted {
            return Ok(Recorded::New);
        }
        let existing = self
            .backend
            .texts(
                tx,
                "SELECT body_hash, status FROM messages WHERE sender = $1 AND client_id = $2",
                &[
                    Value::Text(Some(&msg.sender.0)),
                    Value::Text(Some(&client_id)),
                ],
            )
            .await?;
        let [body_hash, status] = <[String; 2]>::try_from(existing)
            .map_err(|_| StoreError::Corrupt("the existing message's row".into()))?;
        Ok(Recorded::Existing {
            body_hash,
            status: status
                .parse()
                .map_err(|_| StoreError::Corrupt(format!("status {status}")))?,
        })
    }

    async fn mark_queued(&self, tx: &mut T::Tx, id: &MessageId) -> Result<bool, StoreError> {
        let id = id.to_string();
        let changed = self
            .backend
            .execute(
                tx,
                "UPDATE messages SET status = $1, updated_at = $2, next_attempt_at = NULL
                 WHERE id = $3 AND status = $4",
                &[
                    Value::Text(Some(Status::Queued.as_str())),
                    Value::Text(Some(self.at)),
                    Value::Text(Some(&id)),
                    Value::Text(Some(Status::Recorded.as_str())),
                ],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn advance(
        &self,
        tx: &mut T::Tx,
        id: &MessageId,
        status: Status,
        reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        if status.is_answer() {
            return self.answer(tx, id, status, reason).await;
        }
        let from = status.follows();
        if from.is_empty() {
            return Ok(false);
        }
        let id = id.to_string();
        self.changed_one(
            tx,
            "UPDATE messages SET status = $1, status_reason = $2, updated_at = $3, next_attempt_at = NULL
             WHERE id = $4 AND status IN ({statuses})",
            &[Some(status.as_str()), reason, Some(self.at), Some(&id)],
            from,
        )
        .await
    }

    /// Writes an answer into the history of a message that reached its recipient, once (the
    /// unique index on answers keeps a repeated one out).
    async fn answer(
        &self,
        tx: &mut T::Tx,
        id: &MessageId,
        status: Status,
        reason: Option<&str>,
    ) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.changed_one(
            tx,
            "INSERT INTO status_history (message_id, status, at, reason)
             SELECT id, $1, $2, $3 FROM messages WHERE id = $4 AND status IN ({statuses})
             ON CONFLICT DO NOTHING",
            &[Some(status.as_str()), Some(self.at), reason, Some(&id)],
            Status::ANSWERED_IN,
        )
        .await
    }

    /// Runs `sql` with `binds`, then `statuses` for its `{statuses}` list; whether it changed
    /// one row.
    async fn changed_one(
        &self,
        tx: &mut T::Tx,
        sql: &str,
        binds: &[Option<&str>],
        statuses: &[Status],
    ) -> Result<bool, StoreError> {
        let list: Vec<String> = (0..statuses.len())
            .map(|i| format!("${}", binds.len() + i + 1))
            .collect();
        let sql = sql.replace("{statuses}", &list.join(", "));
        let values: Vec<Value> = binds
            .iter()
            .map(|v| Value::Text(*v))
            .chain(statuses.iter().map(|s| Value::Text(Some(s.as_str()))))
            .collect();
        Ok(self.backend.execute(tx, &sql, &values).await? == 1)
    }
}
