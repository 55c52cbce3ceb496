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

/// A labelled `<select>` of fixed options. `id` is also its test id; each option's value is
/// its index.
#[component]
pub fn Choice<T>(
    #[prop(into)] id: String,
    #[prop(into)] label: String,
    options: &'static [(T, &'static str)],
    #[prop(into)] value: Signal<T>,
    on_change: Callback<T>,
    #[prop(optional)] hint: Option<&'static str>,
) -> impl IntoView
where
    T: Copy + PartialEq + Send + Sync + 'static,
{
    let hint_id = format!("{id}-hint");
    view! {
        <div class="inbox-field">
            <label for=id.clone()>{label}</label>
            <select
                id=id.clone()
                data-testid=id
                aria-describedby=hint.map(|_| hint_id.clone())
                // The options' `selected` picks the first choice; this keeps a reused select
                // (a list row rebuilt after a removal) showing its new value.
                prop:value=move || {
                    let now = value.get();
                    options.iter().position(|(option, _)| *option == now).unwrap_or(0).to_string()
                }
                on:change=move |event| {
                    if let Some((option, _)) = event_target_value(&event)
                        .parse::<usize>()
                        .ok()
                        .and_then(|index| options.get(index))
                    {
                        on_change.run(*option);
                    }
                }
            >
                {options
                    .iter()
                    .enumerate()
                    .map(|(index, (option, text))| {
                        let option = *option;
                        view! { <option value=index.to_string() selected=move || value.get() == option>{*text}</option> }
                    })
                    .collect_view()}
            </select>
            {hint.map(|hint| view! { <p class="inbox-hint" id=hint_id.clone()>{hint}</p> })}
        </div>
    }
}

/// Moves the keyboard focus to the element with this id once the view has caught up (a form
/// that just opened, a button whose row just moved).
pub fn focus_soon(id: String) {
    leptos::task::spawn_local(async move {
        leptos::task::tick().await;
        let element = web_sys::window()
            .and_then(|window| window.document())
            .and_then(|document| document.get_element_by_id(&id));
        if let Some(element) = element {
            use wasm_bindgen::JsCast;
            let _ = element.unchecked_into::<web_sys::HtmlElement>().focus();
        }
    });
}
