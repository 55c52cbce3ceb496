use super::conversation::{conversation, message_list};
use super::dom::{dynamic, effect, el, fragment, icon, keyed, when, RowFn, View};
use super::home::home;
use super::identify_form::identify_form;
use super::launcher::launcher;
use crate::i18n::use_texts;
use crate::runtime;
use crate::state::{MessengerState, Notice, Stage};
use std::rc::Rc;
use talk_browser::text::fill;
use talk_protocol::{
    Appearance, Author, AuthorKind, GreetingTemplate, Homepage, LauncherPosition, Presence,
};
use wasm_bindgen::JsCast;
use web_sys::HtmlElement;

/// Launcher plus, when open, the messenger panel. Nothing shows until the workspace's
/// settings are known, so a widget switched off on the server never flashes.
pub fn widget(state: MessengerState) -> View {
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
        // Ours replaces the launcher the loader drew while the WASM was on its way: an effect
        // runs once ours is in the page.
        effect(crate::host::remove_loader_launcher);
        let launcher = launcher(state.open, state.unread, state.config);
        // Keyboard users land back on the launcher when the messenger closes. An effect,
        // because on narrow screens the launcher is hidden until the panel is gone.
        let mut was_open = false;
        let button: HtmlElement = launcher.element().clone().unchecked_into();
        effect(move || {
            let open = state.open.get();
            if was_open && !open {
                let _ = button.focus();
            }
            was_open = open;
        });
        el("div")
            .class("talk-root")
            .class_if("talk-open", move || state.open.get())
            .class_if("talk-left", left)
            .class_if("talk-light", move || appearance() == Appearance::Light)
            .class_if("talk-dark", move || appearance() == Appearance::Dark)
            .attr_if("hidden", move || state.hidden.get())
            .child(when(move || state.open.get(), move || messenger(state)))
            .child(launcher)
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

/// The panel: its header, and the home screen, the conversation or the identify form.
pub fn messenger(state: MessengerState) -> View {
    let texts = use_texts();
    // The workspace's greeting with merge tags; the built-in one, in the visitor's language,
    // while the workspace keeps the default.
    let greeting = move || {
        let template = state.config.with(|config| {
            let greeting = &config.as_ref()?.settings.homepage.greeting;
            (*greeting != Homepage::default().greeting)
                .then(|| GreetingTemplate::read(greeting))
                .flatten()
        });
        state.person.with(|person| match template {
            Some(template) => template.render(person.as_ref()),
            None => match person.as_ref().and_then(|p| p.greeting_name()) {
                Some(name) => fill(texts.greeting_named, "{name}", name),
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
    // Why a new conversation can't start. Over the quota the email form shows again (the
    // stage goes back to `Identify`), for the team to get back to the visitor.
    let notice = move || {
        when(
            move || state.notice.get().is_some(),
            move || {
                el("p")
                    .class("talk-status")
                    .attr("role", "alert")
                    .testid("talk-notice")
                    .text_with(move || {
                        if state.notice.get() == Some(Notice::TooManyConversations) {
                            texts.too_many_conversations
                        } else {
                            texts.quota_reached
                        }
                        .to_string()
                    })
            },
        )
    };
    // Built afresh, never patched in place: the switch runs again only when the stage or the
    // screen changes (the session sets the stage only when it changes), so a visitor typing
    // in the composer keeps it, its focus and its draft.
    let stage = move || match state.stage.get() {
        Stage::Starting => el("p")
            .class("talk-status")
            .testid("talk-starting")
            .text(texts.connecting),
        // A conversation a capture widget started (its message, the visitor's reply) reads
        // above the form: seed 000's outbound flow asks for the email after the first reply.
        // Without one the list is empty and shows nothing.
        Stage::Identify => fragment(vec![
            notice(),
            message_list(
                state.lines,
                state.agent_read_seq,
                Rc::new(runtime::retry_message),
                Rc::new(|()| runtime::load_older()),
                Some(Rc::new(move |author: &Author| photo_of(state, author))),
            ),
            identify_form(
                Rc::new(move || state.names_required.get()),
                Rc::new(move || state.identify_busy.get()),
                state.identify_error,
                Rc::new(runtime::identify),
            ),
        ]),
        Stage::Chat => fragment(vec![
            notice(),
            conversation(
                state.lines,
                state.agent_typing,
                state.agent_read_seq,
                Rc::new(runtime::send_message),
                Rc::new(runtime::retry_message),
                Rc::new(|()| runtime::visitor_typing()),
                Rc::new(|()| runtime::load_older()),
                Rc::new(move |author: &Author| photo_of(state, author)),
            ),
        ]),
        Stage::Unavailable(reason) => el("p")
            .class("talk-status")
            .attr("role", "alert")
            .testid("talk-unavailable")
            .text(&reason),
    };
    // The conversation (or why there is none) or the homepage, each built when it is
    // switched to: the homepage reads no stage, so a new stage leaves it as it is.
    let conversation_shown = move || {
        matches!(state.stage.get(), Stage::Unavailable(_)) || state.conversation_screen.get()
    };
    let header = el("header")
        .class("talk-header")
        .testid("talk-header")
        .child(when(
            move || state.conversation_screen.get(),
            move || {
                el("button")
                    .attr("type", "button")
                    .class("talk-back")
                    .testid("talk-back")
                    .attr("aria-label", texts.back)
                    .on("click", move |_| state.conversation_screen.set(false))
                    .child(icon("", "M15 5l-7 7 7 7"))
            },
        ))
        // Keyed by its address: kept, not built again, when the settings come again.
        .child(keyed(move || {
            let mut rows = Vec::new();
            if let Some(url) = logo() {
                let row = {
                    let url = url.clone();
                    move || {
                        el("img")
                            .class("talk-logo")
                            .attr("src", &url)
                            .attr("alt", "")
                    }
                };
                rows.push((url, Box::new(row) as RowFn));
            }
            rows
        }))
        .child(
            el("h2")
                .class("talk-greeting")
                .testid("talk-greeting")
                .text_with(greeting),
        )
        .child(el("p").class("talk-subtitle").text_with(move || {
            if state.connected.get() {
                texts.here_to_help
            } else {
                texts.connecting
            }
            .to_string()
        }))
        // A voice call to the agents (the call module draws the call): in a started
        // conversation, while the workspace has voice on and an agent is online.
        .child(when(
            move || {
                state.conversation_screen.get()
                    && state.lines.with(|lines| !lines.is_empty())
                    && state.config.with(|config| {
                        config.as_ref().is_some_and(|config| {
                            config.settings.voice && config.status == Presence::Online
                        })
                    })
            },
            move || {
                el("button")
                    .attr("type", "button")
                    .class("talk-call")
                    .testid("talk-call")
                    .attr("aria-label", texts.call)
                    .on("click", |_| runtime::start_call())
                    .child(icon(
                        "",
                        "M5 4h4l2 5-2.5 1.5a11 11 0 005 5L15 13l5 2v4a2 2 0 01-2 2A16 16 0 013 6a2 2 0 012-2",
                    ))
            },
        ))
        .child(
            el("button")
                .attr("type", "button")
                .class("talk-close")
                .testid("talk-close")
                .attr("aria-label", texts.close_chat)
                .on("click", move |_| state.open.set(false))
                .child(icon("", "M6 6l12 12M18 6L6 18")),
        );
    el("section")
        .class("talk-panel")
        .attr("role", "dialog")
        .attr("aria-label", texts.chat)
        .testid("talk-panel")
        .on("keydown", move |event| {
            if event.unchecked_ref::<web_sys::KeyboardEvent>().key() == "Escape" {
                state.open.set(false);
            }
        })
        .child(header)
        .child(when(conversation_shown, move || dynamic(stage)))
        .child(when(move || !conversation_shown(), move || home(state)))
}
