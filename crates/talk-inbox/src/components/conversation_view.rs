use super::inbox::{is_open, InboxState};
use super::Auth;
use crate::api::ConversationAction;
use crate::local_time;
use crate::outbox::{PendingReply, ReplyState};
use leptos::either::Either;
use leptos::html::Ol;
use leptos::prelude::*;
use talk_protocol::{AuthorKind, Message};

/// The selected conversation: who, its state and actions, its messages and the composer.
#[component]
pub fn ConversationView() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let inbox = expect_context::<InboxState>();
    let open = move || inbox.current.with(is_open);
    let verified = Signal::derive(move || {
        inbox
            .current
            .with(|c| c.as_ref().is_some_and(|c| c.verified))
    });
    let assigned_to_me = move || {
        let me = auth.agent_id();
        inbox
            .current
            .with(|c| c.as_ref().and_then(|c| c.assignee_id.clone()))
            == Some(me)
    };
    let visitor_read_seq = move || {
        inbox
            .current
            .with(|c| c.as_ref().map_or(0, |c| c.visitor_read_seq))
    };
    // The newest agent or bot message the visitor has read: "Seen" goes under it.
    let seen_seq = Memo::new(move |_| {
        let read = visitor_read_seq();
        inbox.messages.with(|messages| {
            messages
                .iter()
                .rev()
                .find(|m| m.author.kind != AuthorKind::Visitor && m.seq <= read)
                .map(|m| m.seq)
        })
    });
    // The agent's replies in this conversation the server has not stored yet, after the
    // messages; one already among them (its ack was lost) shows once, as the message.
    let pending = Memo::new(move |_| {
        let Some(id) = inbox.selected.get() else {
            return Vec::new();
        };
        let mut replies = inbox.outbox.with(|outbox| outbox.pending(&id));
        inbox.messages.with(|messages| {
            replies.retain(|reply| {
                !messages
                    .iter()
                    .any(|m| m.client_msg_id.as_deref() == Some(reply.client_msg_id.as_str()))
            })
        });
        replies
    });
    let list = NodeRef::<Ol>::new();
    // Follow new messages; when an older page arrives above, keep the agent's place.
    // (A pending reply counts as new at the end.)
    let ends = move || {
        let waiting = pending.with(Vec::len);
        inbox.messages.with(|messages| {
            (
                messages.first().map(|m| m.seq),
                (messages.last().map(|m| m.seq), waiting),
            )
        })
    };
    type Ends = (Option<i64>, (Option<i64>, usize));
    Effect::new(move |previous: Option<(Ends, i32)>| {
        let now = ends();
        let Some(list) = list.get() else {
            return (now, 0);
        };
        let height = list.scroll_height();
        match previous {
            Some(((_, last), old_height)) if last == now.1 => {
                list.set_scroll_top(list.scroll_top() + height - old_height);
            }
            _ => list.set_scroll_top(height),
        }
        (now, height)
    });

    view! {
        <section class="inbox-conversation-pane" aria-labelledby="inbox-conversation-heading" data-testid="inbox-conversation-view">
            <div class="inbox-conversation-header">
                <h2 id="inbox-conversation-heading" data-testid="inbox-conversation-title">{move || inbox.current_name.get()}</h2>
                <span class="inbox-status" data-testid="inbox-conversation-status">
                    {move || if open() { "Open" } else { "Closed" }}
                </span>
                <div class="inbox-actions">
                    <Show when=move || open() && !assigned_to_me()>
                        <button type="button" data-testid="inbox-assign" on:click=move |_| inbox.act(ConversationAction::Assign, auth)>
                            "Assign to me"
                        </button>
                    </Show>
                    <Show when=assigned_to_me>
                        <span class="inbox-muted" data-testid="inbox-assigned-to-me">"Assigned to you"</span>
                    </Show>
                    <Show when=open>
                        <button
                            type="button"
                            data-testid="inbox-call"
                            on:click=move |_| {
                                if let Some(id) = inbox.selected.get_untracked() {
                                    crate::calls::start(&id);
                                }
                            }
                        >
                            "Call"
                        </button>
                    </Show>
                    {move || if open() {
                        view! { <button type="button" data-testid="inbox-close" on:click=move |_| inbox.act(ConversationAction::Close, auth)>"Close"</button> }.into_any()
                    } else {
                        view! { <button type="button" data-testid="inbox-reopen" on:click=move |_| inbox.act(ConversationAction::Reopen, auth)>"Reopen"</button> }.into_any()
                    }}
                </div>
            </div>
            {move || inbox.action_error.get().map(|text| view! { <p class="inbox-error" role="alert" data-testid="inbox-action-error">{text}</p> })}
            <ol
                class="inbox-messages"
                node_ref=list
                aria-label="Messages"
                aria-live="polite"
                tabindex="0"
                data-testid="inbox-messages"
                on:scroll=move |_| {
                    if list.get().is_some_and(|list| list.scroll_top() == 0) {
                        inbox.load_older(auth);
                    }
                }
            >
                <Show when=move || inbox.has_older()>
                    <li class="inbox-older">
                        <button
                            type="button"
                            data-testid="inbox-load-older"
                            disabled=move || inbox.loading_older()
                            on:click=move |_| inbox.load_older(auth)
                        >
                            {move || if inbox.loading_older() { "Loading…" } else { "Load older messages" }}
                        </button>
                    </li>
                </Show>
                <For
                    each=move || inbox.messages.get()
                    key=|message| message.id.clone()
                    children=move |message| {
                        let seq = message.seq;
                        view! { <MessageLine message seen=Signal::derive(move || seen_seq.get() == Some(seq))/> }
                    }
                />
                <For
                    each=move || pending.get()
                    key=|reply| {
                        // Drawn anew when it fails or goes again, not as it changes transport.
                        let failed = match &reply.state {
                            ReplyState::Failed(reason) => Some(reason.clone()),
                            _ => None,
                        };
                        (reply.client_msg_id.clone(), failed)
                    }
                    children=move |reply| view! { <PendingLine reply/> }
                />
            </ol>
            <p class="inbox-typing" data-testid="inbox-typing" aria-live="polite">
                {move || inbox.visitor_typing.get().then_some("The visitor is typing…")}
            </p>
            <Composer
                verified=verified
                on_send=Callback::new(move |body| inbox.send(body, auth))
                on_typing=Callback::new(move |typing| inbox.typing(typing))
            />
        </section>
    }
}

/// One message: who wrote it, when, and its text (as text).
#[component]
pub fn MessageLine(message: Message, #[prop(into)] seen: Signal<bool>) -> impl IntoView {
    let (author, who) = match message.author.kind {
        AuthorKind::Visitor => ("visitor", "Visitor".to_string()),
        AuthorKind::Agent => (
            "agent",
            message
                .author
                .name
                .clone()
                .unwrap_or_else(|| "Agent".into()),
        ),
        AuthorKind::Bot => (
            "bot",
            message.author.name.clone().unwrap_or_else(|| "Bot".into()),
        ),
    };
    view! {
        <li class="inbox-message" class:inbox-message-mine=author != "visitor" data-testid="inbox-message" data-author=author>
            <span class="inbox-message-meta">{who}" · "{local_time(message.created_at)}</span>
            <span class="inbox-message-body" data-testid="inbox-message-body">{message.body}</span>
            <Show when=move || seen.get()>
                <span class="inbox-seen" data-testid="inbox-seen">"Seen"</span>
            </Show>
        </li>
    }
}

/// A reply of the agent's the server has not stored yet: its text, and "Sending…", or
/// "Not sent: <reason>" with a Retry (same id: stored once however often it goes).
#[component]
pub fn PendingLine(reply: PendingReply) -> impl IntoView {
    let auth = expect_context::<Auth>();
    let inbox = expect_context::<InboxState>();
    let state = reply.state.key();
    let failed = matches!(reply.state, ReplyState::Failed(_));
    let status = match reply.state {
        ReplyState::Failed(reason) => {
            let id = reply.client_msg_id.clone();
            Either::Right(view! {
                <span class="inbox-pending-status" data-testid="inbox-pending-status">"Not sent: "{reason}</span>
                <button type="button" class="inbox-retry" data-testid="inbox-retry" on:click=move |_| inbox.retry(&id, auth)>
                    "Retry"
                </button>
            })
        }
        _ => Either::Left(view! {
            <span class="inbox-pending-status" data-testid="inbox-pending-status">"Sending…"</span>
        }),
    };
    view! {
        <li
            class="inbox-message inbox-message-mine inbox-pending"
            class:inbox-pending-failed=failed
            data-testid="inbox-pending"
            data-state=state
            data-author="agent"
        >
            <span class="inbox-message-meta">"You"</span>
            <span class="inbox-message-body" data-testid="inbox-pending-body">{reply.body}</span>
            {status}
        </li>
    }
}

/// The message bar: a "Not verified" label when the visitor's identity is unproven (seed
/// 002), the text box and Send. Enter sends, Shift+Enter starts a new line.
#[component]
pub fn Composer(
    #[prop(into)] verified: Signal<bool>,
    /// Sends the text; false when it was not taken (the text stays in the box).
    on_send: Callback<String, bool>,
    /// Typing started (true) or stopped (false).
    on_typing: Callback<bool>,
) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let typing = StoredValue::new(false);
    let set_typing = move |now: bool| {
        if typing.get_value() != now {
            typing.set_value(now);
            on_typing.run(now);
        }
    };
    let send = move || {
        let body = text.get_untracked().trim().to_string();
        if body.is_empty() {
            return;
        }
        if !on_send.run(body) {
            return;
        }
        text.set(String::new());
        set_typing(false);
    };
    view! {
        <form
            class="inbox-composer"
            data-testid="inbox-composer"
            on:submit=move |event| {
                event.prevent_default();
                send();
            }
        >
            <Show when=move || !verified.get()>
                <p class="inbox-not-verified" data-testid="inbox-not-verified" title="This visitor's identity was not confirmed by your website: anyone can type an email.">
                    "Not verified"
                </p>
            </Show>
            <label for="inbox-reply" class="inbox-visually-hidden">"Reply"</label>
            <textarea
                id="inbox-reply"
                rows="3"
                placeholder="Write a reply…"
                data-testid="inbox-reply"
                prop:value=text
                on:input=move |event| {
                    let value = event_target_value(&event);
                    set_typing(!value.trim().is_empty());
                    text.set(value);
                }
                on:blur=move |_| set_typing(false)
                on:keydown=move |event: leptos::ev::KeyboardEvent| {
                    if event.key() == "Enter" && !event.shift_key() && !event.is_composing() {
                        event.prevent_default();
                        send();
                    }
                }
            ></textarea>
            <button type="submit" class="inbox-primary" data-testid="inbox-send">"Send"</button>
        </form>
    }
}
