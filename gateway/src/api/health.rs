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
    let database = app.store.ping().await.is_ok();
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
