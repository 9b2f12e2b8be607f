//! The Fiks IO catalogue: the account an organisation receives a protocol's messages on, and
//! an account's public certificate, each kept for a while (`runtime.fiks_catalogue_cache_secs`).
//! What the catalogue answers is classified for the delivery that asked: no such account is
//! permanent, an outage transient, and a certificate that cannot be used is never sent to.

use super::cms::Recipient;
use crate::runtime::Outcome;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use uuid::Uuid;

/// The catalogue's path under the Fiks API.
const PATH: &str = "/fiks-io/katalog/api/v1";

/// Values kept for a while.
struct Kept<K, V> {
    keep: Duration,
    values: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K: std::hash::Hash + Eq, V: Clone> Kept<K, V> {
    fn new(keep: Duration) -> Self {
        Self {
            keep,
            values: Mutex::default(),
        }
    }

    /// The value of `key`, if kept and not too old.
    async fn get(&self, key: &K) -> Option<V> {
        match self.values.lock().await.get(key) {
            Some((value, until)) if Instant::now() < *until => Some(value.clone()),
            _ => None,
        }
    }

    async fn put(&self, key: K, value: V) {
        let until = Instant::now() + self.keep;
        self.values.lock().await.insert(key, (value, until));
    }
}

/// What the catalogue keeps: accounts by API, organisation and protocol, and certificates
/// by API and account.
pub struct Catalogue {
    accounts: Kept<(String, String), Uuid>,
    keys: Kept<(String, Uuid), Arc<Recipient>>,
}

impl Catalogue {
    /// A catalogue that keeps what it fetched for `keep`.
    pub fn new(keep: Duration) -> Self {
        Self {
            accounts: Kept::new(keep),
            keys: Kept::new(keep),
        }
    }

    /// The account of organisation `organisation_number` for `protocol` (a message type),
    /// asked with `request`'s authentication.
    pub async fn account(
        &self,
        api: &str,
        organisation_number: &str,
        protocol: &str,
        request: impl FnOnce(String) -> reqwest::RequestBuilder,
    ) -> Result<Uuid, Outcome> {
        let key = (api.to_owned(), format!("{organisation_number} {protocol}"));
        if let Some(account) = self.accounts.get(&key).await {
            return Ok(account);
        }
        let url = format!(
            "{}{PATH}/lookup?identifikator=ORG_NO.{organisation_number}&meldingProtokoll={protocol}&sikkerhetsniva=4",
            api.trim_end_matches('/'),
        );
        let body: serde_json::Value = fetch(request(url)).await?;
        let account = body["kontoId"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| Outcome::transient("Fiks IO catalogue: lookup without an account"))?;
        self.accounts.put(key, account).await;
        Ok(account)
    }

    /// The certificate of `account` (public in the catalogue).
    pub async fn recipient(
        &self,
        client: &reqwest::Client,
        api: &str,
        account: Uuid,
    ) -> Result<Arc<Recipient>, Outcome> {
        let key = (api.to_owned(), account);
        if let Some(recipient) = self.keys.get(&key).await {
            return Ok(recipient);
        }
        let url = format!(
            "{}{PATH}/kontoer/{account}/offentligNokkel",
            api.trim_end_matches('/')
        );
        let body: serde_json::Value = fetch(client.get(url)).await?;
        let recipient = body["nokkel"]
            .as_str()
            .ok_or(())
            .and_then(|pem| Recipient::from_pem(pem).map_err(|_| ()))
            .map(Arc::new)
            .map_err(|()| {
                Outcome::Permanent(
                    "Fiks IO catalogue: the receiving account's certificate cannot be used".into(),
                )
            })?;
        self.keys.put(key, recipient.clone()).await;
        Ok(recipient)
    }
}

/// The catalogue's JSON answer to `request`, or what its failure means.
async fn fetch(request: reqwest::RequestBuilder) -> Result<serde_json::Value, Outcome> {
    let response = request
        .send()
        .await
        .map_err(|_| Outcome::transient("Fiks IO catalogue unreachable"))?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(Outcome::Permanent(
            "Fiks IO catalogue: no such account".into(),
        ));
    }
    if !status.is_success() {
        let reason = format!("Fiks IO catalogue answered {}", status.as_u16());
        return Err(if status.is_client_error() && status.as_u16() != 429 {
            Outcome::Permanent(reason)
        } else {
            Outcome::transient(reason)
        });
    }
    response
        .json()
        .await
        .map_err(|_| Outcome::transient("Fiks IO catalogue: an answer that is not JSON"))
}
