//! `ops/rabbitmq/definitions.json` is exactly the topology the gateway and adapters declare,
//! with the policies the gateway sets (for an empty prefix and the dev directory):
//! regenerate it with `gateway definitions`.

use contract::directory::Directory;
use gateway::config::Config;
use std::path::Path;

#[test]
fn checked_in_definitions_match_the_declared_topology() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let directory = Directory::load(&repo.join("ops/config/directory.dev.toml")).unwrap();
    // As `gateway definitions` writes them: the development configuration's broker.
    let config = Config::load(&repo.join("ops/config/gateway.dev.toml")).unwrap();
    let generated = config
        .broker
        .topology()
        .definitions("/", &directory.receiving_queues());
    let file: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo.join("ops/rabbitmq/definitions.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        file, generated,
        "run: cargo run -p gateway -- definitions > ops/rabbitmq/definitions.json"
    );
    let queues = generated["queues"].as_array().unwrap();
    assert!(
        queues
            .iter()
            .all(|q| q["arguments"]["x-queue-type"] == "quorum")
    );
    // Their settings are policies, one a queue.
    let policies = generated["policies"].as_array().unwrap();
    assert_eq!(policies.len(), queues.len());
    let work = policies
        .iter()
        .find(|p| p["name"] == "adapter.queue")
        .unwrap();
    assert_eq!(work["pattern"], "^adapter\\.queue$");
    assert_eq!(work["definition"]["delivery-limit"], 20);
    assert_eq!(work["definition"]["dead-letter-exchange"], "referrals.dead");
}
