//! Who a message is about: birth dates from national IDs and birth dates in the payload,
//! ages on a given day, and the subject's canonical identity for consent matching.

use crate::birth::{fnr_birth, parse_date, personnummer_birth};
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

/// Every subject whose birth the payload states, with the field that states it. A national
/// ID or birth date is a fact: an unborn flag beside one is a contradiction, and a date
/// after `today` is not a birth.
pub fn births_in(
    kind: Kind,
    payload: &Payload,
    today: Date,
) -> Vec<(String, Result<Birth, BirthError>)> {
    let born = |date: Option<Date>| {
        date.filter(|d| *d <= today)
            .map(Birth::On)
            .ok_or(BirthError::Unreadable)
    };
    let fields = payload.fields();
    match kind {
        Kind::NoBekymringsmelding => fields
            .get("offentligBarn")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, child)| {
                let unborn = child.get("ufoedt").and_then(|v| v.as_bool()) == Some(true);
                match (unborn, child.get("fnr").and_then(|v| v.as_str())) {
                    (true, None) => (
                        format!("/payload/offentligBarn/{i}/ufoedt"),
                        Ok(Birth::Unborn),
                    ),
                    (true, Some(_)) => (
                        format!("/payload/offentligBarn/{i}/ufoedt"),
                        Err(BirthError::Contradicted),
                    ),
                    (false, fnr) => (
                        format!("/payload/offentligBarn/{i}/fnr"),
                        born(fnr.and_then(fnr_birth)),
                    ),
                }
            })
            .collect(),
        Kind::NoPolitikontakt => payload
            .str_at("/person/fodselsdato")
            .map(|d| {
                (
                    "/payload/person/fodselsdato".to_owned(),
                    born(parse_date(d)),
                )
            })
            .into_iter()
            .collect(),
        Kind::SeSspfSig => payload
            .str_at("/personnummer")
            .map(|p| {
                (
                    "/payload/personnummer".to_owned(),
                    born(personnummer_birth(p, today)),
                )
            })
            .into_iter()
            .collect(),
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
    match kind {
        Kind::NoBekymringsmelding => None,
        Kind::NoPolitikontakt => Some(SubjectRef::NameAndBirthDate {
            name: payload.str_at("/person/navn")?.into(),
            birth_date: payload.str_at("/person/fodselsdato")?.into(),
        }),
        Kind::SeSspfSig => Some(SubjectRef::Personnummer(
            payload.str_at("/personnummer")?.into(),
        )),
    }
}

/// Everyone the payload identifies (by national ID, or by name and birth date), for the
/// disclosure index.
pub fn people(kind: Kind, payload: &Payload) -> Vec<SubjectRef> {
    match kind {
        Kind::NoBekymringsmelding => payload
            .fields()
            .get("offentligBarn")
            .and_then(|v| v.as_array())
            .into_iter()
            .flatten()
            .filter_map(|child| child.get("fnr")?.as_str())
            .map(|fnr| SubjectRef::Fodselsnummer(fnr.into()))
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
