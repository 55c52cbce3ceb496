//! The HTTP + SSE transport, for when the WebSocket can't get through (`transport.rs` decides
//! when): server events arrive on `GET /v1/talk/messages/stream` (read with `fetch`, parsed by
//! `talk_browser::sse`), the visitor's go out one at a time, in order, as
//! `POST /v1/talk/messages`, whose answers (acks, history pages, errors) go into the core like
//! socket events. The token travels in `Authorization: Bearer`, never in a URL.
//!
//! The core can't tell the transports apart: the stream's first event is `ready`, so it
//! resumes after its last seen seq and sends its outbox again exactly as after a socket drop,
//! and a dropped link (the stream ended, or a request failed without an answer) is a drop:
//! the outbox goes out again under the same client ids, which the server stores once.

use super::{after, effects, session, with_current, Engine};
use crate::api::ApiError;
use talk_browser::sse::{self, End, SseEvent};
use talk_browser::text::concat;
use talk_protocol::{close_code, ClientEvent, ServerEvent, StreamEnd, STREAM_END_EVENT};

/// Opens the event stream for the current session (closing an earlier one).
pub(super) fn open(engine: &mut Engine) {
    close(engine);
    let Some(session) = &engine.session else {
        return;
    };
    let url = concat(&[session.messages_url.as_str(), "/stream"]);
    let (generation, link) = (engine.generation, engine.link);
    engine.stream = Some(sse::open(
        &url,
        &session.session_token,
        Box::new(move |event| on_event(generation, link, event)),
        Box::new(move |end| on_end(generation, link, end)),
    ));
}

/// Ends the HTTP link (the socket takes over, or it is reopened): the stream closes, queued
/// requests are dropped and answers still on their way are ignored; the core sends again
/// what must arrive once the next `ready` comes, from whichever transport.
pub(super) fn close(engine: &mut Engine) {
    engine.link = engine.link.wrapping_add(1);
    engine.stream = None;
    engine.http_queue.clear();
    engine.http_busy = false;
    engine.core.disconnected();
}

/// Runs `f` if the link `link` of generation `generation` is still the current one.
fn with_link(generation: u32, link: u32, f: impl FnOnce(&mut Engine)) {
    with_current(generation, |engine| {
        if engine.link == link {
            f(engine)
        }
    });
}

fn on_event(generation: u32, link: u32, event: SseEvent) {
    if event.event == STREAM_END_EVENT {
        // Why the server ends the stream (the end itself follows). A spent or retired token
        // needs a new session at once, not a reconnect the server would refuse.
        if let Ok(end) = crate::decode::parse::<StreamEnd>(&event.data) {
            if matches!(
                end.code,
                close_code::TOKEN_EXPIRED | close_code::KEY_RETIRED | close_code::AUTH_FAILED
            ) {
                with_link(generation, link, |engine| lost(engine, true));
            }
        }
        return;
    }
    let mut for_the_call_module = false;
    with_link(generation, link, |engine| {
        for_the_call_module = super::call::forwarded(engine, &event.data);
    });
    if for_the_call_module {
        return;
    }
    match crate::decode::parse::<ServerEvent>(&event.data) {
        Ok(event) => with_link(generation, link, |engine| {
            if matches!(event, ServerEvent::Ready { .. }) {
                engine.transport.stream_ready();
            }
            apply(engine, event);
        }),
        Err(error) => web_sys::console::warn_1(
            &concat(&["[talk] ignored an unknown stream event: ", error.0]).into(),
        ),
    }
}

fn apply(engine: &mut Engine, event: ServerEvent) {
    super::look(engine);
    let effects = engine.core.apply(event);
    effects::run(engine, effects);
}

fn on_end(generation: u32, link: u32, end: End) {
    with_link(generation, link, |engine| {
        let refused = matches!(end, End::Refused { status: 401, .. });
        lost(engine, refused);
    });
}

/// The link is gone: like a socket drop. A refused token needs a new session; otherwise the
/// stream is opened again after its backoff (with a new session if the token is nearly spent).
fn lost(engine: &mut Engine, token_refused: bool) {
    close(engine);
    engine.state.connected.set(false);
    if token_refused {
        engine.session = None;
        session::open_later(engine);
        return;
    }
    let delay = engine.transport.stream_ended(js_sys::Math::random());
    after(
        engine.generation,
        delay,
        Box::new(|engine| {
            if engine.transport.mode() != super::transport::Mode::Fallback {
                return;
            }
            if session::token_fresh(engine) {
                super::connection::connect(engine);
            } else {
                engine.session = None;
                wasm_bindgen_futures::spawn_local(session::open(engine.generation));
            }
        }),
    );
}

/// Queues an event for `POST /v1/talk/messages`; one request at a time, so the server
/// receives them in the order the core sent them, as over the socket.
pub(super) fn post(engine: &mut Engine, event: ClientEvent) {
    if matches!(event, ClientEvent::Auth { .. }) {
        return; // here the token goes in the header
    }
    engine.http_queue.push(event);
    pump(engine);
}

fn pump(engine: &mut Engine) {
    if engine.http_busy || engine.stream.is_none() {
        return;
    }
    let Some(session) = &engine.session else {
        return;
    };
    // A few events at most (the outbox is bounded): a `Vec`, where a `VecDeque`'s ring
    // buffer was code of its own.
    if engine.http_queue.is_empty() {
        return;
    }
    let event = engine.http_queue.remove(0);
    engine.http_busy = true;
    let url = session.messages_url.clone();
    let token = session.session_token.clone();
    let (generation, link) = (engine.generation, engine.link);
    let json = Some(crate::encode::to_json(&event));
    wasm_bindgen_futures::spawn_local(async move {
        let result = talk_browser::http::send("POST", &url, json, Some(&token)).await;
        with_link(generation, link, |engine| {
            engine.http_busy = false;
            answered(engine, event, result);
            pump(engine);
        });
    });
}

fn answered(engine: &mut Engine, event: ClientEvent, result: Result<String, ApiError>) {
    match result {
        Ok(text) => match crate::decode::parse::<Vec<ServerEvent>>(&text) {
            Ok(events) => {
                for event in events {
                    apply(engine, event);
                }
            }
            Err(error) => web_sys::console::warn_1(
                &concat(&["[talk] ignored an unknown answer: ", error.0]).into(),
            ),
        },
        Err(ApiError::Server { status: 401, .. }) => lost(engine, true),
        // Refused: what the socket says with an `error` event. A refused send is marked
        // failed (the visitor may retry it under its id); anything else is only logged
        // (typing and receipts are best effort), except a 429 on a resume or page request,
        // which must not leave a gap: that is handled as a drop, whose reconnect asks again.
        Err(ApiError::Server {
            status,
            code,
            message,
        }) if (400..500).contains(&status) => {
            let client_msg_id = match event {
                ClientEvent::Send { client_msg_id, .. } => Some(client_msg_id),
                ClientEvent::Resume { .. } | ClientEvent::LoadBefore { .. } if status == 429 => {
                    return lost(engine, false)
                }
                _ => None,
            };
            apply(
                engine,
                ServerEvent::Error {
                    code,
                    message,
                    client_msg_id,
                },
            );
        }
        // No answer, or the server failed: its outcome is unknown, so the link is dropped
        // and everything unacknowledged goes again under the same ids.
        Err(_) => lost(engine, false),
    }
}
