//! The wire contract of the referral gateway and its adapters: what both sides agree on.
//! The JSON Schemas, the legal-basis catalog and the OpenAPI documents beside this crate
//! are its other half.
//!
//! - [`directory`]: the agencies, their types, and how each takes its messages;
//! - [`message`]: the routed message the gateway puts on the broker for an adapter;
//! - [`render`]: each message kind in its recipient's format;
//! - [`seal`]: sealing a message for its recipient (JWE);
//! - [`status`]: the events adapters report back;
//! - [`control`]: what the gateway tells the adapters (a consent was withdrawn);
//! - [`topology`]: the RabbitMQ exchanges, queues and policies both sides declare.
//!
//! [`plumbing`] is apart from the contract: the broker link, the clock, configuration,
//! logging, owner-only files and the database openers every process runs on.

pub mod control;
pub mod directory;
pub mod message;
pub mod plumbing;
pub mod render;
pub mod seal;
pub mod status;
pub mod topology;

mod named;

pub use strum;
