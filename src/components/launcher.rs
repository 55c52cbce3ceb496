use leptos::html::Button;
use leptos::prelude::*;

/// The round button that opens and closes the messenger.
#[component]
pub fn Launcher(open: RwSignal<bool>, node_ref: NodeRef<Button>) -> impl IntoView {
    view! {
        <button
            node_ref=node_ref
            type="button"
            class="talk-launcher"
            data-testid="talk-launcher"
            aria-label=move || if open.get() { "Close chat" } else { "Open chat" }
            aria-expanded=move || open.get().to_string()
            on:click=move |_| open.update(|open| *open = !*open)
        >
            <svg viewBox="0 0 24 24" aria-hidden="true" class="talk-launcher-icon">
                <path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/>
            </svg>
        </button>
    }
}
