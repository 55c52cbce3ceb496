use super::avatar;
use super::erased::{effect, icon, keyed, text, when, IntoFresh, RowFn};
use crate::i18n::{use_texts, Texts};
use crate::state::{ChatLine, Delivery};
use leptos::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use talk_protocol::{Author, AuthorKind};

/// The conversation: its messages and the composer.
#[component]
pub fn Conversation(
    // The messenger's own signals, not `Signal`s: each `Signal<T>` is another copy of
    // reactive_graph's code for T.
    lines: RwSignal<Vec<ChatLine>>,
    /// Who is typing on the other side.
    typing: RwSignal<Option<String>>,
    /// The agents have read up to this sequence number.
    read_up_to: RwSignal<i64>,
    on_send: Callback<String>,
    on_retry: Callback<String>,
    on_typing: Callback<()>,
    /// The visitor reached the top of the list: older messages, if any.
    on_older: Callback<()>,
    /// The author's photo, if any.
    photo_of: Callback<Author, Option<String>>,
) -> impl IntoView {
    let texts = use_texts();
    view! {
        <div class="talk-conversation">
            <MessageList lines read_up_to on_retry on_older photo_of/>
            <p class="talk-typing" data-testid="talk-typing" aria-live="polite">
                {text(move || {
                    typing
                        .get()
                        .map(|name| {
                            let name = if name.is_empty() { texts.agent.to_string() } else { name };
                            texts.typing.replace("{name}", &name)
                        })
                        .unwrap_or_default()
                })}
            </p>
            <Composer on_send on_typing/>
        </div>
    }
}

fn author_label(line: &ChatLine, texts: &Texts) -> String {
    match line.author.kind {
        AuthorKind::Visitor => texts.you.to_string(),
        AuthorKind::Agent => line
            .author
            .name
            .clone()
            .unwrap_or_else(|| texts.agent.into()),
        AuthorKind::Bot => line.author.name.clone().unwrap_or_else(|| texts.bot.into()),
    }
}

fn author_kind(kind: AuthorKind) -> &'static str {
    match kind {
        AuthorKind::Visitor => "visitor",
        AuthorKind::Agent => "agent",
        AuthorKind::Bot => "bot",
    }
}

fn clock(unix_ms: i64) -> String {
    let date = js_sys::Date::new(&(unix_ms as f64).into());
    format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
}

/// Messages in order. Bodies are text nodes: whatever a visitor or agent typed is never HTML.
#[component]
pub fn MessageList(
    lines: RwSignal<Vec<ChatLine>>,
    /// The agents have read the visitor's messages up to this sequence number.
    #[prop(default = RwSignal::new(0))]
    read_up_to: RwSignal<i64>,
    on_retry: Callback<String>,
    /// Called when the visitor scrolls to the top: the conversation opens on its newest page.
    #[prop(optional)]
    on_older: Option<Callback<()>>,
    /// The author's photo, if any (initials otherwise).
    #[prop(optional)]
    photo_of: Option<Callback<Author, Option<String>>>,
) -> impl IntoView {
    let texts = use_texts();
    // "Seen" goes under the newest of the visitor's messages the agents have read. Each row
    // asks (from the end, so the answer is a few lines away), through its `when`'s memo of a
    // bool: a memo of the key would be reactive_graph's memo code once more for its type.
    let seen = move |key: &str| {
        let read = read_up_to.get();
        lines.with(|lines| {
            lines
                .iter()
                .rev()
                .find(|line| {
                    line.author.kind == AuthorKind::Visitor
                        && line.seq.is_some_and(|seq| seq <= read)
                })
                .is_some_and(|line| line.key == key)
        })
    };
    let log = NodeRef::<leptos::html::Div>::new();
    // Follow new messages, unless the visitor scrolled up to read; their own sends always
    // bring them back down. Shared by the effect and the scroll handler: an atomic, not a
    // `StoredValue<bool>` (reactive_graph's code once more, for a flag nothing tracks).
    let following = Arc::new(AtomicBool::new(true));
    let follow = following.clone();
    // The list's height after the last change, to keep the visitor's place when an older
    // page goes in above (the CSS turns the browser's own scroll anchoring off).
    let mut height = 0;
    // The count and first key at the last run.
    let mut before: Option<(usize, Option<String>)> = None;
    effect(move || {
        let (now, newest_is_own, first) = lines.with(|lines| {
            let own = lines
                .last()
                .is_some_and(|line| line.author.kind == AuthorKind::Visitor);
            (lines.len(), own, lines.first().map(|line| line.key.clone()))
        });
        let (grew, prepended) = match &before {
            Some((count, old_first)) => (now > *count, now > *count && *old_first != first),
            None => (false, false),
        };
        if let Some(log) = log.get() {
            if follow.load(Relaxed) || (grew && newest_is_own) {
                log.set_scroll_top(log.scroll_height());
            } else if prepended {
                log.set_scroll_top(log.scroll_top() + log.scroll_height() - height);
            }
            height = log.scroll_height();
        }
        before = Some((now, first));
    });
    let on_scroll = move |_| {
        if let Some(log) = log.get_untracked() {
            let from_bottom = log.scroll_height() - log.scroll_top() - log.client_height();
            following.store(from_bottom < 48, Relaxed);
            if log.scroll_top() < 48 {
                if let Some(on_older) = on_older {
                    on_older.run(());
                }
            }
        }
    };
    // One row, built when its key first appears.
    let row = move |line: ChatLine| {
        let kind = author_kind(line.author.kind);
        let failed = line.delivery == Delivery::Failed;
        let key = line.key.clone();
        view! {
            <li
                class=format!("talk-message talk-message-{kind}")
                data-testid="talk-message"
                data-author=kind
                data-state=line.delivery.as_str()
            >
                <span class="talk-message-author">
                    {(line.author.kind != AuthorKind::Visitor).then(|| {
                        let photo = photo_of.and_then(|photo_of| photo_of.run(line.author.clone()));
                        // The name follows as text: the picture adds nothing to read.
                        avatar(String::new(), photo, true)
                    })}
                    {author_label(&line, texts)}
                </span>
                <p class="talk-message-body">{line.body.clone()}</p>
                <span class="talk-message-meta">
                    {line.created_at.map(clock)}
                    {(line.delivery == Delivery::Sending).then_some(texts.sending)}
                    {
                        let key = line.key.clone();
                        when(
                            move || seen(&key),
                            move || view! {
                                " · "
                                <span data-testid="talk-seen">{texts.seen}</span>
                            }
                            .fresh(),
                        )
                    }
                </span>
                // Delivery is part of the row's key: a failed message is a new row.
                {failed.then(|| view! {
                    <button
                        type="button"
                        class="talk-retry"
                        data-testid="talk-retry"
                        on:click=move |_| on_retry.run(key.clone())
                    >
                        {texts.not_sent_retry}
                    </button>
                })}
            </li>
        }
        .fresh()
    };
    view! {
        // The log role announces new messages; the list inside keeps list semantics.
        <div class="talk-log" role="log" aria-live="polite" node_ref=log on:scroll=on_scroll>
        <ol class="talk-messages" data-testid="talk-messages">
            {when(
                move || lines.with(Vec::is_empty),
                move || view! { <li class="talk-empty">{texts.empty_conversation}</li> }.fresh(),
            )}
            // Keyed by the line's key and delivery, as `<For>` was: a row keeps its node while
            // both stay (text selection survives), and a failed message is a new row.
            {keyed(move || {
                lines.with(|lines| {
                    lines
                        .iter()
                        .map(|line| {
                            let key = format!("{} {}", line.delivery.as_str(), line.key);
                            let line = line.clone();
                            (key, Box::new(move || row(line)) as RowFn)
                        })
                        .collect()
                })
            })}
        </ol>
        </div>
    }
}

/// Enter sends, Shift+Enter starts a new line.
#[component]
pub fn Composer(
    on_send: Callback<String>,
    /// Called as the visitor types (the owner decides how often to tell anyone).
    #[prop(optional)]
    on_typing: Option<Callback<()>>,
) -> impl IntoView {
    let texts = use_texts();
    let draft = RwSignal::new(String::new());
    let send = move || {
        let text = draft.get_untracked();
        if !text.trim().is_empty() {
            on_send.run(text);
            draft.set(String::new());
        }
    };
    view! {
        <form
            class="talk-composer"
            on:submit=move |event| {
                event.prevent_default();
                send();
            }
        >
            <label for="talk-composer-input" class="talk-visually-hidden">{texts.message}</label>
            <textarea
                id="talk-composer-input"
                data-testid="talk-composer"
                rows="1"
                placeholder=texts.write_a_message
                prop:value=draft
                on:input=move |event| {
                    draft.set(event_target_value(&event));
                    if let Some(on_typing) = on_typing {
                        on_typing.run(());
                    }
                }
                on:keydown=move |event| {
                    if event.key() == "Enter" && !event.shift_key() && !event.is_composing() {
                        event.prevent_default();
                        send();
                    }
                }
            ></textarea>
            <button type="submit" class="talk-send" data-testid="talk-send" aria-label=texts.send>
                {icon("", "M3 20l18-8L3 4v6l12 2-12 2z")}
            </button>
        </form>
    }
}
