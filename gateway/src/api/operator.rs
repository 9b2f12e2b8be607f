//! The operator's API (a token with `auth.operator_scope`) under `/v1/operator/`, and the
//! console page over it (`/console`): health, queues, the last hour, overdue messages and
//! dead letters, with replay and discard. Each replay or discard is audited, with its
//! reason, before it is done. Metadata only: never a payload.

use super::AppState;
use super::extract::{Authorized, JsonBody, ToOperate};
use super::problem::{Problem, ProblemType};
use crate::operate::dead::{DeadError, Settle, SettleReason};
use crate::parse::{FieldError, ParseError};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use contract::directory::Transport;
use contract::message::MessageId;
use serde::Deserialize;
use std::sync::Arc;

/// The body of a replay or discard.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SettleRequest {
    reason: SettleReason,
}

/// `GET /v1/operator/overview`.
pub async fn overview(
    State(app): State<Arc<AppState>>,
    _caller: Authorized<ToOperate>,
) -> Result<Response, Problem> {
    let overview = app
        .watch
        .overview(
            app.shared.store.as_ref(),
            &app.link,
            &app.deadlines,
            app.shared.clock.now(),
        )
        .await?;
    Ok(Json(overview).into_response())
}

/// `GET /v1/operator/dead-letters`: every dead letter's metadata.
pub async fn dead_letters(
    State(app): State<Arc<AppState>>,
    _caller: Authorized<ToOperate>,
) -> Result<Response, Problem> {
    let letters = app.watch.dead_letters(&app.link).await.map_err(broker)?;
    Ok(Json(letters).into_response())
}

/// `POST /v1/operator/dead-letters/{transport}/{id}/replay`.
pub async fn replay(
    state: State<Arc<AppState>>,
    caller: Authorized<ToOperate>,
    path: Path<(String, String)>,
    body: JsonBody,
) -> Result<Response, Problem> {
    settle(state, caller, path, body, Settle::Replay).await
}

/// `POST /v1/operator/dead-letters/{transport}/{id}/discard`.
pub async fn discard(
    state: State<Arc<AppState>>,
    caller: Authorized<ToOperate>,
    path: Path<(String, String)>,
    body: JsonBody,
) -> Result<Response, Problem> {
    settle(state, caller, path, body, Settle::Discard).await
}

/// Audits, then replays or discards, the dead letter `id` of `transport`. A discarded
/// message that had failed is marked expired in the same transaction as its audit entry.
async fn settle(
    State(app): State<Arc<AppState>>,
    caller: Authorized<ToOperate>,
    Path((transport, id)): Path<(String, String)>,
    JsonBody(body): JsonBody,
    how: Settle,
) -> Result<Response, Problem> {
    let no_such = || Problem::new(ProblemType::NotFound, "no such dead letter");
    let transport: Transport = transport.parse().map_err(|_| no_such())?;
    let id: MessageId = id.parse().map_err(|_| no_such())?;
    let reason = reason(&body)?;
    let present = app
        .watch
        .dead_letters(&app.link)
        .await
        .map_err(broker)?
        .iter()
        .any(|l| l.transport == transport && l.letter.message_id == Some(id.to_string()));
    if !present {
        return Err(no_such());
    }
    let (action, expire) = match how {
        Settle::Replay => ("dead_letter_replay", None),
        Settle::Discard => ("dead_letter_discard", Some("discarded by an operator")),
    };
    let action = format!("{action}:{reason}");
    app.shared
        .store
        .dead_letter_event(&id, &caller.agency.id.0, &action, expire)
        .await?;
    let settled = app
        .watch
        .settle(&app.link, transport, &id.to_string(), how)
        .await
        .map_err(broker)?;
    if !settled {
        // Another operator took it between the look and the act; the audit entry stays.
        return Err(no_such());
    }
    tracing::info!(message_id = %id, transport = transport.as_str(), %action, organisation = %caller.agency.id, "dead letter settled by an operator");
    Ok(Json(serde_json::json!({
        "messageId": id,
        "transport": transport,
        "settled": match how { Settle::Replay => "replayed", Settle::Discard => "discarded" },
        "reason": reason,
    }))
    .into_response())
}

/// The reason a body gives, or the problem of a body that gives none.
fn reason(body: &[u8]) -> Result<SettleReason, Problem> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        Problem::of_parse(
            ParseError::Malformed {
                line: e.line(),
                column: e.column(),
            },
            "settle request",
        )
    })?;
    let request: SettleRequest = serde_json::from_value(value).map_err(|_| {
        let error = FieldError::new(
            "/reason",
            "reason",
            "not one of the reasons an operator may give",
        );
        Problem::of_parse(ParseError::Invalid(vec![error]), "settle request")
    })?;
    Ok(request.reason)
}

fn broker(error: DeadError) -> Problem {
    tracing::warn!(%error, "an operator's request on dead letters failed at the broker");
    Problem::new(
        ProblemType::BrokerUnavailable,
        "the broker did not answer; nothing was changed",
    )
}

/// The console's page.
pub async fn page() -> Response {
    asset(Path("index.html".into())).await
}

/// A file of the console (`index.html`, `console.js`, `console.css`), served from the
/// binary: no CDN, nothing fetched at run time. Its policy allows scripts, styles and
/// requests of this origin only.
pub async fn asset(Path(name): Path<String>) -> Response {
    let (content_type, body) = match name.as_str() {
        "index.html" => ("text/html; charset=utf-8", CONSOLE_HTML),
        "console.js" => ("text/javascript; charset=utf-8", CONSOLE_JS),
        "console.css" => ("text/css; charset=utf-8", CONSOLE_CSS),
        _ => {
            return Problem::new(ProblemType::NotFound, "no such file of the console")
                .into_response();
        }
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

const CONSOLE_HTML: &str = include_str!("../../console/index.html");
const CONSOLE_JS: &str = include_str!("../../console/console.js");
const CONSOLE_CSS: &str = include_str!("../../console/console.css");
