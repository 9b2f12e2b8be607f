//! The right of access (GDPR art. 15): which disclosures were made about one person, found
//! through the keyed hashes stored with each message, never the person's ID.

use super::{Status, StoreError};
use async_trait::async_trait;
use contract::directory::AgencyId;
use contract::message::{Kind, MessageId};
use serde::Serialize;
use std::collections::HashSet;

/// One message about the person: who sent which kind under which basis to whom, when, and
/// what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Disclosure {
    /// The gateway's id of the message.
    pub message_id: MessageId,
    pub sender: AgencyId,
    pub recipient: AgencyId,
    pub kind: Kind,
    pub legal_basis: String,
    pub recorded_at: String,
    pub status: Status,
    pub status_at: String,
}

/// Who asked for a disclosure report, about whom (as a keyed hash), and which disclosures
/// they answer for.
#[derive(Debug, Clone)]
pub struct DisclosureRequest<'a> {
    /// The id of the request, for the audit trail.
    pub request_id: MessageId,
    /// The data protection officer's organisation.
    pub organisation: &'a AgencyId,
    pub subject_hash: &'a str,
    pub reach: Reach,
}

/// The disclosures a data protection officer answers for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Those the agencies of one organisation (its organisation number: one controller)
    /// made or received.
    Organisation(HashSet<AgencyId>),
    /// Every disclosure (an operator-wide scope).
    All,
}

impl Reach {
    /// Whether a disclosure from `sender` to `recipient` is within reach.
    pub fn covers(&self, sender: &AgencyId, recipient: &AgencyId) -> bool {
        match self {
            Self::All => true,
            Self::Organisation(agencies) => {
                agencies.contains(sender) || agencies.contains(recipient)
            }
        }
    }
}

/// What the gateway asks of its store for disclosure reports.
#[async_trait]
pub trait Disclosures: Send + Sync {
    /// Audits a disclosure report, then lists the messages about `subject_hash` within the
    /// request's reach, oldest first (one transaction: no report without its audit entry).
    async fn disclosures(
        &self,
        request: &DisclosureRequest<'_>,
    ) -> Result<Vec<Disclosure>, StoreError>;
}
