use super::dom::{el, keyed, when, RowFn, View};
use crate::i18n::use_texts;
use crate::runtime;
use crate::state::{ConversationPreview, MessengerState};
use crate::var::Var;
use talk_protocol::{OnlineAgent, Presence, QuickLink};

/// The messenger's first screen: when to expect an answer, who is there, the conversation
/// and the workspace's quick links.
pub(super) fn home(state: MessengerState) -> View {
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
            .with(|all| all[..all.len().min(5)].to_vec())
    };
    let new_conversation = move |_| {
        if state.lines.with(|lines| !lines.is_empty()) {
            runtime::start_new_conversation();
        }
        state.conversation_screen.set(true);
    };

    el("div")
        .class("talk-home")
        .testid("talk-home")
        .child(when(
            move || response_time().is_some() || !agents().is_empty(),
            move || {
                el("div")
                    .class("talk-card talk-team")
                    .child(
                        // Keyed by all they show: an avatar that stays the same keeps its
                        // node when the settings arrive again.
                        el("div").class("talk-avatars").child(keyed(move || {
                            let mut rows = Vec::new();
                            for agent in agents() {
                                let key = row_key(&[
                                    &agent.name,
                                    agent.photo_url.as_deref().unwrap_or(""),
                                ]);
                                let row = move || avatar(agent.name, agent.photo_url);
                                rows.push((key, Box::new(row) as RowFn));
                            }
                            rows
                        })),
                    )
                    .child(
                        el("p")
                            .class("talk-response-time")
                            .testid("talk-response-time")
                            .text_with(move || response_time().unwrap_or_default()),
                    )
            },
        ))
        .child(
            el("section")
                .class("talk-card")
                .attr("aria-labelledby", "talk-conversations-title")
                .child(
                    el("h3")
                        .attr("id", "talk-conversations-title")
                        .class("talk-card-title")
                        .text(texts.conversations),
                )
                .child(
                    // Keyed by the conversation: a row keeps its node (and the keyboard
                    // focus on its button) while its conversation is listed; what it shows
                    // follows the list.
                    el("ul")
                        .class("talk-conversation-list")
                        .child(keyed(move || {
                            let mut rows = Vec::new();
                            for preview in recent() {
                                let id = preview.id;
                                let row = {
                                    let id = id.clone();
                                    move || preview_item(state.conversations, id)
                                };
                                rows.push((id, Box::new(row) as RowFn));
                            }
                            rows
                        })),
                )
                .child(
                    el("button")
                        .attr("type", "button")
                        .class("talk-button")
                        .testid("talk-new-conversation")
                        .on("click", new_conversation)
                        .text(texts.send_us_a_message),
                ),
        )
        .child(when(
            move || !quick_links().is_empty(),
            move || {
                el("section")
                    .class("talk-card")
                    .attr("aria-labelledby", "talk-links-title")
                    .child(
                        el("h3")
                            .attr("id", "talk-links-title")
                            .class("talk-card-title")
                            .text(texts.quick_links),
                    )
                    .child(
                        // Keyed by all a link shows: an unchanged link keeps its node (and
                        // the keyboard focus) when the settings arrive again.
                        el("ul").class("talk-links").child(keyed(move || {
                            let mut rows = Vec::new();
                            for link in quick_links() {
                                let key = row_key(&[&link.url, &link.label]);
                                rows.push((key, Box::new(move || link_item(link)) as RowFn));
                            }
                            rows
                        })),
                    )
            },
        ))
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
fn link_item(link: QuickLink) -> View {
    let texts = use_texts();
    el("li").child(
        // The page's links, not ours: a new tab, no opener, no referrer.
        el("a")
            .class("talk-link")
            .testid("talk-quick-link")
            .attr("href", &link.url)
            .attr("target", "_blank")
            .attr("rel", "noopener noreferrer")
            .text(&link.label)
            .child(
                el("span")
                    .class("talk-visually-hidden")
                    .text(" ")
                    .text(texts.opens_in_new_tab),
            ),
    )
}

/// One of the visitor's conversations in the homepage's list, as the list has it now.
fn preview_item(conversations: Var<Vec<ConversationPreview>>, id: String) -> View {
    let texts = use_texts();
    let unread = {
        let id = id.clone();
        move || {
            conversations.with(|all| all.iter().any(|preview| preview.id == id && preview.unread))
        }
    };
    let last_body = {
        let id = id.clone();
        move || {
            conversations.with(|all| {
                all.iter()
                    .find(|preview| preview.id == id)
                    .and_then(|preview| preview.last_body.clone())
                    .unwrap_or_default()
            })
        }
    };
    el("li").child(
        el("button")
            .attr("type", "button")
            .class("talk-continue")
            .testid("talk-conversation-item")
            .attr_text("data-unread", {
                let unread = unread.clone();
                move || unread().to_string()
            })
            .on("click", move |_| runtime::open_conversation(id.clone()))
            .child(
                el("span")
                    .class("talk-continue-label")
                    .text(texts.continue_conversation)
                    .child(when(unread, move || {
                        el("span")
                            .class("talk-unread-dot")
                            .attr("role", "img")
                            .attr("aria-label", texts.new_reply)
                    })),
            )
            .child(el("span").class("talk-preview").text_with(last_body)),
    )
}

/// A photo, or the initial when there is none, labelled with the name.
fn avatar(name: String, photo: Option<String>) -> View {
    match photo {
        Some(url) => picture(&url, &name),
        None => {
            // The browser's upper-casing: Rust's would compile Unicode's case tables in.
            let initial: String = name
                .chars()
                .next()
                .map(|c| js_sys::JsString::from(c).to_upper_case().into())
                .unwrap_or_default();
            el("span")
                .class("talk-avatar talk-avatar-initial")
                .attr("role", "img")
                .attr("aria-label", &name)
                .text(&initial)
        }
    }
}

/// A photo; `alt` is empty where the name is shown beside it.
pub(super) fn picture(url: &str, alt: &str) -> View {
    el("img")
        .class("talk-avatar")
        .attr("src", url)
        .attr("alt", alt)
}
