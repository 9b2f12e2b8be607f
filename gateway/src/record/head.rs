//! The audit trail's head, exported: at an interval, the newest entry's `seq` and chain
//! value, signed (HMAC-SHA256 with the audit key), appended to a file the database's holder
//! does not control, written to the log and set as a metric. Removing the newest entries
//! leaves no trace inside the database; `gateway audit verify --head <file>` compares the
//! trail with the latest export and finds it.

use super::{ChainLink, SignedHead, Store, StoreError};
use aws_lc_rs::hmac;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What an exported head's HMAC says it is.
pub const HEAD: &str = "audit head";

/// Where and how often the head is exported.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadConfig {
    /// The file heads are appended to (one JSON line each), on storage the database's
    /// holder cannot write; none: the log and the metric only.
    #[serde(default)]
    pub head_file: Option<PathBuf>,
    /// Time between two exports (only a head that moved is exported).
    #[serde(default = "default_head_secs")]
    pub head_interval_secs: u64,
}

impl Default for HeadConfig {
    fn default() -> Self {
        Self {
            head_file: None,
            head_interval_secs: default_head_secs(),
        }
    }
}

fn default_head_secs() -> u64 {
    60
}

/// One exported head: a line of the head file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exported {
    pub at: String,
    pub seq: i64,
    pub chain: String,
    pub mac: String,
}

/// Why the head could not be exported or read back.
#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write or read the audit head file {at}: {source}")]
    File { at: String, source: std::io::Error },
    #[error("the audit head file {at} holds no readable head")]
    Unreadable { at: String },
}

/// Exports the head at an interval.
pub struct HeadExport {
    pub store: Arc<dyn Store>,
    pub key: hmac::Key,
    pub config: HeadConfig,
    pub clock: Arc<contract::plumbing::clock::Clock>,
    /// Called with each exported head's `seq` (the metric).
    pub exported: Box<dyn Fn(i64) + Send + Sync>,
}

impl HeadExport {
    /// Exports the head if it moved since `last`; the head exported (or `last`).
    pub async fn export(&self, last: Option<ChainLink>) -> Result<Option<ChainLink>, HeadError> {
        let head = self.store.audit_head().await?;
        if last.as_ref() == Some(&head) || head == ChainLink::default() {
            return Ok(last);
        }
        let line = Exported {
            at: super::timestamp(self.clock.now()),
            seq: head.seq,
            chain: head.chain.clone(),
            mac: head.mac(&self.key, HEAD),
        };
        if let Some(path) = &self.config.head_file {
            append(path, &line)?;
        }
        tracing::info!(
            seq = line.seq,
            chain = %line.chain,
            mac = %line.mac,
            "audit head"
        );
        (self.exported)(head.seq);
        Ok(Some(head))
    }

    /// Exports until cancelled, and once more then.
    pub async fn run(self, cancel: CancellationToken) {
        let mut last = None;
        let interval = Duration::from_secs(self.config.head_interval_secs.max(1));
        loop {
            match self.export(last.clone()).await {
                Ok(head) => last = head,
                Err(error) => tracing::warn!(%error, "audit head not exported"),
            }
            if cancel.is_cancelled() {
                return;
            }
            tokio::select! {
                () = cancel.cancelled() => {}
                () = tokio::time::sleep(interval) => {}
            }
        }
    }
}

fn file_error(path: &Path) -> impl FnOnce(std::io::Error) -> HeadError {
    let at = path.display().to_string();
    move |source| HeadError::File { at, source }
}

/// Appends `line` to the head file (created if missing), and syncs it.
fn append(path: &Path, line: &Exported) -> Result<(), HeadError> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(file_error(path))?;
    let mut text = serde_json::to_string(line).expect("a head serialises");
    text.push('\n');
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_data())
        .map_err(file_error(path))
}

/// The latest head exported to `path`.
pub fn latest(path: &Path) -> Result<SignedHead, HeadError> {
    let text = std::fs::read_to_string(path).map_err(file_error(path))?;
    let line: Exported = text
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .and_then(|line| serde_json::from_str(line).ok())
        .ok_or_else(|| HeadError::Unreadable {
            at: path.display().to_string(),
        })?;
    Ok(SignedHead {
        link: ChainLink {
            seq: line.seq,
            chain: line.chain,
        },
        mac: line.mac,
    })
}
