//! Delivery through the adapters, against the real broker: the police contact's inbox
//! (stood up in the test) failing and then answering, failing for good, barnevern receipts
//! moving the status on, urgent reports at night going on call, and overdue messages shown
//! by moving the gateway's clock.

use base64::Engine;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tests::{
    FakeInbox, Harness, SCHOOL, bekymringsmelding, dev_directory_with, directory_as_case_system,
    example, temp_dir,
};

fn id(message: &Value) -> String {
    message["messageId"].as_str().unwrap().to_owned()
}

/// The gateway's id of a message from the Oslo school.
fn gid(message: &Value) -> String {
    tests::gateway_id(SCHOOL, message)
}

async fn with_inbox(answers: &[u16]) -> (Harness, FakeInbox) {
    let (mut h, inbox) = Harness::with_inbox(answers, |_| {}).await;
    h.start_adapters().await;
    (h, inbox)
}

/// Sends an anonymised referral to the police contact and waits until `inbox` has it.
async fn referral_delivered(h: &Harness, inbox: &FakeInbox) {
    let message = example("no.politikontakt.anonymised");
    assert_eq!(h.post(&h.token(SCHOOL), &message).await.status(), 202);
    assert!(
        inbox
            .wait_for("/inbox", &gid(&message), Duration::from_secs(20))
            .await,
        "the inbox received the referral"
    );
}

fn statuses(view: &Value) -> Vec<&str> {
    view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_referral_reaches_the_police_contact_once_though_its_inbox_answers_503_three_times() {
    let (h, inbox) = with_inbox(&[503, 503, 503]).await;
    let token = h.token(SCHOOL);
    let message = example("no.politikontakt.anonymised");
    assert_eq!(h.post(&token, &message).await.status(), 202);
    let view = h
        .wait_status(&token, &id(&message), "delivered", Duration::from_secs(90))
        .await;
    assert_eq!(
        statuses(&view),
        ["recorded", "queued", "delivered"],
        "{view}"
    );
    assert_eq!(
        inbox.ids_at("/inbox"),
        vec![gid(&message); 4],
        "three 503s, then one 200"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        inbox.ids_at("/inbox").len(),
        4,
        "delivered once, never again"
    );
    let metrics = h.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains("referral_adapter_events_total{adapter=\"inbox\",event=\"retrying\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("referral_adapter_events_total{adapter=\"inbox\",event=\"delivered\"} 1")
    );
    h.cleanup().await;
}

#[tokio::test]
async fn the_inbox_request_continues_the_messages_trace() {
    let (h, inbox) = with_inbox(&[]).await;
    referral_delivered(&h, &inbox).await;
    let message_id = inbox.ids_at("/inbox")[0].clone();
    let trace = message_id.replace('-', "");
    let traceparent = inbox.traceparents.lock().unwrap()[0].clone().unwrap();
    assert_eq!(
        contract::message::trace_id(&traceparent),
        Some(trace.as_str())
    );
    h.cleanup().await;
}

#[tokio::test]
#[allow(unsafe_code)] // the secret comes from the environment, as in production
async fn the_inbox_gets_a_bearer_token_from_the_agencys_client_credentials_grant() {
    let inbox = FakeInbox::start(&[]).await;
    let secret_env = format!("INBOX_SECRET_{}", uuid::Uuid::new_v4().simple());
    // SAFETY: a variable no other test reads, set before the adapters start.
    unsafe { std::env::set_var(&secret_env, "dev-only-secret") };
    let url = inbox.url.clone();
    let credentials = format!(
        r#"inbox_url = "{url}", credentials = {{ token_url = "{url}/token", client_id = "gateway", client_secret_env = "{secret_env}" }}"#
    );
    let directory = dev_directory_with(
        &temp_dir(),
        &[(r#"inbox_url = "http://127.0.0.1:9101/inbox""#, &credentials)],
    );
    let mut h = Harness::with(|c| c.directory = directory).await;
    assert!(h.link_up(Duration::from_secs(20)).await);
    h.start_adapters().await;
    referral_delivered(&h, &inbox).await;
    assert_eq!(
        *inbox.authorizations.lock().unwrap(),
        [Some(format!("Bearer {}", tests::FAKE_TOKEN))]
    );
    h.cleanup().await;
}

/// A stand-in for Maskinporten's token endpoint: it takes only a JWT-bearer grant that is
/// signed by `public` (PKCS#1 DER) with `chain` in `x5c`, for client `gateway`, audience and
/// scope as below, valid for at most 120 s, with no claim Maskinporten does not allow; it
/// counts the grants and hands out `mp-token-<n>`.
async fn maskinporten(public: Vec<u8>, chain: String) -> (String, Arc<AtomicUsize>) {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Grant {
        aud: String,
        iss: String,
        scope: String,
        iat: i64,
        exp: i64,
        jti: String,
    }
    let grants = Arc::new(AtomicUsize::new(0));
    let counted = grants.clone();
    let token = move |body: String| {
        let (public, chain, grants) = (public.clone(), chain.clone(), counted.clone());
        async move {
            let form: std::collections::HashMap<String, String> = body
                .split('&')
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.replace("%3A", ":")))
                .collect();
            let refuse = (axum::http::StatusCode::BAD_REQUEST, axum::Json(json!({})));
            if form.get("grant_type").map(String::as_str)
                != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
            {
                return refuse;
            }
            let assertion = form.get("assertion").cloned().unwrap_or_default();
            let x5c = jsonwebtoken::decode_header(&assertion).map(|h| h.x5c);
            let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
            validation.set_audience(&["https://maskinporten.test.invalid/"]);
            validation.set_issuer(&["gateway"]);
            let key = jsonwebtoken::DecodingKey::from_rsa_der(&public);
            let lawful = match jsonwebtoken::decode::<Grant>(&assertion, &key, &validation) {
                Ok(jsonwebtoken::TokenData { claims: grant, .. }) => {
                    grant.scope == "politiet:bekymring"
                        && grant.exp - grant.iat <= 120
                        && !grant.jti.is_empty()
                        && !grant.aud.is_empty()
                        && !grant.iss.is_empty()
                }
                Err(_) => false,
            };
            if !lawful || x5c.ok() != Some(Some(vec![chain])) {
                return refuse;
            }
            let n = grants.fetch_add(1, Ordering::SeqCst) + 1;
            let answer = json!({"access_token": format!("mp-token-{n}"), "expires_in": 120});
            (axum::http::StatusCode::OK, axum::Json(answer))
        }
    };
    let app = axum::Router::new().route("/token", axum::routing::post(token));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, grants)
}

/// A gateway and its adapters whose police inbox (a [`FakeInbox`]) takes tokens from a
/// [`maskinporten`] stand-in trusting a fresh business certificate; the adapters sign their
/// grants with that certificate's key or, if `foreign_key`, with another RSA key.
async fn behind_maskinporten(foreign_key: bool) -> (Harness, FakeInbox, Arc<AtomicUsize>) {
    let rsa = || aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let pem_of = |rsa: &aws_lc_rs::rsa::KeyPair| {
        let pkcs8 =
            aws_lc_rs::encoding::AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(rsa).unwrap();
        rcgen::KeyPair::try_from(pkcs8.as_ref()).unwrap()
    };
    // The business certificate: an RSA key and its (self-signed, test-only) chain.
    let owner = rsa();
    let key = pem_of(&owner);
    let certificate = rcgen::CertificateParams::new(vec!["gateway.test.invalid".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let signing = if foreign_key { pem_of(&rsa()) } else { key };
    let dir = temp_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let (cert_file, key_file) = (dir.join("business.pem"), dir.join("business.key"));
    std::fs::write(&cert_file, certificate.pem()).unwrap();
    std::fs::write(&key_file, signing.serialize_pem()).unwrap();
    let chain = base64::engine::general_purpose::STANDARD.encode(certificate.der());
    let public = aws_lc_rs::signature::KeyPair::public_key(&owner)
        .as_ref()
        .to_vec();
    let (token_url, grants) = maskinporten(public, chain).await;
    let inbox = FakeInbox::start(&[]).await;
    let credentials = format!(
        r#"inbox_url = "{}", credentials = {{ token_url = "{token_url}", client_id = "gateway", assertion = {{ audience = "https://maskinporten.test.invalid/", scope = "politiet:bekymring", certificate = "{}", key = "{}" }} }}"#,
        inbox.url,
        cert_file.display(),
        key_file.display()
    );
    let directory = dev_directory_with(
        &dir,
        &[(r#"inbox_url = "http://127.0.0.1:9101/inbox""#, &credentials)],
    );
    let mut h = Harness::with(|c| c.directory = directory).await;
    h.start_adapters().await;
    (h, inbox, grants)
}

#[tokio::test]
async fn the_inbox_gets_a_bearer_token_from_a_maskinporten_jwt_grant_signed_with_the_certificate() {
    let (h, inbox, grants) = behind_maskinporten(false).await;
    for _ in 0..2 {
        referral_delivered(&h, &inbox).await;
    }
    let bearer = Some("Bearer mp-token-1".to_owned());
    assert_eq!(
        *inbox.authorizations.lock().unwrap(),
        [bearer.clone(), bearer]
    );
    assert_eq!(
        grants.load(Ordering::SeqCst),
        1,
        "the token is kept until near expiry"
    );
    h.cleanup().await;
}

#[tokio::test]
async fn a_grant_not_signed_by_the_certificates_key_gets_no_token_and_nothing_is_sent() {
    let (h, inbox, grants) = behind_maskinporten(true).await;
    let token = h.token(SCHOOL);
    let message = example("no.politikontakt.anonymised");
    assert_eq!(h.post(&token, &message).await.status(), 202);
    // The adapters try (and retry) for a few seconds: a token is never had.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let view: Value = h.status(&token, &id(&message)).await.json().await.unwrap();
    assert_ne!(view["status"], "delivered", "{view}");
    assert!(
        inbox.received.lock().unwrap().is_empty(),
        "no request without a token"
    );
    assert_eq!(grants.load(Ordering::SeqCst), 0);
    h.cleanup().await;
}

#[tokio::test]
async fn a_400_from_the_inbox_fails_fast_and_the_sender_sees_why() {
    let (h, inbox) = with_inbox(&[400]).await;
    let token = h.token(SCHOOL);
    let message = example("no.politikontakt.anonymised");
    assert_eq!(h.post(&token, &message).await.status(), 202);
    let view = h
        .wait_status(&token, &id(&message), "failed", Duration::from_secs(20))
        .await;
    assert_eq!(view["status"], "failed", "{view}");
    assert_eq!(view["history"][2]["reason"], "inbox answered 400");
    assert_eq!(inbox.ids_at("/inbox").len(), 1, "not retried");
    let dead = h
        .topology()
        .dead_queue(contract::directory::Transport::Inbox);
    assert_eq!(h.count(&dead).await, 1, "dead-lettered");
    h.cleanup().await;
}

#[tokio::test]
async fn a_dead_letter_expires_after_its_keeping_time_and_the_message_is_marked_and_audited() {
    let (mut h, _inbox) = Harness::with_inbox(&[400], |c| c.broker.dead_letter_secs = 3).await;
    h.start_adapters().await;
    let token = h.token(SCHOOL);
    let message = example("no.politikontakt.anonymised");
    assert_eq!(h.post(&token, &message).await.status(), 202);
    let view = h
        .wait_status(&token, &id(&message), "expired", Duration::from_secs(30))
        .await;
    assert_eq!(
        statuses(&view),
        ["recorded", "queued", "failed", "expired"],
        "{view}"
    );
    assert_eq!(view["history"][3]["reason"], "dead letter expired");
    let dead = h
        .topology()
        .dead_queue(contract::directory::Transport::Inbox);
    assert_eq!(h.count(&dead).await, 0, "gone from the dead letters");
    let store = gateway::app::open_store(&h.config, Default::default())
        .await
        .unwrap();
    let entries = store.audit_entries(0, 100).await.unwrap();
    let expiry: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "dead_letter_expired")
        .collect();
    assert_eq!(expiry.len(), 1, "{entries:?}");
    assert_eq!(expiry[0].message_id, gid(&message));
    h.cleanup().await;
}

#[tokio::test]
async fn receipts_move_the_status_on_and_receipts_from_another_service_are_refused() {
    // Barnevern Oslo's case system uses the test's broker account.
    let directory = directory_as_case_system("barnevern-0301");
    let mut h = Harness::with(|c| c.directory = directory).await;
    assert!(h.link_up(Duration::from_secs(20)).await);
    h.start_adapters().await;
    let token = h.token(SCHOOL);
    let oslo = bekymringsmelding();
    assert_eq!(h.post(&token, &oslo).await.status(), 202);
    // A message to barnevern Bergen, from a Bergen school.
    let bergen_school = "no-bergen-nordnes-skole";
    let mut bergen = bekymringsmelding();
    bergen["recipient"] = json!("no-bergen-barnevern");
    bergen["payload"]["kommunenummer"] = json!("4601");
    bergen["payload"]["offentligMelder"]["virksomhet"]["orgnr"] = json!("964338000");
    assert_eq!(h.post(&h.token(bergen_school), &bergen).await.status(), 202);
    for (t, m) in [(&token, &oslo), (&h.token(bergen_school), &bergen)] {
        let view = h
            .wait_status(t, &id(m), "delivered", Duration::from_secs(20))
            .await;
        assert_eq!(view["status"], "delivered");
    }

    h.receipt(adapters::queue::receipts::RECEIVED, &gid(&oslo), json!({}))
        .await;
    let view = h
        .wait_status(&token, &id(&oslo), "received", Duration::from_secs(20))
        .await;
    assert_eq!(view["status"], "received");
    h.receipt(
        adapters::queue::receipts::FEEDBACK,
        &gid(&oslo),
        json!({"undersokelseApnet": true}),
    )
    .await;
    let view = h
        .wait_status(
            &token,
            &id(&oslo),
            "feedback_given",
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(
        statuses(&view),
        [
            "recorded",
            "queued",
            "delivered",
            "received",
            "feedback_given"
        ]
    );
    assert_eq!(view["history"][4]["reason"], "investigation opened");

    // Oslo's account cannot sign for Bergen's message, nor for one never delivered.
    let bergen_id = tests::gateway_id(bergen_school, &bergen);
    h.receipt(adapters::queue::receipts::RECEIVED, &bergen_id, json!({}))
        .await;
    h.receipt(
        adapters::queue::receipts::RECEIVED,
        &uuid::Uuid::new_v4().to_string(),
        json!({}),
    )
    .await;
    h.receipt(
        adapters::queue::receipts::FAILED,
        &gid(&oslo),
        json!({"code": "late"}),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let view: Value = h
        .status(&h.token(bergen_school), &id(&bergen))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        view["status"], "delivered",
        "a receipt from another service is refused"
    );
    let view: Value = h.status(&token, &id(&oslo)).await.json().await.unwrap();
    assert_eq!(
        view["status"], "feedback_given",
        "a status never moves back"
    );
    // Each answer is timed from the message's recording, once: the refused ones are not.
    let metrics = h.get("/metrics", None).await.text().await.unwrap();
    for answer in ["received", "feedback_given"] {
        let count = format!("referral_answer_seconds_count{{answer=\"{answer}\"}} 1\n");
        assert!(metrics.contains(&count), "{count} in {metrics}");
    }
    h.cleanup().await;
}

#[tokio::test]
async fn an_urgent_report_at_night_goes_to_the_on_call_service() {
    let mut h = Harness::new().await;
    h.adapters_at_night();
    h.start_adapters().await;
    let token = h.token(SCHOOL);
    let mut urgent = bekymringsmelding();
    urgent["urgency"] = json!("urgent");
    let normal = bekymringsmelding();
    for m in [&urgent, &normal] {
        assert_eq!(h.post(&token, m).await.status(), 202);
        h.wait_status(&token, &id(m), "delivered", Duration::from_secs(20))
            .await;
    }
    let topology = h.topology();
    let on_call: Vec<String> = h
        .drain(
            &topology.receiving_queue("barnevernvakt.0301.inbox"),
            1,
            Duration::from_secs(5),
        )
        .await
        .iter()
        .map(tests::message_id)
        .collect();
    assert_eq!(on_call, [gid(&urgent)]);
    let office: Vec<String> = h
        .drain(
            &topology.receiving_queue(tests::OSLO_INBOX),
            1,
            Duration::from_secs(5),
        )
        .await
        .iter()
        .map(tests::message_id)
        .collect();
    assert_eq!(office, [gid(&normal)], "not urgent: waits for office hours");
    h.cleanup().await;
}

#[tokio::test]
async fn an_on_call_report_is_receipted_by_the_on_call_service_not_the_day_service() {
    for (on_call_signs, expected) in [(true, "received"), (false, "delivered")] {
        // The test's broker account is the on-call service's, or the day service's.
        let account = if on_call_signs {
            "barnevernvakt-0301"
        } else {
            "barnevern-0301"
        };
        let directory = directory_as_case_system(account);
        let mut h = Harness::with(|c| c.directory = directory).await;
        h.adapters_at_night();
        h.start_adapters().await;
        let token = h.token(SCHOOL);
        let mut urgent = bekymringsmelding();
        urgent["urgency"] = json!("urgent");
        assert_eq!(h.post(&token, &urgent).await.status(), 202);
        h.wait_status(&token, &id(&urgent), "delivered", Duration::from_secs(20))
            .await;
        h.receipt(
            adapters::queue::receipts::RECEIVED,
            &gid(&urgent),
            json!({}),
        )
        .await;
        let view = h
            .wait_status(&token, &id(&urgent), "received", Duration::from_secs(5))
            .await;
        assert_eq!(
            view["status"], expected,
            "on-call service signs: {on_call_signs}"
        );
        h.cleanup().await;
    }
}

#[tokio::test]
async fn an_inbox_that_answers_503_then_hangs_blocks_nothing_and_gets_the_message_once() {
    let (h, inbox) = with_inbox(&[503, tests::HANG]).await;
    let token = h.token(SCHOOL);
    let first = example("no.politikontakt.anonymised");
    assert_eq!(h.post(&token, &first).await.status(), 202);
    // The first attempt gets 503, the retry hangs; meanwhile another message goes through.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut second = example("no.politikontakt.anonymised");
    second["messageId"] = json!(uuid::Uuid::new_v4());
    assert_eq!(h.post(&token, &second).await.status(), 202);
    assert!(
        inbox
            .wait_for("/inbox", &gid(&second), Duration::from_secs(5))
            .await,
        "not blocked behind the hanging request"
    );
    assert_eq!(h.adapters_get("/readyz").await.status(), 200);
    // The hanging attempt times out and is retried: delivered, once.
    let view = h
        .wait_status(&token, &id(&first), "delivered", Duration::from_secs(40))
        .await;
    assert_eq!(view["status"], "delivered");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let ids = inbox.ids_at("/inbox");
    let first_posts = ids.iter().filter(|i| **i == gid(&first)).count();
    assert_eq!(first_posts, 3, "503, the hang, then 200: {ids:?}");
    assert_eq!(ids.iter().filter(|i| **i == gid(&second)).count(), 1);
    // The hang is an unknown outcome (the inbox may have taken it), and the retry is counted
    // as a delivery again after one: the window in which a recipient may see a copy twice.
    assert_eq!(h.adapters_count("unknown").await, 1);
    assert_eq!(h.adapters_count("again_after_unknown").await, 1);
    h.cleanup().await;
}

#[tokio::test]
async fn a_message_past_its_deadline_shows_as_overdue() {
    let h = Harness::new().await;
    let token = h.token(SCHOOL);
    let message = bekymringsmelding();
    assert_eq!(h.post(&token, &message).await.status(), 202);
    let view: Value = h.status(&token, &id(&message)).await.json().await.unwrap();
    assert!(view.get("overdue").is_none(), "not overdue yet: {view}");
    h.gateway
        .as_ref()
        .unwrap()
        .clock
        .advance(time::Duration::days(2));
    let view: Value = h.status(&token, &id(&message)).await.json().await.unwrap();
    assert_eq!(view["overdue"], json!(["delivery", "receipt"]));
    let list: Value = h
        .get("/v1/messages?overdue=true", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["messages"][0]["messageId"], id(&message));
    let metrics = h.get("/metrics", None).await.text().await.unwrap();
    assert!(
        metrics.contains(
            "referral_messages_overdue{kind=\"no.bekymringsmelding\",deadline=\"receipt\"} 1"
        ),
        "{metrics}"
    );
    h.cleanup().await;
}

/// Waits until the copies in `transport`'s work and first retry queue are settled (the
/// losers of the ledger's claim acked as duplicates), and a second more.
async fn settle(h: &Harness, transport: contract::directory::Transport) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let topology = h.topology();
    while h.count(&topology.work_queue(transport)).await > 0
        || h.count(&topology.retry_queue(transport, 1)).await > 0
    {
        assert!(tokio::time::Instant::now() < deadline, "copies settle");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// Publishes the anonymised example referral, routed by hand to `adapter` for `recipient`
/// (as a bug, a forged publish or a republished copy would put it there), `copies` times;
/// returns its gateway id.
async fn publish_routed(
    h: &Harness,
    adapter: contract::directory::Transport,
    recipient: &str,
    copies: usize,
) -> String {
    publish_routed_as(h, adapter, recipient, copies, None).await
}

/// `copies` of a routed referral to `recipient`, with `property_id` as the AMQP
/// `message_id` (default: the body's); the gateway's id of it.
async fn publish_routed_as(
    h: &Harness,
    adapter: contract::directory::Transport,
    recipient: &str,
    copies: usize,
    property_id: Option<&str>,
) -> String {
    let referral = example("no.politikontakt.anonymised");
    let gid = tests::gateway_id(SCHOOL, &referral);
    let routed = json!({
        "messageId": gid,
        "senderMessageId": referral["messageId"],
        "kind": "no.politikontakt",
        "sender": { "agency": SCHOOL, "type": "school", "orgnr": "974590000" },
        "recipient": recipient,
        "legalBasis": referral["legalBasis"],
        "urgency": "normal",
        "subject": referral["subject"],
        "payload": referral["payload"],
        "recordedAt": "2026-11-23T10:00:00.000000Z",
    });
    let topology = h.topology();
    let channel = h.channel().await;
    channel.confirm_select(Default::default()).await.unwrap();
    for _ in 0..copies {
        contract::plumbing::broker::publish_confirmed(
            &channel,
            &topology.exchange(),
            &contract::topology::Topology::routing_key(adapter, recipient),
            routed.to_string().as_bytes(),
            lapin::BasicProperties::default().with_message_id(property_id.unwrap_or(&gid).into()),
            Duration::from_secs(5),
        )
        .await
        .unwrap();
    }
    gid
}

#[tokio::test]
async fn a_message_taken_back_by_many_consumer_crashes_is_still_delivered() {
    // An adapter killed (or a broker restarted) with a message in hand returns it, and the
    // work queue counts each return against its delivery limit: through kills and
    // restarts in a row, a message that never failed must not be dead-lettered as poison.
    let (mut h, inbox) = Harness::with_inbox(&[], |_| {}).await;
    let police = contract::directory::Transport::Inbox;
    let gid = publish_routed(&h, police, "no-oslo-politikontakt", 1).await;
    let work = h.topology().work_queue(police);
    for crash in 0..8 {
        let channel = h.channel().await;
        let taken = channel
            .basic_get(work.as_str().into(), Default::default())
            .await
            .unwrap();
        assert!(taken.is_some(), "crash {crash}: the message is back");
        channel.close(0, "a consumer gone".into()).await.unwrap();
    }
    h.start_adapters().await;
    assert!(
        inbox
            .wait_for("/inbox", &gid, Duration::from_secs(20))
            .await,
        "delivered, not dead-lettered"
    );
    assert_eq!(inbox.ids_at("/inbox"), [gid], "once");
    assert_eq!(h.count(&h.topology().dead_queue(police)).await, 0);
    h.cleanup().await;
}

#[tokio::test]
async fn a_message_whose_properties_and_body_disagree_on_its_id_is_dead_lettered() {
    let (mut h, inbox) = Harness::with_inbox(&[], |_| {}).await;
    h.start_adapters().await;
    let transport = contract::directory::Transport::Inbox;
    let other = uuid::Uuid::new_v4().to_string();
    publish_routed_as(&h, transport, "no-oslo-politikontakt", 1, Some(&other)).await;
    let got = h
        .drain(
            &h.topology().dead_queue(transport),
            1,
            Duration::from_secs(20),
        )
        .await;
    assert_eq!(got.len(), 1, "dead-lettered");
    assert!(inbox.ids_at("/inbox").is_empty(), "never delivered");
    h.cleanup().await;
}

#[tokio::test]
async fn the_queue_transport_never_delivers_a_kind_not_for_its_recipient() {
    let mut h = Harness::new().await;
    h.start_adapters().await;
    let barnevern = contract::directory::Transport::Queue;
    publish_routed(&h, barnevern, "no-oslo-barnevern", 1).await;
    let topology = h.topology();
    let got = h
        .drain(&topology.dead_queue(barnevern), 1, Duration::from_secs(20))
        .await;
    assert_eq!(got.len(), 1, "dead-lettered");
    assert_eq!(
        h.count(&topology.receiving_queue(tests::OSLO_INBOX)).await,
        0
    );
    h.cleanup().await;
}

#[tokio::test]
async fn copies_of_one_message_handled_at_once_reach_the_inbox_once() {
    // Ten copies in the work queue before the adapter starts: it takes them concurrently,
    // and only the copy that wins the ledger's claim is delivered.
    let (mut h, inbox) = Harness::with_inbox(&[], |_| {}).await;
    let politikontakt = contract::directory::Transport::Inbox;
    let gid = publish_routed(&h, politikontakt, "no-oslo-politikontakt", 10).await;
    h.start_adapters().await;
    assert!(
        inbox
            .wait_for("/inbox", &gid, Duration::from_secs(20))
            .await
    );
    // The losers wait for the winner's outcome (a retry) and are then acked as duplicates.
    settle(&h, politikontakt).await;
    assert_eq!(inbox.ids_at("/inbox"), [gid], "delivered exactly once");
    h.cleanup().await;
}

#[tokio::test]
async fn two_adapter_processes_sharing_a_postgres_ledger_deliver_copies_once() {
    // Ten copies of each of five messages, taken at once by two adapter processes (as on
    // two hosts) that share one ledger in PostgreSQL.
    let (mut h, inbox) = Harness::with_inbox(&[], |_| {}).await;
    let url = contract::plumbing::postgres::new_schema(
        &contract::plumbing::postgres::test_server(),
        "ledger",
    )
    .await
    .unwrap();
    let police = contract::directory::Transport::Inbox;
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(publish_routed(&h, police, "no-oslo-politikontakt", 10).await);
    }
    let shared =
        |c: &mut adapters::config::AdaptersConfig| c.runtime.ledger_url = Some(url.clone());
    let other = h.more_adapters_with(shared).await;
    h.start_adapters_with(shared).await;
    for id in &ids {
        assert!(inbox.wait_for("/inbox", id, Duration::from_secs(20)).await);
    }
    settle(&h, police).await;
    let mut delivered = inbox.ids_at("/inbox");
    delivered.sort();
    ids.sort();
    assert_eq!(delivered, ids, "each delivered exactly once");
    other.stop().await;
    h.cleanup().await;
}
