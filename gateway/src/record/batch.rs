//! Group commit: the hot writes of many requests (recording a message, marking it queued,
//! moving its status) run in one transaction, so that one commit (one fsync: SQLite runs
//! `synchronous = FULL`, PostgreSQL `synchronous_commit = on`) serves them all. A request
//! waits for the commit of its batch. A batch is whatever queued up while the one before was
//! committing, up to [`MAX_BATCH`]: nothing waits for a batch to fill. A batch is a few
//! statements, not one per write: its records in one multi-row `INSERT`, its queued marks
//! in one `UPDATE`, its status moves in one per status (each `RETURNING` what it changed,
//! which answers each write). The statements are the same in every backend (`$n`
//! parameters, which SQLite reads too); a backend only runs them ([`Transact`]).

use crate::record::{NewMessage, Recorded, Status, StoreError, timestamp};
use async_trait::async_trait;
use contract::clock::Clock;
use contract::message::MessageId;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

/// Writes in one transaction at most.
pub const MAX_BATCH: usize = 256;

/// Messages recorded by one statement at most (17 parameters each).
const ROWS: usize = 64;

/// Ids one statement changes at most.
const IDS: usize = 500;

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
    /// Runs `sql` with `values` for its parameters; the rows it returns, their columns as
    /// text.
    async fn rows(
        &self,
        tx: &mut Self::Tx,
        sql: &str,
        values: &[Value<'_>],
    ) -> Result<Vec<Vec<String>>, sqlx::Error>;
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

/// The writes of a batch sorted into what one statement can do for many: the records, the
/// queued marks, and the moves to one status for one reason (in the order each first
/// came). Writes that race have no order of their own; this is one order they could have
/// come in.
#[derive(Default)]
struct Sorted {
    records: Vec<(Box<NewMessage>, OffsetDateTime)>,
    recorded: Vec<Reply<Recorded>>,
    queued: Vec<MessageId>,
    marked: Vec<Reply<bool>>,
    moves: Vec<Move>,
}

/// Moves of messages to one status for one reason.
struct Move {
    status: Status,
    reason: Option<String>,
    ids: Vec<MessageId>,
    replies: Vec<Reply<bool>>,
}

impl Sorted {
    fn of(batch: Vec<Write>) -> Self {
        let mut sorted = Self::default();
        for write in batch {
            match write {
                Write::Record {
                    msg,
                    hold_until,
                    reply,
                } => {
                    sorted.records.push((msg, hold_until));
                    sorted.recorded.push(reply);
                }
                Write::MarkQueued { id, reply } => {
                    sorted.queued.push(id);
                    sorted.marked.push(reply);
                }
                Write::Advance {
                    id,
                    status,
                    reason,
                    reply,
                } => {
                    let at = sorted
                        .moves
                        .iter()
                        .position(|m| m.status == status && m.reason == reason);
                    let at = at.unwrap_or_else(|| {
                        sorted.moves.push(Move {
                            status,
                            reason,
                            ids: Vec::new(),
                            replies: Vec::new(),
                        });
                        sorted.moves.len() - 1
                    });
                    sorted.moves[at].ids.push(id);
                    sorted.moves[at].replies.push(reply);
                }
            }
        }
        sorted
    }

    /// The replies, each with its answer.
    fn answer(self, answers: Answers) {
        send(self.recorded, answers.recorded);
        send(self.marked, answers.marked);
        for (m, moved) in self.moves.into_iter().zip(answers.moved) {
            send(m.replies, moved);
        }
    }

    /// Every reply, with the failure of the batch.
    fn fail(self, error: &StoreError) {
        let failed = || StoreError::Batch {
            why: error.to_string(),
            unavailable: error.is_unavailable(),
        };
        for reply in self.recorded {
            let _ = reply.send(Err(failed()));
        }
        let moved = self.moves.into_iter().flat_map(|m| m.replies);
        for reply in self.marked.into_iter().chain(moved) {
            let _ = reply.send(Err(failed()));
        }
    }
}

/// What a committed batch answers, in the order of [`Sorted`].
struct Answers {
    recorded: Vec<Recorded>,
    marked: Vec<bool>,
    moved: Vec<Vec<bool>>,
}

fn send<T>(replies: Vec<Reply<T>>, answers: Vec<T>) {
    for (reply, answer) in replies.into_iter().zip(answers) {
        let _ = reply.send(Ok(answer));
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
            .map_err(|_| StoreError::Batch {
                why: "the writer has stopped".into(),
                unavailable: false,
            })?;
        answer.await.map_err(|_| StoreError::Batch {
            why: "the writer dropped the write".into(),
            unavailable: false,
        })?
    }
}

impl<T: Transact> Writer<T> {
    async fn run(self, mut rx: mpsc::Receiver<Write>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            self.commit(std::mem::take(&mut batch)).await;
        }
    }

    /// Runs `batch` in one transaction, a few statements for all its writes, and answers
    /// each write: with its own answer if the batch committed, else with the failure.
    async fn commit(&self, batch: Vec<Write>) {
        let writes = batch.len();
        let sorted = Sorted::of(batch);
        let at = timestamp(self.clock.now());
        let on = Statements {
            backend: &self.backend,
            at: &at,
        };
        let answers = async {
            let mut tx = self.backend.begin().await?;
            let recorded = on.record(&mut tx, &sorted.records, &self.instance).await?;
            let marked = on.mark_queued(&mut tx, &sorted.queued).await?;
            let mut moved = Vec::with_capacity(sorted.moves.len());
            for m in &sorted.moves {
                moved.push(on.advance(&mut tx, m).await?);
            }
            self.backend.commit(tx).await?;
            Ok::<_, StoreError>(Answers {
                recorded,
                marked,
                moved,
            })
        }
        .await;
        match answers {
            Ok(answers) => sorted.answer(answers),
            Err(error) => {
                tracing::warn!(%error, writes, "a batch of writes did not commit");
                sorted.fail(&error);
            }
        }
    }
}

/// The hot writes, on a backend, at the time `at`.
struct Statements<'a, T> {
    backend: &'a T,
    at: &'a str,
}

/// `$first, $first+1, …` for `n` parameters.
fn params(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl<T: Transact> Statements<'_, T> {
    /// Records the messages, a statement per [`ROWS`]; for each, whether it is new or what
    /// its sender recorded before under its id (also earlier in this batch).
    async fn record(
        &self,
        tx: &mut T::Tx,
        records: &[(Box<NewMessage>, OffsetDateTime)],
        instance: &str,
    ) -> Result<Vec<Recorded>, StoreError> {
        let mut new = HashSet::new();
        for chunk in records.chunks(ROWS) {
            let owned: Vec<[String; 4]> = chunk
                .iter()
                .map(|(msg, hold_until)| {
                    [
                        msg.id.to_string(),
                        msg.client_id.to_string(),
                        timestamp(*hold_until),
                        serde_json::to_string(&msg.subject_hashes).expect("hashes serialise"),
                    ]
                })
                .collect();
            let mut values = Vec::with_capacity(chunk.len() * 17);
            let mut rows = Vec::with_capacity(chunk.len());
            for ((msg, _), [id, client_id, hold_until, hashes]) in chunk.iter().zip(&owned) {
                let p = values.len();
                // created_at and updated_at are both the time of the batch.
                rows.push(format!(
                    "({}, ${}, {})",
                    params(p + 1, 13),
                    p + 13,
                    params(p + 14, 4)
                ));
                values.extend([
                    Value::Text(Some(id)),
                    Value::Text(Some(client_id)),
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
                    Value::Text(Some(hold_until)),
                    Value::Text(msg.consent_ref.as_deref()),
                    Value::Text(Some(instance)),
                    Value::Text(Some(hashes)),
                ]);
            }
            let sql = format!(
                "INSERT INTO messages (id, client_id, sender, recipient, kind, legal_basis, body_hash, routing_key, routed, key_id, wrapped_key, status, created_at, updated_at, next_attempt_at, consent_ref, claimed_by, subject_hashes)
                 VALUES {} ON CONFLICT DO NOTHING RETURNING id",
                rows.join(", ")
            );
            for row in self.backend.rows(tx, &sql, &values).await? {
                new.extend(row.into_iter().next());
            }
        }
        // The first write of a new message is new; the others find it, as a repeated
        // request finds a message recorded before.
        let mut recorded: Vec<Option<Recorded>> = records
            .iter()
            .map(|(msg, _)| new.remove(&msg.id.to_string()).then_some(Recorded::New))
            .collect();
        let found: Vec<&NewMessage> = records
            .iter()
            .zip(&recorded)
            .filter(|(_, r)| r.is_none())
            .map(|((msg, _), _)| msg.as_ref())
            .collect();
        let existing = self.existing(tx, &found).await?;
        for ((msg, _), r) in records.iter().zip(&mut recorded) {
            if r.is_none() {
                let key = (msg.sender.0.clone(), msg.client_id.to_string());
                *r = existing.get(&key).cloned();
            }
        }
        recorded
            .into_iter()
            .map(|r| r.ok_or_else(|| StoreError::Corrupt("a message neither new nor found".into())))
            .collect()
    }

    /// What the senders of `msgs` recorded before under their ids, by sender and id.
    async fn existing(
        &self,
        tx: &mut T::Tx,
        msgs: &[&NewMessage],
    ) -> Result<HashMap<(String, String), Recorded>, StoreError> {
        let mut existing = HashMap::new();
        for chunk in msgs.chunks(ROWS) {
            let client_ids: Vec<String> = chunk.iter().map(|m| m.client_id.to_string()).collect();
            let mut values = Vec::with_capacity(2 * chunk.len());
            let mut pairs = Vec::with_capacity(chunk.len());
            for (msg, client_id) in chunk.iter().zip(&client_ids) {
                pairs.push(format!(
                    "(sender = ${} AND client_id = ${})",
                    values.len() + 1,
                    values.len() + 2
                ));
                values.extend([
                    Value::Text(Some(&msg.sender.0)),
                    Value::Text(Some(client_id)),
                ]);
            }
            let sql = format!(
                "SELECT sender, client_id, body_hash, status FROM messages WHERE {}",
                pairs.join(" OR ")
            );
            for row in self.backend.rows(tx, &sql, &values).await? {
                let [sender, client_id, body_hash, status] = <[String; 4]>::try_from(row)
                    .map_err(|_| StoreError::Corrupt("a message's row".into()))?;
                let status = status
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("status {status}")))?;
                existing.insert(
                    (sender, client_id),
                    Recorded::Existing { body_hash, status },
                );
            }
        }
        Ok(existing)
    }

    /// Marks the messages `ids` queued (those still recorded); for each, whether this did.
    async fn mark_queued(
        &self,
        tx: &mut T::Tx,
        ids: &[MessageId],
    ) -> Result<Vec<bool>, StoreError> {
        self.changed(
            tx,
            "UPDATE messages SET status = $1, updated_at = $2, next_attempt_at = NULL
             WHERE status IN ({statuses}) AND id IN ({ids}) RETURNING id",
            &[Some(Status::Queued.as_str()), Some(self.at)],
            &[Status::Recorded],
            ids,
        )
        .await
    }

    /// Moves the messages of `m` to its status where they may move there from where they
    /// are, or writes it into their history once where it is an answer (the unique index on
    /// answers keeps a repeated one out); for each, whether this did.
    async fn advance(&self, tx: &mut T::Tx, m: &Move) -> Result<Vec<bool>, StoreError> {
        let binds = [Some(m.status.as_str()), m.reason.as_deref(), Some(self.at)];
        if m.status.is_answer() {
            return self
                .changed(
                    tx,
                    "INSERT INTO status_history (message_id, status, at, reason)
                     SELECT id, $1, $3, $2 FROM messages
                     WHERE status IN ({statuses}) AND id IN ({ids})
                     ON CONFLICT DO NOTHING RETURNING message_id",
                    &binds,
                    Status::ANSWERED_IN,
                    &m.ids,
                )
                .await;
        }
        self.changed(
            tx,
            "UPDATE messages SET status = $1, status_reason = $2, updated_at = $3, next_attempt_at = NULL
             WHERE status IN ({statuses}) AND id IN ({ids}) RETURNING id",
            &binds,
            m.status.follows(),
            &m.ids,
        )
        .await
    }

    /// Runs `sql` with `binds`, then `statuses` for its `{statuses}` list and up to [`IDS`]
    /// of `ids` at a time for its `{ids}` list; for each of `ids`, whether its first
    /// occurrence came back (a repeated one did not change anything).
    async fn changed(
        &self,
        tx: &mut T::Tx,
        sql: &str,
        binds: &[Option<&str>],
        statuses: &[Status],
        ids: &[MessageId],
    ) -> Result<Vec<bool>, StoreError> {
        let mut changed = HashSet::new();
        if !statuses.is_empty() {
            let sql = sql.replace("{statuses}", &params(binds.len() + 1, statuses.len()));
            for chunk in ids.chunks(IDS) {
                let first = binds.len() + statuses.len() + 1;
                let sql = sql.replace("{ids}", &params(first, chunk.len()));
                let chunk: Vec<String> = chunk.iter().map(MessageId::to_string).collect();
                let values: Vec<Value> = binds
                    .iter()
                    .map(|v| Value::Text(*v))
                    .chain(statuses.iter().map(|s| Value::Text(Some(s.as_str()))))
                    .chain(chunk.iter().map(|id| Value::Text(Some(id))))
                    .collect();
                for row in self.backend.rows(tx, &sql, &values).await? {
                    changed.extend(row.into_iter().next());
                }
            }
        }
        Ok(ids
            .iter()
            .map(|id| changed.remove(&id.to_string()))
            .collect())
    }
}
