//! Time as the store writes it: UTC, fixed width, so that text order is time order.

use time::OffsetDateTime;
use time::macros::format_description;

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
