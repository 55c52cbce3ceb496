//! The admin's capture widgets (seed 000's conversation capture widget): messages the
//! workspace sends first, on the pages and to the visitors it picks. Listed in the order the
//! server tries them, switched on and off, reordered, edited and deleted, each with what it did
//! (shown, dismissed, replied, conversations) and the conversations it started.
//!
//! Every component here ends in `into_any()`: the settings page's view type would otherwise
//! nest all of them, and the release build's LTO fails once a symbol name built from that type
//! passes the 100,000 bytes the wasm object reader accepts ("Invalid Wasm linking symbol").

use crate::api::{ApiClient, Explained};
use crate::components::{focus_soon, Auth, Choice, OpenConversation, TextField};
use crate::datetime::{local_to_ms, ms_to_local};
use crate::drafts::{new_rule, CaptureDraft};
use crate::local_time;
use crate::validation::problem_for;
use leptos::prelude::*;
use talk_protocol::{
    AgentProfile, Audience, CaptureDisplay, CaptureSender, CaptureWidget, Conversation,
    ConversationStatus, Frequency, UrlMatch, MAX_CAPTURE_RULES, MAX_CAPTURE_WIDGETS,
};

static AUDIENCES: [(Audience, &str); 4] = [
    (Audience::Everyone, "Everyone"),
    (
        Audience::Unidentified,
        "Unidentified visitors (no email given)",
    ),
    (
        Audience::Known,
        "Known contacts (an email given, or verified)",
    ),
    (Audience::Verified, "Verified contacts only"),
];

static FREQUENCIES: [(Frequency, &str); 3] = [
    (Frequency::OncePerVisitor, "Once per visitor"),
    (Frequency::OncePerSession, "Once per visit"),
    (Frequency::EveryPageView, "On every page view"),
];

static URL_MATCHES: [(UrlMatch, &str); 3] = [
    (UrlMatch::Equals, "equals"),
    (UrlMatch::Contains, "contains"),
    (UrlMatch::StartsWith, "starts with"),
];

/// A rule's `exclude` flag.
static RULE_EFFECTS: [(bool, &str); 2] = [
    (false, "Show on pages whose URL"),
    (true, "Never on pages whose URL"),
];

fn label_of<T: PartialEq>(options: &[(T, &'static str)], value: T) -> &'static str {
    options
        .iter()
        .find(|(option, _)| *option == value)
        .map_or("", |(_, label)| label)
}

/// What the form below the list edits.
#[derive(Clone, PartialEq)]
enum Editing {
    New,
    Existing(Box<CaptureWidget>),
}

/// The "Capture widgets" section of the settings page.
#[component]
pub fn CaptureWidgetsSection() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let widgets = RwSignal::new(Vec::<CaptureWidget>::new());
    let agents = RwSignal::new(Vec::<AgentProfile>::new());
    let problem = RwSignal::new(None::<String>);
    let status = RwSignal::new(String::new());
    let editing = RwSignal::new(None::<Editing>);
    let confirming = RwSignal::new(None::<String>);
    let reload = move || {
        auth.call(ApiClient.capture_widgets(), problem, move |list| {
            widgets.set(list.capture_widgets)
        });
    };
    reload();
    auth.call(ApiClient.agents(), problem, move |list| {
        agents.set(list.agents)
    });

    let open_form = move |what: Editing| {
        status.set(String::new());
        editing.set(Some(what));
        focus_soon("capture-name".into());
    };
    let switch = move |widget: CaptureWidget, on: bool| {
        let mut input = widget.input;
        input.enabled = on;
        let request = async move {
            let answer = ApiClient.save_capture_widget(&widget.id, &input).await;
            if answer.is_err() {
                reload(); // the switch shows what the server kept
            }
            answer
        };
        auth.call(request, problem, move |stored| {
            problem.set(None);
            widgets.update(|list| {
                if let Some(slot) = list.iter_mut().find(|w| w.id == stored.id) {
                    *slot = stored;
                }
            });
        });
    };
    // Saved at once; the order on screen changes first, and comes back from the server
    // if the save fails. The focus stays on the moved widget's button.
    let move_widget = move |from: usize, to: usize| {
        let mut ids: Vec<String> =
            widgets.with_untracked(|list| list.iter().map(|w| w.id.clone()).collect());
        if from >= ids.len() || to >= ids.len() {
            return;
        }
        ids.swap(from, to);
        let last = ids.len() - 1;
        widgets.update(|list| list.swap(from, to));
        focus_soon(match (to < from, to) {
            (true, 0) => "capture-down-0".to_string(),
            (true, to) => format!("capture-up-{to}"),
            (false, to) if to == last => format!("capture-up-{to}"),
            (false, to) => format!("capture-down-{to}"),
        });
        let request = async move {
            let answer = ApiClient.order_capture_widgets(ids).await;
            if answer.is_err() {
                reload();
            }
            answer
        };
        auth.call(request, problem, move |()| {
            problem.set(None);
            status.set("Order saved.".into());
        });
    };
    let delete = move |widget: CaptureWidget| {
        confirming.set(None);
        let id = widget.id.clone();
        let request = async move { ApiClient.delete_capture_widget(&id).await };
        auth.call(request, problem, move |()| {
            problem.set(None);
            status.set(format!("Deleted “{}”.", widget.input.name));
            let was_editing = editing
                .with_untracked(|e| matches!(e, Some(Editing::Existing(w)) if w.id == widget.id));
            if was_editing {
                editing.set(None);
            }
            reload();
            focus_soon("capture-new".into());
        });
    };
    let count = Memo::new(move |_| widgets.with(Vec::len));

    view! {
        <section class="inbox-card" aria-labelledby="capture-heading" data-testid="capture-section">
            <h3 id="capture-heading">"Capture widgets"</h3>
            <p class="inbox-hint">
                "Messages your team sends first: a bubble by the launcher on the pages you pick. On each page view the first one that matches, in this order, shows. A reply starts a conversation."
            </p>
            <p class="inbox-error" role="alert" data-testid="capture-error">{problem}</p>
            <p class="inbox-muted" role="status" data-testid="capture-status">{status}</p>
            <Show when=move || count.get() == 0>
                <p class="inbox-muted" data-testid="capture-empty">"No capture widgets yet."</p>
            </Show>
            <ol class="inbox-capture-list" data-testid="capture-list">
                {move || widgets.get().into_iter().enumerate().map(|(index, widget)| view! {
                    <CaptureRow
                        widget
                        index
                        last=move || { index + 1 >= count.get() }
                        confirming
                        on_switch=Callback::new(move |(widget, on)| switch(widget, on))
                        on_move=Callback::new(move |to| move_widget(index, to))
                        on_edit=Callback::new(move |widget| open_form(Editing::Existing(Box::new(widget))))
                        on_delete=Callback::new(delete)
                    />
                }).collect_view()}
            </ol>
            <button type="button" id="capture-new" data-testid="capture-new"
                disabled=move || { count.get() >= MAX_CAPTURE_WIDGETS }
                on:click=move |_| open_form(Editing::New)>
                "New capture widget"
            </button>
            <button type="button" data-testid="capture-refresh"
                on:click=move |_| {
                    status.set(String::new());
                    reload();
                }>
                "Refresh the counts"
            </button>
            <Show when=move || { count.get() >= MAX_CAPTURE_WIDGETS }>
                <p class="inbox-hint">{format!("A workspace has at most {MAX_CAPTURE_WIDGETS} capture widgets: delete one to add another.")}</p>
            </Show>
            {move || editing.get().map(|what| {
                let existing = match what {
                    Editing::New => None,
                    Editing::Existing(widget) => Some(*widget),
                };
                view! {
                    <CaptureForm
                        editing=existing
                        agents=agents
                        on_saved=Callback::new(move |saved: CaptureWidget| {
                            editing.set(None);
                            status.set(format!("Saved “{}”.", saved.input.name));
                            reload();
                            focus_soon("capture-new".into());
                        })
                        on_cancel=Callback::new(move |()| {
                            editing.set(None);
                            focus_soon("capture-new".into());
                        })
                    />
                }
            })}
        </section>
    }
    .into_any()
}

/// One capture widget in the list.
#[component]
pub fn CaptureRow(
    widget: CaptureWidget,
    index: usize,
    #[prop(into)] last: Signal<bool>,
    confirming: RwSignal<Option<String>>,
    on_switch: Callback<(CaptureWidget, bool)>,
    /// Where to (an index in the list).
    on_move: Callback<usize>,
    on_edit: Callback<CaptureWidget>,
    on_delete: Callback<CaptureWidget>,
) -> impl IntoView {
    let id = widget.id.clone();
    let name = widget.input.name.clone();
    let stats = widget.stats;
    let input = &widget.input;
    let pages = match input.rules.len() {
        0 => "every page".to_string(),
        1 => "1 URL rule".to_string(),
        rules => format!("{rules} URL rules"),
    };
    let schedule = match (input.starts_at, input.ends_at) {
        (None, None) => String::new(),
        (Some(start), None) => format!(" · from {}", local_time(start)),
        (None, Some(end)) => format!(" · until {}", local_time(end)),
        (Some(start), Some(end)) => format!(" · {} to {}", local_time(start), local_time(end)),
    };
    let summary = format!(
        "{} · {} · after {} s on the page · {}{}",
        pages,
        label_of(&AUDIENCES, input.audience),
        input.delay_secs,
        label_of(&FREQUENCIES, input.frequency),
        schedule
    );
    let is_confirming = {
        let id = id.clone();
        move || confirming.with(|c| c.as_deref() == Some(id.as_str()))
    };
    let hidden_name = format!(" “{name}”");
    let for_switch = widget.clone();
    let for_edit = widget.clone();
    let for_delete = widget.clone();
    let enabled = widget.input.enabled;
    view! {
        <li class="inbox-capture-row" data-testid="capture-row" data-id=id.clone() data-name=name.clone() data-enabled=enabled.to_string()>
            <div class="inbox-capture-top">
                <h4 data-testid="capture-row-name">{name.clone()}</h4>
                <label class="inbox-switch">
                    <input type="checkbox" data-testid="capture-enabled"
                        prop:checked=enabled
                        on:change=move |event| on_switch.run((for_switch.clone(), event_target_checked(&event)))/>
                    {if enabled { "On" } else { "Off" }}
                    <span class="inbox-visually-hidden">{format!(": show{hidden_name} to visitors")}</span>
                </label>
            </div>
            <p class="inbox-muted" data-testid="capture-row-summary">{summary}</p>
            <dl class="inbox-capture-stats">
                <div><dt>"Shown"</dt><dd data-testid="capture-shown">{stats.shown}</dd></div>
                <div><dt>"Dismissed"</dt><dd data-testid="capture-dismissed">{stats.dismissed}</dd></div>
                <div><dt>"Replied"</dt><dd data-testid="capture-replied">{stats.replied}</dd></div>
                <div><dt>"Conversations"</dt><dd data-testid="capture-conversations">{stats.conversations}</dd></div>
            </dl>
            <div class="inbox-row-actions">
                <button type="button" id=format!("capture-up-{index}") data-testid="capture-up"
                    disabled=index == 0
                    on:click=move |_| on_move.run(index.saturating_sub(1))>
                    "Move up"<span class="inbox-visually-hidden">{hidden_name.clone()}</span>
                </button>
                <button type="button" id=format!("capture-down-{index}") data-testid="capture-down"
                    disabled=last
                    on:click=move |_| on_move.run(index + 1)>
                    "Move down"<span class="inbox-visually-hidden">{hidden_name.clone()}</span>
                </button>
                <button type="button" data-testid="capture-edit" on:click=move |_| on_edit.run(for_edit.clone())>
                    "Edit"<span class="inbox-visually-hidden">{hidden_name.clone()}</span>
                </button>
                <button type="button" id=format!("capture-delete-{index}") data-testid="capture-delete"
                    on:click={let id = id.clone(); move |_| {
                        confirming.set(Some(id.clone()));
                        focus_soon("capture-delete-confirm".into());
                    }}>
                    "Delete"<span class="inbox-visually-hidden">{hidden_name.clone()}</span>
                </button>
            </div>
            <Show when=is_confirming.clone()>
                <div class="inbox-notice" role="group" aria-labelledby="capture-delete-question" data-testid="capture-delete-confirmation">
                    <p id="capture-delete-question">{format!("Delete “{}”? Visitors stop seeing it; the conversations it started stay.", for_delete.input.name)}</p>
                    <div class="inbox-row-actions">
                        <button type="button" id="capture-delete-confirm" data-testid="capture-delete-confirm"
                            on:click={let widget = for_delete.clone(); move |_| on_delete.run(widget.clone())}>
                            "Delete"
                        </button>
                        <button type="button" data-testid="capture-delete-cancel"
                            on:click=move |_| {
                                confirming.set(None);
                                focus_soon(format!("capture-delete-{index}"));
                            }>
                            "Keep it"
                        </button>
                    </div>
                </div>
            </Show>
            <StartedConversations widget_id=id.clone() count=stats.conversations/>
        </li>
    }
    .into_any()
}

/// The conversations a capture widget started, fetched when asked for; each opens in the
/// inbox.
#[component]
fn StartedConversations(widget_id: String, count: i64) -> impl IntoView {
    let auth = expect_context::<Auth>();
    let open = use_context::<OpenConversation>();
    let shown = RwSignal::new(false);
    let started = RwSignal::new(None::<Vec<Conversation>>);
    let problem = RwSignal::new(None::<String>);
    let panel_id = format!("capture-started-{widget_id}");
    let toggle = move |_| {
        let now = !shown.get_untracked();
        shown.set(now);
        if now {
            problem.set(None);
            let id = widget_id.clone();
            let request = async move { ApiClient.capture_conversations(&id).await };
            auth.call(request, problem, move |list| {
                started.set(Some(list.conversations))
            });
        }
    };
    view! {
        <div class="inbox-capture-started">
            <button type="button" data-testid="capture-show-conversations"
                aria-expanded=move || shown.get().to_string()
                aria-controls=panel_id.clone()
                disabled=count == 0
                on:click=toggle>
                {move || if shown.get() { "Hide the conversations it started" } else { "Show the conversations it started" }}
            </button>
            <div id=panel_id hidden=move || !shown.get()>
                <p class="inbox-error" role="alert">{problem}</p>
                {move || started.get().map(|conversations| view! {
                    <Show when={let none = conversations.is_empty(); move || none}>
                        <p class="inbox-muted" data-testid="capture-no-conversations">"None yet."</p>
                    </Show>
                    <ul class="inbox-capture-conversations" data-testid="capture-conversation-list">
                        {conversations.into_iter().map(|conversation| {
                            let label = format!(
                                "Conversation of {} ({}{})",
                                local_time(conversation.created_at),
                                match conversation.status { ConversationStatus::Open => "open", ConversationStatus::Closed => "closed" },
                                if conversation.verified { ", verified" } else { "" },
                            );
                            let id = conversation.id.clone();
                            view! {
                                <li>
                                    <button type="button" class="inbox-link" data-testid="capture-conversation" data-id=id
                                        on:click=move |_| {
                                            if let Some(open) = open {
                                                open.0.run(conversation.clone());
                                            }
                                        }>
                                        {label}
                                    </button>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                })}
            </div>
        </div>
    }
    .into_any()
}

#[derive(Clone, PartialEq)]
enum SaveState {
    Idle,
    Saving,
    Failed(String),
}

/// Creates a capture widget (`editing` is `None`) or edits one: the whole widget is saved at
/// once. Problems show next to their fields once a save was tried, then follow every change.
#[component]
pub fn CaptureForm(
    editing: Option<CaptureWidget>,
    #[prop(into)] agents: Signal<Vec<AgentProfile>>,
    on_saved: Callback<CaptureWidget>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let auth = expect_context::<Auth>();
    let heading = editing.as_ref().map_or_else(
        || "New capture widget".to_string(),
        |widget| format!("Edit “{}”", widget.input.name),
    );
    let editing_id = editing.as_ref().map(|widget| widget.id.clone());
    let draft = RwSignal::new(
        editing
            .as_ref()
            .map_or_else(CaptureDraft::default, |widget| {
                CaptureDraft::from_input(&widget.input, ms_to_local)
            }),
    );
    let attempted = RwSignal::new(false);
    let problems = Memo::new(move |_| {
        draft.with(|draft| draft.to_input(local_to_ms).err().unwrap_or_default())
    });
    let error_for = move |field: String| {
        Signal::derive(move || {
            if attempted.get() {
                problems.with(|p| problem_for(p, &field))
            } else {
                None
            }
        })
    };
    let save_state = RwSignal::new(SaveState::Idle);
    let save = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        attempted.set(true);
        let input = match draft.with_untracked(|draft| draft.to_input(local_to_ms)) {
            Ok(input) => input,
            Err(_) => {
                save_state.set(SaveState::Failed(
                    "Fix the fields marked above, then save again.".into(),
                ));
                return;
            }
        };
        save_state.set(SaveState::Saving);
        let id = editing_id.clone();
        leptos::task::spawn_local(async move {
            let answer = match &id {
                Some(id) => ApiClient.save_capture_widget(id, &input).await,
                None => ApiClient.create_capture_widget(&input).await,
            };
            match answer {
                Ok(saved) => {
                    save_state.set(SaveState::Idle);
                    on_saved.run(saved);
                }
                Err(error) => {
                    if !auth.check(&error) {
                        save_state.set(SaveState::Failed(error.user_message()));
                    }
                }
            }
        });
    };
    let text = move |read: fn(&CaptureDraft) -> String| Signal::derive(move || draft.with(read));
    let edit = move |write: fn(&mut CaptureDraft, String)| {
        Callback::new(move |value: String| draft.update(|d| write(d, value)))
    };
    let message_error = error_for("capture-message".into());
    let sender_error = error_for("capture-sender".into());

    view! {
        <form class="inbox-capture-form" on:submit=save novalidate=true data-testid="capture-form" aria-labelledby="capture-form-heading">
            <h4 id="capture-form-heading">{heading}</h4>
            <TextField id="capture-name" label="Name" hint="Only admins see it."
                value=text(|d| d.name.clone())
                on_input=edit(|d, v| d.name = v)
                error=error_for("capture-name".into())/>
            <div class="inbox-field">
                <label for="capture-message">"Message"</label>
                <textarea id="capture-message" rows="3" data-testid="capture-message"
                    aria-describedby="capture-message-hint capture-message-error"
                    aria-invalid=move || message_error.with(Option::is_some).to_string()
                    prop:value=text(|d| d.message.clone())
                    on:input=move |event| {
                        let value = event_target_value(&event);
                        draft.update(|d| d.message = value);
                    }></textarea>
                <p class="inbox-hint" id="capture-message-hint">
                    "Plain text. Merge tags: {{first_name}}, {{last_name}}, {{name}}, with a fallback like {{first_name|there}}. It becomes the conversation's first message when the visitor replies."
                </p>
                <p class="inbox-field-error" id="capture-message-error" data-testid="capture-message-error">{message_error}</p>
            </div>
            <div class="inbox-field">
                <label for="capture-sender">"From"</label>
                <select id="capture-sender" data-testid="capture-sender"
                    aria-describedby="capture-sender-error"
                    aria-invalid=move || sender_error.with(Option::is_some).to_string()
                    prop:value=move || draft.with(|d| sender_key(&d.sender))
                    on:change=move |event| {
                        let value = event_target_value(&event);
                        draft.update(|d| d.sender = sender_from_key(&value));
                    }>
                    <option value="bot" selected=move || draft.with(|d| d.sender == CaptureSender::Bot)>
                        "The bot (its name and photo from the homepage settings)"
                    </option>
                    {move || {
                        let chosen = draft.with(|d| sender_key(&d.sender));
                        let mut options: Vec<(String, String)> = agents.with(|agents| {
                            agents.iter().map(|a| (format!("agent:{}", a.id), format!("{} ({})", a.name, a.email))).collect()
                        });
                        // An agent who is gone stays visible until another sender is chosen.
                        if chosen != "bot" && !options.iter().any(|(key, _)| *key == chosen) {
                            options.push((chosen.clone(), "An agent who is no longer in the team".into()));
                        }
                        options.into_iter().map(|(key, label)| {
                            let selected = key == chosen;
                            view! { <option value=key selected=selected>{label}</option> }
                        }).collect_view()
                    }}
                </select>
                <p class="inbox-field-error" id="capture-sender-error" data-testid="capture-sender-error">{sender_error}</p>
            </div>
            <UrlRules draft error_for/>
            <TextField id="capture-delay" label="Seconds on the page before it shows" kind="number"
                value=text(|d| d.delay_secs.clone())
                on_input=edit(|d, v| d.delay_secs = v)
                error=error_for("capture-delay".into())/>
            <Choice id="capture-audience" label="Who sees it" options=AUDIENCES.as_slice()
                value=Signal::derive(move || draft.with(|d| d.audience))
                on_change=Callback::new(move |audience| draft.update(|d| d.audience = audience))/>
            <Choice id="capture-frequency" label="How often" options=FREQUENCIES.as_slice()
                hint="A visit ends after 30 minutes without a page view."
                value=Signal::derive(move || draft.with(|d| d.frequency))
                on_change=Callback::new(move |frequency| draft.update(|d| d.frequency = frequency))/>
            <TextField id="capture-min-gap" label="At least this many seconds between two showings to one visitor" kind="number"
                hint="0 for no gap; 3600 is an hour, 86400 a day."
                value=text(|d| d.min_gap_secs.clone())
                on_input=edit(|d, v| d.min_gap_secs = v)
                error=error_for("capture-min-gap".into())/>
            <TextField id="capture-starts" label="Starts" kind="datetime-local"
                hint="Your local time. Leave empty to start at once."
                value=text(|d| d.starts_at.clone())
                on_input=edit(|d, v| d.starts_at = v)
                error=error_for("capture-starts".into())/>
            <TextField id="capture-ends" label="Ends" kind="datetime-local"
                hint="Your local time. Leave empty to never end."
                value=text(|d| d.ends_at.clone())
                on_input=edit(|d, v| d.ends_at = v)
                error=error_for("capture-ends".into())/>
            <fieldset class="inbox-field">
                <legend>"Display"</legend>
                <label>
                    <input type="radio" name="capture-display" data-testid="capture-display-bubble"
                        prop:checked=move || draft.with(|d| d.display == CaptureDisplay::Bubble)
                        on:change=move |_| draft.update(|d| d.display = CaptureDisplay::Bubble)/>
                    "A bubble by the launcher"
                </label>
                <label>
                    <input type="radio" name="capture-display" data-testid="capture-display-opened"
                        prop:checked=move || draft.with(|d| d.display == CaptureDisplay::Opened)
                        on:change=move |_| draft.update(|d| d.display = CaptureDisplay::Opened)/>
                    "Opened, with the reply field ready"
                </label>
            </fieldset>
            <label class="inbox-switch">
                <input type="checkbox" data-testid="capture-form-enabled"
                    prop:checked=move || draft.with(|d| d.enabled)
                    on:change=move |event| draft.update(|d| d.enabled = event_target_checked(&event))/>
                "On: visitors can see it"
            </label>
            <div class="inbox-save-bar">
                <button type="submit" class="inbox-primary" data-testid="capture-save"
                    disabled=move || save_state.get() == SaveState::Saving>
                    "Save capture widget"
                </button>
                <button type="button" data-testid="capture-cancel" on:click=move |_| on_cancel.run(())>"Cancel"</button>
                <p class="inbox-muted" role="status" data-testid="capture-save-status">
                    {move || (save_state.get() == SaveState::Saving).then_some("Saving…")}
                </p>
            </div>
            <p class="inbox-error" role="alert" data-testid="capture-form-error">
                {move || match save_state.get() {
                    SaveState::Failed(message) => message,
                    _ => String::new(),
                }}
            </p>
        </form>
    }
    .into_any()
}

/// The sender as the picker's option value: `bot` or `agent:<id>`.
fn sender_key(sender: &CaptureSender) -> String {
    match sender {
        CaptureSender::Bot => "bot".into(),
        CaptureSender::Agent { agent_id } => format!("agent:{agent_id}"),
    }
}

fn sender_from_key(key: &str) -> CaptureSender {
    match key.strip_prefix("agent:") {
        Some(agent_id) => CaptureSender::Agent {
            agent_id: agent_id.to_string(),
        },
        None => CaptureSender::Bot,
    }
}

/// The URL rules editor: rows added and removed, each an include or exclude rule, a way to
/// compare and a value.
#[component]
fn UrlRules(
    draft: RwSignal<CaptureDraft>,
    error_for: impl Fn(String) -> Signal<Option<String>> + Copy + Send + Sync + 'static,
) -> impl IntoView {
    // Rows are rebuilt when rules are added or removed, not on every keystroke.
    let count = Memo::new(move |_| draft.with(|d| d.rules.len()));
    let rule = move |index: usize| draft.with(|d| d.rules.get(index).cloned());
    view! {
        <fieldset class="inbox-capture-rules" data-testid="capture-rules" aria-describedby="capture-rules-hint">
            <legend>"Pages"</legend>
            <p class="inbox-hint" id="capture-rules-hint">
                "Without a “show on” rule it shows on every page; “never on” rules take pages out. A value starting with / is compared with the path (and query) only, like /pricing."
            </p>
            <ol>
                {move || (0..count.get()).map(|index| {
                    let value_id = format!("capture-rule-value-{index}");
                    let error_id = format!("{value_id}-error");
                    let value_error = error_for(value_id.clone());
                    view! {
                        <li class="inbox-capture-rule" data-testid="capture-rule">
                            <Choice id=format!("capture-rule-exclude-{index}") label=format!("Rule {}", index + 1) options=RULE_EFFECTS.as_slice()
                                value=Signal::derive(move || rule(index).is_some_and(|r| r.exclude))
                                on_change=Callback::new(move |exclude| draft.update(|d| if let Some(rule) = d.rules.get_mut(index) { rule.exclude = exclude; }))/>
                            <Choice id=format!("capture-rule-match-{index}") label=format!("Rule {}: how it compares", index + 1) options=URL_MATCHES.as_slice()
                                value=Signal::derive(move || rule(index).map_or(UrlMatch::Contains, |r| r.kind))
                                on_change=Callback::new(move |kind| draft.update(|d| if let Some(rule) = d.rules.get_mut(index) { rule.kind = kind; }))/>
                            <div class="inbox-field">
                                <label for=value_id.clone()>{format!("Rule {}: value", index + 1)}</label>
                                <input id=value_id.clone() data-testid=value_id type="text" aria-describedby=error_id.clone()
                                    aria-invalid=move || value_error.with(Option::is_some).to_string()
                                    prop:value=move || rule(index).map(|r| r.value).unwrap_or_default()
                                    on:input=move |event| {
                                        let value = event_target_value(&event);
                                        draft.update(|d| if let Some(rule) = d.rules.get_mut(index) { rule.value = value; });
                                    }/>
                                <p class="inbox-field-error" id=error_id.clone() data-testid=error_id>{value_error}</p>
                            </div>
                            <button type="button" data-testid=format!("capture-rule-remove-{index}")
                                on:click=move |_| {
                                    draft.update(|d| if index < d.rules.len() { d.rules.remove(index); });
                                    focus_soon("capture-rule-add".into());
                                }>
                                "Remove"<span class="inbox-visually-hidden">{format!(" rule {}", index + 1)}</span>
                            </button>
                        </li>
                    }
                }).collect_view()}
            </ol>
            <button type="button" id="capture-rule-add" data-testid="capture-rule-add"
                disabled=move || { count.get() >= MAX_CAPTURE_RULES }
                on:click=move |_| {
                    let index = count.get_untracked();
                    draft.update(|d| d.rules.push(new_rule()));
                    focus_soon(format!("capture-rule-exclude-{index}"));
                }>
                "Add a URL rule"
            </button>
            <p class="inbox-field-error" data-testid="capture-rules-error">{error_for("capture-rules".into())}</p>
        </fieldset>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sender_picker_round_trips() {
        for sender in [
            CaptureSender::Bot,
            CaptureSender::Agent {
                agent_id: "ag_1:x".into(),
            },
        ] {
            assert_eq!(sender_from_key(&sender_key(&sender)), sender);
        }
        assert_eq!(sender_key(&CaptureSender::Bot), "bot");
    }
}
