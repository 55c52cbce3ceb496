//! `GET /v1/talk/widget/config?capture_key=…`: public (the capture key is in every page's
//! snippet): what the widget draws before a session starts.

use crate::error::{ApiError, ApiResult};
use crate::{agents, widget_settings, workspaces, AppState};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::Json;
use serde::Deserialize;
use talk_protocol::WidgetConfig;

#[derive(Deserialize)]
pub struct ConfigQuery {
    capture_key: Option<String>,
}

pub async fn widget_config(
    State(state): State<AppState>,
    query: Result<Query<ConfigQuery>, QueryRejection>,
) -> ApiResult<Json<WidgetConfig>> {
    let Query(query) =
        query.map_err(|rejection| ApiError::bad_request("invalid_query", rejection.body_text()))?;
    let capture_key = query
        .capture_key
        .as_deref()
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("missing_capture_key", "add ?capture_key=<your capture key>")
        })?;
    let unknown =
        || ApiError::not_found("unknown_capture_key", "no workspace has this capture key");
    let workspace = workspaces::by_capture_key(&state.db, capture_key)
        .await?
        .ok_or_else(unknown)?;
    let settings = widget_settings::load(&state.db, &workspace.id)
        .await?
        .ok_or_else(unknown)?;
    Ok(Json(WidgetConfig {
        settings,
        status: agents::workspace_status(&state.db, &workspace.id).await?,
        online_agents: agents::online(&state.db, &workspace.id).await?,
    }))
}
