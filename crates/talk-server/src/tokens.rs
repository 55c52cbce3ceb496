//! Signed tokens (HS256 JWTs). Every token names its signing key in the header (`kid`), and
//! every key belongs to one workspace, so secrets can rotate and tenants can't mix.

use crate::db::{self, Db};
use crate::error::ApiError;
use crate::store::{StoreError, StoreResult};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Claims of the long-lived verified-session token minted by `POST /v1/talk/session`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TalkClaims {
    /// Always `"talk"`, so a socket token can't pass as one.
    pub typ: String,
    pub ws: String,
    /// Person id.
    pub sub: String,
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
}

/// Claims of the short-lived browser session token (socket auth, `Authorization: Bearer`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SocketClaims {
    /// Always `"socket"`.
    pub typ: String,
    pub ws: String,
    pub sid: String,
    pub vid: String,
    /// The person a verified session belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    pub ver: bool,
    /// A preview session (the inbox's live preview or test mode, `crate::usage::preview`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pre: bool,
    pub iat: i64,
    pub exp: i64,
    /// The key that signed the token (from its header, not a claim): a live connection ends
    /// when that key is retired.
    #[serde(skip)]
    pub kid: String,
}

/// Claims of a preview token (`POST /v1/admin/preview-token`): the inbox's live preview
/// starts widget sessions with it, as the widget's `token` option, and they are previews
/// (`crate::usage::preview`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PreviewClaims {
    /// Always `"preview"`.
    pub typ: String,
    pub ws: String,
    /// The admin's agent id: the preview's visitor is derived from it.
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
}

pub const TALK_TYP: &str = "talk";
pub const SOCKET_TYP: &str = "socket";
pub const PREVIEW_TYP: &str = "preview";

/// What a widget may present as its `token` when it starts a session.
#[derive(Debug, Clone)]
pub enum WidgetToken {
    /// A verified session's (`POST /v1/talk/session`).
    Talk(TalkClaims),
    /// The inbox's live preview's.
    Preview(PreviewClaims),
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SigningKey {
    pub kid: String,
    pub workspace_id: String,
    secret: String,
    pub retired_at: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not valid")]
    Invalid,
    #[error("the token has expired")]
    Expired,
    #[error("the token belongs to another workspace")]
    WrongWorkspace,
    #[error("the token's signing key was retired")]
    KeyRetired,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<TokenError> for ApiError {
    fn from(error: TokenError) -> Self {
        match error {
            TokenError::Invalid => ApiError::unauthorized(
                "invalid_token",
                "the token is not valid: start a new session",
            ),
            TokenError::Expired => ApiError::unauthorized(
                "token_expired",
                "the token has expired: start a new session",
            ),
            TokenError::WrongWorkspace => ApiError::unauthorized(
                "token_wrong_workspace",
                "the token was issued for another workspace",
            ),
            TokenError::KeyRetired => ApiError::unauthorized(
                "token_key_retired",
                "the key that signed this token was retired: mint a new token",
            ),
            TokenError::Store(error) => ApiError::Store(error),
        }
    }
}

/// A fresh secret for a new signing key.
pub fn new_secret() -> String {
    db::random_hex(32)
}

/// The key new tokens of this workspace are signed with: its newest key not retired.
pub async fn active_key(db: &Db, workspace_id: &str) -> StoreResult<SigningKey> {
    db.active_signing_key(workspace_id)
        .await?
        .ok_or(StoreError::NotFound)
}

async fn key_by_kid(db: &Db, kid: &str) -> StoreResult<Option<SigningKey>> {
    db.signing_key(kid).await
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the workspace has no signing key {0:?}")]
    UnknownKey(String),
    #[error("no workspace has the id {0:?}")]
    UnknownWorkspace(String),
    #[error("key {0:?} signs the workspace's new tokens: rotate first, then retire it")]
    ActiveKey(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Adds a key that signs the workspace's tokens from now on; tokens signed by older keys
/// keep verifying until those keys are retired. Returns the new key's id.
pub async fn rotate_signing_key(db: &Db, workspace_id: &str) -> Result<String, KeyError> {
    let kid = db::new_id();
    if !db
        .add_signing_key(workspace_id, &kid, &new_secret(), db::now_ms())
        .await?
    {
        return Err(KeyError::UnknownWorkspace(workspace_id.to_string()));
    }
    Ok(kid)
}

/// Retires a key: every token it signed is rejected from now on (`token_key_retired`).
/// The active key can't be retired; rotate first. Retiring twice is a no-op.
pub async fn retire_signing_key(db: &Db, workspace_id: &str, kid: &str) -> Result<(), KeyError> {
    let key = key_by_kid(db, kid)
        .await?
        .filter(|key| key.workspace_id == workspace_id)
        .ok_or_else(|| KeyError::UnknownKey(kid.to_string()))?;
    if key.retired_at.is_some() {
        return Ok(());
    }
    if active_key(db, workspace_id).await?.kid == kid {
        return Err(KeyError::ActiveKey(kid.to_string()));
    }
    db.retire_signing_key(kid, db::now_ms()).await?;
    Ok(())
}

pub fn sign<C: Serialize>(key: &SigningKey, claims: &C) -> Result<String, ApiError> {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(key.kid.clone());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(key.secret.as_bytes()),
    )
    .map_err(|error| ApiError::Internal(format!("signing a token: {error}")))
}

/// Checks the signature with the key the header names, then expiry (no leeway), then that
/// the key is not retired. Returns the claims and the key (its workspace, its id).
async fn verify<C: DeserializeOwned>(db: &Db, token: &str) -> Result<(C, SigningKey), TokenError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
    if header.alg != Algorithm::HS256 {
        return Err(TokenError::Invalid);
    }
    let kid = header.kid.ok_or(TokenError::Invalid)?;
    let key = key_by_kid(db, &kid).await?.ok_or(TokenError::Invalid)?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp"]);
    let decoded = jsonwebtoken::decode::<C>(
        token,
        &DecodingKey::from_secret(key.secret.as_bytes()),
        &validation,
    )
    .map_err(|error| match error.kind() {
        ErrorKind::ExpiredSignature => TokenError::Expired,
        _ => TokenError::Invalid,
    })?;
    if key.retired_at.is_some() {
        return Err(TokenError::KeyRetired);
    }
    Ok((decoded.claims, key))
}

/// A verified-session or preview token presented to `workspace_id`'s widget. Any other
/// kind of token is `Invalid`, as is one whose claims don't fit its kind.
pub async fn verify_widget_token(
    db: &Db,
    token: &str,
    workspace_id: &str,
) -> Result<WidgetToken, TokenError> {
    let (claims, key): (serde_json::Value, SigningKey) = verify(db, token).await?;
    let (token, ws) = match claims.get("typ").and_then(serde_json::Value::as_str) {
        Some(TALK_TYP) => {
            let claims: TalkClaims = claims_of(claims)?;
            let ws = claims.ws.clone();
            (WidgetToken::Talk(claims), ws)
        }
        Some(PREVIEW_TYP) => {
            let claims: PreviewClaims = claims_of(claims)?;
            let ws = claims.ws.clone();
            (WidgetToken::Preview(claims), ws)
        }
        _ => return Err(TokenError::Invalid),
    };
    if key.workspace_id != workspace_id || ws != workspace_id {
        return Err(TokenError::WrongWorkspace);
    }
    Ok(token)
}

fn claims_of<C: DeserializeOwned>(claims: serde_json::Value) -> Result<C, TokenError> {
    serde_json::from_value(claims).map_err(|_| TokenError::Invalid)
}

/// A browser session token (socket auth or `Authorization: Bearer`).
pub async fn verify_socket_token(db: &Db, token: &str) -> Result<SocketClaims, TokenError> {
    let (mut claims, key): (SocketClaims, SigningKey) = verify(db, token).await?;
    if claims.typ != SOCKET_TYP || claims.ws != key.workspace_id {
        return Err(TokenError::Invalid);
    }
    claims.kid = key.kid;
    Ok(claims)
}

/// Which of these keys are retired (for the live connections signed by them).
pub async fn retired_among(db: &Db, kids: &[String]) -> StoreResult<Vec<String>> {
    db.retired_signing_keys(kids).await
}

pub fn now_secs() -> i64 {
    db::now_ms() / 1000
}
