use super::erased::{text, when, IntoFresh};
use crate::i18n::use_texts;
use crate::validation::{check_identity, FieldError};
use leptos::prelude::*;
use talk_protocol::IdentifyRequest;

/// Asks an unidentified visitor for an email (and names, when the workspace wants them).
/// `busy` is raised by the owner as soon as a submit is accepted, so a double click sends once.
#[component]
pub fn IdentifyForm(
    #[prop(into)] names_required: Signal<bool>,
    #[prop(into)] busy: Signal<bool>,
    /// The messenger's own signal: a `Signal<Option<String>>` would be reactive_graph's
    /// code once more for that type.
    server_error: RwSignal<Option<String>>,
    on_submit: Callback<IdentifyRequest>,
) -> impl IntoView {
    let texts = use_texts();
    let email = RwSignal::new(String::new());
    let first_name = RwSignal::new(String::new());
    let last_name = RwSignal::new(String::new());
    // Each field's error, empty when there is none (every message has words): signals of
    // the fields' own type, not a `Vec<FieldError>` signal and a signal derived per field.
    let email_error = RwSignal::new(String::new());
    let first_error = RwSignal::new(String::new());
    let last_error = RwSignal::new(String::new());

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let names = names_required.get_untracked();
        let found = check_identity(
            &email.get_untracked(),
            &first_name.get_untracked(),
            &last_name.get_untracked(),
            names,
        );
        let valid = found.is_empty();
        let error_for = |fields: &[FieldError]| {
            found
                .iter()
                .find(|error| fields.contains(error))
                .map(|error| error.text(texts).to_string())
                .unwrap_or_default()
        };
        email_error.set(error_for(&[
            FieldError::EmailMissing,
            FieldError::EmailInvalid,
        ]));
        first_error.set(error_for(&[FieldError::FirstNameMissing]));
        last_error.set(error_for(&[FieldError::LastNameMissing]));
        if valid {
            let name = |value: RwSignal<String>| {
                Some(value.get_untracked().trim().to_string()).filter(|_| names)
            };
            on_submit.run(IdentifyRequest {
                email: email.get_untracked().trim().to_string(),
                first_name: name(first_name),
                last_name: name(last_name),
            });
        }
    };

    view! {
        <form class="talk-identify" data-testid="talk-identify-form" novalidate on:submit=submit>
            <p class="talk-identify-intro">{texts.identify_intro}</p>
            {when(move || names_required.get(), move || view! {
                <div class="talk-field-row">
                    <Field
                        id="talk-first-name"
                        label=texts.first_name
                        kind="text"
                        autocomplete="given-name"
                        value=first_name
                        error=first_error
                    />
                    <Field
                        id="talk-last-name"
                        label=texts.last_name
                        kind="text"
                        autocomplete="family-name"
                        value=last_name
                        error=last_error
                    />
                </div>
            }.fresh())}
            <Field
                id="talk-email"
                label=texts.email
                kind="email"
                autocomplete="email"
                value=email
                error=email_error
            />
            {when(move || server_error.with(Option::is_some), move || view! {
                <p class="talk-form-error" role="alert" data-testid="talk-identify-error">
                    {text(move || server_error.get().unwrap_or_default())}
                </p>
            }.fresh())}
            <button
                type="submit"
                class="talk-button"
                data-testid="talk-identify-submit"
                aria-disabled=text(move || busy.get().to_string())
            >
                {text(move || {
                    if busy.get() { texts.starting } else { texts.start_conversation }.to_string()
                })}
            </button>
        </form>
    }
}

#[component]
fn Field(
    id: &'static str,
    label: &'static str,
    kind: &'static str,
    autocomplete: &'static str,
    value: RwSignal<String>,
    /// The field's error; empty when there is none.
    error: RwSignal<String>,
) -> impl IntoView {
    let error_id = format!("{id}-error");
    let described_by = error_id.clone();
    view! {
        <div class="talk-field">
            <label for=id>{label}</label>
            <input
                id=id
                type=kind
                autocomplete=autocomplete
                data-testid=id
                aria-invalid=text(move || (!error.with(String::is_empty)).to_string())
                aria-describedby=move || (!error.with(String::is_empty)).then(|| described_by.clone())
                prop:value=value
                on:input=move |event| value.set(event_target_value(&event))
            />
            {when(move || !error.with(String::is_empty), move || view! {
                <p class="talk-field-error" id=error_id.clone() data-testid=error_id.clone()>
                    {text(move || error.get())}
                </p>
            }.fresh())}
        </div>
    }
}
