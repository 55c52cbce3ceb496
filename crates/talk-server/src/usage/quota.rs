//! Monthly quotas: the settings, hard mode's refusals, the admins' warnings.
//!
//! A quota counts production only (previews have their own limits, `super::preview`), per
//! calendar month (UTC), from `usage_days`: text is every text message (visitor, agent, bot,
//! auto-reply), voice the connected minutes. The settings are columns of the workspace,
//! read with it, so a workspace without a quota costs no query beyond that row.
//!
//! - Hard mode refuses what would *start* something once its meter is used up: a new visitor
//!   conversation (a capture reply included) for text, a new call for voice, with 429
//!   `quota_exceeded`. Running conversations always go on, and nothing refused is stored:
//!   the client keeps the message and may send it again later.
//! - Soft and hard mode warn the admins at 80% and 100% of each limit, once per month and
//!   threshold across the cluster (`quota_warnings`' insert that wins publishes), after the
//!   events that grow usage most: a production conversation started, a call ended.

use super::days;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::realtime::publish;
use crate::workspaces::Workspace;
use crate::AppState;
use talk_protocol::{
    error_code, QuotaMeter, QuotaMetric, QuotaMode, QuotaSettings, QuotaStatus, ServerEvent,
    UsageCounts, MAX_QUOTA_LIMIT,
};

/// The settings an admin sent, if every limit is `null` or within `1..=MAX_QUOTA_LIMIT`.
pub fn validate(settings: &QuotaSettings) -> ApiResult<()> {
    let valid = [
        settings.text_messages_per_month,
        settings.voice_minutes_per_month,
    ]
    .into_iter()
    .flatten()
    .all(|limit| (1..=MAX_QUOTA_LIMIT).contains(&limit));
    if valid {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_quota",
            format!("each monthly limit is null (no limit) or between 1 and {MAX_QUOTA_LIMIT}"),
        ))
    }
}

/// A month's standing: the settings against the month's production counts.
pub fn standing(month: &str, settings: QuotaSettings, used: &UsageCounts) -> QuotaStatus {
    QuotaStatus {
        month: month.to_string(),
        settings,
        text: QuotaMeter {
            used: used.text.total(),
            limit: settings.text_messages_per_month,
        },
        voice: QuotaMeter {
            used: used.voice_minutes,
            limit: settings.voice_minutes_per_month,
        },
    }
}

/// Whether hard mode refuses what would start on this meter.
fn used_up(mode: QuotaMode, meter: QuotaMeter) -> bool {
    mode == QuotaMode::Hard && meter.limit.is_some_and(|limit| meter.used >= limit)
}

/// This month's standing of the workspace (one query).
pub async fn status(state: &AppState, workspace: &Workspace) -> ApiResult<QuotaStatus> {
    let month = days::month_of(days::day_of_ms(db::now_ms()));
    let used = state
        .db
        .usage_total(&workspace.id, month.first_day, month.last_day, false)
        .await?;
    Ok(standing(&month.name, workspace.quota_settings(), &used))
}

/// The standing when hard mode limits `metric`; `None` (and no usage query) otherwise.
async fn hard_standing(
    state: &AppState,
    workspace: &Workspace,
    metric: QuotaMetric,
) -> ApiResult<Option<QuotaStatus>> {
    let settings = workspace.quota_settings();
    let limit = match metric {
        QuotaMetric::Text => settings.text_messages_per_month,
        QuotaMetric::Voice => settings.voice_minutes_per_month,
    };
    if settings.mode != QuotaMode::Hard || limit.is_none() {
        return Ok(None);
    }
    Ok(Some(status(state, workspace).await?))
}

/// Whether hard mode's text quota is used up: then nothing may start a conversation.
async fn text_used_up(state: &AppState, workspace: &Workspace) -> ApiResult<bool> {
    let standing = hard_standing(state, workspace, QuotaMetric::Text).await?;
    Ok(standing.is_some_and(|status| used_up(status.settings.mode, status.text)))
}

/// Whether a widget session may be offered a capture: not while its reply would be refused
/// (hard mode, text used up). Unreadable, the quota offers it: the reply is checked again.
pub async fn offers_captures(state: &AppState, workspace: &Workspace) -> bool {
    text_used_up(state, workspace)
        .await
        .map(|used_up| !used_up)
        .unwrap_or_else(|error| {
            tracing::error!(%error, "reading the quota");
            true
        })
}

/// Hard mode, text used up: `quota_exceeded`. (A workspace gone limits nothing: what
/// follows refuses it.)
pub async fn admit_new_conversation(state: &AppState, workspace_id: &str) -> ApiResult<()> {
    let Some(workspace) = state.db.workspace_by_id(workspace_id).await? else {
        return Ok(());
    };
    if text_used_up(state, &workspace).await? {
        return Err(ApiError::over_limit(
            error_code::QUOTA_EXCEEDED,
            "This workspace can't take new conversations right now. Your message was not \
             sent: leave your email and we'll get back to you.",
        ));
    }
    Ok(())
}

/// Hard mode, voice minutes used up: `quota_exceeded`.
pub async fn admit_call(state: &AppState, workspace_id: &str) -> ApiResult<()> {
    let Some(workspace) = state.db.workspace_by_id(workspace_id).await? else {
        return Ok(());
    };
    let standing = hard_standing(state, &workspace, QuotaMetric::Voice).await?;
    if standing.is_some_and(|status| used_up(status.settings.mode, status.voice)) {
        return Err(ApiError::over_limit(
            error_code::QUOTA_EXCEEDED,
            "This workspace can't take calls right now: write a message instead.",
        ));
    }
    Ok(())
}

/// After production usage grew (a conversation started, a call ended): warns the admins of
/// each threshold newly reached this month. In the background, so the caller's answer never
/// waits for it; a failure is logged, never the caller's.
pub fn check_warnings(state: &AppState, workspace_id: &str) {
    let state = state.clone();
    let workspace_id = workspace_id.to_string();
    tokio::spawn(async move {
        if let Err(error) = warn_admins(&state, &workspace_id).await {
            tracing::error!(%error, "quota warnings");
        }
    });
}

async fn warn_admins(state: &AppState, workspace_id: &str) -> ApiResult<()> {
    let Some(workspace) = state.db.workspace_by_id(workspace_id).await? else {
        return Ok(());
    };
    if workspace.quota_settings().mode == QuotaMode::Off {
        return Ok(());
    }
    let status = status(state, &workspace).await?;
    for warning in status.reached() {
        if state
            .db
            .record_quota_warning(workspace_id, &warning, db::now_ms())
            .await?
        {
            publish::to_admins(
                &state.hub,
                workspace_id,
                ServerEvent::QuotaWarning { warning },
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use talk_protocol::TextCounts;

    fn settings(mode: QuotaMode, text: Option<i64>, voice: Option<i64>) -> QuotaSettings {
        QuotaSettings {
            mode,
            text_messages_per_month: text,
            voice_minutes_per_month: voice,
        }
    }

    fn used(text: i64, voice_minutes: i64) -> UsageCounts {
        UsageCounts {
            text: TextCounts {
                visitor: text,
                ..TextCounts::default()
            },
            voice_minutes,
            ..UsageCounts::default()
        }
    }

    #[test]
    fn limits_are_null_or_in_range() {
        let good = [None, Some(1), Some(MAX_QUOTA_LIMIT)];
        for text in good {
            for voice in good {
                assert!(validate(&settings(QuotaMode::Hard, text, voice)).is_ok());
            }
        }
        for bad in [0, -1, MAX_QUOTA_LIMIT + 1, i64::MIN, i64::MAX] {
            let error = validate(&settings(QuotaMode::Soft, Some(bad), None)).unwrap_err();
            assert_eq!(error.code(), "invalid_quota");
            assert!(validate(&settings(QuotaMode::Off, None, Some(bad))).is_err());
        }
    }

    #[test]
    fn the_standing_counts_every_author() {
        let mut counts = used(0, 7);
        counts.text = TextCounts {
            visitor: 1,
            agent: 2,
            bot: 3,
            auto_reply: 4,
        };
        counts.calls = 99;
        let status = standing(
            "2026-12",
            settings(QuotaMode::Soft, Some(50), None),
            &counts,
        );
        assert_eq!(
            status.text,
            QuotaMeter {
                used: 10,
                limit: Some(50)
            }
        );
        assert_eq!(
            status.voice,
            QuotaMeter {
                used: 7,
                limit: None
            }
        );
        assert_eq!(status.month, "2026-12");
    }

    #[test]
    fn only_hard_mode_refuses_and_only_at_the_limit() {
        let meter = |used| QuotaMeter {
            used,
            limit: Some(10),
        };
        assert!(!used_up(QuotaMode::Hard, meter(9)));
        assert!(used_up(QuotaMode::Hard, meter(10)));
        assert!(used_up(QuotaMode::Hard, meter(11)));
        assert!(!used_up(QuotaMode::Soft, meter(11)));
        assert!(!used_up(QuotaMode::Off, meter(11)));
        let unlimited = QuotaMeter {
            used: 5,
            limit: None,
        };
        assert!(!used_up(QuotaMode::Hard, unlimited));
    }

    #[test]
    fn warnings_at_80_and_100_percent() {
        let levels = |mode, text_used, voice_used| -> Vec<(QuotaMetric, u8)> {
            let status = standing(
                "2026-12",
                settings(mode, Some(10), Some(3)),
                &used(text_used, voice_used),
            );
            status
                .reached()
                .into_iter()
                .map(|warning| (warning.metric, warning.level))
                .collect()
        };
        assert_eq!(levels(QuotaMode::Soft, 7, 2), vec![]);
        assert_eq!(levels(QuotaMode::Soft, 8, 2), vec![(QuotaMetric::Text, 80)]);
        assert_eq!(
            levels(QuotaMode::Hard, 12, 3),
            vec![
                (QuotaMetric::Text, 80),
                (QuotaMetric::Text, 100),
                (QuotaMetric::Voice, 80),
                (QuotaMetric::Voice, 100),
            ]
        );
        // 2 of 3 minutes is 66%, 3 of 3 is 100%: 80% is passed on the way.
        assert_eq!(levels(QuotaMode::Soft, 0, 2), vec![]);
        assert_eq!(levels(QuotaMode::Off, 50, 50), vec![]);
        let status = standing(
            "m",
            settings(QuotaMode::Soft, None, None),
            &used(i64::MAX, 0),
        );
        assert!(status.reached().is_empty(), "no limit, no warning");
    }
}
