//! The usage page's chart as geometry, apart from the DOM: what the component draws as SVG,
//! computed here from the report and tested natively.
//!
//! Three panels share the days along the x axis:
//! - text messages per day: production (wide bar) and previews (narrow bar beside it);
//! - voice minutes per day, likewise;
//! - this month against the quota, when one is set: the month-to-date total of each metered
//!   series as a percentage of its monthly limit (text solid, voice dashed), with the 100%
//!   line (the quota) and the 80% line (the first warning). A monthly limit can't be drawn
//!   against daily bars; as a share of the limit, text and voice share one scale.
//!
//! Coordinates are whole user units of the SVG's `viewBox` (the SVG scales to its box), so
//! that no float formatting goes into the bundle and tests compare exact numbers.

use crate::usage::{grouped, percent, short_day};
use talk_protocol::{QuotaMeter, QuotaMode, UsageReport};

/// The plot's width for every range: each day gets `PLOT_WIDTH / days` units (at least 2).
const PLOT_WIDTH: i32 = 720;
/// Room on the left for the y axis' labels, and on the right.
const LEFT: i32 = 56;
const RIGHT: i32 = 12;
/// A panel: its title's line, then its plot.
const TITLE_HEIGHT: i32 = 26;
const PLOT_HEIGHT: i32 = 110;
/// Below the last panel: the days' labels.
const AXIS_HEIGHT: i32 = 24;
/// At most this many day labels on the axis.
const MAX_DAY_LABELS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    Text,
    PreviewText,
    Voice,
    PreviewVoice,
    /// Month to date, % of the monthly limit.
    TextOfQuota,
    VoiceOfQuota,
}

impl Series {
    /// The CSS class that colours it (the inbox's stylesheet), also its test id's suffix.
    pub fn name(self) -> &'static str {
        match self {
            Series::Text => "text",
            Series::PreviewText => "preview-text",
            Series::Voice => "voice",
            Series::PreviewVoice => "preview-voice",
            Series::TextOfQuota => "text-quota",
            Series::VoiceOfQuota => "voice-quota",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bar {
    pub series: Series,
    pub day: String,
    pub count: i64,
    pub x: i32,
    pub y: i32,
    pub width: i32,
    pub height: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tick {
    pub y: i32,
    pub label: String,
}

/// A month-to-date line: one point per day of this month in the range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub series: Series,
    pub points: Vec<(i32, i32)>,
    /// The month's total so far (the last point's value).
    pub total: i64,
}

impl Line {
    /// The `points` attribute of a `<polyline>`.
    pub fn points_attr(&self) -> String {
        self.points
            .iter()
            .map(|(x, y)| format!("{x},{y}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A horizontal reference line across a panel (the quota at 100%, the warning at 80%).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub y: i32,
    pub label: String,
    /// The quota itself (else the warning threshold).
    pub quota: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Panel {
    /// Also its test id's suffix: `text`, `voice`, `quota`.
    pub key: &'static str,
    pub title: String,
    /// The plot's top and its baseline (zero).
    pub top: i32,
    pub bottom: i32,
    pub ticks: Vec<Tick>,
    pub bars: Vec<Bar>,
    pub lines: Vec<Line>,
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayLabel {
    /// The middle of the day's slot.
    pub x: i32,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chart {
    pub width: i32,
    pub height: i32,
    /// Where the plots start and end along x (the axis and grid lines span it).
    pub left: i32,
    pub right: i32,
    pub panels: Vec<Panel>,
    pub day_labels: Vec<DayLabel>,
    pub day_labels_y: i32,
    /// What the chart shows, in words: its accessible description.
    pub summary: String,
}

/// A round scale for values up to `max`: `(top, step)`, about four steps of 1, 2 or 5 × 10ⁿ
/// (whole numbers), `top` the first multiple of `step` at or above `max`.
pub fn nice_scale(max: i64) -> (i64, i64) {
    let max = max.max(1);
    let rough = (max + 3) / 4;
    let mut magnitude = 1i64;
    while magnitude * 10 <= rough {
        magnitude *= 10;
    }
    let step = [1, 2, 5, 10]
        .into_iter()
        .map(|f| f * magnitude)
        .find(|step| *step >= rough)
        .unwrap_or(10 * magnitude);
    let top = (max + step - 1) / step * step;
    (top, step)
}

/// `value` on a scale from 0 (at `bottom`) to `top` (at `bottom - PLOT_HEIGHT`).
fn scaled(value: i64, top: i64, bottom: i32) -> i32 {
    let height = (i128::from(value.max(0)) * i128::from(PLOT_HEIGHT) / i128::from(top.max(1)))
        .min(i128::from(PLOT_HEIGHT)) as i32;
    bottom - height
}

fn ticks(top: i64, step: i64, bottom: i32, label: impl Fn(i64) -> String) -> Vec<Tick> {
    (0..=top / step)
        .map(|index| {
            let value = index * step;
            Tick {
                y: scaled(value, top, bottom),
                label: label(value),
            }
        })
        .collect()
}

/// Where a day's two bars go in its slot: the production bar, the preview bar right of it.
fn bar_slots(slot_x: i32, slot: i32) -> ((i32, i32), (i32, i32)) {
    let pad = slot / 10;
    let wide = (slot / 2).max(1);
    let main = (slot_x + pad, wide);
    let side_x = main.0 + wide + slot / 20;
    let side = ((slot * 3 / 10).max(1)).min(slot_x + slot - side_x).max(0);
    (main, (side_x, side))
}

fn bar(
    series: Series,
    day: &str,
    count: i64,
    (x, width): (i32, i32),
    top: i64,
    bottom: i32,
) -> Bar {
    let mut y = scaled(count, top, bottom);
    // A day with any use shows, however tall the busiest day.
    if count > 0 && y == bottom {
        y -= 1;
    }
    Bar {
        series,
        day: day.to_string(),
        count,
        x,
        y,
        width,
        height: bottom - y,
    }
}

/// A panel of daily bars: `values` gives each day's (production, preview) count.
fn bar_panel(
    key: &'static str,
    title: &str,
    report: &UsageReport,
    series: (Series, Series),
    values: impl Fn(&talk_protocol::UsageDay) -> (i64, i64),
    layout: &Layout,
    top_y: i32,
) -> Panel {
    let bottom = top_y + TITLE_HEIGHT + PLOT_HEIGHT;
    let max = report
        .days
        .iter()
        .map(|day| {
            let (a, b) = values(day);
            a.max(b)
        })
        .max()
        .unwrap_or(0);
    let (top, step) = nice_scale(max);
    let mut bars = Vec::with_capacity(report.days.len() * 2);
    for (index, day) in report.days.iter().enumerate() {
        let (production, preview) = values(day);
        let (main, side) = bar_slots(layout.slot_x(index), layout.slot);
        bars.push(bar(series.0, &day.day, production, main, top, bottom));
        bars.push(bar(series.1, &day.day, preview, side, top, bottom));
    }
    Panel {
        key,
        title: title.to_string(),
        top: bottom - PLOT_HEIGHT,
        bottom,
        ticks: ticks(top, step, bottom, grouped),
        bars,
        lines: Vec::new(),
        rules: Vec::new(),
    }
}

/// Each day's slot along x.
struct Layout {
    slot: i32,
}

impl Layout {
    fn slot_x(&self, index: usize) -> i32 {
        LEFT + self.slot * index as i32
    }

    fn middle(&self, index: usize) -> i32 {
        self.slot_x(index) + self.slot / 2
    }
}

/// A day of this month in the range: its index in the report, its production use.
struct MonthDay {
    index: usize,
    text: i64,
    voice: i64,
}

/// Which of a day's uses a series counts.
type DayUse = fn(&MonthDay) -> i64;

/// A metered series with a limit: each of this month's days' (index, month-to-date use).
struct Metered {
    series: Series,
    limit: i64,
    points: Vec<(usize, i64)>,
}

/// This month against the quota, when the quota is on and has a limit: `None` otherwise.
fn quota_panel(report: &UsageReport, layout: &Layout, top_y: i32) -> Option<Panel> {
    let quota = &report.quota;
    if quota.settings.mode == QuotaMode::Off {
        return None;
    }
    let bottom = top_y + TITLE_HEIGHT + PLOT_HEIGHT;
    // The month's days in the range, and each one's use. The meters hold the month's total
    // so far; the days before the range's start are in it, so each day's month-to-date
    // total is counted back from the meter rather than up from the range's first day.
    let month: Vec<MonthDay> = report
        .days
        .iter()
        .enumerate()
        .filter(|(_, day)| day.day.starts_with(&quota.month))
        .map(|(index, day)| MonthDay {
            index,
            text: day.production.text.total(),
            voice: day.production.voice_minutes,
        })
        .collect();
    let metered: [(Series, QuotaMeter, DayUse); 2] = [
        (Series::TextOfQuota, quota.text, |day| day.text),
        (Series::VoiceOfQuota, quota.voice, |day| day.voice),
    ];
    let series: Vec<Metered> = metered
        .into_iter()
        .filter_map(|(series, meter, of_day)| {
            let limit = meter.limit?;
            let mut left = meter.used;
            let mut points: Vec<(usize, i64)> = month
                .iter()
                .rev()
                .map(|day| {
                    let at = (day.index, left.max(0));
                    left -= of_day(day);
                    at
                })
                .collect();
            points.reverse();
            Some(Metered {
                series,
                limit,
                points,
            })
        })
        .collect();
    if series.is_empty() {
        return None;
    }
    let highest = series
        .iter()
        .flat_map(|metered| {
            metered
                .points
                .iter()
                .map(|(_, used)| percent(*used, metered.limit))
        })
        .max()
        .unwrap_or(0);
    let (top, step) = nice_scale(highest.max(100));
    let lines = series
        .iter()
        .map(|metered| Line {
            series: metered.series,
            points: metered
                .points
                .iter()
                .map(|(index, used)| {
                    (
                        layout.middle(*index),
                        scaled(percent(*used, metered.limit), top, bottom),
                    )
                })
                .collect(),
            total: metered.points.last().map_or(0, |(_, used)| *used),
        })
        .collect();
    let limits: Vec<String> = series
        .iter()
        .map(|metered| match metered.series {
            Series::VoiceOfQuota => format!("{} voice minutes", grouped(metered.limit)),
            _ => format!("{} text messages", grouped(metered.limit)),
        })
        .collect();
    Some(Panel {
        key: "quota",
        title: format!(
            "This month so far, % of the monthly quota ({})",
            quota.month
        ),
        top: bottom - PLOT_HEIGHT,
        bottom,
        ticks: ticks(top, step, bottom, |value| format!("{value}%")),
        bars: Vec::new(),
        lines,
        rules: vec![
            Rule {
                y: scaled(100, top, bottom),
                label: format!("Quota: {}", limits.join(", ")),
                quota: true,
            },
            Rule {
                y: scaled(80, top, bottom),
                label: "80%: warning".into(),
                quota: false,
            },
        ],
    })
}

/// The chart of a report.
pub fn chart(report: &UsageReport) -> Chart {
    let days = report.days.len().max(1) as i32;
    let layout = Layout {
        slot: (PLOT_WIDTH / days).max(2),
    };
    let plot_width = layout.slot * days;
    let panel_height = TITLE_HEIGHT + PLOT_HEIGHT;
    let mut panels = vec![
        bar_panel(
            "text",
            "Text messages per day",
            report,
            (Series::Text, Series::PreviewText),
            |day| (day.production.text.total(), day.preview.text.total()),
            &layout,
            0,
        ),
        bar_panel(
            "voice",
            "Voice minutes per day",
            report,
            (Series::Voice, Series::PreviewVoice),
            |day| (day.production.voice_minutes, day.preview.voice_minutes),
            &layout,
            panel_height,
        ),
    ];
    if let Some(panel) = quota_panel(report, &layout, 2 * panel_height) {
        panels.push(panel);
    }
    let plots_end = panels.last().map_or(0, |panel| panel.bottom);

    // Every k-th day, counted back from the last, so the newest day is always labelled.
    let count = report.days.len();
    let every = count.div_ceil(MAX_DAY_LABELS).max(1);
    let day_labels = report
        .days
        .iter()
        .enumerate()
        .filter(|(index, _)| (count - 1 - index).is_multiple_of(every))
        .map(|(index, day)| DayLabel {
            x: layout.middle(index),
            text: short_day(&day.day),
        })
        .collect();

    Chart {
        width: LEFT + plot_width + RIGHT,
        height: plots_end + AXIS_HEIGHT,
        left: LEFT,
        right: LEFT + plot_width,
        summary: summary(report, &panels),
        panels,
        day_labels,
        day_labels_y: plots_end + 16,
    }
}

/// The chart in a few sentences (its `<desc>`); the table has every number.
fn summary(report: &UsageReport, panels: &[Panel]) -> String {
    let busiest = report
        .days
        .iter()
        .max_by_key(|day| {
            (
                day.production.text.total(),
                std::cmp::Reverse(day.day.clone()),
            )
        })
        .filter(|day| day.production.text.total() > 0)
        .map(|day| {
            format!(
                " (busiest day {}, with {})",
                day.day,
                grouped(day.production.text.total())
            )
        })
        .unwrap_or_default();
    let mut text = format!(
        "From {} to {}, {} days: {} text messages{busiest} and {} voice minutes; previews: {} \
         messages and {} voice minutes.",
        report.from,
        report.to,
        report.days.len(),
        grouped(report.totals.text.total()),
        grouped(report.totals.voice_minutes),
        grouped(report.preview_totals.text.total()),
        grouped(report.preview_totals.voice_minutes),
    );
    let quota = &report.quota;
    match panels.iter().find(|panel| panel.key == "quota") {
        Some(_) => {
            for (what, meter) in [
                ("text messages", quota.text),
                ("voice minutes", quota.voice),
            ] {
                if let Some(limit) = meter.limit {
                    text.push_str(&format!(
                        " This month: {} of {} {what} ({}%).",
                        grouped(meter.used),
                        grouped(limit),
                        percent(meter.used, limit)
                    ));
                }
            }
        }
        None => text.push_str(" No monthly quota is set."),
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use talk_protocol::{
        PreviewLimits, QuotaMeter, QuotaSettings, QuotaStatus, TextCounts, UsageCounts, UsageDay,
    };

    fn day(day: &str, text: i64, voice: i64, preview_text: i64) -> UsageDay {
        UsageDay {
            day: day.into(),
            production: UsageCounts {
                text: TextCounts {
                    visitor: text,
                    ..Default::default()
                },
                voice_minutes: voice,
                ..Default::default()
            },
            preview: UsageCounts {
                text: TextCounts {
                    visitor: preview_text,
                    ..Default::default()
                },
                ..Default::default()
            },
        }
    }

    fn report(days: Vec<UsageDay>, quota: QuotaStatus) -> UsageReport {
        let sum = |f: fn(&UsageDay) -> i64| days.iter().map(f).sum::<i64>();
        let totals = UsageCounts {
            text: TextCounts {
                visitor: sum(|d| d.production.text.visitor),
                ..Default::default()
            },
            voice_minutes: sum(|d| d.production.voice_minutes),
            ..Default::default()
        };
        let preview_totals = UsageCounts {
            text: TextCounts {
                visitor: sum(|d| d.preview.text.visitor),
                ..Default::default()
            },
            ..Default::default()
        };
        UsageReport {
            from: days.first().map(|d| d.day.clone()).unwrap_or_default(),
            to: days.last().map(|d| d.day.clone()).unwrap_or_default(),
            days,
            totals,
            preview_totals,
            quota,
            preview_limits: PreviewLimits {
                messages_per_day: 200,
                voice_minutes_per_day: 30,
            },
        }
    }

    fn quota(mode: QuotaMode, text: (i64, Option<i64>), voice: (i64, Option<i64>)) -> QuotaStatus {
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

    fn no_quota() -> QuotaStatus {
        quota(QuotaMode::Off, (0, None), (0, None))
    }

    #[test]
    fn scales_are_round_and_cover_the_largest_value() {
        assert_eq!(nice_scale(0), (1, 1));
        assert_eq!(nice_scale(1), (1, 1));
        assert_eq!(nice_scale(3), (3, 1));
        assert_eq!(nice_scale(7), (8, 2));
        assert_eq!(nice_scale(10), (10, 5));
        assert_eq!(nice_scale(100), (100, 50));
        assert_eq!(nice_scale(212), (300, 100));
        assert_eq!(nice_scale(8_000), (8_000, 2_000));
        assert_eq!(nice_scale(9_999), (10_000, 5_000));
        for max in 0..2_000 {
            let (top, step) = nice_scale(max);
            assert!(
                top >= max && top % step == 0 && top / step <= 5,
                "{max}: {top} {step}"
            );
        }
    }

    #[test]
    fn bars_stand_on_the_baseline_in_proportion_with_the_preview_beside() {
        let chart = chart(&report(
            vec![
                day("2025-05-01", 0, 0, 0),
                day("2025-05-02", 10, 3, 2),
                day("2025-05-03", 5, 0, 0),
                day("2025-05-04", 1_000, 0, 0),
            ],
            no_quota(),
        ));
        let text = &chart.panels[0];
        assert_eq!(text.key, "text");
        let of = |series: Series| -> Vec<&Bar> {
            text.bars
                .iter()
                .filter(|bar| bar.series == series)
                .collect()
        };
        let production = of(Series::Text);
        let counts: Vec<i64> = production.iter().map(|bar| bar.count).collect();
        assert_eq!(counts, [0, 10, 5, 1_000]);
        for bar in &text.bars {
            assert_eq!(bar.y + bar.height, text.bottom, "on the baseline: {bar:?}");
            assert!(bar.y >= text.top);
        }
        assert_eq!(production[0].height, 0);
        // 1,000 is the top of the scale: the whole plot's height; 10 is 1/100 of it.
        assert_eq!(production[3].height, PLOT_HEIGHT);
        assert_eq!(production[1].height, 1);
        assert_eq!(production[2].height, 1, "a day with any use shows");
        let preview = of(Series::PreviewText);
        assert_eq!(preview[1].count, 2);
        // Each day's bars stay in its slot, the preview right of the production bar.
        let slot = PLOT_WIDTH / 4;
        for (index, (main, side)) in production.iter().zip(&preview).enumerate() {
            let start = LEFT + slot * index as i32;
            assert!(main.x >= start && main.x + main.width <= side.x);
            assert!(side.x + side.width <= start + slot);
            assert!(side.width >= 1 && main.width > side.width);
        }
        assert_eq!(
            text.ticks
                .iter()
                .map(|t| t.label.as_str())
                .collect::<Vec<_>>(),
            ["0", "500", "1,000"]
        );
        assert_eq!(text.ticks[0].y, text.bottom);
        assert_eq!(text.ticks[2].y, text.top);
        let voice = &chart.panels[1];
        assert_eq!(voice.key, "voice");
        assert!(voice.top > text.bottom, "the panels don't overlap");
        let minutes: Vec<i64> = voice
            .bars
            .iter()
            .filter(|bar| bar.series == Series::Voice)
            .map(|bar| bar.count)
            .collect();
        assert_eq!(minutes, [0, 3, 0, 0]);
        assert_eq!(chart.panels.len(), 2, "no quota: no quota panel");
        assert!(chart.summary.ends_with("No monthly quota is set."));
        assert!(chart
            .summary
            .contains("1,015 text messages (busiest day 2025-05-04, with 1,000)"));
    }

    #[test]
    fn every_range_fits_its_slots_and_labels_the_newest_day() {
        for days in [1usize, 7, 30, 90, 366] {
            let report = report(
                (0..days)
                    .map(|index| {
                        day(
                            &talk_protocol::days::format_day(20_000 + index as i64),
                            1,
                            1,
                            1,
                        )
                    })
                    .collect(),
                no_quota(),
            );
            let chart = chart(&report);
            assert!(chart.day_labels.len() <= MAX_DAY_LABELS, "{days}");
            let last = chart.day_labels.last().unwrap();
            assert_eq!(last.text, crate::usage::short_day(&report.to), "{days}");
            for panel in &chart.panels {
                for bar in &panel.bars {
                    assert!(
                        bar.x >= chart.left && bar.x + bar.width <= chart.right,
                        "{days}: {bar:?}"
                    );
                }
            }
            assert!(chart.right < chart.width);
        }
        let week = chart(&report(
            (0..7)
                .map(|i| day(&talk_protocol::days::format_day(20_000 + i), 0, 0, 0))
                .collect(),
            no_quota(),
        ));
        assert_eq!(week.day_labels.len(), 7, "a week: every day");
    }

    #[test]
    fn the_quota_panel_counts_the_month_back_from_the_meter() {
        // The range starts on the 29th of April; May's meter holds 8,000 messages (most of
        // them before the range's May days, which add 30).
        let days = vec![
            day("2025-04-29", 50, 0, 0),
            day("2025-04-30", 50, 0, 0),
            day("2025-05-01", 10, 0, 0),
            day("2025-05-02", 20, 5, 0),
        ];
        let chart = chart(&report(
            days,
            quota(QuotaMode::Soft, (8_000, Some(10_000)), (5, Some(500))),
        ));
        let panel = &chart.panels[2];
        assert_eq!(panel.key, "quota");
        let text = &panel.lines[0];
        assert_eq!(text.series, Series::TextOfQuota);
        assert_eq!(text.points.len(), 2, "May's days only");
        assert_eq!(text.total, 8_000);
        // 7,980 is 79% and 8,000 is 80% of 10,000, on a 0–100% scale.
        let y_of = |pct: i64| panel.bottom - (pct * i64::from(PLOT_HEIGHT) / 100) as i32;
        assert_eq!(text.points[0].1, y_of(79));
        assert_eq!(text.points[1].1, y_of(80));
        let voice = &panel.lines[1];
        assert_eq!(voice.series, Series::VoiceOfQuota);
        assert_eq!(
            voice.points.iter().map(|p| p.1).collect::<Vec<_>>(),
            [y_of(0), y_of(1)]
        );
        assert_eq!(panel.rules[0].y, panel.top, "the quota tops the scale");
        assert!(panel.rules[0].quota);
        assert_eq!(
            panel.rules[0].label,
            "Quota: 10,000 text messages, 500 voice minutes"
        );
        assert_eq!(panel.rules[1].y, y_of(80));
        assert_eq!(text.points_attr().split(' ').count(), 2);
        // The points sit in the middle of their days' slots.
        let slot = PLOT_WIDTH / 4;
        assert_eq!(text.points[0].0, LEFT + 2 * slot + slot / 2);
        assert!(chart
            .summary
            .contains("This month: 8,000 of 10,000 text messages (80%)."));
        assert!(chart.summary.contains("5 of 500 voice minutes (1%)."));
    }

    #[test]
    fn over_the_quota_the_scale_grows_and_off_means_no_panel() {
        let over = chart(&report(
            vec![day("2025-05-01", 150, 0, 0)],
            quota(QuotaMode::Hard, (150, Some(100)), (0, None)),
        ));
        let panel = &over.panels[2];
        assert_eq!(panel.lines.len(), 1, "voice has no limit");
        assert_eq!(panel.ticks.last().unwrap().label, "150%");
        assert!(panel.rules[0].y > panel.top);
        assert_eq!(panel.lines[0].points[0].1, panel.top);

        let off = chart(&report(
            vec![day("2025-05-01", 150, 0, 0)],
            quota(QuotaMode::Off, (150, Some(100)), (0, None)),
        ));
        assert_eq!(off.panels.len(), 2);
        let unlimited = chart(&report(
            vec![day("2025-05-01", 150, 0, 0)],
            quota(QuotaMode::Soft, (150, None), (0, None)),
        ));
        assert_eq!(unlimited.panels.len(), 2);
    }
}
