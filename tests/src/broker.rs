//! The test broker: its address, and stopping and starting the node.

use crate::repo;

/// The broker the tests use (`REFERRAL_TEST_AMQP_URL`, default the local guest account).
pub fn amqp_url() -> String {
    std::env::var("REFERRAL_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// Stops the whole broker node (its VM too, as a host going down would).
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
