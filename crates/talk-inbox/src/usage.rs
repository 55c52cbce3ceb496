//! The usage page's and the quota banner's logic, apart from the DOM: UTC day arithmetic for
//! the range picker, numbers as people read them, the CSV export, the quota form's checks and
//! the warnings' words.

use crate::validation::{problem, Problem};
use talk_protocol::days::format_day;
use talk_protocol::MAX_QUOTA_LIMIT;
use talk_protocol::{
    QuotaMetric, QuotaMode, QuotaSettings, QuotaStatus, QuotaWarning, UsageCounts, UsageReport,
};

/// The range picker's choices, in days ending today.
pub const RANGES: [i64; 3] = [7, 30, 90];
pub const DEFAULT_RANGE: i64 = 30;

/// `(from, to)` for the last `days` days ending with `today` (both included).
pub fn last_days(today: i64, days: i64) -> (String, String) {
    (format_day(today - (days - 1).max(0)), format_day(today))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `2025-05-03` as `May 3`, for the chart's axis; other text as it is.
pub fn short_day(day: &str) -> String {
    let month = day.get(5..7).and_then(|m| m.parse::<usize>().ok());
    let date = day.get(8..10).and_then(|d| d.parse::<u32>().ok());
    match (month, date) {
        (Some(month @ 1..=12), Some(date)) => format!("{} {date}", MONTHS[month - 1]),
        _ => day.to_string(),
    }
}

/// A count with thousands separated: `8,000`.
pub fn grouped(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if value < 0 {
        out.push('-');
    }
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// How much of `limit` `used` is, in whole percent, rounded down (80% only once it is).
pub fn percent(used: i64, limit: i64) -> i64 {
    if limit <= 0 {
        return 0;
    }
    (i128::from(used.max(0)) * 100 / i128::from(limit)) as i64
}

// The CSV export.

const CSV_HEADER: [&str; 21] = [
    "day",
    "text_messages",
    "visitor_messages",
    "agent_messages",
    "bot_messages",
    "auto_replies",
    "voice_minutes",
    "calls",
    "conversations_inbound",
    "conversations_outbound",
    "widget_sessions",
    "api_sessions",
    "preview_text_messages",
    "preview_visitor_messages",
    "preview_agent_messages",
    "preview_bot_messages",
    "preview_auto_replies",
    "preview_voice_minutes",
    "preview_calls",
    "preview_conversations",
    "preview_widget_sessions",
];

/// One field as RFC 4180 writes it: quoted when it holds a comma, a quote or a line break,
/// quotes doubled inside.
pub fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

fn csv_row(out: &mut String, label: &str, production: &UsageCounts, preview: &UsageCounts) {
    let numbers = [
        production.text.total(),
        production.text.visitor,
        production.text.agent,
        production.text.bot,
        production.text.auto_reply,
        production.voice_minutes,
        production.calls,
        production.conversations_inbound,
        production.conversations_outbound,
        production.widget_sessions,
        production.api_sessions,
        preview.text.total(),
        preview.text.visitor,
        preview.text.agent,
        preview.text.bot,
        preview.text.auto_reply,
        preview.voice_minutes,
        preview.calls,
        preview.conversations_inbound + preview.conversations_outbound,
        preview.widget_sessions,
    ];
    out.push_str(&csv_field(label));
    for number in numbers {
        out.push(',');
        out.push_str(&number.to_string());
    }
    out.push_str("\r\n");
}

/// The report as CSV (RFC 4180: a header, CRLF line ends): a row per day, oldest first, then
/// the range's totals in a row whose day is `total`.
pub fn usage_csv(report: &UsageReport) -> String {
    let mut out = CSV_HEADER.join(",");
    out.push_str("\r\n");
    for day in &report.days {
        csv_row(&mut out, &day.day, &day.production, &day.preview);
    }
    csv_row(&mut out, "total", &report.totals, &report.preview_totals);
    out
}

/// The export's file name.
pub fn csv_file_name(report: &UsageReport) -> String {
    format!("talk-usage-{}-to-{}.csv", report.from, report.to)
}

// The quota form.

/// A monthly limit as typed: empty is no limit, else a whole number from 1 to
/// [`MAX_QUOTA_LIMIT`].
fn parse_limit(text: &str, field: &str, unit: &str, problems: &mut Vec<Problem>) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    match text.parse::<i64>() {
        Ok(value)
            if (1..=MAX_QUOTA_LIMIT).contains(&value)
                && text.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Some(value)
        }
        _ => {
            problems.push(problem(
                field,
                format!(
                    "Write a whole number of {unit} from 1 to {}, or leave it empty for no limit.",
                    grouped(MAX_QUOTA_LIMIT)
                ),
            ));
            None
        }
    }
}

/// The quota form's fields as settings, or what to fix (keyed by the fields' ids).
pub fn check_quota(
    mode: QuotaMode,
    text: &str,
    voice: &str,
) -> Result<QuotaSettings, Vec<Problem>> {
    let mut problems = Vec::new();
    let text_messages_per_month = parse_limit(text, "quota-text", "messages", &mut problems);
    let voice_minutes_per_month = parse_limit(voice, "quota-voice", "minutes", &mut problems);
    if problems.is_empty()
        && mode != QuotaMode::Off
        && text_messages_per_month.is_none()
        && voice_minutes_per_month.is_none()
    {
        problems.push(problem(
            "quota-text",
            "Set a monthly limit for text messages or voice minutes, or turn quotas off.",
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(QuotaSettings {
        mode,
        text_messages_per_month,
        voice_minutes_per_month,
    })
}

// The warnings.

/// The warnings a quota's standing calls for, as the server sends them live: per meter, the
/// highest threshold reached. None while quotas are off.
pub fn warnings_for(status: &QuotaStatus) -> Vec<QuotaWarning> {
    let mut highest: Vec<QuotaWarning> = Vec::new();
    for warning in status.reached() {
        match highest.last_mut() {
            Some(last) if last.metric == warning.metric => *last = warning,
            _ => highest.push(warning),
        }
    }
    highest
}

/// What the banner says.
pub fn warning_text(warning: &QuotaWarning) -> String {
    let what = match warning.metric {
        QuotaMetric::Text => "text messages",
        QuotaMetric::Voice => "voice minutes",
    };
    let used = format!(
        "You've used {}% of this month's {what} ({} of {}).",
        percent(warning.used, warning.limit),
        grouped(warning.used),
        grouped(warning.limit)
    );
    let refused = match warning.metric {
        QuotaMetric::Text => "New visitor conversations are refused",
        QuotaMetric::Voice => "New calls are refused",
    };
    match (warning.level >= 100, warning.mode) {
        (true, QuotaMode::Hard) => {
            format!("{used} {refused} until next month or a higher limit.")
        }
        (true, _) => format!("{used} Nothing is refused: the quota is in soft mode."),
        _ => used,
    }
}

/// The warning refuses service: said as an alert, not a status.
pub fn is_urgent(warning: &QuotaWarning) -> bool {
    warning.level >= 100 && warning.mode == QuotaMode::Hard
}

#[cfg(test)]
mod tests {
    use super::*;
    use talk_protocol::{PreviewLimits, QuotaMeter, TextCounts, UsageDay};

    #[test]
    fn the_range_picker_names_days_and_the_axis_shortens_them() {
        assert_eq!(
            last_days(19_783, 7),
            ("2024-02-24".into(), "2024-03-01".into())
        );
        assert_eq!(
            last_days(19_783, 1),
            ("2024-03-01".into(), "2024-03-01".into())
        );
        assert_eq!(short_day("2024-03-01"), "Mar 1");
        assert_eq!(short_day("2024-12-31"), "Dec 31");
        assert_eq!(short_day("bogus"), "bogus");
    }

    #[test]
    fn numbers_read_with_thousands_separators_and_percent_rounds_down() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(8_000), "8,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(grouped(-12_345), "-12,345");
        assert_eq!(percent(7_999, 10_000), 79);
        assert_eq!(percent(8_000, 10_000), 80);
        assert_eq!(percent(12_000, 10_000), 120);
        assert_eq!(percent(5, 0), 0);
    }

    fn counts(visitor: i64, voice: i64) -> UsageCounts {
        UsageCounts {
            text: TextCounts {
                visitor,
                agent: 2,
                bot: 0,
                auto_reply: 1,
            },
            voice_minutes: voice,
            calls: i64::from(voice > 0),
            conversations_inbound: 1,
            conversations_outbound: 0,
            widget_sessions: 3,
            api_sessions: 0,
        }
    }

    fn report() -> UsageReport {
        let day = |day: &str, visitor, voice| UsageDay {
            day: day.into(),
            production: counts(visitor, voice),
            preview: UsageCounts {
                text: TextCounts {
                    visitor: 1,
                    ..Default::default()
                },
                ..Default::default()
            },
        };
        UsageReport {
            from: "2025-05-01".into(),
            to: "2025-05-02".into(),
            days: vec![day("2025-05-01", 4, 0), day("2025-05-02", 1, 3)],
            totals: counts(5, 3),
            preview_totals: UsageCounts {
                text: TextCounts {
                    visitor: 2,
                    ..Default::default()
                },
                ..Default::default()
            },
            quota: QuotaStatus {
                month: "2025-05".into(),
                settings: QuotaSettings::default(),
                text: QuotaMeter {
                    used: 12,
                    limit: None,
                },
                voice: QuotaMeter {
                    used: 3,
                    limit: None,
                },
            },
            preview_limits: PreviewLimits {
                messages_per_day: 200,
                voice_minutes_per_day: 30,
            },
        }
    }

    #[test]
    fn the_csv_has_a_header_a_row_per_day_and_the_totals_with_crlf() {
        let csv = usage_csv(&report());
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(
            lines.len(),
            5,
            "header, 2 days, total, and the last CRLF: {csv:?}"
        );
        assert!(lines[0].starts_with("day,text_messages,visitor_messages,"));
        assert_eq!(lines[0].split(',').count(), 21);
        assert_eq!(
            lines[1],
            "2025-05-01,7,4,2,0,1,0,0,1,0,3,0,1,1,0,0,0,0,0,0,0"
        );
        assert_eq!(
            lines[2],
            "2025-05-02,4,1,2,0,1,3,1,1,0,3,0,1,1,0,0,0,0,0,0,0"
        );
        assert_eq!(lines[3], "total,8,5,2,0,1,3,1,1,0,3,0,2,2,0,0,0,0,0,0,0");
        assert_eq!(lines[4], "");
        assert!(
            !csv.replace("\r\n", "").contains('\n'),
            "no bare line feeds"
        );
        assert_eq!(
            csv_file_name(&report()),
            "talk-usage-2025-05-01-to-2025-05-02.csv"
        );
    }

    #[test]
    fn csv_fields_are_quoted_only_when_they_must_be() {
        assert_eq!(csv_field("2025-05-01"), "2025-05-01");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\r\nlines"), "\"two\r\nlines\"");
        assert_eq!(csv_field("line\nfeed"), "\"line\nfeed\"");
        assert_eq!(csv_field(""), "");
    }

    #[test]
    fn the_quota_form_takes_whole_numbers_or_nothing() {
        let settings = check_quota(QuotaMode::Soft, " 10000 ", "").unwrap();
        assert_eq!(
            settings,
            QuotaSettings {
                mode: QuotaMode::Soft,
                text_messages_per_month: Some(10_000),
                voice_minutes_per_month: None,
            }
        );
        assert_eq!(
            check_quota(QuotaMode::Off, "", "").unwrap(),
            QuotaSettings::default()
        );
        for bad in ["0", "-5", "1.5", "ten", "+7", "1000000001"] {
            let problems = check_quota(QuotaMode::Hard, "100", bad).unwrap_err();
            assert_eq!(problems.len(), 1, "{bad}");
            assert_eq!(problems[0].field, "quota-voice");
            assert!(problems[0]
                .message
                .starts_with("Write a whole number of minutes"));
        }
        let problems = check_quota(QuotaMode::Hard, "", "").unwrap_err();
        assert_eq!(problems[0].field, "quota-text");
        assert!(problems[0].message.contains("or turn quotas off"));
    }

    fn status(mode: QuotaMode, text: (i64, Option<i64>), voice: (i64, Option<i64>)) -> QuotaStatus {
        QuotaStatus {
            month: "2025-05".into(),
            settings: QuotaSettings {
                mode,
                text_messages_per_month: text.1,
                voice_minutes_per_month: voice.1,
            },
            text: QuotaMeter {
                used: text.0,
                limit: text.1,
            },
            voice: QuotaMeter {
                used: voice.0,
                limit: voice.1,
            },
        }
    }

    #[test]
    fn warnings_start_at_80_percent_and_speak_of_refusals_only_in_hard_mode() {
        let soft = status(QuotaMode::Soft, (8_000, Some(10_000)), (10, Some(500)));
        let warnings = warnings_for(&soft);
        assert_eq!(warnings.len(), 1);
        assert_eq!(
            (warnings[0].metric, warnings[0].level),
            (QuotaMetric::Text, 80)
        );
        assert_eq!(
            warning_text(&warnings[0]),
            "You've used 80% of this month's text messages (8,000 of 10,000)."
        );
        assert!(!is_urgent(&warnings[0]));

        let hard = status(QuotaMode::Hard, (10_000, Some(10_000)), (600, Some(500)));
        let warnings = warnings_for(&hard);
        assert_eq!(warnings.len(), 2);
        assert_eq!(
            warning_text(&warnings[0]),
            "You've used 100% of this month's text messages (10,000 of 10,000). New visitor \
             conversations are refused until next month or a higher limit."
        );
        assert_eq!(
            warning_text(&warnings[1]),
            "You've used 120% of this month's voice minutes (600 of 500). New calls are refused \
             until next month or a higher limit."
        );
        assert!(is_urgent(&warnings[1]));

        let soft_full = status(QuotaMode::Soft, (10_000, Some(10_000)), (0, None));
        assert!(warning_text(&warnings_for(&soft_full)[0]).ends_with("soft mode."));
        let off = status(QuotaMode::Off, (10_000, Some(10_000)), (0, None));
        assert!(warnings_for(&off).is_empty());
        let unlimited = status(QuotaMode::Hard, (10_000, None), (0, Some(500)));
        assert!(warnings_for(&unlimited).is_empty());
    }
}
