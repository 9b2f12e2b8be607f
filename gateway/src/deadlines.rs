//! Deadlines: when delivery, the recipient's receipt and its feedback are due, per message
//! kind (configurable; defaults after the Norwegian child welfare act), and which of them a
//! message has missed. Delivery and receipt deadlines are this gateway's operational targets
//! (the law says "without undue delay"); the feedback deadline is law (barnevernsloven:
//! three weeks from the report reaching barnevern, i.e. its delivery into barnevern's queue).

use crate::record::{Status, StatusEntry};
use contract::message::Kind;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

/// The deadlines of one kind.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Deadline {
    pub kind: Kind,
    /// Hours after acceptance by which the message must be delivered (an operational
    /// target, not law).
    pub deliver_within_hours: i64,
    /// Hours after acceptance by which the recipient's receipt (`received`) is due (an
    /// operational target).
    pub receipt_within_hours: Option<i64>,
    /// Days after delivery into the recipient's system by which its feedback is due.
    pub feedback_within_days: Option<i64>,
}

/// The deadlines of every kind.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadlinesConfig {
    #[serde(default = "defaults")]
    pub rule: Vec<Deadline>,
}

impl Default for DeadlinesConfig {
    fn default() -> Self {
        Self { rule: defaults() }
    }
}

/// Norway: a bekymringsmelding is delivered within an hour and receipted within a day
/// (operational targets), and answered with feedback within three weeks of reaching
/// barnevern (law); referrals to the police contact and SSPF/SIG requests are delivered
/// within a day (an operational target).
fn defaults() -> Vec<Deadline> {
    vec![
        Deadline {
            kind: Kind::NoBekymringsmelding,
            deliver_within_hours: 1,
            receipt_within_hours: Some(24),
            feedback_within_days: Some(21),
        },
        Deadline {
            kind: Kind::NoPolitikontakt,
            deliver_within_hours: 24,
            receipt_within_hours: None,
            feedback_within_days: None,
        },
        Deadline {
            kind: Kind::SeSspfSig,
            deliver_within_hours: 24,
            receipt_within_hours: None,
            feedback_within_days: None,
        },
    ]
}

contract::named! {
    /// A deadline a message has missed.
    #[strum(serialize_all = "snake_case")]
    pub enum Missed {
        Delivery,
        Receipt,
        Feedback,
    }
}

impl DeadlinesConfig {
    /// The deadlines a message of `kind`, with this status history, has missed at `now`.
    pub fn missed(
        &self,
        kind: Kind,
        status: Status,
        history: &[StatusEntry],
        now: OffsetDateTime,
    ) -> Vec<Missed> {
        let Some(rule) = self.rule.iter().find(|r| r.kind == kind) else {
            return Vec::new();
        };
        let at = |s: Status| {
            history
                .iter()
                .find(|h| h.status == s)
                .and_then(|h| crate::record::parse_timestamp(&h.at))
        };
        let Some(accepted) = at(Status::Recorded) else {
            return Vec::new();
        };
        let mut missed = Vec::new();
        let open = |done: &[Status]| !done.contains(&status) && !status.is_final();
        if open(&[Status::Delivered, Status::Received, Status::FeedbackGiven])
            && now > accepted + Duration::hours(rule.deliver_within_hours)
        {
            missed.push(Missed::Delivery);
        }
        if let Some(hours) = rule.receipt_within_hours
            && open(&[Status::Received, Status::FeedbackGiven])
            && now > accepted + Duration::hours(hours)
        {
            missed.push(Missed::Receipt);
        }
        if let Some(days) = rule.feedback_within_days
            && open(&[Status::FeedbackGiven])
            && let Some(delivered) = at(Status::Delivered)
            && now > delivered + Duration::days(days)
        {
            missed.push(Missed::Feedback);
        }
        missed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn entry(status: Status, at: &str) -> StatusEntry {
        StatusEntry {
            status,
            at: at.into(),
            reason: None,
        }
    }

    #[test]
    fn feedback_is_due_three_weeks_after_delivery_not_after_the_receipt() {
        let deadlines = DeadlinesConfig::default();
        let history = [
            entry(Status::Recorded, "2026-01-01T10:00:00.000000Z"),
            entry(Status::Queued, "2026-01-01T10:00:00.000000Z"),
            entry(Status::Delivered, "2026-01-01T10:01:00.000000Z"),
            // The case system signs for it a week later: the three weeks still run from delivery.
            entry(Status::Received, "2026-01-08T10:00:00.000000Z"),
        ];
        let missed =
            |now| deadlines.missed(Kind::NoBekymringsmelding, Status::Received, &history, now);
        assert_eq!(missed(datetime!(2026-01-22 10:00 UTC)), []);
        assert_eq!(missed(datetime!(2026-01-22 10:02 UTC)), [Missed::Feedback]);
    }
}
