//! The routed message: what the gateway puts on the broker for an adapter, as canonical JSON.

use crate::directory::{AgencyId, AgencyType};
use crate::parse::{Envelope, Kind, LegalBasisRef, MessageId, Subject, Urgency};
use serde::{Deserialize, Serialize};

/// The sending agency, from the directory (never from the body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoutedSender {
    pub agency: AgencyId,
    #[serde(rename = "type")]
    pub agency_type: AgencyType,
    pub orgnr: String,
}

/// A message on its way to an adapter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoutedMessage {
    /// The gateway's id of the message (unique across senders).
    pub message_id: MessageId,
    /// The id the sender chose, for the recipient to quote back to the sender.
    pub sender_message_id: MessageId,
    pub kind: Kind,
    pub sender: RoutedSender,
    pub recipient: AgencyId,
    pub legal_basis: LegalBasisRef,
    pub urgency: Urgency,
    pub subject: Subject,
    pub payload: serde_json::Map<String, serde_json::Value>,
    /// When the gateway recorded it (RFC 3339, UTC).
    pub recorded_at: String,
}

impl RoutedMessage {
    /// The routed form of an allowed envelope from `sender`, under the gateway's id `id`.
    pub fn new(
        envelope: &Envelope,
        id: MessageId,
        sender: RoutedSender,
        recorded_at: String,
    ) -> Self {
        Self {
            message_id: id,
            sender_message_id: envelope.message_id,
            kind: envelope.kind,
            sender,
            recipient: AgencyId(envelope.recipient.clone()),
            legal_basis: envelope.legal_basis.clone(),
            urgency: envelope.urgency,
            subject: envelope.subject.clone(),
            payload: envelope.payload.fields().clone(),
            recorded_at,
        }
    }
}
