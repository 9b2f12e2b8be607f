//! Bearer tokens for agencies' inboxes, from the agency's token endpoint by the OAuth 2.0
//! client-credentials grant (`client_secret_basic`) or the JWT-bearer grant (RFC 7523,
//! Maskinporten), cached until shortly before expiry.

use super::assertion::{self, AssertionError};
use crate::runtime::Outcome;
use contract::directory::ClientCredentials;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("client secret variable {0} is not set")]
    NoSecret(String),
    #[error("token endpoint unreachable")]
    Unreachable,
    #[error("token endpoint answered {0}")]
    Refused(u16),
    #[error("token endpoint answered without access_token")]
    Malformed,
    #[error("the credentials name no grant")]
    NoGrant,
    #[error(transparent)]
    Assertion(#[from] AssertionError),
}

impl TokenError {
    /// What it means for the delivery that needed the token: a refusal (4xx: unknown
    /// client, a grant the endpoint does not accept) or a grant that cannot be made fails
    /// at once with its reason; an outage is retried.
    pub fn outcome(&self) -> Outcome {
        let reason = format!("no token: {self}");
        match self {
            Self::Unreachable | Self::Malformed => Outcome::transient(reason),
            Self::Refused(status) if *status >= 500 || *status == 429 => Outcome::transient(reason),
            _ => Outcome::Permanent(reason),
        }
    }
}

/// The JWT-bearer grant's `grant_type`, form-encoded (an assertion needs no encoding: it is
/// base64url and dots).
const JWT_BEARER: &str = "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer";

/// Tokens by token endpoint, client and scope.
#[derive(Default)]
pub struct Tokens {
    cache: Mutex<HashMap<CacheKey, (String, Instant)>>,
}

type CacheKey = (String, String, Option<String>);

fn cache_key(credentials: &ClientCredentials) -> CacheKey {
    (
        credentials.token_url.clone(),
        credentials.client_id.clone(),
        credentials.assertion.as_ref().map(|a| a.scope.clone()),
    )
}

const EARLY: Duration = Duration::from_secs(30);

impl Tokens {
    /// A valid token for `credentials`, fetched if none is cached.
    pub async fn get(
        &self,
        client: &reqwest::Client,
        credentials: &ClientCredentials,
    ) -> Result<String, TokenError> {
        let key = cache_key(credentials);
        let mut cache = self.cache.lock().await;
        if let Some((token, until)) = cache.get(&key)
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let request = client
            .post(&credentials.token_url)
            .header("content-type", "application/x-www-form-urlencoded");
        let request = match (&credentials.assertion, &credentials.client_secret_env) {
            (Some(grant), _) => {
                let assertion = assertion::sign(grant, &credentials.client_id)?;
                request.body(format!("grant_type={JWT_BEARER}&assertion={assertion}"))
            }
            (None, Some(variable)) => {
                let secret =
                    std::env::var(variable).map_err(|_| TokenError::NoSecret(variable.clone()))?;
                request
                    .basic_auth(&credentials.client_id, Some(secret))
                    .body("grant_type=client_credentials")
            }
            (None, None) => return Err(TokenError::NoGrant),
        };
        let response = request.send().await.map_err(|_| TokenError::Unreachable)?;
        if !response.status().is_success() {
            return Err(TokenError::Refused(response.status().as_u16()));
        }
        let body: serde_json::Value = response.json().await.map_err(|_| TokenError::Malformed)?;
        let token = body["access_token"]
            .as_str()
            .ok_or(TokenError::Malformed)?
            .to_owned();
        let lifetime = Duration::from_secs(body["expires_in"].as_u64().unwrap_or(60));
        cache.insert(
            key,
            (
                token.clone(),
                Instant::now() + lifetime.saturating_sub(EARLY),
            ),
        );
        Ok(token)
    }

    /// Forgets the token of `credentials` (after the inbox refused it).
    pub async fn forget(&self, credentials: &ClientCredentials) {
        self.cache.lock().await.remove(&cache_key(credentials));
    }
}
