//! One message's trace across processes: the W3C `traceparent` a sender's request carries
//! names the trace its hops continue, and the gateway's and the adapters' log lines about
//! it carry that trace id and its gateway id; without a well-formed one the trace is the
//! gateway id. Both run as their own processes, as `ops/run` starts them, exporting their
//! spans over OTLP/HTTP to a collector stood up in the test, where the same trace shows.

use axum::body::Bytes;
use serde_json::Value;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tests::processes::{Processes, free_port};
use tests::{Harness, OSLO_INBOX, SCHOOL, bekymringsmelding, gateway_id};

/// The first JSON log line of `file` that names both `trace` and `gateway_id` and, if
/// given, says `message`; waits up to 20 s for one.
async fn line_of(file: &Path, trace: &str, gateway_id: &str, message: Option<&str>) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let found = text
            .lines()
            .filter(|l| l.contains(trace) && l.contains(gateway_id))
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|l| message.is_none_or(|m| l["fields"]["message"] == m));
        if let Some(line) = found {
            return line;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} has no line {message:?} of trace {trace} and message {gateway_id}:\n{text}",
            file.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// An OTLP/HTTP collector on a free port: the bodies of the span exports it received.
async fn collector() -> (String, Arc<Mutex<Vec<Bytes>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let kept = received.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: Bytes| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(body);
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), received)
}

/// Whether an export of `service` holds spans of the trace `trace` (hex), waiting up to
/// 20 s: the protobuf holds the trace id as its 16 bytes and the service name as text.
async fn exported(received: &Mutex<Vec<Bytes>>, service: &str, trace: &str) -> bool {
    let trace: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&trace[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let has = |body: &[u8], part: &[u8]| body.windows(part.len()).any(|w| w == part);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        let found = received
            .lock()
            .unwrap()
            .iter()
            .any(|body| has(body, service.as_bytes()) && has(body, &trace));
        if found {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

#[tokio::test]
async fn a_requests_trace_runs_through_the_gateways_and_the_adapters_logs() {
    let mut h = Harness::new().await;
    h.stop_gateway().await; // its names, keys and database serve the processes
    let (endpoint, received) = collector().await;
    let p = Processes {
        h: &h,
        ledger_url: None,
        env: vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT".into(), endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY".into(), "200".into()),
        ],
    };
    let port = free_port();
    let _gateway = p.gateway(port);
    let _adapters = p.adapters(0);
    p.wait_ready(port).await;
    let send = |message: Value, traceparent: String| {
        h.http
            .post(format!("http://127.0.0.1:{port}/v1/messages"))
            .bearer_auth(h.token(SCHOOL))
            .header("traceparent", traceparent)
            .json(&message)
            .send()
    };
    let trace = uuid::Uuid::new_v4().simple().to_string();
    let traced = bekymringsmelding();
    let response = send(traced.clone(), format!("00-{trace}-00f067aa0ba902b7-01"))
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    // An all-zero trace id is not a trace (W3C Trace Context § 3.2.2.3): the gateway id is.
    let mut untraced = bekymringsmelding();
    untraced["messageId"] = uuid::Uuid::new_v4().to_string().into();
    let zeros = format!("00-{}-00f067aa0ba902b7-01", "0".repeat(32));
    assert_eq!(send(untraced.clone(), zeros).await.unwrap().status(), 202);
    let inbox = h.topology().receiving_queue(OSLO_INBOX);
    assert_eq!(h.drain(&inbox, 2, Duration::from_secs(60)).await.len(), 2);

    let gid = gateway_id(SCHOOL, &traced);
    let other = gateway_id(SCHOOL, &untraced);
    let own = uuid::Uuid::parse_str(&other).unwrap().simple().to_string();
    let (gateway_log, adapters_log) = (
        h.dir.join(format!("gateway-{port}.log")),
        h.dir.join("adapters-0.log"),
    );
    // The gateway logs the trace when it queues the message and when the adapters report
    // its delivery; the adapters when they deliver it.
    for message in ["message queued", "status event"] {
        line_of(&gateway_log, &trace, &gid, Some(message)).await;
    }
    line_of(&adapters_log, &trace, &gid, Some("delivered")).await;
    for log in [&gateway_log, &adapters_log] {
        line_of(log, &own, &other, None).await;
    }
    // The spans of both processes, exported, are of the request's trace.
    for service in ["referral-gateway", "referral-adapters"] {
        assert!(
            exported(&received, service, &trace).await,
            "{service} exported spans of the trace"
        );
    }
}
