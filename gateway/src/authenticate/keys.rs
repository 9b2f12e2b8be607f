//! The verification keys: a JWKS from a file or a URL, cached, refreshed on an unknown key id.

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::JwkSet;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, RwLock};

/// Where a key set is read from.
#[derive(Debug, Clone)]
pub enum KeySource {
    File(PathBuf),
    Url(String),
}

impl KeySource {
    /// A URL when `location` starts with `http://` or `https://`, a path otherwise.
    pub fn parse(location: &str) -> Self {
        if location.starts_with("https://") || location.starts_with("http://") {
            Self::Url(location.into())
        } else {
            Self::File(location.into())
        }
    }
}

/// A key set that cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("cannot read key set {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot fetch key set {url}: {source}")]
    Fetch { url: String, source: reqwest::Error },
    #[error("key set is not a JWKS: {0}")]
    Parse(serde_json::Error),
    #[error("key {kid} of the key set is not usable: {reason}")]
    Key { kid: String, reason: String },
}

/// Cached decoding keys by key id.
pub struct KeySet {
    source: KeySource,
    http: reqwest::Client,
    min_refresh: Duration,
    keys: RwLock<HashMap<String, DecodingKey>>,
    last_fetch: Mutex<Option<Instant>>,
}

impl KeySet {
    /// Loads the key set once; later unknown key ids trigger a refresh at most every `min_refresh`.
    pub async fn load(source: KeySource, min_refresh: Duration) -> Result<Self, KeysError> {
        let set = Self::empty(source, min_refresh);
        set.refresh().await?;
        Ok(set)
    }

    /// A key set with no keys yet.
    fn empty(source: KeySource, min_refresh: Duration) -> Self {
        Self {
            source,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("HTTP client builds"),
            min_refresh,
            keys: RwLock::new(HashMap::new()),
            last_fetch: Mutex::new(None),
        }
    }

    /// A key set loaded as [`KeySet::load`] does, or, where it cannot be had now, one loaded
    /// when the first token names a key (a clear warning now; the other issuers go on).
    pub async fn load_or_later(source: KeySource, min_refresh: Duration, issuer: &str) -> Self {
        let set = Self::empty(source, min_refresh);
        if let Err(error) = set.refresh().await {
            tracing::warn!(issuer, %error, "the issuer's keys cannot be had now: its tokens are refused until they can");
        }
        set
    }

    /// Fetches the set again every `every` until cancelled, so that an issuer's rotation is
    /// picked up even before a token names the new key.
    pub async fn refresh_every(
        &self,
        every: Duration,
        cancel: tokio_util::sync::CancellationToken,
    ) {
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            if let Err(error) = self.refresh().await {
                tracing::warn!(%error, "scheduled key set refresh failed");
            }
        }
    }

    /// The key with id `kid`, refreshing the set once if it is not known.
    pub async fn get(&self, kid: &str) -> Option<DecodingKey> {
        if let Some(key) = self.keys.read().await.get(kid) {
            return Some(key.clone());
        }
        let mut last = self.last_fetch.lock().await;
        if last.is_some_and(|at| at.elapsed() < self.min_refresh) {
            return None;
        }
        *last = Some(Instant::now());
        drop(last);
        if let Err(error) = self.refresh().await {
            tracing::warn!(%error, "key set refresh failed");
        }
        self.keys.read().await.get(kid).cloned()
    }

    async fn refresh(&self) -> Result<(), KeysError> {
        let bytes = match &self.source {
            KeySource::File(path) => std::fs::read(path).map_err(|source| KeysError::Read {
                path: path.clone(),
                source,
            })?,
            KeySource::Url(url) => {
                let fetch = |source| KeysError::Fetch {
                    url: url.clone(),
                    source,
                };
                self.http
                    .get(url)
                    .send()
                    .await
                    .and_then(|r| r.error_for_status())
                    .map_err(fetch)?
                    .bytes()
                    .await
                    .map_err(fetch)?
                    .to_vec()
            }
        };
        let set: JwkSet = serde_json::from_slice(&bytes).map_err(KeysError::Parse)?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            let key = DecodingKey::from_jwk(jwk).map_err(|e| KeysError::Key {
                kid: kid.clone(),
                reason: e.to_string(),
            })?;
            keys.insert(kid, key);
        }
        tracing::info!(keys = keys.len(), "key set loaded");
        *self.keys.write().await = keys;
        Ok(())
    }
}
