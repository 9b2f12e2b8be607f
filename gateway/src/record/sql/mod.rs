//! The store on a SQL database: [`SqlStore`] implements the store's traits once, one file
//! each, with statements written once (`$n` parameters, which SQLite reads as PostgreSQL
//! does); a [`Backend`] runs them (`../sqlite/`, `../postgres/`) and keeps only what differs:
//! how it opens, how a writing transaction begins, which messages the outbox's sweep claims,
//! and how a JSON array is searched.

mod audit;
mod backend;
mod consents;
mod disclosures;
mod messages;
mod payloads;

pub use backend::{Backend, Conn, script_rows};

use super::audit::ChainKey;
use super::batch::{BatchMeter, Batcher};
use super::rows::Statement;
use super::{StatusView, StoreError};
use contract::plumbing::clock::Clock;
use contract::plumbing::sql::Value;
use std::sync::Arc;

/// The gateway's store on the SQL backend `B`.
#[derive(Clone)]
pub struct SqlStore<B> {
    /// Where its statements run.
    db: B,
    /// This gateway instance, as the holder of the publish claims it takes.
    instance: String,
    /// The gateway's one clock: every time the store writes is its.
    clock: Arc<Clock>,
    /// The writer task of the hot writes (group commit).
    batcher: Batcher,
    /// The audit key the store chains its audit entries with.
    key: ChainKey,
    /// The batches' commit times and sizes.
    meter: BatchMeter,
}

impl<B: Backend> SqlStore<B> {
    /// The store on `db` (opened and migrated), writing times by `clock`.
    pub fn new(db: B, clock: Arc<Clock>) -> Self {
        let instance = uuid::Uuid::new_v4().to_string();
        let (key, meter) = (ChainKey::default(), BatchMeter::default());
        Self {
            batcher: Batcher::spawn(
                db.clone(),
                instance.clone(),
                clock.clone(),
                key.clone(),
                meter.clone(),
            ),
            db,
            instance,
            clock,
            key,
            meter,
        }
    }

    /// Its backend.
    pub fn backend(&self) -> &B {
        &self.db
    }

    /// The views a statement of [`super::rows`] finds.
    async fn views(&self, statement: &Statement) -> Result<Vec<StatusView>, StoreError> {
        let values: Vec<Value> = statement
            .values
            .iter()
            .map(|v| Value::Text(v.as_deref()))
            .collect();
        let rows = self.db.fetch(Conn::Reader, &statement.sql, &values).await?;
        super::rows::views(rows)
    }
}
