use crate::local_time;
use crate::state::display_name;
use leptos::prelude::*;
use talk_protocol::{AuthorKind, InboxConversation};

/// The tab's conversations, in the order given (newest activity first), each with its contact,
/// newest message and unread count. Message text is shown as text, never as HTML.
#[component]
pub fn ConversationList(
    #[prop(into)] conversations: Signal<Vec<InboxConversation>>,
    #[prop(into)] selected: Signal<Option<String>>,
    on_select: Callback<String>,
) -> impl IntoView {
    view! {
        <Show
            when=move || conversations.with(|list| !list.is_empty())
            fallback=|| view! { <p class="inbox-muted" data-testid="inbox-no-conversations">"No conversations here."</p> }
        >
            <ul class="inbox-conversations" data-testid="inbox-conversation-list">
                <For
                    each=move || conversations.get()
                    // Everything a row shows: a row whose content changed is rebuilt.
                    key=|listed| {
                        (
                            listed.conversation.id.clone(),
                            listed.unread,
                            listed.last_message.as_ref().map(|m| m.id.clone()),
                            display_name(listed),
                        )
                    }
                    children=move |listed| {
                        let id = listed.conversation.id.clone();
                        let is_selected = {
                            let id = id.clone();
                            move || selected.with(|s| s.as_deref() == Some(id.as_str()))
                        };
                        let name = display_name(&listed);
                        let preview = listed.last_message.as_ref().map(|message| {
                            let who = match message.author.kind {
                                AuthorKind::Visitor => "",
                                AuthorKind::Agent => "You: ",
                                AuthorKind::Bot => "Bot: ",
                            };
                            format!("{who}{}", message.body)
                        }).unwrap_or_default();
                        let unread = listed.unread;
                        let when = local_time(listed.last_activity());
                        let click_id = id.clone();
                        view! {
                            <li>
                                <button
                                    type="button"
                                    class="inbox-conversation"
                                    class:inbox-selected=is_selected.clone()
                                    class:inbox-unread={unread > 0}
                                    data-testid="inbox-conversation"
                                    data-conversation-id=id
                                    data-unread=unread.to_string()
                                    aria-current=move || is_selected().then_some("true")
                                    on:click=move |_| on_select.run(click_id.clone())
                                >
                                    <span class="inbox-conversation-top">
                                        <span class="inbox-conversation-name" data-testid="inbox-conversation-name">{name}</span>
                                        <Show when=move || { unread > 0 }>
                                            <span class="inbox-badge" data-testid="inbox-unread">
                                                {unread.to_string()}
                                                <span class="inbox-visually-hidden">" unread"</span>
                                            </span>
                                        </Show>
                                    </span>
                                    <span class="inbox-conversation-preview" data-testid="inbox-conversation-preview">{preview}</span>
                                    <span class="inbox-conversation-time">{when}</span>
                                </button>
                            </li>
                        }
                    }
                />
            </ul>
        </Show>
    }
}
