//! Short-lived broker work for operators' tools and case-system stand-ins: one confirming
//! connection, and looking at a queue's messages without taking them away.

use super::Endpoint;
use lapin::message::BasicGetMessage;
use lapin::options::{BasicGetOptions, BasicNackOptions, ConfirmSelectOptions};
use lapin::{Channel, Connection};

/// A connection to `broker` (named `name`) with one channel in confirm mode; close the
/// connection when done.
pub async fn confirming(
    broker: &Endpoint,
    name: &str,
) -> Result<(Connection, Channel), lapin::Error> {
    let connection = broker.connect(name).await?;
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    Ok((connection, channel))
}

/// Takes up to `max` messages (all, if `None`) of `queue`, unacknowledged: hand each back
/// with [`put_back`] or settle it.
pub async fn take(
    channel: &Channel,
    queue: &str,
    max: Option<usize>,
) -> Result<Vec<BasicGetMessage>, lapin::Error> {
    let mut taken = Vec::new();
    while max.is_none_or(|max| taken.len() < max) {
        match channel
            .basic_get(queue.into(), BasicGetOptions::default())
            .await?
        {
            Some(message) => taken.push(message),
            None => break,
        }
    }
    Ok(taken)
}

/// Puts `messages`, taken with [`take`], back into their queue.
pub async fn put_back(channel: &Channel, messages: &[BasicGetMessage]) -> Result<(), lapin::Error> {
    for message in messages {
        channel
            .basic_nack(
                message.delivery.delivery_tag,
                BasicNackOptions {
                    multiple: false,
                    requeue: true,
                },
            )
            .await?;
    }
    Ok(())
}
