//! The operator console and its API: only an operator's token opens it; a dead letter is
//! listed by its metadata, replayed or discarded with a reason, and each is audited. The
//! page itself is driven in a real browser (headless Chromium): it signs in, sees a dead
//! letter appear after an inbox refuses a referral, replays it and sees it delivered;
//! screenshots are kept under `target/test-artifacts/console/`.

use contract::directory::Transport;
use serde_json::{Value, json};
use std::time::Duration;
use tests::browser::Browser;
use tests::{Harness, SCHOOL, example, gateway_id, problem};

/// A gateway whose police inbox refuses the first referral (400: dead-lettered at once),
/// its adapters running and watched by the console; the referral sent and dead-lettered,
/// and its gateway id.
async fn with_dead_letter() -> (Harness, tests::FakeInbox, Value, String) {
    let (mut h, inbox) = Harness::with_inbox(&[400], |_| {}).await;
    h.start_adapters().await;
    let adapters = format!("http://{}", h.adapters.as_ref().unwrap().addr);
    h.restart_gateway(|c| c.operator.adapters = vec![adapters])
        .await;
    assert!(h.link_up(Duration::from_secs(20)).await);
    let message = example("no.politikontakt.anonymised");
    assert_eq!(h.post(&h.token(SCHOOL), &message).await.status(), 202);
    let id = message["messageId"].as_str().unwrap().to_owned();
    h.wait_status(&h.token(SCHOOL), &id, "failed", Duration::from_secs(30))
        .await;
    let dead = h.topology().dead_queue(Transport::Inbox);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while h.count(&dead).await != 1 {
        assert!(tokio::time::Instant::now() < deadline, "dead-lettered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let gid = gateway_id(SCHOOL, &message);
    (h, inbox, message, gid)
}

async fn settle(h: &Harness, token: &str, gid: &str, how: &str, body: &Value) -> reqwest::Response {
    h.post_to(
        &format!("/v1/operator/dead-letters/inbox/{gid}/{how}"),
        token,
        body,
    )
    .await
}

async fn audit_actions(h: &Harness) -> Vec<(String, String, String)> {
    let store = gateway::app::open_store(&h.config, Default::default())
        .await
        .unwrap();
    store
        .audit_entries(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.actor, e.action, e.message_id))
        .collect()
}

#[tokio::test]
async fn only_an_operators_token_opens_the_console_api() {
    let h = Harness::new().await;
    for path in ["/v1/operator/overview", "/v1/operator/dead-letters"] {
        problem(h.get(path, None).await, 401, "unauthenticated").await;
        problem(h.get(path, Some(&h.token(SCHOOL))).await, 403, "forbidden").await;
        assert_eq!(
            h.get(path, Some(&h.operator_token())).await.status(),
            200,
            "{path}"
        );
    }
    let overview: Value = h
        .get("/v1/operator/overview", Some(&h.operator_token()))
        .await
        .json()
        .await
        .unwrap();
    for part in ["gateway", "store", "broker"] {
        let health = overview["health"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["part"] == part)
            .unwrap_or_else(|| panic!("{part} in {overview}"));
        assert_eq!(health["ready"], true, "{part}");
    }
    let queues = overview["queues"]
        .as_array()
        .expect("the management API answers");
    let work = h.topology().work_queue(Transport::Inbox);
    assert!(
        queues.iter().any(|q| q["name"] == work.as_str()),
        "{overview}"
    );
    // The page and its files are open: the token is given in the page.
    let page = h.get("/console", None).await;
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    for asset in ["console.js", "console.css"] {
        assert_eq!(
            h.get(&format!("/console/{asset}"), None).await.status(),
            200
        );
    }
    problem(h.get("/console/secrets.txt", None).await, 404, "not-found").await;
    h.cleanup().await;
}

#[tokio::test]
async fn a_discarded_dead_letter_is_gone_its_message_expired_and_the_discard_audited() {
    let (h, inbox, message, gid) = with_dead_letter().await;
    let operator = h.operator_token();
    let reason = json!({ "reason": "sent_in_error" });
    // Refused without changing anything: a sender's token, a free-text or missing reason,
    // an unknown message or transport.
    problem(
        settle(&h, &h.token(SCHOOL), &gid, "discard", &reason).await,
        403,
        "forbidden",
    )
    .await;
    for bad in [
        json!({ "reason": "Kari is fine now" }),
        json!({}),
        json!({ "reason": "duplicate", "note": "x" }),
    ] {
        let body = problem(
            settle(&h, &operator, &gid, "discard", &bad).await,
            422,
            "invalid-message",
        )
        .await;
        assert!(!body.to_string().contains("Kari"), "{body}");
    }
    let unknown = uuid::Uuid::new_v4().to_string();
    problem(
        settle(&h, &operator, &unknown, "discard", &reason).await,
        404,
        "not-found",
    )
    .await;
    let other = h
        .post_to(
            &format!("/v1/operator/dead-letters/carrier-pigeon/{gid}/discard"),
            &operator,
            &reason,
        )
        .await;
    problem(other, 404, "not-found").await;
    assert_eq!(h.count(&h.topology().dead_queue(Transport::Inbox)).await, 1);
    assert!(
        !audit_actions(&h)
            .await
            .iter()
            .any(|(_, a, _)| a.starts_with("dead_letter_")),
        "nothing audited for refused requests"
    );

    let settled = settle(&h, &operator, &gid, "discard", &reason).await;
    assert_eq!(settled.status(), 200);
    let settled: Value = settled.json().await.unwrap();
    assert_eq!(settled["settled"], "discarded");
    assert_eq!(h.count(&h.topology().dead_queue(Transport::Inbox)).await, 0);
    let view: Value = h.school_view(&message).await;
    assert_eq!(view["status"], "expired", "{view}");
    assert_eq!(view["history"][3]["reason"], "discarded by an operator");
    assert!(
        audit_actions(&h).await.contains(&(
            SCHOOL.to_owned(),
            "dead_letter_discard:sent_in_error".to_owned(),
            gid.clone()
        )),
        "audited with the operator's organisation and reason"
    );
    // Discarding again finds nothing.
    problem(
        settle(&h, &operator, &gid, "discard", &reason).await,
        404,
        "not-found",
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(inbox.ids_at("/inbox").len(), 1, "never delivered");
    h.cleanup().await;
}

#[tokio::test]
async fn in_a_browser_the_console_shows_a_dead_letter_and_replaying_it_delivers_the_message() {
    let (h, inbox, _, gid) = with_dead_letter().await;
    let browser = Browser::start("console").await;
    let wait = Duration::from_secs(20);
    browser.open(&format!("{}/console", h.base())).await;
    let token = browser.find("#token", wait).await;
    browser.type_into(&token, &h.operator_token()).await;
    browser
        .click(&browser.find("#signin-button", wait).await)
        .await;
    let row = format!("#dead tbody tr[data-id=\"{gid}\"]");
    browser.find(&row, wait).await;
    let text = browser
        .wait_text(wait, |t| t.contains(&gid) && t.contains("rejected"))
        .await;
    assert!(text.contains("Dead letters"), "{text}");
    assert!(!text.contains("not ready"), "every part is ready:\n{text}");
    // Every control has a label; the buttons can be reached with the keyboard.
    let unlabelled = browser
        .script(
            "return [...document.querySelectorAll('input, select')]
                .filter(e => !e.labels || e.labels.length === 0).length",
            json!([]),
        )
        .await;
    assert_eq!(unlabelled, 0);
    browser.screenshot("1-dead-letter").await;

    browser
        .click(&browser.find(&format!("{row} button.replay"), wait).await)
        .await;
    let delivered = format!("#recent tbody tr[data-id=\"{gid}\"] td.status");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let status = browser
            .script(
                "const e = document.querySelector(arguments[0]); return e && e.textContent",
                json!([delivered]),
            )
            .await;
        if status == "delivered" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "shown as delivered, was {status}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let gone = browser
        .script(
            "return document.querySelector(arguments[0]) === null",
            json!([row]),
        )
        .await;
    assert_eq!(gone, true, "the dead letter is gone from the list");
    browser.screenshot("2-replayed-and-delivered").await;
    assert_eq!(
        inbox.ids_at("/inbox"),
        vec![gid.clone(); 2],
        "refused, then delivered"
    );

    // In Norwegian.
    browser
        .script(
            "const s = document.getElementById('lang'); s.value = 'nb';
             s.dispatchEvent(new Event('change'))",
            json!([]),
        )
        .await;
    browser
        .wait_text(wait, |t| {
            [
                "Døde meldinger",
                "Siste time",
                "Godtatt",
                "klar",
                "Oppdatert",
            ]
            .iter()
            .all(|text| t.contains(text))
        })
        .await;
    browser.screenshot("3-norwegian").await;
    browser.close().await;

    assert!(
        audit_actions(&h).await.contains(&(
            SCHOOL.to_owned(),
            "dead_letter_replay:recipient_fixed".to_owned(),
            gid.clone()
        )),
        "the replay is audited with its reason"
    );
    h.cleanup().await;
}

#[tokio::test]
async fn a_replay_from_the_command_line_is_audited_with_its_reason_and_refused_without_one() {
    let (h, _inbox, message, gid) = with_dead_letter().await;
    let processes = tests::processes::Processes {
        h: &h,
        ledger_url: None,
        env: Vec::new(),
    };
    let dead = h.topology().dead_queue(Transport::Inbox);
    let replay = |reason: &[&str]| {
        let mut args = vec!["dead", "replay", "--adapter", "inbox", "--id", &gid];
        args.extend_from_slice(reason);
        processes.gateway_command(&args)
    };
    let replays = |actions: Vec<(String, String, String)>| {
        actions
            .into_iter()
            .filter(|(_, action, _)| action.starts_with("dead_letter_replay"))
            .collect::<Vec<_>>()
    };
    // Without a reason, or with one not on the list: refused, and nothing changes.
    for refused in [&[][..], &["--reason", "because the head teacher asked"]] {
        let out = replay(refused);
        assert!(!out.status.success(), "refused: {refused:?}");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!said.contains("head teacher"), "not echoed: {said}");
        assert_eq!(h.count(&dead).await, 1, "still dead-lettered");
    }
    assert_eq!(
        replays(audit_actions(&h).await),
        Vec::new(),
        "nothing audited"
    );

    let out = replay(&["--reason", "transient_fault"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let replayed: Vec<String> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(replayed, vec![gid.clone()]);
    assert_eq!(
        replays(audit_actions(&h).await),
        vec![(
            "gateway-command-line".to_owned(),
            "dead_letter_replay:transient_fault".to_owned(),
            gid.clone()
        )],
        "the replay is audited once, with its reason, before it is done"
    );
    // The inbox takes it this time.
    let id = message["messageId"].as_str().unwrap();
    let view = h
        .wait_status(&h.token(SCHOOL), id, "delivered", Duration::from_secs(30))
        .await;
    assert_eq!(view["status"], "delivered", "{view}");
    h.cleanup().await;
}
