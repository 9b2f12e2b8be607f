//! Deadlines: when delivery, the recipient's receipt, its feedback and its further answers
//! are due, per message kind (configurable; defaults after the statutes each kind serves),
//! and which of them a message has missed. Each says what sets it ([`Grounds`]): delivery
//! and receipt are this gateway's operational targets (the law says "without undue delay"),
//! the feedback and every answer name their statute or say they are a target. The law:
//! Norway (barnevernsloven 2021): the report reviewed within a week of reaching barnevern
//! (its delivery into barnevern's queue), an opened investigation done within three months
//! (six where the act allows it and barnevern says so), feedback to a public reporter
//! within three weeks of the report and a second one within three weeks of an opened
//! investigation's end; Sweden (socialtjänstlagen): a protection assessment at once, a
//! decision whether to investigate within 14 days and an investigation done within four
//! months (unless extended); Denmark (barnets lov § 133 ff.): an assessment within 24 hours
//! and a receipt to the reporter within six working days.
//!
//! Periods in days and months end at the same time of day on their last day; in Sweden a
//! statutory one whose last day is a Saturday, Sunday or holiday ends on the next working
//! day instead (lag (1930:173) om beräkning av lagstadgad tid). Norway's and Denmark's run
//! through weekends and holidays.

use crate::record::{DueCheck, Messages, Status, StatusEntry, StatusView, StoreError};
use contract::directory::AgencyId;
use contract::directory::Country;
use contract::message::Kind;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;
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
    /// A longer period once the recipient answers that it extended the limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extended: Option<Extension>,
}

/// A deadline's period extended by an answer of the recipient (`extended = { by, within }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    /// The answer that extends it.
    pub by: Status,
    /// The extended period, from the same step; absent: the extension sets its own end,
    /// which the answer does not carry, so nothing is due once extended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within: Option<Period>,
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

/// Norway's review of a report.
const NORWAY_REVIEW: &str = "Barnevernsloven (LOV-2021-06-18-97): the report reviewed, and whether to investigate decided, within one week of its arrival (the 1992 act's § 4-2; the 2021 section unverified)";

/// Norway's investigation time limit.
const NORWAY_INVESTIGATION: &str = "Barnevernsloven (LOV-2021-06-18-97): an investigation done within three months of its opening, six in special cases (the 1992 act's § 6-9 first paragraph; the 2021 section unverified)";

/// Sweden's investigation time limit.
const SWEDEN_INVESTIGATION: &str = "Socialtjänstlagen (2025:400): an investigation done within four months of its opening, unless the social welfare board extends it for a stated time (SoL 2001:453 11 kap. 2 §; the 2025 section unverified)";

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
    /// A longer period once the recipient extends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended: Option<Extension>,
    pub grounds: Grounds,
}

fn delivered() -> Status {
    Status::Delivered
}

/// A period: hours, calendar days, calendar months, or working days (Monday to Friday
/// except the public holidays of the kind's country: [`crate::calendar`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Period {
    Hours(i64),
    Days(i64),
    /// The same day `n` months on (the month's last day where it is shorter).
    Months(i64),
    WorkingDays(i64),
}

impl Period {
    /// When a period that starts at `from` ends, working days counted in `country`.
    pub fn end(self, from: OffsetDateTime, country: Country) -> OffsetDateTime {
        match self {
            Self::Hours(h) => from + Duration::hours(h),
            Self::Days(d) => from + Duration::days(d),
            Self::Months(n) => crate::calendar::add_months(from, n),
            Self::WorkingDays(n) => crate::calendar::add_working_days(country, from, n),
        }
    }

    /// When a statutory period of `country` that starts at `from` ends: as [`Period::end`],
    /// but in Sweden a period of days or months whose last day is no working day ends on
    /// the next one (lag (1930:173) om beräkning av lagstadgad tid).
    fn statutory_end(self, from: OffsetDateTime, country: Country) -> OffsetDateTime {
        let end = self.end(from, country);
        match (self, country) {
            (Self::Days(_) | Self::Months(_), Country::SE) => {
                crate::calendar::next_working_day(country, end)
            }
            _ => end,
        }
    }

    /// The least time the period lasts (a working day is at least a day, a month 28).
    fn shortest(self) -> Duration {
        match self {
            Self::Hours(h) => Duration::hours(h),
            Self::Days(d) | Self::WorkingDays(d) => Duration::days(d),
            Self::Months(n) => Duration::days(28 * n),
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
        extended: None,
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
                vec![
                    due(
                        Missed::SecondFeedback,
                        Status::InvestigationEnded,
                        Period::Days(21),
                        norway_feedback,
                    ),
                    due(
                        Missed::Decision,
                        Status::Delivered,
                        Period::Days(7),
                        statute(NORWAY_REVIEW),
                    ),
                    AnswerDue {
                        extended: Some(Extension {
                            by: Status::InvestigationExtended,
                            within: Some(Period::Months(6)),
                        }),
                        ..due(
                            Missed::Investigation,
                            Status::InvestigationOpened,
                            Period::Months(3),
                            statute(NORWAY_INVESTIGATION),
                        )
                    },
                ],
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
                AnswerDue {
                    extended: Some(Extension {
                        by: Status::InvestigationExtended,
                        within: None,
                    }),
                    ..due(
                        Missed::Investigation,
                        Status::InvestigationOpened,
                        Period::Months(4),
                        statute(SWEDEN_INVESTIGATION),
                    )
                },
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
        /// The decision whether to investigate ([`Status::Decided`] or
        /// [`Status::InvestigationOpened`]; in Norway the review of the report, which the
        /// feedback to the reporter also settles).
        Decision,
        /// The investigation done ([`Status::InvestigationEnded`]).
        Investigation,
        /// The second feedback after an investigation ([`Status::Concluded`]).
        SecondFeedback,
    }
}

impl Missed {
    /// The answers that meet this deadline.
    pub fn met_by(self) -> &'static [Status] {
        use Status::*;
        match self {
            Self::Delivery => &[Delivered, Received, FeedbackGiven],
            Self::Receipt => &[Received, FeedbackGiven],
            Self::Feedback => &[FeedbackGiven],
            Self::Assessment => &[Assessed],
            Self::Acknowledgement => &[Acknowledged],
            Self::Decision => &[Decided, InvestigationOpened, FeedbackGiven],
            Self::Investigation => &[InvestigationEnded],
            Self::SecondFeedback => &[Concluded],
        }
    }
}

/// One deadline of a kind: missed once its period after the step `after` has passed
/// while the history holds none of the answers that meet it.
struct Due<'a> {
    missed: Missed,
    after: Status,
    period: Period,
    extended: Option<Extension>,
    grounds: &'a Grounds,
}

/// What sets delivery's and the receipt's deadlines.
static TRANSPORT: LazyLock<Grounds> = LazyLock::new(|| Grounds::Target(TRANSPORT_TARGET.into()));

impl Deadline {
    /// Every deadline of the kind.
    fn dues(&self) -> Vec<Due<'_>> {
        use Status::{Delivered, Recorded};
        let due = |missed, after, period, grounds| Due {
            missed,
            after,
            period,
            extended: None,
            grounds,
        };
        let hours = Period::Hours;
        let mut dues = vec![due(
            Missed::Delivery,
            Recorded,
            hours(self.deliver_within_hours),
            &*TRANSPORT,
        )];
        if let Some(within) = self.receipt_within_hours {
            dues.push(due(Missed::Receipt, Recorded, hours(within), &*TRANSPORT));
        }
        if let Some(feedback) = &self.feedback {
            let within = Period::Days(feedback.within_days);
            dues.push(due(Missed::Feedback, Delivered, within, &feedback.grounds));
        }
        for answer in &self.answers {
            dues.push(Due {
                extended: answer.extended,
                ..due(answer.answer, answer.after, answer.within, &answer.grounds)
            });
        }
        dues
    }
}

impl Due<'_> {
    /// When it falls due for a message of `country` whose history has step `s` at `at(s)`:
    /// none before its step, nor once extended without an end of its own.
    fn end(
        &self,
        at: impl Fn(Status) -> Option<OffsetDateTime>,
        country: Country,
    ) -> Option<OffsetDateTime> {
        let from = at(self.after)?;
        let period = match self.extended {
            Some(extension) if at(extension.by).is_some() => extension.within?,
            _ => self.period,
        };
        Some(match self.grounds {
            Grounds::Statute(_) => period.statutory_end(from, country),
            Grounds::Target(_) => period.end(from, country),
        })
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
                extended: due.extended,
                grounds: due.grounds.clone(),
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
                !due.missed.met_by().iter().any(|s| at(*s).is_some())
                    && due.end(at, kind.country()).is_some_and(|end| now > end)
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
                    met_by: due.missed.met_by().to_vec(),
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
        assert!(!missed(datetime!(2026-01-22 10:00 UTC)).contains(&Missed::Feedback));
        assert!(missed(datetime!(2026-01-22 10:02 UTC)).contains(&Missed::Feedback));
    }

    /// Whether a message of `kind` with `history` has missed `deadline` at `now`.
    fn misses(kind: Kind, history: &[StatusEntry], deadline: Missed, now: OffsetDateTime) -> bool {
        DeadlinesConfig::default()
            .missed(kind, Status::Received, history, now)
            .contains(&deadline)
    }

    #[test]
    fn norway_reviews_a_report_within_a_week_through_easter() {
        // Delivered Monday 30 March 2026: Maundy Thursday, Good Friday, the weekend and
        // Easter Monday (6 April, the last day) all count.
        let mut history = vec![
            entry(Status::Delivered, "2026-03-30T08:00:00.000000Z"),
            entry(Status::Received, "2026-03-30T08:00:00.000000Z"),
        ];
        let review =
            |h: &[StatusEntry], now| misses(Kind::NoBekymringsmelding, h, Missed::Decision, now);
        assert!(!review(&history, datetime!(2026-04-06 08:00 UTC)));
        assert!(review(&history, datetime!(2026-04-06 08:01 UTC)));
        // Either outcome of the review meets it, and so does the feedback, which tells it.
        for answer in [
            Status::Decided,
            Status::InvestigationOpened,
            Status::FeedbackGiven,
        ] {
            let mut answered = history.clone();
            answered.push(entry(answer, "2026-04-08T08:00:00.000000Z"));
            assert!(
                !review(&answered, datetime!(2026-04-08 08:01 UTC)),
                "{answer}"
            );
        }
        history.push(entry(Status::Decided, "2026-04-01T08:00:00.000000Z"));
        let investigation = |h: &[StatusEntry], now| {
            misses(Kind::NoBekymringsmelding, h, Missed::Investigation, now)
        };
        assert!(
            !investigation(&history, datetime!(2027-04-01 08:00 UTC)),
            "no investigation opened, none is due"
        );
    }

    #[test]
    fn norways_investigation_takes_three_months_or_six_once_extended() {
        // Opened 17 February 2026: the three months end on Sunday 17 May, Constitution Day,
        // and run through it.
        let mut history = vec![
            entry(Status::Delivered, "2026-02-10T08:00:00.000000Z"),
            entry(Status::InvestigationOpened, "2026-02-17T08:00:00.000000Z"),
        ];
        let late = |h: &[StatusEntry], now| {
            misses(Kind::NoBekymringsmelding, h, Missed::Investigation, now)
        };
        assert!(!late(&history, datetime!(2026-05-17 08:00 UTC)));
        assert!(late(&history, datetime!(2026-05-17 08:01 UTC)));
        history.push(entry(
            Status::InvestigationExtended,
            "2026-05-01T08:00:00.000000Z",
        ));
        assert!(!late(&history, datetime!(2026-08-17 08:00 UTC)));
        assert!(late(&history, datetime!(2026-08-17 08:01 UTC)));
        history.push(entry(
            Status::InvestigationEnded,
            "2026-08-20T08:00:00.000000Z",
        ));
        assert!(!late(&history, datetime!(2026-08-20 08:01 UTC)));
    }

    #[test]
    fn norways_feedback_runs_three_weeks_through_may_holidays() {
        // Delivered Friday 24 April 2026: 1 May, Ascension Day (14 May) and three weekends
        // lie in the three weeks, which end on Friday 15 May.
        let history = [entry(Status::Delivered, "2026-04-24T08:00:00.000000Z")];
        let late = |now| misses(Kind::NoBekymringsmelding, &history, Missed::Feedback, now);
        assert!(!late(datetime!(2026-05-15 08:00 UTC)));
        assert!(late(datetime!(2026-05-15 08:01 UTC)));
    }

    #[test]
    fn sweden_decides_within_14_days_moved_past_midsummer() {
        // Delivered Friday 5 June 2026: the 14th day is Midsummer Eve, which lag (1930:173)
        // treats as a holiday; the weekend follows, so the decision is due Monday 22 June.
        let history = [entry(Status::Delivered, "2026-06-05T08:00:00.000000Z")];
        let late = |now| misses(Kind::SeOrosanmalan, &history, Missed::Decision, now);
        assert!(!late(datetime!(2026-06-22 08:00 UTC)));
        assert!(late(datetime!(2026-06-22 08:01 UTC)));
        // The protection assessment is the operator's 24 hours: no day moves it.
        let history = [entry(Status::Delivered, "2026-12-24T08:00:00.000000Z")];
        let late = |now| misses(Kind::SeOrosanmalan, &history, Missed::Assessment, now);
        assert!(!late(datetime!(2026-12-25 08:00 UTC)));
        assert!(late(datetime!(2026-12-25 08:01 UTC)));
    }

    #[test]
    fn sweden_investigates_within_four_months_unless_extended() {
        // Opened 6 February 2026: four months end on Saturday 6 June, the National Day, so
        // on Monday 8 June.
        let mut history = vec![
            entry(Status::Delivered, "2026-02-01T08:00:00.000000Z"),
            entry(Status::InvestigationOpened, "2026-02-06T08:00:00.000000Z"),
        ];
        let late =
            |h: &[StatusEntry], now| misses(Kind::SeOrosanmalan, h, Missed::Investigation, now);
        assert!(!late(&history, datetime!(2026-06-08 08:00 UTC)));
        assert!(late(&history, datetime!(2026-06-08 08:01 UTC)));
        // Extended for a stated time, which the answer does not carry: no longer tracked.
        history.push(entry(
            Status::InvestigationExtended,
            "2026-06-01T08:00:00.000000Z",
        ));
        assert!(!late(&history, datetime!(2027-06-08 08:01 UTC)));
    }

    #[test]
    fn every_target_runs_through_weekends_and_holidays_unmoved() {
        // From Good Friday 2026, a holiday in all three countries, before Easter's weekend:
        // an operator's target ends exactly its hours or days later, whatever the day.
        let start = datetime!(2026-04-03 08:00 UTC);
        let deadlines = DeadlinesConfig::default();
        let mut checked = 0;
        for kind in Kind::ALL {
            for listed in deadlines.listed(kind) {
                let (Grounds::Target(_), Period::Hours(_) | Period::Days(_)) =
                    (&listed.grounds, listed.within)
                else {
                    continue;
                };
                let at = contract::plumbing::clock::timestamp(start);
                let history = [entry(listed.after, &at)];
                let end = match listed.within {
                    Period::Hours(h) => start + Duration::hours(h),
                    Period::Days(d) => start + Duration::days(d),
                    _ => unreachable!(),
                };
                let missed = |now| {
                    deadlines
                        .missed(kind, listed.after, &history, now)
                        .contains(&listed.deadline)
                };
                assert!(!missed(end), "{kind} {}", listed.deadline);
                assert!(
                    missed(end + Duration::minutes(1)),
                    "{kind} {}",
                    listed.deadline
                );
                checked += 1;
            }
        }
        assert!(checked >= Kind::ALL.len(), "every kind's delivery at least");
    }

    #[test]
    fn denmarks_assessment_runs_24_hours_through_a_holiday() {
        // Delivered on Maundy Thursday 2026, due on Good Friday.
        let history = [entry(Status::Delivered, "2026-04-02T08:00:00.000000Z")];
        let late = |now| misses(Kind::DkUnderretning, &history, Missed::Assessment, now);
        assert!(!late(datetime!(2026-04-03 08:00 UTC)));
        assert!(late(datetime!(2026-04-03 08:01 UTC)));
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
        assert!(grounds(Kind::SeOrosanmalan, Missed::Investigation));
        assert!(grounds(Kind::NoBekymringsmelding, Missed::Decision));
        assert!(grounds(Kind::NoBekymringsmelding, Missed::Investigation));
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
        ];
        DeadlinesConfig::default().missed(kind, Status::Received, &history, now)
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
