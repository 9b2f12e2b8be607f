//! Load benchmark: posts N valid bekymringsmeldinger of a given size to a gateway running
//! in this process (its store a real SQLite file, or with `--store postgres` a schema of its
//! own on the local PostgreSQL; the real local RabbitMQ) and reports accepted messages per
//! second with p50/p99 latency; then publishes the same bodies with confirms straight to the
//! same broker, the same way, and reports that raw rate and the ratio of the two. With
//! `--rate` both offer a fixed rate instead (open loop), and it reports the latencies at that
//! rate: the raw ones are the broker's share of the gateway's. With `--floors` it then loads
//! the floors the same way ([`floors`]: HTTP and the confirm only, and with the gateway's
//! store besides), which show where the gateway's time goes. With `--instances 2`
//! (PostgreSQL) two gateways share the store and the load. With `--url` it loads a gateway
//! that runs as a process of its own instead, and publishes nothing raw (its adapters would
//! take it): `ops/bench/run` measures the processes' memory that way, and with `--watch` the
//! whole path ([`whole_path`]): CPU per message of each process, broker operations per
//! delivered message, and the time from the 202 to the receiving queue.

mod floors;
mod whole_path;

use clap::Parser;
use contract::directory::{Directory, Transport};
use contract::topology::Topology;
use futures_util::StreamExt;
use gateway::config::Config;
use gateway::devkeys::DevKey;
use lapin::options::QueuePurgeOptions;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    name = "bench",
    about = "Gateway intake versus raw confirmed publishing"
)]
struct Args {
    /// Messages per run.
    #[arg(long, default_value_t = 5000)]
    messages: usize,
    /// Concurrent clients (closed loop: each sends its next message when the last is answered).
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Size of each request body in bytes (approximately).
    #[arg(long, default_value_t = 2048)]
    size: usize,
    /// Offer this many messages per second (open loop) instead of a closed loop.
    #[arg(long)]
    rate: Option<u32>,
    /// A gateway running as a process at this base URL (e.g. `http://127.0.0.1:18080`),
    /// instead of one in this process.
    #[arg(long, requires = "token")]
    url: Option<String>,
    /// A bearer token for the gateway at `--url`.
    #[arg(long)]
    token: Option<String>,
    /// The broker names' prefix of the gateway at `--url` (its queues are removed after).
    #[arg(long, default_value = "")]
    prefix: String,
    /// The store of the gateways started here: `sqlite` (a file) or `postgres` (a schema of
    /// its own on `REFERRAL_TEST_POSTGRES_URL` or the local development server).
    #[arg(long, default_value = "sqlite", value_parser = ["sqlite", "postgres"])]
    store: String,
    /// Then load the floors too: intakes that do less than the gateway (HTTP and the confirm
    /// only; and with the gateway's store besides), served the same way.
    #[arg(long, conflicts_with = "url")]
    floors: bool,
    /// Gateways started here, sharing the store (PostgreSQL) and the load (round robin).
    #[arg(long, default_value_t = 1)]
    instances: usize,
    /// The broker.
    #[arg(
        long,
        env = "REFERRAL_BENCH_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    amqp_url: String,
    /// With `--url`: a process whose CPU per message to measure, as `name=pid` (repeat it:
    /// the gateway, the adapters, the broker); the messages are then also consumed from
    /// their receiving queues to time their way there.
    #[arg(long = "watch", value_parser = watched, requires = "url")]
    watch: Vec<(String, u32)>,
    /// The broker's management API, for its operations per message.
    #[arg(long, default_value = "http://guest:guest@127.0.0.1:15672")]
    management: String,
}

fn watched(text: &str) -> Result<(String, u32), String> {
    let (name, pid) = text.split_once('=').ok_or("name=pid")?;
    Ok((name.to_owned(), pid.parse().map_err(|_| "a pid")?))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    anyhow::ensure!(
        args.instances == 1 || args.store == "postgres",
        "instances share a store in PostgreSQL only: add --store postgres"
    );
    let (target, token) = match (&args.url, &args.token) {
        (Some(url), Some(token)) => (Target::Process(url.clone()), token.clone()),
        _ => {
            let (gateways, token) = in_process(&repo, &args).await?;
            (Target::InProcess(Box::new(gateways)), token)
        }
    };
    let prefix = match &target {
        Target::InProcess(g) => g.config.broker.prefix.clone(),
        Target::Process(_) => args.prefix.clone(),
    };
    let bodies = bodies(&repo, args.messages, args.size)?;
    let urls: Vec<String> = target
        .bases()
        .iter()
        .map(|base| format!("{base}/v1/messages"))
        .collect();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.concurrency.max(64))
        .build()?;

    println!(
        "messages={} body={} B concurrency={} rate={} store={} instances={}",
        args.messages,
        bodies[0].len(),
        args.concurrency,
        args.rate.map_or("closed loop".into(), |r| format!("{r}/s")),
        args.url
            .as_ref()
            .map_or(args.store.as_str(), |_| "(the process's)"),
        urls.len()
    );
    let topology = Topology::new(&prefix, contract::topology::DELIVERY_LIMIT);
    let directory = Directory::load(&repo.join("ops/config/directory.dev.toml"))?;
    let (connection, channel) = contract::plumbing::broker::confirming(
        &contract::plumbing::broker::Endpoint::plain(&args.amqp_url),
        "bench",
    )
    .await?;
    let arrivals = (!args.watch.is_empty()).then(whole_path::Arrivals::default);
    if let Some(arrivals) = &arrivals {
        arrivals
            .consume(&channel, &topology, &directory.receiving_queues())
            .await?;
    }
    let ops_before = whole_path::broker_ops(&args.management).await;
    let sampler = tokio::spawn(sample_middle(args.watch.clone(), args.rate, args.messages));
    let posted = post_all(
        &args,
        &client,
        &urls,
        &token,
        &bodies,
        "gateway",
        arrivals.clone(),
    )
    .await;
    let gateway_rate = posted.rate;
    if let Some(arrivals) = &arrivals {
        // Per accepted message: what was shed cost little and is not a message.
        let share = posted.accepted.max(f64::EPSILON);
        let cpu_per_message = sampler
            .await?
            .into_iter()
            .map(|(name, cpu)| (name, cpu.div_f64(share)))
            .collect();
        let arrived = arrivals.settle(Duration::from_secs(120)).await;
        let ops = match (ops_before, whole_path::broker_ops(&args.management).await) {
            (Some(before), Some(after)) if arrived > 0 => {
                Some((after - before) as f64 / arrived as f64)
            }
            _ => None,
        };
        whole_path::print(
            &whole_path::Measured {
                cpu_per_message,
                broker_ops: ops,
                accept_p99: posted.p99,
                shed: posted.shed,
            },
            arrivals,
        );
    }
    let work = topology.work_queue(Transport::Queue);
    channel
        .queue_purge(work.as_str().into(), QueuePurgeOptions::default())
        .await?;
    // The same messages published with confirms straight to the same broker, the same way.
    if let Target::InProcess(_) = target {
        let exchange = topology.exchange();
        let publish = |body: Vec<u8>| {
            let (channel, exchange) = (channel.clone(), exchange.clone());
            async move {
                let started = Instant::now();
                let confirmed = floors::publish(&channel, &exchange, &body).await;
                (confirmed, started.elapsed())
            }
        };
        let started = Instant::now();
        let results = load(args.rate, args.concurrency, bodies.clone(), publish).await;
        let raw_rate = report("raw", "confirmed", &results, started.elapsed());
        if args.rate.is_none() {
            println!("ratio:    {:>8.2} (gateway / raw)", gateway_rate / raw_rate);
        }
        if args.floors {
            for floor in [floors::Floor::Publish, floors::Floor::Store] {
                let store = match floor {
                    floors::Floor::Publish => None,
                    floors::Floor::Store => Some(floor_store(&target).await?),
                };
                let at = floors::serve(channel.clone(), exchange.clone(), store).await?;
                let url = [format!("http://{at}/v1/messages")];
                let rate = post_all(&args, &client, &url, &token, &bodies, floor.name(), None)
                    .await
                    .rate;
                if args.rate.is_none() {
                    println!(
                        "ratio:    {:>8.2} ({} / raw)",
                        rate / raw_rate,
                        floor.name()
                    );
                }
                channel
                    .queue_purge(work.as_str().into(), QueuePurgeOptions::default())
                    .await?;
            }
        }
    }

    let receiving = directory.receiving_queues();
    topology.delete(&connection, &receiving).await?;
    let _ = connection.close(200, "bench done".into()).await;
    // The gateway set its queues' policies; left behind, they slow every later link's set-up.
    contract::plumbing::broker::Management::new(&args.management, "/")?
        .remove(&topology.policies(&receiving))
        .await?;
    if let Target::InProcess(gateways) = target {
        for running in gateways.running {
            running.stop().await;
        }
        for url in [&gateways.config.store.url, &gateways.floor_url]
            .into_iter()
            .flatten()
        {
            contract::plumbing::postgres::drop_schema(url).await?;
        }
        let _ = std::fs::remove_dir_all(&gateways.dir);
    }
    Ok(())
}

/// What posting the bodies gave: the rate accepted, the p99 of the answers, and how many
/// were shed (503 overloaded).
struct Posted {
    rate: f64,
    p99: Duration,
    shed: usize,
    /// The share of the messages accepted (the rest shed or failed).
    accepted: f64,
}

/// Posts each of `bodies` to `urls` (round robin) with `token`, as `args` say (closed loop
/// or offered rate), noting each 202 in `arrivals` if given; reports the results as
/// `who`'s.
async fn post_all(
    args: &Args,
    client: &reqwest::Client,
    urls: &[String],
    token: &str,
    bodies: &[Vec<u8>],
    who: &str,
    arrivals: Option<whole_path::Arrivals>,
) -> Posted {
    let shed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let post = |(i, body): (usize, Vec<u8>)| {
        let (client, url, token) = (
            client.clone(),
            urls[i % urls.len()].clone(),
            token.to_owned(),
        );
        let (arrivals, shed) = (arrivals.clone(), shed.clone());
        async move {
            let started = Instant::now();
            let id = arrivals.as_ref().and_then(|_| message_id(&body));
            let response = client
                .post(url)
                .bearer_auth(token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await;
            let status = response.map(|r| r.status().as_u16()).unwrap_or_default();
            if let (202, Some(arrivals), Some(id)) = (status, &arrivals, id) {
                arrivals.accepted(id);
            }
            if status == 503 {
                shed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            (status == 202, started.elapsed())
        }
    };
    let started = Instant::now();
    let numbered = bodies.iter().cloned().enumerate().collect();
    let results = load(args.rate, args.concurrency, numbered, post).await;
    let rate = report(who, "accepted", &results, started.elapsed());
    let mut latencies: Vec<Duration> = results.iter().map(|(_, l)| *l).collect();
    latencies.sort();
    let accepted = results.iter().filter(|(ok, _)| *ok).count();
    Posted {
        rate,
        p99: percentile(&latencies, 0.99),
        shed: shed.load(std::sync::atomic::Ordering::Relaxed),
        accepted: accepted as f64 / results.len().max(1) as f64,
    }
}

/// The `messageId` of a body.
fn message_id(body: &[u8]) -> Option<contract::message::MessageId> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value["messageId"].as_str()?.parse().ok()
}

/// The CPU per offered message of each of `watched` over the steady middle of a run of
/// `messages` at `rate` a second (from a fifth to four fifths of its schedule; without a rate, the
/// whole of it, which this does not know the end of: none).
async fn sample_middle(
    watched: whole_path::Watched,
    rate: Option<u32>,
    messages: usize,
) -> Vec<(String, Duration)> {
    let Some(rate) = rate.filter(|_| !watched.is_empty()) else {
        return Vec::new();
    };
    let schedule = Duration::from_secs_f64(messages as f64 / f64::from(rate));
    tokio::time::sleep(schedule / 5).await;
    let before = whole_path::sample(&watched);
    tokio::time::sleep(schedule * 3 / 5).await;
    let after = whole_path::sample(&watched);
    let offered = (messages * 3 / 5).max(1) as u32;
    watched
        .into_iter()
        .zip(before.into_iter().zip(after))
        .map(|((name, _), (b, a))| (name, a.saturating_sub(b) / offered))
        .collect()
}

/// A store of the gateway's own kind for the store floor, of its own (a file beside the
/// gateway's, or a schema of its own, dropped at the end).
async fn floor_store(target: &Target) -> anyhow::Result<Arc<dyn gateway::record::Store>> {
    let Target::InProcess(gateways) = target else {
        anyhow::bail!("the floors run beside gateways started here");
    };
    let mut config = gateways.config.clone();
    config.store.sqlite_path = gateways.dir.join("floor.sqlite");
    config.store.url = gateways.floor_url.clone();
    let store = gateway::app::open_store(&config, Arc::default()).await?;
    // A key of its own: the floor's audit entries are chained as the gateway's are.
    store.chain_with(gateway::keys::KeyRing::generate(None).audit_key());
    Ok(store)
}

/// The gateways under load.
enum Target {
    /// Started here, on their own broker names and scratch folder.
    InProcess(Box<InProcess>),
    /// A process of its own, at this base URL.
    Process(String),
}

impl Target {
    fn bases(&self) -> Vec<String> {
        match self {
            Self::InProcess(g) => g
                .running
                .iter()
                .map(|r| format!("http://{}", r.addr))
                .collect(),
            Self::Process(url) => vec![url.clone()],
        }
    }
}

/// Gateways started in this process on one configuration (one store, one key file).
struct InProcess {
    running: Vec<gateway::app::Running>,
    config: Config,
    dir: std::path::PathBuf,
    /// The PostgreSQL schema of the store floor, when the gateways' store is PostgreSQL.
    floor_url: Option<String>,
}

/// Starts `args.instances` gateways in this process (on a SQLite file in a scratch folder,
/// or a PostgreSQL schema of their own; the broker at `args.amqp_url`, broker names of
/// their own); them and a token for them.
async fn in_process(repo: &Path, args: &Args) -> anyhow::Result<(InProcess, String)> {
    let prefix = format!("bench-{}.", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let dir = std::env::temp_dir().join(prefix.trim_end_matches('.'));
    let mut config = Config::development(
        repo,
        &dir,
        &[
            ("AUTH__ISSUER", "https://idp.bench.invalid".into()),
            ("BROKER__URL", args.amqp_url.clone()),
            ("BROKER__PREFIX", prefix),
        ],
    )?;
    let mut floor_url = None;
    if args.store == "postgres" {
        let server = contract::plumbing::postgres::test_server();
        config.store.url = Some(contract::plumbing::postgres::new_schema(&server, "bench").await?);
        floor_url = Some(contract::plumbing::postgres::new_schema(&server, "bench_floor").await?);
    }
    let mut running = Vec::with_capacity(args.instances);
    for _ in 0..args.instances {
        let gateway = gateway::app::start(&config).await?;
        anyhow::ensure!(
            gateway.link.wait_up(Duration::from_secs(30)).await,
            "no broker at {}",
            args.amqp_url
        );
        running.push(gateway);
    }
    let token = DevKey::ensure(&dir.join("keys"))?.token(
        &config.auth.issuer,
        &config.auth.audience,
        "no-oslo-hasle-skole",
        3600,
        None,
    )?;
    Ok((
        InProcess {
            running,
            config,
            dir,
            floor_url,
        },
        token,
    ))
}

/// `n` copies of the example bekymringsmelding, each with its own id, padded to `size` bytes.
fn bodies(repo: &Path, n: usize, size: usize) -> anyhow::Result<Vec<Vec<u8>>> {
    let text =
        std::fs::read_to_string(repo.join("schemas/examples/valid/no.bekymringsmelding.json"))?;
    let mut example: serde_json::Value = serde_json::from_str(&text)?;
    let base = serde_json::to_vec(&example)?.len() + 36;
    let history = example["payload"]["melding"]["historie"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    example["payload"]["melding"]["historie"] =
        format!("{history}{}", " ".repeat(size.saturating_sub(base))).into();
    Ok((0..n)
        .map(|_| {
            example["messageId"] = uuid::Uuid::new_v4().to_string().into();
            serde_json::to_vec(&example).expect("JSON")
        })
        .collect())
}

/// Sends each of `items` by `send`: `concurrency` at a time (closed loop), or at `rate` a
/// second, each in a task of its own (open loop); whether each succeeded and how long it
/// took.
async fn load<T, F>(
    rate: Option<u32>,
    concurrency: usize,
    items: Vec<T>,
    send: impl Fn(T) -> F,
) -> Vec<(bool, Duration)>
where
    F: std::future::Future<Output = (bool, Duration)> + Send + 'static,
{
    match rate {
        None => {
            futures_util::stream::iter(items)
                .map(send)
                .buffer_unordered(concurrency)
                .collect()
                .await
        }
        Some(rate) => {
            let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
            let mut running = Vec::with_capacity(items.len());
            for item in items {
                ticker.tick().await;
                running.push(tokio::spawn(send(item)));
            }
            futures_util::future::join_all(running)
                .await
                .into_iter()
                .map(|r| r.expect("request task"))
                .collect()
        }
    }
}

/// Prints the rate and latencies of `results` as `who`'s, `what` (accepted, confirmed);
/// returns the rate.
fn report(who: &str, what: &str, results: &[(bool, Duration)], elapsed: Duration) -> f64 {
    let done = results.iter().filter(|(ok, _)| *ok).count();
    let mut latencies: Vec<Duration> = results.iter().map(|(_, l)| *l).collect();
    latencies.sort();
    let rate = done as f64 / elapsed.as_secs_f64();
    println!(
        "{:<9} {rate:>8.0} {what} msg/s  p50 {:>6.2} ms  p99 {:>6.2} ms  ({done}/{} {what})",
        format!("{who}:"),
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        results.len()
    );
    rate
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted
        .get(((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1))
        .copied()
        .unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
