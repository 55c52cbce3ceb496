use super::{Shell, SignInForm};
use crate::api::{ApiClient, ApiError, Explained};
use crate::live;
use leptos::prelude::*;
use std::future::Future;
use talk_protocol::AgentProfile;

/// Who is signed in, shared by every screen. A request answered `not_signed_in` or
/// `session_expired` anywhere sends the app back to sign-in with a message.
#[derive(Clone, Copy)]
pub struct Auth {
    pub agent: RwSignal<Option<AgentProfile>>,
    /// Shown above the sign-in form (why the agent is there).
    pub notice: RwSignal<Option<String>>,
}

impl Auth {
    pub fn new() -> Self {
        Auth {
            agent: RwSignal::new(None),
            notice: RwSignal::new(None),
        }
    }

    /// Signs the app out if the error says the session is gone. Returns whether it did.
    pub fn check(&self, error: &ApiError) -> bool {
        if !error.is_signed_out() {
            return false;
        }
        self.signed_out(Some(
            "Your session has expired. Sign in again to continue.".into(),
        ));
        true
    }

    /// Runs an API call in the background: `on_ok` gets the answer, and an error that did
    /// not sign the app out is told in `problem`.
    pub fn call<T: 'static>(
        self,
        request: impl Future<Output = Result<T, ApiError>> + 'static,
        problem: RwSignal<Option<String>>,
        on_ok: impl FnOnce(T) + 'static,
    ) {
        leptos::task::spawn_local(async move {
            match request.await {
                Ok(answer) => on_ok(answer),
                Err(error) => {
                    if !self.check(&error) {
                        problem.set(Some(error.user_message()));
                    }
                }
            }
        });
    }

    pub fn signed_out(&self, notice: Option<String>) {
        live::disconnect();
        self.notice.set(notice);
        self.agent.set(None);
    }

    pub fn agent_id(&self) -> String {
        self.agent
            .with_untracked(|agent| agent.as_ref().map(|a| a.id.clone()))
            .unwrap_or_default()
    }
}

impl Default for Auth {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Start {
    Checking,
    Done,
}

#[component]
pub fn App() -> impl IntoView {
    let auth = Auth::new();
    provide_context(auth);
    let start = RwSignal::new(Start::Checking);
    // An existing session cookie signs the agent straight in.
    leptos::task::spawn_local(async move {
        if let Ok(me) = ApiClient.me().await {
            auth.agent.set(Some(me.agent));
        }
        start.set(Start::Done);
    });
    view! {
        <Show
            when=move || start.get() == Start::Done
            fallback=|| view! { <main class="inbox-loading" aria-busy="true"><p>"Loading…"</p></main> }
        >
            <Show
                when=move || auth.agent.with(Option::is_some)
                fallback=move || {
                    view! {
                        <SignInForm
                            notice=move || auth.notice.get()
                            on_signed_in=Callback::new(move |agent| {
                                auth.notice.set(None);
                                auth.agent.set(Some(agent));
                            })
                        />
                    }
                }
            >
                <Shell/>
            </Show>
        </Show>
    }
}
