//! Agent API (X-Api-Key): read conversations and reply. Replies go out live to every
//! socket subscribed to the conversation.

use super::{ApiJson, ApiKeyWorkspace};
use crate::conversations::{self, Appended, NewMessage};
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
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

pub async fn list_messages(
    State(state): State<AppState>,
    ApiKeyWorkspace(workspace_id): ApiKeyWorkspace,
    Path(conversation_id): Path<String>,
) -> ApiResult<Json<MessageList>> {
    let conversation = own_conversation(&state, &workspace_id, &conversation_id).await?;
    let messages = conversations::messages_after(&state.db, &conversation.id, 0).await?;
    Ok(Json(MessageList { messages }))
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
    let agent_name = request
        .agent_name
        .as_deref()
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .unwrap_or("Agent")
        .to_string();
    let new_message = NewMessage {
        author: Author {
            kind: AuthorKind::Agent,
            name: Some(agent_name),
        },
        body,
        client_msg_id: None,
    };
    let message = match conversations::append(&state.db, &conversation.id, new_message).await? {
        Appended::New(message) | Appended::Duplicate(message) => message,
    };
    // Committed: now it may be seen.
    state.hub.publish(
        &conversation.id,
        ServerEvent::Message {
            message: message.clone(),
        },
        None,
    );
    Ok((StatusCode::CREATED, Json(message)))
}
