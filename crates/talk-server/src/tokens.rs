//! Signed tokens (HS256 JWTs). Every token names its signing key in the header (`kid`), and
//! every key belongs to one workspace, so secrets can rotate and tenants can't mix.

use crate::db::{self, Db};
use crate::error::ApiError;
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
    pub iat: i64,
    pub exp: i64,
}

pub const TALK_TYP: &str = "talk";
pub const SOCKET_TYP: &str = "socket";

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SigningKey {
    pub kid: String,
    pub workspace_id: String,
    secret: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not valid")]
    Invalid,
    #[error("the token has expired")]
    Expired,
    #[error("the token belongs to another workspace")]
    WrongWorkspace,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
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
            TokenError::Database(error) => ApiError::Database(error),
        }
    }
}

/// A fresh secret for a new signing key.
pub fn new_secret() -> String {
    db::random_hex(32)
}

/// The key new tokens of this workspace are signed with.
pub async fn active_key(db: &Db, workspace_id: &str) -> Result<SigningKey, sqlx::Error> {
    sqlx::query_as(
        "SELECT kid, workspace_id, secret FROM signing_keys
         WHERE workspace_id = ? AND retired_at IS NULL
         ORDER BY created_at DESC LIMIT 1",
    )
    .bind(workspace_id)
    .fetch_one(db)
    .await
}

/// Retired keys no longer sign but still verify the tokens they signed.
async fn key_by_kid(db: &Db, kid: &str) -> Result<Option<SigningKey>, sqlx::Error> {
    sqlx::query_as("SELECT kid, workspace_id, secret FROM signing_keys WHERE kid = ?")
        .bind(kid)
        .fetch_optional(db)
        .await
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

/// Checks the signature with the key the header names, then expiry (no leeway).
/// Returns the claims and the workspace the key belongs to.
async fn verify<C: DeserializeOwned>(db: &Db, token: &str) -> Result<(C, String), TokenError> {
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
    Ok((decoded.claims, key.workspace_id))
}

/// A verified-session token presented to `workspace_id`'s widget.
pub async fn verify_talk_token(
    db: &Db,
    token: &str,
    workspace_id: &str,
) -> Result<TalkClaims, TokenError> {
    let (claims, key_workspace): (TalkClaims, String) = verify(db, token).await?;
    if claims.typ != TALK_TYP {
        return Err(TokenError::Invalid);
    }
    if key_workspace != workspace_id || claims.ws != workspace_id {
        return Err(TokenError::WrongWorkspace);
    }
    Ok(claims)
}

/// A browser session token (socket auth or `Authorization: Bearer`).
pub async fn verify_socket_token(db: &Db, token: &str) -> Result<SocketClaims, TokenError> {
    let (claims, key_workspace): (SocketClaims, String) = verify(db, token).await?;
    if claims.typ != SOCKET_TYP || claims.ws != key_workspace {
        return Err(TokenError::Invalid);
    }
    Ok(claims)
}

pub fn now_secs() -> i64 {
    db::now_ms() / 1000
}
