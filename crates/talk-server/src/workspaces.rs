//! Workspaces (tenants), their keys and their first admin.

use crate::agents;
use crate::db::{self, Db};
use crate::tokens;
use serde::Serialize;
use sqlx::SqliteConnection;
use talk_protocol::{AgentRole, ApiKeyInfo};

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
    db::sha256_hex(api_key)
}

const API_KEY_PREFIX: &str = "talk_sk_";

/// Adds an API key (inside the caller's transaction); the key itself is returned once and
/// only its hash is kept, with the first 8 characters of its secret part to tell keys apart.
pub async fn insert_api_key(
    conn: &mut SqliteConnection,
    workspace_id: &str,
) -> Result<(ApiKeyInfo, String), sqlx::Error> {
    let secret = db::random_hex(32);
    let api_key = format!("{API_KEY_PREFIX}{secret}");
    let info = ApiKeyInfo {
        id: db::new_id(),
        prefix: Some(secret[..8].to_string()),
        created_at: db::now_ms(),
        revoked_at: None,
    };
    sqlx::query(
        "INSERT INTO api_keys (id, workspace_id, key_hash, prefix, created_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&info.id)
    .bind(workspace_id)
    .bind(hash_api_key(&api_key))
    .bind(&info.prefix)
    .bind(info.created_at)
    .execute(conn)
    .await?;
    Ok((info, api_key))
}

/// Creates a workspace with a capture key, an API key, a signing key and an admin agent.
pub async fn create_workspace(db: &Db, name: &str) -> Result<NewWorkspace, sqlx::Error> {
    let workspace_id = db::new_id();
    let capture_key = format!("talk_pk_{}", db::random_hex(16));
    let admin_email = format!("admin@{}.talk.local", &workspace_id[..8]);
    let admin_password = agents::new_password();
    let password_hash = agents::hash_password(&admin_password).await?;
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
    let (_, api_key) = insert_api_key(&mut tx, &workspace_id).await?;
    agents::insert(
        &mut tx,
        &workspace_id,
        &admin_email,
        "Admin",
        AgentRole::Admin,
        None,
        &password_hash,
    )
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

/// A workspace's API keys, oldest first (never the keys themselves).
pub async fn list_api_keys(db: &Db, workspace_id: &str) -> Result<Vec<ApiKeyInfo>, sqlx::Error> {
    let rows: Vec<(String, Option<String>, i64, Option<i64>)> = sqlx::query_as(
        "SELECT id, prefix, created_at, revoked_at FROM api_keys WHERE workspace_id = ?
         ORDER BY created_at, id",
    )
    .bind(workspace_id)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, prefix, created_at, revoked_at)| ApiKeyInfo {
            id,
            prefix,
            created_at,
            revoked_at,
        })
        .collect())
}

/// Revokes a key by id (revoking twice keeps the first time); false if the workspace has no
/// such key.
pub async fn revoke_api_key_by_id(
    db: &Db,
    workspace_id: &str,
    key_id: &str,
) -> Result<bool, sqlx::Error> {
    let result = sqlx::query(
        "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE workspace_id = ? AND id = ?",
    )
    .bind(db::now_ms())
    .bind(workspace_id)
    .bind(key_id)
    .execute(db)
    .await?;
    Ok(result.rows_affected() > 0)
}
