//! `GET /v1/talk/socket`: the widget's WebSocket. No token in the URL: the first text frame
//! must be `auth`. `GET /v1/agent/socket`: the inbox's, authenticated by the agent's session
//! cookie at the upgrade. Everything after that is `ClientEvent` in, `ServerEvent` out.

use super::ending::{self, Ends};
use super::hub::{self, Outgoing, Published};
use super::session::{error_event, Session};
use crate::error::ApiError;
use crate::http::{foreign_origin, require_own_origin, session_origin_allowed, AgentSession};
use crate::tokens::{self, SocketClaims, TokenError};
use crate::AppState;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message as Frame, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use talk_protocol::{close_code, close_reason, ClientEvent, ServerEvent};
use tokio_util::sync::CancellationToken;

#[cfg(test)]
mod footprint;

const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_FRAME_BYTES: usize = 64 * 1024;
/// tungstenite allocates its read buffer up front (128 KiB by default) and zero-fills it on
/// the first read, for every socket: that made an idle visitor cost ~140 KB, and 4 KiB still
/// was a quarter of one. Chat frames are small and one read takes a whole one; a bigger
/// frame still fits, as the buffer reserves a frame's length once its header is read.
const READ_BUFFER_BYTES: usize = 1024;
/// Frames queued together are written together (`write_batch`): up to this many bytes are
/// gathered before a write, and every batch ends with a flush, so an event never waits for
/// company that is not already queued.
const WRITE_BUFFER_BYTES: usize = 16 * 1024;
/// Most events written in one batch, so a busy socket still checks its other duties.
const MAX_BATCH_EVENTS: usize = 64;
/// A peer that stops reading is cut off by the outgoing queue's limit; this bounds the bytes.
const MAX_WRITE_BUFFER_BYTES: usize = 256 * 1024;
// A frame over the write buffer fails the socket without a close code: the largest, a page
// of history, must fit with its envelope.
const _: () = assert!(talk_protocol::MAX_PAGE_BYTES + 4 * 1024 <= MAX_WRITE_BUFFER_BYTES);
/// Close code for a server-side failure (RFC 6455).
const INTERNAL_ERROR: u16 = 1011;

fn websocket_required() -> Response {
    ApiError::bad_request(
        "websocket_required",
        "connect with a WebSocket client to this URL",
    )
    .into_response()
}

/// Upgrades and runs `run` on the socket, tracked so serve() can wait for it on shutdown.
fn accept<F, Fut>(state: AppState, upgrade: WebSocketUpgrade, run: F) -> Response
where
    F: FnOnce(WebSocket, AppState) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let running = state.sockets.token();
    upgrade
        .max_message_size(MAX_FRAME_BYTES)
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_write_buffer_size(MAX_WRITE_BUFFER_BYTES)
        .on_upgrade(move |socket| {
            // Made before the block, which then holds the task and not a second copy of
            // the socket and the state it was made from.
            let task = run(socket, state);
            async move {
                task.await;
                drop(running);
            }
        })
}

/// `GET /v1/talk/socket`. The page's `Origin` is checked against the workspace's allowed
/// origins once the `auth` frame's token names the workspace.
pub async fn upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let origin = foreign_origin(&headers, &state);
    match upgrade {
        Ok(upgrade) => accept(state, upgrade, move |socket, state| {
            run(socket, state, origin)
        }),
        Err(_) => websocket_required(),
    }
}

/// `GET /v1/agent/socket`. A browser sends the cookie with any page's WebSocket, so the
/// `Origin` must be the server's own (the inbox's) before the cookie counts.
pub async fn agent_upgrade(
    State(state): State<AppState>,
    headers: HeaderMap,
    session: Result<AgentSession, ApiError>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if let Err(error) = require_own_origin(&headers, &state) {
        return error.into_response();
    }
    let session = match session {
        Ok(session) => session,
        Err(error) => return error.into_response(),
    };
    let Ok(upgrade) = upgrade else {
        return websocket_required();
    };
    let (agent, cookie_session) = session.into_parts();
    accept(state, upgrade, move |mut socket, state| async move {
        let (queue, outgoing) = hub::queue();
        let too_slow = CancellationToken::new();
        let session = Session::live_agent(state, agent, cookie_session, queue, too_slow.clone());
        run_session(&mut socket, session, outgoing, too_slow).await;
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

/// Writes the event and whatever else is queued already (up to `MAX_BATCH_EVENTS`) as one
/// batch with one flush: the JSON each event was encoded to once for all its subscribers.
async fn write_batch(
    socket: &mut WebSocket,
    session: &mut Session,
    outgoing: &mut Outgoing,
    first: Arc<Published>,
) -> Result<(), axum::Error> {
    let mut next = Some(first);
    let mut written = 0;
    while let Some(event) = next.take() {
        session.on_delivered(&event);
        socket.feed(Frame::Text(event.json().into())).await?;
        written += 1;
        // Taken from the queue only when it will be written in this batch.
        if written < MAX_BATCH_EVENTS {
            next = outgoing.try_recv();
        }
    }
    socket.flush().await
}

/// Waits for the `auth` frame and checks the page's `origin` (from [`foreign_origin`]); on
/// failure returns the close code and reason.
async fn authenticate(
    socket: &mut WebSocket,
    state: &AppState,
    origin: Option<String>,
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
    let claims = match tokens::verify_socket_token(&state.db, &token).await {
        Ok(claims) => claims,
        Err(TokenError::Expired) => return Err((close_code::TOKEN_EXPIRED, "token expired")),
        Err(TokenError::Store(error)) => {
            tracing::error!(%error, "socket auth");
            return Err((INTERNAL_ERROR, "internal error"));
        }
        Err(_) => return Err((close_code::AUTH_FAILED, "invalid token")),
    };
    match session_origin_allowed(state, &claims.ws, origin.as_deref()).await {
        Ok(true) => Ok(claims),
        Ok(false) => Err((close_code::AUTH_FAILED, close_reason::ORIGIN_NOT_ALLOWED)),
        Err(error) => {
            tracing::error!(%error, "socket auth");
            Err((INTERNAL_ERROR, "internal error"))
        }
    }
}

/// The widget socket's task. Not an `async fn`, nor is `run_session`: an async fn copies
/// its arguments into its body, so the future would hold the socket (and the session) twice
/// for as long as it lives; an `async move` block uses what it captured in place.
#[allow(clippy::manual_async_fn)] // on purpose: see above
fn run(
    mut socket: WebSocket,
    state: AppState,
    origin: Option<String>,
) -> impl Future<Output = ()> + Send {
    async move {
        let claims = tokio::select! {
            // Boxed, like every one-off step below: a socket's future is as big as its
            // biggest step, and an idle socket should not keep room for a database call it
            // isn't making.
            result = Box::pin(authenticate(&mut socket, &state, origin)) => result,
            _ = state.shutdown.cancelled() => Err((close_code::GOING_AWAY, "server shutting down")),
        };
        let claims = match claims {
            Ok(claims) => claims,
            Err((code, reason)) => {
                Box::pin(close(&mut socket, code, reason)).await;
                return;
            }
        };

        let (queue, outgoing) = hub::queue();
        let too_slow = CancellationToken::new();
        let session = Session::live(state, claims, queue, too_slow.clone());
        run_session(&mut socket, session, outgoing, too_slow).await;
    }
}

/// Subscribes, answers `ready`, then serves the session until the socket ends. Not an
/// `async fn`, like `run`.
#[allow(clippy::manual_async_fn)] // on purpose: see `run`
fn run_session<'a>(
    socket: &'a mut WebSocket,
    mut session: Session,
    mut outgoing: Outgoing,
    too_slow: CancellationToken,
) -> impl Future<Output = ()> + Send + 'a {
    async move {
        let heartbeat = Duration::from_secs(session.state().settings.heartbeat_secs.max(1));
        let shutdown = session.state().shutdown.clone();
        let mut ends = session.ends();
        let (close_code, reason) = match Box::pin(session.start()).await {
            Ok(conversations) => {
                // Moved into its boxed step, so the future keeps no room for the event.
                let ready = session.ready(conversations);
                let writer = &mut *socket;
                // A failed send shows up as a closed stream in serve().
                let _ = Box::pin(async move { send_event(writer, &ready).await }).await;
                serve(
                    socket,
                    &mut session,
                    &mut outgoing,
                    &mut ends,
                    heartbeat,
                    &too_slow,
                    &shutdown,
                )
                .await
            }
            Err(error) => {
                tracing::error!(%error, "socket start");
                (INTERNAL_ERROR, "internal error")
            }
        };
        drop(session);
        if close_code != 0 {
            Box::pin(close(socket, close_code, reason)).await;
        }
    }
}

/// Runs until the socket ends; returns the close code to send (0: none, the peer left).
async fn serve(
    socket: &mut WebSocket,
    session: &mut Session,
    outgoing: &mut Outgoing,
    ends: &mut Ends,
    heartbeat: Duration,
    too_slow: &CancellationToken,
    shutdown: &CancellationToken,
) -> (u16, &'static str) {
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
    let mut expires_at = session.token_expires_at();
    let expiry = ending::token_expiry(expires_at);
    tokio::pin!(expiry);
    loop {
        if session.token_expires_at() != expires_at {
            // A later `auth` renewed the token.
            expires_at = session.token_expires_at();
            expiry.set(ending::token_expiry(expires_at));
        }
        tokio::select! {
            _ = shutdown.cancelled() => return (close_code::GOING_AWAY, "server shutting down"),
            end = ends.recv() => return (end.code, end.reason),
            _ = &mut expiry => return (close_code::TOKEN_EXPIRED, close_reason::TOKEN_EXPIRED),
            _ = too_slow.cancelled() => return (close_code::TOO_SLOW, "too slow: reconnect and resume"),
            event = outgoing.recv() => {
                if write_batch(socket, session, outgoing, event).await.is_err() {
                    return (0, "");
                }
            }
            _ = ping.tick() => {
                match Box::pin(session.still_signed_in()).await {
                    Ok(true) => {}
                    Ok(false) => return (close_code::SIGNED_OUT, close_reason::SIGNED_OUT),
                    // Checked again at the next beat.
                    Err(error) => tracing::error!(%error, "socket session check"),
                }
                if socket.send(Frame::Ping(Default::default())).await.is_err() {
                    return (0, "");
                }
            }
            frame = socket.recv() => {
                let replies = match frame {
                    Some(Ok(Frame::Text(text))) => Box::pin(session.handle_text(text.as_str())).await,
                    Some(Ok(Frame::Binary(_))) => vec![error_event(
                        &ApiError::bad_request("invalid_event", "send events as JSON text frames"),
                        None,
                    )],
                    Some(Ok(Frame::Ping(_) | Frame::Pong(_))) => Vec::new(),
                    Some(Ok(Frame::Close(_))) | Some(Err(_)) | None => return (0, ""),
                };
                for reply in &replies {
                    if send_event(socket, reply).await.is_err() {
                        return (0, "");
                    }
                }
                if session.take_unstored_send() {
                    return (INTERNAL_ERROR, "the message was not stored: reconnect and send it again");
                }
            }
        }
    }
}
