//! `GET /v1/admin/usage`: the daily rows and totals of a range. The range's reading and the
//! report's shape are pure ([`range`], [`build`]); `crate::http::usage` reads the rows.

use super::days;
use super::stored::UsageRow;
use crate::error::{ApiError, ApiResult};
use talk_protocol::{
    PreviewLimits, QuotaStatus, UsageCounts, UsageDay, UsageReport, MAX_USAGE_DAYS,
};

/// The days a report covers when the request names none: the last 30, today included.
pub const DEFAULT_USAGE_DAYS: i64 = 30;

/// The inclusive day range `from`..=`to` asks for: `to` defaults to today (UTC), `from` to
/// `DEFAULT_USAGE_DAYS` days ending at `to`. 400 `invalid_date` for a date that is not a
/// real `YYYY-MM-DD`, `invalid_range` for `from` after `to` or more than `MAX_USAGE_DAYS`.
pub fn range(from: Option<&str>, to: Option<&str>, today: i64) -> ApiResult<(i64, i64)> {
    let day = |text: Option<&str>| -> ApiResult<Option<i64>> {
        text.map(|text| days::parse_day(text).ok_or_else(invalid_date))
            .transpose()
    };
    let to_day = day(to)?.unwrap_or(today);
    let from_day = day(from)?.unwrap_or(to_day - (DEFAULT_USAGE_DAYS - 1));
    if from_day > to_day || to_day - from_day + 1 > MAX_USAGE_DAYS {
        return Err(ApiError::bad_request(
            "invalid_range",
            format!("from must not be after to, and a range is at most {MAX_USAGE_DAYS} days"),
        ));
    }
    Ok((from_day, to_day))
}

fn invalid_date() -> ApiError {
    ApiError::bad_request(
        "invalid_date",
        "from and to are real dates written YYYY-MM-DD (UTC)",
    )
}

fn add(total: &mut UsageCounts, counts: &UsageCounts) {
    total.text.visitor += counts.text.visitor;
    total.text.agent += counts.text.agent;
    total.text.bot += counts.text.bot;
    total.text.auto_reply += counts.text.auto_reply;
    total.voice_minutes += counts.voice_minutes;
    total.calls += counts.calls;
    total.conversations_inbound += counts.conversations_inbound;
    total.conversations_outbound += counts.conversations_outbound;
    total.widget_sessions += counts.widget_sessions;
    total.api_sessions += counts.api_sessions;
}

/// The report of `from_day..=to_day`: every day, oldest first (zeros where no row is), and
/// the totals. `rows` are the range's, at most one per day and preview flag.
pub fn build(
    (from_day, to_day): (i64, i64),
    rows: Vec<UsageRow>,
    quota: QuotaStatus,
    preview_limits: PreviewLimits,
) -> UsageReport {
    let mut report_days: Vec<UsageDay> = (from_day..=to_day)
        .map(|day| UsageDay {
            day: days::format_day(day),
            production: UsageCounts::default(),
            preview: UsageCounts::default(),
        })
        .collect();
    let mut totals = UsageCounts::default();
    let mut preview_totals = UsageCounts::default();
    for row in rows {
        let Some(index) = usize::try_from(row.day - from_day)
            .ok()
            .filter(|_| row.day <= to_day)
        else {
            continue;
        };
        let counts = UsageCounts::from(row.sums);
        let (day, total) = if row.preview {
            (&mut report_days[index].preview, &mut preview_totals)
        } else {
            (&mut report_days[index].production, &mut totals)
        };
        add(day, &counts);
        add(total, &counts);
    }
    UsageReport {
        from: days::format_day(from_day),
        to: days::format_day(to_day),
        days: report_days,
        totals,
        preview_totals,
        quota,
        preview_limits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::stored::UsageSums;
    use talk_protocol::{QuotaMeter, QuotaSettings};

    fn today() -> i64 {
        days::parse_day("2026-12-07").unwrap()
    }

    fn code(result: ApiResult<(i64, i64)>) -> &'static str {
        result.unwrap_err().code()
    }

    #[test]
    fn the_default_range_is_the_last_30_days() {
        let (from, to) = range(None, None, today()).unwrap();
        assert_eq!(days::format_day(from), "2026-11-08");
        assert_eq!(to, today());
        let (from, to) = range(None, Some("2026-03-01"), today()).unwrap();
        assert_eq!(days::format_day(from), "2026-01-31");
        assert_eq!(days::format_day(to), "2026-03-01");
        let (from, to) = range(Some("2026-12-01"), None, today()).unwrap();
        assert_eq!((days::format_day(from), to), ("2026-12-01".into(), today()));
    }

    #[test]
    fn ranges_are_checked() {
        assert_eq!(
            code(range(Some("2026-02-30"), None, today())),
            "invalid_date"
        );
        assert_eq!(
            code(range(None, Some("2026-1-01"), today())),
            "invalid_date"
        );
        assert_eq!(code(range(Some(""), None, today())), "invalid_date");
        assert_eq!(
            code(range(Some("2026-12-02"), Some("2026-12-01"), today())),
            "invalid_range"
        );
        assert_eq!(
            code(range(Some("2026-12-08"), None, today())),
            "invalid_range"
        );
        // 366 days is the most: 2024 was a leap year.
        assert!(range(Some("2024-01-01"), Some("2024-12-31"), today()).is_ok());
        assert_eq!(
            code(range(Some("2024-01-01"), Some("2025-01-01"), today())),
            "invalid_range"
        );
        assert!(range(Some("2026-12-07"), Some("2026-12-07"), today()).is_ok());
    }

    fn row(day: &str, preview: bool, text_visitor: i64, voice_minutes: i64) -> UsageRow {
        UsageRow {
            day: days::parse_day(day).unwrap(),
            preview,
            sums: UsageSums {
                text_visitor,
                text_agent: 0,
                text_bot: 0,
                text_auto_reply: 0,
                voice_minutes,
                calls: 0,
                conversations_inbound: 0,
                conversations_outbound: 0,
                widget_sessions: 0,
                api_sessions: 0,
            },
        }
    }

    #[test]
    fn every_day_is_reported_and_summed_apart() {
        let quota = QuotaStatus {
            month: "2026-12".into(),
            settings: QuotaSettings::default(),
            text: QuotaMeter {
                used: 0,
                limit: None,
            },
            voice: QuotaMeter {
                used: 0,
                limit: None,
            },
        };
        let limits = PreviewLimits {
            messages_per_day: 200,
            voice_minutes_per_day: 30,
        };
        let range = range(Some("2026-11-29"), Some("2026-12-02"), today()).unwrap();
        let report = build(
            range,
            vec![
                row("2026-11-29", false, 3, 2),
                row("2026-12-01", false, 4, 0),
                row("2026-12-01", true, 5, 1),
            ],
            quota,
            limits,
        );
        let names: Vec<&str> = report.days.iter().map(|day| day.day.as_str()).collect();
        assert_eq!(
            names,
            ["2026-11-29", "2026-11-30", "2026-12-01", "2026-12-02"]
        );
        assert_eq!(report.days[1].production, UsageCounts::default());
        assert_eq!(report.days[2].production.text.visitor, 4);
        assert_eq!(report.days[2].preview.text.visitor, 5);
        assert_eq!(report.totals.text.visitor, 7);
        assert_eq!(report.totals.voice_minutes, 2);
        assert_eq!(report.preview_totals.text.visitor, 5);
        assert_eq!(report.preview_totals.voice_minutes, 1);
        assert_eq!(
            (report.from.as_str(), report.to.as_str()),
            ("2026-11-29", "2026-12-02")
        );
    }
}
