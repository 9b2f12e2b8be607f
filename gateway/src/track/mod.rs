//! Track: what becomes of a message once it is queued. Adapters report each outcome
//! (delivered, failed, expired, retrying) and each receipt of the recipient's system
//! (received, feedback given, failed) as a status event on the `status` route; the gateway
//! consumes them, moves the message's status on (never back) and counts them.

use crate::directory::AdapterKind;
use crate::metrics::Metrics;
use crate::publish::{BrokerLink, Topology};
use crate::record::{Status, Store};
use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicNackOptions};
use lapin::types::FieldTable;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What an adapter reports of one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusEvent {
    pub message_id: String,
    pub adapter: AdapterKind,
    pub event: Event,
    /// Value-free: why it failed, or what the recipient answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The events adapters report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    Delivered,
    /// A transient failure; another attempt follows (the status does not change).
    Retrying,
    Failed,
    Expired,
    Received,
    FeedbackGiven,
}

impl Event {
    /// The status the event moves a message to, if any.
    pub fn status(self) -> Option<Status> {
        match self {
            Self::Delivered => Some(Status::Delivered),
            Self::Retrying => None,
            Self::Failed => Some(Status::Failed),
            Self::Expired => Some(Status::Expired),
            Self::Received => Some(Status::Received),
            Self::FeedbackGiven => Some(Status::FeedbackGiven),
        }
    }

    /// The event's name (metric label).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Retrying => "retrying",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Received => "received",
            Self::FeedbackGiven => "feedback_given",
        }
    }
}

/// Publishes `event` to the gateway on `channel` (in confirm mode); `Ok` once confirmed.
pub async fn report(
    channel: &lapin::Channel,
    topology: &Topology,
    event: &StatusEvent,
    timeout: Duration,
) -> Result<(), crate::publish::PublishError> {
    let body = serde_json::to_vec(event).expect("a status event serialises");
    crate::publish::publish_confirmed(
        channel,
        &topology.exchange(),
        Topology::STATUS_KEY,
        &body,
        lapin::BasicProperties::default()
            .with_message_id(event.message_id.as_str().into())
            .with_content_type("application/json".into())
            .with_delivery_mode(2),
        timeout,
    )
    .await
}

/// Consumes status events until cancelled, reconsuming after every broker failure.
pub async fn run(
    link: Arc<BrokerLink>,
    topology: Topology,
    store: Store,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) {
    while !cancel.is_cancelled() {
        if let Some(channel) = link.channel().await {
            let consumed = crate::publish::within(
                crate::publish::SETUP_TIMEOUT,
                channel.basic_consume(
                    topology.status_queue().as_str().into(),
                    "gateway-status".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                ),
            )
            .await;
            match consumed {
                Ok(mut consumer) => loop {
                    let delivery = tokio::select! {
                        () = cancel.cancelled() => return,
                        next = consumer.next() => match next {
                            Some(Ok(d)) => d,
                            _ => {
                                tracing::warn!("status consumer lost; consuming again once the link is up");
                                break;
                            }
                        },
                    };
                    let settled = match apply(&store, &metrics, &delivery.data).await {
                        Ok(()) => delivery.ack(BasicAckOptions::default()).await,
                        Err(error) => {
                            tracing::error!(%error, "status event not applied; requeued");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            delivery
                                .nack(BasicNackOptions {
                                    requeue: true,
                                    ..BasicNackOptions::default()
                                })
                                .await
                        }
                    };
                    if settled.is_err() {
                        break;
                    }
                },
                Err(error) => tracing::warn!(%error, "cannot consume status events"),
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

async fn apply(
    store: &Store,
    metrics: &Metrics,
    body: &[u8],
) -> Result<(), crate::record::StoreError> {
    let Ok(event) = serde_json::from_slice::<StatusEvent>(body) else {
        tracing::warn!("unreadable status event dropped");
        return Ok(());
    };
    metrics.count_event(event.adapter, event.event);
    if let Some(status) = event.event.status() {
        let moved = store
            .advance(&event.message_id, status, event.reason.as_deref())
            .await?;
        tracing::info!(message_id = %event.message_id, adapter = event.adapter.name(), status = status.as_str(), moved, "status event");
    }
    Ok(())
}
