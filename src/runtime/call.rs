//! The widget's part in voice calls. The call module (`loader/call.js`, fetched by embed.js or
//! frame.js the first time a call needs it) does the WebRTC and draws the call; the engine
//! hands it what only the engine has through the page hook `call(kind, payload)`: the
//! session's answer (its ICE servers), every call event the session receives, and the call
//! button's click. The module's own events go out on the session's transport (`send`).

use super::transport::Mode;
use super::{with_engine, Engine};
use wasm_bindgen::JsValue;

fn hook(engine: &Engine, kind: &str, payload: &JsValue) {
    if let Some(call) = &engine.hooks.call {
        let _ = call.call2(&JsValue::NULL, &kind.into(), payload);
    }
}

/// A `call` or `call_signal` event (the server writes the tag first): handed to the module,
/// which the engine's decoder does not know. An `error` goes to the module too (it acts on
/// its own codes only), and on to the engine.
pub(super) fn forwarded(engine: &Engine, text: &str) -> bool {
    let is_call = text.starts_with("{\"type\":\"call");
    if is_call || text.starts_with("{\"type\":\"error\"") {
        hook(engine, "event", &text.into());
    }
    is_call
}

/// A new session: its answer's JSON, for the module's ICE servers.
pub(super) fn session(engine: &Engine, answer: &str) {
    hook(engine, "session", &answer.into());
}

/// The call button: calls the agents from the conversation on screen.
pub fn start() {
    with_engine(|engine| {
        if let Some(id) = &engine.core.conversation_id {
            hook(engine, "start", &id.into());
        }
    });
}

/// One of the module's events (JSON), on the socket or, on the fallback, as a request whose
/// refusal comes back to the module as an `error` event.
pub fn send(event: String) {
    with_engine(|engine| {
        if engine.transport.mode() == Mode::Socket {
            engine.socket.send(&event);
            return;
        }
        let Some(session) = &engine.session else {
            return;
        };
        let (url, token) = (session.messages_url.clone(), session.session_token.clone());
        let generation = engine.generation;
        wasm_bindgen_futures::spawn_local(async move {
            let result = talk_browser::http::send("POST", &url, Some(event), Some(&token)).await;
            if let Err(crate::api::ApiError::Server { code, .. }) = result {
                super::with_current(generation, |engine| {
                    let error = talk_browser::text::concat(&[
                        "{\"type\":\"error\",\"code\":\"",
                        &code,
                        "\"}",
                    ]);
                    hook(engine, "event", &error.into());
                });
            }
        });
    });
}
