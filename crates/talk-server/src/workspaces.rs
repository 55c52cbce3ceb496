//! Workspaces (tenants), their keys and their first admin.

use crate::db::{self, Db};
use crate::tokens;
use argon2::password_hash::{PasswordHasher, SaltString};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// What creating a workspace hands out once; the API key and password are never stored.
#[derive(Debug, Clone, Serialize)]
pub struct NewWorkspace {
    pub workspace_id: String,
    pub capture_key: String,
    pub api_key: String,
    pub admin_email: String,
    pub admin_password: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Workspace {
    pub id: String,
    pub name: String,
    pub capture_key: String,
    pub names_required: bool,
    allowed_origins: String,
    pub created_at: i64,
}

impl Workspace {
    /// Empty means every origin may start a widget session.
    pub fn allowed_origins(&self) -> Vec<String> {
        serde_json::from_str(&self.allowed_origins).unwrap_or_default()
    }
}

const WORKSPACE_COLUMNS: &str =
    "id, name, capture_key, names_required, allowed_origins, created_at";

pub fn hash_api_key(api_key: &str) -> String {
    hex::encode(Sha256::digest(api_key.as_bytes()))
}

fn hash_password(password: &str) -> Result<String, sqlx::Error> {
    let mut salt = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut salt);
    let salt =
        SaltString::encode_b64(&salt).map_err(|error| sqlx::Error::Protocol(error.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| sqlx::Error::Protocol(format!("hashing a password: {error}")))
}

/// Creates a workspace with a capture key, an API key, a signing key and an admin agent.
pub async fn create_workspace(db: &Db, name: &str) -> Result<NewWorkspace, sqlx::Error> {
    let workspace_id = db::new_id();
    let capture_key = format!("talk_pk_{}", db::random_hex(16));
    let api_key = format!("talk_sk_{}", db::random_hex(32));
    let admin_email = format!("admin@{}.talk.local", &workspace_id[..8]);
    let admin_password = db::random_hex(12);
    let password = admin_password.clone();
    let password_hash = tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|error| sqlx::Error::Protocol(error.to_string()))??;
    let now = db::now_ms();

    let mut tx = db.begin().await?;
    sqlx::query("INSERT INTO workspaces (id, name, capture_key, created_at) VALUES (?, ?, ?, ?)")
        .bind(&workspace_id)
        .bind(name)
        .bind(&capture_key)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO signing_keys (kid, workspace_id, secret, created_at) VALUES (?, ?, ?, ?)",
    )
    .bind(db::new_id())
    .bind(&workspace_id)
    .bind(tokens::new_secret())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO api_keys (id, workspace_id, key_hash, created_at) VALUES (?, ?, ?, ?)",
    )
    .bind(db::new_id())
    .bind(&workspace_id)
    .bind(hash_api_key(&api_key))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO agents (id, workspace_id, email, name, password_hash, role, created_at)
         VALUES (?, ?, ?, 'Admin', ?, 'admin', ?)",
    )
    .bind(db::new_id())
    .bind(&workspace_id)
    .bind(&admin_email)
    .bind(password_hash)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;

    Ok(NewWorkspace {
        workspace_id,
        capture_key,
        api_key,
        admin_email,
        admin_password,
    })
}

pub async fn count(db: &Db) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM workspaces")
        .fetch_one(db)
        .await
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<Workspace>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

pub async fn by_capture_key(db: &Db, capture_key: &str) -> Result<Option<Workspace>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE capture_key = ?"
    ))
    .bind(capture_key)
    .fetch_optional(db)
    .await
}

pub async fn oldest(db: &Db) -> Result<Option<Workspace>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {WORKSPACE_COLUMNS} FROM workspaces ORDER BY created_at, id LIMIT 1"
    ))
    .fetch_optional(db)
    .await
}

/// The workspace an active (not revoked) API key belongs to.
pub async fn by_api_key(db: &Db, api_key: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT workspace_id FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
    )
    .bind(hash_api_key(api_key))
    .fetch_optional(db)
    .await
}

pub async fn set_allowed_origins(
    db: &Db,
    workspace_id: &str,
    origins: &[String],
) -> Result<(), sqlx::Error> {
    let origins = serde_json::to_string(origins).unwrap_or_else(|_| "[]".into());
    sqlx::query("UPDATE workspaces SET allowed_origins = ? WHERE id = ?")
        .bind(origins)
        .bind(workspace_id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn set_names_required(
    db: &Db,
    workspace_id: &str,
    names_required: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE workspaces SET names_required = ? WHERE id = ?")
        .bind(names_required)
        .bind(workspace_id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn revoke_api_key(db: &Db, api_key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE api_keys SET revoked_at = ? WHERE key_hash = ?")
        .bind(db::now_ms())
        .bind(hash_api_key(api_key))
        .execute(db)
        .await?;
    Ok(())
}
