use super::dom::{el, event_value, when, Flag, Handler, View};
use crate::i18n::use_texts;
use crate::validation::{check_identity, FieldError};
use crate::var::Var;
use reactive_graph::graph::untrack;
use talk_browser::text::concat;
use talk_protocol::IdentifyRequest;

/// Asks an unidentified visitor for an email (and names, when the workspace wants them).
/// `busy` is raised by the owner as soon as a submit is accepted, so a double click sends once.
pub fn identify_form(
    names_required: Flag,
    busy: Flag,
    server_error: Var<Option<String>>,
    on_submit: Handler<IdentifyRequest>,
) -> View {
    let texts = use_texts();
    let email = Var::new(String::new());
    let first_name = Var::new(String::new());
    let last_name = Var::new(String::new());
    // Each field's error, empty when there is none (every message has words): signals of
    // the fields' own type, not a `Vec<FieldError>` signal and a signal derived per field.
    let email_error = Var::new(String::new());
    let first_error = Var::new(String::new());
    let last_error = Var::new(String::new());

    let submit = {
        let (busy, names_required) = (busy.clone(), names_required.clone());
        move |event: web_sys::Event| {
            event.prevent_default();
            if untrack(|| busy()) {
                return;
            }
            let names = untrack(|| names_required());
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
                let name = |value: Var<String>| {
                    Some(value.get_untracked().trim().to_string()).filter(|_| names)
                };
                on_submit(IdentifyRequest {
                    email: email.get_untracked().trim().to_string(),
                    first_name: name(first_name),
                    last_name: name(last_name),
                });
            }
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
            move || names_required(),
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
                .attr_text("aria-disabled", {
                    let busy = busy.clone();
                    move || busy().to_string()
                })
                .text_with(move || {
                    if busy() {
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
    value: Var<String>,
    // The field's error; empty when there is none.
    error: Var<String>,
) -> View {
    let error_id = concat(&[id, "-error"]);
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
                .on("input", move |event| value.set(event_value(&event))),
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
