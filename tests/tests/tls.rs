//! TLS on every hop that leaves the process, with certificates made in the test: the API
//! over HTTPS, AMQP over TLS to the broker, HTTPS (with a client certificate) to an
//! agency's inbox. Each fails closed when the certificate is signed by another CA or has
//! expired.

use serde_json::Value;
use std::net::SocketAddr;
use std::time::Duration;
use tests::tls::{Issued, TestCa, front, server_config};
use tests::{FakeInbox, Harness, SCHOOL, dev_directory_with, example, temp_dir};

/// A client trusting only `ca`.
fn client_trusting(ca: &TestCa) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(ca.pem.as_bytes()).unwrap()])
        .build()
        .unwrap()
}

/// A gateway serving HTTPS with `issued`.
async fn https_gateway(issued: &Issued) -> Harness {
    let dir = temp_dir();
    let (cert, key) = issued.write(&dir, "api");
    Harness::with(|c| {
        c.http.tls = Some(gateway::config::TlsConfig {
            cert,
            key,
            clients: None,
            reload_secs: 60,
        })
    })
    .await
}

#[tokio::test]
async fn the_api_answers_over_https_only_to_clients_that_trust_its_ca_and_never_with_an_expired_certificate()
 {
    let (ca, other) = (TestCa::new("api CA"), TestCa::new("another CA"));
    let h = https_gateway(&ca.issue(false)).await;
    let url = format!(
        "https://localhost:{}/healthz",
        h.base().rsplit(':').next().unwrap()
    );
    let answer = client_trusting(&ca).get(&url).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    assert!(
        client_trusting(&other).get(&url).send().await.is_err(),
        "a client that trusts another CA does not talk to it"
    );
    let plain = url.replace("https://", "http://");
    assert!(
        reqwest::get(&plain).await.is_err_and(|e| !e.is_status()),
        "no plain HTTP on the TLS port"
    );
    h.cleanup().await;

    let expired = https_gateway(&ca.issue(true)).await;
    let url = format!(
        "https://localhost:{}/healthz",
        expired.base().rsplit(':').next().unwrap()
    );
    assert!(
        client_trusting(&ca).get(&url).send().await.is_err(),
        "expired"
    );
    expired.cleanup().await;
}

/// The broker's plain AMQP address of the test broker.
fn broker_addr() -> SocketAddr {
    let uri: lapin::uri::AMQPUri = tests::amqp_url().parse().unwrap();
    let host = match uri.authority.host.as_str() {
        "localhost" => "127.0.0.1",
        other => other,
    };
    format!("{host}:{}", uri.authority.port).parse().unwrap()
}

/// A gateway whose broker is behind a TLS front presenting `issued`, trusting `trusted`.
async fn gateway_over_amqps(issued: &Issued, trusted: &TestCa) -> Harness {
    let addr = front(issued, broker_addr()).await;
    let dir = temp_dir();
    let ca = trusted.write(&dir, "broker-ca");
    Harness::with(|c| {
        c.broker.url = format!("amqps://guest:guest@localhost:{}/%2f", addr.port());
        c.broker.tls = Some(contract::plumbing::broker::BrokerTls {
            ca,
            client_cert: None,
            client_key: None,
        });
    })
    .await
}

#[tokio::test]
async fn the_gateway_speaks_amqp_over_tls_and_refuses_a_broker_certificate_of_another_ca_or_expired()
 {
    let (ca, other) = (TestCa::new("broker CA"), TestCa::new("another CA"));
    let h = gateway_over_amqps(&ca.issue(false), &ca).await;
    assert!(h.link_up(Duration::from_secs(20)).await, "linked over TLS");
    let token = h.token(SCHOOL);
    let message = tests::bekymringsmelding();
    let posted = h.post(&token, &message).await;
    assert_eq!(posted.status(), 202, "recorded and confirmed over TLS");
    h.cleanup().await;

    for (issued, trusted, case) in [
        (ca.issue(false), &other, "signed by a CA it does not trust"),
        (ca.issue(true), &ca, "expired"),
    ] {
        let h = gateway_over_amqps(&issued, trusted).await;
        assert!(!h.link_up(Duration::from_secs(3)).await, "{case}: no link");
        let token = h.token(SCHOOL);
        let refused = h.post(&token, &tests::bekymringsmelding()).await;
        assert_eq!(refused.status(), 503, "{case}: nothing accepted");
        h.cleanup().await;
    }
}

/// A gateway and adapters whose police contact's inbox is `inbox`, with the client
/// certificate `client` named for it in the directory; the adapters trust `trusted`.
async fn with_https_inbox(inbox: &FakeInbox, client: &Issued, trusted: &TestCa) -> Harness {
    let dir = temp_dir();
    let (cert, key) = client.write(&dir, "adapter-client");
    let delivery = format!(
        "delivery = {{ transport = \"inbox\", inbox_url = \"{}\", client_certificate = {{ cert = \"{}\", key = \"{}\" }} }}",
        inbox.url,
        cert.display(),
        key.display()
    );
    let directory = dev_directory_with(
        &dir,
        &[(
            "delivery = { transport = \"inbox\", inbox_url = \"http://127.0.0.1:9101/inbox\" }",
            &delivery,
        )],
    );
    let ca = trusted.write(&dir, "inbox-ca");
    let mut h = Harness::with(|c| c.directory = directory).await;
    assert!(h.link_up(Duration::from_secs(20)).await);
    h.start_adapters_with(|a| a.runtime.inbox_ca = Some(ca))
        .await;
    h
}

#[tokio::test]
async fn an_inbox_is_reached_over_https_with_the_agencys_client_certificate_and_never_past_a_bad_certificate()
 {
    let (ca, other) = (TestCa::new("inbox CA"), TestCa::new("another CA"));
    let client = ca.issue(false);
    let inbox = FakeInbox::start_tls(server_config(&ca.issue(false), Some(&ca))).await;
    let h = with_https_inbox(&inbox, &client, &ca).await;
    let token = h.token(SCHOOL);
    let message = example("no.politikontakt.anonymised");
    assert_eq!(h.post(&token, &message).await.status(), 202);
    let id = message["messageId"].as_str().unwrap();
    h.wait_status(&token, id, "delivered", Duration::from_secs(30))
        .await;
    assert_eq!(
        inbox.ids_at("/inbox"),
        [tests::gateway_id(SCHOOL, &message)]
    );
    h.cleanup().await;

    // An inbox whose certificate another CA signed, one whose certificate expired, one that
    // does not take the adapter's certificate: nothing is handed over.
    let cases = [
        (
            other.issue(false),
            None,
            "signed by a CA the adapters do not trust",
        ),
        (ca.issue(true), None, "expired"),
        (
            ca.issue(false),
            Some(&other),
            "the adapter's certificate is not one it takes",
        ),
    ];
    for (server, clients, case) in cases {
        let inbox =
            FakeInbox::start_tls(server_config(&server, Some(clients.unwrap_or(&ca)))).await;
        let h = with_https_inbox(&inbox, &client, &ca).await;
        let message = example("no.politikontakt.anonymised");
        assert_eq!(h.post(&h.token(SCHOOL), &message).await.status(), 202);
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(inbox.received.lock().unwrap().is_empty(), "{case}");
        let view: Value = h.school_view(&message).await;
        assert_ne!(view["status"], "delivered", "{case}: {view}");
        h.cleanup().await;
    }
}
