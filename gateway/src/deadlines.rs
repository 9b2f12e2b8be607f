//! Deadlines: when delivery, the recipient's receipt, its feedback and its further answers
//! are due, per message kind (configurable; defaults after the statutes each kind serves),
//! and which of them a message has missed. Each says what sets it ([`Grounds`]): delivery
//! and receipt are this gateway's operational targets (the law says "without undue delay"),
//! the feedback and every answer name their statute or say they are a target. The law:
//! Norway (barnevernsloven 2021): feedback to a public reporter within three weeks of
//! the report reaching barnevern (its delivery into barnevern's queue), and a second one
//! within three weeks of an opened investigation's end; Sweden (socialtjänstlagen): a
//! protection assessment at once and a decision whether to investigate within 14 days;
//! Denmark (barnets lov § 133 ff.): an assessment within 24 hours and a receipt to the
//! reporter within six working days.

use crate::record::{DueCheck, Messages, Status, StatusEntry, StatusView, StoreError};
use contract::directory::AgencyId;
use contract::directory::Country;
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
    #[serde(default)]
    pub receipt_within_hours: Option<i64>,
    /// The recipient's feedback (`feedback_given`), due days after delivery into its system.
    #[serde(default)]
    pub feedback: Option<FeedbackDue>,
    /// Further answers of the recipient and when each is due.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<AnswerDue>,
}

/// The recipient's feedback, due days after delivery.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackDue {
    pub within_days: i64,
    pub grounds: Grounds,
}

/// One answer of the recipient that is due within a period after a step of the message.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerDue {
    /// The deadline's name (and the answer that meets it).
    pub answer: Missed,
    /// The step its period runs from (default: delivery); none yet, nothing is due.
    #[serde(default = "delivered")]
    pub after: Status,
    pub within: Period,
    pub grounds: Grounds,
}

/// What sets a deadline (`grounds = { statute = "…" }` or `{ target = "…" }`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Grounds {
    /// A statute sets the period: its section, as a citation (saying so where the section
    /// number is not checked against the statute's text).
    Statute(String),
    /// An operational target: the law names no period (or says "at once"), the operator
    /// sets one; why.
    Target(String),
}

/// Why delivery and the receipt have the deadlines they have.
const TRANSPORT_TARGET: &str = "This gateway's target: the statutes ask for the report without undue delay, and name no period.";

/// One deadline of a kind, as `GET /v1/legal-bases` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    /// The deadline (the name a missed one has).
    pub deadline: Missed,
    /// The step its period runs from.
    pub after: Status,
    pub within: Period,
    pub grounds: Grounds,
}

fn delivered() -> Status {
    Status::Delivered
}

/// A period: hours, calendar days, or working days (Monday to Friday except the public
/// holidays of the kind's country: [`crate::calendar`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Period {
    Hours(i64),
    Days(i64),
    WorkingDays(i64),
}

impl Period {
    /// When a period that starts at `from` ends, working days counted in `country`.
    pub fn end(self, from: OffsetDateTime, country: Country) -> OffsetDateTime {
        match self {
            Self::Hours(h) => from + Duration::hours(h),
            Self::Days(d) => from + Duration::days(d),
            Self::WorkingDays(n) => crate::calendar::add_working_days(country, from, n),
        }
    }
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

/// Delivered within an hour (urgent kinds) or a day; the law's answers as the module says.
fn defaults() -> Vec<Deadline> {
    let rule = |kind, deliver_within_hours, receipt_within_hours, answers| Deadline {
        kind,
        deliver_within_hours,
        receipt_within_hours,
        feedback: None,
        answers,
    };
    let due = |answer, after, within, grounds| AnswerDue {
        answer,
        after,
        within,
        grounds,
    };
    let statute = |text: &str| Grounds::Statute(text.into());
    let norway_feedback = statute(
        "Barnevernsloven (LOV-2021-06-18-97): feedback to the reporter within three weeks of the report, and again within three weeks of an opened investigation's end (the 1992 act's § 6-7 a; the 2021 section unverified)",
    );
    let transport = |kind, hours| rule(kind, hours, None, vec![]);
    vec![
        Deadline {
            feedback: Some(FeedbackDue {
                within_days: 21,
                grounds: norway_feedback.clone(),
            }),
            ..rule(
                Kind::NoBekymringsmelding,
                1,
                Some(24),
                vec![due(
                    Missed::SecondFeedback,
                    Status::InvestigationEnded,
                    Period::Days(21),
                    norway_feedback,
                )],
            )
        },
        transport(Kind::NoPolitikontakt, 24),
        transport(Kind::NoBarnevernPoliti, 1),
        rule(
            Kind::NoRisikokonferanse,
            24,
            None,
            vec![due(
                Missed::Decision,
                Status::Delivered,
                Period::Days(30),
                Grounds::Target("A risk conference meets about monthly; no statute sets when it decides: 30 days is the operator's".into()),
            )],
        ),
        transport(Kind::SeSspfSig, 24),
        rule(
            Kind::SeOrosanmalan,
            1,
            Some(24),
            vec![
                due(
                    Missed::Assessment,
                    Status::Delivered,
                    Period::Hours(24),
                    Grounds::Target("Socialtjänstlagen asks for the protection assessment at once, the day the report arrives, and names no period: 24 hours is the operator's".into()),
                ),
                due(
                    Missed::Decision,
                    Status::Delivered,
                    Period::Days(14),
                    statute("Socialtjänstlagen (2025:400): the decision whether to investigate within 14 days (SoL 2001:453 11 kap. 1 a §; the 2025 section unverified)"),
                ),
            ],
        ),
        rule(
            Kind::DkUnderretning,
            1,
            Some(24),
            vec![
                due(
                    Missed::Assessment,
                    Status::Delivered,
                    Period::Hours(24),
                    statute("Barnets lov: the assessment within 24 hours of the underretning (serviceloven § 155, stk. 2 until 2024; the section of barnets lov unverified)"),
                ),
                due(
                    Missed::Acknowledgement,
                    Status::Delivered,
                    Period::WorkingDays(6),
                    statute("Barnets lov: the receipt to a reporter in public service within six working days (serviceloven § 155 b until 2024; the section of barnets lov unverified)"),
                ),
            ],
        ),
        transport(Kind::DkSsp, 24),
        transport(Kind::DkPsp, 24),
        transport(Kind::DkKsp, 24),
        transport(Kind::DkInfohus, 24),
    ]
}

contract::named! {
    /// A deadline a message has missed.
    #[strum(serialize_all = "snake_case")]
    pub enum Missed {
        Delivery,
        Receipt,
        Feedback,
        /// The protection or danger assessment ([`Status::Assessed`]).
        Assessment,
        /// The receipt to the reporter ([`Status::Acknowledged`]).
        Acknowledgement,
        /// The decision whether to investigate ([`Status::Decided`]).
        Decision,
        /// The second feedback after an investigation ([`Status::Concluded`]).
        SecondFeedback,
    }
}

impl Missed {
    /// The answer that meets this deadline.
    pub fn answer(self) -> Status {
        match self {
            Self::Delivery => Status::Delivered,
            Self::Receipt => Status::Received,
            Self::Feedback => Status::FeedbackGiven,
            Self::Assessment => Status::Assessed,
            Self::Acknowledgement => Status::Acknowledged,
            Self::Decision => Status::Decided,
            Self::SecondFeedback => Status::Concluded,
        }
    }
}

/// One deadline of a kind: `missed` once `period` after the step `after` has passed
/// while the history holds none of `met_by`.
struct Due {
    missed: Missed,
    after: Status,
    period: Period,
    met_by: Vec<Status>,
    grounds: Grounds,
}

impl Deadline {
    /// Every deadline of the kind.
    fn dues(&self) -> Vec<Due> {
        use Status::{Delivered, FeedbackGiven, Received, Recorded};
        let due = |missed, after, period, met_by: &[Status], grounds: &Grounds| Due {
            missed,
            after,
            period,
            met_by: met_by.to_vec(),
            grounds: grounds.clone(),
        };
        let transport = Grounds::Target(TRANSPORT_TARGET.into());
        let mut dues = vec![due(
            Missed::Delivery,
            Recorded,
            Period::Hours(self.deliver_within_hours),
            &[Delivered, Received, FeedbackGiven],
            &transport,
        )];
        if let Some(hours) = self.receipt_within_hours {
            dues.push(due(
                Missed::Receipt,
                Recorded,
                Period::Hours(hours),
                &[Received, FeedbackGiven],
                &transport,
            ));
        }
        if let Some(feedback) = &self.feedback {
            dues.push(due(
                Missed::Feedback,
                Delivered,
                Period::Days(feedback.within_days),
                &[FeedbackGiven],
                &feedback.grounds,
            ));
        }
        for answer in &self.answers {
            dues.push(due(
                answer.answer,
                answer.after,
                answer.within,
                &[answer.answer.answer()],
                &answer.grounds,
            ));
        }
        dues
    }
}

impl Period {
    /// The least time the period lasts (a working day is at least a day).
    fn shortest(self) -> Duration {
        match self {
            Self::Hours(h) => Duration::hours(h),
            Self::Days(d) | Self::WorkingDays(d) => Duration::days(d),
        }
    }
}

impl DeadlinesConfig {
    /// Every deadline of `kind`, with what sets it.
    pub fn listed(&self, kind: Kind) -> Vec<Listed> {
        self.rule
            .iter()
            .filter(|r| r.kind == kind)
            .flat_map(Deadline::dues)
            .map(|due| Listed {
                deadline: due.missed,
                after: due.after,
                within: due.period,
                grounds: due.grounds,
            })
            .collect()
    }

    /// The deadlines a message of `kind`, with this status history, has missed at `now`
    /// (none once it is in a final status).
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
        if status.is_final() {
            return Vec::new();
        }
        let at = |s: Status| {
            history
                .iter()
                .find(|h| h.status == s)
                .and_then(|h| contract::plumbing::clock::parse_timestamp(&h.at))
        };
        rule.dues()
            .into_iter()
            .filter(|due| {
                !due.met_by.iter().any(|s| at(*s).is_some())
                    && at(due.after).is_some_and(|from| now > due.period.end(from, kind.country()))
            })
            .map(|due| due.missed)
            .collect()
    }

    /// The messages (of `sender`, if given) past a deadline at `now`, each with the
    /// deadlines it missed: the store finds the candidates (those past the shortest length
    /// of a deadline's period), each is then checked exactly here.
    pub async fn overdue(
        &self,
        store: &dyn Messages,
        sender: Option<&AgencyId>,
        now: OffsetDateTime,
    ) -> Result<Vec<(StatusView, Vec<Missed>)>, StoreError> {
        let checks: Vec<DueCheck> = self
            .rule
            .iter()
            .flat_map(|rule| {
                rule.dues().into_iter().map(|due| DueCheck {
                    kind: rule.kind,
                    after: due.after,
                    cutoff: now - due.period.shortest(),
                    met_by: due.met_by,
                })
            })
            .collect();
        Ok(store
            .past_due(&checks, sender)
            .await?
            .into_iter()
            .filter_map(|view| {
                let missed = self.missed(view.kind, view.status, &view.history, now);
                (!missed.is_empty()).then_some((view, missed))
            })
            .collect())
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

    #[test]
    fn the_example_configuration_lists_the_defaults() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../ops/config/gateway.example.toml"
        );
        let file: toml::Table = toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let example: DeadlinesConfig = file["deadlines"].clone().try_into().unwrap();
        let json = |rules: &[Deadline]| serde_json::to_value(rules).unwrap();
        assert_eq!(json(&example.rule), json(&DeadlinesConfig::default().rule));
    }

    #[test]
    fn every_deadline_says_whether_a_statute_or_the_operator_sets_it() {
        let deadlines = DeadlinesConfig::default();
        let grounds = |kind, missed| {
            let listed = deadlines.listed(kind);
            let found = listed.into_iter().find(|l| l.deadline == missed).unwrap();
            matches!(found.grounds, Grounds::Statute(_))
        };
        for kind in Kind::ALL {
            assert!(
                !grounds(kind, Missed::Delivery),
                "{kind}: delivery is a target"
            );
        }
        assert!(!grounds(Kind::NoBekymringsmelding, Missed::Receipt));
        assert!(grounds(Kind::NoBekymringsmelding, Missed::Feedback));
        assert!(grounds(Kind::NoBekymringsmelding, Missed::SecondFeedback));
        // "At once" is the law's; the 24 hours are the operator's.
        assert!(!grounds(Kind::SeOrosanmalan, Missed::Assessment));
        assert!(grounds(Kind::SeOrosanmalan, Missed::Decision));
        assert!(grounds(Kind::DkUnderretning, Missed::Assessment));
        assert!(grounds(Kind::DkUnderretning, Missed::Acknowledgement));
    }

    #[test]
    fn a_deadline_that_does_not_say_what_sets_it_is_refused() {
        let rule = |extra: &str| {
            toml::from_str::<DeadlinesConfig>(&format!(
                "[[rule]]\nkind = \"dk.underretning\"\ndeliver_within_hours = 1\n{extra}"
            ))
        };
        let within = "within = { hours = 24 }";
        assert!(
            rule(&format!(
                "answers = [{{ answer = \"assessment\", {within} }}]"
            ))
            .is_err()
        );
        assert!(rule("feedback = { within_days = 21 }").is_err());
        let stated = "grounds = { target = \"the operator's\" }";
        assert!(
            rule(&format!(
                "answers = [{{ answer = \"assessment\", {within}, {stated} }}]"
            ))
            .is_ok()
        );
        assert!(rule(&format!("feedback = {{ within_days = 21, {stated} }}")).is_ok());
    }

    #[test]
    fn six_working_days_skip_the_weekend() {
        // Friday 2026-01-02 12:00 + 6 working days = Monday 2026-01-12 12:00.
        let end = Period::WorkingDays(6).end(datetime!(2026-01-02 12:00 UTC), Country::DK);
        assert_eq!(end, datetime!(2026-01-12 12:00 UTC));
    }

    /// The deadlines a message of `kind` delivered at `delivered` has missed at `now`.
    fn missed_after_delivery(kind: Kind, delivered: &str, now: OffsetDateTime) -> Vec<Missed> {
        let history = [
            entry(Status::Recorded, delivered),
            entry(Status::Delivered, delivered),
            entry(Status::Received, delivered),
            // Feedback given: only the answers' deadlines are left.
            entry(Status::FeedbackGiven, delivered),
        ];
        DeadlinesConfig::default().missed(kind, Status::FeedbackGiven, &history, now)
    }

    #[test]
    fn the_danish_receipt_is_due_six_working_days_on_across_easter() {
        // Delivered Wednesday 1 April 2026, 10:00 in Aarhus: Maundy Thursday, Good Friday, the
        // weekend and Easter Monday do not count; the sixth working day is Tuesday 14 April.
        let delivered = "2026-04-01T08:00:00.000000Z";
        let missed = |now| missed_after_delivery(Kind::DkUnderretning, delivered, now);
        let acknowledgement = |m: Vec<Missed>| m.contains(&Missed::Acknowledgement);
        assert!(!acknowledgement(missed(datetime!(2026-04-09 08:01 UTC))));
        assert!(!acknowledgement(missed(datetime!(2026-04-14 08:00 UTC))));
        assert!(acknowledgement(missed(datetime!(2026-04-14 08:01 UTC))));
        // From Thursday 7 May: a weekend and Ascension Day (14 May) between; the sixth
        // working day is Monday 18 May.
        let delivered = "2026-05-07T08:00:00.000000Z";
        let missed = |now| missed_after_delivery(Kind::DkUnderretning, delivered, now);
        assert!(!acknowledgement(missed(datetime!(2026-05-15 08:00 UTC))));
        assert!(!acknowledgement(missed(datetime!(2026-05-18 08:00 UTC))));
        assert!(acknowledgement(missed(datetime!(2026-05-18 08:01 UTC))));
    }

    #[test]
    fn calendar_day_deadlines_run_through_weekends_and_holidays() {
        // Sweden's förhandsbedömning: 14 days, whatever falls in them (Easter 2026 here).
        let delivered = "2026-03-30T08:00:00.000000Z";
        let missed = |now| missed_after_delivery(Kind::SeOrosanmalan, delivered, now);
        assert!(!missed(datetime!(2026-04-13 08:00 UTC)).contains(&Missed::Decision));
        assert!(missed(datetime!(2026-04-13 08:01 UTC)).contains(&Missed::Decision));
        // Denmark's assessment: 24 hours, over a Saturday and Sunday.
        let delivered = "2026-04-04T08:00:00.000000Z";
        let missed = |now| missed_after_delivery(Kind::DkUnderretning, delivered, now);
        assert!(!missed(datetime!(2026-04-05 08:00 UTC)).contains(&Missed::Assessment));
        assert!(missed(datetime!(2026-04-05 08:01 UTC)).contains(&Missed::Assessment));
    }

    #[test]
    fn the_second_feedback_runs_from_the_end_of_the_investigation() {
        let deadlines = DeadlinesConfig::default();
        let mut history = vec![
            entry(Status::Recorded, "2026-01-01T10:00:00.000000Z"),
            entry(Status::Delivered, "2026-01-01T10:01:00.000000Z"),
            entry(Status::Received, "2026-01-01T11:00:00.000000Z"),
            entry(Status::FeedbackGiven, "2026-01-10T10:00:00.000000Z"),
        ];
        let missed = |history: &[StatusEntry], now| {
            deadlines.missed(
                Kind::NoBekymringsmelding,
                Status::FeedbackGiven,
                history,
                now,
            )
        };
        // No end reported: nothing is due, however long the investigation takes.
        assert_eq!(missed(&history, datetime!(2026-12-01 10:00 UTC)), []);
        history.push(entry(
            Status::InvestigationEnded,
            "2026-03-01T10:00:00.000000Z",
        ));
        assert_eq!(missed(&history, datetime!(2026-03-22 10:00 UTC)), []);
        assert_eq!(
            missed(&history, datetime!(2026-03-22 10:01 UTC)),
            [Missed::SecondFeedback]
        );
        history.push(entry(Status::Concluded, "2026-03-23T10:00:00.000000Z"));
        assert_eq!(missed(&history, datetime!(2026-03-23 10:01 UTC)), []);
    }
}
