//! What every store backend must do, through the seam only ([`Store`]): no broker, no HTTP.
//! Each test runs against every backend of [`backends`] (SQLite, and PostgreSQL in a schema
//! of its own on the local server, which `ops/postgres/ensure` sets up); a new backend adds
//! a line there and must pass all of it. One test is PostgreSQL's alone, and says why.

use contract::directory::{AgencyId, AgencyType};
use contract::message::{Kind, MessageId};
use contract::plumbing::clock::Clock;
use gateway::consent::{Consent, ConsentForm, Grantor};
use gateway::deadlines::DeadlinesConfig;
use gateway::keys::KeyRing;
use gateway::record::{
    ConsentRecorded, NewMessage, PgStore, Recorded, Refused, Rewrapped, SqliteStore, Status, Store,
    gateway_id, rewrap,
};
use std::collections::BTreeSet;
use std::sync::{Arc, LazyLock};
use time::{Duration, OffsetDateTime};

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// A backend's name, and two handles on one database of it.
type Backends = Vec<(&'static str, Arc<dyn Store>, Arc<dyn Store>)>;

/// Two handles on one fresh database of each backend (two instances sharing it), chaining
/// with the tests' audit key.
async fn backends() -> Backends {
    backends_at(Arc::default()).await
}

/// The same, writing times by `clock`.
async fn backends_at(clock: Arc<Clock>) -> Backends {
    let dir = std::env::temp_dir().join(format!("gw-store-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("gateway.sqlite");
    let url = contract::plumbing::postgres::new_schema(
        &contract::plumbing::postgres::test_server(),
        "store",
    )
    .await
    .expect("the PostgreSQL server of the tests (ops/postgres/ensure)");
    let backends: Backends = vec![
        (
            "sqlite",
            Arc::new(SqliteStore::open(&path, clock.clone()).await.unwrap()),
            Arc::new(SqliteStore::open(&path, clock.clone()).await.unwrap()),
        ),
        (
            "postgres",
            Arc::new(PgStore::open(&url, clock.clone()).await.unwrap()),
            Arc::new(PgStore::open(&url, clock).await.unwrap()),
        ),
    ];
    for (_, store, other) in &backends {
        store.chain_with(KEYS.audit_key());
        other.chain_with(KEYS.audit_key());
    }
    backends
}

/// The sender's message id named `name`.
fn client(name: &str) -> MessageId {
    MessageId(uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        name.as_bytes(),
    ))
}

fn org(id: &str) -> AgencyId {
    AgencyId(id.into())
}

/// The keys the messages of these tests are sealed with.
static KEYS: LazyLock<KeyRing> = LazyLock::new(|| KeyRing::generate(None));

fn message(sender: &str, client_id: &str) -> NewMessage {
    let id = gateway_id(&org(sender), &client(client_id));
    NewMessage {
        id,
        client_id: client(client_id),
        sender: org(sender),
        supplier: None,
        recipient: org("bv"),
        kind: Kind::NoBekymringsmelding,
        legal_basis: "no.bvl2021.13-2".into(),
        body_hash: "h".into(),
        routing_key: "queue.bv".into(),
        routed: KEYS.lock(b"the child's data", id.to_string().as_bytes()),
        consent_ref: None,
        subject_hashes: vec!["a-hash".into()],
        trace_id: None,
    }
}

/// A refusal of message `id` from `sender` to barnevern, for no reason in particular.
fn refused<'a>(id: &'a MessageId, sender: &'a AgencyId) -> Refused<'a> {
    Refused {
        message_id: id,
        sender,
        supplier: None,
        recipient: "bv",
        kind: Kind::NoBekymringsmelding,
        legal_basis: "no.bvl2021.13-2",
        reasons: serde_json::json!([]),
    }
}

#[tokio::test]
async fn a_message_is_recorded_once_per_sender_and_id() {
    for (name, store, other) in backends().await {
        let msg = message("school", "m");
        assert_eq!(store.record(&msg, now()).await.unwrap(), Recorded::New);
        let again = other.record(&msg, now()).await.unwrap();
        assert_eq!(
            again,
            Recorded::Existing {
                body_hash: "h".into(),
                status: Status::Recorded
            },
            "{name}"
        );
        // The same id from another sender is a message of its own, and neither sees the
        // other's.
        let theirs = message("another", "m");
        assert_eq!(store.record(&theirs, now()).await.unwrap(), Recorded::New);
        let view = store
            .status(&client("m"), &org("school"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(view.gateway_id, msg.id, "{name}");
        assert!(
            store
                .status(&client("m"), &org("nobody"))
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test]
async fn two_instances_recording_one_message_at_once_record_it_once() {
    for (name, a, b) in backends().await {
        for round in 0..10 {
            let msg = message("school", &format!("same-{round}"));
            let (x, y) = tokio::join!(a.record(&msg, now()), b.record(&msg, now()));
            let new = [x.unwrap(), y.unwrap()]
                .iter()
                .filter(|r| **r == Recorded::New)
                .count();
            assert_eq!(new, 1, "{name}: round {round}");
        }
        let stored = a.keys_not_under("no such key", 100).await.unwrap();
        assert_eq!(stored.len(), 10, "{name}: one sealed payload a message");
        let msg = message("school", "same-0");
        let sent = b.claim(&msg.id, now()).await.unwrap().expect("claimable");
        let opened = KEYS.unlock(&sent.routed, msg.id.to_string().as_bytes());
        assert_eq!(opened.unwrap(), b"the child's data", "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_repeated_in_its_batch_and_after_it_is_audited_once() {
    use gateway::record::verify;
    for (name, a, b) in backends().await {
        // Each message eight times at once from two instances: repeats in the batch that
        // records it, and in the other instance's batches before and after it.
        for round in 0..5 {
            let msg = message("school", &format!("repeated-{round}"));
            let records = (0..8).map(|i| {
                let (store, msg) = (if i % 2 == 0 { &a } else { &b }.clone(), msg.clone());
                async move { store.record(&msg, now()).await.unwrap() }
            });
            let recorded = futures_util::future::join_all(records).await;
            let new = recorded.iter().filter(|r| **r == Recorded::New).count();
            assert_eq!(new, 1, "{name}: round {round}");
        }
        let entries = a.audit_entries(0, 100).await.unwrap();
        let recorded: BTreeSet<&str> = entries.iter().map(|e| e.message_id.as_str()).collect();
        assert_eq!(
            (entries.len(), recorded.len()),
            (5, 5),
            "{name}: {entries:?}"
        );
        let report = verify(b.as_ref(), &KEYS.audit_key(), None).await.unwrap();
        assert_eq!((report.entries, report.head.seq), (5, 5), "{name}");
        assert!(report.breaks.is_empty(), "{name}: {:?}", report.breaks);
    }
}

#[tokio::test]
async fn two_instances_racing_for_a_publish_never_both_win() {
    for (name, a, b) in backends().await {
        let lease = now() + Duration::seconds(30);
        for round in 0..20 {
            // Recorded with a claim that has already run out, as after a failed publish.
            let msg = message("school", &format!("m-{round}"));
            a.record(&msg, now() - Duration::seconds(1)).await.unwrap();
            let (x, y) = tokio::join!(a.claim(&msg.id, lease), b.claim(&msg.id, lease));
            let winners = [x.unwrap(), y.unwrap()]
                .iter()
                .filter(|c| c.is_some())
                .count();
            assert_eq!(winners, 1, "{name}: request against request, round {round}");
            // A sweep against a request.
            let msg = message("school", &format!("n-{round}"));
            a.record(&msg, now() - Duration::seconds(1)).await.unwrap();
            let (x, y) = tokio::join!(a.claim_due(10, lease, false), b.claim(&msg.id, lease));
            let swept = x.unwrap().iter().filter(|m| m.id == msg.id).count();
            assert_eq!(
                swept + usize::from(y.unwrap().is_some()),
                1,
                "{name}: sweep against request"
            );
        }
        // At start-up a sweep takes over another instance's claims, never its own; unless
        // instances share the store: then a live instance's claims stay its own until their
        // lease runs out (a dead one's are taken, as in the rounds above).
        let mine = message("school", "mine");
        b.record(&mine, now() + Duration::seconds(30))
            .await
            .unwrap();
        let theirs = message("school", "theirs");
        a.record(&theirs, now() + Duration::seconds(30))
            .await
            .unwrap();
        let taken: Vec<MessageId> = b
            .claim_due(100, lease, true)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect();
        if b.shared() {
            assert!(taken.is_empty(), "{name}: {taken:?}");
        } else {
            assert!(
                taken.contains(&theirs.id) && !taken.contains(&mine.id),
                "{name}: {taken:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_later_status_implies_queued_and_every_accepted_message_is_counted() {
    for (name, store, _) in backends().await {
        let early = message("school", "early");
        store.record(&early, now()).await.unwrap();
        // The adapter's report arrives before the gateway marks the message queued.
        assert!(
            store
                .advance(&early.id, Status::Delivered, None)
                .await
                .unwrap()
        );
        assert!(!store.mark_queued(&early.id).await.unwrap());
        let view = store
            .status(&client("early"), &org("school"))
            .await
            .unwrap()
            .unwrap();
        let statuses: Vec<Status> = view.history.iter().map(|h| h.status).collect();
        assert_eq!(
            statuses,
            [Status::Recorded, Status::Queued, Status::Delivered],
            "{name}"
        );
        assert_eq!(
            view.history[1].at, view.history[2].at,
            "{name}: queued when the later status found it recorded"
        );
        // A status never moves back.
        assert!(
            !store
                .advance(&early.id, Status::Queued, None)
                .await
                .unwrap()
        );
        let normal = message("school", "normal");
        store.record(&normal, now()).await.unwrap();
        assert!(store.mark_queued(&normal.id).await.unwrap());
        let withdrawn = message("school", "withdrawn");
        store.record(&withdrawn, now()).await.unwrap();
        assert!(
            store
                .advance(&withdrawn.id, Status::Withdrawn, None)
                .await
                .unwrap()
        );
        assert_eq!(
            store.accepted_counts().await.unwrap(),
            [("queue".to_owned(), 2)],
            "{name}"
        );
        let open: Vec<(MessageId, Vec<Status>)> = store
            .open_messages(Some(&org("school")))
            .await
            .unwrap()
            .into_iter()
            .map(|v| (v.message_id, v.history.iter().map(|h| h.status).collect()))
            .collect();
        assert_eq!(
            open,
            [
                (client("early"), statuses),
                (client("normal"), vec![Status::Recorded, Status::Queued])
            ],
            "{name}: withdrawn is final"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mark_not_waited_for_is_read_by_the_next_status_and_by_a_repeated_record() {
    for (name, store, _) in backends().await {
        for i in 0..40 {
            let msg = message("school", &format!("soon{i}"));
            let hold = now() + Duration::minutes(1);
            assert_eq!(store.record(&msg, hold).await.unwrap(), Recorded::New);
            // A request answers 202 once the mark is queued for the next batch, before it
            // commits: the sender's next read must find the message queued all the same.
            store.mark_queued_soon(&msg.id).await.unwrap();
            let view = store
                .status(&msg.client_id, &msg.sender)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(view.status, Status::Queued, "{name}: read {i}");
            let other = message("school", &format!("again{i}"));
            store.record(&other, hold).await.unwrap();
            store.mark_queued_soon(&other.id).await.unwrap();
            // So must a repeat of the request, whose record joins a batch after the mark.
            assert!(
                matches!(
                    store.record(&other, hold).await.unwrap(),
                    Recorded::Existing {
                        status: Status::Queued,
                        ..
                    }
                ),
                "{name}: repeat {i}"
            );
        }
        let view = store
            .status(&client("again39"), &org("school"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(view.status, Status::Queued, "{name}");
        assert_eq!(
            store.accepted_counts().await.unwrap(),
            [("queue".to_owned(), 80)],
            "{name}: every mark counted once"
        );
    }
}

fn consent(organisation: &str, id: &str) -> Consent {
    Consent {
        consent_id: id.into(),
        organisation: org(organisation),
        recorded_by: "teacher".into(),
        subject_hash: "subject".into(),
        granted_by: vec![Grantor::Subject, Grantor::Guardians],
        categories: vec!["concern".into()],
        recipient_types: vec![AgencyType::Police],
        purpose: Kind::NoPolitikontakt,
        groups: false,
        valid_from: time::macros::date!(2026 - 01 - 01),
        valid_to: time::macros::date!(2099 - 12 - 31),
        form: ConsentForm::Written,
        recorded_at: "2026-01-01T00:00:00.000000Z".into(),
        withdrawn_at: None,
    }
}

#[tokio::test]
async fn withdrawing_a_consent_stops_what_is_undelivered_and_lists_what_was_delivered() {
    for (name, store, other) in backends().await {
        let c = consent("school", "c-1");
        assert_eq!(
            store.record_consent(&c, "b").await.unwrap(),
            ConsentRecorded::New
        );
        assert_eq!(
            other.record_consent(&c, "b").await.unwrap(),
            ConsentRecorded::Existing {
                body_hash: "b".into()
            },
            "{name}"
        );
        assert!(
            store
                .consent(&org("another"), "c-1")
                .await
                .unwrap()
                .is_none()
        );
        let cite = |id: &str| NewMessage {
            consent_ref: Some("c-1".into()),
            ..message("school", id)
        };
        let (waiting, delivered) = (cite("waiting"), cite("delivered"));
        for m in [&waiting, &delivered] {
            store.record(m, now()).await.unwrap();
        }
        store
            .advance(&delivered.id, Status::Delivered, None)
            .await
            .unwrap();
        let withdrawal = store
            .withdraw_consent(&org("school"), "c-1")
            .await
            .unwrap()
            .unwrap();
        let ids = |list: &[gateway::record::Affected]| {
            list.iter().map(|a| a.client_id).collect::<Vec<_>>()
        };
        assert_eq!(ids(&withdrawal.stopped), [client("waiting")], "{name}");
        assert_eq!(ids(&withdrawal.delivered), [client("delivered")], "{name}");
        let view = store
            .status(&client("waiting"), &org("school"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(view.status, Status::Withdrawn);
        let stored = store.consent(&org("school"), "c-1").await.unwrap().unwrap();
        assert!(stored.withdrawn_at.is_some(), "{name}");
        assert!(
            store
                .withdraw_consent(&org("another"), "c-1")
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test]
async fn a_vendor_acting_for_the_sender_is_in_the_audit_trail_beside_it() {
    for (name, store, _) in backends().await {
        let mut msg = message("school", "by-vendor");
        msg.supplier = Some("987654321".into());
        store.record(&msg, now()).await.unwrap();
        let (id, school) = (client("refused-by-vendor"), org("school"));
        store
            .record_refusal(&Refused {
                supplier: Some("987654321"),
                ..refused(&id, &school)
            })
            .await
            .unwrap();
        store
            .record(&message("school", "own"), now())
            .await
            .unwrap();
        let actors: Vec<(String, String)> = store
            .audit_entries(0, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|e| (e.action, e.actor))
            .collect();
        let expected = [
            ("recorded", "school supplier:987654321"),
            ("refused", "school supplier:987654321"),
            ("recorded", "school"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()));
        assert_eq!(actors, expected, "{name}");
    }
}

#[tokio::test]
async fn refusals_keep_reasons_for_their_sender_only() {
    for (_, store, _) in backends().await {
        let (id, school) = (client("r"), org("school"));
        let refused = Refused {
            reasons: serde_json::json!([{ "rule": "subject_age" }]),
            ..refused(&id, &school)
        };
        store.record_refusal(&refused).await.unwrap();
        assert_eq!(store.refusals(&id, &school).await.unwrap().len(), 1);
        assert!(
            store
                .refusals(&id, &org("another"))
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn a_payload_is_erased_once_it_can_never_be_sent_again() {
    for (name, store, _) in backends().await {
        let [delivered, withdrawn, failed, queued, waiting] =
            ["d", "w", "f", "q", "r"].map(|id| message("school", id));
        for msg in [&delivered, &withdrawn, &failed, &queued, &waiting] {
            store.record(msg, now()).await.unwrap();
        }
        for msg in [&delivered, &failed, &queued] {
            store.mark_queued(&msg.id).await.unwrap();
        }
        store
            .advance(&delivered.id, Status::Delivered, None)
            .await
            .unwrap();
        store
            .advance(&withdrawn.id, Status::Withdrawn, None)
            .await
            .unwrap();
        store
            .advance(&failed.id, Status::Failed, Some("inbox answered 400"))
            .await
            .unwrap();
        let erased = |client_id: &str| {
            let store = store.clone();
            let client_id = client(client_id);
            async move {
                let view = store
                    .status(&client_id, &org("school"))
                    .await
                    .unwrap()
                    .unwrap();
                view.payload_erased_at.is_some()
            }
        };
        assert!(erased("d").await && erased("w").await, "{name}: at once");
        assert!(
            !erased("f").await && !erased("q").await,
            "{name}: kept for replay"
        );
        // Within the grace period nothing more; past it, failed and queued ones go, and a
        // message still waiting for the broker never.
        assert_eq!(
            store
                .erase_settled(now() - Duration::days(1))
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            store
                .erase_settled(now() + Duration::seconds(1))
                .await
                .unwrap(),
            2,
            "{name}"
        );
        assert!(erased("f").await && erased("q").await);
        assert!(!erased("r").await);
        assert_eq!(
            store.keys_in_use().await.unwrap(),
            [KEYS.current()],
            "{name}"
        );
        let waiting = store.claim(&waiting.id, now()).await.unwrap().unwrap();
        let opened = KEYS.unlock(&waiting.routed, waiting.id.to_string().as_bytes());
        assert_eq!(
            opened.unwrap(),
            b"the child's data",
            "{name}: still sendable"
        );
    }
}

#[tokio::test]
async fn rewrapping_moves_every_data_key_once_even_when_two_race() {
    for (name, store, other) in backends().await {
        let mut keys = KEYS.clone();
        let messages: Vec<NewMessage> = (0..40)
            .map(|i| message("school", &format!("k{i}")))
            .collect();
        for msg in &messages {
            store
                .record(msg, now() - Duration::minutes(1))
                .await
                .unwrap();
        }
        let old = keys.current().to_owned();
        keys.rotate();
        let (a, b) = tokio::join!(rewrap(store.as_ref(), &keys), rewrap(other.as_ref(), &keys));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.rewrapped + b.rewrapped, 40, "{name}: each key once");
        assert_eq!(
            rewrap(store.as_ref(), &keys).await.unwrap(),
            Rewrapped::default()
        );
        assert_eq!(store.keys_in_use().await.unwrap(), [keys.current()]);
        keys.prune(&[], "");
        assert!(!keys.key_ids().contains(&old));
        // Every payload still opens, under the new key alone.
        let due = store
            .claim_due(100, now() + Duration::minutes(1), true)
            .await
            .unwrap();
        assert_eq!(due.len(), 40, "{name}");
        for msg in due {
            let opened = keys
                .unlock(&msg.routed, msg.id.to_string().as_bytes())
                .unwrap();
            assert_eq!(opened, b"the child's data");
        }
    }
}

#[tokio::test]
async fn every_audit_entry_is_chained_by_the_transaction_that_writes_it() {
    use gateway::record::verify;
    for (name, store, other) in backends().await {
        let key = KEYS.audit_key();
        for i in 0..30 {
            store
                .record(&message("school", &format!("a{i}")), now())
                .await
                .unwrap();
        }
        // No chaining step: the head is chained the moment it is written.
        let report = verify(other.as_ref(), &key, None).await.unwrap();
        assert_eq!((report.entries, report.head.seq), (30, 30), "{name}");
        assert!(report.breaks.is_empty(), "{name}: {:?}", report.breaks);
        assert_eq!(store.audit_head().await.unwrap(), report.head, "{name}");
        // Another key (a forger's) does not make the same chain.
        let forged = KeyRing::generate(None).audit_key();
        let report = verify(store.as_ref(), &forged, None).await.unwrap();
        assert_eq!(report.breaks.len(), 30, "{name}");
    }
}

#[tokio::test]
async fn a_store_without_its_audit_key_writes_nothing_audited() {
    let dir = std::env::temp_dir().join(format!("gw-store-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.join("gateway.sqlite"), Arc::default())
            .await
            .unwrap(),
    );
    let refused = store.record(&message("school", "unkeyed"), now()).await;
    assert!(refused.is_err(), "recorded without a chain");
    assert!(
        store
            .status(&client("unkeyed"), &org("school"))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn after_the_audit_period_records_go_and_the_chain_goes_on_from_its_signed_anchor() {
    use gateway::record::verify;
    for (name, store, _) in backends().await {
        let key = KEYS.audit_key();
        let (old, open) = (message("school", "old"), message("school", "open"));
        for msg in [&old, &open] {
            store.record(msg, now()).await.unwrap();
        }
        store.mark_queued(&old.id).await.unwrap();
        store
            .advance(&old.id, Status::Delivered, None)
            .await
            .unwrap();
        let (used, unused) = (consent("school", "used"), consent("school", "unused"));
        for c in [&used, &unused] {
            store.record_consent(c, "h").await.unwrap();
        }
        let mut under = message("school", "under-consent");
        under.consent_ref = Some(used.consent_id.clone());
        store.record(&under, now()).await.unwrap();
        let pruned = store.prune(now() + Duration::seconds(1)).await.unwrap();
        // The newest entry (the last record) stays: the chain goes on from it.
        assert_eq!(
            (pruned.messages, pruned.consents, pruned.audit_entries),
            (1, 1, 4),
            "{name}"
        );
        let status = |client_id: &str| {
            let (store, client_id) = (store.clone(), client(client_id));
            async move { store.status(&client_id, &org("school")).await.unwrap() }
        };
        assert!(status("old").await.is_none(), "{name}: gone");
        assert!(
            status("open").await.is_some(),
            "{name}: its payload is still needed"
        );
        let kept = store.consent(&org("school"), &used.consent_id).await;
        assert!(kept.unwrap().is_some(), "{name}: a kept message uses it");
        let gone = store.consent(&org("school"), &unused.consent_id).await;
        assert!(gone.unwrap().is_none(), "{name}: nothing uses it");
        store
            .record(&message("school", "later"), now())
            .await
            .unwrap();
        let report = verify(store.as_ref(), &key, None).await.unwrap();
        assert_eq!((report.anchor.seq, report.entries), (4, 2), "{name}");
        assert!(report.breaks.is_empty(), "{name}: {:?}", report.breaks);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_writing_at_once_leave_no_gap_and_no_break() {
    use gateway::record::verify;
    for (name, store, other) in backends().await {
        let key = KEYS.audit_key();
        // Both instances write at once (messages, refusals and consents: every kind of
        // audit entry); the entries must chain in the order they became visible, with no
        // number missing.
        let mut writers = tokio::task::JoinSet::new();
        for w in 0..4 {
            let store = if w % 2 == 0 {
                store.clone()
            } else {
                other.clone()
            };
            writers.spawn(async move {
                for i in 0..40 {
                    let msg = message("school", &format!("w{w}-{i}"));
                    store.record(&msg, now()).await.unwrap();
                    store.mark_queued(&msg.id).await.unwrap();
                    if i % 10 == 0 {
                        let client_id = client(&format!("r{w}-{i}"));
                        store
                            .record_refusal(&refused(&client_id, &org("school")))
                            .await
                            .unwrap();
                        let c = consent("school", &format!("c{w}-{i}"));
                        store.record_consent(&c, "h").await.unwrap();
                        store
                            .withdraw_consent(&org("school"), &c.consent_id)
                            .await
                            .unwrap();
                    }
                }
            });
        }
        writers.join_all().await;
        let report = verify(store.as_ref(), &key, None).await.unwrap();
        // 160 messages, 16 refusals, 16 consents recorded and withdrawn.
        assert_eq!((report.entries, report.head.seq), (208, 208), "{name}");
        assert!(report.breaks.is_empty(), "{name}: {:?}", report.breaks);
    }
}

#[tokio::test]
async fn many_writers_at_once_each_get_their_own_answer() {
    for (name, store, other) in backends().await {
        // 100 messages, each recorded by two requests at once (from two instances): the
        // writes share batches, yet each message is new to exactly one of them.
        let mut racers = tokio::task::JoinSet::new();
        for i in 0..200 {
            let store = if i % 2 == 0 {
                store.clone()
            } else {
                other.clone()
            };
            racers.spawn(async move {
                let msg = message("school", &format!("g{}", i / 2));
                let recorded = store.record(&msg, now()).await.unwrap();
                let queued = store.mark_queued(&msg.id).await.unwrap();
                (recorded == Recorded::New, queued)
            });
        }
        let answers = racers.join_all().await;
        let new = answers.iter().filter(|(new, _)| *new).count();
        let queued = answers.iter().filter(|(_, queued)| *queued).count();
        assert_eq!((new, queued), (100, 100), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_outside_the_batches_gets_its_turn_while_batches_keep_coming() {
    for (name, store, _) in backends().await {
        let waiting = message("school", "waiting");
        store.record(&waiting, now()).await.unwrap();
        // Writers that never pause: the batches' writer always has work queued.
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut writers = tokio::task::JoinSet::new();
        for w in 0..32 {
            let (store, stop) = (store.clone(), stop.clone());
            writers.spawn(async move {
                let mut written = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let msg = message("school", &format!("load-{w}-{written}"));
                    store.record(&msg, now()).await.unwrap();
                    store.mark_queued(&msg.id).await.unwrap();
                    written += 1;
                }
                written
            });
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        // A publish claim is not one of the batched writes: it gets the store's writing
        // connection while the load goes on (the load stops only after it), not never.
        let claimed = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            store.claim(&waiting.id, now() + Duration::minutes(1)),
        )
        .await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let written: u32 = writers.join_all().await.into_iter().sum();
        let claimed = claimed.unwrap_or_else(|_| panic!("{name}: the claim never got its turn"));
        assert!(claimed.unwrap().is_some(), "{name}: the claim was not won");
        assert!(written > 0, "{name}: no load");
    }
}

#[tokio::test]
async fn repeated_status_events_in_one_batch_move_a_message_once_and_in_order() {
    for (name, store, other) in backends().await {
        let ids: Vec<MessageId> = (0..50)
            .map(|i| message("school", &format!("e{i}")).id)
            .collect();
        for i in 0..50 {
            let msg = message("school", &format!("e{i}"));
            store.record(&msg, now()).await.unwrap();
        }
        // Every message's delivery reported twice (by two instances) and its receipt, all at
        // once: they share batches, yet each move happens once, and the history keeps its
        // order.
        let mut events = tokio::task::JoinSet::new();
        for (i, id) in ids.iter().enumerate() {
            for (n, status) in [Status::Delivered, Status::Delivered, Status::Received]
                .into_iter()
                .enumerate()
            {
                let store = if (i + n) % 2 == 0 {
                    store.clone()
                } else {
                    other.clone()
                };
                let id = *id;
                events.spawn(async move { (id, status, store.advance(&id, status, None).await) });
            }
        }
        let mut moved = std::collections::BTreeMap::new();
        for (id, status, result) in events.join_all().await {
            *moved.entry((id, status.as_str())).or_insert(0) += u32::from(result.unwrap());
        }
        for id in &ids {
            let delivered = moved[&(*id, "delivered")];
            assert!(delivered <= 1, "{name}: delivered {delivered} times");
            let view = store
                .status(
                    &client(&format!("e{}", ids.iter().position(|i| i == id).unwrap())),
                    &org("school"),
                )
                .await
                .unwrap()
                .unwrap();
            let history: Vec<&str> = view.history.iter().map(|e| e.status.as_str()).collect();
            // A receipt that came before its delivery's report leaves no delivered entry
            // after it: the history only moves forward.
            assert!(
                history == ["recorded", "queued", "delivered", "received"]
                    || history == ["recorded", "queued", "received"],
                "{name}: {history:?}"
            );
            assert_eq!(history.contains(&"delivered"), delivered == 1, "{name}");
            assert_eq!(view.status, Status::Received, "{name}");
        }
    }
}

#[tokio::test]
async fn an_answer_enters_the_history_once_and_only_after_delivery() {
    for (name, a, b) in backends().await {
        let msg = message("school", "answered");
        a.record(&msg, now()).await.unwrap();
        // Before delivery the recipient has nothing to answer.
        assert!(!a.advance(&msg.id, Status::Assessed, None).await.unwrap());
        a.advance(&msg.id, Status::Delivered, None).await.unwrap();
        for _ in 0..10 {
            let (x, y) = tokio::join!(
                a.advance(&msg.id, Status::Decided, Some("investigation opened")),
                b.advance(&msg.id, Status::Decided, Some("investigation opened"))
            );
            assert!(
                !(x.unwrap() && y.unwrap()),
                "{name}: two instances both wrote it"
            );
        }
        assert!(a.advance(&msg.id, Status::Assessed, None).await.unwrap());
        let view = a
            .status(&client("answered"), &org("school"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            view.status,
            Status::Delivered,
            "{name}: answers leave the status"
        );
        let decided: Vec<_> = view
            .history
            .iter()
            .filter(|h| h.status == Status::Decided)
            .collect();
        assert_eq!(decided.len(), 1, "{name}");
        assert_eq!(decided[0].reason.as_deref(), Some("investigation opened"));
        assert_eq!(view.history.last().unwrap().status, Status::Assessed);
    }
}

#[tokio::test]
async fn the_store_finds_exactly_the_overdue_messages_a_full_scan_finds() {
    let clock = Arc::new(Clock::default());
    let deadlines = DeadlinesConfig::default();
    for (name, store, _) in backends_at(clock.clone()).await {
        // Messages of every kind, at every step, their steps hours apart.
        for i in 0..60usize {
            let mut msg = message(
                if i % 7 == 0 { "other" } else { "school" },
                &format!("d-{i}"),
            );
            msg.kind = Kind::ALL[i % Kind::ALL.len()];
            store.record(&msg, now()).await.unwrap();
            let steps: &[Status] = match i % 6 {
                0 => &[],
                1 => &[Status::Queued],
                2 => &[Status::Delivered],
                3 => &[Status::Delivered, Status::Received, Status::Assessed],
                4 => &[
                    Status::Delivered,
                    Status::Received,
                    Status::FeedbackGiven,
                    Status::InvestigationEnded,
                ],
                _ => &[Status::Failed],
            };
            for step in steps {
                clock.advance(Duration::hours((i % 9) as i64 * 5));
                store.advance(&msg.id, *step, None).await.unwrap();
            }
        }
        for days in [0, 1, 2, 4, 9, 15, 25, 40] {
            let at = clock.now() + Duration::days(days);
            for sender in [None, Some(org("school"))] {
                let found: BTreeSet<_> = deadlines
                    .overdue(store.as_ref(), sender.as_ref(), at)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|(v, missed)| (v.gateway_id, missed))
                    .collect();
                let scanned: BTreeSet<_> = store
                    .open_messages(sender.as_ref())
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|v| {
                        let missed = deadlines.missed(v.kind, v.status, &v.history, at);
                        (v.gateway_id, missed)
                    })
                    .filter(|(_, missed)| !missed.is_empty())
                    .collect();
                assert_eq!(found, scanned, "{name}: {days} days on, {sender:?}");
                if days == 40 {
                    assert!(!found.is_empty(), "{name}: the test finds some");
                }
            }
        }
    }
}

#[tokio::test]
async fn the_outbox_keeps_a_senders_trace_and_counts_what_waits() {
    for (name, store, _) in backends().await {
        assert_eq!(store.outbox_depth().await.unwrap(), 0, "{name}");
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        let traced = NewMessage {
            trace_id: Some(trace.into()),
            ..message("school", "traced")
        };
        let plain = message("school", "plain");
        for m in [&traced, &plain] {
            store.record(m, now() - Duration::seconds(1)).await.unwrap();
        }
        assert_eq!(store.outbox_depth().await.unwrap(), 2, "{name}");
        let waiting = store
            .claim_due(10, now() + Duration::seconds(30), true)
            .await
            .unwrap();
        let trace_of = |id| {
            waiting
                .iter()
                .find(|m| m.id == id)
                .unwrap()
                .trace_id
                .clone()
        };
        assert_eq!(trace_of(traced.id).as_deref(), Some(trace), "{name}");
        assert_eq!(trace_of(plain.id), None, "{name}");
        assert!(store.mark_queued(&traced.id).await.unwrap());
        assert_eq!(store.outbox_depth().await.unwrap(), 1, "{name}");
        // The last hour, newest first.
        let recent = store.recent(now() - Duration::hours(1)).await.unwrap();
        assert_eq!(recent.len(), 2, "{name}");
        assert!(
            store
                .recent(now() + Duration::minutes(1))
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn an_operators_discard_expires_a_failed_message_and_is_audited_with_it() {
    for (name, store, _) in backends().await {
        let msg = message("school", "discarded");
        store.record(&msg, now()).await.unwrap();
        store
            .advance(&msg.id, Status::Failed, Some("inbox answered 400"))
            .await
            .unwrap();
        // A replay is audited and changes no status.
        let replay = "dead_letter_replay:transient_fault";
        assert!(
            !store
                .dead_letter_event(&msg.id, "operator-org", replay, None)
                .await
                .unwrap()
        );
        let discard = "dead_letter_discard:sent_in_error";
        let reason = Some("discarded by an operator");
        assert!(
            store
                .dead_letter_event(&msg.id, "operator-org", discard, reason)
                .await
                .unwrap(),
            "{name}"
        );
        // Only a failed message moves; the event is audited all the same.
        assert!(
            !store
                .dead_letter_event(&msg.id, "operator-org", discard, reason)
                .await
                .unwrap()
        );
        let entries = store.audit_entries(0, 100).await.unwrap();
        let of = |action: &str| {
            entries
                .iter()
                .filter(|e| {
                    e.action == action
                        && e.actor == "operator-org"
                        && e.message_id == msg.id.to_string()
                })
                .count()
        };
        assert_eq!((of(replay), of(discard)), (1, 2), "{name}: {entries:?}");
        let verified = gateway::record::verify(store.as_ref(), &KEYS.audit_key(), None)
            .await
            .unwrap();
        assert!(verified.breaks.is_empty(), "{name}: {verified:?}");
    }
}
