//! Birth dates as national ID numbers and dates write them: a Norwegian fødselsnummer, a
//! Swedish personnummer, `YYYY-MM-DD`. A leaf: the engine and the consent registry both
//! read them.

use time::{Date, Month};

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
/// the day). Ten-digit numbers are placed in the hundred years before `today`.
pub fn personnummer_birth(number: &str, today: Date) -> Option<Date> {
    let centenarian = number.contains('+');
    let digits_only: String = number.chars().filter(|c| *c != '-' && *c != '+').collect();
    if !digits_only.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (year, rest) = match digits_only.len() {
        12 => (digits(&digits_only, 0..4)? as i32, &digits_only[4..]),
        10 => {
            let yy = digits(&digits_only, 0..2)? as i32;
            let this_year = today.year();
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

/// The birth date in a Danish CPR number (`DDMMYY-SSSS`, the dash optional): the first
/// digit of the sequence number places the year in its century.
pub fn cpr_birth(cpr: &str) -> Option<Date> {
    let number: String = cpr.chars().filter(|c| *c != '-').collect();
    if number.len() != 10 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let day = digits(&number, 0..2)? as u8;
    let month = digits(&number, 2..4)? as u8;
    let year = digits(&number, 4..6)? as i32;
    let century = match (digits(&number, 6..7)?, year) {
        (0..=3, _) => 1900,
        (4 | 9, 0..=36) => 2000,
        (4 | 9, _) => 1900,
        (5..=8, 0..=57) => 2000,
        (5..=8, _) => 1800,
        _ => return None,
    };
    date(century + year, month, day)
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
    fn cpr_numbers_give_birth_dates_by_their_sequence_digit() {
        assert_eq!(cpr_birth("010315-4000"), Some(d("2015-03-01")));
        assert_eq!(cpr_birth("0103154000"), Some(d("2015-03-01")));
        assert_eq!(cpr_birth("010375-4000"), Some(d("1975-03-01")));
        assert_eq!(cpr_birth("010375-1000"), Some(d("1975-03-01")));
        assert_eq!(cpr_birth("010315-5000"), Some(d("2015-03-01")));
        assert_eq!(cpr_birth("010360-5000"), Some(d("1860-03-01")));
        assert_eq!(cpr_birth("310215-4000"), None, "no 31 February");
        assert_eq!(cpr_birth("01031-4000"), None);
    }

    #[test]
    fn personnummer_give_birth_dates() {
        let today = d("2026-11-23");
        let born = |n| personnummer_birth(n, today);
        assert_eq!(born("20120301-0000"), Some(d("2012-03-01")));
        assert_eq!(born("120301-0000"), Some(d("2012-03-01")));
        assert_eq!(born("120361-0000"), Some(d("2012-03-01")));
        assert_eq!(born("120301+0000"), Some(d("1912-03-01")));
        assert_eq!(born("121301-0000"), None);
        // A ten-digit number is placed in the hundred years before the clock's day.
        assert_eq!(
            personnummer_birth("300101-0000", d("2029-12-31")),
            Some(d("1930-01-01"))
        );
        assert_eq!(
            personnummer_birth("300101-0000", d("2030-01-01")),
            Some(d("2030-01-01"))
        );
    }
}
