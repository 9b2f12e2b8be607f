//! Peek into a queue without taking anything from it: what an agency's system would read.
//! An operator's and a newcomer's tool; it shows properties and the body as JSON (a sealed
//! body as its text).

use contract::plumbing::broker::{Endpoint, confirming, put_back, take};
use lapin::types::AMQPValue;

/// One message seen in a queue.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Peeked {
    pub message_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub headers: serde_json::Map<String, serde_json::Value>,
    pub body: serde_json::Value,
}

/// Reads up to `max` messages of `queue` and puts them all back.
pub async fn peek(broker: &Endpoint, queue: &str, max: usize) -> Result<Vec<Peeked>, lapin::Error> {
    let (connection, channel) = confirming(broker, "peek").await?;
    let taken = take(&channel, queue, Some(max)).await?;
    let seen = taken
        .iter()
        .map(|message| {
            let properties = &message.delivery.properties;
            let headers = properties
                .headers()
                .as_ref()
                .map(|h| {
                    h.inner()
                        .iter()
                        .map(|(k, v)| (k.to_string(), header_value(v)))
                        .collect()
                })
                .unwrap_or_default();
            Peeked {
                message_id: properties.message_id().as_ref().map(|s| s.to_string()),
                kind: properties.kind().as_ref().map(|s| s.to_string()),
                headers,
                // A sealed document (a JWE) is shown as the text it is.
                body: serde_json::from_slice(&message.delivery.data)
                    .unwrap_or_else(|_| String::from_utf8_lossy(&message.delivery.data).into()),
            }
        })
        .collect();
    put_back(&channel, &taken).await?;
    let _ = connection.close(200, "peek done".into()).await;
    Ok(seen)
}

/// A header value as plain JSON (strings as strings, numbers as numbers).
pub fn header_value(value: &AMQPValue) -> serde_json::Value {
    match value {
        AMQPValue::LongString(s) => s.to_string().into(),
        AMQPValue::ShortString(s) => s.as_str().into(),
        AMQPValue::Boolean(b) => (*b).into(),
        AMQPValue::LongLongInt(n) => (*n).into(),
        AMQPValue::LongInt(n) => (*n).into(),
        AMQPValue::LongUInt(n) => (*n).into(),
        AMQPValue::ShortInt(n) => (*n).into(),
        AMQPValue::Timestamp(t) => (*t).into(),
        other => format!("{other:?}").into(),
    }
}
