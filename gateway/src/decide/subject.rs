//! Who a message is about: birth dates from national IDs and birth dates in the payload,
//! ages on a given day, and the subject's canonical identity for consent matching.

use crate::consent::SubjectRef;
use crate::parse::Payload;
use contract::message::{Kind, Subject};
use time::{Date, Month};

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

/// `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Option<Date> {
    let mut parts = text.splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    date(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

fn date(year: i32, month: u8, day: u8) -> Option<Date> {
    Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()
}

fn digits(text: &str, range: std::ops::Range<usize>) -> Option<u32> {
    text.get(range)?.parse().ok()
}

/// The birth date in a Norwegian fødselsnummer (11 digits; D-numbers add 4 to the first
/// digit, H-numbers 40 and synthetic test numbers 80 to the month).
pub fn fnr_birth(fnr: &str) -> Option<Date> {
    if fnr.len() != 11 || !fnr.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut day = digits(fnr, 0..2)?;
    let mut month = digits(fnr, 2..4)?;
    let year = digits(fnr, 4..6)? as i32;
    let individual = digits(fnr, 6..9)?;
    if day > 40 {
        day -= 40;
    }
    if month > 80 {
        month -= 80;
    } else if month > 40 {
        month -= 40;
    }
    let century = match (individual, year) {
        (0..=499, _) => 1900,
        (500..=749, 54..=99) => 1800,
        (500..=999, 0..=39) => 2000,
        (900..=999, 40..=99) => 1900,
        _ => return None,
    };
    date(century + year, month as u8, day as u8)
}

/// The birth date in a Swedish personnummer or samordningsnummer (`YYYYMMDD-NNNN`,
/// `YYMMDD-NNNN`, or `YYMMDD+NNNN` for those 100 or older; samordningsnummer add 60 to
/// the day). Ten-digit numbers are placed in the last hundred years.
pub fn personnummer_birth(number: &str) -> Option<Date> {
    let centenarian = number.contains('+');
    let digits_only: String = number.chars().filter(|c| *c != '-' && *c != '+').collect();
    if !digits_only.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (year, rest) = match digits_only.len() {
        12 => (digits(&digits_only, 0..4)? as i32, &digits_only[4..]),
        10 => {
            let yy = digits(&digits_only, 0..2)? as i32;
            let this_year = crate::record::now().year();
            let mut year = this_year - (this_year - yy).rem_euclid(100);
            if centenarian {
                year -= 100;
            }
            (year, &digits_only[2..])
        }
        _ => return None,
    };
    let month = digits(rest, 0..2)? as u8;
    let mut day = digits(rest, 2..4)?;
    if day > 60 {
        day -= 60;
    }
    date(year, month, day as u8)
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
                    born(personnummer_birth(p)),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        parse_date(s).unwrap()
    }

    #[test]
    fn fodselsnummer_give_birth_dates_across_centuries_and_variants() {
        assert_eq!(fnr_birth("09031450000"), Some(d("2014-03-09")));
        assert_eq!(fnr_birth("09031400000"), Some(d("1914-03-09")));
        assert_eq!(fnr_birth("49031450000"), Some(d("2014-03-09")), "D-number");
        assert_eq!(fnr_birth("09431450000"), Some(d("2014-03-09")), "H-number");
        assert_eq!(fnr_birth("09831450000"), Some(d("2014-03-09")), "synthetic");
        assert_eq!(fnr_birth("31021450000"), None, "no 31 February");
        assert_eq!(fnr_birth("0903145000"), None);
    }

    #[test]
    fn personnummer_give_birth_dates() {
        assert_eq!(personnummer_birth("20120301-0000"), Some(d("2012-03-01")));
        assert_eq!(personnummer_birth("120301-0000"), Some(d("2012-03-01")));
        assert_eq!(personnummer_birth("120361-0000"), Some(d("2012-03-01")));
        assert_eq!(personnummer_birth("120301+0000"), Some(d("1912-03-01")));
        assert_eq!(personnummer_birth("121301-0000"), None);
    }

    #[test]
    fn ages_count_whole_years() {
        let born = Birth::On(d("2008-11-22"));
        assert_eq!(born.age_on(d("2026-11-21")), Some(17));
        assert_eq!(born.age_on(d("2026-11-22")), Some(18));
        assert_eq!(Birth::Unborn.age_on(d("2026-11-22")), None);
    }
}
