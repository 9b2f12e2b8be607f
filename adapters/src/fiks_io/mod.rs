//! The `fiks_io` transport: sends each bekymringsmelding over KS Fiks IO, the channel
//! Norwegian barnevern systems receive on, with the protocol `no.ks.fiks.bekymringsmelding`
//! (`docs/delivery.md`). One attempt: a Maskinporten token for the Fiks scope
//! ([`crate::credentials`]), the receiving account (from the directory, or looked up in the
//! [`catalogue`]) and its certificate, the KS JSON in an [`asice`] container enveloped
//! ([`cms`]) to that certificate, and a multipart `POST {api}/fiks-io/api/v1/send` with the
//! integration's headers. The message's `klientMeldingId` is derived from the gateway's
//! message id, so that a repeat is recognisable; Fiks's own id is noted in the ledger, and
//! the answers ([`replies`]) are matched by it.

pub mod asice;
mod catalogue;
pub mod cms;
pub mod replies;

use crate::credentials::Tokens;
use crate::runtime::{Adapter, Outcome};
use catalogue::Catalogue;
use contract::directory::{Delivery, Directory, FiksIo, Transport};
use contract::message::{MessageId, Parcel};
use contract::render::KS_TYPE;
use contract::render::document;
use lapin::BasicProperties;
use reqwest::StatusCode;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// The name of the KS JSON in the container, as the protocol has it.
pub const DOCUMENT_NAME: &str = "bekymringsmelding.json";

/// How long Fiks IO keeps a message its recipient has not taken (its `ttl`).
const TTL: Duration = Duration::from_secs(14 * 86_400);

/// The namespace of `klientMeldingId`s: the id of a message's Fiks copy is the v5 UUID of
/// the gateway's message id in it.
const NAMESPACE: Uuid = Uuid::from_u128(0x5f1c_0e6a_4c3b_4d7e_9a51_2b8e_7f30_c9d4);

/// The `klientMeldingId` of `message_id`'s Fiks copy.
pub fn client_message_id(message_id: &MessageId) -> Uuid {
    Uuid::new_v5(&NAMESPACE, message_id.0.as_bytes())
}

/// Sends to agencies' Fiks IO accounts.
pub struct Fiks {
    directory: Arc<Directory>,
    client: reqwest::Client,
    tokens: Tokens,
    catalogue: Catalogue,
}

/// Starts the Fiks IO adapter and the consumers of its accounts' answers.
pub fn start(start: &crate::Start, tasks: &mut tokio::task::JoinSet<()>) {
    let runtime = &start.config.runtime;
    let fiks = Arc::new(Fiks {
        directory: start.directory.clone(),
        client: reqwest::Client::builder()
            .timeout(Duration::from_millis(runtime.inbox_timeout_ms))
            .user_agent("referral-gateway-adapter")
            .build()
            .expect("an HTTP client builds"),
        tokens: Tokens::default(),
        catalogue: Catalogue::new(Duration::from_secs(runtime.fiks_catalogue_cache_secs)),
    });
    replies::start(&fiks, start, tasks);
    tasks.spawn(crate::runtime::consume(
        fiks,
        start.settings.clone(),
        start.cancel.clone(),
    ));
}

impl Fiks {
    /// The Fiks IO delivery of `recipient`.
    fn fiks_of(&self, recipient: &str) -> Option<&FiksIo> {
        match self.directory.get(recipient)?.delivery.as_ref()? {
            Delivery::FiksIo(fiks) => Some(fiks),
            _ => None,
        }
    }

    /// `request` with `token` and the integration's headers.
    fn authenticated(
        request: reqwest::RequestBuilder,
        fiks: &FiksIo,
        token: &str,
        password: &str,
    ) -> reqwest::RequestBuilder {
        request
            .bearer_auth(token)
            .header("IntegrasjonId", fiks.integration_id.to_string())
            .header("IntegrasjonPassord", password)
    }

    /// The receiving account of `fiks`, looked up with `token` and `password` if the
    /// directory names its organisation.
    async fn account(&self, fiks: &FiksIo, token: &str, password: &str) -> Result<Uuid, Outcome> {
        match (&fiks.account, &fiks.organisation_number) {
            (Some(account), _) => Ok(*account),
            (None, Some(organisation)) => {
                let request =
                    |url: String| Self::authenticated(self.client.get(url), fiks, token, password);
                self.catalogue
                    .account(&fiks.api_url, organisation, KS_TYPE, request)
                    .await
            }
            (None, None) => Err(Outcome::Permanent(
                "the directory names no Fiks IO account".into(),
            )),
        }
    }

    /// The account the catalogue names for `fiks`'s agency, looked up (to check who
    /// answers).
    async fn looked_up(&self, fiks: &FiksIo) -> Option<Uuid> {
        let password = std::env::var(&fiks.integration_password_env).ok()?;
        let token = self
            .tokens
            .get(&self.client, &fiks.credentials)
            .await
            .ok()?;
        self.account(fiks, &token, &password).await.ok()
    }

    /// One attempt at sending `container` for `message_id` to `fiks`'s agency: a 401 to a
    /// cached token is tried once more with a fresh one.
    async fn send(
        &self,
        fiks: &FiksIo,
        (message_id, traceparent): (&MessageId, &str),
        container: &[u8],
    ) -> Outcome {
        let Ok(password) = std::env::var(&fiks.integration_password_env) else {
            return Outcome::Permanent(format!(
                "integration password variable {} is not set",
                fiks.integration_password_env
            ));
        };
        let mut fresh = false;
        loop {
            let token = match self.tokens.get(&self.client, &fiks.credentials).await {
                Ok(token) => token,
                Err(error) => return error.outcome(),
            };
            let account = match self.account(fiks, &token, &password).await {
                Ok(account) => account,
                Err(outcome) => return outcome,
            };
            let recipient = match self
                .catalogue
                .recipient(&self.client, &fiks.api_url, account)
                .await
            {
                Ok(recipient) => recipient,
                Err(outcome) => return outcome,
            };
            let Ok(data) = cms::encrypt(&recipient, container) else {
                return Outcome::transient("encryption failed");
            };
            let metadata = serde_json::json!({
                "avsenderKontoId": fiks.sender_account,
                "mottakerKontoId": account,
                "meldingType": KS_TYPE,
                "ttl": TTL.as_millis() as u64,
                "headere": { "klientMeldingId": client_message_id(message_id) },
            });
            let (content_type, body) = multipart(&metadata, &data);
            let url = format!("{}/fiks-io/api/v1/send", fiks.api_url.trim_end_matches('/'));
            let request = Self::authenticated(self.client.post(url), fiks, &token, &password)
                .header(contract::message::HEADER_TRACEPARENT, traceparent)
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body);
            let response = match request.send().await {
                Err(error) if error.is_connect() => {
                    return Outcome::transient("Fiks IO unreachable");
                }
                Err(error) if error.is_timeout() => {
                    return Outcome::Unknown("Fiks IO: timeout".into());
                }
                Err(_) => return Outcome::Unknown("Fiks IO: transport error".into()),
                Ok(r) => r,
            };
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && !fresh {
                self.tokens.forget(&fiks.credentials).await;
                fresh = true;
                continue;
            }
            if !status.is_success() {
                return classify(status);
            }
            let sent: serde_json::Value = response.json().await.unwrap_or_default();
            return match sent["meldingId"].as_str() {
                Some(id) => Outcome::Delivered {
                    to: None,
                    remote_id: Some(id.to_owned()),
                },
                None => Outcome::Unknown("Fiks IO accepted it without a message id".into()),
            };
        }
    }
}

/// What Fiks IO's refusal means: a request it will never take (an unknown account, a
/// protocol the account does not take, a token or integration it refuses) fails at once,
/// with its status as the reason; an outage is retried.
pub fn classify(status: StatusCode) -> Outcome {
    crate::runtime::refused("Fiks IO", status, None)
}

/// A `multipart/form-data` body of the `metadata` and `data` parts, and its content type.
fn multipart(metadata: &serde_json::Value, data: &[u8]) -> (String, Vec<u8>) {
    let boundary = format!("fiks-{}", Uuid::new_v4().simple());
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\
         Content-Type: application/json\r\n\r\n{metadata}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"data\"; filename=\"{}\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n",
        Uuid::new_v4()
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl Adapter for Fiks {
    fn kind(&self) -> Transport {
        Transport::FiksIo
    }

    async fn ready(&self) {}

    async fn deliver(&self, msg: &Parcel, properties: &BasicProperties) -> Outcome {
        let recipient = &msg.recipient().0;
        let (Some(fiks), Some(agency)) = (self.fiks_of(recipient), self.directory.get(recipient))
        else {
            return Outcome::Permanent("recipient has no Fiks IO account".into());
        };
        let document = match document(msg, agency.agency_type) {
            Ok(document) => document,
            Err(wrong) => return Outcome::Permanent(wrong.to_string()),
        };
        if document.type_name != KS_TYPE {
            return Outcome::Permanent("only bekymringsmeldinger travel over Fiks IO".into());
        }
        let container = asice::container(&[asice::Document {
            name: DOCUMENT_NAME,
            media_type: "application/json",
            bytes: &document.body,
        }]);
        let trace = crate::runtime::next_hop(msg, properties);
        self.send(fiks, (&msg.message_id(), &trace), &container)
            .await
    }

    async fn notify_withdrawn(&self, _: &MessageId, _: &str) -> Outcome {
        Outcome::Permanent(
            "the Fiks IO bekymringsmelding protocol has no withdrawal notice: tell the service by other means"
                .into(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fiks_answers_are_classified() {
        for permanent in [400, 401, 403, 404, 409, 422] {
            let status = StatusCode::from_u16(permanent).unwrap();
            assert!(
                matches!(classify(status), Outcome::Permanent(_)),
                "{permanent}"
            );
        }
        for transient in [408, 429, 500, 502, 503] {
            let status = StatusCode::from_u16(transient).unwrap();
            assert!(
                matches!(classify(status), Outcome::Transient { .. }),
                "{transient}"
            );
        }
    }

    #[test]
    fn a_message_has_one_client_message_id() {
        let id = MessageId(Uuid::new_v4());
        assert_eq!(client_message_id(&id), client_message_id(&id));
        assert_ne!(
            client_message_id(&id),
            client_message_id(&MessageId(Uuid::new_v4()))
        );
    }
}
