//! Preview sessions: the inbox's live preview and test mode run the real widget with a
//! preview token (`POST /v1/admin/preview-token`). Their sessions and conversations are
//! marked `preview`: the triggers count them apart, no listing shows them, agents hear
//! nothing of them (`realtime::publish`), they are under daily fair-use limits, and they are
//! deleted after a day ([`run_clean_up`]). Counters are never uncounted.

use crate::db::{self, Db};
use crate::error::{ApiError, ApiResult};
use crate::store::StoreResult;
use crate::tokens::{self, PreviewClaims};
use crate::AppState;
use std::time::Duration;
use talk_protocol::days::{day_of_ms, DAY_MS};
use talk_protocol::{error_code, PreviewToken, UsageCounts};
use tokio_util::sync::CancellationToken;

/// How long a preview token starts sessions, and how long previews are kept.
pub const PREVIEW_TTL_SECS: i64 = 24 * 3600;
const CLEAN_UP_EVERY: Duration = Duration::from_secs(3600);
/// Rows one clean-up statement deletes: each batch is a short transaction.
const CLEAN_UP_BATCH: i64 = 500;
/// What sets a preview conversation's id apart from [`db::new_id`]'s all-hex ones.
const CONVERSATION_ID_MARK: char = 'p';

/// Signs a preview token for the admin: it starts preview sessions for 24 hours.
pub async fn mint_token(
    state: &AppState,
    workspace_id: &str,
    agent_id: &str,
) -> ApiResult<PreviewToken> {
    let issued_at = tokens::now_secs();
    let expires_at = issued_at + PREVIEW_TTL_SECS;
    let claims = PreviewClaims {
        typ: tokens::PREVIEW_TYP.to_string(),
        ws: workspace_id.to_string(),
        sub: agent_id.to_string(),
        iat: issued_at,
        exp: expires_at,
    };
    let key = tokens::active_key(&state.db, workspace_id).await?;
    Ok(PreviewToken {
        token: tokens::sign(&key, &claims)?,
        expires_at: expires_at * 1000,
    })
}

/// The visitor an admin's previews run as: its own (never the browser's cookie, which the
/// inbox and a site on one origin share), the same across the admin's previews, and in a
/// visitor id's shape (32 lowercase hex).
pub fn visitor_id(agent_id: &str) -> String {
    crate::people::derived_visitor_id("preview", agent_id)
}

/// A new preview conversation's id: [`db::new_id`]'s length, led by a letter no other id
/// has. Whoever publishes a conversation's events, on any node and knowing only its id (the
/// sequencer does), can tell a preview from it and keep it from the agents.
pub fn conversation_id() -> String {
    format!("{CONVERSATION_ID_MARK}{}", &db::new_id()[1..])
}

/// Whether the conversation is a preview's (see [`conversation_id`]).
pub fn is_preview_conversation(conversation_id: &str) -> bool {
    conversation_id.starts_with(CONVERSATION_ID_MARK)
}

/// Seconds until the next UTC day begins, when the limits start over (at least 1).
fn secs_until_tomorrow(now_ms: i64) -> u64 {
    let next_day = (day_of_ms(now_ms) + 1) * DAY_MS;
    u64::try_from((next_day - now_ms + 999) / 1000)
        .unwrap_or(1)
        .max(1)
}

/// Refuses once `used` reached `limit` (a limit of 0 refuses everything).
fn check_limit(used: i64, limit: i64, what: &str, now_ms: i64) -> ApiResult<()> {
    if used < limit {
        return Ok(());
    }
    Err(ApiError::LimitReached {
        code: error_code::PREVIEW_LIMIT_REACHED,
        message: format!(
            "Previews are limited to {limit} {what} a day per workspace; production is \
             unaffected. Try again tomorrow."
        ),
        retry_after_secs: Some(secs_until_tomorrow(now_ms)),
    })
}

/// Today's preview counters of the workspace, as the triggers counted them.
async fn today(state: &AppState, workspace_id: &str, now_ms: i64) -> ApiResult<UsageCounts> {
    let day = day_of_ms(now_ms);
    Ok(state.db.usage_total(workspace_id, day, day, true).await?)
}

/// Today's preview messages reached `preview_messages_per_day`: `preview_limit_reached`.
pub async fn admit_message(state: &AppState, workspace_id: &str) -> ApiResult<()> {
    let now = db::now_ms();
    // Text messages of every author (visitor, agent, bot, auto-reply).
    let used = today(state, workspace_id, now).await?.text.total();
    check_limit(
        used,
        state.settings.preview_messages_per_day,
        "messages",
        now,
    )
}

/// Today's preview voice minutes reached `preview_voice_minutes_per_day`.
pub async fn admit_call(state: &AppState, workspace_id: &str) -> ApiResult<()> {
    let now = db::now_ms();
    let used = today(state, workspace_id, now).await?.voice_minutes;
    check_limit(
        used,
        state.settings.preview_voice_minutes_per_day,
        "voice minutes",
        now,
    )
}

/// What one clean-up deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cleaned {
    pub conversations: u64,
    pub sessions: u64,
}

/// Deletes the previews older than a day at `now`: conversations first (their messages,
/// calls and webhook deliveries go with them), then the sessions no conversation still
/// rests on. In batches, so no statement holds the database long; idempotent, so nodes
/// running it at once only share the work. `usage_days` keeps its counts.
pub async fn clean_up(db: &Db, now: i64) -> StoreResult<Cleaned> {
    let before = now - PREVIEW_TTL_SECS * 1000;
    let mut cleaned = Cleaned::default();
    loop {
        let deleted = db
            .delete_preview_conversations(before, CLEAN_UP_BATCH)
            .await?;
        cleaned.conversations += deleted;
        if deleted < CLEAN_UP_BATCH as u64 {
            break;
        }
    }
    loop {
        let deleted = db.delete_preview_sessions(before, CLEAN_UP_BATCH).await?;
        cleaned.sessions += deleted;
        if deleted < CLEAN_UP_BATCH as u64 {
            break;
        }
    }
    Ok(cleaned)
}

/// Every node cleans up hourly until `stop` (the first right at start).
pub async fn run_clean_up(db: Db, stop: CancellationToken) {
    let mut every = tokio::time::interval(CLEAN_UP_EVERY);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        match clean_up(&db, db::now_ms()).await {
            Ok(cleaned) if cleaned != Cleaned::default() => {
                tracing::info!(?cleaned, "previews: removed those older than a day");
            }
            Ok(_) => {}
            // Tried again in an hour.
            Err(error) => tracing::warn!(%error, "previews: cleaning up"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_ids_are_told_apart_from_every_other_id() {
        let id = conversation_id();
        assert_eq!(id.len(), db::new_id().len());
        assert!(is_preview_conversation(&id));
        assert!(id[1..].bytes().all(|byte| byte.is_ascii_hexdigit()));
        for _ in 0..100 {
            assert!(!is_preview_conversation(&db::new_id()));
        }
    }

    #[test]
    fn an_admins_preview_visitor_is_stable_and_shaped_like_a_visitor_id() {
        let visitor = visitor_id("agent-1");
        assert_eq!(visitor, visitor_id("agent-1"));
        assert_ne!(visitor, visitor_id("agent-2"));
        assert_eq!(visitor.len(), 32);
        assert!(visitor
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)));
    }

    #[test]
    fn limits_trip_at_the_limit_and_retry_tomorrow() {
        let noon = 20_000 * DAY_MS + DAY_MS / 2;
        assert!(check_limit(4, 5, "messages", noon).is_ok());
        let refused = check_limit(5, 5, "messages", noon).unwrap_err();
        assert_eq!(refused.code(), error_code::PREVIEW_LIMIT_REACHED);
        assert_eq!(refused.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert!(refused.to_string().contains("limited to 5 messages a day"));
        assert!(matches!(
            refused,
            ApiError::LimitReached {
                retry_after_secs: Some(43_200),
                ..
            }
        ));
        assert!(check_limit(0, 0, "voice minutes", noon).is_err());
        assert_eq!(secs_until_tomorrow(21_000 * DAY_MS - 1), 1);
        assert_eq!(day_of_ms(21_000 * DAY_MS - 1), 20_999);
    }
}
