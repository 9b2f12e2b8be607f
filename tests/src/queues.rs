//! The test's broker names, seen from outside: counting, draining, answering.

use crate::{Harness, amqp_url};
use contract::topology::Topology;
use lapin::message::BasicGetMessage;
use lapin::options::{BasicAckOptions, BasicGetOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties};
use serde_json::Value;
use std::time::Duration;

impl Harness {
    /// Sends a receipt or answer of `kind` for the gateway's message `message_id`, as a case
    /// system does, from the test's broker account (`guest`).
    pub async fn receipt(&self, kind: &str, message_id: &str, body: Value) {
        adapters::queue::receipts::send(
            &contract::plumbing::broker::Endpoint::plain(amqp_url()),
            &self.topology(),
            kind,
            message_id,
            &body,
        )
        .await
        .unwrap();
    }
    /// This test's broker names.
    pub fn topology(&self) -> Topology {
        self.config.broker.topology()
    }

    /// A new channel on the harness's own broker connection (a channel dies with its first
    /// error, e.g. a queue not declared yet, so each use takes a fresh one). A connection
    /// that died (the broker restarted, or closed it) is replaced, waiting up to a minute
    /// for the broker to take connections again.
    pub async fn channel(&self) -> Channel {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let mut connection = self.broker.lock().await;
        loop {
            if let Some(c) = connection.as_ref().filter(|c| c.status().connected())
                && let Ok(channel) = c.create_channel().await
            {
                return channel;
            }
            match Connection::connect(&amqp_url(), ConnectionProperties::default()).await {
                Ok(fresh) => *connection = Some(fresh),
                Err(error) => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "test broker unreachable: {error}"
                    );
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        }
    }

    /// Messages in `queue` (full name) right now; 0 if it does not exist.
    pub async fn count(&self, queue: &str) -> u32 {
        self.inspect(queue).await.map_or(0, |q| q.message_count())
    }

    /// Drains `queue` until every message of `expected` (gateway ids) has arrived, asserts
    /// that no other did, and returns how many came twice (at-least-once: the lost-confirm
    /// window), which must stay within 2 %.
    pub async fn arrived(
        &self,
        queue: &str,
        expected: &std::collections::BTreeSet<String>,
        what: &str,
    ) -> usize {
        let got = self
            .drain(queue, expected.len(), Duration::from_secs(120))
            .await;
        let ids: Vec<String> = got.iter().map(message_id).collect();
        let unique: std::collections::BTreeSet<String> = ids.iter().cloned().collect();
        if &unique != expected {
            let missing: Vec<&String> = expected.difference(&unique).collect();
            panic!(
                "{what}: every accepted message arrived; missing {missing:?}; {}",
                self.whereabouts().await
            );
        }
        let duplicates = ids.len() - unique.len();
        println!(
            "{what}: {} accepted, {duplicates} duplicates",
            expected.len()
        );
        assert!(
            duplicates * 50 <= expected.len(),
            "{what}: duplicates stay within 2 %: {duplicates}"
        );
        duplicates
    }

    /// Where the queue adapter's undelivered messages are: its dead letters (id and why)
    /// and the messages waiting in its work and retry queues, for a failure's message.
    async fn whereabouts(&self) -> String {
        use contract::directory::Transport;
        let topology = self.topology();
        let endpoint = contract::plumbing::broker::Endpoint::plain(amqp_url());
        let dead = match contract::plumbing::broker::confirming(&endpoint, "test-whereabouts").await
        {
            Ok((_connection, channel)) => {
                gateway::operate::dead::list(&channel, &topology, Transport::Queue)
                    .await
                    .map(|letters| {
                        letters
                            .into_iter()
                            .map(|l| format!("{:?} ({:?})", l.message_id, l.reason))
                            .collect::<Vec<_>>()
                    })
                    .map_err(|e| e.to_string())
            }
            Err(error) => Err(error.to_string()),
        };
        let mut waiting = vec![(
            topology.work_queue(Transport::Queue),
            self.count(&topology.work_queue(Transport::Queue)).await,
        )];
        for delay in contract::topology::RETRY_DELAYS_SECS {
            let queue = topology.retry_queue(Transport::Queue, delay);
            waiting.push((queue.clone(), self.count(&queue).await));
        }
        format!("dead letters: {dead:?}; waiting: {waiting:?}")
    }

    /// Consumers of `queue` (full name) right now; 0 if it does not exist.
    pub async fn consumers(&self, queue: &str) -> u32 {
        self.inspect(queue).await.map_or(0, |q| q.consumer_count())
    }

    async fn inspect(&self, queue: &str) -> Option<lapin::Queue> {
        self.channel()
            .await
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .ok()
    }

    /// Takes (and acks) messages from `queue` until `expected` have come or `limit` passes,
    /// then keeps listening a little to catch any extra (a duplicate would show here).
    pub async fn drain(
        &self,
        queue: &str,
        expected: usize,
        limit: Duration,
    ) -> Vec<BasicGetMessage> {
        let mut channel = self.channel().await;
        let deadline = tokio::time::Instant::now() + limit;
        let mut got = Vec::new();
        let mut quiet_until = None;
        loop {
            let now = tokio::time::Instant::now();
            if now > deadline || quiet_until.is_some_and(|q| now > q) {
                return got;
            }
            match channel
                .basic_get(queue.into(), BasicGetOptions::default())
                .await
            {
                Ok(Some(message)) => {
                    message
                        .delivery
                        .ack(BasicAckOptions::default())
                        .await
                        .unwrap();
                    got.push(message);
                    if got.len() >= expected && quiet_until.is_none() {
                        quiet_until =
                            Some(tokio::time::Instant::now() + Duration::from_millis(500));
                    }
                }
                Ok(None) => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    channel = self.channel().await;
                }
            }
        }
    }
}

/// The `messageId` property of a consumed message.
pub fn message_id(message: &BasicGetMessage) -> String {
    message
        .delivery
        .properties
        .message_id()
        .as_ref()
        .map(|s| s.to_string())
        .unwrap_or_default()
}

/// The string value of AMQP header `name` of a consumed message.
pub fn header(message: &BasicGetMessage, name: &str) -> Option<String> {
    let headers = message.delivery.properties.headers().as_ref()?;
    match headers.inner().get(name)? {
        lapin::types::AMQPValue::LongString(s) => Some(s.to_string()),
        _ => None,
    }
}
