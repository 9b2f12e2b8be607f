//! `POST /v1/consents`, `GET /v1/consents/{id}`, `POST /v1/consents/{id}/withdraw`: the
//! consent registry. A consent is visible to, citable by and withdrawable by the
//! organisation that recorded it only.

use super::AppState;
use super::body::read_json;
use super::messages::store_failure;
use super::problem::{Problem, ProblemType};
use crate::authenticate::Need;
use crate::authenticate::certificate::Peer;
use crate::consent::{Consent, ConsentRequest, Recorder};
use crate::parse::ParseError;
use crate::record::{Affected, ConsentRecorded};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use contract::control::{Withdrawal, WithdrawalKind};
use contract::directory::{AgencyId, Transport};
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Records a consent; idempotent by its id.
pub async fn post(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    peer: Peer,
    body: Body,
) -> Result<Response, Problem> {
    let caller = app.caller(&headers, &peer, Need::Send).await?;
    let bytes = read_json(&headers, body, app.body_limits).await?;
    let request: ConsentRequest = app
        .intake
        .contracts
        .parse_consent(&bytes)
        .map_err(|e| Problem::of_parse(e, "consent"))?;
    let body_hash = hex::encode(Sha256::digest(&bytes));
    let recorder = Recorder {
        organisation: &caller.agency.id,
        person: &caller.subject,
        at: app.intake.clock.now(),
    };
    let consent = request
        .into_consent(recorder, &app.intake.subject_key, &app.intake.catalog)
        .map_err(|errors| Problem::of_parse(ParseError::Invalid(errors), "consent"))?;
    match app
        .intake
        .store
        .record_consent(&consent, &body_hash)
        .await
        .map_err(store_failure)?
    {
        ConsentRecorded::New => {
            tracing::info!(consent_id = %consent.consent_id, organisation = %consent.organisation, purpose = %consent.purpose, "consent recorded");
        }
        ConsentRecorded::Existing { body_hash: before } if before == body_hash => {}
        ConsentRecorded::Existing { .. } => {
            return Err(Problem::new(
                ProblemType::IdempotencyConflict,
                "this consent id was used for another consent",
            ));
        }
    }
    let stored = find(&app, &caller.agency.id, &consent.consent_id).await?;
    let location = format!("/v1/consents/{}", stored.consent_id);
    let mut response = (StatusCode::CREATED, Json(stored)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

/// A consent's record (never its subject).
pub async fn get(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    peer: Peer,
    Path(id): Path<String>,
) -> Result<Json<Consent>, Problem> {
    let caller = app.caller(&headers, &peer, Need::Read).await?;
    find(&app, &caller.agency.id, &id).await.map(Json)
}

/// Withdraws a consent: new messages citing it are refused from now on, messages under
/// it not yet delivered are stopped, and recipients of delivered ones are told. Repeating
/// the call repeats the notices (and is how a notice the broker did not confirm is retried).
pub async fn withdraw(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    peer: Peer,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, Problem> {
    let caller = app.caller(&headers, &peer, Need::Send).await?;
    let organisation = &caller.agency.id;
    let withdrawal = app
        .intake
        .store
        .withdraw_consent(organisation, &id)
        .await
        .map_err(store_failure)?
        .ok_or_else(not_found)?;
    tracing::info!(consent_id = %id, organisation = %organisation, stopped = withdrawal.stopped.len(), delivered = withdrawal.delivered.len(), "consent withdrawn");
    for (kind, affected) in [
        (WithdrawalKind::Stop, &withdrawal.stopped),
        (WithdrawalKind::Notice, &withdrawal.delivered),
    ] {
        notify(&app, kind, &id, affected).await?;
    }
    let ids = |list: &[Affected]| list.iter().map(|a| a.client_id).collect::<Vec<_>>();
    Ok(Json(serde_json::json!({
        "consentId": id,
        "withdrawnAt": withdrawal.withdrawn_at,
        "stopped": ids(&withdrawal.stopped),
        "notified": ids(&withdrawal.delivered),
    })))
}

/// Tells each adapter concerned which messages under a withdrawn consent to stop, or
/// whose recipients to notify, and each message's recipient (whom to tell if an attempt
/// whose outcome is unknown may have reached it); 503 if the broker does not confirm.
async fn notify(
    app: &AppState,
    kind: WithdrawalKind,
    consent_id: &str,
    affected: &[Affected],
) -> Result<(), Problem> {
    for adapter in Transport::ALL {
        let concerned: Vec<&Affected> = affected
            .iter()
            .filter(|a| Transport::of_routing_key(&a.routing_key) == Some(adapter))
            .collect();
        if concerned.is_empty() {
            continue;
        }
        let notice = Withdrawal {
            consent_ref: consent_id.to_owned(),
            message_ids: concerned.iter().map(|a| a.id).collect(),
            recipients: concerned
                .iter()
                .map(|a| (a.id, AgencyId(a.recipient.clone())))
                .collect(),
        };
        app.intake
            .publisher
            .publish_control(adapter, kind, &notice)
            .await
            .map_err(|error| {
                tracing::warn!(consent_id, %error, "withdrawal notice not confirmed");
                Problem::new(
                    ProblemType::BrokerUnavailable,
                    "the consent is withdrawn, but the broker did not confirm the notices; repeat the request",
                )
                .retry_after(5)
            })?;
    }
    Ok(())
}

async fn find(app: &AppState, organisation: &AgencyId, id: &str) -> Result<Consent, Problem> {
    app.intake
        .store
        .consent(organisation, id)
        .await
        .map_err(store_failure)?
        .ok_or_else(not_found)
}

fn not_found() -> Problem {
    Problem::new(
        ProblemType::NotFound,
        "no consent with this id from your organisation",
    )
}
