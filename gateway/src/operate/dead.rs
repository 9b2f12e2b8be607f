//! Dead letters, for operators: list what an adapter gave up on (metadata only: ids, kind,
//! tag, sender, why and when, never the body), and replay chosen messages into the
//! adapter's work queue, with a fresh retry budget, or discard them; each replay or discard
//! audited with its reason first.

use super::peek::header_value;
use crate::record::{Store, StoreError};
use contract::directory::Transport;
use contract::message::MessageId;
use contract::plumbing::broker::{PublishError, publish_confirmed, put_back, take};
use contract::topology::Topology;
use lapin::Channel;
use lapin::message::BasicGetMessage;
use lapin::options::BasicAckOptions;
use lapin::types::{AMQPValue, FieldTable};
use serde::Serialize;
use std::time::Duration;

/// What an operator sees of a dead letter.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    pub message_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub legal_basis: Option<String>,
    pub sender: Option<String>,
    /// Why the broker dead-lettered it (`rejected`: the adapter gave up; `delivery_limit`).
    pub reason: Option<String>,
    /// Failed attempts before (from the adapter's retry header).
    pub attempts: Option<serde_json::Value>,
    /// When it was first dead-lettered (Unix seconds).
    pub dead_since: Option<serde_json::Value>,
}

contract::named! {
    /// Why an operator replays or discards a dead letter: a fixed list, so that the audit
    /// trail holds no free text.
    #[strum(serialize_all = "snake_case")]
    pub enum SettleReason {
        /// The recipient's fault is mended (an inbox, a certificate, an account).
        RecipientFixed,
        /// The failure was passing (a network or broker fault).
        TransientFault,
        /// The message should not have been sent, or not to this recipient.
        SentInError,
        /// The recipient has the message already, by another way.
        Duplicate,
        /// The recipient no longer exists, or no longer takes this kind.
        RecipientGone,
    }
}

/// Who replays from the command line (`gateway dead replay`): the operator at the gateway's
/// host, as the audit trail names them.
pub const COMMAND_LINE: &str = "gateway-command-line";

/// Why an operation on dead letters failed.
#[derive(Debug, thiserror::Error)]
pub enum DeadError {
    #[error("broker: {0}")]
    Broker(#[from] lapin::Error),
    #[error("republishing failed: {0}")]
    Publish(#[from] PublishError),
    #[error("the broker is not connected")]
    NoBroker,
    #[error("the replay could not be audited: {0}")]
    Audit(#[from] StoreError),
}

/// Every dead letter of `adapter`, left in place.
pub async fn list(
    channel: &Channel,
    topology: &Topology,
    adapter: Transport,
) -> Result<Vec<DeadLetter>, DeadError> {
    let taken = take(channel, &topology.dead_queue(adapter), None).await?;
    let letters = taken.iter().map(describe).collect();
    put_back(channel, &taken).await?;
    Ok(letters)
}

/// What becomes of a dead letter an operator chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// Back into its adapter's work queue, with a fresh retry budget.
    Replay,
    /// Removed for good (the broker forgets it).
    Discard,
}

/// Replays or discards the dead letters of `adapter` whose ids are in `ids` (all, if `ids`
/// is empty); returns the ids settled. The others stay, in their order.
pub async fn settle(
    channel: &Channel,
    topology: &Topology,
    adapter: Transport,
    ids: &[String],
    how: Settle,
) -> Result<Vec<String>, DeadError> {
    let taken = take(channel, &topology.dead_queue(adapter), None).await?;
    let mut settled = Vec::new();
    let mut kept = Vec::new();
    for message in taken {
        let id = message
            .delivery
            .properties
            .message_id()
            .as_ref()
            .map(|i| i.to_string());
        if !ids.is_empty() && !id.as_ref().is_some_and(|i| ids.contains(i)) {
            kept.push(message);
            continue;
        }
        if how == Settle::Replay {
            let properties = fresh(&message.delivery.properties);
            let work = topology.work_queue(adapter);
            let published = publish_confirmed(
                channel,
                "",
                &work,
                &message.delivery.data,
                properties,
                Duration::from_secs(5),
            )
            .await;
            if let Err(error) = published {
                kept.push(message);
                put_back(channel, &kept).await?;
                return Err(error.into());
            }
        }
        message.delivery.ack(BasicAckOptions::default()).await?;
        tracing::info!(message_id = ?id, adapter = adapter.as_str(), ?how, "dead letter settled");
        settled.extend(id);
    }
    put_back(channel, &kept).await?;
    Ok(settled)
}

/// `gateway dead replay`: audits each dead letter of `adapter` whose id is in `ids` (all, if
/// `ids` is empty) as replayed from the command line for `reason`, then replays them;
/// returns the ids replayed. A letter without a message id is not replayed (it cannot be
/// audited); one another operator took between the audit and the replay keeps its entry.
pub async fn replay_audited(
    channel: &Channel,
    topology: &Topology,
    store: &dyn Store,
    (adapter, ids): (Transport, &[String]),
    reason: SettleReason,
) -> Result<Vec<String>, DeadError> {
    let chosen: Vec<MessageId> = list(channel, topology, adapter)
        .await?
        .into_iter()
        .filter_map(|l| l.message_id)
        .filter(|id| ids.is_empty() || ids.contains(id))
        .filter_map(|id| id.parse().ok())
        .collect();
    if chosen.is_empty() {
        return Ok(Vec::new());
    }
    let action = format!("dead_letter_replay:{reason}");
    for id in &chosen {
        store
            .dead_letter_event(id, COMMAND_LINE, &action, None)
            .await?;
    }
    let chosen: Vec<String> = chosen.iter().map(MessageId::to_string).collect();
    settle(channel, topology, adapter, &chosen, Settle::Replay).await
}

/// The properties of a replayed copy: the same ids, without its death and retry history.
fn fresh(properties: &lapin::BasicProperties) -> lapin::BasicProperties {
    let mut headers = FieldTable::default();
    for (key, value) in properties
        .headers()
        .as_ref()
        .map(|h| h.inner().clone())
        .unwrap_or_default()
    {
        let key_text = key.to_string();
        if !key_text.starts_with("x-death")
            && !key_text.starts_with("x-first-death")
            && !key_text.starts_with("x-last-death")
            && !key_text.starts_with("x-retry")
            && !key_text.starts_with("x-first-failure")
        {
            headers.insert(key, value);
        }
    }
    properties.clone().with_headers(headers)
}

fn describe(message: &BasicGetMessage) -> DeadLetter {
    let p = &message.delivery.properties;
    let header = |name: &str| {
        p.headers()
            .as_ref()
            .and_then(|h| h.inner().get(name).map(header_value))
    };
    let text = |name: &str| header(name).and_then(|v| v.as_str().map(str::to_owned));
    let first_death = p
        .headers()
        .as_ref()
        .and_then(|h| match h.inner().get("x-death") {
            Some(AMQPValue::FieldArray(deaths)) => deaths.as_slice().first().cloned(),
            _ => None,
        });
    let death_field = |name: &str| match &first_death {
        Some(AMQPValue::FieldTable(t)) => t.inner().get(name).map(header_value),
        _ => None,
    };
    DeadLetter {
        message_id: p.message_id().as_ref().map(|i| i.to_string()),
        kind: p.kind().as_ref().map(|k| k.to_string()),
        legal_basis: text(crate::publish::HEADER_LEGAL_BASIS),
        sender: text(crate::publish::HEADER_SENDER),
        reason: death_field("reason").and_then(|v| v.as_str().map(str::to_owned)),
        attempts: header("x-retry-attempt"),
        dead_since: death_field("time"),
    }
}
