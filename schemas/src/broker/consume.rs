//! A supervised consumer over a [`BrokerLink`]: consumes one queue until cancelled, and
//! consumes again (once the link is up) after any loss: a channel or connection closed, the
//! consumer cancelled, its stream ended.

use super::{BrokerLink, SETUP_TIMEOUT, within};
use futures_util::StreamExt;
use lapin::Channel;
use lapin::message::Delivery;
use lapin::options::BasicConsumeOptions;
use lapin::types::FieldTable;
use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long to wait before consuming again after a loss.
const AGAIN: Duration = Duration::from_secs(1);

/// Consumes `queue` (as consumer `tag`) over `link` until `cancel`, handing each delivery
/// and its channel to `handle`, which settles it and answers false if the channel failed.
/// `up` is told each time the consumer comes (true) and goes (false).
pub async fn consume<H, F>(
    link: &BrokerLink,
    queue: &str,
    tag: &str,
    cancel: &CancellationToken,
    mut up: impl FnMut(bool),
    mut handle: H,
) where
    H: FnMut(Channel, Delivery) -> F,
    F: Future<Output = bool>,
{
    while !cancel.is_cancelled() {
        if let Some(channel) = link.channel().await {
            let consumed = within(
                SETUP_TIMEOUT,
                channel.basic_consume(
                    queue.into(),
                    tag.into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                ),
            )
            .await;
            match consumed {
                Ok(mut consumer) => {
                    up(true);
                    loop {
                        let delivery = tokio::select! {
                            () = cancel.cancelled() => return,
                            next = consumer.next() => match next {
                                Some(Ok(d)) => d,
                                _ => {
                                    tracing::warn!(queue, "consumer lost; consuming again once the link is up");
                                    break;
                                }
                            },
                        };
                        if !handle(channel.clone(), delivery).await {
                            break;
                        }
                    }
                    up(false);
                }
                Err(error) => tracing::warn!(queue, %error, "cannot consume"),
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(AGAIN) => {}
        }
    }
}

/// Runs `attempt` until it succeeds, once every second after a failure (each logged as
/// `what` with its error), the delivery it is for held meanwhile rather than requeued: a
/// requeue would count against a quorum queue's delivery limit (20 by default from
/// RabbitMQ 4.0), past which the broker drops the message. `None` if `cancel` comes first;
/// the unsettled delivery then goes back to its queue with the channel.
pub async fn until_done<T, E, F>(
    cancel: &CancellationToken,
    what: &str,
    mut attempt: impl FnMut() -> F,
) -> Option<T>
where
    E: std::fmt::Display,
    F: Future<Output = Result<T, E>>,
{
    loop {
        match attempt().await {
            Ok(done) => return Some(done),
            Err(error) => tracing::warn!(%error, "{what}; trying again"),
        }
        tokio::select! {
            () = cancel.cancelled() => return None,
            () = tokio::time::sleep(AGAIN) => {}
        }
    }
}
