//! Who a message is about: birth dates from national IDs and birth dates in the payload,
//! ages on a given day, and the subject's canonical identity for consent matching.

use crate::birth::{cpr_birth, fnr_birth, parse_date, personnummer_birth};
use crate::consent::SubjectRef;
use crate::parse::Payload;
use contract::message::{Kind, Subject};
use time::Date;

/// When a subject was born, as far as a message tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Birth {
    Unborn,
    On(Date),
}

impl Birth {
    /// Whole years on `day` (`None` for the unborn).
    pub fn age_on(self, day: Date) -> Option<u32> {
        match self {
            Self::Unborn => None,
            Self::On(born) => {
                let mut years = day.year() - born.year();
                if (day.month() as u8, day.day()) < (born.month() as u8, born.day()) {
                    years -= 1;
                }
                Some(years.max(0) as u32)
            }
        }
    }
}

/// Why no birth can be taken from what a payload states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BirthError {
    /// No valid date in the past can be read from the national ID or birth date.
    Unreadable,
    /// A weaker statement (an unborn flag) contradicts a national ID in the same place.
    Contradicted,
}

/// How a national ID or date in a payload is read.
#[derive(Clone, Copy)]
enum Id {
    Fodselsnummer,
    Personnummer,
    Cpr,
    Date,
}

impl Id {
    fn birth(self, text: &str, today: Date) -> Option<Date> {
        match self {
            Self::Fodselsnummer => fnr_birth(text),
            Self::Personnummer => personnummer_birth(text, today),
            Self::Cpr => cpr_birth(text),
            Self::Date => parse_date(text),
        }
    }
}

/// Where a kind states the births of the people it is about.
enum Births {
    /// One national ID or birth date.
    One(&'static str, Id),
    /// Children (an array, or one object), each with a national ID or an unborn flag.
    Children {
        at: &'static str,
        id: &'static str,
        unborn: &'static str,
        format: Id,
    },
}

fn births_of(kind: Kind) -> Births {
    match kind {
        Kind::NoBekymringsmelding => Births::Children {
            at: "offentligBarn",
            id: "fnr",
            unborn: "ufoedt",
            format: Id::Fodselsnummer,
        },
        Kind::DkUnderretning => Births::Children {
            at: "barn",
            id: "cpr",
            unborn: "ufoedt",
            format: Id::Cpr,
        },
        Kind::NoPolitikontakt | Kind::NoBarnevernPoliti | Kind::NoRisikokonferanse => {
            Births::One("/person/fodselsdato", Id::Date)
        }
        Kind::SeSspfSig => Births::One("/personnummer", Id::Personnummer),
        Kind::SeOrosanmalan => Births::One("/barn/personnummer", Id::Personnummer),
        Kind::DkSsp | Kind::DkPsp | Kind::DkKsp | Kind::DkInfohus => {
            Births::One("/person/cpr", Id::Cpr)
        }
    }
}

/// Every subject whose birth the payload states, with the field that states it. A national
/// ID or birth date is a fact: an unborn flag beside one is a contradiction, and a date
/// after `today` is not a birth.
pub fn births_in(
    kind: Kind,
    payload: &Payload,
    today: Date,
) -> Vec<(String, Result<Birth, BirthError>)> {
    let born = |text: Option<&str>, format: Id| {
        text.and_then(|t| format.birth(t, today))
            .filter(|d| *d <= today)
            .map(Birth::On)
            .ok_or(BirthError::Unreadable)
    };
    match births_of(kind) {
        Births::One(pointer, format) => payload
            .str_at(pointer)
            .map(|text| (format!("/payload{pointer}"), born(Some(text), format)))
            .into_iter()
            .collect(),
        Births::Children {
            at,
            id,
            unborn,
            format,
        } => {
            let children: Vec<(String, &serde_json::Value)> = match payload.fields().get(at) {
                Some(serde_json::Value::Array(all)) => all
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (format!("/payload/{at}/{i}"), c))
                    .collect(),
                Some(one @ serde_json::Value::Object(_)) => vec![(format!("/payload/{at}"), one)],
                _ => Vec::new(),
            };
            children
                .into_iter()
                .map(|(path, child)| {
                    let is_unborn = child.get(unborn).and_then(|v| v.as_bool()) == Some(true);
                    match (is_unborn, child.get(id).and_then(|v| v.as_str())) {
                        (true, None) => (format!("{path}/{unborn}"), Ok(Birth::Unborn)),
                        (true, Some(_)) => {
                            (format!("{path}/{unborn}"), Err(BirthError::Contradicted))
                        }
                        (false, text) => (format!("{path}/{id}"), born(text, format)),
                    }
                })
                .collect()
        }
    }
}

/// Whether the envelope's claim agrees with a birth the payload states.
pub fn claim_agrees(subject: &Subject, birth: Birth, today: Date) -> bool {
    match subject {
        Subject::Age(years) => birth.age_on(today) == Some(u32::from(*years)),
        Subject::BirthDate(d) => parse_date(d).map(Birth::On) == Some(birth),
        Subject::Unborn(_) => birth == Birth::Unborn,
    }
}

/// The subject's age on `today` as the envelope claims it (`None`: unborn; nothing for a
/// birth date that is not a date in the past).
pub fn claimed_age(subject: &Subject, today: Date) -> Option<Option<u32>> {
    match subject {
        Subject::Age(years) => Some(Some(u32::from(*years))),
        Subject::BirthDate(d) => parse_date(d)
            .filter(|b| *b <= today)
            .map(|b| Birth::On(b).age_on(today)),
        Subject::Unborn(_) => Some(None),
    }
}

/// The subject a consent must name, as the payload identifies them.
pub fn identity(kind: Kind, payload: &Payload) -> Option<SubjectRef> {
    let at = |p| payload.str_at(p).map(str::to_owned);
    match kind {
        Kind::NoBekymringsmelding => None,
        Kind::NoPolitikontakt | Kind::NoBarnevernPoliti | Kind::NoRisikokonferanse => {
            Some(SubjectRef::NameAndBirthDate {
                name: at("/person/navn")?,
                birth_date: at("/person/fodselsdato")?,
            })
        }
        Kind::SeSspfSig => at("/personnummer").map(SubjectRef::Personnummer),
        Kind::SeOrosanmalan => at("/barn/personnummer").map(SubjectRef::Personnummer),
        Kind::DkUnderretning => at("/barn/cpr").map(SubjectRef::Cpr),
        Kind::DkSsp | Kind::DkPsp | Kind::DkKsp | Kind::DkInfohus => {
            at("/person/cpr").map(SubjectRef::Cpr)
        }
    }
}

/// Everyone the payload identifies (by national ID, or by name and birth date), for the
/// disclosure index: the children of a report, and in an orosanmälan siblings and guardians
/// too.
pub fn people(kind: Kind, payload: &Payload) -> Vec<SubjectRef> {
    let ids = |array: &str, field: &str| -> Vec<String> {
        payload
            .fields()
            .get(array)
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|item| Some(item.get(field)?.as_str()?.to_owned()))
            .collect()
    };
    match kind {
        Kind::NoBekymringsmelding => ids("offentligBarn", "fnr")
            .into_iter()
            .map(SubjectRef::Fodselsnummer)
            .collect(),
        Kind::SeOrosanmalan => identity(kind, payload)
            .into_iter()
            .chain(
                [
                    ids("syskon", "personnummer"),
                    ids("vardnadshavare", "personnummer"),
                ]
                .into_iter()
                .flatten()
                .map(SubjectRef::Personnummer),
            )
            .collect(),
        _ => identity(kind, payload).into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        parse_date(s).unwrap()
    }

    #[test]
    fn ages_count_whole_years() {
        let born = Birth::On(d("2008-11-22"));
        assert_eq!(born.age_on(d("2026-11-21")), Some(17));
        assert_eq!(born.age_on(d("2026-11-22")), Some(18));
        assert_eq!(Birth::Unborn.age_on(d("2026-11-22")), None);
    }
}
