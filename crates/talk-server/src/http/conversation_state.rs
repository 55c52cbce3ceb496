//! A conversation's state and presence, for agents with an API key or the inbox's cookie:
//! close, reopen, assign, typing and read receipts. Every change is committed, then
//! published (see `actions`).

use super::extract::Actor;
use super::ApiJson;
use crate::actions::{self, own_conversation};
use crate::error::ApiResult;
use crate::realtime::hub::Except;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use talk_protocol::{
    AgentTypingRequest, AssignRequest, AuthorKind, Conversation, ConversationStatus, ReadRequest,
};

pub async fn close<A: Actor>(
    State(state): State<AppState>,
    actor: A,
    Path(conversation_id): Path<String>,
) -> ApiResult<Json<Conversation>> {
    actions::set_status(
        &state,
        actor.workspace_id(),
        &conversation_id,
        ConversationStatus::Closed,
    )
    .await
    .map(Json)
}

pub async fn reopen<A: Actor>(
    State(state): State<AppState>,
    actor: A,
    Path(conversation_id): Path<String>,
) -> ApiResult<Json<Conversation>> {
    actions::set_status(
        &state,
        actor.workspace_id(),
        &conversation_id,
        ConversationStatus::Open,
    )
    .await
    .map(Json)
}

pub async fn assign<A: Actor>(
    State(state): State<AppState>,
    actor: A,
    Path(conversation_id): Path<String>,
    ApiJson(request): ApiJson<AssignRequest>,
) -> ApiResult<Json<Conversation>> {
    actions::assign(
        &state,
        actor.workspace_id(),
        &conversation_id,
        request.agent_id.as_deref(),
    )
    .await
    .map(Json)
}

/// Not stored and not rate-limited: an agent's typing goes straight to the conversation.
pub async fn typing<A: Actor>(
    State(state): State<AppState>,
    actor: A,
    Path(conversation_id): Path<String>,
    ApiJson(request): ApiJson<AgentTypingRequest>,
) -> ApiResult<StatusCode> {
    let workspace_id = actor.workspace_id();
    let conversation = own_conversation(&state, workspace_id, &conversation_id).await?;
    actions::typing(
        &state,
        workspace_id,
        &conversation,
        actor.author(request.agent_name.as_deref()),
        request.typing,
        Except::Nobody,
    );
    Ok(StatusCode::NO_CONTENT)
}

pub async fn read<A: Actor>(
    State(state): State<AppState>,
    actor: A,
    Path(conversation_id): Path<String>,
    ApiJson(request): ApiJson<ReadRequest>,
) -> ApiResult<Json<Conversation>> {
    let workspace_id = actor.workspace_id();
    let conversation = own_conversation(&state, workspace_id, &conversation_id).await?;
    actions::read(
        &state,
        workspace_id,
        &conversation,
        AuthorKind::Agent,
        request.up_to_seq,
        Except::Nobody,
    )
    .await
    .map(Json)
}
