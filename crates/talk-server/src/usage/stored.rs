//! What the store reads for metering (`crate::store::Store`'s metering section): the rows of
//! `usage_days` as both engines return them, and the columns they are read with.

use talk_protocol::{QuotaMetric, QuotaMode, TextCounts, UsageCounts};

/// `usage_days`' counters, in [`UsageCounts`]' order. Both engines select them by this list
/// (summed, for a range's totals).
const COUNTER_COLUMNS: [&str; 10] = [
    "text_visitor",
    "text_agent",
    "text_bot",
    "text_auto_reply",
    "voice_minutes",
    "calls",
    "conversations_inbound",
    "conversations_outbound",
    "widget_sessions",
    "api_sessions",
];

/// `SELECT day, preview, <counters>` of a workspace's rows between two days (`$1` workspace, `$2`, `$3`
/// the days, both included). The same text on both engines.
pub(crate) fn rows_sql() -> String {
    format!(
        "SELECT day, preview, {} FROM usage_days WHERE workspace_id = $1 AND day BETWEEN $2 AND $3 \
         ORDER BY day, preview",
        COUNTER_COLUMNS.join(", ")
    )
}

/// The sums of those rows of one preview flag (`$4`). `CAST`: PostgreSQL sums `BIGINT` into
/// `NUMERIC`.
pub(crate) fn total_sql() -> String {
    let sums: Vec<String> = COUNTER_COLUMNS
        .iter()
        .map(|column| format!("CAST(COALESCE(SUM({column}), 0) AS BIGINT) AS {column}"))
        .collect();
    format!(
        "SELECT {} FROM usage_days \
         WHERE workspace_id = $1 AND day BETWEEN $2 AND $3 AND preview = $4",
        sums.join(", ")
    )
}

/// A range's sums: [`UsageRow`] without its day and flag.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UsageSums {
    pub text_visitor: i64,
    pub text_agent: i64,
    pub text_bot: i64,
    pub text_auto_reply: i64,
    pub voice_minutes: i64,
    pub calls: i64,
    pub conversations_inbound: i64,
    pub conversations_outbound: i64,
    pub widget_sessions: i64,
    pub api_sessions: i64,
}

impl From<UsageSums> for UsageCounts {
    fn from(row: UsageSums) -> Self {
        UsageCounts {
            text: TextCounts {
                visitor: row.text_visitor,
                agent: row.text_agent,
                bot: row.text_bot,
                auto_reply: row.text_auto_reply,
            },
            voice_minutes: row.voice_minutes,
            calls: row.calls,
            conversations_inbound: row.conversations_inbound,
            conversations_outbound: row.conversations_outbound,
            widget_sessions: row.widget_sessions,
            api_sessions: row.api_sessions,
        }
    }
}

/// One `usage_days` row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UsageRow {
    pub day: i64,
    pub preview: bool,
    #[sqlx(flatten)]
    pub sums: UsageSums,
}

/// `workspaces.quota_mode`; the schema allows nothing else, and an unknown text limits
/// nothing.
pub(crate) fn quota_mode(text: &str) -> QuotaMode {
    match text {
        "soft" => QuotaMode::Soft,
        "hard" => QuotaMode::Hard,
        _ => QuotaMode::Off,
    }
}

pub(crate) fn mode_text(mode: QuotaMode) -> &'static str {
    match mode {
        QuotaMode::Off => "off",
        QuotaMode::Soft => "soft",
        QuotaMode::Hard => "hard",
    }
}

pub(crate) fn metric_text(metric: QuotaMetric) -> &'static str {
    match metric {
        QuotaMetric::Text => "text",
        QuotaMetric::Voice => "voice",
    }
}
