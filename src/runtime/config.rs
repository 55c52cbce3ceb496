//! What the messenger is started with: the loader's configuration, the page's callbacks, and
//! the workspace's settings fetched from the server.

use super::with_engine;
use crate::api::ApiError;
use crate::decode;
use talk_browser::text::{concat, decimal};
use talk_protocol::WidgetConfig;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// What the loader hands over from `ap3c.init` (decoded in `crate::decode`).
#[derive(Debug, Clone)]
pub struct LoaderConfig {
    pub capture_key: String,
    pub api_url: String,
    pub visitor_id: String,
    pub token: Option<String>,
    /// `talk.language` from `ap3c.init`, e.g. "de"; else the browser's languages decide.
    pub language: Option<String>,
    /// The host page's URL (the frame's page is not the host's), for capture widgets.
    pub page_url: Option<String>,
}

/// What the loader passes in: the page's callbacks `unread(count)` and `ready()`, and the
/// settings request it started beside the WASM's download (`settings`, a promise of the
/// answer's JSON, or of `null` when it failed).
#[derive(Default)]
pub struct Hooks {
    pub unread: Option<js_sys::Function>,
    pub ready: Option<js_sys::Function>,
    pub settings: Option<js_sys::Promise>,
    /// `call(kind, payload)`: the call module's way in (`runtime/call.rs`).
    pub call: Option<js_sys::Function>,
}

impl Hooks {
    pub fn from_js(hooks: &JsValue) -> Self {
        let get = |name: &str| js_sys::Reflect::get(hooks, &name.into()).ok();
        Hooks {
            unread: get("unread").and_then(|value| value.dyn_into().ok()),
            ready: get("ready").and_then(|value| value.dyn_into().ok()),
            settings: get("settings").and_then(|value| value.dyn_into().ok()),
            call: get("call").and_then(|value| value.dyn_into().ok()),
        }
    }
}

/// The last settings answer, kept in the page's storage so that a returning visitor's
/// messenger draws at once; the fresh answer replaces it a round trip later. A stale copy
/// never shows a widget that was switched off: the loader fetches the WASM only after the
/// server said, on this page view, that the widget is on.
const REMEMBERED_SETTINGS: &str = "ap3c_talk_settings";
/// An older copy is not shown: a look changed long ago should not flash back.
const REMEMBER_FOR_MS: f64 = 7.0 * 24.0 * 3600.0 * 1000.0;

/// The stored form: `capture key \n saved at (ms) \n the server's JSON`.
fn remembered_entry(capture_key: &str, saved_at_ms: f64, json: &str) -> String {
    concat(&[
        capture_key,
        "\n",
        &decimal(saved_at_ms as u64, 0),
        "\n",
        json,
    ])
}

/// The JSON in `entry` if it is this workspace's and young enough.
fn remembered_json<'a>(entry: &'a str, capture_key: &str, now_ms: f64) -> Option<&'a str> {
    let (key, rest) = entry.split_once('\n')?;
    let (saved_at, json) = rest.split_once('\n')?;
    let age = now_ms - saved_at.parse::<u64>().ok()? as f64;
    (key == capture_key && (0.0..REMEMBER_FOR_MS).contains(&age)).then_some(json)
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn show(config: WidgetConfig) {
    crate::host::apply_theme(&config.settings);
    with_engine(|engine| engine.state.config.set(Some(config)));
}

/// The workspace's look and status: the remembered copy at once if there is one, then the
/// server's answer (the loader's early request, else our own). Defaults if neither comes.
pub(super) async fn load_settings() {
    let Some((api, capture_key, early)) = with_engine(|engine| {
        let early = engine.hooks.settings.take();
        (engine.api.clone(), engine.config.capture_key.clone(), early)
    }) else {
        return;
    };
    let now = js_sys::Date::now();
    // The remembered copy's JSON, kept when it decoded and was shown: a server answer of the
    // same text is the same settings, and is not set again (every reader of `state.config`
    // would run again for nothing).
    let shown_json = storage()
        .and_then(|storage| storage.get_item(REMEMBERED_SETTINGS).ok().flatten())
        .and_then(|entry| {
            let json = remembered_json(&entry, &capture_key, now)?;
            show(decode::parse(json).ok()?);
            Some(json.to_owned())
        });
    let had_remembered = shown_json.is_some();
    let early_json = match early {
        Some(promise) => JsFuture::from(promise)
            .await
            .ok()
            .and_then(|json| json.as_string()),
        None => None,
    };
    let json = match early_json {
        Some(json) => Ok(json),
        None => api.widget_config_json(&capture_key).await,
    };
    // The remembered copy's text again: not decoded, not set again.
    let answer = json.and_then(|json| {
        let config: Option<WidgetConfig> = if shown_json.as_deref() == Some(json.as_str()) {
            None
        } else {
            Some(decode::parse(&json).map_err(|error| ApiError::Decode(error.0.to_string()))?)
        };
        Ok((config, json))
    });
    match answer {
        Ok((config, json)) => {
            if let Some(storage) = storage() {
                // Full or refused storage: the next page fetches first, as without a copy.
                let _ = storage.set_item(
                    REMEMBERED_SETTINGS,
                    &remembered_entry(&capture_key, now, &json),
                );
            }
            if let Some(config) = config {
                show(config);
            }
        }
        Err(error) => {
            web_sys::console::warn_1(
                // The code, not `{error:?}`: Debug's string escaping compiles Unicode tables in.
                &concat(&["[talk] widget settings unavailable: ", error.code()]).into(),
            );
            if !had_remembered {
                show(WidgetConfig {
                    settings: Default::default(),
                    status: talk_protocol::Presence::Away,
                    online_agents: Vec::new(),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY_MS: f64 = 24.0 * 3600.0 * 1000.0;

    #[test]
    fn a_remembered_answer_comes_back_for_its_workspace_only() {
        let entry = remembered_entry("talk_pk_a", 1_000.0, "{\"x\":\"a\\nb\"}");
        assert_eq!(
            remembered_json(&entry, "talk_pk_a", 2_000.0),
            Some("{\"x\":\"a\\nb\"}")
        );
        assert_eq!(remembered_json(&entry, "talk_pk_b", 2_000.0), None);
    }

    #[test]
    fn an_old_or_future_or_malformed_copy_is_not_used() {
        let entry = remembered_entry("k", 10.0 * DAY_MS, "{}");
        assert_eq!(remembered_json(&entry, "k", 16.0 * DAY_MS), Some("{}"));
        assert_eq!(remembered_json(&entry, "k", 17.5 * DAY_MS), None);
        assert_eq!(remembered_json(&entry, "k", 9.0 * DAY_MS), None);
        assert_eq!(remembered_json("k\nsoon\n{}", "k", 1.0), None);
        assert_eq!(remembered_json("k", "k", 1.0), None);
        assert_eq!(remembered_json("", "k", 1.0), None);
    }
}
