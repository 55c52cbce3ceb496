//! Conversations agents start: an agent writes first to a known person, from the inbox's
//! contact panel (`POST /v1/agent/people/{id}/conversations`, the agent's cookie) or a
//! server (`POST /v1/people/{id}/conversations`, an API key). The conversation belongs to the
//! person and goes to one of the visitors the person was seen as; the widget lists it there
//! (unread) at its next `ready`, and gets it live if the visitor is on the site now.
//!
//! **Which visitor, and verified or not** ([`recipient`]). The Security rule says an
//! unverified visitor sees only the conversations started from its own visitor id, and a
//! verified session also its person's verified conversations. So:
//!
//! 1. If a visitor still linked to the person had a *verified* widget session as the person,
//!    the conversation goes to the one whose verified session is newest, and is **verified**:
//!    every verified session of the person (any device) sees it too, through the person.
//! 2. Else, to the visitor linked to the person (by the email form) whose widget session is
//!    newest, **unverified**: that visitor alone sees it, like any conversation it started.
//! 3. Else the person was never seen on the site: 409 `person_never_seen`.
//!
//! A visitor that merely typed the person's email is therefore never picked while the person
//! has a verified visitor, and an unverified conversation is never shown to a verified
//! session elsewhere: whoever typed an email can't read, nor make the agents write into,
//! what the verified person sees. When the person was never verified, nobody proved who they
//! are, and the agent writes to whoever typed the email last, as it answers any unverified
//! conversation (the inbox says "Not verified"). A visitor linked to another person since
//! (a shared device, someone else typed their email there) is no longer this person's.
//!
//! `conversations.session_id` names the session the person was seen in there (the verified
//! one in case 1), so the conversation is verified iff that session was.
//!
//! The conversation is open, assigned to the writing agent when it comes from the inbox, read
//! by the agents (they wrote it) and unread by the visitor. The open-conversations bound holds
//! as for a visitor's own: the recipient's widget lists at most
//! [`MAX_OPEN_CONVERSATIONS_PER_VISITOR`] open ones (its visitor's, and the person's verified
//! ones when verified), else 409 `too_many_conversations`. Idempotent on `client_msg_id` per
//! person.

use crate::actions;
use crate::conversations::{self, NewMessage};
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::http::{AgentSession, ApiJson, ApiKeyWorkspace};
use crate::people;
use crate::realtime::hub::Except;
use crate::realtime::publish;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use talk_protocol::{
    error_code, Author, AuthorKind, Conversation, ConversationStatus, Message,
    StartConversationRequest, StartedConversation, MAX_OPEN_CONVERSATIONS_PER_VISITOR,
};

/// The person was never on the site as a visitor (no widget session, no email form): there
/// is nowhere to show the conversation.
pub const PERSON_NEVER_SEEN: &str = "person_never_seen";

/// A visitor the person was seen as, and the widget session it was seen in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenVisitor {
    pub visitor_id: String,
    pub session_id: String,
}

/// Where the person was seen, by kind of proof (`Store::outbound_sightings`). Only visitors
/// still linked to the person count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sightings {
    /// The visitor with the person's newest verified widget session, and that session.
    pub verified: Option<SeenVisitor>,
    /// The visitor with the newest widget session of all the linked ones, and that session.
    pub linked: Option<SeenVisitor>,
}

/// Who an agent's first message goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub visitor: SeenVisitor,
    /// The conversation is verified: the person's verified sessions see it too.
    pub verified: bool,
}

/// The rule of the module's doc: a verified visitor first, else the latest linked one.
pub fn recipient(sightings: Sightings) -> Option<Recipient> {
    match sightings {
        Sightings {
            verified: Some(visitor),
            ..
        } => Some(Recipient {
            visitor,
            verified: true,
        }),
        Sightings {
            linked: Some(visitor),
            ..
        } => Some(Recipient {
            visitor,
            verified: false,
        }),
        _ => None,
    }
}

/// A conversation an agent starts, as the store writes it.
#[derive(Debug, Clone)]
pub struct OutboundStart {
    pub id: String,
    pub workspace_id: String,
    pub person_id: String,
    pub recipient: Recipient,
    pub assignee_id: Option<String>,
    /// The first message (seq 1), from the agent.
    pub message: NewMessage,
    /// The open conversations the recipient's widget may list, this one included.
    pub max_open: i64,
    pub now: i64,
}

impl OutboundStart {
    /// The conversation as committed with its first message.
    fn conversation(&self, message: &Message) -> Conversation {
        Conversation {
            id: self.id.clone(),
            verified: self.recipient.verified,
            status: ConversationStatus::Open,
            visitor_id: self.recipient.visitor.visitor_id.clone(),
            person_id: Some(self.person_id.clone()),
            last_seq: message.seq,
            created_at: self.now,
            assignee_id: self.assignee_id.clone(),
            visitor_read_seq: 0,
            agent_read_seq: message.seq,
        }
    }
}

/// What `Store::start_outbound` did.
#[derive(Debug, Clone)]
pub enum OutboundOutcome {
    /// Committed: the conversation and this first message.
    Started(Message),
    /// The person got a conversation under this `client_msg_id` before: its id. Nothing new.
    Earlier(String),
    /// The recipient's widget lists `max_open` open conversations already. Nothing written.
    TooMany,
}

/// `POST /v1/agent/people/{id}/conversations` (the inbox): the signed-in agent writes under
/// its own name and is assigned the conversation.
pub async fn start_from_inbox(
    State(state): State<AppState>,
    session: AgentSession,
    Path(person_id): Path<String>,
    ApiJson(request): ApiJson<StartConversationRequest>,
) -> ApiResult<(StatusCode, Json<StartedConversation>)> {
    let agent = &session.agent;
    let writer = Writer {
        name: agent.name.clone(),
        assignee_id: Some(agent.id.clone()),
    };
    start(&state, &agent.workspace_id, &person_id, writer, request).await
}

/// `POST /v1/people/{id}/conversations` (X-Api-Key): under `agent_name`, unassigned.
/// (A bot's key must not reach this once bot keys exist: bots answer, they don't start.)
pub async fn start_with_api_key(
    State(state): State<AppState>,
    ApiKeyWorkspace(workspace_id): ApiKeyWorkspace,
    Path(person_id): Path<String>,
    ApiJson(request): ApiJson<StartConversationRequest>,
) -> ApiResult<(StatusCode, Json<StartedConversation>)> {
    let writer = Writer {
        name: actions::agent_name(request.agent_name.as_deref()),
        assignee_id: None,
    };
    start(&state, &workspace_id, &person_id, writer, request).await
}

/// Who writes the first message, and who is assigned the conversation.
struct Writer {
    name: String,
    assignee_id: Option<String>,
}

fn person_not_found() -> ApiError {
    ApiError::not_found("person_not_found", "no such person")
}

/// Checks the request, picks the recipient, commits, then publishes: the recipient's
/// connections (its visitor's topic, and the person's when verified) and the agents hear of
/// the conversation and its message. A resend answers the earlier conversation, publishing
/// nothing.
async fn start(
    state: &AppState,
    workspace_id: &str,
    person_id: &str,
    writer: Writer,
    request: StartConversationRequest,
) -> ApiResult<(StatusCode, Json<StartedConversation>)> {
    if let Some(client_msg_id) = &request.client_msg_id {
        actions::check_client_msg_id(client_msg_id)?;
    }
    let body = conversations::checked_body(&request.body)
        .map_err(|problem| ApiError::bad_request(problem.code(), problem.message()))?;
    let person = people::by_id(&state.db, workspace_id, person_id)
        .await?
        .ok_or_else(person_not_found)?;
    let sightings = state
        .db
        .outbound_sightings(workspace_id, &person.id)
        .await?;
    let recipient = recipient(sightings).ok_or_else(|| {
        ApiError::conflict(
            PERSON_NEVER_SEEN,
            "this person has never been on the site with the widget (no session, no email \
             given in it): there is nowhere to show a conversation yet",
        )
    })?;
    let start = OutboundStart {
        id: db::new_id(),
        workspace_id: workspace_id.to_string(),
        person_id: person.id,
        recipient,
        assignee_id: writer.assignee_id,
        message: NewMessage {
            author: Author {
                kind: AuthorKind::Agent,
                name: Some(writer.name),
            },
            body,
            client_msg_id: request.client_msg_id,
            reopens: false,
            auto_reply: false,
        },
        max_open: MAX_OPEN_CONVERSATIONS_PER_VISITOR,
        now: db::now_ms(),
    };
    let started = match state.db.start_outbound(&start).await? {
        OutboundOutcome::Started(message) => {
            crate::usage::quota::check_warnings(state, workspace_id);
            let conversation = start.conversation(&message);
            publish::conversation_started(
                &state.hub,
                workspace_id,
                &conversation,
                &message,
                Except::Nobody,
            );
            StartedConversation {
                conversation,
                message,
            }
        }
        OutboundOutcome::Earlier(conversation_id) => {
            earlier(state, workspace_id, &conversation_id).await?
        }
        OutboundOutcome::TooMany => {
            return Err(ApiError::conflict(
                error_code::TOO_MANY_CONVERSATIONS,
                format!(
                    "this person's widget lists {MAX_OPEN_CONVERSATIONS_PER_VISITOR} open \
                     conversations already: continue or close one of them"
                ),
            ))
        }
    };
    Ok((StatusCode::CREATED, Json(started)))
}

/// The conversation a resend names, as it is now, with its first message.
async fn earlier(
    state: &AppState,
    workspace_id: &str,
    conversation_id: &str,
) -> ApiResult<StartedConversation> {
    let conversation = actions::own_conversation(state, workspace_id, conversation_id).await?;
    let message = conversations::messages_after(&state.db, conversation_id, 0, 1)
        .await?
        .pop()
        .ok_or_else(actions::conversation_not_found)?;
    Ok(StartedConversation {
        conversation,
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(visitor_id: &str) -> Option<SeenVisitor> {
        Some(SeenVisitor {
            visitor_id: visitor_id.into(),
            session_id: format!("session-of-{visitor_id}"),
        })
    }

    #[test]
    fn a_verified_visitor_comes_first_and_makes_the_conversation_verified() {
        let picked = recipient(Sightings {
            verified: seen("phone"),
            // Newer, but only linked (perhaps someone who typed the person's email).
            linked: seen("stranger"),
        })
        .unwrap();
        assert_eq!(picked.visitor, seen("phone").unwrap());
        assert!(picked.verified);
    }

    #[test]
    fn without_a_verified_visitor_the_latest_linked_one_gets_an_unverified_conversation() {
        let picked = recipient(Sightings {
            verified: None,
            linked: seen("laptop"),
        })
        .unwrap();
        assert_eq!(picked.visitor.session_id, "session-of-laptop");
        assert!(!picked.verified);
    }

    #[test]
    fn a_person_never_seen_has_no_recipient() {
        assert_eq!(recipient(Sightings::default()), None);
    }
}
