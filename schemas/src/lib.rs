//! The wire contract of the referral gateway and its adapters: what both sides agree on.
//! The JSON Schemas, the legal-basis catalog and the OpenAPI documents beside this crate
//! are its other half.
//!
//! - [`directory`]: the agencies, their types, and how each takes its messages;
//! - [`message`]: the routed message the gateway puts on the broker for an adapter;
//! - [`render`]: each message kind in its recipient's format;
//! - [`status`]: the events adapters report back;
//! - [`control`]: what the gateway tells the adapters (a consent was withdrawn);
//! - [`broker`]: the RabbitMQ topology, the supervised link, confirmed publishing;
//! - [`clock`], [`config`], [`process`], [`private`], [`sqlite`], [`postgres`], [`sql`]: the
//!   clock, configuration loading, logging and shutdown, owner-only files, opening a local
//!   SQLite file, a schema on a shared PostgreSQL server, statements run on either driver,
//!   the same in every process.

pub mod broker;
pub mod clock;
pub mod config;
pub mod control;
pub mod directory;
pub mod message;
pub mod postgres;
pub mod private;
pub mod process;
pub mod render;
pub mod seal;
pub mod sql;
pub mod sqlite;
pub mod status;

mod named;

pub use strum;
