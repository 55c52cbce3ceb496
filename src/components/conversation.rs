use super::dom::{
    effect, el, event_value, fragment, icon, keyed, text, when, Handler, RowFn, View,
};
use super::home::picture;
use crate::i18n::{use_texts, Texts};
use crate::state::{ChatLine, Delivery};
use crate::var::Var;
use std::cell::Cell;
use std::rc::Rc;
use talk_browser::text::{concat, decimal, fill};
use talk_protocol::{Author, AuthorKind};
use wasm_bindgen::JsCast;

/// The author's photo, if any.
pub type PhotoOf = Rc<dyn Fn(&Author) -> Option<String>>;

/// The conversation: its messages and the composer.
#[allow(clippy::too_many_arguments)]
pub(super) fn conversation(
    lines: Var<Vec<ChatLine>>,
    // Who is typing on the other side.
    typing: Var<Option<String>>,
    // The agents have read up to this sequence number.
    read_up_to: Var<i64>,
    on_send: Handler<String>,
    on_retry: Handler<String>,
    // Called as the visitor types (the owner decides how often to tell anyone).
    on_typing: Handler<()>,
    // The visitor reached the top of the list: older messages, if any.
    on_older: Handler<()>,
    photo_of: PhotoOf,
) -> View {
    let texts = use_texts();
    el("div")
        .class("talk-conversation")
        .child(message_list(
            lines,
            read_up_to,
            on_retry,
            on_older,
            Some(photo_of),
        ))
        .child(
            el("p")
                .class("talk-typing")
                .testid("talk-typing")
                .attr("aria-live", "polite")
                .text_with(move || {
                    typing
                        .get()
                        .map(|name| {
                            let name = if name.is_empty() {
                                texts.agent.to_string()
                            } else {
                                name
                            };
                            fill(texts.typing, "{name}", &name)
                        })
                        .unwrap_or_default()
                }),
        )
        .child(composer(on_send, on_typing))
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
    concat(&[
        &decimal(date.get_hours().into(), 2),
        ":",
        &decimal(date.get_minutes().into(), 2),
    ])
}

/// Messages in order. Bodies are text nodes: whatever a visitor or agent typed is never HTML.
pub fn message_list(
    lines: Var<Vec<ChatLine>>,
    read_up_to: Var<i64>,
    on_retry: Handler<String>,
    on_older: Handler<()>,
    photo_of: Option<PhotoOf>,
) -> View {
    let texts = use_texts();
    // "Seen" goes under the newest of the visitor's messages the agents have read. Each row
    // asks (from the end, so the answer is a few lines away), through its `when`.
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
    // The log role announces new messages; the list inside keeps list semantics.
    let log = el("div")
        .class("talk-log")
        .attr("role", "log")
        .attr("aria-live", "polite");
    let node = log.element().clone();
    // Follow new messages, unless the visitor scrolled up to read; their own sends always
    // bring them back down. Shared by the effect and the scroll handler.
    let following = Rc::new(Cell::new(true));
    let follow = following.clone();
    // The list's height after the last change, to keep the visitor's place when an older
    // page goes in above (the CSS turns the browser's own scroll anchoring off).
    let mut height = 0;
    // The count and first key at the last run.
    let mut before: Option<(usize, Option<String>)> = None;
    // An effect, not a render effect: it runs after the rows are in, so the heights are new.
    effect({
        let log = node.clone();
        move || {
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
            if follow.get() || (grew && newest_is_own) {
                log.set_scroll_top(log.scroll_height());
            } else if prepended {
                log.set_scroll_top(log.scroll_top() + log.scroll_height() - height);
            }
            height = log.scroll_height();
            before = Some((now, first));
        }
    });
    let on_scroll = move |_| {
        let from_bottom = node.scroll_height() - node.scroll_top() - node.client_height();
        following.set(from_bottom < 48);
        if node.scroll_top() < 48 {
            on_older(());
        }
    };
    // One row, built when its key first appears.
    let row = Rc::new(move |line: ChatLine| {
        let on_retry = on_retry.clone();
        let kind = author_kind(line.author.kind);
        let key = line.key.clone();
        let author = el("span").class("talk-message-author").maybe(
            (line.author.kind != AuthorKind::Visitor)
                .then(|| {
                    photo_of
                        .as_ref()
                        .and_then(|photo_of| photo_of(&line.author))
                })
                .flatten()
                // The name follows as text: the picture adds nothing to read.
                .map(|url| picture(&url, "")),
        );
        el("li")
            .class(&concat(&["talk-message talk-message-", kind]))
            .testid("talk-message")
            .attr("data-author", kind)
            .attr("data-state", line.delivery.as_str())
            .child(author.text(&author_label(&line, texts)))
            .child(el("p").class("talk-message-body").text(&line.body))
            .child(
                el("span")
                    .class("talk-message-meta")
                    .text(&line.created_at.map(clock).unwrap_or_default())
                    .text(if line.delivery == Delivery::Sending {
                        texts.sending
                    } else {
                        ""
                    })
                    .child({
                        let key = line.key.clone();
                        when(
                            move || seen(&key),
                            move || {
                                fragment(vec![
                                    text(" · "),
                                    el("span").testid("talk-seen").text(texts.seen),
                                ])
                            },
                        )
                    }),
            )
            // Delivery is part of the row's key: a failed message is a new row.
            .maybe((line.delivery == Delivery::Failed).then(|| {
                el("button")
                    .attr("type", "button")
                    .class("talk-retry")
                    .testid("talk-retry")
                    .on("click", move |_| on_retry(key.clone()))
                    .text(texts.not_sent_retry)
            }))
    });
    log.on("scroll", on_scroll).child(
        el("ol")
            .class("talk-messages")
            .testid("talk-messages")
            .child(when(
                move || lines.with(Vec::is_empty),
                move || el("li").class("talk-empty").text(texts.empty_conversation),
            ))
            // Keyed by the line's key and delivery, as `<For>` was: a row keeps its node while
            // both stay (text selection survives), and a failed message is a new row.
            .child(keyed(move || {
                lines.with(|lines| {
                    // A loop, not `.map(..).collect()`: each such chain was code of its own.
                    let mut rows = Vec::with_capacity(lines.len());
                    for line in lines {
                        let key = concat(&[line.delivery.as_str(), " ", &line.key]);
                        let line = line.clone();
                        let row = row.clone();
                        rows.push((key, Box::new(move || row(line)) as RowFn));
                    }
                    rows
                })
            })),
    )
}

/// Enter sends, Shift+Enter starts a new line.
fn composer(on_send: Handler<String>, on_typing: Handler<()>) -> View {
    let texts = use_texts();
    let draft = Var::new(String::new());
    let send = Rc::new(move || {
        let text = draft.get_untracked();
        if !text.trim().is_empty() {
            on_send(text);
            draft.set(String::new());
        }
    });
    el("form")
        .class("talk-composer")
        .on("submit", {
            let send = send.clone();
            move |event| {
                event.prevent_default();
                send();
            }
        })
        .child(
            el("label")
                .attr("for", "talk-composer-input")
                .class("talk-visually-hidden")
                .text(texts.message),
        )
        .child(
            el("textarea")
                .attr("id", "talk-composer-input")
                .testid("talk-composer")
                .attr("rows", "1")
                .attr("placeholder", texts.write_a_message)
                .prop_with("value", move || draft.get().into())
                .on("input", move |event| {
                    draft.set(event_value(&event));
                    on_typing(());
                })
                .on("keydown", move |event| {
                    let event: &web_sys::KeyboardEvent = event.unchecked_ref();
                    if event.key() == "Enter" && !event.shift_key() && !event.is_composing() {
                        event.prevent_default();
                        send();
                    }
                }),
        )
        .child(
            el("button")
                .attr("type", "submit")
                .class("talk-send")
                .testid("talk-send")
                .attr("aria-label", texts.send)
                .child(icon("", "M3 20l18-8L3 4v6l12 2-12 2z")),
        )
}
