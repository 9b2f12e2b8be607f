//! What the operator console shows, gathered: the health of the gateway's parts and of the
//! adapters, the broker's queues, the last hour's messages, the overdue ones and the dead
//! letters. Ids, kinds, tags, statuses and counts only: never a payload, never a person.

use super::dead::{self, DeadLetter};
use crate::config::Config;
use crate::deadlines::DeadlinesConfig;
use crate::record::{Status, StatusView, Store, StoreError};
use contract::directory::{Directory, Transport};
use contract::plumbing::broker::{BrokerLink, Management, ManagementError};
use contract::topology::Topology;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use time::OffsetDateTime;

/// How long the console waits for an adapter's `/readyz` or the management API.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The most recent messages the overview lists one by one.
const LISTED: usize = 25;

/// What the console and the metrics look at beyond the store: the broker's queues, the
/// adapters, and the certificates the gateway presents.
pub struct Watch {
    topology: Topology,
    queues: Vec<String>,
    management: Option<Management>,
    adapters: Vec<String>,
    /// The certificate files the gateway presents, by what they are for.
    certificates: Vec<(&'static str, PathBuf)>,
    http: reqwest::Client,
}

/// The console's view of everything at one moment.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    pub at: String,
    pub health: Vec<Health>,
    /// The broker's queues, if the management API is configured and answers.
    pub queues: Option<Vec<QueueDepth>>,
    pub last_hour: LastHour,
    pub recent: Vec<Recent>,
    pub overdue: Vec<Overdue>,
    pub dead_letters: Vec<DeadLetterCount>,
}

/// Whether one part answers.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// `gateway`, `store`, `broker`, or an adapters process's URL.
    pub part: String,
    pub ready: bool,
}

/// One queue of the broker.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueDepth {
    pub name: String,
    pub messages: u64,
    pub consumers: u64,
    /// Whether something should consume it (a dead-letter queue waits for an operator).
    pub consumed: bool,
}

/// The messages recorded in the last hour, and how long delivery took.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastHour {
    pub accepted: usize,
    pub delivered: usize,
    pub failed: usize,
    /// From recording to delivery, of those delivered (milliseconds).
    pub delivery_p50_ms: Option<i64>,
    pub delivery_p99_ms: Option<i64>,
    pub delivery_max_ms: Option<i64>,
}

/// One of the last hour's messages.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recent {
    pub gateway_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub recipient: String,
    pub status: Status,
    pub recorded_at: String,
    /// The reason of its latest step (a value-free text), if any.
    pub reason: Option<String>,
}

/// Messages past one deadline, for one recipient agency.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Overdue {
    pub agency: String,
    pub deadline: String,
    pub count: usize,
}

/// Dead letters of one transport and reason.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterCount {
    pub transport: Transport,
    pub reason: String,
    pub count: usize,
}

/// A dead letter, with the transport whose queue holds it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listed {
    pub transport: Transport,
    #[serde(flatten)]
    pub letter: DeadLetter,
}

impl Watch {
    /// A watch over the queues of `config`'s topology and `directory`, through the broker's
    /// management API if configured, over the adapters processes `operator.adapters` names,
    /// and over the certificates of `http.tls` and `broker.tls`.
    pub fn new(config: &Config, directory: &Directory) -> Result<Self, ManagementError> {
        let topology = config.broker.topology();
        // The retry queues only hold messages for their delay: not worth a row each.
        let queues = topology
            .queue_names(&directory.receiving_queues())
            .into_iter()
            .filter(|name| !name.contains(".retry."))
            .collect();
        let certificates = [
            ("http_tls", config.http.tls.as_ref().map(|t| t.cert.clone())),
            (
                "broker_client",
                config
                    .broker
                    .tls
                    .as_ref()
                    .and_then(|t| t.client_cert.clone()),
            ),
        ]
        .into_iter()
        .filter_map(|(what, path)| Some((what, path?)))
        .collect();
        Ok(Self {
            topology,
            queues,
            management: config.broker.management().transpose()?,
            adapters: config.operator.adapters.clone(),
            certificates,
            http: reqwest::Client::builder()
                .timeout(PROBE_TIMEOUT)
                .build()
                .expect("an HTTP client without TLS settings builds"),
        })
    }

    /// When each certificate the gateway presents expires (Unix seconds), by what it is
    /// for; one that cannot be read shows as expired (0).
    pub fn certificates_expire(&self) -> Vec<(&'static str, i64)> {
        self.certificates
            .iter()
            .map(|(what, path)| (*what, not_after(path).unwrap_or(0)))
            .collect()
    }

    /// The messages in each transport's dead-letter queue, if the management API answers.
    pub async fn dead_letter_depths(&self) -> Option<Vec<(Transport, u64)>> {
        let management = self.management.as_ref()?;
        let mut depths = Vec::new();
        for transport in Transport::ALL {
            let queue = self.topology.dead_queue(transport);
            let info = management.queue(&queue).await.ok()?;
            depths.push((transport, info.map_or(0, |i| i.messages)));
        }
        Some(depths)
    }

    /// Everything at `now`. A part that does not answer shows as not ready, never as an
    /// error of the console; only the store's own failure is one.
    pub async fn overview(
        &self,
        store: &dyn Store,
        link: &BrokerLink,
        deadlines: &DeadlinesConfig,
        now: OffsetDateTime,
    ) -> Result<Overview, StoreError> {
        let store_ready = store.ping().await.is_ok();
        let broker_ready = link.channel().await.is_some();
        let mut health = vec![
            Health {
                part: "gateway".into(),
                ready: store_ready && broker_ready,
            },
            Health {
                part: "store".into(),
                ready: store_ready,
            },
            Health {
                part: "broker".into(),
                ready: broker_ready,
            },
        ];
        for base in &self.adapters {
            health.push(Health {
                part: base.clone(),
                ready: self.ready(base).await,
            });
        }
        let recent = store.recent(now - time::Duration::hours(1)).await?;
        let overdue = deadlines.overdue(store, None, now).await?;
        let dead_letters = match self.dead_letters(link).await {
            Ok(letters) => count_dead(&letters),
            Err(error) => {
                tracing::warn!(%error, "the console could not read the dead letters");
                Vec::new()
            }
        };
        Ok(Overview {
            at: crate::record::timestamp(now),
            health,
            queues: self.queues().await,
            last_hour: last_hour(&recent),
            recent: recent.iter().take(LISTED).map(Recent::of).collect(),
            overdue: count_overdue(&overdue),
            dead_letters,
        })
    }

    /// Every dead letter, of every transport, left in place.
    pub async fn dead_letters(&self, link: &BrokerLink) -> Result<Vec<Listed>, dead::DeadError> {
        let channel = link.channel().await.ok_or(dead::DeadError::NoBroker)?;
        let mut listed = Vec::new();
        for transport in Transport::ALL {
            for letter in dead::list(&channel, &self.topology, transport).await? {
                listed.push(Listed { transport, letter });
            }
        }
        Ok(listed)
    }

    /// Replays or discards the dead letter `id` of `transport`; whether it was there.
    pub async fn settle(
        &self,
        link: &BrokerLink,
        transport: Transport,
        id: &str,
        how: dead::Settle,
    ) -> Result<bool, dead::DeadError> {
        let channel = link.channel().await.ok_or(dead::DeadError::NoBroker)?;
        let ids = [id.to_owned()];
        let settled = dead::settle(&channel, &self.topology, transport, &ids, how).await?;
        Ok(!settled.is_empty())
    }

    /// Whether the adapters process at `base` says it is ready.
    async fn ready(&self, base: &str) -> bool {
        let url = format!("{}/readyz", base.trim_end_matches('/'));
        self.http
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    }

    /// The depth and consumers of every queue, if the management API answers.
    async fn queues(&self) -> Option<Vec<QueueDepth>> {
        let management = self.management.as_ref()?;
        let dead: Vec<String> = Transport::ALL
            .iter()
            .map(|t| self.topology.dead_queue(*t))
            .collect();
        let mut depths = Vec::new();
        for name in &self.queues {
            if let Some(info) = management.queue(name).await.ok()? {
                depths.push(QueueDepth {
                    name: name.clone(),
                    messages: info.messages,
                    consumers: info.consumers,
                    consumed: !dead.contains(name),
                });
            }
        }
        Some(depths)
    }
}

impl Recent {
    fn of(view: &StatusView) -> Self {
        Self {
            gateway_id: view.gateway_id.to_string(),
            kind: view.kind.as_str().to_owned(),
            recipient: view.recipient.0.clone(),
            status: view.status,
            recorded_at: view
                .history
                .first()
                .map(|e| e.at.clone())
                .unwrap_or_default(),
            reason: view.history.last().and_then(|e| e.reason.clone()),
        }
    }
}

/// The counts and delivery times of `recent`.
fn last_hour(recent: &[StatusView]) -> LastHour {
    let at = |view: &StatusView, status: Status| {
        view.history
            .iter()
            .find(|e| e.status == status)
            .and_then(|e| crate::record::parse_timestamp(&e.at))
    };
    let mut took: Vec<i64> = recent
        .iter()
        .filter_map(|v| Some(at(v, Status::Delivered)? - at(v, Status::Recorded)?))
        .map(|d| d.whole_milliseconds() as i64)
        .collect();
    took.sort_unstable();
    let quantile = |q: f64| {
        let last = took.len().checked_sub(1)?;
        took.get(((last as f64) * q).round() as usize).copied()
    };
    LastHour {
        accepted: recent.len(),
        delivered: took.len(),
        failed: recent
            .iter()
            .filter(|v| matches!(v.status, Status::Failed | Status::Expired))
            .count(),
        delivery_p50_ms: quantile(0.5),
        delivery_p99_ms: quantile(0.99),
        delivery_max_ms: took.last().copied(),
    }
}

fn count_overdue(overdue: &[(StatusView, Vec<crate::deadlines::Missed>)]) -> Vec<Overdue> {
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (view, missed) in overdue {
        for missed in missed {
            *counts
                .entry((view.recipient.0.clone(), missed.as_str().to_owned()))
                .or_default() += 1;
        }
    }
    counts
        .into_iter()
        .map(|((agency, deadline), count)| Overdue {
            agency,
            deadline,
            count,
        })
        .collect()
}

fn count_dead(letters: &[Listed]) -> Vec<DeadLetterCount> {
    let mut counts: BTreeMap<(Transport, String), usize> = BTreeMap::new();
    for listed in letters {
        let reason = listed.letter.reason.clone().unwrap_or_default();
        *counts.entry((listed.transport, reason)).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|((transport, reason), count)| DeadLetterCount {
            transport,
            reason,
            count,
        })
        .collect()
}

/// When the first certificate of the PEM file at `path` expires (Unix seconds).
fn not_after(path: &Path) -> Option<i64> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let first = CertificateDer::pem_file_iter(path).ok()?.next()?.ok()?;
    let (_, certificate) = x509_parser::parse_x509_certificate(&first).ok()?;
    Some(certificate.validity().not_after.timestamp())
}
