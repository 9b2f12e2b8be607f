//! Record: the gateway's state (messages, their status history, the outbox, the audit
//! trail, consents, refusals). Everything the rest of the gateway asks of its database is
//! the [`Store`] seam, behind which SQLite ([`SqliteStore`], one process) or PostgreSQL
//! ([`PgStore`], shared by several instances) keeps it, with the same statements
//! (`common/`); `gateway/tests/store_suite.rs` is what every backend must pass.

pub mod audit;
mod batch;
mod common;
mod consents;
mod disclosures;
pub mod head;
mod postgres;
mod retention;
mod rewrap;
mod rows;
mod sqlite;

pub use audit::{
    AuditEntry, AuditReport, AuditTrail, Break, ChainKey, ChainLink, Pruned, SignedHead, verify,
};
pub use consents::{Affected, ConsentRecorded, Consents, Refused, Withdrawal};
pub use contract::clock::{parse_timestamp, timestamp};
pub use disclosures::{Disclosure, DisclosureRequest, Disclosures, Reach};
pub use head::{HeadConfig, HeadError, HeadExport};
pub use postgres::PgStore;
pub use retention::{Retention, RetentionConfig};
pub use rewrap::{RewrapError, Rewrapped, rewrap};
pub use sqlite::SqliteStore;

use crate::keys::{Locked, LockedKey};
use async_trait::async_trait;
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
        /// An answer: the recipient decided whether to investigate (Sweden: within 14 days).
        Decided,
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
            Assessed | Acknowledged | Decided | InvestigationEnded | Concluded => &[],
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

/// A message to record: ids, kinds and tags, and the routed bytes sealed at rest.
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
    /// The routed bytes, sealed at rest (bound to `id`).
    pub routed: Locked,
    pub attempts: i64,
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

/// A payload stored in clear by an earlier version, to be sealed.
#[derive(Debug, Clone)]
pub struct ClearPayload {
    pub id: MessageId,
    pub routed: Vec<u8>,
}

/// What the gateway asks of its store about payloads at rest: re-wrapping their data keys
/// under a new KEK, sealing those an earlier version stored in clear, erasing them.
#[async_trait]
pub trait Payloads: Send + Sync {
    /// Up to `limit` data keys wrapped by another KEK than `current`.
    async fn keys_not_under(
        &self,
        current: &str,
        limit: u32,
    ) -> Result<Vec<(MessageId, LockedKey)>, StoreError>;

    /// Replaces the wrapped data key of `id`, if it is still `old` (not erased, not
    /// re-wrapped by another); returns whether it did.
    async fn replace_key(
        &self,
        id: &MessageId,
        old: &LockedKey,
        new: &LockedKey,
    ) -> Result<bool, StoreError>;

    /// Up to `limit` payloads stored in clear (not erased).
    async fn clear_payloads(&self, limit: u32) -> Result<Vec<ClearPayload>, StoreError>;

    /// Seals the clear payload of `id`, if it is still in clear.
    async fn seal_clear(&self, id: &MessageId, locked: &Locked) -> Result<bool, StoreError>;

    /// The KEK ids that wrap some stored data key.
    async fn keys_in_use(&self) -> Result<Vec<String>, StoreError>;

    /// Erases the payloads of failed and expired messages, and of queued ones (the broker
    /// holds them), whose status has not changed since `before`; returns how many.
    async fn erase_settled(&self, before: OffsetDateTime) -> Result<u64, StoreError>;

    /// Reclaims the space of erased payloads' old row versions where the database keeps
    /// them after an update (PostgreSQL: `VACUUM messages`; SQLite's `secure_delete`
    /// overwrites them as it frees them).
    async fn reclaim_erased(&self) -> Result<(), StoreError>;

    /// The subject-hash key an earlier version kept in the database, if it is still there.
    async fn stored_subject_key(&self) -> Result<Option<Vec<u8>>, StoreError>;

    /// Removes that key from the database (once the key file holds it).
    async fn forget_stored_subject_key(&self) -> Result<(), StoreError>;
}

/// What the gateway asks of its store about messages: recording, the outbox's claims,
/// statuses. Every check-then-act is one atomic step in the store.
#[async_trait]
pub trait Messages: Send + Sync {
    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Whether other gateway instances may share this store: then none takes over
    /// another's publish claims at start-up, only those whose lease ran out.
    fn shared(&self) -> bool;

    /// Records a new message, with its first status and its audit entry, its publish
    /// claimed by this instance until `hold_until` (then the outbox may take it); or reports
    /// the message its sender recorded before under this id.
    async fn record(
        &self,
        msg: &NewMessage,
        hold_until: OffsetDateTime,
    ) -> Result<Recorded, StoreError>;

    /// Marks a message as confirmed by the broker, which takes it out of the outbox.
    /// Returns false if it was queued already.
    async fn mark_queued(&self, id: &MessageId) -> Result<bool, StoreError>;

    /// Marks a message as confirmed by the broker in the next batch, without waiting for
    /// its commit. A mark lost to a crash leaves the message to the outbox, which publishes
    /// it again; the adapters' ledger keeps that copy from its recipient. This instance's
    /// reads see the mark ([`Messages::status`] waits for it).
    async fn mark_queued_soon(&self, id: &MessageId) -> Result<(), StoreError>;

    /// Moves a message to `status` (with a value-free `reason`) if it may move there from
    /// where it is; returns whether it moved.
    async fn advance(
        &self,
        id: &MessageId,
        status: Status,
        reason: Option<&str>,
    ) -> Result<bool, StoreError>;

    /// Counts a failed attempt and puts the next one off until `until`.
    async fn defer(&self, id: &MessageId, until: OffsetDateTime) -> Result<(), StoreError>;

    /// A dead letter of `id` expired in its queue: a failed message moves to expired, and
    /// the expiry is audited whatever the message's status (one transaction); whether it
    /// moved.
    async fn dead_letter_expired(&self, id: &MessageId) -> Result<bool, StoreError>;

    /// Claims the publish of up to `limit` unconfirmed messages whose claim has run out
    /// (`take_over`: also every claim of another instance, as at start-up, when no other
    /// instance shares the database), oldest first, until `lease_until`. One statement: two
    /// sweeps, or a sweep and a request, never claim the same message.
    async fn claim_due(
        &self,
        limit: u32,
        lease_until: OffsetDateTime,
        take_over: bool,
    ) -> Result<Vec<Outgoing>, StoreError>;

    /// Claims the publish of the unconfirmed message `id` until `lease_until`, if nobody
    /// holds it; the message to publish, if this claim won.
    async fn claim(
        &self,
        id: &MessageId,
        lease_until: OffsetDateTime,
    ) -> Result<Option<Outgoing>, StoreError>;

    /// Messages accepted (reached `queued`, by whoever), per adapter name.
    async fn accepted_counts(&self) -> Result<Vec<(String, i64)>, StoreError>;

    /// The status of the message `sender` sent under its id `client_id`; a message read as
    /// `recorded` is read again once this instance's queued writes have been tried.
    async fn status(
        &self,
        client_id: &MessageId,
        sender: &AgencyId,
    ) -> Result<Option<StatusView>, StoreError>;

    /// Every message (of `sender`, if given) that one of `checks` finds, oldest first:
    /// the overdue candidates, found in the store rather than by reading every message.
    async fn past_due(
        &self,
        checks: &[DueCheck],
        sender: Option<&AgencyId>,
    ) -> Result<Vec<StatusView>, StoreError>;

    /// Every message not yet in a final status (of `sender`, if given), oldest first.
    async fn open_messages(&self, sender: Option<&AgencyId>)
    -> Result<Vec<StatusView>, StoreError>;
}
