//! Preview sessions: their token, their daily fair-use limits, their clean-up.
// Issue 18, previews: owned by the previews part. The two functions below are the contract
// the realtime session calls; they admit everything until previews are built.

use crate::error::ApiResult;
use crate::AppState;

/// Today's preview messages reached `preview_messages_per_day`: `preview_limit_reached`.
pub async fn admit_message(_state: &AppState, _workspace_id: &str) -> ApiResult<()> {
    Ok(())
}

/// Today's preview voice minutes reached `preview_voice_minutes_per_day`.
pub async fn admit_call(_state: &AppState, _workspace_id: &str) -> ApiResult<()> {
    Ok(())
}
