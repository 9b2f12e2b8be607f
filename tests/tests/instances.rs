//! More than one instance: two gateway processes share one PostgreSQL store and two
//! adapter processes one PostgreSQL ledger, on one broker. Under a steady load through both
//! gateways, one gateway and one adapters process are killed (`kill -9`) and started again
//! later, as a lost host or a rolling upgrade would. Every accepted message reaches
//! barnevern's receiving queue; a copy twice only in the documented lost-confirm window.
//! The metrics are per instance: each gateway counts what it had confirmed, and both show
//! the same store-wide gauge.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tests::processes::{Processes, free_port};
use tests::{Harness, OSLO_INBOX, SCHOOL};

/// The value of the sample `name{labels}` in the exposition `text`, 0 if absent.
fn sample(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn two_gateways_and_two_adapters_sharing_postgres_lose_nothing_when_one_of_each_is_killed() {
    let server = contract::plumbing::postgres::test_server();
    let store = contract::plumbing::postgres::new_schema(&server, "gw")
        .await
        .expect("the PostgreSQL server of the tests (ops/postgres/ensure)");
    let ledger = contract::plumbing::postgres::new_schema(&server, "ledger")
        .await
        .unwrap();
    let mut h = Harness::with(|c| c.store.url = Some(store)).await;
    h.stop_gateway().await; // the harness keeps its names, keys and store for the processes
    let p = Processes {
        h: &h,
        ledger_url: Some(ledger.clone()),
        env: Vec::new(),
    };
    let ports = [free_port(), free_port()];
    let mut gateways = ports.map(|port| p.gateway(port));
    let mut adapters = [p.adapters(0), p.adapters(1)];
    for port in ports {
        p.wait_ready(port).await;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let loads = ports.map(|port| {
        tests::steady_load(
            h.http.clone(),
            format!("http://127.0.0.1:{port}/v1/messages"),
            h.token(SCHOOL),
            stop.clone(),
            tests::bekymringsmelding,
        )
    });

    tokio::time::sleep(Duration::from_secs(4)).await;
    gateways[1].kill();
    adapters[1].kill();
    // The survivors carry on alone (the dead gateway's unconfirmed messages are taken over
    // once its claims run out), then the killed ones come back.
    tokio::time::sleep(Duration::from_secs(8)).await;
    gateways[1] = p.gateway(ports[1]);
    adapters[1] = p.adapters(1);
    p.wait_ready(ports[1]).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.store(true, Ordering::Relaxed);
    let mut expected = BTreeSet::new();
    let mut through = Vec::new();
    for load in loads {
        let accepted = load.await.unwrap();
        through.push(accepted.len());
        expected.extend(accepted);
    }
    assert!(
        through.iter().all(|n| *n > 20),
        "both gateways took load: {through:?}"
    );

    let inbox = h.topology().receiving_queue(OSLO_INBOX);
    h.arrived(&inbox, &expected, "two instances, one of each killed")
        .await;

    // Per instance: each gateway counts what it had confirmed; the store's gauge is the
    // same on both and holds every accepted message once.
    let mut counted = 0;
    let mut stored = BTreeSet::new();
    for port in ports {
        let text = h
            .http
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        counted += sample(&text, "referral_messages_accepted_total{adapter=\"queue\"}");
        stored.insert(sample(
            &text,
            "referral_store_messages_accepted{adapter=\"queue\"}",
        ));
    }
    assert!(counted > 0, "the instances count what they confirmed");
    assert_eq!(stored.len(), 1, "one store, one gauge: {stored:?}");
    let stored = stored.pop_first().unwrap();
    assert!(
        stored >= expected.len() as u64,
        "{stored} < {}",
        expected.len()
    );
    for process in gateways.iter_mut().chain(adapters.iter_mut()) {
        process.kill();
    }
    drop(p);
    h.cleanup().await;
    contract::plumbing::postgres::drop_schema(&ledger)
        .await
        .unwrap();
}
