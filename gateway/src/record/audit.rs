//! The audit trail, tamper-evident: each entry's `chain` is the HMAC-SHA256 (the key
//! file's audit key, never in the database) of the previous entry's chain and the entry
//! itself, its `seq` included. Entries are chained in `seq` order shortly after they are
//! written ([`run_chain`]); chaining is deterministic, so two gateways chaining at once
//! write the same values. [`verify`] recomputes the chain: a changed entry breaks it at that
//! entry, a reordered one at both, a removed one leaves a gap in `seq`. Removing the newest
//! entries leaves no trace inside the database: compare the head [`verify`] reports with one
//! noted outside it (the operator's log).

use super::{Store, StoreError};
use async_trait::async_trait;
use aws_lc_rs::hmac;
use serde::Serialize;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// One audit entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub message_id: String,
    pub kind: String,
    pub legal_basis: String,
    pub recipient: String,
    pub subject_hash: Option<String>,
    pub chain: Option<String>,
}

/// Where the chain starts: after the entry `seq` whose chain was `chain` (entries before it
/// were removed at the end of the audit period), or at the beginning.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChainLink {
    pub seq: i64,
    pub chain: String,
}

impl ChainLink {
    /// The anchor as a store keeps it (`<seq> <chain>`).
    pub fn to_anchor(&self) -> Vec<u8> {
        format!("{} {}", self.seq, self.chain).into_bytes()
    }

    /// The anchor a store keeps, if it keeps one; the beginning if not.
    pub fn of_anchor(stored: Option<Vec<u8>>) -> Result<Self, StoreError> {
        let Some(anchor) = stored else {
            return Ok(Self::default());
        };
        let text = String::from_utf8_lossy(&anchor);
        text.split_once(' ')
            .and_then(|(seq, chain)| {
                Some(Self {
                    seq: seq.parse().ok()?,
                    chain: chain.to_owned(),
                })
            })
            .ok_or_else(|| StoreError::Corrupt("the audit anchor".into()))
    }
}

/// What the gateway asks of its store about the audit trail.
#[async_trait]
pub trait AuditTrail: Send + Sync {
    /// The newest chained entry, or the anchor of the chain, or the beginning.
    async fn audit_head(&self) -> Result<ChainLink, StoreError>;

    /// Where the chain starts ([`ChainLink::default`]: at the first entry).
    async fn audit_anchor(&self) -> Result<ChainLink, StoreError>;

    /// Up to `limit` entries after `after`, in `seq` order.
    async fn audit_entries(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;

    /// Writes the chain of each entry of `links` (by its `seq`) that has none, in one
    /// transaction: the next batch of the hot writes (group commit), so that chaining
    /// neither holds the store's writing connection nor pays a commit of its own.
    async fn set_chains(&self, links: &[ChainLink]) -> Result<(), StoreError>;

    /// The end of the audit period: removes messages whose payload is erased and that have
    /// not changed since `before` (with their history), refusals and chained audit entries
    /// from before then; the chain then starts after the last entry removed (its anchor).
    /// One transaction.
    async fn prune(&self, before: time::OffsetDateTime) -> Result<Pruned, StoreError>;
}

/// What the end of the audit period removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub messages: u64,
    pub refusals: u64,
    pub audit_entries: u64,
}

/// The chain value of `entry` after `previous`.
pub fn link(key: &hmac::Key, previous: &str, entry: &AuditEntry) -> String {
    let fields = serde_json::json!([
        entry.seq,
        entry.at,
        entry.actor,
        entry.action,
        entry.message_id,
        entry.kind,
        entry.legal_basis,
        entry.recipient,
        entry.subject_hash,
    ]);
    let mut context = hmac::Context::with_key(key);
    context.update(previous.as_bytes());
    context.update(b"\n");
    context.update(fields.to_string().as_bytes());
    hex::encode(context.sign().as_ref())
}

const BATCH: u32 = 1000;

/// Chains every entry written since the last chained one; returns how many.
pub async fn chain(store: &dyn Store, key: &hmac::Key) -> Result<u64, StoreError> {
    let mut head = store.audit_head().await?;
    let mut chained = 0;
    loop {
        let entries = store.audit_entries(head.seq, BATCH).await?;
        if entries.is_empty() {
            return Ok(chained);
        }
        let mut links = Vec::with_capacity(entries.len());
        for entry in entries {
            head = ChainLink {
                chain: link(key, &head.chain, &entry),
                seq: entry.seq,
            };
            links.push(head.clone());
        }
        store.set_chains(&links).await?;
        chained += links.len() as u64;
    }
}

/// Chains new entries every `interval` until cancelled.
pub async fn run_chain(
    store: std::sync::Arc<dyn Store>,
    key: hmac::Key,
    interval: Duration,
    cancel: CancellationToken,
) {
    while !cancel.is_cancelled() {
        if let Err(error) = chain(store.as_ref(), &key).await {
            tracing::warn!(%error, "audit entries not chained");
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}

/// Something wrong with the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "problem")]
pub enum Break {
    /// Entries between `after` and `next` are missing.
    Removed { after: i64, next: i64 },
    /// The entry is not what was chained (changed, or moved from elsewhere).
    Changed { seq: i64 },
    /// An entry without a chain before chained ones (its chain was removed).
    Unchained { seq: i64 },
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditReport {
    pub entries: u64,
    /// The newest entries not chained yet (written in the last moments).
    pub unchained: u64,
    /// Where the chain starts (after entries removed at the end of the audit period).
    pub anchor: ChainLink,
    /// The newest chained entry: note it outside the database to detect a cut-off end.
    pub head: ChainLink,
    pub breaks: Vec<Break>,
}

/// Recomputes the whole chain.
pub async fn verify(store: &dyn Store, key: &hmac::Key) -> Result<AuditReport, StoreError> {
    let anchor = store.audit_anchor().await?;
    let mut report = AuditReport {
        entries: 0,
        unchained: 0,
        head: anchor.clone(),
        anchor,
        breaks: Vec::new(),
    };
    let mut previous = report.anchor.clone();
    loop {
        let entries = store.audit_entries(previous.seq, BATCH).await?;
        if entries.is_empty() {
            return Ok(report);
        }
        for entry in entries {
            report.entries += 1;
            if entry.seq != previous.seq + 1 {
                report.breaks.push(Break::Removed {
                    after: previous.seq,
                    next: entry.seq,
                });
            }
            match &entry.chain {
                None => report.unchained += 1,
                Some(stored) => {
                    if report.unchained > 0 {
                        report.breaks.push(Break::Unchained { seq: entry.seq - 1 });
                        report.unchained = 0;
                    }
                    if *stored != link(key, &previous.chain, &entry) {
                        report.breaks.push(Break::Changed { seq: entry.seq });
                    }
                    report.head = ChainLink {
                        seq: entry.seq,
                        chain: stored.clone(),
                    };
                }
            }
            // Go on from what is stored, so that one change is reported once.
            previous = ChainLink {
                seq: entry.seq,
                chain: entry.chain.unwrap_or_default(),
            };
        }
    }
}
