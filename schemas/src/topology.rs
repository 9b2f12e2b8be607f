//! The RabbitMQ topology: names, the declarations made at start-up, and the policies that
//! hold the queues' settings.
//!
//! Every queue is declared as a plain quorum queue; what it does with its messages (delivery
//! limit, dead-lettering, message TTL, overflow) is set by a RabbitMQ policy of its own
//! ([`Topology::policies`]), which the gateway applies over the management API or the
//! operator loads with the definitions. A policy can change on a running broker, where a
//! queue argument cannot (re-declaring with other arguments fails with 406); queues declared
//! with arguments by earlier versions are moved over by [`crate::plumbing::broker::migrate()`].
//!
//! - `referrals` (topic): the gateway publishes here with routing key `<adapter>.<recipient>`.
//! - `adapter.<adapter>` (quorum, delivery limit, dead-lettered): one work queue per adapter.
//! - `adapter.<adapter>.retry.<delay>` (quorum, message TTL = delay): a failed delivery waits
//!   here, then is dead-lettered back into the work queue; one queue per delay so that no
//!   message waits behind a longer one.
//! - `referrals.dead` (direct) → `adapter.<adapter>.dead` (quorum, message TTL = how long dead
//!   letters are kept): what an adapter gave up on; an expired one is dead-lettered once more,
//!   under `dead.expired` to `referrals` → `gateway.expired`, which the gateway consumes.
//! - `agency` (direct) → the receiving queues of agencies that take messages over AMQP,
//!   each bound under its own name.
//!
//! The same declarations, for an empty prefix, are `ops/rabbitmq/definitions.json`
//! (`gateway definitions` writes it; a test keeps the two equal).

use crate::directory::Transport;
use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, ExchangeKind};

/// An exchange type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Exchange {
    Topic,
    Direct,
}

impl Exchange {
    fn as_str(self) -> &'static str {
        match self {
            Self::Topic => "topic",
            Self::Direct => "direct",
        }
    }
}

/// A queue argument's value.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Arg {
    Text(String),
    Number(u32),
}

/// Exchanges, queues (each with the settings its policy gives it) and bindings, as data.
#[derive(Debug, Default)]
struct Declarations {
    /// (name, type)
    exchanges: Vec<(String, Exchange)>,
    /// (name, policy settings)
    queues: Vec<(String, Vec<(&'static str, Arg)>)>,
    /// (queue, exchange, routing key)
    bindings: Vec<(String, String, String)>,
}

/// A RabbitMQ policy: the settings of the one queue its pattern matches.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub name: String,
    /// `^<queue name, escaped>$`
    pub pattern: String,
    pub definition: serde_json::Map<String, serde_json::Value>,
}

/// A delivery limit no redelivery loop reaches, for the queues that must never drop a
/// message (RabbitMQ 4.0 gives quorum queues a limit of 20 otherwise).
pub const UNLIMITED_DELIVERIES: u32 = 1_000_000;

/// Deliveries of one message before its work queue dead-letters it, unless the
/// configuration says otherwise. A return by a consumer that crashed or lost its connection
/// counts as one, so it must outlast the kills and restarts a healthy message may meet
/// (RabbitMQ 4.0's default).
pub const DELIVERY_LIMIT: u32 = 20;

/// The delays of the retry queues, shortest first.
pub const RETRY_DELAYS_SECS: [u32; 6] = [1, 5, 30, 120, 600, 1800];

/// How long a dead letter is kept unless the configuration says otherwise.
pub const DEAD_LETTERS_KEPT: std::time::Duration = std::time::Duration::from_secs(14 * 86_400);

/// Names and declarations, under a prefix.
#[derive(Debug, Clone)]
pub struct Topology {
    prefix: String,
    delivery_limit: u32,
    /// Milliseconds a dead letter is kept.
    dead_letter_ttl_ms: u32,
}

impl Topology {
    /// A topology whose every name starts with `prefix`, its dead letters kept
    /// [`DEAD_LETTERS_KEPT`].
    pub fn new(prefix: &str, delivery_limit: u32) -> Self {
        Self {
            prefix: prefix.into(),
            delivery_limit,
            dead_letter_ttl_ms: 0,
        }
        .dead_letters_kept(DEAD_LETTERS_KEPT)
    }

    /// The same, its dead letters kept for `kept` (at most 49 days: a TTL is 32 bits of
    /// milliseconds).
    pub fn dead_letters_kept(self, kept: std::time::Duration) -> Self {
        Self {
            dead_letter_ttl_ms: u32::try_from(kept.as_millis()).unwrap_or(u32::MAX),
            ..self
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
    pub fn work_queue(&self, adapter: Transport) -> String {
        format!("{}adapter.{}", self.prefix, adapter.as_str())
    }

    /// The queue of status events from the adapters, which the gateway consumes.
    pub fn status_queue(&self) -> String {
        format!("{}gateway.status", self.prefix)
    }

    /// The queue of dead letters that expired, which the gateway consumes.
    pub fn expired_queue(&self) -> String {
        format!("{}gateway.expired", self.prefix)
    }

    /// The routing key under which an expired dead letter reaches [`Self::expired_queue`].
    pub const EXPIRED_KEY: &str = "dead.expired";

    /// The routing key of status events.
    pub const STATUS_KEY: &str = "status";

    /// The control queue of an adapter: withdrawals of messages it must not deliver.
    pub fn control_queue(&self, adapter: Transport) -> String {
        format!("{}adapter.{}.control", self.prefix, adapter.as_str())
    }

    /// The routing key of control messages for `adapter`.
    pub fn control_key(adapter: Transport) -> String {
        format!("control.{}", adapter.as_str())
    }

    /// The dead-letter queue of an adapter.
    pub fn dead_queue(&self, adapter: Transport) -> String {
        format!("{}adapter.{}.dead", self.prefix, adapter.as_str())
    }

    /// The retry queue of an adapter whose messages wait `delay_secs` (one of
    /// [`RETRY_DELAYS_SECS`]).
    pub fn retry_queue(&self, adapter: Transport, delay_secs: u32) -> String {
        format!(
            "{}adapter.{}.retry.{delay_secs}s",
            self.prefix,
            adapter.as_str()
        )
    }

    /// The exchange in front of agencies' receiving queues.
    pub fn agency_exchange(&self) -> String {
        format!("{}agency", self.prefix)
    }

    /// The exchange case systems publish receipts to (routing key `barnevern`, kept from the
    /// first receiving-queue contract).
    pub fn receipts_exchange(&self) -> String {
        format!("{}receipts", self.prefix)
    }

    /// The queue of receipts the queue adapter consumes.
    pub fn receipts_queue(&self) -> String {
        format!("{}adapter.queue.receipts", self.prefix)
    }

    /// The full name of an agency's receiving queue as the directory names it.
    pub fn receiving_queue(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The routing key of a message for `recipient` through `adapter`.
    pub fn routing_key(adapter: Transport, recipient: &str) -> String {
        format!("{}.{recipient}", adapter.as_str())
    }

    /// Declares the routing exchange, the dead-letter exchange and every adapter's queues.
    pub async fn declare_routing(&self, channel: &Channel) -> Result<(), lapin::Error> {
        declare(channel, &self.routing()).await
    }

    /// Declares agencies' receiving queues (by their directory names), their exchange, and
    /// the receipts exchange and queue.
    pub async fn declare_receiving(
        &self,
        channel: &Channel,
        names: &[String],
    ) -> Result<(), lapin::Error> {
        declare(channel, &self.receiving(names)).await
    }

    /// Deletes every queue and exchange of the routing topology and of the receiving queues
    /// `receiving` (tests and benchmarks tidy up their prefixed names with it). The queues go
    /// all at once, a channel each: the broker deletes a quorum queue in a second or so when
    /// busy, one after another on a channel, and a test's tidy-up has a time limit.
    pub async fn delete(
        &self,
        connection: &Connection,
        receiving: &[String],
    ) -> Result<(), lapin::Error> {
        let (routing, agencies) = (self.routing(), self.receiving(receiving));
        let queues = routing.queues.iter().chain(&agencies.queues);
        futures_util::future::try_join_all(queues.map(|(queue, _)| async move {
            let channel = connection.create_channel().await?;
            channel
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await?;
            channel.close(200, "deleted".into()).await
        }))
        .await?;
        let channel = connection.create_channel().await?;
        for (exchange, _) in routing.exchanges.iter().chain(&agencies.exchanges) {
            channel
                .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                .await?;
        }
        channel.close(200, "deleted".into()).await
    }

    /// The RabbitMQ definitions document (for `rabbitmqctl import_definitions`) of the
    /// routing topology and the receiving queues `receiving`, in `vhost`.
    pub fn definitions(&self, vhost: &str, receiving: &[String]) -> serde_json::Value {
        let routing = self.routing();
        let agencies = self.receiving(receiving);
        let exchanges = routing.exchanges.iter().chain(&agencies.exchanges);
        let queues = routing.queues.iter().chain(&agencies.queues);
        let bindings = routing.bindings.iter().chain(&agencies.bindings);
        serde_json::json!({
            "vhosts": [{ "name": vhost }],
            "exchanges": exchanges.map(|(name, kind)| serde_json::json!({
                "name": name, "vhost": vhost, "type": kind.as_str(), "durable": true,
                "auto_delete": false, "internal": false, "arguments": {}
            })).collect::<Vec<_>>(),
            "queues": queues.map(|(name, _)| serde_json::json!({
                "name": name, "vhost": vhost, "durable": true, "auto_delete": false,
                "arguments": { "x-queue-type": "quorum" }
            })).collect::<Vec<_>>(),
            "policies": self.policies_of(&routing.queues.iter().chain(&agencies.queues).collect::<Vec<_>>())
                .into_iter()
                .map(|p| serde_json::json!({
                    "vhost": vhost, "name": p.name, "pattern": p.pattern, "apply-to": "queues",
                    "priority": 0, "definition": p.definition
                }))
                .collect::<Vec<_>>(),
            "bindings": bindings.map(|(queue, exchange, key)| serde_json::json!({
                "source": exchange, "vhost": vhost, "destination": queue,
                "destination_type": "queue", "routing_key": key, "arguments": {}
            })).collect::<Vec<_>>(),
        })
    }

    /// Every queue of the routing topology and the receiving queues `receiving`.
    pub fn queue_names(&self, receiving: &[String]) -> Vec<String> {
        let (routing, agencies) = (self.routing(), self.receiving(receiving));
        routing
            .queues
            .into_iter()
            .chain(agencies.queues)
            .map(|(name, _)| name)
            .collect()
    }

    /// The policies of the routing topology and of the receiving queues `receiving`: one a
    /// queue, named as the queue.
    pub fn policies(&self, receiving: &[String]) -> Vec<Policy> {
        let (routing, agencies) = (self.routing(), self.receiving(receiving));
        self.policies_of(
            &routing
                .queues
                .iter()
                .chain(&agencies.queues)
                .collect::<Vec<_>>(),
        )
    }

    fn policies_of(&self, queues: &[&(String, Vec<(&'static str, Arg)>)]) -> Vec<Policy> {
        queues
            .iter()
            .map(|(name, settings)| Policy {
                name: name.clone(),
                pattern: format!("^{}$", escape(name)),
                definition: settings
                    .iter()
                    .map(|(k, v)| {
                        let value = match v {
                            Arg::Text(t) => serde_json::json!(t),
                            Arg::Number(n) => serde_json::json!(n),
                        };
                        ((*k).to_owned(), value)
                    })
                    .collect(),
            })
            .collect()
    }

    fn routing(&self) -> Declarations {
        let mut d = Declarations::default();
        d.exchanges.push((self.exchange(), Exchange::Topic));
        d.exchanges
            .push((self.dead_letter_exchange(), Exchange::Direct));
        d.queues.push((self.status_queue(), quorum()));
        d.bindings.push((
            self.status_queue(),
            self.exchange(),
            Self::STATUS_KEY.into(),
        ));
        d.queues.push((self.expired_queue(), quorum()));
        d.bindings.push((
            self.expired_queue(),
            self.exchange(),
            Self::EXPIRED_KEY.into(),
        ));
        for adapter in Transport::ALL {
            let (work, dead) = (self.work_queue(adapter), self.dead_queue(adapter));
            let mut args = dead_lettered(self.dead_letter_exchange(), adapter.as_str().into());
            args.push(("delivery-limit", Arg::Number(self.delivery_limit)));
            d.queues.push((work.clone(), args));
            let mut kept = dead_lettered(self.exchange(), Self::EXPIRED_KEY.into());
            kept.push(("message-ttl", Arg::Number(self.dead_letter_ttl_ms)));
            d.queues.push((dead.clone(), kept));
            d.queues.push((self.control_queue(adapter), quorum()));
            d.bindings.push((
                self.control_queue(adapter),
                self.exchange(),
                Self::control_key(adapter),
            ));
            d.bindings
                .push((work, self.exchange(), format!("{}.#", adapter.as_str())));
            d.bindings
                .push((dead, self.dead_letter_exchange(), adapter.as_str().into()));
            for delay in RETRY_DELAYS_SECS {
                let mut args = dead_lettered(String::new(), self.work_queue(adapter));
                args.push(("message-ttl", Arg::Number(delay * 1000)));
                d.queues.push((self.retry_queue(adapter, delay), args));
            }
        }
        d
    }

    fn receiving(&self, names: &[String]) -> Declarations {
        let mut d = Declarations::default();
        d.exchanges.push((self.agency_exchange(), Exchange::Direct));
        d.exchanges
            .push((self.receipts_exchange(), Exchange::Direct));
        d.queues.push((self.receipts_queue(), quorum()));
        d.bindings.push((
            self.receipts_queue(),
            self.receipts_exchange(),
            "barnevern".into(),
        ));
        for name in names {
            let queue = self.receiving_queue(name);
            d.queues.push((queue.clone(), quorum()));
            d.bindings
                .push((queue, self.agency_exchange(), name.clone()));
        }
        d
    }
}

/// The settings of a queue that never drops a message by its redeliveries.
fn quorum() -> Vec<(&'static str, Arg)> {
    vec![("delivery-limit", Arg::Number(UNLIMITED_DELIVERIES))]
}

/// The settings of a queue that dead-letters to `exchange` under `routing_key`, at least
/// once: a message expiring (a retry's wait) or given up while the broker shuts down is
/// moved, not dropped (quorum queues dead-letter at most once unless told otherwise; at
/// least once needs `reject-publish` overflow). Redeliveries never drop one either: where a
/// limit applies, the caller sets it after this one.
fn dead_lettered(exchange: String, routing_key: String) -> Vec<(&'static str, Arg)> {
    vec![
        ("dead-letter-exchange", Arg::Text(exchange)),
        ("dead-letter-routing-key", Arg::Text(routing_key)),
        ("dead-letter-strategy", Arg::Text("at-least-once".into())),
        ("overflow", Arg::Text("reject-publish".into())),
    ]
}

/// `name` with the characters a regular expression reads as special escaped.
fn escape(name: &str) -> String {
    name.chars()
        .flat_map(|c| {
            let special = ".^$*+?()[]{}|\\".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

/// What a queue is declared with: its type only (its settings are its policy's).
const QUEUE_ARGUMENTS: [(&str, &str); 1] = [("x-queue-type", "quorum")];

/// Declares `name` as a durable quorum queue without settings of its own (its policy's).
pub(super) async fn declare_queue(channel: &Channel, name: &str) -> Result<(), lapin::Error> {
    let mut table = FieldTable::default();
    for (key, value) in QUEUE_ARGUMENTS {
        table.insert(key.into(), AMQPValue::LongString(value.into()));
    }
    channel
        .queue_declare(name.into(), QueueDeclareOptions::durable(), table)
        .await?;
    Ok(())
}

async fn declare(channel: &Channel, d: &Declarations) -> Result<(), lapin::Error> {
    for (name, kind) in &d.exchanges {
        let kind = match kind {
            Exchange::Topic => ExchangeKind::Topic,
            Exchange::Direct => ExchangeKind::Direct,
        };
        let options = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        channel
            .exchange_declare(name.as_str().into(), kind, options, FieldTable::default())
            .await?;
    }
    for (name, _) in &d.queues {
        declare_queue(channel, name).await?;
    }
    for (queue, exchange, key) in &d.bindings {
        channel
            .queue_bind(
                queue.as_str().into(),
                exchange.as_str().into(),
                key.as_str().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}
