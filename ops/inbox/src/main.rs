//! Development only: a reference agency inbox (`schemas/inbox.openapi.yaml`), as a police
//! contact or an SSPF/SIG coordinator would run one. `ops/run` starts one per inbox of the
//! development directory, so that every example flow visibly delivers.
//!
//! `POST /inbox` takes a referral: `Idempotency-Key` required (the message id), the body
//! must be a `Referral` whose `messageId` is that key; a new one is answered 201, a repeat
//! 200 without acting on it again, anything else 400. `POST /inbox/withdrawals` notes a
//! withdrawal (200). `GET /received` shows what arrived (dev data only: the examples).

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use clap::Parser;
use contract::message::RoutedMessage;
use contract::render::JOSE;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Parser)]
#[command(
    name = "reference-inbox",
    about = "A reference agency inbox (development only)"
)]
struct Cli {
    /// Where to listen, e.g. 127.0.0.1:9101.
    #[arg(long)]
    listen: std::net::SocketAddr,
}

/// What the inbox received: referrals by message id, and withdrawals.
#[derive(Default)]
struct Received {
    referrals: BTreeMap<String, serde_json::Value>,
    withdrawn: Vec<String>,
}

type Shared = Arc<Mutex<Received>>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Withdrawal {
    message_id: String,
    consent_withdrawn: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let app = Router::new()
        .route("/inbox", post(referral))
        .route("/inbox/withdrawals", post(withdrawal))
        .route("/received", get(received))
        .with_state(Shared::default());
    let listener = tokio::net::TcpListener::bind(cli.listen).await?;
    println!("reference inbox on http://{}/inbox", cli.listen);
    axum::serve(listener, app).await?;
    Ok(())
}

fn key(headers: &HeaderMap) -> Option<String> {
    let key = headers.get("idempotency-key")?.to_str().ok()?;
    (!key.is_empty() && key.len() <= 64).then(|| key.to_owned())
}

async fn referral(State(inbox): State<Shared>, headers: HeaderMap, body: String) -> StatusCode {
    let Some(key) = key(&headers) else {
        return StatusCode::BAD_REQUEST;
    };
    // Sealed for this inbox (a JWE, `application/jose`): kept as it came, for its owner to
    // open with `gateway unseal`.
    let sealed = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|t| t.as_bytes().starts_with(JOSE.as_bytes()));
    let stored = if sealed {
        serde_json::json!({ "messageId": key, "sealed": body.trim() })
    } else {
        let Ok(referral) = serde_json::from_str::<RoutedMessage>(&body) else {
            return StatusCode::BAD_REQUEST;
        };
        if referral.message_id.to_string() != key {
            return StatusCode::BAD_REQUEST;
        }
        serde_json::to_value(&referral).expect("a referral serialises")
    };
    let mut inbox = inbox.lock().expect("inbox lock");
    if inbox.referrals.contains_key(&key) {
        return StatusCode::OK;
    }
    inbox.referrals.insert(key, stored);
    StatusCode::CREATED
}

async fn withdrawal(State(inbox): State<Shared>, headers: HeaderMap, body: String) -> StatusCode {
    let Ok(w) = serde_json::from_str::<Withdrawal>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    if !w.consent_withdrawn || key(&headers) != Some(format!("{}:withdrawn", w.message_id)) {
        return StatusCode::BAD_REQUEST;
    }
    let mut inbox = inbox.lock().expect("inbox lock");
    if !inbox.withdrawn.contains(&w.message_id) {
        inbox.withdrawn.push(w.message_id);
    }
    StatusCode::OK
}

async fn received(State(inbox): State<Shared>) -> Json<serde_json::Value> {
    let inbox = inbox.lock().expect("inbox lock");
    Json(serde_json::json!({
        "referrals": inbox.referrals.values().collect::<Vec<_>>(),
        "withdrawn": inbox.withdrawn,
    }))
}
