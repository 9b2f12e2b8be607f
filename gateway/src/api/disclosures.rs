//! `POST /v1/disclosures`: for a data protection officer (a token with `auth.dpo_scope`),
//! which disclosures the gateway made about one person (the right of access, GDPR art. 15):
//! who sent which kind under which basis to whom, when, with what outcome. Each agency's
//! organisation is its own controller: its officer sees what the agencies under its
//! organisation number sent or received; only `auth.dpo_all_scope` sees all. The person is
//! found through the keyed hash stored with each message; the request is audited (with the
//! hash, never the ID) before anything is answered, and the answer does not repeat the ID.

use super::AppState;
use super::extract::{Authorized, JsonBody, ToReport};
use super::problem::Problem;
use crate::consent::SubjectRef;
use crate::parse::{FieldError, ParseError};
use crate::record::{DisclosureRequest, Reach};
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use contract::message::MessageId;
use serde::Deserialize;
use std::sync::Arc;

/// The body: the person, named as a consent names its subject.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    subject: SubjectRef,
}

fn not_a_person() -> Problem {
    let error = FieldError::new(
        "/subject",
        "subject",
        "not a valid fodselsnummer, personnummer, or name and birth date",
    );
    Problem::of_parse(ParseError::Invalid(vec![error]), "disclosure request")
}

/// The disclosures about one person.
pub async fn post(
    State(app): State<Arc<AppState>>,
    caller: Authorized<ToReport>,
    JsonBody(body): JsonBody,
) -> Result<Response, Problem> {
    let reach = if caller.grants.dpo_all {
        Reach::All
    } else {
        let orgnr = &caller.agency.orgnr;
        Reach::Organisation(
            app.shared
                .directory
                .agencies()
                .filter(|agency| agency.orgnr == *orgnr)
                .map(|agency| agency.id.clone())
                .collect(),
        )
    };
    let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        Problem::of_parse(
            ParseError::Malformed {
                line: e.line(),
                column: e.column(),
            },
            "disclosure request",
        )
    })?;
    let request: Request = serde_json::from_value(value).map_err(|_| not_a_person())?;
    let canonical = request
        .subject
        .canonical(app.shared.clock.now().date())
        .ok_or_else(not_a_person)?;
    let subject_hash = app.shared.subject_key.hash(&canonical);
    let request_id = MessageId(uuid::Uuid::new_v4());
    let disclosures = app
        .shared
        .store
        .disclosures(&DisclosureRequest {
            request_id,
            organisation: &caller.agency.id,
            subject_hash: &subject_hash,
            reach,
        })
        .await?;
    tracing::info!(%request_id, organisation = %caller.agency.id, found = disclosures.len(), "disclosure report");
    Ok(Json(serde_json::json!({
        "requestId": request_id,
        "disclosures": disclosures,
    }))
    .into_response())
}
