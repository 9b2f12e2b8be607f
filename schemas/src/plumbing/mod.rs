//! What every process of the gateway and the adapters runs on, apart from the wire
//! contract: the broker link, the clock, configuration loading, logging and shutdown,
//! owner-only files, and the database openers and statements shared by the store and the
//! ledger.

pub mod broker;
pub mod clock;
pub mod config;
pub mod metrics;
pub mod otlp;
pub mod postgres;
pub mod private;
pub mod process;
pub mod sql;
pub mod sqlite;
