//! Errors as `application/problem+json` (RFC 9457), each with a stable type.
//!
//! A problem's `type` is `/problems/<slug>`; `GET /problems` lists them all with their
//! meaning. Problem texts carry field names, rule names and ids, never field values.

use crate::parse::{FieldError, ParseError};
use crate::record::StoreError;
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

/// What a problem type is: its slug, HTTP status, title and what it means for the client.
#[derive(Debug)]
pub struct Spec {
    pub kind: ProblemType,
    pub slug: &'static str,
    pub status: StatusCode,
    pub title: &'static str,
    pub description: &'static str,
}

/// Every problem type, in the enum's order (checked when compiling): the one place a
/// problem is described, for the answers, `GET /problems` and the OpenAPI document.
pub const PROBLEMS: [Spec; ProblemType::Internal as usize + 1] = {
    use ProblemType as P;
    use StatusCode as S;
    [
        Spec {
            kind: P::MalformedJson,
            slug: "malformed-json",
            status: S::BAD_REQUEST,
            title: "Body is not JSON",
            description: "The body could not be parsed as JSON. Nothing was recorded.",
        },
        Spec {
            kind: P::BadRequest,
            slug: "bad-request",
            status: S::BAD_REQUEST,
            title: "Request not understood",
            description: "The path or the query parameters could not be read (an unknown parameter, a value of the wrong type). Nothing was recorded.",
        },
        Spec {
            kind: P::MethodNotAllowed,
            slug: "method-not-allowed",
            status: S::METHOD_NOT_ALLOWED,
            title: "Method not allowed",
            description: "The resource exists but does not take this method; `Allow` lists those it takes. Nothing was recorded.",
        },
        Spec {
            kind: P::UnsupportedMediaType,
            slug: "unsupported-media-type",
            status: S::UNSUPPORTED_MEDIA_TYPE,
            title: "Content-Type must be application/json",
            description: "Send the message as application/json. Nothing was recorded.",
        },
        Spec {
            kind: P::BodyTooLarge,
            slug: "body-too-large",
            status: S::PAYLOAD_TOO_LARGE,
            title: "Body too large",
            description: "The body exceeds the gateway's size limit. Nothing was recorded.",
        },
        Spec {
            kind: P::HeadersTooLarge,
            slug: "headers-too-large",
            status: S::REQUEST_HEADER_FIELDS_TOO_LARGE,
            title: "Headers too large",
            description: "The request's headers exceed the gateway's limit (`http.max_header_bytes`, 16 KiB by default), or its bearer token exceeds 8 KiB. Nothing was read.",
        },
        Spec {
            kind: P::BodyTimeout,
            slug: "body-timeout",
            status: S::REQUEST_TIMEOUT,
            title: "Body too slow",
            description: "The body did not arrive in full within the gateway's time limit (`http.body_timeout_ms`). Nothing was recorded.",
        },
        Spec {
            kind: P::InvalidMessage,
            slug: "invalid-message",
            status: S::UNPROCESSABLE_ENTITY,
            title: "Message does not fit its contract",
            description: "The message breaks the envelope schema or its kind's schema; `errors` names each field and rule. Nothing was recorded.",
        },
        Spec {
            kind: P::Unauthenticated,
            slug: "unauthenticated",
            status: S::UNAUTHORIZED,
            title: "Bearer token missing or not valid",
            description: "Send a valid, unexpired bearer token from the configured issuer, for this gateway's audience, signed with the pinned algorithm.",
        },
        Spec {
            kind: P::Forbidden,
            slug: "forbidden",
            status: S::FORBIDDEN,
            title: "Not for this token",
            description: "The request needs a scope the token does not carry (a disclosure report: the data protection officer's scope, `auth.dpo_scope`, or the operator-wide `auth.dpo_all_scope`; a Maskinporten token: the issuer's send or read scope). Nothing was looked up.",
        },
        Spec {
            kind: P::UnknownOrganisation,
            slug: "unknown-organisation",
            status: S::FORBIDDEN,
            title: "Organisation not in the agency directory",
            description: "The token's organisation is not an agency of the directory.",
        },
        Spec {
            kind: P::ActingAgency,
            slug: "acting-agency",
            status: S::FORBIDDEN,
            title: "Acting agency not named, or not under the organisation",
            description: "The token names an organisation number that covers several agencies of the directory, or not the one named: name the acting agency's id in the `X-Acting-Agency` header; `detail` lists the ids the number covers.",
        },
        Spec {
            kind: P::SenderMismatch,
            slug: "sender-mismatch",
            status: S::FORBIDDEN,
            title: "Message claims another organisation",
            description: "An organisation named in the message is not the token's organisation. Nothing was recorded.",
        },
        Spec {
            kind: P::UnknownRecipient,
            slug: "unknown-recipient",
            status: S::UNPROCESSABLE_ENTITY,
            title: "Recipient not in the agency directory",
            description: "The recipient is not an agency of the directory, or it receives no messages. Nothing was recorded.",
        },
        Spec {
            kind: P::RecipientMismatch,
            slug: "recipient-mismatch",
            status: S::UNPROCESSABLE_ENTITY,
            title: "Recipient does not fit the message",
            description: "The recipient cannot take this message: each kind goes only to the agency types it names (a bekymringsmelding to barnevern or its barnevernvakt, a politikontakt referral to the police, an SSPF/SIG request to the coordinator or the group), and a bekymringsmelding only to the barnevern of the child's municipality. Nothing was recorded.",
        },
        Spec {
            kind: P::CrossBorder,
            slug: "cross-border",
            status: S::UNPROCESSABLE_ENTITY,
            title: "Sender, recipient and legal basis in different countries",
            description: "One message, one jurisdiction: the sender, the recipient, the message kind and the legal basis must all belong to the same country unless the catalog declares the basis for cross-border use (none does). Nothing was recorded.",
        },
        Spec {
            kind: P::LegalBasisUnknown,
            slug: "legal-basis-unknown",
            status: S::UNPROCESSABLE_ENTITY,
            title: "Unknown legal basis",
            description: "The legal-basis tag is not in the catalog (GET /v1/legal-bases), or is no longer used (`replacedBy` names the tags that replace it). Nothing was recorded.",
        },
        Spec {
            kind: P::LegalBasisNotInForce,
            slug: "legal-basis-not-in-force",
            status: S::UNPROCESSABLE_ENTITY,
            title: "Legal basis not in force",
            description: "The catalog marks this legal basis as proposed or disabled. Nothing was recorded.",
        },
        Spec {
            kind: P::LegalBasisNotApplicable,
            slug: "legal-basis-not-applicable",
            status: S::UNPROCESSABLE_ENTITY,
            title: "Legal basis does not cover this message",
            description: "The legal basis does not serve this message kind, this sender's agency type or this recipient's agency type. Nothing was recorded.",
        },
        Spec {
            kind: P::SubjectNotCovered,
            slug: "subject-not-covered",
            status: S::UNPROCESSABLE_ENTITY,
            title: "Legal basis does not cover this person",
            description: "The person is older than the legal basis allows, is unborn where it does not cover the unborn, no birth date in the past can be read, or a weaker claim (an age, a birth date, an unborn flag) disagrees with a national ID or birth date in the same message. Nothing was sent.",
        },
        Spec {
            kind: P::ConsentNotValid,
            slug: "consent-not-valid",
            status: S::UNPROCESSABLE_ENTITY,
            title: "Consent missing, not valid or out of scope",
            description: "The legal basis needs a consent recorded by your organisation (POST /v1/consents) that is not withdrawn, valid today, for this person, purpose, recipient type and every data category sent, and given by the person and/or guardians as the catalog requires. Nothing was sent.",
        },
        Spec {
            kind: P::AttestationMissing,
            slug: "attestation-missing",
            status: S::UNPROCESSABLE_ENTITY,
            title: "Attestation missing",
            description: "The legal basis requires the sender to attest statements (legalBasis.attestation) that are missing, or the message attests statements the basis does not know. Nothing was sent.",
        },
        Spec {
            kind: P::FieldsNotMinimal,
            slug: "fields-not-minimal",
            status: S::UNPROCESSABLE_ENTITY,
            title: "Fields not allowed or missing under this legal basis",
            description: "The payload carries fields the legal basis does not allow, or lacks fields it requires (GET /v1/legal-bases lists both). The gateway refuses rather than strips. Nothing was sent.",
        },
        Spec {
            kind: P::IdentifyingText,
            slug: "identifying-text",
            status: S::UNPROCESSABLE_ENTITY,
            title: "Anonymised message contains identifying data",
            description: "A text field of an anonymised message holds an identifier (a national ID number, phone number, e-mail address, date, week number, class marker, given name or place name, also when obfuscated), or its referring unit is not a municipality; `errors` names the field and, in `found`, the class, never the text. Nothing was sent.",
        },
        Spec {
            kind: P::IdempotencyConflict,
            slug: "idempotency-conflict",
            status: S::CONFLICT,
            title: "Message id already used for another message",
            description: "Your organisation already posted a message with this id and a different body. Choose a new id (ids are your organisation's own: another organisation's ids never conflict with yours).",
        },
        Spec {
            kind: P::NotFound,
            slug: "not-found",
            status: S::NOT_FOUND,
            title: "Not found",
            description: "No such resource, or none your organisation may see (messages and consents are visible only to the organisation that sent or recorded them).",
        },
        Spec {
            kind: P::BrokerUnavailable,
            slug: "broker-unavailable",
            status: S::SERVICE_UNAVAILABLE,
            title: "Message not yet accepted",
            description: "The broker did not confirm the message. It is recorded and the gateway keeps trying to route it; repeat the same request (same id, same body) to learn the outcome, or read its status.",
        },
        Spec {
            kind: P::StoreUnavailable,
            slug: "store-unavailable",
            status: S::SERVICE_UNAVAILABLE,
            title: "Database unavailable",
            description: "The gateway's database could not be reached, so the request could not be carried out. Repeat the same request (same id, same body) after Retry-After: if it was recorded before the database went away, the repeat finds it; nothing is recorded twice.",
        },
        Spec {
            kind: P::Overloaded,
            slug: "overloaded",
            status: S::SERVICE_UNAVAILABLE,
            title: "Gateway busy",
            description: "The gateway is handling as many requests as it takes at once (`http.max_in_flight`), so this one was not read. Nothing was recorded. Repeat the same request after Retry-After.",
        },
        Spec {
            kind: P::NotReady,
            slug: "not-ready",
            status: S::SERVICE_UNAVAILABLE,
            title: "Gateway not ready",
            description: "The database or the broker is not reachable.",
        },
        Spec {
            kind: P::Internal,
            slug: "internal",
            status: S::INTERNAL_SERVER_ERROR,
            title: "Internal error",
            description: "The gateway failed; the incident is logged with this response's trace id.",
        },
    ]
};

const _: () = {
    let mut i = 0;
    while i < PROBLEMS.len() {
        assert!(
            PROBLEMS[i].kind as usize == i,
            "PROBLEMS is in the enum's order"
        );
        i += 1;
    }
};

impl ProblemType {
    /// What this problem type is.
    pub fn spec(self) -> &'static Spec {
        &PROBLEMS[self as usize]
    }

    /// The stable `type` URI reference.
    pub fn uri(self) -> String {
        format!("/problems/{}", self.spec().slug)
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
        let Spec { status, title, .. } = *self.kind.spec();
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

/// A problem type as `GET /problems` lists it.
#[derive(Serialize)]
pub struct ProblemDoc {
    #[serde(rename = "type")]
    type_: String,
    status: u16,
    title: &'static str,
    description: &'static str,
}

/// `GET /problems`: every problem type and its meaning.
pub async fn list() -> Json<Vec<ProblemDoc>> {
    Json(PROBLEMS.iter().map(doc).collect())
}

/// `GET /problems/{slug}`: one problem type and its meaning.
pub async fn show(axum::extract::Path(slug): axum::extract::Path<String>) -> Response {
    match PROBLEMS.iter().find(|p| p.slug == slug) {
        Some(spec) => Json(doc(spec)).into_response(),
        None => Problem::new(ProblemType::NotFound, "no such problem type").into_response(),
    }
}

fn doc(spec: &Spec) -> ProblemDoc {
    ProblemDoc {
        type_: spec.kind.uri(),
        status: spec.status.as_u16(),
        title: spec.title,
        description: spec.description,
    }
}

/// Seconds a client is told to wait before repeating a request the broker or the database
/// did not carry out.
pub const RETRY_AFTER_SECS: u32 = 5;

/// A database failure: `503 store-unavailable` (try again) if the database could not be
/// reached, else `500 internal`.
impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Self {
        if error.is_unavailable() {
            tracing::warn!(%error, "database unavailable");
            return Problem::new(
                ProblemType::StoreUnavailable,
                "the gateway's database did not answer",
            )
            .retry_after(RETRY_AFTER_SECS);
        }
        tracing::error!(%error, "database failure");
        Problem::new(
            ProblemType::Internal,
            "the gateway could not carry out the request",
        )
    }
}
