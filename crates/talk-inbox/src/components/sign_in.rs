use super::TextField;
use crate::api::{ApiClient, Explained};
use crate::validation::{check_sign_in, problem_for, Problem};
use leptos::prelude::*;
use talk_protocol::{AgentProfile, LoginRequest};

/// Email and password; explains a wrong password or a refused attempt in words.
#[component]
pub fn SignInForm(
    /// Why the agent is here (e.g. the session expired).
    #[prop(into)]
    notice: Signal<Option<String>>,
    on_signed_in: Callback<AgentProfile>,
) -> impl IntoView {
    let email = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let problems = RwSignal::new(Vec::<Problem>::new());
    let server_error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    let submit = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let found = check_sign_in(&email.get_untracked(), &password.get_untracked());
        server_error.set(None);
        let ok = found.is_empty();
        problems.set(found);
        if !ok {
            return;
        }
        busy.set(true);
        let request = LoginRequest {
            email: email.get_untracked().trim().to_string(),
            password: password.get_untracked(),
            workspace_id: None,
        };
        leptos::task::spawn_local(async move {
            match ApiClient.login(&request).await {
                Ok(agent) => on_signed_in.run(agent),
                Err(error) => server_error.set(Some(error.user_message())),
            }
            busy.set(false);
        });
    };
    let email_problem = move || problems.with(|p| problem_for(p, "signin-email"));
    let password_problem = move || problems.with(|p| problem_for(p, "signin-password"));

    view! {
        <main class="inbox-signin">
            <form class="inbox-card" on:submit=submit novalidate=true data-testid="signin-form">
                <h1>"Sign in to Talk"</h1>
                {move || notice.get().map(|text| view! {
                    <p class="inbox-notice" role="status" data-testid="signin-notice">{text}</p>
                })}
                <TextField id="signin-email" label="Email" kind="email" autocomplete="username"
                    value=email on_input=Callback::new(move |v| email.set(v))
                    error=Signal::derive(email_problem)/>
                <TextField id="signin-password" label="Password" kind="password"
                    autocomplete="current-password"
                    value=password on_input=Callback::new(move |v| password.set(v))
                    error=Signal::derive(password_problem)/>
                {move || server_error.get().map(|text| view! {
                    <p class="inbox-error" role="alert" data-testid="signin-error">{text}</p>
                })}
                <button type="submit" class="inbox-primary" data-testid="signin-submit" disabled=busy>
                    {move || if busy.get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
        </main>
    }
}
