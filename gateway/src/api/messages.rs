//! `POST /v1/messages` and `GET /v1/messages/{id}`: the path of a message through the gateway.

use super::body::read_json;
use super::problem::{Problem, ProblemType};
use super::{AppState, explain};
use crate::authenticate::Caller;
use crate::consent::Consent;
use crate::deadlines::Missed;
use crate::decide::{Decision, decide};
use crate::parse::{Envelope, FieldError};
use crate::record::{
    NewMessage, Outgoing, Recorded, Refused, Status, StatusView, gateway_id, timestamp,
};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use contract::broker::Topology;
use contract::message::MessageId;
use contract::message::RoutedSender;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// Seconds a client is told to wait before repeating a request the broker did not confirm.
const RETRY_AFTER_SECS: u32 = 5;

/// Authenticate, parse, decide, record, publish; 202 only once recorded and confirmed.
pub async fn post(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let (caller, envelope, decision) = assess(&app, &headers, body).await?;
    let client_id = envelope.message_id.to_string();
    let id = gateway_id(&caller.agency.id.0, &client_id);
    let Some(route) = decision.route() else {
        let codes: Vec<&str> = decision.refusals.iter().map(|r| r.rule.code()).collect();
        tracing::info!(message_id = %id, sender = %caller.agency.id, kind = %envelope.kind, legal_basis = %envelope.legal_basis.tag, refusals = ?codes, "message refused");
        let reasons = decision
            .refusals
            .iter()
            .map(|r| serde_json::json!({"rule": r.rule.code(), "pointer": r.pointer}))
            .collect();
        app.store
            .record_refusal(&Refused {
                message_id: &client_id,
                sender: &caller.agency.id.0,
                recipient: &envelope.recipient,
                kind: envelope.kind.as_str(),
                legal_basis: &envelope.legal_basis.tag,
                reasons: serde_json::Value::Array(reasons),
            })
            .await
            .map_err(internal)?;
        app.metrics.count_refused(codes[0]);
        return Err(explain::refusal(&decision, explain::language(&headers)));
    };
    let body_hash = hex::encode(Sha256::digest(
        serde_json::to_vec(&envelope).expect("an envelope serialises"),
    ));
    let sender = RoutedSender {
        agency: caller.agency.id.clone(),
        agency_type: caller.agency.agency_type,
        orgnr: caller.agency.orgnr.clone(),
    };
    let routed = envelope.routed(
        MessageId(id.parse().expect("a gateway id is a UUID")),
        sender,
        timestamp(app.clock.now()),
    );
    let new = NewMessage {
        id: id.clone(),
        client_id: client_id.clone(),
        sender: caller.agency.id.0.clone(),
        recipient: route.recipient.id.0.clone(),
        kind: envelope.kind.as_str().into(),
        legal_basis: route.basis.tag.clone(),
        body_hash,
        routing_key: Topology::routing_key(route.adapter, &route.recipient.id.0),
        routed: serde_json::to_vec(&routed).expect("a routed message serialises"),
        consent_ref: envelope.legal_basis.consent_ref.clone(),
    };
    let warnings = explain::errors(&decision, &decision.warnings, explain::language(&headers));
    let hold_until = app.clock.now() + app.hold;
    let ids = Ids {
        client: &client_id,
        gateway: &id,
    };
    match app.store.record(&new, hold_until).await.map_err(internal)? {
        Recorded::New => publish(&app, ids, &new.outgoing(), &warnings).await,
        Recorded::Existing { body_hash, status } => {
            if body_hash != new.body_hash {
                tracing::info!(message_id = %id, sender = %new.sender, "message id reused for another message");
                return Err(Problem::new(
                    ProblemType::IdempotencyConflict,
                    "this message id was used for another message",
                ));
            }
            if status != Status::Recorded {
                return Ok(accepted(ids, status, &warnings));
            }
            // Still unconfirmed: publish only under a claim won in the store; if the outbox
            // or another request holds the message, it is on its way: ask again later.
            match app.store.claim(&id, hold_until).await.map_err(internal)? {
                Some(claimed) => publish(&app, ids, &claimed, &warnings).await,
                None => Err(not_yet_confirmed()),
            }
        }
    }
}

/// `POST /v1/messages/validate`: every check of `POST /v1/messages`, nothing recorded or
/// sent; answers what would happen.
pub async fn validate(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let (_, envelope, decision) = assess(&app, &headers, body).await?;
    let lang = explain::language(&headers);
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

/// Authenticates, parses and decides on a message request.
async fn assess<'a>(
    app: &'a AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Caller, Envelope, Decision<'a>), Problem> {
    let caller = app.caller(headers).await?;
    let envelope = parse(app, &caller, headers, body).await?;
    let consent = cited_consent(app, &caller, &envelope).await?;
    let decision = decide(
        app.facts(&caller, &envelope, consent.as_ref()),
        &app.directory,
        &app.catalog,
    );
    Ok((caller, envelope, decision))
}

/// Reads and parses the body of a message request.
async fn parse(
    app: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    body: Body,
) -> Result<Envelope, Problem> {
    let bytes = read_json(headers, body, app.body_limit).await?;
    app.contracts.parse(&bytes).map_err(|e| {
        tracing::info!(sender = %caller.agency.id, "message refused: does not fit its contract");
        Problem::of_parse(e, "message")
    })
}

/// The consent the envelope cites, if the caller's organisation recorded it.
async fn cited_consent(
    app: &AppState,
    caller: &Caller,
    envelope: &Envelope,
) -> Result<Option<Consent>, Problem> {
    match &envelope.legal_basis.consent_ref {
        None => Ok(None),
        Some(id) => app
            .store
            .consent(&caller.agency.id.0, id)
            .await
            .map_err(internal),
    }
}

/// The status of a message, for its sender only.
pub async fn get(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<MessageView>, Problem> {
    let caller = app.caller(&headers).await?;
    app.store
        .status(&id, &caller.agency.id.0)
        .await
        .map_err(internal)?
        .map(|view| Json(with_overdue(&app, view)))
        .ok_or_else(|| {
            Problem::new(
                ProblemType::NotFound,
                "no message with this id from your organisation",
            )
        })
}

/// `GET /v1/messages[?overdue=true]`: the sender's open messages (not yet in a final
/// status), or only those past a deadline.
pub async fn list(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(filter): Query<ListFilter>,
) -> Result<Json<serde_json::Value>, Problem> {
    let caller = app.caller(&headers).await?;
    let views: Vec<MessageView> = app
        .store
        .open_messages(Some(&caller.agency.id.0))
        .await
        .map_err(internal)?
        .into_iter()
        .map(|v| with_overdue(&app, v))
        .filter(|v| !filter.overdue || !v.overdue.is_empty())
        .collect();
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
    let overdue = app
        .deadlines
        .missed(view.kind, view.status, &view.history, app.clock.now());
    MessageView { view, overdue }
}

/// A message's ids: the sender's, and the gateway's.
#[derive(Clone, Copy)]
struct Ids<'a> {
    client: &'a str,
    gateway: &'a str,
}

async fn publish(
    app: &AppState,
    ids: Ids<'_>,
    msg: &Outgoing,
    warnings: &[FieldError],
) -> Result<Response, Problem> {
    match app.publisher.publish(msg).await {
        Ok(()) => {
            app.store.mark_queued(&msg.id).await.map_err(internal)?;
            tracing::info!(message_id = %msg.id, kind = %msg.kind, legal_basis = %msg.legal_basis, sender = %msg.sender, routing_key = %msg.routing_key, "message queued");
            Ok(accepted(ids, Status::Queued, warnings))
        }
        Err(error) => {
            tracing::warn!(message_id = %msg.id, %error, "broker did not confirm; left to the outbox");
            app.store
                .defer(
                    &msg.id,
                    app.clock.now() + crate::publish::retry_delay(msg.attempts),
                )
                .await
                .map_err(internal)?;
            Err(not_yet_confirmed())
        }
    }
}

fn not_yet_confirmed() -> Problem {
    Problem::new(
        ProblemType::BrokerUnavailable,
        "the broker has not confirmed the message yet",
    )
    .retry_after(RETRY_AFTER_SECS)
}

fn accepted(ids: Ids<'_>, status: Status, warnings: &[FieldError]) -> Response {
    let location = format!("/v1/messages/{}", ids.client);
    let mut body = serde_json::json!({
        "messageId": ids.client,
        "gatewayId": ids.gateway,
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

/// The problem for a database failure.
pub fn internal(error: crate::record::StoreError) -> Problem {
    tracing::error!(%error, "database failure");
    Problem::new(
        ProblemType::Internal,
        "the gateway could not record the message",
    )
}
