//! Authenticate: a bearer JWT, checked against the keys of a JWKS, names the sending agency.
//!
//! The algorithm is pinned, and issuer, audience, expiry and not-before are all required
//! and checked; a `crit` header is refused (the gateway understands no extension, RFC 7515
//! § 4.1.11), `iat` may not lie in the future nor `exp` too far after it, and `typ` is
//! checked when configured (RFC 8725, RFC 9068). The token's `org` claim must be an agency
//! of the directory; that agency is the sender, whatever the body says.

mod keys;

pub use keys::{KeySet, KeySource, KeysError};

use contract::directory::{Agency, Directory};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::collections::HashMap;
use std::sync::Arc;

/// Claims the gateway reads from a token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    /// Agency id of the sending organisation.
    pub org: String,
    /// Space-separated scopes (RFC 8693 § 4.2): a data protection officer's token carries
    /// the configured `auth.dpo_scope`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub agency: Agency,
    /// The token's subject: the person (or system) acting for the agency.
    pub subject: String,
    /// The token's scopes.
    pub scopes: Vec<String>,
}

impl Caller {
    /// Whether the token carries `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

/// Why a request is not authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no bearer token")]
    Missing,
    #[error("token is larger than the gateway takes")]
    TooLarge,
    #[error("token is not a well-formed JWT")]
    Malformed,
    #[error("token algorithm is not the accepted one")]
    Algorithm,
    #[error("token names no known signing key")]
    UnknownKey,
    #[error("token signature is not valid")]
    Signature,
    #[error("token has expired")]
    Expired,
    #[error("token is not valid yet")]
    NotYetValid,
    #[error("token issuer is not accepted")]
    Issuer,
    #[error("token audience is not this gateway")]
    Audience,
    #[error("token lacks a required claim")]
    MissingClaim,
    #[error("token names critical header extensions the gateway does not understand")]
    Critical,
    #[error("token type is not the accepted one")]
    Type,
    #[error("token was issued in the future")]
    IssuedInFuture,
    #[error("token lives longer than the gateway accepts")]
    TooLong,
    #[error("token organisation is not in the agency directory")]
    UnknownOrganisation,
}

/// The largest token taken: an access token with its claims and a signature is 1-2 KiB.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;

/// Seconds of clock skew allowed between the issuer and the gateway.
const LEEWAY_SECS: i64 = 30;

/// What the gateway accepts of a token beyond its signature.
#[derive(Debug, Clone)]
pub struct TokenRules {
    pub issuer: String,
    pub audience: String,
    pub algorithm: Algorithm,
    /// Longest `exp - iat`.
    pub max_lifetime_secs: i64,
    /// The `typ` the header must name, if any.
    pub typ: Option<String>,
}

/// Checks bearer tokens.
pub struct Authenticator {
    rules: TokenRules,
    validation: Validation,
    keys: KeySet,
    directory: Arc<Directory>,
    /// Tokens whose header, signature and claims were checked, by the SHA-256 of the whole
    /// token: a client that sends one token with many requests pays the signature check
    /// once. The times (`exp`, `nbf`, `iat`) are checked again at every use, and the key
    /// must still be in the key set.
    verified: std::sync::Mutex<HashMap<[u8; 32], Verified>>,
}

/// A token checked once: the key it was signed with and its claims.
struct Verified {
    kid: String,
    claims: Claims,
}

/// Verified tokens remembered at most; past it, the expired ones are forgotten, then all.
const VERIFIED_MAX: usize = 4096;

impl Authenticator {
    /// An authenticator for tokens that follow `rules`, signed by a key of `keys`.
    pub fn new(rules: TokenRules, keys: KeySet, directory: Arc<Directory>) -> Self {
        let mut validation = Validation::new(rules.algorithm);
        validation.set_issuer(&[&rules.issuer]);
        validation.set_audience(&[&rules.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS as u64;
        Self {
            rules,
            validation,
            keys,
            directory,
            verified: std::sync::Mutex::default(),
        }
    }

    /// Authenticates the value of an `Authorization` header (the scheme's name is
    /// case-insensitive, RFC 9110 § 11.1).
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Caller, AuthError> {
        // A token seen before is known by its hash; a changed byte (a forged signature, an
        // edited claim) is another token and checked from the start.
        let token = authorization
            .and_then(|h| h.trim_start().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Missing)?;
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::TooLarge);
        }
        let hash: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        let known = self
            .verified
            .lock()
            .expect("verified tokens")
            .get(&hash)
            .map(|v| (v.kid.clone(), v.claims.clone()));
        let claims = match known {
            Some((kid, claims)) => {
                self.keys.get(&kid).await.ok_or(AuthError::UnknownKey)?;
                check_times(&claims)?;
                claims
            }
            None => {
                let (kid, claims) = self.verify(token).await?;
                self.remember(hash, kid, claims.clone());
                claims
            }
        };
        let agency = self
            .directory
            .get(&claims.org)
            .ok_or(AuthError::UnknownOrganisation)?
            .clone();
        Ok(Caller {
            agency,
            subject: claims.sub,
            scopes: claims
                .scope
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        })
    }
}

impl Authenticator {
    /// Checks a token not seen before: header, signature, claims; its key id and claims.
    async fn verify(&self, token: &str) -> Result<(String, Claims), AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        if header.alg != self.rules.algorithm {
            return Err(AuthError::Algorithm);
        }
        if header.crit.is_some() {
            return Err(AuthError::Critical);
        }
        if let Some(wanted) = &self.rules.typ {
            let typ = header.typ.as_deref().unwrap_or("");
            let typ = typ
                .get(..12)
                .filter(|p| p.eq_ignore_ascii_case("application/"))
                .map_or(typ, |_| &typ[12..]);
            if !typ.eq_ignore_ascii_case(wanted) {
                return Err(AuthError::Type);
            }
        }
        let kid = header.kid.ok_or(AuthError::UnknownKey)?;
        let key = self.keys.get(&kid).await.ok_or(AuthError::UnknownKey)?;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &self.validation)
            .map_err(|e| classify(e.kind()))?
            .claims;
        check_times(&claims)?;
        if claims.exp.saturating_sub(claims.iat) > self.rules.max_lifetime_secs {
            return Err(AuthError::TooLong);
        }
        Ok((kid, claims))
    }

    fn remember(&self, hash: [u8; 32], kid: String, claims: Claims) {
        let mut verified = self.verified.lock().expect("verified tokens");
        if verified.len() >= VERIFIED_MAX {
            verified.retain(|_, v| check_times(&v.claims).is_ok());
            if verified.len() >= VERIFIED_MAX {
                verified.clear();
            }
        }
        verified.insert(hash, Verified { kid, claims });
    }
}

/// The checks of a token's times that hold only for a while: not expired, valid already,
/// not issued in the future (each with the leeway).
fn check_times(claims: &Claims) -> Result<(), AuthError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    if claims.exp < now - LEEWAY_SECS {
        return Err(AuthError::Expired);
    }
    if claims.nbf > now + LEEWAY_SECS {
        return Err(AuthError::NotYetValid);
    }
    if claims.iat > now + LEEWAY_SECS {
        return Err(AuthError::IssuedInFuture);
    }
    Ok(())
}

fn classify(kind: &ErrorKind) -> AuthError {
    match kind {
        ErrorKind::InvalidSignature => AuthError::Signature,
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidIssuer => AuthError::Issuer,
        ErrorKind::InvalidAudience => AuthError::Audience,
        ErrorKind::InvalidAlgorithm => AuthError::Algorithm,
        ErrorKind::MissingRequiredClaim(_) => AuthError::MissingClaim,
        _ => AuthError::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devkeys::DevKey;
    use std::path::Path;
    use std::time::Duration;

    const ISSUER: &str = "https://idp.test.invalid";
    const AUDIENCE: &str = "referral-gateway";

    async fn authenticator() -> (Authenticator, DevKey) {
        let dir = std::env::temp_dir().join(format!("gw-auth-{}", uuid::Uuid::new_v4()));
        let key = DevKey::ensure(&dir).unwrap();
        let jwks = dir.join("jwks.json");
        key.write_jwks(&jwks).unwrap();
        let keys = KeySet::load(KeySource::File(jwks), Duration::from_secs(60))
            .await
            .unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let directory = Directory::load(&repo.join("ops/config/directory.dev.toml")).unwrap();
        let rules = TokenRules {
            issuer: ISSUER.into(),
            audience: AUDIENCE.into(),
            algorithm: Algorithm::EdDSA,
            max_lifetime_secs: 3600,
            typ: None,
        };
        (Authenticator::new(rules, keys, Arc::new(directory)), key)
    }

    fn bearer(token: &str) -> String {
        format!("Bearer {token}")
    }

    #[tokio::test]
    async fn a_token_is_verified_once_and_its_times_and_key_checked_at_every_use() {
        let (auth, key) = authenticator().await;
        let token = key
            .token(ISSUER, AUDIENCE, "no-oslo-hasle-skole", 600, None)
            .unwrap();
        for _ in 0..3 {
            let caller = auth.authenticate(Some(&bearer(&token))).await.unwrap();
            assert_eq!(caller.agency.id.0, "no-oslo-hasle-skole");
        }
        assert_eq!(auth.verified.lock().unwrap().len(), 1);

        // A changed signature is another token: checked from the start, refused.
        let at = token.rfind('.').unwrap() + 5;
        let flipped = if &token[at..=at] == "A" { "B" } else { "A" };
        let forged = format!("{}{flipped}{}", &token[..at], &token[at + 1..]);
        assert_eq!(
            auth.authenticate(Some(&bearer(&forged))).await.unwrap_err(),
            AuthError::Signature
        );

        // A remembered token that has expired since, or whose key left the key set, is
        // refused.
        let hash: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        let (kid, claims) = {
            let verified = auth.verified.lock().unwrap();
            (verified[&hash].kid.clone(), verified[&hash].claims.clone())
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let expired = Claims {
            exp: now - LEEWAY_SECS - 1,
            ..claims.clone()
        };
        auth.remember(hash, kid, expired);
        assert_eq!(
            auth.authenticate(Some(&bearer(&token))).await.unwrap_err(),
            AuthError::Expired
        );
        auth.remember(hash, "a-key-no-longer-there".into(), claims);
        assert_eq!(
            auth.authenticate(Some(&bearer(&token))).await.unwrap_err(),
            AuthError::UnknownKey
        );
    }
}
