//! The `inbox` transport: POSTs each message, rendered by its kind's renderer, to the
//! recipient agency's HTTPS inbox (the police contact's, the SSPF/SIG coordinator's;
//! `schemas/inbox.openapi.yaml`). 2xx is
//! delivered; 408, 429, 5xx and network failures are transient (honouring `Retry-After`);
//! any other answer is permanent. Requests carry a bearer token from the agency's
//! client-credentials grant ([`crate::credentials`]) when the directory names one. Inboxes are reached
//! over HTTPS trusting the system's CAs and `runtime.inbox_ca`; an agency that asks for a
//! client certificate gets the one the directory names (mutual TLS).

use crate::credentials::Tokens;
use crate::runtime::{Adapter, Outcome};
use contract::directory::{AgencyId, ClientCredentials, Delivery, Directory, Transport};
use contract::message::{MessageId, Parcel};
use contract::render::{Document, document};
use lapin::BasicProperties;
use reqwest::StatusCode;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// Delivers to agencies' HTTP inboxes.
pub struct Inbox {
    directory: Arc<Directory>,
    /// The client of agencies without a client certificate.
    client: reqwest::Client,
    /// The clients of agencies that ask for a client certificate.
    with_certificate: HashMap<AgencyId, reqwest::Client>,
    tokens: Tokens,
}

/// A TLS file of the inbox adapter that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InboxTlsError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the inbox of agency {agency} is not an https:// URL (runtime.inbox_plain_http allows that, for development only)"
    )]
    PlainHttp { agency: AgencyId },
    #[error("{path} holds no usable PEM certificate or key: {source}")]
    Pem {
        path: PathBuf,
        source: reqwest::Error,
    },
}

/// Starts the inbox adapter.
pub fn start(
    start: &crate::Start,
    tasks: &mut tokio::task::JoinSet<()>,
) -> Result<(), InboxTlsError> {
    let runtime = &start.config.runtime;
    let timeout = Duration::from_millis(runtime.inbox_timeout_ms);
    let inbox = Arc::new(Inbox::new(
        start.directory.clone(),
        timeout,
        runtime.inbox_ca.as_deref(),
        runtime.inbox_plain_http,
    )?);
    tasks.spawn(crate::runtime::consume(
        inbox,
        start.settings.clone(),
        start.cancel.clone(),
    ));
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>, InboxTlsError> {
    std::fs::read(path).map_err(|source| InboxTlsError::Read {
        path: path.into(),
        source,
    })
}

impl Inbox {
    /// An adapter whose requests time out after `timeout`, trusting the CAs of `ca` (a PEM
    /// bundle) besides the system's, with a client of its own for every agency of the
    /// directory that asks for a client certificate. Every inbox must be `https://` unless
    /// `plain_http` (development).
    pub fn new(
        directory: Arc<Directory>,
        timeout: Duration,
        ca: Option<&Path>,
        plain_http: bool,
    ) -> Result<Self, InboxTlsError> {
        let roots = match ca {
            Some(path) => {
                reqwest::Certificate::from_pem_bundle(&read(path)?).map_err(|source| {
                    InboxTlsError::Pem {
                        path: path.into(),
                        source,
                    }
                })?
            }
            None => Vec::new(),
        };
        let builder = || {
            reqwest::Client::builder()
                .timeout(timeout)
                .user_agent("referral-gateway-adapter")
                .https_only(!plain_http)
                .tls_certs_merge(roots.clone())
        };
        let mut with_certificate = HashMap::new();
        for agency in directory.agencies() {
            let Some(Delivery::Inbox {
                inbox_url,
                client_certificate,
                ..
            }) = &agency.delivery
            else {
                continue;
            };
            if !plain_http && !inbox_url.starts_with("https://") {
                return Err(InboxTlsError::PlainHttp {
                    agency: agency.id.clone(),
                });
            }
            if let Some(certificate) = client_certificate {
                let pem = [read(&certificate.cert)?, read(&certificate.key)?].concat();
                let identity =
                    reqwest::Identity::from_pem(&pem).map_err(|source| InboxTlsError::Pem {
                        path: certificate.cert.clone(),
                        source,
                    })?;
                let client = builder()
                    .identity(identity)
                    .build()
                    .expect("an HTTP client builds");
                with_certificate.insert(agency.id.clone(), client);
            }
        }
        Ok(Self {
            directory,
            client: builder().build().expect("an HTTP client builds"),
            with_certificate,
            tokens: Tokens::default(),
        })
    }

    fn inbox(&self, recipient: &str) -> Option<(&str, Option<&ClientCredentials>)> {
        match self.directory.get(recipient)?.delivery.as_ref()? {
            Delivery::Inbox {
                inbox_url,
                credentials,
                ..
            } => Some((inbox_url, credentials.as_ref())),
            _ => None,
        }
    }

    /// The client for `recipient`'s inbox.
    fn client(&self, recipient: &str) -> &reqwest::Client {
        self.with_certificate
            .get(&AgencyId(recipient.into()))
            .unwrap_or(&self.client)
    }

    /// POSTs `document` to `recipient`'s inbox at `url`, in the trace `traceparent`; a 401
    /// to a cached token is tried once more with a fresh one.
    async fn post(
        &self,
        recipient: &str,
        url: &str,
        credentials: Option<&ClientCredentials>,
        (key, traceparent): (&str, &str),
        document: &Document,
    ) -> Outcome {
        let client = self.client(recipient);
        let mut fresh = false;
        loop {
            let mut request = client
                .post(url)
                .header("Idempotency-Key", key)
                .header(contract::message::HEADER_TRACEPARENT, traceparent)
                .header(reqwest::header::CONTENT_TYPE, document.content_type)
                .header("Document-Type", document.type_name.as_str())
                .body(document.body.clone());
            if let Some(credentials) = credentials {
                match self.tokens.get(client, credentials).await {
                    Ok(token) => request = request.bearer_auth(token),
                    Err(error) => return error.outcome(),
                }
            }
            let response = match request.send().await {
                // Not connected: the inbox has nothing. Anything later: it may have it.
                Err(error) if error.is_connect() => {
                    return Outcome::transient(format!("inbox unreachable: {}", kind_of(&error)));
                }
                Err(error) => {
                    return Outcome::Unknown(format!("inbox: {}", kind_of(&error)));
                }
                Ok(r) => r,
            };
            if let (StatusCode::UNAUTHORIZED, Some(credentials), false) =
                (response.status(), credentials, fresh)
            {
                self.tokens.forget(credentials).await;
                fresh = true;
                continue;
            }
            return classify(response.status(), retry_after(response.headers()));
        }
    }
}

impl Adapter for Inbox {
    fn kind(&self) -> Transport {
        Transport::Inbox
    }

    async fn ready(&self) {}

    async fn deliver(&self, msg: &Parcel, properties: &BasicProperties) -> Outcome {
        let Some((url, credentials)) = self.inbox(&msg.recipient().0) else {
            return Outcome::Permanent("recipient has no inbox".into());
        };
        let recipient = self
            .directory
            .get(&msg.recipient().0)
            .map(|a| a.agency_type);
        let document = match recipient.map(|t| document(msg, t)) {
            Some(Ok(document)) => document,
            Some(Err(wrong)) => return Outcome::Permanent(wrong.to_string()),
            None => return Outcome::Permanent("recipient is not in the directory".into()),
        };
        let key = msg.message_id().to_string();
        let trace = crate::runtime::next_hop(msg, properties);
        self.post(
            &msg.recipient().0,
            url,
            credentials,
            (&key, &trace),
            &document,
        )
        .await
    }

    async fn notify_withdrawn(&self, message_id: &MessageId, recipient: &str) -> Outcome {
        let Some((url, credentials)) = self.inbox(recipient) else {
            return Outcome::Permanent("recipient has no inbox".into());
        };
        let notice = Document {
            type_name: crate::queue::WITHDRAWN_TYPE.into(),
            content_type: "application/json",
            body: serde_json::json!({ "messageId": message_id, "consentWithdrawn": true })
                .to_string()
                .into_bytes(),
        };
        let key = format!("{message_id}:withdrawn");
        let url = format!("{}/withdrawals", url.trim_end_matches('/'));
        let trace = contract::message::traceparent(&message_id.0.simple().to_string());
        self.post(recipient, &url, credentials, (&key, &trace), &notice)
            .await
    }
}

/// What an inbox's answer means.
pub fn classify(status: StatusCode, retry_after: Option<Duration>) -> Outcome {
    if status.is_success() {
        return Outcome::DELIVERED;
    }
    crate::runtime::refused("inbox", status, retry_after)
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
        assert_eq!(classify(StatusCode::OK, None), Outcome::DELIVERED);
        assert_eq!(classify(StatusCode::ACCEPTED, None), Outcome::DELIVERED);
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
