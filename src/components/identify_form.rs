use super::dom::{el, when, View};
use super::erased::Fresh;
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
) -> Fresh {
    identify_form(names_required, busy, server_error, on_submit).fresh()
}

pub(super) fn identify_form(
    names_required: Signal<bool>,
    busy: Signal<bool>,
    server_error: RwSignal<Option<String>>,
    on_submit: Callback<IdentifyRequest>,
) -> View {
    let texts = use_texts();
    let email = RwSignal::new(String::new());
    let first_name = RwSignal::new(String::new());
    let last_name = RwSignal::new(String::new());
    // Each field's error, empty when there is none (every message has words): signals of
    // the fields' own type, not a `Vec<FieldError>` signal and a signal derived per field.
    let email_error = RwSignal::new(String::new());
    let first_error = RwSignal::new(String::new());
    let last_error = RwSignal::new(String::new());

    let submit = move |event: web_sys::Event| {
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

    el("form")
        .class("talk-identify")
        .testid("talk-identify-form")
        .attr("novalidate", "")
        .on("submit", submit)
        .child(
            el("p")
                .class("talk-identify-intro")
                .text(texts.identify_intro),
        )
        .child(when(
            move || names_required.get(),
            move || {
                el("div")
                    .class("talk-field-row")
                    .child(field(
                        "talk-first-name",
                        texts.first_name,
                        "text",
                        "given-name",
                        first_name,
                        first_error,
                    ))
                    .child(field(
                        "talk-last-name",
                        texts.last_name,
                        "text",
                        "family-name",
                        last_name,
                        last_error,
                    ))
            },
        ))
        .child(field(
            "talk-email",
            texts.email,
            "email",
            "email",
            email,
            email_error,
        ))
        .child(when(
            move || server_error.with(Option::is_some),
            move || {
                el("p")
                    .class("talk-form-error")
                    .attr("role", "alert")
                    .testid("talk-identify-error")
                    .text_with(move || server_error.get().unwrap_or_default())
            },
        ))
        .child(
            el("button")
                .attr("type", "submit")
                .class("talk-button")
                .testid("talk-identify-submit")
                .attr_text("aria-disabled", move || busy.get().to_string())
                .text_with(move || {
                    if busy.get() {
                        texts.starting
                    } else {
                        texts.start_conversation
                    }
                    .to_string()
                }),
        )
}

fn field(
    id: &'static str,
    label: &'static str,
    kind: &'static str,
    autocomplete: &'static str,
    value: RwSignal<String>,
    // The field's error; empty when there is none.
    error: RwSignal<String>,
) -> View {
    let error_id = [id, "-error"].concat();
    let described_by = error_id.clone();
    el("div")
        .class("talk-field")
        .child(el("label").attr("for", id).text(label))
        .child(
            el("input")
                .attr("id", id)
                .attr("type", kind)
                .attr("autocomplete", autocomplete)
                .testid(id)
                .attr_text("aria-invalid", move || {
                    (!error.with(String::is_empty)).to_string()
                })
                .attr_with("aria-describedby", move || {
                    (!error.with(String::is_empty)).then(|| described_by.clone())
                })
                .prop_with("value", move || value.get().into())
                .on("input", move |event| value.set(event_target_value(&event))),
        )
        .child(when(
            move || !error.with(String::is_empty),
            move || {
                el("p")
                    .class("talk-field-error")
                    .attr("id", &error_id)
                    .testid(&error_id)
                    .text_with(move || error.get())
            },
        ))
}
