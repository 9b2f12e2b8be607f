//! Track: what becomes of a message once it is queued. Adapters report each outcome
//! (delivered, failed, expired, retrying) and each receipt of the recipient's system
//! (received, feedback given, failed) as a status event on the `status` route; the gateway
//! consumes them, moves the message's status on (never back) and counts them.

use crate::metrics::Metrics;
use crate::record::{Status, Store};
use contract::broker::{BrokerLink, Topology};
use contract::status::{Event, StatusEvent};
use lapin::options::{BasicAckOptions, BasicNackOptions};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Consumes status events until cancelled, reconsuming after every broker failure.
pub async fn run(
    link: Arc<BrokerLink>,
    topology: Topology,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) {
    let queue = topology.status_queue();
    contract::broker::consume(
        &link,
        &queue,
        "gateway-status",
        &cancel,
        |_| {},
        |_, delivery| {
            let (store, metrics) = (store.clone(), metrics.clone());
            async move {
                let settled = match apply(store.as_ref(), &metrics, &delivery.data).await {
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
                settled.is_ok()
            }
        },
    )
    .await;
}

async fn apply(
    store: &dyn Store,
    metrics: &Metrics,
    body: &[u8],
) -> Result<(), crate::record::StoreError> {
    let Ok(event) = serde_json::from_slice::<StatusEvent>(body) else {
        tracing::warn!("unreadable status event dropped");
        return Ok(());
    };
    metrics.count_event(event.adapter, event.event);
    if let Some(status) = status_after(event.event) {
        let moved = store
            .advance(&event.message_id, status, event.reason.as_deref())
            .await?;
        tracing::info!(message_id = %event.message_id, adapter = event.adapter.as_str(), status = status.as_str(), moved, "status event");
    }
    Ok(())
}

/// The status `event` moves a message to, if any.
fn status_after(event: Event) -> Option<Status> {
    match event {
        Event::Delivered => Some(Status::Delivered),
        Event::Retrying => None,
        Event::Failed => Some(Status::Failed),
        Event::Expired => Some(Status::Expired),
        Event::Received => Some(Status::Received),
        Event::FeedbackGiven => Some(Status::FeedbackGiven),
        Event::Assessed => Some(Status::Assessed),
        Event::Acknowledged => Some(Status::Acknowledged),
        Event::Decided => Some(Status::Decided),
        Event::InvestigationEnded => Some(Status::InvestigationEnded),
        Event::Concluded => Some(Status::Concluded),
    }
}
