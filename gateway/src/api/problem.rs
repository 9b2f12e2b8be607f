//! Errors as `application/problem+json` (RFC 9457), each with a stable type.
//!
//! A problem's `type` is `/problems/<slug>`; `GET /problems` lists them all with their
//! meaning. Problem texts carry field names, rule names and ids, never field values.

use crate::parse::{FieldError, ParseError};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Every problem the API can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemType {
    MalformedJson,
    BadRequest,
    MethodNotAllowed,
    UnsupportedMediaType,
    BodyTooLarge,
    HeadersTooLarge,
    BodyTimeout,
    InvalidMessage,
    Unauthenticated,
    Forbidden,
    UnknownOrganisation,
    ActingAgency,
    SenderMismatch,
    UnknownRecipient,
    RecipientMismatch,
    CrossBorder,
    LegalBasisUnknown,
    LegalBasisNotInForce,
    LegalBasisNotApplicable,
    SubjectNotCovered,
    ConsentNotValid,
    AttestationMissing,
    FieldsNotMinimal,
    IdentifyingText,
    IdempotencyConflict,
    NotFound,
    BrokerUnavailable,
    StoreUnavailable,
    Overloaded,
    NotReady,
    Internal,
}

impl ProblemType {
    /// Every problem type, for the listing.
    pub const ALL: [ProblemType; 31] = [
        Self::MalformedJson,
        Self::BadRequest,
        Self::MethodNotAllowed,
        Self::UnsupportedMediaType,
        Self::BodyTooLarge,
        Self::HeadersTooLarge,
        Self::BodyTimeout,
        Self::InvalidMessage,
        Self::Unauthenticated,
        Self::Forbidden,
        Self::UnknownOrganisation,
        Self::ActingAgency,
        Self::SenderMismatch,
        Self::UnknownRecipient,
        Self::RecipientMismatch,
        Self::CrossBorder,
        Self::LegalBasisUnknown,
        Self::LegalBasisNotInForce,
        Self::LegalBasisNotApplicable,
        Self::SubjectNotCovered,
        Self::ConsentNotValid,
        Self::AttestationMissing,
        Self::FieldsNotMinimal,
        Self::IdentifyingText,
        Self::IdempotencyConflict,
        Self::NotFound,
        Self::BrokerUnavailable,
        Self::StoreUnavailable,
        Self::Overloaded,
        Self::NotReady,
        Self::Internal,
    ];

    /// Slug, HTTP status, title and what it means for the client.
    pub fn describe(self) -> (&'static str, StatusCode, &'static str, &'static str) {
        use StatusCode as S;
        match self {
            Self::MalformedJson => (
                "malformed-json",
                S::BAD_REQUEST,
                "Body is not JSON",
                "The body could not be parsed as JSON. Nothing was recorded.",
            ),
            Self::BadRequest => (
                "bad-request",
                S::BAD_REQUEST,
                "Request not understood",
                "The path or the query parameters could not be read (an unknown parameter, a value of the wrong type). Nothing was recorded.",
            ),
            Self::MethodNotAllowed => (
                "method-not-allowed",
                S::METHOD_NOT_ALLOWED,
                "Method not allowed",
                "The resource exists but does not take this method; `Allow` lists those it takes. Nothing was recorded.",
            ),
            Self::UnsupportedMediaType => (
                "unsupported-media-type",
                S::UNSUPPORTED_MEDIA_TYPE,
                "Content-Type must be application/json",
                "Send the message as application/json. Nothing was recorded.",
            ),
            Self::BodyTooLarge => (
                "body-too-large",
                S::PAYLOAD_TOO_LARGE,
                "Body too large",
                "The body exceeds the gateway's size limit. Nothing was recorded.",
            ),
            Self::HeadersTooLarge => (
                "headers-too-large",
                S::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "Headers too large",
                "The request's headers exceed the gateway's limit (`http.max_header_bytes`, 16 KiB by default), or its bearer token exceeds 8 KiB. Nothing was read.",
            ),
            Self::BodyTimeout => (
                "body-timeout",
                S::REQUEST_TIMEOUT,
                "Body too slow",
                "The body did not arrive in full within the gateway's time limit (`http.body_timeout_ms`). Nothing was recorded.",
            ),
            Self::InvalidMessage => (
                "invalid-message",
                S::UNPROCESSABLE_ENTITY,
                "Message does not fit its contract",
                "The message breaks the envelope schema or its kind's schema; `errors` names each field and rule. Nothing was recorded.",
            ),
            Self::Unauthenticated => (
                "unauthenticated",
                S::UNAUTHORIZED,
                "Bearer token missing or not valid",
                "Send a valid, unexpired bearer token from the configured issuer, for this gateway's audience, signed with the pinned algorithm.",
            ),
            Self::Forbidden => (
                "forbidden",
                S::FORBIDDEN,
                "Not for this token",
                "The request needs a scope the token does not carry (a disclosure report: the data protection officer's scope, `auth.dpo_scope`, or the operator-wide `auth.dpo_all_scope`; a Maskinporten token: the issuer's send or read scope). Nothing was looked up.",
            ),
            Self::UnknownOrganisation => (
                "unknown-organisation",
                S::FORBIDDEN,
                "Organisation not in the agency directory",
                "The token's organisation is not an agency of the directory.",
            ),
            Self::ActingAgency => (
                "acting-agency",
                S::FORBIDDEN,
                "Acting agency not named, or not under the organisation",
                "The token names an organisation number that covers several agencies of the directory, or not the one named: name the acting agency's id in the `X-Acting-Agency` header; `detail` lists the ids the number covers.",
            ),
            Self::SenderMismatch => (
                "sender-mismatch",
                S::FORBIDDEN,
                "Message claims another organisation",
                "An organisation named in the message is not the token's organisation. Nothing was recorded.",
            ),
            Self::UnknownRecipient => (
                "unknown-recipient",
                S::UNPROCESSABLE_ENTITY,
                "Recipient not in the agency directory",
                "The recipient is not an agency of the directory, or it receives no messages. Nothing was recorded.",
            ),
            Self::RecipientMismatch => (
                "recipient-mismatch",
                S::UNPROCESSABLE_ENTITY,
                "Recipient does not fit the message",
                "The recipient cannot take this message: each kind goes only to the agency types it names (a bekymringsmelding to barnevern or its barnevernvakt, a politikontakt referral to the police, an SSPF/SIG request to the coordinator or the group), and a bekymringsmelding only to the barnevern of the child's municipality. Nothing was recorded.",
            ),
            Self::CrossBorder => (
                "cross-border",
                S::UNPROCESSABLE_ENTITY,
                "Sender, recipient and legal basis in different countries",
                "One message, one jurisdiction: the sender, the recipient, the message kind and the legal basis must all belong to the same country unless the catalog declares the basis for cross-border use (none does). Nothing was recorded.",
            ),
            Self::LegalBasisUnknown => (
                "legal-basis-unknown",
                S::UNPROCESSABLE_ENTITY,
                "Unknown legal basis",
                "The legal-basis tag is not in the catalog (GET /v1/legal-bases), or is no longer used (`replacedBy` names the tags that replace it). Nothing was recorded.",
            ),
            Self::LegalBasisNotInForce => (
                "legal-basis-not-in-force",
                S::UNPROCESSABLE_ENTITY,
                "Legal basis not in force",
                "The catalog marks this legal basis as proposed or disabled. Nothing was recorded.",
            ),
            Self::LegalBasisNotApplicable => (
                "legal-basis-not-applicable",
                S::UNPROCESSABLE_ENTITY,
                "Legal basis does not cover this message",
                "The legal basis does not serve this message kind, this sender's agency type or this recipient's agency type. Nothing was recorded.",
            ),
            Self::SubjectNotCovered => (
                "subject-not-covered",
                S::UNPROCESSABLE_ENTITY,
                "Legal basis does not cover this person",
                "The person is older than the legal basis allows, is unborn where it does not cover the unborn, no birth date in the past can be read, or a weaker claim (an age, a birth date, an unborn flag) disagrees with a national ID or birth date in the same message. Nothing was sent.",
            ),
            Self::ConsentNotValid => (
                "consent-not-valid",
                S::UNPROCESSABLE_ENTITY,
                "Consent missing, not valid or out of scope",
                "The legal basis needs a consent recorded by your organisation (POST /v1/consents) that is not withdrawn, valid today, for this person, purpose, recipient type and every data category sent, and given by the person and/or guardians as the catalog requires. Nothing was sent.",
            ),
            Self::AttestationMissing => (
                "attestation-missing",
                S::UNPROCESSABLE_ENTITY,
                "Attestation missing",
                "The legal basis requires the sender to attest statements (legalBasis.attestation) that are missing, or the message attests statements the basis does not know. Nothing was sent.",
            ),
            Self::FieldsNotMinimal => (
                "fields-not-minimal",
                S::UNPROCESSABLE_ENTITY,
                "Fields not allowed or missing under this legal basis",
                "The payload carries fields the legal basis does not allow, or lacks fields it requires (GET /v1/legal-bases lists both). The gateway refuses rather than strips. Nothing was sent.",
            ),
            Self::IdentifyingText => (
                "identifying-text",
                S::UNPROCESSABLE_ENTITY,
                "Anonymised message contains identifying data",
                "A text field of an anonymised message holds an identifier (a national ID number, phone number, e-mail address, date, week number, class marker, given name or place name, also when obfuscated), or its referring unit is not a municipality; `errors` names the field and, in `found`, the class, never the text. Nothing was sent.",
            ),
            Self::IdempotencyConflict => (
                "idempotency-conflict",
                S::CONFLICT,
                "Message id already used for another message",
                "Your organisation already posted a message with this id and a different body. Choose a new id (ids are your organisation's own: another organisation's ids never conflict with yours).",
            ),
            Self::NotFound => (
                "not-found",
                S::NOT_FOUND,
                "Not found",
                "No such resource, or none your organisation may see (messages and consents are visible only to the organisation that sent or recorded them).",
            ),
            Self::BrokerUnavailable => (
                "broker-unavailable",
                S::SERVICE_UNAVAILABLE,
                "Message not yet accepted",
                "The broker did not confirm the message. It is recorded and the gateway keeps trying to route it; repeat the same request (same id, same body) to learn the outcome, or read its status.",
            ),
            Self::StoreUnavailable => (
                "store-unavailable",
                S::SERVICE_UNAVAILABLE,
                "Database unavailable",
                "The gateway's database could not be reached, so the request could not be carried out. Repeat the same request (same id, same body) after Retry-After: if it was recorded before the database went away, the repeat finds it; nothing is recorded twice.",
            ),
            Self::Overloaded => (
                "overloaded",
                S::SERVICE_UNAVAILABLE,
                "Gateway busy",
                "The gateway is handling as many requests as it takes at once (`http.max_in_flight`), so this one was not read. Nothing was recorded. Repeat the same request after Retry-After.",
            ),
            Self::NotReady => (
                "not-ready",
                S::SERVICE_UNAVAILABLE,
                "Gateway not ready",
                "The database or the broker is not reachable.",
            ),
            Self::Internal => (
                "internal",
                S::INTERNAL_SERVER_ERROR,
                "Internal error",
                "The gateway failed; the incident is logged with this response's trace id.",
            ),
        }
    }

    /// The stable `type` URI reference.
    pub fn uri(self) -> String {
        format!("/problems/{}", self.describe().0)
    }
}

/// A problem answer.
#[derive(Debug, Clone)]
pub struct Problem {
    pub kind: ProblemType,
    pub detail: String,
    pub errors: Vec<FieldError>,
    pub retry_after_secs: Option<u32>,
    /// The language of `detail` and the errors' texts, when not English.
    pub language: Option<&'static str>,
}

impl Problem {
    /// A problem of `kind` with a value-free `detail`.
    pub fn new(kind: ProblemType, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after_secs: None,
            language: None,
        }
    }

    /// The problem for a body that is not JSON or breaks the contract of `what` (a
    /// message, a consent): positions and pointers, never values.
    pub fn of_parse(error: ParseError, what: &str) -> Self {
        match error {
            ParseError::Malformed { line, column } => Self::new(
                ProblemType::MalformedJson,
                format!("the body is not JSON (line {line}, column {column})"),
            ),
            ParseError::Invalid(errors) => Self::new(
                ProblemType::InvalidMessage,
                format!("{} field(s) break the {what} contract", errors.len()),
            )
            .with_errors(errors),
        }
    }

    /// The same problem, listing field errors.
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    /// The same problem, telling the client when to try again.
    pub fn retry_after(mut self, secs: u32) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }
}

#[derive(Serialize)]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    type_: String,
    title: &'static str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    errors: &'a [FieldError],
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let (_, status, title, _) = self.kind.describe();
        let body = ProblemBody {
            type_: self.kind.uri(),
            title,
            status: status.as_u16(),
            detail: &self.detail,
            errors: &self.errors,
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.kind == ProblemType::Unauthenticated {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(lang) = self.language {
            headers.insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(lang));
        }
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

#[derive(Serialize)]
struct ProblemDoc {
    #[serde(rename = "type")]
    type_: String,
    status: u16,
    title: &'static str,
    description: &'static str,
}

/// `GET /problems`: every problem type and its meaning.
pub async fn list() -> Json<Vec<serde_json::Value>> {
    Json(
        ProblemType::ALL
            .iter()
            .map(|p| serde_json::to_value(doc(*p)).expect("serialisable"))
            .collect(),
    )
}

/// `GET /problems/{slug}`: one problem type and its meaning.
pub async fn show(axum::extract::Path(slug): axum::extract::Path<String>) -> Response {
    match ProblemType::ALL.iter().find(|p| p.describe().0 == slug) {
        Some(p) => Json(doc(*p)).into_response(),
        None => Problem::new(ProblemType::NotFound, "no such problem type").into_response(),
    }
}

fn doc(p: ProblemType) -> ProblemDoc {
    let (_, status, title, description) = p.describe();
    ProblemDoc {
        type_: p.uri(),
        status: status.as_u16(),
        title,
        description,
    }
}
