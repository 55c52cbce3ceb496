//! Extractors that answer in the JSON error shape instead of axum's plain-text rejections.

use crate::error::ApiError;
use crate::tokens::{self, SocketClaims};
use crate::workspaces;
use crate::AppState;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;
use talk_protocol::{Author, AuthorKind};

/// A JSON body: malformed → 400 `invalid_json` (with serde's message), wrong content type →
/// 415 `unsupported_media_type`, too large → 413 `payload_too_large`.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::UnsupportedMediaType),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(ApiError::PayloadTooLarge)
            }
            Err(rejection) => Err(ApiError::bad_request("invalid_json", rejection.body_text())),
        }
    }
}

/// A JSON body that may also come as `text/plain` (what `fetch` sends for a string body with
/// no `Content-Type`), so a page can send it as a CORS simple request, without a preflight.
/// Only for endpoints that read no cookie and no credential header: anything a page can make
/// a browser send this way (a form can post `text/plain` too) is what any client could send.
/// Otherwise exactly [`ApiJson`]: the same size limit, the same strict parsing and errors.
pub struct PlainOrJson<T>(pub T);

impl<T, S> FromRequest<S> for PlainOrJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let plain = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("text/plain"));
        if !plain {
            let ApiJson(value) = ApiJson::from_request(request, state).await?;
            return Ok(PlainOrJson(value));
        }
        let bytes =
            Bytes::from_request(request, state)
                .await
                .map_err(|rejection| match rejection.status() {
                    StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
                    _ => ApiError::bad_request("invalid_json", rejection.body_text()),
                })?;
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(PlainOrJson(value)),
            Err(rejection) => Err(ApiError::bad_request("invalid_json", rejection.body_text())),
        }
    }
}

/// The workspace whose API key (`X-Api-Key`) authenticated a server-to-server request. A
/// bot's key is refused (403 `bot_key_not_allowed`): it acts only where
/// [`super::bots::ApiCaller`] is asked for.
pub struct ApiKeyWorkspace(pub String);

impl FromRequestParts<AppState> for ApiKeyWorkspace {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let holder = api_key_holder(parts, state).await?;
        if holder.bot_id.is_some() {
            return Err(ApiError::forbidden(
                talk_protocol::error_code::BOT_KEY_NOT_ALLOWED,
                "a bot's API key may only read and answer the conversations its bot holds, \
                 show typing in them and hand them over",
            ));
        }
        Ok(ApiKeyWorkspace(holder.workspace_id))
    }
}

/// Whose the request's `X-Api-Key` is: 401 `missing_api_key` without one, `invalid_api_key`
/// for one unknown or revoked.
pub(super) async fn api_key_holder(
    parts: &Parts,
    state: &AppState,
) -> Result<crate::bots::registry::KeyHolder, ApiError> {
    let api_key = parts
        .headers
        .get("x-api-key")
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| {
            ApiError::unauthorized(
                "missing_api_key",
                "send your API key in the X-Api-Key header",
            )
        })?;
    workspaces::by_api_key(&state.db, api_key)
        .await?
        .ok_or_else(|| {
            ApiError::unauthorized("invalid_api_key", "the API key is unknown or revoked")
        })
}

/// A browser session authenticated by `Authorization: Bearer <session_token>`, from a page
/// of an origin its workspace allows (403 `origin_not_allowed` otherwise, see `origins.rs`).
pub struct BearerSession(pub SocketClaims);

impl FromRequestParts<AppState> for BearerSession {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "missing_token",
                    "send the session token as `Authorization: Bearer <session_token>`",
                )
            })?;
        let claims = tokens::verify_socket_token(&state.db, token).await?;
        let origin = super::foreign_origin(&parts.headers, state);
        if !super::session_origin_allowed(state, &claims.ws, origin.as_deref()).await? {
            return Err(super::origins::not_allowed());
        }
        Ok(BearerSession(claims))
    }
}

/// Who acts on a workspace's conversations: a server with its API key (`/v1/conversations/…`)
/// or a signed-in agent in the inbox (`/v1/agent/conversations/…`). Handlers generic over it
/// serve both with one body.
pub trait Actor: FromRequestParts<AppState, Rejection = ApiError> + Send + Sync + 'static {
    fn workspace_id(&self) -> &str;
    /// The name the agent's messages and typing show. An API caller chooses one per request
    /// (`given`); a signed-in agent writes under its own.
    fn agent_name(&self, given: Option<&str>) -> String;
    /// Who its messages and typing show: an agent under [`Actor::agent_name`], or a bot.
    fn author(&self, given: Option<&str>) -> Author {
        Author {
            kind: AuthorKind::Agent,
            name: Some(self.agent_name(given)),
        }
    }
}

impl Actor for ApiKeyWorkspace {
    fn workspace_id(&self) -> &str {
        &self.0
    }

    fn agent_name(&self, given: Option<&str>) -> String {
        crate::actions::agent_name(given)
    }
}

impl Actor for super::AgentSession {
    fn workspace_id(&self) -> &str {
        &self.agent.workspace_id
    }

    fn agent_name(&self, _given: Option<&str>) -> String {
        self.agent.name.clone()
    }
}
