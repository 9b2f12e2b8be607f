//! What every ledger backend must do, through the seam only ([`Ledger`]). Each test runs
//! against every backend of [`backends`] (SQLite, and PostgreSQL on the local server that
//! `ops/postgres/ensure` sets up, each test in a schema of its own); a new backend adds a
//! line there.

use adapters::runtime::{Claim, Entry, Ledger, PgLedger, SqliteLedger, Stopped};
use contract::message::MessageId;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Per backend, on one fresh ledger: two handles (two processes sharing it) whose claims
/// hold a minute, and a third whose claims run out at once (a holder that dies).
async fn backends() -> Vec<(&'static str, [Arc<dyn Ledger>; 3])> {
    let dir = std::env::temp_dir().join(format!("ledger-{}", uuid::Uuid::new_v4()));
    let path = dir.join("ledger.sqlite");
    let url = contract::plumbing::postgres::new_schema(
        &contract::plumbing::postgres::test_server(),
        "ledger",
    )
    .await
    .expect("a PostgreSQL server for the tests (ops/postgres/ensure sets one up)");
    vec![
        (
            "sqlite",
            [
                sqlite(&path, 60).await,
                sqlite(&path, 60).await,
                sqlite(&path, 0).await,
            ],
        ),
        (
            "postgres",
            [
                postgres(&url, 60).await,
                postgres(&url, 60).await,
                postgres(&url, 0).await,
            ],
        ),
    ]
}

async fn postgres(url: &str, lease_secs: u64) -> Arc<dyn Ledger> {
    Arc::new(
        PgLedger::open(url, Duration::from_secs(lease_secs))
            .await
            .unwrap(),
    )
}

/// A message id named by `name`.
fn id(name: &str) -> MessageId {
    MessageId(uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        name.as_bytes(),
    ))
}

async fn sqlite(path: &Path, lease_secs: u64) -> Arc<dyn Ledger> {
    Arc::new(
        SqliteLedger::open(path, Duration::from_secs(lease_secs))
            .await
            .unwrap(),
    )
}

#[tokio::test]
async fn two_processes_racing_for_a_delivery_never_both_win() {
    for (name, [a, b, dying]) in backends().await {
        for i in 0..50 {
            let id = id(&format!("m-{i}"));
            let (x, y) = tokio::join!(a.claim(&id), b.claim(&id));
            let won = [x.unwrap(), y.unwrap()]
                .iter()
                .filter(|c| **c == Claim::Won)
                .count();
            assert_eq!(won, 1, "{name}: round {i}");
        }
        // The loser sees the delivery in progress, then its outcome.
        assert_eq!(
            a.claim(&id("m-0")).await.unwrap(),
            Claim::Lost(Entry::Delivering)
        );
        a.delivered(&id("m-0"), "bv", None).await.unwrap();
        assert_eq!(
            b.claim(&id("m-0")).await.unwrap(),
            Claim::Lost(Entry::Delivered {
                recipient: "bv".into()
            })
        );
        // A failed attempt releases its claim; a claim whose holder died runs out, and
        // the next holder knows that the agency may have the message.
        a.release(&id("m-1")).await.unwrap();
        assert_eq!(b.claim(&id("m-1")).await.unwrap(), Claim::Won);
        assert_eq!(dying.claim(&id("dead")).await.unwrap(), Claim::Won);
        assert_eq!(b.claim(&id("dead")).await.unwrap(), Claim::WonAfterUnknown);
    }
}

#[tokio::test]
async fn an_unknown_outcome_is_retried_at_once_and_known_as_such_by_one_racer() {
    for (name, [a, b, _]) in backends().await {
        let m = id("m");
        assert_eq!(a.claim(&m).await.unwrap(), Claim::Won);
        a.unknown(&m).await.unwrap();
        let (x, y) = tokio::join!(a.claim(&m), b.claim(&m));
        let mut claims = [x.unwrap(), y.unwrap()];
        claims.sort_by_key(|c| matches!(c, Claim::Lost(_)));
        assert_eq!(
            claims,
            [Claim::WonAfterUnknown, Claim::Lost(Entry::Delivering)],
            "{name}"
        );
        // Once delivered, no copy is ever delivered again.
        a.delivered(&id("m"), "bv", None).await.unwrap();
        a.unknown(&id("m")).await.unwrap();
        assert!(matches!(
            b.claim(&id("m")).await.unwrap(),
            Claim::Lost(Entry::Delivered { .. })
        ));
    }
}

#[tokio::test]
async fn withdrawal_stops_what_is_not_delivered_and_waits_for_what_is_in_flight() {
    for (name, [ledger, _, _]) in backends().await {
        assert_eq!(ledger.withdraw(&id("new")).await.unwrap(), Stopped::Before);
        assert_eq!(
            ledger.claim(&id("new")).await.unwrap(),
            Claim::Lost(Entry::Withdrawn),
            "{name}"
        );
        ledger.claim(&id("flying")).await.unwrap();
        assert_eq!(
            ledger.withdraw(&id("flying")).await.unwrap(),
            Stopped::Not(Entry::Delivering)
        );
        ledger.delivered(&id("flying"), "bv", None).await.unwrap();
        assert_eq!(
            ledger.withdraw(&id("flying")).await.unwrap(),
            Stopped::Not(Entry::Delivered {
                recipient: "bv".into()
            })
        );
        // An attempt whose outcome is unknown may have reached the agency: stopped, and
        // said so at every withdrawal (a notice that failed is tried again), never delivered.
        ledger.claim(&id("lost-answer")).await.unwrap();
        ledger.unknown(&id("lost-answer")).await.unwrap();
        for _ in 0..2 {
            assert_eq!(
                ledger.withdraw(&id("lost-answer")).await.unwrap(),
                Stopped::AfterUnknown,
                "{name}"
            );
        }
        assert_eq!(
            ledger.claim(&id("lost-answer")).await.unwrap(),
            Claim::Lost(Entry::Withdrawn)
        );
        assert_eq!(
            ledger.withdraw(&id("new")).await.unwrap(),
            Stopped::Not(Entry::Withdrawn),
            "withdrawn before any attempt: nobody to tell"
        );
    }
}

#[tokio::test]
async fn a_claim_renewed_while_its_attempt_runs_is_not_taken_over() {
    use adapters::runtime::holding;
    let dir = std::env::temp_dir().join(format!("ledger-{}", uuid::Uuid::new_v4()));
    let path = dir.join("ledger.sqlite");
    let url = contract::plumbing::postgres::new_schema(
        &contract::plumbing::postgres::test_server(),
        "ledger",
    )
    .await
    .unwrap();
    // Claims of a second each: an attempt of three seconds outlasts its lease thrice.
    let pairs = [
        ("sqlite", sqlite(&path, 1).await, sqlite(&path, 1).await),
        ("postgres", postgres(&url, 1).await, postgres(&url, 1).await),
    ];
    for (name, holder, other) in pairs {
        let [slow, unrenewed, lapsed] =
            ["slow", "unrenewed", "lapsed"].map(|n| id(&format!("{name}-{n}")));
        for claimed in [&slow, &unrenewed, &lapsed] {
            assert_eq!(holder.claim(claimed).await.unwrap(), Claim::Won, "{name}");
        }
        let attempt = holding(
            holder.as_ref(),
            &slow,
            tokio::time::sleep(Duration::from_secs(3)),
        );
        let racer = async {
            tokio::time::sleep(Duration::from_millis(2000)).await;
            (
                other.claim(&slow).await.unwrap(),
                other.claim(&unrenewed).await.unwrap(),
            )
        };
        let ((), (slow_claim, unrenewed_claim)) = tokio::join!(attempt, racer);
        // Without the heartbeat it would be taken over as one whose outcome is unknown.
        assert_eq!(slow_claim, Claim::Lost(Entry::Delivering), "{name}");
        assert_eq!(unrenewed_claim, Claim::WonAfterUnknown, "{name}");
        // A claim that ran out is not revived by renewing it.
        assert!(!holder.renew(&lapsed).await.unwrap(), "{name}");
        let never = id(&format!("{name}-never"));
        assert!(!holder.renew(&never).await.unwrap(), "{name}");
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn the_id_a_transport_gave_a_delivery_finds_it_and_no_other() {
    for (name, [a, b, _]) in backends().await {
        assert_eq!(a.claim(&id("sent")).await.unwrap(), Claim::Won);
        a.delivered(&id("sent"), "bv", Some("fiks-1"))
            .await
            .unwrap();
        let delivered = Entry::Delivered {
            recipient: "bv".into(),
        };
        assert_eq!(
            b.by_remote_id("fiks-1").await.unwrap(),
            Some((id("sent"), delivered)),
            "{name}"
        );
        assert_eq!(b.by_remote_id("fiks-2").await.unwrap(), None, "{name}");
        // One id names one message: another delivery cannot take it over.
        assert_eq!(b.claim(&id("other")).await.unwrap(), Claim::Won);
        assert!(
            b.delivered(&id("other"), "bv", Some("fiks-1"))
                .await
                .is_err(),
            "{name}"
        );
    }
}

#[tokio::test]
async fn concurrent_deliveries_each_get_their_own_answer_and_every_answer_is_durable() {
    for (name, [a, b, _]) in backends().await {
        // 200 deliveries at once, one of them naming a transport id another already has:
        // it fails alone, the others are delivered.
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let ledger = a.clone();
                tokio::spawn(async move {
                    let message = id(&format!("many-{i}"));
                    assert_eq!(ledger.claim(&message).await.unwrap(), Claim::Won);
                    let remote = format!("remote-{}", if i == 199 { 0 } else { i });
                    if i == 199 {
                        // After the first has its id.
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    ledger.delivered(&message, "bv", Some(&remote)).await
                })
            })
            .collect();
        let mut failed = Vec::new();
        for (i, task) in tasks.into_iter().enumerate() {
            if task.await.unwrap().is_err() {
                failed.push(i);
            }
        }
        assert_eq!(failed, [199], "{name}");
        // Another handle (another process) sees every answered write.
        let delivered = Entry::Delivered {
            recipient: "bv".into(),
        };
        for i in 0..199 {
            assert_eq!(
                b.entry(&id(&format!("many-{i}"))).await.unwrap(),
                delivered,
                "{name}: {i}"
            );
        }
        assert_eq!(
            b.entry(&id("many-199")).await.unwrap(),
            Entry::Delivering,
            "{name}"
        );
    }
}
