//! Test harness: a gateway (and, on request, its adapters) per test, isolated by its own
//! broker name prefix, its own database and port, against the real RabbitMQ.

mod api;
mod broker;
pub mod browser;
mod examples;
pub mod fiks;
mod harness;
mod inbox;
mod load;
pub mod processes;
pub mod python;
mod queues;
pub mod tls;

pub use broker::*;
pub use examples::*;
pub use harness::*;
pub use inbox::*;
pub use load::*;
pub use queues::*;

use serde_json::Value;
use std::path::{Path, PathBuf};

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A fresh temporary folder.
pub fn temp_dir() -> PathBuf {
    std::env::temp_dir().join(format!("e2e-{}", uuid::Uuid::new_v4().simple()))
}

/// Asserts a problem answer and returns its body.
pub async fn problem(response: reqwest::Response, status: u16, slug: &str) -> Value {
    assert_eq!(response.status(), status, "expected {slug}");
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], format!("/problems/{slug}"));
    assert_eq!(body["status"], status);
    body
}
