//! The audit trail, tamper-evident: each entry's `chain` is the HMAC-SHA256 (the key
//! file's audit key, never in the database) of the previous entry's chain and the entry
//! itself, its `seq` included. Every transaction that writes entries chains them before it
//! commits ([`chained`]), on from the newest entry before them, so that no entry is ever
//! without a chain. [`verify`] recomputes the chain: a changed entry breaks it at that
//! entry, a reordered one at both, a removed one leaves a gap in `seq`, an entry without a
//! chain was written by someone other than a gateway. Where the chain starts after the end
//! of an audit period (its anchor) is authenticated with the audit key too. Removing the
//! newest entries leaves no trace inside the database: the head is exported, signed, to
//! where the database's holder cannot write ([`super::head`]), and `verify` compares the
//! trail with the latest export.

use super::{Store, StoreError};
use async_trait::async_trait;
use aws_lc_rs::hmac;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};

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

impl AuditEntry {
    /// An entry of [`WRITTEN`]'s columns, as text (no chain yet; an empty subject hash is
    /// none).
    pub fn of_texts(row: Vec<String>) -> Result<Self, StoreError> {
        let corrupt = || StoreError::Corrupt("an audit entry".into());
        let [
            seq,
            at,
            actor,
            action,
            message_id,
            kind,
            legal_basis,
            recipient,
            subject_hash,
        ] = <[String; 9]>::try_from(row).map_err(|_| corrupt())?;
        Ok(Self {
            seq: seq.parse().map_err(|_| corrupt())?,
            at,
            actor,
            action,
            message_id,
            kind,
            legal_basis,
            recipient,
            subject_hash: (!subject_hash.is_empty()).then_some(subject_hash),
            chain: None,
        })
    }
}

/// The newest entry before a transaction's own, as text: its `seq` and chain (empty if it
/// has none). No row: the trail is empty, and the chain starts at the beginning (the end
/// of an audit period never removes the newest entry).
/// (`audit.seq` in `ORDER BY`: PostgreSQL would order by the output column, text.)
pub const HEAD: &str =
    "SELECT CAST(seq AS TEXT), coalesce(chain, '') FROM audit ORDER BY audit.seq DESC LIMIT 1";

/// The entries after the newest chained one (a transaction's own, and any written without
/// a chain before them), as text ([`AuditEntry::of_texts`]).
pub const WRITTEN: &str = "SELECT CAST(seq AS TEXT), at, actor, action, message_id, kind,
        legal_basis, recipient, coalesce(subject_hash, '')
     FROM audit
     WHERE seq > coalesce((SELECT seq FROM audit WHERE chain IS NOT NULL ORDER BY seq DESC LIMIT 1), 0)
     ORDER BY audit.seq";

/// A place in the chain: the entry `seq` and its chain value (the beginning: 0 and none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainLink {
    pub seq: i64,
    pub chain: String,
}

impl ChainLink {
    /// The head of [`HEAD`]'s rows.
    pub fn of_head(rows: Vec<Vec<String>>) -> Result<Self, StoreError> {
        let Some(row) = rows.into_iter().next() else {
            return Ok(Self::default());
        };
        let corrupt = || StoreError::Corrupt("the audit trail's head".into());
        let [seq, chain] = <[String; 2]>::try_from(row).map_err(|_| corrupt())?;
        Ok(Self {
            seq: seq.parse().map_err(|_| corrupt())?,
            chain,
        })
    }

    /// What an HMAC of this link as `what` signs.
    fn signed_text(&self, what: &str) -> String {
        format!("{what}\n{} {}", self.seq, self.chain)
    }

    /// The HMAC (hex) of this link as `what` (an anchor, or an exported head).
    pub fn mac(&self, key: &hmac::Key, what: &str) -> String {
        hex::encode(hmac::sign(key, self.signed_text(what).as_bytes()).as_ref())
    }

    /// Whether `mac` is this link's HMAC as `what`.
    pub fn is_signed(&self, key: &hmac::Key, what: &str, mac: &str) -> bool {
        hex::decode(mac)
            .is_ok_and(|mac| hmac::verify(key, self.signed_text(what).as_bytes(), &mac).is_ok())
    }

    /// The anchor as a store keeps it (`<seq> <chain> <mac>`): authenticated with the
    /// audit key, so that whoever holds only the database cannot move it.
    pub fn to_anchor(&self, key: &hmac::Key) -> Vec<u8> {
        format!("{} {} {}", self.seq, self.chain, self.mac(key, ANCHOR)).into_bytes()
    }

    /// The anchor a store keeps, if it keeps one (the beginning if not), and its HMAC.
    pub fn of_anchor(stored: Option<Vec<u8>>) -> Result<(Self, Option<String>), StoreError> {
        let Some(anchor) = stored else {
            return Ok((Self::default(), None));
        };
        let text = String::from_utf8_lossy(&anchor);
        let mut parts = text.split(' ');
        let seq = parts.next().and_then(|seq| seq.parse().ok());
        let chain = parts.next().map(str::to_owned);
        let (Some(seq), Some(chain)) = (seq, chain) else {
            return Err(StoreError::Corrupt("the audit anchor".into()));
        };
        Ok((Self { seq, chain }, parts.next().map(str::to_owned)))
    }
}

/// What an anchor's HMAC says it is.
const ANCHOR: &str = "audit anchor";

/// The audit key a store chains with, given once the key file is loaded (after the store
/// is opened: loading the keys may read the store). Until then nothing audited is written.
#[derive(Clone, Default)]
pub struct ChainKey(Arc<OnceLock<hmac::Key>>);

impl ChainKey {
    /// Sets the key; a second call keeps the first.
    pub fn set(&self, key: hmac::Key) {
        let _ = self.0.set(key);
    }

    /// The key.
    pub fn get(&self) -> Result<&hmac::Key, StoreError> {
        self.0.get().ok_or(StoreError::NoAuditKey)
    }
}

/// The chain values of the entries a transaction wrote (those of `written`, [`WRITTEN`]'s
/// rows, after `head`), on from `head`. Entries of `written` at or before `head` are not
/// the transaction's own (written without a chain by someone else): they stay unchained,
/// for [`verify`] to report.
pub fn chained(
    key: &hmac::Key,
    head: &ChainLink,
    written: Vec<Vec<String>>,
) -> Result<Vec<ChainLink>, StoreError> {
    let mut own = Vec::new();
    for entry in written {
        let entry = AuditEntry::of_texts(entry)?;
        if entry.seq > head.seq {
            own.push(entry);
        }
    }
    chain_on(key, head, &mut own);
    Ok(own
        .into_iter()
        .map(|entry| ChainLink {
            seq: entry.seq,
            chain: entry.chain.unwrap_or_default(),
        })
        .collect())
}

/// Gives each of `entries` (after `head`, in `seq` order) its chain value, on from `head`.
pub fn chain_on(key: &hmac::Key, head: &ChainLink, entries: &mut [AuditEntry]) {
    let mut previous = head.chain.clone();
    for entry in entries {
        previous = link(key, &previous, entry);
        entry.chain = Some(previous.clone());
    }
}

/// What the gateway asks of its store about the audit trail.
#[async_trait]
pub trait AuditTrail: Send + Sync {
    /// Gives the store the audit key it chains with (once the key file is loaded).
    fn chain_with(&self, key: hmac::Key);

    /// The newest entry (its chain), or the beginning.
    async fn audit_head(&self) -> Result<ChainLink, StoreError>;

    /// Where the chain starts ([`ChainLink::default`]: at the first entry), and the HMAC
    /// stored with it.
    async fn audit_anchor(&self) -> Result<(ChainLink, Option<String>), StoreError>;

    /// Up to `limit` entries after `after`, in `seq` order.
    async fn audit_entries(&self, after: i64, limit: u32) -> Result<Vec<AuditEntry>, StoreError>;

    /// The end of the audit period: removes messages whose payload is erased and that have
    /// not changed since `before` (with their history), refusals, withdrawn or unused
    /// consents and audit entries from before then, but never the newest entry; the chain
    /// then starts after the last entry removed (its anchor, authenticated). One transaction.
    async fn prune(&self, before: time::OffsetDateTime) -> Result<Pruned, StoreError>;
}

/// What the end of the audit period removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Pruned {
    pub messages: u64,
    pub refusals: u64,
    pub consents: u64,
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

/// Something wrong with the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "problem")]
pub enum Break {
    /// Entries between `after` and `next` are missing.
    Removed { after: i64, next: i64 },
    /// The entry is not what was chained (changed, or moved from elsewhere).
    Changed { seq: i64 },
    /// An entry without a chain: no gateway wrote it.
    Unchained { seq: i64 },
    /// The anchor (where the chain starts after an audit period) was not set by a gateway.
    Anchor { seq: i64 },
    /// The trail ends before the exported head `seq`: its newest entries were removed.
    CutOff { exported: i64, found: i64 },
    /// The entry of the exported head holds another chain value.
    HeadChanged { seq: i64 },
    /// The exported head is not signed with the audit key.
    HeadForged,
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditReport {
    pub entries: u64,
    /// Where the chain starts (after entries removed at the end of the audit period).
    pub anchor: ChainLink,
    /// The newest entry.
    pub head: ChainLink,
    /// The exported head it was checked against, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exported: Option<ChainLink>,
    pub breaks: Vec<Break>,
}

/// An exported head to check the trail against: its link and its HMAC.
#[derive(Debug, Clone)]
pub struct SignedHead {
    pub link: ChainLink,
    pub mac: String,
}

/// Recomputes the whole chain, and compares its end with `exported` if given.
pub async fn verify(
    store: &dyn Store,
    key: &hmac::Key,
    exported: Option<&SignedHead>,
) -> Result<AuditReport, StoreError> {
    let (anchor, mac) = store.audit_anchor().await?;
    let mut report = AuditReport {
        entries: 0,
        head: anchor.clone(),
        anchor,
        exported: exported.map(|e| e.link.clone()),
        breaks: Vec::new(),
    };
    if report.anchor != ChainLink::default()
        && !mac.is_some_and(|mac| report.anchor.is_signed(key, ANCHOR, &mac))
    {
        report.breaks.push(Break::Anchor {
            seq: report.anchor.seq,
        });
    }
    let exported = match exported {
        Some(head) if !head.link.is_signed(key, super::head::HEAD, &head.mac) => {
            report.breaks.push(Break::HeadForged);
            None
        }
        other => other.map(|head| &head.link),
    };
    let mut previous = report.anchor.clone();
    loop {
        let entries = store.audit_entries(previous.seq, BATCH).await?;
        if entries.is_empty() {
            break;
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
                None => report.breaks.push(Break::Unchained { seq: entry.seq }),
                Some(stored) if *stored != link(key, &previous.chain, &entry) => {
                    report.breaks.push(Break::Changed { seq: entry.seq });
                }
                Some(_) => {}
            }
            if let Some(head) = exported.filter(|head| head.seq == entry.seq)
                && entry.chain.as_deref() != Some(head.chain.as_str())
            {
                report.breaks.push(Break::HeadChanged { seq: entry.seq });
            }
            // Go on from what is stored, so that one change is reported once.
            previous = ChainLink {
                seq: entry.seq,
                chain: entry.chain.unwrap_or_default(),
            };
            report.head = previous.clone();
        }
    }
    if let Some(head) = exported.filter(|head| head.seq > report.head.seq) {
        report.breaks.push(Break::CutOff {
            exported: head.seq,
            found: report.head.seq,
        });
    }
    Ok(report)
}
