//! Development and tests only: a local stand-in for KS Fiks IO, written from its public API
//! description (KS's send client and Java client): the send endpoint (multipart `metadata`
//! and `data` at `/fiks-io/api/v1/send`, with a Maskinporten token and the integration's
//! headers), the catalogue's lookup and public-key endpoints, a token endpoint that takes
//! JWT-bearer grants (RFC 7523) and issues Maskinporten-shaped tokens, and the answers of
//! receiving accounts over AMQP, to the sending account's queue `fiksio.konto.<id>`, which
//! the integration reads as Fiks IO's AMQP service lets it ([`amqp_access`]).
//! What it received is kept (and written to `<state>/received/<id>.cms`); faults can be
//! switched on for tests.

pub mod accounts;
pub mod amqp_access;
pub mod envelope;
mod routes;

pub use accounts::{Account, Answer};

use amqp_access::Access;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// `type` of a received answer.
pub const RECEIVED: &str = "no.ks.fiks.bekymringsmelding.mottatt.v1";
/// `type` of a failed answer.
pub const FAILED: &str = "no.ks.fiks.bekymringsmelding.feilet.v1";
/// The message type the accounts take.
pub const PROTOCOL: &str = "no.ks.fiks.bekymringsmelding.offentlig.v2";

/// How the stand-in is set up.
#[derive(Debug, Clone)]
pub struct Config {
    /// The broker the answers go over (as Fiks IO's AMQP service), and its management API
    /// (`http://user:password@host:15672`), through which the integration is let in.
    pub broker_url: String,
    pub management_url: String,
    /// Where keys and what was received are written.
    pub state: PathBuf,
    /// The `aud` its token endpoint takes in grants.
    pub audience: String,
    /// How long a token it issues is valid.
    pub token_lifetime: Duration,
    /// The integration it takes, and its password.
    pub integration_id: Uuid,
    pub integration_password: String,
}

/// A message the stand-in received.
#[derive(Debug, Clone)]
pub struct Received {
    pub message_id: Uuid,
    pub client_message_id: Option<String>,
    pub sender: Uuid,
    pub receiver: Uuid,
    pub message_type: String,
    pub data: Vec<u8>,
    /// Where it was written.
    pub file: PathBuf,
}

/// Faults the stand-in plays, for tests.
#[derive(Debug, Default)]
pub struct Faults {
    /// Statuses the next sends are answered with, instead of taking them.
    pub sends: VecDeque<u16>,
    /// The catalogue answers 503.
    pub catalogue_down: bool,
    /// The catalogue serves this instead of an account's certificate.
    pub broken_certificate: bool,
    /// The next sends are taken, but answered only after this long.
    pub slow_answers: VecDeque<Duration>,
}

/// What the stand-in holds.
pub struct State {
    config: Config,
    accounts: Mutex<HashMap<Uuid, Account>>,
    senders: Mutex<Vec<Uuid>>,
    tokens: Mutex<HashMap<String, Instant>>,
    received: Mutex<Vec<Received>>,
    faults: Mutex<Faults>,
    grants: Mutex<usize>,
    access: Arc<Access>,
    channel: lapin::Channel,
    _connection: Connection,
}

/// A running stand-in.
pub struct StandIn {
    pub addr: SocketAddr,
    state: Arc<State>,
    cancel: CancellationToken,
}

/// The lock of `m` (a panic elsewhere leaves it usable).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl StandIn {
    /// Starts the stand-in on `listen`.
    pub async fn start(listen: SocketAddr, config: Config) -> anyhow::Result<Self> {
        std::fs::create_dir_all(config.state.join("received"))?;
        let connection =
            Connection::connect(&config.broker_url, ConnectionProperties::default()).await?;
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let access = Access::new(
            &config.management_url,
            &config.broker_url,
            config.integration_id,
            config.integration_password.clone(),
        )?;
        let state = Arc::new(State {
            access: Arc::new(access),
            config,
            accounts: Mutex::default(),
            senders: Mutex::default(),
            tokens: Mutex::default(),
            received: Mutex::default(),
            faults: Mutex::default(),
            grants: Mutex::default(),
            channel,
            _connection: connection,
        });
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let cancel = CancellationToken::new();
        let app = routes::router(state.clone());
        let stop = cancel.clone();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
        });
        Ok(Self {
            addr,
            state,
            cancel,
        })
    }

    /// Its base URL (the Fiks API's).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Adds a receiving account (found by `organisation_number` in the catalogue, if
    /// given); its key file.
    pub fn add_account(
        &self,
        id: Uuid,
        organisation_number: Option<&str>,
        answer: Answer,
    ) -> anyhow::Result<PathBuf> {
        let account = Account::new(
            &self.state.config.state,
            id,
            organisation_number.map(str::to_owned),
            answer,
        )?;
        let key_file = account.key_file.clone();
        lock(&self.state.accounts).insert(id, account);
        Ok(key_file)
    }

    /// Adds a sending account of the integration, with its queue `fiksio.konto.<id>`, whose
    /// refused answers are dead-lettered to `<queue>.dead`.
    pub async fn add_sender(&self, id: Uuid) -> anyhow::Result<()> {
        let queue = format!("fiksio.konto.{id}");
        let dead = format!("{queue}.dead");
        let durable = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        let channel = &self.state.channel;
        channel
            .queue_declare(dead.as_str().into(), durable, FieldTable::default())
            .await?;
        let mut arguments = FieldTable::default();
        arguments.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString("".into()),
        );
        arguments.insert(
            "x-dead-letter-routing-key".into(),
            AMQPValue::LongString(dead.as_str().into()),
        );
        channel
            .queue_declare(queue.as_str().into(), durable, arguments)
            .await?;
        lock(&self.state.senders).push(id);
        Ok(())
    }

    /// Gives `account` a new key and certificate.
    pub fn rotate(&self, account: Uuid) -> anyhow::Result<()> {
        match lock(&self.state.accounts).get_mut(&account) {
            Some(account) => account.rotate(),
            None => anyhow::bail!("no such account"),
        }
    }

    /// The faults to play.
    pub fn faults(&self) -> std::sync::MutexGuard<'_, Faults> {
        lock(&self.state.faults)
    }

    /// What it received, in order.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.state.received).clone()
    }

    /// Forgets every token it issued (as if each expired now): none opens a connection to
    /// the answers any more either.
    pub async fn revoke_tokens(&self) -> anyhow::Result<()> {
        lock(&self.state.tokens).clear();
        self.state.access.revoke().await
    }

    /// Closes the integration's connections to the answers.
    pub async fn disconnect(&self) -> anyhow::Result<()> {
        self.state.access.disconnect().await
    }

    /// How many grants its token endpoint took.
    pub fn grants(&self) -> usize {
        *lock(&self.state.grants)
    }

    /// Sends an answer of `kind` to `message_id` from `from` to `to`'s queue, as a
    /// receiving account's system does.
    pub async fn answer(
        &self,
        from: Uuid,
        to: Uuid,
        kind: &str,
        message_id: Uuid,
    ) -> anyhow::Result<()> {
        self.state.answer(from, to, kind, message_id).await
    }
}

impl Drop for StandIn {
    /// Stops serving and removes the integration's broker user (on a thread of its own, as
    /// a drop cannot await; at most 10 s).
    fn drop(&mut self) {
        self.cancel.cancel();
        let access = self.state.access.clone();
        let removal = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                tokio::time::timeout(Duration::from_secs(10), access.remove()).await?
            })
        });
        let _ = removal.join();
    }
}

impl State {
    /// Lets the integration read its accounts' answers with `token`.
    async fn grant(&self, token: &str) -> anyhow::Result<()> {
        let senders = lock(&self.senders).clone();
        self.access.grant(token, &senders).await
    }
}

impl State {
    async fn answer(
        &self,
        from: Uuid,
        to: Uuid,
        kind: &str,
        message_id: Uuid,
    ) -> anyhow::Result<()> {
        let mut headers = FieldTable::default();
        for (name, value) in [
            ("type", kind.to_owned()),
            ("svar-til", message_id.to_string()),
            ("avsender-id", from.to_string()),
            ("melding-id", Uuid::new_v4().to_string()),
        ] {
            headers.insert(name.into(), AMQPValue::LongString(value.as_str().into()));
        }
        let properties = BasicProperties::default()
            .with_headers(headers)
            .with_delivery_mode(2);
        self.channel
            .basic_publish(
                "".into(),
                format!("fiksio.konto.{to}").as_str().into(),
                BasicPublishOptions::default(),
                &[],
                properties,
            )
            .await?
            .await?;
        Ok(())
    }
}
