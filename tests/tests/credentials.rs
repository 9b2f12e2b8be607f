//! Agencies' own credentials: a Maskinporten-shaped token (from the development stand-in of
//! the `[[auth.issuers]]` entry) sends and reads by its scopes, beside the gateway's own
//! tokens, and names its acting agency where its organisation number needs it.

use gateway::devkeys::DevMaskinporten;
use serde_json::Value;
use tests::{Harness, SCHOOL, bekymringsmelding};

/// Hasle skole's organisation number in the development directory.
const HASLE: &str = "974590000";
const SEND: &str = "referral-gateway:send";
const READ: &str = "referral-gateway:read";

fn maskinporten(h: &Harness, orgnr: &str, scope: &str) -> String {
    let issuer = h.config.auth.issuers[0].issuer_and_jwks().unwrap().0;
    let claims = DevMaskinporten::claims(&issuer, orgnr, scope, 120);
    DevMaskinporten::ensure(&h.dir.join("keys"))
        .unwrap()
        .sign(&claims)
        .unwrap()
}

#[tokio::test]
async fn a_maskinporten_token_sends_and_reads_by_its_scopes_beside_the_gateways_own() {
    let h = Harness::new().await;
    let message = bekymringsmelding();
    let id = message["messageId"].as_str().unwrap();
    // Read only: no sending.
    let reader = maskinporten(&h, HASLE, READ);
    tests::problem(h.post(&reader, &message).await, 403, "forbidden").await;
    // Send and read: the school's organisation number names the school.
    let both = maskinporten(&h, HASLE, &format!("{SEND} {READ}"));
    let posted = h.post(&both, &message).await;
    assert_eq!(posted.status(), 202, "{}", posted.text().await.unwrap());
    let view: Value = h
        .get(&format!("/v1/messages/{id}"), Some(&reader))
        .await
        .json()
        .await
        .unwrap();
    // Found among the school's messages, under the school's id for it.
    assert_eq!(
        view["gatewayId"],
        tests::gateway_id(SCHOOL, &message),
        "{view}"
    );
    // Send only: no reading.
    let sender = maskinporten(&h, HASLE, SEND);
    let refused = h.get(&format!("/v1/messages/{id}"), Some(&sender)).await;
    tests::problem(refused, 403, "forbidden").await;
    // The gateway's own token for the same agency, at the same time.
    let own = h.token(SCHOOL);
    let status = h
        .get(&format!("/v1/messages/{id}"), Some(&own))
        .await
        .status();
    assert_eq!(status, 200);
    // An organisation number the directory does not know.
    let foreign = maskinporten(&h, "999999999", SEND);
    tests::problem(
        h.post(&foreign, &bekymringsmelding()).await,
        403,
        "unknown-organisation",
    )
    .await;
    h.cleanup().await;
}

#[tokio::test]
async fn an_acting_agency_of_another_organisation_is_refused_with_the_ones_it_covers() {
    let h = Harness::new().await;
    let token = maskinporten(&h, HASLE, SEND);
    let answer = h
        .http
        .post(format!("{}/v1/messages", h.base()))
        .bearer_auth(&token)
        .header("X-Acting-Agency", "no-bergen-nordnes-skole")
        .json(&bekymringsmelding())
        .send()
        .await
        .unwrap();
    let problem = tests::problem(answer, 403, "acting-agency").await;
    assert!(
        problem["detail"].as_str().unwrap().contains(SCHOOL),
        "{problem}"
    );
    h.cleanup().await;
}

#[tokio::test]
async fn a_vendor_sending_for_the_school_is_in_the_audit_trail_beside_it() {
    let h = Harness::new().await;
    let issuer = h.config.auth.issuers[0].issuer_and_jwks().unwrap().0;
    let mut claims = DevMaskinporten::claims(&issuer, HASLE, SEND, 120);
    claims["supplier"] =
        serde_json::json!({ "authority": "iso6523-actorid-upis", "ID": "0192:987654321" });
    let token = DevMaskinporten::ensure(&h.dir.join("keys"))
        .unwrap()
        .sign(&claims)
        .unwrap();
    let message = bekymringsmelding();
    assert_eq!(h.post(&token, &message).await.status(), 202);
    let gateway_id = tests::gateway_id(SCHOOL, &message);
    let store = gateway::app::open_store(&h.config, Default::default())
        .await
        .unwrap();
    let recorded: Vec<_> = store
        .audit_entries(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.message_id == gateway_id && e.action == "recorded")
        .collect();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].actor, format!("{SCHOOL} supplier:987654321"));
    h.cleanup().await;
}
