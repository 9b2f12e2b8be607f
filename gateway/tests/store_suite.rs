//! What every store backend must do, through the seam only ([`Store`]): no broker, no HTTP.
//! Each test runs against every backend of [`backends`] (today SQLite); a new backend adds
//! a line there and must pass all of it.

use contract::directory::{AgencyId, AgencyType};
use contract::message::{Kind, MessageId};
use gateway::consent::{Consent, ConsentForm, Grantor};
use gateway::record::{
    ConsentRecorded, NewMessage, Recorded, Refused, SqliteStore, Status, Store, gateway_id,
};
use std::sync::Arc;
use time::{Duration, OffsetDateTime};

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Two handles on one fresh database of each backend (two instances sharing it).
async fn backends() -> Vec<(&'static str, Arc<dyn Store>, Arc<dyn Store>)> {
    let dir = std::env::temp_dir().join(format!("gw-store-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("gateway.sqlite");
    vec![(
        "sqlite",
        Arc::new(SqliteStore::open(&path, Arc::default()).await.unwrap()),
        Arc::new(SqliteStore::open(&path, Arc::default()).await.unwrap()),
    )]
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

fn message(sender: &str, client_id: &str) -> NewMessage {
    NewMessage {
        id: gateway_id(&org(sender), &client(client_id)),
        client_id: client(client_id),
        sender: org(sender),
        recipient: org("bv"),
        kind: Kind::NoBekymringsmelding,
        legal_basis: "no.bvl2021.13-2".into(),
        body_hash: "h".into(),
        routing_key: "queue.bv".into(),
        routed: vec![0],
        consent_ref: None,
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
        // At start-up a sweep takes over another instance's claims, never its own.
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
        assert!(
            taken.contains(&theirs.id) && !taken.contains(&mine.id),
            "{name}: {taken:?}"
        );
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
        let open: Vec<MessageId> = store
            .open_messages(Some(&org("school")))
            .await
            .unwrap()
            .into_iter()
            .map(|v| v.message_id)
            .collect();
        assert_eq!(
            open,
            [client("early"), client("normal")],
            "{name}: withdrawn is final"
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
async fn refusals_keep_reasons_for_their_sender_only_and_the_subject_key_is_stable() {
    for (name, store, other) in backends().await {
        let (id, school) = (client("r"), org("school"));
        let refused = Refused {
            message_id: &id,
            sender: &school,
            recipient: "bv",
            kind: Kind::NoBekymringsmelding,
            legal_basis: "no.bvl2021.13-2",
            reasons: serde_json::json!([{ "rule": "subject_age" }]),
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
        let (a, b) = tokio::join!(store.subject_key(), other.subject_key());
        assert_eq!(
            a.unwrap().hash("x"),
            b.unwrap().hash("x"),
            "{name}: one key, whoever asks first"
        );
    }
}
