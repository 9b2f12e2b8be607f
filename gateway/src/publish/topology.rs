//! The RabbitMQ topology: names, and the declarations made at start-up.
//!
//! `ops/rabbitmq/definitions.json` holds the same for an empty prefix.
//!
//! - `referrals` (topic): the gateway publishes here with routing key `<adapter>.<recipient>`.
//! - `adapter.<adapter>` (quorum, delivery limit, dead-lettered): one work queue per adapter.
//! - `referrals.dead` (direct) → `adapter.<adapter>.dead` (quorum): what an adapter gave up on.
//! - `agency` (direct) → the receiving queues of agencies that take messages over AMQP.

use crate::directory::AdapterKind;
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, ExchangeKind};

/// Names and declarations, under a prefix.
#[derive(Debug, Clone)]
pub struct Topology {
    prefix: String,
    delivery_limit: u32,
}

impl Topology {
    /// A topology whose every name starts with `prefix`.
    pub fn new(prefix: &str, delivery_limit: u32) -> Self {
        Self {
            prefix: prefix.into(),
            delivery_limit,
        }
    }

    /// The routing exchange the gateway publishes to.
    pub fn exchange(&self) -> String {
        format!("{}referrals", self.prefix)
    }

    /// The dead-letter exchange of the work queues.
    pub fn dead_letter_exchange(&self) -> String {
        format!("{}referrals.dead", self.prefix)
    }

    /// The work queue of an adapter.
    pub fn work_queue(&self, adapter: AdapterKind) -> String {
        format!("{}adapter.{}", self.prefix, adapter.name())
    }

    /// The dead-letter queue of an adapter.
    pub fn dead_queue(&self, adapter: AdapterKind) -> String {
        format!("{}adapter.{}.dead", self.prefix, adapter.name())
    }

    /// The exchange in front of agencies' receiving queues.
    pub fn agency_exchange(&self) -> String {
        format!("{}agency", self.prefix)
    }

    /// The full name of an agency's receiving queue as the directory names it.
    pub fn receiving_queue(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The routing key of a message for `recipient` through `adapter`.
    pub fn routing_key(adapter: AdapterKind, recipient: &str) -> String {
        format!("{}.{recipient}", adapter.name())
    }

    /// Declares the routing exchange, the dead-letter exchange and every adapter's queues.
    pub async fn declare_routing(&self, channel: &Channel) -> Result<(), lapin::Error> {
        declare_exchange(channel, &self.exchange(), ExchangeKind::Topic).await?;
        declare_exchange(channel, &self.dead_letter_exchange(), ExchangeKind::Direct).await?;
        for adapter in AdapterKind::ALL {
            let work = self.work_queue(adapter);
            let mut args = quorum();
            args.insert(
                "x-delivery-limit".into(),
                AMQPValue::LongUInt(self.delivery_limit),
            );
            args.insert(
                "x-dead-letter-exchange".into(),
                AMQPValue::LongString(self.dead_letter_exchange().into()),
            );
            args.insert(
                "x-dead-letter-routing-key".into(),
                AMQPValue::LongString(adapter.name().into()),
            );
            declare_queue(channel, &work, args).await?;
            bind(
                channel,
                &work,
                &self.exchange(),
                &format!("{}.#", adapter.name()),
            )
            .await?;
            let dead = self.dead_queue(adapter);
            declare_queue(channel, &dead, quorum()).await?;
            bind(channel, &dead, &self.dead_letter_exchange(), adapter.name()).await?;
        }
        Ok(())
    }

    /// Declares an agency's receiving queue (by its directory name), bound under that name.
    pub async fn declare_receiving(
        &self,
        channel: &Channel,
        name: &str,
    ) -> Result<(), lapin::Error> {
        declare_exchange(channel, &self.agency_exchange(), ExchangeKind::Direct).await?;
        let queue = self.receiving_queue(name);
        declare_queue(channel, &queue, quorum()).await?;
        bind(channel, &queue, &self.agency_exchange(), name).await
    }
}

fn quorum() -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    args
}

async fn declare_exchange(
    channel: &Channel,
    name: &str,
    kind: ExchangeKind,
) -> Result<(), lapin::Error> {
    channel
        .exchange_declare(
            name.into(),
            kind,
            ExchangeDeclareOptions {
                durable: true,
                ..ExchangeDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
}

async fn declare_queue(
    channel: &Channel,
    name: &str,
    args: FieldTable,
) -> Result<(), lapin::Error> {
    channel
        .queue_declare(name.into(), QueueDeclareOptions::durable(), args)
        .await
        .map(drop)
}

async fn bind(
    channel: &Channel,
    queue: &str,
    exchange: &str,
    key: &str,
) -> Result<(), lapin::Error> {
    channel
        .queue_bind(
            queue.into(),
            exchange.into(),
            key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
}
