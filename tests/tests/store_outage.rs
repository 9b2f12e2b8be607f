//! The database going away and coming back: a gateway whose store is PostgreSQL reaches it
//! through a relay that the test cuts (every connection dropped, new ones refused), as a
//! database failover or a lost network would. While it is cut, a post gets `503
//! store-unavailable` with `Retry-After` (never a 202, never a bare 500) and the gateway is
//! not ready; once it is back, the gateway recovers by itself and the repeated post is
//! accepted; every accepted message reaches barnevern's receiving queue. A receipt that
//! arrives while the adapters' ledger (PostgreSQL, through a relay as well) is cut waits
//! for it, and is applied once it is back: never taken for a receipt of an unknown message.
//! A delivery made while the ledger is cut is noted in it once it is back, so that a later
//! withdrawal of its consent still tells the recipient.

use serde_json::json;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tests::{
    Harness, OSLO_INBOX, POLICE_INBOX, SCHOOL, SLOW, WITHDRAWALS, bekymringsmelding,
    directory_as_case_system, gateway_id, problem,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A TCP relay to the PostgreSQL server of the tests, on a port of its own.
struct Relay {
    port: u16,
    /// Whether connections pass; a change drops every open one.
    open: Arc<watch::Sender<bool>>,
}

impl Relay {
    async fn start(target: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(watch::channel(true).0);
        let gate = open.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut changes = gate.subscribe();
                if !*changes.borrow_and_update() {
                    continue; // refused: dropped at once
                }
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = changes.changed() => {} // cut: both ends dropped
                    }
                });
            }
        });
        Self { port, open }
    }

    fn cut(&self) {
        self.open.send_replace(false);
    }

    fn restore(&self) {
        self.open.send_replace(true);
    }
}

/// `url` with its `host:port` replaced by `to`.
fn via(url: &str, to: &str) -> String {
    let at = url.find('@').map_or(url.find("//").unwrap() + 2, |i| i + 1);
    let end = at + url[at..].find('/').unwrap();
    format!("{}{to}{}", &url[..at], &url[end..])
}

/// The `host:port` of `url`.
fn host_port(url: &str) -> String {
    let at = url.find('@').map_or(url.find("//").unwrap() + 2, |i| i + 1);
    url[at..at + url[at..].find('/').unwrap()].to_owned()
}

/// A new schema on the PostgreSQL server of the tests (`name` its prefix), reached through
/// a relay of its own: the schema's URL through the relay, and the relay.
async fn relayed_schema(name: &str) -> (String, Relay) {
    let server = contract::plumbing::postgres::test_server();
    let schema = contract::plumbing::postgres::new_schema(&server, name)
        .await
        .expect("the PostgreSQL server of the tests (ops/postgres/ensure)");
    let relay = Relay::start(host_port(&server)).await;
    (via(&schema, &format!("127.0.0.1:{}", relay.port)), relay)
}

/// A gateway whose PostgreSQL store it reaches through a relay: the harness and the relay.
async fn relayed_gateway() -> (Harness, Relay) {
    let (url, relay) = relayed_schema("gw").await;
    (Harness::with(|c| c.store.url = Some(url)).await, relay)
}

async fn ready(h: &Harness) -> u16 {
    h.http
        .get(format!("{}/readyz", h.base()))
        .send()
        .await
        .map_or(0, |r| r.status().as_u16())
}

#[tokio::test]
async fn a_lost_database_gives_503_store_unavailable_and_the_gateway_recovers_by_itself() {
    let (mut h, relay) = relayed_gateway().await;
    let token = h.token(SCHOOL);
    let mut accepted = BTreeSet::new();

    let first = bekymringsmelding();
    assert_eq!(h.post(&token, &first).await.status(), 202);
    accepted.insert(gateway_id(SCHOOL, &first));

    relay.cut();
    let second = bekymringsmelding();
    let answer = h.post(&token, &second).await;
    assert!(answer.headers().contains_key("retry-after"));
    let body = problem(answer, 503, "store-unavailable").await;
    assert!(
        !body.to_string().contains("referral:referral"),
        "no connection string in the answer"
    );
    assert_eq!(ready(&h).await, 503, "not ready without its database");

    relay.restore();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while ready(&h).await != 200 {
        assert!(tokio::time::Instant::now() < deadline, "ready again");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The client repeats the request, as the 503 told it to.
    assert_eq!(h.post(&token, &second).await.status(), 202);
    accepted.insert(gateway_id(SCHOOL, &second));

    let inbox = h.topology().receiving_queue(OSLO_INBOX);
    h.start_adapters().await;
    h.arrived(&inbox, &accepted, "database lost and back").await;
    h.cleanup().await;
}

#[tokio::test]
async fn a_receipt_that_arrives_while_the_ledger_is_lost_is_applied_once_it_is_back() {
    // Barnevern Oslo's case system uses the test's broker account.
    let directory = directory_as_case_system("barnevern-0301");
    let mut h = Harness::with(|c| c.directory = directory).await;
    let (ledger, relay) = relayed_schema("ledger").await;
    h.start_adapters_with(|c| c.runtime.ledger_url = Some(ledger))
        .await;
    let token = h.token(SCHOOL);
    let message = bekymringsmelding();
    assert_eq!(h.post(&token, &message).await.status(), 202);
    let id = message["messageId"].as_str().unwrap();
    let view = h
        .wait_status(&token, id, "delivered", Duration::from_secs(20))
        .await;
    assert_eq!(view["status"], "delivered");

    relay.cut();
    let gid = gateway_id(SCHOOL, &message);
    h.receipt(adapters::queue::receipts::RECEIVED, &gid, json!({}))
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let view: serde_json::Value = h.status(&token, id).await.json().await.unwrap();
    assert_eq!(
        view["status"], "delivered",
        "nothing to check it against yet"
    );

    relay.restore();
    let view = h
        .wait_status(&token, id, "received", Duration::from_secs(30))
        .await;
    assert_eq!(
        view["status"], "received",
        "the receipt waited for the ledger"
    );
    h.cleanup().await;
}

#[tokio::test]
async fn deliveries_reported_while_the_database_is_lost_wait_in_the_broker_and_are_all_applied() {
    const MESSAGES: usize = 300;
    let (mut h, relay) = relayed_gateway().await;
    let token = h.token(SCHOOL);
    let mut ids = Vec::new();
    for _ in 0..MESSAGES {
        let message = bekymringsmelding();
        assert_eq!(h.post(&token, &message).await.status(), 202);
        ids.push(message["messageId"].as_str().unwrap().to_owned());
    }

    relay.cut();
    let inbox = h.topology().receiving_queue(OSLO_INBOX);
    h.start_adapters().await;
    let delivered = h.drain(&inbox, MESSAGES, Duration::from_secs(60)).await;
    assert_eq!(
        delivered.len(),
        MESSAGES,
        "the adapters deliver without the gateway's database"
    );
    // Every report reaches the broker (an adapter reports just after it delivers), and the
    // gateway, unable to apply them, holds no more than its bound of them.
    let status = h.topology().status_queue();
    let held = |waiting: u32| MESSAGES - (waiting as usize).min(MESSAGES);
    let bound = usize::from(gateway::track::IN_FLIGHT);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while held(h.count(&status).await) > bound {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the reports beyond the gateway's bound wait in the broker"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for _ in 0..15 {
        let held = held(h.count(&status).await);
        assert!(
            held <= bound,
            "the gateway holds {held} reports, beyond its bound"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    relay.restore();
    for id in &ids {
        let view = h
            .wait_status(&token, id, "delivered", Duration::from_secs(60))
            .await;
        assert_eq!(view["status"], "delivered", "every report applied");
    }
    h.cleanup().await;
}

#[tokio::test]
async fn a_delivery_made_while_the_ledger_is_lost_is_noted_once_it_is_back_and_a_withdrawal_tells_its_recipient()
 {
    // The police contact's inbox answers its first request late: the test cuts the adapters'
    // ledger meanwhile, so the delivery succeeds while the ledger cannot note it.
    let (mut h, inbox) = Harness::with_inbox(&[SLOW], |_| {}).await;
    let (ledger, relay) = relayed_schema("ledger").await;
    h.start_adapters_with(|c| c.runtime.ledger_url = Some(ledger))
        .await;
    let token = h.token(SCHOOL);
    let message = h.referral_received("c-noted", &inbox).await;
    let gid = gateway_id(SCHOOL, &message);
    relay.cut();
    tokio::time::sleep(Duration::from_secs(4)).await;
    relay.restore();

    let id = message["messageId"].as_str().unwrap();
    let view = h
        .wait_status(&token, id, "delivered", Duration::from_secs(30))
        .await;
    assert_eq!(view["status"], "delivered");
    assert_eq!(inbox.ids_at(POLICE_INBOX), [gid.as_str()], "delivered once");
    let withdrawn = h
        .post_to("/v1/consents/c-noted/withdraw", &token, &json!({}))
        .await;
    assert_eq!(withdrawn.status(), 200);
    assert!(
        inbox
            .wait_for(WITHDRAWALS, &gid, Duration::from_secs(20))
            .await,
        "the recipient is told of the withdrawal: the ledger knows it has the message"
    );
    h.cleanup().await;
}
