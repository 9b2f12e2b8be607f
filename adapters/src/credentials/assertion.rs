//! The JWT-bearer grant's assertion (RFC 7523 § 2.1) as Maskinporten takes it: RS256, the
//! business certificate's chain in `x5c`, and only the claims it allows (`aud`, `iss`,
//! `scope`, `iat`, `exp` at most 120 s later, `jti`). See
//! <https://docs.digdir.no/docs/Maskinporten/maskinporten_protocol_jwtgrant>.

use base64::Engine;
use contract::directory::Assertion;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use serde::Serialize;
use std::path::PathBuf;

/// How long an assertion is valid: Maskinporten refuses more than 120 seconds.
const LIFETIME_SECS: i64 = 120;

/// Why no assertion could be made.
#[derive(Debug, thiserror::Error)]
pub enum AssertionError {
    #[error("cannot read the grant's certificate chain {0}")]
    Certificate(PathBuf),
    #[error("cannot read the grant's RSA key {0}")]
    Key(PathBuf),
    #[error("cannot sign the grant: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
}

#[derive(Serialize)]
struct Claims<'a> {
    aud: &'a str,
    iss: &'a str,
    scope: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
}

/// A fresh assertion for client `client_id`, signed with `grant`'s key.
pub fn sign(grant: &Assertion, client_id: &str) -> Result<String, AssertionError> {
    let chain = CertificateDer::pem_file_iter(&grant.certificate)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .ok()
        .filter(|chain| !chain.is_empty())
        .ok_or_else(|| AssertionError::Certificate(grant.certificate.clone()))?;
    let key = std::fs::read(&grant.key)
        .ok()
        .and_then(|pem| EncodingKey::from_rsa_pem(&pem).ok())
        .ok_or_else(|| AssertionError::Key(grant.key.clone()))?;
    let mut header = Header::new(Algorithm::RS256);
    header.x5c = Some(
        chain
            .iter()
            .map(|c| base64::engine::general_purpose::STANDARD.encode(c))
            .collect(),
    );
    let iat = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = Claims {
        aud: &grant.audience,
        iss: client_id,
        scope: &grant.scope,
        iat,
        exp: iat + LIFETIME_SECS,
        jti: uuid::Uuid::new_v4().to_string(),
    };
    Ok(jsonwebtoken::encode(&header, &claims, &key)?)
}
