//! Publish: hand recorded messages to RabbitMQ and count them as accepted only once the
//! broker has confirmed them (publisher confirms, `mandatory`, returns are failures).

mod outbox;

pub use outbox::{Outbox, retry_delay};

use crate::keys::{KeysError, LiveKeys};
use crate::metrics::Metrics;
use crate::record::Outgoing;
use contract::control::{Withdrawal, WithdrawalKind};
use contract::directory::Transport;
use contract::message::MessageId;
use contract::plumbing::broker::{BrokerLink, PublishError, publish_confirmed};
use contract::topology::Topology;
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable};
use std::sync::Arc;
use std::time::Duration;

/// AMQP header carrying the legal-basis tag.
pub const HEADER_LEGAL_BASIS: &str = "x-legal-basis";
/// AMQP header carrying the sending agency's id.
pub const HEADER_SENDER: &str = "x-sender";

/// Publishes messages to the routing exchange with confirms.
#[derive(Clone)]
pub struct Publisher {
    link: Arc<BrokerLink>,
    exchange: String,
    confirm_timeout: Duration,
    /// Opens the payloads encrypted at rest, just before they are published.
    keys: Arc<LiveKeys>,
    /// Counts what this instance had confirmed.
    metrics: Arc<Metrics>,
}

/// Why a message was not published.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Broker(#[from] PublishError),
    #[error("the payload does not open: {0}")]
    Keys(#[from] KeysError),
}

impl Publisher {
    /// A publisher to `topology`'s routing exchange over `link`, opening payloads with `keys`,
    /// counting what the broker confirmed in `metrics`.
    pub fn new(
        link: Arc<BrokerLink>,
        topology: &Topology,
        confirm_timeout: Duration,
        keys: Arc<LiveKeys>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            link,
            exchange: topology.exchange(),
            confirm_timeout,
            keys,
            metrics,
        }
    }

    /// Publishes one message; `Ok` only when the broker has confirmed it as routed (then
    /// counted as accepted by this instance).
    pub async fn publish(&self, msg: &Outgoing) -> Result<(), SendError> {
        let routed = self
            .keys
            .unlock(&msg.routed, msg.id.to_string().as_bytes())?;
        let channel = self.link.channel().await.ok_or(PublishError::Unavailable)?;
        let started = std::time::Instant::now();
        publish_confirmed(
            &channel,
            &self.exchange,
            &msg.routing_key,
            &routed,
            properties(msg),
            self.confirm_timeout,
        )
        .await?;
        self.metrics
            .count_accepted(&msg.routing_key, started.elapsed());
        Ok(())
    }

    /// Publishes a withdrawal to `adapter`'s control queue; `Ok` only when confirmed.
    pub async fn publish_control(
        &self,
        adapter: Transport,
        kind: WithdrawalKind,
        withdrawal: &Withdrawal,
    ) -> Result<(), PublishError> {
        let body = serde_json::to_vec(withdrawal).expect("a withdrawal serialises");
        let channel = self.link.channel().await.ok_or(PublishError::Unavailable)?;
        let properties = BasicProperties::default()
            .with_type(kind.as_str().into())
            .with_content_type("application/json".into())
            .with_delivery_mode(2)
            .with_app_id("referral-gateway".into());
        publish_confirmed(
            &channel,
            &self.exchange,
            &Topology::control_key(adapter),
            &body,
            properties,
            self.confirm_timeout,
        )
        .await
    }
}

/// AMQP properties of a routed message: its ids, kind and tag, never payload data.
pub fn properties(msg: &Outgoing) -> BasicProperties {
    let mut headers = FieldTable::default();
    headers.insert(
        HEADER_LEGAL_BASIS.into(),
        AMQPValue::LongString(msg.legal_basis.as_str().into()),
    );
    headers.insert(
        HEADER_SENDER.into(),
        AMQPValue::LongString(msg.sender.0.as_str().into()),
    );
    headers.insert(
        contract::message::HEADER_TRACEPARENT.into(),
        AMQPValue::LongString(traceparent(msg).into()),
    );
    let now = time::OffsetDateTime::now_utc();
    headers.insert(
        contract::message::HEADER_ACCEPTED_AT_MS.into(),
        AMQPValue::LongLongInt((now.unix_timestamp_nanos() / 1_000_000) as i64),
    );
    BasicProperties::default()
        .with_message_id(msg.id.to_string().as_str().into())
        .with_type(msg.kind.as_str().into())
        .with_content_type("application/json".into())
        .with_delivery_mode(2)
        .with_app_id("referral-gateway".into())
        .with_timestamp(now.unix_timestamp() as u64)
        .with_headers(headers)
}

/// A W3C `traceparent` of `msg`'s trace (the sender's, else its id), so that every hop of a
/// message shares it.
fn traceparent(msg: &Outgoing) -> String {
    contract::message::traceparent(&trace_of(msg.id, msg.trace_id.as_deref()))
}

/// The trace id of the message `id`: the sender's `trace_id` if it gave one, else the id.
pub fn trace_of(id: MessageId, trace_id: Option<&str>) -> String {
    trace_id.map_or_else(|| id.0.simple().to_string(), str::to_owned)
}
