//! What differs between the SQL backends ([`Backend`]): how a statement runs on their pools
//! and transactions, how a batch's script runs ([`Transact`]), and four fragments of SQL.
//! Everything else is written once, in the files beside this one.

use crate::record::batch::{Rows, Script, Transact};
use async_trait::async_trait;
use contract::plumbing::sql::{Columns, Tx, Value};
use futures_util::{Stream, TryStreamExt};
use sqlx::Either;

/// Which of a backend's connections a statement runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conn {
    /// The readers: reads that may lag the last commit by nothing (SQLite's WAL readers, or
    /// PostgreSQL's one pool).
    Reader,
    /// The writer: writes, and reads that take part in one.
    Writer,
}

/// A SQL backend of the store: it runs the statements of [`super::SqlStore`] and the
/// batches' scripts.
#[async_trait]
pub trait Backend: Transact + Clone {
    /// A row it answers.
    type Row: Columns + Send + Sync;
    /// An open writing transaction.
    type Tx: Tx<Row = Self::Row>;
    /// Whether other gateway instances may share the store.
    const SHARED: bool;
    /// Which unconfirmed messages a sweep of the outbox claims, and how: a condition, the
    /// order and the limit (`$5`) of the rows it takes, given this instance `$2`, now `$3`,
    /// and whether it takes over other instances' claims (`$4`).
    const CLAIMABLE: &'static str;
    /// A condition on a `messages` row: its `subject_hashes` (a JSON array) hold `$1`.
    const SUBJECT_IN: &'static str;
    /// What frees the old row versions of erased payloads, where updates leave them.
    const RECLAIM: Option<&'static str>;

    /// The rows `sql` with `values` answers on `conn`.
    async fn fetch(
        &self,
        conn: Conn,
        sql: &str,
        values: &[Value<'_>],
    ) -> Result<Vec<Self::Row>, sqlx::Error>;

    /// How many rows `sql` with `values` changed, on the writer.
    async fn execute(&self, sql: &str, values: &[Value<'_>]) -> Result<u64, sqlx::Error>;

    /// Begins a writing transaction (of audit entries, or of many messages at once, as a
    /// batch's), taking first what a batch takes first.
    async fn begin_writing(&self) -> Result<Self::Tx, sqlx::Error>;
}

/// The rows of each of `expected` statements of a script, from the driver's `steps`, less
/// those of the first `lead` and the last `trail` (the transaction's own: `BEGIN`, `COMMIT`).
pub async fn script_rows<Q, R>(
    steps: impl Stream<Item = Result<Either<Q, R>, sqlx::Error>> + Unpin,
    row: impl Fn(&R) -> Result<Vec<String>, sqlx::Error>,
    expected: usize,
    (lead, trail): (usize, usize),
) -> Result<Vec<Rows>, sqlx::Error> {
    let mut results = statement_rows(steps, row).await?;
    if results.len() != expected + lead + trail {
        return Err(sqlx::Error::Protocol(format!(
            "{} statements answered of {}",
            results.len(),
            expected + lead + trail
        )));
    }
    results.truncate(results.len() - trail);
    results.drain(..lead);
    Ok(results)
}

/// The rows of each statement of a query of many statements, from the driver's `steps`:
/// a statement's rows (`Right`, each read by `row`) come before its end (`Left`).
async fn statement_rows<Q, R>(
    mut steps: impl Stream<Item = Result<Either<Q, R>, sqlx::Error>> + Unpin,
    row: impl Fn(&R) -> Result<Vec<String>, sqlx::Error>,
) -> Result<Vec<Rows>, sqlx::Error> {
    let (mut results, mut rows) = (Vec::new(), Vec::new());
    while let Some(step) = steps.try_next().await? {
        match step {
            Either::Left(_) => results.push(std::mem::take(&mut rows)),
            Either::Right(r) => rows.push(row(&r)?),
        }
    }
    Ok(results)
}

/// `script`'s statements run one by one in `tx`, each with the values of its own
/// parameters (which start at `$1`: a script of one statement, or of statements each
/// written from `$1`, as [`crate::record::batch::chain`]'s are when given alone).
pub async fn run_in(tx: &mut impl Tx, script: &Script<'_>) -> Result<(), sqlx::Error> {
    let (statements, values) = script.parts();
    for statement in statements {
        tx.execute(statement, values).await?;
    }
    Ok(())
}
