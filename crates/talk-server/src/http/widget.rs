//! Browser endpoints: starting a widget session (public capture key) and identifying.

use super::{ApiJson, BearerSession};
use crate::captures;
use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::ice;
use crate::people::{self, Claim, Fields};
use crate::tokens::{self, SocketClaims, WidgetToken};
use crate::usage::preview;
use crate::workspaces::{self, Workspace};
use crate::AppState;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;
use talk_protocol::{
    field, AgentRole, IdentifyRequest, IdentifyResponse, IdentityRequirements, WidgetSessionAnswer,
    WidgetSessionRequest, WidgetSessionResponse,
};

const MAX_NAME_CHARS: usize = 100;

/// Visitor ids are 128 random bits as 32 lowercase hex chars.
fn is_valid_visitor_id(visitor_id: &str) -> bool {
    visitor_id.len() == 32
        && visitor_id
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
}

/// The workspace a browser request names by its public capture key, after checking the
/// visitor id and that the page's `Origin` is one the workspace allows.
pub(super) async fn browser_workspace(
    state: &AppState,
    headers: &HeaderMap,
    capture_key: &str,
    visitor_id: &str,
) -> ApiResult<Workspace> {
    let workspace = workspaces::by_capture_key(&state.db, capture_key)
        .await?
        .ok_or_else(super::widget_config::unknown_capture_key)?;
    if !is_valid_visitor_id(visitor_id) {
        return Err(ApiError::bad_request(
            "invalid_visitor_id",
            "visitor_id must be 32 lowercase hex characters",
        ));
    }
    super::origins::check_widget_origin(&workspace, headers, &state.settings.public_origin())?;
    Ok(workspace)
}

pub async fn start_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<WidgetSessionRequest>,
) -> ApiResult<Json<WidgetSessionAnswer>> {
    let workspace =
        browser_workspace(&state, &headers, &request.capture_key, &request.visitor_id).await?;

    let token = match request.token.as_deref().filter(|token| !token.is_empty()) {
        Some(token) => Some(tokens::verify_widget_token(&state.db, token, &workspace.id).await?),
        None => None,
    };
    let (verified_person_id, preview_admin_id) = match token {
        Some(WidgetToken::Talk(claims)) => (Some(claims.sub), None),
        Some(WidgetToken::Preview(claims)) => {
            check_preview_admin(&state, &workspace.id, &claims.sub).await?;
            (None, Some(claims.sub))
        }
        None => (None, None),
    };
    let preview = preview_admin_id.is_some();
    // A preview runs as its admin's own visitor, never the browser's: the inbox and a site
    // may share an origin, and so the cookie, and their conversations must not mix.
    let visitor_id = match &preview_admin_id {
        Some(agent_id) => preview::visitor_id(agent_id),
        None => request.visitor_id,
    };
    people::upsert_visitor(&state.db, &workspace.id, &visitor_id).await?;

    let (person_id, shown_person, verified) = match verified_person_id {
        Some(person_id) => {
            let person = people::by_id(&state.db, &workspace.id, &person_id)
                .await?
                .ok_or_else(|| {
                    ApiError::unauthorized("invalid_token", "the token's person no longer exists")
                })?;
            people::link_visitor(&state.db, &workspace.id, &visitor_id, &person.id).await?;
            (Some(person.id.clone()), Some(person.summary()), true)
        }
        None => {
            // Linked by an earlier identify, but not verified: shown only what it typed.
            let known = people::visitor_identity(&state.db, &workspace.id, &visitor_id).await?;
            let typed = known.claim.as_ref().map(Claim::summary);
            // A preview's session belongs to no person: nothing of it may lead to one.
            let person_id = if preview { None } else { known.person_id };
            (person_id, typed, false)
        }
    };

    let session_id = db::new_id();
    state
        .db
        .insert_session(&crate::store::SessionRecord {
            id: &session_id,
            workspace_id: &workspace.id,
            visitor_id: Some(&visitor_id),
            person_id: person_id.as_deref(),
            verified,
            kind: "widget",
            created_at: db::now_ms(),
            preview,
        })
        .await?;

    // Only a workspace with an enabled capture widget asks for one; never a preview, and none
    // while a hard text quota refuses the conversation its reply would start. A failure
    // costs the capture, never the session.
    let capture = if workspace.captures_enabled
        && !preview
        && crate::usage::quota::offers_captures(&state, &workspace).await
    {
        let visit = captures::service::Visit {
            workspace_id: &workspace.id,
            visitor_id: &visitor_id,
            page_url: request.page_url.as_deref(),
            identity: captures::Identity {
                verified,
                known: person_id.is_some(),
            },
            person: shown_person.as_ref(),
        };
        captures::service::offer(&state.db, &visit)
            .await
            .unwrap_or_else(|error| {
                tracing::error!(%error, "choosing a capture widget");
                None
            })
    } else {
        None
    };

    let settings = &state.settings;
    let issued_at = tokens::now_secs();
    let expires_at = settings.socket_token_expires_at(issued_at);
    let claims = SocketClaims {
        typ: tokens::SOCKET_TYP.to_string(),
        ws: workspace.id.clone(),
        sid: session_id.clone(),
        vid: visitor_id,
        // Only a verified session carries its person: an unverified one is looked up anew,
        // so identifying later takes effect without a new token.
        pid: if verified { person_id } else { None },
        ver: verified,
        pre: preview,
        iat: issued_at,
        exp: expires_at,
        kid: String::new(),
    };
    let key = tokens::active_key(&state.db, &workspace.id).await?;
    let ice_servers = ice::servers_for(settings, &session_id, issued_at);
    let session = WidgetSessionResponse {
        session_id,
        session_token: tokens::sign(&key, &claims)?,
        session_token_expires_at: expires_at.saturating_mul(1000),
        socket_url: settings.socket_url(),
        messages_url: settings.messages_url(),
        ice_servers,
        ice_transport_policy: settings.ice_transport_policy,
        verified,
        person: shown_person,
        identity: IdentityRequirements {
            names_required: workspace.names_required,
        },
    };
    Ok(Json(WidgetSessionAnswer { session, capture }))
}

/// A preview token starts sessions only while the admin who asked for it is still one of
/// the workspace's admins.
async fn check_preview_admin(
    state: &AppState,
    workspace_id: &str,
    agent_id: &str,
) -> ApiResult<()> {
    let agent = state.db.agent_by_id(workspace_id, agent_id).await?;
    match agent {
        Some(agent) if agent.role == AgentRole::Admin => Ok(()),
        _ => Err(ApiError::unauthorized(
            "invalid_token",
            "the preview token's admin is no longer an admin of this workspace",
        )),
    }
}

/// A trimmed, non-blank name, at most `MAX_NAME_CHARS` characters.
fn checked_name(name: Option<&str>) -> ApiResult<Option<String>> {
    let name = name.map(str::trim).filter(|name| !name.is_empty());
    match name {
        Some(name) if name.chars().count() > MAX_NAME_CHARS => Err(ApiError::bad_request(
            "name_too_long",
            format!("names are at most {MAX_NAME_CHARS} characters"),
        )),
        name => Ok(name.map(str::to_string)),
    }
}

pub async fn identify(
    State(state): State<AppState>,
    BearerSession(session): BearerSession,
    ApiJson(request): ApiJson<IdentifyRequest>,
) -> ApiResult<Json<IdentifyResponse>> {
    let email = request.email.trim();
    if !people::is_valid_email(email) {
        return Err(ApiError::bad_request(
            "invalid_email",
            "the email address is not valid",
        ));
    }
    let first_name = checked_name(request.first_name.as_deref())?;
    let last_name = checked_name(request.last_name.as_deref())?;
    let workspace = workspaces::by_id(&state.db, &session.ws)
        .await?
        .ok_or_else(|| ApiError::unauthorized("invalid_token", "the workspace no longer exists"))?;
    if workspace.names_required && (first_name.is_none() || last_name.is_none()) {
        return Err(ApiError::bad_request(
            "missing_name",
            "this workspace requires a first and a last name",
        ));
    }

    // The person gets the email alone, to be found by it (and linked for agents); the typed
    // names stay this visitor's claim, and the answer echoes the claim, never the person.
    let mut fields = Fields::new();
    fields.insert(field::EMAIL.to_string(), email.into());
    let (person, _) = people::create_or_get(&state.db, &workspace.id, &fields).await?;
    let claim = Claim {
        email: email.to_string(),
        first_name,
        last_name,
    };
    people::upsert_visitor(&state.db, &workspace.id, &session.vid).await?;
    people::record_claim(&state.db, &workspace.id, &session.vid, &person.id, &claim).await?;
    Ok(Json(IdentifyResponse {
        person: claim.summary(),
    }))
}
