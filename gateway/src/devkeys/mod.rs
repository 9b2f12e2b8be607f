//! Development signing key: generated at first run, never committed, never for production.
//!
//! `gateway serve` with `auth.dev_key_dir` set makes sure an Ed25519 key exists there and
//! writes its public half as the JWKS the gateway trusts; `gateway token` signs short-lived
//! tokens with it for any organisation of the directory.

mod maskinporten;

pub use maskinporten::DevMaskinporten;

use crate::authenticate::Claims;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use std::path::{Path, PathBuf};

/// Key id of the development key.
pub const DEV_KID: &str = "dev-1";
const KEY_FILE: &str = "signing-key.pk8";

/// A development key that cannot be made or read.
#[derive(Debug, thiserror::Error)]
pub enum DevKeyError {
    #[error("cannot write development key material in {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read development key {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("development key {path} is not a usable PKCS#8 key")]
    Corrupt { path: PathBuf },
    #[error("cannot sign a token: {0}")]
    Sign(jsonwebtoken::errors::Error),
}

/// The development key pair.
pub struct DevKey {
    pkcs8: Vec<u8>,
    public: Vec<u8>,
}

impl DevKey {
    /// Reads the key in `dir`, generating it first if there is none.
    pub fn ensure(dir: &Path) -> Result<Self, DevKeyError> {
        let path = dir.join(KEY_FILE);
        if !path.exists() {
            let write = |source| DevKeyError::Write {
                path: path.clone(),
                source,
            };
            contract::plumbing::private::create_dir(dir).map_err(write)?;
            let doc = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                .map_err(|_| DevKeyError::Corrupt { path: path.clone() })?;
            contract::plumbing::private::write(&path, doc.as_ref()).map_err(write)?;
            tracing::info!(path = %path.display(), "generated development signing key");
        }
        let pkcs8 = std::fs::read(&path).map_err(|source| DevKeyError::Read {
            path: path.clone(),
            source,
        })?;
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8)
            .map_err(|_| DevKeyError::Corrupt { path: path.clone() })?;
        let public = pair.public_key().as_ref().to_vec();
        Ok(Self { pkcs8, public })
    }

    /// The public key as a JWKS document.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({
            "keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "alg": "EdDSA",
                "use": "sig",
                "kid": DEV_KID,
                "x": URL_SAFE_NO_PAD.encode(&self.public),
            }]
        })
    }

    /// Writes the JWKS to `path`.
    pub fn write_jwks(&self, path: &Path) -> Result<(), DevKeyError> {
        let write = |source| DevKeyError::Write {
            path: path.into(),
            source,
        };
        contract::plumbing::private::write(path, self.jwks().to_string().as_bytes()).map_err(write)
    }

    /// Signs a token for `org` valid for `ttl_secs`, with `scope` if given.
    pub fn token(
        &self,
        issuer: &str,
        audience: &str,
        org: &str,
        ttl_secs: i64,
        scope: Option<String>,
    ) -> Result<String, DevKeyError> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        self.sign(&Claims {
            iss: issuer.into(),
            aud: audience.into(),
            sub: format!("dev-user@{org}"),
            exp: now + ttl_secs,
            nbf: now,
            iat: now,
            org: org.into(),
            scope,
        })
    }

    /// Signs arbitrary claims (tests use it for expired, foreign and malformed tokens).
    pub fn sign(&self, claims: &Claims) -> Result<String, DevKeyError> {
        self.sign_with(claims, |_| {})
    }

    /// Signs arbitrary claims under a header `edit` changes (tests: `crit`, `typ`).
    pub fn sign_with(
        &self,
        claims: &Claims,
        edit: impl FnOnce(&mut Header),
    ) -> Result<String, DevKeyError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(DEV_KID.into());
        edit(&mut header);
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ed_der(&self.pkcs8))
            .map_err(DevKeyError::Sign)
    }
}
