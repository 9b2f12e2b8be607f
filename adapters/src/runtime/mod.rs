//! The runtime every adapter shares: consume the adapter's work queue with a bounded
//! prefetch and manual acks, hand each message to the adapter, and act on its outcome:
//! delivered (ack), transient failure (park a copy in a retry queue, then ack: the queue
//! behind it is never blocked), permanent failure or spent retry budget (dead-letter).
//! lapin's recovery carries the consumer over a broker restart; when recovery gives up the
//! runtime reconnects from scratch. On shutdown it stops consuming and waits for deliveries
//! in flight; the broker requeues whatever was not acked.

mod control;
mod ledger;
mod retry;

pub use ledger::{
    Claim, Entry, Ledger, PgBackend, PgLedger, SqlLedger, SqliteBackend, SqliteLedger, Stopped,
    holding,
};
pub use retry::{Next, RetryPolicy};

use crate::health::{Count, Health};
use contract::directory::{AgencyId, Transport};
use contract::message::{MessageId, Parcel};
use contract::plumbing::broker::{Endpoint, SETUP_TIMEOUT, publish_confirmed, until_done, within};
use contract::status::{Event, StatusEvent};
use contract::topology::Topology;
use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicQosOptions, ConfirmSelectOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// What became of one delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The agency's system has the message: the recipient's, or, where `to` names one, the
    /// agency that took it in the recipient's place (its on-call service). Receipts and
    /// withdrawal notices go by that agency. `remote_id`: the id the transport gave it,
    /// which the agency's answers name.
    Delivered {
        to: Option<AgencyId>,
        remote_id: Option<String>,
    },
    /// It may work later (timeout, 5xx, 429, broker hiccup), not before `retry_after`.
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// It will never work as it is (4xx, no such receiving queue).
    Permanent(String),
    /// It was sent, but whether it arrived is unknown (a lost confirm, a connection lost or
    /// a timeout after the request went out): the next attempt, once the way to the agency
    /// is back, may deliver it a second time.
    Unknown(String),
}

impl Outcome {
    /// Delivered to the message's recipient.
    pub const DELIVERED: Outcome = Outcome::Delivered {
        to: None,
        remote_id: None,
    };

    /// A transient failure without a wish for when to retry.
    pub fn transient(reason: impl Into<String>) -> Self {
        Self::Transient {
            reason: reason.into(),
            retry_after: None,
        }
    }
}

/// What an agency's HTTP refusal `status` (from `who`) means: 408, 429 and 5xx may pass
/// (retried, not before `retry_after`), any other answer never will; the reason is
/// "`who` answered `status`".
pub fn refused(who: &str, status: reqwest::StatusCode, retry_after: Option<Duration>) -> Outcome {
    let reason = format!("{who} answered {}", status.as_u16());
    if status == reqwest::StatusCode::REQUEST_TIMEOUT
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
    {
        Outcome::Transient {
            reason,
            retry_after,
        }
    } else {
        Outcome::Permanent(reason)
    }
}

/// An adapter: hands one message to an agency's system.
pub trait Adapter: Send + Sync + 'static {
    /// The adapter kind, naming its queues.
    fn kind(&self) -> Transport;

    /// Resolves once the adapter can deliver (e.g. its own outbound link is up); the
    /// runtime takes no message before.
    fn ready(&self) -> impl Future<Output = ()> + Send;

    /// Delivers `msg` (with the AMQP properties it came with) to its recipient.
    fn deliver(
        &self,
        msg: &Parcel,
        properties: &BasicProperties,
    ) -> impl Future<Output = Outcome> + Send;

    /// Tells `recipient`, which has message `message_id`, that the consent it was sent
    /// under is withdrawn.
    fn notify_withdrawn(
        &self,
        message_id: &MessageId,
        recipient: &str,
    ) -> impl Future<Output = Outcome> + Send;
}

/// How the runtime consumes.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The broker, over TLS where configured.
    pub broker: Endpoint,
    pub topology: Topology,
    pub prefetch: u16,
    pub retry: RetryPolicy,
    pub confirm_timeout: Duration,
    pub ledger: Arc<dyn Ledger>,
    /// Opens what travels sealed to the adapters (`runtime.delivery_key`).
    pub delivery_key: Option<Arc<contract::seal::PrivateJwk>>,
    /// Consumers up and outcomes, for the adapters' HTTP endpoint.
    pub health: Arc<Health>,
    /// The agencies (for the recipient types of the delivery times).
    pub directory: Arc<contract::directory::Directory>,
}

const RECONNECT: Duration = Duration::from_secs(1);

/// Why a consuming session ended.
#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("the broker ended the consumer")]
    ConsumerEnded,
    #[error("the connection or channel is no longer open")]
    Lost,
}

/// Everything one delivery's handling needs.
struct Context<A> {
    adapter: Arc<A>,
    channel: Channel,
    settings: Settings,
    /// Cancelled when the session ends (stopped or lost): what a handler holds, it lets go.
    ended: CancellationToken,
}

/// Consumes `adapter`'s work and control queues until cancelled: a supervisor that starts a
/// fresh session (connection, channel, consumers) whenever one ends, logging each loss.
pub async fn consume<A: Adapter>(adapter: Arc<A>, settings: Settings, cancel: CancellationToken) {
    let name = format!("adapter-{}", adapter.kind().as_str());
    while !cancel.is_cancelled() {
        match session(&adapter, &settings, &name, &cancel).await {
            Ok(()) => return,
            Err(error) => tracing::warn!(adapter = %name, %error, "consumer lost; reconnecting"),
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(RECONNECT) => {}
        }
    }
}

/// How often a session checks that its connection and channel are still open.
const WATCH: Duration = Duration::from_millis(500);

/// One connection's worth of consuming; `Ok` on cancellation, `Err` when it must reconnect.
async fn session<A: Adapter>(
    adapter: &Arc<A>,
    settings: &Settings,
    name: &str,
    cancel: &CancellationToken,
) -> Result<(), SessionError> {
    let connection = within(SETUP_TIMEOUT, settings.broker.connect(name)).await?;
    let channel = within(SETUP_TIMEOUT, async {
        let channel = connection.create_channel().await?;
        channel
            .basic_qos(settings.prefetch, BasicQosOptions::default())
            .await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        settings.topology.declare_routing(&channel).await?;
        Ok(channel)
    })
    .await?;
    tokio::select! {
        () = cancel.cancelled() => return Ok(()),
        () = adapter.ready() => {}
    }
    // Withdrawals first, so that nothing already withdrawn is delivered.
    let control_queue = settings.topology.control_queue(adapter.kind());
    control::drain(
        &**adapter,
        &channel,
        &control_queue,
        settings.ledger.as_ref(),
    )
    .await?;
    let mut controls = within(
        SETUP_TIMEOUT,
        channel.basic_consume(
            control_queue.as_str().into(),
            format!("{name}-control").as_str().into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        ),
    )
    .await?;
    let mut consumer = within(
        SETUP_TIMEOUT,
        channel.basic_consume(
            settings.topology.work_queue(adapter.kind()).into(),
            name.into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        ),
    )
    .await?;
    let work_queue = settings.topology.work_queue(adapter.kind());
    for queue in [&work_queue, &control_queue] {
        settings.health.consumer(queue, true);
    }
    tracing::info!(adapter = %name, "consuming");
    let context = Arc::new(Context {
        adapter: adapter.clone(),
        channel: channel.clone(),
        settings: settings.clone(),
        ended: cancel.child_token(),
    });
    let mut in_flight = JoinSet::new();
    let mut watch = tokio::time::interval(WATCH);
    let result = loop {
        tokio::select! {
            () = cancel.cancelled() => break Ok(()),
            Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
            _ = watch.tick() => {
                if !connection.status().connected() || !channel.status().connected() {
                    break Err(SessionError::Lost);
                }
            }
            next = controls.next() => match next {
                Some(Ok(delivery)) => control::handle(&**adapter, settings.ledger.as_ref(), delivery).await,
                Some(Err(error)) => break Err(error.into()),
                None => break Err(SessionError::ConsumerEnded),
            },
            next = consumer.next() => match next {
                Some(Ok(delivery)) => {
                    let span = delivery_span(&delivery);
                    in_flight.spawn(tracing::Instrument::instrument(handle(context.clone(), delivery), span));
                }
                Some(Err(error)) => break Err(error.into()),
                None => break Err(SessionError::ConsumerEnded),
            },
        }
    };
    for queue in [&work_queue, &control_queue] {
        settings.health.consumer(queue, false);
    }
    context.ended.cancel();
    while in_flight.join_next().await.is_some() {}
    let _ = within(
        SETUP_TIMEOUT,
        connection.close(200, "adapter stopping".into()),
    )
    .await;
    result
}

/// The text of AMQP header `name`.
pub fn header_text(properties: &BasicProperties, name: &str) -> Option<String> {
    match properties.headers().as_ref()?.inner().get(name)? {
        lapin::types::AMQPValue::LongString(s) => Some(s.to_string()),
        lapin::types::AMQPValue::ShortString(s) => Some(s.to_string()),
        _ => None,
    }
}

/// The span of one delivery's handling: every log line of it carries the message's id and
/// trace id (from its AMQP properties; never anything of its content).
fn delivery_span(delivery: &Delivery) -> tracing::Span {
    let properties = &delivery.properties;
    let message_id = properties.message_id().as_ref().map(|m| m.to_string());
    let traceparent = header_text(properties, contract::message::HEADER_TRACEPARENT);
    let trace_id = traceparent.as_deref().and_then(contract::message::trace_id);
    let span = tracing::info_span!("delivery", gateway_id = message_id, trace_id);
    if let Some(parent) = traceparent.as_deref().filter(|_| trace_id.is_some()) {
        contract::plumbing::otlp::continue_trace(&span, parent);
    }
    span
}

/// The trace id a message's AMQP properties carry (the gateway's `traceparent`), if any.
fn trace_of(properties: &BasicProperties) -> Option<String> {
    let header = header_text(properties, contract::message::HEADER_TRACEPARENT)?;
    contract::message::trace_id(&header).map(str::to_owned)
}

/// The `traceparent` of `msg`'s next hop (an agency's inbox, Fiks IO): the trace its AMQP
/// properties carry (the gateway's), else the message's own, with a fresh span id.
pub fn next_hop(msg: &Parcel, properties: &BasicProperties) -> String {
    let trace = trace_of(properties).unwrap_or_else(|| msg.message_id().0.simple().to_string());
    contract::message::traceparent(&trace)
}

/// Notes the time from the gateway's acceptance of `msg` (its `x-accepted-at-ms` header) to
/// its delivery now.
fn time_delivery(settings: &Settings, kind: Transport, msg: &Parcel, properties: &BasicProperties) {
    let accepted = properties.headers().as_ref().and_then(|h| {
        match h.inner().get(contract::message::HEADER_ACCEPTED_AT_MS) {
            Some(lapin::types::AMQPValue::LongLongInt(ms)) => Some(*ms),
            _ => None,
        }
    });
    let recipient = settings.directory.get(&msg.recipient().0);
    if let (Some(accepted), Some(recipient)) = (accepted, recipient) {
        let now = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64;
        let took = Duration::from_millis(u64::try_from(now - accepted).unwrap_or(0));
        settings
            .health
            .delivered_after(kind, recipient.agency_type.as_str(), took);
    }
}

/// Hands one delivery to the adapter and acks, retries or dead-letters it.
async fn handle<A: Adapter>(context: Arc<Context<A>>, delivery: Delivery) {
    let kind = context.adapter.kind();
    let adapter = kind.as_str();
    let ledger = &context.settings.ledger;
    // The message id is the body's; the AMQP property (which the recipient de-duplicates
    // and receipts correlate by) must agree, or the message is not what it says it is.
    let msg = match serde_json::from_slice::<Parcel>(&delivery.data) {
        Ok(msg)
            if delivery
                .properties
                .message_id()
                .as_ref()
                .map(|p| p.as_str())
                == Some(msg.message_id().to_string().as_str()) =>
        {
            msg
        }
        parsed => {
            let why = match parsed {
                Ok(_) => "message id of the properties and the body differ",
                Err(_) => "not a routed message",
            };
            tracing::warn!(adapter, why, "dead-lettered");
            let _ = dead_letter(&delivery).await;
            return;
        }
    };
    let message_id = msg.message_id();
    // Sealed on its way: opened here, for the last hop only.
    let msg = match msg.opened(context.settings.delivery_key.as_deref()) {
        Ok(msg) => msg,
        Err(error) => {
            tracing::warn!(%message_id, adapter, %error, "cannot be opened; dead-lettered");
            context.settings.health.count(kind, Count::DeadLettered);
            report_best_effort(
                &context,
                &delivery,
                &message_id,
                Event::Failed,
                &error.to_string(),
            )
            .await;
            let _ = dead_letter(&delivery).await;
            return;
        }
    };
    let outcome = match ledger.claim(&message_id).await {
        Ok(claim @ (Claim::Won | Claim::WonAfterUnknown)) => {
            if claim == Claim::WonAfterUnknown {
                // The lost-confirm window: the agency may have it. Try again only once the
                // way to the agency is back, so that one outage costs one copy at most.
                tracing::warn!(%message_id, adapter, "an earlier attempt's outcome is unknown; delivering again");
                context
                    .settings
                    .health
                    .count(kind, Count::AgainAfterUnknown);
                context.adapter.ready().await;
            }
            let attempt = context.adapter.deliver(&msg, &delivery.properties);
            let outcome = holding(ledger.as_ref(), &message_id, attempt).await;
            let ended = match &outcome {
                Outcome::Delivered { .. } => Ok(()),
                Outcome::Unknown(_) => ledger.unknown(&message_id).await,
                _ => ledger.release(&message_id).await,
            };
            if let Err(error) = ended {
                tracing::warn!(%message_id, adapter, %error, "claim not ended; it runs out");
            }
            if matches!(outcome, Outcome::Unknown(_)) {
                context.settings.health.count(kind, Count::Unknown);
            }
            outcome
        }
        Ok(Claim::Lost(Entry::Delivered { .. })) => {
            tracing::info!(%message_id, adapter, "delivered before; not delivered again");
            context
                .settings
                .health
                .count(kind, Count::DuplicateSuppressed);
            Outcome::DELIVERED
        }
        Ok(Claim::Lost(Entry::Delivering | Entry::Free)) => {
            // Another copy is being delivered: this one waits for its outcome.
            tracing::info!(%message_id, adapter, "another copy is being delivered; this one waits");
            Outcome::transient("another copy is being delivered")
        }
        Ok(Claim::Lost(Entry::Withdrawn)) => {
            tracing::info!(%message_id, adapter, "consent withdrawn; not delivered");
            if let Err(error) = delivery.ack(BasicAckOptions::default()).await {
                tracing::warn!(%message_id, adapter, %error, "ack failed");
            }
            return;
        }
        Err(error) => Outcome::transient(format!("ledger: {error}")),
    };
    let acted = match outcome {
        Outcome::Delivered { to, remote_id } => {
            tracing::info!(%message_id, adapter, "delivered");
            context.settings.health.count(kind, Count::Delivered);
            time_delivery(&context.settings, kind, &msg, &delivery.properties);
            let to = to.as_ref().unwrap_or(msg.recipient());
            // Receipts, withdrawal notices and copies that come again are checked against
            // this note: the delivery is held until it is written. If the session ends first,
            // the delivery goes back unsettled; its claim runs out, and a copy that comes
            // again is delivered again as one whose outcome is unknown.
            let noted = until_done(&context.ended, "delivery not noted in the ledger", || {
                ledger.delivered(&message_id, &to.0, remote_id.as_deref())
            });
            if noted.await.is_none() {
                return;
            }
            match report(&context, &delivery, &message_id, Event::Delivered, None).await {
                Ok(()) => delivery.ack(BasicAckOptions::default()).await,
                Err(error) => {
                    tracing::warn!(%message_id, adapter, %error, "delivery not reported; requeued");
                    requeue(&delivery).await
                }
            }
        }
        Outcome::Permanent(reason) => {
            tracing::warn!(%message_id, adapter, reason, "delivery failed for good; dead-lettered");
            context.settings.health.count(kind, Count::DeadLettered);
            report_best_effort(&context, &delivery, &message_id, Event::Failed, &reason).await;
            dead_letter(&delivery).await
        }
        Outcome::Transient {
            reason,
            retry_after,
        } => retry_later(&context, &delivery, &message_id, &reason, retry_after).await,
        Outcome::Unknown(reason) => {
            retry_later(&context, &delivery, &message_id, &reason, None).await
        }
    };
    if let Err(error) = acted {
        tracing::warn!(%message_id, adapter, %error, "ack failed; the broker will redeliver");
    }
}

/// Parks `delivery` in a retry queue after a failed attempt, or dead-letters it as expired
/// once the retry budget is spent.
async fn retry_later<A: Adapter>(
    context: &Context<A>,
    delivery: &Delivery,
    message_id: &MessageId,
    reason: &str,
    retry_after: Option<Duration>,
) -> Result<bool, lapin::Error> {
    let kind = context.adapter.kind();
    let adapter = kind.as_str();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let headers = delivery.properties.headers().as_ref();
    match context.settings.retry.next(headers, retry_after, now) {
        Next::GiveUp => {
            tracing::warn!(%message_id, adapter, reason, "retry budget spent; dead-lettered as expired");
            context.settings.health.count(kind, Count::DeadLettered);
            report_best_effort(context, delivery, message_id, Event::Expired, reason).await;
            dead_letter(delivery).await
        }
        Next::Retry {
            delay_secs,
            attempt,
            first_failure,
        } => {
            tracing::warn!(%message_id, adapter, reason, attempt, delay_secs, "delivery failed; will retry");
            let parked = publish_confirmed(
                &context.channel,
                "",
                &context.settings.topology.retry_queue(kind, delay_secs),
                &delivery.data,
                retry::for_retry(&delivery.properties, attempt, first_failure, delay_secs),
                context.settings.confirm_timeout,
            )
            .await;
            match parked {
                Ok(()) => {
                    context.settings.health.count(kind, Count::Retrying);
                    report_best_effort(context, delivery, message_id, Event::Retrying, reason)
                        .await;
                    delivery.ack(BasicAckOptions::default()).await
                }
                Err(error) => {
                    tracing::warn!(%message_id, adapter, %error, "cannot park for retry; requeued");
                    requeue(delivery).await
                }
            }
        }
    }
}

/// Reports an event of `delivery`'s message `message_id` to the gateway, in its trace; `Ok`
/// once the broker confirmed it.
async fn report<A: Adapter>(
    context: &Context<A>,
    delivery: &Delivery,
    message_id: &MessageId,
    event: Event,
    reason: Option<&str>,
) -> Result<(), contract::plumbing::broker::PublishError> {
    let event = StatusEvent {
        message_id: *message_id,
        adapter: context.adapter.kind(),
        event,
        reason: reason.map(str::to_owned),
        trace_id: trace_of(&delivery.properties),
    };
    contract::status::report(
        &context.channel,
        &context.settings.topology,
        &event,
        context.settings.confirm_timeout,
    )
    .await
}

/// Reports a failure; if the broker does not take the report, the message's status stays
/// where it is (and shows as overdue) rather than the message being retried for it.
async fn report_best_effort<A: Adapter>(
    context: &Context<A>,
    delivery: &Delivery,
    message_id: &MessageId,
    event: Event,
    reason: &str,
) {
    if let Err(error) = report(context, delivery, message_id, event, Some(reason)).await {
        tracing::warn!(%message_id, %error, event = event.as_str(), "event not reported");
    }
}

async fn requeue(delivery: &Delivery) -> Result<bool, lapin::Error> {
    tokio::time::sleep(RECONNECT).await;
    delivery
        .nack(BasicNackOptions {
            requeue: true,
            ..BasicNackOptions::default()
        })
        .await
}

async fn dead_letter(delivery: &Delivery) -> Result<bool, lapin::Error> {
    delivery
        .nack(BasicNackOptions {
            requeue: false,
            ..BasicNackOptions::default()
        })
        .await
}
