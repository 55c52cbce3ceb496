use super::erased::{keyed, text, when, Fresh, IntoFresh, RowFn};
use crate::i18n::use_texts;
use crate::runtime;
use crate::state::{ConversationPreview, MessengerState};
use leptos::prelude::*;
use talk_protocol::{OnlineAgent, Presence, QuickLink};

/// The messenger's first screen: when to expect an answer, who is there, the conversation
/// and the workspace's quick links.
#[component]
pub fn Home(state: MessengerState) -> impl IntoView {
    let texts = use_texts();
    let response_time = move || {
        state.config.with(|config| {
            config
                .as_ref()
                .map(|config| match config.status {
                    Presence::Online => config.settings.response_times.online.clone(),
                    Presence::Away => config.settings.response_times.away.clone(),
                })
                .filter(|text| !text.trim().is_empty())
        })
    };
    let agents = move || -> Vec<OnlineAgent> {
        state.config.with(|config| {
            config
                .as_ref()
                .map(|c| c.online_agents.clone())
                .unwrap_or_default()
        })
    };
    let quick_links = move || -> Vec<QuickLink> {
        state.config.with(|config| {
            config
                .as_ref()
                .map(|c| c.settings.homepage.quick_links.clone())
                .unwrap_or_default()
        })
    };
    // The five most recent; the list is newest first.
    let recent = move || {
        state
            .conversations
            .with(|all| all.iter().take(5).cloned().collect::<Vec<_>>())
    };
    let new_conversation = move |_| {
        if state.lines.with(|lines| !lines.is_empty()) {
            runtime::start_new_conversation();
        }
        state.conversation_screen.set(true);
    };

    view! {
        <div class="talk-home" data-testid="talk-home">
            {when(
                move || response_time().is_some() || !agents().is_empty(),
                move || {
                    view! {
                        <div class="talk-card talk-team">
                            <div class="talk-avatars">
                                // Keyed by all they show: an avatar that stays the same
                                // keeps its node when the settings arrive again.
                                {keyed(move || {
                                    agents()
                                        .into_iter()
                                        .map(|agent| {
                                            let key = row_key(&[&agent.name, agent.photo_url.as_deref().unwrap_or("")]);
                                            let row = move || avatar(agent.name, agent.photo_url, false);
                                            (key, Box::new(row) as RowFn)
                                        })
                                        .collect()
                                })}
                            </div>
                            <p class="talk-response-time" data-testid="talk-response-time">
                                {text(move || response_time().unwrap_or_default())}
                            </p>
                        </div>
                    }
                    .fresh()
                },
            )}
            <section class="talk-card" aria-labelledby="talk-conversations-title">
                <h3 id="talk-conversations-title" class="talk-card-title">{texts.conversations}</h3>
                <ul class="talk-conversation-list">
                    // Keyed by the conversation: a row keeps its node (and the keyboard
                    // focus on its button) while its conversation is listed; what it shows
                    // follows the list.
                    {keyed(move || {
                        recent()
                            .into_iter()
                            .map(|preview| {
                                let id = preview.id;
                                let row = {
                                    let id = id.clone();
                                    move || preview_item(state.conversations, id)
                                };
                                (id, Box::new(row) as RowFn)
                            })
                            .collect()
                    })}
                </ul>
                <button
                    type="button"
                    class="talk-button"
                    data-testid="talk-new-conversation"
                    on:click=new_conversation
                >
                    {texts.send_us_a_message}
                </button>
            </section>
            {when(
                move || !quick_links().is_empty(),
                move || {
                    view! {
                        <section class="talk-card" aria-labelledby="talk-links-title">
                            <h3 id="talk-links-title" class="talk-card-title">{texts.quick_links}</h3>
                            <ul class="talk-links">
                                // Keyed by all a link shows: an unchanged link keeps its node
                                // (and the keyboard focus) when the settings arrive again.
                                {keyed(move || {
                                    quick_links()
                                        .into_iter()
                                        .map(|link| {
                                            let key = row_key(&[&link.url, &link.label]);
                                            (key, Box::new(move || link_item(link)) as RowFn)
                                        })
                                        .collect()
                                })}
                            </ul>
                        </section>
                    }
                    .fresh()
                },
            )}
        </div>
    }
}

/// A homepage row's key: its parts, each ended by a character no text holds.
fn row_key(parts: &[&str]) -> String {
    let mut key = String::new();
    for part in parts {
        key.push_str(part);
        key.push('\u{0}');
    }
    key
}

/// One of the workspace's quick links.
fn link_item(link: QuickLink) -> Fresh {
    let texts = use_texts();
    view! {
        <li>
            // The page's links, not ours: a new tab, no opener, no referrer.
            <a
                class="talk-link"
                data-testid="talk-quick-link"
                href=link.url
                target="_blank"
                rel="noopener noreferrer"
            >
                {link.label}
                <span class="talk-visually-hidden">" " {texts.opens_in_new_tab}</span>
            </a>
        </li>
    }
    .fresh()
}

/// One of the visitor's conversations in the homepage's list, as the list has it now.
fn preview_item(conversations: RwSignal<Vec<ConversationPreview>>, id: String) -> Fresh {
    let texts = use_texts();
    let unread = {
        let id = id.clone();
        text(move || {
            conversations.with(|all| {
                let unread = all.iter().any(|preview| preview.id == id && preview.unread);
                unread.to_string()
            })
        })
    };
    let last_body = {
        let id = id.clone();
        text(move || {
            conversations.with(|all| {
                all.iter()
                    .find(|preview| preview.id == id)
                    .and_then(|preview| preview.last_body.clone())
                    .unwrap_or_default()
            })
        })
    };
    view! {
        <li>
            <button
                type="button"
                class="talk-continue"
                data-testid="talk-conversation-item"
                data-unread=unread
                on:click=move |_| runtime::open_conversation(id.clone())
            >
                <span class="talk-continue-label">
                    {texts.continue_conversation}
                    {when(
                        move || unread.with(|unread| unread == "true"),
                        move || view! {
                            <span class="talk-unread-dot" role="img" aria-label=texts.new_reply></span>
                        }
                        .fresh(),
                    )}
                </span>
                <span class="talk-preview">{last_body}</span>
            </button>
        </li>
    }
    .fresh()
}

/// A photo, or the initial when there is none. `decorative` when a name is shown beside it.
/// Built, never patched: both its places (a homepage avatar, a message's row) are rebuilt
/// when what they show changes.
pub fn avatar(name: String, photo: Option<String>, decorative: bool) -> Fresh {
    match (photo, decorative) {
        (Some(url), true) => view! { <img class="talk-avatar" src=url alt=""/> }.fresh(),
        (Some(url), false) => view! { <img class="talk-avatar" src=url alt=name/> }.fresh(),
        (None, true) => ().fresh(),
        (None, false) => {
            // The browser's upper-casing: Rust's would compile Unicode's case tables in.
            let initial: String = name
                .chars()
                .next()
                .map(|c| js_sys::JsString::from(c).to_upper_case().into())
                .unwrap_or_default();
            view! {
                <span class="talk-avatar talk-avatar-initial" role="img" aria-label=name>
                    {initial}
                </span>
            }
            .fresh()
        }
    }
}
