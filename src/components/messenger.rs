use super::{Conversation, IdentifyForm, Launcher};
use crate::i18n::use_texts;
use crate::runtime;
use crate::state::{MessengerState, Stage};
use leptos::html::Button;
use leptos::prelude::*;

/// Launcher plus, when open, the messenger panel.
#[component]
pub fn Widget(state: MessengerState) -> impl IntoView {
    let launcher = NodeRef::<Button>::new();
    // Keyboard users land back on the launcher when the messenger closes. An effect, because
    // on narrow screens the launcher is hidden until the panel is gone.
    Effect::new(move |was_open: Option<bool>| {
        let open = state.open.get();
        if was_open == Some(true) && !open {
            if let Some(launcher) = launcher.get_untracked() {
                let _ = launcher.focus();
            }
        }
        open
    });
    view! {
        <div class="talk-root" class:talk-open=move || state.open.get() hidden=move || state.hidden.get()>
            <Show when=move || state.open.get()>
                <Messenger state/>
            </Show>
            <Launcher open=state.open unread=state.unread node_ref=launcher/>
        </div>
    }
}

#[component]
pub fn Messenger(state: MessengerState) -> impl IntoView {
    let texts = use_texts();
    let greeting = move || {
        state.person.with(|person| match person.as_ref().and_then(|p| p.greeting_name()) {
            Some(name) => texts.greeting_named.replace("{name}", name),
            None => texts.greeting.to_string(),
        })
    };
    let body = move || match state.stage.get() {
        Stage::Starting => view! {
            <p class="talk-status" data-testid="talk-starting">{texts.connecting}</p>
        }
        .into_any(),
        Stage::Identify => view! {
            <IdentifyForm
                names_required=state.names_required
                busy=state.identify_busy
                server_error=state.identify_error
                on_submit=Callback::new(runtime::identify)
            />
        }
        .into_any(),
        Stage::Chat => view! {
            <Conversation
                lines=state.lines
                on_send=Callback::new(runtime::send_message)
                on_retry=Callback::new(runtime::retry_message)
            />
        }
        .into_any(),
        Stage::Unavailable(reason) => view! {
            <p class="talk-status" role="alert" data-testid="talk-unavailable">{reason}</p>
        }
        .into_any(),
    };
    view! {
        <section
            class="talk-panel"
            role="dialog"
            aria-label=texts.chat
            data-testid="talk-panel"
            on:keydown=move |event| {
                if event.key() == "Escape" {
                    state.open.set(false);
                }
            }
        >
            <header class="talk-header" data-testid="talk-header">
                <h2 class="talk-greeting" data-testid="talk-greeting">{greeting}</h2>
                <p class="talk-subtitle">
                    {move || if state.connected.get() { texts.here_to_help } else { texts.connecting }}
                </p>
                <button
                    type="button"
                    class="talk-close"
                    data-testid="talk-close"
                    aria-label=texts.close_chat
                    on:click=move |_| state.open.set(false)
                >
                    <svg viewBox="0 0 24 24" aria-hidden="true"><path d="M6 6l12 12M18 6L6 18"/></svg>
                </button>
            </header>
            {body}
        </section>
    }
}
