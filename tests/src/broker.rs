//! The test broker: its address, and stopping and starting the node.

use crate::repo;

/// The broker the tests use (`REFERRAL_TEST_AMQP_URL`, default the local guest account).
pub fn amqp_url() -> String {
    std::env::var("REFERRAL_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// The test broker's management API (`REFERRAL_TEST_MANAGEMENT_URL`, default the local guest
/// account's).
pub fn management_url() -> String {
    std::env::var("REFERRAL_TEST_MANAGEMENT_URL")
        .unwrap_or_else(|_| "http://guest:guest@127.0.0.1:15672".into())
}

/// The test broker as a Fiks IO stand-in's AMQP service: without a login (the integration
/// logs in with its own).
pub fn fiks_amqp_url() -> String {
    let mut url = reqwest::Url::parse(&amqp_url()).expect("the test broker URL parses");
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.into()
}

/// Deletes the queues `names` from the test broker, from a drop (which cannot await: on a
/// thread of its own, waiting at most 10 s).
pub fn delete_queues(names: Vec<String>) {
    let removal = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the removal");
        runtime.block_on(async {
            let removed = async {
                let connection =
                    lapin::Connection::connect(&amqp_url(), Default::default()).await?;
                let channel = connection.create_channel().await?;
                for name in &names {
                    let options = lapin::options::QueueDeleteOptions::default();
                    channel.queue_delete(name.as_str().into(), options).await?;
                }
                connection.close(0, "test removed".into()).await
            };
            let limit = std::time::Duration::from_secs(10);
            let _ = tokio::time::timeout(limit, removed).await;
        })
    });
    let _ = removal.join();
}

/// Stops the whole broker node (its VM too, as a host going down would). `ops/test` runs a
/// test file that calls it alone, after the others (it looks for this function's name).
pub async fn broker_stop() {
    rabbitmqctl(&["stop"]).await;
}

/// Starts the broker node again (`ops/rabbitmq/ensure`) and waits until it is up.
pub async fn broker_start() {
    let ensure = repo().join("ops/rabbitmq/ensure");
    let status = tokio::task::spawn_blocking(move || std::process::Command::new(ensure).status())
        .await
        .unwrap()
        .expect("ops/rabbitmq/ensure runs");
    assert!(status.success(), "the broker starts again");
}

/// Runs `rabbitmqctl` (through `sudo -n` when not root).
async fn rabbitmqctl(args: &[&str]) {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let status = tokio::task::spawn_blocking(move || {
        let is_root = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0"));
        let mut command = if is_root {
            std::process::Command::new("rabbitmqctl")
        } else {
            let mut c = std::process::Command::new("sudo");
            c.args(["-n", "rabbitmqctl"]);
            c
        };
        command
            .args(&args)
            .stdout(std::process::Stdio::null())
            .status()
    })
    .await
    .unwrap()
    .expect("rabbitmqctl runs");
    assert!(status.success(), "rabbitmqctl failed");
}
