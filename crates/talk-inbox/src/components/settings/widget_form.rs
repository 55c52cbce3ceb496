use crate::api::{ApiClient, Explained};
use crate::components::Auth;
use crate::components::TextField;
use crate::validation::{check_settings, parse_margin, problem_for, Problem};
use leptos::prelude::*;
use talk_protocol::{
    Appearance, LauncherIcon, LauncherPosition, QuickLink, WidgetSettings, MAX_QUICK_LINKS,
};

#[derive(Clone, PartialEq)]
enum SaveState {
    Idle,
    Saving,
    Saved,
    Failed(String),
}

/// The widget's settings, edited in `draft` (which the preview shows as it changes) and saved
/// whole with `PUT /v1/admin/widget-settings`.
#[component]
pub fn WidgetSettingsForm(draft: RwSignal<WidgetSettings>) -> impl IntoView {
    let auth = expect_context::<Auth>();
    let horizontal =
        RwSignal::new(draft.with_untracked(|s| s.launcher.horizontal_margin.to_string()));
    let vertical = RwSignal::new(draft.with_untracked(|s| s.launcher.vertical_margin.to_string()));
    // Problems show once a save was tried, then follow every change.
    let attempted = RwSignal::new(false);
    let problems = Memo::new(move |_| {
        let mut found = draft.with(check_settings);
        for (field, text) in [
            ("settings-margin-x", horizontal),
            ("settings-margin-y", vertical),
        ] {
            if let Err(message) = parse_margin(&text.get()) {
                found.push(Problem {
                    field: field.into(),
                    message,
                });
            }
        }
        found
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
    // A margin's text is kept as typed; the draft takes it once it parses.
    let margin_input = move |text: RwSignal<String>, apply: fn(&mut WidgetSettings, u16)| {
        Callback::new(move |typed: String| {
            if let Ok(margin) = parse_margin(&typed) {
                draft.update(|settings| apply(settings, margin));
            }
            text.set(typed);
        })
    };
    let save_state = RwSignal::new(SaveState::Idle);
    // "Saved" holds while the form still equals what was saved.
    let last_saved = RwSignal::new(None::<WidgetSettings>);
    let save = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        attempted.set(true);
        if !problems.with_untracked(Vec::is_empty) {
            save_state.set(SaveState::Failed(
                "Fix the fields marked below, then save again.".into(),
            ));
            return;
        }
        save_state.set(SaveState::Saving);
        let settings = draft.get_untracked();
        leptos::task::spawn_local(async move {
            match ApiClient.save_widget_settings(&settings).await {
                Ok(stored) => {
                    // The server normalises (trims, lowercases colours): show what it kept.
                    if draft.with_untracked(|current| *current != stored) {
                        draft.set(stored.clone());
                    }
                    last_saved.set(Some(stored));
                    save_state.set(SaveState::Saved);
                }
                Err(error) => {
                    if !auth.check(&error) {
                        save_state.set(SaveState::Failed(error.user_message()));
                    }
                }
            }
        });
    };

    let text = move |read: fn(&WidgetSettings) -> String| Signal::derive(move || draft.with(read));
    let edit = move |write: fn(&mut WidgetSettings, String)| {
        Callback::new(move |value: String| draft.update(|s| write(s, value)))
    };

    view! {
        <form class="inbox-settings-form" on:submit=save novalidate=true data-testid="settings-form">
            <section class="inbox-card" aria-labelledby="settings-status-heading">
                <h3 id="settings-status-heading">"Widget"</h3>
                <label class="inbox-switch">
                    <input
                        type="checkbox"
                        data-testid="settings-enabled"
                        prop:checked=move || draft.with(|s| s.enabled)
                        on:change=move |event| draft.update(|s| s.enabled = event_target_checked(&event))
                    />
                    {move || if draft.with(|s| s.enabled) { "ON: the widget shows on every page with the tracking code" } else { "OFF: no page shows the widget" }}
                </label>
            </section>

            <section class="inbox-card" aria-labelledby="settings-homepage-heading">
                <h3 id="settings-homepage-heading">"Homepage"</h3>
                <TextField id="settings-logo-url" label="Logo URL" hint="An https:// address of an image; leave empty for none."
                    value=text(|s| s.homepage.logo_url.clone().unwrap_or_default())
                    on_input=edit(|s, v| s.homepage.logo_url = Some(v))
                    error=error_for("settings-logo-url".into())/>
                <div class="inbox-colour-row">
                    <TextField id="settings-brand-color" label="Brand colour" hint="Like #1f6feb."
                        value=text(|s| s.homepage.brand_color.clone())
                        on_input=edit(|s, v| s.homepage.brand_color = v)
                        error=error_for("settings-brand-color".into())/>
                    <ColourPicker label="Pick the brand colour" value=text(|s| s.homepage.brand_color.clone()) on_input=edit(|s, v| s.homepage.brand_color = v)/>
                </div>
                <div class="inbox-colour-row">
                    <TextField id="settings-text-color" label="Text colour on the brand colour" hint="Like #ffffff."
                        value=text(|s| s.homepage.text_color.clone())
                        on_input=edit(|s, v| s.homepage.text_color = v)
                        error=error_for("settings-text-color".into())/>
                    <ColourPicker label="Pick the text colour" value=text(|s| s.homepage.text_color.clone()) on_input=edit(|s, v| s.homepage.text_color = v)/>
                </div>
                <TextField id="settings-font-family" label="Font family" hint="A CSS font list, like Inter, sans-serif."
                    value=text(|s| s.homepage.font_family.clone())
                    on_input=edit(|s, v| s.homepage.font_family = v)
                    error=error_for("settings-font-family".into())/>
                <div class="inbox-field">
                    <label for="settings-appearance">"Appearance"</label>
                    <select id="settings-appearance" data-testid="settings-appearance"
                        on:change=move |event| {
                            let appearance = match event_target_value(&event).as_str() {
                                "light" => Appearance::Light,
                                "dark" => Appearance::Dark,
                                _ => Appearance::Auto,
                            };
                            draft.update(|s| s.homepage.appearance = appearance);
                        }
                    >
                        <option value="auto" selected=move || draft.with(|s| s.homepage.appearance == Appearance::Auto)>"The visitor's system setting"</option>
                        <option value="light" selected=move || draft.with(|s| s.homepage.appearance == Appearance::Light)>"Light"</option>
                        <option value="dark" selected=move || draft.with(|s| s.homepage.appearance == Appearance::Dark)>"Dark"</option>
                    </select>
                </div>
                <TextField id="settings-bot-name" label="Bot name" hint="Signs the auto-replies."
                    value=text(|s| s.homepage.bot_name.clone())
                    on_input=edit(|s, v| s.homepage.bot_name = v)
                    error=error_for("settings-bot-name".into())/>
                <TextField id="settings-bot-photo-url" label="Bot photo URL" hint="An https:// address of an image; leave empty for none."
                    value=text(|s| s.homepage.bot_photo_url.clone().unwrap_or_default())
                    on_input=edit(|s, v| s.homepage.bot_photo_url = Some(v))
                    error=error_for("settings-bot-photo-url".into())/>
                <TextField id="settings-greeting" label="Greeting"
                    hint="Merge tags: {{first_name}}, {{last_name}}, {{name}}, with a fallback like {{first_name|there}}."
                    value=text(|s| s.homepage.greeting.clone())
                    on_input=edit(|s, v| s.homepage.greeting = v)
                    error=error_for("settings-greeting".into())/>
                <QuickLinks draft error_for/>
            </section>

            <section class="inbox-card" aria-labelledby="settings-launcher-heading">
                <h3 id="settings-launcher-heading">"Launcher"</h3>
                <div class="inbox-field">
                    <label for="settings-launcher-icon">"Icon"</label>
                    <select id="settings-launcher-icon" data-testid="settings-launcher-icon"
                        on:change=move |event| {
                            let icon = match event_target_value(&event).as_str() {
                                "chat" => LauncherIcon::Chat,
                                "question" => LauncherIcon::Question,
                                "custom" => LauncherIcon::Custom { url: String::new() },
                                _ => LauncherIcon::Default,
                            };
                            draft.update(|s| s.launcher.icon = icon);
                        }
                    >
                        {[("default", "Default"), ("chat", "Chat bubble"), ("question", "Question mark"), ("custom", "Custom image")]
                            .into_iter()
                            .map(|(value, label)| view! {
                                <option value=value selected=move || draft.with(|s| icon_kind(&s.launcher.icon) == value)>{label}</option>
                            })
                            .collect_view()}
                    </select>
                </div>
                <Show when=move || draft.with(|s| matches!(s.launcher.icon, LauncherIcon::Custom { .. }))>
                    <TextField id="settings-launcher-icon-url" label="Custom icon URL"
                        value=text(|s| match &s.launcher.icon { LauncherIcon::Custom { url } => url.clone(), _ => String::new() })
                        on_input=edit(|s, v| s.launcher.icon = LauncherIcon::Custom { url: v })
                        error=error_for("settings-launcher-icon-url".into())/>
                </Show>
                <fieldset class="inbox-field">
                    <legend>"Position"</legend>
                    <label>
                        <input type="radio" name="settings-position" data-testid="settings-position-right"
                            prop:checked=move || draft.with(|s| s.launcher.position == LauncherPosition::Right)
                            on:change=move |_| draft.update(|s| s.launcher.position = LauncherPosition::Right)/>
                        "Bottom right"
                    </label>
                    <label>
                        <input type="radio" name="settings-position" data-testid="settings-position-left"
                            prop:checked=move || draft.with(|s| s.launcher.position == LauncherPosition::Left)
                            on:change=move |_| draft.update(|s| s.launcher.position = LauncherPosition::Left)/>
                        "Bottom left"
                    </label>
                </fieldset>
                <TextField id="settings-margin-x" label="Margin from the side (px)" kind="number"
                    value=horizontal
                    on_input=margin_input(horizontal, |s, margin| s.launcher.horizontal_margin = margin)
                    error=error_for("settings-margin-x".into())/>
                <TextField id="settings-margin-y" label="Margin from the bottom (px)" kind="number"
                    value=vertical
                    on_input=margin_input(vertical, |s, margin| s.launcher.vertical_margin = margin)
                    error=error_for("settings-margin-y".into())/>
            </section>

            <section class="inbox-card" aria-labelledby="settings-visitors-heading">
                <h3 id="settings-visitors-heading">"Unidentified visitors"</h3>
                <fieldset class="inbox-field">
                    <legend>"Before a conversation starts, ask for"</legend>
                    <label>
                        <input type="radio" name="settings-identity" data-testid="settings-email-only"
                            prop:checked=move || draft.with(|s| !s.names_required)
                            on:change=move |_| draft.update(|s| s.names_required = false)/>
                        "Email address only"
                    </label>
                    <label>
                        <input type="radio" name="settings-identity" data-testid="settings-names-required"
                            prop:checked=move || draft.with(|s| s.names_required)
                            on:change=move |_| draft.update(|s| s.names_required = true)/>
                        "Email address, first and last name"
                    </label>
                </fieldset>
            </section>

            <section class="inbox-card" aria-labelledby="settings-voice-heading">
                <h3 id="settings-voice-heading">"Voice calls"</h3>
                <label class="inbox-switch">
                    <input
                        type="checkbox"
                        data-testid="settings-voice"
                        prop:checked=move || draft.with(|s| s.voice)
                        on:change=move |event| draft.update(|s| s.voice = event_target_checked(&event))
                    />
                    {move || if draft.with(|s| s.voice) {
                        "ON: visitors can call while an agent is online, and agents can call visitors"
                    } else {
                        "OFF: no calls"
                    }}
                </label>
            </section>

            <section class="inbox-card" aria-labelledby="settings-times-heading">
                <h3 id="settings-times-heading">"Response times"</h3>
                <TextField id="settings-response-online" label="While your team is online"
                    value=text(|s| s.response_times.online.clone())
                    on_input=edit(|s, v| s.response_times.online = v)
                    error=error_for("settings-response-online".into())/>
                <TextField id="settings-response-away" label="While your team is away"
                    value=text(|s| s.response_times.away.clone())
                    on_input=edit(|s, v| s.response_times.away = v)
                    error=error_for("settings-response-away".into())/>
            </section>

            <div class="inbox-save-bar">
                <button type="submit" class="inbox-primary" data-testid="settings-save"
                    disabled=move || save_state.get() == SaveState::Saving>
                    "Save"
                </button>
                <p data-testid="settings-save-status" role="status" class=move || match save_state.get() {
                    SaveState::Failed(_) => "inbox-error",
                    _ => "inbox-muted",
                }>
                    {move || match save_state.get() {
                        SaveState::Idle => String::new(),
                        SaveState::Saving => "Saving…".into(),
                        SaveState::Saved if draft.with(|d| last_saved.with(|saved| saved.as_ref() == Some(d))) => {
                            "Saved. Visitors see the changes on their next page load.".into()
                        }
                        SaveState::Saved => "Unsaved changes.".into(),
                        SaveState::Failed(message) => message,
                    }}
                </p>
            </div>
        </form>
    }
}

fn icon_kind(icon: &LauncherIcon) -> &'static str {
    match icon {
        LauncherIcon::Default => "default",
        LauncherIcon::Chat => "chat",
        LauncherIcon::Question => "question",
        LauncherIcon::Custom { .. } => "custom",
    }
}

#[component]
fn ColourPicker(
    label: &'static str,
    value: Signal<String>,
    on_input: Callback<String>,
) -> impl IntoView {
    view! {
        <input
            type="color"
            class="inbox-colour-picker"
            aria-label=label
            prop:value=move || {
                let value = value.get();
                if crate::validation::is_hex_colour(&value) { value.to_ascii_lowercase() } else { "#000000".into() }
            }
            on:input=move |event| on_input.run(event_target_value(&event))
        />
    }
}

/// Quick links on the homepage: added, removed and reordered.
#[component]
fn QuickLinks(
    draft: RwSignal<WidgetSettings>,
    error_for: impl Fn(String) -> Signal<Option<String>> + Copy + Send + Sync + 'static,
) -> impl IntoView {
    // A memo: the rows are rebuilt when links are added or removed, not on every keystroke.
    let count = Memo::new(move |_| draft.with(|s| s.homepage.quick_links.len()));
    let move_link = move |from: usize, to: usize| {
        draft.update(|s| {
            let links = &mut s.homepage.quick_links;
            if from < links.len() && to < links.len() {
                links.swap(from, to);
            }
        })
    };
    view! {
        <fieldset class="inbox-quick-links" data-testid="settings-quick-links">
            <legend>"Quick links"</legend>
            <ol>
                {move || (0..count.get()).map(|index| {
                    let label_id = format!("settings-quick-link-label-{index}");
                    let url_id = format!("settings-quick-link-url-{index}");
                    let label_error = error_for(label_id.clone());
                    let url_error = error_for(url_id.clone());
                    let label_error_id = format!("{label_id}-error");
                    let url_error_id = format!("{url_id}-error");
                    view! {
                        <li class="inbox-quick-link" data-testid="settings-quick-link">
                            <label for=label_id.clone()>{format!("Link {} label", index + 1)}</label>
                            <input id=label_id.clone() data-testid=label_id type="text" aria-describedby=label_error_id.clone()
                                prop:value=move || draft.with(|s| s.homepage.quick_links.get(index).map(|l| l.label.clone()).unwrap_or_default())
                                on:input=move |event| {
                                    let value = event_target_value(&event);
                                    draft.update(|s| if let Some(link) = s.homepage.quick_links.get_mut(index) { link.label = value; });
                                }/>
                            <p class="inbox-field-error" id=label_error_id.clone() data-testid=label_error_id>{label_error}</p>
                            <label for=url_id.clone()>{format!("Link {} address", index + 1)}</label>
                            <input id=url_id.clone() data-testid=url_id type="url" aria-describedby=url_error_id.clone()
                                prop:value=move || draft.with(|s| s.homepage.quick_links.get(index).map(|l| l.url.clone()).unwrap_or_default())
                                on:input=move |event| {
                                    let value = event_target_value(&event);
                                    draft.update(|s| if let Some(link) = s.homepage.quick_links.get_mut(index) { link.url = value; });
                                }/>
                            <p class="inbox-field-error" id=url_error_id.clone() data-testid=url_error_id>{url_error}</p>
                            <div class="inbox-row-actions">
                                <button type="button" data-testid=format!("settings-quick-link-up-{index}")
                                    disabled=index == 0
                                    on:click=move |_| move_link(index, index.saturating_sub(1))>
                                    "Move up"<span class="inbox-visually-hidden">{format!(" link {}", index + 1)}</span>
                                </button>
                                <button type="button" data-testid=format!("settings-quick-link-down-{index}")
                                    disabled=move || { index + 1 >= count.get() }
                                    on:click=move |_| move_link(index, index + 1)>
                                    "Move down"<span class="inbox-visually-hidden">{format!(" link {}", index + 1)}</span>
                                </button>
                                <button type="button" data-testid=format!("settings-quick-link-remove-{index}")
                                    on:click=move |_| draft.update(|s| { if index < s.homepage.quick_links.len() { s.homepage.quick_links.remove(index); } })>
                                    "Remove"<span class="inbox-visually-hidden">{format!(" link {}", index + 1)}</span>
                                </button>
                            </div>
                        </li>
                    }
                }).collect_view()}
            </ol>
            <button type="button" data-testid="settings-quick-link-add"
                disabled=move || { count.get() >= MAX_QUICK_LINKS }
                on:click=move |_| draft.update(|s| s.homepage.quick_links.push(QuickLink { label: String::new(), url: "https://".into() }))>
                "Add a quick link"
            </button>
            <p class="inbox-field-error" data-testid="settings-quick-links-error">{error_for("settings-quick-links".into())}</p>
        </fieldset>
    }
}
