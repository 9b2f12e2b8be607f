//! The whole path of a message through the gateway and the adapters running as processes:
//! the CPU each process spends per message (from `/proc/<pid>/stat`, over the steady middle
//! of the run: from a fifth to four fifths of the schedule), the broker's operations per
//! delivered message (its management API's counters), and the time from each 202 to the
//! message's arrival in its receiving queue (consumed here, as the case system would).

use contract::directory::AgencyId;
use contract::message::MessageId;
use contract::topology::Topology;
use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The processes whose CPU is measured, by name.
pub type Watched = Vec<(String, u32)>;

/// When each message was accepted (its 202) and when it arrived, by gateway id.
#[derive(Clone, Default)]
pub struct Arrivals {
    accepted: Arc<Mutex<HashMap<String, Instant>>>,
    arrived: Arc<Mutex<HashMap<String, Instant>>>,
}

impl Arrivals {
    /// The message the Oslo school sent as `client_id` was accepted now.
    pub fn accepted(&self, client_id: MessageId) {
        let sender = AgencyId("no-oslo-hasle-skole".into());
        let id = gateway::record::gateway_id(&sender, &client_id).to_string();
        self.accepted.lock().unwrap().insert(id, Instant::now());
    }

    /// Consumes every receiving queue of `queues` on `channel` (declared as the adapters
    /// declare them, if they have not yet), noting each arrival.
    pub async fn consume(
        &self,
        channel: &lapin::Channel,
        topology: &Topology,
        queues: &[String],
    ) -> anyhow::Result<()> {
        topology.declare_receiving(channel, queues).await?;
        for (n, queue) in queues.iter().enumerate() {
            let mut consumer = channel
                .basic_consume(
                    topology.receiving_queue(queue).as_str().into(),
                    format!("bench-{n}").as_str().into(),
                    BasicConsumeOptions::default(),
                    Default::default(),
                )
                .await?;
            let arrived = self.arrived.clone();
            tokio::spawn(async move {
                while let Some(Ok(delivery)) = consumer.next().await {
                    if let Some(id) = delivery.properties.message_id() {
                        arrived
                            .lock()
                            .unwrap()
                            .entry(id.to_string())
                            .or_insert_with(Instant::now);
                    }
                    let _ = delivery.ack(BasicAckOptions::default()).await;
                }
            });
        }
        Ok(())
    }

    /// Waits up to `limit` until every accepted message arrived; how many did.
    pub async fn settle(&self, limit: Duration) -> usize {
        let deadline = Instant::now() + limit;
        loop {
            let accepted = self.accepted.lock().unwrap().len();
            let arrived = self.arrived.lock().unwrap().len();
            if arrived >= accepted || Instant::now() > deadline {
                return arrived;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// From each 202 to the message's arrival (none if it arrived before its 202 was read:
    /// counted as zero), sorted.
    fn delivered(&self) -> Vec<Duration> {
        let accepted = self.accepted.lock().unwrap();
        let arrived = self.arrived.lock().unwrap();
        let mut took: Vec<Duration> = accepted
            .iter()
            .filter_map(|(id, at)| Some(arrived.get(id)?.saturating_duration_since(*at)))
            .collect();
        took.sort();
        took
    }
}

/// CPU time (user and system) of process `pid` so far.
fn cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which may hold spaces) end with ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i)?.parse::<u64>().ok())
        .sum();
    // The kernel's clock ticks are 100 a second on Linux (USER_HZ).
    Duration::from_millis(ticks * 10)
}

/// The CPU of each watched process at one moment.
pub fn sample(watched: &Watched) -> Vec<Duration> {
    watched.iter().map(|(_, pid)| cpu(*pid)).collect()
}

/// The broker's operations so far: messages published, delivered or got, and acked (its
/// management API's counters of the virtual host; none if it does not answer).
pub async fn broker_ops(management: &str) -> Option<u64> {
    let url = format!("{}/api/overview", management.trim_end_matches('/'));
    let overview: serde_json::Value = reqwest::get(url).await.ok()?.json().await.ok()?;
    let stats = &overview["message_stats"];
    Some(
        ["publish", "deliver_get", "ack"]
            .iter()
            .map(|k| stats[k].as_u64().unwrap_or(0))
            .sum(),
    )
}

/// What one run measured.
pub struct Measured {
    /// CPU per message of each watched process, over the steady middle.
    pub cpu_per_message: Vec<(String, Duration)>,
    pub broker_ops: Option<f64>,
    pub accept_p99: Duration,
    pub shed: usize,
}

/// Prints the `processes:` line (per message; times in ms, CPU in µs).
pub fn print(measured: &Measured, arrivals: &Arrivals) {
    let delivered = arrivals.delivered();
    let at = |q: f64| crate::percentile(&delivered, q);
    let mut line = String::from("processes:");
    for (name, cpu) in &measured.cpu_per_message {
        line += &format!(" {name}_cpu_us={:.0}", cpu.as_secs_f64() * 1e6);
    }
    let ops = measured
        .broker_ops
        .map_or("n/a".into(), |o| format!("{o:.1}"));
    line += &format!(
        " broker_ops={ops} delivered_p50_ms={:.1} delivered_p99_ms={:.1} delivered_max_ms={:.1} accept_p99_ms={:.1} shed={}",
        crate::ms(at(0.5)),
        crate::ms(at(0.99)),
        crate::ms(delivered.last().copied().unwrap_or_default()),
        crate::ms(measured.accept_p99),
        measured.shed,
    );
    println!("{line}");
}
