//! The gateway's background work, each until cancelled: the outbox, retention, the audit
//! head's export, the status events and expired messages coming back from the adapters,
//! and following the key file.

use crate::config::Config;
use crate::keys::LiveKeys;
use crate::metrics::Metrics;
use crate::publish::{Outbox, Publisher};
use crate::record::{HeadExport, Retention, Store};
use contract::plumbing::broker::BrokerLink;
use contract::plumbing::clock::Clock;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What the background work runs on.
pub struct Tasks<'a> {
    pub config: &'a Config,
    pub store: Arc<dyn Store>,
    pub link: Arc<BrokerLink>,
    pub publisher: Publisher,
    pub keys: Arc<LiveKeys>,
    /// The key of the audit chain, for the head's export.
    pub audit_key: aws_lc_rs::hmac::Key,
    pub clock: Arc<Clock>,
    pub metrics: Arc<Metrics>,
    /// A claim on a message's publish.
    pub lease: Duration,
}

impl Tasks<'_> {
    /// Spawns every background task, each stopping at `cancel`.
    pub fn spawn(self, cancel: &CancellationToken) {
        let Self {
            config,
            store,
            link,
            publisher,
            keys,
            audit_key,
            clock,
            metrics,
            lease,
        } = self;
        tokio::spawn(follow_key_file(keys, cancel.clone()));
        let outbox = Outbox::new(
            store.clone(),
            publisher,
            Duration::from_millis(config.outbox.interval_ms),
            config.outbox.batch,
            lease,
            clock.clone(),
        );
        tokio::spawn({
            let (link, cancel) = (link.clone(), cancel.clone());
            async move {
                link.wait_up(Duration::from_secs(30)).await;
                outbox.run(cancel).await;
            }
        });
        tokio::spawn(
            Retention {
                store: store.clone(),
                clock: clock.clone(),
                config: config.retention.clone(),
            }
            .run(cancel.clone()),
        );
        tokio::spawn(
            HeadExport {
                store: store.clone(),
                key: audit_key,
                config: config.audit.clone(),
                clock,
                exported: Box::new({
                    let metrics = metrics.clone();
                    move |seq| metrics.set_audit_head(seq)
                }),
            }
            .run(cancel.clone()),
        );
        let topology = config.broker.topology();
        tokio::spawn(crate::track::run(
            link.clone(),
            topology.clone(),
            store.clone(),
            metrics,
            cancel.clone(),
        ));
        tokio::spawn(crate::track::run_expired(
            link,
            topology,
            store,
            cancel.clone(),
        ));
    }
}

/// Reads the key file again whenever it changes (a rotation), until cancelled.
async fn follow_key_file(keys: Arc<LiveKeys>, cancel: CancellationToken) {
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        if let Err(error) = keys.refresh() {
            tracing::warn!(%error, "key file not read again");
        }
    }
}
