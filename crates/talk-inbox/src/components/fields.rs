use leptos::prelude::*;

/// A labelled text input with its error below it. `id` is also its test id; the error's test
/// id is `{id}-error`.
#[component]
pub fn TextField(
    id: &'static str,
    label: &'static str,
    #[prop(into)] value: Signal<String>,
    on_input: Callback<String>,
    #[prop(into)] error: Signal<Option<String>>,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(default = "text")] kind: &'static str,
    /// What a password manager may fill in (`username`, `current-password`, …).
    #[prop(optional)]
    autocomplete: Option<&'static str>,
) -> impl IntoView {
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described = if hint.is_some() {
        format!("{hint_id} {error_id}")
    } else {
        error_id.clone()
    };
    view! {
        <div class="inbox-field">
            <label for=id>{label}</label>
            <input
                id=id
                type=kind
                autocomplete=autocomplete
                data-testid=id
                aria-describedby=described
                aria-invalid=move || error.with(Option::is_some).to_string()
                prop:value=value
                on:input=move |event| on_input.run(event_target_value(&event))
            />
            {hint.map(|hint| view! { <p class="inbox-hint" id=hint_id.clone()>{hint}</p> })}
            <p class="inbox-field-error" id=error_id.clone() data-testid=error_id>{error}</p>
        </div>
    }
}
