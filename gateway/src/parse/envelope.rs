//! The typed envelope a message is once it has passed its schemas.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The message kinds the gateway carries; each has a schema `schemas/kinds/<kind>.schema.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
pub enum Kind {
    /// Bekymringsmelding from a public reporter to barnevern (Norway).
    #[serde(rename = "no.bekymringsmelding")]
    NoBekymringsmelding,
    /// Referral to the municipality's police contact (Norway).
    #[serde(rename = "no.politikontakt")]
    NoPolitikontakt,
    /// Request to the SSPF coordinator or the local SIG (Sweden).
    #[serde(rename = "se.sspf-sig")]
    SeSspfSig,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 3] = [
        Self::NoBekymringsmelding,
        Self::NoPolitikontakt,
        Self::SeSspfSig,
    ];

    /// The kind's name, as in envelopes and schema file names.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoBekymringsmelding => "no.bekymringsmelding",
            Self::NoPolitikontakt => "no.politikontakt",
            Self::SeSspfSig => "se.sspf-sig",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The client's message id (a UUID): the idempotency key and the id of the message everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize)]
#[serde(transparent)]
pub struct MessageId(pub uuid::Uuid);

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// How soon the recipient must act.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Urgency {
    Normal,
    Urgent,
}

/// The legal basis a message is sent under.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LegalBasisRef {
    pub tag: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation: Option<serde_json::Map<String, serde_json::Value>>,
}

/// What the envelope says of the person the message is about.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum Subject {
    /// Age in whole years.
    Age(u8),
    /// Birth date, `YYYY-MM-DD`.
    BirthDate(String),
    /// Not yet born.
    Unborn(bool),
}

/// A payload that passed the schema of its kind. Only [`super::Contracts::parse`] makes one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Payload(serde_json::Map<String, serde_json::Value>);

impl Payload {
    pub(super) fn new(map: serde_json::Map<String, serde_json::Value>) -> Self {
        Self(map)
    }

    /// The payload's fields.
    pub fn fields(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.0
    }

    /// The string at a JSON pointer inside the payload, if there is one.
    pub fn str_at(&self, pointer: &str) -> Option<&str> {
        let mut value = self
            .0
            .get(pointer.trim_start_matches('/').split('/').next()?)?;
        for token in pointer.trim_start_matches('/').split('/').skip(1) {
            value = match value {
                serde_json::Value::Object(m) => m.get(token)?,
                serde_json::Value::Array(a) => a.get(token.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        value.as_str()
    }
}

/// A message as posted, after parsing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope {
    pub message_id: MessageId,
    pub kind: Kind,
    pub recipient: String,
    pub legal_basis: LegalBasisRef,
    pub urgency: Urgency,
    pub subject: Subject,
    pub payload: Payload,
}
