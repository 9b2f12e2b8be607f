//! Every flow of the cooperation models end to end, against the real broker: orosanmälan
//! into the Swedish social services' queue (on call at night) with its answers, the
//! Norwegian feedback duty as answers with the second feedback's deadline, barnevern's
//! urgent referral to the police's on-call inbox, the kindergarten as a reporter, the
//! Danish underretning with its 24-hour and six-working-day deadlines, SSP, PSP, KSP and
//! Infohus cases to their groups' inbox, and a referral to a risk conference with its
//! decision as an answer; each refused when sent by or to the wrong party.

use adapters::queue::receipts::{ANSWERS, FEEDBACK, RECEIVED};
use serde_json::{Value, json};
use std::time::Duration;
use tests::{Harness, directory_as_case_system, example, problem};

const WAIT: Duration = Duration::from_secs(20);

fn id(message: &Value) -> String {
    message["messageId"].as_str().unwrap().to_owned()
}

fn fresh(mut message: Value) -> Value {
    message["messageId"] = json!(uuid::Uuid::new_v4().to_string());
    message
}

fn answer(name: &str) -> &'static str {
    ANSWERS
        .iter()
        .find(|(t, _)| t.contains(name))
        .map(|(t, _)| *t)
        .unwrap()
}

fn history(view: &Value) -> Vec<(String, Option<String>)> {
    view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["status"].as_str().unwrap().to_owned(),
                h["reason"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

/// A harness whose broker account (`guest`) is the case system of `account`'s agency.
async fn as_case_system(account: &str) -> Harness {
    let directory = directory_as_case_system(account);
    let h = Harness::with(|c| c.directory = directory).await;
    assert!(h.link_up(WAIT).await);
    h
}

/// Posts `message` from `sender` and expects the problem `slug` naming `code` (422, or 403
/// for a sender mismatch).
async fn refused(h: &Harness, sender: &str, message: &Value, slug: &str, code: &str) {
    let response = h.post(&h.token(sender), &fresh(message.clone())).await;
    let status = if slug == "sender-mismatch" { 403 } else { 422 };
    let body = problem(response, status, slug).await;
    let codes: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["code"].as_str())
        .collect();
    assert!(codes.contains(&code), "expected {code}: {body}");
}

#[tokio::test]
async fn an_orosanmalan_reaches_the_social_services_and_its_answers_and_deadlines_show() {
    let mut h = as_case_system("socialtjanst-1280").await;
    h.start_adapters().await;
    let school = "se-malmo-skola";
    let token = h.token(school);
    let report = example("se.orosanmalan");
    assert_eq!(h.post(&token, &report).await.status(), 202);
    h.wait_status(&token, &id(&report), "delivered", WAIT).await;
    let queue = h.topology().receiving_queue("socialtjanst.1280.inbox");
    let got = h.drain(&queue, 1, Duration::from_secs(5)).await;
    let gid = tests::gateway_id(school, &report);
    assert_eq!(tests::message_id(&got[0]), gid);
    assert_eq!(got.len(), 1);

    h.receipt(RECEIVED, &gid, json!({})).await;
    h.receipt(answer("assessed"), &gid, json!({})).await;
    h.receipt(
        answer("decided"),
        &gid,
        json!({"investigationOpened": true}),
    )
    .await;
    let view = h
        .wait_history(&token, &id(&report), "investigation_opened", WAIT)
        .await;
    assert_eq!(
        view["status"], "received",
        "answers leave the status as it is"
    );
    let entries = history(&view);
    assert!(entries.contains(&("assessed".into(), None)), "{view}");
    assert!(
        entries.contains(&("investigation_opened".into(), None)),
        "a decision that opened an investigation starts its time limit: {view}"
    );
    assert!(!entries.iter().any(|(s, _)| s == "decided"), "{view}");
    // A repeated answer enters the history once.
    h.receipt(answer("assessed"), &gid, json!({})).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let view: Value = h.status(&token, &id(&report)).await.json().await.unwrap();
    let assessed = history(&view)
        .iter()
        .filter(|(s, _)| s == "assessed")
        .count();
    assert_eq!(assessed, 1);

    // A second report nobody answers: after 15 days the assessment and the decision are
    // overdue; the answered one is not.
    let unanswered = fresh(example("se.orosanmalan"));
    assert_eq!(h.post(&token, &unanswered).await.status(), 202);
    h.wait_status(&token, &id(&unanswered), "delivered", WAIT)
        .await;
    h.gateway
        .as_ref()
        .unwrap()
        .clock
        .advance(time::Duration::days(15));
    let view: Value = h
        .status(&token, &id(&unanswered))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        view["overdue"],
        json!(["receipt", "assessment", "decision"])
    );
    let view: Value = h.status(&token, &id(&report)).await.json().await.unwrap();
    assert!(view.get("overdue").is_none(), "{view}");
    // The opened investigation has four months; extended, it is no longer tracked.
    let clock = &h.gateway.as_ref().unwrap().clock;
    clock.advance(time::Duration::days(125));
    let view: Value = h.status(&token, &id(&report)).await.json().await.unwrap();
    assert_eq!(view["overdue"], json!(["investigation"]));
    h.receipt(answer("investigation-extended"), &gid, json!({}))
        .await;
    let view = h
        .wait_history(&token, &id(&report), "investigation_extended", WAIT)
        .await;
    assert!(view.get("overdue").is_none(), "{view}");
    h.cleanup().await;
}

#[tokio::test]
async fn an_urgent_orosanmalan_at_night_goes_to_the_social_on_call_service() {
    let mut h = Harness::new().await;
    h.adapters_at_night();
    h.start_adapters().await;
    let token = h.token("se-malmo-forskola");
    let mut urgent = example("se.orosanmalan");
    urgent["urgency"] = json!("urgent");
    urgent["payload"]["anmalare"]["orgnr"] = json!("2120000004");
    urgent["payload"]["anmalare"]["arbetsplats"] = json!("Förskolan Solrosen");
    assert_eq!(h.post(&token, &urgent).await.status(), 202);
    h.wait_status(&token, &id(&urgent), "delivered", WAIT).await;
    let queue = h.topology().receiving_queue("socialjour.1280.inbox");
    assert_eq!(h.drain(&queue, 1, Duration::from_secs(5)).await.len(), 1);
    h.cleanup().await;
}

#[tokio::test]
async fn an_orosanmalan_is_refused_from_a_wrong_sender_to_a_wrong_recipient_or_municipality() {
    let h = Harness::new().await;
    let report = example("se.orosanmalan");
    // The SSPF coordinator is no reporter of this kind.
    let mut from_sspf = report.clone();
    from_sspf["payload"]["anmalare"]["orgnr"] = json!("2120000002");
    refused(
        &h,
        "se-malmo-sspf",
        &from_sspf,
        "legal-basis-not-applicable",
        "sender_type",
    )
    .await;
    // Not to the SIG (a group), and not to another municipality.
    let mut to_sig = report.clone();
    to_sig["recipient"] = json!("se-malmo-sig");
    refused(
        &h,
        "se-malmo-skola",
        &to_sig,
        "recipient-mismatch",
        "kind_recipient",
    )
    .await;
    let mut elsewhere = report.clone();
    elsewhere["payload"]["kommunkod"] = json!("0180");
    refused(
        &h,
        "se-malmo-skola",
        &elsewhere,
        "recipient-mismatch",
        "recipient_municipality",
    )
    .await;
    // Not about an adult, and not with another organisation as the reporter's.
    let mut adult = report.clone();
    adult["payload"]["barn"]["personnummer"] = json!("20000301-0000");
    adult["subject"] = json!({"age": 26});
    refused(
        &h,
        "se-malmo-skola",
        &adult,
        "subject-not-covered",
        "subject_age",
    )
    .await;
    let mut other_org = report.clone();
    other_org["payload"]["anmalare"]["orgnr"] = json!("2120000099");
    refused(
        &h,
        "se-malmo-skola",
        &other_org,
        "sender-mismatch",
        "sender_organisation",
    )
    .await;
    h.cleanup().await;
}

#[tokio::test]
async fn barnevern_answers_the_reporter_twice_and_a_late_second_feedback_shows_as_overdue() {
    let mut h = as_case_system("barnevern-0301").await;
    h.start_adapters().await;
    let school = tests::SCHOOL;
    let token = h.token(school);
    let report = tests::bekymringsmelding();
    assert_eq!(h.post(&token, &report).await.status(), 202);
    h.wait_status(&token, &id(&report), "delivered", WAIT).await;
    let gid = tests::gateway_id(school, &report);
    h.receipt(RECEIVED, &gid, json!({})).await;
    h.receipt(FEEDBACK, &gid, json!({"undersokelseApnet": true}))
        .await;
    h.wait_status(&token, &id(&report), "feedback_given", WAIT)
        .await;
    h.receipt(answer("investigation-ended"), &gid, json!({}))
        .await;
    let view = h
        .wait_history(&token, &id(&report), "investigation_ended", WAIT)
        .await;
    assert!(view.get("overdue").is_none(), "{view}");
    let clock = &h.gateway.as_ref().unwrap().clock;
    clock.advance(time::Duration::days(22));
    let view: Value = h.status(&token, &id(&report)).await.json().await.unwrap();
    assert_eq!(view["overdue"], json!(["second_feedback"]));
    let list: Value = h
        .get("/v1/messages?overdue=true", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["messages"][0]["messageId"], id(&report));

    h.receipt(answer("concluded"), &gid, json!({})).await;
    let view = h
        .wait_history(&token, &id(&report), "concluded", WAIT)
        .await;
    assert!(view.get("overdue").is_none(), "{view}");
    let steps: Vec<String> = history(&view).into_iter().map(|(s, _)| s).collect();
    assert_eq!(
        steps,
        [
            "recorded",
            "queued",
            "delivered",
            "received",
            "feedback_given",
            "investigation_ended",
            "concluded"
        ]
    );
    h.cleanup().await;
}

#[tokio::test]
async fn barnevern_refers_an_urgent_case_to_the_polices_on_call_inbox_under_its_own_rules() {
    let (mut h, inbox) = Harness::with_inbox(&[], |_| {}).await;
    h.start_adapters().await;
    let vakt = "no-oslo-barnevernvakt";
    let referral = example("no.barnevern-politi");
    assert_eq!(h.post(&h.token(vakt), &referral).await.status(), 202);
    let gid = tests::gateway_id(vakt, &referral);
    assert!(inbox.wait_for("/inbox", &gid, WAIT).await);
    let received = inbox.received.lock().unwrap().clone();
    assert_eq!(received[0].1["kind"], "no.barnevern-politi");

    // Asking for assistance goes under forvaltningsloven § 13 b nr. 5 on barnevern's own
    // test (barnevernsloven § 13-1): under nr. 7 the field is refused.
    let mut danger = referral.clone();
    danger["legalBasis"] = json!({"tag": "no.fvl1967.13b-1-7", "attestation": {
        "danger_to_life_or_health": true, "necessary": true, "anonymised_not_sufficient": true}});
    refused(&h, vakt, &danger, "fields-not-minimal", "field_not_allowed").await;
    danger["payload"]
        .as_object_mut()
        .unwrap()
        .remove("bistandOnsket");
    assert_eq!(h.post(&h.token(vakt), &fresh(danger)).await.status(), 202);
    // Barnevern does not send the politikontakt kind, nor a school this kind.
    let mut as_referral = example("no.politikontakt.consent");
    as_referral["legalBasis"] = json!({"tag": "no.fvl1967.13b-1-5",
        "attestation": {"necessary_for_sender_tasks": true}});
    refused(
        &h,
        "no-oslo-barnevern",
        &as_referral,
        "recipient-mismatch",
        "kind_sender",
    )
    .await;
    refused(
        &h,
        tests::SCHOOL,
        &referral,
        "recipient-mismatch",
        "kind_sender",
    )
    .await;
    // Not on the general test of nr. 5: barnevern's own is stricter.
    let mut general = referral.clone();
    general["legalBasis"]["attestation"] = json!({"necessary_for_sender_tasks": true});
    refused(
        &h,
        vakt,
        &general,
        "attestation-missing",
        "attestation_missing",
    )
    .await;
    h.cleanup().await;
}

#[tokio::test]
async fn a_kindergarten_reports_to_barnevern_under_its_own_act() {
    let mut h = Harness::new().await;
    h.start_adapters().await;
    let kindergarten = "no-oslo-tasen-barnehage";
    let token = h.token(kindergarten);
    let report = example("no.bekymringsmelding.kindergarten");
    assert_eq!(h.post(&token, &report).await.status(), 202);
    h.wait_status(&token, &id(&report), "delivered", WAIT).await;
    // A school may not use the kindergarten act.
    let mut from_school = report.clone();
    from_school["payload"]["offentligMelder"]["virksomhet"]["orgnr"] = json!("974590000");
    refused(
        &h,
        tests::SCHOOL,
        &from_school,
        "legal-basis-not-applicable",
        "sender_type",
    )
    .await;
    // The school's own act.
    let mut school_act = tests::bekymringsmelding();
    school_act["legalBasis"]["tag"] = json!("no.oppl2023.24-2");
    let response = h.post(&h.token(tests::SCHOOL), &school_act).await;
    assert_eq!(response.status(), 202);
    h.cleanup().await;
}

#[tokio::test]
async fn an_underretning_reaches_the_danish_municipality_with_its_deadlines() {
    let mut h = as_case_system("kommune-751").await;
    h.start_adapters().await;
    let school = "dk-aarhus-skole";
    let token = h.token(school);
    let report = example("dk.underretning");
    assert_eq!(h.post(&token, &report).await.status(), 202);
    h.wait_status(&token, &id(&report), "delivered", WAIT).await;
    let queue = h.topology().receiving_queue("kommune.751.inbox");
    assert_eq!(h.drain(&queue, 1, Duration::from_secs(5)).await.len(), 1);
    let gid = tests::gateway_id(school, &report);
    h.receipt(RECEIVED, &gid, json!({})).await;
    h.wait_status(&token, &id(&report), "received", WAIT).await;
    // Two days on: the 24-hour assessment is overdue, the six-working-day receipt is not.
    let clock = &h.gateway.as_ref().unwrap().clock;
    clock.advance(time::Duration::days(2));
    let view: Value = h.status(&token, &id(&report)).await.json().await.unwrap();
    assert_eq!(view["overdue"], json!(["assessment"]));
    h.receipt(answer("assessed"), &gid, json!({})).await;
    h.wait_history(&token, &id(&report), "assessed", WAIT).await;
    clock.advance(time::Duration::days(9));
    let view: Value = h.status(&token, &id(&report)).await.json().await.unwrap();
    assert_eq!(view["overdue"], json!(["acknowledgement"]));
    h.receipt(answer("acknowledged"), &gid, json!({})).await;
    let view = h
        .wait_history(&token, &id(&report), "acknowledged", WAIT)
        .await;
    assert!(view.get("overdue").is_none(), "{view}");

    // The SSP cooperation does not report; nor is it sent to another municipality.
    let mut elsewhere = report.clone();
    elsewhere["payload"]["kommunekode"] = json!("461");
    refused(
        &h,
        school,
        &elsewhere,
        "recipient-mismatch",
        "recipient_municipality",
    )
    .await;
    let mut from_ssp = report.clone();
    from_ssp["payload"]["underretter"]["cvr"] = json!("90751022");
    refused(
        &h,
        "dk-aarhus-ssp",
        &from_ssp,
        "legal-basis-not-applicable",
        "sender_barred",
    )
    .await;
    h.cleanup().await;
}

#[tokio::test]
async fn an_ssp_case_goes_to_the_cooperations_inbox_from_its_members_only() {
    let (mut h, inbox) = Harness::with_inbox(&[], |_| {}).await;
    h.start_adapters().await;
    let police = "dk-ostjyllands-politi";
    let case = example("dk.ssp");
    assert_eq!(h.post(&h.token(police), &case).await.status(), 202);
    assert!(
        inbox
            .wait_for("/inbox", &tests::gateway_id(police, &case), WAIT)
            .await
    );
    refused(
        &h,
        "dk-odense-skole",
        &case,
        "recipient-mismatch",
        "not_in_cooperation",
    )
    .await;
    let mut investigation = case.clone();
    investigation["legalBasis"]["attestation"] = json!({"necessary_for_cooperation": true});
    refused(
        &h,
        police,
        &investigation,
        "attestation-missing",
        "attestation_missing",
    )
    .await;
    h.cleanup().await;
}

/// PSP, KSP and the Infohus: each case reaches its group's inbox from a member; a type of
/// agency the kind does not take from is refused, as is a case without the
/// not-for-investigation attestation, or addressed to another cooperation.
#[tokio::test]
async fn the_other_section_115_cooperations_and_the_infohus_take_their_members_cases() {
    let (mut h, inbox) = Harness::with_inbox(&[], |_| {}).await;
    h.start_adapters().await;
    let cases = [
        (
            "dk.psp",
            "dk-aarhus-psykiatri",
            "dk-kriminalforsorgen-ostjylland",
        ),
        (
            "dk.ksp",
            "dk-kriminalforsorgen-ostjylland",
            "dk-aarhus-psykiatri",
        ),
        ("dk.infohus", "dk-aarhus-kommune", "dk-aarhus-skole"),
    ];
    for (kind, member, outsider) in cases {
        let case = example(kind);
        assert_eq!(
            h.post(&h.token(member), &case).await.status(),
            202,
            "{kind}"
        );
        assert!(
            inbox
                .wait_for("/inbox", &tests::gateway_id(member, &case), WAIT)
                .await,
            "{kind} delivered"
        );
        refused(&h, outsider, &case, "recipient-mismatch", "kind_sender").await;
        let mut investigation = case.clone();
        investigation["legalBasis"]["attestation"] = json!({"necessary_for_cooperation": true});
        refused(
            &h,
            member,
            &investigation,
            "attestation-missing",
            "attestation_missing",
        )
        .await;
    }
    // Each kind goes to its own cooperation: a PSP case addressed to KSP is refused.
    let mut elsewhere = example("dk.psp");
    elsewhere["recipient"] = json!("dk-aarhus-ksp");
    refused(
        &h,
        "dk-aarhus-psykiatri",
        &elsewhere,
        "recipient-mismatch",
        "kind_recipient",
    )
    .await;
    h.cleanup().await;
}

/// A risk conference (MARAC-style): a member refers a person at serious risk to the
/// conference's queue without consent where danger to life or health allows it, the
/// conference's decision comes back as an answer, and it is refused from a non-member, to
/// a group under consent without one, and on the general test where danger is not attested.
#[tokio::test]
async fn a_risk_conference_takes_its_members_referrals_and_answers_with_its_decision() {
    let mut h = as_case_system("risikokonferanse-0301").await;
    h.start_adapters().await;
    let barnevern = "no-oslo-barnevern";
    let token = h.token(barnevern);
    let referral = example("no.risikokonferanse");
    assert_eq!(h.post(&token, &referral).await.status(), 202);
    h.wait_status(&token, &id(&referral), "delivered", WAIT)
        .await;
    let queue = h.topology().receiving_queue("risikokonferanse.0301.inbox");
    let got = h.drain(&queue, 1, Duration::from_secs(5)).await;
    let gid = tests::gateway_id(barnevern, &referral);
    assert_eq!(tests::message_id(&got[0]), gid);
    h.receipt(RECEIVED, &gid, json!({})).await;
    h.receipt(answer("decided"), &gid, json!({})).await;
    let view = h
        .wait_history(&token, &id(&referral), "decided", WAIT)
        .await;
    assert!(
        history(&view).iter().any(|(status, _)| status == "decided"),
        "{view}"
    );

    refused(
        &h,
        "no-bergen-barnevern",
        &referral,
        "recipient-mismatch",
        "not_in_cooperation",
    )
    .await;
    let mut under_consent = referral.clone();
    under_consent["legalBasis"] =
        json!({"tag": "no.fvl1967.13a-1", "attestation": {"consent_informed": true}});
    refused(
        &h,
        barnevern,
        &under_consent,
        "consent-not-valid",
        "consent_missing",
    )
    .await;
    let mut no_danger = referral.clone();
    no_danger["legalBasis"]["attestation"] = json!({"necessary": true});
    refused(
        &h,
        barnevern,
        &no_danger,
        "attestation-missing",
        "attestation_missing",
    )
    .await;
    h.cleanup().await;
}
