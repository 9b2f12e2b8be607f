//! No personal data of a payload appears in the logs, the metrics or the operator console:
//! a run through every path (accepted, delivered, repeated, refused for each reason,
//! unauthenticated) is logged with the gateway's own subscriber, the gateway's and adapters'
//! metrics are scraped and the console's pages read, and none of the example's personal
//! values is in any.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tests::{Harness, OSLO_INBOX, SCHOOL, bekymringsmelding};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every string value of a JSON document (its personal data, for the example).
fn strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) if s.len() >= 4 => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|v| strings(v, out)),
        serde_json::Value::Object(o) => o.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn logs_and_metrics_carry_ids_and_codes_never_payload_values() {
    let captured = Captured::default();
    let writer = captured.clone();
    contract::plumbing::process::init_filtered(
        "debug,lapin=warn,sqlx=warn,hyper=info,h2=info,reqwest=info,rustls=info",
        move || writer.clone(),
    );

    let mut h = Harness::new().await;
    h.start_adapters().await;
    let token = h.token(SCHOOL);
    let message = bekymringsmelding();
    assert_eq!(h.post(&token, &message).await.status(), 202);
    assert_eq!(h.post(&token, &message).await.status(), 202);
    let inbox = h.topology().receiving_queue(OSLO_INBOX);
    assert_eq!(h.drain(&inbox, 1, Duration::from_secs(60)).await.len(), 1);

    let mut refused = bekymringsmelding();
    refused["payload"]["offentligBarn"][0]["fnr"] = "1234".into();
    refused["payload"]["offentligBarn"][0]["helse"] = "Ola Testbarn har diagnose".into();
    assert_eq!(h.post(&token, &refused).await.status(), 422);
    let mut elsewhere = bekymringsmelding();
    elsewhere["recipient"] = "no-bergen-barnevern".into();
    assert_eq!(h.post(&token, &elsewhere).await.status(), 422);
    let mut conflicting = message.clone();
    conflicting["payload"]["melding"]["melding"] = "Endret tekst om Ola Testbarn".into();
    assert_eq!(h.post(&token, &conflicting).await.status(), 409);
    assert_eq!(h.post("not-a-token", &message).await.status(), 401);
    let metrics = [
        h.get("/metrics", None).await.text().await.unwrap(),
        h.adapters_get("/metrics").await.text().await.unwrap(),
    ]
    .concat();
    let operator = h.operator_token();
    let mut console = String::new();
    for page in [
        "/v1/operator/overview",
        "/v1/operator/dead-letters",
        "/console",
    ] {
        let answer = h.get(page, Some(&operator)).await;
        assert_eq!(answer.status(), 200, "{page}");
        console += &answer.text().await.unwrap();
    }
    assert!(
        console.contains(&tests::gateway_id(SCHOOL, &message)),
        "the console lists the message"
    );
    h.cleanup().await;
    // The latencies: of each request by route and outcome, the broker's confirm, and the
    // way from acceptance to delivery by transport and recipient type.
    for histogram in [
        r#"referral_request_duration_seconds_count{route="/v1/messages",outcome="2xx"} 2"#,
        r#"referral_request_duration_seconds_count{route="/v1/messages",outcome="4xx"} 4"#,
        "referral_broker_confirm_seconds_count 1",
        r#"referral_delivery_seconds_count{adapter="queue",recipient_type="barnevern"} 1"#,
    ] {
        assert!(metrics.contains(histogram), "{histogram} in {metrics}");
    }
    // The store's batches, and the outbox (empty once everything is confirmed).
    let count = |name: &str| -> f64 {
        let line = metrics.lines().find(|l| l.starts_with(name));
        line.and_then(|l| l.rsplit(' ').next()?.parse().ok())
            .unwrap_or_else(|| panic!("{name} in {metrics}"))
    };
    assert!(count("referral_store_batch_commit_seconds_count ") >= 2.0);
    assert!(count("referral_store_batch_writes_sum ") >= 2.0);
    assert_eq!(count("referral_outbox_depth "), 0.0);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains(&tests::gateway_id(SCHOOL, &message)),
        "the message's gateway id is logged"
    );
    assert!(logs.contains("delivered"), "delivery is logged");
    let mut personal = Vec::new();
    strings(&message["payload"], &mut personal);
    personal.push("Ola Testbarn".into());
    for value in personal {
        for (name, text) in [
            ("logs", &logs),
            ("metrics", &metrics),
            ("console", &console),
        ] {
            let line = text.lines().find(|l| contains_token(l, &value));
            assert!(
                line.is_none(),
                "personal value {value:?} appears in the {name}: {line:?}"
            );
        }
    }
}

/// Whether `text` holds `value` as a whole token (not inside a longer number or word, such
/// as a timing of `1.03012` ms holding the municipality number `0301`).
fn contains_token(text: &str, value: &str) -> bool {
    let part = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '.');
    text.match_indices(value).any(|(at, _)| {
        !part(text[..at].chars().next_back()) && !part(text[at + value.len()..].chars().next())
    })
}
