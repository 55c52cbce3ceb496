//! Monthly quotas: the settings, hard mode's refusals, the admins' warnings.
// Issue 18, metering: owned by the metering part. The two functions below are the contract
// the realtime session calls; they admit everything until quotas are built.

use crate::error::ApiResult;
use crate::AppState;

/// Hard mode, text used up: `quota_exceeded`.
pub async fn admit_new_conversation(_state: &AppState, _workspace_id: &str) -> ApiResult<()> {
    Ok(())
}

/// Hard mode, voice minutes used up: `quota_exceeded`.
pub async fn admit_call(_state: &AppState, _workspace_id: &str) -> ApiResult<()> {
    Ok(())
}
