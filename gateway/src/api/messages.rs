//! `POST /v1/messages` and `GET /v1/messages/{id}`: the path of a message through the gateway.

use super::AppState;
use super::body::read_json;
use super::problem::{Problem, ProblemType};
use crate::catalog::BasisRefusal;
use crate::decide::{Refusal, decide};
use crate::parse::{FieldError, ParseError};
use crate::publish::Topology;
use crate::record::{NewMessage, Outgoing, Recorded, Status, StatusView, now, timestamp};
use crate::routed::{RoutedMessage, RoutedSender};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
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
    let caller = app.caller(&headers).await?;
    let bytes = read_json(&headers, body, app.body_limit).await?;
    let envelope = app.contracts.parse(&bytes).map_err(|e| {
        tracing::info!(sender = %caller.agency.id, "message refused: does not fit its contract");
        parse_problem(e)
    })?;
    let id = envelope.message_id.to_string();
    let route = decide(&caller.agency, &envelope, &app.directory, &app.catalog).map_err(|r| {
        tracing::info!(message_id = %id, sender = %caller.agency.id, kind = %envelope.kind, legal_basis = %envelope.legal_basis.tag, refusal = ?r, "message refused");
        refusal_problem(r)
    })?;
    let body_hash = hex::encode(Sha256::digest(
        serde_json::to_vec(&envelope).expect("an envelope serialises"),
    ));
    let sender = RoutedSender {
        agency: caller.agency.id.clone(),
        agency_type: caller.agency.agency_type,
        orgnr: caller.agency.orgnr.clone(),
    };
    let routed = RoutedMessage::new(&envelope, sender, timestamp(now()));
    let new = NewMessage {
        id: id.clone(),
        sender: caller.agency.id.0.clone(),
        recipient: route.recipient.id.0.clone(),
        kind: envelope.kind.as_str().into(),
        legal_basis: route.basis.tag.clone(),
        body_hash,
        routing_key: Topology::routing_key(route.adapter, &route.recipient.id.0),
        routed: serde_json::to_vec(&routed).expect("a routed message serialises"),
    };
    let hold_until = now() + app.hold;
    match app.store.record(&new, hold_until).await.map_err(internal)? {
        Recorded::New => publish(&app, &new.outgoing()).await,
        Recorded::Existing {
            sender,
            body_hash,
            status,
        } => {
            if sender != new.sender || body_hash != new.body_hash {
                tracing::info!(message_id = %id, sender = %new.sender, "message id reused for another message");
                return Err(Problem::new(
                    ProblemType::IdempotencyConflict,
                    "this message id was used for another message",
                ));
            }
            match (status, app.store.pending(&id).await.map_err(internal)?) {
                (Status::Recorded, Some(pending)) => publish(&app, &pending).await,
                _ => Ok(accepted(&id)),
            }
        }
    }
}

/// The status of a message, for its sender only.
pub async fn get(
    State(app): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<StatusView>, Problem> {
    let caller = app.caller(&headers).await?;
    app.store
        .status(&id, &caller.agency.id.0)
        .await
        .map_err(internal)?
        .map(Json)
        .ok_or_else(|| {
            Problem::new(
                ProblemType::NotFound,
                "no message with this id from your organisation",
            )
        })
}

async fn publish(app: &AppState, msg: &Outgoing) -> Result<Response, Problem> {
    match app.publisher.publish(msg).await {
        Ok(()) => {
            app.store.mark_queued(&msg.id).await.map_err(internal)?;
            tracing::info!(message_id = %msg.id, kind = %msg.kind, legal_basis = %msg.legal_basis, sender = %msg.sender, routing_key = %msg.routing_key, "message queued");
            Ok(accepted(&msg.id))
        }
        Err(error) => {
            tracing::warn!(message_id = %msg.id, %error, "broker did not confirm; left to the outbox");
            app.store
                .defer(&msg.id, now() + crate::publish::retry_delay(msg.attempts))
                .await
                .map_err(internal)?;
            Err(Problem::new(
                ProblemType::BrokerUnavailable,
                "the broker did not confirm the message",
            )
            .retry_after(RETRY_AFTER_SECS))
        }
    }
}

fn accepted(id: &str) -> Response {
    let location = format!("/v1/messages/{id}");
    let mut response = (
        StatusCode::ACCEPTED,
        Json(serde_json::json!({
            "messageId": id,
            "status": Status::Queued,
            "statusUrl": location,
        })),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

fn parse_problem(error: ParseError) -> Problem {
    match error {
        ParseError::Malformed { line, column } => Problem::new(
            ProblemType::MalformedJson,
            format!("the body is not JSON (line {line}, column {column})"),
        ),
        ParseError::Invalid(errors) => Problem::new(
            ProblemType::InvalidMessage,
            format!("{} field(s) break the contract", errors.len()),
        )
        .with_errors(errors),
    }
}

fn refusal_problem(refusal: Refusal) -> Problem {
    const TAG: &str = "/legalBasis/tag";
    match refusal {
        Refusal::UnknownRecipient => Problem::new(
            ProblemType::UnknownRecipient,
            "the recipient is not a receiving agency of the directory",
        )
        .with_errors(vec![FieldError::new(
            "/recipient",
            "unknown_recipient",
            "no such receiving agency",
        )]),
        Refusal::RecipientMismatch { pointer } => Problem::new(
            ProblemType::RecipientMismatch,
            "the recipient does not serve the municipality the message is for",
        )
        .with_errors(vec![FieldError::new(
            pointer,
            "recipient_mismatch",
            "does not match the recipient",
        )]),
        Refusal::SenderMismatch { pointer } => Problem::new(
            ProblemType::SenderMismatch,
            "the message names an organisation other than the token's",
        )
        .with_errors(vec![FieldError::new(
            pointer,
            "sender_mismatch",
            "is not your organisation",
        )]),
        Refusal::Basis(BasisRefusal::Unknown) => Problem::new(
            ProblemType::LegalBasisUnknown,
            "the legal basis is not in the catalog",
        )
        .with_errors(vec![FieldError::new(
            TAG,
            "unknown_legal_basis",
            "not in the catalog",
        )]),
        Refusal::Basis(BasisRefusal::NotInForce(status)) => Problem::new(
            ProblemType::LegalBasisNotInForce,
            format!("the catalog marks this legal basis as {status:?}"),
        )
        .with_errors(vec![FieldError::new(TAG, "not_in_force", "not in force")]),
        Refusal::Basis(reason) => {
            let (code, detail) = match reason {
                BasisRefusal::WrongKind => (
                    "wrong_kind",
                    "this legal basis does not serve this message kind",
                ),
                BasisRefusal::SenderType => (
                    "sender_type",
                    "your agency type may not send under this legal basis",
                ),
                _ => (
                    "recipient_type",
                    "the recipient's agency type may not receive under this legal basis",
                ),
            };
            Problem::new(ProblemType::LegalBasisNotApplicable, detail)
                .with_errors(vec![FieldError::new(TAG, code, detail)])
        }
    }
}

fn internal(error: crate::record::StoreError) -> Problem {
    tracing::error!(%error, "database failure");
    Problem::new(
        ProblemType::Internal,
        "the gateway could not record the message",
    )
}
