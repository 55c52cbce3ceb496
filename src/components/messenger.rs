use super::erased::{dynamic, effect, flag, icon, keyed, text, when, IntoFresh, RowFn};
use super::{Conversation, Home, IdentifyForm, Launcher};
use crate::i18n::use_texts;
use crate::runtime;
use crate::state::{MessengerState, Stage};
use leptos::html::Button;
use leptos::prelude::*;
use talk_protocol::{Appearance, Author, AuthorKind, GreetingTemplate, Homepage, LauncherPosition};

/// Launcher plus, when open, the messenger panel. Nothing shows until the workspace's
/// settings are known, so a widget switched off on the server never flashes.
#[component]
pub fn Widget(state: MessengerState) -> impl IntoView {
    let launcher = NodeRef::<Button>::new();
    // Keyboard users land back on the launcher when the messenger closes. An effect, because
    // on narrow screens the launcher is hidden until the panel is gone.
    let mut was_open = false;
    effect(move || {
        let open = state.open.get();
        if was_open && !open {
            if let Some(launcher) = launcher.get_untracked() {
                let _ = launcher.focus();
            }
        }
        was_open = open;
    });
    // Ours replaces the launcher the loader drew while the WASM was on its way.
    effect(move || {
        if launcher.get().is_some() {
            crate::host::remove_loader_launcher();
        }
    });
    let enabled = move || {
        state
            .config
            .with(|c| c.as_ref().is_some_and(|c| c.settings.enabled))
    };
    let left = move || {
        state.config.with(|c| {
            c.as_ref()
                .is_some_and(|c| c.settings.launcher.position == LauncherPosition::Left)
        })
    };
    let appearance = move || {
        state
            .config
            .with(|c| c.as_ref().map(|c| c.settings.homepage.appearance))
            .unwrap_or_default()
    };
    let root = move || {
        view! {
            <div
                class="talk-root"
                class:talk-open=state.open
                class:talk-left=flag(left)
                class:talk-light=flag(move || appearance() == Appearance::Light)
                class:talk-dark=flag(move || appearance() == Appearance::Dark)
                hidden=state.hidden
            >
                {when(move || state.open.get(), move || view! { <Messenger state/> }.fresh())}
                <Launcher open=state.open unread=state.unread config=state.config node_ref=launcher/>
            </div>
        }
        .fresh()
    };
    when(enabled, root)
}

/// The photo for a message's author: the bot's from the settings, an agent's from the team
/// that is online (matched by name).
fn photo_of(state: MessengerState, author: &Author) -> Option<String> {
    state.config.with_untracked(|config| {
        let config = config.as_ref()?;
        match author.kind {
            AuthorKind::Bot => config.settings.homepage.bot_photo_url.clone(),
            AuthorKind::Agent => config
                .online_agents
                .iter()
                .find(|agent| Some(&agent.name) == author.name.as_ref())
                .and_then(|agent| agent.photo_url.clone()),
            AuthorKind::Visitor => None,
        }
    })
}

#[component]
pub fn Messenger(state: MessengerState) -> impl IntoView {
    let texts = use_texts();
    // The workspace's greeting with merge tags; the built-in one, in the visitor's language,
    // while the workspace keeps the default.
    let greeting = move || {
        let template = state.config.with(|config| {
            let greeting = &config.as_ref()?.settings.homepage.greeting;
            (*greeting != Homepage::default().greeting)
                .then(|| GreetingTemplate::parse(greeting).ok())
                .flatten()
        });
        state.person.with(|person| match template {
            Some(template) => template.render(person.as_ref()),
            None => match person.as_ref().and_then(|p| p.greeting_name()) {
                Some(name) => texts.greeting_named.replace("{name}", name),
                None => texts.greeting.to_string(),
            },
        })
    };
    let logo = move || {
        state.config.with(|config| {
            config
                .as_ref()
                .and_then(|c| c.settings.homepage.logo_url.clone())
        })
    };
    // Built afresh, never patched in place: the switch runs again only when the stage or the
    // screen changes (the session sets the stage only when it changes), so a visitor typing
    // in the composer keeps it, its focus and its draft.
    let conversation = move || match state.stage.get() {
        Stage::Starting => view! {
            <p class="talk-status" data-testid="talk-starting">{texts.connecting}</p>
        }
        .fresh(),
        Stage::Identify => view! {
            <IdentifyForm
                names_required=state.names_required
                busy=state.identify_busy
                server_error=state.identify_error
                on_submit=Callback::new(runtime::identify)
            />
        }
        .fresh(),
        Stage::Chat => view! {
            {when(move || state.too_many_conversations.get(), move || view! {
                <p class="talk-status" role="alert" data-testid="talk-too-many-conversations">
                    {texts.too_many_conversations}
                </p>
            }.fresh())}
            <Conversation
                lines=state.lines
                typing=state.agent_typing
                read_up_to=state.agent_read_seq
                on_send=Callback::new(runtime::send_message)
                on_retry=Callback::new(runtime::retry_message)
                on_typing=Callback::new(|_| runtime::visitor_typing())
                on_older=Callback::new(|_| runtime::load_older())
                photo_of=Callback::new(move |author: Author| photo_of(state, &author))
            />
        }
        .fresh(),
        Stage::Unavailable(reason) => view! {
            <p class="talk-status" role="alert" data-testid="talk-unavailable">{reason}</p>
        }
        .fresh(),
    };
    // The conversation (or why there is none) or the homepage, each built when it is
    // switched to: the homepage reads no stage, so a new stage leaves it as it is.
    let conversation_shown = move || {
        matches!(state.stage.get(), Stage::Unavailable(_)) || state.conversation_screen.get()
    };
    let body = view! {
        {when(conversation_shown, move || dynamic(move || conversation().into_any()).fresh())}
        {when(move || !conversation_shown(), move || view! { <Home state/> }.fresh())}
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
                {when(
                    move || state.conversation_screen.get(),
                    move || {
                        view! {
                            <button
                                type="button"
                                class="talk-back"
                                data-testid="talk-back"
                                aria-label=texts.back
                                on:click=move |_| state.conversation_screen.set(false)
                            >
                                {icon("", "M15 5l-7 7 7 7")}
                            </button>
                        }
                        .fresh()
                    },
                )}
                // Keyed by its address: kept, not built again, when the settings come again.
                {keyed(move || {
                    logo()
                        .into_iter()
                        .map(|url| {
                            let row = {
                                let url = url.clone();
                                move || view! { <img class="talk-logo" src=url alt=""/> }.fresh()
                            };
                            (url, Box::new(row) as RowFn)
                        })
                        .collect()
                })}
                <h2 class="talk-greeting" data-testid="talk-greeting">{text(greeting)}</h2>
                <p class="talk-subtitle">
                    {text(move || {
                        if state.connected.get() { texts.here_to_help } else { texts.connecting }
                            .to_string()
                    })}
                </p>
                <button
                    type="button"
                    class="talk-close"
                    data-testid="talk-close"
                    aria-label=texts.close_chat
                    on:click=move |_| state.open.set(false)
                >
                    {icon("", "M6 6l12 12M18 6L6 18")}
                </button>
            </header>
            {body}
        </section>
    }
}
