//! What the store's own tests share.

use crate::record::{NewMessage, gateway_id};
use contract::directory::AgencyId;
use contract::message::MessageId;

/// A new message from a school to `recipient`, its 2 KiB payload sealed with `keys`.
pub fn message(keys: &crate::keys::KeyRing, recipient: &str) -> NewMessage {
    let (sender, client) = (AgencyId("school".into()), MessageId(uuid::Uuid::new_v4()));
    NewMessage {
        id: gateway_id(&sender, &client),
        client_id: client,
        sender,
        supplier: None,
        recipient: AgencyId(recipient.into()),
        kind: contract::message::Kind::NoBekymringsmelding,
        legal_basis: "no.bvl2021.13-2".into(),
        body_hash: "h".into(),
        routing_key: "queue.bv".into(),
        routed: keys.lock(&[b'x'; 2048], b"y"),
        consent_ref: None,
        subject_hashes: Vec::new(),
        trace_id: None,
    }
}

/// Messages as the gateway wrote them before their first steps were derived (migration
/// "history derived"), its triggers writing each step into the history: each message's
/// client id, its moves (status, time) after it was recorded at `t1`, and the history it
/// must read as after the migration. One queued then delivered, one delivered before its
/// queued mark, one only recorded.
pub type LegacyHistory = (
    MessageId,
    &'static [(&'static str, &'static str)],
    Vec<(&'static str, &'static str)>,
);

/// The messages of [`LegacyHistory`], from the sender `school`.
pub fn legacy_histories() -> Vec<LegacyHistory> {
    let client = |n: u128| MessageId(uuid::Uuid::from_u128(n));
    vec![
        (
            client(1),
            &[("queued", "t2"), ("delivered", "t3")],
            vec![("recorded", "t1"), ("queued", "t2"), ("delivered", "t3")],
        ),
        (
            client(2),
            &[("delivered", "t4")],
            vec![("recorded", "t1"), ("queued", "t4"), ("delivered", "t4")],
        ),
        (client(3), &[], vec![("recorded", "t1")]),
    ]
}

/// The script (its values written in: ids and names of the tests' own) that records and
/// moves the messages of [`legacy_histories`] as the gateway did then.
pub fn legacy_script() -> String {
    let school = AgencyId("school".into());
    let mut script = String::new();
    for (client, moves, _) in legacy_histories() {
        let id = gateway_id(&school, &client);
        script.push_str(&format!(
            "INSERT INTO messages (id, client_id, sender, recipient, kind, legal_basis, body_hash, routing_key, routed, status, created_at, updated_at)
             VALUES ('{id}', '{client}', 'school', 'bv', 'no.bekymringsmelding', 'no.bvl2021.13-2', 'h', 'queue.bv', '', 'recorded', 't1', 't1');\n"
        ));
        for (status, at) in moves {
            script.push_str(&format!(
                "UPDATE messages SET status = '{status}', updated_at = '{at}' WHERE id = '{id}';\n"
            ));
        }
    }
    script
}

/// `migrator` without the migration described as `migration` and those after it: a
/// database as it was before that migration.
pub fn migrations_before(
    mut migrator: sqlx::migrate::Migrator,
    migration: &str,
) -> sqlx::migrate::Migrator {
    let at = migrator
        .migrations
        .iter()
        .position(|m| m.description.contains(migration))
        .expect("the migration exists");
    migrator.migrations = migrator.migrations[..at].to_vec().into();
    migrator
}

/// Checks that `store` reads each message of [`legacy_histories`] with the history it had.
pub async fn read_legacy_histories(store: &impl crate::record::Messages) {
    let school = AgencyId("school".into());
    for (client, _, expected) in legacy_histories() {
        let view = store.status(&client, &school).await.unwrap().unwrap();
        let history: Vec<(&str, &str)> = view
            .history
            .iter()
            .map(|e| (e.status.as_str(), e.at.as_str()))
            .collect();
        assert_eq!(history, expected, "message {client}");
    }
}
