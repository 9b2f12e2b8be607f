//! Consents and refusals: what the gateway asks of its store about them.

use super::{Status, StoreError};
use crate::consent::Consent;
use async_trait::async_trait;
use contract::directory::AgencyId;
use contract::message::{Kind, MessageId};

/// The outcome of recording a consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentRecorded {
    New,
    /// Recorded before under this id by this organisation, with this body hash.
    Existing {
        body_hash: String,
    },
}

/// A message stopped or to be told of a withdrawal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Affected {
    /// The gateway's id, as the adapters know it.
    pub id: MessageId,
    /// The sender's id, as the sender knows it.
    pub client_id: MessageId,
    pub routing_key: String,
    /// The agency it is addressed to.
    pub recipient: String,
}

/// What withdrawing a consent did to the messages sent under it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Withdrawal {
    pub withdrawn_at: String,
    /// Not yet delivered: now `withdrawn`, not to be delivered.
    pub stopped: Vec<Affected>,
    /// Delivered before: their recipients are to be told.
    pub delivered: Vec<Affected>,
}

impl Withdrawal {
    /// Sorts the messages sent under the consent, each with its status after the
    /// withdrawal, into those it stopped and those delivered before.
    pub fn sort(&mut self, messages: impl IntoIterator<Item = (Affected, Status)>) {
        for (affected, status) in messages {
            match status {
                Status::Withdrawn => self.stopped.push(affected),
                Status::Delivered => self.delivered.push(affected),
                _ => {}
            }
        }
    }
}

/// A refused message: ids, kind, tag and reasons only.
pub struct Refused<'a> {
    pub message_id: &'a MessageId,
    pub sender: &'a AgencyId,
    /// A vendor acting for the sender's organisation (its organisation number).
    pub supplier: Option<&'a str>,
    pub recipient: &'a str,
    pub kind: Kind,
    pub legal_basis: &'a str,
    /// `[{"rule": code, "pointer": pointer}]`.
    pub reasons: serde_json::Value,
}

/// What the gateway asks of its store about consents and refusals.
#[async_trait]
pub trait Consents: Send + Sync {
    /// Records a consent, or reports the one recorded before under its id.
    async fn record_consent(
        &self,
        consent: &Consent,
        body_hash: &str,
    ) -> Result<ConsentRecorded, StoreError>;

    /// The consent `organisation` recorded under `id`.
    async fn consent(
        &self,
        organisation: &AgencyId,
        id: &str,
    ) -> Result<Option<Consent>, StoreError>;

    /// Withdraws a consent (once; later calls report the same) and stops every message
    /// under it that is not yet delivered. `None` if there is no such consent.
    async fn withdraw_consent(
        &self,
        organisation: &AgencyId,
        id: &str,
    ) -> Result<Option<Withdrawal>, StoreError>;

    /// Records a refused message (ids, kind, tag and reasons only).
    async fn record_refusal(&self, refused: &Refused<'_>) -> Result<(), StoreError>;

    /// The reasons recorded for refusals of `message_id` from `sender`, oldest first.
    async fn refusals(
        &self,
        message_id: &MessageId,
        sender: &AgencyId,
    ) -> Result<Vec<serde_json::Value>, StoreError>;
}
