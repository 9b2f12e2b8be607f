//! The consent registry as a use case: record a consent (idempotent by its id), find one,
//! withdraw one and tell the adapters which messages to stop and whose recipients to
//! notify. A consent is visible to, citable by and withdrawable by the organisation that
//! recorded it only.

use super::Shared;
use crate::authenticate::Caller;
use crate::consent::{Consent, ConsentRequest, Recorder};
use crate::parse::{Contracts, ParseError};
use crate::publish::Publisher;
use crate::record::{Affected, ConsentRecorded, StoreError};
use contract::control::{Withdrawal, WithdrawalKind};
use contract::directory::{AgencyId, Transport};
use contract::message::MessageId;
use contract::plumbing::broker::PublishError;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The consent registry.
pub struct Consents {
    shared: Shared,
    contracts: Arc<Contracts>,
    publisher: Publisher,
}

/// Why a consent request was not carried out.
#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    #[error("the body is not a consent")]
    Parse(ParseError),
    #[error("the consent id was used for another consent")]
    IdReused,
    #[error("no consent with this id from the organisation")]
    NotFound,
    #[error("the broker did not confirm the withdrawal notices: {0}")]
    NoticesUnconfirmed(PublishError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a withdrawal did: the messages it stopped and those whose recipients were told.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Withdrawn {
    pub consent_id: String,
    pub withdrawn_at: String,
    /// The sender's ids of the messages not yet delivered, now stopped.
    pub stopped: Vec<MessageId>,
    /// The sender's ids of the messages delivered before, whose recipients are told.
    pub notified: Vec<MessageId>,
}

impl Consents {
    /// The registry over `shared`, parsing with `contracts`, telling the adapters through
    /// `publisher`.
    pub fn new(shared: Shared, contracts: Arc<Contracts>, publisher: Publisher) -> Self {
        Self {
            shared,
            contracts,
            publisher,
        }
    }

    /// Records the consent in `body` for `caller`'s organisation; a repeat with the same
    /// body finds the first, another body under the same id is refused.
    pub async fn record(&self, caller: &Caller, body: &[u8]) -> Result<Consent, ConsentError> {
        let request: ConsentRequest = self
            .contracts
            .parse_consent(body)
            .map_err(ConsentError::Parse)?;
        let body_hash = hex::encode(Sha256::digest(body));
        let recorder = Recorder {
            organisation: &caller.agency.id,
            person: &caller.subject,
            at: self.shared.clock.now(),
        };
        let consent = request
            .into_consent(recorder, &self.shared.subject_key, &self.shared.catalog)
            .map_err(|errors| ConsentError::Parse(ParseError::Invalid(errors)))?;
        match self
            .shared
            .store
            .record_consent(&consent, &body_hash)
            .await?
        {
            ConsentRecorded::New => {
                tracing::info!(consent_id = %consent.consent_id, organisation = %consent.organisation, purpose = %consent.purpose, "consent recorded");
            }
            ConsentRecorded::Existing { body_hash: before } if before == body_hash => {}
            ConsentRecorded::Existing { .. } => return Err(ConsentError::IdReused),
        }
        self.find(&caller.agency.id, &consent.consent_id).await
    }

    /// The consent `id` of `organisation` (never its subject).
    pub async fn find(&self, organisation: &AgencyId, id: &str) -> Result<Consent, ConsentError> {
        self.shared
            .store
            .consent(organisation, id)
            .await?
            .ok_or(ConsentError::NotFound)
    }

    /// Withdraws the consent `id` of `caller`'s organisation: new messages citing it are
    /// refused from now on, messages under it not yet delivered are stopped, and recipients
    /// of delivered ones are told. A repeat repeats the notices (and is how a notice the
    /// broker did not confirm is retried).
    pub async fn withdraw(&self, caller: &Caller, id: &str) -> Result<Withdrawn, ConsentError> {
        let organisation = &caller.agency.id;
        let withdrawal = self
            .shared
            .store
            .withdraw_consent(organisation, id)
            .await?
            .ok_or(ConsentError::NotFound)?;
        tracing::info!(consent_id = %id, organisation = %organisation, stopped = withdrawal.stopped.len(), delivered = withdrawal.delivered.len(), "consent withdrawn");
        for (kind, affected) in [
            (WithdrawalKind::Stop, &withdrawal.stopped),
            (WithdrawalKind::Notice, &withdrawal.delivered),
        ] {
            self.notify(kind, id, affected).await?;
        }
        let ids = |list: &[Affected]| list.iter().map(|a| a.client_id).collect();
        Ok(Withdrawn {
            consent_id: id.to_owned(),
            withdrawn_at: withdrawal.withdrawn_at.clone(),
            stopped: ids(&withdrawal.stopped),
            notified: ids(&withdrawal.delivered),
        })
    }

    /// Tells each adapter concerned which messages under a withdrawn consent to stop, or
    /// whose recipients to notify, and each message's recipient (whom to tell if an attempt
    /// whose outcome is unknown may have reached it).
    async fn notify(
        &self,
        kind: WithdrawalKind,
        consent_id: &str,
        affected: &[Affected],
    ) -> Result<(), ConsentError> {
        for adapter in Transport::ALL {
            let concerned: Vec<&Affected> = affected
                .iter()
                .filter(|a| Transport::of_routing_key(&a.routing_key) == Some(adapter))
                .collect();
            if concerned.is_empty() {
                continue;
            }
            let notice = Withdrawal {
                consent_ref: consent_id.to_owned(),
                message_ids: concerned.iter().map(|a| a.id).collect(),
                recipients: concerned
                    .iter()
                    .map(|a| (a.id, AgencyId(a.recipient.clone())))
                    .collect(),
            };
            self.publisher
                .publish_control(adapter, kind, &notice)
                .await
                .map_err(|error| {
                    tracing::warn!(consent_id, %error, "withdrawal notice not confirmed");
                    ConsentError::NoticesUnconfirmed(error)
                })?;
        }
        Ok(())
    }
}
