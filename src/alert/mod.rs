//! The short sound for a message that arrives while the visitor isn't looking.
//!
//! Browsers only let a page play sound after the visitor has interacted with it, and a
//! visitor with five tabs open wants one ding, not five: the tabs elect one player with the
//! Web Locks API (the tab holding the lock plays; when it closes, the next tab takes over).
//! Where the browser refuses the lock (a third-party frame whose storage it blocks, e.g. frame
//! mode under strict cookie settings), they elect over a `BroadcastChannel` instead
//! (`election.rs`).

mod election;

use election::Election;
use std::cell::{Cell, RefCell};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

thread_local! {
    static PLAYER: Cell<bool> = const { Cell::new(false) };
    /// The channel and this tab's view of the election, where Web Locks are refused.
    static VOTE: RefCell<Option<(web_sys::BroadcastChannel, Election)>> =
        const { RefCell::new(None) };
}

fn set_player(player: bool) {
    PLAYER.with(|cell| cell.set(player));
}

/// Joins the election among this visitor's tabs for the same workspace.
pub fn join_election(capture_key: &str) {
    let name = talk_browser::text::concat(&["ap3c-talk-sound:", capture_key]);
    let Some(window) = web_sys::window() else {
        return;
    };
    let locks = js_sys::Reflect::get(&window.navigator(), &"locks".into()).unwrap_or_default();
    // Granted to one tab at a time; the never-settling promise holds it until the tab closes.
    let hold = Closure::once_into_js(|| {
        set_player(true);
        js_sys::Promise::new(&mut |_, _| {})
    });
    let requested = method(&locks, "request")
        .and_then(|request| request.call2(&locks, &name.as_str().into(), &hold).ok());
    let Some(promise) = requested else {
        return vote(&window, &name);
    };
    // A refusal is a rejected promise (`SecurityError`): caught here, so no unhandled rejection
    // reaches the console. Granted, the promise never settles.
    let refused = Closure::once_into_js(move || vote(&window, &name));
    if let Some(catch) = method(&promise, "catch") {
        let _ = catch.call1(&promise, &refused);
    }
}

fn method(object: &JsValue, name: &str) -> Option<js_sys::Function> {
    js_sys::Reflect::get(object, &name.into())
        .ok()
        .and_then(|method| method.dyn_into().ok())
}

/// The election without Web Locks: each tab's key on the channel `name` (see `election.rs`).
/// Where even a channel is refused, every tab plays rather than none.
fn vote(window: &web_sys::Window, name: &str) {
    let Ok(channel) = web_sys::BroadcastChannel::new(name) else {
        set_player(true);
        return;
    };
    // The closure types the socket and the host already use: no new glue for them.
    let on_message =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(|event: web_sys::MessageEvent| {
            if let Some(key) = event.data().as_f64() {
                step(key, |election, key| {
                    election.heard(key).then(|| election.key())
                });
            }
        });
    channel.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    let on_hide = Closure::<dyn FnMut()>::new(|| step(0.0, |election, _| Some(election.leave())));
    let on_show = Closure::<dyn FnMut()>::new(|| step(0.0, |election, _| election.come_back()));
    for (event, listener) in [("pagehide", on_hide), ("pageshow", on_show)] {
        let _ = window.add_event_listener_with_callback(event, listener.as_ref().unchecked_ref());
        listener.forget();
    }
    let me = Election::new(js_sys::Date::now() + js_sys::Math::random());
    VOTE.with_borrow_mut(|vote| *vote = Some((channel, me)));
    // Alone until an older tab answers, a few milliseconds later.
    step(0.0, |election, _| Some(election.key()));
}

/// One step of the election: posts what `rule` says to post, and follows its verdict.
fn step(key: f64, rule: fn(&mut Election, f64) -> Option<f64>) {
    VOTE.with_borrow_mut(|vote| {
        if let Some((channel, election)) = vote {
            if let Some(message) = rule(election, key) {
                let _ = channel.post_message(&message.into());
            }
            set_player(election.is_player());
        }
    });
}

fn visitor_has_interacted() -> bool {
    web_sys::window()
        .and_then(|window| js_sys::Reflect::get(&window.navigator(), &"userActivation".into()).ok())
        .and_then(|activation| js_sys::Reflect::get(&activation, &"hasBeenActive".into()).ok())
        .and_then(|active| active.as_bool())
        .unwrap_or(false)
}

/// Plays the sound if this tab is the elected player and the page may make noise: one
/// 0.14 s note near 1 kHz (B5), synthesised (`talk_browser::tone`), no file to download.
pub fn new_message() {
    if PLAYER.with(Cell::get) && visitor_has_interacted() {
        talk_browser::tone::play(&[(0.0, 987.8)]);
    }
}
