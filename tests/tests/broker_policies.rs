//! The queues' settings are RabbitMQ policies the gateway sets: they change on a running
//! broker, and queues an earlier version declared with arguments are moved over with their
//! messages.

use contract::directory::{Directory, Transport};
use contract::plumbing::broker::Management;
use lapin::BasicProperties;
use lapin::options::{BasicPublishOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use serde_json::json;
use std::time::Duration;
use tests::{Harness, SCHOOL, bekymringsmelding};

fn management(h: &Harness) -> Management {
    h.config.broker.management().unwrap().unwrap()
}

/// The settings RabbitMQ applies to `queue`, once it applies the setting `key` (the
/// management API shows a policy's effect some seconds late).
async fn settings(h: &Harness, queue: &str, key: &str) -> serde_json::Value {
    let mut seen = serde_json::Value::Null;
    for _ in 0..100 {
        if let Some(info) = management(h).queue(queue).await.unwrap() {
            seen = info.effective_policy_definition;
            if !seen[key].is_null() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    seen
}

#[tokio::test]
async fn queue_settings_are_policies_and_change_on_a_running_broker() {
    let mut h = Harness::new().await;
    let topology = h.topology();
    let work = topology.work_queue(Transport::Inbox);
    let applied = settings(&h, &work, "delivery-limit").await;
    assert_eq!(applied["delivery-limit"], 20, "{applied}");
    assert_eq!(
        applied["dead-letter-exchange"],
        topology.dead_letter_exchange()
    );
    assert_eq!(applied["dead-letter-strategy"], "at-least-once");
    let retry = settings(
        &h,
        &topology.retry_queue(Transport::Inbox, 30),
        "message-ttl",
    )
    .await;
    assert_eq!(retry["message-ttl"], 30_000, "{retry}");
    let dead = settings(&h, &topology.dead_queue(Transport::Inbox), "message-ttl").await;
    assert_eq!(dead["message-ttl"], 14 * 86_400 * 1000_u64, "{dead}");
    // A queue that must never drop a message for its redeliveries (RabbitMQ 4.0 would after
    // 20 by default).
    let status = settings(&h, &topology.status_queue(), "delivery-limit").await;
    assert_eq!(status["delivery-limit"], 1_000_000, "{status}");
    // Another delivery limit, on the running broker: the gateway restarts with it, declares
    // its queues again without a 406, and takes messages.
    h.restart_gateway(|c| c.broker.delivery_limit = 9).await;
    assert!(h.link_up(Duration::from_secs(20)).await);
    let mut changed = serde_json::Value::Null;
    for _ in 0..50 {
        changed = settings(&h, &work, "delivery-limit").await;
        if changed["delivery-limit"] == 9 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(changed["delivery-limit"], 9, "{changed}");
    let token = h.token(SCHOOL);
    assert_eq!(h.post(&token, &bekymringsmelding()).await.status(), 202);
    h.cleanup().await;
}

#[tokio::test]
async fn queues_declared_with_arguments_are_migrated_with_their_messages() {
    let mut h = Harness::new().await;
    h.stop_gateway().await;
    let topology = h.topology();
    let receiving = Directory::load(&h.config.directory)
        .unwrap()
        .receiving_queues();
    let connection = lapin::Connection::connect(&tests::amqp_url(), Default::default())
        .await
        .unwrap();
    topology.delete(&connection, &receiving).await.unwrap();
    let channel = h.channel().await;
    // The work queue and a retry queue as an earlier version declared them.
    let (work, retry) = (
        topology.work_queue(Transport::Inbox),
        topology.retry_queue(Transport::Inbox, 5),
    );
    let text = |t: &str| AMQPValue::LongString(t.into());
    let old = |args: Vec<(&str, AMQPValue)>| {
        let mut table = FieldTable::default();
        table.insert("x-queue-type".into(), text("quorum"));
        for (k, v) in args {
            table.insert(k.into(), v);
        }
        table
    };
    let declarations = [
        (
            work.clone(),
            old(vec![
                (
                    "x-dead-letter-exchange",
                    text(&topology.dead_letter_exchange()),
                ),
                ("x-dead-letter-routing-key", text("inbox")),
                ("x-delivery-limit", AMQPValue::LongUInt(5)),
            ]),
        ),
        (
            retry.clone(),
            old(vec![
                ("x-dead-letter-exchange", text("")),
                ("x-dead-letter-routing-key", text(&work)),
                ("x-message-ttl", AMQPValue::LongUInt(5000)),
            ]),
        ),
    ];
    for (queue, args) in declarations {
        channel
            .queue_declare(queue.as_str().into(), QueueDeclareOptions::durable(), args)
            .await
            .unwrap();
    }
    for n in 0..3 {
        let body = json!({ "n": n }).to_string();
        channel
            .basic_publish(
                "".into(),
                work.as_str().into(),
                BasicPublishOptions::default(),
                body.as_bytes(),
                BasicProperties::default()
                    .with_message_id(format!("m{n}").as_str().into())
                    .with_delivery_mode(2),
            )
            .await
            .unwrap()
            .await
            .unwrap();
    }
    // Declared as the gateway now declares them, they fail (406).
    let plain = || {
        let mut table = FieldTable::default();
        table.insert("x-queue-type".into(), text("quorum"));
        table
    };
    let refused = h
        .channel()
        .await
        .queue_declare(
            work.as_str().into(),
            QueueDeclareOptions::durable(),
            plain(),
        )
        .await;
    assert!(refused.is_err(), "a changed argument is refused");

    let migrated = gateway::operate::broker_migrate(&h.config).await.unwrap();
    assert_eq!(migrated.queues, [work.clone(), retry.clone()]);
    assert_eq!(migrated.messages, 3);
    let info = management(&h).queue(&work).await.unwrap().unwrap();
    assert_eq!(
        info.arguments.keys().collect::<Vec<_>>(),
        ["x-queue-type"],
        "plain"
    );
    assert_eq!(h.count(&work).await, 3, "the messages stayed");
    assert!(
        management(&h)
            .queue(&format!("{work}.migrating"))
            .await
            .unwrap()
            .is_none(),
        "nothing parked"
    );
    assert_eq!(
        settings(&h, &retry, "message-ttl").await["message-ttl"],
        5000
    );
    // The gateway starts on them, and a second run has nothing to do.
    h.restart_gateway(|_| {}).await;
    assert!(h.link_up(Duration::from_secs(20)).await);
    h.stop_gateway().await;
    let again = gateway::operate::broker_migrate(&h.config).await.unwrap();
    assert!(again.queues.is_empty() && again.messages == 0, "{again:?}");
    h.cleanup().await;
}

/// The queues, exchanges and policies on the test broker whose names start with `prefix`.
async fn broker_names(prefix: &str) -> Vec<String> {
    let mut api = reqwest::Url::parse(&tests::management_url()).unwrap();
    let (user, password) = (api.username().to_owned(), api.password().map(str::to_owned));
    api.set_username("").unwrap();
    api.set_password(None).unwrap();
    let mut names = Vec::new();
    for kind in ["queues", "exchanges", "policies"] {
        let url = api.join(&format!("api/{kind}/%2F?columns=name")).unwrap();
        let request = reqwest::Client::new().get(url);
        let response = request.basic_auth(&user, password.as_deref()).send();
        let list: Vec<serde_json::Value> = response.await.unwrap().json().await.unwrap();
        names.extend(
            list.iter()
                .filter_map(|entry| entry["name"].as_str())
                .filter(|name| name.starts_with(prefix))
                .map(str::to_owned),
        );
    }
    names
}

#[tokio::test]
async fn tests_ending_together_leave_no_broker_names_behind() {
    // Two tests ending at once, each with the dev directory's receiving queues: the broker
    // deletes their quorum queues slowly while it is busy, and each tidy-up has a time limit.
    let harnesses = futures_util::future::join_all((0..2).map(|_| Harness::new())).await;
    let prefixes: Vec<String> = harnesses.iter().map(|h| h.prefix.clone()).collect();
    for prefix in &prefixes {
        let names = broker_names(prefix).await;
        let receiving = format!("{prefix}socialtjanst.1280.inbox");
        assert!(names.contains(&receiving), "the test's names are there");
    }
    let ending: Vec<_> = harnesses
        .into_iter()
        .map(|h| std::thread::spawn(move || drop(h)))
        .collect();
    for test in ending {
        test.join().unwrap();
    }
    for prefix in prefixes {
        assert_eq!(broker_names(&prefix).await, Vec::<String>::new());
    }
}
