//! The widget's side of the shared reconnecting socket (`talk_browser::socket`): the token in
//! the first frame, server events into the core, and after a drop either the same session
//! again or, when its token is refused or nearly spent, a new one. Each attempt's outcome goes
//! to the transport rules (`transport.rs`): when the socket doesn't get through, the HTTP +
//! SSE transport (`fallback.rs`) carries the session and the socket is probed until it does.

use super::transport::{Mode, Next, AUTH_TIMEOUT_MS};
use super::{after, effects, fallback, session, with_current, with_engine, Engine};
use talk_browser::socket::{Backoff, Callbacks, Jitter, Socket};
use talk_browser::text::concat;
use talk_protocol::{close_code, ClientEvent, ServerEvent};

/// 0.5 s, 1 s, 2 s … up to 32 s, each drawn from its upper half: a restarted server is not
/// hit by every visitor at once.
const BACKOFF: Backoff = Backoff {
    base_ms: 500.0,
    cap_ms: 32_000.0,
    jitter: Jitter::Half,
};

/// The engine's socket, not connected yet.
pub(super) fn socket() -> Socket {
    Socket::new(
        BACKOFF,
        Callbacks {
            on_open: Box::new(on_open),
            on_message: Box::new(on_message),
            on_close: Box::new(on_close),
        },
    )
}

/// Connects the current session over the transport in use.
pub(super) fn connect(engine: &mut Engine) {
    if engine.session.is_none() {
        return;
    }
    engine.core.disconnected();
    match engine.transport.mode() {
        Mode::Socket => open_socket(engine),
        Mode::Fallback => {
            fallback::open(engine);
            if !engine.probing {
                let delay = engine.transport.probe_delay(js_sys::Math::random());
                probe_later(engine, delay);
            }
        }
    }
}

/// One socket attempt with the current session's URL; it must complete `auth` in time.
fn open_socket(engine: &mut Engine) {
    let Some(session) = &engine.session else {
        return;
    };
    engine.transport.opening();
    engine.socket_attempt = engine.socket_attempt.wrapping_add(1);
    engine.socket.open(&session.socket_url);
    let attempt = engine.socket_attempt;
    after(
        engine.generation,
        f64::from(AUTH_TIMEOUT_MS),
        Box::new(move |engine| {
            if engine.socket_attempt != attempt || engine.transport.authed() {
                return;
            }
            // Open (or opening) but never answered: as good as blocked.
            engine.socket.close();
            engine.socket_attempt = engine.socket_attempt.wrapping_add(1);
            let next = engine.transport.auth_timed_out(js_sys::Math::random());
            after_attempt(engine, next, 1006);
        }),
    );
}

/// While on the fallback: tries the socket again after `ms`.
fn probe_later(engine: &mut Engine, ms: f64) {
    engine.probing = true;
    after(
        engine.generation,
        ms,
        Box::new(|engine| {
            if engine.transport.mode() != Mode::Fallback {
                engine.probing = false;
            } else if engine.session.is_some() {
                open_socket(engine);
            } else {
                // A new session is on its way; its connect probes again.
                engine.probing = false;
            }
        }),
    );
}

fn on_open() {
    // The token goes in the first frame, never in the URL.
    with_engine(|engine| {
        if let Some(session) = &engine.session {
            let auth = ClientEvent::Auth {
                token: session.session_token.clone(),
            };
            effects::write(engine, &auth);
        }
    });
}

fn on_message(text: String) {
    if with_engine(|engine| super::call::forwarded(engine, &text)) == Some(true) {
        return;
    }
    match crate::decode::parse::<ServerEvent>(&text) {
        Ok(event) => {
            with_engine(|engine| {
                if matches!(event, ServerEvent::Ready { .. }) {
                    if engine.transport.socket_ready() == Next::LeaveFallback {
                        // The socket works again: it takes over from ready on, which
                        // resumes and sends the outbox again like any reconnect.
                        engine.probing = false;
                        fallback::close(engine);
                    }
                } else if engine.transport.mode() == Mode::Fallback {
                    return; // a probe's chatter: the stream carries the session
                }
                super::look(engine);
                let effects = engine.core.apply(event);
                effects::run(engine, effects);
            });
        }
        Err(error) => web_sys::console::warn_1(
            &concat(&["[talk] ignored an unknown socket event: ", error.0]).into(),
        ),
    }
}

fn on_close(code: u16) {
    with_engine(|engine| {
        engine.socket_attempt = engine.socket_attempt.wrapping_add(1);
        let next = engine.transport.socket_closed(code, js_sys::Math::random());
        after_attempt(engine, next, code);
    });
}

/// Carries out the transport rules' answer to a socket attempt that ended.
fn after_attempt(engine: &mut Engine, next: Next, code: u16) {
    match next {
        // Still on HTTP + SSE: the core stays connected there.
        Next::ProbeLater { in_ms } | Next::EnterFallback { probe_in_ms: in_ms }
            if engine.transport.mode() == Mode::Fallback =>
        {
            if matches!(next, Next::EnterFallback { .. }) {
                web_sys::console::warn_1(
                    &"[talk] the WebSocket does not get through: using HTTP and server-sent events"
                        .into(),
                );
                engine.core.disconnected();
                engine.state.connected.set(false);
                if session::token_fresh(engine) {
                    fallback::open(engine);
                } else {
                    engine.session = None;
                    session::open_later(engine);
                }
            }
            probe_later(engine, in_ms);
        }
        _ => reconnect(engine, code),
    }
}

/// An ordinary socket drop: the same session again, or a new one.
fn reconnect(engine: &mut Engine, code: u16) {
    engine.core.disconnected();
    engine.state.connected.set(false);
    if matches!(
        code,
        close_code::AUTH_FAILED | close_code::TOKEN_EXPIRED | close_code::KEY_RETIRED
    ) {
        // Start over with a fresh session token.
        engine.session = None;
        session::open_later(engine);
    } else {
        let generation = engine.generation;
        engine.socket.later(move || {
            with_current(generation, |engine| {
                if session::token_fresh(engine) {
                    connect(engine)
                } else {
                    wasm_bindgen_futures::spawn_local(session::open(generation))
                }
            });
        });
    }
}
