//! The child's data at rest and in flight: sealed end to end for recipients with a key,
//! never in clear in any file the gateway, the adapters or RabbitMQ wrote, and erased
//! once delivered.

use gateway::seal::{Curve, PrivateJwk, unseal};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tests::{FakeInbox, Harness, SCHOOL, bekymringsmelding, example, temp_dir};

/// A random number below `n`.
fn random(n: u128) -> u128 {
    uuid::Uuid::new_v4().as_u128() % n
}

/// `key`'s public half as a TOML inline table, for the directory.
fn toml_jwk(key: &PrivateJwk) -> String {
    let members = key
        .public
        .to_json()
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| format!("{k} = {v}"))
        .collect::<Vec<_>>();
    format!("{{ {} }}", members.join(", "))
}

/// Every file under `dir` (those it can read).
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// The files under `dirs` that hold any of `secrets`, with the secret found.
fn files_holding(dirs: &[PathBuf], secrets: &[String]) -> Vec<(PathBuf, String)> {
    let mut all = Vec::new();
    for dir in dirs {
        files(dir, &mut all);
    }
    assert!(!all.is_empty(), "there are files to search");
    let mut hits = Vec::new();
    for path in all {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        for secret in secrets {
            if bytes.windows(secret.len()).any(|w| w == secret.as_bytes()) {
                hits.push((path.clone(), secret.clone()));
            }
        }
    }
    hits
}

/// RabbitMQ's data folder on this machine, if the tests use the local broker.
fn broker_data() -> Option<PathBuf> {
    if std::env::var_os("REFERRAL_TEST_AMQP_URL").is_some() {
        return None;
    }
    let dir = std::env::var_os("RABBITMQ_MNESIA_BASE")
        .map(PathBuf::from)
        .unwrap_or_else(|| "/var/lib/rabbitmq/mnesia".into());
    dir.is_dir().then_some(dir)
}

#[tokio::test]
async fn a_childs_data_is_sealed_to_its_recipient_and_never_in_clear_on_any_disk() {
    let dir = temp_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let log = std::fs::File::create(dir.join("test.log")).unwrap();
    contract::plumbing::process::init_filtered(
        "debug,lapin=info,sqlx=info,hyper=info,h2=info",
        move || log.try_clone().unwrap(),
    );

    // Unique people: nothing found later can come from another test.
    let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
    let (child, reporter, pupil) = (
        format!("Barnnavn{tag}"),
        format!("Meldernavn{tag}"),
        format!("Elevnamn{tag}"),
    );
    let (day, month) = (10 + random(18), 1 + random(12));
    let fnr = format!("{day:02}{month:02}14{}", 50000 + random(50000));
    let personnummer = format!("2012{month:02}{day:02}-{:04}", random(10000));
    let secrets = [&child, &reporter, &pupil, &fnr, &personnummer].map(|s| s.to_string());

    let barnevern = PrivateJwk::generate(Curve::P256, Some("bv-0301-1".into()));
    let sspf = PrivateJwk::generate(Curve::X25519, Some("sspf-malmo-1".into()));
    let inbox = FakeInbox::start(&[]).await;
    let directory = tests::dev_directory_with(
        &dir,
        &[
            ("http://127.0.0.1:9102/inbox", &inbox.url),
            (
                "id = \"no-oslo-barnevern\"\n",
                &format!(
                    "id = \"no-oslo-barnevern\"\npublic_key = {}\n",
                    toml_jwk(&barnevern)
                ),
            ),
            (
                "id = \"se-malmo-sspf\"\n",
                &format!("id = \"se-malmo-sspf\"\npublic_key = {}\n", toml_jwk(&sspf)),
            ),
        ],
    );
    let mut h = Harness::with(|c| c.directory = directory).await;
    assert!(h.link_up(Duration::from_secs(20)).await);
    h.start_adapters().await;

    // Through the queue adapter: a bekymringsmelding to barnevern Oslo.
    let school = h.token(SCHOOL);
    let mut report = bekymringsmelding();
    report["subject"] = json!({ "birthDate": format!("2014-{month:02}-{day:02}") });
    let barn = &mut report["payload"]["offentligBarn"][0];
    barn["fnr"] = fnr.clone().into();
    barn["personnavn"] = child.clone().into();
    report["payload"]["offentligMelder"]["personnavn"] = reporter.clone().into();
    assert_eq!(h.post(&school, &report).await.status(), 202);

    // Through the inbox adapter: an SSPF request, under a consent naming the pupil.
    let skola = h.token("se-malmo-skola");
    let request = sspf_request(&h, &skola, &tag, &personnummer, &pupil, (day, month)).await;
    let posted = h.post(&skola, &request).await;
    assert_eq!(posted.status(), 202, "{}", posted.text().await.unwrap());

    // Both arrive sealed, and open with the recipient's key only.
    let queue = h.topology().receiving_queue(tests::OSLO_INBOX);
    let arrived = h.drain(&queue, 1, Duration::from_secs(60)).await;
    let properties = &arrived[0].delivery.properties;
    assert_eq!(
        properties.content_type().as_ref().map(|t| t.as_str()),
        Some("application/jose")
    );
    let jwe = String::from_utf8(arrived[0].delivery.data.clone()).unwrap();
    let document: Value = serde_json::from_slice(&unseal(&jwe, &barnevern).unwrap()).unwrap();
    assert_eq!(document["offentligBarn"][0]["fnr"], fnr.as_str());
    assert!(
        document["sendingstidspunkt"].is_string(),
        "rendered before sealing"
    );
    assert!(unseal(&jwe, &sspf).is_err());
    let request_id = tests::gateway_id("se-malmo-skola", &request);
    assert!(
        inbox
            .wait_for("/inbox", &request_id, Duration::from_secs(60))
            .await
    );
    let received = inbox.received.lock().unwrap()[0].1.clone();
    let opened: Value =
        serde_json::from_slice(&unseal(received["sealed"].as_str().unwrap(), &sspf).unwrap())
            .unwrap();
    assert_eq!(opened["payload"]["namn"], pupil.as_str());

    // Delivered, and then the gateway holds no payload of either.
    for (token, message) in [(&school, &report), (&skola, &request)] {
        let id = message["messageId"].as_str().unwrap();
        let view = h
            .wait_status(token, id, "delivered", Duration::from_secs(60))
            .await;
        assert!(view["payloadErasedAt"].is_string(), "{view}");
    }

    // No file written holds any of them in clear: the gateway's and the adapters' (the
    // database with its WAL, the ledger, the keys), the logs, RabbitMQ's queues.
    let mut dirs = vec![h.dir.clone(), dir.clone()];
    if let Some(broker) = broker_data() {
        // The search reads the broker's files: it finds this test's queue names there.
        let names = files_holding(std::slice::from_ref(&broker), &[h.prefix.clone()]);
        assert!(!names.is_empty(), "the broker's files are searched");
        dirs.push(broker);
    }
    let hits = files_holding(&dirs, &secrets);
    assert!(hits.is_empty(), "found in clear: {hits:?}");
    h.cleanup().await;
}

/// An SSPF request from the Malmö school naming `pupil` (`personnummer`, born on `day` of
/// `month` 2012), under a consent recorded first (its id from `tag`).
async fn sspf_request(
    h: &Harness,
    skola: &str,
    tag: &str,
    personnummer: &str,
    pupil: &str,
    (day, month): (u128, u128),
) -> Value {
    let mut consent: Value = serde_json::from_str(
        &std::fs::read_to_string(
            tests::repo().join("schemas/examples/consents/samtycke-2026-17.json"),
        )
        .unwrap(),
    )
    .unwrap();
    consent["consentId"] = format!("samtycke-{tag}").into();
    consent["subject"] = json!({ "personnummer": personnummer });
    assert_eq!(
        h.post_to("/v1/consents", skola, &consent).await.status(),
        201
    );
    let mut request = example("se.sspf-sig.sspf");
    request["legalBasis"]["consentRef"] = format!("samtycke-{tag}").into();
    request["subject"] = json!({ "birthDate": format!("2012-{month:02}-{day:02}") });
    request["payload"]["namn"] = pupil.into();
    request["payload"]["personnummer"] = personnummer.into();
    request
}

#[tokio::test]
async fn a_keyless_recipients_data_crosses_the_broker_sealed_through_retries_and_dead_letters() {
    let tag = uuid::Uuid::new_v4().simple().to_string()[..10].to_owned();
    let pupil = format!("Elevnamn{tag}");
    let (day, month) = (10 + random(18), 1 + random(12));
    let personnummer = format!("2012{month:02}{day:02}-{:04}", random(10000));
    // The SSPF coordinator publishes no key: its messages travel sealed to the adapters'
    // delivery key. Its inbox fails three times (retries), takes the first message, and
    // refuses the second for good (a dead letter).
    let (mut h, inbox) = Harness::with_inbox(&[503, 503, 503, 200, 400], |_| {}).await;
    h.start_adapters().await;
    let skola = h.token("se-malmo-skola");
    let request = sspf_request(&h, &skola, &tag, &personnummer, &pupil, (day, month)).await;
    assert_eq!(h.post(&skola, &request).await.status(), 202);
    let id = request["messageId"].as_str().unwrap();
    h.wait_status(&skola, id, "delivered", Duration::from_secs(90))
        .await;
    // The inbox got it opened, in clear (its own transport is TLS in production).
    let received = inbox.received.lock().unwrap().last().unwrap().1.clone();
    assert_eq!(received["payload"]["namn"], pupil.as_str(), "{received}");
    let second = sspf_request(
        &h,
        &skola,
        &format!("{tag}b"),
        &personnummer,
        &pupil,
        (day, month),
    )
    .await;
    assert_eq!(h.post(&skola, &second).await.status(), 202);
    let id = second["messageId"].as_str().unwrap();
    h.wait_status(&skola, id, "failed", Duration::from_secs(60))
        .await;
    // What the broker held and holds (the work, retry and dead-letter queues) is sealed.
    let dead = h
        .topology()
        .dead_queue(contract::directory::Transport::Inbox);
    let letters = h.drain(&dead, 1, Duration::from_secs(10)).await;
    let parcel: Value = serde_json::from_slice(&letters[0].delivery.data).unwrap();
    assert!(parcel["transit"].is_string(), "{parcel}");
    let secrets = [pupil.clone(), personnummer.clone()];
    if let Some(broker) = broker_data() {
        let names = files_holding(std::slice::from_ref(&broker), &[h.prefix.clone()]);
        assert!(!names.is_empty(), "the broker's files are searched");
        let hits = files_holding(&[broker], &secrets);
        assert!(hits.is_empty(), "found in clear: {hits:?}");
    }
    h.cleanup().await;
}

#[tokio::test]
async fn a_data_protection_officer_sees_the_disclosures_about_one_person_and_is_audited() {
    let mut h = Harness::new().await;
    h.start_adapters().await;
    let school = h.token(SCHOOL);
    let fnr = format!("0903145{:04}", random(10000));
    let mut report = bekymringsmelding();
    report["payload"]["offentligBarn"][0]["fnr"] = fnr.clone().into();
    assert_eq!(h.post(&school, &report).await.status(), 202);
    let other = bekymringsmelding();
    assert_eq!(h.post(&school, &other).await.status(), 202);
    let ask = json!({ "subject": { "fodselsnummer": fnr } });

    // Only a data protection officer's token may ask.
    let refused = h.post_to("/v1/disclosures", &school, &ask).await;
    tests::problem(refused, 403, "forbidden").await;
    let mut claims = h.claims(SCHOOL);
    claims.scope = Some("openid referral-gateway.dpo".into());
    let dpo = h.sign(&claims);
    let answer = h.post_to("/v1/disclosures", &dpo, &ask).await;
    assert_eq!(answer.status(), 200);
    let text = answer.text().await.unwrap();
    assert!(!text.contains(&fnr), "the answer does not repeat the ID");
    let answer: Value = serde_json::from_str(&text).unwrap();
    let found = answer["disclosures"].as_array().unwrap();
    assert_eq!(found.len(), 1, "{answer}");
    assert_eq!(
        found[0]["messageId"],
        tests::gateway_id(SCHOOL, &report).as_str()
    );
    assert_eq!(found[0]["sender"], SCHOOL);
    assert_eq!(found[0]["recipient"], "no-oslo-barnevern");
    assert_eq!(found[0]["kind"], "no.bekymringsmelding");
    assert_eq!(found[0]["legalBasis"], "no.bvl2021.13-2");
    assert!(found[0]["status"].is_string() && found[0]["recordedAt"].is_string());
    let nobody = json!({ "subject": { "fodselsnummer": "01011250000" } });
    let none: Value = h
        .post_to("/v1/disclosures", &dpo, &nobody)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(none["disclosures"], json!([]));
    let invalid = json!({ "subject": { "fodselsnummer": "123" } });
    tests::problem(
        h.post_to("/v1/disclosures", &dpo, &invalid).await,
        422,
        "invalid-message",
    )
    .await;

    // Each report is in the audit trail, by organisation and keyed hash, never the ID; the
    // trail verifies.
    let store = gateway::app::open_store(&h.config, Default::default())
        .await
        .unwrap();
    let entries = store.audit_entries(0, 1000).await.unwrap();
    let reports: Vec<_> = entries
        .iter()
        .filter(|e| e.action == "disclosure_report")
        .collect();
    assert_eq!(
        reports.len(),
        2,
        "both answered requests, not the refused ones"
    );
    assert!(
        reports
            .iter()
            .all(|e| e.actor == SCHOOL && e.subject_hash.is_some())
    );
    assert!(!format!("{entries:?}").contains(&fnr));
    let verified = gateway::operate::audit_verify(&h.config, None)
        .await
        .unwrap();
    assert!(
        verified.breaks.is_empty() && verified.entries >= 4,
        "{verified:?}"
    );
    h.cleanup().await;
}

#[tokio::test]
async fn a_data_protection_officer_answers_for_their_own_organisation_only() {
    let h = Harness::new().await;
    let fnr = format!("0903145{:04}", random(10000));
    let about = |sender: &str| {
        let mut report = if sender == SCHOOL {
            bekymringsmelding()
        } else {
            tests::example("no.bekymringsmelding.kindergarten")
        };
        report["messageId"] = uuid::Uuid::new_v4().to_string().into();
        report["payload"]["offentligBarn"][0]["fnr"] = fnr.clone().into();
        report["subject"]["birthDate"] = "2014-03-09".into();
        report
    };
    // An Oslo school and an Oslo kindergarten (each its own organisation number) report the
    // same child to Oslo's barnevern.
    let kindergarten = "no-oslo-tasen-barnehage";
    for sender in [SCHOOL, kindergarten] {
        let posted = h.post(&h.token(sender), &about(sender)).await;
        let status = posted.status();
        assert_eq!(status, 202, "{sender}: {}", posted.text().await.unwrap());
    }
    let ask = json!({ "subject": { "fodselsnummer": fnr } });
    let report_for = |org: &str, scope: &str| {
        let mut claims = h.claims(org);
        claims.scope = Some(scope.into());
        let token = h.sign(&claims);
        let ask = ask.clone();
        let h = &h;
        async move {
            let answer = h.post_to("/v1/disclosures", &token, &ask).await;
            assert_eq!(answer.status(), 200);
            let answer: Value = answer.json().await.unwrap();
            let mut pairs: Vec<(String, String)> = answer["disclosures"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| (d["sender"].to_string(), d["recipient"].to_string()))
                .collect();
            pairs.sort();
            pairs
        }
    };
    let pair = |s: &str, r: &str| (format!("{s:?}"), format!("{r:?}"));
    let barnevern = "no-oslo-barnevern";
    let dpo = "referral-gateway.dpo";
    // Another city's school sees nothing of it.
    assert_eq!(report_for("no-bergen-nordnes-skole", dpo).await, []);
    // Each sender sees what it sent; the recipient sees what it received.
    assert_eq!(report_for(SCHOOL, dpo).await, [pair(SCHOOL, barnevern)]);
    assert_eq!(
        report_for(kindergarten, dpo).await,
        [pair(kindergarten, barnevern)]
    );
    let both = vec![pair(SCHOOL, barnevern), pair(kindergarten, barnevern)];
    let mut sorted = both.clone();
    sorted.sort();
    assert_eq!(report_for(barnevern, dpo).await, sorted);
    // The operator-wide scope sees every organisation's.
    let all = report_for("no-bergen-nordnes-skole", "referral-gateway.dpo-all").await;
    assert_eq!(all, sorted);
    h.cleanup().await;
}

#[tokio::test]
async fn after_a_key_rotation_old_messages_are_still_delivered_and_new_ones_use_the_new_key() {
    // A message recorded while the broker is out of reach waits in the outbox, sealed at
    // rest under the first key.
    let mut h = Harness::with(|c| c.broker.url = "amqp://guest:guest@127.0.0.1:1/%2f".into()).await;
    let token = h.token(SCHOOL);
    let waiting = bekymringsmelding();
    assert_eq!(h.post(&token, &waiting).await.status(), 503);
    h.stop_gateway().await;
    let first = gateway::keys::KeyRing::read(&h.config.keys.file)
        .unwrap()
        .current()
        .to_owned();

    let rotation = gateway::operate::keys_rotate(&h.config).await.unwrap();
    assert_eq!(
        rotation.moved.rewrapped, 1,
        "the waiting message's data key"
    );
    assert_ne!(rotation.current, first);
    h.restart_gateway(|c| c.broker.url = tests::amqp_url())
        .await;
    assert!(h.link_up(Duration::from_secs(20)).await);
    let new = bekymringsmelding();
    assert_eq!(h.post(&token, &new).await.status(), 202);
    let store = gateway::app::open_store(&h.config, Default::default())
        .await
        .unwrap();
    h.wait_status(
        &token,
        waiting["messageId"].as_str().unwrap(),
        "queued",
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(
        store.keys_in_use().await.unwrap(),
        std::slice::from_ref(&rotation.current),
        "both"
    );

    h.start_adapters().await;
    for message in [&waiting, &new] {
        let id = message["messageId"].as_str().unwrap();
        h.wait_status(&token, id, "delivered", Duration::from_secs(60))
            .await;
    }
    // The next rotation, with the gateway running, removes the first key: nothing uses it.
    let again = gateway::operate::keys_rotate(&h.config).await.unwrap();
    assert_eq!(again.removed, [first]);
    let after = bekymringsmelding();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(h.post(&token, &after).await.status(), 202);
    let id = after["messageId"].as_str().unwrap();
    h.wait_status(&token, id, "delivered", Duration::from_secs(60))
        .await;
    h.cleanup().await;
}

#[tokio::test]
async fn the_gateway_does_not_start_without_its_key_file_or_with_one_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir();
    let mut config = gateway::config::Config::development(
        &tests::repo(),
        &dir,
        &[("BROKER__URL", tests::amqp_url())],
    )
    .unwrap();
    config.keys.dev_generate = false;
    let refused = |config: gateway::config::Config, says: [&'static str; 2]| async move {
        let error = gateway::app::start(&config).await.err().expect("refused");
        let error = error.to_string();
        assert!(says.iter().all(|s| error.contains(s)), "{error}");
    };
    refused(config.clone(), ["does not exist", "gateway keys init"]).await;
    gateway::operate::keys_init(&config).await.unwrap();
    std::fs::set_permissions(&config.keys.file, std::fs::Permissions::from_mode(0o644)).unwrap();
    refused(config.clone(), ["open to other users", "chmod 600"]).await;
    std::fs::set_permissions(&config.keys.file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let started = gateway::app::start(&config).await.expect("starts");
    for file in ["gateway.sqlite", "gateway.sqlite-wal", "keys.toml"] {
        let mode = std::fs::metadata(dir.join(file))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "{file}");
    }
    started.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}
