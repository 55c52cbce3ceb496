//! Carries out the core's [`Effect`]s in the browser: signals the components read, the
//! socket, the page's callbacks, the tab title and the alert sound.

use super::core::Effect;
use super::transport::Mode;
use super::{with_current, Engine};
use crate::state::{merge_message, note_in_preview, set_delivery, Delivery, Notice, Stage};
use talk_browser::text::concat;
use talk_protocol::ClientEvent;
use wasm_bindgen::prelude::*;

pub(super) fn run(engine: &mut Engine, effects: Vec<Effect>) {
    let state = engine.state;
    for effect in effects {
        match effect {
            Effect::Send(event) => send(engine, event),
            Effect::Connected => {
                state.connected.set(true);
                engine.socket.reset_backoff();
            }
            Effect::AnnounceReady => {
                if let Some(ready) = &engine.hooks.ready {
                    let _ = ready.call0(&JsValue::NULL);
                }
            }
            Effect::ListConversations(previews) => state.conversations.set(previews),
            Effect::ShowMessage(message) => {
                state
                    .conversations
                    .update(|previews| note_in_preview(previews, &message, false));
                state.lines.update(|lines| merge_message(lines, message));
            }
            Effect::Preview { message, unread } => state
                .conversations
                .update(|previews| note_in_preview(previews, &message, unread)),
            Effect::SetUnread(count) => {
                state.unread.set(i64::from(count));
                crate::host::show_unread_in_title(count);
                if let Some(unread) = &engine.hooks.unread {
                    let _ = unread.call1(&JsValue::NULL, &count.into());
                }
            }
            Effect::PlayAlert => crate::alert::new_message(),
            Effect::MarkFailed(client_msg_id) => state
                .lines
                .update(|lines| set_delivery(lines, &client_msg_id, Delivery::Failed)),
            Effect::Notice(notice) => {
                // Over the quota the email form comes back; once a held message gets through,
                // a visitor who has given one goes back to the composer.
                if notice == Some(Notice::QuotaReached) {
                    state.stage.set(Stage::Identify);
                } else if state.stage.get_untracked() == Stage::Identify
                    && state.person.get_untracked().is_some()
                {
                    state.stage.set(Stage::Chat);
                }
                state.notice.set(notice);
            }
            Effect::AgentTyping(typing) => show_agent_typing(engine, typing),
            Effect::AgentReadSeq(seq) => state.agent_read_seq.set(seq),
            Effect::ClearConversation => {
                state.lines.set(Vec::new());
                state.notice.set(None);
                state.agent_read_seq.set(0);
                show_agent_typing(engine, None);
            }
            Effect::Warn { code, message } => {
                web_sys::console::warn_1(&concat(&["[talk] ", &code, ": ", &message]).into())
            }
        }
    }
}

/// Sends an event over the transport in use: the socket, or `POST /v1/talk/messages`.
fn send(engine: &mut Engine, event: ClientEvent) {
    match engine.transport.mode() {
        Mode::Socket => write(engine, &event),
        Mode::Fallback => super::fallback::post(engine, event),
    }
}

/// Writes an event to the socket; dropped when it is not open (the core sends again what
/// must arrive).
pub(super) fn write(engine: &Engine, event: &ClientEvent) {
    engine.socket.send(&crate::encode::to_json(event));
}

/// Shows who is typing; the indicator clears itself after a few seconds without news.
fn show_agent_typing(engine: &mut Engine, typing: Option<String>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    if let Some(timer) = engine.typing_timer.take() {
        window.clear_timeout_with_handle(timer);
    }
    let active = typing.is_some();
    engine.state.agent_typing.set(typing);
    if active {
        let generation = engine.generation;
        let clear = Closure::once_into_js(move || {
            with_current(generation, |engine| {
                engine.typing_timer = None;
                engine.state.agent_typing.set(None);
            });
        });
        engine.typing_timer = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(clear.unchecked_ref(), 6_000)
            .ok();
    }
}
