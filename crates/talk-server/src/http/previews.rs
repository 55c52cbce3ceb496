//! `POST /v1/admin/preview-token` (admin): the token the inbox's live preview and test mode
//! start their widget sessions with, which makes them previews (`crate::usage::preview`).

use super::agent_session::AdminSession;
use crate::error::ApiResult;
use crate::usage::preview;
use crate::AppState;
use axum::extract::State;
use axum::Json;
use talk_protocol::PreviewToken;

pub async fn create_token(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
) -> ApiResult<Json<PreviewToken>> {
    let token = preview::mint_token(&state, &admin.workspace_id, &admin.id).await?;
    Ok(Json(token))
}
