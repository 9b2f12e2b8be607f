//! Group commit: the hot writes of many requests (recording a message, marking it queued,
//! moving its status) run in one transaction, with the audit entries of the messages it
//! records, numbered and chained ([`super::audit`]) between the writes and the commit, so
//! that one commit (one fsync: SQLite runs `synchronous = FULL`, PostgreSQL
//! `synchronous_commit = on`) serves them all. A request waits for the commit of its batch.
//! A batch is whatever queued up while the one before was committing, up to [`MAX_BATCH`]:
//! nothing waits for a batch to fill. A batch is a few statements, not one per write: its
//! records in one multi-row `INSERT`, its queued marks in one `UPDATE`, its status moves in
//! one per status (each `RETURNING` what it changed, which answers each write), its audit
//! entries in one multi-row `INSERT`. The statements are the same in every backend (`$n`
//! parameters, which SQLite reads too), written into a [`Script`] that a backend runs in one
//! transaction ([`Transact`]) in two calls: the writes with the trail's head before them,
//! then the audit entries of the records that were new and the commit (SQLite on its
//! driver's thread, PostgreSQL a round trip each). The writer holds its connection from
//! batch to batch while writes keep coming, giving it back to the pool at least every
//! [`HOLD`], so that the store's other writes get their turn.
//!
//! A write may also be queued without waiting for its commit ([`Batcher::enqueue`]: a
//! request's queued mark, which a crash may lose without harm); [`Batcher::settle`] waits
//! until everything queued before it has been tried, which is how a read of this instance
//! sees the writes this instance queued.

mod script;
mod sorted;
mod statements;

#[cfg(test)]
pub(crate) mod checks;

pub use script::{Rows, Script, Transact};
pub use sorted::Write;
pub use statements::{LINKS, chain};

use crate::record::audit::{self, ChainKey, ChainLink};
use crate::record::{Recorded, StoreError, timestamp};
use contract::plumbing::clock::Clock;
use prometheus_client::metrics::histogram::Histogram;
use sorted::{Answers, Reply, Sorted};
use statements::{Statements, Texts, append, changed, existing, recorded_entries};
use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Writes in one transaction at most.
pub const MAX_BATCH: usize = 256;

/// How long the writer keeps its connection while writes keep coming.
pub const HOLD: Duration = Duration::from_millis(10);

/// The writer task's inbox.
#[derive(Clone)]
pub struct Batcher(mpsc::Sender<Write>);

/// What the writes need besides their own values.
struct Writer<T> {
    backend: T,
    instance: String,
    clock: Arc<Clock>,
    key: ChainKey,
    meter: BatchMeter,
}

/// How long each batch took to commit and how many writes it held (the metrics register
/// these histograms; clones share their counts).
#[derive(Clone)]
pub struct BatchMeter {
    pub commit: Histogram,
    pub writes: Histogram,
}

impl Default for BatchMeter {
    fn default() -> Self {
        Self {
            commit: contract::plumbing::metrics::seconds(),
            writes: contract::plumbing::metrics::sizes(),
        }
    }
}

impl Batcher {
    /// Starts the writer task on `backend`, for the instance `instance`, chaining the audit
    /// entries its batches write with `key`, timing each commit on `meter`.
    pub fn spawn(
        backend: impl Transact,
        instance: String,
        clock: Arc<Clock>,
        key: ChainKey,
        meter: BatchMeter,
    ) -> Self {
        let (tx, rx) = mpsc::channel(4 * MAX_BATCH);
        let writer = Writer {
            backend,
            instance,
            clock,
            key,
            meter,
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
            let started = Instant::now();
            match self.commit(&mut conn, &sorted).await {
                Ok(answers) => {
                    self.meter.commit.observe(started.elapsed().as_secs_f64());
                    self.meter.writes.observe(sorted.len() as f64);
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
        let mut rows = self.backend.open(conn, &script).await?;
        let mut take = |range: Range<usize>| -> Vec<Rows> {
            range.map(|i| std::mem::take(&mut rows[i])).collect()
        };
        // The first write of a new message is new; the others find it, as a repeated
        // request finds a message recorded before.
        let mut inserted: HashSet<String> =
            take(inserted).into_iter().flatten().flatten().collect();
        let new: Vec<bool> = texts
            .records
            .iter()
            .map(|[id, ..]| inserted.remove(id))
            .collect();
        let head = match ChainLink::of_head(take(0..1).into_iter().flatten().collect()) {
            Ok(head) => head,
            Err(error) => {
                self.backend.abandon(conn).await;
                return Err(error);
            }
        };
        let mut entries = recorded_entries(&sorted.records, &texts, &new, &at, head.seq);
        audit::chain_on(key, &head, &mut entries);
        let mut close = Script::new();
        append(&mut close, &entries, T::ROWS);
        self.backend.close(conn, &close).await?;
        let marked = changed(&texts.queued, take(marked));
        let moved = moved
            .into_iter()
            .zip(&texts.moves)
            .map(|(range, ids)| changed(ids, take(range)))
            .collect();
        let recorded = self.recorded(conn, sorted, &texts, &new).await?;
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
        new: &[bool],
    ) -> Result<Vec<Recorded>, StoreError> {
        let mut recorded: Vec<Option<Recorded>> =
            new.iter().map(|new| new.then_some(Recorded::New)).collect();
        let ids: Vec<&str> = texts
            .records
            .iter()
            .zip(&recorded)
            .filter(|(_, r)| r.is_none())
            .flat_map(|([id, client_id, ..], _)| [id.as_str(), client_id.as_str()])
            .collect();
        if !ids.is_empty() {
            let mut lookup = Script::new();
            existing(&mut lookup, &ids, T::ROWS);
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
