//! Capture widgets over HTTP (`crate::captures`): the admin API (admin session cookie) and
//! the browser's reports that a capture was shown or dismissed (widget session token).

use super::agent_session::AdminSession;
use super::{ApiJson, BearerSession};
use crate::captures::service;
use crate::captures::stored::CaptureEvent;
use crate::error::ApiResult;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use talk_protocol::{
    CaptureOrder, CaptureWidget, CaptureWidgetInput, CaptureWidgetList, ConversationList,
};

pub async fn list(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
) -> ApiResult<Json<CaptureWidgetList>> {
    Ok(Json(service::list(&state.db, &admin.workspace_id).await?))
}

pub async fn create(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
    ApiJson(input): ApiJson<CaptureWidgetInput>,
) -> ApiResult<(StatusCode, Json<CaptureWidget>)> {
    let created = service::create(&state.db, &admin.workspace_id, input).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn get(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
    Path(id): Path<String>,
) -> ApiResult<Json<CaptureWidget>> {
    Ok(Json(
        service::get(&state.db, &admin.workspace_id, &id).await?,
    ))
}

pub async fn replace(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
    Path(id): Path<String>,
    ApiJson(input): ApiJson<CaptureWidgetInput>,
) -> ApiResult<Json<CaptureWidget>> {
    Ok(Json(
        service::replace(&state.db, &admin.workspace_id, &id, input).await?,
    ))
}

pub async fn delete(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    service::delete(&state.db, &admin.workspace_id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn order(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
    ApiJson(order): ApiJson<CaptureOrder>,
) -> ApiResult<Json<CaptureWidgetList>> {
    Ok(Json(
        service::order(&state.db, &admin.workspace_id, &order.ids).await?,
    ))
}

pub async fn conversations(
    State(state): State<AppState>,
    AdminSession(admin): AdminSession,
    Path(id): Path<String>,
) -> ApiResult<Json<ConversationList>> {
    Ok(Json(
        service::conversations(&state.db, &admin.workspace_id, &id).await?,
    ))
}

/// `POST /v1/talk/captures/{id}/shown`: once per widget session.
pub async fn shown(
    State(state): State<AppState>,
    BearerSession(claims): BearerSession,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    service::record_event(&state.db, &claims, &id, CaptureEvent::Shown).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/talk/captures/{id}/dismissed`: the visitor never sees it again.
pub async fn dismissed(
    State(state): State<AppState>,
    BearerSession(claims): BearerSession,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    service::record_event(&state.db, &claims, &id, CaptureEvent::Dismissed).await?;
    Ok(StatusCode::NO_CONTENT)
}
