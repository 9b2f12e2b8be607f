//! Group commit for the SQLite ledger. Every statement of the ledger is one check-then-act
//! on its own; run one by one, each is a transaction of its own and pays a commit (an
//! fsync: `synchronous = FULL`), two per delivery, on the file's one connection. Here one
//! writer task runs the statements that queued up while the batch before was committing
//! (nothing waits for a batch to fill), in one `BEGIN IMMEDIATE` transaction, and answers
//! each only once the commit is durable; if the commit fails, every statement of the batch
//! fails, as it would have alone. A statement that fails on its own (a constraint) fails
//! alone: SQLite undoes that statement and the transaction goes on. Reads run in the queue
//! too, so they see every write answered before them.

use contract::plumbing::sql::{self as sql, Value};
use sqlx::SqlitePool;
use sqlx::sqlite::SqliteRow;
use tokio::sync::{mpsc, oneshot};

/// Statements in one transaction at most.
const MAX_BATCH: usize = 256;

/// A value of a queued statement, owned.
enum Owned {
    Text(Option<String>),
    Bytes(Vec<u8>),
    Int(i64),
    Bool(bool),
}

impl Owned {
    fn of(value: &Value<'_>) -> Self {
        match *value {
            Value::Text(text) => Self::Text(text.map(str::to_owned)),
            Value::Bytes(bytes) => Self::Bytes(bytes.to_vec()),
            Value::Int(int) => Self::Int(int),
            Value::Bool(flag) => Self::Bool(flag),
        }
    }

    fn value(&self) -> Value<'_> {
        match self {
            Self::Text(text) => Value::Text(text.as_deref()),
            Self::Bytes(bytes) => Value::Bytes(bytes),
            Self::Int(int) => Value::Int(*int),
            Self::Bool(flag) => Value::Bool(*flag),
        }
    }
}

type Answer<T> = oneshot::Sender<Result<T, sqlx::Error>>;

/// Where a statement's answer goes (the rows it returned, or how many rows it changed),
/// with its outcome, held until the commit.
enum Reply {
    Rows(
        Answer<Vec<SqliteRow>>,
        Option<Result<Vec<SqliteRow>, sqlx::Error>>,
    ),
    Count(Answer<u64>, Option<Result<u64, sqlx::Error>>),
}

impl Reply {
    /// Answers with the outcome, or with why the batch did not commit.
    fn send(self, failed: Option<&str>) {
        // The asker may have gone (its request cancelled): nobody to tell.
        match self {
            Self::Rows(to, outcome) => drop(to.send(answer(outcome, failed))),
            Self::Count(to, outcome) => drop(to.send(answer(outcome, failed))),
        }
    }
}

/// A statement's answer: its outcome if its batch committed.
fn answer<T>(
    outcome: Option<Result<T, sqlx::Error>>,
    failed: Option<&str>,
) -> Result<T, sqlx::Error> {
    match (failed, outcome) {
        (None, Some(outcome)) => outcome,
        (Some(why), _) => Err(sqlx::Error::Protocol(format!("not committed: {why}"))),
        (None, None) => Err(sqlx::Error::Protocol("not run".into())),
    }
}

/// A queued statement and where its answer goes.
struct Job {
    sql: String,
    values: Vec<Owned>,
    reply: Reply,
}

/// The writer task's inbox.
#[derive(Debug, Clone)]
pub struct Group(mpsc::Sender<Job>);

impl Group {
    /// Starts the writer on `pool` (its one connection); it stops when the last handle is
    /// dropped.
    pub fn start(pool: SqlitePool) -> Self {
        let (jobs, inbox) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(writer(pool, inbox));
        Self(jobs)
    }

    /// The rows `sql` with `values` returns, once its batch committed.
    pub async fn rows(
        &self,
        sql: &str,
        values: &[Value<'_>],
    ) -> Result<Vec<SqliteRow>, sqlx::Error> {
        let (to, answer) = oneshot::channel();
        self.queue(sql, values, Reply::Rows(to, None)).await?;
        answer.await.map_err(|_| sqlx::Error::PoolClosed)?
    }

    /// How many rows `sql` with `values` changed, once its batch committed.
    pub async fn count(&self, sql: &str, values: &[Value<'_>]) -> Result<u64, sqlx::Error> {
        let (to, answer) = oneshot::channel();
        self.queue(sql, values, Reply::Count(to, None)).await?;
        answer.await.map_err(|_| sqlx::Error::PoolClosed)?
    }

    async fn queue(
        &self,
        sql: &str,
        values: &[Value<'_>],
        reply: Reply,
    ) -> Result<(), sqlx::Error> {
        let job = Job {
            sql: sql.to_owned(),
            values: values.iter().map(Owned::of).collect(),
            reply,
        };
        self.0.send(job).await.map_err(|_| sqlx::Error::PoolClosed)
    }
}

async fn writer(pool: SqlitePool, mut inbox: mpsc::Receiver<Job>) {
    while let Some(first) = inbox.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH
            && let Ok(job) = inbox.try_recv()
        {
            jobs.push(job);
        }
        let failed = commit(&pool, &mut jobs).await.err().map(|error| {
            tracing::warn!(%error, statements = jobs.len(), "ledger batch not committed");
            error.to_string()
        });
        for job in jobs {
            job.reply.send(failed.as_deref());
        }
    }
}

/// Runs `jobs` in one transaction, each keeping its outcome; why the transaction failed,
/// if it did.
async fn commit(pool: &SqlitePool, jobs: &mut [Job]) -> Result<(), sqlx::Error> {
    let mut conn = pool.acquire().await?;
    sql::execute(&mut *conn, "BEGIN IMMEDIATE", &[]).await?;
    for job in jobs.iter_mut() {
        let values: Vec<Value<'_>> = job.values.iter().map(Owned::value).collect();
        match &mut job.reply {
            Reply::Rows(_, outcome) => {
                *outcome = Some(sql::fetch_all(&mut *conn, &job.sql, &values).await)
            }
            Reply::Count(_, outcome) => {
                *outcome = Some(sql::execute(&mut *conn, &job.sql, &values).await)
            }
        }
    }
    if let Err(error) = sql::execute(&mut *conn, "COMMIT", &[]).await {
        let _ = sql::execute(&mut *conn, "ROLLBACK", &[]).await;
        return Err(error);
    }
    Ok(())
}
