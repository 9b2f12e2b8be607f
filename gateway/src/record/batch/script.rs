//! A batch's statements as one script, and what a backend does to run it.

use async_trait::async_trait;
use contract::plumbing::sql::Value;

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
