//! Load and rounds for the fault tests.

use crate::{SCHOOL, gateway_id};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Rounds of faults the fault tests run: `FAULT_ROUNDS`, default 1 (`ops/faults` runs
/// more).
pub fn fault_rounds() -> u32 {
    env_number("FAULT_ROUNDS", 1)
}

fn env_number(name: &str, default: u32) -> u32 {
    std::env::var(name).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name} is a number: {v}"))
    })
}

/// A steady load of messages made by `make` (e.g. [`crate::bekymringsmelding`]) from the
/// Oslo school to `url` (`FAULT_RATE` a second, default 20) until `stop` is set: a refused connection or any answer but 202 is repeated with the same
/// message, as a client would. Yields the gateway ids of the messages accepted.
pub fn steady_load(
    http: reqwest::Client,
    url: String,
    token: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
    make: fn() -> Value,
) -> tokio::task::JoinHandle<std::collections::BTreeSet<String>> {
    tokio::spawn(async move {
        let mut accepted = std::collections::BTreeSet::new();
        let mut waiting: Option<Value> = None;
        let mut tick =
            tokio::time::interval(Duration::from_secs(1) / env_number("FAULT_RATE", 20).max(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(240) * fault_rounds();
        while (!stop.load(std::sync::atomic::Ordering::Relaxed) || waiting.is_some())
            && tokio::time::Instant::now() < deadline
        {
            let message = waiting.take().unwrap_or_else(make);
            let answer = http
                .post(&url)
                .bearer_auth(&token)
                .json(&message)
                .send()
                .await;
            match answer.map(|a| a.status().as_u16()) {
                Ok(202) => {
                    accepted.insert(gateway_id(SCHOOL, &message));
                }
                _ => waiting = Some(message),
            }
            tick.tick().await;
        }
        assert!(waiting.is_none(), "every message is accepted in the end");
        accepted
    })
}
