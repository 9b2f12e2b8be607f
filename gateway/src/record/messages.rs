//! What the gateway asks of its store about messages.

use super::{DueCheck, NewMessage, Outgoing, Recorded, Status, StatusView, StoreError};
use async_trait::async_trait;
use contract::directory::AgencyId;
use contract::message::MessageId;
use time::OffsetDateTime;

/// The most messages [`Messages::recent`] reads.
pub const RECENT_MAX: u32 = 5000;

/// What the gateway asks of its store about messages: recording, the outbox's claims,
/// statuses. Every check-then-act is one atomic step in the store.
#[async_trait]
pub trait Messages: Send + Sync {
    /// Whether the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// The batches' commit times and sizes, for the metrics to register.
    fn batch_meter(&self) -> crate::record::BatchMeter;

    /// Whether other gateway instances may share this store: then none takes over
    /// another's publish claims at start-up, only those whose lease ran out.
    fn shared(&self) -> bool;

    /// Records a new message, with its first status and its audit entry, its publish
    /// claimed by this instance until `lease_until` (then the outbox may take it); or reports
    /// the message its sender recorded before under this id.
    async fn record(
        &self,
        msg: &NewMessage,
        lease_until: OffsetDateTime,
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

    /// Something happened to the dead letter of `id` (it expired in its queue; an operator
    /// replays or discards it): audited as `action` by `actor` whatever the message's
    /// status, and with `expire` (a value-free reason) a failed message moves to expired;
    /// one transaction; whether it moved.
    async fn dead_letter_event(
        &self,
        id: &MessageId,
        actor: &str,
        action: &str,
        expire: Option<&str>,
    ) -> Result<bool, StoreError>;

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

    /// When the message `id` was recorded, if it is in the store.
    async fn recorded_at(&self, id: &MessageId) -> Result<Option<OffsetDateTime>, StoreError>;

    /// Messages recorded whose publish the broker has not confirmed yet: the outbox's
    /// depth.
    async fn outbox_depth(&self) -> Result<i64, StoreError>;

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

    /// The messages recorded since `since`, newest first, at most [`RECENT_MAX`]: the
    /// operator console's last hour.
    async fn recent(&self, since: OffsetDateTime) -> Result<Vec<StatusView>, StoreError>;

    /// Every message not yet in a final status (of `sender`, if given), oldest first.
    async fn open_messages(&self, sender: Option<&AgencyId>)
    -> Result<Vec<StatusView>, StoreError>;
}
