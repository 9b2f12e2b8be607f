//! Working days of Norway, Sweden and Denmark: Monday to Friday except each country's public
//! holidays, by the statutes that name them.
//!
//! - Norway: lov om helligdager og helligdagsfred (LOV-1995-02-24-12) § 1 (the Sundays and
//!   church holidays: New Year's Day, Maundy Thursday, Good Friday, Easter Sunday and Monday,
//!   Ascension Day, Whit Sunday and Monday, Christmas Day and Boxing Day) and lov om 1. og
//!   17. mai som høgtidsdager (LOV-1947-04-26-1): 1 and 17 May.
//! - Sweden: lag (1989:253) om allmänna helgdagar (New Year's Day, Epiphany, Good Friday,
//!   Easter Sunday and Monday, 1 May, Ascension Day, Whit Sunday, 6 June, Midsummer Day,
//!   All Saints' Day, Christmas Day and Boxing Day); and Midsummer Eve, Christmas Eve and New
//!   Year's Eve, which lag (1930:173) om beräkning av lagstadgad tid treats as holidays.
//! - Denmark: helligdagsloven (LBK nr. 1226 af 9.11.2015 as amended): New Year's Day,
//!   Maundy Thursday, Good Friday, Easter Sunday and Monday, Store Bededag (abolished from
//!   2024 by lov nr. 196 af 28.2.2023), Ascension Day, Whit Sunday and Monday, Christmas
//!   Day and Boxing Day.
//!
//! Days are the country's own (all three keep Central European time): a deadline counted in
//! working days steps through local dates.

use contract::directory::Country;
use time::{Date, Duration, Month, OffsetDateTime, Weekday};

/// Whether `date` is a working day in `country`.
pub fn is_working_day(country: Country, date: Date) -> bool {
    !matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday) && !is_holiday(country, date)
}

/// Whether `date` is a public holiday (or a day the law treats as one) in `country`.
pub fn is_holiday(country: Country, date: Date) -> bool {
    let easter = easter_sunday(date.year());
    let from_easter = (date - easter).whole_days();
    let (month, day) = (date.month(), date.day());
    let fixed = |m: Month, d: u8| month == m && day == d;
    let christmas = fixed(Month::December, 25) || fixed(Month::December, 26);
    match country {
        Country::NO => {
            christmas
                || fixed(Month::January, 1)
                || fixed(Month::May, 1)
                || fixed(Month::May, 17)
                || matches!(from_easter, -3 | -2 | 0 | 1 | 39 | 49 | 50)
        }
        Country::SE => {
            // Midsummer Day and All Saints' Day are the Saturdays of their weeks.
            let saturday_between = |m: Month, from: u8, to: u8| {
                month == m && (from..=to).contains(&day) && date.weekday() == Weekday::Saturday
            };
            let midsummer_eve = month == Month::June
                && (19..=25).contains(&day)
                && date.weekday() == Weekday::Friday;
            christmas
                || fixed(Month::January, 1)
                || fixed(Month::January, 6)
                || fixed(Month::May, 1)
                || fixed(Month::June, 6)
                || fixed(Month::December, 24)
                || fixed(Month::December, 31)
                || saturday_between(Month::June, 20, 26)
                || saturday_between(Month::October, 31, 31)
                || saturday_between(Month::November, 1, 6)
                || midsummer_eve
                || matches!(from_easter, -2 | 0 | 1 | 39 | 49)
        }
        Country::DK => {
            let store_bededag = date.year() < 2024 && from_easter == 26;
            christmas
                || fixed(Month::January, 1)
                || store_bededag
                || matches!(from_easter, -3 | -2 | 0 | 1 | 39 | 49 | 50)
        }
    }
}

/// Easter Sunday of `year` (Gregorian; the anonymous algorithm of Meeus).
pub fn easter_sunday(year: i32) -> Date {
    let a = year % 19;
    let (b, c) = (year / 100, year % 100);
    let (d, e) = (b / 4, b % 4);
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let (i, k) = (c / 4, c % 4);
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    let month = Month::try_from(month as u8).expect("Easter falls in March or April");
    Date::from_calendar_date(year, month, day as u8).expect("a valid Easter date")
}

/// `from` plus `n` working days of `country`: the same time of day, `n` working days later
/// (counted on the country's local dates).
pub fn add_working_days(country: Country, from: OffsetDateTime, n: i64) -> OffsetDateTime {
    let mut end = from;
    let mut left = n;
    while left > 0 {
        end += Duration::days(1);
        if is_working_day(country, local_date(end)) {
            left -= 1;
        }
    }
    end
}

/// `at` itself if it falls on a working day of `country`, else the same time of day on the
/// next working day.
pub fn next_working_day(country: Country, at: OffsetDateTime) -> OffsetDateTime {
    let mut end = at;
    while !is_working_day(country, local_date(end)) {
        end += Duration::days(1);
    }
    end
}

/// `from` plus `n` calendar months: the same day and time of day (the month's last day
/// where it is shorter: 31 January plus one month is the last of February).
pub fn add_months(from: OffsetDateTime, n: i64) -> OffsetDateTime {
    let months = i64::from(from.year()) * 12 + i64::from(u8::from(from.month())) - 1 + n;
    let year = i32::try_from(months.div_euclid(12)).expect("a year in range");
    let month = Month::try_from(u8::try_from(months.rem_euclid(12) + 1).expect("1 to 12"))
        .expect("a month");
    let day = from.day().min(time::util::days_in_month(month, year));
    let date = Date::from_calendar_date(year, month, day).expect("a day of the month");
    from.replace_date(date)
}

/// The date at `at` in Central European time, which Norway, Sweden and Denmark keep.
fn local_date(at: OffsetDateTime) -> Date {
    let zoned = jiff::Timestamp::from_second(at.unix_timestamp())
        .expect("a timestamp in jiff's range")
        .to_zoned(jiff::tz::TimeZone::get("Europe/Oslo").expect("the bundled zone"));
    let date = zoned.date();
    Date::from_calendar_date(
        i32::from(date.year()),
        Month::try_from(date.month() as u8).expect("a month"),
        date.day() as u8,
    )
    .expect("a valid date")
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn easter_is_computed_for_known_years() {
        for (year, easter) in [
            (2024, date!(2024 - 03 - 31)),
            (2025, date!(2025 - 04 - 20)),
            (2026, date!(2026 - 04 - 05)),
            (2027, date!(2027 - 03 - 28)),
            (2038, date!(2038 - 04 - 25)),
        ] {
            assert_eq!(easter_sunday(year), easter, "{year}");
        }
    }

    #[test]
    fn each_country_has_its_own_holidays() {
        use Country::{DK, NO, SE};
        // 17 May is Norway's; 6 June and Midsummer Eve Sweden's; Maundy Thursday not Sweden's.
        assert!(is_holiday(NO, date!(2026 - 05 - 17)));
        assert!(!is_holiday(SE, date!(2026 - 05 - 17)));
        assert!(is_holiday(SE, date!(2026 - 06 - 06)) && !is_holiday(NO, date!(2026 - 06 - 06)));
        assert!(is_holiday(SE, date!(2026 - 06 - 19)), "Midsummer Eve 2026");
        assert!(is_holiday(SE, date!(2026 - 06 - 20)), "Midsummer Day 2026");
        assert!(
            is_holiday(SE, date!(2026 - 10 - 31)),
            "All Saints' Day 2026"
        );
        assert!(is_holiday(NO, date!(2026 - 04 - 02)) && is_holiday(DK, date!(2026 - 04 - 02)));
        assert!(!is_holiday(SE, date!(2026 - 04 - 02)));
        // Whit Monday: Norway and Denmark, not Sweden (since 2005).
        assert!(is_holiday(DK, date!(2026 - 05 - 25)) && !is_holiday(SE, date!(2026 - 05 - 25)));
        // Store Bededag: a Danish holiday until 2023 only.
        assert!(is_holiday(DK, date!(2023 - 05 - 05)));
        assert!(!is_holiday(DK, date!(2026 - 05 - 01)));
        assert!(
            is_working_day(DK, date!(2026 - 05 - 01)),
            "1 May is not Danish"
        );
    }

    #[test]
    fn months_keep_the_day_or_take_the_months_last() {
        use time::macros::datetime;
        let jan31 = datetime!(2027-01-31 10:00 UTC);
        assert_eq!(add_months(jan31, 1), datetime!(2027-02-28 10:00 UTC));
        assert_eq!(add_months(jan31, 13), datetime!(2028-02-29 10:00 UTC));
        assert_eq!(
            add_months(datetime!(2026-11-15 10:00 UTC), 3),
            datetime!(2027-02-15 10:00 UTC)
        );
    }

    #[test]
    fn the_next_working_day_skips_weekends_and_holidays() {
        use time::macros::datetime;
        // Midsummer Eve 2026 (Friday 19 June) counts as a holiday in Sweden, not in Norway.
        let eve = datetime!(2026-06-19 10:00 UTC);
        assert_eq!(
            next_working_day(Country::SE, eve),
            datetime!(2026-06-22 10:00 UTC)
        );
        assert_eq!(next_working_day(Country::NO, eve), eve);
    }

    #[test]
    fn working_days_skip_weekends_and_the_countrys_holidays() {
        // Wednesday 2026-04-01 12:00 UTC + 3 working days: Easter (Thursday 2 April to
        // Monday 6 April) in Norway and Denmark, Good Friday to Easter Monday in Sweden.
        let from = datetime!(2026-04-01 12:00 UTC);
        assert_eq!(
            add_working_days(Country::NO, from, 3),
            datetime!(2026-04-09 12:00 UTC)
        );
        assert_eq!(
            add_working_days(Country::DK, from, 3),
            datetime!(2026-04-09 12:00 UTC)
        );
        assert_eq!(
            add_working_days(Country::SE, from, 3),
            datetime!(2026-04-08 12:00 UTC)
        );
        // Local dates: 23:30 UTC on Thursday 7 May is Friday 8 May in Oslo.
        let late = datetime!(2026-05-07 23:30 UTC);
        assert_eq!(local_date(late), date!(2026 - 05 - 08));
    }
}
