//! Admin API (admin session cookie): widget settings, allowed origins, agents and API keys.

use super::agent_session::AdminSession;
use super::ApiJson;
use crate::agents::{self, NewAgent};
use crate::error::{ApiError, ApiResult};
use crate::people;
use crate::realtime::ending::{Credential, End};
use crate::validate::{checked_optional_url, checked_origin, checked_text};
use crate::{widget_settings, workspaces, AppState};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use talk_protocol::{
    close_code, close_reason, AgentList, AllowedOrigins, ApiKeyList, NewAgentRequest,
    NewAgentResponse, NewApiKeyResponse, PasswordResponse, WidgetSettings, WorkspaceInfo,
};

const MAX_ALLOWED_ORIGINS: usize = 100;
const MAX_AGENT_NAME_CHARS: usize = 100;

fn workspace_gone() -> ApiError {
    ApiError::Internal("the signed-in admin's workspace is gone".into())
}

pub async fn get_widget_settings(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
) -> ApiResult<Json<WidgetSettings>> {
    widget_settings::load(&state.db, &admin.workspace_id)
        .await?
        .map(Json)
        .ok_or_else(workspace_gone)
}

/// Replaces the settings whole; answers them as stored.
pub async fn put_widget_settings(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
    ApiJson(settings): ApiJson<WidgetSettings>,
) -> ApiResult<Json<WidgetSettings>> {
    let settings = widget_settings::validated(settings)?;
    widget_settings::save(&state.db, &admin.workspace_id, &settings).await?;
    Ok(Json(settings))
}

/// `GET /v1/admin/workspace`: the inbox's settings preview runs the real widget with the
/// workspace's (public) capture key.
pub async fn get_workspace(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
) -> ApiResult<Json<WorkspaceInfo>> {
    let workspace = workspaces::by_id(&state.db, &admin.workspace_id)
        .await?
        .ok_or_else(workspace_gone)?;
    Ok(Json(WorkspaceInfo {
        id: workspace.id,
        name: workspace.name,
        capture_key: workspace.capture_key,
    }))
}

pub async fn get_allowed_origins(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
) -> ApiResult<Json<AllowedOrigins>> {
    let workspace = workspaces::by_id(&state.db, &admin.workspace_id)
        .await?
        .ok_or_else(workspace_gone)?;
    Ok(Json(AllowedOrigins {
        origins: workspace.allowed_origins(),
    }))
}

/// Replaces the list; answers it normalised and without duplicates.
pub async fn put_allowed_origins(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
    ApiJson(request): ApiJson<AllowedOrigins>,
) -> ApiResult<Json<AllowedOrigins>> {
    if request.origins.len() > MAX_ALLOWED_ORIGINS {
        return Err(ApiError::bad_request(
            "too_many_origins",
            format!("at most {MAX_ALLOWED_ORIGINS} allowed origins"),
        ));
    }
    let mut origins = Vec::with_capacity(request.origins.len());
    for origin in &request.origins {
        let origin = checked_origin(origin)?;
        if !origins.contains(&origin) {
            origins.push(origin);
        }
    }
    workspaces::set_allowed_origins(&state.db, &admin.workspace_id, &origins).await?;
    Ok(Json(AllowedOrigins { origins }))
}

pub async fn list_agents(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
) -> ApiResult<Json<AgentList>> {
    let agents = agents::list(&state.db, &admin.workspace_id).await?;
    Ok(Json(AgentList { agents }))
}

/// Answers the generated password once; it is never shown again.
pub async fn create_agent(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
    ApiJson(request): ApiJson<NewAgentRequest>,
) -> ApiResult<(StatusCode, Json<NewAgentResponse>)> {
    let email = request.email.trim();
    if !people::is_valid_email(email) {
        return Err(ApiError::bad_request(
            "invalid_email",
            "the email address is not valid",
        ));
    }
    let name = checked_text("invalid_name", "name", &request.name, MAX_AGENT_NAME_CHARS)?;
    let photo_url = checked_optional_url("photo_url", request.photo_url.as_deref())?;
    let new_agent = NewAgent {
        email,
        name: &name,
        role: request.role,
        photo_url: photo_url.as_deref(),
    };
    let (agent, password) = agents::create(&state.db, &admin.workspace_id, new_agent)
        .await?
        .ok_or_else(|| {
            ApiError::conflict(
                "email_taken",
                "this workspace already has an agent with this email",
            )
        })?;
    Ok((
        StatusCode::CREATED,
        Json(NewAgentResponse { agent, password }),
    ))
}

fn agent_not_found() -> ApiError {
    ApiError::not_found("agent_not_found", "this workspace has no such agent")
}

pub async fn delete_agent(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
    Path(agent_id): Path<String>,
) -> ApiResult<StatusCode> {
    if agent_id == admin.id {
        return Err(ApiError::bad_request(
            "cannot_remove_self",
            "you cannot remove yourself: ask another admin",
        ));
    }
    if !agents::delete(&state.db, &admin.workspace_id, &agent_id).await? {
        return Err(agent_not_found());
    }
    end_agent_sockets(&state, agent_id, close_reason::AGENT_REMOVED);
    Ok(StatusCode::NO_CONTENT)
}

/// Answers the new password once and signs the agent out everywhere.
pub async fn reset_password(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
    Path(agent_id): Path<String>,
) -> ApiResult<Json<PasswordResponse>> {
    let password = agents::reset_password(&state.db, &admin.workspace_id, &agent_id)
        .await?
        .ok_or_else(agent_not_found)?;
    end_agent_sockets(&state, agent_id, close_reason::PASSWORD_RESET);
    Ok(Json(PasswordResponse { password }))
}

/// Its sessions are gone, so its open inbox sockets end now rather than at their next
/// heartbeat; the inbox then finds `GET /v1/agent/me` refused and shows sign-in.
fn end_agent_sockets(state: &AppState, agent_id: String, reason: &'static str) {
    let end = End {
        code: close_code::SIGNED_OUT,
        reason,
    };
    state.endings.end(&Credential::Agent(agent_id), end);
}

pub async fn list_api_keys(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
) -> ApiResult<Json<ApiKeyList>> {
    let api_keys = workspaces::list_api_keys(&state.db, &admin.workspace_id).await?;
    Ok(Json(ApiKeyList { api_keys }))
}

/// Answers the key once; only its hash is kept.
pub async fn create_api_key(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
) -> ApiResult<(StatusCode, Json<NewApiKeyResponse>)> {
    let (info, key) = workspaces::insert_api_key(&state.db, &admin.workspace_id).await?;
    Ok((StatusCode::CREATED, Json(NewApiKeyResponse { info, key })))
}

pub async fn revoke_api_key(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
    Path(key_id): Path<String>,
) -> ApiResult<StatusCode> {
    if !workspaces::revoke_api_key_by_id(&state.db, &admin.workspace_id, &key_id).await? {
        return Err(ApiError::not_found(
            "api_key_not_found",
            "this workspace has no such API key",
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}
