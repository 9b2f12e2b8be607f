//! Every operation of the HTTP API, once: the router serves exactly these, and the OpenAPI
//! document ([`super::openapi`]) describes exactly these, so neither can have a route the
//! other lacks.

use axum::http::Method;

/// One method on one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, strum::EnumIter)]
pub enum Operation {
    SendMessage,
    ListMessages,
    ValidateMessage,
    MessageStatus,
    RecordConsent,
    ShowConsent,
    WithdrawConsent,
    DisclosureReport,
    ListLegalBases,
    ShowLegalBasis,
    Metrics,
    Live,
    Ready,
    ListProblems,
    ShowProblem,
    Document,
    OperatorOverview,
    ListDeadLetters,
    ReplayDeadLetter,
    DiscardDeadLetter,
    Console,
    ConsoleAsset,
}

impl Operation {
    /// Its method and path (axum's `{name}` for a path parameter, as OpenAPI's).
    pub fn route(self) -> (Method, &'static str) {
        use Operation as O;
        match self {
            O::SendMessage => (Method::POST, "/v1/messages"),
            O::ListMessages => (Method::GET, "/v1/messages"),
            O::ValidateMessage => (Method::POST, "/v1/messages/validate"),
            O::MessageStatus => (Method::GET, "/v1/messages/{id}"),
            O::RecordConsent => (Method::POST, "/v1/consents"),
            O::ShowConsent => (Method::GET, "/v1/consents/{id}"),
            O::WithdrawConsent => (Method::POST, "/v1/consents/{id}/withdraw"),
            O::DisclosureReport => (Method::POST, "/v1/disclosures"),
            O::ListLegalBases => (Method::GET, "/v1/legal-bases"),
            O::ShowLegalBasis => (Method::GET, "/v1/legal-bases/{tag}"),
            O::Metrics => (Method::GET, "/metrics"),
            O::Live => (Method::GET, "/healthz"),
            O::Ready => (Method::GET, "/readyz"),
            O::ListProblems => (Method::GET, "/problems"),
            O::ShowProblem => (Method::GET, "/problems/{slug}"),
            O::Document => (Method::GET, "/openapi.json"),
            O::OperatorOverview => (Method::GET, "/v1/operator/overview"),
            O::ListDeadLetters => (Method::GET, "/v1/operator/dead-letters"),
            O::ReplayDeadLetter => (
                Method::POST,
                "/v1/operator/dead-letters/{transport}/{id}/replay",
            ),
            O::DiscardDeadLetter => (
                Method::POST,
                "/v1/operator/dead-letters/{transport}/{id}/discard",
            ),
            O::Console => (Method::GET, "/console"),
            O::ConsoleAsset => (Method::GET, "/console/{asset}"),
        }
    }

    /// Whether it is of the API proper (under `/v1`): shed under load. Health, metrics
    /// and the descriptions always answer.
    pub fn is_api(self) -> bool {
        self.route().1.starts_with("/v1/")
    }
}
