//! The key ring and its file.
//!
//! ```toml
//! current = "kek-20261124T101500-3f2a"   # the KEK new data keys are wrapped by
//! subject = "<base64 of 32 bytes>"       # key of the subject hashes (never rotated)
//! audit = "<base64 of 32 bytes>"         # key of the audit chain (never rotated)
//! [keks]
//! "kek-20261124T101500-3f2a" = "<base64 of 32 bytes>"
//! ```

use crate::consent::SubjectKey;
use aws_lc_rs::aead::{AES_256_GCM, LessSafeKey, UnboundKey};
use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The environment variable that may hold the whole key file instead of a file.
pub const KEYS_ENV: &str = "GATEWAY_KEYRING";

/// Where the keys come from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// The key file (mode 0600). Ignored when `GATEWAY_KEYRING` holds the keys.
    pub file: PathBuf,
    /// Development only: create the key file with fresh keys if it does not exist. Never
    /// set in production, where a missing key file must stop the gateway.
    #[serde(default)]
    pub dev_generate: bool,
}

/// Why the keys cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error(
        "key file {path} does not exist: create it with `gateway keys init` (and back it up apart from the database)"
    )]
    Missing { path: PathBuf },
    #[error("key file {path} is open to other users (mode {mode:o}): run `chmod 600 {path}`")]
    OpenToOthers { path: PathBuf, mode: u32 },
    #[error("cannot read or write key file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key file {source_name} is invalid: {reason}")]
    Invalid { source_name: String, reason: String },
    #[error("key file {path} exists already")]
    Exists { path: PathBuf },
    #[error("no key {key_id:?} in the key ring (was it removed while still in use?)")]
    UnknownKey { key_id: String },
    #[error("an encrypted value does not decrypt with its key (tampered, or the wrong key)")]
    Undecryptable,
}

/// The key file as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    current: String,
    subject: String,
    audit: String,
    keks: BTreeMap<String, String>,
}

/// The gateway's keys, loaded.
#[derive(Clone)]
pub struct KeyRing {
    current: String,
    keks: BTreeMap<String, KekBytes>,
    subject: [u8; 32],
    audit: [u8; 32],
}

#[derive(Clone)]
struct KekBytes([u8; 32]);

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("current", &self.current)
            .field("keks", &self.keks.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// 32 random bytes.
pub(crate) fn random_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    aws_lc_rs::rand::fill(&mut key).expect("the system has randomness");
    key
}

fn new_key_id() -> String {
    let now = time::OffsetDateTime::now_utc();
    let stamp = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    format!("kek-{stamp}-{}", &hex::encode(random_key())[..4])
}

impl KeyRing {
    /// Fresh keys: one KEK, a subject key (`subject`, if given: an earlier installation's)
    /// and an audit key.
    pub fn generate(subject: Option<[u8; 32]>) -> Self {
        let id = new_key_id();
        Self {
            keks: BTreeMap::from([(id.clone(), KekBytes(random_key()))]),
            current: id,
            subject: subject.unwrap_or_else(random_key),
            audit: random_key(),
        }
    }

    /// Loads the keys `config` names: from `GATEWAY_KEYRING` if set, else from the key file,
    /// which must exist (or, with `dev_generate`, is created, adopting `subject`: the
    /// subject key an earlier version kept in the database) and be the owner's only.
    pub fn load(config: &KeysConfig, subject: Option<[u8; 32]>) -> Result<Self, KeysError> {
        if let Ok(text) = std::env::var(KEYS_ENV) {
            return Self::parse(&text, KEYS_ENV);
        }
        if config.dev_generate && !config.file.exists() {
            Self::generate(subject).create(&config.file)?;
            tracing::warn!(path = %config.file.display(), "generated development keys: not for production");
        }
        Self::read(&config.file)
    }

    /// Reads the key file at `path`, refusing one that is missing or open to others.
    pub fn read(path: &Path) -> Result<Self, KeysError> {
        let io = |source| KeysError::Io {
            path: path.into(),
            source,
        };
        match contract::plumbing::private::open_to_others(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(KeysError::Missing { path: path.into() });
            }
            Err(e) => return Err(io(e)),
            Ok(Some(mode)) => {
                return Err(KeysError::OpenToOthers {
                    path: path.into(),
                    mode,
                });
            }
            Ok(None) => {}
        }
        let text = std::fs::read_to_string(path).map_err(io)?;
        Self::parse(&text, &path.display().to_string())
    }

    fn parse(text: &str, source_name: &str) -> Result<Self, KeysError> {
        let invalid = |reason: String| KeysError::Invalid {
            source_name: source_name.into(),
            reason,
        };
        let file: KeyFile = toml::from_str(text).map_err(|e| invalid(e.message().into()))?;
        let decode = |name: &str, value: &str| -> Result<[u8; 32], KeysError> {
            STANDARD
                .decode(value.trim())
                .ok()
                .and_then(|b| <[u8; 32]>::try_from(b).ok())
                .ok_or_else(|| invalid(format!("{name} is not 32 bytes in base64")))
        };
        let mut keks = BTreeMap::new();
        for (id, value) in &file.keks {
            keks.insert(id.clone(), KekBytes(decode(id, value)?));
        }
        if !keks.contains_key(&file.current) {
            return Err(invalid(format!(
                "current key {:?} is not among keks",
                file.current
            )));
        }
        Ok(Self {
            current: file.current,
            keks,
            subject: decode("subject", &file.subject)?,
            audit: decode("audit", &file.audit)?,
        })
    }

    fn to_file(&self) -> String {
        let file = KeyFile {
            current: self.current.clone(),
            subject: STANDARD.encode(self.subject),
            audit: STANDARD.encode(self.audit),
            keks: self
                .keks
                .iter()
                .map(|(id, k)| (id.clone(), STANDARD.encode(k.0)))
                .collect(),
        };
        format!(
            "# Referral gateway keys. Owner-only (0600); back up apart from the database.\n{}",
            toml::to_string(&file).expect("a key file serialises")
        )
    }

    /// Writes a new key file at `path` (0600); refuses to overwrite one.
    pub fn create(&self, path: &Path) -> Result<(), KeysError> {
        if path.exists() {
            return Err(KeysError::Exists { path: path.into() });
        }
        self.save(path)
    }

    /// Replaces the key file at `path` atomically (0600).
    pub fn save(&self, path: &Path) -> Result<(), KeysError> {
        contract::plumbing::private::write(path, self.to_file().as_bytes()).map_err(|source| {
            KeysError::Io {
                path: path.into(),
                source,
            }
        })
    }

    /// Adds a new KEK and makes it current; returns its id. The others stay, so that what
    /// they wrap stays readable until it is re-wrapped.
    pub fn rotate(&mut self) -> String {
        let id = new_key_id();
        self.keks.insert(id.clone(), KekBytes(random_key()));
        self.current = id.clone();
        id
    }

    /// Drops the KEKs not in `in_use` (and not current, nor `keep`); returns their ids.
    pub fn prune(&mut self, in_use: &[String], keep: &str) -> Vec<String> {
        let (current, keep) = (self.current.clone(), keep.to_owned());
        let dropped: Vec<String> = self
            .keks
            .keys()
            .filter(|id| **id != current && **id != keep && !in_use.contains(id))
            .cloned()
            .collect();
        for id in &dropped {
            self.keks.remove(id);
        }
        dropped
    }

    /// The id of the KEK new data keys are wrapped by.
    pub fn current(&self) -> &str {
        &self.current
    }

    /// Every KEK's id.
    pub fn key_ids(&self) -> Vec<String> {
        self.keks.keys().cloned().collect()
    }

    pub(crate) fn kek(&self, id: &str) -> Result<LessSafeKey, KeysError> {
        let bytes = self
            .keks
            .get(id)
            .ok_or_else(|| KeysError::UnknownKey { key_id: id.into() })?;
        Ok(LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &bytes.0).expect("32 bytes make an AES-256 key"),
        ))
    }

    /// Whether the subject key is `secret`.
    pub fn subject_is(&self, secret: &[u8]) -> bool {
        self.subject.as_slice() == secret
    }

    /// The key of the subject hashes (consents, and the disclosure index of messages).
    pub fn subject_key(&self) -> SubjectKey {
        SubjectKey::new(&self.subject)
    }

    /// The key of the audit chain.
    pub fn audit_key(&self) -> hmac::Key {
        hmac::Key::new(hmac::HMAC_SHA256, &self.audit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn dir() -> PathBuf {
        std::env::temp_dir().join(format!("gw-keys-{}", uuid::Uuid::new_v4()))
    }

    #[test]
    fn a_key_file_round_trips_and_is_the_owners_only() {
        let path = dir().join("keys.toml");
        let ring = KeyRing::generate(None);
        ring.create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let read = KeyRing::read(&path).unwrap();
        assert_eq!(read.current(), ring.current());
        assert_eq!(read.subject_key().hash("x"), ring.subject_key().hash("x"));
        assert!(matches!(ring.create(&path), Err(KeysError::Exists { .. })));
    }

    #[test]
    fn a_missing_or_open_key_file_is_refused_with_what_to_do() {
        let path = dir().join("keys.toml");
        let missing = KeyRing::read(&path).unwrap_err();
        assert!(matches!(missing, KeysError::Missing { .. }));
        assert!(missing.to_string().contains("gateway keys init"));
        KeyRing::generate(None).create(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let open = KeyRing::read(&path).unwrap_err();
        assert!(matches!(open, KeysError::OpenToOthers { mode: 0o644, .. }));
        assert!(open.to_string().contains("chmod 600"));
    }

    #[test]
    fn rotation_keeps_old_keys_until_pruned() {
        let mut ring = KeyRing::generate(None);
        let first = ring.current().to_owned();
        let second = ring.rotate();
        assert_ne!(first, second);
        assert_eq!(ring.key_ids().len(), 2);
        assert!(ring.prune(&[], &first).is_empty(), "kept on request");
        assert!(
            ring.prune(std::slice::from_ref(&first), "").is_empty(),
            "kept while in use"
        );
        assert_eq!(ring.prune(&[], ""), vec![first]);
        assert_eq!(ring.key_ids(), vec![second]);
    }
}
