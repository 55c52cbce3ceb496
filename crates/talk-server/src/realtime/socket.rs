//! `GET /v1/talk/socket`: the widget's WebSocket. No token in the URL: the first text frame
//! must be `auth`. Everything after that is `ClientEvent` in, `ServerEvent` out.

use super::session::{error_event, Session};
use super::QUEUE_CAPACITY;
use crate::error::ApiError;
use crate::tokens::{self, SocketClaims, TokenError};
use crate::AppState;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message as Frame, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::Duration;
use talk_protocol::{close_code, ClientEvent, ServerEvent};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
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

    let heartbeat = Duration::from_secs(state.settings.heartbeat_secs.max(1));
    let (queue, mut outgoing) = mpsc::channel::<Arc<ServerEvent>>(QUEUE_CAPACITY);
    let too_slow = CancellationToken::new();
    let mut session = Session::live(state, claims, queue, too_slow.clone());
    let (close_code, reason) = match session.start().await {
        Ok(conversations) => {
            // A failed send shows up as a closed stream in serve().
            let _ = send_event(&mut socket, &session.ready(conversations)).await;
            serve(
                &mut socket,
                &mut session,
                &mut outgoing,
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
        close(&mut socket, close_code, reason).await;
    }
}

/// Runs until the socket ends; returns the close code to send (0: none, the peer left).
async fn serve(
    socket: &mut WebSocket,
    session: &mut Session,
    outgoing: &mut mpsc::Receiver<Arc<ServerEvent>>,
    heartbeat: Duration,
    too_slow: &CancellationToken,
    shutdown: &CancellationToken,
) -> (u16, &'static str) {
    let mut ping = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return (close_code::GOING_AWAY, "server shutting down"),
            _ = too_slow.cancelled() => return (close_code::TOO_SLOW, "too slow: reconnect and resume"),
            Some(event) = outgoing.recv() => {
                session.on_delivered(&event);
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
                    Some(Ok(Frame::Text(text))) => session.handle_text(text.as_str()).await,
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
            }
        }
    }
}
