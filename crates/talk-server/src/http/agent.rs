//! Conversations and replies for agents: with an API key (`/v1/conversations/…`) or the
//! inbox's session cookie (`/v1/agent/conversations/…`). Replies go out live to every socket
//! subscribed to the conversation.

use super::extract::Actor;
use super::{AgentSession, ApiJson, ApiKeyWorkspace};
use crate::actions::{self, own_conversation};
use crate::conversations::{self, InboxCursor, InboxFilter, InboxPage};
use crate::error::{ApiError, ApiResult};
use crate::history;
use crate::realtime::hub::Except;
use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use talk_protocol::{
    AgentReplyRequest, AssignedFilter, AuthorKind, ConversationList, ConversationStatus,
    InboxConversationList, Message, MessageList, DEFAULT_INBOX_PAGE_SIZE, MAX_INBOX_PAGE_SIZE,
};

pub async fn list_conversations(
    State(state): State<AppState>,
    ApiKeyWorkspace(workspace_id): ApiKeyWorkspace,
) -> ApiResult<Json<ConversationList>> {
    let conversations = conversations::list_for_workspace(&state.db, &workspace_id).await?;
    Ok(Json(ConversationList { conversations }))
}

/// The query of `GET /v1/agent/conversations`: the filter, and which page. The paging
/// parameters are read as text so that a bad one gets its own error code.
#[derive(Debug, Deserialize)]
pub struct InboxQuery {
    status: Option<ConversationStatus>,
    assigned: Option<AssignedFilter>,
    cursor: Option<String>,
    limit: Option<String>,
}

fn invalid_inbox_paging() -> ApiError {
    ApiError::bad_request(
        "invalid_paging",
        format!(
            "cursor must be a next_cursor this list answered, and limit between 1 and \
             {MAX_INBOX_PAGE_SIZE} (default {DEFAULT_INBOX_PAGE_SIZE})"
        ),
    )
}

/// `GET /v1/agent/conversations`: the inbox's list, newest activity first, with unread
/// counts, a page at a time.
pub async fn inbox_conversations(
    State(state): State<AppState>,
    session: AgentSession,
    query: Result<Query<InboxQuery>, QueryRejection>,
) -> ApiResult<Json<InboxConversationList>> {
    let Query(query) = query.map_err(|_| {
        ApiError::bad_request(
            "invalid_filter",
            "status must be open or closed, and assigned must be me",
        )
    })?;
    let limit = match query.limit.as_deref() {
        None => DEFAULT_INBOX_PAGE_SIZE,
        Some(limit) => limit
            .parse()
            .ok()
            .filter(|limit| (1..=MAX_INBOX_PAGE_SIZE).contains(limit))
            .ok_or_else(invalid_inbox_paging)?,
    };
    let after = match query.cursor.as_deref() {
        None => None,
        Some(cursor) => Some(InboxCursor::parse(cursor).ok_or_else(invalid_inbox_paging)?),
    };
    let filter = InboxFilter {
        status: query.status,
        assignee_id: match query.assigned {
            Some(AssignedFilter::Me) => Some(session.agent.id.as_str()),
            None => None,
        },
    };
    let page = InboxPage { after, limit };
    let (conversations, next) =
        conversations::inbox_list(&state.db, &session.agent.workspace_id, filter, page).await?;
    Ok(Json(InboxConversationList {
        conversations,
        next_cursor: next.map(|cursor| cursor.to_string()),
    }))
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    before_seq: Option<i64>,
    limit: Option<u32>,
}

/// The newest page (or the one before `before_seq`), in ascending order, at most `limit`
/// messages and `MAX_PAGE_BYTES` of them.
pub async fn list_messages<A: Actor>(
    State(state): State<AppState>,
    actor: A,
    Path(conversation_id): Path<String>,
    page: Result<Query<PageQuery>, QueryRejection>,
) -> ApiResult<Json<MessageList>> {
    let Query(page) = page.map_err(|_| conversations::invalid_paging())?;
    let (before_seq, limit) = conversations::checked_page(page.before_seq, page.limit)?;
    let conversation = own_conversation(&state, actor.workspace_id(), &conversation_id).await?;
    // Bounded in bytes too: 200 messages of 16 KB would be 3 MB in one answer.
    let messages = history::before(&state.db, &conversation.id, before_seq, limit).await?;
    Ok(Json(MessageList { messages }))
}

/// `POST …/conversations/{id}/messages`: an agent's reply. Idempotent on `client_msg_id`
/// (a UUID, as on the socket): a resend answers the stored message and publishes nothing.
pub async fn reply<A: Actor>(
    State(state): State<AppState>,
    actor: A,
    Path(conversation_id): Path<String>,
    ApiJson(request): ApiJson<AgentReplyRequest>,
) -> ApiResult<(StatusCode, Json<Message>)> {
    if let Some(client_msg_id) = &request.client_msg_id {
        actions::check_client_msg_id(client_msg_id)?;
    }
    let workspace_id = actor.workspace_id();
    let conversation = own_conversation(&state, workspace_id, &conversation_id).await?;
    let message = actions::reply(
        &state,
        workspace_id,
        &conversation,
        actor.author(request.agent_name.as_deref()),
        &request.body,
        request.client_msg_id,
        Except::Nobody,
    )
    .await?;
    if message.author.kind == AuthorKind::Bot {
        // The message ends the bot's typing on every screen; the worker stops saying it.
        state.webhooks.answered(&conversation.id);
    }
    Ok((StatusCode::CREATED, Json(message)))
}
