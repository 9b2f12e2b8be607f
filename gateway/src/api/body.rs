//! Reading a JSON request body: media type, size and time limits, each with its own problem.

use super::problem::{Problem, ProblemType};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use std::time::Duration;

/// How much of a body is read, and for how long.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// Bytes at most (`http.body_limit_bytes`).
    pub bytes: usize,
    /// The whole body within this (`http.body_timeout_ms`): a client that stalls in its body
    /// does not hold one of the turns of [`super::shed`] for longer.
    pub time: Duration,
}

/// Checks the `Content-Type` and reads at most `limits.bytes` bytes of `body`, within
/// `limits.time`.
pub async fn read_json(
    headers: &HeaderMap,
    body: Body,
    limits: BodyLimits,
) -> Result<Bytes, Problem> {
    let limit = limits.bytes;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !is_json {
        return Err(Problem::new(
            ProblemType::UnsupportedMediaType,
            "Content-Type must be application/json",
        ));
    }
    let too_large = || {
        Problem::new(
            ProblemType::BodyTooLarge,
            format!("the body is larger than {limit} bytes"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let read = tokio::time::timeout(limits.time, axum::body::to_bytes(body, limit))
        .await
        .map_err(|_| {
            Problem::new(
                ProblemType::BodyTimeout,
                format!(
                    "the body did not arrive within {} ms",
                    limits.time.as_millis()
                ),
            )
        })?;
    read.map_err(|e| {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(err) = source {
            if err.is::<http_body_util::LengthLimitError>() {
                return too_large();
            }
            source = err.source();
        }
        Problem::new(ProblemType::MalformedJson, "the body could not be read")
    })
}
