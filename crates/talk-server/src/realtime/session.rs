//! One authenticated browser session handling `ClientEvent`s: the core that the WebSocket
//! (`socket.rs`) and the HTTP + SSE transport (`http::talk_messages`) share. A transport
//! feeds it events and writes out what it answers and what the hub queues for it.

use super::hub::{Except, Subscriber, Topic};
use super::publish;
use crate::auto_reply;
use crate::conversations::{self, Appended, NewConversation, NewMessage, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::people;
use crate::tokens::SocketClaims;
use crate::AppState;
use governor::DefaultDirectRateLimiter;
use std::collections::HashSet;
use std::sync::Arc;
use talk_protocol::{Author, AuthorKind, ClientEvent, Conversation, ServerEvent};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub struct Session {
    claims: SocketClaims,
    viewer: Viewer,
    state: AppState,
    /// The live connection's end of the hub; `None` for a single HTTP request, which has
    /// nothing to subscribe.
    live: Option<Subscriber>,
    subscribed: HashSet<Topic>,
    /// Messages a live connection may still send; `None`: unlimited. A single HTTP request
    /// is limited per client IP instead, by the browser endpoints' limiter.
    message_budget: Option<DefaultDirectRateLimiter>,
}

fn conversation_not_found() -> ApiError {
    ApiError::not_found("conversation_not_found", "no such conversation")
}

/// The `error` event a live connection answers a failed event with.
pub fn error_event(error: &ApiError, client_msg_id: Option<String>) -> ServerEvent {
    ServerEvent::Error {
        code: error.code().to_string(),
        message: error.public_message(),
        client_msg_id,
    }
}

impl Session {
    /// A session for one HTTP request.
    pub fn new(state: AppState, claims: SocketClaims) -> Self {
        Session {
            viewer: Viewer {
                workspace_id: claims.ws.clone(),
                visitor_id: claims.vid.clone(),
                verified_person_id: if claims.ver { claims.pid.clone() } else { None },
            },
            claims,
            state,
            live: None,
            subscribed: HashSet::new(),
            message_budget: None,
        }
    }

    /// A session for a live connection: the hub queues events for it on `queue` and cancels
    /// `too_slow` when that queue is full.
    pub fn live(
        state: AppState,
        claims: SocketClaims,
        queue: mpsc::Sender<Arc<ServerEvent>>,
        too_slow: CancellationToken,
    ) -> Self {
        let subscriber = Subscriber::new(state.hub.next_socket_id(), &claims.sid, queue, too_slow);
        let message_budget = state.limits.socket_limiter();
        let mut session = Session::new(state, claims);
        session.live = Some(subscriber);
        session.message_budget = message_budget;
        session
    }

    fn subscribe(&mut self, topic: Topic) {
        if let Some(subscriber) = &self.live {
            if !self.subscribed.contains(&topic) {
                self.state.hub.subscribe(&topic, subscriber);
                self.subscribed.insert(topic);
            }
        }
    }

    /// Leaves out this connection from what it caused: it learns of that from its answer.
    fn except_self(&self) -> Except<'static> {
        match &self.live {
            Some(subscriber) => Except::Socket(subscriber.id),
            None => Except::Nobody,
        }
    }

    /// Subscribes to this viewer's topics and every visible conversation; returns those
    /// conversations, newest first.
    pub async fn start(&mut self) -> ApiResult<Vec<Conversation>> {
        // Viewer topics first: a conversation started after this is announced there, one
        // started before is in the list below.
        self.subscribe(Topic::Visitor {
            workspace_id: self.viewer.workspace_id.clone(),
            visitor_id: self.viewer.visitor_id.clone(),
        });
        if let Some(person_id) = self.viewer.verified_person_id.clone() {
            self.subscribe(Topic::Person {
                workspace_id: self.viewer.workspace_id.clone(),
                person_id,
            });
        }
        let visible = conversations::visible(&self.state.db, &self.viewer).await?;
        for conversation in &visible {
            self.subscribe(Topic::conversation(&conversation.id));
        }
        Ok(visible)
    }

    pub fn ready(&self, conversations: Vec<Conversation>) -> ServerEvent {
        ServerEvent::Ready {
            session_id: self.claims.sid.clone(),
            conversations,
        }
    }

    /// Called for each event the hub delivered: a conversation announced on a viewer topic
    /// (started in another tab) gets subscribed, so its later events arrive too.
    pub fn on_delivered(&mut self, event: &ServerEvent) {
        let conversation_id = match event {
            ServerEvent::ConversationUpdated { conversation } => &conversation.id,
            ServerEvent::Message { message } => &message.conversation_id,
            _ => return,
        };
        self.subscribe(Topic::conversation(conversation_id));
    }

    /// A live connection's text frame: answers with events, errors included.
    pub async fn handle_text(&mut self, text: &str) -> Vec<ServerEvent> {
        match serde_json::from_str::<ClientEvent>(text) {
            Ok(event) => self.handle_or_error_event(event).await,
            Err(error) => vec![error_event(
                &ApiError::bad_request("invalid_event", error.to_string()),
                None,
            )],
        }
    }

    async fn handle_or_error_event(&mut self, event: ClientEvent) -> Vec<ServerEvent> {
        let client_msg_id = match &event {
            ClientEvent::Send { client_msg_id, .. } => Some(client_msg_id.clone()),
            _ => None,
        };
        match self.handle(event).await {
            Ok(replies) => replies,
            Err(error) => vec![error_event(&error, client_msg_id)],
        }
    }

    /// Handles one event; returns the direct answers (others hear through the hub).
    pub async fn handle(&mut self, event: ClientEvent) -> ApiResult<Vec<ServerEvent>> {
        match event {
            ClientEvent::Ping => Ok(vec![ServerEvent::Pong]),
            ClientEvent::Auth { .. } => Err(ApiError::bad_request(
                "invalid_event",
                "already authenticated: auth is only the first frame of a WebSocket",
            )),
            ClientEvent::Resume {
                conversation_id,
                after_seq,
            } => Ok(vec![self.resume(&conversation_id, after_seq).await?]),
            ClientEvent::LoadBefore {
                conversation_id,
                before_seq,
                limit,
            } => {
                let (before_seq, limit) = conversations::checked_page(before_seq, limit)?;
                let conversation = self.visible_conversation(&conversation_id).await?;
                let messages = conversations::messages_before(
                    &self.state.db,
                    &conversation.id,
                    before_seq,
                    limit,
                )
                .await?;
                Ok(vec![ServerEvent::History {
                    conversation_id: conversation.id,
                    messages,
                }])
            }
            ClientEvent::Send {
                conversation_id,
                client_msg_id,
                body,
            } => {
                // Only sends count: resuming after a reconnect must never be refused.
                let over_budget = self
                    .message_budget
                    .as_ref()
                    .is_some_and(|budget| budget.check().is_err());
                if over_budget {
                    return Err(ApiError::RateLimited {
                        retry_after_secs: 1,
                    });
                }
                Ok(vec![
                    self.send(conversation_id, &client_msg_id, &body).await?,
                ])
            }
            ClientEvent::Typing {
                conversation_id,
                typing,
            } => {
                self.typing(&conversation_id, typing).await?;
                Ok(Vec::new())
            }
            ClientEvent::Read {
                conversation_id,
                up_to_seq,
            } => {
                self.read(&conversation_id, up_to_seq).await?;
                Ok(Vec::new())
            }
        }
    }

    async fn visible_conversation(&self, conversation_id: &str) -> ApiResult<Conversation> {
        conversations::find_visible(&self.state.db, &self.viewer, conversation_id)
            .await?
            .ok_or_else(conversation_not_found)
    }

    async fn resume(&mut self, conversation_id: &str, after_seq: i64) -> ApiResult<ServerEvent> {
        let conversation = self.visible_conversation(conversation_id).await?;
        // Subscribe before reading history so nothing committed in between is missed;
        // clients dedupe by seq.
        self.subscribe(Topic::conversation(&conversation.id));
        let messages =
            conversations::messages_after(&self.state.db, &conversation.id, after_seq).await?;
        Ok(ServerEvent::History {
            conversation_id: conversation.id,
            messages,
        })
    }

    /// The person this visitor writes as (verified, or known from identify) and its author
    /// line.
    async fn visitor_author(&self) -> ApiResult<(Option<String>, Author)> {
        let db = &self.state.db;
        let person_id = match (&self.viewer.verified_person_id, self.claims.ver) {
            (Some(person_id), true) => Some(person_id.clone()),
            _ => {
                people::visitor_person_id(db, &self.viewer.workspace_id, &self.viewer.visitor_id)
                    .await?
            }
        };
        let name = match &person_id {
            Some(person_id) => people::by_id(db, &self.viewer.workspace_id, person_id)
                .await?
                .and_then(|person| person.display_name()),
            None => None,
        };
        let author = Author {
            kind: AuthorKind::Visitor,
            name,
        };
        Ok((person_id, author))
    }

    async fn send(
        &mut self,
        conversation_id: Option<String>,
        client_msg_id: &str,
        body: &str,
    ) -> ApiResult<ServerEvent> {
        if uuid::Uuid::parse_str(client_msg_id).is_err() {
            return Err(ApiError::bad_request(
                "invalid_client_msg_id",
                "client_msg_id must be a UUID",
            ));
        }
        let body = conversations::checked_body(body)
            .map_err(|problem| ApiError::bad_request(problem.code(), problem.message()))?;
        let (person_id, author) = self.visitor_author().await?;
        let Some(person_id) = person_id else {
            return Err(ApiError::bad_request(
                "identify_first",
                "identify with an email before sending",
            ));
        };
        let new_message = NewMessage {
            author,
            body,
            client_msg_id: Some(client_msg_id.to_string()),
            reopens: true,
        };
        let db = &self.state.db;
        let workspace_id = self.viewer.workspace_id.clone();
        let except = self.except_self();

        let message = match conversation_id {
            Some(conversation_id) => {
                let conversation = self.visible_conversation(&conversation_id).await?;
                match conversations::append(db, &conversation.id, new_message).await? {
                    Appended::Duplicate(message) => message,
                    Appended::New { message, reopened } => {
                        publish::in_conversation(
                            &self.state.hub,
                            &conversation.id,
                            ServerEvent::Message {
                                message: message.clone(),
                            },
                            except,
                        );
                        if reopened {
                            let reopened = self.visible_conversation(&conversation.id).await?;
                            // The sender too: its answer is only the ack.
                            publish::conversation_updated(
                                &self.state.hub,
                                &workspace_id,
                                &reopened,
                                Except::Nobody,
                            );
                        }
                        message
                    }
                }
            }
            None => {
                let earlier = conversations::visitor_message_by_client_id(
                    db,
                    &workspace_id,
                    &self.viewer.visitor_id,
                    client_msg_id,
                )
                .await?;
                match earlier {
                    Some(message) => message,
                    None => {
                        let conversation = NewConversation {
                            workspace_id: workspace_id.clone(),
                            visitor_id: self.viewer.visitor_id.clone(),
                            person_id: Some(person_id),
                            session_id: self.claims.sid.clone(),
                            verified: self.claims.ver,
                        };
                        let (conversation, message) =
                            conversations::create_with_message(db, conversation, new_message)
                                .await?;
                        self.subscribe(Topic::conversation(&conversation.id));
                        publish::conversation_started(
                            &self.state.hub,
                            &workspace_id,
                            &conversation,
                            &message,
                            except,
                        );
                        // The visitor's message is committed and acknowledged regardless.
                        if let Err(error) = auto_reply::after_first_message(
                            &self.state,
                            &workspace_id,
                            &conversation.id,
                        )
                        .await
                        {
                            tracing::error!(%error, "auto-reply");
                        }
                        message
                    }
                }
            }
        };
        self.subscribe(Topic::conversation(&message.conversation_id));
        Ok(ServerEvent::Ack {
            client_msg_id: client_msg_id.to_string(),
            message,
        })
    }

    async fn typing(&mut self, conversation_id: &str, typing: bool) -> ApiResult<()> {
        if self
            .state
            .typing_limiter
            .check_key(&self.claims.sid)
            .is_err()
        {
            return Ok(());
        }
        let conversation = self.visible_conversation(conversation_id).await?;
        let (_, author) = self.visitor_author().await?;
        publish::in_conversation(
            &self.state.hub,
            &conversation.id,
            ServerEvent::Typing {
                conversation_id: conversation.id.clone(),
                author,
                typing,
            },
            Except::Session(&self.claims.sid),
        );
        Ok(())
    }

    async fn read(&mut self, conversation_id: &str, up_to_seq: i64) -> ApiResult<()> {
        let conversation = self.visible_conversation(conversation_id).await?;
        let updated = conversations::mark_read(
            &self.state.db,
            &self.viewer.workspace_id,
            &conversation,
            AuthorKind::Visitor,
            up_to_seq,
        )
        .await?;
        if updated.changed {
            publish::in_conversation(
                &self.state.hub,
                &conversation.id,
                ServerEvent::Read {
                    conversation_id: conversation.id.clone(),
                    reader: AuthorKind::Visitor,
                    up_to_seq: updated.conversation.visitor_read_seq,
                },
                Except::Session(&self.claims.sid),
            );
        }
        Ok(())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(subscriber) = &self.live {
            self.state
                .hub
                .unsubscribe(subscriber.id, self.subscribed.iter());
        }
    }
}
