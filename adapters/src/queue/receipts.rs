//! Receipts and answers from the case systems of receiving queues (barnevern, the Swedish
//! social services, a Danish municipality): `mottatt` (received), `feilet` (failed, with a
//! reason code) and `tilbakemelding` (feedback given to the reporter: whether an
//! investigation was opened), in KS Fiks' names, and the answers the statutes ask for
//! ([`ANSWERS`]). A case system publishes them to the `receipts` exchange (routing key
//! `barnevern`, for every service) with its own broker account, setting `user_id` (which
//! RabbitMQ checks against the account), `correlation_id` (the message id) and `type`. A
//! receipt moves the message's status on at the gateway, an answer enters its history; one
//! for a message the adapter did not deliver, or from another service's account, is
//! refused and logged.

use super::Queue;
use crate::runtime::Entry;
use contract::directory::Transport;
use contract::message::MessageId;
use contract::plumbing::broker::{publish_confirmed, until_done};
use contract::status::{Event, StatusEvent, report};
use contract::topology::Topology;
use lapin::BasicProperties;
use lapin::message::Delivery;
use lapin::options::BasicAckOptions;
use lapin::uri::AMQPUri;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// `type` of a received receipt (KS Fiks).
pub const RECEIVED: &str = "no.ks.fiks.bekymringsmelding.mottatt.v1";
/// `type` of a failed receipt (KS Fiks), body `{"code": "<reason code>"}`.
pub const FAILED: &str = "no.ks.fiks.bekymringsmelding.feilet.v1";
/// `type` of a feedback receipt, body `{"undersokelseApnet": true|false}`.
pub const FEEDBACK: &str = "no.ks.fiks.bekymringsmelding.tilbakemelding.v1";

/// `type` of the answers, each with the event it reports: a protection or danger
/// assessment made; the receipt sent to the reporter; the decision whether to investigate,
/// body `{"investigationOpened": true|false}` (an opened investigation is reported as
/// such); the investigation's time limit extended; an investigation ended; the second
/// feedback after it.
pub const ANSWERS: [(&str, Event); 6] = [
    ("referral.answer.assessed.v1", Event::Assessed),
    ("referral.answer.acknowledged.v1", Event::Acknowledged),
    ("referral.answer.decided.v1", Event::Decided),
    (
        "referral.answer.investigation-extended.v1",
        Event::InvestigationExtended,
    ),
    (
        "referral.answer.investigation-ended.v1",
        Event::InvestigationEnded,
    ),
    ("referral.answer.concluded.v1", Event::Concluded),
];

/// Why a receipt is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptRefusal {
    #[error("receipt without a known type")]
    UnknownType,
    #[error("receipt without a message id as its correlation id")]
    NoMessageId,
    #[error("receipt from an account that is no receiving service's")]
    UnknownAccount,
    #[error("receipt for a message this adapter did not deliver")]
    UnknownMessage,
    #[error("receipt from another service than the message's recipient")]
    OtherAgency,
}

/// Receipts handled at once at most: each waits for the confirm of its status event.
const RECEIPTS_IN_FLIGHT: u16 = 32;

impl Queue {
    /// Consumes receipts until cancelled.
    pub async fn receipts(self: std::sync::Arc<Self>, cancel: CancellationToken) {
        let queue = self.topology.receipts_queue();
        contract::plumbing::broker::consume(
            &self.link,
            &queue,
            "adapter-queue-receipts",
            RECEIPTS_IN_FLIGHT,
            &cancel,
            |up| self.health.consumer(&queue, up),
            |channel, delivery| {
                let (this, cancel) = (self.clone(), cancel.clone());
                async move { this.receipt(&channel, delivery, &cancel).await }
            },
        )
        .await;
    }

    /// Handles one receipt; false if the channel failed or `cancel` came while the ledger
    /// could not be read (the receipt is then redelivered).
    async fn receipt(
        &self,
        channel: &lapin::Channel,
        delivery: Delivery,
        cancel: &CancellationToken,
    ) -> bool {
        let checked = match self.read(&delivery) {
            Ok((event, sender)) => {
                let read = until_done(cancel, "ledger not read for a receipt", || {
                    self.ledger.entry(&event.message_id)
                });
                let Some(entry) = read.await else {
                    return false;
                };
                delivered_to(&entry, &sender).map(|()| event)
            }
            Err(refusal) => Err(refusal),
        };
        match checked {
            Ok(event) => {
                if let Err(error) =
                    report(channel, &self.topology, &event, self.confirm_timeout).await
                {
                    tracing::warn!(message_id = %event.message_id, %error, "receipt not passed on; will be redelivered");
                    return false;
                }
                tracing::info!(message_id = %event.message_id, event = event.event.as_str(), "receipt");
            }
            Err(refusal) => {
                let message_id = delivery
                    .properties
                    .correlation_id()
                    .as_ref()
                    .map(|c| c.to_string());
                let account = delivery
                    .properties
                    .user_id()
                    .as_ref()
                    .map(|u| u.to_string());
                tracing::warn!(?message_id, ?account, reason = %refusal, "receipt refused");
            }
        }
        delivery.ack(BasicAckOptions::default()).await.is_ok()
    }

    /// The status event a receipt stands for and the agency that sent it (by its broker
    /// account), or why it is refused without looking further.
    fn read(&self, delivery: &Delivery) -> Result<(StatusEvent, String), ReceiptRefusal> {
        let p = &delivery.properties;
        let kind = p.kind().as_ref().map(|t| t.to_string()).unwrap_or_default();
        let body: serde_json::Value = serde_json::from_slice(&delivery.data).unwrap_or_default();
        let (event, reason) = match kind.as_str() {
            RECEIVED => (Event::Received, None),
            FAILED => {
                let code = body["code"].as_str().filter(|c| {
                    !c.is_empty()
                        && c.len() <= 40
                        && c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                });
                (
                    Event::Failed,
                    Some(format!(
                        "barnevern reported: {}",
                        code.unwrap_or("unspecified")
                    )),
                )
            }
            FEEDBACK => (
                Event::FeedbackGiven,
                Some(opened(&body["undersokelseApnet"], "feedback given")),
            ),
            other => match ANSWERS.iter().find(|(t, _)| *t == other) {
                Some((_, Event::Decided)) => match body["investigationOpened"].as_bool() {
                    Some(true) => (Event::InvestigationOpened, None),
                    _ => (
                        Event::Decided,
                        Some(opened(&body["investigationOpened"], "decided")),
                    ),
                },
                Some((_, event)) => (*event, None),
                None => return Err(ReceiptRefusal::UnknownType),
            },
        };
        let message_id: MessageId = p
            .correlation_id()
            .as_ref()
            .and_then(|c| c.as_str().parse().ok())
            .ok_or(ReceiptRefusal::NoMessageId)?;
        let account = p
            .user_id()
            .as_ref()
            .map(|u| u.to_string())
            .unwrap_or_default();
        let agency = self
            .directory
            .by_broker_user(&account)
            .ok_or(ReceiptRefusal::UnknownAccount)?;
        Ok((
            StatusEvent {
                message_id,
                adapter: Transport::Queue,
                event,
                reason,
                trace_id: None,
            },
            agency.id.0.clone(),
        ))
    }
}

/// Whether the ledger's `entry` says the message was delivered to `sender`: a receipt's
/// last check.
fn delivered_to(entry: &Entry, sender: &str) -> Result<(), ReceiptRefusal> {
    match entry {
        Entry::Delivered { recipient } if recipient == sender => Ok(()),
        Entry::Delivered { .. } => Err(ReceiptRefusal::OtherAgency),
        _ => Err(ReceiptRefusal::UnknownMessage),
    }
}

/// What a feedback or decision says of an investigation (value-free).
fn opened(flag: &serde_json::Value, otherwise: &str) -> String {
    match flag.as_bool() {
        Some(true) => "investigation opened",
        Some(false) => "no investigation",
        None => otherwise,
    }
    .to_owned()
}

/// Sends one receipt as a case system does, over `url` (the case system's account); `Ok`
/// once confirmed. For development, demonstration and tests.
pub async fn send(
    broker: &contract::plumbing::broker::Endpoint,
    topology: &Topology,
    kind: &str,
    message_id: &str,
    body: &serde_json::Value,
) -> anyhow::Result<()> {
    let user = broker
        .url
        .parse::<AMQPUri>()
        .map_err(|e| anyhow::anyhow!("not an AMQP URL: {e}"))?
        .authority
        .userinfo
        .username;
    let (connection, channel) = contract::plumbing::broker::confirming(broker, "receipt").await?;
    let properties = BasicProperties::default()
        .with_type(kind.into())
        .with_user_id(user.as_str().into())
        .with_correlation_id(message_id.into())
        .with_content_type("application/json".into())
        .with_delivery_mode(2);
    publish_confirmed(
        &channel,
        &topology.receipts_exchange(),
        "barnevern",
        body.to_string().as_bytes(),
        properties,
        Duration::from_secs(5),
    )
    .await?;
    let _ = connection.close(200, "receipt sent".into()).await;
    Ok(())
}
