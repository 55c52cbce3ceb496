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

/// Who the visitor is (verified or not), the page they are on and the pages they visited.
/// Everything here was typed or sent by a visitor's browser: shown as text, and links only
/// for http(s) addresses.
#[component]
pub fn ContactPanel(#[prop(into)] contact: Signal<Option<Contact>>) -> impl IntoView {
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
