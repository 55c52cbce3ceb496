//! The HTTP + SSE transport, for browsers where the WebSocket can't get through: the same
//! events and the same session core as the socket, with the session token in
//! `Authorization: Bearer`, never in the URL.
//!
//! - `POST /v1/talk/messages`: one `ClientEvent` → its direct answers as a JSON array.
//! - `GET /v1/talk/messages/stream`: `ready`, then every event of the session's
//!   subscriptions, as `text/event-stream`.
//!
//! **Event ids.** Each SSE event's `id` is the stream's cursor: `v1` followed by
//! `;{conversation_id}:{seq}` for every conversation, the seq being the newest message the
//! stream delivered (or, for one visible when the stream started, its `last_seq` then, as
//! listed in `ready`). A reconnect sending it back as `Last-Event-ID` gets every message after
//! those positions — a conversation missing from the cursor started later, so all of its
//! messages — then live events, dropping any message at or below the cursor, so each missed
//! message arrives exactly once. Per-conversation positions rather than one server-wide
//! sequence because seqs are already assigned in commit order inside each conversation,
//! which no shared counter is once two writers commit concurrently. The id grows with the
//! number of conversations a session sees, which for a visitor is a handful.
//!
//! **Bounded.** The missed messages are read a page at a time (`history::after`), only as
//! the client takes them, so a stream resumed from an old id and left unread holds one page,
//! not the history; live events wait in the hub's bounded queue, and a stream that lets it
//! fill ends (the client reconnects with its last id and loses nothing).

use super::{ApiJson, BearerSession};
use crate::error::{ApiError, ApiResult};
use crate::history;
use crate::realtime::ending::{self, End, Ends};
use crate::realtime::{self, Outgoing, Published, Session};
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use futures_util::Stream;
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use talk_protocol::{
    close_code, close_reason, ClientEvent, ServerEvent, StreamEnd, STREAM_END_EVENT,
};
use tokio_util::sync::CancellationToken;

const GOING_AWAY: End = End {
    code: close_code::GOING_AWAY,
    reason: "server shutting down",
};
const TOO_SLOW: End = End {
    code: close_code::TOO_SLOW,
    reason: "too slow: reconnect and resume",
};
const TOKEN_EXPIRED: End = End {
    code: close_code::TOKEN_EXPIRED,
    reason: close_reason::TOKEN_EXPIRED,
};

pub async fn post(
    State(state): State<AppState>,
    BearerSession(claims): BearerSession,
    ApiJson(event): ApiJson<serde_json::Value>,
) -> ApiResult<Json<Vec<ServerEvent>>> {
    let event: ClientEvent = serde_json::from_value(event)
        .map_err(|error| ApiError::bad_request("invalid_event", error.to_string()))?;
    if let ClientEvent::Auth { .. } = event {
        return Err(ApiError::bad_request(
            "invalid_event",
            "auth is for the WebSocket: here the token goes in the Authorization header",
        ));
    }
    let mut session = Session::new(state, claims);
    Ok(Json(session.handle(event).await?))
}

/// Where a stream is: the newest message seq delivered per conversation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Cursor(BTreeMap<String, i64>);

const CURSOR_VERSION: &str = "v1";

impl Cursor {
    fn parse(text: &str) -> Option<Cursor> {
        let mut parts = text.split(';');
        if parts.next()? != CURSOR_VERSION {
            return None;
        }
        let mut positions = BTreeMap::new();
        for part in parts {
            let (conversation_id, seq) = part.split_once(':')?;
            let seq: i64 = seq.parse().ok()?;
            if conversation_id.is_empty() || seq < 0 {
                return None;
            }
            positions.insert(conversation_id.to_string(), seq);
        }
        Some(Cursor(positions))
    }

    fn position(&self, conversation_id: &str) -> i64 {
        self.0.get(conversation_id).copied().unwrap_or(0)
    }

    /// Records a message as delivered; false if it was delivered before.
    fn advance(&mut self, event: &ServerEvent) -> bool {
        let ServerEvent::Message { message } = event else {
            return true;
        };
        if message.seq <= self.position(&message.conversation_id) {
            return false;
        }
        self.0.insert(message.conversation_id.clone(), message.seq);
        true
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(CURSOR_VERSION)?;
        for (conversation_id, seq) in &self.0 {
            write!(formatter, ";{conversation_id}:{seq}")?;
        }
        Ok(())
    }
}

/// One open stream: what is left to replay, then the hub's queue.
struct EventStream {
    /// Removing the agent or retiring the token's signing key ends the stream at once, as it
    /// closes a socket.
    ends: Ends,
    /// The token's expiry. A stream can't be given a fresh token, so it ends with its token
    /// (the client gets a new session and resumes with `Last-Event-ID`).
    expiry: Pin<Box<dyn Future<Output = ()> + Send>>,
    /// The `end` event went out: the next call ends the stream.
    ended: bool,
    session: Session,
    /// Events to write before the queue's: `ready`, then one page of missed messages.
    backlog: VecDeque<ServerEvent>,
    /// Conversations whose missed messages are still to be read, after the cursor.
    replay: VecDeque<String>,
    outgoing: Outgoing,
    cursor: Cursor,
    too_slow: CancellationToken,
    shutdown: CancellationToken,
}

impl EventStream {
    /// The next event to write; `None` ends the stream. A stream the server ends (shutdown,
    /// too slow, its token run out or revoked) says why in a last `end` event; after a failed
    /// read it just ends. Either way the client reconnects with `Last-Event-ID`.
    async fn next(&mut self) -> Option<Event> {
        if self.ended {
            return None;
        }
        loop {
            if let Some(end) = self.ending_now() {
                return self.end(end);
            }
            if self.backlog.is_empty() {
                self.read_missed().await?;
            }
            let event = match self.backlog.pop_front() {
                Some(event) => Published::new(event),
                None => tokio::select! {
                    _ = self.shutdown.cancelled() => return self.end(GOING_AWAY),
                    _ = self.too_slow.cancelled() => return self.end(TOO_SLOW),
                    end = self.ends.recv() => return self.end(end),
                    _ = &mut self.expiry => return self.end(TOKEN_EXPIRED),
                    event = self.outgoing.recv() => event,
                },
            };
            self.session.on_delivered(&event);
            if !self.cursor.advance(&event) {
                continue;
            }
            let id = self.cursor.to_string();
            // Encoded once for every subscriber of the event.
            return Some(Event::default().id(id).data(event.json()));
        }
    }

    /// A reason to end that is already there, checked before each replayed event so a long
    /// replay can't outlive the token.
    fn ending_now(&mut self) -> Option<End> {
        if self.shutdown.is_cancelled() {
            return Some(GOING_AWAY);
        }
        if self.too_slow.is_cancelled() {
            return Some(TOO_SLOW);
        }
        if let Some(end) = self.ends.ended() {
            return Some(end);
        }
        let waker = futures_util::task::noop_waker();
        let mut context = std::task::Context::from_waker(&waker);
        self.expiry
            .as_mut()
            .poll(&mut context)
            .is_ready()
            .then_some(TOKEN_EXPIRED)
    }

    /// The stream's last event: why it ends.
    fn end(&mut self, end: End) -> Option<Event> {
        self.ended = true;
        let data = StreamEnd {
            code: end.code,
            reason: end.reason.to_owned(),
        };
        Event::default()
            .event(STREAM_END_EVENT)
            .json_data(&data)
            .ok()
    }

    /// Puts the next page of missed messages in the backlog, if any are left. Called when
    /// the backlog is empty, so the cursor is at the last one delivered.
    async fn read_missed(&mut self) -> Option<()> {
        while self.backlog.is_empty() {
            let Some(conversation_id) = self.replay.front() else {
                return Some(());
            };
            let after_seq = self.cursor.position(conversation_id);
            let page = history::after(&self.session.state().db, conversation_id, after_seq)
                .await
                .map_err(|error| tracing::error!(%error, "reading an SSE replay"))
                .ok()?;
            if !page.more {
                self.replay.pop_front();
            }
            self.backlog.extend(
                page.messages
                    .into_iter()
                    .map(|message| ServerEvent::Message { message }),
            );
        }
        Some(())
    }
}

pub async fn stream(
    State(state): State<AppState>,
    BearerSession(claims): BearerSession,
    headers: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, std::convert::Infallible>>>> {
    let resume_from = match headers.get("last-event-id") {
        Some(value) => Some(value.to_str().ok().and_then(Cursor::parse).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_last_event_id",
                "Last-Event-ID must be the id of an event of this stream",
            )
        })?),
        None => None,
    };

    let (queue, outgoing) = realtime::queue();
    let too_slow = CancellationToken::new();
    let expires_at = claims.exp;
    let mut session = Session::live(state.clone(), claims, queue, too_slow.clone());
    let ends = session.ends();
    // Subscribed from here on: anything committed later is queued, anything earlier is
    // in the conversations read now.
    let visible = session.start().await?;
    let (cursor, replay) = match resume_from {
        None => (
            Cursor(
                visible
                    .iter()
                    .map(|conversation| (conversation.id.clone(), conversation.last_seq))
                    .collect(),
            ),
            VecDeque::new(),
        ),
        Some(cursor) => {
            let behind = visible
                .iter()
                .filter(|conversation| conversation.last_seq > cursor.position(&conversation.id))
                .map(|conversation| conversation.id.clone())
                .collect();
            (cursor, behind)
        }
    };
    let backlog = VecDeque::from([session.ready(visible)]);

    let events = EventStream {
        ends,
        expiry: Box::pin(ending::token_expiry(Some(expires_at))),
        ended: false,
        session,
        backlog,
        replay,
        outgoing,
        cursor,
        too_slow,
        shutdown: state.shutdown.clone(),
    };
    let stream = futures_util::stream::unfold(events, |mut events| async move {
        let event = events.next().await?;
        Some((Ok(event), events))
    });
    let keep_alive = Duration::from_secs(state.settings.sse_keep_alive_secs.max(1));
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(keep_alive).text("keep-alive")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let cursor = Cursor::parse("v1;a:3;b:0").unwrap();
        assert_eq!((cursor.position("a"), cursor.position("b")), (3, 0));
        assert_eq!(cursor.position("new"), 0);
        assert_eq!(cursor.to_string(), "v1;a:3;b:0");
        assert_eq!(Cursor::parse("v1"), Some(Cursor::default()));
        for garbage in ["", "v2;a:1", "v1;a", "v1;a:x", "v1;:1", "v1;a:-1", "a:1"] {
            assert_eq!(Cursor::parse(garbage), None, "{garbage}");
        }
    }
}
