//! The link to the broker: one connection, one confirming channel, and a supervisor that
//! notices when either is no longer open (the broker restarted, closed the channel, or was
//! down at start-up) and reconnects from scratch with backoff, logging each loss and each
//! return. lapin's own recovery is not used: it can end in a state that is neither open nor
//! failed, in which a process lives but never reaches the broker again.

use super::Endpoint;
use lapin::options::ConfirmSelectOptions;
use lapin::{Channel, Connection, ConnectionProperties};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::RwLock;
use tokio_util::sync::CancellationToken;

const POLL: Duration = Duration::from_millis(250);
/// First and longest wait between two attempts to reconnect.
const RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(5);

struct Linked {
    connection: Connection,
    channel: Channel,
}

/// A supervised connection and channel (with publisher confirms) to the broker.
pub struct BrokerLink {
    current: RwLock<Option<Linked>>,
}

/// Why the broker to connect to is not known for an attempt (e.g. no token for its password).
pub type EndpointError = Box<dyn std::error::Error + Send + Sync>;

impl BrokerLink {
    /// Starts the supervisor. `setup` runs on every fresh channel, before it is handed out
    /// (declare topology there).
    pub fn spawn<F, Fut>(
        broker: Endpoint,
        name: String,
        setup: F,
        cancel: CancellationToken,
    ) -> Arc<Self>
    where
        F: Fn(Channel) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), lapin::Error>> + Send + 'static,
    {
        let endpoint = move |_| std::future::ready(Ok(broker.clone()));
        Self::spawn_to(endpoint, name, setup, cancel)
    }

    /// As [`spawn`](Self::spawn), to a broker found anew for every attempt by `endpoint`
    /// (credentials that expire), which is told whether the attempt before failed.
    pub fn spawn_to<E, EFut, F, Fut>(
        endpoint: E,
        name: String,
        setup: F,
        cancel: CancellationToken,
    ) -> Arc<Self>
    where
        E: Fn(bool) -> EFut + Send + Sync + 'static,
        EFut: Future<Output = Result<Endpoint, EndpointError>> + Send + 'static,
        F: Fn(Channel) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), lapin::Error>> + Send + 'static,
    {
        let link = Arc::new(Self {
            current: RwLock::new(None),
        });
        tokio::spawn(supervise(link.clone(), endpoint, name, setup, cancel));
        link
    }

    /// The channel, when the link is up (not while it recovers).
    pub async fn channel(&self) -> Option<Channel> {
        self.current
            .read()
            .await
            .as_ref()
            .filter(|l| l.channel.status().connected())
            .map(|l| l.channel.clone())
    }

    /// Waits until the link is up, at most `limit`.
    pub async fn wait_up(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            if self.channel().await.is_some() {
                return true;
            }
            tokio::time::sleep(POLL).await;
        }
        false
    }
}

/// How long setting up a connection (connect, channel, confirms, declarations) may take.
pub const SETUP_TIMEOUT: Duration = Duration::from_secs(20);

/// Awaits a broker call for at most `limit`: a reply lost with a dying connection must not
/// hang its caller (and with it a consumer or a link) for good.
pub async fn within<T>(
    limit: Duration,
    call: impl Future<Output = Result<T, lapin::Error>>,
) -> Result<T, lapin::Error> {
    tokio::time::timeout(limit, call).await.unwrap_or_else(|_| {
        Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the broker did not answer in time",
        )
        .into())
    })
}

/// Connection properties naming the connection (shown by the broker); no automatic
/// recovery: whoever owns the connection reconnects from scratch.
pub fn connection_properties(name: &str) -> ConnectionProperties {
    ConnectionProperties::default().with_connection_name(name.into())
}

async fn supervise<E, EFut, F, Fut>(
    link: Arc<BrokerLink>,
    endpoint: E,
    name: String,
    setup: F,
    cancel: CancellationToken,
) where
    E: Fn(bool) -> EFut + Send + Sync + 'static,
    EFut: Future<Output = Result<Endpoint, EndpointError>> + Send + 'static,
    F: Fn(Channel) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), lapin::Error>> + Send + 'static,
{
    let mut backoff = RETRY;
    let mut failed = false;
    while !cancel.is_cancelled() {
        let opened = match endpoint(failed).await {
            Ok(broker) => open(&broker, &name, &setup)
                .await
                .map_err(EndpointError::from),
            Err(error) => Err(error),
        };
        failed = opened.is_err();
        match opened {
            Ok(linked) => {
                tracing::info!(link = %name, "broker link up");
                backoff = RETRY;
                *link.current.write().await = Some(linked);
                watch(&link, &cancel).await;
                if let Some(old) = link.current.write().await.take() {
                    let _ =
                        within(SETUP_TIMEOUT, old.connection.close(200, "shutdown".into())).await;
                }
                if cancel.is_cancelled() {
                    return;
                }
                tracing::warn!(link = %name, "broker link lost; reconnecting");
            }
            Err(error) => {
                tracing::warn!(link = %name, %error, retry_ms = backoff.as_millis() as u64, "cannot reach the broker")
            }
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(MAX_RETRY);
    }
}

async fn open<F, Fut>(broker: &Endpoint, name: &str, setup: &F) -> Result<Linked, lapin::Error>
where
    F: Fn(Channel) -> Fut,
    Fut: Future<Output = Result<(), lapin::Error>>,
{
    let connection = within(SETUP_TIMEOUT, broker.connect(name)).await?;
    let ready = within(SETUP_TIMEOUT, async {
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        setup(channel.clone()).await?;
        Ok(channel)
    })
    .await;
    match ready {
        Ok(channel) => Ok(Linked {
            connection,
            channel,
        }),
        Err(e) => {
            let _ = within(SETUP_TIMEOUT, connection.close(200, "setup failed".into())).await;
            Err(e)
        }
    }
}

/// Returns when the connection or the channel is no longer open, or on cancellation.
async fn watch(link: &BrokerLink, cancel: &CancellationToken) {
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(POLL) => {}
        }
        let guard = link.current.read().await;
        let Some(linked) = guard.as_ref() else { return };
        if !linked.connection.status().connected() || !linked.channel.status().connected() {
            return;
        }
    }
}
