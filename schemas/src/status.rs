//! Status events: what an adapter reports of one message (its outcome, or a receipt of the
//! recipient's system), on the `status` route to the gateway.

use crate::plumbing::broker::{PublishError, publish_confirmed};

use crate::directory::Transport;
use crate::message::MessageId;
use crate::topology::Topology;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// What an adapter reports of one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusEvent {
    pub message_id: MessageId,
    pub adapter: Transport,
    pub event: Event,
    /// Value-free: why it failed, or what the recipient answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The message's W3C trace id, where the reporter knows it (an adapter's delivery; not
    /// a receipt of the recipient's system): the gateway logs the event in that trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

crate::named! {
    /// The events adapters report.
    #[strum(serialize_all = "snake_case")]
    pub enum Event {
        Delivered,
        /// A transient failure; another attempt follows (the status does not change).
        Retrying,
        Failed,
        Expired,
        Received,
        FeedbackGiven,
        /// Answers of the recipient (see the gateway's statuses of the same names).
        Assessed,
        Acknowledged,
        Decided,
        InvestigationOpened,
        InvestigationExtended,
        InvestigationEnded,
        Concluded,
    }
}

/// Publishes `event` to the gateway on `channel` (in confirm mode); `Ok` once confirmed.
pub async fn report(
    channel: &lapin::Channel,
    topology: &Topology,
    event: &StatusEvent,
    timeout: Duration,
) -> Result<(), PublishError> {
    let body = serde_json::to_vec(event).expect("a status event serialises");
    publish_confirmed(
        channel,
        &topology.exchange(),
        Topology::STATUS_KEY,
        &body,
        lapin::BasicProperties::default()
            .with_message_id(event.message_id.to_string().as_str().into())
            .with_content_type("application/json".into())
            .with_delivery_mode(2),
        timeout,
    )
    .await
}
