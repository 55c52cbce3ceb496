//! Agent sign-in for the inbox: a `talk_agent` session cookie (HttpOnly, SameSite=Lax) holding
//! a random id whose SHA-256 is stored, 30 days sliding. Extractors for signed-in agents and
//! admins.

use super::ApiJson;
use crate::agents::{self, SessionLookup};
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::Json;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use talk_protocol::{AgentMe, AgentProfile, AgentRole, LoginRequest, PresenceRequest};

pub const SESSION_COOKIE: &str = "talk_agent";

fn session_cookie(state: &AppState, session_id: String) -> Cookie<'static> {
    Cookie::build((SESSION_COOKIE, session_id))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(state.settings.public_url.starts_with("https://"))
        .max_age(time::Duration::milliseconds(agents::SESSION_TTL_MS))
        .build()
}

/// A signed-in agent (any role): 401 `not_signed_in` without a valid session cookie,
/// `session_expired` when it ran out.
pub struct AgentSession {
    pub agent: AgentProfile,
    session_id: String,
}

impl AgentSession {
    /// The agent and its cookie's session id (for a socket that checks it again later).
    pub fn into_parts(self) -> (AgentProfile, String) {
        (self.agent, self.session_id)
    }
}

impl FromRequestParts<AppState> for AgentSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        check_same_origin(parts, state)?;
        let not_signed_in =
            || ApiError::unauthorized("not_signed_in", "sign in at POST /v1/agent/login first");
        let jar = CookieJar::from_headers(&parts.headers);
        let session_id = jar
            .get(SESSION_COOKIE)
            .map(|cookie| cookie.value().to_string())
            .ok_or_else(not_signed_in)?;
        match agents::session_agent(&state.db, &session_id).await? {
            SessionLookup::Valid(agent) => Ok(AgentSession { agent, session_id }),
            SessionLookup::Expired => Err(ApiError::unauthorized(
                "session_expired",
                "the session expired: sign in again",
            )),
            SessionLookup::Unknown => Err(not_signed_in()),
        }
    }
}

/// A signed-in admin: as [`AgentSession`], then 403 `admin_only` for other roles.
pub struct AdminSession(pub AgentProfile);

impl FromRequestParts<AppState> for AdminSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let AgentSession { agent, .. } = AgentSession::from_request_parts(parts, state).await?;
        if agent.role != AgentRole::Admin {
            return Err(ApiError::forbidden(
                "admin_only",
                "only an admin may do this",
            ));
        }
        Ok(AdminSession(agent))
    }
}

/// A cookie-authenticated change must come from our own pages. SameSite=Lax already keeps
/// other sites' requests cookie-less; this also turns away sibling subdomains.
fn check_same_origin(parts: &Parts, state: &AppState) -> ApiResult<()> {
    if matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    require_own_origin(&parts.headers, state)
}

/// 403 `cross_origin_request` when a browser says the request comes from a page of another
/// origin than `public_url`'s. (Clients other than browsers send no `Origin`.)
pub fn require_own_origin(headers: &HeaderMap, state: &AppState) -> ApiResult<()> {
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok());
    match origin {
        Some(origin) if origin != state.settings.public_origin() => Err(ApiError::forbidden(
            "cross_origin_request",
            "agent requests must come from the Talk server's own origin",
        )),
        _ => Ok(()),
    }
}

/// `POST /v1/agent/login`: wrong email and wrong password answer alike.
pub async fn login(
    State(state): State<AppState>,
    jar: CookieJar,
    ApiJson(request): ApiJson<LoginRequest>,
) -> ApiResult<(CookieJar, Json<AgentProfile>)> {
    let agent = agents::authenticate(
        &state.db,
        &request.email,
        &request.password,
        request.workspace_id.as_deref(),
    )
    .await?
    .ok_or_else(|| {
        ApiError::unauthorized("invalid_credentials", "the email or password is wrong")
    })?;
    let session_id = agents::start_session(&state.db, &agent.id).await?;
    Ok((jar.add(session_cookie(&state, session_id)), Json(agent)))
}

/// `POST /v1/agent/logout`: ends the session (if any) and clears the cookie.
pub async fn logout(
    State(state): State<AppState>,
    jar: CookieJar,
) -> ApiResult<(CookieJar, StatusCode)> {
    if let Some(cookie) = jar.get(SESSION_COOKIE) {
        agents::end_session(&state.db, cookie.value()).await?;
    }
    let removal = Cookie::build(SESSION_COOKIE).path("/").build();
    Ok((jar.remove(removal), StatusCode::NO_CONTENT))
}

/// `GET /v1/agent/me`, with the ICE servers for the agent's calls. Re-issues the cookie, so an
/// inbox used within 30 days stays signed in.
pub async fn me(
    State(state): State<AppState>,
    jar: CookieJar,
    session: AgentSession,
) -> (CookieJar, Json<AgentMe>) {
    let cookie = session_cookie(&state, session.session_id);
    let ice_servers = crate::ice::servers_for(
        &state.settings,
        &session.agent.id,
        crate::tokens::now_secs(),
    );
    let me = AgentMe {
        agent: session.agent,
        ice_servers,
        ice_transport_policy: state.settings.ice_transport_policy,
    };
    (jar.add(cookie), Json(me))
}

/// `PUT /v1/agent/presence`.
pub async fn set_presence(
    State(state): State<AppState>,
    AgentSession { mut agent, .. }: AgentSession,
    ApiJson(request): ApiJson<PresenceRequest>,
) -> ApiResult<Json<AgentProfile>> {
    agents::set_presence(&state.db, &agent.id, request.presence).await?;
    agent.presence = request.presence;
    Ok(Json(agent))
}
