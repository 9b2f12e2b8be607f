//! Test harness: a gateway (and, on request, its adapters) per test, isolated by its own
//! broker name prefix, its own database and port, against the real RabbitMQ.

use adapters::config::{AdaptersConfig, RuntimeConfig};
use contract::broker::Topology;
use contract::config::BrokerConfig;
use contract::directory::Directory;
use gateway::app::Running;
use gateway::authenticate::Claims;
use gateway::config::Config;
use gateway::devkeys::DevKey;
use lapin::message::BasicGetMessage;
use lapin::options::{BasicAckOptions, BasicGetOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties};
use serde_json::Value;
use std::path::{Path, PathBuf};

pub mod processes;
pub mod python;
pub mod tls;
use std::sync::Arc;
use std::time::Duration;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The broker the tests use (`REFERRAL_TEST_AMQP_URL`, default the local guest account).
pub fn amqp_url() -> String {
    std::env::var("REFERRAL_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// An example of `schemas/examples/valid/` with a fresh message id.
pub fn example(name: &str) -> Value {
    let path = repo()
        .join("schemas/examples/valid")
        .join(format!("{name}.json"));
    let mut value: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    value["messageId"] = Value::String(uuid::Uuid::new_v4().to_string());
    value
}

/// The example bekymringsmelding (Hasle skole → barnevern Oslo) with a fresh id.
pub fn bekymringsmelding() -> Value {
    example("no.bekymringsmelding")
}

/// A consent (`id`) of the school's pupil and guardians to share a referral with the
/// police contact.
pub fn police_consent(id: &str) -> Value {
    serde_json::json!({
        "consentId": id,
        "subject": { "nameAndBirthDate": { "name": "Ola  Testbarn", "birthDate": "2011-05-01" } },
        "grantedBy": ["subject", "guardians"],
        "categories": ["referral", "concern", "measures", "identity", "birth_date"],
        "recipientTypes": ["police"],
        "purpose": "no.politikontakt",
        "validFrom": "2026-01-01",
        "validTo": "2099-12-31",
        "form": "written"
    })
}

/// The example referral to the police contact under consent, citing `consent_id`.
pub fn police_referral(consent_id: &str) -> Value {
    let mut message = example("no.politikontakt.consent");
    message["legalBasis"]["consentRef"] = Value::String(consent_id.to_owned());
    message
}

/// Where a [`FakeInbox`] standing in for the police contact receives referrals.
pub const POLICE_INBOX: &str = "/inbox";
/// Where a [`FakeInbox`] standing in for the police contact receives withdrawal notices.
pub const WITHDRAWALS: &str = "/inbox/withdrawals";

/// The school that sends the example bekymringsmelding.
pub const SCHOOL: &str = "no-oslo-hasle-skole";
/// The receiving queue (directory name) of barnevern Oslo.
pub const OSLO_INBOX: &str = "barnevern.0301.inbox";

/// One isolated gateway.
pub struct Harness {
    pub prefix: String,
    pub dir: PathBuf,
    pub config: Config,
    pub gateway: Option<Running>,
    pub adapters: Option<adapters::Running>,
    pub http: reqwest::Client,
    key: DevKey,
    broker: tokio::sync::Mutex<Option<Connection>>,
    /// The adapters' clock (office hours), movable before they start.
    pub adapter_clock: Arc<contract::clock::Clock>,
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
            contract::process::init();
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

    /// Valid claims for `org`.
    pub fn claims(&self, org: &str) -> Claims {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        Claims {
            iss: self.config.auth.issuer.clone(),
            aud: self.config.auth.audience.clone(),
            sub: format!("tester@{org}"),
            exp: now + 600,
            nbf: now - 5,
            iat: now - 5,
            org: org.into(),
            scope: None,
        }
    }

    /// A token signed by the gateway's trusted key.
    pub fn sign(&self, claims: &Claims) -> String {
        self.key.sign(claims).unwrap()
    }

    /// A token signed by the gateway's trusted key under a header `edit` changes.
    pub fn sign_with(
        &self,
        claims: &Claims,
        edit: impl FnOnce(&mut jsonwebtoken::Header),
    ) -> String {
        self.key.sign_with(claims, edit).unwrap()
    }

    /// The JWKS of the key that signs this harness's tokens.
    pub fn jwks(&self) -> Value {
        self.key.jwks()
    }

    /// A valid token for `org`.
    pub fn token(&self, org: &str) -> String {
        self.sign(&self.claims(org))
    }

    /// GETs `path` of the API (with a bearer token, if given).
    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut request = self.http.get(format!("{}{path}", self.base()));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.unwrap()
    }

    /// As the school: records the consent `consent_id`, sends the police referral under it,
    /// and waits until `inbox` has received it; the referral.
    pub async fn referral_received(&self, consent_id: &str, inbox: &FakeInbox) -> Value {
        let token = self.token(SCHOOL);
        let consent = police_consent(consent_id);
        let recorded = self.post_to("/v1/consents", &token, &consent).await;
        assert_eq!(recorded.status(), 201);
        let message = police_referral(consent_id);
        assert_eq!(self.post(&token, &message).await.status(), 202);
        let id = gateway_id(SCHOOL, &message);
        assert!(
            inbox
                .wait_for(POLICE_INBOX, &id, Duration::from_secs(20))
                .await,
            "the inbox received the referral"
        );
        message
    }

    /// POSTs `body` as JSON to `/v1/messages`.
    pub async fn post(&self, token: &str, body: &Value) -> reqwest::Response {
        self.post_to("/v1/messages", token, body).await
    }

    /// POSTs `body` as JSON to `path` of the API.
    pub async fn post_to(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base()))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// Waits up to `limit` until message `id` has `status`; returns its last status view.
    pub async fn wait_status(&self, token: &str, id: &str, status: &str, limit: Duration) -> Value {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let view: Value = self.status(token, id).await.json().await.unwrap();
            if view["status"] == status || tokio::time::Instant::now() > deadline {
                return view;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Moves the adapters' clock to 01:00 UTC tomorrow: night in Oslo and Malmö, outside
    /// every service's office hours.
    pub fn adapters_at_night(&self) {
        let now = time::OffsetDateTime::now_utc();
        let night =
            now.replace_time(time::Time::from_hms(1, 0, 0).unwrap()) + time::Duration::days(1);
        self.adapter_clock.advance(night - now);
    }

    /// Waits up to `limit` until the history of message `id` holds `status` (an answer
    /// enters the history without changing the status); returns its last status view.
    pub async fn wait_history(
        &self,
        token: &str,
        id: &str,
        status: &str,
        limit: Duration,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let view: Value = self.status(token, id).await.json().await.unwrap();
            let has = view["history"]
                .as_array()
                .is_some_and(|h| h.iter().any(|e| e["status"] == status));
            if has || tokio::time::Instant::now() > deadline {
                return view;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Sends a receipt or answer of `kind` for the gateway's message `message_id`, as a case
    /// system does, from the test's broker account (`guest`).
    pub async fn receipt(&self, kind: &str, message_id: &str, body: Value) {
        adapters::queue::receipts::send(
            &contract::broker::Endpoint::plain(amqp_url()),
            &self.topology(),
            kind,
            message_id,
            &body,
        )
        .await
        .unwrap();
    }

    /// GETs the status of message `id`.
    pub async fn status(&self, token: &str, id: &str) -> reqwest::Response {
        self.http
            .get(format!("{}/v1/messages/{id}", self.base()))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// This test's broker names.
    pub fn topology(&self) -> Topology {
        self.config.broker.topology()
    }

    /// A new channel on the harness's own broker connection (a channel dies with its first
    /// error, e.g. a queue not declared yet, so each use takes a fresh one). A connection
    /// that died (the broker restarted, or closed it) is replaced, waiting up to a minute
    /// for the broker to take connections again.
    pub async fn channel(&self) -> Channel {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let mut connection = self.broker.lock().await;
        loop {
            if let Some(c) = connection.as_ref().filter(|c| c.status().connected())
                && let Ok(channel) = c.create_channel().await
            {
                return channel;
            }
            match Connection::connect(&amqp_url(), ConnectionProperties::default()).await {
                Ok(fresh) => *connection = Some(fresh),
                Err(error) => {
                    assert!(
                        tokio::time::Instant::now() < deadline,
                        "test broker unreachable: {error}"
                    );
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
            }
        }
    }

    /// Messages in `queue` (full name) right now; 0 if it does not exist.
    pub async fn count(&self, queue: &str) -> u32 {
        self.inspect(queue).await.map_or(0, |q| q.message_count())
    }

    /// Drains `queue` until every message of `expected` (gateway ids) has arrived, asserts
    /// that no other did, and returns how many came twice (at-least-once: the lost-confirm
    /// window), which must stay within 2 %.
    pub async fn arrived(
        &self,
        queue: &str,
        expected: &std::collections::BTreeSet<String>,
        what: &str,
    ) -> usize {
        let got = self
            .drain(queue, expected.len(), Duration::from_secs(120))
            .await;
        let ids: Vec<String> = got.iter().map(message_id).collect();
        let unique: std::collections::BTreeSet<String> = ids.iter().cloned().collect();
        assert_eq!(&unique, expected, "{what}: every accepted message arrived");
        let duplicates = ids.len() - unique.len();
        println!(
            "{what}: {} accepted, {duplicates} duplicates",
            expected.len()
        );
        assert!(
            duplicates * 50 <= expected.len(),
            "{what}: duplicates stay within 2 %: {duplicates}"
        );
        duplicates
    }

    /// Consumers of `queue` (full name) right now; 0 if it does not exist.
    pub async fn consumers(&self, queue: &str) -> u32 {
        self.inspect(queue).await.map_or(0, |q| q.consumer_count())
    }

    async fn inspect(&self, queue: &str) -> Option<lapin::Queue> {
        self.channel()
            .await
            .queue_declare(
                queue.into(),
                QueueDeclareOptions {
                    passive: true,
                    ..QueueDeclareOptions::default()
                },
                FieldTable::default(),
            )
            .await
            .ok()
    }

    /// Takes (and acks) messages from `queue` until `expected` have come or `limit` passes,
    /// then keeps listening a little to catch any extra (a duplicate would show here).
    pub async fn drain(
        &self,
        queue: &str,
        expected: usize,
        limit: Duration,
    ) -> Vec<BasicGetMessage> {
        let mut channel = self.channel().await;
        let deadline = tokio::time::Instant::now() + limit;
        let mut got = Vec::new();
        let mut quiet_until = None;
        loop {
            let now = tokio::time::Instant::now();
            if now > deadline || quiet_until.is_some_and(|q| now > q) {
                return got;
            }
            match channel
                .basic_get(queue.into(), BasicGetOptions::default())
                .await
            {
                Ok(Some(message)) => {
                    message
                        .delivery
                        .ack(BasicAckOptions::default())
                        .await
                        .unwrap();
                    got.push(message);
                    if got.len() >= expected && quiet_until.is_none() {
                        quiet_until =
                            Some(tokio::time::Instant::now() + Duration::from_millis(500));
                    }
                }
                Ok(None) => tokio::time::sleep(Duration::from_millis(50)).await,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    channel = self.channel().await;
                }
            }
        }
    }

    /// Stops everything and deletes this test's queues, exchanges and files.
    pub async fn cleanup(mut self) {
        if let Some(adapters) = self.adapters.take() {
            adapters.stop().await;
        }
        self.stop_gateway().await;
        let directory = Directory::load(&self.config.directory).unwrap();
        let receiving = directory.receiving_queues();
        let _ = self
            .topology()
            .delete(&self.channel().await, &receiving)
            .await;
        if let Some(Ok(management)) = self.config.broker.management() {
            let _ = management
                .remove(&self.topology().policies(&receiving))
                .await;
        }
        if let Some(url) = &self.config.store.url {
            let _ = contract::postgres::drop_schema(url).await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// An agency's HTTP inbox, stood up on port 0: it records every request it answers
/// (path and JSON body) and answers with the statuses it is told to, then 200.
#[derive(Clone)]
pub struct FakeInbox {
    pub url: String,
    pub received: Arc<std::sync::Mutex<Vec<(String, Value)>>>,
    /// The `Authorization` header of each request received at the inbox.
    pub authorizations: Arc<std::sync::Mutex<Vec<Option<String>>>>,
    answers: Arc<std::sync::Mutex<std::collections::VecDeque<u16>>>,
}

/// An answer of a [`FakeInbox`] that never comes.
pub const HANG: u16 = 0;

/// An answer of a [`FakeInbox`] that is 200, after two seconds.
pub const SLOW: u16 = 1;

/// The access token the fake token endpoint (`<inbox>/token`) hands out.
pub const FAKE_TOKEN: &str = "inbox-token-1";

impl FakeInbox {
    /// Starts an inbox answering `answers` first, then 200; an answer of [`HANG`] never
    /// comes (the request is held until the client gives up), one of [`SLOW`] is late.
    pub async fn start(answers: &[u16]) -> Self {
        let inbox = Self::new(answers);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = inbox.app();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{addr}/inbox"),
            ..inbox
        }
    }

    /// Starts an inbox that answers 200, over HTTPS with `tls` (at `https://localhost:…`).
    pub async fn start_tls(tls: Arc<rustls::ServerConfig>) -> Self {
        let inbox = Self::new(&[]);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let config = axum_server::tls_rustls::RustlsConfig::from_config(tls);
        let server = axum_server::tls_rustls::from_tcp_rustls(listener, config).unwrap();
        let app = inbox.app();
        tokio::spawn(async move { server.serve(app.into_make_service()).await });
        Self {
            url: format!("https://localhost:{}/inbox", addr.port()),
            ..inbox
        }
    }

    fn new(answers: &[u16]) -> Self {
        Self {
            url: String::new(),
            received: Arc::default(),
            authorizations: Arc::default(),
            answers: Arc::new(std::sync::Mutex::new(answers.iter().copied().collect())),
        }
    }

    fn app(&self) -> axum::Router {
        let state = self.clone();
        axum::Router::new()
            .route(
                "/inbox/token",
                axum::routing::post(|| async {
                    axum::Json(serde_json::json!({"access_token": FAKE_TOKEN, "expires_in": 300}))
                }),
            )
            .fallback(
                move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: String| {
                    let state = state.clone();
                    async move {
                        let body = received_body(&headers, &body);
                        let status = state.answers.lock().unwrap().pop_front().unwrap_or(200);
                        let authorization = headers
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned);
                        state.authorizations.lock().unwrap().push(authorization);
                        state
                            .received
                            .lock()
                            .unwrap()
                            .push((uri.path().to_owned(), body));
                        let status = match status {
                            HANG => {
                                tokio::time::sleep(Duration::from_secs(3600)).await;
                                status
                            }
                            SLOW => {
                                tokio::time::sleep(Duration::from_secs(2)).await;
                                200
                            }
                            _ => status,
                        };
                        axum::http::StatusCode::from_u16(status).unwrap()
                    }
                },
            )
    }

    /// The message ids of the bodies received at `path`.
    pub fn ids_at(&self, path: &str) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, b)| b["messageId"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Waits up to `limit` until `path` received message `id`.
    pub async fn wait_for(&self, path: &str, id: &str, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            if self.ids_at(path).iter().any(|i| i == id) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// A copy of the dev directory, in `dir`, whose HTTP inboxes are this inbox.
    pub fn directory_in(&self, dir: &Path) -> PathBuf {
        dev_directory_with(
            dir,
            &[
                ("http://127.0.0.1:9101/inbox", &self.url),
                ("http://127.0.0.1:9102/inbox", &self.url),
                ("http://127.0.0.1:9103/inbox", &self.url),
            ],
        )
    }
}

/// What an inbox received: the JSON document, or, for a sealed one (a JWE), its
/// `Idempotency-Key` as `messageId` and the JWE as `sealed`.
fn received_body(headers: &axum::http::HeaderMap, body: &str) -> Value {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    match header("content-type") {
        contract::render::JOSE => {
            serde_json::json!({ "messageId": header("idempotency-key"), "sealed": body })
        }
        _ => serde_json::from_str(body).unwrap_or(Value::Null),
    }
}

/// A copy of the dev directory in `dir` with each `(from, to)` text replaced.
pub fn dev_directory_with(dir: &Path, edits: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(repo().join("ops/config/directory.dev.toml")).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "the dev directory has {from}");
        text = text.replace(from, to);
    }
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("directory.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A copy of the dev directory (in a fresh folder) in which the test's broker account
/// (`guest`) is the case system of the agency whose account is `account`.
pub fn directory_as_case_system(account: &str) -> PathBuf {
    let edit = format!("broker_user = \"{account}\"");
    dev_directory_with(&temp_dir(), &[(&edit, "broker_user = \"guest\"")])
}

/// The store of a test's gateway: its SQLite file (`None`), or, when
/// `REFERRAL_TEST_STORE=postgres` (as `ops/test` runs the end-to-end suite a second time), a
/// schema of its own on the local PostgreSQL server.
pub async fn test_store() -> Option<String> {
    match std::env::var("REFERRAL_TEST_STORE").as_deref() {
        Ok("postgres") => Some(
            contract::postgres::new_schema(&contract::postgres::test_server(), "gw")
                .await
                .expect("the PostgreSQL server of the tests (ops/postgres/ensure)"),
        ),
        Ok("sqlite") | Err(_) => None,
        Ok(other) => panic!("REFERRAL_TEST_STORE={other}: sqlite or postgres"),
    }
}

/// A fresh temporary folder.
pub fn temp_dir() -> PathBuf {
    std::env::temp_dir().join(format!("e2e-{}", uuid::Uuid::new_v4().simple()))
}

/// Asserts a problem answer and returns its body.
pub async fn problem(response: reqwest::Response, status: u16, slug: &str) -> Value {
    assert_eq!(response.status(), status, "expected {slug}");
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], format!("/problems/{slug}"));
    assert_eq!(body["status"], status);
    body
}

/// The `messageId` property of a consumed message.
pub fn message_id(message: &BasicGetMessage) -> String {
    message
        .delivery
        .properties
        .message_id()
        .as_ref()
        .map(|s| s.to_string())
        .unwrap_or_default()
}

/// The string value of AMQP header `name` of a consumed message.
pub fn header(message: &BasicGetMessage, name: &str) -> Option<String> {
    let headers = message.delivery.properties.headers().as_ref()?;
    match headers.inner().get(name)? {
        lapin::types::AMQPValue::LongString(s) => Some(s.to_string()),
        _ => None,
    }
}

/// The gateway's id of `message` from `sender`: the id queues, inboxes, receipts and dead
/// letters carry.
pub fn gateway_id(sender: &str, message: &Value) -> String {
    let client_id = message["messageId"].as_str().unwrap().parse().unwrap();
    gateway::record::gateway_id(&contract::directory::AgencyId(sender.into()), &client_id)
        .to_string()
}

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

/// A steady load of bekymringsmeldinger from the Oslo school to `url` (`FAULT_RATE` a
/// second, default 20) until `stop` is set: a refused connection or any answer but 202 is repeated with the same
/// message, as a client would. Yields the gateway ids of the messages accepted.
pub fn steady_load(
    http: reqwest::Client,
    url: String,
    token: String,
    stop: Arc<std::sync::atomic::AtomicBool>,
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
            let message = waiting.take().unwrap_or_else(bekymringsmelding);
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
