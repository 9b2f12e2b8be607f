//! The HTTP inbox adapter: POSTs each message to the recipient agency's inbox API (the
//! police contact's, the SSPF/SIG coordinator's; `schemas/inbox.openapi.yaml`). 2xx is
//! delivered; 408, 429, 5xx and network failures are transient (honouring `Retry-After`);
//! any other answer is permanent.

use crate::runtime::{Adapter, Outcome};
use gateway::directory::{AdapterKind, Delivery, Directory};
use gateway::routed::RoutedMessage;
use lapin::BasicProperties;
use reqwest::StatusCode;
use std::sync::Arc;
use std::time::Duration;

/// Delivers to agencies' HTTP inboxes.
pub struct Inbox {
    kind: AdapterKind,
    directory: Arc<Directory>,
    client: reqwest::Client,
}

impl Inbox {
    /// An adapter of `kind` (politikontakt or sspf) with requests timing out after `timeout`.
    pub fn new(kind: AdapterKind, directory: Arc<Directory>, timeout: Duration) -> Self {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent("referral-gateway-adapter")
            .build()
            .expect("an HTTP client builds");
        Self {
            kind,
            directory,
            client,
        }
    }

    fn inbox_url(&self, recipient: &str) -> Option<&str> {
        match self.directory.get(recipient)?.delivery.as_ref()? {
            Delivery::Politikontakt { inbox_url } | Delivery::Sspf { inbox_url } => Some(inbox_url),
            Delivery::Barnevern { .. } => None,
        }
    }

    async fn post(&self, url: String, message_id: &str, body: &serde_json::Value) -> Outcome {
        let response = self
            .client
            .post(url)
            .header("Idempotency-Key", message_id)
            .json(body)
            .send()
            .await;
        match response {
            Err(error) => Outcome::transient(format!("inbox unreachable: {}", kind_of(&error))),
            Ok(r) => classify(r.status(), retry_after(r.headers())),
        }
    }
}

impl Adapter for Inbox {
    fn kind(&self) -> AdapterKind {
        self.kind
    }

    async fn ready(&self) {}

    async fn deliver(&self, msg: &RoutedMessage, _: &BasicProperties) -> Outcome {
        let Some(url) = self.inbox_url(&msg.recipient.0) else {
            return Outcome::Permanent("recipient has no inbox".into());
        };
        let body = serde_json::to_value(msg).expect("a routed message serialises");
        self.post(url.to_owned(), &msg.message_id.to_string(), &body)
            .await
    }

    async fn notify_withdrawn(&self, message_id: &str, recipient: &str) -> Outcome {
        let Some(url) = self.inbox_url(recipient) else {
            return Outcome::Permanent("recipient has no inbox".into());
        };
        let body = serde_json::json!({ "messageId": message_id, "consentWithdrawn": true });
        let key = format!("{message_id}:withdrawn");
        self.post(
            format!("{}/withdrawals", url.trim_end_matches('/')),
            &key,
            &body,
        )
        .await
    }
}

/// What an inbox's answer means.
pub fn classify(status: StatusCode, retry_after: Option<Duration>) -> Outcome {
    if status.is_success() {
        return Outcome::Delivered;
    }
    let reason = format!("inbox answered {}", status.as_u16());
    if status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
    {
        Outcome::Transient {
            reason,
            retry_after,
        }
    } else {
        Outcome::Permanent(reason)
    }
}

fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let secs = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()?;
    Some(Duration::from_secs(secs))
}

/// A value-free description of a transport failure (reqwest's texts carry the URL).
fn kind_of(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "timeout"
    } else if error.is_connect() {
        "connection refused or failed"
    } else {
        "transport error"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_classified() {
        assert_eq!(classify(StatusCode::OK, None), Outcome::Delivered);
        assert_eq!(classify(StatusCode::ACCEPTED, None), Outcome::Delivered);
        for transient in [408, 429, 500, 502, 503] {
            let status = StatusCode::from_u16(transient).unwrap();
            assert!(
                matches!(classify(status, None), Outcome::Transient { .. }),
                "{transient}"
            );
        }
        for permanent in [400, 401, 403, 404, 409, 422] {
            let status = StatusCode::from_u16(permanent).unwrap();
            assert!(
                matches!(classify(status, None), Outcome::Permanent(_)),
                "{permanent}"
            );
        }
        assert_eq!(
            classify(
                StatusCode::SERVICE_UNAVAILABLE,
                Some(Duration::from_secs(7))
            ),
            Outcome::Transient {
                reason: "inbox answered 503".into(),
                retry_after: Some(Duration::from_secs(7))
            }
        );
    }
}
