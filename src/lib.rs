//! The Talk messenger widget: Leptos components compiled to WebAssembly.
//!
//! The loader (`loader/app.js`) fetches this module and calls [`start`]; page JavaScript
//! reaches [`set_verified_session`] through `window.ap3c.talk.setVerifiedSession`.

pub mod api;
pub mod components;
mod host;
pub mod ids;
mod json;
mod runtime;
pub mod state;
pub mod validation;

use components::Widget;
use leptos::prelude::*;
use runtime::WidgetConfig;
use state::MessengerState;
use wasm_bindgen::prelude::*;

/// Mounts the messenger and opens its session. `config` is the JSON the loader builds from
/// `ap3c.init`: `{captureKey, apiUrl, visitorId, token}`. A second call does nothing.
#[wasm_bindgen]
pub fn start(config: &str) -> Result<(), JsValue> {
    if runtime::is_installed() {
        return Ok(());
    }
    let config: WidgetConfig = json::parse(config)
        .map_err(|error| JsValue::from_str(&format!("talk: bad configuration: {error}")))?;
    let state = MessengerState::new();
    let mount = host::create_mount_point()?;
    leptos::mount::mount_to(mount, move || view! { <Widget state/> }).forget();
    runtime::install(config, state);
    Ok(())
}

/// Restarts the messenger in a new, verified session for the person the token names.
/// Conversations started from now on are verified; earlier ones stay as they were.
#[wasm_bindgen]
pub fn set_verified_session(token: String) {
    runtime::restart(Some(token));
}
