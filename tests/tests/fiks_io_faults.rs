//! Faults on the Fiks IO path, with the gateway and the adapters as their own processes:
//! under a steady load of bekymringsmeldinger to the service on Fiks IO, the adapters are
//! killed (`kill -9`) and started again and the broker is restarted. Every message the
//! gateway accepted reaches the receiving Fiks IO account, as one Fiks message each.
//!
//! This binary restarts the shared local broker, so it holds a single test.

use contract::message::MessageId;
use fiks_io_standin::Answer;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tests::Harness;
use tests::fiks::{Fiks, fiks_bekymringsmelding};
use tests::processes::Processes;

#[tokio::test]
async fn fiks_io_deliveries_survive_adapter_kills_and_broker_restarts() {
    let fiks = Fiks::start(Answer::Receipt, Duration::from_secs(120)).await;
    let directory = fiks.directory();
    let mut h = Harness::with(|c| c.directory = directory).await;
    h.stop_gateway().await;
    let p = Processes {
        h: &h,
        ledger_url: None,
        env: Vec::new(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let (port, mut gateway, mut adapters, load) =
        p.start_under_load(&stop, fiks_bekymringsmelding).await;
    for _ in 0..tests::fault_rounds() {
        tokio::time::sleep(Duration::from_secs(3)).await;
        adapters.kill();
        adapters = p.adapters(0);
        tokio::time::sleep(Duration::from_secs(3)).await;
        tests::broker_stop().await;
        tests::broker_start().await;
        p.wait_ready(port).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        adapters.kill();
        adapters = p.adapters(0);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let accepted = load.await.unwrap();
    assert!(accepted.len() > 50, "the load ran: {}", accepted.len());

    // Every accepted message, by the klientMeldingId its gateway id gives it.
    let expected: BTreeSet<String> = accepted
        .iter()
        .map(|id| adapters::fiks_io::client_message_id(&MessageId(id.parse().unwrap())).to_string())
        .collect();
    let arrived = || -> Vec<String> {
        fiks.standin
            .received()
            .into_iter()
            .filter_map(|r| r.client_message_id)
            .collect()
    };
    let until = tokio::time::Instant::now() + Duration::from_secs(120);
    while !expected.is_subset(&arrived().into_iter().collect())
        && tokio::time::Instant::now() < until
    {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let arrived = arrived();
    let unique: BTreeSet<String> = arrived.iter().cloned().collect();
    assert_eq!(
        unique, expected,
        "every accepted message reached the account"
    );
    assert_eq!(arrived.len(), unique.len(), "one Fiks message each");
    gateway.kill();
    adapters.kill();
    h.cleanup().await;
}
