//! Prometheus metrics (`GET /metrics`, on `prometheus-client`): messages accepted and
//! refused, the adapters' events (delivered, retrying, failed and expired: the last two are
//! dead-lettered), requests shed, messages overdue; the time of each request by route and
//! outcome, of the broker's confirm, of the store's batch commits (and their sizes) and of
//! each answer of a recipient from the message's recording; the outbox's depth, the dead
//! letters by transport and when the gateway's certificates expire. Labels are adapters,
//! kinds, rule codes, routes, events, answers, transports and certificate names: never
//! personal data.
//!
//! Counters are this instance's (since it started), so that Prometheus sums the instances
//! sharing a store; the gauges read from the store and the broker (accepted over the store's
//! life, overdue, the outbox, the dead letters) are the same on every instance: aggregate
//! them with `max`, not `sum`.

use crate::record::BatchMeter;
use contract::directory::Transport;
use contract::plumbing::metrics::{seconds, text};
use contract::status::Event;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByAdapter {
    adapter: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByRule {
    rule: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByEvent {
    adapter: String,
    event: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByRoute {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByOutcome {
    route: String,
    /// The status class: `2xx`, `4xx`, `5xx`.
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByDeadline {
    kind: String,
    deadline: String,
}

/// Makes the latency histograms of a family.
#[derive(Clone)]
struct Seconds;

impl MetricConstructor<Histogram> for Seconds {
    fn new_metric(&self) -> Histogram {
        seconds()
    }
}

/// The gateway's metrics.
pub struct Metrics {
    registry: Registry,
    accepted: Family<ByAdapter, Counter>,
    refused: Family<ByRule, Counter>,
    events: Family<ByEvent, Counter>,
    shed: Family<ByRoute, Counter>,
    requests: Family<ByOutcome, Histogram, Seconds>,
    confirm: Histogram,
    stored: Family<ByAdapter, Gauge>,
    overdue: Family<ByDeadline, Gauge>,
    audit_head: Gauge,
    outbox: Gauge,
    answers: Family<ByAnswer, Histogram, AnswerSeconds>,
    dead_letters: Family<ByTransport, Gauge>,
    certificates: Family<ByCertificate, Gauge>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByAnswer {
    answer: String,
}

/// Makes the answer-time histograms of a family.
#[derive(Clone)]
struct AnswerSeconds;

impl MetricConstructor<Histogram> for AnswerSeconds {
    fn new_metric(&self) -> Histogram {
        contract::plumbing::metrics::answer_seconds()
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByTransport {
    transport: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ByCertificate {
    certificate: String,
}

/// What a scrape reads from the store, the broker and the files.
#[derive(Debug, Default)]
pub struct Scraped {
    /// Every message that reached `queued`, by any instance: `adapter → count`.
    pub accepted: Vec<(String, i64)>,
    /// Open messages past a deadline: `(kind, missed deadline) → count`.
    pub overdue: BTreeMap<(String, String), u64>,
    /// Messages recorded and not yet confirmed by the broker.
    pub outbox: i64,
    /// Messages in each transport's dead-letter queue, if the management API answered.
    pub dead_letters: Option<Vec<(Transport, u64)>>,
    /// When each certificate the gateway presents expires (Unix seconds).
    pub certificates: Vec<(&'static str, i64)>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// The gateway's metrics, with the store's batch histograms `store`.
    pub fn new(store: BatchMeter) -> Self {
        let mut registry = Registry::default();
        let metrics = Self {
            accepted: Family::default(),
            refused: Family::default(),
            events: Family::default(),
            shed: Family::default(),
            requests: Family::new_with_constructor(Seconds),
            confirm: seconds(),
            stored: Family::default(),
            overdue: Family::default(),
            audit_head: Gauge::default(),
            outbox: Gauge::default(),
            answers: Family::new_with_constructor(AnswerSeconds),
            dead_letters: Family::default(),
            certificates: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "referral_messages_accepted",
            "Messages this instance had confirmed by the broker (from requests and the outbox), by adapter",
            metrics.accepted.clone(),
        );
        registry.register(
            "referral_messages_refused",
            "Messages refused by the legal-basis engine, by leading rule",
            metrics.refused.clone(),
        );
        registry.register(
            "referral_adapter_events",
            "Adapter events by adapter and event (failed and expired are dead-lettered)",
            metrics.events.clone(),
        );
        registry.register(
            "referral_requests_shed",
            "Requests answered 503 overloaded (more than http.max_in_flight at once), by route",
            metrics.shed.clone(),
        );
        registry.register(
            "referral_request_duration_seconds",
            "Time to answer a request, by route and status class",
            metrics.requests.clone(),
        );
        registry.register(
            "referral_broker_confirm_seconds",
            "Time from publishing a message to the broker's confirm",
            metrics.confirm.clone(),
        );
        registry.register(
            "referral_store_messages_accepted",
            "Messages accepted over the store's life by every instance sharing it, by adapter",
            metrics.stored.clone(),
        );
        registry.register(
            "referral_messages_overdue",
            "Open messages past a deadline, by kind and deadline",
            metrics.overdue.clone(),
        );
        registry.register(
            "referral_audit_head_seq",
            "The seq of the audit trail's head last exported (signed) by this instance",
            metrics.audit_head.clone(),
        );
        registry.register(
            "referral_store_batch_commit_seconds",
            "Time to commit one batch of the store's hot writes (group commit)",
            store.commit,
        );
        registry.register(
            "referral_store_batch_writes",
            "Writes in one committed batch of the store's hot writes",
            store.writes,
        );
        registry.register(
            "referral_answer_seconds",
            "Time from a message's recording to each answer of its recipient (received, feedback_given, assessed, …), by answer",
            metrics.answers.clone(),
        );
        registry.register(
            "referral_outbox_depth",
            "Messages recorded whose publish the broker has not confirmed yet (the outbox publishes them)",
            metrics.outbox.clone(),
        );
        registry.register(
            "referral_dead_letters",
            "Messages in each transport's dead-letter queue (read through the broker's management API)",
            metrics.dead_letters.clone(),
        );
        registry.register(
            "referral_certificate_expiry_timestamp_seconds",
            "When each certificate the gateway presents expires (Unix seconds; 0: unreadable)",
            metrics.certificates.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }
}

impl Metrics {
    /// A message confirmed by the broker under `routing_key` (`<adapter>.<recipient>`),
    /// `took` after it was published.
    pub fn count_accepted(&self, routing_key: &str, took: Duration) {
        let adapter = routing_key.split('.').next().unwrap_or_default().to_owned();
        self.accepted.get_or_create(&ByAdapter { adapter }).inc();
        self.confirm.observe(took.as_secs_f64());
    }

    /// The recipient answered `status` `seconds` after the message was recorded.
    pub fn time_answer(&self, status: crate::record::Status, seconds: f64) {
        let answer = status.as_str().to_owned();
        self.answers
            .get_or_create(&ByAnswer { answer })
            .observe(seconds);
    }

    /// The audit trail's head was exported at `seq`.
    pub fn set_audit_head(&self, seq: i64) {
        self.audit_head.set(seq);
    }

    /// A message refused, leading with rule `code`.
    pub fn count_refused(&self, code: &str) {
        let rule = code.to_owned();
        self.refused.get_or_create(&ByRule { rule }).inc();
    }

    /// A request of `route` shed: too many at once.
    pub fn count_shed(&self, route: &str) {
        let route = route.to_owned();
        self.shed.get_or_create(&ByRoute { route }).inc();
    }

    /// A request of `route` answered `status` after `took`.
    pub fn time_request(&self, route: &str, status: u16, took: Duration) {
        let labels = ByOutcome {
            route: route.to_owned(),
            outcome: format!("{}xx", status / 100),
        };
        self.requests
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    /// An event reported by `adapter`.
    pub fn count_event(&self, adapter: Transport, event: Event) {
        let labels = ByEvent {
            adapter: adapter.as_str().to_owned(),
            event: event.as_str().to_owned(),
        };
        self.events.get_or_create(&labels).inc();
    }

    /// The exposition text, with what the scrape read.
    pub fn render(&self, scraped: &Scraped) -> String {
        self.stored.clear();
        for (adapter, count) in &scraped.accepted {
            let adapter = adapter.clone();
            self.stored
                .get_or_create(&ByAdapter { adapter })
                .set(*count);
        }
        self.overdue.clear();
        for ((kind, deadline), value) in &scraped.overdue {
            let labels = ByDeadline {
                kind: kind.clone(),
                deadline: deadline.clone(),
            };
            self.overdue
                .get_or_create(&labels)
                .set(i64::try_from(*value).unwrap_or(i64::MAX));
        }
        self.outbox.set(scraped.outbox);
        self.dead_letters.clear();
        for (transport, depth) in scraped.dead_letters.iter().flatten() {
            let transport = transport.as_str().to_owned();
            self.dead_letters
                .get_or_create(&ByTransport { transport })
                .set(i64::try_from(*depth).unwrap_or(i64::MAX));
        }
        self.certificates.clear();
        for (certificate, expires) in &scraped.certificates {
            let certificate = (*certificate).to_owned();
            self.certificates
                .get_or_create(&ByCertificate { certificate })
                .set(*expires);
        }
        text(&self.registry)
    }
}
