//! Statements with values, run on either SQL driver: the one place that is generic over
//! sqlx's drivers. The gateway's store and the adapters' ledger write their statements once
//! (`$n` parameters, which SQLite reads as PostgreSQL does) with [`Value`]s, and each of
//! their backends runs them through [`fetch_all`] and [`execute`] on its own pool or
//! transaction; their rows are read by column name ([`Columns`]).

use sqlx::query::Query;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Type};

/// A value bound to a statement's parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// Text, or SQL `NULL` (as text).
    Text(Option<&'a str>),
    /// Bytes.
    Bytes(&'a [u8]),
    /// A 64-bit integer.
    Int(i64),
    /// A truth value.
    Bool(bool),
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(text: &'a str) -> Self {
        Self::Text(Some(text))
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(text: &'a String) -> Self {
        Self::Text(Some(text))
    }
}

impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(text: Option<&'a str>) -> Self {
        Self::Text(text)
    }
}

impl<'a> From<&'a [u8]> for Value<'a> {
    fn from(bytes: &'a [u8]) -> Self {
        Self::Bytes(bytes)
    }
}

impl<'a> From<&'a Vec<u8>> for Value<'a> {
    fn from(bytes: &'a Vec<u8>) -> Self {
        Self::Bytes(bytes)
    }
}

impl From<i64> for Value<'_> {
    fn from(int: i64) -> Self {
        Self::Int(int)
    }
}

impl From<bool> for Value<'_> {
    fn from(flag: bool) -> Self {
        Self::Bool(flag)
    }
}

/// `sql` with `values` bound to its parameters, in order.
pub fn bound<'q, DB>(sql: &'q str, values: &[Value<'q>]) -> Query<'q, DB, DB::Arguments<'q>>
where
    DB: Database,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    &'q [u8]: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
    bool: Encode<'q, DB> + Type<DB>,
{
    values
        .iter()
        .fold(sqlx::query(sql), |query, value| match *value {
            Value::Text(text) => query.bind(text),
            Value::Bytes(bytes) => query.bind(bytes),
            Value::Int(int) => query.bind(int),
            Value::Bool(flag) => query.bind(flag),
        })
}

/// The rows `sql` with `values` returns, run on `executor` (a pool, a connection or a
/// transaction).
pub async fn fetch_all<'q, 'e, DB, E>(
    executor: E,
    sql: &'q str,
    values: &[Value<'q>],
) -> Result<Vec<DB::Row>, sqlx::Error>
where
    'q: 'e,
    DB: Database,
    E: Executor<'e, Database = DB>,
    DB::Arguments<'q>: IntoArguments<'q, DB>,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    &'q [u8]: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
    bool: Encode<'q, DB> + Type<DB>,
{
    bound(sql, values).fetch_all(executor).await
}

/// How many rows `sql` with `values` changed, run on `executor`.
pub async fn execute<'q, 'e, DB, E>(
    executor: E,
    sql: &'q str,
    values: &[Value<'q>],
) -> Result<u64, sqlx::Error>
where
    'q: 'e,
    DB: Database,
    E: Executor<'e, Database = DB>,
    DB::Arguments<'q>: IntoArguments<'q, DB>,
    DB::QueryResult: Affected,
    Option<&'q str>: Encode<'q, DB> + Type<DB>,
    &'q [u8]: Encode<'q, DB> + Type<DB>,
    i64: Encode<'q, DB> + Type<DB>,
    bool: Encode<'q, DB> + Type<DB>,
{
    Ok(bound(sql, values).execute(executor).await?.rows())
}

/// A driver's result of a statement that changes rows.
pub trait Affected {
    /// How many rows it changed.
    fn rows(&self) -> u64;
}

impl Affected for sqlx::sqlite::SqliteQueryResult {
    fn rows(&self) -> u64 {
        self.rows_affected()
    }
}

impl Affected for sqlx::postgres::PgQueryResult {
    fn rows(&self) -> u64 {
        self.rows_affected()
    }
}

/// A row, read by column name.
pub trait Columns {
    /// A text column.
    fn text(&self, name: &str) -> Result<String, sqlx::Error>;
    /// A text column that may be `NULL`.
    fn maybe_text(&self, name: &str) -> Result<Option<String>, sqlx::Error>;
    /// A bytes column.
    fn bytes(&self, name: &str) -> Result<Vec<u8>, sqlx::Error>;
    /// An integer column.
    fn int(&self, name: &str) -> Result<i64, sqlx::Error>;
    /// A truth value that may be `NULL`.
    fn maybe_flag(&self, name: &str) -> Result<Option<bool>, sqlx::Error>;
    /// Every column, each a text column.
    fn texts(&self) -> Result<Vec<String>, sqlx::Error>;
}

impl<R> Columns for R
where
    R: sqlx::Row,
    for<'n> &'n str: ColumnIndex<R>,
    usize: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, name: &str) -> Result<String, sqlx::Error> {
        self.try_get(name)
    }
    fn maybe_text(&self, name: &str) -> Result<Option<String>, sqlx::Error> {
        self.try_get(name)
    }
    fn bytes(&self, name: &str) -> Result<Vec<u8>, sqlx::Error> {
        self.try_get(name)
    }
    fn int(&self, name: &str) -> Result<i64, sqlx::Error> {
        self.try_get(name)
    }
    fn maybe_flag(&self, name: &str) -> Result<Option<bool>, sqlx::Error> {
        self.try_get(name)
    }
    fn texts(&self) -> Result<Vec<String>, sqlx::Error> {
        (0..self.len()).map(|i| self.try_get(i)).collect()
    }
}

/// An open transaction: statements run in it until it commits (dropped, it rolls back).
#[async_trait::async_trait]
pub trait Tx: Send {
    /// A row it answers.
    type Row: Columns + Send + Sync;
    /// The rows `sql` with `values` answers.
    async fn fetch(
        &mut self,
        sql: &str,
        values: &[Value<'_>],
    ) -> Result<Vec<Self::Row>, sqlx::Error>;
    /// How many rows `sql` with `values` changed.
    async fn execute(&mut self, sql: &str, values: &[Value<'_>]) -> Result<u64, sqlx::Error>;
    /// Commits it.
    async fn commit(self) -> Result<(), sqlx::Error>;
}

#[async_trait::async_trait]
impl<DB> Tx for sqlx::Transaction<'static, DB>
where
    DB: Database,
    DB::Row: Columns + Send + Sync,
    DB::QueryResult: Affected,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> &'q [u8]: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
{
    type Row = DB::Row;

    async fn fetch(
        &mut self,
        sql: &str,
        values: &[Value<'_>],
    ) -> Result<Vec<DB::Row>, sqlx::Error> {
        fetch_all(&mut **self, sql, values).await
    }

    async fn execute(&mut self, sql: &str, values: &[Value<'_>]) -> Result<u64, sqlx::Error> {
        execute(&mut **self, sql, values).await
    }

    async fn commit(self) -> Result<(), sqlx::Error> {
        sqlx::Transaction::commit(self).await
    }
}
