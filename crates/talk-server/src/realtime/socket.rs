//! `GET /v1/talk/socket`: the widget's WebSocket. No token in the URL: the first text frame
//! must be `auth`. Everything after that is `ClientEvent` in, `ServerEvent` out.

use super::hub::Subscriber;
use crate::auto_reply;
use crate::conversations::{self, Appended, NewConversation, NewMessage, Viewer};
use crate::error::ApiError;
use crate::people;
use crate::tokens::{self, SocketClaims, TokenError};
use crate::AppState;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message as Frame, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use governor::DefaultDirectRateLimiter;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use talk_protocol::{close_code, Author, AuthorKind, ClientEvent, ServerEvent};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
const PING_INTERVAL: Duration = Duration::from_secs(30);
/// Events queued for one socket before it counts as too slow.
const QUEUE_CAPACITY: usize = 1024;
const MAX_FRAME_BYTES: usize = 64 * 1024;
/// Close code for a server-side failure (RFC 6455).
const INTERNAL_ERROR: u16 = 1011;

pub async fn upgrade(
    State(state): State<AppState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let Ok(upgrade) = upgrade else {
        return ApiError::bad_request(
            "websocket_required",
            "connect with a WebSocket client to this URL",
        )
        .into_response();
    };
    // Held for the socket's lifetime so serve() can wait for it on shutdown.
    let running = state.sockets.token();
    upgrade
        .max_message_size(MAX_FRAME_BYTES)
        .on_upgrade(move |socket| async move {
            run(socket, state).await;
            drop(running);
        })
}

async fn close(socket: &mut WebSocket, code: u16, reason: &str) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    // The peer may be gone already; nothing to do about it.
    let _ = socket.send(Frame::Close(Some(frame))).await;
}

async fn send_event(socket: &mut WebSocket, event: &ServerEvent) -> Result<(), axum::Error> {
    let text = serde_json::to_string(event).map_err(axum::Error::new)?;
    socket.send(Frame::Text(text.into())).await
}

fn error_event(
    code: &str,
    message: impl Into<String>,
    client_msg_id: Option<String>,
) -> ServerEvent {
    ServerEvent::Error {
        code: code.to_string(),
        message: message.into(),
        client_msg_id,
    }
}

/// Waits for the `auth` frame; on failure returns the close code and reason.
async fn authenticate(
    socket: &mut WebSocket,
    state: &AppState,
) -> Result<SocketClaims, (u16, &'static str)> {
    let first_text = async {
        loop {
            match socket.recv().await {
                Some(Ok(Frame::Text(text))) => return Some(text),
                Some(Ok(Frame::Ping(_) | Frame::Pong(_))) => continue,
                _ => return None,
            }
        }
    };
    let text = match tokio::time::timeout(AUTH_TIMEOUT, first_text).await {
        Ok(Some(text)) => text,
        Ok(None) => return Err((close_code::AUTH_FAILED, "expected an auth event")),
        Err(_) => return Err((close_code::AUTH_FAILED, "no auth event within 10 s")),
    };
    let token = match serde_json::from_str::<ClientEvent>(text.as_str()) {
        Ok(ClientEvent::Auth { token }) => token,
        _ => return Err((close_code::AUTH_FAILED, "the first event must be auth")),
    };
    match tokens::verify_socket_token(&state.db, &token).await {
        Ok(claims) => Ok(claims),
        Err(TokenError::Expired) => Err((close_code::TOKEN_EXPIRED, "token expired")),
        Err(TokenError::Database(error)) => {
            tracing::error!(%error, "socket auth");
            Err((INTERNAL_ERROR, "internal error"))
        }
        Err(_) => Err((close_code::AUTH_FAILED, "invalid token")),
    }
}

async fn run(mut socket: WebSocket, state: AppState) {
    let shutdown = state.shutdown.clone();
    let claims = tokio::select! {
        result = authenticate(&mut socket, &state) => result,
        _ = shutdown.cancelled() => Err((close_code::GOING_AWAY, "server shutting down")),
    };
    let claims = match claims {
        Ok(claims) => claims,
        Err((code, reason)) => {
            close(&mut socket, code, reason).await;
            return;
        }
    };

    let (queue, mut outgoing) = mpsc::channel::<Arc<ServerEvent>>(QUEUE_CAPACITY);
    let too_slow = CancellationToken::new();
    let subscriber = Subscriber::new(state.hub.next_socket_id(), queue, too_slow.clone());
    let mut connection = Connection {
        viewer: Viewer {
            workspace_id: claims.ws.clone(),
            visitor_id: claims.vid.clone(),
            verified_person_id: if claims.ver { claims.pid.clone() } else { None },
        },
        claims,
        message_budget: state.limits.socket_limiter(),
        state,
        subscriber,
        subscribed: HashSet::new(),
    };

    let (close_code, reason) = match connection.start(&mut socket).await {
        Ok(()) => {
            connection
                .serve(&mut socket, &mut outgoing, &too_slow, &shutdown)
                .await
        }
        Err(error) => {
            tracing::error!(%error, "socket start");
            (INTERNAL_ERROR, "internal error")
        }
    };
    connection.end();
    if close_code != 0 {
        close(&mut socket, close_code, reason).await;
    }
}

/// One authenticated socket.
struct Connection {
    claims: SocketClaims,
    viewer: Viewer,
    state: AppState,
    subscriber: Subscriber,
    subscribed: HashSet<String>,
    /// Sent messages allowed; `None`: unlimited.
    message_budget: Option<DefaultDirectRateLimiter>,
}

/// A failure to report to the client as an `error` event.
struct EventError {
    code: &'static str,
    message: String,
}

impl EventError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        EventError {
            code,
            message: message.into(),
        }
    }
}

impl From<sqlx::Error> for EventError {
    fn from(error: sqlx::Error) -> Self {
        tracing::error!(%error, "socket event");
        EventError::new("internal", "internal error")
    }
}

impl Connection {
    fn subscribe(&mut self, conversation_id: &str) {
        if self.subscribed.insert(conversation_id.to_string()) {
            self.state.hub.subscribe(conversation_id, &self.subscriber);
        }
    }

    fn end(&mut self) {
        self.state
            .hub
            .unsubscribe(self.subscriber.id, self.subscribed.iter());
        self.subscribed.clear();
    }

    /// Sends `ready` and subscribes to every visible conversation.
    async fn start(&mut self, socket: &mut WebSocket) -> Result<(), sqlx::Error> {
        let visible = conversations::visible(&self.state.db, &self.viewer).await?;
        for conversation in &visible {
            self.subscribe(&conversation.id);
        }
        let ready = ServerEvent::Ready {
            session_id: self.claims.sid.clone(),
            conversations: visible,
        };
        // A failed send shows up as a closed stream in serve().
        let _ = send_event(socket, &ready).await;
        Ok(())
    }

    /// Runs until the socket ends; returns the close code to send (0: none, the peer left).
    async fn serve(
        &mut self,
        socket: &mut WebSocket,
        outgoing: &mut mpsc::Receiver<Arc<ServerEvent>>,
        too_slow: &CancellationToken,
        shutdown: &CancellationToken,
    ) -> (u16, &'static str) {
        let mut ping =
            tokio::time::interval_at(tokio::time::Instant::now() + PING_INTERVAL, PING_INTERVAL);
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return (close_code::GOING_AWAY, "server shutting down"),
                _ = too_slow.cancelled() => return (close_code::TOO_SLOW, "too slow: reconnect and resume"),
                Some(event) = outgoing.recv() => {
                    if send_event(socket, &event).await.is_err() {
                        return (0, "");
                    }
                }
                _ = ping.tick() => {
                    if socket.send(Frame::Ping(Default::default())).await.is_err() {
                        return (0, "");
                    }
                }
                frame = socket.recv() => {
                    let replies = match frame {
                        Some(Ok(Frame::Text(text))) => self.handle_text(text.as_str()).await,
                        Some(Ok(Frame::Binary(_))) => {
                            vec![error_event("invalid_event", "send events as JSON text frames", None)]
                        }
                        Some(Ok(Frame::Ping(_) | Frame::Pong(_))) => Vec::new(),
                        Some(Ok(Frame::Close(_))) | Some(Err(_)) | None => return (0, ""),
                    };
                    for reply in &replies {
                        if send_event(socket, reply).await.is_err() {
                            return (0, "");
                        }
                    }
                }
            }
        }
    }

    async fn handle_text(&mut self, text: &str) -> Vec<ServerEvent> {
        let event = match serde_json::from_str::<ClientEvent>(text) {
            Ok(event) => event,
            Err(error) => return vec![error_event("invalid_event", error.to_string(), None)],
        };
        match event {
            ClientEvent::Ping => vec![ServerEvent::Pong],
            ClientEvent::Auth { .. } => {
                vec![error_event(
                    "invalid_event",
                    "this socket is already authenticated",
                    None,
                )]
            }
            ClientEvent::Resume {
                conversation_id,
                after_seq,
            } => match self.resume(conversation_id, after_seq).await {
                Ok(history) => vec![history],
                Err(error) => vec![error_event(error.code, error.message, None)],
            },
            ClientEvent::Send {
                conversation_id,
                client_msg_id,
                body,
            } => {
                let over_budget = self
                    .message_budget
                    .as_ref()
                    .is_some_and(|budget| budget.check().is_err());
                if over_budget {
                    return vec![error_event(
                        "rate_limited",
                        "too many messages: wait a few seconds, then resend",
                        Some(client_msg_id),
                    )];
                }
                match self.send(conversation_id, &client_msg_id, &body).await {
                    Ok(ack) => vec![ack],
                    Err(error) => {
                        vec![error_event(error.code, error.message, Some(client_msg_id))]
                    }
                }
            }
        }
    }

    async fn resume(
        &mut self,
        conversation_id: String,
        after_seq: i64,
    ) -> Result<ServerEvent, EventError> {
        let conversation =
            conversations::find_visible(&self.state.db, &self.viewer, &conversation_id)
                .await?
                .ok_or_else(|| EventError::new("conversation_not_found", "no such conversation"))?;
        // Subscribe before reading history so nothing committed in between is missed;
        // clients dedupe by seq.
        self.subscribe(&conversation.id);
        let messages =
            conversations::messages_after(&self.state.db, &conversation.id, after_seq).await?;
        Ok(ServerEvent::History {
            conversation_id: conversation.id,
            messages,
        })
    }

    async fn send(
        &mut self,
        conversation_id: Option<String>,
        client_msg_id: &str,
        body: &str,
    ) -> Result<ServerEvent, EventError> {
        let db = &self.state.db;
        if uuid::Uuid::parse_str(client_msg_id).is_err() {
            return Err(EventError::new(
                "invalid_client_msg_id",
                "client_msg_id must be a UUID",
            ));
        }
        let body = conversations::checked_body(body)
            .map_err(|problem| EventError::new(problem.code(), problem.message()))?;
        let person_id = match (&self.viewer.verified_person_id, self.claims.ver) {
            (Some(person_id), true) => Some(person_id.clone()),
            _ => {
                people::visitor_person_id(db, &self.viewer.workspace_id, &self.viewer.visitor_id)
                    .await?
            }
        };
        let Some(person_id) = person_id else {
            return Err(EventError::new(
                "identify_first",
                "identify with an email before sending",
            ));
        };
        let author_name = people::by_id(db, &self.viewer.workspace_id, &person_id)
            .await?
            .and_then(|person| person.display_name());
        let new_message = NewMessage {
            author: Author {
                kind: AuthorKind::Visitor,
                name: author_name,
            },
            body,
            client_msg_id: Some(client_msg_id.to_string()),
        };

        let (appended, started_conversation) = match conversation_id {
            Some(conversation_id) => {
                let conversation = conversations::find_visible(db, &self.viewer, &conversation_id)
                    .await?
                    .ok_or_else(|| {
                        EventError::new("conversation_not_found", "no such conversation")
                    })?;
                (
                    conversations::append(db, &conversation.id, new_message).await?,
                    false,
                )
            }
            None => {
                let earlier = conversations::visitor_message_by_client_id(
                    db,
                    &self.viewer.workspace_id,
                    &self.viewer.visitor_id,
                    client_msg_id,
                )
                .await?;
                match earlier {
                    Some(message) => (Appended::Duplicate(message), false),
                    None => {
                        let conversation = NewConversation {
                            workspace_id: self.viewer.workspace_id.clone(),
                            visitor_id: self.viewer.visitor_id.clone(),
                            person_id: Some(person_id),
                            session_id: self.claims.sid.clone(),
                            verified: self.claims.ver,
                        };
                        let (_, message) =
                            conversations::create_with_message(db, conversation, new_message)
                                .await?;
                        (Appended::New(message), true)
                    }
                }
            }
        };

        let message = match appended {
            Appended::Duplicate(message) => message,
            Appended::New(message) => {
                self.subscribe(&message.conversation_id);
                self.state.hub.publish(
                    &message.conversation_id,
                    ServerEvent::Message {
                        message: message.clone(),
                    },
                    Some(self.subscriber.id),
                );
                message
            }
        };
        self.subscribe(&message.conversation_id);
        if started_conversation {
            // The visitor's message is committed and acknowledged regardless.
            if let Err(error) = auto_reply::after_first_message(
                &self.state,
                &self.viewer.workspace_id,
                &message.conversation_id,
            )
            .await
            {
                tracing::error!(%error, "auto-reply");
            }
        }
        Ok(ServerEvent::Ack {
            client_msg_id: client_msg_id.to_string(),
            message,
        })
    }
}
