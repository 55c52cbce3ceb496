//! What agents and visitors do to a conversation, in one place: the API-key endpoints, the
//! inbox's cookie endpoints and both sockets call these. Every change is committed, then
//! published.

use crate::conversations::{self, Appended, NewMessage};
use crate::error::{ApiError, ApiResult};
use crate::realtime::hub::Except;
use crate::realtime::publish;
use crate::AppState;
use talk_protocol::{Author, AuthorKind, Conversation, ConversationStatus, Message, ServerEvent};

pub fn conversation_not_found() -> ApiError {
    ApiError::not_found("conversation_not_found", "no such conversation")
}

/// A conversation of the workspace, or 404 `conversation_not_found`.
pub async fn own_conversation(
    state: &AppState,
    workspace_id: &str,
    conversation_id: &str,
) -> ApiResult<Conversation> {
    conversations::find_in_workspace(&state.db, workspace_id, conversation_id)
        .await?
        .ok_or_else(conversation_not_found)
}

/// The name an agent's messages and typing show: as given, else "Agent".
pub fn agent_name(given: Option<&str>) -> String {
    given
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .unwrap_or("Agent")
        .to_string()
}

fn agent_author(name: String) -> Author {
    Author {
        kind: AuthorKind::Agent,
        name: Some(name),
    }
}

/// A sender's idempotency key must be a UUID: 400 `invalid_client_msg_id` otherwise.
pub fn check_client_msg_id(client_msg_id: &str) -> ApiResult<()> {
    if uuid::Uuid::parse_str(client_msg_id).is_err() {
        return Err(ApiError::bad_request(
            "invalid_client_msg_id",
            "client_msg_id must be a UUID",
        ));
    }
    Ok(())
}

/// An agent's message into a conversation of its workspace. Idempotent on `client_msg_id`:
/// a resend answers the committed message and publishes nothing.
pub async fn agent_reply(
    state: &AppState,
    workspace_id: &str,
    conversation: &Conversation,
    name: String,
    body: &str,
    client_msg_id: Option<String>,
    except: Except<'_>,
) -> ApiResult<Message> {
    let author = agent_author(name);
    reply(
        state,
        workspace_id,
        conversation,
        author,
        body,
        client_msg_id,
        except,
    )
    .await
}

/// A message from the workspace's side (an agent, or a bot through its key) into a
/// conversation of the workspace; idempotent as [`agent_reply`].
pub async fn reply(
    state: &AppState,
    workspace_id: &str,
    conversation: &Conversation,
    author: Author,
    body: &str,
    client_msg_id: Option<String>,
    except: Except<'_>,
) -> ApiResult<Message> {
    let body = conversations::checked_body(body)
        .map_err(|problem| ApiError::bad_request(problem.code(), problem.message()))?;
    let new_message = NewMessage {
        author,
        body,
        client_msg_id,
        reopens: false,
        auto_reply: false,
    };
    match conversations::append(&state.messages, &conversation.id, new_message).await? {
        Appended::Duplicate(message) => Ok(message),
        Appended::New { message, .. } => {
            // Committed: now it may be seen.
            publish::in_conversation(
                &state.hub,
                workspace_id,
                &conversation.id,
                ServerEvent::Message {
                    message: message.clone(),
                },
                except,
            );
            Ok(message)
        }
    }
}

/// Someone started or stopped typing. Not stored.
pub fn typing(
    state: &AppState,
    workspace_id: &str,
    conversation: &Conversation,
    author: Author,
    typing: bool,
    except: Except<'_>,
) {
    publish::in_conversation(
        &state.hub,
        workspace_id,
        &conversation.id,
        ServerEvent::Typing {
            conversation_id: conversation.id.clone(),
            author,
            typing,
        },
        except,
    );
}

/// Moves the reader's read position forward; publishes only a change. Answers the
/// conversation as it is now.
pub async fn read(
    state: &AppState,
    workspace_id: &str,
    conversation: &Conversation,
    reader: AuthorKind,
    up_to_seq: i64,
    except: Except<'_>,
) -> ApiResult<Conversation> {
    let updated =
        conversations::mark_read(&state.db, workspace_id, conversation, reader, up_to_seq).await?;
    if updated.changed {
        let up_to_seq = match reader {
            AuthorKind::Visitor => updated.conversation.visitor_read_seq,
            AuthorKind::Agent | AuthorKind::Bot => updated.conversation.agent_read_seq,
        };
        publish::in_conversation(
            &state.hub,
            workspace_id,
            &conversation.id,
            ServerEvent::Read {
                conversation_id: conversation.id.clone(),
                reader,
                up_to_seq,
            },
            except,
        );
    }
    Ok(updated.conversation)
}

/// Publishes a change, if there was one, and answers the conversation as it is now.
fn published_update(
    state: &AppState,
    workspace_id: &str,
    updated: Option<conversations::Updated>,
) -> ApiResult<Conversation> {
    let updated = updated.ok_or_else(conversation_not_found)?;
    if updated.changed {
        publish::conversation_updated(
            &state.hub,
            workspace_id,
            &updated.conversation,
            Except::Nobody,
        );
    }
    Ok(updated.conversation)
}

/// Closes or reopens.
pub async fn set_status(
    state: &AppState,
    workspace_id: &str,
    conversation_id: &str,
    status: ConversationStatus,
) -> ApiResult<Conversation> {
    let updated =
        conversations::set_status(&state.db, workspace_id, conversation_id, status).await?;
    published_update(state, workspace_id, updated)
}

/// Assigns to an agent of the workspace, or unassigns with `None`.
pub async fn assign(
    state: &AppState,
    workspace_id: &str,
    conversation_id: &str,
    agent_id: Option<&str>,
) -> ApiResult<Conversation> {
    let conversation = own_conversation(state, workspace_id, conversation_id).await?;
    if let Some(agent_id) = agent_id {
        if !conversations::is_agent_of(&state.db, workspace_id, agent_id).await? {
            return Err(ApiError::bad_request(
                "unknown_agent",
                "agent_id is not an agent of this workspace (null unassigns)",
            ));
        }
    }
    let updated =
        conversations::assign(&state.db, workspace_id, &conversation.id, agent_id).await?;
    published_update(state, workspace_id, updated)
}
