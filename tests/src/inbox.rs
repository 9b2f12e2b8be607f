//! A fake agency inbox and the dev directory pointed at it.

use crate::{repo, temp_dir};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// An agency's HTTP inbox, stood up on port 0: it records every request it answers
/// (path and JSON body) and answers with the statuses it is told to, then 200.
#[derive(Clone)]
pub struct FakeInbox {
    pub url: String,
    pub received: Arc<std::sync::Mutex<Vec<(String, Value)>>>,
    /// The `Authorization` header of each request received at the inbox.
    pub authorizations: Arc<std::sync::Mutex<Vec<Option<String>>>>,
    /// The `traceparent` of each request, in order.
    pub traceparents: Arc<std::sync::Mutex<Vec<Option<String>>>>,
    answers: Arc<std::sync::Mutex<std::collections::VecDeque<u16>>>,
}

/// An answer of a [`FakeInbox`] that never comes.
pub const HANG: u16 = 0;

/// An answer of a [`FakeInbox`] that is 200, after two seconds.
pub const SLOW: u16 = 1;

/// The access token the fake token endpoint (`<inbox>/token`) hands out.
pub const FAKE_TOKEN: &str = "inbox-token-1";

impl FakeInbox {
    /// Starts an inbox answering `answers` first, then 200; an answer of [`HANG`] never
    /// comes (the request is held until the client gives up), one of [`SLOW`] is late.
    pub async fn start(answers: &[u16]) -> Self {
        let inbox = Self::new(answers);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = inbox.app();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            url: format!("http://{addr}/inbox"),
            ..inbox
        }
    }

    /// Starts an inbox that answers 200, over HTTPS with `tls` (at `https://localhost:…`).
    pub async fn start_tls(tls: Arc<rustls::ServerConfig>) -> Self {
        let inbox = Self::new(&[]);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let config = axum_server::tls_rustls::RustlsConfig::from_config(tls);
        let server = axum_server::tls_rustls::from_tcp_rustls(listener, config).unwrap();
        let app = inbox.app();
        tokio::spawn(async move { server.serve(app.into_make_service()).await });
        Self {
            url: format!("https://localhost:{}/inbox", addr.port()),
            ..inbox
        }
    }

    fn new(answers: &[u16]) -> Self {
        Self {
            url: String::new(),
            received: Arc::default(),
            authorizations: Arc::default(),
            traceparents: Arc::default(),
            answers: Arc::new(std::sync::Mutex::new(answers.iter().copied().collect())),
        }
    }

    fn app(&self) -> axum::Router {
        let state = self.clone();
        axum::Router::new()
            .route(
                "/inbox/token",
                axum::routing::post(|| async {
                    axum::Json(serde_json::json!({"access_token": FAKE_TOKEN, "expires_in": 300}))
                }),
            )
            .fallback(
                move |uri: axum::http::Uri, headers: axum::http::HeaderMap, body: String| {
                    let state = state.clone();
                    async move {
                        let body = received_body(&headers, &body);
                        let status = state.answers.lock().unwrap().pop_front().unwrap_or(200);
                        let header = |name: &str| {
                            headers
                                .get(name)
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned)
                        };
                        state
                            .authorizations
                            .lock()
                            .unwrap()
                            .push(header("authorization"));
                        state
                            .traceparents
                            .lock()
                            .unwrap()
                            .push(header("traceparent"));
                        state
                            .received
                            .lock()
                            .unwrap()
                            .push((uri.path().to_owned(), body));
                        let status = match status {
                            HANG => {
                                tokio::time::sleep(Duration::from_secs(3600)).await;
                                status
                            }
                            SLOW => {
                                tokio::time::sleep(Duration::from_secs(2)).await;
                                200
                            }
                            _ => status,
                        };
                        axum::http::StatusCode::from_u16(status).unwrap()
                    }
                },
            )
    }

    /// The message ids of the bodies received at `path`.
    pub fn ids_at(&self, path: &str) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, b)| b["messageId"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// Waits up to `limit` until `path` received message `id`.
    pub async fn wait_for(&self, path: &str, id: &str, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            if self.ids_at(path).iter().any(|i| i == id) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    /// A copy of the dev directory, in `dir`, whose HTTP inboxes are this inbox.
    pub fn directory_in(&self, dir: &Path) -> PathBuf {
        dev_directory_with(
            dir,
            &[
                ("http://127.0.0.1:9101/inbox", &self.url),
                ("http://127.0.0.1:9102/inbox", &self.url),
                ("http://127.0.0.1:9103/inbox", &self.url),
            ],
        )
    }
}

/// What an inbox received: the JSON document, or, for a sealed one (a JWE), its
/// `Idempotency-Key` as `messageId` and the JWE as `sealed`.
fn received_body(headers: &axum::http::HeaderMap, body: &str) -> Value {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    match header("content-type") {
        contract::render::JOSE => {
            serde_json::json!({ "messageId": header("idempotency-key"), "sealed": body })
        }
        _ => serde_json::from_str(body).unwrap_or(Value::Null),
    }
}

/// A copy of the dev directory in `dir` with each `(from, to)` text replaced.
pub fn dev_directory_with(dir: &Path, edits: &[(&str, &str)]) -> PathBuf {
    let mut text = std::fs::read_to_string(repo().join("ops/config/directory.dev.toml")).unwrap();
    for (from, to) in edits {
        assert!(text.contains(from), "the dev directory has {from}");
        text = text.replace(from, to);
    }
    // The service on Fiks IO reaches ops/run's stand-in, which a test does not run: unless
    // an edit put it on a stand-in of the test's own, it takes its messages on a queue.
    let on_dev_standin = text
        .lines()
        .find(|l| {
            l.starts_with(
                "delivery = { transport = \"fiks_io\", api_url = \"http://127.0.0.1:9110\"",
            )
        })
        .map(str::to_owned);
    if let Some(line) = on_dev_standin {
        let queue =
            r#"delivery = { transport = "queue", receiving_queue = "barnevern.5001.inbox" }"#;
        text = text.replace(&line, queue);
    }
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("directory.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A copy of the dev directory (in a fresh folder) in which the test's broker account
/// (`guest`) is the case system of the agency whose account is `account`.
pub fn directory_as_case_system(account: &str) -> PathBuf {
    let edit = format!("broker_user = \"{account}\"");
    dev_directory_with(&temp_dir(), &[(&edit, "broker_user = \"guest\"")])
}
