//! Workspaces (tenants), their keys and their first admin.

use crate::agents;
use crate::db::{self, Db};
use crate::store::{AgentRecord, ApiKeyRecord, StoreResult, WorkspaceRecord};
use crate::tokens;
use serde::Serialize;
use talk_protocol::{AgentRole, ApiKeyInfo, QuotaSettings};

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
    /// Any capture widget is enabled (`crate::captures`): a widget session looks for one to
    /// offer only then.
    pub captures_enabled: bool,
    /// The monthly quota (`crate::usage::quota`), read with the rest so a workspace without
    /// one costs no query to find out.
    quota_mode: String,
    quota_text_per_month: Option<i64>,
    quota_voice_minutes_per_month: Option<i64>,
}

impl Workspace {
    pub fn quota_settings(&self) -> QuotaSettings {
        QuotaSettings {
            mode: crate::usage::stored::quota_mode(&self.quota_mode),
            text_messages_per_month: self.quota_text_per_month,
            voice_minutes_per_month: self.quota_voice_minutes_per_month,
        }
    }

    /// Empty means every origin may start a widget session.
    pub fn allowed_origins(&self) -> Vec<String> {
        serde_json::from_str(&self.allowed_origins).unwrap_or_default()
    }
}

pub fn hash_api_key(api_key: &str) -> String {
    db::sha256_hex(api_key)
}

const API_KEY_PREFIX: &str = "talk_sk_";

/// Adds an API key; the key itself is returned once and only its hash is kept, with the
/// first 8 characters of its secret part to tell keys apart.
pub async fn insert_api_key(db: &Db, workspace_id: &str) -> StoreResult<(ApiKeyInfo, String)> {
    let (record, api_key) = new_api_key();
    db.insert_api_key(workspace_id, &record).await?;
    Ok((api_key_info(record), api_key))
}

/// A new key (`talk_sk_…`) and its record: the hash, and the prefix that tells keys apart.
pub(crate) fn new_api_key() -> (ApiKeyRecord, String) {
    let secret = db::random_hex(32);
    let api_key = format!("{API_KEY_PREFIX}{secret}");
    let record = ApiKeyRecord {
        id: db::new_id(),
        key_hash: hash_api_key(&api_key),
        prefix: Some(secret[..8].to_string()),
        created_at: db::now_ms(),
    };
    (record, api_key)
}

fn api_key_info(record: ApiKeyRecord) -> ApiKeyInfo {
    ApiKeyInfo {
        id: record.id,
        prefix: record.prefix,
        created_at: record.created_at,
        revoked_at: None,
    }
}

/// Creates a workspace with a capture key, an API key, a signing key and an admin agent.
pub async fn create_workspace(db: &Db, name: &str) -> StoreResult<NewWorkspace> {
    let workspace_id = db::new_id();
    let capture_key = format!("talk_pk_{}", db::random_hex(16));
    let admin_email = format!("admin@{}.talk.local", &workspace_id[..8]);
    let admin_password = agents::new_password();
    let password_hash = agents::hash_password(&admin_password).await?;
    let now = db::now_ms();
    let (api_key_record, api_key) = new_api_key();
    db.create_workspace(&WorkspaceRecord {
        id: workspace_id.clone(),
        name: name.to_string(),
        capture_key: capture_key.clone(),
        created_at: now,
        signing_kid: db::new_id(),
        signing_secret: tokens::new_secret(),
        api_key: api_key_record,
        admin: AgentRecord {
            id: db::new_id(),
            email: admin_email.clone(),
            name: "Admin".to_string(),
            role: AgentRole::Admin,
            photo_url: None,
            password_hash,
            created_at: now,
        },
    })
    .await?;
    Ok(NewWorkspace {
        workspace_id,
        capture_key,
        api_key,
        admin_email,
        admin_password,
    })
}

pub async fn count(db: &Db) -> StoreResult<i64> {
    db.count_workspaces().await
}

pub async fn by_id(db: &Db, id: &str) -> StoreResult<Option<Workspace>> {
    db.workspace_by_id(id).await
}

pub async fn by_capture_key(db: &Db, capture_key: &str) -> StoreResult<Option<Workspace>> {
    db.workspace_by_capture_key(capture_key).await
}

pub async fn oldest(db: &Db) -> StoreResult<Option<Workspace>> {
    db.oldest_workspace().await
}

/// Whose an active (not revoked) API key is: a workspace's, or a bot's (`crate::bots`).
pub async fn by_api_key(
    db: &Db,
    api_key: &str,
) -> StoreResult<Option<crate::bots::registry::KeyHolder>> {
    db.api_key_holder(&hash_api_key(api_key)).await
}

pub async fn set_allowed_origins(
    db: &Db,
    workspace_id: &str,
    origins: &[String],
) -> StoreResult<()> {
    let origins = serde_json::to_string(origins).unwrap_or_else(|_| "[]".into());
    db.set_allowed_origins(workspace_id, &origins).await
}

pub async fn set_names_required(
    db: &Db,
    workspace_id: &str,
    names_required: bool,
) -> StoreResult<()> {
    db.set_names_required(workspace_id, names_required).await
}

pub async fn revoke_api_key(db: &Db, api_key: &str) -> StoreResult<()> {
    db.revoke_api_key(&hash_api_key(api_key), db::now_ms())
        .await
}

/// A workspace's API keys, oldest first (never the keys themselves).
pub async fn list_api_keys(db: &Db, workspace_id: &str) -> StoreResult<Vec<ApiKeyInfo>> {
    db.list_api_keys(workspace_id).await
}

/// Revokes a key by id (revoking twice keeps the first time); false if the workspace has no
/// such key.
pub async fn revoke_api_key_by_id(db: &Db, workspace_id: &str, key_id: &str) -> StoreResult<bool> {
    db.revoke_api_key_by_id(workspace_id, key_id, db::now_ms())
        .await
}
