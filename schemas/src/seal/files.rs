//! Key files: a JWK a file each, the private ones the owner's only (0600).

use super::jwk::{Curve, PrivateJwk, PublicJwk};
use std::path::{Path, PathBuf};

/// A key file that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("cannot read or write key file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("key file {path} is not a usable JWK")]
    Invalid { path: PathBuf },
    #[error("key file {path} is open to others than its owner (mode {mode:o}): chmod 600 it")]
    OpenToOthers { path: PathBuf, mode: u32 },
}

fn json(path: &Path) -> Result<serde_json::Value, KeyFileError> {
    let text = std::fs::read(path).map_err(|source| KeyFileError::Io {
        path: path.into(),
        source,
    })?;
    serde_json::from_slice(&text).map_err(|_| KeyFileError::Invalid { path: path.into() })
}

/// The private JWK of `path`, which only its owner may read.
pub fn read_private(path: &Path) -> Result<PrivateJwk, KeyFileError> {
    let io = |source| KeyFileError::Io {
        path: path.into(),
        source,
    };
    if let Some(mode) = crate::plumbing::private::open_to_others(path).map_err(io)? {
        return Err(KeyFileError::OpenToOthers {
            path: path.into(),
            mode,
        });
    }
    PrivateJwk::from_json(&json(path)?).map_err(|_| KeyFileError::Invalid { path: path.into() })
}

/// The public JWK of `path`.
pub fn read_public(path: &Path) -> Result<PublicJwk, KeyFileError> {
    PublicJwk::from_json(&json(path)?).map_err(|_| KeyFileError::Invalid { path: path.into() })
}

/// A fresh X25519 key pair named `kid`: its private half written to `private` (0600), its
/// public half to `public`.
pub fn generate_pair(private: &Path, public: &Path, kid: &str) -> Result<(), KeyFileError> {
    let pair = PrivateJwk::generate(Curve::X25519, Some(kid.into()));
    let write = |path: &Path, value: serde_json::Value| {
        crate::plumbing::private::write(path, value.to_string().as_bytes()).map_err(|source| {
            KeyFileError::Io {
                path: path.into(),
                source,
            }
        })
    };
    write(private, pair.to_json())?;
    write(public, pair.public.to_json())
}
