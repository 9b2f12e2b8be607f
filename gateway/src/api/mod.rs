//! The HTTP API: routes, shared state, request logging.

pub mod body;
mod consents;
mod disclosures;
mod explain;
mod extract;
mod health;
mod legal_bases;
mod messages;
pub mod openapi;
mod operations;
mod operator;
pub mod problem;

use crate::authenticate::Authenticator;
use crate::intake::{Consents, Intake, Shared};
use axum::Router;
use axum::extract::{MatchedPath, Request, State};

use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{MethodRouter, get, post};
use contract::plumbing::broker::BrokerLink;
use operations::Operation;
use problem::{Problem, ProblemType};
use std::sync::Arc;
use std::time::Instant;
use strum::IntoEnumIterator;
use tokio::sync::Semaphore;

/// Everything a request handler needs.
pub struct AppState {
    pub auth: Authenticator,
    /// The parts the use cases and the read-only handlers share.
    pub shared: Shared,
    /// The use case of a message's path.
    pub intake: Intake,
    /// The use case of the consent registry.
    pub consents: Consents,
    pub link: Arc<BrokerLink>,
    pub body_limits: body::BodyLimits,
    /// The turns of requests of the API handled at once (`http.max_in_flight`).
    pub in_flight: Arc<Semaphore>,
    pub deadlines: crate::deadlines::DeadlinesConfig,
    /// Bytes of a request's headers at most (`http.max_header_bytes`).
    pub max_header_bytes: usize,
    /// The OpenAPI document of these routes ([`openapi::document`]).
    pub openapi: Arc<serde_json::Value>,
    /// What the operator console looks at beyond the store.
    pub watch: crate::operate::overview::Watch,
}

/// The gateway's routes: every [`Operation`], the API's shed under load.
pub fn router(state: Arc<AppState>) -> Router {
    let (mut api, mut open) = (Router::new(), Router::new());
    for operation in Operation::iter() {
        let (_, path) = operation.route();
        if operation.is_api() {
            api = api.route(path, handler(operation));
        } else {
            open = open.route(path, handler(operation));
        }
    }
    let api = api.route_layer(axum::middleware::from_fn_with_state(state.clone(), shed));
    Router::new()
        .merge(api)
        .merge(open)
        .fallback(|| async { Problem::new(ProblemType::NotFound, "no such resource") })
        .layer(axum::middleware::map_response(problems_only))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            bounded_headers,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            log_request,
        ))
        .with_state(state)
}

/// The handler of an operation.
fn handler(operation: Operation) -> MethodRouter<Arc<AppState>> {
    use Operation as O;
    match operation {
        O::SendMessage => post(messages::post),
        O::ListMessages => get(messages::list),
        O::ValidateMessage => post(messages::validate),
        O::MessageStatus => get(messages::get),
        O::RecordConsent => post(consents::post),
        O::ShowConsent => get(consents::get),
        O::WithdrawConsent => post(consents::withdraw),
        O::DisclosureReport => post(disclosures::post),
        O::ListLegalBases => get(legal_bases::list),
        O::ShowLegalBasis => get(legal_bases::show),
        O::Metrics => get(health::metrics),
        O::Live => get(health::live),
        O::Ready => get(health::ready),
        O::ListProblems => get(problem::list),
        O::ShowProblem => get(problem::show),
        O::OperatorOverview => get(operator::overview),
        O::ListDeadLetters => get(operator::dead_letters),
        O::ReplayDeadLetter => post(operator::replay),
        O::DiscardDeadLetter => post(operator::discard),
        O::Console => get(operator::page),
        O::ConsoleAsset => get(operator::asset),
        O::Document => {
            get(|State(app): State<Arc<AppState>>| async move { axum::Json(app.openapi.clone()) })
        }
    }
}

/// Every error answer is `application/problem+json`: a rejection of the framework's own (a
/// path or query that cannot be read, a method the route does not take) becomes the
/// problem of its status, and its text, which may quote the request, is dropped.
async fn problems_only(response: Response) -> Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse;
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v == "application/problem+json");
    if is_problem || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let kind = match status {
        StatusCode::METHOD_NOT_ALLOWED => ProblemType::MethodNotAllowed,
        StatusCode::NOT_FOUND => ProblemType::NotFound,
        StatusCode::PAYLOAD_TOO_LARGE => ProblemType::BodyTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ProblemType::UnsupportedMediaType,
        s if s.is_client_error() => ProblemType::BadRequest,
        _ => ProblemType::Internal,
    };
    let mut problem = Problem::new(kind, kind.spec().title).into_response();
    if let Some(allow) = response.headers().get(header::ALLOW) {
        problem.headers_mut().insert(header::ALLOW, allow.clone());
    }
    problem
}

/// Sheds load: a request of the API beyond `http.max_in_flight` at once is answered `503
/// overloaded` before anything of it is read (its body stays in the socket), so that a surge
/// of clients cannot take the gateway's memory; the health and metrics routes always answer.
async fn shed(State(app): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    use axum::response::IntoResponse;
    let Ok(_turn) = app.in_flight.clone().try_acquire_owned() else {
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", MatchedPath::as_str);
        app.shared.metrics.count_shed(route);
        return Problem::new(
            ProblemType::Overloaded,
            "the gateway is handling as many requests as it takes at once",
        )
        .retry_after(1)
        .into_response();
    };
    next.run(request).await
}

/// Refuses a request whose headers (a bearer token among them) exceed
/// `http.max_header_bytes`, before anything else reads them.
async fn bounded_headers(
    State(app): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    use axum::response::IntoResponse;
    let size: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if size > app.max_header_bytes {
        return Problem::new(
            ProblemType::HeadersTooLarge,
            "the request's headers are larger than the gateway takes",
        )
        .into_response();
    }
    next.run(request).await
}

/// Logs each request (method, route, status, time: never its content) and times it by
/// route and status class.
async fn log_request(State(app): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let started = Instant::now();
    let response = next.run(request).await;
    let (status, took) = (response.status().as_u16(), started.elapsed());
    app.shared.metrics.time_request(&route, status, took);
    tracing::info!(
        %method,
        route,
        status,
        elapsed_ms = took.as_secs_f64() * 1000.0,
        "request"
    );
    response
}
