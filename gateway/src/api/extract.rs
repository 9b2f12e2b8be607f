//! What a handler takes from a request, as extractors: the caller allowed what the route
//! needs ([`Authorized`]), the JSON body within the limits ([`JsonBody`]), and the reader's
//! language ([`Language`]). Each refuses with its own problem.

use super::AppState;
use super::body::read_json;
use super::problem::Problem;
use super::problem::ProblemType;
use crate::authenticate::certificate::Peer;
use crate::authenticate::{ACTING_AGENCY, AuthError, Caller, Need};
use crate::decide::Lang;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::HeaderMap;
use axum::http::header::ACCEPT_LANGUAGE;
use axum::http::request::Parts;
use std::convert::Infallible;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

/// What a route needs a caller's grants to allow, as a type.
pub trait Scope {
    const NEED: Need;
}

/// Sending messages and recording or withdrawing consents.
pub struct ToSend;
/// Reading the caller's own messages and consents.
pub struct ToRead;
/// A data protection officer's disclosure report.
pub struct ToReport;
/// An operator's console and dead letters.
pub struct ToOperate;

impl Scope for ToSend {
    const NEED: Need = Need::Send;
}
impl Scope for ToRead {
    const NEED: Need = Need::Read;
}
impl Scope for ToReport {
    const NEED: Need = Need::DisclosureReport;
}
impl Scope for ToOperate {
    const NEED: Need = Need::Operate;
}

/// The caller named by the request's bearer token or organisation certificate, whose
/// grants allow what `S` needs.
pub struct Authorized<S>(pub Caller, PhantomData<S>);

impl<S> Deref for Authorized<S> {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.0
    }
}

impl<S: Scope> FromRequestParts<Arc<AppState>> for Authorized<S> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<AppState>) -> Result<Self, Problem> {
        let Ok(peer) = Peer::from_request_parts(parts, app).await;
        let caller = caller(app, &parts.headers, &peer, S::NEED).await?;
        Ok(Self(caller, PhantomData))
    }
}

/// A JSON body read within `http.body_limit_bytes` and `http.body_timeout_ms`
/// ([`read_json`]).
pub struct JsonBody(pub Bytes);

impl FromRequest<Arc<AppState>> for JsonBody {
    type Rejection = Problem;

    async fn from_request(request: Request, app: &Arc<AppState>) -> Result<Self, Problem> {
        let (parts, body) = request.into_parts();
        read_json(&parts.headers, body, app.body_limits)
            .await
            .map(Self)
    }
}

/// The language the request asks for (`Accept-Language`).
pub struct Language(pub Lang);

impl<S: Send + Sync> FromRequestParts<S> for Language {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let header = parts.headers.get(ACCEPT_LANGUAGE);
        Ok(Self(Lang::negotiate(header.and_then(|v| v.to_str().ok()))))
    }
}

/// The caller named by the request's bearer token (and, for a token naming an
/// organisation number, its `X-Acting-Agency` header), or without a token by the
/// connection's organisation certificate, if its grants allow `need`.
async fn caller(
    app: &AppState,
    headers: &HeaderMap,
    peer: &Peer,
    need: Need,
) -> Result<Caller, Problem> {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let caller = app
        .auth
        .authenticate(
            header(axum::http::header::AUTHORIZATION.as_str()),
            header(ACTING_AGENCY),
            peer,
        )
        .await
        .map_err(|e| {
            tracing::info!(reason = %e, "request not authenticated");
            let kind = match e {
                AuthError::TooLarge => ProblemType::HeadersTooLarge,
                AuthError::UnknownOrganisation => ProblemType::UnknownOrganisation,
                AuthError::ActingAgency(_) => ProblemType::ActingAgency,
                _ => ProblemType::Unauthenticated,
            };
            Problem::new(kind, e.to_string())
        })?;
    if !caller.grants.allow(need) {
        tracing::info!(organisation = %caller.agency.id, ?need, "refused: the token's scopes do not allow it");
        return Err(Problem::new(
            ProblemType::Forbidden,
            "the token's scopes do not allow this request",
        ));
    }
    Ok(caller)
}
