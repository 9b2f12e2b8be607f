//! Prometheus metrics (`GET /metrics`, on `prometheus-client`): messages accepted and
//! refused, the adapters' events (delivered, retrying, failed and expired: the last two are
//! dead-lettered), requests shed, messages overdue; the time of each request by route and
//! outcome, and of the broker's confirm. Labels are adapters, kinds, rule codes, routes and
//! events: never personal data.
//!
//! Counters are this instance's (since it started), so that Prometheus sums the instances
//! sharing a store; the gauges read from the store (accepted over the store's life, overdue)
//! are the same on every instance: aggregate them with `max`, not `sum`.

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
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
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

    /// The exposition text, with the store's counts of accepted messages (`adapter →
    /// count`: every message that reached `queued`, by any instance) and the overdue gauge
    /// (`(kind, missed deadline) → count`).
    pub fn render(
        &self,
        accepted: &[(String, i64)],
        overdue: &BTreeMap<(String, String), u64>,
    ) -> String {
        self.stored.clear();
        for (adapter, count) in accepted {
            let adapter = adapter.clone();
            self.stored
                .get_or_create(&ByAdapter { adapter })
                .set(*count);
        }
        self.overdue.clear();
        for ((kind, deadline), value) in overdue {
            let labels = ByDeadline {
                kind: kind.clone(),
                deadline: deadline.clone(),
            };
            self.overdue
                .get_or_create(&labels)
                .set(i64::try_from(*value).unwrap_or(i64::MAX));
        }
        text(&self.registry)
    }
}
