//! Group commit: the hot writes of many requests (recording a message, marking it queued,
//! moving its status) run in one transaction, with the chain values of the audit entries
//! they write ([`super::audit`]: computed between the writes and the commit), so that
//! one commit (one fsync: SQLite runs `synchronous = FULL`, PostgreSQL `synchronous_commit
//! = on`) serves them all. A request waits for the commit of its batch. A batch is whatever
//! queued up while the one before was committing, up to [`MAX_BATCH`]: nothing waits for a
//! batch to fill. A batch is a few statements, not one per write: its records in one
//! multi-row `INSERT`, its queued marks in one `UPDATE`, its status moves in one per status
//! (each `RETURNING` what it changed, which answers each write), its chain values in one per
//! [`LINKS`]. The statements are the same in every backend (`$n` parameters, which SQLite
//! reads too), written into a [`Script`] that a backend runs in one transaction
//! ([`Transact`]) in two calls: the writes with the trail's head before them and the entries
//! they wrote, then the chain values and the commit (SQLite on its driver's thread,
//! PostgreSQL a round trip each). The writer holds its connection from batch to batch while writes keep
//! coming, giving it back to the pool at least every [`HOLD`], so that the store's other
//! writes get their turn.
//!
//! A write may also be queued without waiting for its commit ([`Batcher::enqueue`]: a
//! request's queued mark, which a crash may lose without harm); [`Batcher::settle`] waits
//! until everything queued before it has been tried, which is how a read of this instance
//! sees the writes this instance queued.

use crate::record::audit::{self, ChainKey, ChainLink};
use crate::record::{NewMessage, Recorded, Status, StoreError, timestamp};
use async_trait::async_trait;
use contract::clock::Clock;
use contract::message::MessageId;
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};
use time::OffsetDateTime;
use tokio::sync::{mpsc, oneshot};

/// Writes in one transaction at most.
pub const MAX_BATCH: usize = 256;

/// Ids one statement changes at most.
const IDS: usize = 500;

/// The values of one recorded message's row.
const COLUMNS: usize = 18;

/// Chain values one statement writes at most (SQLite's cost is the square of a statement's
/// parameters: see its `Backend::ROWS`).
pub const LINKS: usize = 100;

/// How long the writer keeps its connection while writes keep coming.
pub const HOLD: Duration = Duration::from_millis(10);

/// A value bound to a statement's parameter.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Text(Option<&'a str>),
    Bytes(&'a [u8]),
}

/// Statements to run in one transaction, with the values of their parameters, numbered
/// on through the script (the second statement's first parameter follows the first's last).
#[derive(Default)]
pub struct Script<'a> {
    statements: Vec<String>,
    values: Vec<Value<'a>>,
}

impl<'a> Script<'a> {
    /// An empty script.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a statement written by `sql` (given the number of its first parameter) with
    /// `values` for its parameters.
    pub fn push(&mut self, sql: impl FnOnce(usize) -> String, values: Vec<Value<'a>>) {
        self.statements.push(sql(self.values.len() + 1));
        self.values.extend(values);
    }

    /// The statements, and the values of all their parameters.
    pub fn parts(&self) -> (&[String], &[Value<'a>]) {
        (&self.statements, &self.values)
    }

    /// How many statements it has.
    pub fn len(&self) -> usize {
        self.statements.len()
    }
}

/// The rows one statement returned, their columns as text.
pub type Rows = Vec<Vec<String>>;

/// What a backend does for the batches: a connection the writer holds, and scripts run on it.
#[async_trait]
pub trait Transact: Send + Sync + 'static {
    /// A connection to the store.
    type Conn: Send;
    /// Messages recorded by one statement at most (`COLUMNS` parameters each).
    const ROWS: usize;
    /// A connection for the writer.
    async fn connect(&self) -> Result<Self::Conn, sqlx::Error>;
    /// Begins a writing transaction on `conn` (taking first what every writing transaction
    /// takes first) and runs `script` in it, leaving it open; the rows of each statement.
    /// If a statement fails, nothing of it is left.
    async fn open(
        &self,
        conn: &mut Self::Conn,
        script: &Script<'_>,
    ) -> Result<Vec<Rows>, sqlx::Error>;
    /// Runs `script` in the transaction [`Transact::open`] left open and commits it; the
    /// rows of each statement. If a statement or the commit fails, nothing of it is left.
    async fn close(
        &self,
        conn: &mut Self::Conn,
        script: &Script<'_>,
    ) -> Result<Vec<Rows>, sqlx::Error>;
    /// Undoes the transaction [`Transact::open`] left open.
    async fn abandon(&self, conn: &mut Self::Conn);
    /// Runs `script` in one transaction and commits it.
    async fn run(
        &self,
        conn: &mut Self::Conn,
        script: &Script<'_>,
    ) -> Result<Vec<Rows>, sqlx::Error> {
        let rows = self.open(conn, script).await?;
        self.close(conn, &Script::new()).await?;
        Ok(rows)
    }
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
    /// Nothing to write: answered once the batch it joins has been tried.
    Settle {
        reply: Reply<()>,
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
    settled: Vec<Reply<()>>,
}

/// Moves of messages to one status for one reason.
struct Move {
    status: Status,
    reason: Option<String>,
    ids: Vec<MessageId>,
    replies: Vec<Reply<bool>>,
}

impl Sorted {
    /// How many writes it holds.
    fn len(&self) -> usize {
        self.recorded.len()
            + self.marked.len()
            + self.moves.iter().map(|m| m.ids.len()).sum::<usize>()
    }

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
                Write::Settle { reply } => sorted.settled.push(reply),
            }
        }
        sorted
    }

    /// The replies, each with its answer.
    fn answer(self, answers: Answers) {
        send_settled(self.settled);
        send(self.recorded, answers.recorded);
        send(self.marked, answers.marked);
        for (m, moved) in self.moves.into_iter().zip(answers.moved) {
            send(m.replies, moved);
        }
    }

    /// Every reply, with the failure of the batch.
    fn fail(self, error: &StoreError) {
        send_settled(self.settled);
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

/// Answers each of `replies` with nothing: a settle once its batch has been tried,
/// whether or not it committed.
fn send_settled(replies: Vec<Reply<()>>) {
    for reply in replies {
        let _ = reply.send(Ok(()));
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
    key: ChainKey,
}

impl Batcher {
    /// Starts the writer task on `backend`, for the instance `instance`, chaining the audit
    /// entries its batches write with `key`.
    pub fn spawn(
        backend: impl Transact,
        instance: String,
        clock: Arc<Clock>,
        key: ChainKey,
    ) -> Self {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let writer = Writer {
            backend,
            instance,
            clock,
            key,
        };
        tokio::spawn(writer.run(rx));
        Self(tx)
    }

    /// Queues a write and waits for its answer (after its batch committed).
    pub async fn submit<T>(&self, write: impl FnOnce(Reply<T>) -> Write) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(write(reply)).await?;
        answer.await.map_err(|_| StoreError::Batch {
            why: "the writer dropped the write".into(),
            unavailable: false,
        })?
    }

    /// Queues a write without waiting for its commit (only for room in the queue); a
    /// batch that fails is logged by the writer.
    pub async fn enqueue<T>(
        &self,
        write: impl FnOnce(Reply<T>) -> Write,
    ) -> Result<(), StoreError> {
        let (reply, _) = oneshot::channel();
        self.send(write(reply)).await
    }

    /// Waits until every write queued before this call has been tried.
    pub async fn settle(&self) -> Result<(), StoreError> {
        self.submit(|reply| Write::Settle { reply }).await
    }

    async fn send(&self, write: Write) -> Result<(), StoreError> {
        self.0.send(write).await.map_err(|_| StoreError::Batch {
            why: "the writer has stopped".into(),
            unavailable: false,
        })
    }
}

impl<T: Transact> Writer<T> {
    /// Commits what queued up, batch after batch, on a connection it holds while writes
    /// keep coming (at most [`HOLD`] at a time) or until a batch fails.
    async fn run(self, mut rx: mpsc::Receiver<Write>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut held: Option<(T::Conn, Instant)> = None;
        while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
            let sorted = Sorted::of(std::mem::take(&mut batch));
            let (mut conn, since) = match held.take() {
                Some(held) => held,
                None => match self.backend.connect().await {
                    Ok(conn) => (conn, Instant::now()),
                    Err(error) => {
                        self.failed(sorted, error.into());
                        continue;
                    }
                },
            };
            match self.commit(&mut conn, &sorted).await {
                Ok(answers) => {
                    sorted.answer(answers);
                    if !rx.is_empty() && since.elapsed() < HOLD {
                        held = Some((conn, since));
                    }
                }
                Err(error) => self.failed(sorted, error),
            }
        }
    }

    /// Answers every write of a batch that did not commit with why.
    fn failed(&self, sorted: Sorted, error: StoreError) {
        tracing::warn!(%error, writes = sorted.len(), "a batch of writes did not commit");
        sorted.fail(&error);
    }

    /// Runs the writes of `sorted` in one transaction on `conn`, a few statements for all
    /// of them, and chains the audit entries they wrote before it commits; each write's
    /// answer. What a repeated record found is read after the commit:
    /// if that read fails, every write is answered with the failure though it committed,
    /// and a repeated write finds it then, as a repeated request does.
    async fn commit(&self, conn: &mut T::Conn, sorted: &Sorted) -> Result<Answers, StoreError> {
        if sorted.len() == 0 {
            return Ok(Answers {
                recorded: Vec::new(),
                marked: Vec::new(),
                moved: Vec::new(),
            });
        }
        let key = self.key.get()?;
        let at = timestamp(self.clock.now());
        let texts = Texts::of(sorted);
        let mut script = Script::new();
        script.push(|_| audit::HEAD.into(), Vec::new());
        let on = Statements {
            at: &at,
            rows: T::ROWS,
        };
        let inserted = on.record(&mut script, &sorted.records, &texts, &self.instance);
        let marked = on.mark_queued(&mut script, &texts.queued);
        let moved: Vec<Range<usize>> = sorted
            .moves
            .iter()
            .zip(&texts.moves)
            .map(|(m, ids)| on.advance(&mut script, m, ids))
            .collect();
        script.push(|_| audit::WRITTEN.into(), Vec::new());
        let mut rows = self.backend.open(conn, &script).await?;
        let written = rows.pop().unwrap_or_default();
        let chained = ChainLink::of_head(std::mem::take(&mut rows[0]))
            .and_then(|head| audit::chained(key, &head, written));
        let links = match chained {
            Ok(links) => links,
            Err(error) => {
                self.backend.abandon(conn).await;
                return Err(error);
            }
        };
        let seqs: Vec<String> = links.iter().map(|l| l.seq.to_string()).collect();
        let mut close = Script::new();
        chain(&mut close, &links, &seqs);
        self.backend.close(conn, &close).await?;
        let mut take = |range: Range<usize>| -> Vec<Rows> {
            range.map(|i| std::mem::take(&mut rows[i])).collect()
        };
        let new: HashSet<String> = take(inserted).into_iter().flatten().flatten().collect();
        let marked = changed(&texts.queued, take(marked));
        let moved = moved
            .into_iter()
            .zip(&texts.moves)
            .map(|(range, ids)| changed(ids, take(range)))
            .collect();
        let recorded = self.recorded(conn, sorted, &texts, new).await?;
        Ok(Answers {
            recorded,
            marked,
            moved,
        })
    }

    /// For each record, whether it is new (its id among `new`) or what its sender recorded
    /// under its id, before or earlier in this batch: looked up after the commit, only for
    /// the records that were not new (a repeated request), which are few.
    async fn recorded(
        &self,
        conn: &mut T::Conn,
        sorted: &Sorted,
        texts: &Texts,
        mut new: HashSet<String>,
    ) -> Result<Vec<Recorded>, StoreError> {
        // The first write of a new message is new; the others find it, as a repeated
        // request finds a message recorded before.
        let mut recorded: Vec<Option<Recorded>> = texts
            .records
            .iter()
            .map(|[id, ..]| new.remove(id).then_some(Recorded::New))
            .collect();
        let pairs: Vec<(&str, &str)> = sorted
            .records
            .iter()
            .zip(&texts.records)
            .zip(&recorded)
            .filter(|(_, r)| r.is_none())
            .map(|(((msg, _), [_, client_id, ..]), _)| (msg.sender.0.as_str(), client_id.as_str()))
            .collect();
        if !pairs.is_empty() {
            let mut lookup = Script::new();
            existing(&mut lookup, &pairs, T::ROWS);
            let mut existing = HashMap::new();
            for row in self.backend.run(conn, &lookup).await?.into_iter().flatten() {
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
            for (((msg, _), [_, client_id, ..]), r) in
                sorted.records.iter().zip(&texts.records).zip(&mut recorded)
            {
                if r.is_none() {
                    *r = existing
                        .get(&(msg.sender.0.clone(), client_id.clone()))
                        .cloned();
                }
            }
        }
        recorded
            .into_iter()
            .map(|r| r.ok_or_else(|| StoreError::Corrupt("a message neither new nor found".into())))
            .collect()
    }
}

/// The texts a batch's statements bind, made once.
struct Texts {
    /// Per record: its id, client id, hold and subject hashes.
    records: Vec<[String; 4]>,
    queued: Vec<String>,
    moves: Vec<Vec<String>>,
}

impl Texts {
    fn of(sorted: &Sorted) -> Self {
        let ids = |ids: &[MessageId]| ids.iter().map(MessageId::to_string).collect();
        Self {
            records: sorted
                .records
                .iter()
                .map(|(msg, hold_until)| {
                    [
                        msg.id.to_string(),
                        msg.client_id.to_string(),
                        timestamp(*hold_until),
                        serde_json::to_string(&msg.subject_hashes).expect("hashes serialise"),
                    ]
                })
                .collect(),
            queued: ids(&sorted.queued),
            moves: sorted.moves.iter().map(|m| ids(&m.ids)).collect(),
        }
    }
}

/// The hot writes at the time `at`, written into a script, `rows` messages a statement.
struct Statements<'a> {
    at: &'a str,
    rows: usize,
}

/// `$first, $first+1, …` for `n` parameters.
fn params(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl<'a> Statements<'a> {
    /// Records the messages, a statement per `self.rows`, each returning the ids it inserted;
    /// their places in the script.
    fn record(
        &self,
        script: &mut Script<'a>,
        records: &'a [(Box<NewMessage>, OffsetDateTime)],
        texts: &'a Texts,
        instance: &'a str,
    ) -> Range<usize> {
        let first = script.len();
        let rows = self.rows;
        for (chunk, texts) in records.chunks(rows).zip(texts.records.chunks(rows)) {
            let mut values = Vec::with_capacity(chunk.len() * COLUMNS);
            for ((msg, _), [id, client_id, hold_until, hashes]) in chunk.iter().zip(texts) {
                values.extend([
                    Value::Text(Some(id)),
                    Value::Text(Some(client_id)),
                    Value::Text(Some(&msg.sender.0)),
                    Value::Text(msg.supplier.as_deref()),
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
            let rows = chunk.len();
            script.push(
                |first| {
                    let rows: Vec<String> = (0..rows)
                        .map(|row| {
                            let p = first + COLUMNS * row;
                            // created_at and updated_at are both the time of the batch.
                            format!("({}, ${}, {})", params(p, 14), p + 13, params(p + 14, 4))
                        })
                        .collect();
                    format!(
                        "INSERT INTO messages (id, client_id, sender, supplier, recipient, kind, legal_basis, body_hash, routing_key, routed, key_id, wrapped_key, status, created_at, updated_at, next_attempt_at, consent_ref, claimed_by, subject_hashes)
                         VALUES {} ON CONFLICT DO NOTHING RETURNING id",
                        rows.join(", ")
                    )
                },
                values,
            );
        }
        first..script.len()
    }

    /// Marks the messages `ids` queued (those still recorded), each statement returning
    /// the ids it marked; their places in the script.
    fn mark_queued(&self, script: &mut Script<'a>, ids: &'a [String]) -> Range<usize> {
        self.changing(
            script,
            "UPDATE messages SET status = {status}, updated_at = {at}, next_attempt_at = NULL
             WHERE status IN ({statuses}) AND id IN ({ids}) RETURNING id",
            &[
                ("{status}", Some(Status::Queued.as_str())),
                ("{at}", Some(self.at)),
            ],
            &[Status::Recorded],
            ids,
        )
    }

    /// Moves the messages of `m` (`ids`) to its status where they may move there from
    /// where they are, or writes it into their history once where it is an answer (the
    /// unique index on answers keeps a repeated one out); their places in the script.
    fn advance(&self, script: &mut Script<'a>, m: &'a Move, ids: &'a [String]) -> Range<usize> {
        let binds = [
            ("{status}", Some(m.status.as_str())),
            ("{reason}", m.reason.as_deref()),
            ("{at}", Some(self.at)),
        ];
        if m.status.is_answer() {
            return self.changing(
                script,
                "INSERT INTO status_history (message_id, status, at, reason)
                 SELECT id, {status}, {at}, {reason} FROM messages
                 WHERE status IN ({statuses}) AND id IN ({ids})
                 ON CONFLICT DO NOTHING RETURNING message_id",
                &binds,
                Status::ANSWERED_IN,
                ids,
            );
        }
        self.changing(
            script,
            "UPDATE messages SET status = {status}, status_reason = {reason}, updated_at = {at}, next_attempt_at = NULL
             WHERE status IN ({statuses}) AND id IN ({ids}) RETURNING id",
            &binds,
            m.status.follows(),
            ids,
        )
    }

    /// `sql` with each placeholder of `binds` bound to its value, `{statuses}` to
    /// `statuses` and `{ids}` to up to [`IDS`] of `ids` at a time (a statement each); their
    /// places in the script. No statement if `statuses` is empty: nothing may move.
    fn changing(
        &self,
        script: &mut Script<'a>,
        sql: &'static str,
        binds: &[(&'static str, Option<&'a str>)],
        statuses: &'static [Status],
        ids: &'a [String],
    ) -> Range<usize> {
        let first = script.len();
        if statuses.is_empty() {
            return first..first;
        }
        for chunk in ids.chunks(IDS) {
            let values = binds
                .iter()
                .map(|(_, v)| Value::Text(*v))
                .chain(statuses.iter().map(|s| Value::Text(Some(s.as_str()))))
                .chain(chunk.iter().map(|id| Value::Text(Some(id))))
                .collect();
            script.push(
                |first| {
                    let sql = binds
                        .iter()
                        .zip(first..)
                        .fold(sql.to_string(), |sql, ((name, _), p)| {
                            sql.replace(name, &format!("${p}"))
                        });
                    let first = first + binds.len();
                    sql.replace("{statuses}", &params(first, statuses.len()))
                        .replace("{ids}", &params(first + statuses.len(), chunk.len()))
                },
                values,
            );
        }
        first..script.len()
    }
}

/// Writes the chain value of each of `links` (`seqs` their `seq`s) whose entry has none,
/// a statement per [`LINKS`] (the audit entries a transaction wrote: [`audit::chained`]).
pub fn chain<'a>(script: &mut Script<'a>, links: &'a [ChainLink], seqs: &'a [String]) {
    for (chunk, seqs) in links.chunks(LINKS).zip(seqs.chunks(LINKS)) {
        let values = chunk
            .iter()
            .zip(seqs)
            .flat_map(|(link, seq)| [Value::Text(Some(seq)), Value::Text(Some(&link.chain))])
            .collect();
        script.push(
            |first| {
                let links: Vec<String> = (0..chunk.len())
                    .map(|i| format!("(${}, ${})", first + 2 * i, first + 2 * i + 1))
                    .collect();
                format!(
                    "UPDATE audit SET chain = links.column2 FROM (VALUES {}) AS links
                     WHERE audit.seq = CAST(links.column1 AS BIGINT) AND audit.chain IS NULL",
                    links.join(", ")
                )
            },
            values,
        );
    }
}

/// Finds the messages their senders hold under the ids of `pairs` (sender, client id),
/// a statement per `rows` pairs.
fn existing<'a>(script: &mut Script<'a>, pairs: &[(&'a str, &'a str)], rows: usize) {
    for chunk in pairs.chunks(rows) {
        let values = chunk
            .iter()
            .flat_map(|(sender, client_id)| {
                [Value::Text(Some(sender)), Value::Text(Some(client_id))]
            })
            .collect();
        script.push(
            |first| {
                let pairs: Vec<String> = (0..chunk.len())
                    .map(|i| {
                        let p = first + 2 * i;
                        format!("(sender = ${p} AND client_id = ${})", p + 1)
                    })
                    .collect();
                format!(
                    "SELECT sender, client_id, body_hash, status FROM messages WHERE {}",
                    pairs.join(" OR ")
                )
            },
            values,
        );
    }
}

/// For each of `ids`, whether its first occurrence came back in `rows` (a repeated one did
/// not change anything).
fn changed(ids: &[String], rows: Vec<Rows>) -> Vec<bool> {
    let mut changed: HashSet<String> = rows.into_iter().flatten().flatten().collect();
    ids.iter().map(|id| changed.remove(id)).collect()
}

/// What every backend's [`Transact`] must do, checked by each backend's tests.
#[cfg(test)]
pub(crate) mod checks {
    use super::{Script, Transact, Value};

    /// A script whose statement fails midway (after one ran) leaves nothing of it, and the
    /// next one on the same connection commits, its rows coming back statement by statement.
    pub async fn a_failing_script_leaves_nothing(writes: impl Transact) {
        let mut conn = writes.connect().await.unwrap();
        let insert = |p: usize| {
            format!(
                "INSERT INTO settings (name, value) VALUES (${p}, ${}) RETURNING name",
                p + 1
            )
        };
        let setting = |name| vec![Value::Text(Some(name)), Value::Bytes(b"1")];
        let mut failing = Script::new();
        failing.push(insert, setting("first"));
        // The same name again: fails when it runs, after the first insert ran.
        failing.push(insert, setting("first"));
        assert!(writes.run(&mut conn, &failing).await.is_err());
        let mut next = Script::new();
        next.push(insert, setting("second"));
        next.push(insert, setting("third"));
        let rows = writes.run(&mut conn, &next).await.unwrap();
        assert_eq!(rows, [[["second"]], [["third"]]]);
        let mut read = Script::new();
        read.push(
            |_| "SELECT name FROM settings WHERE name IN ('first', 'second', 'third')".into(),
            Vec::new(),
        );
        let mut names: Vec<String> = writes
            .run(&mut conn, &read)
            .await
            .unwrap()
            .concat()
            .concat();
        names.sort();
        assert_eq!(names, ["second", "third"]);
    }
}
