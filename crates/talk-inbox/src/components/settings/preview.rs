use crate::api::{ApiClient, Explained};
use crate::components::Auth;
use leptos::html::{Dialog, Iframe};
use leptos::prelude::*;
use std::time::Duration;
use talk_protocol::WidgetSettings;
use wasm_bindgen::JsValue;

/// The frame says it is listening.
pub const PREVIEW_READY: &str = "talk-preview-ready";
/// The page hands the frame the unsaved settings and the preview token.
pub const PREVIEW_SETTINGS: &str = "talk-preview-settings";
/// The page hands the frame a renewed preview token.
pub const PREVIEW_TOKEN: &str = "talk-preview-token";
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

/// When to fetch the next preview token: at 80% of this one's life (as the widget renews its
/// own), at least 5 s and at most 6 h from `now`.
pub fn token_refresh_delay(expires_at: i64, now: i64) -> Duration {
    let left = (expires_at - now).max(0);
    Duration::from_millis((left * 4 / 5).clamp(5_000, 6 * 3_600_000) as u64)
}

/// After a failed fetch, the next try.
const TOKEN_RETRY: Duration = Duration::from_secs(30);

/// The preview token the page's preview widgets start with (`POST /v1/admin/preview-token`):
/// their sessions are previews, counted apart and listed nowhere. Fetched when the page opens
/// and again before it expires, while the page is open. No frame starts a widget without one:
/// it would be a production session.
#[derive(Clone, Copy)]
pub struct PreviewAccess {
    pub token: RwSignal<Option<String>>,
    pub problem: RwSignal<Option<String>>,
    timer: StoredValue<Option<TimeoutHandle>>,
}

impl PreviewAccess {
    pub fn start(auth: Auth) -> Self {
        let access = PreviewAccess {
            token: RwSignal::new(None),
            problem: RwSignal::new(None),
            timer: StoredValue::new(None),
        };
        access.fetch(auth);
        on_cleanup(move || {
            if let Some(timer) = access.timer.try_get_value().flatten() {
                timer.clear();
            }
        });
        access
    }

    fn fetch(self, auth: Auth) {
        leptos::task::spawn_local(async move {
            let answer = ApiClient.preview_token().await;
            if self.timer.is_disposed() {
                return; // the page has gone meanwhile: no more renewals
            }
            let next = match answer {
                Ok(answer) => {
                    self.problem.set(None);
                    self.token.set(Some(answer.token));
                    token_refresh_delay(answer.expires_at, js_sys::Date::now() as i64)
                }
                Err(error) => {
                    if auth.check(&error) {
                        return;
                    }
                    self.problem.set(Some(error.user_message()));
                    TOKEN_RETRY
                }
            };
            let timer = set_timeout_with_handle(move || self.fetch(auth), next).ok();
            self.timer.set_value(timer);
        });
    }
}

fn post_to(frame: NodeRef<Iframe>, message: &js_sys::Object) {
    let (Some(origin), Some(frame)) = (own_origin(), frame.get_untracked()) else {
        return;
    };
    if let Some(frame_window) = frame.content_window() {
        let _ = frame_window.post_message(message, &origin);
    }
}

fn message(kind: &str, fields: &[(&str, &JsValue)]) -> js_sys::Object {
    let message = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&message, &"type".into(), &kind.into());
    for (name, value) in fields {
        let _ = js_sys::Reflect::set(&message, &(*name).into(), value);
    }
    message
}

/// A frame running the real widget with the unsaved settings, as a preview. Settings and
/// token go to the frame by `postMessage`, to our own origin only (never in its URL or its
/// document), and only a message from that frame is answered.
#[component]
pub fn PreviewFrame(
    draft: RwSignal<WidgetSettings>,
    capture_key: RwSignal<Option<String>>,
    access: PreviewAccess,
    title: &'static str,
    testid: &'static str,
    class: &'static str,
) -> impl IntoView {
    let frame = NodeRef::<Iframe>::new();
    let latest = StoredValue::new(String::new());
    let pending = StoredValue::new(None::<TimeoutHandle>);

    let handle = window_event_listener(leptos::ev::message, move |event| {
        let (Some(origin), Some(frame_element)) = (own_origin(), frame.get_untracked()) else {
            return;
        };
        let Some(frame_window) = frame_element.content_window() else {
            return;
        };
        let from_frame = event
            .source()
            .is_some_and(|source| JsValue::from(source) == JsValue::from(frame_window));
        if event.origin() != origin || !from_frame {
            return;
        }
        let ready = js_sys::Reflect::get(&event.data(), &"type".into())
            .ok()
            .and_then(|kind| kind.as_string())
            .is_some_and(|kind| kind == PREVIEW_READY);
        let Some(token) = access.token.get_untracked().filter(|_| ready) else {
            return;
        };
        let Ok(settings) = js_sys::JSON::parse(&latest.get_value()) else {
            return;
        };
        let token = JsValue::from(token);
        post_to(
            frame,
            &message(
                PREVIEW_SETTINGS,
                &[("settings", &settings), ("token", &token)],
            ),
        );
    });
    on_cleanup(move || handle.remove());

    // A renewed token goes to the running widget, for its next session request.
    Effect::new(move |_| {
        if let Some(token) = access.token.get() {
            post_to(
                frame,
                &message(PREVIEW_TOKEN, &[("token", &JsValue::from(token))]),
            );
        }
    });

    let has_token = Memo::new(move |_| access.token.with(Option::is_some));
    Effect::new(move |_| {
        let json =
            draft.with(|settings| talk_browser::json::stringify(settings).unwrap_or_default());
        let key = capture_key.get();
        let started = has_token.get();
        latest.set_value(json);
        if let Some(previous) = pending.get_value() {
            previous.clear();
        }
        let (Some(key), true) = (key, started) else {
            return;
        };
        let render = move || {
            if let Some(frame) = frame.get_untracked() {
                frame.set_srcdoc(&preview_document(&page_nonce(), &key));
            }
        };
        pending.set_value(set_timeout_with_handle(render, DEBOUNCE).ok());
    });

    view! {
        // `allow`: the widget's calls need the microphone (and may share the screen).
        <iframe node_ref=frame title=title class=class data-testid=testid
            allow="microphone; display-capture; autoplay"></iframe>
    }
    .into_any()
}

/// The real widget with the unsaved settings, beside the form, and the test mode.
#[component]
pub fn Preview(
    draft: RwSignal<WidgetSettings>,
    capture_key: RwSignal<Option<String>>,
    access: PreviewAccess,
) -> impl IntoView {
    view! {
        <section class="inbox-preview" aria-labelledby="settings-preview-heading">
            <div class="inbox-preview-top">
                <h3 id="settings-preview-heading">"Preview"</h3>
                <TestMode draft capture_key access/>
            </div>
            <p class="inbox-muted">"The real widget with your unsaved changes. What you write here is a preview: not counted toward your usage, not in the inbox."</p>
            <Show when=move || !draft.with(|s| s.enabled)>
                <p class="inbox-notice" data-testid="settings-preview-off">"The widget is OFF: visitors don't see it."</p>
            </Show>
            <p class="inbox-error" role="alert" data-testid="settings-preview-error">
                {move || access.problem.get().map(|problem| format!("The preview can't start: {problem}"))}
            </p>
            <PreviewFrame draft capture_key access title="Widget preview" testid="settings-preview"
                class="inbox-preview-frame"/>
        </section>
    }
    .into_any()
}

/// "Test mode": the real widget, larger, in a dialog of its own, to chat with the bot or the
/// auto-reply and try a call. A preview like the one beside the form; its frame runs only
/// while the dialog is open.
#[component]
pub fn TestMode(
    draft: RwSignal<WidgetSettings>,
    capture_key: RwSignal<Option<String>>,
    access: PreviewAccess,
) -> impl IntoView {
    let dialog = NodeRef::<Dialog>::new();
    let open = RwSignal::new(false);
    let show = move |_| {
        open.set(true);
        if let Some(dialog) = dialog.get_untracked() {
            let _ = dialog.show_modal();
        }
    };
    let close = move |_| {
        if let Some(dialog) = dialog.get_untracked() {
            dialog.close();
        }
    };
    view! {
        <button type="button" data-testid="settings-test-mode" aria-haspopup="dialog" on:click=show>
            "Test mode"
        </button>
        <dialog node_ref=dialog class="inbox-test-mode" data-testid="settings-test-dialog"
            aria-labelledby="settings-test-heading" aria-describedby="settings-test-note"
            on:close=move |_| open.set(false)>
            <div class="inbox-preview-top">
                <h3 id="settings-test-heading">"Test mode"</h3>
                <button type="button" data-testid="settings-test-close" on:click=close>"Close"</button>
            </div>
            <p class="inbox-notice" id="settings-test-note" data-testid="settings-test-note">
                "Test mode — conversations here are previews: they don't count toward your usage and don't appear in the inbox."
            </p>
            <p class="inbox-hint">"Chat with your bot or auto-reply and try a call, with your unsaved settings."</p>
            <p class="inbox-error" role="alert" data-testid="settings-test-error">
                {move || access.problem.get().map(|problem| format!("Test mode can't start: {problem}"))}
            </p>
            <Show when=move || open.get()>
                <PreviewFrame draft capture_key access title="Widget test mode" testid="settings-test-frame"
                    class="inbox-test-frame"/>
            </Show>
        </dialog>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_renewed_at_80_percent_of_its_life_within_bounds() {
        let now = 1_000_000;
        assert_eq!(
            token_refresh_delay(now + 600_000, now),
            Duration::from_secs(480)
        );
        assert_eq!(
            token_refresh_delay(now + 1_000, now),
            Duration::from_secs(5)
        );
        assert_eq!(
            token_refresh_delay(now - 1_000, now),
            Duration::from_secs(5)
        );
        assert_eq!(
            token_refresh_delay(now + 30 * 86_400_000, now),
            Duration::from_secs(6 * 3_600)
        );
    }
}
