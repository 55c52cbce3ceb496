//! The short sound for a message that arrives while the visitor isn't looking.
//!
//! Browsers only let a page play sound after the visitor has interacted with it, and a
//! visitor with five tabs open wants one ding, not five: the tabs elect one player with the
//! Web Locks API (the tab holding the lock plays; when it closes, the next tab takes over).

use std::cell::Cell;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// 0.14 s, 8 kHz, 8-bit mono; a `data:` URI, so CSP needs only `media-src data:`.
const SOUND: &str = concat!("data:audio/wav;base64,", include_str!("message.wav.b64"));

thread_local! {
    static PLAYER: Cell<bool> = const { Cell::new(false) };
}

/// Joins the election among this visitor's tabs for the same workspace.
pub fn join_election(capture_key: &str) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let locks = js_sys::Reflect::get(&window.navigator(), &"locks".into()).unwrap_or_default();
    let request = js_sys::Reflect::get(&locks, &"request".into())
        .ok()
        .and_then(|request| request.dyn_into::<js_sys::Function>().ok());
    let Some(request) = request else {
        // No Web Locks: every tab plays rather than none.
        PLAYER.with(|player| player.set(true));
        return;
    };
    // Granted to one tab at a time; the never-settling promise holds it until the tab closes.
    let hold = Closure::once_into_js(|| {
        PLAYER.with(|player| player.set(true));
        js_sys::Promise::new(&mut |_, _| {})
    });
    let name = JsValue::from_str(&format!("ap3c-talk-sound:{capture_key}"));
    let _ = request.call2(&locks, &name, &hold);
}

fn visitor_has_interacted() -> bool {
    web_sys::window()
        .and_then(|window| js_sys::Reflect::get(&window.navigator(), &"userActivation".into()).ok())
        .and_then(|activation| js_sys::Reflect::get(&activation, &"hasBeenActive".into()).ok())
        .and_then(|active| active.as_bool())
        .unwrap_or(false)
}

/// Plays the sound if this tab is the elected player and the page may make noise.
pub fn new_message() {
    if !PLAYER.with(Cell::get) || !visitor_has_interacted() {
        return;
    }
    let Ok(audio) = web_sys::HtmlAudioElement::new_with_src(SOUND) else {
        return;
    };
    if let Ok(playing) = audio.play() {
        // A refusal (e.g. the system blocks audio) is no error worth a console line.
        wasm_bindgen_futures::spawn_local(async move {
            let _ = wasm_bindgen_futures::JsFuture::from(playing).await;
        });
    }
}
