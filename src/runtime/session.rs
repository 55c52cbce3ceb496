//! The browser session: opened with the capture key (and the verified token, if any), its
//! socket token renewed before it expires, and opened again when the server refuses it.

use super::{connection, effects, with_current, Engine, LoaderConfig};
use crate::api::ApiError;
use crate::state::Stage;
use talk_browser::text::concat;
use talk_protocol::{ClientEvent, WidgetSessionRequest};
use wasm_bindgen::prelude::*;

pub(super) async fn open(generation: u32) {
    let Some((api, request)) = with_current(generation, |engine| {
        (engine.api.clone(), request(&engine.config))
    }) else {
        return;
    };
    let result = api.widget_session(&request).await;
    with_current(generation, |engine| match result {
        Ok((session, answer)) => {
            super::call::session(engine, &answer);
            engine.socket.reset_backoff();
            let state = engine.state;
            state.names_required.set(session.identity.names_required);
            let known = session.person.is_some() || session.verified;
            state.person.set(session.person.clone());
            // Set only when it changes: setting it again, even to Chat, rebuilds the
            // conversation view, and a session opened after a long drop would clear what
            // the visitor was typing.
            let stage = if known { Stage::Chat } else { Stage::Identify };
            if state.stage.get_untracked() != stage {
                state.stage.set(stage);
            }
            engine.core.verified = session.verified;
            engine.session = Some(session);
            schedule_refresh(engine);
            connection::connect(engine);
        }
        Err(ApiError::Server { code, .. }) if token_refused(&code) => {
            // A stale verified token must not lock the visitor out: carry on unverified.
            web_sys::console::warn_1(
                &concat(&[
                    "[talk] verified-session token refused (",
                    &code,
                    "); continuing unverified",
                ])
                .into(),
            );
            engine.config.token = None;
            open_later(engine);
        }
        // A refusal that retrying can't fix (unknown capture key, origin not allowed …).
        Err(ApiError::Server {
            status, message, ..
        }) if (400..500).contains(&status) && status != 429 => {
            web_sys::console::error_1(&concat(&["[talk] the messenger is off: ", &message]).into());
            engine.state.stage.set(Stage::Unavailable(message));
        }
        Err(_) => open_later(engine),
    });
}

/// Opens a session again after the socket's backoff delay. Its own timer, not the socket's
/// `later`: a probe of the socket (on the HTTP + SSE fallback) would cancel that one.
pub(super) fn open_later(engine: &Engine) {
    let generation = engine.generation;
    super::after(
        generation,
        engine.socket.next_delay_ms(),
        Box::new(move |_| wasm_bindgen_futures::spawn_local(open(generation))),
    );
}

/// Renews the socket token at 80% of its life, so reconnects never wait for a new session
/// and the open socket, which the server closes when the token it holds expires, never does.
fn schedule_refresh(engine: &mut Engine) {
    let Some(session) = &engine.session else {
        return;
    };
    let Some(window) = web_sys::window() else {
        return;
    };
    if let Some(timer) = engine.refresh_timer.take() {
        window.clear_timeout_with_handle(timer);
    }
    let left = session.session_token_expires_at as f64 - js_sys::Date::now();
    let delay = (left * 0.8).max(1_000.0);
    let generation = engine.generation;
    let callback =
        Closure::once_into_js(move || wasm_bindgen_futures::spawn_local(refresh(generation)));
    engine.refresh_timer = window
        .set_timeout_with_callback_and_timeout_and_arguments_0(
            callback.unchecked_ref(),
            delay as i32,
        )
        .ok();
}

async fn refresh(generation: u32) {
    let Some((api, request)) = with_current(generation, |engine| {
        engine.refresh_timer = None;
        (engine.api.clone(), request(&engine.config))
    }) else {
        return;
    };
    let result = api.widget_session(&request).await;
    let verified_before = with_current(generation, |engine| {
        engine.session.as_ref().map(|session| session.verified)
    })
    .flatten();
    match result {
        Ok((session, answer)) if Some(session.verified) == verified_before => {
            with_current(generation, |engine| {
                super::call::session(engine, &answer);
                // A second `auth` renews the open socket in place: no drop, nothing to
                // resume. A closed socket gets the new token when it connects; the HTTP +
                // SSE transport sends it with each request (its open stream isn't ended
                // at the token's expiry).
                let renewal = ClientEvent::Auth {
                    token: session.session_token.clone(),
                };
                effects::write(engine, &renewal);
                engine.session = Some(session);
                schedule_refresh(engine);
            });
        }
        // The verified state changed, or the verified token was refused: start over properly.
        Ok(_) => super::restart(None),
        Err(ApiError::Server { code, .. }) if token_refused(&code) => super::restart(None),
        // Offline or a passing server error: the reconnect path gets a fresh session when it
        // needs one, so nothing the visitor sees changes.
        Err(_) => {}
    }
}

/// The socket token has at least a minute left.
pub(super) fn token_fresh(engine: &Engine) -> bool {
    engine.session.as_ref().is_some_and(|session| {
        session.session_token_expires_at - 60_000 > js_sys::Date::now() as i64
    })
}

/// The verified-session token itself was refused (not the request).
fn token_refused(code: &str) -> bool {
    matches!(
        code,
        "token_expired" | "invalid_token" | "token_wrong_workspace" | "token_key_retired"
    )
}

fn request(config: &LoaderConfig) -> WidgetSessionRequest {
    WidgetSessionRequest {
        capture_key: config.capture_key.clone(),
        visitor_id: config.visitor_id.clone(),
        token: config.token.clone(),
        page_url: config.page_url.clone(),
    }
}
