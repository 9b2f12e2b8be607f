//! `POST /v1/consents`, `GET /v1/consents/{id}`, `POST /v1/consents/{id}/withdraw`: the
//! consent registry ([`crate::intake::Consents`]) over HTTP.

use super::AppState;
use super::extract::{Authorized, JsonBody, ToRead, ToSend};
use super::problem::{Problem, ProblemType, RETRY_AFTER_SECS};
use crate::consent::Consent;
use crate::intake::{ConsentError, Withdrawn};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Records a consent; idempotent by its id.
pub async fn post(
    State(app): State<Arc<AppState>>,
    caller: Authorized<ToSend>,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    let stored = app.consents.record(&caller, &body).await?;
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
    caller: Authorized<ToRead>,
    Path(id): Path<String>,
) -> Result<Json<Consent>, Problem> {
    Ok(Json(app.consents.find(&caller.agency.id, &id).await?))
}

/// Withdraws a consent: new messages citing it are refused from now on, messages under
/// it not yet delivered are stopped, and recipients of delivered ones are told.
pub async fn withdraw(
    State(app): State<Arc<AppState>>,
    caller: Authorized<ToSend>,
    Path(id): Path<String>,
) -> Result<Json<Withdrawn>, Problem> {
    Ok(Json(app.consents.withdraw(&caller, &id).await?))
}

impl From<ConsentError> for Problem {
    fn from(error: ConsentError) -> Self {
        match error {
            ConsentError::Parse(e) => Problem::of_parse(e, "consent"),
            ConsentError::IdReused => Problem::new(
                ProblemType::IdempotencyConflict,
                "this consent id was used for another consent",
            ),
            ConsentError::NotFound => Problem::new(
                ProblemType::NotFound,
                "no consent with this id from your organisation",
            ),
            ConsentError::NoticesUnconfirmed(_) => Problem::new(
                ProblemType::BrokerUnavailable,
                "the consent is withdrawn, but the broker did not confirm the notices; repeat the request",
            )
            .retry_after(RETRY_AFTER_SECS),
            ConsentError::Store(e) => e.into(),
        }
    }
}
