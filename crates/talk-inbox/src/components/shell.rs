use super::settings::SettingsPage;
use super::{Auth, InboxPage, QuotaBanner, UsagePage};
use crate::api::ApiClient;
use crate::components::inbox::InboxState;
use crate::{calls, live, notify};
use leptos::prelude::*;
use std::rc::Rc;
use talk_protocol::{AgentRole, Conversation, Presence};
use web_sys::NotificationPermission;

/// Opens a conversation on the inbox page from another page (the conversations a capture
/// widget started, in the settings). Provided by the [`Shell`].
#[derive(Clone, Copy)]
pub struct OpenConversation(pub Callback<Conversation>);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Page {
    Inbox,
    Settings,
    Usage,
}

/// The signed-in app: header (presence, notifications, pages, sign-out) and the page. The
/// agent socket lives here, so live news keeps arriving on the settings page too.
#[component]
pub fn Shell() -> impl IntoView {
    let auth = expect_context::<Auth>();
    let inbox = InboxState::new();
    provide_context(inbox);
    let page = RwSignal::new(Page::Inbox);
    provide_context(OpenConversation(Callback::new(move |conversation| {
        inbox.open(conversation, auth);
        page.set(Page::Inbox);
    })));
    let is_admin = move || {
        auth.agent
            .with(|a| a.as_ref().is_some_and(|a| a.role == AgentRole::Admin))
    };
    // Admins hear of this month's quota standing at once; later crossings come live.
    if auth
        .agent
        .with_untracked(|a| a.as_ref().is_some_and(|a| a.role == AgentRole::Admin))
    {
        let ignored = RwSignal::new(None::<String>);
        auth.call(ApiClient.quota(), ignored, move |status| {
            inbox.quota.standing(&status)
        });
    }

    live::connect(live::Handlers {
        on_event: Rc::new(move |event| inbox.on_event(event, auth)),
        on_closed: Rc::new(move |_code| {
            inbox.socket_closed(auth);
            leptos::task::spawn_local(async move {
                match ApiClient.me().await {
                    Err(error) if auth.check(&error) => {}
                    Ok(me) => {
                        // Fresh TURN credentials for the calls after the reconnect.
                        calls::attach(&me, move |id| inbox.visitor_name(&id));
                        live::reconnect_later();
                    }
                    Err(_) => live::reconnect_later(),
                }
            });
        }),
    });
    on_cleanup(live::disconnect);
    // The call module, with this agent's ICE servers (the sign-in answer has none).
    leptos::task::spawn_local(async move {
        if let Ok(me) = ApiClient.me().await {
            calls::attach(&me, move |id| inbox.visitor_name(&id));
        }
    });

    let presence = move || {
        auth.agent
            .with(|a| a.as_ref().map(|a| a.presence).unwrap_or_default())
    };
    let presence_error = RwSignal::new(None::<String>);
    let toggle_presence = move |_| {
        let wanted = match presence() {
            Presence::Online => Presence::Away,
            Presence::Away => Presence::Online,
        };
        auth.call(
            ApiClient.set_presence(wanted),
            presence_error,
            move |agent| {
                presence_error.set(None);
                auth.agent.set(Some(agent));
            },
        );
    };

    let permission = RwSignal::new(notify::permission());
    let ask_permission = move |_| {
        leptos::task::spawn_local(async move {
            permission.set(notify::request_permission().await);
        });
    };

    let sign_out = move |_| {
        leptos::task::spawn_local(async move {
            let _ = ApiClient.logout().await;
            auth.signed_out(Some("You have signed out.".into()));
        });
    };

    view! {
        <header class="inbox-header">
            <h1 class="inbox-title">"Talk inbox"</h1>
            <nav class="inbox-nav" aria-label="Pages">
                <button
                    type="button"
                    data-testid="nav-inbox"
                    aria-current=move || (page.get() == Page::Inbox).then_some("page")
                    on:click=move |_| page.set(Page::Inbox)
                >
                    "Conversations"
                </button>
                <Show when=is_admin>
                    <button
                        type="button"
                        data-testid="nav-settings"
                        aria-current=move || (page.get() == Page::Settings).then_some("page")
                        on:click=move |_| page.set(Page::Settings)
                    >
                        "Widget settings"
                    </button>
                    <button
                        type="button"
                        data-testid="nav-usage"
                        aria-current=move || (page.get() == Page::Usage).then_some("page")
                        on:click=move |_| page.set(Page::Usage)
                    >
                        "Usage"
                    </button>
                </Show>
            </nav>
            <div class="inbox-header-tools">
                <button
                    type="button"
                    class="inbox-presence"
                    class:inbox-online=move || presence() == Presence::Online
                    data-testid="inbox-presence"
                    data-presence=move || match presence() { Presence::Online => "online", Presence::Away => "away" }
                    aria-pressed=move || (presence() == Presence::Online).to_string()
                    on:click=toggle_presence
                >
                    <span class="inbox-presence-dot" aria-hidden="true"></span>
                    {move || match presence() { Presence::Online => "Online", Presence::Away => "Away" }}
                </button>
                {move || presence_error.get().map(|text| view! { <span class="inbox-error" role="alert">{text}</span> })}
                <Show when=move || permission.get() == Some(NotificationPermission::Default)>
                    <button type="button" data-testid="inbox-enable-notifications" on:click=ask_permission>
                        "Enable notifications"
                    </button>
                </Show>
                <span class="inbox-me" data-testid="inbox-me">
                    {move || auth.agent.with(|a| a.as_ref().map(|a| a.name.clone()).unwrap_or_default())}
                </span>
                <button type="button" data-testid="inbox-sign-out" on:click=sign_out>"Sign out"</button>
            </div>
        </header>
        <Show when=is_admin>
            <QuotaBanner alerts=inbox.quota on_open_usage=Callback::new(move |()| page.set(Page::Usage))/>
        </Show>
        {move || match page.get() {
            Page::Inbox => view! { <InboxPage/> }.into_any(),
            Page::Settings => view! { <SettingsPage/> }.into_any(),
            Page::Usage => view! { <UsagePage alerts=inbox.quota/> }.into_any(),
        }}
    }
}
