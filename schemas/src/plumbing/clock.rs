//! The one clock of the gateway and the adapters, and time as the store and the records
//! write it: UTC, fixed width, so that text order is time order.

use std::sync::atomic::{AtomicI64, Ordering};
use time::macros::format_description;
use time::{Duration, OffsetDateTime};

/// The clock: the real time, shifted by an offset tests can set (deadlines are
/// tested by moving the clock, not by waiting).
#[derive(Debug, Default)]
pub struct Clock {
    offset_secs: AtomicI64,
}

impl Clock {
    /// Now, as the gateway sees it.
    pub fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + Duration::seconds(self.offset_secs.load(Ordering::Relaxed))
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        self.offset_secs
            .fetch_add(by.whole_seconds(), Ordering::Relaxed);
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` in UTC.
pub fn timestamp(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
        ))
        .expect("a UTC time formats")
}

/// Reads a timestamp written by [`timestamp`].
pub fn parse_timestamp(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}
