//! `kill -9` of the real processes mid-load: the gateway and the adapters run as their own
//! binaries (as `ops/run` starts them), a steady load of bekymringsmeldinger goes in, and the
//! gateway, then the adapters, then both are killed without warning and started again, and
//! the broker is restarted shortly after. Every message the gateway accepted reaches
//! barnevern's receiving queue; a copy twice only in the documented lost-confirm window.
//!
//! This binary restarts the shared local broker, so it holds a single test.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tests::processes::Processes;
use tests::{Harness, OSLO_INBOX};

#[tokio::test]
async fn killing_the_gateway_and_the_adapters_mid_load_loses_nothing_accepted() {
    let mut h = Harness::new().await;
    h.stop_gateway().await; // the harness keeps its names, key and database for the processes
    let p = Processes {
        h: &h,
        ledger_url: None,
        env: Vec::new(),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let (port, mut gateway, mut adapters, load) =
        p.start_under_load(&stop, tests::bekymringsmelding).await;
    for _ in 0..tests::fault_rounds() {
        tokio::time::sleep(Duration::from_secs(3)).await;
        gateway.kill();
        gateway = p.gateway(port);
        p.wait_ready(port).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        adapters.kill();
        adapters = p.adapters(0);
        tokio::time::sleep(Duration::from_secs(3)).await;
        gateway.kill();
        adapters.kill();
        gateway = p.gateway(port);
        adapters = p.adapters(0);
        p.wait_ready(port).await;
        // A broker restart shortly after the processes restarted: both reconnect.
        tokio::time::sleep(Duration::from_secs(1)).await;
        tests::broker_stop().await;
        tests::broker_start().await;
        p.wait_ready(port).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let expected = load.await.unwrap();
    assert!(expected.len() > 50, "the load ran: {}", expected.len());

    let inbox = h.topology().receiving_queue(OSLO_INBOX);
    h.arrived(&inbox, &expected, "kill -9 under load").await;
    gateway.kill();
    adapters.kill();
    h.cleanup().await;
}
