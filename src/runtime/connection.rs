//! The widget's side of the shared reconnecting socket (`talk_browser::socket`): the token in
//! the first frame, server events into the core, and after a drop either the same session
//! again or, when its token is refused or nearly spent, a new one.

use super::{effects, session, with_current, with_engine, Engine};
use leptos::prelude::Set;
use talk_browser::socket::{Backoff, Callbacks, Jitter, Socket};
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

/// Connects to the current session's socket URL.
pub(super) fn connect(engine: &mut Engine) {
    if let Some(session) = &engine.session {
        engine.core.disconnected();
        engine.socket.open(&session.socket_url);
    }
}

fn on_open() {
    // The token goes in the first frame, never in the URL.
    with_engine(|engine| {
        if let Some(session) = &engine.session {
            let auth = ClientEvent::Auth {
                token: session.session_token.clone(),
            };
            effects::send(engine, &auth);
        }
    });
}

fn on_message(text: String) {
    match crate::decode::parse::<ServerEvent>(&text) {
        Ok(event) => {
            with_engine(|engine| {
                super::look(engine);
                let effects = engine.core.apply(event);
                effects::run(engine, effects);
            });
        }
        Err(error) => web_sys::console::warn_1(
            &["[talk] ignored an unknown socket event: ", error.0]
                .concat()
                .into(),
        ),
    }
}

fn on_close(code: u16) {
    with_engine(|engine| {
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
    });
}
