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
