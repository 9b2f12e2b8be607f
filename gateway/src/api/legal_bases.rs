//! `GET /v1/legal-bases` and `GET /v1/legal-bases/{tag}`: the catalog, read-only, with each
//! basis' field profiles (allowed and required fields per kind), and the data categories
//! consent is given for, the agency types each kind may go to with its deadlines (each with
//! the statute that sets it, or saying it is an operational target) and the data categories
//! about the guardians (which only their consent covers), and the tags no longer
//! used, so a sending system can build its forms from it.

use super::AppState;
use super::problem::{Problem, ProblemType};
use crate::catalog::Basis;
use axum::Json;
use axum::extract::{Path, State};
use contract::message::Kind;
use std::sync::Arc;

/// Every basis, and the data categories of every kind.
pub async fn list(State(app): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let categories: serde_json::Map<String, serde_json::Value> = Kind::ALL
        .iter()
        .map(|k| {
            (
                k.as_str().to_owned(),
                serde_json::json!(app.shared.catalog.category_names(*k)),
            )
        })
        .collect();
    let kinds: serde_json::Map<String, serde_json::Value> = Kind::ALL
        .iter()
        .map(|k| {
            let mut rule =
                serde_json::to_value(app.shared.catalog.kind(*k)).expect("a kind serialises");
            rule["deadlines"] = serde_json::json!(app.deadlines.listed(*k));
            rule["guardians_data"] = serde_json::json!(app.shared.catalog.guardians_data(*k));
            (k.as_str().to_owned(), rule)
        })
        .collect();
    Json(serde_json::json!({
        "bases": app.shared.catalog.bases().into_iter().map(view).collect::<Vec<_>>(),
        "aliases": app.shared.catalog.aliases(),
        "kinds": kinds,
        "categories": categories,
    }))
}

/// One basis.
pub async fn show(
    State(app): State<Arc<AppState>>,
    Path(tag): Path<String>,
) -> Result<Json<serde_json::Value>, Problem> {
    app.shared
        .catalog
        .get(&tag)
        .map(|b| Json(view(b)))
        .ok_or_else(|| Problem::new(ProblemType::NotFound, "no legal basis with this tag"))
}

fn view(basis: &Basis) -> serde_json::Value {
    let mut value = serde_json::to_value(basis).expect("a basis serialises");
    value["fields"] = basis
        .fields
        .iter()
        .map(|(kind, profile)| {
            (
                kind.as_str().to_owned(),
                serde_json::to_value(&**profile).expect("a profile serialises"),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    value
}
