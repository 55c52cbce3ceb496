//! Agent API (X-Api-Key): read conversations and reply. Replies go out live to every
//! socket subscribed to the conversation.

use super::{ApiJson, ApiKeyWorkspace};
use crate::conversations::{self, NewMessage};
use crate::error::{ApiError, ApiResult};
use crate::realtime::hub::Except;
use crate::realtime::publish;
use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use talk_protocol::{
    AgentReplyRequest, Author, AuthorKind, Conversation, ConversationList, Message, MessageList,
    ServerEvent,
};

pub async fn list_conversations(
    State(state): State<AppState>,
    ApiKeyWorkspace(workspace_id): ApiKeyWorkspace,
) -> ApiResult<Json<ConversationList>> {
    let conversations = conversations::list_for_workspace(&state.db, &workspace_id).await?;
    Ok(Json(ConversationList { conversations }))
}

pub(super) async fn own_conversation(
    state: &AppState,
    workspace_id: &str,
    conversation_id: &str,
) -> ApiResult<Conversation> {
    conversations::find_in_workspace(&state.db, workspace_id, conversation_id)
        .await?
        .ok_or_else(|| ApiError::not_found("conversation_not_found", "no such conversation"))
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    before_seq: Option<i64>,
    limit: Option<u32>,
}

/// The newest page (or the one before `before_seq`), in ascending order.
pub async fn list_messages(
    State(state): State<AppState>,
    ApiKeyWorkspace(workspace_id): ApiKeyWorkspace,
    Path(conversation_id): Path<String>,
    page: Result<Query<PageQuery>, QueryRejection>,
) -> ApiResult<Json<MessageList>> {
    let Query(page) = page.map_err(|_| conversations::invalid_paging())?;
    let (before_seq, limit) = conversations::checked_page(page.before_seq, page.limit)?;
    let conversation = own_conversation(&state, &workspace_id, &conversation_id).await?;
    let messages =
        conversations::messages_before(&state.db, &conversation.id, before_seq, limit).await?;
    Ok(Json(MessageList { messages }))
}

/// The name an agent's messages and typing show: as given, else "Agent".
pub(super) fn agent_name(given: Option<&str>) -> String {
    given
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .unwrap_or("Agent")
        .to_string()
}

pub async fn reply(
    State(state): State<AppState>,
    ApiKeyWorkspace(workspace_id): ApiKeyWorkspace,
    Path(conversation_id): Path<String>,
    ApiJson(request): ApiJson<AgentReplyRequest>,
) -> ApiResult<(StatusCode, Json<Message>)> {
    let conversation = own_conversation(&state, &workspace_id, &conversation_id).await?;
    let body = conversations::checked_body(&request.body)
        .map_err(|problem| ApiError::bad_request(problem.code(), problem.message()))?;
    let new_message = NewMessage {
        author: Author {
            kind: AuthorKind::Agent,
            name: Some(agent_name(request.agent_name.as_deref())),
        },
        body,
        client_msg_id: None,
        reopens: false,
    };
    let message = conversations::append(&state.db, &conversation.id, new_message)
        .await?
        .into_message();
    // Committed: now it may be seen.
    publish::in_conversation(
        &state.hub,
        &conversation.id,
        ServerEvent::Message {
            message: message.clone(),
        },
        Except::Nobody,
    );
    Ok((StatusCode::CREATED, Json(message)))
}
