//! One isolated gateway (and, on request, its adapters) per test: its own broker name
//! prefix, database and port, against the real RabbitMQ; removed when dropped.

use crate::{FakeInbox, amqp_url, repo, temp_dir};
use adapters::config::{AdaptersConfig, RuntimeConfig};
use contract::directory::Directory;
use contract::plumbing::config::BrokerConfig;
use gateway::app::Running;
use gateway::config::Config;
use gateway::devkeys::DevKey;
use lapin::Connection;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// One isolated gateway.
pub struct Harness {
    pub prefix: String,
    pub dir: PathBuf,
    pub config: Config,
    pub gateway: Option<Running>,
    pub adapters: Option<adapters::Running>,
    pub http: reqwest::Client,
    pub(crate) key: DevKey,
    pub(crate) broker: tokio::sync::Mutex<Option<Connection>>,
    /// The adapters' clock (office hours), movable before they start.
    pub adapter_clock: Arc<contract::plumbing::clock::Clock>,
}

impl Harness {
    /// A gateway on the test broker, started and linked.
    pub async fn new() -> Self {
        let harness = Self::with(|_| {}).await;
        assert!(
            harness.link_up(Duration::from_secs(20)).await,
            "gateway did not link to the broker"
        );
        harness
    }

    /// A gateway whose configuration `tweak` changes first; not waited for.
    pub async fn with(tweak: impl FnOnce(&mut Config)) -> Self {
        if std::env::var_os("REFERRAL_TEST_LOG").is_some() {
            contract::plumbing::process::init("referral-tests");
        }
        let prefix = format!("t-{}.", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        let dir = std::env::temp_dir().join(prefix.trim_end_matches('.'));
        std::fs::create_dir_all(&dir).unwrap();
        let mut config = Config::development(
            &repo(),
            &dir,
            &[
                ("HTTP__BODY_LIMIT_BYTES", "65536".into()),
                ("AUTH__ISSUER", "https://idp.test.invalid".into()),
                ("AUTH__JWKS_MIN_REFRESH_SECS", "0".into()),
                ("BROKER__URL", amqp_url()),
                ("BROKER__PREFIX", prefix.clone()),
                ("OUTBOX__INTERVAL_MS", "200".into()),
            ],
        )
        .expect("the development configuration loads");
        config.store.url = test_store().await;
        config.directory = crate::dev_directory_with(&dir, &[]);
        tweak(&mut config);
        let key = DevKey::ensure(&dir.join("keys")).unwrap();
        let gateway = gateway::app::start(&config).await.expect("gateway starts");
        // A test that posts at once expects the broker link up: wait for it, unless the
        // test points the gateway at a broker that is not there on purpose.
        if config.broker.url == amqp_url() {
            assert!(
                gateway.link.wait_up(Duration::from_secs(20)).await,
                "the gateway's broker link comes up"
            );
        }
        Self {
            prefix,
            dir,
            config,
            gateway: Some(gateway),
            adapters: None,
            http: reqwest::Client::new(),
            key,
            broker: tokio::sync::Mutex::new(None),
            adapter_clock: Arc::default(),
        }
    }

    /// A gateway whose directory sends every HTTP inbox to a [`FakeInbox`] answering
    /// `answers` (see [`FakeInbox::start`]), its configuration changed by `tweak` first;
    /// started and linked, the adapters not yet started.
    pub async fn with_inbox(answers: &[u16], tweak: impl FnOnce(&mut Config)) -> (Self, FakeInbox) {
        let inbox = FakeInbox::start(answers).await;
        let directory = inbox.directory_in(&temp_dir());
        let harness = Self::with(|c| {
            c.directory = directory;
            tweak(c);
        })
        .await;
        assert!(
            harness.link_up(Duration::from_secs(20)).await,
            "gateway did not link to the broker"
        );
        (harness, inbox)
    }

    /// Waits for the gateway's broker link.
    pub async fn link_up(&self, limit: Duration) -> bool {
        self.gateway.as_ref().unwrap().link.wait_up(limit).await
    }

    /// The API's base URL.
    pub fn base(&self) -> String {
        format!("http://{}", self.gateway.as_ref().unwrap().addr)
    }

    /// Stops the gateway (its database and broker names stay).
    pub async fn stop_gateway(&mut self) {
        if let Some(gateway) = self.gateway.take() {
            gateway.stop().await;
        }
    }

    /// Starts the gateway again, on the same database, with `tweak` applied to its configuration.
    pub async fn restart_gateway(&mut self, tweak: impl FnOnce(&mut Config)) {
        self.stop_gateway().await;
        tweak(&mut self.config);
        self.gateway = Some(
            gateway::app::start(&self.config)
                .await
                .expect("gateway restarts"),
        );
    }

    /// Starts the adapters on the same broker names.
    pub async fn start_adapters(&mut self) {
        self.start_adapters_with(|_| {}).await;
    }

    /// Starts the adapters on the same broker names, their configuration changed by `tweak`.
    pub async fn start_adapters_with(&mut self, tweak: impl FnOnce(&mut AdaptersConfig)) {
        self.adapters = Some(self.more_adapters_with(tweak).await);
    }

    /// Starts another adapters process on the same broker names (beside the harness's
    /// own), its configuration changed by `tweak`; stop it with `stop`.
    pub async fn more_adapters_with(
        &self,
        tweak: impl FnOnce(&mut AdaptersConfig),
    ) -> adapters::Running {
        let mut config = AdaptersConfig {
            directory: self.config.directory.clone(),
            broker: BrokerConfig {
                url: amqp_url(),
                ..self.config.broker.clone()
            },
            runtime: RuntimeConfig {
                prefetch: 8,
                ledger: self.dir.join("ledger.sqlite"),
                inbox_plain_http: true,
                delivery_key: Some(self.delivery_key()),
                ..RuntimeConfig::default()
            },
            http: adapters::config::HttpConfig {
                listen: ([127, 0, 0, 1], 0).into(),
            },
        };
        tweak(&mut config);
        let directory = Arc::new(Directory::load(&config.directory).unwrap());
        adapters::start(&config, directory, self.adapter_clock.clone())
            .await
            .expect("adapters start")
    }

    /// The adapters' delivery key (its private half), which the gateway made at its start.
    pub fn delivery_key(&self) -> PathBuf {
        self.dir.join("delivery-key.jwk")
    }

    /// GETs `path` of the adapters' own endpoint (`/readyz`, `/metrics`).
    pub async fn adapters_get(&self, path: &str) -> reqwest::Response {
        let addr = self.adapters.as_ref().expect("adapters started").addr;
        self.http
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap()
    }

    /// The adapters' counter of `outcome` (as `/metrics` names it), summed over adapters.
    pub async fn adapters_count(&self, outcome: &str) -> u64 {
        let metrics = self.adapters_get("/metrics").await.text().await.unwrap();
        let label = format!("outcome=\"{outcome}\"}} ");
        metrics
            .lines()
            .filter_map(|line| line.split_once(&label))
            .filter(|(name, _)| name.starts_with("referral_adapter_messages_total{"))
            .map(|(_, n)| n.trim().parse::<u64>().unwrap())
            .sum()
    }

    /// Moves the adapters' clock to 01:00 UTC tomorrow: night in Oslo and Malmö, outside
    /// every service's office hours.
    pub fn adapters_at_night(&self) {
        let now = time::OffsetDateTime::now_utc();
        let night =
            now.replace_time(time::Time::from_hms(1, 0, 0).unwrap()) + time::Duration::days(1);
        self.adapter_clock.advance(night - now);
    }

    /// Stops the adapters and the gateway gracefully (requests in flight finish); the
    /// test's broker names, database and files go when the harness drops.
    pub async fn cleanup(mut self) {
        if let Some(adapters) = self.adapters.take() {
            adapters.stop().await;
        }
        self.stop_gateway().await;
    }
}

/// How long removing a test's broker names, schema and files may take when a harness drops.
const REMOVAL: Duration = Duration::from_secs(10);

impl Drop for Harness {
    /// Removes this test's queues, exchanges, policies, PostgreSQL schema and files, also when
    /// the test failed: on a thread of its own (a drop cannot await, and may run inside or
    /// outside a runtime), waiting at most [`REMOVAL`].
    fn drop(&mut self) {
        // Whatever still runs stops first (dropping them cancels their tasks).
        drop(self.adapters.take());
        drop(self.gateway.take());
        let config = self.config.clone();
        let dir = self.dir.clone();
        let removal = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the removal");
            runtime.block_on(async { tokio::time::timeout(REMOVAL, remove(&config)).await })
        });
        let _ = removal.join();
        if std::thread::panicking() {
            keep_logs(&dir);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Copies the logs a failed test's processes wrote in `dir` to
/// `target/test-artifacts/failed/<dir's name>/`, and says where: the evidence of a failure
/// that happens once in many runs.
fn keep_logs(dir: &std::path::Path) {
    let Some(name) = dir.file_name() else { return };
    let kept = crate::repo()
        .join("target/test-artifacts/failed")
        .join(name);
    let logs: Vec<_> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|e| e == "log"))
        .collect();
    if logs.is_empty() || std::fs::create_dir_all(&kept).is_err() {
        return;
    }
    for log in &logs {
        if let Some(file) = log.file_name() {
            let _ = std::fs::copy(log, kept.join(file));
        }
    }
    eprintln!(
        "the logs of this failed test's processes: {}",
        kept.display()
    );
}

/// Removes the broker names, policies and PostgreSQL schema of the gateway `config` describes.
async fn remove(config: &Config) {
    let topology = config.broker.topology();
    let receiving = Directory::load(&config.directory)
        .map(|d| d.receiving_queues())
        .unwrap_or_default();
    let queues = async {
        if let Ok(connection) = Connection::connect(&amqp_url(), Default::default()).await {
            let _ = topology.delete(&connection, &receiving).await;
            let _ = connection.close(0, "test removed".into()).await;
        }
    };
    let policies = async {
        if let Some(Ok(management)) = config.broker.management() {
            let _ = management.remove(&topology.policies(&receiving)).await;
        }
    };
    tokio::join!(queues, policies);
    if let Some(url) = &config.store.url {
        let _ = contract::plumbing::postgres::drop_schema(url).await;
    }
}

/// The store of a test's gateway: its SQLite file (`None`), or, when
/// `REFERRAL_TEST_STORE=postgres` (as `ops/test` runs the end-to-end suite a second time), a
/// schema of its own on the local PostgreSQL server.
pub async fn test_store() -> Option<String> {
    match std::env::var("REFERRAL_TEST_STORE").as_deref() {
        Ok("postgres") => Some(
            contract::plumbing::postgres::new_schema(
                &contract::plumbing::postgres::test_server(),
                "gw",
            )
            .await
            .expect("the PostgreSQL server of the tests (ops/postgres/ensure)"),
        ),
        Ok("sqlite") | Err(_) => None,
        Ok(other) => panic!("REFERRAL_TEST_STORE={other}: sqlite or postgres"),
    }
}
