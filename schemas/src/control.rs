//! Control messages from the gateway to an adapter (on its `adapter.<transport>.control`
//! queue): a consent was withdrawn.

use crate::directory::AgencyId;
use crate::message::MessageId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The messages under a withdrawn consent that an adapter must act on: stop those not yet
/// delivered, and tell the recipients of those delivered, or of those an attempt whose
/// outcome is unknown may have reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Withdrawal {
    /// The withdrawn consent (for the records).
    pub consent_ref: String,
    /// The gateway's ids of the messages.
    pub message_ids: Vec<MessageId>,
    /// The agency each message is addressed to, by its id (absent from the control
    /// messages of gateways before it was added).
    #[serde(default)]
    pub recipients: BTreeMap<MessageId, AgencyId>,
}

/// What a withdrawal asks, as the AMQP `type` of its control message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithdrawalKind {
    /// The messages were not delivered yet: stop them.
    Stop,
    /// The messages were delivered: tell their recipients.
    Notice,
}

impl WithdrawalKind {
    /// Its AMQP `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "consent.withdrawn.stop",
            Self::Notice => "consent.withdrawn.notice",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_withdrawal_reads_as_it_is_written_and_without_recipients() {
        let id = MessageId(uuid::Uuid::new_v4());
        let withdrawal = Withdrawal {
            consent_ref: "samtycke-1".into(),
            message_ids: vec![id],
            recipients: [(id, AgencyId("no-oslo-politi".into()))].into(),
        };
        let json = serde_json::to_value(&withdrawal).unwrap();
        assert_eq!(json["recipients"][id.to_string()], "no-oslo-politi");
        assert_eq!(
            serde_json::from_value::<Withdrawal>(json).unwrap(),
            withdrawal
        );
        let older = serde_json::json!({ "consentRef": "c", "messageIds": [id] });
        assert!(
            serde_json::from_value::<Withdrawal>(older)
                .unwrap()
                .recipients
                .is_empty()
        );
    }
}
