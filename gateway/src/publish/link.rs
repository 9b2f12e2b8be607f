//! The link to the broker: one connection with lapin's automatic recovery, one confirming
//! channel, and a supervisor that reconnects from scratch when recovery gives up (or the
//! broker was down at start-up).

use lapin::options::ConfirmSelectOptions;
use lapin::{Channel, Connection, ConnectionProperties};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::RwLock;
use tokio_util::sync::CancellationToken;

const POLL: Duration = Duration::from_millis(250);
const RETRY: Duration = Duration::from_secs(1);

struct Linked {
    connection: Connection,
    channel: Channel,
}

/// A supervised connection and channel (with publisher confirms) to the broker.
pub struct BrokerLink {
    current: RwLock<Option<Linked>>,
}

impl BrokerLink {
    /// Starts the supervisor. `setup` runs on every fresh channel, before it is handed out
    /// (declare topology there); lapin replays it itself after an automatic recovery.
    pub fn spawn<F, Fut>(
        url: String,
        name: String,
        setup: F,
        cancel: CancellationToken,
    ) -> Arc<Self>
    where
        F: Fn(Channel) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), lapin::Error>> + Send + 'static,
    {
        let link = Arc::new(Self {
            current: RwLock::new(None),
        });
        tokio::spawn(supervise(link.clone(), url, name, setup, cancel));
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

/// Connection properties with recovery on and a bounded reconnect backoff.
pub fn connection_properties(name: &str) -> ConnectionProperties {
    ConnectionProperties::default()
        .with_connection_name(name.into())
        .enable_auto_recover()
        .configure_backoff(|b| {
            b.with_min_delay(Duration::from_millis(200))
                .with_max_delay(Duration::from_secs(2))
                .with_max_times(60)
        })
}

async fn supervise<F, Fut>(
    link: Arc<BrokerLink>,
    url: String,
    name: String,
    setup: F,
    cancel: CancellationToken,
) where
    F: Fn(Channel) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), lapin::Error>> + Send + 'static,
{
    while !cancel.is_cancelled() {
        match open(&url, &name, &setup).await {
            Ok(linked) => {
                tracing::info!(link = %name, "broker link up");
                *link.current.write().await = Some(linked);
                watch(&link, &cancel).await;
                if let Some(old) = link.current.write().await.take() {
                    let _ = old.connection.close(200, "shutdown".into()).await;
                }
                if cancel.is_cancelled() {
                    return;
                }
                tracing::warn!(link = %name, "broker link lost; reconnecting");
            }
            Err(error) => tracing::warn!(link = %name, %error, "cannot reach the broker"),
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(RETRY) => {}
        }
    }
}

async fn open<F, Fut>(url: &str, name: &str, setup: &F) -> Result<Linked, lapin::Error>
where
    F: Fn(Channel) -> Fut,
    Fut: Future<Output = Result<(), lapin::Error>>,
{
    let connection = Connection::connect(url, connection_properties(name)).await?;
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    if let Err(e) = setup(channel.clone()).await {
        let _ = connection.close(200, "setup failed".into()).await;
        return Err(e);
    }
    Ok(Linked {
        connection,
        channel,
    })
}

/// Returns when the connection has ended for good (recovery gave up) or on cancellation.
async fn watch(link: &BrokerLink, cancel: &CancellationToken) {
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(POLL) => {}
        }
        let guard = link.current.read().await;
        let Some(linked) = guard.as_ref() else { return };
        let status = linked.connection.status();
        if status.errored() || status.closed() {
            return;
        }
    }
}
