//! Liveness and readiness.

use super::AppState;
use super::problem::{Problem, ProblemType};
use axum::Json;
use axum::extract::State;
use std::sync::Arc;

/// `GET /healthz`: the process answers.
pub async fn live() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// `GET /readyz`: the database and the broker both answer.
pub async fn ready(State(app): State<Arc<AppState>>) -> Result<Json<serde_json::Value>, Problem> {
    let database = app.shared.store.ping().await.is_ok();
    let broker = app.link.channel().await.is_some();
    if database && broker {
        Ok(Json(serde_json::json!({ "status": "ready" })))
    } else {
        Err(Problem::new(
            ProblemType::NotReady,
            format!("database reachable: {database}; broker reachable: {broker}"),
        ))
    }
}

/// `GET /metrics`: Prometheus exposition.
pub async fn metrics(
    State(app): State<Arc<AppState>>,
) -> Result<([(axum::http::HeaderName, &'static str); 1], String), Problem> {
    let mut scraped = crate::metrics::Scraped::default();
    let now = app.shared.clock.now();
    let store = app.shared.store.as_ref();
    for (view, missed) in app.deadlines.overdue(store, None, now).await? {
        for missed in missed {
            *scraped
                .overdue
                .entry((view.kind.as_str().to_owned(), missed.as_str().to_owned()))
                .or_insert(0) += 1;
        }
    }
    scraped.accepted = store.accepted_counts().await?;
    scraped.outbox = store.outbox_depth().await?;
    scraped.dead_letters = app.watch.dead_letter_depths().await;
    scraped.certificates = app.watch.certificates_expire();
    let text = app.shared.metrics.render(&scraped);
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            contract::plumbing::metrics::CONTENT_TYPE,
        )],
        text,
    ))
}
