//! The `queue` transport: puts each message into the AMQP receiving queue of its recipient
//! (from the directory), or, if urgent and outside the recipient's office hours, into its
//! on-call service's queue (a barnevernvakt), rendered by its kind's renderer (a
//! bekymringsmelding as KS Fiks `no.ks.fiks.bekymringsmelding.offentlig.v2` JSON), with the
//! gateway's ids in the AMQP properties and the document's type as `type`. It takes the
//! case systems' receipts (see [`receipts`]) back to the gateway.

pub mod receipts;

use crate::health::Health;
use crate::runtime::{Adapter, Ledger, Outcome};
use contract::directory::{Delivery, Directory, Transport};
use contract::message::{MessageId, Parcel, Urgency};
use contract::plumbing::broker::{BrokerLink, PublishError, publish_confirmed};
use contract::plumbing::clock::Clock;
use contract::render::document;
use contract::topology::Topology;
use lapin::BasicProperties;
use std::sync::Arc;
use std::time::Duration;

/// The message type of a notice that the consent a delivered message was sent under is
/// withdrawn.
pub const WITHDRAWN_TYPE: &str = "referral-gateway.consent-withdrawn";

/// Delivers into agencies' receiving queues.
pub struct Queue {
    directory: Arc<Directory>,
    topology: Topology,
    link: Arc<BrokerLink>,
    confirm_timeout: Duration,
    clock: Arc<Clock>,
    ledger: Arc<dyn Ledger>,
    health: Arc<Health>,
}

/// Starts the queue adapter and its receipts consumer.
pub fn start(start: &crate::Start, tasks: &mut tokio::task::JoinSet<()>) {
    let queue = Arc::new(Queue::new(start));
    tasks.spawn(queue.clone().receipts(start.cancel.clone()));
    tasks.spawn(crate::runtime::consume(
        queue,
        start.settings.clone(),
        start.cancel.clone(),
    ));
}

impl Queue {
    /// An adapter publishing over its own link, which declares every receiving queue of the
    /// directory when it connects.
    pub fn new(start: &crate::Start) -> Self {
        let settings = &start.settings;
        let queues = start.directory.receiving_queues();
        let declare = settings.topology.clone();
        let link = BrokerLink::spawn(
            settings.broker.clone(),
            "adapter-queue-out".into(),
            move |channel| {
                let (topology, queues) = (declare.clone(), queues.clone());
                async move { topology.declare_receiving(&channel, &queues).await }
            },
            start.cancel.clone(),
        );
        Self {
            directory: start.directory.clone(),
            topology: settings.topology.clone(),
            link,
            confirm_timeout: settings.confirm_timeout,
            clock: start.clock.clone(),
            ledger: settings.ledger.clone(),
            health: settings.health.clone(),
        }
    }
}

impl Adapter for Queue {
    fn kind(&self) -> Transport {
        Transport::Queue
    }

    async fn ready(&self) {
        while !self.link.wait_up(Duration::from_secs(5)).await {
            tracing::warn!("queue adapter waits for its broker link");
        }
    }

    async fn deliver(&self, msg: &Parcel, properties: &BasicProperties) -> Outcome {
        let Some(recipient) = self.directory.get(&msg.recipient().0) else {
            return Outcome::Permanent("recipient is not in the directory".into());
        };
        let Some(Delivery::Queue {
            receiving_queue,
            on_call,
            office_hours,
            ..
        }) = recipient.delivery.as_ref()
        else {
            return Outcome::Permanent("recipient has no receiving queue".into());
        };
        let closed = office_hours
            .as_ref()
            .is_some_and(|h| !h.open_at(self.clock.now()));
        let on_call = on_call
            .as_ref()
            .and_then(|id| self.directory.on_call_of(id))
            .filter(|_| msg.urgency() == Urgency::Urgent && closed);
        let (queue, to) = match on_call {
            Some((agency, queue)) => {
                tracing::info!(message_id = %msg.message_id(), on_call = %agency.id, "urgent outside office hours: to the on-call service");
                (queue, Some(agency.id.clone()))
            }
            None => (receiving_queue.as_str(), None),
        };
        // Rendered for the recipient: a kind that is not for its type never reaches it.
        let document = match document(msg, recipient.agency_type) {
            Ok(document) => document,
            Err(wrong) => return Outcome::Permanent(wrong.to_string()),
        };
        let properties = properties
            .clone()
            .with_type(document.type_name.as_str().into())
            .with_content_type(document.content_type.into());
        match self.publish(queue, &document.body, properties).await {
            Outcome::Delivered { .. } => Outcome::Delivered {
                to,
                remote_id: None,
            },
            failed => failed,
        }
    }

    async fn notify_withdrawn(&self, message_id: &MessageId, recipient: &str) -> Outcome {
        let Some(queue) = self.receiving_queue(recipient) else {
            return Outcome::Permanent("recipient has no receiving queue".into());
        };
        let body = serde_json::json!({ "messageId": message_id, "consentWithdrawn": true });
        let properties = BasicProperties::default()
            .with_message_id(format!("{message_id}:withdrawn").as_str().into())
            .with_type(WITHDRAWN_TYPE.into())
            .with_content_type("application/json".into())
            .with_delivery_mode(2);
        self.publish(queue, body.to_string().as_bytes(), properties)
            .await
    }
}

impl Queue {
    async fn publish(&self, queue: &str, body: &[u8], properties: BasicProperties) -> Outcome {
        let Some(channel) = self.link.channel().await else {
            return Outcome::transient("no connection to the broker");
        };
        match publish_confirmed(
            &channel,
            &self.topology.agency_exchange(),
            queue,
            body,
            properties,
            self.confirm_timeout,
        )
        .await
        {
            Ok(()) => Outcome::DELIVERED,
            Err(PublishError::Returned) => {
                Outcome::transient("receiving queue does not exist (yet)")
            }
            // Sent, but the confirm was lost: the receiving queue may hold it.
            Err(error @ (PublishError::Timeout(_) | PublishError::Channel(_))) => {
                Outcome::Unknown(error.to_string())
            }
            Err(error) => Outcome::transient(error.to_string()),
        }
    }

    fn receiving_queue(&self, recipient: &str) -> Option<&str> {
        match self.directory.get(recipient)?.delivery.as_ref()? {
            Delivery::Queue {
                receiving_queue, ..
            } => Some(receiving_queue),
            _ => None,
        }
    }
}
