//! Usage metering, quotas and previews (issue 18, seed 003): what a workspace used per UTC
//! day, its optional monthly limits, and the fair-use limits of previews.
//!
//! - `GET /v1/admin/usage?from=YYYY-MM-DD&to=YYYY-MM-DD` (admin) → [`UsageReport`].
//! - `GET /v1/admin/quota` (admin) → [`QuotaStatus`]; `PUT /v1/admin/quota` with
//!   [`QuotaSettings`] → [`QuotaStatus`].
//! - `POST /v1/admin/preview-token` (admin) → [`PreviewToken`]: the inbox's live preview and
//!   test mode start their widget sessions with it, which marks them as previews.

use serde::{Deserialize, Serialize};

/// The longest range `GET /v1/admin/usage` answers, in days (both ends included).
pub const MAX_USAGE_DAYS: i64 = 366;

/// Text messages by who wrote them. An auto-reply is the widget's automatic answer to a
/// conversation's first message; `bot` is every other bot message (webhook bots, captures
/// sent as the bot). A call's record in its conversation is not a text message: the call
/// counts as voice minutes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextCounts {
    pub visitor: i64,
    pub agent: i64,
    pub bot: i64,
    pub auto_reply: i64,
}

impl TextCounts {
    pub fn total(&self) -> i64 {
        self.visitor + self.agent + self.bot + self.auto_reply
    }
}

/// One day's (or a range's) counts, production or previews.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageCounts {
    pub text: TextCounts,
    /// Connected time, rounded up to the minute per call.
    pub voice_minutes: i64,
    /// Calls that connected.
    pub calls: i64,
    /// Started by visitors (capture replies included).
    pub conversations_inbound: i64,
    /// Started by agents or the API (`POST /v1/people/{id}/conversations`).
    pub conversations_outbound: i64,
    pub widget_sessions: i64,
    /// Sessions minted by the site's backend (`POST /v1/talk/session`).
    pub api_sessions: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageDay {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    pub production: UsageCounts,
    /// The inbox's live preview and test mode: never in `production`, never in a quota.
    pub preview: UsageCounts,
}

/// `GET /v1/admin/usage`: every day of the range, oldest first (days without activity
/// included, as zeros), and the range's totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageReport {
    pub from: String,
    pub to: String,
    pub days: Vec<UsageDay>,
    pub totals: UsageCounts,
    pub preview_totals: UsageCounts,
    /// This month's standing against the quota (whatever the range).
    pub quota: QuotaStatus,
    pub preview_limits: PreviewLimits,
}

/// Previews' fair use, per workspace per UTC day (the operator's settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewLimits {
    /// Preview text messages of every author.
    pub messages_per_day: i64,
    pub voice_minutes_per_day: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaMode {
    /// No limits.
    #[default]
    Off,
    /// The admins are warned at 80% and 100%; nothing is refused.
    Soft,
    /// Warned likewise; past 100% new visitor conversations (and new calls, for voice) are
    /// refused with `quota_exceeded`, running conversations go on.
    Hard,
}

/// The largest monthly limit an admin may set (and the smallest is 1: "nothing at all" is
/// not a quota a chat widget needs). The server refuses others with `invalid_quota`; the
/// inbox's form checks the same bound.
pub const MAX_QUOTA_LIMIT: i64 = 1_000_000_000;

/// A workspace's monthly limits (calendar month, UTC). Text counts every production text
/// message (visitor, agent, bot, auto-reply); `None` leaves that meter unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaSettings {
    pub mode: QuotaMode,
    #[serde(default)]
    pub text_messages_per_month: Option<i64>,
    #[serde(default)]
    pub voice_minutes_per_month: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaMetric {
    Text,
    Voice,
}

/// One meter this month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaMeter {
    pub used: i64,
    pub limit: Option<i64>,
}

/// `GET /v1/admin/quota`: the settings and this month's standing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaStatus {
    /// `YYYY-MM`, UTC.
    pub month: String,
    pub settings: QuotaSettings,
    pub text: QuotaMeter,
    pub voice: QuotaMeter,
}

/// The shares of a limit the admins are warned at, in percent.
pub const QUOTA_WARNING_LEVELS: [u8; 2] = [80, 100];

impl QuotaStatus {
    /// Every warning threshold the standing has reached, text's then voice's, each in
    /// ascending order; none while quotas are off. The server sends each once a month; the
    /// inbox shows the highest per meter.
    pub fn reached(&self) -> Vec<QuotaWarning> {
        let mode = self.settings.mode;
        if mode == QuotaMode::Off {
            return Vec::new();
        }
        let mut reached = Vec::new();
        for (metric, meter) in [
            (QuotaMetric::Text, self.text),
            (QuotaMetric::Voice, self.voice),
        ] {
            let Some(limit) = meter.limit else { continue };
            for level in QUOTA_WARNING_LEVELS {
                // In i128: a used count near i64::MAX times 100 can't overflow.
                if i128::from(meter.used) * 100 >= i128::from(limit) * i128::from(level) {
                    reached.push(QuotaWarning {
                        month: self.month.clone(),
                        metric,
                        level,
                        used: meter.used,
                        limit,
                        mode,
                    });
                }
            }
        }
        reached
    }
}

/// `ServerEvent::QuotaWarning`: a threshold crossed this month, once per threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaWarning {
    pub month: String,
    pub metric: QuotaMetric,
    /// 80 or 100.
    pub level: u8,
    pub used: i64,
    pub limit: i64,
    pub mode: QuotaMode,
}

/// `POST /v1/admin/preview-token`: what the inbox's preview frame passes to the widget as its
/// token (`ap3c.init(…, {talk: {token}})`), never in a URL. The widget session it starts is a
/// preview: counted apart, listed nowhere, under the preview limits, removed after a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviewToken {
    pub token: String,
    /// Unix ms.
    pub expires_at: i64,
}
