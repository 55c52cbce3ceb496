//! Usage metering, quotas and previews (issue 18, seed 003).
//!
//! **Counting** is the database's: triggers (`migrations/*/…usage.sql`) add every message,
//! conversation, session and ended call to `usage_days` in the counted row's own transaction,
//! so the counts can't drift from the data. This module reads them ([`report`]), and decides
//! what may start:
//!
//! - [`quota`]: a workspace's monthly limits; in hard mode new visitor conversations and new
//!   calls are refused with `quota_exceeded` once a limit is used up; the admins are warned
//!   at 80% and 100%.
//! - [`preview`]: sessions of the inbox's live preview and test mode, counted apart, under
//!   their own daily fair-use limits (`preview_limit_reached`), removed after a day.
//!
//! The realtime session asks the `admit_*` functions below before it writes, so a refusal
//! loses nothing: the client keeps the message and gets the code.

pub use talk_protocol::days;
pub mod preview;
pub mod quota;
pub mod report;
pub mod stored;

use crate::error::ApiResult;
use crate::AppState;

/// A visitor's message into one of its conversations. Running conversations always go on in
/// production; a preview's messages are under the preview limit.
pub async fn admit_visitor_message(
    state: &AppState,
    workspace_id: &str,
    preview: bool,
) -> ApiResult<()> {
    if preview {
        preview::admit_message(state, workspace_id).await?;
    }
    Ok(())
}

/// A visitor's message that starts a conversation (a `send` without a conversation, or a
/// capture reply).
pub async fn admit_new_conversation(
    state: &AppState,
    workspace_id: &str,
    preview: bool,
) -> ApiResult<()> {
    if preview {
        preview::admit_message(state, workspace_id).await
    } else {
        quota::admit_new_conversation(state, workspace_id).await
    }
}

/// A call about to ring, from either side.
pub async fn admit_call(state: &AppState, workspace_id: &str, preview: bool) -> ApiResult<()> {
    if preview {
        preview::admit_call(state, workspace_id).await
    } else {
        quota::admit_call(state, workspace_id).await
    }
}
