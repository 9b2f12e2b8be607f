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
}

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
        }
    }

    /// Authenticates the value of an `Authorization` header (the scheme's name is
    /// case-insensitive, RFC 9110 § 11.1).
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Caller, AuthError> {
        let token = authorization
            .and_then(|h| h.trim_start().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim())
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Missing)?;
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
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        if claims.iat > now + LEEWAY_SECS {
            return Err(AuthError::IssuedInFuture);
        }
        if claims.exp.saturating_sub(claims.iat) > self.rules.max_lifetime_secs {
            return Err(AuthError::TooLong);
        }
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
