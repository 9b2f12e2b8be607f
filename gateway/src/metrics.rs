//! Prometheus metrics (`GET /metrics`): messages accepted and refused, the adapters'
//! events (delivered, retrying, failed and expired: the last two are dead-lettered), and
//! messages overdue. Labels are adapters, kinds, rule codes and events: never personal data.
//!
//! Counters are this instance's (since it started), so that Prometheus sums the instances
//! sharing a store; the gauges read from the store (accepted over the store's life, overdue)
//! are the same on every instance: aggregate them with `max`, not `sum`.

use contract::directory::Transport;
use contract::status::Event;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

/// Counters, by metric name and label set.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, String), u64>>,
    /// The `seq` of the audit trail's head last exported (0: none yet).
    audit_head: AtomicI64,
}

const COUNTERS: [(&str, &str); 4] = [
    (
        ACCEPTED,
        "Messages this instance had confirmed by the broker (from requests and the outbox), by adapter.",
    ),
    (
        REFUSED,
        "Messages refused by the legal-basis engine, by leading rule.",
    ),
    (
        EVENTS,
        "Adapter events by adapter and event (failed and expired are dead-lettered).",
    ),
    (
        SHED,
        "Requests answered 503 overloaded (more than http.max_in_flight at once), by route.",
    ),
];
const ACCEPTED: &str = "referral_messages_accepted_total";
const STORED: &str = "referral_store_messages_accepted";
const REFUSED: &str = "referral_messages_refused_total";
const EVENTS: &str = "referral_adapter_events_total";
const SHED: &str = "referral_requests_shed_total";
const OVERDUE: &str = "referral_messages_overdue";
const AUDIT_HEAD: &str = "referral_audit_head_seq";

impl Metrics {
    fn add(&self, name: &'static str, labels: String) {
        *self
            .counters
            .lock()
            .expect("metrics lock")
            .entry((name, labels))
            .or_default() += 1;
    }

    /// A message confirmed by the broker under `routing_key` (`<adapter>.<recipient>`).
    pub fn count_accepted(&self, routing_key: &str) {
        let adapter = routing_key.split('.').next().unwrap_or_default();
        self.add(ACCEPTED, format!("adapter=\"{adapter}\""));
    }

    /// The audit trail's head was exported at `seq`.
    pub fn set_audit_head(&self, seq: i64) {
        self.audit_head.store(seq, Ordering::Relaxed);
    }

    /// A message refused, leading with rule `code`.
    pub fn count_refused(&self, code: &str) {
        self.add(REFUSED, format!("rule=\"{code}\""));
    }

    /// A request of `route` shed: too many at once.
    pub fn count_shed(&self, route: &str) {
        self.add(SHED, format!("route=\"{route}\""));
    }

    /// An event reported by `adapter`.
    pub fn count_event(&self, adapter: Transport, event: Event) {
        self.add(
            EVENTS,
            format!(
                "adapter=\"{}\",event=\"{}\"",
                adapter.as_str(),
                event.as_str()
            ),
        );
    }

    /// The exposition text, with the store's counts of accepted messages (`adapter →
    /// count`: every message that reached `queued`, by any instance) and the overdue gauge
    /// (`(kind, missed deadline) → count`).
    pub fn render(
        &self,
        accepted: &[(String, i64)],
        overdue: &BTreeMap<(String, String), u64>,
    ) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP {STORED} Messages accepted over the store's life by every instance sharing it, by adapter.\n# TYPE {STORED} gauge"
        );
        for (adapter, count) in accepted {
            let _ = writeln!(out, "{STORED}{{adapter=\"{adapter}\"}} {count}");
        }
        let counters = self.counters.lock().expect("metrics lock");
        for (name, help) in COUNTERS {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for ((_, labels), value) in counters
                .range((name, String::new())..)
                .take_while(|((n, _), _)| *n == name)
            {
                let _ = writeln!(out, "{name}{{{labels}}} {value}");
            }
        }
        let _ = writeln!(
            out,
            "# HELP {OVERDUE} Open messages past a deadline, by kind and deadline.\n# TYPE {OVERDUE} gauge"
        );
        for ((kind, missed), value) in overdue {
            let _ = writeln!(
                out,
                "{OVERDUE}{{kind=\"{kind}\",deadline=\"{missed}\"}} {value}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP {AUDIT_HEAD} The seq of the audit trail's head last exported (signed) by this instance.\n# TYPE {AUDIT_HEAD} gauge\n{AUDIT_HEAD} {}",
            self.audit_head.load(Ordering::Relaxed)
        );
        out
    }
}
