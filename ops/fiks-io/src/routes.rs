//! The stand-in's HTTP API: the token endpoint, sending, and the catalogue.

use crate::envelope;
use crate::{Answer, FAILED, PROTOCOL, RECEIVED, Received, State, lock};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State as Shared};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use der::Decode;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

/// The stand-in's routes.
pub fn router(state: Arc<State>) -> axum::Router {
    axum::Router::new()
        .route("/token", post(token))
        .route("/fiks-io/api/v1/send", post(send))
        .route("/fiks-io/katalog/api/v1/lookup", get(lookup))
        .route(
            "/fiks-io/katalog/api/v1/kontoer/{account}/offentligNokkel",
            get(public_key),
        )
        .with_state(state)
}

fn refuse(status: StatusCode, reason: &str) -> Response {
    (status, Json(json!({ "error": reason }))).into_response()
}

/// The JWT-bearer grant: an RS256 assertion whose signature the certificate in its `x5c`
/// verifies, for this audience, with a `ks:fiks` scope; a token valid for the configured
/// lifetime.
async fn token(Shared(state): Shared<Arc<State>>, body: String) -> Response {
    let form: HashMap<&str, String> = body
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k, v.replace("%3A", ":")))
        .collect();
    let refused = || refuse(StatusCode::BAD_REQUEST, "invalid_grant");
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return refused();
    }
    let assertion = form.get("assertion").cloned().unwrap_or_default();
    let Some(key) = signer(&assertion) else {
        return refused();
    };
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[&state.config.audience]);
    let Ok(grant) = jsonwebtoken::decode::<serde_json::Value>(&assertion, &key, &validation) else {
        return refused();
    };
    if !grant.claims["scope"]
        .as_str()
        .is_some_and(|s| s.split(' ').any(|s| s.starts_with("ks:fiks")))
    {
        return refused();
    }
    *lock(&state.grants) += 1;
    let token = format!("fiks-standin-{}", Uuid::new_v4().simple());
    let lifetime = state.config.token_lifetime;
    lock(&state.tokens).insert(token.clone(), Instant::now() + lifetime);
    if let Err(error) = state.grant(&token).await {
        tracing::warn!(%error, "cannot let the integration in to its answers");
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable");
    }
    Json(json!({ "access_token": token, "token_type": "Bearer", "expires_in": lifetime.as_secs() }))
        .into_response()
}

/// The key of the certificate in the assertion's `x5c`.
fn signer(assertion: &str) -> Option<jsonwebtoken::DecodingKey> {
    use base64::Engine;
    let header = jsonwebtoken::decode_header(assertion).ok()?;
    let leaf = header.x5c?.into_iter().next()?;
    let der = base64::engine::general_purpose::STANDARD
        .decode(leaf)
        .ok()?;
    let certificate = x509_cert::Certificate::from_der(&der).ok()?;
    let key = certificate
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes()
        .to_vec();
    Some(jsonwebtoken::DecodingKey::from_rsa_der(&key))
}

/// Whether `headers` carry a token it issued that is still valid.
fn authorised(state: &State, headers: &HeaderMap) -> bool {
    let Some(token) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    lock(&state.tokens)
        .get(token)
        .is_some_and(|until| Instant::now() < *until)
}

fn integration(state: &State, headers: &HeaderMap) -> bool {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    header("IntegrasjonId") == Some(state.config.integration_id.to_string().as_str())
        && header("IntegrasjonPassord") == Some(state.config.integration_password.as_str())
}

async fn send(Shared(state): Shared<Arc<State>>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorised(&state, &headers) {
        return refuse(StatusCode::UNAUTHORIZED, "token");
    }
    if !integration(&state, &headers) {
        return refuse(StatusCode::FORBIDDEN, "integration");
    }
    if let Some(status) = lock(&state.faults).sends.pop_front() {
        return refuse(
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "fault",
        );
    }
    let Some(boundary) = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("boundary=").nth(1))
        .map(str::to_owned)
    else {
        return refuse(StatusCode::BAD_REQUEST, "not multipart");
    };
    let parts = envelope::parts(&body, &boundary);
    let part = |name: &str| parts.iter().find(|(n, _)| n == name).map(|(_, b)| *b);
    let Some(metadata) =
        part("metadata").and_then(|m| serde_json::from_slice::<serde_json::Value>(m).ok())
    else {
        return refuse(StatusCode::BAD_REQUEST, "metadata");
    };
    let uuid = |name: &str| metadata[name].as_str().and_then(|s| s.parse::<Uuid>().ok());
    let (Some(sender), Some(receiver)) = (uuid("avsenderKontoId"), uuid("mottakerKontoId")) else {
        return refuse(StatusCode::BAD_REQUEST, "metadata");
    };
    let message_type = metadata["meldingType"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if !lock(&state.senders).contains(&sender) {
        return refuse(
            StatusCode::FORBIDDEN,
            "not a sending account of this integration",
        );
    }
    let answer = match lock(&state.accounts).get(&receiver) {
        None => return refuse(StatusCode::NOT_FOUND, "no such account"),
        Some(_) if message_type != PROTOCOL => {
            return refuse(
                StatusCode::BAD_REQUEST,
                "the account does not take this message type",
            );
        }
        Some(account) => account.answer,
    };
    let client_message_id = metadata["headere"]["klientMeldingId"]
        .as_str()
        .map(str::to_owned);
    let data = part("data").unwrap_or_default().to_vec();
    let (message_id, new) = {
        let mut received = lock(&state.received);
        let again = client_message_id.as_ref().and_then(|c| {
            received
                .iter()
                .find(|r| r.sender == sender && r.client_message_id.as_ref() == Some(c))
                .map(|r| r.message_id)
        });
        match again {
            Some(id) => (id, false),
            None => {
                let message_id = Uuid::new_v4();
                let file = state
                    .config
                    .state
                    .join("received")
                    .join(format!("{message_id}.cms"));
                if std::fs::write(&file, &data).is_err() {
                    return refuse(StatusCode::INTERNAL_SERVER_ERROR, "storage");
                }
                received.push(Received {
                    message_id,
                    client_message_id: client_message_id.clone(),
                    sender,
                    receiver,
                    message_type: message_type.clone(),
                    data: data.clone(),
                    file,
                });
                (message_id, true)
            }
        }
    };
    if new && answer == Answer::Receipt {
        let pkcs8 = lock(&state.accounts)
            .get(&receiver)
            .map(|a| a.pkcs8.clone());
        let kind = match pkcs8.and_then(|k| envelope::open(&data, &k)) {
            Some(_) => RECEIVED,
            None => FAILED,
        };
        if let Err(error) = state.answer(receiver, sender, kind, message_id).await {
            tracing::warn!(%error, "answer not sent");
        }
    }
    let slow = lock(&state.faults).slow_answers.pop_front();
    if let Some(delay) = slow {
        tokio::time::sleep(delay).await;
    }
    Json(json!({
        "meldingId": message_id,
        "meldingType": message_type,
        "avsenderKontoId": sender,
        "mottakerKontoId": receiver,
        "ttl": metadata["ttl"],
        "headere": metadata["headere"],
    }))
    .into_response()
}

async fn lookup(
    Shared(state): Shared<Arc<State>>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    if lock(&state.faults).catalogue_down {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "fault");
    }
    if !authorised(&state, &headers) || !integration(&state, &headers) {
        return refuse(StatusCode::UNAUTHORIZED, "token");
    }
    let organisation = query
        .get("identifikator")
        .and_then(|i| i.strip_prefix("ORG_NO."))
        .unwrap_or_default();
    if query.get("meldingProtokoll").map(String::as_str) != Some(PROTOCOL) {
        return refuse(StatusCode::NOT_FOUND, "no account for this protocol");
    }
    let found = lock(&state.accounts)
        .values()
        .find(|a| a.organisation_number.as_deref() == Some(organisation))
        .map(|a| a.id);
    match found {
        Some(id) => Json(json!({
            "kontoId": id,
            "kontoNavn": format!("barnevern {organisation}"),
            "fiksOrgId": Uuid::new_v5(&Uuid::NAMESPACE_OID, organisation.as_bytes()),
            "fiksOrgNavn": organisation,
            "isGyldigAvsender": true,
            "isGyldigMottaker": true,
        }))
        .into_response(),
        None => refuse(StatusCode::NOT_FOUND, "no such account"),
    }
}

async fn public_key(Shared(state): Shared<Arc<State>>, Path(account): Path<Uuid>) -> Response {
    let (down, broken) = {
        let faults = lock(&state.faults);
        (faults.catalogue_down, faults.broken_certificate)
    };
    if down {
        return refuse(StatusCode::SERVICE_UNAVAILABLE, "fault");
    }
    let certificate = lock(&state.accounts)
        .get(&account)
        .map(|a| a.certificate.clone());
    let Some(certificate) = certificate else {
        return refuse(StatusCode::NOT_FOUND, "no such account");
    };
    let nokkel = if broken {
        "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n".into()
    } else {
        certificate
    };
    Json(json!({ "nokkel": nokkel })).into_response()
}
