//! Authenticate: a bearer JWT, checked against the keys of a JWKS, names the sending agency.
//!
//! The algorithm is pinned, and issuer, audience, expiry and not-before are all required
//! and checked. The token's `org` claim must be an agency of the directory; that agency is
//! the sender, whatever the body says.

mod keys;

pub use keys::{KeySet, KeySource, KeysError};

use crate::directory::{Agency, Directory};
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
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    pub agency: Agency,
    /// The token's subject: the person (or system) acting for the agency.
    pub subject: String,
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
    #[error("token organisation is not in the agency directory")]
    UnknownOrganisation,
}

/// Checks bearer tokens.
pub struct Authenticator {
    algorithm: Algorithm,
    validation: Validation,
    keys: KeySet,
    directory: Arc<Directory>,
}

impl Authenticator {
    /// An authenticator for tokens from `issuer` to `audience`, signed with `algorithm`.
    pub fn new(
        issuer: &str,
        audience: &str,
        algorithm: Algorithm,
        keys: KeySet,
        directory: Arc<Directory>,
    ) -> Self {
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 30;
        Self {
            algorithm,
            validation,
            keys,
            directory,
        }
    }

    /// Authenticates the value of an `Authorization` header.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Caller, AuthError> {
        let token = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(AuthError::Missing)?;
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::Malformed)?;
        if header.alg != self.algorithm {
            return Err(AuthError::Algorithm);
        }
        let kid = header.kid.ok_or(AuthError::UnknownKey)?;
        let key = self.keys.get(&kid).await.ok_or(AuthError::UnknownKey)?;
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &self.validation)
            .map_err(|e| classify(e.kind()))?
            .claims;
        let agency = self
            .directory
            .get(&claims.org)
            .ok_or(AuthError::UnknownOrganisation)?
            .clone();
        Ok(Caller {
            agency,
            subject: claims.sub,
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
