//! Parse: turn a request body into a typed [`Envelope`], or into field-level errors.
//!
//! The JSON Schemas in `schemas/` are the contract; once a body passes them it is
//! deserialised into types that cannot hold a malformed message. Error texts name the
//! field and the rule, never the value (values may be personal data).

mod envelope;
mod schema;

pub use envelope::{Envelope, Payload};
pub use schema::{Contracts, ContractsError, FieldError};

/// Why a body is not a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Not JSON at all.
    Malformed { line: usize, column: usize },
    /// JSON, but not of the contract.
    Invalid(Vec<FieldError>),
}
