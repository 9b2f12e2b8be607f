//! When to try a failed delivery again: after a delay that grows with each attempt (and is
//! at least the agency's `Retry-After`), until the retry budget since the first failure is
//! spent. The attempt count and first failure travel in the message's own headers.

use contract::topology::RETRY_DELAYS_SECS;
use lapin::BasicProperties;
use lapin::types::{AMQPValue, FieldTable};
use std::time::Duration;

/// Header counting failed attempts.
pub const HEADER_ATTEMPT: &str = "x-retry-attempt";
/// Header holding the first failure's time (Unix seconds).
pub const HEADER_FIRST_FAILURE: &str = "x-first-failure-at";

/// What to do after a transient failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Wait `delay_secs` in the retry queue of that delay, then try again.
    Retry {
        delay_secs: u32,
        attempt: u32,
        first_failure: i64,
    },
    /// The budget is spent: dead-letter as expired.
    GiveUp,
}

/// The retry budget.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub budget: Duration,
}

impl RetryPolicy {
    /// The next step for a message with `headers` that just failed at `now` (Unix seconds).
    pub fn next(
        &self,
        headers: Option<&FieldTable>,
        retry_after: Option<Duration>,
        now: i64,
    ) -> Next {
        let attempt = header_int(headers, HEADER_ATTEMPT).unwrap_or(0) as u32 + 1;
        let first_failure = header_int(headers, HEADER_FIRST_FAILURE).unwrap_or(now);
        if now.saturating_sub(first_failure) >= self.budget.as_secs() as i64 {
            return Next::GiveUp;
        }
        let by_attempt = RETRY_DELAYS_SECS[(attempt as usize - 1).min(RETRY_DELAYS_SECS.len() - 1)];
        let wanted = retry_after.map_or(0, |d| d.as_secs().min(u32::MAX as u64) as u32);
        let delay_secs = RETRY_DELAYS_SECS
            .into_iter()
            .find(|d| *d >= by_attempt.max(wanted))
            .unwrap_or(RETRY_DELAYS_SECS[RETRY_DELAYS_SECS.len() - 1]);
        Next::Retry {
            delay_secs,
            attempt,
            first_failure,
        }
    }
}

/// `properties` of a copy parked for `delay_secs`: the attempt count and first failure set,
/// and a per-message expiry of 80–100 % of the delay, so that messages failing together do
/// not all come back together (jitter; the queue's TTL is the upper bound).
pub fn for_retry(
    properties: &BasicProperties,
    attempt: u32,
    first_failure: i64,
    delay_secs: u32,
) -> BasicProperties {
    let percent = 80 + u64::from(time::OffsetDateTime::now_utc().nanosecond()) % 21;
    let expiration = u64::from(delay_secs) * 1000 * percent / 100;
    with_retry_headers(properties, attempt, first_failure)
        .with_expiration(expiration.to_string().as_str().into())
}

/// `properties` with the attempt count and first failure set.
fn with_retry_headers(
    properties: &BasicProperties,
    attempt: u32,
    first_failure: i64,
) -> BasicProperties {
    let mut headers = properties.headers().clone().unwrap_or_default();
    headers.insert(
        HEADER_ATTEMPT.into(),
        AMQPValue::LongLongInt(attempt.into()),
    );
    headers.insert(
        HEADER_FIRST_FAILURE.into(),
        AMQPValue::LongLongInt(first_failure),
    );
    properties.clone().with_headers(headers)
}

fn header_int(headers: Option<&FieldTable>, name: &str) -> Option<i64> {
    match headers?.inner().get(name)? {
        AMQPValue::LongLongInt(n) => Some(*n),
        AMQPValue::LongInt(n) => Some((*n).into()),
        AMQPValue::LongUInt(n) => Some((*n).into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(attempt: i64, first: i64) -> FieldTable {
        let props = with_retry_headers(&BasicProperties::default(), attempt as u32, first);
        props.headers().clone().unwrap()
    }

    #[test]
    fn parked_copies_expire_within_80_to_100_percent_of_the_delay() {
        for _ in 0..50 {
            let props = for_retry(&BasicProperties::default(), 1, 0, 30);
            let ms: u64 = props
                .expiration()
                .as_ref()
                .unwrap()
                .as_str()
                .parse()
                .unwrap();
            assert!((24_000..=30_000).contains(&ms), "{ms}");
        }
    }

    #[test]
    fn delays_grow_with_attempts_and_honour_retry_after() {
        let policy = RetryPolicy {
            budget: Duration::from_secs(86_400),
        };
        assert_eq!(
            policy.next(None, None, 1_000),
            Next::Retry {
                delay_secs: 1,
                attempt: 1,
                first_failure: 1_000
            }
        );
        assert_eq!(
            policy.next(Some(&headers(2, 900)), None, 1_000),
            Next::Retry {
                delay_secs: 30,
                attempt: 3,
                first_failure: 900
            }
        );
        assert_eq!(
            policy.next(Some(&headers(40, 900)), None, 1_000),
            Next::Retry {
                delay_secs: 1800,
                attempt: 41,
                first_failure: 900
            }
        );
        assert_eq!(
            policy.next(None, Some(Duration::from_secs(20)), 1_000),
            Next::Retry {
                delay_secs: 30,
                attempt: 1,
                first_failure: 1_000
            }
        );
    }

    #[test]
    fn the_budget_since_the_first_failure_ends_the_retries() {
        let policy = RetryPolicy {
            budget: Duration::from_secs(3_600),
        };
        assert_eq!(
            policy.next(Some(&headers(5, 1_000)), None, 4_600),
            Next::GiveUp
        );
        assert!(matches!(
            policy.next(Some(&headers(5, 1_000)), None, 4_599),
            Next::Retry { .. }
        ));
    }
}
