//! The runtime every adapter shares: consume the adapter's work queue with a bounded
//! prefetch and manual acks, hand each message to the adapter, and act on its outcome.
//! lapin's recovery carries the consumer over a broker restart; when recovery gives up the
//! runtime reconnects from scratch. On shutdown it stops consuming and waits for deliveries
//! in flight, whose unacked messages the broker requeues if they do not finish.

use futures_util::StreamExt;
use gateway::directory::AdapterKind;
use gateway::publish::{Topology, connection_properties};
use gateway::routed::RoutedMessage;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// What became of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The agency's system has the message.
    Delivered,
    /// It may work later (timeout, 5xx, 429, broker hiccup).
    Transient(String),
    /// It will never work as it is (4xx, no such receiving queue).
    Permanent(String),
}

/// An adapter: hands one message to an agency's system.
pub trait Adapter: Send + Sync + 'static {
    /// The adapter kind, naming its work queue.
    fn kind(&self) -> AdapterKind;

    /// Delivers `msg` (with the AMQP properties it came with) to its recipient.
    fn deliver(
        &self,
        msg: &RoutedMessage,
        properties: &BasicProperties,
    ) -> impl Future<Output = Outcome> + Send;
}

const RECONNECT: Duration = Duration::from_secs(1);

/// Why a consuming session ended.
#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the broker ended the consumer")]
    ConsumerEnded,
}

/// Consumes `adapter`'s work queue until cancelled.
pub async fn consume<A: Adapter>(
    adapter: Arc<A>,
    url: String,
    topology: Topology,
    prefetch: u16,
    cancel: CancellationToken,
) {
    let name = format!("adapter-{}", adapter.kind().name());
    while !cancel.is_cancelled() {
        match session(&adapter, &url, &name, &topology, prefetch, &cancel).await {
            Ok(()) => return,
            Err(error) => tracing::warn!(adapter = %name, %error, "consumer lost; reconnecting"),
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(RECONNECT) => {}
        }
    }
}

/// One connection's worth of consuming; `Ok` on cancellation, `Err` when it must reconnect.
async fn session<A: Adapter>(
    adapter: &Arc<A>,
    url: &str,
    name: &str,
    topology: &Topology,
    prefetch: u16,
    cancel: &CancellationToken,
) -> Result<(), SessionError> {
    let connection = Connection::connect(url, connection_properties(name)).await?;
    let channel = connection.create_channel().await?;
    channel
        .basic_qos(prefetch, BasicQosOptions::default())
        .await?;
    topology.declare_routing(&channel).await?;
    let mut consumer = channel
        .basic_consume(
            topology.work_queue(adapter.kind()).into(),
            name.into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    tracing::info!(adapter = %name, "consuming");
    let mut in_flight = JoinSet::new();
    let result = loop {
        tokio::select! {
            () = cancel.cancelled() => break Ok(()),
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            next = consumer.next() => match next {
                Some(Ok(delivery)) => {
                    in_flight.spawn(handle(adapter.clone(), delivery));
                }
                Some(Err(error)) => {
                    if let Err(error) = channel.wait_for_recovery(error).await {
                        break Err(error.into());
                    }
                    tracing::info!(adapter = %name, "consumer recovered");
                }
                None => break Err(SessionError::ConsumerEnded),
            },
        }
    };
    while in_flight.join_next().await.is_some() {}
    let _ = connection.close(200, "adapter stopping".into()).await;
    result
}

/// Hands one delivery to the adapter and acks, requeues or dead-letters it.
async fn handle<A: Adapter>(adapter: Arc<A>, delivery: Delivery) {
    let message_id = delivery
        .properties
        .message_id()
        .as_ref()
        .map(|id| id.to_string())
        .unwrap_or_default();
    let outcome = match serde_json::from_slice::<RoutedMessage>(&delivery.data) {
        Ok(msg) => adapter.deliver(&msg, &delivery.properties).await,
        Err(_) => Outcome::Permanent("not a routed message".into()),
    };
    let adapter = adapter.kind().name();
    let acted = match &outcome {
        Outcome::Delivered => {
            tracing::info!(%message_id, adapter, "delivered");
            delivery.ack(BasicAckOptions::default()).await
        }
        Outcome::Transient(reason) => {
            tracing::warn!(%message_id, adapter, reason, "delivery failed; will retry");
            delivery
                .nack(BasicNackOptions {
                    requeue: true,
                    ..BasicNackOptions::default()
                })
                .await
        }
        Outcome::Permanent(reason) => {
            tracing::warn!(%message_id, adapter, reason, "delivery failed for good; dead-lettered");
            delivery
                .nack(BasicNackOptions {
                    requeue: false,
                    ..BasicNackOptions::default()
                })
                .await
        }
    };
    if let Err(error) = acted {
        tracing::warn!(%message_id, adapter, %error, "ack failed; the broker will redeliver");
    }
}
