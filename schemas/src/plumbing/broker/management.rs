//! RabbitMQ's management HTTP API, for what AMQP cannot do: set the queues' policies, and
//! read a queue's arguments and consumers (the migration from argument-based queues).

use crate::topology::Policy;
use serde::Deserialize;

/// Why the management API did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum ManagementError {
    #[error("broker.management_url is not a URL")]
    Url,
    #[error("the broker's management API at {at}: {source}")]
    Http { at: String, source: reqwest::Error },
    #[error("the broker's management API refused {what}: {status}")]
    Refused {
        what: String,
        status: reqwest::StatusCode,
    },
}

/// A queue as the management API shows it.
#[derive(Debug, Clone, Deserialize)]
pub struct QueueInfo {
    #[serde(default)]
    pub arguments: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub consumers: u64,
    /// Messages in it, ready and unacknowledged.
    #[serde(default)]
    pub messages: u64,
    /// The settings of the policy that applies to it, if any.
    #[serde(default)]
    pub effective_policy_definition: serde_json::Value,
}

/// The management API of one virtual host.
#[derive(Debug, Clone)]
pub struct Management {
    base: reqwest::Url,
    user: String,
    password: String,
    vhost: String,
    http: reqwest::Client,
}

/// `text` as one path segment.
fn segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The virtual host an AMQP URL names (`/` if none).
pub fn vhost_of(amqp_url: &str) -> String {
    let path = amqp_url
        .split_once("://")
        .map_or("", |(_, rest)| rest)
        .split_once('/')
        .map_or("", |(_, path)| path);
    let path = path.split(['?', '#']).next().unwrap_or_default();
    if path.is_empty() {
        return "/".into();
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Management {
    /// The API at `url` (`http://user:password@host:15672`) for the virtual host `vhost`.
    pub fn new(url: &str, vhost: &str) -> Result<Self, ManagementError> {
        let mut base = reqwest::Url::parse(url).map_err(|_| ManagementError::Url)?;
        let user = base.username().to_owned();
        let password = base.password().unwrap_or_default().to_owned();
        base.set_username("").map_err(|()| ManagementError::Url)?;
        base.set_password(None).map_err(|()| ManagementError::Url)?;
        Ok(Self {
            base,
            user,
            password,
            vhost: vhost.into(),
            http: reqwest::Client::new(),
        })
    }

    fn url(&self, kind: &str, name: &str) -> String {
        let base = self.base.as_str().trim_end_matches('/');
        format!(
            "{base}/api/{kind}/{}/{}",
            segment(&self.vhost),
            segment(name)
        )
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        what: String,
    ) -> Result<reqwest::Response, ManagementError> {
        let response = request
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await
            .map_err(|source| ManagementError::Http {
                at: self.base.to_string(),
                source,
            })?;
        match response.status() {
            s if s.is_success() || s == reqwest::StatusCode::NOT_FOUND => Ok(response),
            status => Err(ManagementError::Refused { what, status }),
        }
    }

    /// Sets each of `policies` (a policy of the same name is replaced: its settings change
    /// on the running queue).
    pub async fn apply(&self, policies: &[Policy]) -> Result<(), ManagementError> {
        for policy in policies {
            let body = serde_json::json!({
                "pattern": policy.pattern,
                "definition": policy.definition,
                "priority": 0,
                "apply-to": "queues",
            });
            let request = self
                .http
                .put(self.url("policies", &policy.name))
                .json(&body);
            self.send(request, format!("policy {}", policy.name))
                .await?;
        }
        Ok(())
    }

    /// Removes each of `policies`, if it is there.
    pub async fn remove(&self, policies: &[Policy]) -> Result<(), ManagementError> {
        for policy in policies {
            let request = self.http.delete(self.url("policies", &policy.name));
            self.send(request, format!("removing policy {}", policy.name))
                .await?;
        }
        Ok(())
    }

    /// The queue `name`, if it exists.
    pub async fn queue(&self, name: &str) -> Result<Option<QueueInfo>, ManagementError> {
        let request = self.http.get(self.url("queues", name));
        let response = self.send(request, format!("queue {name}")).await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        response
            .json()
            .await
            .map(Some)
            .map_err(|source| ManagementError::Http {
                at: self.base.to_string(),
                source,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_vhost_is_read_from_the_amqp_url() {
        assert_eq!(vhost_of("amqp://guest:guest@127.0.0.1:5672/%2f"), "/");
        assert_eq!(vhost_of("amqps://a@h:5671/referrals"), "referrals");
        assert_eq!(vhost_of("amqp://h"), "/");
        assert_eq!(segment("/"), "%2F");
    }
}
