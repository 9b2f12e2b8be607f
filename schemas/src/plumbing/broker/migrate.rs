//! The way from queues declared with arguments (earlier versions) to plain quorum queues
//! whose settings are policies: a queue's arguments cannot change on a running broker (a
//! declaration with others fails with 406), so each such queue is emptied into a temporary
//! queue beside it, deleted, declared anew and refilled. Run with the gateway and the
//! adapters stopped (a queue with consumers is refused); an interrupted run is finished by
//! the next, which first refills what it finds in a temporary queue. The processes declare
//! the bindings again when they start.

use super::management::{Management, ManagementError};
use super::{PublishError, publish_confirmed};
use crate::topology::{Topology, declare_queue};
use lapin::Channel;
use lapin::options::{BasicAckOptions, BasicGetOptions, QueueDeleteOptions};
use serde::Serialize;
use std::time::Duration;

/// Why a migration stopped.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Management(#[from] ManagementError),
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("moving a message: {0}")]
    Publish(#[from] PublishError),
    #[error("queue {0} has consumers: stop the gateway and the adapters first")]
    InUse(String),
}

/// What a migration did.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Migrated {
    /// The queues declared anew.
    pub queues: Vec<String>,
    /// The messages moved through their temporary queues (and back).
    pub messages: u64,
}

/// How long one move's publish waits for its confirm.
const CONFIRM: Duration = Duration::from_secs(10);

/// Moves every queue of `topology` and the receiving queues `receiving` that was declared
/// with arguments to a plain quorum queue, keeping its messages; `channel` in confirm mode.
pub async fn migrate(
    channel: &Channel,
    management: &Management,
    topology: &Topology,
    receiving: &[String],
) -> Result<Migrated, MigrateError> {
    let mut done = Migrated::default();
    for name in topology.queue_names(receiving) {
        let parked = format!("{name}.migrating");
        let Some(info) = management.queue(&name).await? else {
            continue;
        };
        let with_arguments = info.arguments.keys().any(|k| k != "x-queue-type");
        if with_arguments {
            if info.consumers > 0 {
                return Err(MigrateError::InUse(name));
            }
            declare_queue(channel, &parked).await?;
            done.messages += moved(channel, &name, &parked).await?;
            channel
                .queue_delete(name.as_str().into(), QueueDeleteOptions::default())
                .await?;
            declare_queue(channel, &name).await?;
            done.queues.push(name.clone());
        }
        if management.queue(&parked).await?.is_some() {
            moved(channel, &parked, &name).await?;
            channel
                .queue_delete(parked.as_str().into(), QueueDeleteOptions::default())
                .await?;
        }
    }
    Ok(done)
}

/// Moves every message of `from` into `to` (each confirmed there before it leaves `from`,
/// with its properties and headers); how many.
async fn moved(channel: &Channel, from: &str, to: &str) -> Result<u64, MigrateError> {
    let mut count = 0;
    while let Some(message) = channel
        .basic_get(from.into(), BasicGetOptions::default())
        .await?
    {
        let delivery = message.delivery;
        publish_confirmed(
            channel,
            "",
            to,
            &delivery.data,
            delivery.properties.clone(),
            CONFIRM,
        )
        .await?;
        delivery.ack(BasicAckOptions::default()).await?;
        count += 1;
    }
    Ok(count)
}
