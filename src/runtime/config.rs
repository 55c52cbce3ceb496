//! What the messenger is started with: the loader's configuration, the page's callbacks, and
//! the workspace's settings fetched from the server.

use super::with_engine;
use leptos::prelude::Set;
use wasm_bindgen::{JsCast, JsValue};

/// What the loader hands over from `ap3c.init` (decoded in `crate::decode`).
#[derive(Debug, Clone)]
pub struct LoaderConfig {
    pub capture_key: String,
    pub api_url: String,
    pub visitor_id: String,
    pub token: Option<String>,
    /// `talk.language` from `ap3c.init`, e.g. "de"; else the browser's languages decide.
    pub language: Option<String>,
}

/// Page callbacks the loader passes in: `unread(count)` and `ready()`.
#[derive(Default)]
pub struct Hooks {
    pub unread: Option<js_sys::Function>,
    pub ready: Option<js_sys::Function>,
}

impl Hooks {
    pub fn from_js(hooks: &JsValue) -> Self {
        let get = |name: &str| {
            js_sys::Reflect::get(hooks, &name.into())
                .ok()
                .and_then(|value| value.dyn_into::<js_sys::Function>().ok())
        };
        Hooks {
            unread: get("unread"),
            ready: get("ready"),
        }
    }
}

/// The workspace's look and status. Until it arrives (or if it can't), defaults apply.
pub(super) async fn load_settings() {
    let Some((api, capture_key)) =
        with_engine(|engine| (engine.api.clone(), engine.config.capture_key.clone()))
    else {
        return;
    };
    let config = match api.widget_config(&capture_key).await {
        Ok(config) => config,
        Err(error) => {
            web_sys::console::warn_1(
                // The code, not `{error:?}`: Debug's string escaping compiles Unicode tables in.
                &format!(
                    "[talk] widget settings unavailable, using defaults: {}",
                    error.code()
                )
                .into(),
            );
            talk_protocol::WidgetConfig {
                settings: Default::default(),
                status: talk_protocol::Presence::Away,
                online_agents: Vec::new(),
            }
        }
    };
    crate::host::apply_theme(&config.settings);
    with_engine(|engine| engine.state.config.set(Some(config)));
}
