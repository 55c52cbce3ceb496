//! Usage and quotas over HTTP (admin cookie): `GET /v1/admin/usage`, `GET`/`PUT
//! /v1/admin/quota`. Thin: `crate::usage` decides.

use super::agent_session::AdminSession;
use super::ApiJson;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::usage::{days, quota, report};
use crate::workspaces::{self, Workspace};
use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use talk_protocol::{PreviewLimits, QuotaSettings, QuotaStatus, UsageReport};

#[derive(Debug, Deserialize)]
pub struct UsageQuery {
    from: Option<String>,
    to: Option<String>,
}

async fn admins_workspace(
    state: &AppState,
    admin: &talk_protocol::AgentProfile,
) -> ApiResult<Workspace> {
    workspaces::by_id(&state.db, &admin.workspace_id)
        .await?
        .ok_or_else(|| ApiError::Internal("the signed-in admin's workspace is gone".into()))
}

/// `GET /v1/admin/usage?from=YYYY-MM-DD&to=YYYY-MM-DD`: both optional (the last 30 days).
pub async fn get_usage(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
    query: Result<Query<UsageQuery>, QueryRejection>,
) -> ApiResult<Json<UsageReport>> {
    // Both fields are optional strings: only a malformed query string fails here.
    let Query(query) = query.map_err(|_| {
        ApiError::bad_request("invalid_date", "from and to are dates written YYYY-MM-DD")
    })?;
    let today = days::day_of_ms(db::now_ms());
    let range = report::range(query.from.as_deref(), query.to.as_deref(), today)?;
    let workspace = admins_workspace(&state, &admin).await?;
    let rows = state.db.usage_days(&workspace.id, range.0, range.1).await?;
    let quota = quota::status(&state, &workspace).await?;
    let preview_limits = PreviewLimits {
        messages_per_day: state.settings.preview_messages_per_day,
        voice_minutes_per_day: state.settings.preview_voice_minutes_per_day,
    };
    Ok(Json(report::build(range, rows, quota, preview_limits)))
}

/// `GET /v1/admin/quota`: the settings and this month's standing.
pub async fn get_quota(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
) -> ApiResult<Json<QuotaStatus>> {
    let workspace = admins_workspace(&state, &admin).await?;
    Ok(Json(quota::status(&state, &workspace).await?))
}

/// `PUT /v1/admin/quota`: replaces the settings whole; answers the new standing.
pub async fn put_quota(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
    ApiJson(settings): ApiJson<QuotaSettings>,
) -> ApiResult<Json<QuotaStatus>> {
    quota::validate(&settings)?;
    if !state.db.set_quota(&admin.workspace_id, &settings).await? {
        return Err(ApiError::Internal(
            "the signed-in admin's workspace is gone".into(),
        ));
    }
    let workspace = admins_workspace(&state, &admin).await?;
    Ok(Json(quota::status(&state, &workspace).await?))
}
