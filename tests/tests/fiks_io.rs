//! Delivery over KS Fiks IO, through the stand-in (`ops/fiks-io`) and the real broker: what
//! arrives opens with independent tools, answers move the status on, and each of Fiks's
//! failure classes does what `docs/delivery.md` says.

use fiks_io_standin::Answer;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;
use tests::fiks::{Fiks, fiks_bekymringsmelding};
use tests::{Harness, SCHOOL};

const TOKEN_LIFETIME: Duration = Duration::from_secs(120);

fn id(message: &Value) -> String {
    message["messageId"].as_str().unwrap().to_owned()
}

/// A gateway and adapters whose Trondheim barnevern service is on `fiks`.
async fn on_fiks(
    fiks: &Fiks,
    tweak: impl FnOnce(&mut adapters::config::AdaptersConfig),
) -> Harness {
    let directory = fiks.directory();
    let mut h = Harness::with(|c| c.directory = directory).await;
    h.start_adapters_with(tweak).await;
    ready(&h).await;
    h
}

/// Waits until the adapters are ready: among their consumers, the one of our account's
/// queue on Fiks IO's AMQP service (logged in to as the integration).
async fn ready(h: &Harness) {
    let until = tokio::time::Instant::now() + Duration::from_secs(30);
    while h.adapters_get("/readyz").await.status() != 200 {
        assert!(
            tokio::time::Instant::now() < until,
            "the adapters become ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs `program` with `args`, its standard output.
fn run(program: &Path, args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The entries of the ZIP `zip`, and the text of the entry `name`, read by Python's zipfile.
fn unzip(zip: &Path, name: &str) -> (Vec<String>, String) {
    let script = "import json, sys, zipfile\n\
                  z = zipfile.ZipFile(sys.argv[1])\n\
                  print(json.dumps({'names': z.namelist(), 'entry': z.read(sys.argv[2]).decode()}))";
    let python = tests::python::tools().join("python");
    let out = run(&python, &["-c", script, zip.to_str().unwrap(), name]);
    let value: Value = serde_json::from_slice(&out).unwrap();
    let names = value["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_owned())
        .collect();
    (names, value["entry"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_bekymringsmelding_over_fiks_io_opens_with_openssl_and_its_mottatt_answer_is_applied() {
    let fiks = Fiks::start(Answer::Receipt, TOKEN_LIFETIME).await;
    let h = on_fiks(&fiks, |_| {}).await;
    let token = h.token(SCHOOL);
    let message = fiks_bekymringsmelding();
    assert_eq!(h.post(&token, &message).await.status(), 202);
    h.wait_status(&token, &id(&message), "received", Duration::from_secs(30))
        .await;
    let received = fiks.standin.received();
    assert_eq!(received.len(), 1);
    let sent = &received[0];
    assert_eq!((sent.sender, sent.receiver), (fiks.sender, fiks.receiver));
    assert_eq!(
        sent.message_type,
        "no.ks.fiks.bekymringsmelding.offentlig.v2"
    );
    // An independent tool opens it with the receiving account's key.
    let zip = sent.file.with_extension("zip");
    run(
        Path::new("openssl"),
        &[
            "cms",
            "-decrypt",
            "-inform",
            "DER",
            "-binary",
            "-in",
            sent.file.to_str().unwrap(),
            "-inkey",
            fiks.receiver_key.to_str().unwrap(),
            "-out",
            zip.to_str().unwrap(),
        ],
    );
    let (names, manifest) = unzip(&zip, "META-INF/manifest.xml");
    assert_eq!(names[0], "mimetype", "{names:?}");
    assert!(
        names.contains(&"bekymringsmelding.json".to_owned()),
        "{names:?}"
    );
    assert!(
        manifest.contains(
            r#"manifest:full-path="bekymringsmelding.json" manifest:media-type="application/json""#
        ),
        "{manifest}"
    );
    let (_, json) = unzip(&zip, "bekymringsmelding.json");
    let mut document: Value = serde_json::from_str(&json).unwrap();
    // The payload, field for field KS's offentlig.bekymringsmelding.v2, with the fields the
    // delivering system sets.
    let object = document.as_object_mut().unwrap();
    assert!(
        object
            .remove("sendingstidspunkt")
            .is_some_and(|t| t.is_string())
    );
    assert_eq!(object.remove("leveringskanal"), Some("Fagsystem".into()));
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            tests::repo().join("schemas/kinds/no.bekymringsmelding.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    assert!(validator.is_valid(&document), "{document}");
    assert_eq!(document, message["payload"]);
    // Not readable without the key.
    assert!(!String::from_utf8_lossy(&sent.data).contains("kommunenummer"));
    h.cleanup().await;
}

/// Posts the Trondheim bekymringsmelding; its id.
async fn send(h: &Harness) -> String {
    let message = fiks_bekymringsmelding();
    assert_eq!(h.post(&h.token(SCHOOL), &message).await.status(), 202);
    id(&message)
}

/// Waits for status `status` of `id`; its last history entry's reason.
async fn reason_at(h: &Harness, id: &str, status: &str) -> String {
    let view = h
        .wait_status(&h.token(SCHOOL), id, status, Duration::from_secs(30))
        .await;
    assert_eq!(view["status"], status, "{view}");
    let history = view["history"].as_array().unwrap();
    history.last().unwrap()["reason"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn refusals_by_fiks_fail_fast_with_their_reason_and_outages_are_retried() {
    let fiks = Fiks::start(Answer::Nothing, TOKEN_LIFETIME).await;
    let h = on_fiks(&fiks, |c| c.runtime.fiks_catalogue_cache_secs = 1).await;
    // A request Fiks will never take: failed at once, with Fiks's answer as the reason.
    for status in [400, 403, 404] {
        fiks.standin.faults().sends.push_back(status);
        let id = send(&h).await;
        assert_eq!(
            reason_at(&h, &id, "failed").await,
            format!("Fiks IO answered {status}")
        );
    }
    // Outages of Fiks and of its catalogue are retried until they pass.
    fiks.standin.faults().sends.extend([503, 500]);
    let id = send(&h).await;
    reason_at(&h, &id, "delivered").await;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    fiks.standin.faults().catalogue_down = true;
    let id = send(&h).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        fiks.standin.received().len(),
        1,
        "nothing sent without the certificate"
    );
    fiks.standin.faults().catalogue_down = false;
    reason_at(&h, &id, "delivered").await;
    assert_eq!(fiks.standin.received().len(), 2);
    h.cleanup().await;
}

#[tokio::test]
async fn an_account_the_catalogue_does_not_know_or_a_certificate_it_cannot_use_is_never_sent_to() {
    let fiks = Fiks::start(Answer::Nothing, TOKEN_LIFETIME).await;
    let h = on_fiks(&fiks, |_| {}).await;
    fiks.standin.faults().broken_certificate = true;
    let id = send(&h).await;
    assert_eq!(
        reason_at(&h, &id, "failed").await,
        "Fiks IO catalogue: the receiving account's certificate cannot be used"
    );
    fiks.standin.faults().broken_certificate = false;
    h.cleanup().await;
    // The service looked up by organisation number, which the catalogue does not know.
    let directory = fiks.directory_by_organisation();
    let text = std::fs::read_to_string(&directory).unwrap().replace(
        "organisation_number = \"942110002\"",
        "organisation_number = \"942110099\"",
    );
    std::fs::write(&directory, text).unwrap();
    let mut h = Harness::with(|c| c.directory = directory).await;
    h.start_adapters().await;
    // Not ready: without a token, the adapters cannot log in to the answers either.
    let id = send(&h).await;
    assert_eq!(
        reason_at(&h, &id, "failed").await,
        "Fiks IO catalogue: no such account"
    );
    assert!(fiks.standin.received().is_empty(), "never sent");
    h.cleanup().await;
}

#[tokio::test]
async fn an_account_looked_up_by_organisation_number_receives_and_its_answer_is_applied() {
    let fiks = Fiks::start(Answer::Receipt, TOKEN_LIFETIME).await;
    let directory = fiks.directory_by_organisation();
    let mut h = Harness::with(|c| c.directory = directory).await;
    h.start_adapters().await;
    ready(&h).await;
    let id = send(&h).await;
    reason_at(&h, &id, "received").await;
    assert_eq!(fiks.standin.received()[0].receiver, fiks.receiver);
    h.cleanup().await;
}

#[tokio::test]
async fn a_token_fiks_no_longer_takes_is_renewed_once_and_a_refused_grant_fails_fast() {
    let fiks = Fiks::start(Answer::Receipt, TOKEN_LIFETIME).await;
    let h = on_fiks(&fiks, |_| {}).await;
    let first = send(&h).await;
    reason_at(&h, &first, "received").await;
    // Mid-run, every token Fiks issued stops working: the next send gets a fresh one.
    fiks.standin.revoke_tokens().await.unwrap();
    let second = send(&h).await;
    reason_at(&h, &second, "received").await;
    assert_eq!(fiks.standin.grants(), 2, "one grant per token");
    assert_eq!(fiks.standin.received().len(), 2);
    h.cleanup().await;
}

#[tokio::test]
async fn answers_are_read_as_the_integration_and_a_lost_login_is_renewed_with_a_fresh_token() {
    let fiks = Fiks::start(Answer::Receipt, TOKEN_LIFETIME).await;
    let h = on_fiks(&fiks, |_| {}).await;
    let first = send(&h).await;
    reason_at(&h, &first, "received").await;
    assert_eq!(
        fiks.standin.grants(),
        1,
        "one token for the login and the send"
    );
    // Fiks IO stops taking the token and drops the connection: the adapter's login with
    // its cached token is refused, and it logs in again with a fresh one.
    fiks.standin.revoke_tokens().await.unwrap();
    fiks.standin.disconnect().await.unwrap();
    let until = tokio::time::Instant::now() + Duration::from_secs(30);
    while fiks.standin.grants() < 2 {
        assert!(tokio::time::Instant::now() < until, "a fresh token");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ready(&h).await;
    let second = send(&h).await;
    reason_at(&h, &second, "received").await;
    assert_eq!(
        fiks.standin.grants(),
        2,
        "the send takes the login's fresh token"
    );
    h.cleanup().await;
}

#[tokio::test]
async fn a_grant_the_token_endpoint_refuses_fails_the_message_at_once() {
    let fiks = Fiks::start(Answer::Nothing, TOKEN_LIFETIME).await;
    // The grant is signed with a key that is not the certificate's.
    let directory = fiks.directory();
    let (_, foreign, _) = fiks_io_standin::accounts::key_and_certificate("other").unwrap();
    let key = directory.with_file_name("business.key.pem");
    std::fs::write(&key, foreign).unwrap();
    let mut h = Harness::with(|c| c.directory = directory).await;
    h.start_adapters().await;
    // Not ready: without a token, the adapters cannot log in to the answers either.
    let id = send(&h).await;
    assert_eq!(
        reason_at(&h, &id, "failed").await,
        "no token: token endpoint answered 400"
    );
    assert!(fiks.standin.received().is_empty());
    h.cleanup().await;
}

#[tokio::test]
async fn after_the_receiving_account_rotates_its_key_messages_are_encrypted_to_the_new_one() {
    let fiks = Fiks::start(Answer::Receipt, TOKEN_LIFETIME).await;
    let h = on_fiks(&fiks, |c| c.runtime.fiks_catalogue_cache_secs = 1).await;
    let before = send(&h).await;
    reason_at(&h, &before, "received").await;
    fiks.standin.rotate(fiks.receiver).unwrap();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let after = send(&h).await;
    // The stand-in answers `mottatt` only to what opens with the account's current key.
    reason_at(&h, &after, "received").await;
    let received = fiks.standin.received();
    let opens = |file: &Path| {
        std::process::Command::new("openssl")
            .args([
                "cms",
                "-decrypt",
                "-inform",
                "DER",
                "-binary",
                "-out",
                "/dev/null",
                "-in",
            ])
            .arg(file)
            .arg("-inkey")
            .arg(&fiks.receiver_key)
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(!opens(&received[0].file), "the old key is gone");
    assert!(opens(&received[1].file));
    h.cleanup().await;
}

#[tokio::test]
async fn a_copy_sent_again_after_an_unknown_outcome_is_one_fiks_message() {
    let fiks = Fiks::start(Answer::Nothing, TOKEN_LIFETIME).await;
    // Fiks takes the first send but answers too late: the adapter cannot know it arrived.
    fiks.standin
        .faults()
        .slow_answers
        .push_back(Duration::from_secs(8));
    let h = on_fiks(&fiks, |c| c.runtime.inbox_timeout_ms = 2_000).await;
    let id = send(&h).await;
    reason_at(&h, &id, "delivered").await;
    let view: Value = h.status(&h.token(SCHOOL), &id).await.json().await.unwrap();
    let gateway_id: uuid::Uuid = view["gatewayId"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        h.adapters_count("again_after_unknown").await,
        1,
        "sent twice"
    );
    let received = fiks.standin.received();
    assert_eq!(received.len(), 1, "one Fiks message: {received:?}");
    assert_eq!(
        received[0].client_message_id.as_deref(),
        Some(
            adapters::fiks_io::client_message_id(&contract::message::MessageId(gateway_id))
                .to_string()
                .as_str()
        )
    );
    h.cleanup().await;
}

#[tokio::test]
async fn a_forged_or_foreign_answer_is_dead_lettered_and_counted_never_applied() {
    let fiks = Fiks::start(Answer::Nothing, TOKEN_LIFETIME).await;
    let h = on_fiks(&fiks, |_| {}).await;
    let id = send(&h).await;
    reason_at(&h, &id, "delivered").await;
    let fiks_id = fiks.standin.received()[0].message_id;
    let stranger = uuid::Uuid::new_v4();
    let received = "no.ks.fiks.bekymringsmelding.mottatt.v1";
    // From an account the message was not sent to; to a message never sent; of a type
    // the protocol does not have.
    fiks.standin
        .answer(stranger, fiks.sender, received, fiks_id)
        .await
        .unwrap();
    fiks.standin
        .answer(fiks.receiver, fiks.sender, received, stranger)
        .await
        .unwrap();
    fiks.standin
        .answer(fiks.receiver, fiks.sender, "no.ks.fiks.other.v1", fiks_id)
        .await
        .unwrap();
    let dead = format!("{}.dead", fiks.answers_queue());
    let until = tokio::time::Instant::now() + Duration::from_secs(20);
    while h.count(&dead).await < 3 && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(h.count(&dead).await, 3, "dead-lettered");
    assert_eq!(h.adapters_count("answer_refused").await, 3, "counted");
    let view: Value = h.status(&h.token(SCHOOL), &id).await.json().await.unwrap();
    assert_eq!(view["status"], "delivered", "never applied: {view}");
    // The answer of the account it was sent to is.
    fiks.standin
        .answer(fiks.receiver, fiks.sender, received, fiks_id)
        .await
        .unwrap();
    reason_at(&h, &id, "received").await;
    h.cleanup().await;
}
