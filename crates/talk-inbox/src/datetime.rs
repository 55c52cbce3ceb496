//! `<input type="datetime-local">` values and Unix milliseconds. The input's text
//! (`2025-03-01T09:30`, the agent's own clock) is read and written here as plain text; turning
//! it into an instant is left to the browser's `Date`, which knows the agent's time zone and
//! its daylight-saving rules.

/// A wall-clock date and time without a zone, to the minute (what the input edits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalDateTime {
    pub year: i32,
    /// 1 to 12.
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
}

/// The years the form accepts: the input allows year 1, but `Date` reads years below 100 as
/// 19xx and nothing before 1970 is a plausible start or end.
pub const YEARS: std::ops::RangeInclusive<i32> = 1970..=9999;

impl LocalDateTime {
    /// Reads the input's value: `YYYY-MM-DDTHH:MM`, optionally with `:SS` or `:SS.mmm`, which
    /// are dropped (the form works in minutes). `None` for anything else, or a day that the
    /// month doesn't have.
    pub fn parse(text: &str) -> Option<Self> {
        let (date, time) = text.trim().split_once('T')?;
        let mut date_parts = date.split('-');
        let year = number(date_parts.next()?, 4)?;
        let month = number(date_parts.next()?, 2)?;
        let day = number(date_parts.next()?, 2)?;
        let mut time_parts = time.split(':');
        let hour = number(time_parts.next()?, 2)?;
        let minute = number(time_parts.next()?, 2)?;
        if let Some(seconds) = time_parts.next() {
            let whole = seconds.split_once('.').map_or(seconds, |(whole, _)| whole);
            if number(whole, 2)? > 59 {
                return None;
            }
        }
        if date_parts.next().is_some() || time_parts.next().is_some() {
            return None;
        }
        let year = i32::try_from(year).ok()?;
        let valid = YEARS.contains(&year)
            && (1..=12).contains(&month)
            && (1..=days_in_month(year, month)).contains(&day)
            && hour <= 23
            && minute <= 59;
        valid.then_some(LocalDateTime {
            year,
            month,
            day,
            hour,
            minute,
        })
    }

    /// The input's value: `YYYY-MM-DDTHH:MM`.
    pub fn format(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute
        )
    }
}

/// Exactly `width` ASCII digits.
fn number(text: &str, width: usize) -> Option<u32> {
    if text.len() != width || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The instant a local date-time names, in the browser's time zone. A time that a
/// daylight-saving change skips is moved past the gap, as `Date` does.
pub fn local_to_ms(local: LocalDateTime) -> i64 {
    let date = js_sys::Date::new_with_year_month_day_hr_min(
        local.year as u32,
        local.month as i32 - 1,
        local.day as i32,
        local.hour as i32,
        local.minute as i32,
    );
    date.get_time() as i64
}

/// The local date-time of an instant, in the browser's time zone (seconds dropped).
pub fn ms_to_local(ms: i64) -> LocalDateTime {
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    LocalDateTime {
        year: date.get_full_year() as i32,
        month: date.get_month() + 1,
        day: date.get_date(),
        hour: date.get_hours(),
        minute: date.get_minutes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_writes_the_inputs_text() {
        let local = LocalDateTime {
            year: 2025,
            month: 3,
            day: 1,
            hour: 9,
            minute: 5,
        };
        assert_eq!(local.format(), "2025-03-01T09:05");
        assert_eq!(LocalDateTime::parse("2025-03-01T09:05"), Some(local));
        // Browsers add seconds when the input's step asks for them; the form keeps minutes.
        assert_eq!(LocalDateTime::parse("2025-03-01T09:05:59"), Some(local));
        assert_eq!(LocalDateTime::parse("2025-03-01T09:05:07.250"), Some(local));
        assert_eq!(LocalDateTime::parse(" 2025-03-01T09:05 "), Some(local));
    }

    #[test]
    fn refuses_what_is_not_a_date_and_time() {
        for text in [
            "",
            "2025-03-01",
            "2025-03-01 09:05",
            "2025-3-01T09:05",
            "25-03-01T09:05",
            "2025-03-01T9:05",
            "2025-03-01T09:05:60",
            "2025-03-01T09:05:00:00",
            "2025-03-01-01T09:05",
            "2025-13-01T09:05",
            "2025-00-01T09:05",
            "2025-04-31T09:05",
            "2025-02-29T09:05",
            "2025-03-01T24:00",
            "2025-03-01T23:60",
            "1969-12-31T23:59",
            "+2025-03-01T09:05",
            "２０２５-03-01T09:05",
        ] {
            assert_eq!(LocalDateTime::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn knows_leap_years() {
        assert!(LocalDateTime::parse("2024-02-29T00:00").is_some());
        assert!(LocalDateTime::parse("2000-02-29T00:00").is_some());
        assert!(LocalDateTime::parse("2100-02-29T00:00").is_none());
        assert!(LocalDateTime::parse("9999-12-31T23:59").is_some());
    }
}
