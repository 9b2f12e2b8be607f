//! Development only: a stand-in for Maskinporten's signing key, an RSA key generated at
//! first run (never committed), whose JWKS a development `[[auth.issuers]]` entry trusts;
//! `gateway token --profile maskinporten` mints tokens shaped as Maskinporten's.

use super::DevKeyError;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use std::path::Path;

const KEY_FILE: &str = "maskinporten-key.pk8";

/// The stand-in's key pair.
pub struct DevMaskinporten {
    pair: KeyPair,
    /// The private key as PKCS#1 (what the JWT library signs with).
    pkcs1: Vec<u8>,
    kid: String,
}

impl DevMaskinporten {
    /// Reads the key in `dir`, generating it first if there is none.
    pub fn ensure(dir: &Path) -> Result<Self, DevKeyError> {
        let path = dir.join(KEY_FILE);
        let corrupt = || DevKeyError::Corrupt { path: path.clone() };
        if !path.exists() {
            let write = |source| DevKeyError::Write {
                path: path.clone(),
                source,
            };
            contract::plumbing::private::create_dir(dir).map_err(write)?;
            let pair = KeyPair::generate(KeySize::Rsa2048).map_err(|_| corrupt())?;
            let der =
                AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair).map_err(|_| corrupt())?;
            contract::plumbing::private::write(&path, der.as_ref()).map_err(write)?;
        }
        let pkcs8 = std::fs::read(&path).map_err(|source| DevKeyError::Read {
            path: path.clone(),
            source,
        })?;
        let pair = KeyPair::from_pkcs8(&pkcs8).map_err(|_| corrupt())?;
        let pkcs1 = pkcs1_of(&pkcs8).ok_or_else(corrupt)?.to_vec();
        let modulus = pair.public_key().modulus();
        let kid = format!(
            "dev-mp-{}",
            hex::encode(&modulus.big_endian_without_leading_zero()[..6])
        );
        Ok(Self { pair, pkcs1, kid })
    }

    /// The key set of the stand-in.
    pub fn jwks(&self) -> serde_json::Value {
        let public = self.pair.public_key();
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        serde_json::json!({ "keys": [{
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
            "n": b64(public.modulus().big_endian_without_leading_zero()),
            "e": b64(public.exponent().big_endian_without_leading_zero()),
        }]})
    }

    /// Writes [`Self::jwks`] to `path`.
    pub fn write_jwks(&self, path: &Path) -> Result<(), DevKeyError> {
        contract::plumbing::private::write(path, self.jwks().to_string().as_bytes()).map_err(
            |source| DevKeyError::Write {
                path: path.into(),
                source,
            },
        )
    }

    /// The claims of a token as Maskinporten issues it to the organisation `orgnr` with
    /// `scope`, valid for `ttl_secs`: `consumer` `0192:<orgnr>`, no `sub`, no `nbf`.
    pub fn claims(issuer: &str, orgnr: &str, scope: &str, ttl_secs: i64) -> serde_json::Value {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        serde_json::json!({
            "iss": issuer,
            "scope": scope,
            "consumer": { "authority": "iso6523-actorid-upis", "ID": format!("0192:{orgnr}") },
            "client_id": format!("dev-client-{orgnr}"),
            "token_type": "Bearer",
            "iat": now,
            "exp": now + ttl_secs,
            "jti": uuid::Uuid::new_v4().to_string(),
        })
    }

    /// Signs `claims` (made by [`Self::claims`], or changed by a test).
    pub fn sign(&self, claims: &serde_json::Value) -> Result<String, DevKeyError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_der(&self.pkcs1))
            .map_err(DevKeyError::Sign)
    }
}

/// The PKCS#1 `RSAPrivateKey` inside a PKCS#8 `PrivateKeyInfo` (RFC 5208: a SEQUENCE of
/// the version, the algorithm, and the key as an OCTET STRING).
fn pkcs1_of(pkcs8: &[u8]) -> Option<&[u8]> {
    /// The tag of a DER element, its content, and what follows it.
    fn element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = der.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            let (bytes, rest) = (rest.get(..n)?, rest.get(n..)?);
            (
                bytes.iter().fold(0, |len, b| len << 8 | usize::from(*b)),
                rest,
            )
        };
        Some((tag, rest.get(..len)?, rest.get(len..)?))
    }
    let (0x30, info, _) = element(pkcs8)? else {
        return None;
    };
    let (_, _, rest) = element(info)?;
    let (_, _, rest) = element(rest)?;
    match element(rest)? {
        (0x04, key, _) => Some(key),
        _ => None,
    }
}
