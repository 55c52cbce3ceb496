//! Agent API (X-Api-Key) for a conversation's state and presence: close, reopen, assign,
//! typing and read receipts. Every change is committed, then published to the
//! conversation's subscribers.

use super::agent::own_conversation;
use super::{ApiJson, ApiKeyWorkspace};
use crate::conversations::{self, Updated};
use crate::error::{ApiError, ApiResult};
use crate::realtime::hub::Except;
use crate::realtime::publish;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use talk_protocol::{
    AgentTypingRequest, AssignRequest, Author, AuthorKind, Conversation, ConversationStatus,
    ReadRequest, ServerEvent,
};

/// Publishes a change, if there was one, and answers the conversation as it is now.
fn answer_update(
    state: &AppState,
    workspace_id: &str,
    updated: Option<Updated>,
) -> ApiResult<Json<Conversation>> {
    let updated = updated
        .ok_or_else(|| ApiError::not_found("conversation_not_found", "no such conversation"))?;
    if updated.changed {
        publish::conversation_updated(
            &state.hub,
            workspace_id,
            &updated.conversation,
            Except::Nobody,
        );
    }
    Ok(Json(updated.conversation))
}

async fn set_status(
    state: AppState,
    workspace_id: String,
    conversation_id: String,
    status: ConversationStatus,
) -> ApiResult<Json<Conversation>> {
    let updated =
        conversations::set_status(&state.db, &workspace_id, &conversation_id, status).await?;
    answer_update(&state, &workspace_id, updated)
}

pub async fn close(
    State(state): State<AppState>,
    ApiKeyWorkspace(workspace_id): ApiKeyWorkspace,
    Path(conversation_id): Path<String>,
) -> ApiResult<Json<Conversation>> {
    set_status(
        state,
        workspace_id,
        conversation_id,
        ConversationStatus::Closed,
    )
    .await
}

pub async fn reopen(
    State(state): State<AppState>,
    ApiKeyWorkspace(workspace_id): ApiKeyWorkspace,
    Path(conversation_id): Path<String>,
) -> ApiResult<Json<Conversation>> {
    set_status(
        state,
        workspace_id,
        conversation_id,
        ConversationStatus::Open,
    )
    .await
}

pub async fn assign(
    State(state): State<AppState>,
    ApiKeyWorkspace(workspace_id): ApiKeyWorkspace,
    Path(conversation_id): Path<String>,
    ApiJson(request): ApiJson<AssignRequest>,
) -> ApiResult<Json<Conversation>> {
    let conversation = own_conversation(&state, &workspace_id, &conversation_id).await?;
    if let Some(agent_id) = &request.agent_id {
        if !conversations::is_agent_of(&state.db, &workspace_id, agent_id).await? {
            return Err(ApiError::bad_request(
                "unknown_agent",
                "agent_id is not an agent of this workspace (null unassigns)",
            ));
        }
    }
    let updated = conversations::assign(
        &state.db,
        &workspace_id,
        &conversation.id,
        request.agent_id.as_deref(),
    )
    .await?;
    answer_update(&state, &workspace_id, updated)
}

/// Not stored and not rate-limited: an agent's typing goes straight to the conversation.
pub async fn typing(
    State(state): State<AppState>,
    ApiKeyWorkspace(workspace_id): ApiKeyWorkspace,
    Path(conversation_id): Path<String>,
    ApiJson(request): ApiJson<AgentTypingRequest>,
) -> ApiResult<StatusCode> {
    let conversation = own_conversation(&state, &workspace_id, &conversation_id).await?;
    let author = Author {
        kind: AuthorKind::Agent,
        name: Some(super::agent::agent_name(request.agent_name.as_deref())),
    };
    publish::in_conversation(
        &state.hub,
        &conversation.id,
        ServerEvent::Typing {
            conversation_id: conversation.id.clone(),
            author,
            typing: request.typing,
        },
        Except::Nobody,
    );
    Ok(StatusCode::NO_CONTENT)
}

pub async fn read(
    State(state): State<AppState>,
    ApiKeyWorkspace(workspace_id): ApiKeyWorkspace,
    Path(conversation_id): Path<String>,
    ApiJson(request): ApiJson<ReadRequest>,
) -> ApiResult<Json<Conversation>> {
    let conversation = own_conversation(&state, &workspace_id, &conversation_id).await?;
    let updated = conversations::mark_read(
        &state.db,
        &workspace_id,
        &conversation,
        AuthorKind::Agent,
        request.up_to_seq,
    )
    .await?;
    if updated.changed {
        publish::in_conversation(
            &state.hub,
            &conversation.id,
            ServerEvent::Read {
                conversation_id: conversation.id.clone(),
                reader: AuthorKind::Agent,
                up_to_seq: updated.conversation.agent_read_seq,
            },
            Except::Nobody,
        );
    }
    Ok(Json(updated.conversation))
}
