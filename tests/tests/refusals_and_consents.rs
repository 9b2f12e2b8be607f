//! The legal-basis engine through the API: refusals explained in the reader's language and
//! recorded without payload, the dry run, the catalog listing, the consent registry, and
//! withdrawal stopping an undelivered message against the real broker.

use contract::directory::Transport;
use serde_json::{Value, json};
use std::time::Duration;
use tests::{
    Harness, POLICE_INBOX, SCHOOL, WITHDRAWALS, bekymringsmelding, example,
    police_consent as consent, police_referral as referral, problem,
};

fn id(message: &Value) -> String {
    message["messageId"].as_str().unwrap().to_owned()
}

/// The gateway's id of a message from the Oslo school.
fn gid(message: &Value) -> String {
    tests::gateway_id(SCHOOL, message)
}

async fn status_of(h: &Harness, message: &Value) -> Value {
    h.status(&h.token(SCHOOL), &id(message))
        .await
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn refusals_are_explained_in_the_readers_language_and_recorded_without_payload() {
    let h = Harness::new().await;
    let mut message = bekymringsmelding();
    message["legalBasis"]["attestation"] = json!({ "ground_serious_neglect": true });
    message["payload"]["kommunenummer"] = json!("4601");
    for (language, text) in [
        ("nb-NO,nb;q=0.9", "En vurdering hjemmelen krever"),
        ("sv", "En bedömning som grunden kräver"),
        ("en", "A statement this legal basis requires"),
    ] {
        let response = h
            .http
            .post(format!("{}/v1/messages", h.base()))
            .bearer_auth(h.token(SCHOOL))
            .header("accept-language", language)
            .json(&message)
            .send()
            .await
            .unwrap();
        let lang = response.headers()["content-language"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(lang, &language[..2]);
        let body = problem(response, 422, "recipient-mismatch").await;
        let errors = body["errors"].as_array().unwrap();
        let attestation = errors
            .iter()
            .find(|e| e["code"] == "attestation_missing")
            .expect("every reason is reported");
        assert_eq!(
            attestation["pointer"],
            "/legalBasis/attestation/reason_to_believe"
        );
        assert!(
            attestation["detail"].as_str().unwrap().starts_with(text),
            "{attestation}"
        );
        assert_eq!(
            attestation["statute"],
            "Barnevernsloven (LOV-2021-06-18-97) § 13-2"
        );
        assert!(errors.iter().any(|e| e["code"] == "recipient_municipality"));
    }
    assert_eq!(status_of(&h, &message).await["type"], "/problems/not-found");
    let store = gateway::app::open_store(&h.config, Default::default())
        .await
        .unwrap();
    let refusals = store
        .refusals(
            &id(&message).parse().unwrap(),
            &contract::directory::AgencyId(SCHOOL.into()),
        )
        .await
        .unwrap();
    assert_eq!(refusals.len(), 3, "each refused post is recorded");
    let recorded = refusals[0].to_string();
    assert!(
        recorded.contains("attestation_missing") && recorded.contains("recipient_municipality")
    );
    for value in ["Ola Testbarn", "09031450000", "Kari"] {
        assert!(
            !recorded.contains(value),
            "no payload in the refusal record"
        );
    }
    h.cleanup().await;
}

#[tokio::test]
async fn the_dry_run_answers_what_would_happen_and_changes_nothing() {
    let h = Harness::new().await;
    let token = h.token(SCHOOL);
    let allowed = bekymringsmelding();
    let body: Value = h
        .post_to("/v1/messages/validate", &token, &allowed)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["outcome"], "allowed", "{body}");
    assert_eq!(body["route"]["recipient"], "no-oslo-barnevern");
    assert_eq!(body["legalBasis"]["tag"], "no.bvl2021.13-2");
    let mut refused = bekymringsmelding();
    refused["legalBasis"]["tag"] = json!("no.fvl1967.13g");
    let response = h.post_to("/v1/messages/validate", &token, &refused).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["outcome"], "refused");
    assert_eq!(body["refusals"][0]["code"], "not_in_force");
    for message in [&allowed, &refused] {
        assert_eq!(h.status(&token, &id(message)).await.status(), 404);
    }
    assert_eq!(h.count(&h.topology().work_queue(Transport::Queue)).await, 0);
    h.cleanup().await;
}

#[tokio::test]
async fn the_catalog_lists_allowed_and_required_fields_per_basis_and_kind() {
    let h = Harness::new().await;
    let list: Value = h.get("/v1/legal-bases", None).await.json().await.unwrap();
    let bases = list["bases"].as_array().unwrap();
    assert!(bases.len() >= 20);
    let anonymised = bases
        .iter()
        .find(|b| b["tag"] == "no.fvl1967.13a-2")
        .unwrap();
    let fields = &anonymised["fields"]["no.politikontakt"];
    assert_eq!(
        fields["allowed"],
        json!(["/henvisendeEnhet", "/bekymringskategori", "/beskrivelse"])
    );
    assert_eq!(fields["anonymised"], true);
    assert!(
        list["categories"]["no.politikontakt"]
            .as_array()
            .unwrap()
            .contains(&json!("identity"))
    );
    // Each kind's deadlines, each saying what sets it: a statute, or the operator's target.
    let grounds = |kind: &str, deadline: &str| {
        let deadlines = list["kinds"][kind]["deadlines"].as_array().unwrap();
        let found = deadlines.iter().find(|d| d["deadline"] == deadline);
        found.unwrap()["grounds"].as_object().unwrap().clone()
    };
    assert!(grounds("se.orosanmalan", "decision").contains_key("statute"));
    assert!(grounds("se.orosanmalan", "assessment").contains_key("target"));
    assert!(grounds("no.bekymringsmelding", "feedback").contains_key("statute"));
    assert!(grounds("dk.psp", "delivery").contains_key("target"));
    let one = h.get("/v1/legal-bases/se.osl.10-27", None).await;
    let one: Value = one.json().await.unwrap();
    assert_eq!(
        one["barred"],
        json!(["socialtjanst", "elevhalsa_medicinsk"])
    );
    let missing = h.get("/v1/legal-bases/no.x.1", None).await;
    problem(missing, 404, "not-found").await;
    h.cleanup().await;
}

#[tokio::test]
async fn consents_are_recorded_idempotently_and_seen_by_their_organisation_only() {
    let h = Harness::new().await;
    let token = h.token(SCHOOL);
    let first = h.post_to("/v1/consents", &token, &consent("c-a")).await;
    assert_eq!(first.status(), 201);
    assert_eq!(first.headers()["location"], "/v1/consents/c-a");
    let first: Value = first.json().await.unwrap();
    assert!(
        !first.to_string().contains("Testbarn"),
        "the subject is never stored or shown"
    );
    assert_eq!(first["recordedBy"], format!("tester@{SCHOOL}"));
    let again = h.post_to("/v1/consents", &token, &consent("c-a")).await;
    assert_eq!(again.status(), 201);
    let mut other = consent("c-a");
    other["validTo"] = json!("2030-01-01");
    problem(
        h.post_to("/v1/consents", &token, &other).await,
        409,
        "idempotency-conflict",
    )
    .await;
    let elsewhere = h
        .http
        .get(format!("{}/v1/consents/c-a", h.base()))
        .bearer_auth(h.token("no-bergen-nordnes-skole"))
        .send()
        .await
        .unwrap();
    problem(elsewhere, 404, "not-found").await;
    let mut bad = consent("c-b");
    bad["subject"] = json!({ "fodselsnummer": "31029950000" });
    bad["categories"] = json!(["referral", "diagnosis"]);
    bad["validTo"] = json!("2025-01-01");
    let body = problem(
        h.post_to("/v1/consents", &token, &bad).await,
        422,
        "invalid-message",
    )
    .await;
    let pointers: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(pointers, ["/subject", "/categories/1", "/validTo"]);
    assert!(!body.to_string().contains("31029950000"));
    h.cleanup().await;
}

#[tokio::test]
async fn a_young_persons_own_consent_is_never_recorded_for_the_guardians_data() {
    let h = Harness::new().await;
    let list: Value = h.get("/v1/legal-bases", None).await.json().await.unwrap();
    assert_eq!(
        list["kinds"]["se.sspf-sig"]["guardians_data"],
        json!(["guardians", "family"])
    );
    let token = h.token("se-malmo-skola");
    let path = tests::repo().join("schemas/examples/consents/samtycke-2026-17.json");
    let mut alone: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    alone["consentId"] = json!("c-family");
    alone["grantedBy"] = json!(["subject"]);
    alone["categories"] = json!(["identity", "concern", "family"]);
    let body = problem(
        h.post_to("/v1/consents", &token, &alone).await,
        422,
        "invalid-message",
    )
    .await;
    assert_eq!(body["errors"][0]["pointer"], "/categories/2");
    assert_eq!(body["errors"].as_array().unwrap().len(), 1);
    let missing = h.get("/v1/consents/c-family", Some(&token)).await;
    assert_eq!(missing.status(), 404, "nothing recorded");
    alone["grantedBy"] = json!(["subject", "guardians"]);
    let both = h.post_to("/v1/consents", &token, &alone).await;
    assert_eq!(both.status(), 201);
    h.cleanup().await;
}

#[tokio::test]
async fn withdrawing_a_consent_stops_undelivered_messages_tells_recipients_and_refuses_new_ones() {
    let (mut h, inbox) = Harness::with_inbox(&[], |_| {}).await;
    let token = h.token(SCHOOL);
    for c in ["c-stop", "c-told"] {
        assert_eq!(
            h.post_to("/v1/consents", &token, &consent(c))
                .await
                .status(),
            201
        );
    }
    // Queued while no adapter runs, then its consent is withdrawn.
    let stopped = referral("c-stop");
    assert_eq!(h.post(&token, &stopped).await.status(), 202);
    let withdrawal: Value = h
        .post_to("/v1/consents/c-stop/withdraw", &token, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(withdrawal["stopped"], json!([id(&stopped)]));
    assert_eq!(status_of(&h, &stopped).await["status"], "withdrawn");
    let again = referral("c-stop");
    let body = problem(h.post(&token, &again).await, 422, "consent-not-valid").await;
    assert_eq!(body["errors"][0]["code"], "consent_withdrawn");

    // The adapter starts: the withdrawn message never reaches the police contact; one
    // posted after it under another consent does.
    let delivered = referral("c-told");
    assert_eq!(h.post(&token, &delivered).await.status(), 202);
    h.start_adapters().await;
    assert!(
        inbox
            .wait_for(POLICE_INBOX, &gid(&delivered), Duration::from_secs(20))
            .await
    );
    assert_eq!(
        inbox.ids_at(POLICE_INBOX),
        [gid(&delivered)],
        "the withdrawn message is not delivered"
    );

    // Withdrawing the consent of a delivered message tells its recipient.
    let told = h
        .post_to("/v1/consents/c-told/withdraw", &token, &json!({}))
        .await;
    assert_eq!(told.status(), 200);
    assert!(
        inbox
            .wait_for(WITHDRAWALS, &gid(&delivered), Duration::from_secs(20))
            .await
    );
    h.cleanup().await;
}

#[tokio::test]
async fn withdrawing_a_consent_after_an_attempt_whose_outcome_is_unknown_tells_the_recipient() {
    // The police contact's inbox takes the referral but its answer never comes: the
    // adapter gives up after a second, not knowing whether the inbox has it.
    let (mut h, inbox) = Harness::with_inbox(&[tests::HANG], |_| {}).await;
    h.start_adapters_with(|c| c.runtime.inbox_timeout_ms = 1_000)
        .await;
    let token = h.token(SCHOOL);
    let message = h.referral_received("c-unknown", &inbox).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while h.adapters_count("unknown").await == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the attempt's outcome is unknown"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let withdrawn = h
        .post_to("/v1/consents/c-unknown/withdraw", &token, &json!({}))
        .await;
    assert_eq!(withdrawn.status(), 200);
    let body: Value = withdrawn.json().await.unwrap();
    assert_eq!(
        body["stopped"],
        json!([id(&message)]),
        "not known to be delivered"
    );
    assert!(
        inbox
            .wait_for(WITHDRAWALS, &gid(&message), Duration::from_secs(20))
            .await,
        "the inbox may have it, so it is told"
    );
    h.cleanup().await;
}

/// The walkthrough's promise: every valid example goes through, sent by the organisation
/// the README names, once the example consent it cites (`schemas/examples/consents/`), if
/// any, is recorded.
#[tokio::test]
async fn every_example_goes_through_from_its_sender_with_its_example_consent() {
    let h = Harness::new().await;
    let examples = tests::repo().join("schemas/examples");
    let (mut sent_count, mut cited) = (0, 0);
    for entry in std::fs::read_dir(examples.join("valid")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let message = example(&name);
        let sender = match name.as_str() {
            "no.bekymringsmelding.kindergarten" => "no-oslo-tasen-barnehage",
            "no.barnevern-politi" => "no-oslo-barnevernvakt",
            "no.risikokonferanse" => "no-oslo-barnevern",
            "dk.underretning" => "dk-aarhus-skole",
            "dk.ssp" => "dk-ostjyllands-politi",
            "dk.psp" => "dk-aarhus-psykiatri",
            "dk.ksp" => "dk-kriminalforsorgen-ostjylland",
            "dk.infohus" => "dk-aarhus-kommune",
            _ if name.starts_with("se.") => "se-malmo-skola",
            _ => SCHOOL,
        };
        let token = h.token(sender);
        if let Some(consent_ref) = message["legalBasis"]["consentRef"].as_str() {
            let consent = std::fs::read_to_string(
                examples
                    .join("consents")
                    .join(format!("{consent_ref}.json")),
            )
            .unwrap_or_else(|_| panic!("{name} cites {consent_ref}, which has an example"));
            let consent: Value = serde_json::from_str(&consent).unwrap();
            let recorded = h.post_to("/v1/consents", &token, &consent).await;
            assert_eq!(recorded.status(), 201, "{consent_ref}");
            cited += 1;
        }
        let sent = h.post(&token, &message).await;
        let status = sent.status();
        assert_eq!(status, 202, "{name}: {}", sent.text().await.unwrap());
        sent_count += 1;
    }
    assert_eq!(cited, 3, "the examples under consent");
    assert_eq!(sent_count, 14, "every valid example");
    h.cleanup().await;
}
