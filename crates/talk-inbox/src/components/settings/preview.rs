use leptos::html::Iframe;
use leptos::prelude::*;
use std::time::Duration;
use talk_protocol::WidgetSettings;
use wasm_bindgen::JsValue;

/// The frame says it is listening.
pub const PREVIEW_READY: &str = "talk-preview-ready";
/// The page hands the frame the unsaved settings.
pub const PREVIEW_SETTINGS: &str = "talk-preview-settings";
/// Changes come in bursts while typing: the widget restarts once they settle.
const DEBOUNCE: Duration = Duration::from_millis(400);

/// The nonce of the page's own scripts. The preview frame is an `about:srcdoc` document, which
/// inherits the inbox page's Content-Security-Policy, so its one script carries the same nonce.
fn page_nonce() -> String {
    web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.query_selector("script[nonce]").ok().flatten())
        .and_then(|script| js_sys::Reflect::get(&script, &"nonce".into()).ok())
        .and_then(|nonce| nonce.as_string())
        .unwrap_or_default()
}

fn attribute_text(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Runs the seed's snippet against the real loader in the frame. Inline in the frame's
/// document, so the inbox has no file of its own to fetch, name by hash and keep cached.
const PREVIEW_SCRIPT: &str = include_str!("../../../preview.js");

/// The frame's document: the preview script, carrying the page's nonce.
pub fn preview_document(nonce: &str, capture_key: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Widget preview</title></head>\
         <body><script nonce=\"{}\" data-capture-key=\"{}\">{PREVIEW_SCRIPT}</script></body></html>",
        attribute_text(nonce),
        attribute_text(capture_key)
    )
}

fn own_origin() -> Option<String> {
    web_sys::window()?.location().origin().ok()
}

/// The real widget with the unsaved settings, beside the form. Settings go to the frame by
/// `postMessage`, to our own origin only, and only a message from that frame is answered.
#[component]
pub fn Preview(
    draft: RwSignal<WidgetSettings>,
    capture_key: RwSignal<Option<String>>,
) -> impl IntoView {
    let frame = NodeRef::<Iframe>::new();
    let latest = StoredValue::new(String::new());
    let pending = StoredValue::new(None::<TimeoutHandle>);

    let handle = window_event_listener(leptos::ev::message, move |event| {
        let (Some(origin), Some(frame)) = (own_origin(), frame.get_untracked()) else {
            return;
        };
        let Some(frame_window) = frame.content_window() else {
            return;
        };
        let from_frame = event
            .source()
            .is_some_and(|source| JsValue::from(source) == JsValue::from(frame_window.clone()));
        if event.origin() != origin || !from_frame {
            return;
        }
        let ready = js_sys::Reflect::get(&event.data(), &"type".into())
            .ok()
            .and_then(|kind| kind.as_string())
            .is_some_and(|kind| kind == PREVIEW_READY);
        if !ready {
            return;
        }
        let Ok(settings) = js_sys::JSON::parse(&latest.get_value()) else {
            return;
        };
        let message = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&message, &"type".into(), &PREVIEW_SETTINGS.into());
        let _ = js_sys::Reflect::set(&message, &"settings".into(), &settings);
        let _ = frame_window.post_message(&message, &origin);
    });
    on_cleanup(move || handle.remove());

    Effect::new(move |_| {
        let json =
            draft.with(|settings| talk_browser::json::stringify(settings).unwrap_or_default());
        let key = capture_key.get();
        latest.set_value(json);
        if let Some(previous) = pending.get_value() {
            previous.clear();
        }
        let Some(key) = key else { return };
        let render = move || {
            if let Some(frame) = frame.get_untracked() {
                frame.set_srcdoc(&preview_document(&page_nonce(), &key));
            }
        };
        pending.set_value(set_timeout_with_handle(render, DEBOUNCE).ok());
    });

    view! {
        <section class="inbox-preview" aria-labelledby="settings-preview-heading">
            <h3 id="settings-preview-heading">"Preview"</h3>
            <p class="inbox-muted">"The real widget with your unsaved changes."</p>
            <Show when=move || !draft.with(|s| s.enabled)>
                <p class="inbox-notice" data-testid="settings-preview-off">"The widget is OFF: visitors don't see it."</p>
            </Show>
            <iframe node_ref=frame title="Widget preview" class="inbox-preview-frame" data-testid="settings-preview"></iframe>
        </section>
    }
}
