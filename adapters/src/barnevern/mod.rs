//! The barnevern adapter: puts each bekymringsmelding into the receiving queue of the
//! recipient barnevern service (from the directory), or, if urgent and outside the
//! service's office hours, into its barnevernvakt's (on-call) queue, in the JSON of KS Fiks
//! `no.ks.fiks.bekymringsmelding.offentlig.v2`, with the gateway's ids in the AMQP
//! properties. It takes the services' receipts (see [`receipts`]) back to the gateway.

pub mod receipts;

use crate::config::AdaptersConfig;
use crate::health::Health;
use crate::runtime::{Adapter, Ledger, Outcome};
use gateway::deadlines::Clock;
use gateway::directory::{AdapterKind, Delivery, Directory};
use gateway::parse::{Kind, Urgency};
use gateway::publish::{BrokerLink, PublishError, Topology, publish_confirmed};
use gateway::routed::RoutedMessage;
use lapin::BasicProperties;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The KS Fiks message type of a public reporter's bekymringsmelding.
pub const KS_TYPE: &str = "no.ks.fiks.bekymringsmelding.offentlig.v2";
/// The message type of a notice that the consent a delivered message was sent under is
/// withdrawn.
pub const WITHDRAWN_TYPE: &str = "referral-gateway.consent-withdrawn";

/// Delivers into barnevern receiving queues.
pub struct Barnevern {
    directory: Arc<Directory>,
    topology: Topology,
    link: Arc<BrokerLink>,
    confirm_timeout: Duration,
    clock: Arc<Clock>,
    ledger: Ledger,
    health: Arc<Health>,
}

impl Barnevern {
    /// An adapter publishing over its own link, which declares every barnevern receiving
    /// queue of the directory when it connects.
    pub fn new(
        directory: Arc<Directory>,
        topology: Topology,
        config: &AdaptersConfig,
        clock: Arc<Clock>,
        ledger: Ledger,
        health: Arc<Health>,
        cancel: CancellationToken,
    ) -> Self {
        let queues = directory.receiving_queues();
        let declare = topology.clone();
        let link = BrokerLink::spawn(
            config.broker.url.clone(),
            "adapter-barnevern-out".into(),
            move |channel| {
                let (topology, queues) = (declare.clone(), queues.clone());
                async move { topology.declare_receiving(&channel, &queues).await }
            },
            cancel,
        );
        Self {
            directory,
            topology,
            link,
            confirm_timeout: Duration::from_millis(config.broker.confirm_timeout_ms),
            clock,
            ledger,
            health,
        }
    }
}

impl Adapter for Barnevern {
    fn kind(&self) -> AdapterKind {
        AdapterKind::Barnevern
    }

    async fn ready(&self) {
        while !self.link.wait_up(Duration::from_secs(5)).await {
            tracing::warn!("barnevern adapter waits for its broker link");
        }
    }

    async fn deliver(&self, msg: &RoutedMessage, properties: &BasicProperties) -> Outcome {
        if msg.kind != Kind::NoBekymringsmelding {
            // The gateway never routes another kind here; a body that is not a KS
            // bekymringsmelding never travels with the KS type.
            return Outcome::Permanent(format!("kind {} is not a bekymringsmelding", msg.kind));
        }
        let Some(Delivery::Barnevern {
            receiving_queue,
            on_call,
            office_hours,
            ..
        }) = self
            .directory
            .get(&msg.recipient.0)
            .and_then(|a| a.delivery.as_ref())
        else {
            return Outcome::Permanent("recipient has no barnevern receiving queue".into());
        };
        let closed = office_hours
            .as_ref()
            .is_some_and(|h| !h.open_at(self.clock.now()));
        let on_call = on_call
            .as_ref()
            .and_then(|id| self.directory.on_call_of(id))
            .filter(|_| msg.urgency == Urgency::Urgent && closed);
        let (queue, to) = match on_call {
            Some((agency, queue)) => {
                tracing::info!(message_id = %msg.message_id, on_call = %agency.id, "urgent outside office hours: to the on-call service");
                (queue, Some(agency.id.clone()))
            }
            None => (receiving_queue.as_str(), None),
        };
        let body = serde_json::to_vec(&ks_message(msg)).expect("a KS message serialises");
        let properties = properties.clone().with_type(KS_TYPE.into());
        match self.publish(queue, &body, properties).await {
            Outcome::Delivered { .. } => Outcome::Delivered { to },
            failed => failed,
        }
    }

    async fn notify_withdrawn(&self, message_id: &str, recipient: &str) -> Outcome {
        let Some(queue) = self.receiving_queue(recipient) else {
            return Outcome::Permanent("recipient has no barnevern receiving queue".into());
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

impl Barnevern {
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
            Delivery::Barnevern {
                receiving_queue, ..
            } => Some(receiving_queue),
            _ => None,
        }
    }
}

/// The KS Fiks `offentlig.bekymringsmelding.v2` document: the payload (which follows it
/// field for field) with the fields the delivering system sets.
pub fn ks_message(msg: &RoutedMessage) -> serde_json::Value {
    let mut document = msg.payload.clone();
    document.insert(
        "sendingstidspunkt".into(),
        serde_json::Value::String(msg.recorded_at.clone()),
    );
    document.insert(
        "leveringskanal".into(),
        serde_json::Value::String("Fagsystem".into()),
    );
    serde_json::Value::Object(document)
}
