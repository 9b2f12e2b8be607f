//! The path of one message through the gateway, as one use case. An authenticated
//! caller's body is parsed and decided on ([`Intake::assess`]); an allowed message is
//! recorded and published, a refused one recorded as a refusal ([`Intake::submit`]). It
//! answers in domain outcomes; the API translates them into HTTP.

use super::Shared;
use crate::authenticate::Caller;
use crate::consent::Consent;
use crate::decide::{Decision, Facts, decide, subject};
use crate::keys::LiveKeys;
use crate::parse::{Contracts, Envelope, ParseError};
use crate::publish::Publisher;
use crate::record::{
    NewMessage, Outgoing, Recorded, Refused, Status, StoreError, gateway_id, timestamp,
};
use crate::seal::{Recipients, Sealing, seal};
use contract::directory::Agency;
use contract::message::{MessageId, Parcel, RoutedMessage, RoutedSender, SealedMessage};
use contract::render::render;
use contract::topology::Topology;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// The parts of the gateway a message passes through.
pub struct Intake {
    shared: Shared,
    contracts: Arc<Contracts>,
    /// The keys payloads are encrypted at rest with.
    keys: Arc<LiveKeys>,
    /// The recipients that take their messages sealed to their own key.
    recipients: Recipients,
    publisher: Publisher,
    /// How long a fresh record is left to its request before the outbox may replay it.
    lease: Duration,
}

/// A message parsed and decided on.
pub struct Assessed<'a> {
    pub envelope: Envelope,
    pub decision: Decision<'a>,
}

/// What became of a submitted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Recorded and confirmed by the broker (or recorded before, and where it is now).
    Accepted {
        client_id: MessageId,
        gateway_id: MessageId,
        status: Status,
    },
    /// Refused by the legal-basis engine, and recorded as a refusal (ids and reasons).
    Refused,
}

/// Why a message could not be taken in.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("the body is not a message")]
    Parse(ParseError),
    #[error("the message id was used for another message")]
    IdReused,
    #[error("the broker has not confirmed the message yet")]
    NotYetConfirmed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Intake {
    /// The intake over `shared`: parsing with `contracts`, encrypting at rest with `keys`,
    /// sealing for `recipients`, publishing with `publisher` under a lease of `lease`.
    pub fn new(
        shared: Shared,
        contracts: Arc<Contracts>,
        keys: Arc<LiveKeys>,
        recipients: Recipients,
        publisher: Publisher,
        lease: Duration,
    ) -> Self {
        Self {
            shared,
            contracts,
            keys,
            recipients,
            publisher,
            lease,
        }
    }

    /// Parses `body` from `caller` and decides on it (nothing recorded).
    pub async fn assess(&self, caller: &Caller, body: &[u8]) -> Result<Assessed<'_>, IntakeError> {
        let envelope = self.contracts.parse(body).map_err(|e| {
            tracing::info!(sender = %caller.agency.id, "message refused: does not fit its contract");
            IntakeError::Parse(e)
        })?;
        let consent = self.cited_consent(caller, &envelope).await?;
        let decision = decide(
            self.facts(caller, &envelope, consent.as_ref()),
            &self.shared.directory,
            &self.shared.catalog,
        );
        Ok(Assessed { envelope, decision })
    }

    /// What a decision on `envelope` from `caller` is made on, today by the gateway's clock.
    pub fn facts<'a>(
        &'a self,
        caller: &'a Caller,
        envelope: &'a Envelope,
        consent: Option<&'a Consent>,
    ) -> Facts<'a> {
        Facts {
            sender: &caller.agency,
            envelope,
            consent,
            subject_key: &self.shared.subject_key,
            today: self.shared.clock.now().date(),
        }
    }

    /// Records and publishes an allowed message (once per sender and id: a repeat finds
    /// the first, and keeps its trace), or records a refusal; the message's hops carry
    /// `trace_id` (the sender's W3C trace) if given, else its gateway id.
    pub async fn submit(
        &self,
        caller: &Caller,
        assessed: &Assessed<'_>,
        trace_id: Option<String>,
    ) -> Result<Outcome, IntakeError> {
        let Assessed { envelope, decision } = assessed;
        let client_id = envelope.message_id;
        let id = gateway_id(&caller.agency.id, &client_id);
        let Some(route) = decision.route() else {
            self.refuse(caller, assessed, &client_id, &id).await?;
            return Ok(Outcome::Refused);
        };
        let sender = RoutedSender {
            agency: caller.agency.id.clone(),
            agency_type: caller.agency.agency_type,
            orgnr: caller.agency.orgnr.clone(),
        };
        let routed = envelope.routed(id, sender, timestamp(self.shared.clock.now()));
        let routed = self.parcel(routed, route.recipient);
        let today = self.shared.clock.now().date();
        let subject_hashes = subject::people(envelope.kind, &envelope.payload)
            .iter()
            .filter_map(|person| person.canonical(today))
            .map(|canonical| self.shared.subject_key.hash(&canonical))
            .collect();
        let new = NewMessage {
            id,
            client_id,
            sender: caller.agency.id.clone(),
            supplier: caller.supplier.clone(),
            recipient: route.recipient.id.clone(),
            kind: envelope.kind,
            legal_basis: route.basis.tag.clone(),
            body_hash: hex::encode(Sha256::digest(
                serde_json::to_vec(envelope).expect("an envelope serialises"),
            )),
            routing_key: Topology::routing_key(route.adapter, &route.recipient.id.0),
            routed: self.keys.ring().lock(&routed, id.to_string().as_bytes()),
            consent_ref: envelope.legal_basis.consent_ref.clone(),
            subject_hashes,
            trace_id,
        };
        let lease_until = self.shared.clock.now() + self.lease;
        let accepted = |status| Outcome::Accepted {
            client_id,
            gateway_id: id,
            status,
        };
        match self.shared.store.record(&new, lease_until).await? {
            Recorded::New => self.publish(&new.outgoing()).await.map(accepted),
            Recorded::Existing { body_hash, .. } if body_hash != new.body_hash => {
                tracing::info!(message_id = %id, sender = %new.sender, "message id reused for another message");
                Err(IntakeError::IdReused)
            }
            Recorded::Existing { status, .. } if status != Status::Recorded => Ok(accepted(status)),
            // Still unconfirmed: publish only under a claim won in the store; if the outbox
            // or another request holds the message, it is on its way: ask again later.
            Recorded::Existing { .. } => match self.shared.store.claim(&id, lease_until).await? {
                Some(claimed) => self.publish(&claimed).await.map(accepted),
                None => Err(IntakeError::NotYetConfirmed),
            },
        }
    }

    /// What goes on the broker for `routed`: for a recipient with a key of its own, rendered
    /// here and sealed to that key; for another, sealed to the adapters' delivery key (as it
    /// is only where every recipient has a key of its own, and so none is configured).
    fn parcel(&self, routed: RoutedMessage, recipient: &Agency) -> Vec<u8> {
        let parcel = match self.recipients.sealing(&recipient.id) {
            None => Parcel::Routed(Box::new(routed)),
            Some(Sealing::OnTheWay(key)) => Parcel::transit(&routed, key),
            Some(Sealing::Recipient(key)) => {
                let rendered = render(&routed, recipient.agency_type)
                    .expect("the engine routes a kind to its recipients only");
                let body = serde_json::to_vec(&rendered.body).expect("a document serialises");
                Parcel::Sealed(SealedMessage {
                    message_id: routed.message_id,
                    kind: routed.kind,
                    recipient: routed.recipient,
                    urgency: routed.urgency,
                    document_type: rendered.type_name.into(),
                    sealed: seal(&body, key, "application/json"),
                })
            }
        };
        serde_json::to_vec(&parcel).expect("a parcel serialises")
    }

    /// The consent the envelope cites, if the caller's organisation recorded it.
    async fn cited_consent(
        &self,
        caller: &Caller,
        envelope: &Envelope,
    ) -> Result<Option<Consent>, StoreError> {
        match &envelope.legal_basis.consent_ref {
            None => Ok(None),
            Some(id) => self.shared.store.consent(&caller.agency.id, id).await,
        }
    }

    /// Records a refusal: ids, kind, tag and the reasons' codes and pointers only.
    async fn refuse(
        &self,
        caller: &Caller,
        Assessed { envelope, decision }: &Assessed<'_>,
        client_id: &MessageId,
        gateway_id: &MessageId,
    ) -> Result<(), StoreError> {
        let codes: Vec<&str> = decision.refusals.iter().map(|r| r.rule.code()).collect();
        tracing::info!(message_id = %gateway_id, sender = %caller.agency.id, kind = %envelope.kind, legal_basis = %envelope.legal_basis.tag, refusals = ?codes, "message refused");
        let reasons = decision
            .refusals
            .iter()
            .map(|r| serde_json::json!({"rule": r.rule.code(), "pointer": r.pointer}))
            .collect();
        self.shared
            .store
            .record_refusal(&Refused {
                message_id: client_id,
                sender: &caller.agency.id,
                supplier: caller.supplier.as_deref(),
                recipient: &envelope.recipient,
                kind: envelope.kind,
                legal_basis: &envelope.legal_basis.tag,
                reasons: serde_json::Value::Array(reasons),
            })
            .await?;
        self.shared.metrics.count_refused(codes[0]);
        Ok(())
    }

    /// Publishes a message this request holds the claim of: queued once confirmed (the
    /// mark rides in the next batch, unawaited: the confirm is the one wait that cannot be
    /// batched); left to the outbox (later) if not.
    async fn publish(&self, msg: &Outgoing) -> Result<Status, IntakeError> {
        match self.publisher.publish(msg).await {
            Ok(()) => {
                self.shared.store.mark_queued_soon(&msg.id).await?;
                tracing::info!(message_id = %msg.id, kind = %msg.kind, legal_basis = %msg.legal_basis, sender = %msg.sender, routing_key = %msg.routing_key, "message queued");
                Ok(Status::Queued)
            }
            Err(error) => {
                tracing::warn!(message_id = %msg.id, %error, "broker did not confirm; left to the outbox");
                let retry = self.shared.clock.now() + crate::publish::retry_delay(msg.attempts);
                self.shared.store.defer(&msg.id, retry).await?;
                Err(IntakeError::NotYetConfirmed)
            }
        }
    }
}
