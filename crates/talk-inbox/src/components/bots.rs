//! The admin's agent bots (seed 003's AI agent): programs plugged in by webhook. Registered
//! (the signing secret and API key are shown once, with copy buttons), edited, switched on and
//! off, deleted, and each one's webhook delivery log read.
//!
//! Every component here ends in `into_any()`: the settings page's view type would otherwise
//! nest all of them, and the release build's LTO fails once a symbol name built from that type
//! passes the 100,000 bytes the wasm object reader accepts ("Invalid Wasm linking symbol").

use crate::api::{ApiClient, Explained};
use crate::components::{focus_soon, Auth, Choice, TextField};
use crate::drafts::BotDraft;
use crate::local_time;
use crate::validation::problem_for;
use leptos::prelude::*;
use talk_protocol::{
    error_code, Bot, BotCreated, BotTakes, DeliveryStatus, WebhookDelivery, MAX_BOTS,
};

static TAKES: [(BotTakes, &str); 2] = [
    (BotTakes::AllNew, "All new conversations"),
    (
        BotTakes::OutsideOfficeHours,
        "New conversations outside office hours (no agent online, nobody assigned)",
    ),
];

fn takes_label(takes: BotTakes) -> &'static str {
    match takes {
        BotTakes::AllNew => "All new conversations",
        BotTakes::OutsideOfficeHours => "Outside office hours",
    }
}

#[derive(Clone, PartialEq)]
enum Editing {
    New,
    Existing(Box<Bot>),
}

/// The "Bots" section of the settings page.
#[component]
pub fn BotsSection() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let bots = RwSignal::new(Vec::<Bot>::new());
    let problem = RwSignal::new(None::<String>);
    let status = RwSignal::new(String::new());
    let editing = RwSignal::new(None::<Editing>);
    let created = RwSignal::new(None::<BotCreated>);
    let confirming = RwSignal::new(None::<String>);
    let reload = move || {
        auth.call(ApiClient.bots(), problem, move |list| bots.set(list.bots));
    };
    reload();
    let open_form = move |what: Editing| {
        status.set(String::new());
        editing.set(Some(what));
        focus_soon("bot-name".into());
    };
    let switch = move |bot: Bot, on: bool| {
        let mut input = bot.input;
        input.enabled = on;
        let request = async move {
            let answer = ApiClient.save_bot(&bot.id, &input).await;
            if answer.is_err() {
                reload(); // the switch shows what the server kept
            }
            answer
        };
        auth.call(request, problem, move |stored| {
            problem.set(None);
            bots.update(|list| {
                if let Some(slot) = list.iter_mut().find(|b| b.id == stored.id) {
                    *slot = stored;
                }
            });
        });
    };
    let delete = move |bot: Bot| {
        confirming.set(None);
        let id = bot.id.clone();
        let request = async move { ApiClient.delete_bot(&id).await };
        auth.call(request, problem, move |()| {
            problem.set(None);
            status.set(format!(
                "Deleted the bot “{}”. Its key no longer works.",
                bot.input.name
            ));
            let was_editing = editing
                .with_untracked(|e| matches!(e, Some(Editing::Existing(b)) if b.id == bot.id));
            if was_editing {
                editing.set(None);
            }
            reload();
            focus_soon("bot-new".into());
        });
    };
    let count = Memo::new(move |_| bots.with(Vec::len));

    view! {
        <section class="inbox-card" aria-labelledby="bot-heading" data-testid="bot-section">
            <h3 id="bot-heading">"Bots"</h3>
            <p class="inbox-hint">
                "Plug in your own AI agent: Talk posts each visitor message in a conversation the bot holds to its webhook, signed, and the bot answers with its API key. See docs/bots.md."
            </p>
            <p class="inbox-error" role="alert" data-testid="bot-error">{problem}</p>
            <p class="inbox-muted" role="status" data-testid="bot-status">{status}</p>
            {move || created.get().map(|answer| view! {
                <NewBotSecrets answer on_done=Callback::new(move |()| {
                    created.set(None);
                    focus_soon("bot-new".into());
                })/>
            })}
            <Show when=move || count.get() == 0>
                <p class="inbox-muted" data-testid="bot-empty">"No bots yet."</p>
            </Show>
            <table class="inbox-table" hidden=move || count.get() == 0>
                <caption class="inbox-visually-hidden">"Bots"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Bot"</th>
                        <th scope="col">"Webhook"</th>
                        <th scope="col">"Takes"</th>
                        <th scope="col">"Key"</th>
                        <th scope="col">"On"</th>
                        <th scope="col"><span class="inbox-visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {move || bots.get().into_iter().enumerate().map(|(index, bot)| view! {
                        <BotRow bot index confirming
                            on_switch=Callback::new(move |(bot, on)| switch(bot, on))
                            on_edit=Callback::new(move |bot| open_form(Editing::Existing(Box::new(bot))))
                            on_delete=Callback::new(delete)/>
                    }).collect_view()}
                </tbody>
            </table>
            <button type="button" id="bot-new" data-testid="bot-new"
                disabled=move || { count.get() >= MAX_BOTS }
                on:click=move |_| open_form(Editing::New)>
                "Register a bot"
            </button>
            <Show when=move || { count.get() >= MAX_BOTS }>
                <p class="inbox-hint">{format!("A workspace has at most {MAX_BOTS} bots: delete one to add another.")}</p>
            </Show>
            {move || editing.get().map(|what| {
                let existing = match what {
                    Editing::New => None,
                    Editing::Existing(bot) => Some(*bot),
                };
                view! {
                    <BotForm
                        editing=existing
                        on_created=Callback::new(move |answer: BotCreated| {
                            editing.set(None);
                            created.set(Some(answer));
                            reload();
                            focus_soon("bot-copy-secret".into());
                        })
                        on_saved=Callback::new(move |saved: Bot| {
                            editing.set(None);
                            status.set(format!("Saved the bot “{}”.", saved.input.name));
                            reload();
                            focus_soon("bot-new".into());
                        })
                        on_cancel=Callback::new(move |()| {
                            editing.set(None);
                            focus_soon("bot-new".into());
                        })
                    />
                }
            })}
        </section>
    }
    .into_any()
}

/// One bot in the table, with its delivery log below it when asked for.
#[component]
fn BotRow(
    bot: Bot,
    index: usize,
    confirming: RwSignal<Option<String>>,
    on_switch: Callback<(Bot, bool)>,
    on_edit: Callback<Bot>,
    on_delete: Callback<Bot>,
) -> impl IntoView {
    let id = bot.id.clone();
    let name = bot.input.name.clone();
    let hidden_name = format!(" “{name}”");
    let enabled = bot.input.enabled;
    let show_log = RwSignal::new(false);
    let log_id = format!("bot-deliveries-{index}");
    let is_confirming = {
        let id = id.clone();
        move || confirming.with(|c| c.as_deref() == Some(id.as_str()))
    };
    let (for_switch, for_edit, for_delete) = (bot.clone(), bot.clone(), bot.clone());
    view! {
        <tr data-testid="bot-row" data-id=id.clone() data-name=name.clone() data-enabled=enabled.to_string()>
            <td>
                <span class="inbox-bot-name">
                    {bot.input.photo_url.clone().map(|url| view! { <img class="inbox-avatar" src=url alt="" referrerpolicy="no-referrer"/> })}
                    <span data-testid="bot-row-name">{name.clone()}</span>
                </span>
            </td>
            <td class="inbox-wrap" data-testid="bot-row-webhook">{bot.input.webhook_url.clone()}</td>
            <td data-testid="bot-row-takes">{takes_label(bot.input.takes)}</td>
            <td><code data-testid="bot-key-prefix">{format!("{}…", bot.api_key_prefix)}</code></td>
            <td>
                <label class="inbox-switch">
                    <input type="checkbox" data-testid="bot-enabled"
                        prop:checked=enabled
                        on:change=move |event| on_switch.run((for_switch.clone(), event_target_checked(&event)))/>
                    {if enabled { "On" } else { "Off" }}
                    <span class="inbox-visually-hidden">{format!(": the bot{hidden_name} takes conversations")}</span>
                </label>
            </td>
            <td class="inbox-row-actions">
                <button type="button" data-testid="bot-show-deliveries"
                    aria-expanded=move || show_log.get().to_string()
                    aria-controls=log_id.clone()
                    on:click=move |_| show_log.update(|shown| *shown = !*shown)>
                    "Delivery log"<span class="inbox-visually-hidden">{hidden_name.clone()}</span>
                </button>
                <button type="button" data-testid="bot-edit" on:click=move |_| on_edit.run(for_edit.clone())>
                    "Edit"<span class="inbox-visually-hidden">{hidden_name.clone()}</span>
                </button>
                <button type="button" id=format!("bot-delete-{index}") data-testid="bot-delete"
                    on:click={let id = id.clone(); move |_| {
                        confirming.set(Some(id.clone()));
                        focus_soon("bot-delete-confirm".into());
                    }}>
                    "Delete"<span class="inbox-visually-hidden">{hidden_name.clone()}</span>
                </button>
            </td>
        </tr>
        <Show when=is_confirming>
            <tr>
                <td colspan="6">
                    <div class="inbox-notice" role="group" aria-labelledby="bot-delete-question" data-testid="bot-delete-confirmation">
                        <p id="bot-delete-question">{format!("Delete the bot “{}”? Its API key stops working at once.", for_delete.input.name)}</p>
                        <div class="inbox-row-actions">
                            <button type="button" id="bot-delete-confirm" data-testid="bot-delete-confirm"
                                on:click={let bot = for_delete.clone(); move |_| on_delete.run(bot.clone())}>
                                "Delete"
                            </button>
                            <button type="button" data-testid="bot-delete-cancel"
                                on:click=move |_| {
                                    confirming.set(None);
                                    focus_soon(format!("bot-delete-{index}"));
                                }>
                                "Keep it"
                            </button>
                        </div>
                    </div>
                </td>
            </tr>
        </Show>
        <tr id=log_id hidden=move || !show_log.get()>
            <td colspan="6">
                {move || show_log.get().then(|| view! { <DeliveryLog bot_id=id.clone() bot_name=name.clone()/> })}
            </td>
        </tr>
    }
    .into_any()
}

/// A bot's webhook deliveries, newest first, fetched when shown and on "Refresh".
#[component]
pub fn DeliveryLog(bot_id: String, bot_name: String) -> impl IntoView {
    let auth = expect_context::<Auth>();
    let deliveries = RwSignal::new(None::<Vec<WebhookDelivery>>);
    let problem = RwSignal::new(None::<String>);
    let loading = RwSignal::new(false);
    let refresh = move || {
        problem.set(None);
        loading.set(true);
        let id = bot_id.clone();
        let request = async move {
            let answer = ApiClient.bot_deliveries(&id).await;
            loading.set(false);
            answer
        };
        auth.call(request, problem, move |list| {
            deliveries.set(Some(list.deliveries))
        });
    };
    refresh();
    view! {
        <div class="inbox-deliveries" data-testid="bot-deliveries" aria-busy=move || loading.get().to_string()>
            <div class="inbox-deliveries-top">
                <h4>{format!("Deliveries to “{bot_name}”")}</h4>
                <button type="button" data-testid="bot-deliveries-refresh"
                    disabled=move || loading.get()
                    on:click={let refresh = refresh.clone(); move |_| refresh()}>
                    "Refresh"
                </button>
            </div>
            <p class="inbox-error" role="alert">{problem}</p>
            {move || deliveries.get().map(|list| if list.is_empty() {
                view! { <p class="inbox-muted" data-testid="bot-deliveries-empty">"No deliveries yet: they appear when visitors write in conversations this bot holds."</p> }.into_any()
            } else {
                view! {
                    <table class="inbox-table">
                        <caption class="inbox-visually-hidden">{format!("Deliveries to {bot_name}, newest first")}</caption>
                        <thead>
                            <tr>
                                <th scope="col">"Created"</th>
                                <th scope="col">"Event"</th>
                                <th scope="col">"Status"</th>
                                <th scope="col">"Attempts"</th>
                                <th scope="col">"Last answer"</th>
                                <th scope="col">"Delivered or next try"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {list.into_iter().map(|delivery| view! { <DeliveryRow delivery/> }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            })}
        </div>
    }
    .into_any()
}

#[component]
pub fn DeliveryRow(delivery: WebhookDelivery) -> impl IntoView {
    let status = match delivery.status {
        DeliveryStatus::Pending => "pending",
        DeliveryStatus::Delivered => "delivered",
        DeliveryStatus::Failed => "failed",
    };
    let last_answer = match (delivery.last_status, &delivery.last_error) {
        (Some(code), Some(error)) => format!("HTTP {code}: {error}"),
        (Some(code), None) => format!("HTTP {code}"),
        (None, Some(error)) => error.clone(),
        (None, None) => "—".into(),
    };
    let when = match (delivery.delivered_at, delivery.next_attempt_at) {
        (Some(at), _) => format!("Delivered {}", local_time(at)),
        (None, Some(at)) if delivery.status == DeliveryStatus::Pending => {
            format!("Next try {}", local_time(at))
        }
        _ => "—".into(),
    };
    view! {
        <tr data-testid="bot-delivery" data-id=delivery.id.clone() data-status=status data-conversation=delivery.conversation_id.clone()>
            <td>{local_time(delivery.created_at)}</td>
            <td>{delivery.event_type.clone()}</td>
            <td data-testid="bot-delivery-status" class=move || if status == "failed" { "inbox-error" } else { "" }>{status}</td>
            <td data-testid="bot-delivery-attempts">{delivery.attempts}</td>
            <td class="inbox-wrap" data-testid="bot-delivery-last">{last_answer}</td>
            <td>{when}</td>
        </tr>
    }
    .into_any()
}

/// The new bot's signing secret and API key: shown this once, each with a copy button.
#[component]
pub fn NewBotSecrets(answer: BotCreated, on_done: Callback<()>) -> impl IntoView {
    let copied = RwSignal::new(String::new());
    let copy = move |what: &'static str, text: String| {
        leptos::task::spawn_local(async move {
            copied.set(if copy_text(&text).await {
                format!("The {what} is copied.")
            } else {
                format!("Copying didn't work here: select the {what} and copy it.")
            });
        });
    };
    let secret = answer.signing_secret.clone();
    let key = answer.api_key.clone();
    view! {
        <div class="inbox-notice" role="region" aria-labelledby="bot-created-heading" data-testid="bot-created">
            <h4 id="bot-created-heading">{format!("The bot “{}” is registered", answer.bot.input.name)}</h4>
            <p><strong>"Copy the signing secret and the API key now: you won't see them again."</strong>" Keep them on your bot's server only, never in a web page."</p>
            <p id="bot-secret-label">"Signing secret (checks the Talk-Signature header of each webhook call)"</p>
            <code class="inbox-secret" aria-labelledby="bot-secret-label" data-testid="bot-secret">{answer.signing_secret.clone()}</code>
            <button type="button" id="bot-copy-secret" data-testid="bot-copy-secret" on:click=move |_| copy("signing secret", secret.clone())>
                "Copy the signing secret"
            </button>
            <p id="bot-key-label">"API key (the bot sends it as X-Api-Key to answer and hand over)"</p>
            <code class="inbox-secret" aria-labelledby="bot-key-label" data-testid="bot-key">{answer.api_key.clone()}</code>
            <button type="button" data-testid="bot-copy-key" on:click=move |_| copy("API key", key.clone())>
                "Copy the API key"
            </button>
            <p class="inbox-muted" role="status" data-testid="bot-copy-status">{copied}</p>
            <button type="button" data-testid="bot-created-done" on:click=move |_| on_done.run(())>
                "I have copied them"
            </button>
        </div>
    }
    .into_any()
}

/// Writes `text` to the clipboard; false where the page may not (no secure context, refused).
async fn copy_text(text: &str) -> bool {
    use js_sys::{Function, Promise, Reflect};
    use wasm_bindgen::JsCast;
    let Some(window) = web_sys::window() else {
        return false;
    };
    // `navigator.clipboard` is missing outside secure contexts: look before calling.
    let Ok(navigator) = Reflect::get(&window, &"navigator".into()) else {
        return false;
    };
    let Ok(clipboard) = Reflect::get(&navigator, &"clipboard".into()) else {
        return false;
    };
    let write = Reflect::get(&clipboard, &"writeText".into())
        .ok()
        .and_then(|write| write.dyn_into::<Function>().ok());
    let Some(write) = write else {
        return false;
    };
    let promise = write
        .call1(&clipboard, &text.into())
        .ok()
        .and_then(|promise| promise.dyn_into::<Promise>().ok());
    match promise {
        Some(promise) => wasm_bindgen_futures::JsFuture::from(promise).await.is_ok(),
        None => false,
    }
}

#[derive(Clone, PartialEq)]
enum SaveState {
    Idle,
    Saving,
    Failed(String),
}

/// Registers a bot (`editing` is `None`) or edits one.
#[component]
pub fn BotForm(
    editing: Option<Bot>,
    on_created: Callback<BotCreated>,
    on_saved: Callback<Bot>,
    on_cancel: Callback<()>,
) -> impl IntoView {
    let auth = expect_context::<Auth>();
    let heading = editing.as_ref().map_or_else(
        || "Register a bot".to_string(),
        |bot| format!("Edit the bot “{}”", bot.input.name),
    );
    let editing_id = editing.as_ref().map(|bot| bot.id.clone());
    let draft = RwSignal::new(
        editing
            .as_ref()
            .map_or_else(BotDraft::default, |bot| BotDraft::from_input(&bot.input)),
    );
    let attempted = RwSignal::new(false);
    let problems = Memo::new(move |_| draft.with(|d| d.to_input().err().unwrap_or_default()));
    // The server's refusal of the webhook's address goes next to that field.
    let webhook_refused = RwSignal::new(None::<String>);
    let error_for = move |field: &'static str| {
        Signal::derive(move || {
            let found = attempted
                .get()
                .then(|| problems.with(|p| problem_for(p, field)))
                .flatten();
            match field {
                "bot-webhook" => found.or_else(|| webhook_refused.get()),
                _ => found,
            }
        })
    };
    let save_state = RwSignal::new(SaveState::Idle);
    let save = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        attempted.set(true);
        webhook_refused.set(None);
        let Ok(input) = draft.with_untracked(BotDraft::to_input) else {
            save_state.set(SaveState::Failed(
                "Fix the fields marked above, then save again.".into(),
            ));
            return;
        };
        save_state.set(SaveState::Saving);
        let id = editing_id.clone();
        leptos::task::spawn_local(async move {
            let failed = match &id {
                Some(id) => match ApiClient.save_bot(id, &input).await {
                    Ok(saved) => {
                        save_state.set(SaveState::Idle);
                        on_saved.run(saved);
                        None
                    }
                    Err(error) => Some(error),
                },
                None => match ApiClient.create_bot(&input).await {
                    Ok(created) => {
                        save_state.set(SaveState::Idle);
                        on_created.run(created);
                        None
                    }
                    Err(error) => Some(error),
                },
            };
            let Some(error) = failed else {
                return;
            };
            if auth.check(&error) {
                return;
            }
            if error.code() == error_code::WEBHOOK_TARGET_REFUSED {
                webhook_refused.set(Some(error.user_message()));
            }
            save_state.set(SaveState::Failed(error.user_message()));
        });
    };
    let text = move |read: fn(&BotDraft) -> String| Signal::derive(move || draft.with(read));
    let edit = move |write: fn(&mut BotDraft, String)| {
        Callback::new(move |value: String| {
            draft.update(|d| write(d, value));
        })
    };
    view! {
        <form class="inbox-bot-form" on:submit=save novalidate=true data-testid="bot-form" aria-labelledby="bot-form-heading">
            <h4 id="bot-form-heading">{heading}</h4>
            <TextField id="bot-name" label="Name" hint="Visitors see it on the bot's messages."
                value=text(|d| d.name.clone())
                on_input=edit(|d, v| d.name = v)
                error=error_for("bot-name")/>
            <TextField id="bot-photo" label="Photo URL" kind="url" hint="An https:// address of an image; leave empty for none."
                value=text(|d| d.photo_url.clone())
                on_input=edit(|d, v| d.photo_url = v)
                error=error_for("bot-photo")/>
            <TextField id="bot-webhook" label="Webhook URL" kind="url"
                hint="Where Talk posts each visitor message, signed. An https:// address on the internet (private addresses only where the server allows them)."
                value=text(|d| d.webhook_url.clone())
                on_input=Callback::new(move |value: String| {
                    webhook_refused.set(None);
                    draft.update(|d| d.webhook_url = value);
                })
                error=error_for("bot-webhook")/>
            <Choice id="bot-takes" label="Which conversations it takes" options=TAKES.as_slice()
                hint="When a conversation starts. The bot hands over to your agents when it wants to."
                value=Signal::derive(move || draft.with(|d| d.takes))
                on_change=Callback::new(move |takes| draft.update(|d| d.takes = takes))/>
            <label class="inbox-switch">
                <input type="checkbox" data-testid="bot-form-enabled"
                    prop:checked=move || draft.with(|d| d.enabled)
                    on:change=move |event| draft.update(|d| d.enabled = event_target_checked(&event))/>
                "On: it takes conversations"
            </label>
            <div class="inbox-save-bar">
                <button type="submit" class="inbox-primary" data-testid="bot-save"
                    disabled=move || save_state.get() == SaveState::Saving>
                    {if editing.is_some() { "Save bot" } else { "Register bot" }}
                </button>
                <button type="button" data-testid="bot-cancel" on:click=move |_| on_cancel.run(())>"Cancel"</button>
                <p class="inbox-muted" role="status" data-testid="bot-save-status">
                    {move || (save_state.get() == SaveState::Saving).then_some("Saving…")}
                </p>
            </div>
            <p class="inbox-error" role="alert" data-testid="bot-form-error">
                {move || match save_state.get() {
                    SaveState::Failed(message) => message,
                    _ => String::new(),
                }}
            </p>
        </form>
    }
    .into_any()
}
