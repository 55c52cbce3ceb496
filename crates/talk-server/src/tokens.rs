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
    /// The key that signed the token (from its header, not a claim): a live connection ends
    /// when that key is retired.
    #[serde(skip)]
    pub kid: String,
}

pub const TALK_TYP: &str = "talk";
pub const SOCKET_TYP: &str = "socket";

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
            TokenError::KeyRetired => ApiError::unauthorized(
                "token_key_retired",
                "the key that signed this token was retired: mint a new token",
            ),
            TokenError::Database(error) => ApiError::Database(error),
        }
    }
}

/// A fresh secret for a new signing key.
pub fn new_secret() -> String {
    db::random_hex(32)
}

const KEY_COLUMNS: &str = "kid, workspace_id, secret, retired_at";

/// The key new tokens of this workspace are signed with: its newest key not retired.
pub async fn active_key(db: &Db, workspace_id: &str) -> Result<SigningKey, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {KEY_COLUMNS} FROM signing_keys
         WHERE workspace_id = ? AND retired_at IS NULL
         ORDER BY created_at DESC LIMIT 1"
    ))
    .bind(workspace_id)
    .fetch_one(db)
    .await
}

async fn key_by_kid(db: &Db, kid: &str) -> Result<Option<SigningKey>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {KEY_COLUMNS} FROM signing_keys WHERE kid = ?"
    ))
    .bind(kid)
    .fetch_optional(db)
    .await
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
    Database(#[from] sqlx::Error),
}

/// Adds a key that signs the workspace's tokens from now on; tokens signed by older keys
/// keep verifying until those keys are retired. Returns the new key's id.
pub async fn rotate_signing_key(db: &Db, workspace_id: &str) -> Result<String, KeyError> {
    let mut tx = db.begin().await?;
    // Strictly newer than every key, so the new key is the active one even within one ms.
    let newest: Option<Option<i64>> = sqlx::query_scalar(
        "SELECT (SELECT MAX(created_at) FROM signing_keys WHERE workspace_id = ?1)
         FROM workspaces WHERE id = ?1",
    )
    .bind(workspace_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(newest) = newest else {
        return Err(KeyError::UnknownWorkspace(workspace_id.to_string()));
    };
    let created_at = db::now_ms().max(newest.map_or(0, |newest| newest + 1));
    let kid = db::new_id();
    sqlx::query(
        "INSERT INTO signing_keys (kid, workspace_id, secret, created_at) VALUES (?, ?, ?, ?)",
    )
    .bind(&kid)
    .bind(workspace_id)
    .bind(new_secret())
    .bind(created_at)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
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
    sqlx::query("UPDATE signing_keys SET retired_at = ? WHERE kid = ? AND retired_at IS NULL")
        .bind(db::now_ms())
        .bind(kid)
        .execute(db)
        .await?;
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

/// A verified-session token presented to `workspace_id`'s widget.
pub async fn verify_talk_token(
    db: &Db,
    token: &str,
    workspace_id: &str,
) -> Result<TalkClaims, TokenError> {
    let (claims, key): (TalkClaims, SigningKey) = verify(db, token).await?;
    if claims.typ != TALK_TYP {
        return Err(TokenError::Invalid);
    }
    if key.workspace_id != workspace_id || claims.ws != workspace_id {
        return Err(TokenError::WrongWorkspace);
    }
    Ok(claims)
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
pub async fn retired_among(db: &Db, kids: &[String]) -> Result<Vec<String>, sqlx::Error> {
    let mut retired = Vec::new();
    // A handful of keys per workspace: one short query per batch keeps the statement bounded.
    for batch in kids.chunks(100) {
        let placeholders = vec!["?"; batch.len()].join(", ");
        let sql = format!(
            "SELECT kid FROM signing_keys WHERE retired_at IS NOT NULL AND kid IN ({placeholders})"
        );
        let mut query = sqlx::query_scalar::<_, String>(&sql);
        for kid in batch {
            query = query.bind(kid);
        }
        retired.extend(query.fetch_all(db).await?);
    }
    Ok(retired)
}

pub fn now_secs() -> i64 {
    db::now_ms() / 1000
}
