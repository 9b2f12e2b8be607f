//! `POST /v1/messages` and `GET /v1/messages/{id}`: the path of a message through the gateway.

use super::extract::{Authorized, JsonBody, Language, ToRead, ToSend};
use super::problem::{Problem, ProblemType, RETRY_AFTER_SECS};
use super::{AppState, explain};
use crate::deadlines::Missed;
use crate::intake::{Assessed, IntakeError, Outcome};
use crate::parse::FieldError;
use crate::record::{Status, StatusView};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use contract::message::MessageId;
use std::sync::Arc;
use tracing::Instrument;

/// Authenticate, then the intake; 202 only once recorded and confirmed. A well-formed W3C
/// `traceparent` header names the trace the message's hops continue (else its gateway id
/// does); the log lines of its submission carry that trace and the gateway id.
pub async fn post(
    State(app): State<Arc<AppState>>,
    caller: Authorized<ToSend>,
    Language(lang): Language,
    headers: HeaderMap,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    let assessed = app.intake.assess(&caller, &body).await?;
    let traceparent = headers
        .get(contract::message::HEADER_TRACEPARENT)
        .and_then(|v| v.to_str().ok())
        .filter(|t| contract::message::trace_id(t).is_some());
    let trace_id = traceparent
        .and_then(contract::message::trace_id)
        .map(str::to_owned);
    let gateway_id = crate::record::gateway_id(&caller.agency.id, &assessed.envelope.message_id);
    let trace = crate::publish::trace_of(gateway_id, trace_id.as_deref());
    let span = tracing::info_span!("message", gateway_id = %gateway_id, trace_id = %trace);
    let parent = traceparent.map_or_else(|| contract::message::traceparent(&trace), str::to_owned);
    contract::plumbing::otlp::continue_trace(&span, &parent);
    let outcome = app
        .intake
        .submit(&caller, &assessed, trace_id)
        .instrument(span)
        .await?;
    match outcome {
        Outcome::Refused => Err(explain::refusal(&assessed.decision, lang)),
        Outcome::Accepted {
            client_id,
            gateway_id,
            status,
        } => {
            let decision = &assessed.decision;
            let warnings = explain::errors(decision, &decision.warnings, lang);
            Ok(accepted(&client_id, &gateway_id, status, &warnings))
        }
    }
}

/// `POST /v1/messages/validate`: every check of `POST /v1/messages`, nothing recorded or
/// sent; answers what would happen.
pub async fn validate(
    State(app): State<Arc<AppState>>,
    caller: Authorized<ToSend>,
    Language(lang): Language,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    let Assessed { envelope, decision } = app.intake.assess(&caller, &body).await?;
    let route = decision
        .route()
        .map(|r| serde_json::json!({"recipient": r.recipient.id, "adapter": r.adapter}));
    let mut response = Json(serde_json::json!({
        "messageId": envelope.message_id,
        "outcome": if route.is_some() { "allowed" } else { "refused" },
        "legalBasis": decision.basis.map(|b| serde_json::json!({"tag": b.tag, "statute": b.statute, "status": b.status})),
        "route": route,
        "refusals": explain::errors(&decision, &decision.refusals, lang),
        "warnings": explain::errors(&decision, &decision.warnings, lang),
    }))
    .into_response();
    response.headers_mut().insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.tag()),
    );
    Ok(response)
}

impl From<IntakeError> for Problem {
    fn from(error: IntakeError) -> Self {
        match error {
            IntakeError::Parse(e) => Problem::of_parse(e, "message"),
            IntakeError::IdReused => Problem::new(
                ProblemType::IdempotencyConflict,
                "this message id was used for another message",
            ),
            IntakeError::NotYetConfirmed => Problem::new(
                ProblemType::BrokerUnavailable,
                "the broker has not confirmed the message yet",
            )
            .retry_after(RETRY_AFTER_SECS),
            IntakeError::Store(e) => e.into(),
        }
    }
}

/// The status of a message, for its sender only.
pub async fn get(
    State(app): State<Arc<AppState>>,
    caller: Authorized<ToRead>,
    Path(id): Path<String>,
) -> Result<Json<MessageView>, Problem> {
    let not_found = || {
        Problem::new(
            ProblemType::NotFound,
            "no message with this id from your organisation",
        )
    };
    let id: MessageId = id.parse().map_err(|_| not_found())?;
    app.shared
        .store
        .status(&id, &caller.agency.id)
        .await?
        .map(|view| Json(with_overdue(&app, view)))
        .ok_or_else(not_found)
}

/// `GET /v1/messages[?overdue=true]`: the sender's open messages (not yet in a final
/// status), or only those past a deadline.
pub async fn list(
    State(app): State<Arc<AppState>>,
    caller: Authorized<ToRead>,
    Query(filter): Query<ListFilter>,
) -> Result<Json<serde_json::Value>, Problem> {
    let sender = Some(&caller.agency.id);
    let views: Vec<MessageView> = match filter.overdue {
        true => app
            .deadlines
            .overdue(app.shared.store.as_ref(), sender, app.shared.clock.now())
            .await?
            .into_iter()
            .map(|(view, overdue)| MessageView { view, overdue })
            .collect(),
        false => app
            .shared
            .store
            .open_messages(sender)
            .await?
            .into_iter()
            .map(|v| with_overdue(&app, v))
            .collect(),
    };
    Ok(Json(serde_json::json!({ "messages": views })))
}

/// The filter of the message listing.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListFilter {
    #[serde(default)]
    overdue: bool,
}

/// A message as its sender sees it: its status and history, and the deadlines it missed.
#[derive(Debug, serde::Serialize)]
pub struct MessageView {
    #[serde(flatten)]
    view: StatusView,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    overdue: Vec<Missed>,
}

fn with_overdue(app: &AppState, view: StatusView) -> MessageView {
    let overdue = app.deadlines.missed(
        view.kind,
        view.status,
        &view.history,
        app.shared.clock.now(),
    );
    MessageView { view, overdue }
}

fn accepted(
    client_id: &MessageId,
    gateway_id: &MessageId,
    status: Status,
    warnings: &[FieldError],
) -> Response {
    let location = format!("/v1/messages/{client_id}");
    let mut body = serde_json::json!({
        "messageId": client_id,
        "gatewayId": gateway_id,
        "status": status,
        "statusUrl": location,
    });
    if !warnings.is_empty() {
        body["warnings"] = serde_json::json!(warnings);
    }
    let mut response = (StatusCode::ACCEPTED, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}
