//! The typed envelope a message is once it has passed its schemas.

use contract::directory::AgencyId;
use contract::message::{
    Kind, LegalBasisRef, MessageId, RoutedMessage, RoutedSender, Subject, Urgency,
};
use serde::Serialize;

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

impl Envelope {
    /// The routed form of this (allowed) envelope from `sender`, under the gateway's id `id`.
    pub fn routed(
        &self,
        id: MessageId,
        sender: RoutedSender,
        recorded_at: String,
    ) -> RoutedMessage {
        RoutedMessage {
            message_id: id,
            sender_message_id: self.message_id,
            kind: self.kind,
            sender,
            recipient: AgencyId(self.recipient.clone()),
            legal_basis: self.legal_basis.clone(),
            urgency: self.urgency,
            subject: self.subject.clone(),
            payload: self.payload.fields().clone(),
            recorded_at,
        }
    }
}
