//! UTC days and months as the usage counters store them (days since 1970-01-01), and their
//! `YYYY-MM-DD` / `YYYY-MM` names on the wire (`usage`). Pure: no clock. Here, beside the
//! types that carry the names, so the server and the inbox name days alike.
//!
//! The civil-date arithmetic is Howard Hinnant's `days_from_civil` / `civil_from_days`
//! (proleptic Gregorian, exact for every day an `i64` of milliseconds can name), written out
//! here rather than pulling a date crate in for two functions.

/// Milliseconds in a UTC day (no leap seconds in Unix time).
pub const DAY_MS: i64 = 86_400_000;

/// The day a Unix-ms instant falls on, as `created_at / 86400000` in the triggers (for
/// instants before 1970 too, though none are stored).
pub fn day_of_ms(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// Days since 1970-01-01 of a civil date (month 1..=12, day 1..=31, not checked here).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400; // [0, 399]
    let month = i64::from(month);
    let shifted_month = if month > 2 { month - 3 } else { month + 9 }; // March = 0
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1; // [0, 365]
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The civil date `(year, month, day)` of a day number.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097; // [0, 146096]
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153; // March = 0
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `YYYY-MM-DD` of a day number.
pub fn format_day(day: i64) -> String {
    let (year, month, day) = civil_from_days(day);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The day number of a real date written exactly `YYYY-MM-DD` (four-digit year, two-digit
/// month and day, zero-padded); `None` for anything else, `2026-02-30` included.
pub fn parse_day(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes
            .iter()
            .enumerate()
            .all(|(i, b)| i == 4 || i == 7 || b.is_ascii_digit());
    if !shaped {
        return None;
    }
    let year: i64 = text[0..4].parse().ok()?;
    let month: u32 = text[5..7].parse().ok()?;
    let day: u32 = text[8..10].parse().ok()?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// A calendar month (UTC): its first and last day numbers and its `YYYY-MM` name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Month {
    pub first_day: i64,
    pub last_day: i64,
    pub name: String,
}

/// The month a day number falls in.
pub fn month_of(day: i64) -> Month {
    let (year, month, _) = civil_from_days(day);
    let first_day = days_from_civil(year, month, 1);
    Month {
        first_day,
        last_day: first_day + i64::from(days_in_month(year, month)) - 1,
        name: format!("{year:04}-{month:02}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_and_known_days() {
        assert_eq!(parse_day("1970-01-01"), Some(0));
        assert_eq!(format_day(0), "1970-01-01");
        assert_eq!(format_day(-1), "1969-12-31");
        // 2026-12-07 is 20_794 days after the epoch (1_796_601_600 s).
        assert_eq!(parse_day("2026-12-07"), Some(20_794));
        assert_eq!(format_day(20_794), "2026-12-07");
        assert_eq!(parse_day("2000-03-01"), Some(11_017));
    }

    #[test]
    fn every_day_of_four_centuries_round_trips() {
        let start = parse_day("1900-01-01").unwrap();
        let end = parse_day("2300-12-31").unwrap();
        let mut previous: Option<(i64, u32, u32)> = None;
        for day in start..=end {
            let name = format_day(day);
            assert_eq!(parse_day(&name), Some(day), "{name}");
            let civil = civil_from_days(day);
            if let Some((year, month, last)) = previous {
                // Consecutive: the next day of the month, or the first of the next month.
                let next_month = if month == 12 {
                    (year + 1, 1, 1)
                } else {
                    (year, month + 1, 1)
                };
                assert!(
                    civil == (year, month, last + 1) || civil == next_month,
                    "{civil:?} after {previous:?}"
                );
            }
            previous = Some(civil);
        }
    }

    #[test]
    fn leap_years() {
        assert!(parse_day("2024-02-29").is_some());
        assert!(parse_day("2000-02-29").is_some(), "divisible by 400");
        assert_eq!(parse_day("1900-02-29"), None, "divisible by 100");
        assert_eq!(parse_day("2026-02-29"), None);
        assert_eq!(
            parse_day("2024-03-01").unwrap() - parse_day("2024-02-28").unwrap(),
            2
        );
    }

    #[test]
    fn months_and_their_ends() {
        let february = month_of(parse_day("2024-02-10").unwrap());
        assert_eq!(february.name, "2024-02");
        assert_eq!(format_day(february.first_day), "2024-02-01");
        assert_eq!(format_day(february.last_day), "2024-02-29");
        let december = month_of(parse_day("2026-12-31").unwrap());
        assert_eq!(december.name, "2026-12");
        assert_eq!(format_day(december.first_day), "2026-12-01");
        assert_eq!(format_day(december.last_day), "2026-12-31");
        assert_eq!(month_of(december.last_day + 1).name, "2027-01");
        for (date, last) in [("2026-04-15", "2026-04-30"), ("2026-02-01", "2026-02-28")] {
            assert_eq!(
                format_day(month_of(parse_day(date).unwrap()).last_day),
                last
            );
        }
    }

    #[test]
    fn bad_input_is_refused() {
        for bad in [
            "",
            "2026-02-30",
            "2026-04-31",
            "2026-13-01",
            "2026-00-10",
            "2026-01-00",
            "2026-1-01",
            "2026-01-1",
            "26-01-01",
            "2026/01/01",
            "2026-01-01T00:00",
            " 2026-01-01",
            "+026-01-01",
            "2026-0a-01",
            "２０２６-01-01",
        ] {
            assert_eq!(parse_day(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_day_of_an_instant() {
        assert_eq!(day_of_ms(0), 0);
        assert_eq!(day_of_ms(DAY_MS - 1), 0);
        assert_eq!(day_of_ms(DAY_MS), 1);
        assert_eq!(day_of_ms(-1), -1);
        assert_eq!(format_day(day_of_ms(1_796_601_600_000)), "2026-12-07");
    }
}
