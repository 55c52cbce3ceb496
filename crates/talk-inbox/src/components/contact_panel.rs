use crate::local_time;
use leptos::prelude::*;
use talk_protocol::{Contact, FieldValue, PageView};

fn field_text(value: &FieldValue) -> String {
    match value {
        FieldValue::Text(text) => text.clone(),
        FieldValue::Integer(number) => number.to_string(),
        FieldValue::Number(number) => number.to_string(),
        FieldValue::Bool(flag) => if *flag { "yes" } else { "no" }.to_string(),
    }
}

/// Page views newest first, whatever order they came in.
pub fn newest_first(mut views: Vec<PageView>) -> Vec<PageView> {
    views.sort_by_key(|view| std::cmp::Reverse(view.created_at));
    views
}

/// Who the visitor is (verified or not), the page they are on and the pages they visited;
/// with `start`, a form to write first to the contact's person (a new conversation).
/// Everything here was typed or sent by a visitor's browser: shown as text, and links only
/// for http(s) addresses.
#[component]
pub fn ContactPanel(
    #[prop(into)] contact: Signal<Option<Contact>>,
    #[prop(optional)] start: Option<StartConversation>,
) -> impl IntoView {
    view! {
        <section class="inbox-contact-pane" aria-labelledby="inbox-contact-heading" data-testid="inbox-contact">
            <h2 id="inbox-contact-heading">"Contact"</h2>
            {move || match contact.get() {
                None => view! { <p class="inbox-muted">"Loading…"</p> }.into_any(),
                Some(contact) => {
                    let verified = contact.verified;
                    let fields = contact.person.as_ref().map(|person| {
                        person.fields.iter().map(|(name, value)| (name.clone(), field_text(value))).collect::<Vec<_>>()
                    }).unwrap_or_default();
                    // Unverified: what the visitor typed. The linked person's stored name
                    // would vouch for a claim anyone can make by typing an email.
                    let name = if verified {
                        contact.person.as_ref().and_then(|p| p.name.clone().or_else(|| p.email.clone()))
                    } else {
                        contact.claimed.as_ref().and_then(|c| c.name.clone().or_else(|| c.email.clone()))
                    };
                    let person_id = contact.person.as_ref().map(|person| person.id.clone());
                    let current = contact.current_page.clone();
                    let views = newest_first(contact.page_views.clone());
                    view! {
                        <p class="inbox-contact-name" data-testid="inbox-contact-name">{name.unwrap_or_else(|| "Unidentified visitor".into())}</p>
                        <p
                            class=if verified { "inbox-verified" } else { "inbox-unverified" }
                            data-testid="inbox-contact-verified"
                            data-verified=verified.to_string()
                        >
                            {if verified { "Verified" } else { "Not verified" }}
                        </p>
                        <Show when={let empty = fields.is_empty(); move || !empty}>
                            <dl class="inbox-fields" data-testid="inbox-contact-fields">
                                {fields.iter().map(|(name, value)| view! { <dt>{name.clone()}</dt><dd>{value.clone()}</dd> }).collect_view()}
                            </dl>
                        </Show>
                        {person_id.zip(start).map(|(person_id, start)| view! { <StartConversationForm person_id start/> })}
                        <h3>"Current page"</h3>
                        {match current {
                            Some(page) => view! { <p data-testid="inbox-current-page"><PageLink page/></p> }.into_any(),
                            None => view! { <p class="inbox-muted">"Unknown"</p> }.into_any(),
                        }}
                        <h3>"Browsing history"</h3>
                        <ol class="inbox-page-views" data-testid="inbox-page-views">
                            {views.into_iter().map(|page| view! {
                                <li data-testid="inbox-page-view" data-url=page.url.clone()>
                                    <PageLink page=page.clone()/>
                                    <span class="inbox-muted">" · "{local_time(page.created_at)}</span>
                                </li>
                            }).collect_view()}
                        </ol>
                    }.into_any()
                }
            }}
        </section>
    }
}

#[component]
fn PageLink(page: PageView) -> impl IntoView {
    let label = page
        .title
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| page.url.clone());
    let safe = page.url.starts_with("https://") || page.url.starts_with("http://");
    if safe {
        view! { <a href=page.url target="_blank" rel="noopener noreferrer">{label}</a> }.into_any()
    } else {
        view! { <span>{label}</span> }.into_any()
    }
}

/// Writing first to a known person, from the contact panel: the inbox's side of
/// `POST /v1/agent/people/{id}/conversations`.
#[derive(Clone, Copy)]
pub struct StartConversation {
    /// Sends `(person id, message)`; how it went shows in `busy` and `error` (on success the
    /// inbox opens the new conversation).
    pub send: Callback<(String, String)>,
    pub busy: Signal<bool>,
    pub error: Signal<Option<String>>,
}

/// "New conversation": a message to the person, and Send. Enter sends, Shift+Enter starts a
/// new line. A blank or too long message is refused here, before anything is sent.
#[component]
fn StartConversationForm(person_id: String, start: StartConversation) -> impl IntoView {
    let text = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<&'static str>);
    let send = move || {
        if start.busy.get_untracked() {
            return;
        }
        let body = text.get_untracked().trim().to_string();
        let refused = if body.is_empty() {
            Some("Write a message first.")
        } else if body.len() > talk_protocol::MAX_MESSAGE_BYTES {
            Some("The message is too long.")
        } else {
            None
        };
        problem.set(refused);
        if refused.is_none() {
            start.send.run((person_id.clone(), body));
        }
    };
    let send_on_submit = send.clone();
    let error = move || {
        problem
            .get()
            .map(str::to_string)
            .or_else(|| start.error.get())
            .unwrap_or_default()
    };
    view! {
        <section class="inbox-contact-start" data-testid="contact-start" aria-labelledby="contact-start-heading">
            <h3 id="contact-start-heading">"New conversation"</h3>
            <form
                on:submit=move |event| {
                    event.prevent_default();
                    send_on_submit();
                }
            >
                <label for="contact-start-body">"Message this person"</label>
                <p id="contact-start-hint" class="inbox-hint">
                    "Shown in the chat on their next visit, and at once if they are on the site."
                </p>
                <textarea
                    id="contact-start-body"
                    rows="3"
                    data-testid="contact-start-body"
                    aria-describedby="contact-start-hint contact-start-error"
                    aria-invalid=move || problem.with(Option::is_some).to_string()
                    prop:value=text
                    on:input=move |event| {
                        problem.set(None);
                        text.set(event_target_value(&event));
                    }
                    on:keydown=move |event: leptos::ev::KeyboardEvent| {
                        if event.key() == "Enter" && !event.shift_key() && !event.is_composing() {
                            event.prevent_default();
                            send();
                        }
                    }
                ></textarea>
                <button
                    type="submit"
                    class="inbox-primary"
                    data-testid="contact-start-send"
                    disabled=move || start.busy.get()
                >
                    {move || if start.busy.get() { "Sending…" } else { "Send" }}
                </button>
                <p id="contact-start-error" class="inbox-error" role="alert" data-testid="contact-start-error">{error}</p>
            </form>
        </section>
    }
}
