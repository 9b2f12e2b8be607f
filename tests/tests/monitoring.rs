//! The alerting rules and the dashboard (`ops/monitoring/`) name only metrics the code
//! exports: every `referral_…` name in their queries is a family the gateway or the
//! adapters register (a counter's `_total`, a histogram's `_bucket`, `_sum` and `_count` are
//! its samples), and what the endpoints serve is of those families.

use std::collections::BTreeSet;
use tests::Harness;

/// The metric families the code registers: the names in its metrics modules.
fn registered() -> BTreeSet<String> {
    ["gateway/src/metrics.rs", "adapters/src/health.rs"]
        .iter()
        .flat_map(|file| names(&std::fs::read_to_string(tests::repo().join(file)).unwrap()))
        .collect()
}

/// The `referral_…` names in `text`.
fn names(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in text.match_indices("referral_") {
        let name: String = text[at..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        found.insert(name);
    }
    found
}

/// Whether `name` is a sample of one of `families`.
fn exported(name: &str, families: &BTreeSet<String>) -> bool {
    let family = ["_total", "_bucket", "_sum", "_count"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .unwrap_or(name);
    families.contains(family)
}

#[tokio::test]
async fn the_alerts_and_the_dashboard_name_only_metrics_the_code_exports() {
    let families = registered();
    assert!(
        families.contains("referral_delivery_seconds"),
        "{families:?}"
    );
    // What the endpoints serve, after a delivery, is of those families.
    let mut h = Harness::new().await;
    h.start_adapters().await;
    let message = tests::bekymringsmelding();
    assert_eq!(
        h.post(&h.token(tests::SCHOOL), &message).await.status(),
        202
    );
    let inbox = h.topology().receiving_queue(tests::OSLO_INBOX);
    let arrived = h.drain(&inbox, 1, std::time::Duration::from_secs(30)).await;
    assert_eq!(arrived.len(), 1);
    let exposition = [
        h.get("/metrics", None).await.text().await.unwrap(),
        h.adapters_get("/metrics").await.text().await.unwrap(),
    ]
    .concat();
    h.cleanup().await;
    let served = names(&exposition);
    assert!(served.len() > 5, "{exposition}");
    let unregistered: Vec<_> = served.iter().filter(|n| !exported(n, &families)).collect();
    assert!(
        unregistered.is_empty(),
        "served, not registered: {unregistered:?}"
    );
    let monitoring = tests::repo().join("ops/monitoring");
    let mut named = BTreeSet::new();
    for file in ["alerts.yml", "dashboard.json"] {
        let text = std::fs::read_to_string(monitoring.join(file)).unwrap();
        let found = names(&text);
        assert!(!found.is_empty(), "{file} names metrics");
        named.extend(found);
    }
    let unknown: Vec<_> = named.iter().filter(|n| !exported(n, &families)).collect();
    assert!(unknown.is_empty(), "not exported: {unknown:?}");
    // The check itself: a name the code does not export is caught.
    assert!(!exported("referral_outbox_size", &families));
    assert!(!exported(
        "referral_messages_accepted_count",
        &BTreeSet::new()
    ));
}
