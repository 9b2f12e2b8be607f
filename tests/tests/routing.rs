//! Durable routing against the real broker: a message accepted is in the right receiving
//! queue exactly once; no 202 without the broker's confirm; the outbox heals what was
//! recorded but never confirmed.

use contract::directory::Transport;
use lapin::options::QueueDeleteOptions;
use std::time::Duration;
use tests::{Harness, OSLO_INBOX, SCHOOL, bekymringsmelding, gateway_id, header, message_id};

#[tokio::test]
async fn accepted_message_reaches_barnevern_receiving_queue_once_even_when_posted_twice() {
    let mut h = Harness::new().await;
    h.start_adapters().await;
    let token = h.token(SCHOOL);
    let message = bekymringsmelding();
    let id = message["messageId"].as_str().unwrap().to_string();

    let first = h.post(&token, &message).await;
    assert_eq!(first.status(), 202);
    assert_eq!(
        first.headers()["location"].to_str().unwrap(),
        format!("/v1/messages/{id}")
    );
    let first: serde_json::Value = first.json().await.unwrap();
    assert_eq!(first["status"], "queued");
    let second = h.post(&token, &message).await;
    assert_eq!(second.status(), 202, "same id and body: same answer");
    assert_eq!(second.json::<serde_json::Value>().await.unwrap(), first);

    let inbox = h.topology().receiving_queue(OSLO_INBOX);
    let got = h.drain(&inbox, 1, Duration::from_secs(60)).await;
    assert_eq!(got.len(), 1, "exactly one copy in barnevern Oslo's queue");
    let delivered = &got[0];
    assert_eq!(message_id(delivered), gateway_id(SCHOOL, &message));
    assert_eq!(first["gatewayId"], gateway_id(SCHOOL, &message));
    assert_eq!(
        delivered
            .delivery
            .properties
            .kind()
            .as_ref()
            .unwrap()
            .as_str(),
        "no.ks.fiks.bekymringsmelding.offentlig.v2"
    );
    assert_eq!(
        header(delivered, "x-legal-basis").as_deref(),
        Some("no.bvl2021.13-2")
    );
    assert_eq!(header(delivered, "x-sender").as_deref(), Some(SCHOOL));
    let body: serde_json::Value = serde_json::from_slice(&delivered.delivery.data).unwrap();
    assert_eq!(body["kommunenummer"], "0301");
    assert_eq!(
        body["offentligBarn"][0]["personnavn"],
        message["payload"]["offentligBarn"][0]["personnavn"]
    );
    assert!(body["sendingstidspunkt"].is_string());
    assert_eq!(
        h.count(&h.topology().receiving_queue("barnevern.4601.inbox"))
            .await,
        0
    );

    let status = h
        .wait_status(&token, &id, "delivered", Duration::from_secs(20))
        .await;
    let history: Vec<&str> = status["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].as_str().unwrap())
        .collect();
    assert_eq!(history, ["recorded", "queued", "delivered"]);
    assert!(status["history"][0]["at"].is_string());
    h.cleanup().await;
}

#[tokio::test]
async fn a_message_id_belongs_to_its_sender_another_sender_using_it_neither_blocks_nor_learns() {
    let mut h = Harness::new().await;
    h.start_adapters().await;
    let oslo = bekymringsmelding();
    // Nordnes skole in Bergen uses the same message id for its own report to Bergen.
    let bergen_school = "no-bergen-nordnes-skole";
    let mut bergen = bekymringsmelding();
    bergen["recipient"] = "no-bergen-barnevern".into();
    bergen["payload"]["kommunenummer"] = "4601".into();
    bergen["payload"]["offentligMelder"]["virksomhet"]["orgnr"] = "964338000".into();
    bergen["messageId"] = oslo["messageId"].clone();
    let id = oslo["messageId"].as_str().unwrap();
    // Both at once, racing for the same id: each is accepted as its sender's own.
    let (oslo_token, bergen_token) = (h.token(SCHOOL), h.token(bergen_school));
    let (a, b) = tokio::join!(h.post(&oslo_token, &oslo), h.post(&bergen_token, &bergen));
    assert_eq!((a.status().as_u16(), b.status().as_u16()), (202, 202));
    let (a, b): (serde_json::Value, serde_json::Value) =
        (a.json().await.unwrap(), b.json().await.unwrap());
    assert_eq!(a["messageId"], b["messageId"]);
    assert_ne!(a["gatewayId"], b["gatewayId"]);
    for (org, message) in [(SCHOOL, &oslo), (bergen_school, &bergen)] {
        let view: serde_json::Value = h.status(&h.token(org), id).await.json().await.unwrap();
        assert_eq!(
            view["recipient"], message["recipient"],
            "{org} reads its own"
        );
        assert_eq!(view["gatewayId"], gateway_id(org, message));
    }
    // A third organisation using the id learns nothing: no such message of its own.
    let third = h.status(&h.token("no-oslo-helsestasjon"), id).await;
    assert_eq!(third.status(), 404);
    // Each reaches its own barnevern, under its own gateway id.
    for (queue, org, message) in [
        (OSLO_INBOX, SCHOOL, &oslo),
        ("barnevern.4601.inbox", bergen_school, &bergen),
    ] {
        let got = h
            .drain(
                &h.topology().receiving_queue(queue),
                1,
                Duration::from_secs(30),
            )
            .await;
        assert_eq!(got.len(), 1, "{queue}");
        assert_eq!(message_id(&got[0]), gateway_id(org, message));
    }
    // Reusing an id is a conflict only within one sender.
    let mut changed = oslo.clone();
    changed["payload"]["melding"]["melding"] = "Endret.".into();
    let conflict = h.post(&h.token(SCHOOL), &changed).await;
    assert_eq!(conflict.status(), 409);
    h.cleanup().await;
}

#[tokio::test]
async fn status_is_visible_to_the_sending_organisation_only() {
    let h = Harness::new().await;
    let message = bekymringsmelding();
    let id = message["messageId"].as_str().unwrap();
    assert_eq!(h.post(&h.token(SCHOOL), &message).await.status(), 202);
    assert_eq!(h.status(&h.token(SCHOOL), id).await.status(), 200);
    let other = h.status(&h.token("no-bergen-nordnes-skole"), id).await;
    assert_eq!(other.status(), 404);
    assert_eq!(
        other.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    h.cleanup().await;
}

#[tokio::test]
async fn same_id_with_another_body_is_a_conflict_and_changes_nothing() {
    let h = Harness::new().await;
    let token = h.token(SCHOOL);
    let message = bekymringsmelding();
    assert_eq!(h.post(&token, &message).await.status(), 202);
    let mut other = message.clone();
    other["urgency"] = "urgent".into();
    let answer = h.post(&token, &other).await;
    assert_eq!(answer.status(), 409);
    let problem: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/idempotency-conflict");
    let work = h.topology().work_queue(Transport::Queue);
    assert_eq!(h.drain(&work, 1, Duration::from_secs(5)).await.len(), 1);
    h.cleanup().await;
}

#[tokio::test]
async fn broker_down_gives_503_never_202() {
    let h = Harness::with(|c| c.broker.url = "amqp://guest:guest@127.0.0.1:1/%2f".into()).await;
    let token = h.token(SCHOOL);
    let answer = h.post(&token, &bekymringsmelding()).await;
    assert_eq!(answer.status(), 503);
    assert_eq!(answer.headers()["retry-after"].to_str().unwrap(), "5");
    let problem: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/broker-unavailable");
    let ready = h
        .http
        .get(format!("{}/readyz", h.base()))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    h.cleanup().await;
}

#[tokio::test]
async fn broker_refusing_the_message_gives_503_never_202() {
    let h = Harness::new().await;
    let work = h.topology().work_queue(Transport::Queue);
    h.channel()
        .await
        .queue_delete(work.as_str().into(), QueueDeleteOptions::default())
        .await
        .unwrap();
    let answer = h.post(&h.token(SCHOOL), &bekymringsmelding()).await;
    assert_eq!(
        answer.status(),
        503,
        "an unroutable (returned) message is not accepted"
    );
    h.cleanup().await;
}

#[tokio::test]
async fn the_status_read_right_after_a_202_says_queued_as_the_202_did() {
    // The 202 goes out once the queued mark is on its way to the store, before it commits:
    // the sender's next read still finds the message queued, and its repeat the same 202.
    let h = Harness::new().await;
    let token = h.token(SCHOOL);
    for _ in 0..30 {
        let message = bekymringsmelding();
        let id = message["messageId"].as_str().unwrap().to_string();
        let accepted = h.post(&token, &message).await;
        assert_eq!(accepted.status(), 202);
        let accepted: serde_json::Value = accepted.json().await.unwrap();
        assert_eq!(accepted["status"], "queued");
        let read: serde_json::Value = h.status(&token, &id).await.json().await.unwrap();
        assert_eq!(read["status"], "queued", "the read after the 202");
        let again = h.post(&token, &message).await;
        assert_eq!(again.status(), 202);
        assert_eq!(again.json::<serde_json::Value>().await.unwrap(), accepted);
    }
    h.cleanup().await;
}

#[tokio::test]
async fn outbox_publishes_what_was_recorded_before_a_crash() {
    // A gateway that cannot reach the broker records the message and answers 503; then it
    // goes away (as in a crash between record and publish). The next start publishes it.
    let mut h = Harness::with(|c| c.broker.url = "amqp://guest:guest@127.0.0.1:1/%2f".into()).await;
    let token = h.token(SCHOOL);
    let message = bekymringsmelding();
    let id = message["messageId"].as_str().unwrap().to_string();
    assert_eq!(h.post(&token, &message).await.status(), 503);
    h.restart_gateway(|c| c.broker.url = tests::amqp_url())
        .await;

    let work = h.topology().work_queue(Transport::Queue);
    let got = h.drain(&work, 1, Duration::from_secs(60)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(message_id(&got[0]), gateway_id(SCHOOL, &message));
    let status: serde_json::Value = h.status(&token, &id).await.json().await.unwrap();
    assert_eq!(status["status"], "queued");
    // The client repeating its request now gets the 202 it was waiting for, and no copy.
    assert_eq!(h.post(&token, &message).await.status(), 202);
    assert!(
        h.drain(&work, 0, Duration::from_millis(700))
            .await
            .is_empty()
    );
    // The outbox queued it: it counts as accepted all the same.
    let metrics = h.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains("referral_messages_accepted_total{adapter=\"queue\"} 1"),
        "{metrics}"
    );
    h.cleanup().await;
}
