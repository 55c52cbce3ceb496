//! The Talk messenger widget: its views on Leptos's reactive system, compiled to WebAssembly.
//!
//! The loader (`loader/app.js`) fetches this module and calls [`start`]; page JavaScript
//! reaches [`set_verified_session`] through `window.ap3c.talk.setVerifiedSession`.

mod alert;
pub mod api;
pub mod components;
pub mod decode;
pub mod encode;
mod host;
pub mod i18n;
mod runtime;
pub mod state;
pub mod validation;
pub mod var;

use components::dom::effect;
pub use host::theme_css;
use runtime::LoaderConfig;
use state::MessengerState;
use wasm_bindgen::prelude::*;

/// Talc instead of std's dlmalloc: the same job in fewer bytes (docs/benchmarks.md).
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// Mounts the messenger and opens its session. `config` is the JSON the loader builds from
/// `ap3c.init`: `{captureKey, apiUrl, visitorId, token}`; `hooks` holds the page callbacks
/// `unread(count)` and `ready()`, and in frame mode `open(bool)` (the frame is resized to
/// match). A second call does nothing.
#[wasm_bindgen]
pub fn start(config: &str, hooks: JsValue) -> Result<(), JsValue> {
    if runtime::is_installed() {
        return Ok(());
    }
    let config: LoaderConfig = decode::parse(config).map_err(|error| {
        JsValue::from_str(&talk_browser::text::concat(&[
            "talk: bad configuration: ",
            error.0,
        ]))
    })?;
    let state = MessengerState::new();
    let lang = i18n::Lang::pick(
        config.language.as_deref(),
        host::browser_languages().iter().map(String::as_str),
    );
    i18n::set_lang(lang);
    let mount = host::create_mount_point(lang)?;
    let open_hook = js_sys::Reflect::get(&hooks, &"open".into())
        .ok()
        .and_then(|hook| hook.dyn_into::<js_sys::Function>().ok());
    components::dom::mount_for_good(&mount, move || {
        // Opening the messenger or the conversation (or coming back to its tab) reads what
        // arrived.
        effect(move || {
            state.conversation_screen.track();
            if state.open.get() {
                runtime::mark_seen();
            }
        });
        if let Some(hook) = open_hook.clone() {
            effect(move || {
                let _ = hook.call1(&JsValue::NULL, &state.open.get().into());
            });
        }
        components::widget(state)
    });
    host::on_visibility_change(runtime::mark_seen);
    alert::join_election(&config.capture_key);
    runtime::install(config, lang, runtime::Hooks::from_js(&hooks), state);
    Ok(())
}

fn with_state(f: impl FnOnce(MessengerState)) {
    if let Some(state) = runtime::state() {
        f(state);
    }
}

/// `ap3c.talk.open()`: opens the messenger (and shows it if hidden). The capture module
/// names the conversation its reply started, to open on it (a `JsValue`, not an
/// `Option<String>`: that glue cost 114 B more).
#[wasm_bindgen]
pub fn open(conversation_id: JsValue) {
    with_state(|state| {
        state.hidden.set(false);
        state.open.set(true);
    });
    if let Some(id) = conversation_id.as_string() {
        runtime::open_conversation(id);
    }
}

/// `ap3c.talk.close()`.
#[wasm_bindgen]
pub fn close() {
    with_state(|state| state.open.set(false));
}

/// `ap3c.talk.show()`: brings back a launcher hidden with `hide()`.
#[wasm_bindgen]
pub fn show() {
    with_state(|state| state.hidden.set(false));
}

/// `ap3c.talk.hide()`: no launcher and no panel until `show()` or `open()`; the session and
/// its messages carry on.
#[wasm_bindgen]
pub fn hide() {
    with_state(|state| {
        state.open.set(false);
        state.hidden.set(true);
    });
}

/// `ap3c.talk.shutdown()`: forgets the visitor (e.g. on logout). The loader has already
/// replaced the visitor id in the cookie; the messenger restarts as that new, anonymous visitor.
#[wasm_bindgen]
pub fn shutdown(new_visitor_id: String) {
    runtime::shutdown(new_visitor_id);
}

/// Restarts the messenger in a new, verified session for the person the token names.
/// Conversations started from now on are verified; earlier ones stay as they were.
#[wasm_bindgen]
pub fn set_verified_session(token: String) {
    runtime::restart(Some(token));
}

/// For the call module (`loader/call.js`): one of its events, as JSON, onto the session's
/// transport.
#[wasm_bindgen]
pub fn send_call(event: String) {
    runtime::send_call(event);
}
