//! Record: the gateway's state (messages, their status history, the outbox, the audit
//! trail, consents, refusals). Everything the rest of the gateway asks of its database is
//! the [`Store`] seam, behind which SQLite ([`SqliteStore`], one process) or PostgreSQL
//! ([`PgStore`], shared by several instances) keeps it: one [`SqlStore`] with the same
//! statements, on either [`Backend`]; `gateway/tests/store_suite.rs` is what every backend must pass.

pub mod audit;
mod batch;
mod consents;
mod disclosures;
pub mod head;
mod messages;
mod payloads;
mod postgres;
mod retention;
mod rewrap;
mod rows;
mod sql;
mod sqlite;
#[cfg(test)]
mod testing;

pub use audit::{
    AuditEntry, AuditReport, AuditTrail, Break, ChainKey, ChainLink, Pruned, SignedHead, verify,
};
pub use batch::BatchMeter;
pub use consents::{Affected, ConsentRecorded, Consents, Refused, Withdrawal};
pub use contract::plumbing::clock::{parse_timestamp, timestamp};
pub use disclosures::{Disclosure, DisclosureRequest, Disclosures, Reach};
pub use head::{HeadConfig, HeadError, HeadExport};
pub use messages::{Messages, RECENT_MAX};
pub use payloads::{ClearPayload, Payloads};
pub use postgres::{PgBackend, PgStore};
pub use retention::{Retention, RetentionConfig};
pub use rewrap::{RewrapError, Rewrapped, rewrap};
pub use sql::{Backend, SqlStore};
pub use sqlite::{SqliteBackend, SqliteStore};

use crate::keys::Locked;
use contract::directory::AgencyId;
use contract::message::{Kind, MessageId};
use serde::Serialize;
use time::OffsetDateTime;

/// The gateway's store: messages, consents, the keeping of payloads, the audit trail and
/// disclosure reports.
pub trait Store: Messages + Consents + Payloads + AuditTrail + Disclosures {}

impl<T: Messages + Consents + Payloads + AuditTrail + Disclosures> Store for T {}

contract::named! {
    /// Where a message stands, as the sender sees it.
    #[strum(serialize_all = "snake_case")]
    pub enum Status {
        /// Recorded by the gateway; the broker has not confirmed it yet.
        Recorded,
        /// Confirmed by the broker: on its way to the recipient's adapter.
        Queued,
        /// Handed to the recipient's system.
        Delivered,
        /// Stopped before delivery: the consent it was sent under was withdrawn.
        Withdrawn,
        /// The recipient's system confirmed it has the message (a `mottatt` receipt).
        Received,
        /// The recipient gave the reporter feedback (a `tilbakemelding` receipt): whether an
        /// investigation was opened.
        FeedbackGiven,
        /// An answer: the recipient assessed at once whether the child needs protection
        /// (Sweden: skyddsbedömning; Denmark: the 24-hour assessment).
        Assessed,
        /// An answer: the recipient sent the reporter its receipt (Denmark: within six
        /// working days).
        Acknowledged,
        /// An answer: the recipient decided, without opening an investigation (Norway: the
        /// review within a week; Sweden: the förhandsbedömning within 14 days), or a risk
        /// conference decided on its measures.
        Decided,
        /// An answer: the recipient decided to open an investigation (meets the deadline of
        /// the decision, and starts the investigation's).
        InvestigationOpened,
        /// An answer: the investigation's time limit was extended, as the statute allows.
        InvestigationExtended,
        /// An answer: the investigation the feedback announced has ended.
        InvestigationEnded,
        /// An answer: the second feedback, after an opened investigation ended (Norway:
        /// within three weeks of its end).
        Concluded,
        /// Delivery failed for good, or the recipient's system reported a failure (`feilet`).
        Failed,
        /// Not delivered within the retry budget.
        Expired,
    }
}

impl Status {
    /// Whether nothing more happens to a message in this status.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Failed | Self::Expired | Self::Withdrawn)
    }

    /// Whether this is an answer of the recipient: an entry of the history, once per
    /// message, that leaves the message's status as it is (answers come in any order).
    pub fn is_answer(self) -> bool {
        matches!(
            self,
            Self::Assessed
                | Self::Acknowledged
                | Self::Decided
                | Self::InvestigationOpened
                | Self::InvestigationExtended
                | Self::InvestigationEnded
                | Self::Concluded
        )
    }

    /// The statuses in which a message takes answers: it reached its recipient.
    pub const ANSWERED_IN: &[Status] = &[Self::Delivered, Self::Received, Self::FeedbackGiven];

    /// The statuses a message may move to this one from (later events never undo earlier
    /// ones; a failure ends the story).
    pub fn follows(self) -> &'static [Status] {
        use Status::*;
        match self {
            Recorded => &[],
            Queued => &[Recorded],
            // From failed or expired too: an operator replayed it.
            Delivered => &[Recorded, Queued, Failed, Expired],
            Received => &[Recorded, Queued, Delivered],
            FeedbackGiven => &[Recorded, Queued, Delivered, Received],
            Failed => &[Recorded, Queued, Delivered],
            // From failed too: its dead letter expired unreplayed.
            Expired => &[Recorded, Queued, Failed],
            Withdrawn => &[Recorded, Queued],
            Assessed
            | Acknowledged
            | Decided
            | InvestigationOpened
            | InvestigationExtended
            | InvestigationEnded
            | Concluded => &[],
        }
    }
}

/// The gateway's id of a message: a UUIDv5 of the sending organisation and the id the
/// sender chose. The same pair always gives the same id (a repeated request finds its
/// message); two senders' ids never give the same one.
pub fn gateway_id(sender: &AgencyId, client_id: &MessageId) -> MessageId {
    const NAMESPACE: uuid::Uuid = uuid::uuid!("5b0e8f5e-2d0a-4c1e-9a57-8e2f3c1d7a40");
    MessageId(uuid::Uuid::new_v5(
        &NAMESPACE,
        format!("{sender}\n{client_id}").as_bytes(),
    ))
}

/// A message to record: ids, kinds and tags, and the routed bytes encrypted at rest.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// The gateway's id ([`gateway_id`]).
    pub id: MessageId,
    /// The id the sender chose (its idempotency key, with the sender).
    pub client_id: MessageId,
    pub sender: AgencyId,
    /// The organisation number of a vendor acting for the sender's organisation, if one
    /// does (kept in the audit trail beside the sender).
    pub supplier: Option<String>,
    pub recipient: AgencyId,
    pub kind: Kind,
    pub legal_basis: String,
    pub body_hash: String,
    pub routing_key: String,
    /// The routed bytes, sealed under the message's own data key (bound to `id`).
    pub routed: Locked,
    /// The consent cited, if any.
    pub consent_ref: Option<String>,
    /// The keyed hashes of the people the message is about ([`crate::consent::SubjectKey`]).
    pub subject_hashes: Vec<String>,
    /// The W3C trace id the sender's request carried, if any ([`Outgoing::trace_id`]).
    pub trace_id: Option<String>,
}

impl NewMessage {
    /// The message as the outbox would publish it.
    pub fn outgoing(&self) -> Outgoing {
        Outgoing {
            id: self.id,
            sender: self.sender.clone(),
            kind: self.kind,
            legal_basis: self.legal_basis.clone(),
            routing_key: self.routing_key.clone(),
            routed: self.routed.clone(),
            attempts: 0,
            trace_id: self.trace_id.clone(),
        }
    }
}

/// The outcome of recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// The message is new and now recorded, with its outbox entry.
    New,
    /// The sender recorded a message with this id before.
    Existing { body_hash: String, status: Status },
}

/// A recorded message that the broker has not confirmed.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub id: MessageId,
    pub sender: AgencyId,
    pub kind: Kind,
    pub legal_basis: String,
    pub routing_key: String,
    /// The routed bytes, encrypted at rest (bound to `id`).
    pub routed: Locked,
    pub attempts: i64,
    /// The W3C trace id its hops carry: the sender's, or none for the gateway id.
    pub trace_id: Option<String>,
}

/// One entry of a status history.
#[derive(Debug, Clone, Serialize)]
pub struct StatusEntry {
    pub status: Status,
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What to look for in the store for one deadline: messages of `kind`, in no final status,
/// whose history holds `after` before `cutoff` and none of `met_by`.
#[derive(Debug, Clone)]
pub struct DueCheck {
    pub kind: Kind,
    pub after: Status,
    pub cutoff: OffsetDateTime,
    pub met_by: Vec<Status>,
}

/// What the sender may see of a message.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    /// The sender's id of the message.
    pub message_id: MessageId,
    /// The gateway's id: the one the recipient's system, receipts and operators know.
    pub gateway_id: MessageId,
    pub kind: Kind,
    pub recipient: AgencyId,
    pub legal_basis: String,
    pub status: Status,
    pub history: Vec<StatusEntry>,
    /// When the payload was erased (its data key destroyed), if it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload_erased_at: Option<String>,
}

/// A failure of the database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {at}: {source}")]
    Open { at: String, source: sqlx::Error },
    #[error("cannot migrate database: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("database holds an unexpected value: {0}")]
    Corrupt(String),
    #[error("the audit key is not loaded yet: nothing audited is written")]
    NoAuditKey,
    #[error("the batch of writes this one joined did not commit: {why}")]
    Batch {
        why: String,
        /// Whether it failed because the database could not be reached.
        unavailable: bool,
    },
}

impl StoreError {
    /// Whether the database could not be reached (a lost connection, none to be had, the
    /// server shutting down or refusing connections): a moment later it may answer.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Open { source: e, .. } | Self::Query(e) => match e {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                // Connection exceptions (class 08), and the server shutting down or not
                // yet taking connections (57P01–57P03).
                sqlx::Error::Database(db) => db
                    .code()
                    .is_some_and(|c| c.starts_with("08") || c.starts_with("57P0")),
                _ => false,
            },
            Self::Batch { unavailable, .. } => *unavailable,
            Self::Migrate(_) | Self::Corrupt(_) | Self::NoAuditKey => false,
        }
    }
}
