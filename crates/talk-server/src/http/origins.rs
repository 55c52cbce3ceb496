//! A workspace's allowed origins, one rule for every browser endpoint: the widget's session
//! start, and everything a browser session token reaches (`POST /v1/talk/messages`, the SSE
//! stream, identify, the captures' reports, the socket's `auth`), whether the token came from
//! the widget or from a site's backend (the headless API channel, `talk_session.rs`).
//!
//! Our own origin is always allowed: it is the messenger's frame (frame mode), which only
//! allowed origins may embed (its `frame-ancestors`). No allowed origins: every origin is.

use crate::error::{ApiError, ApiResult};
use crate::store::StoreResult;
use crate::workspaces::{self, Workspace};
use crate::AppState;
use axum::http::{header, HeaderMap};
use talk_protocol::error_code::ORIGIN_NOT_ALLOWED;

/// The origin a browser names in `Origin`, without a trailing slash.
pub fn request_origin(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok())
        .map(|origin| origin.trim_end_matches('/'))
}

/// Whether a page of `origin` may use a workspace that allows `allowed`.
pub fn is_allowed(allowed: &[String], origin: &str, own_origin: &str) -> bool {
    allowed.is_empty()
        || origin == own_origin
        || allowed
            .iter()
            .any(|allowed| allowed.trim_end_matches('/') == origin)
}

pub fn not_allowed() -> ApiError {
    ApiError::forbidden(
        ORIGIN_NOT_ALLOWED,
        "this page's origin is not in the workspace's allowed origins",
    )
}

/// The widget's session start. A browser sends `Origin` with every POST, so while the
/// workspace restricts origins a request without one is refused too.
pub fn check_widget_origin(
    workspace: &Workspace,
    headers: &HeaderMap,
    own_origin: &str,
) -> ApiResult<()> {
    let allowed = workspace.allowed_origins();
    match request_origin(headers) {
        _ if allowed.is_empty() => Ok(()),
        Some(origin) if is_allowed(&allowed, origin, own_origin) => Ok(()),
        _ => Err(not_allowed()),
    }
}

/// The `Origin` of a request made with a session token, for [`session_origin_allowed`]:
/// `None` when there is nothing to check (no `Origin`, or our own).
pub fn foreign_origin(headers: &HeaderMap, state: &AppState) -> Option<String> {
    request_origin(headers)
        .filter(|origin| *origin != state.settings.public_origin())
        .map(str::to_string)
}

/// Whether a request made with workspace `workspace_id`'s session token may come from
/// `origin` (from [`foreign_origin`]). Without one it may: browsers send `Origin` with every
/// cross-origin request, so its absence means a same-origin GET or a client that is no
/// browser (which could claim any origin anyway). Reads the workspace only when there is an
/// origin to check.
pub async fn session_origin_allowed(
    state: &AppState,
    workspace_id: &str,
    origin: Option<&str>,
) -> StoreResult<bool> {
    let Some(origin) = origin else {
        return Ok(true);
    };
    // A workspace gone allows nothing (its signing keys went with it, so this is a race).
    let workspace = workspaces::by_id(&state.db, workspace_id).await?;
    Ok(workspace.is_some_and(|workspace| {
        is_allowed(
            &workspace.allowed_origins(),
            origin,
            &state.settings.public_origin(),
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: &str = "https://talk.example.com";

    #[test]
    fn no_allowed_origins_allow_every_origin() {
        assert!(is_allowed(&[], "https://evil.example", OWN));
    }

    #[test]
    fn only_listed_origins_and_our_own_pass() {
        let allowed = vec!["https://shop.example.com/".to_string()];
        assert!(is_allowed(&allowed, "https://shop.example.com", OWN));
        assert!(is_allowed(&allowed, OWN, OWN));
        assert!(!is_allowed(&allowed, "https://evil.example", OWN));
        assert!(!is_allowed(&allowed, "http://shop.example.com", OWN));
        assert!(!is_allowed(&allowed, "https://shop.example.com.evil", OWN));
    }
}
