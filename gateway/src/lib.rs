//! The referral gateway. A message's path, module by module:
//!
//! [`api`] (HTTP, [`tls`]) → [`authenticate`] (JWT, organisation certificates) → [`parse`]
//! (schemas) → [`decide`] (legal basis) → [`record`] (database, outbox, audit) → [`publish`] (RabbitMQ, confirmed) → adapters
//! → [`track`] (status events and receipts back from the adapters; [`deadlines`]).

pub mod api;
pub mod app;
pub mod authenticate;
pub mod birth;
pub mod calendar;
pub mod catalog;
pub mod config;
pub mod consent;
pub mod deadlines;
pub mod decide;
pub mod devkeys;
pub mod intake;
pub mod keys;
pub mod metrics;
pub mod operate;
pub mod parse;
pub mod publish;
pub mod record;
pub mod scan;
pub mod seal;
pub mod tls;
pub mod track;
