use super::erased::{dynamic, text, when, IntoFresh};
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
                                {dynamic(move || {
                                    agents()
                                        .into_iter()
                                        .map(|agent| view! { <Avatar name=agent.name photo=agent.photo_url/> })
                                        .collect_view()
                                        .into_any()
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
                    {dynamic(move || recent().into_iter().map(preview_item).collect_view().into_any())}
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
            {dynamic(move || {
                let links = quick_links();
                if links.is_empty() {
                    return ().into_any();
                }
                view! {
                    <section class="talk-card" aria-labelledby="talk-links-title">
                        <h3 id="talk-links-title" class="talk-card-title">{texts.quick_links}</h3>
                        <ul class="talk-links">
                            {links.into_iter().map(|link| view! {
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
                            }).collect_view()}
                        </ul>
                    </section>
                }
                .into_any()
            })}
        </div>
    }
}

/// One of the visitor's conversations in the homepage's list.
fn preview_item(preview: ConversationPreview) -> impl IntoView {
    let texts = use_texts();
    let id = preview.id;
    view! {
        <li>
            <button
                type="button"
                class="talk-continue"
                data-testid="talk-conversation-item"
                data-unread=preview.unread.to_string()
                on:click=move |_| runtime::open_conversation(id.clone())
            >
                <span class="talk-continue-label">
                    {texts.continue_conversation}
                    {preview.unread.then(|| view! {
                        <span class="talk-unread-dot" role="img" aria-label=texts.new_reply></span>
                    })}
                </span>
                <span class="talk-preview">{preview.last_body}</span>
            </button>
        </li>
    }
}

/// A photo, or the initial when there is none. `decorative` when a name is shown beside it.
#[component]
pub fn Avatar(
    name: String,
    photo: Option<String>,
    #[prop(optional)] decorative: bool,
) -> impl IntoView {
    match (photo, decorative) {
        (Some(url), true) => view! { <img class="talk-avatar" src=url alt=""/> }.into_any(),
        (Some(url), false) => view! { <img class="talk-avatar" src=url alt=name/> }.into_any(),
        (None, true) => ().into_any(),
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
            .into_any()
        }
    }
}
