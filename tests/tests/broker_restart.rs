//! A broker restart in the middle of traffic: the gateway answers 503 while the broker is
//! away, accepts again once it is back, and nothing accepted (or recorded) is lost or
//! duplicated on its way to barnevern's receiving queue.
//!
//! This binary restarts the shared local broker, so it holds a single test; `cargo test`
//! runs test binaries one after another, so no other test sees the restart.

use e2e::{Harness, OSLO_INBOX, SCHOOL, bekymringsmelding, gateway_id, message_id, rabbitmqctl};
use std::collections::BTreeSet;
use std::time::Duration;

#[tokio::test]
async fn broker_restart_loses_and_duplicates_nothing_and_the_gateway_keeps_accepting() {
    let mut h = Harness::new().await;
    h.start_adapters().await;
    let token = h.token(SCHOOL);
    let mut expected = BTreeSet::new();
    for _ in 0..5 {
        let message = bekymringsmelding();
        assert_eq!(h.post(&token, &message).await.status(), 202);
        expected.insert(gateway_id(SCHOOL, &message));
    }

    rabbitmqctl(&["stop_app"]).await;
    let during = bekymringsmelding();
    let answer = h.post(&token, &during).await;
    assert_eq!(answer.status(), 503, "no 202 while the broker is down");
    expected.insert(gateway_id(SCHOOL, &during));
    rabbitmqctl(&["start_app"]).await;
    rabbitmqctl(&["await_startup"]).await;

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
    assert_eq!(ids.len(), unique.len(), "none arrived twice: {ids:?}");
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
    h.cleanup().await;
}
