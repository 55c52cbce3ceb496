//! Who and what may use the workspace: allowed origins, API keys, agents.

use crate::api::ApiClient;
use crate::components::Auth;
use crate::components::TextField;
use crate::local_time;
use crate::validation::{check_new_agent, parse_origins, problem_for, Problem};
use leptos::prelude::*;
use talk_protocol::{AgentProfile, AgentRole, AllowedOrigins, ApiKeyInfo, NewAgentRequest};

/// Origins allowed to start widget sessions, one per line; empty allows every site.
#[component]
pub fn OriginsSection() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let text = RwSignal::new(String::new());
    let problem = RwSignal::new(None::<String>);
    let status = RwSignal::new(String::new());
    auth.call(ApiClient.allowed_origins(), problem, move |list| {
        text.set(list.origins.join("\n"))
    });
    let save = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        status.set(String::new());
        let origins = match parse_origins(&text.get_untracked()) {
            Ok(origins) => origins,
            Err(found) => {
                problem.set(Some(found.message));
                return;
            }
        };
        problem.set(None);
        let origins = AllowedOrigins { origins };
        let request = async move { ApiClient.save_allowed_origins(&origins).await };
        auth.call(request, problem, move |stored| {
            text.set(stored.origins.join("\n"));
            status.set("Saved.".into());
        });
    };
    view! {
        <section class="inbox-card" aria-labelledby="settings-origins-heading">
            <h3 id="settings-origins-heading">"Allowed origins"</h3>
            <form on:submit=save novalidate=true>
                <label for="settings-origins">"Sites that may show the widget, one per line"</label>
                <textarea id="settings-origins" rows="4" data-testid="settings-origins"
                    aria-describedby="settings-origins-hint settings-origins-error"
                    aria-invalid=move || problem.with(Option::is_some).to_string()
                    prop:value=text
                    on:input=move |event| text.set(event_target_value(&event))></textarea>
                <p class="inbox-hint" id="settings-origins-hint">"Like https://www.example.com. Leave empty to allow every site."</p>
                <p class="inbox-field-error" id="settings-origins-error" data-testid="settings-origins-error">{problem}</p>
                <button type="submit" data-testid="settings-origins-save">"Save origins"</button>
                <p role="status" class="inbox-muted" data-testid="settings-origins-status">{status}</p>
            </form>
        </section>
    }
}

/// API keys for the site's backend: created (shown once), listed by prefix, revoked.
#[component]
pub fn ApiKeysSection() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let keys = RwSignal::new(Vec::<ApiKeyInfo>::new());
    let fresh_key = RwSignal::new(None::<String>);
    let problem = RwSignal::new(None::<String>);
    let reload = move || {
        auth.call(ApiClient.api_keys(), problem, move |list| {
            keys.set(list.api_keys)
        });
    };
    reload();
    let create = move |_| {
        auth.call(ApiClient.create_api_key(), problem, move |created| {
            problem.set(None);
            fresh_key.set(Some(created.key));
            reload();
        });
    };
    let revoke = move |id: String| {
        let request = async move { ApiClient.revoke_api_key(&id).await };
        auth.call(request, problem, move |()| reload());
    };
    view! {
        <section class="inbox-card" aria-labelledby="settings-keys-heading">
            <h3 id="settings-keys-heading">"API keys"</h3>
            <p class="inbox-hint">"For your website's backend only (verified sessions, the agent API). Never put one in a web page."</p>
            <button type="button" data-testid="settings-api-key-create" on:click=create>"Create an API key"</button>
            {move || fresh_key.get().map(|key| view! {
                <div class="inbox-notice" role="status">
                    <p>"Copy the new key now: it is not shown again."</p>
                    <code class="inbox-secret" data-testid="settings-new-api-key">{key}</code>
                </div>
            })}
            <p class="inbox-error" role="alert" data-testid="settings-api-keys-error">{problem}</p>
            <table class="inbox-table">
                <caption class="inbox-visually-hidden">"API keys"</caption>
                <thead><tr><th scope="col">"Key"</th><th scope="col">"Created"</th><th scope="col">"State"</th><th scope="col"><span class="inbox-visually-hidden">"Actions"</span></th></tr></thead>
                <tbody>
                    <For each=move || keys.get() key=|key| (key.id.clone(), key.revoked_at) let:key>
                        {
                            let id = key.id.clone();
                            let prefix = key.prefix.clone().map(|p| format!("talk_sk_{p}…")).unwrap_or_else(|| "talk_sk_…".into());
                            view! {
                                <tr data-testid="settings-api-key" data-revoked=key.revoked_at.is_some().to_string()>
                                    <td><code>{prefix.clone()}</code></td>
                                    <td>{local_time(key.created_at)}</td>
                                    <td>{key.revoked_at.map_or("Active".to_string(), |at| format!("Revoked {}", local_time(at)))}</td>
                                    <td>
                                        <Show when={let active = key.revoked_at.is_none(); move || active}>
                                            <button type="button" data-testid="settings-api-key-revoke"
                                                on:click={let id = id.clone(); move |_| revoke(id.clone())}>
                                                "Revoke"<span class="inbox-visually-hidden">{format!(" {prefix}")}</span>
                                            </button>
                                        </Show>
                                    </td>
                                </tr>
                            }
                        }
                    </For>
                </tbody>
            </table>
        </section>
    }
}

/// The team: add an agent (a password is generated and shown once), reset a password,
/// remove an agent.
#[component]
pub fn AgentsSection() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let agents = RwSignal::new(Vec::<AgentProfile>::new());
    let problem = RwSignal::new(None::<String>);
    let shown_password = RwSignal::new(None::<(String, String)>);
    let email = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let role = RwSignal::new(AgentRole::Agent);
    let problems = RwSignal::new(Vec::<Problem>::new());
    let reload = move || {
        auth.call(ApiClient.agents(), problem, move |list| {
            agents.set(list.agents)
        });
    };
    reload();
    let create = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        let found = check_new_agent(&email.get_untracked(), &name.get_untracked());
        let ok = found.is_empty();
        problems.set(found);
        if !ok {
            return;
        }
        let request = NewAgentRequest {
            email: email.get_untracked().trim().to_string(),
            name: name.get_untracked().trim().to_string(),
            role: role.get_untracked(),
            photo_url: None,
        };
        let request = async move { ApiClient.create_agent(&request).await };
        auth.call(request, problem, move |created| {
            problem.set(None);
            shown_password.set(Some((created.agent.email, created.password)));
            email.set(String::new());
            name.set(String::new());
            reload();
        });
    };
    let reset = move |agent: AgentProfile| {
        let request = async move { ApiClient.reset_password(&agent.id).await };
        auth.call(request, problem, move |answer| {
            shown_password.set(Some((agent.email, answer.password)))
        });
    };
    let remove = move |id: String| {
        let request = async move { ApiClient.remove_agent(&id).await };
        auth.call(request, problem, move |()| reload());
    };
    let me = move || auth.agent_id();
    view! {
        <section class="inbox-card" aria-labelledby="settings-agents-heading">
            <h3 id="settings-agents-heading">"Agents"</h3>
            {move || shown_password.get().map(|(email, password)| view! {
                <div class="inbox-notice" role="status">
                    <p>{format!("The password for {email} (shown only now: pass it on safely):")}</p>
                    <code class="inbox-secret" data-testid="settings-agent-password">{password}</code>
                </div>
            })}
            <p class="inbox-error" role="alert" data-testid="settings-agents-error">{problem}</p>
            <table class="inbox-table">
                <caption class="inbox-visually-hidden">"Agents"</caption>
                <thead><tr><th scope="col">"Name"</th><th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col"><span class="inbox-visually-hidden">"Actions"</span></th></tr></thead>
                <tbody>
                    <For each=move || agents.get() key=|agent| agent.id.clone() let:agent>
                        {
                            let is_me = agent.id == me();
                            let for_reset = agent.clone();
                            let id = agent.id.clone();
                            let who = agent.name.clone();
                            view! {
                                <tr data-testid="settings-agent" data-email=agent.email.clone()>
                                    <td>{agent.name.clone()}</td>
                                    <td>{agent.email.clone()}</td>
                                    <td>{match agent.role { AgentRole::Admin => "Admin", AgentRole::Agent => "Agent" }}</td>
                                    <td class="inbox-row-actions">
                                        <button type="button" data-testid="settings-agent-reset" on:click=move |_| reset(for_reset.clone())>
                                            "Reset password"<span class="inbox-visually-hidden">{format!(" of {who}")}</span>
                                        </button>
                                        <Show when=move || !is_me>
                                            <button type="button" data-testid="settings-agent-remove" on:click={let id = id.clone(); move |_| remove(id.clone())}>
                                                "Remove"<span class="inbox-visually-hidden">{format!(" {}", agent.name)}</span>
                                            </button>
                                        </Show>
                                    </td>
                                </tr>
                            }
                        }
                    </For>
                </tbody>
            </table>
            <form class="inbox-new-agent" on:submit=create novalidate=true data-testid="settings-agent-form">
                <h4>"Add an agent"</h4>
                <TextField id="settings-agent-email" label="Email" kind="email"
                    value=email on_input=Callback::new(move |v| email.set(v))
                    error=Signal::derive(move || problems.with(|p| problem_for(p, "settings-agent-email")))/>
                <TextField id="settings-agent-name" label="Name"
                    value=name on_input=Callback::new(move |v| name.set(v))
                    error=Signal::derive(move || problems.with(|p| problem_for(p, "settings-agent-name")))/>
                <div class="inbox-field">
                    <label for="settings-agent-role">"Role"</label>
                    <select id="settings-agent-role" data-testid="settings-agent-role"
                        on:change=move |event| role.set(if event_target_value(&event) == "admin" { AgentRole::Admin } else { AgentRole::Agent })>
                        <option value="agent" selected=move || role.get() == AgentRole::Agent>"Agent: answers conversations"</option>
                        <option value="admin" selected=move || role.get() == AgentRole::Admin>"Admin: also manages these settings"</option>
                    </select>
                </div>
                <button type="submit" data-testid="settings-agent-create">"Add agent"</button>
            </form>
        </section>
    }
}
