//! The admin's "Talk widget" page (seed 000): the widget's settings with a live preview of the
//! real widget, then allowed origins, API keys and agents.

mod access;
mod preview;
mod widget_form;

pub use access::{AgentsSection, ApiKeysSection, OriginsSection};
pub use preview::{
    token_refresh_delay, Preview, PreviewAccess, PreviewFrame, TestMode, PREVIEW_READY,
    PREVIEW_SETTINGS, PREVIEW_TOKEN,
};
pub use widget_form::WidgetSettingsForm;

use super::{Auth, BotsSection, CaptureWidgetsSection};
use crate::api::ApiClient;
use leptos::prelude::*;
use talk_protocol::WidgetSettings;

#[component]
pub fn SettingsPage() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let loaded = RwSignal::new(None::<WidgetSettings>);
    let capture_key = RwSignal::new(None::<String>);
    let load_error = RwSignal::new(None::<String>);
    let access = PreviewAccess::start(auth);
    auth.call(ApiClient.widget_settings(), load_error, move |settings| {
        loaded.set(Some(settings))
    });
    leptos::task::spawn_local(async move {
        if let Ok(workspace) = ApiClient.workspace().await {
            capture_key.set(Some(workspace.capture_key));
        }
    });
    view! {
        <main class="inbox-settings" data-testid="settings-page">
            <h2>"Talk widget"</h2>
            {move || load_error.get().map(|text| view! { <p class="inbox-error" role="alert">{text}</p> })}
            {move || loaded.get().map(|settings| {
                let draft = RwSignal::new(settings);
                view! {
                    <div class="inbox-settings-layout">
                        <WidgetSettingsForm draft/>
                        <Preview draft=draft capture_key=capture_key access/>
                    </div>
                }
            })}
            <OriginsSection/>
            <ApiKeysSection/>
            <AgentsSection/>
            <CaptureWidgetsSection/>
            <BotsSection/>
        </main>
    }
}
