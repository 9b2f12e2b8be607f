//! Bearer tokens for agencies' inboxes: the OAuth 2.0 client-credentials grant
//! (`client_secret_basic`) at the agency's token endpoint, cached until shortly before expiry.

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
}

/// Tokens by token endpoint and client.
#[derive(Default)]
pub struct Tokens {
    cache: Mutex<HashMap<(String, String), (String, Instant)>>,
}

const EARLY: Duration = Duration::from_secs(30);

impl Tokens {
    /// A valid token for `credentials`, fetched if none is cached.
    pub async fn get(
        &self,
        client: &reqwest::Client,
        credentials: &ClientCredentials,
    ) -> Result<String, TokenError> {
        let key = (credentials.token_url.clone(), credentials.client_id.clone());
        let mut cache = self.cache.lock().await;
        if let Some((token, until)) = cache.get(&key)
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let secret = std::env::var(&credentials.client_secret_env)
            .map_err(|_| TokenError::NoSecret(credentials.client_secret_env.clone()))?;
        let response = client
            .post(&credentials.token_url)
            .basic_auth(&credentials.client_id, Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
            .await
            .map_err(|_| TokenError::Unreachable)?;
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
        let key = (credentials.token_url.clone(), credentials.client_id.clone());
        self.cache.lock().await.remove(&key);
    }
}
