//! What the SQL backends share: every statement is written once, with `$n` parameters (which
//! SQLite reads as PostgreSQL does), and [`sql_store!`] implements the store's traits with
//! them for a backend's store type. A backend keeps only what differs ([`Backend`]): how it
//! opens, how a writing transaction begins, which messages the outbox's sweep claims, and
//! how a JSON array is searched.

mod audit;
mod consents;
mod messages;
mod payloads;

pub(crate) use audit::audit;
pub(crate) use consents::consents;
pub(crate) use messages::messages;
pub(crate) use payloads::payloads;

use async_trait::async_trait;
use futures_util::{Stream, TryStreamExt};
use sqlx::{Database, Either, Pool, Transaction};

/// What differs between the SQL backends, beside the statements that [`sql_store!`] shares.
#[async_trait]
pub trait Backend {
    /// The driver.
    type Db: Database;
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
    /// Messages a batch records by one statement at most ([`super::batch::Transact::ROWS`]).
    const ROWS: usize;
    /// Begins a batch's transaction on `conn` and runs `script` in it, leaving it open
    /// ([`super::batch::Transact::open`]).
    async fn open_script(
        conn: &mut sqlx::pool::PoolConnection<Self::Db>,
        script: &super::batch::Script<'_>,
    ) -> Result<Vec<super::batch::Rows>, sqlx::Error>;
    /// Runs `script` in the transaction left open and commits it
    /// ([`super::batch::Transact::close`]).
    async fn close_script(
        conn: &mut sqlx::pool::PoolConnection<Self::Db>,
        script: &super::batch::Script<'_>,
    ) -> Result<Vec<super::batch::Rows>, sqlx::Error>;
    /// Begins a writing transaction on `pool` (of audit entries, or of many messages at
    /// once, as a batch's), taking first what a batch takes first.
    async fn begin_writing(
        pool: &Pool<Self::Db>,
    ) -> Result<Transaction<'static, Self::Db>, sqlx::Error>;
}

/// Defines the batches' connections (`Writes`, their [`super::batch::Transact`]), and
/// implements [`super::Messages`], [`super::Payloads`], [`super::Consents`],
/// [`super::AuditTrail`] and [`super::Disclosures`] for `$store` (of the driver `$db`), which
/// reads from the pool `self.$reads`, writes to the pool `self.$writes`, and implements
/// [`Backend`].
macro_rules! sql_store {
    ($store:ty, $db:ty, reads: $reads:ident, writes: $writes:ident) => {
        /// `sql` with `values` bound to its parameters.
        fn bound<'q>(
            sql: &'q str,
            values: &[$crate::record::batch::Value<'q>],
        ) -> sqlx::query::Query<'q, $db, <$db as sqlx::Database>::Arguments<'q>> {
            use $crate::record::batch::Value;
            values
                .iter()
                .fold(sqlx::query(sql), |query, value| match *value {
                    Value::Text(text) => query.bind(text),
                    Value::Bytes(bytes) => query.bind(bytes),
                })
        }

        /// Undoes the transaction open on `conn`, if one is (fails by itself where none is).
        async fn rollback(conn: &mut sqlx::pool::PoolConnection<$db>) {
            let _ = sqlx::query("ROLLBACK").execute(&mut **conn).await;
        }

        /// The batches' connections, from the store's writing pool, and their scripts run
        /// as the backend runs them.
        struct Writes(sqlx::Pool<$db>);

        #[async_trait::async_trait]
        impl $crate::record::batch::Transact for Writes {
            type Conn = sqlx::pool::PoolConnection<$db>;
            const ROWS: usize = <$store as $crate::record::common::Backend>::ROWS;

            async fn connect(&self) -> Result<Self::Conn, sqlx::Error> {
                self.0.acquire().await
            }

            async fn open(
                &self,
                conn: &mut Self::Conn,
                script: &$crate::record::batch::Script<'_>,
            ) -> Result<Vec<$crate::record::batch::Rows>, sqlx::Error> {
                <$store as $crate::record::common::Backend>::open_script(conn, script).await
            }

            async fn close(
                &self,
                conn: &mut Self::Conn,
                script: &$crate::record::batch::Script<'_>,
            ) -> Result<Vec<$crate::record::batch::Rows>, sqlx::Error> {
                <$store as $crate::record::common::Backend>::close_script(conn, script).await
            }

            async fn abandon(&self, conn: &mut Self::Conn) {
                rollback(conn).await;
            }
        }

        impl $store {
            /// The views a statement of [`rows`] finds.
            async fn views(
                &self,
                statement: &$crate::record::rows::Statement,
            ) -> Result<Vec<$crate::record::StatusView>, $crate::record::StoreError> {
                let values: Vec<$crate::record::batch::Value> = statement
                    .values
                    .iter()
                    .map(|v| $crate::record::batch::Value::Text(v.as_deref()))
                    .collect();
                $crate::record::rows::views(
                    bound(&statement.sql, &values)
                        .fetch_all(&self.$reads)
                        .await?,
                )
            }
        }

        $crate::record::common::messages!($store, reads: $reads, writes: $writes);
        $crate::record::common::payloads!($store, writes: $writes);
        $crate::record::common::consents!($store, reads: $reads, writes: $writes);
        $crate::record::common::audit!($store, $db, reads: $reads, writes: $writes);
    };
}
pub(crate) use sql_store;

/// The rows of each of `expected` statements of a script, from the driver's `steps`, less
/// those of the first `lead` and the last `trail` (the transaction's own: `BEGIN`, `COMMIT`).
pub async fn script_rows<Q, R>(
    steps: impl Stream<Item = Result<Either<Q, R>, sqlx::Error>> + Unpin,
    row: impl Fn(&R) -> Result<Vec<String>, sqlx::Error>,
    expected: usize,
    (lead, trail): (usize, usize),
) -> Result<Vec<super::batch::Rows>, sqlx::Error> {
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
pub async fn statement_rows<Q, R>(
    mut steps: impl Stream<Item = Result<Either<Q, R>, sqlx::Error>> + Unpin,
    row: impl Fn(&R) -> Result<Vec<String>, sqlx::Error>,
) -> Result<Vec<super::batch::Rows>, sqlx::Error> {
    let (mut results, mut rows) = (Vec::new(), Vec::new());
    while let Some(step) = steps.try_next().await? {
        match step {
            Either::Left(_) => results.push(std::mem::take(&mut rows)),
            Either::Right(r) => rows.push(row(&r)?),
        }
    }
    Ok(results)
}
