//! The HTTP surface: routes, middleware and the shared extractors.

mod admin;
mod agent;
mod agent_session;
mod assets;
mod bots;
mod captures;
mod contact;
mod conversation_state;
mod extract;
mod openapi;
mod origins;
mod previews;
mod security;
mod static_files;
mod talk_messages;
mod talk_session;
mod track;
mod usage;
mod widget;
mod widget_config;

pub use agent_session::{require_own_origin, AdminSession, AgentSession, SESSION_COOKIE};
pub use assets::LoaderScripts;
pub use extract::{Actor, ApiJson, ApiKeyWorkspace, BearerSession, PlainOrJson};
pub use origins::{foreign_origin, session_origin_allowed};
pub use widget_config::{launcher_stylesheet, LauncherStylesheets};

use crate::client_ip;
use crate::error::ApiError;
use crate::rate_limit::limit_by_ip;
use crate::AppState;
use axum::extract::DefaultBodyLimit;
use axum::handler::HandlerWithoutStateExt;
use axum::http::header::{self, HeaderName};
use axum::http::Method;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use std::sync::Arc;
use std::time::Duration;
use tower::Layer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

/// A `Vary` list naming nothing (answers that don't depend on the request's origin).
const NO_VARY: [HeaderName; 0] = [];

/// Largest request body accepted.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;

pub fn app(state: AppState) -> Router {
    // Any page may call the browser endpoints; the handler enforces each workspace's
    // allowed origins, because only it knows which workspace is asked.
    let browser_cors = CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("last-event-id"),
        ])
        .max_age(Duration::from_secs(600));
    let browser_limit = from_fn_with_state(state.limits.browser.clone(), limit_by_ip);
    // What every page view of every site asks (the launcher's stylesheet, the page view),
    // answered to any origin with `*` instead of a mirrored origin: nothing there uses
    // credentials, so `*` allows exactly what mirroring did, and without a mirrored origin the
    // answers need no `Vary: origin, …` (80 B on each). Preflights are still answered for
    // pages whose cached loader sends the page view as `application/json`.
    let page_view = Router::new()
        .route(
            "/v1/talk/widget/launcher.css",
            get(widget_config::launcher_css),
        )
        .route("/v1/talk/track", post(track::track))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(browser_limit.clone())
        .layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::any())
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::CONTENT_TYPE])
                .max_age(Duration::from_secs(600))
                .vary(NO_VARY),
        );
    let browser = Router::new()
        .route("/v1/talk/widget/session", post(widget::start_session))
        .route("/v1/talk/identify", post(widget::identify))
        .route("/v1/talk/widget/config", get(widget_config::widget_config))
        .route("/v1/talk/messages", post(talk_messages::post))
        .route("/v1/talk/messages/stream", get(talk_messages::stream))
        // Capture widgets (`captures.rs`): the loader's capture module reports.
        .route("/v1/talk/captures/{id}/shown", post(captures::shown))
        .route(
            "/v1/talk/captures/{id}/dismissed",
            post(captures::dismissed),
        )
        // Before the CORS layer, so preflight OPTIONS requests reach it.
        .method_not_allowed_fallback(method_not_allowed)
        // Inside CORS: preflights don't count, and a 429 carries CORS headers.
        .layer(browser_limit.clone())
        .layer(browser_cors);
    let socket = Router::new()
        .route("/v1/talk/socket", get(crate::realtime::socket::upgrade))
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(browser_limit);

    let agent_login = Router::new()
        .route("/v1/agent/login", post(agent_session::login))
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(from_fn_with_state(state.limits.login.clone(), limit_by_ip));
    let agents_and_admins = Router::new()
        .route("/v1/agent/logout", post(agent_session::logout))
        .route("/v1/agent/me", get(agent_session::me))
        .route("/v1/agent/presence", put(agent_session::set_presence))
        .route(
            "/v1/admin/widget-settings",
            get(admin::get_widget_settings).put(admin::put_widget_settings),
        )
        .route("/v1/admin/workspace", get(admin::get_workspace))
        .route(
            "/v1/admin/allowed-origins",
            get(admin::get_allowed_origins).put(admin::put_allowed_origins),
        )
        .route(
            "/v1/admin/agents",
            get(admin::list_agents).post(admin::create_agent),
        )
        .route("/v1/admin/agents/{id}", delete(admin::delete_agent))
        .route(
            "/v1/admin/agents/{id}/reset-password",
            post(admin::reset_password),
        )
        .route(
            "/v1/admin/api-keys",
            get(admin::list_api_keys).post(admin::create_api_key),
        )
        .route("/v1/admin/api-keys/{id}", delete(admin::revoke_api_key))
        // Capture widgets (`captures.rs`).
        .route(
            "/v1/admin/capture-widgets",
            get(captures::list).post(captures::create),
        )
        .route("/v1/admin/capture-widgets/order", put(captures::order))
        .route(
            "/v1/admin/capture-widgets/{id}",
            get(captures::get)
                .put(captures::replace)
                .delete(captures::delete),
        )
        .route(
            "/v1/admin/capture-widgets/{id}/conversations",
            get(captures::conversations),
        )
        // Conversations agents start (`crate::outbound`): from the inbox's contact panel.
        .route(
            "/v1/agent/people/{id}/conversations",
            post(crate::outbound::start_from_inbox),
        )
        // Bots (`bots.rs`).
        .route(
            "/v1/admin/bots",
            get(bots::list_bots).post(bots::create_bot),
        )
        .route(
            "/v1/admin/bots/{id}",
            get(bots::get_bot)
                .put(bots::put_bot)
                .delete(bots::delete_bot),
        )
        .route("/v1/admin/bots/{id}/deliveries", get(bots::list_deliveries))
        // Usage metering and quotas (`crate::usage`).
        .route("/v1/admin/usage", get(usage::get_usage))
        .route(
            "/v1/admin/quota",
            get(usage::get_quota).put(usage::put_quota),
        )
        // Previews (`crate::usage::preview`).
        .route("/v1/admin/preview-token", post(previews::create_token))
        // The inbox: the API-key conversation endpoints' handlers, authenticated by the cookie.
        .route(
            "/v1/agent/socket",
            get(crate::realtime::socket::agent_upgrade),
        )
        .route("/v1/agent/conversations", get(agent::inbox_conversations))
        .route(
            "/v1/agent/conversations/{id}/messages",
            get(agent::list_messages::<AgentSession>).post(agent::reply::<AgentSession>),
        )
        .route(
            "/v1/agent/conversations/{id}/contact",
            get(contact::conversation_contact::<AgentSession>),
        )
        .route(
            "/v1/agent/conversations/{id}/close",
            post(conversation_state::close::<AgentSession>),
        )
        .route(
            "/v1/agent/conversations/{id}/reopen",
            post(conversation_state::reopen::<AgentSession>),
        )
        .route(
            "/v1/agent/conversations/{id}/assign",
            post(conversation_state::assign::<AgentSession>),
        )
        .route(
            "/v1/agent/conversations/{id}/typing",
            post(conversation_state::typing::<AgentSession>),
        )
        .route(
            "/v1/agent/conversations/{id}/read",
            post(conversation_state::read::<AgentSession>),
        )
        .method_not_allowed_fallback(method_not_allowed)
        .merge(agent_login);

    // The widget's build (Trunk's files and the loader's lazy scripts) and the frame page.
    // Customer pages on other origins import the JS modules and fetch the WASM in CORS mode;
    // the files are public and carry no credentials, so any origin may read them.
    let widget_files = Router::new()
        .route("/frame", get(assets::frame_page))
        .fallback_service(
            from_fn(static_files::cache_by_name).layer(
                static_files::built_files(&state.settings.widget_dir)
                    .not_found_service(not_found.into_service()),
            ),
        )
        .layer(
            CorsLayer::new()
                .allow_origin(AllowOrigin::any())
                .allow_methods([Method::GET, Method::HEAD]),
        );

    // The inbox's files; any other path under /inbox is the app's page.
    let inbox_files = from_fn(static_files::cache_by_name).layer(
        static_files::built_files(&state.settings.inbox_dir)
            .append_index_html_on_directories(false)
            .fallback(get(assets::inbox_page).with_state(state.clone())),
    );

    Router::new()
        .route("/healthz", get(healthz))
        .route("/app.js", get(assets::loader_script))
        .route("/demo", get(assets::demo_page))
        .route("/v1/talk/session", post(talk_session::create))
        .route("/v1/openapi.json", get(openapi::document))
        .route("/v1/conversations", get(agent::list_conversations))
        // A bot's key may use these (and the handoff) in the conversations it holds.
        .route(
            "/v1/conversations/{id}/messages",
            get(agent::list_messages::<bots::ApiCaller>).post(agent::reply::<bots::ApiCaller>),
        )
        .route(
            "/v1/conversations/{id}/contact",
            get(contact::conversation_contact::<ApiKeyWorkspace>),
        )
        .route("/v1/people/{id}", get(contact::person_profile))
        .route(
            "/v1/conversations/{id}/close",
            post(conversation_state::close::<ApiKeyWorkspace>),
        )
        .route(
            "/v1/conversations/{id}/reopen",
            post(conversation_state::reopen::<ApiKeyWorkspace>),
        )
        .route(
            "/v1/conversations/{id}/assign",
            post(conversation_state::assign::<ApiKeyWorkspace>),
        )
        .route(
            "/v1/conversations/{id}/typing",
            post(conversation_state::typing::<bots::ApiCaller>),
        )
        .route(
            "/v1/conversations/{id}/read",
            post(conversation_state::read::<ApiKeyWorkspace>),
        )
        // A bot lets go of a conversation (`bots.rs`).
        .route("/v1/conversations/{id}/handoff", post(bots::handoff))
        // An agent writes first to a known person (`crate::outbound`).
        .route(
            "/v1/people/{id}/conversations",
            post(crate::outbound::start_with_api_key),
        )
        .method_not_allowed_fallback(method_not_allowed)
        .merge(page_view)
        .merge(browser)
        .merge(socket)
        .merge(agents_and_admins)
        .nest("/widget", widget_files)
        .nest_service("/inbox", inbox_files)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(from_fn_with_state(
            Arc::new(state.settings.trusted_proxies.clone()),
            client_ip::record,
        ))
        .layer(from_fn(security::security_headers))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(state)
}

async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn not_found() -> ApiError {
    ApiError::not_found("not_found", "no such path")
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
