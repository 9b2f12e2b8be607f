//! The adapter's ledger: which messages it is delivering (a claim with a lease: only the
//! copy that wins it is delivered), has delivered (so a redelivery never reaches an agency
//! twice) and must not deliver (their consent was withdrawn). One [`SqlLedger`] on either
//! backend: [`SqliteLedger`] (one file per host, the default) and [`PgLedger`] (shared by adapter processes on several
//! hosts); `adapters/tests/ledger_suite.rs` is what every backend must pass.

mod group;
mod postgres;
mod sql;
mod sqlite;

pub use postgres::{PgBackend, PgLedger};
pub use sql::SqlLedger;
pub use sqlite::{SqliteBackend, SqliteLedger};

use async_trait::async_trait;
use contract::message::MessageId;
use std::future::Future;
use std::time::Duration;

/// Runs `attempt` under the claim on `message_id`, renewing it every third of the lease
/// while the attempt runs: a slow agency keeps the claim, and another copy waits for the
/// outcome instead of delivering again when the lease alone would have run out.
pub async fn holding<T>(
    ledger: &(impl Ledger + ?Sized),
    message_id: &MessageId,
    attempt: impl Future<Output = T>,
) -> T {
    let every = (ledger.lease() / 3).max(Duration::from_millis(100));
    let mut attempt = std::pin::pin!(attempt);
    loop {
        tokio::select! {
            outcome = &mut attempt => return outcome,
            () = tokio::time::sleep(every) => match ledger.renew(message_id).await {
                Ok(true) => {}
                Ok(false) => tracing::warn!(%message_id, "the claim ran out during its attempt"),
                Err(error) => tracing::warn!(%message_id, %error, "claim not renewed"),
            },
        }
    }
}

/// What the ledger knows of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Nothing, or a claim that ran out: free to deliver.
    Free,
    /// Another copy is being delivered (its claim's lease has not run out).
    Delivering,
    /// Delivered before, to this recipient.
    Delivered { recipient: String },
    /// Its consent was withdrawn before delivery: never deliver it.
    Withdrawn,
}

impl Entry {
    /// The entry a ledger row stands for: its state, recipient, and whether a claim's lease
    /// still runs.
    fn of_row(state: &str, recipient: Option<String>, running: Option<bool>) -> Self {
        match (state, running) {
            ("delivering", Some(true)) => Self::Delivering,
            ("delivering", _) => Self::Free,
            ("delivered", _) => Self::Delivered {
                recipient: recipient.unwrap_or_default(),
            },
            _ => Self::Withdrawn,
        }
    }
}

/// The outcome of claiming a message's delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This copy may deliver it: no one had tried, or an earlier attempt surely did not
    /// deliver it.
    Won,
    /// This copy may deliver it, but an earlier attempt's outcome is unknown (its confirm
    /// or answer was lost, or its holder died mid-attempt): the agency may have it already.
    /// Delivering again is the lost-confirm window.
    WonAfterUnknown,
    /// Someone else holds or held it: what the ledger knows.
    Lost(Entry),
}

/// What withdrawing a message's consent found in the ledger, and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// Stopped before any attempt: the agency cannot have it.
    Before,
    /// Stopped after a claim that ran out without an outcome (its holder died, or the
    /// agency's answer was lost): the agency may have it. Answered again for every later
    /// withdrawal of it, so that a notice that failed is tried again.
    AfterUnknown,
    /// Not stopped by this withdrawal: what the ledger knows (delivered, being delivered,
    /// or withdrawn before).
    Not(Entry),
}

/// What the runtime asks of its ledger. Every check-then-act is one atomic step.
#[async_trait]
pub trait Ledger: Send + Sync + std::fmt::Debug {
    /// How long a claim holds.
    fn lease(&self) -> Duration;

    /// What the ledger knows of `message_id`.
    async fn entry(&self, message_id: &MessageId) -> Result<Entry, sqlx::Error>;

    /// Claims the delivery of `message_id` for the lease: an insert if absent, or a take-over
    /// of a claim whose lease ran out (its holder died, or left the outcome unknown), in one
    /// statement.
    async fn claim(&self, message_id: &MessageId) -> Result<Claim, sqlx::Error>;

    /// Renews a claim whose lease still runs, for another lease (the heartbeat of a long
    /// attempt: [`holding`]); whether it still ran.
    async fn renew(&self, message_id: &MessageId) -> Result<bool, sqlx::Error>;

    /// Ends a claim after an attempt whose outcome is unknown: the next copy may claim it at
    /// once, knowing that the agency may have it.
    async fn unknown(&self, message_id: &MessageId) -> Result<(), sqlx::Error>;

    /// Notes a delivery (to `recipient`: the agency that took it; `remote_id`: the id its
    /// transport gave the message, which its answers name).
    async fn delivered(
        &self,
        message_id: &MessageId,
        recipient: &str,
        remote_id: Option<&str>,
    ) -> Result<(), sqlx::Error>;

    /// The message its transport gave `remote_id`, and what the ledger knows of it.
    async fn by_remote_id(
        &self,
        remote_id: &str,
    ) -> Result<Option<(MessageId, Entry)>, sqlx::Error>;

    /// Gives up a claim after an attempt that did not deliver, so that the next copy may
    /// claim it at once.
    async fn release(&self, message_id: &MessageId) -> Result<(), sqlx::Error>;

    /// Notes that `message_id` must never be delivered, unless it was delivered already or
    /// is being delivered (a claim whose lease still runs); returns what it found and did.
    async fn withdraw(&self, message_id: &MessageId) -> Result<Stopped, sqlx::Error>;
}
