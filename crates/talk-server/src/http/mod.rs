//! The HTTP surface: routes, middleware and the shared extractors.

mod agent;
mod assets;
mod conversation_state;
mod extract;
mod talk_messages;
mod talk_session;
mod widget;

pub use extract::{ApiJson, ApiKeyWorkspace, BearerSession};

use crate::error::ApiError;
use crate::AppState;
use axum::extract::DefaultBodyLimit;
use axum::handler::HandlerWithoutStateExt;
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::Method;
use axum::routing::{get, post};
use axum::{Json, Router};
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

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
    let browser = Router::new()
        .route("/v1/talk/widget/session", post(widget::start_session))
        .route("/v1/talk/identify", post(widget::identify))
        .route("/v1/talk/messages", post(talk_messages::post))
        .route("/v1/talk/messages/stream", get(talk_messages::stream))
        // Before the CORS layer, so preflight OPTIONS requests reach it.
        .method_not_allowed_fallback(method_not_allowed)
        .layer(browser_cors);

    // The widget's files are not content-hashed, so browsers must revalidate them.
    let widget_files = tower::ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        .service(
            ServeDir::new(&state.settings.widget_dir).not_found_service(not_found.into_service()),
        );

    Router::new()
        .route("/healthz", get(healthz))
        .route("/app.js", get(assets::loader_script))
        .route("/demo", get(assets::demo_page))
        .route("/v1/talk/session", post(talk_session::create))
        .route("/v1/talk/socket", get(crate::realtime::socket::upgrade))
        .route("/v1/conversations", get(agent::list_conversations))
        .route(
            "/v1/conversations/{id}/messages",
            get(agent::list_messages).post(agent::reply),
        )
        .route(
            "/v1/conversations/{id}/close",
            post(conversation_state::close),
        )
        .route(
            "/v1/conversations/{id}/reopen",
            post(conversation_state::reopen),
        )
        .route(
            "/v1/conversations/{id}/assign",
            post(conversation_state::assign),
        )
        .route(
            "/v1/conversations/{id}/typing",
            post(conversation_state::typing),
        )
        .route(
            "/v1/conversations/{id}/read",
            post(conversation_state::read),
        )
        .method_not_allowed_fallback(method_not_allowed)
        .merge(browser)
        .nest_service("/widget", widget_files)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT_BYTES))
        .layer(TraceLayer::new_for_http())
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("referrer-policy"),
            HeaderValue::from_static("strict-origin-when-cross-origin"),
        ))
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
