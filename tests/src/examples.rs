//! The example messages and the names of the dev directory the tests use.

use crate::repo;
use serde_json::Value;

/// An example of `schemas/examples/valid/` with a fresh message id.
pub fn example(name: &str) -> Value {
    let path = repo()
        .join("schemas/examples/valid")
        .join(format!("{name}.json"));
    let mut value: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    value["messageId"] = Value::String(uuid::Uuid::new_v4().to_string());
    value
}

/// The example bekymringsmelding (Hasle skole → barnevern Oslo) with a fresh id.
pub fn bekymringsmelding() -> Value {
    example("no.bekymringsmelding")
}

/// A consent (`id`) of the school's pupil and guardians to share a referral with the
/// police contact.
pub fn police_consent(id: &str) -> Value {
    serde_json::json!({
        "consentId": id,
        "subject": { "nameAndBirthDate": { "name": "Ola  Testbarn", "birthDate": "2011-05-01" } },
        "grantedBy": ["subject", "guardians"],
        "categories": ["referral", "concern", "measures", "identity", "birth_date"],
        "recipientTypes": ["police"],
        "purpose": "no.politikontakt",
        "validFrom": "2026-01-01",
        "validTo": "2099-12-31",
        "form": "written"
    })
}

/// The example referral to the police contact under consent, citing `consent_id`.
pub fn police_referral(consent_id: &str) -> Value {
    let mut message = example("no.politikontakt.consent");
    message["legalBasis"]["consentRef"] = Value::String(consent_id.to_owned());
    message
}

/// Where a [`FakeInbox`] standing in for the police contact receives referrals.
pub const POLICE_INBOX: &str = "/inbox";
/// Where a [`FakeInbox`] standing in for the police contact receives withdrawal notices.
pub const WITHDRAWALS: &str = "/inbox/withdrawals";

/// The school that sends the example bekymringsmelding.
pub const SCHOOL: &str = "no-oslo-hasle-skole";
/// The receiving queue (directory name) of barnevern Oslo.
pub const OSLO_INBOX: &str = "barnevern.0301.inbox";

/// The gateway's id of `message` from `sender`: the id queues, inboxes, receipts and dead
/// letters carry.
pub fn gateway_id(sender: &str, message: &Value) -> String {
    let client_id = message["messageId"].as_str().unwrap().parse().unwrap();
    gateway::record::gateway_id(&contract::directory::AgencyId(sender.into()), &client_id)
        .to_string()
}
