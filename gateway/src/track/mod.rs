//! Track: what becomes of a message once it is queued. Adapters report each outcome
//! (delivered, failed, expired, retrying) and each receipt of the recipient's system
//! (received, feedback given, failed) as a status event on the `status` route; the gateway
//! consumes them, moves the message's status on (never back), counts them and times each
//! answer of the recipient from the message's recording. A dead letter
//! that expired in its queue comes back the same way, and its message is marked expired and
//! audited. An event the store cannot take yet is held and tried again, not requeued (see
//! [`until_done`]).

use crate::metrics::Metrics;
use crate::record::{Status, Store};
use contract::message::Parcel;
use contract::plumbing::broker::{BrokerLink, until_done};
use contract::status::{Event, StatusEvent};
use contract::topology::Topology;
use lapin::options::BasicAckOptions;
use std::future::Future;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Status events applied at once at most (and taken from the broker before they are): they
/// share the store's batches.
pub const IN_FLIGHT: u16 = 128;

/// Consumes status events until cancelled, reconsuming after every broker failure.
pub async fn run(
    link: Arc<BrokerLink>,
    topology: Topology,
    store: Arc<dyn Store>,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) {
    let queue = topology.status_queue();
    applying(&link, &queue, "gateway-status", &cancel, move |body| {
        let (store, metrics) = (store.clone(), metrics.clone());
        async move { apply(store.as_ref(), &metrics, &body).await }
    })
    .await;
}

/// Consumes the dead letters that expired until cancelled: each message is marked expired
/// and audited (its payload, sealed, is not read: only its id).
pub async fn run_expired(
    link: Arc<BrokerLink>,
    topology: Topology,
    store: Arc<dyn Store>,
    cancel: CancellationToken,
) {
    let queue = topology.expired_queue();
    applying(&link, &queue, "gateway-expired", &cancel, move |body| {
        let store = store.clone();
        async move {
            let Some(id) = Parcel::id_of(&body) else {
                tracing::warn!("unreadable expired dead letter dropped");
                return Ok(());
            };
            let moved = store
                .dead_letter_event(
                    &id,
                    "gateway",
                    "dead_letter_expired",
                    Some("dead letter expired"),
                )
                .await?;
            tracing::info!(message_id = %id, moved, "dead letter expired");
            Ok(())
        }
    })
    .await;
}

/// Consumes `queue`, applying each message's body with `apply` (held and tried again while
/// the store cannot take it, then acked).
async fn applying<A, F>(
    link: &BrokerLink,
    queue: &str,
    tag: &str,
    cancel: &CancellationToken,
    apply: A,
) where
    A: Fn(Vec<u8>) -> F + Clone,
    F: Future<Output = Result<(), crate::record::StoreError>>,
{
    contract::plumbing::broker::consume(
        link,
        queue,
        tag,
        IN_FLIGHT,
        cancel,
        |_| {},
        |_, delivery| {
            let (apply, cancel) = (apply.clone(), cancel.clone());
            async move {
                let applied = until_done(&cancel, "event not applied", || {
                    apply(delivery.data.clone())
                });
                match applied.await {
                    Some(()) => delivery.ack(BasicAckOptions::default()).await.is_ok(),
                    None => false,
                }
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
    if let Some(status) = status_after(event.event) {
        let span = tracing::info_span!(
            "status",
            gateway_id = %event.message_id,
            trace_id = event.trace_id.as_deref()
        );
        if let Some(trace) = &event.trace_id {
            let parent = contract::message::traceparent(trace);
            contract::plumbing::otlp::continue_trace(&span, &parent);
        }
        advance(store, metrics, &event, status)
            .instrument(span)
            .await?;
    }
    metrics.count_event(event.adapter, event.event);
    Ok(())
}

/// Moves `event`'s message to `status`, and times an answer of the recipient that moved it.
async fn advance(
    store: &dyn Store,
    metrics: &Metrics,
    event: &StatusEvent,
    status: Status,
) -> Result<(), crate::record::StoreError> {
    let moved = store
        .advance(&event.message_id, status, event.reason.as_deref())
        .await?;
    tracing::info!(message_id = %event.message_id, adapter = event.adapter.as_str(), status = status.as_str(), moved, "status event");
    let answered = status.is_answer() || matches!(status, Status::Received | Status::FeedbackGiven);
    if moved
        && answered
        && let Some(recorded) = store.recorded_at(&event.message_id).await?
    {
        let took = time::OffsetDateTime::now_utc() - recorded;
        metrics.time_answer(status, took.as_seconds_f64().max(0.0));
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
        Event::InvestigationOpened => Some(Status::InvestigationOpened),
        Event::InvestigationExtended => Some(Status::InvestigationExtended),
        Event::InvestigationEnded => Some(Status::InvestigationEnded),
        Event::Concluded => Some(Status::Concluded),
    }
}
