//! The answers to what the adapter sent over Fiks IO: KS's `mottatt` (received) and `feilet`
//! (failed) come to our account's queue (`fiksio.konto.<account>`) on Fiks IO's AMQP service,
//! read as the integration (user its id, password its password and a Maskinporten token, as
//! KS's clients log in; one connection per service and integration, a fresh token after a
//! refused or failed attempt), with Fiks's headers: `type`, `svar-til` (the id Fiks gave the
//! message answered), `avsender-id` (the answering account). Each moves the message's status
//! on at the gateway, over the adapters' own broker. An answer to a message this adapter did
//! not deliver, or from another account than the one it was sent to, is refused: rejected
//! without requeue (dead-lettered, where the account's queue has a dead-letter queue) and
//! counted, never applied.

use super::Fiks;
use crate::health::{Count, Health};
use crate::runtime::{Entry, Ledger};
use contract::directory::{Delivery, FiksIo, Transport};
use contract::message::MessageId;
use contract::plumbing::broker::{BrokerLink, Endpoint, EndpointError, PublishError, until_done};
use contract::status::{Event, StatusEvent, report};
use contract::topology::Topology;
use lapin::message::Delivery as AmqpDelivery;
use lapin::options::{BasicAckOptions, BasicRejectOptions};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// `type` of a received answer.
pub const RECEIVED: &str = "no.ks.fiks.bekymringsmelding.mottatt.v1";
/// `type` of a failed answer.
pub const FAILED: &str = "no.ks.fiks.bekymringsmelding.feilet.v1";

/// The queue of Fiks IO account `account`.
pub fn account_queue(account: Uuid) -> String {
    format!("fiksio.konto.{account}")
}

/// How long an answer to a message not known as delivered waits for its send to be noted.
const GRACE: Duration = Duration::from_secs(5);

/// Answers handled at once at most.
const IN_FLIGHT: u16 = 16;

/// Why an answer is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerRefusal {
    #[error("answer of an unknown type")]
    UnknownType,
    #[error("answer without the id of the message it answers")]
    NoReference,
    #[error("answer to a message this adapter did not deliver")]
    UnknownMessage,
    #[error("answer from another account than the message's recipient")]
    OtherAccount,
}

/// What the answers' consumers share.
struct Answers {
    fiks: Arc<Fiks>,
    /// The link to the adapters' own broker, over which the statuses go to the gateway.
    statuses: Arc<BrokerLink>,
    ledger: Arc<dyn Ledger>,
    topology: Topology,
    confirm_timeout: Duration,
    health: Arc<Health>,
}

/// Starts a consumer of the answers to each of our accounts the directory names, over one
/// link per Fiks IO AMQP service and integration.
pub fn start(fiks: &Arc<Fiks>, start: &crate::Start, tasks: &mut tokio::task::JoinSet<()>) {
    let mut integrations: BTreeMap<(String, Uuid), (FiksIo, BTreeSet<Uuid>)> = BTreeMap::new();
    for agency in start.directory.agencies() {
        if let Some(Delivery::FiksIo(f)) = &agency.delivery {
            integrations
                .entry((f.amqp_url.clone(), f.integration_id))
                .or_insert_with(|| ((**f).clone(), BTreeSet::new()))
                .1
                .insert(f.sender_account);
        }
    }
    if integrations.is_empty() {
        return;
    }
    let settings = &start.settings;
    let topology = settings.topology.clone();
    let statuses = BrokerLink::spawn(
        settings.broker.clone(),
        "adapter-fiks-io-statuses".into(),
        move |channel| {
            let topology = topology.clone();
            async move { topology.declare_routing(&channel).await }
        },
        start.cancel.clone(),
    );
    let answers = Arc::new(Answers {
        fiks: fiks.clone(),
        statuses,
        ledger: settings.ledger.clone(),
        topology: settings.topology.clone(),
        confirm_timeout: settings.confirm_timeout,
        health: settings.health.clone(),
    });
    for (integration, accounts) in integrations.into_values() {
        let (fiks, integration) = (fiks.clone(), Arc::new(integration));
        let link = BrokerLink::spawn_to(
            move |failed| {
                let (fiks, integration) = (fiks.clone(), integration.clone());
                async move { fiks.amqp_endpoint(&integration, failed).await }
            },
            "adapter-fiks-io-answers".into(),
            |_| std::future::ready(Ok(())),
            start.cancel.clone(),
        );
        for account in accounts {
            let queue = account_queue(account);
            answers.health.consumer(&queue, false);
            let (answers, link, cancel) = (answers.clone(), link.clone(), start.cancel.clone());
            // The accounts' consumers share the link's channel: each needs its own tag.
            let tag = format!("adapter-fiks-io-answers-{account}");
            tasks.spawn(async move {
                contract::plumbing::broker::consume(
                    &link,
                    &queue,
                    &tag,
                    IN_FLIGHT,
                    &cancel,
                    |up| answers.health.consumer(&queue, up),
                    |_, delivery| {
                        let (answers, cancel) = (answers.clone(), cancel.clone());
                        async move { answers.handle(delivery, &cancel).await }
                    },
                )
                .await;
            });
        }
    }
}

impl Fiks {
    /// Fiks IO's AMQP service for `integration`, logged in to as KS's clients do, with a
    /// fresh token if the attempt before `failed` (the token may be the reason).
    async fn amqp_endpoint(
        &self,
        integration: &FiksIo,
        failed: bool,
    ) -> Result<Endpoint, EndpointError> {
        let variable = &integration.integration_password_env;
        let password = std::env::var(variable)
            .map_err(|_| format!("integration password variable {variable} is not set"))?;
        if failed {
            self.tokens.forget(&integration.credentials).await;
        }
        let token = self
            .tokens
            .get(&self.client, &integration.credentials)
            .await?;
        let mut url = reqwest::Url::parse(&integration.amqp_url)
            .map_err(|_| "the Fiks IO amqp_url is not a URL")?;
        url.set_username(&integration.integration_id.to_string())
            .and_then(|()| url.set_password(Some(&format!("{password} {token}"))))
            .map_err(|()| "the Fiks IO amqp_url cannot carry a login")?;
        Ok(Endpoint::plain(url.as_str()))
    }
}

/// A header's text.
fn header(delivery: &AmqpDelivery, name: &str) -> Option<String> {
    crate::runtime::header_text(&delivery.properties, name)
}

impl Answers {
    /// Handles one answer; false if the channel failed or `cancel` came while the ledger
    /// could not be read (the answer is then redelivered).
    async fn handle(&self, delivery: AmqpDelivery, cancel: &CancellationToken) -> bool {
        let event = match header(&delivery, "type").as_deref() {
            Some(RECEIVED) => Ok(Event::Received),
            Some(FAILED) => Ok(Event::Failed),
            _ => Err(AnswerRefusal::UnknownType),
        };
        let reference = header(&delivery, "svar-til").ok_or(AnswerRefusal::NoReference);
        let checked = match (event, reference) {
            (Ok(event), Ok(reference)) => {
                let Some(found) = self.sent(&reference, cancel).await else {
                    return false;
                };
                self.check(found, header(&delivery, "avsender-id"))
                    .await
                    .map(|message_id| (message_id, event))
            }
            (Err(refusal), _) | (_, Err(refusal)) => Err(refusal),
        };
        match checked {
            Ok((message_id, event)) => {
                let status = StatusEvent {
                    message_id,
                    adapter: Transport::FiksIo,
                    event,
                    reason: (event == Event::Failed)
                        .then(|| "barnevern reported: feilet".to_owned()),
                    trace_id: None,
                };
                // Held, and passed on again until the broker confirms it.
                let passed = until_done(cancel, "Fiks IO answer not passed on", || async {
                    let channel = self.statuses.channel().await;
                    let channel = channel.ok_or(PublishError::Unavailable)?;
                    report(&channel, &self.topology, &status, self.confirm_timeout).await
                });
                if passed.await.is_none() {
                    return false;
                }
                tracing::info!(%message_id, event = event.as_str(), "Fiks IO answer");
                delivery.ack(BasicAckOptions::default()).await.is_ok()
            }
            Err(refusal) => {
                tracing::warn!(reason = %refusal, "Fiks IO answer refused; dead-lettered");
                self.health.count(Transport::FiksIo, Count::AnswerRefused);
                delivery
                    .reject(BasicRejectOptions { requeue: false })
                    .await
                    .is_ok()
            }
        }
    }

    /// What the ledger knows of the message Fiks gave `reference`: an answer may come before
    /// the send that it answers has been noted, so one to a message not (yet) delivered is
    /// looked up again for [`GRACE`] before it is refused. `None` if `cancel` came while the
    /// ledger could not be read.
    async fn sent(
        &self,
        reference: &str,
        cancel: &CancellationToken,
    ) -> Option<Option<(MessageId, Entry)>> {
        let until = tokio::time::Instant::now() + GRACE;
        loop {
            let read = until_done(cancel, "ledger not read for a Fiks IO answer", || {
                self.ledger.by_remote_id(reference)
            });
            let found = read.await?;
            if matches!(found, Some((_, Entry::Delivered { .. })))
                || tokio::time::Instant::now() >= until
            {
                return Some(found);
            }
            tokio::select! {
                () = cancel.cancelled() => return None,
                () = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
        }
    }

    /// The message an answer from `sender` answers, if the adapter delivered it to that
    /// account: what the ledger `found` by Fiks's id.
    async fn check(
        &self,
        found: Option<(MessageId, Entry)>,
        sender: Option<String>,
    ) -> Result<MessageId, AnswerRefusal> {
        let Some((message_id, Entry::Delivered { recipient })) = found else {
            return Err(AnswerRefusal::UnknownMessage);
        };
        let sender: Option<Uuid> = sender.and_then(|s| s.parse().ok());
        let Some(fiks) = self.fiks.fiks_of(&recipient) else {
            return Err(AnswerRefusal::OtherAccount);
        };
        let account = match fiks.account {
            Some(account) => Some(account),
            None => self.fiks.looked_up(fiks).await,
        };
        match (account, sender) {
            (Some(account), Some(sender)) if account == sender => Ok(message_id),
            _ => Err(AnswerRefusal::OtherAccount),
        }
    }
}
