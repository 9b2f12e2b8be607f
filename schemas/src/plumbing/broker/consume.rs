//! A supervised consumer over a [`BrokerLink`]: consumes one queue until cancelled, and
//! consumes again (once the link is up) after any loss: a channel or connection closed, the
//! consumer cancelled, its stream ended. Up to `in_flight` deliveries are handled at once
//! (the consumer's prefetch is as many), so that handlers waiting on a commit or a confirm
//! share it instead of queueing for it one by one.

use super::{BrokerLink, SETUP_TIMEOUT, within};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use lapin::Channel;
use lapin::message::Delivery;
use lapin::options::{BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How long to wait before consuming again after a loss.
const AGAIN: Duration = Duration::from_secs(1);

/// How often a consumer checks that its channel is still open: a connection can die without
/// its consumer's stream ending, or while every handler is busy and the stream is not read.
const WATCH: Duration = Duration::from_millis(500);

/// Consumes `queue` (as consumer `tag`) over `link` until `cancel`, handing each delivery
/// and its channel to `handle`, which settles it and answers false if the channel failed;
/// at most `in_flight` at once. On a loss the handlers still running are dropped: their
/// deliveries, unsettled, go back to the queue with the channel, and a settle on a dying
/// connection may never answer. On `cancel` they are let finish, at most [`SETUP_TIMEOUT`].
/// `up` is told each time the consumer comes (true) and goes (false).
pub async fn consume<H, F>(
    link: &BrokerLink,
    queue: &str,
    tag: &str,
    in_flight: u16,
    cancel: &CancellationToken,
    mut up: impl FnMut(bool),
    mut handle: H,
) where
    H: FnMut(Channel, Delivery) -> F,
    F: Future<Output = bool>,
{
    while !cancel.is_cancelled() {
        if let Some(channel) = link.channel().await {
            let consumed = within(SETUP_TIMEOUT, async {
                channel
                    .basic_qos(in_flight, BasicQosOptions::default())
                    .await?;
                channel
                    .basic_consume(
                        queue.into(),
                        tag.into(),
                        BasicConsumeOptions::default(),
                        FieldTable::default(),
                    )
                    .await
            })
            .await;
            match consumed {
                Ok(mut consumer) => {
                    up(true);
                    let mut running = FuturesUnordered::<F>::new();
                    let mut watch = tokio::time::interval(WATCH);
                    loop {
                        tokio::select! {
                            () = cancel.cancelled() => {
                                let _ = tokio::time::timeout(SETUP_TIMEOUT, async {
                                    while running.next().await.is_some() {}
                                })
                                .await;
                                up(false);
                                return;
                            }
                            Some(settled) = running.next(), if !running.is_empty() => {
                                if !settled {
                                    break;
                                }
                            }
                            _ = watch.tick() => {
                                if !channel.status().connected() {
                                    break;
                                }
                            }
                            next = consumer.next(), if running.len() < usize::from(in_flight) => match next {
                                Some(Ok(delivery)) => running.push(handle(channel.clone(), delivery)),
                                _ => break,
                            },
                        }
                    }
                    tracing::warn!(queue, "consumer lost; consuming again once the link is up");
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
