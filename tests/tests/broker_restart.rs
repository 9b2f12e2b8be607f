//! A broker restart in the middle of traffic: the gateway answers 503 while the broker is
//! away, accepts again once it is back, and nothing accepted (or recorded) is lost or
//! duplicated on its way to barnevern's receiving queue. Then more restarts, the processes
//! never restarted: after each, every consumer is back and a new message is delivered.
//!
//! This binary restarts the shared local broker, so it holds a single test; `cargo test`
//! runs test binaries one after another, so no other test sees the restart.

use contract::directory::Transport;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tests::{
    Harness, OSLO_INBOX, SCHOOL, bekymringsmelding, broker_start, broker_stop, gateway_id,
    message_id,
};

#[tokio::test]
async fn broker_restart_loses_and_duplicates_nothing_and_the_gateway_keeps_accepting() {
    if std::env::var_os("RUST_LOG").is_some() {
        let filter = tracing_subscriber::EnvFilter::from_default_env();
        contract::plumbing::process::init_filtered(filter, std::io::stderr);
    }
    let mut h = Harness::new().await;
    h.start_adapters().await;
    let token = h.token(SCHOOL);
    let mut expected = BTreeSet::new();
    for _ in 0..5 {
        let message = bekymringsmelding();
        assert_eq!(h.post(&token, &message).await.status(), 202);
        expected.insert(gateway_id(SCHOOL, &message));
    }

    broker_stop().await;
    let during = bekymringsmelding();
    let answer = h.post(&token, &during).await;
    assert_eq!(answer.status(), 503, "no 202 while the broker is down");
    expected.insert(gateway_id(SCHOOL, &during));
    broker_start().await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let first_after = bekymringsmelding();
    loop {
        let status = h.post(&token, &first_after).await.status();
        if status == 202 {
            break;
        }
        assert_eq!(status, 503);
        assert!(
            tokio::time::Instant::now() < deadline,
            "gateway never accepted again"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    expected.insert(gateway_id(SCHOOL, &first_after));
    for _ in 0..4 {
        let message = bekymringsmelding();
        assert_eq!(h.post(&token, &message).await.status(), 202);
        expected.insert(gateway_id(SCHOOL, &message));
    }

    let inbox = h.topology().receiving_queue(OSLO_INBOX);
    let got = h
        .drain(&inbox, expected.len(), Duration::from_secs(90))
        .await;
    let ids: Vec<String> = got.iter().map(message_id).collect();
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique, expected, "every message arrived");
    let mut duplicates = ids.len() - unique.len();
    let status = h
        .wait_status(
            &token,
            during["messageId"].as_str().unwrap(),
            "delivered",
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(
        status["status"], "delivered",
        "the outbox routed the message held during the outage, and the adapter reported it"
    );

    // Steady load (`FAULT_RATE`, default 20 messages a second) through three more restarts
    // (three per round of `FAULT_ROUNDS`); a 503 is repeated with the same message until it
    // is accepted, as a client would.
    let stop = Arc::new(AtomicBool::new(false));
    let load = tests::steady_load(
        h.http.clone(),
        format!("{}/v1/messages", h.base()),
        token.clone(),
        stop.clone(),
        tests::bekymringsmelding,
    );
    let mut expected = BTreeSet::new();
    for round in 1..=3 * tests::fault_rounds() {
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(
            h.adapters_get("/readyz").await.status(),
            200,
            "round {round}"
        );
        broker_stop().await;
        // The adapters say they are not ready while their consumers are down.
        readiness_becomes(&h, 503, Duration::from_secs(10), round).await;
        broker_start().await;
        every_consumer_comes_back(&h, round).await;
        readiness_becomes(&h, 200, Duration::from_secs(30), round).await;
        let message = bekymringsmelding();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while h.post(&token, &message).await.status() != 202 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "round {round}: the gateway accepts again"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let id = message["messageId"].as_str().unwrap();
        let status = h
            .wait_status(&token, id, "delivered", Duration::from_secs(30))
            .await;
        assert_eq!(status["status"], "delivered", "round {round}");
        expected.insert(gateway_id(SCHOOL, &message));
    }
    stop.store(true, Ordering::Relaxed);
    expected.extend(load.await.unwrap());
    duplicates += h.arrived(&inbox, &expected, "restarts under load").await;
    // A copy reaches the recipient twice only in the lost-confirm window: each duplicate is
    // a delivery tried again after an unknown outcome, and the adapters count those.
    let again = h.adapters_count("again_after_unknown").await;
    assert!(
        duplicates as u64 <= again,
        "{duplicates} duplicates, {again} deliveries again after an unknown outcome"
    );
    let metrics = h.adapters_get("/metrics").await.text().await.unwrap();
    for expected in [
        "referral_adapter_messages_total{adapter=\"queue\",outcome=\"delivered\"}",
        &format!(
            "referral_adapter_consumers{{queue=\"{}\"}} 1",
            h.topology().work_queue(Transport::Queue)
        ),
    ] {
        assert!(metrics.contains(expected), "{expected} in {metrics}");
    }
    h.cleanup().await;
}

/// Waits until the adapters' `/readyz` answers `status`, at most `limit`.
async fn readiness_becomes(h: &Harness, status: u16, limit: Duration, round: u32) {
    let deadline = tokio::time::Instant::now() + limit;
    while h.adapters_get("/readyz").await.status() != status {
        assert!(
            tokio::time::Instant::now() < deadline,
            "round {round}: /readyz never answered {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until every queue the gateway and the adapters consume has its consumer again.
async fn every_consumer_comes_back(h: &Harness, round: u32) {
    let topology = h.topology();
    let mut queues = vec![topology.status_queue(), topology.receipts_queue()];
    for adapter in Transport::ALL {
        queues.push(topology.work_queue(adapter));
        queues.push(topology.control_queue(adapter));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut missing = Vec::new();
        for queue in &queues {
            if h.consumers(queue).await == 0 {
                missing.push(queue.clone());
            }
        }
        if missing.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "round {round}: no consumer on {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
