//! The answers to what the adapter sent over Fiks IO: KS's `mottatt` (received) and `feilet`
//! (failed) come to our account's queue (`fiksio.konto.<account>`, on the adapters' broker,
//! which the adapter declares) with Fiks's headers:
//! `type`, `svar-til` (the id Fiks gave the message answered), `avsender-id` (the answering
//! account). Each moves the message's status on at the gateway. An answer to a message this
//! adapter did not deliver, or from another account than the one it was sent to, is refused:
//! dead-lettered (rejected) and counted, never applied.

use super::Fiks;
use crate::health::{Count, Health};
use crate::runtime::{Entry, Ledger};
use contract::directory::{Delivery, Transport};
use contract::message::MessageId;
use contract::plumbing::broker::{BrokerLink, until_done};
use contract::status::{Event, StatusEvent, report};
use contract::topology::Topology;
use lapin::message::Delivery as AmqpDelivery;
use lapin::options::{BasicAckOptions, BasicRejectOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use std::collections::BTreeSet;
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

/// Declares the queue of `account` and its dead letters (`<queue>.dead`), where refused
/// answers go.
async fn declare(channel: &lapin::Channel, account: Uuid) -> Result<(), lapin::Error> {
    let queue = account_queue(account);
    let dead = format!("{queue}.dead");
    let durable = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(dead.as_str().into(), durable, FieldTable::default())
        .await?;
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString("".into()),
    );
    arguments.insert(
        "x-dead-letter-routing-key".into(),
        AMQPValue::LongString(dead.as_str().into()),
    );
    channel
        .queue_declare(queue.as_str().into(), durable, arguments)
        .await?;
    Ok(())
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
    ledger: Arc<dyn Ledger>,
    topology: Topology,
    confirm_timeout: Duration,
    health: Arc<Health>,
}

/// Starts a consumer of the answers to each of our accounts the directory names.
pub fn start(fiks: &Arc<Fiks>, start: &crate::Start, tasks: &mut tokio::task::JoinSet<()>) {
    let accounts: BTreeSet<Uuid> = start
        .directory
        .agencies()
        .filter_map(|a| match &a.delivery {
            Some(Delivery::FiksIo(f)) => Some(f.sender_account),
            _ => None,
        })
        .collect();
    if accounts.is_empty() {
        return;
    }
    let settings = &start.settings;
    let declared: Vec<Uuid> = accounts.iter().copied().collect();
    let link = BrokerLink::spawn(
        settings.broker.clone(),
        "adapter-fiks-io-answers".into(),
        move |channel| {
            let accounts = declared.clone();
            async move {
                for account in accounts {
                    declare(&channel, account).await?;
                }
                Ok(())
            }
        },
        start.cancel.clone(),
    );
    let answers = Arc::new(Answers {
        fiks: fiks.clone(),
        ledger: settings.ledger.clone(),
        topology: settings.topology.clone(),
        confirm_timeout: settings.confirm_timeout,
        health: settings.health.clone(),
    });
    for account in accounts {
        let queue = account_queue(account);
        answers.health.consumer(&queue, false);
        let (answers, link, cancel) = (answers.clone(), link.clone(), start.cancel.clone());
        tasks.spawn(async move {
            contract::plumbing::broker::consume(
                &link,
                &queue,
                "adapter-fiks-io-answers",
                IN_FLIGHT,
                &cancel,
                |up| answers.health.consumer(&queue, up),
                |channel, delivery| {
                    let (answers, cancel) = (answers.clone(), cancel.clone());
                    async move { answers.handle(&channel, delivery, &cancel).await }
                },
            )
            .await;
        });
    }
}

/// A header's text.
fn header(delivery: &AmqpDelivery, name: &str) -> Option<String> {
    crate::runtime::header_text(&delivery.properties, name)
}

impl Answers {
    /// Handles one answer; false if the channel failed or `cancel` came while the ledger
    /// could not be read (the answer is then redelivered).
    async fn handle(
        &self,
        channel: &lapin::Channel,
        delivery: AmqpDelivery,
        cancel: &CancellationToken,
    ) -> bool {
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
                let passed = until_done(cancel, "Fiks IO answer not passed on", || {
                    report(channel, &self.topology, &status, self.confirm_timeout)
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
