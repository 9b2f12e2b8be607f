//! Receipts as a barnevern case system sends them: to the `receipts` exchange (routing key
//! `barnevern`) with its own broker account as `user_id`, the message id as
//! `correlation_id` and the receipt's type. The barnevern adapter checks and passes them on.

use crate::publish::{Topology, publish_confirmed};
use lapin::options::ConfirmSelectOptions;
use lapin::uri::AMQPUri;
use lapin::{BasicProperties, Connection};
use std::time::Duration;

/// `type` of a received receipt (KS Fiks).
pub const RECEIVED: &str = "no.ks.fiks.bekymringsmelding.mottatt.v1";
/// `type` of a failed receipt (KS Fiks), body `{"code": "<reason code>"}`.
pub const FAILED: &str = "no.ks.fiks.bekymringsmelding.feilet.v1";
/// `type` of a feedback receipt, body `{"undersokelseApnet": true|false}`.
pub const FEEDBACK: &str = "no.ks.fiks.bekymringsmelding.tilbakemelding.v1";

/// Sends one receipt over `url` (the case system's account); `Ok` once confirmed.
pub async fn send(
    url: &str,
    topology: &Topology,
    kind: &str,
    message_id: &str,
    body: &serde_json::Value,
) -> anyhow::Result<()> {
    let user = url
        .parse::<AMQPUri>()
        .map_err(|e| anyhow::anyhow!("not an AMQP URL: {e}"))?
        .authority
        .userinfo
        .username;
    let connection =
        Connection::connect(url, crate::publish::connection_properties("receipt")).await?;
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let properties = BasicProperties::default()
        .with_type(kind.into())
        .with_user_id(user.as_str().into())
        .with_correlation_id(message_id.into())
        .with_content_type("application/json".into())
        .with_delivery_mode(2);
    publish_confirmed(
        &channel,
        &topology.receipts_exchange(),
        "barnevern",
        body.to_string().as_bytes(),
        properties,
        Duration::from_secs(5),
    )
    .await?;
    let _ = connection.close(200, "receipt sent".into()).await;
    Ok(())
}
