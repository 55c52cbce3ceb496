//! The SQLite store: one file in WAL mode, `synchronous = FULL` (a message is acknowledged
//! only once durable), foreign keys on. Migrations: `migrations/sqlite`.
//!
//! SQLite has one writer at a time, so the group commit (`crate::group_commit`) feeds every
//! message through one transaction per batch; a message refused by a constraint fails its
//! statement alone and leaves the transaction intact.

use super::rows::*;
use super::{
    author_kind_text, constraint, presence_text, role_text, status_text, AgentRecord, ApiKeyRecord,
    Committed, ConversationChange, IdentityVersion, PageViewRecord, PersonKey, SessionRecord,
    Store, StoreError, StoreResult, WorkspaceRecord,
};
use crate::conversations::{InboxFilter, InboxRowPage, NewConversation, NewMessage, Viewer};
use crate::people::{Claim, Person, VisitorIdentity};
use crate::tokens::SigningKey;
use crate::workspaces::Workspace;
use async_trait::async_trait;
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqliteConnection, SqlitePool};
use std::str::FromStr;
use std::time::Duration;
use talk_protocol::{
    AgentProfile, ApiKeyInfo, Conversation, InboxConversation, Message, OnlineAgent, PageView,
    Presence, MAX_PAGE_VIEWS,
};
use tokio_util::sync::{CancellationToken, DropGuard};

mod writer;

pub struct SqliteStore {
    pool: SqlitePool,
    /// Where the group commit's batches and the frequent small writes go, not through the
    /// pool (`writer`).
    writer: writer::Writer,
    identities: IdentityVersion,
    /// Stops the background checkpoints when the store is dropped.
    _checkpoints: DropGuard,
}

/// Maps an engine error: no row → not found; a UNIQUE constraint → conflict, named as in
/// [`constraint`]; anything else → other.
fn store_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(database) if database.is_unique_violation() => StoreError::Conflict {
            constraint: constraint_name(database.message()),
        },
        _ => StoreError::Other(Box::new(error)),
    }
}

/// SQLite names the columns ("UNIQUE constraint failed: messages.conversation_id,
/// messages.client_msg_id"), not the constraint.
fn constraint_name(message: &str) -> String {
    let columns = message
        .strip_prefix("UNIQUE constraint failed: ")
        .unwrap_or(message);
    let known = [
        (
            "messages.conversation_id, messages.client_msg_id",
            constraint::MESSAGE_CLIENT_ID,
        ),
        (
            "messages.conversation_id, messages.seq",
            constraint::MESSAGE_SEQ,
        ),
        (
            "people.workspace_id, people.email_norm",
            constraint::PERSON_EMAIL,
        ),
        ("agents.workspace_id, agents.email", constraint::AGENT_EMAIL),
        ("workspaces.capture_key", constraint::WORKSPACE_CAPTURE_KEY),
        ("api_keys.key_hash", constraint::API_KEY_HASH),
    ];
    known
        .iter()
        .find(|(text, _)| *text == columns)
        .map_or_else(|| columns.to_string(), |(_, name)| name.to_string())
}

/// A statement's parameter for [`writer::Writer::execute`].
fn text(value: &str) -> rusqlite::types::Value {
    rusqlite::types::Value::Text(value.to_string())
}

fn optional_text(value: Option<&str>) -> rusqlite::types::Value {
    value.map_or(rusqlite::types::Value::Null, text)
}

trait OrStoreError<T> {
    fn se(self) -> StoreResult<T>;
}

impl<T> OrStoreError<T> for Result<T, sqlx::Error> {
    fn se(self) -> StoreResult<T> {
        self.map_err(store_error)
    }
}

/// How often the WAL is copied back into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// Copies the WAL back into the database file, off the commit path: PASSIVE neither waits for
/// nor blocks readers and writers, and the WAL starts over once a checkpoint has caught up.
/// Ends with the store.
async fn checkpoint_in_background(pool: SqlitePool, stop: CancellationToken) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        if pool.is_closed() {
            return;
        }
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            if pool.is_closed() {
                return;
            }
            tracing::warn!(%error, "WAL checkpoint");
        }
    }
}

impl SqliteStore {
    /// Opens (creating if missing) and migrates the database.
    pub async fn connect(database_url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(database_url)
            .se()?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5))
            // A message is acknowledged only after it is durable.
            .synchronous(SqliteSynchronous::Full)
            // No checkpoint inside a writer's COMMIT (SQLite's default, every 1,000 pages,
            // would stall the batch whose commit crosses the mark, and every sender in it):
            // `checkpoint_in_background` does them beside the writer.
            .pragma("wal_autocheckpoint", "0");
        // The message writer opens the file by its name beside the pool.
        if database_url.contains(":memory:") || database_url.contains("mode=memory") {
            return Err(StoreError::other(
                "an in-memory SQLite database is not supported: name a file",
            ));
        }
        let pool = SqlitePoolOptions::new()
            // A file has no peer to lose the connection: the ping on every acquire is only a
            // round trip to the connection's worker thread.
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .se()?;
        sqlx::migrate!("./migrations/sqlite")
            .run(&pool)
            .await
            .map_err(StoreError::other)?;
        // After the migrations: the file exists, in WAL mode.
        let writer = writer::Writer::open(options.get_filename())?;
        let stop = CancellationToken::new();
        tokio::spawn(checkpoint_in_background(pool.clone(), stop.clone()));
        Ok(SqliteStore {
            pool,
            writer,
            identities: IdentityVersion::default(),
            _checkpoints: stop.drop_guard(),
        })
    }
}

async fn insert_agent(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    agent: &AgentRecord,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO agents (id, workspace_id, email, name, password_hash, role, photo_url, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&agent.id)
    .bind(workspace_id)
    .bind(&agent.email)
    .bind(&agent.name)
    .bind(&agent.password_hash)
    .bind(role_text(agent.role))
    .bind(&agent.photo_url)
    .bind(agent.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

async fn insert_api_key(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    key: &ApiKeyRecord,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO api_keys (id, workspace_id, key_hash, prefix, created_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&key.id)
    .bind(workspace_id)
    .bind(&key.key_hash)
    .bind(&key.prefix)
    .bind(key.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn identity_version(&self) -> &IdentityVersion {
        &self.identities
    }

    async fn create_workspace(&self, workspace: &WorkspaceRecord) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.se()?;
        sqlx::query(
            "INSERT INTO workspaces (id, name, capture_key, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&workspace.id)
        .bind(&workspace.name)
        .bind(&workspace.capture_key)
        .bind(workspace.created_at)
        .execute(&mut *tx)
        .await
        .se()?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, workspace_id, secret, created_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&workspace.signing_kid)
        .bind(&workspace.id)
        .bind(&workspace.signing_secret)
        .bind(workspace.created_at)
        .execute(&mut *tx)
        .await
        .se()?;
        insert_api_key(&mut tx, &workspace.id, &workspace.api_key)
            .await
            .se()?;
        insert_agent(&mut tx, &workspace.id, &workspace.admin)
            .await
            .se()?;
        tx.commit().await.se()
    }

    async fn count_workspaces(&self) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM workspaces")
            .fetch_one(&self.pool)
            .await
            .se()
    }

    async fn workspace_by_id(&self, id: &str) -> StoreResult<Option<Workspace>> {
        sqlx::query_as(&format!(
            "SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .se()
    }

    async fn workspace_by_capture_key(&self, capture_key: &str) -> StoreResult<Option<Workspace>> {
        sqlx::query_as(&format!(
            "SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE capture_key = $1"
        ))
        .bind(capture_key)
        .fetch_optional(&self.pool)
        .await
        .se()
    }

    async fn oldest_workspace(&self) -> StoreResult<Option<Workspace>> {
        sqlx::query_as(&format!(
            "SELECT {WORKSPACE_COLUMNS} FROM workspaces ORDER BY created_at, id LIMIT 1"
        ))
        .fetch_optional(&self.pool)
        .await
        .se()
    }

    async fn set_allowed_origins(&self, workspace_id: &str, origins_json: &str) -> StoreResult<()> {
        sqlx::query("UPDATE workspaces SET allowed_origins = $1 WHERE id = $2")
            .bind(origins_json)
            .bind(workspace_id)
            .execute(&self.pool)
            .await
            .se()?;
        Ok(())
    }

    async fn set_names_required(
        &self,
        workspace_id: &str,
        names_required: bool,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE workspaces SET names_required = $1 WHERE id = $2")
            .bind(names_required)
            .bind(workspace_id)
            .execute(&self.pool)
            .await
            .se()?;
        Ok(())
    }

    async fn insert_api_key(&self, workspace_id: &str, key: &ApiKeyRecord) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await.se()?;
        insert_api_key(&mut conn, workspace_id, key).await.se()
    }

    async fn revoke_api_key(&self, key_hash: &str, now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE key_hash = $2")
            .bind(now)
            .bind(key_hash)
            .execute(&self.pool)
            .await
            .se()?;
        Ok(())
    }

    async fn list_api_keys(&self, workspace_id: &str) -> StoreResult<Vec<ApiKeyInfo>> {
        let rows: Vec<(String, Option<String>, i64, Option<i64>)> = sqlx::query_as(
            "SELECT id, prefix, created_at, revoked_at FROM api_keys WHERE workspace_id = $1
             ORDER BY created_at, id",
        )
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await
        .se()?;
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

    async fn revoke_api_key_by_id(
        &self,
        workspace_id: &str,
        key_id: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $1)
             WHERE workspace_id = $2 AND id = $3",
        )
        .bind(now)
        .bind(workspace_id)
        .bind(key_id)
        .execute(&self.pool)
        .await
        .se()?;
        Ok(result.rows_affected() > 0)
    }

    async fn widget_settings(
        &self,
        workspace_id: &str,
    ) -> StoreResult<Option<(Option<String>, bool)>> {
        sqlx::query_as("SELECT widget_settings, names_required FROM workspaces WHERE id = $1")
            .bind(workspace_id)
            .fetch_optional(&self.pool)
            .await
            .se()
    }

    async fn save_widget_settings(
        &self,
        workspace_id: &str,
        settings_json: &str,
        names_required: bool,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE workspaces SET widget_settings = $1, names_required = $2 WHERE id = $3",
        )
        .bind(settings_json)
        .bind(names_required)
        .bind(workspace_id)
        .execute(&self.pool)
        .await
        .se()?;
        Ok(())
    }

    async fn active_signing_key(&self, workspace_id: &str) -> StoreResult<Option<SigningKey>> {
        sqlx::query_as(&format!(
            "SELECT {KEY_COLUMNS} FROM signing_keys
             WHERE workspace_id = $1 AND retired_at IS NULL
             ORDER BY created_at DESC LIMIT 1"
        ))
        .bind(workspace_id)
        .fetch_optional(&self.pool)
        .await
        .se()
    }

    async fn signing_key(&self, kid: &str) -> StoreResult<Option<SigningKey>> {
        sqlx::query_as(&format!(
            "SELECT {KEY_COLUMNS} FROM signing_keys WHERE kid = $1"
        ))
        .bind(kid)
        .fetch_optional(&self.pool)
        .await
        .se()
    }

    async fn add_signing_key(
        &self,
        workspace_id: &str,
        kid: &str,
        secret: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.se()?;
        let newest: Option<Option<i64>> = sqlx::query_scalar(
            "SELECT (SELECT MAX(created_at) FROM signing_keys WHERE workspace_id = $1)
             FROM workspaces WHERE id = $1",
        )
        .bind(workspace_id)
        .fetch_optional(&mut *tx)
        .await
        .se()?;
        let Some(newest) = newest else {
            return Ok(false);
        };
        let created_at = now.max(newest.map_or(0, |newest| newest + 1));
        sqlx::query(
            "INSERT INTO signing_keys (kid, workspace_id, secret, created_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(kid)
        .bind(workspace_id)
        .bind(secret)
        .bind(created_at)
        .execute(&mut *tx)
        .await
        .se()?;
        tx.commit().await.se()?;
        Ok(true)
    }

    async fn retire_signing_key(&self, kid: &str, now: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE signing_keys SET retired_at = $1 WHERE kid = $2 AND retired_at IS NULL",
        )
        .bind(now)
        .bind(kid)
        .execute(&self.pool)
        .await
        .se()?;
        Ok(())
    }

    async fn retired_signing_keys(&self, kids: &[String]) -> StoreResult<Vec<String>> {
        let mut retired = Vec::new();
        // A handful of keys per workspace: one short query per batch keeps the statement
        // bounded.
        for batch in kids.chunks(100) {
            let placeholders: Vec<String> = (1..=batch.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT kid FROM signing_keys WHERE retired_at IS NOT NULL AND kid IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query_scalar::<_, String>(&sql);
            for kid in batch {
                query = query.bind(kid);
            }
            retired.extend(query.fetch_all(&self.pool).await.se()?);
        }
        Ok(retired)
    }

    async fn insert_agent(&self, workspace_id: &str, agent: &AgentRecord) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await.se()?;
        insert_agent(&mut conn, workspace_id, agent).await.se()
    }

    async fn agent_by_id(
        &self,
        workspace_id: &str,
        agent_id: &str,
    ) -> StoreResult<Option<AgentProfile>> {
        let row: Option<AgentRow> = sqlx::query_as(&format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(workspace_id)
        .bind(agent_id)
        .fetch_optional(&self.pool)
        .await
        .se()?;
        Ok(row.map(AgentProfile::from))
    }

    async fn agent_anywhere(&self, agent_id: &str) -> StoreResult<Option<AgentProfile>> {
        let row: Option<AgentRow> =
            sqlx::query_as(&format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1"))
                .bind(agent_id)
                .fetch_optional(&self.pool)
                .await
                .se()?;
        Ok(row.map(AgentProfile::from))
    }

    async fn list_agents(&self, workspace_id: &str) -> StoreResult<Vec<AgentProfile>> {
        let rows: Vec<AgentRow> = sqlx::query_as(&format!(
            "SELECT {AGENT_COLUMNS} FROM agents WHERE workspace_id = $1 ORDER BY created_at, id"
        ))
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await
        .se()?;
        Ok(rows.into_iter().map(AgentProfile::from).collect())
    }

    async fn delete_agent(&self, workspace_id: &str, agent_id: &str) -> StoreResult<bool> {
        let result = sqlx::query("DELETE FROM agents WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
            .bind(agent_id)
            .execute(&self.pool)
            .await
            .se()?;
        Ok(result.rows_affected() > 0)
    }

    async fn reset_agent_password(
        &self,
        workspace_id: &str,
        agent_id: &str,
        hash: &str,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.se()?;
        let updated =
            sqlx::query("UPDATE agents SET password_hash = $1 WHERE workspace_id = $2 AND id = $3")
                .bind(hash)
                .bind(workspace_id)
                .bind(agent_id)
                .execute(&mut *tx)
                .await
                .se()?;
        if updated.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM agent_sessions WHERE agent_id = $1")
            .bind(agent_id)
            .execute(&mut *tx)
            .await
            .se()?;
        tx.commit().await.se()?;
        Ok(true)
    }

    async fn set_presence(&self, agent_id: &str, presence: Presence) -> StoreResult<()> {
        sqlx::query("UPDATE agents SET presence = $1 WHERE id = $2")
            .bind(presence_text(presence))
            .bind(agent_id)
            .execute(&self.pool)
            .await
            .se()?;
        Ok(())
    }

    async fn online_agents(&self, workspace_id: &str) -> StoreResult<Vec<OnlineAgent>> {
        let rows: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT name, photo_url FROM agents WHERE workspace_id = $1 AND presence = 'online'
             ORDER BY created_at, id",
        )
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await
        .se()?;
        Ok(rows
            .into_iter()
            .map(|(name, photo_url)| OnlineAgent { name, photo_url })
            .collect())
    }

    async fn any_agent_online(&self, workspace_id: &str) -> StoreResult<bool> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM agents WHERE workspace_id = $1 AND presence = 'online')",
        )
        .bind(workspace_id)
        .fetch_one(&self.pool)
        .await
        .se()
    }

    async fn login_candidates(
        &self,
        email: &str,
        workspace_id: Option<&str>,
    ) -> StoreResult<Vec<(String, String, String)>> {
        sqlx::query_as(
            "SELECT id, workspace_id, password_hash FROM agents
             WHERE email = $1 AND ($2 IS NULL OR workspace_id = $2)
             ORDER BY created_at, id",
        )
        .bind(email)
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await
        .se()
    }

    async fn insert_agent_session(
        &self,
        id_hash: &str,
        agent_id: &str,
        now: i64,
        expires_at: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO agent_sessions (id_hash, agent_id, created_at, expires_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(id_hash)
        .bind(agent_id)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .se()?;
        Ok(())
    }

    async fn agent_session(&self, id_hash: &str) -> StoreResult<Option<(String, i64)>> {
        sqlx::query_as("SELECT agent_id, expires_at FROM agent_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .fetch_optional(&self.pool)
            .await
            .se()
    }

    async fn extend_agent_session(&self, id_hash: &str, expires_at: i64) -> StoreResult<()> {
        sqlx::query("UPDATE agent_sessions SET expires_at = $1 WHERE id_hash = $2")
            .bind(expires_at)
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .se()?;
        Ok(())
    }

    async fn delete_agent_session(&self, id_hash: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM agent_sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .se()?;
        Ok(())
    }

    async fn person_by_id(&self, workspace_id: &str, id: &str) -> StoreResult<Option<Person>> {
        let row: Option<PersonRow> = sqlx::query_as(&format!(
            "SELECT {PERSON_COLUMNS} FROM people WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .se()?;
        Ok(row.map(Person::from))
    }

    async fn person_by_email(
        &self,
        workspace_id: &str,
        email_norm: &str,
    ) -> StoreResult<Option<Person>> {
        let row: Option<PersonRow> = sqlx::query_as(&format!(
            "SELECT {PERSON_COLUMNS} FROM people WHERE workspace_id = $1 AND email_norm = $2"
        ))
        .bind(workspace_id)
        .bind(email_norm)
        .fetch_optional(&self.pool)
        .await
        .se()?;
        Ok(row.map(Person::from))
    }

    async fn find_person(
        &self,
        workspace_id: &str,
        keys: &[PersonKey],
    ) -> StoreResult<Option<Person>> {
        if keys.is_empty() {
            return Ok(None);
        }
        let mut conditions = Vec::new();
        let mut binds: Vec<String> = Vec::new();
        for key in keys {
            // $1 is the workspace: the next bind is $(len + 2).
            match key {
                PersonKey::Email(email) => {
                    conditions.push(format!("email_norm = ${}", binds.len() + 2));
                    binds.push(email.clone());
                }
                PersonKey::Text { name, value } => {
                    let path = binds.len() + 2;
                    conditions.push(format!(
                        "trim(json_extract(fields, ${path})) = ${}",
                        path + 1
                    ));
                    binds.push(format!("$.{}", Value::from(name.as_str())));
                    binds.push(value.clone());
                }
                PersonKey::Exact { name, json } => {
                    let path = binds.len() + 2;
                    conditions.push(format!(
                        "json_extract(fields, ${path}) = json_extract(${}, '$')",
                        path + 1
                    ));
                    binds.push(format!("$.{}", Value::from(name.as_str())));
                    binds.push(json.clone());
                }
            }
        }
        let sql = format!(
            "SELECT {PERSON_COLUMNS} FROM people WHERE workspace_id = $1 AND {}
             ORDER BY created_at, id LIMIT 1",
            conditions.join(" AND ")
        );
        let mut query = sqlx::query_as::<_, PersonRow>(&sql).bind(workspace_id);
        for bind in binds {
            query = query.bind(bind);
        }
        Ok(query
            .fetch_optional(&self.pool)
            .await
            .se()?
            .map(Person::from))
    }

    async fn insert_person(
        &self,
        workspace_id: &str,
        person: &Person,
        email_norm: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let inserted = sqlx::query(
            "INSERT INTO people (id, workspace_id, email_norm, fields, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $5)
             ON CONFLICT (workspace_id, email_norm) DO NOTHING",
        )
        .bind(&person.id)
        .bind(workspace_id)
        .bind(email_norm)
        .bind(Value::Object(person.fields.clone()).to_string())
        .bind(now)
        .execute(&self.pool)
        .await
        .se()?
        .rows_affected()
            == 1;
        Ok(inserted)
    }

    async fn save_person(
        &self,
        workspace_id: &str,
        person: &Person,
        email_norm: &str,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE people SET fields = $1, email_norm = $2, updated_at = $3
             WHERE workspace_id = $4 AND id = $5",
        )
        .bind(Value::Object(person.fields.clone()).to_string())
        .bind(email_norm)
        .bind(now)
        .bind(workspace_id)
        .bind(&person.id)
        .execute(&self.pool)
        .await
        .se()?;
        self.identities.bump();
        Ok(())
    }

    async fn record_source_ip(
        &self,
        workspace_id: &str,
        person_id: &str,
        ip: &str,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE people SET last_seen_ip = $1, last_seen_at = $2
             WHERE workspace_id = $3 AND id = $4",
        )
        .bind(ip)
        .bind(now)
        .bind(workspace_id)
        .bind(person_id)
        .execute(&self.pool)
        .await
        .se()?;
        Ok(())
    }

    async fn link_visitor(
        &self,
        workspace_id: &str,
        visitor_id: &str,
        person_id: &str,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE visitors SET person_id = $1 WHERE workspace_id = $2 AND id = $3")
            .bind(person_id)
            .bind(workspace_id)
            .bind(visitor_id)
            .execute(&self.pool)
            .await
            .se()?;
        self.identities.bump();
        Ok(())
    }

    async fn record_claim(
        &self,
        workspace_id: &str,
        visitor_id: &str,
        person_id: &str,
        claim: &Claim,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE visitors
             SET person_id = $1, claimed_email = $2, claimed_first_name = $3, claimed_last_name = $4
             WHERE workspace_id = $5 AND id = $6",
        )
        .bind(person_id)
        .bind(&claim.email)
        .bind(&claim.first_name)
        .bind(&claim.last_name)
        .bind(workspace_id)
        .bind(visitor_id)
        .execute(&self.pool)
        .await
        .se()?;
        self.identities.bump();
        Ok(())
    }

    async fn visitor_identity(
        &self,
        workspace_id: &str,
        visitor_id: &str,
    ) -> StoreResult<Option<VisitorIdentity>> {
        let row: Option<VisitorIdentityRow> = sqlx::query_as(
            "SELECT person_id, claimed_email, claimed_first_name, claimed_last_name
             FROM visitors WHERE workspace_id = $1 AND id = $2",
        )
        .bind(workspace_id)
        .bind(visitor_id)
        .fetch_optional(&self.pool)
        .await
        .se()?;
        Ok(row.map(VisitorIdentity::from))
    }

    async fn upsert_visitor(
        &self,
        workspace_id: &str,
        visitor_id: &str,
        now: i64,
    ) -> StoreResult<()> {
        self.writer
            .execute(
                "INSERT INTO visitors (workspace_id, id, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (workspace_id, id) DO NOTHING",
                vec![text(workspace_id), text(visitor_id), now.into()],
            )
            .await
    }

    async fn insert_session(&self, session: &SessionRecord<'_>) -> StoreResult<()> {
        self.writer
            .execute(
                "INSERT INTO sessions
                   (id, workspace_id, visitor_id, person_id, verified, kind, created_at, preview)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                vec![
                    text(session.id),
                    text(session.workspace_id),
                    optional_text(session.visitor_id),
                    optional_text(session.person_id),
                    i64::from(session.verified).into(),
                    text(session.kind),
                    session.created_at.into(),
                    i64::from(session.preview).into(),
                ],
            )
            .await
    }

    async fn record_page_view(
        &self,
        workspace_id: &str,
        visitor_id: &str,
        view: &PageViewRecord<'_>,
    ) -> StoreResult<()> {
        self.writer
            .execute(
                "INSERT INTO page_views
                   (workspace_id, visitor_id, person_id, url, title, referrer, created_at)
                 VALUES (?1, ?2,
                         (SELECT person_id FROM visitors WHERE workspace_id = ?1 AND id = ?2),
                         ?3, ?4, ?5, ?6)",
                vec![
                    text(workspace_id),
                    text(visitor_id),
                    text(view.url),
                    optional_text(view.title),
                    optional_text(view.referrer),
                    view.created_at.into(),
                ],
            )
            .await
    }

    async fn page_views_for_conversation(
        &self,
        workspace_id: &str,
        visitor_id: &str,
        verified_person_id: Option<&str>,
    ) -> StoreResult<Vec<PageView>> {
        let rows: Vec<PageViewRow> = sqlx::query_as(&format!(
            "SELECT {PAGE_VIEW_COLUMNS} FROM page_views
             WHERE workspace_id = $1
               AND (visitor_id = $3
                    OR ($2 IS NOT NULL AND visitor_id IN ({VERIFIED_VISITORS_OF_PERSON})))
             ORDER BY created_at DESC, id DESC LIMIT {MAX_PAGE_VIEWS}"
        ))
        .bind(workspace_id)
        .bind(verified_person_id)
        .bind(visitor_id)
        .fetch_all(&self.pool)
        .await
        .se()?;
        Ok(rows.into_iter().map(PageView::from).collect())
    }

    async fn page_views_for_person(
        &self,
        workspace_id: &str,
        person_id: &str,
    ) -> StoreResult<Vec<PageView>> {
        let rows: Vec<PageViewRow> = sqlx::query_as(&format!(
            "SELECT {PAGE_VIEW_COLUMNS} FROM page_views
             WHERE workspace_id = $1
               AND (person_id = $2
                    OR visitor_id IN (SELECT id FROM visitors WHERE workspace_id = $1 AND person_id = $2)
                    OR visitor_id IN ({VERIFIED_VISITORS_OF_PERSON}))
             ORDER BY created_at DESC, id DESC LIMIT {MAX_PAGE_VIEWS}"
        ))
        .bind(workspace_id)
        .bind(person_id)
        .fetch_all(&self.pool)
        .await
        .se()?;
        Ok(rows.into_iter().map(PageView::from).collect())
    }

    async fn visible_conversations(&self, viewer: &Viewer) -> StoreResult<Vec<Conversation>> {
        let rows: Vec<ConversationRow> = sqlx::query_as(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations
             WHERE workspace_id = $1
               AND (visitor_id = $2 OR ($3 IS NOT NULL AND person_id = $3 AND verified))
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(&viewer.workspace_id)
        .bind(&viewer.visitor_id)
        .bind(&viewer.verified_person_id)
        .fetch_all(&self.pool)
        .await
        .se()?;
        Ok(rows.into_iter().map(Conversation::from).collect())
    }

    async fn find_visible_conversation(
        &self,
        viewer: &Viewer,
        conversation_id: &str,
    ) -> StoreResult<Option<Conversation>> {
        let row: Option<ConversationRow> = sqlx::query_as(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations
             WHERE id = $4 AND workspace_id = $1
               AND (visitor_id = $2 OR ($3 IS NOT NULL AND person_id = $3 AND verified))"
        ))
        .bind(&viewer.workspace_id)
        .bind(&viewer.visitor_id)
        .bind(&viewer.verified_person_id)
        .bind(conversation_id)
        .fetch_optional(&self.pool)
        .await
        .se()?;
        Ok(row.map(Conversation::from))
    }

    async fn list_conversations(&self, workspace_id: &str) -> StoreResult<Vec<Conversation>> {
        let rows: Vec<ConversationRow> = sqlx::query_as(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations
             WHERE workspace_id = $1 AND NOT preview
             ORDER BY created_at DESC, id DESC"
        ))
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await
        .se()?;
        Ok(rows.into_iter().map(Conversation::from).collect())
    }

    async fn find_conversation(
        &self,
        workspace_id: &str,
        conversation_id: &str,
    ) -> StoreResult<Option<Conversation>> {
        let row: Option<ConversationRow> = sqlx::query_as(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE workspace_id = $1 AND id = $2"
        ))
        .bind(workspace_id)
        .bind(conversation_id)
        .fetch_optional(&self.pool)
        .await
        .se()?;
        Ok(row.map(Conversation::from))
    }

    async fn inbox_rows(
        &self,
        workspace_id: &str,
        filter: InboxFilter<'_>,
        page: &InboxRowPage,
    ) -> StoreResult<Vec<InboxConversation>> {
        let (after_activity, after_id) = match &page.after {
            Some(cursor) => (Some(cursor.activity), Some(cursor.id.as_str())),
            None => (None, None),
        };
        let rows: Vec<InboxRow> = sqlx::query_as(INBOX_SELECT)
            .bind(workspace_id)
            .bind(filter.status.map(status_text))
            .bind(filter.assignee_id)
            .bind(after_activity)
            .bind(after_id)
            .bind(page.limit)
            .fetch_all(&self.pool)
            .await
            .se()?;
        Ok(rows.into_iter().map(InboxConversation::from).collect())
    }

    async fn messages_before(
        &self,
        conversation_id: &str,
        before_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        let rows: Vec<MessageRow> = sqlx::query_as(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND seq < $2
             ORDER BY seq DESC LIMIT $3"
        ))
        .bind(conversation_id)
        .bind(before_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .se()?;
        Ok(rows.into_iter().map(Message::from).collect())
    }

    async fn messages_after(
        &self,
        conversation_id: &str,
        after_seq: i64,
        limit: u32,
    ) -> StoreResult<Vec<Message>> {
        let rows: Vec<MessageRow> = sqlx::query_as(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND seq > $2
             ORDER BY seq LIMIT $3"
        ))
        .bind(conversation_id)
        .bind(after_seq)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .se()?;
        Ok(rows.into_iter().map(Message::from).collect())
    }

    async fn message_by_client_id(
        &self,
        conversation_id: &str,
        client_msg_id: &str,
    ) -> StoreResult<Option<Message>> {
        let row: Option<MessageRow> = sqlx::query_as(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND client_msg_id = $2"
        ))
        .bind(conversation_id)
        .bind(client_msg_id)
        .fetch_optional(&self.pool)
        .await
        .se()?;
        Ok(row.map(Message::from))
    }

    async fn visitor_message_by_client_id(
        &self,
        workspace_id: &str,
        visitor_id: &str,
        client_msg_id: &str,
    ) -> StoreResult<Option<Message>> {
        let row: Option<MessageRow> = sqlx::query_as(
            "SELECT m.id, m.conversation_id, m.seq, m.author_kind, m.author_name, m.body,
                    m.client_msg_id, m.created_at
             FROM messages m JOIN conversations c ON c.id = m.conversation_id
             WHERE c.workspace_id = $1 AND c.visitor_id = $2 AND m.client_msg_id = $3
             LIMIT 1",
        )
        .bind(workspace_id)
        .bind(visitor_id)
        .bind(client_msg_id)
        .fetch_optional(&self.pool)
        .await
        .se()?;
        Ok(row.map(Message::from))
    }

    async fn append_messages(
        &self,
        batch: Vec<(String, NewMessage)>,
    ) -> StoreResult<Vec<StoreResult<Committed>>> {
        self.writer.append(batch).await
    }

    async fn create_conversation(
        &self,
        id: &str,
        conversation: &NewConversation,
        message: NewMessage,
        max_open: i64,
        now: i64,
    ) -> StoreResult<Option<Message>> {
        self.writer
            .start(id.to_string(), conversation.clone(), message, max_open, now)
            .await
    }

    async fn update_conversation(
        &self,
        workspace_id: &str,
        conversation_id: &str,
        change: &ConversationChange,
        now: i64,
    ) -> StoreResult<bool> {
        let (assignment, unless_already) = change_sql(change);
        let sql = format!(
            "UPDATE conversations SET {assignment}, updated_at = $4
             WHERE workspace_id = $1 AND id = $2 AND {unless_already}"
        );
        let query = sqlx::query(&sql).bind(workspace_id).bind(conversation_id);
        let query = match change {
            ConversationChange::Status(status) => query.bind(status_text(*status)),
            ConversationChange::Assignee(agent_id) => query.bind(agent_id.as_deref()),
            ConversationChange::VisitorRead(seq) | ConversationChange::AgentRead(seq) => {
                query.bind(*seq)
            }
        };
        let result = query.bind(now).execute(&self.pool).await.se()?;
        Ok(result.rows_affected() > 0)
    }

    async fn insert_call(&self, call: &crate::calls::CallRecord) -> StoreResult<()> {
        bind_call!(insert sqlx::query(INSERT_CALL), call)
            .execute(&self.pool)
            .await
            .se()?;
        Ok(())
    }

    async fn call_by_id(&self, id: &str) -> StoreResult<Option<crate::calls::CallRecord>> {
        let row: Option<CallRow> =
            sqlx::query_as(&format!("SELECT {CALL_COLUMNS} FROM calls WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await
                .se()?;
        Ok(row.map(Into::into))
    }

    async fn save_call(
        &self,
        call: &crate::calls::CallRecord,
        expected_version: i64,
    ) -> StoreResult<bool> {
        let result = bind_call!(save sqlx::query(SAVE_CALL), call, expected_version)
            .execute(&self.pool)
            .await
            .se()?;
        Ok(result.rows_affected() > 0)
    }

    async fn live_calls(&self, party: Option<&str>) -> StoreResult<Vec<crate::calls::CallRecord>> {
        let rows: Vec<CallRow> = sqlx::query_as(&format!(
            "SELECT {CALL_COLUMNS} FROM calls WHERE state != 'ended'
             AND (CAST($1 AS TEXT) IS NULL OR visitor_party = $1 OR agent_party = $1)"
        ))
        .bind(party)
        .fetch_all(&self.pool)
        .await
        .se()?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    // Capture widgets (`crate::captures`).

    async fn insert_capture_widget(
        &self,
        record: &crate::captures::stored::CaptureWidgetRecord<'_>,
        max: i64,
    ) -> StoreResult<bool> {
        // IMMEDIATE: the count and the insert see no other writer in between.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.se()?;
        let inserted = sqlx::query(
            "INSERT INTO capture_widgets
               (id, workspace_id, position, input, enabled, sender_agent_id, created_at,
                updated_at)
             SELECT $1, $2,
                    (SELECT COALESCE(MAX(position), 0) + 1 FROM capture_widgets
                     WHERE workspace_id = $2),
                    $3, $4, $5, $6, $6
             WHERE (SELECT COUNT(*) FROM capture_widgets WHERE workspace_id = $2) < $7",
        )
        .bind(record.id)
        .bind(record.workspace_id)
        .bind(record.input_json)
        .bind(record.enabled)
        .bind(record.sender_agent_id)
        .bind(record.now)
        .bind(max)
        .execute(&mut *tx)
        .await
        .se()?;
        if inserted.rows_affected() == 0 {
            return Ok(false);
        }
        refresh_captures_enabled(&mut tx, record.workspace_id).await?;
        tx.commit().await.se()?;
        Ok(true)
    }

    async fn update_capture_widget(
        &self,
        record: &crate::captures::stored::CaptureWidgetRecord<'_>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.se()?;
        let updated = sqlx::query(
            "UPDATE capture_widgets
             SET input = $3, enabled = $4, sender_agent_id = $5, updated_at = $6
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(record.workspace_id)
        .bind(record.id)
        .bind(record.input_json)
        .bind(record.enabled)
        .bind(record.sender_agent_id)
        .bind(record.now)
        .execute(&mut *tx)
        .await
        .se()?;
        if updated.rows_affected() == 0 {
            return Ok(false);
        }
        refresh_captures_enabled(&mut tx, record.workspace_id).await?;
        tx.commit().await.se()?;
        Ok(true)
    }

    async fn delete_capture_widget(&self, workspace_id: &str, id: &str) -> StoreResult<bool> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.se()?;
        let deleted =
            sqlx::query("DELETE FROM capture_widgets WHERE workspace_id = $1 AND id = $2")
                .bind(workspace_id)
                .bind(id)
                .execute(&mut *tx)
                .await
                .se()?;
        if deleted.rows_affected() == 0 {
            return Ok(false);
        }
        refresh_captures_enabled(&mut tx, workspace_id).await?;
        tx.commit().await.se()?;
        Ok(true)
    }

    async fn capture_widgets(
        &self,
        workspace_id: &str,
        id: Option<&str>,
    ) -> StoreResult<Vec<crate::captures::stored::CaptureWidgetRow>> {
        sqlx::query_as(
            "SELECT c.id, c.position, c.input, c.created_at, c.updated_at,
                    (SELECT COUNT(*) FROM capture_events e
                     WHERE e.capture_id = c.id AND e.kind = 'shown') AS shown,
                    (SELECT COUNT(*) FROM capture_events e
                     WHERE e.capture_id = c.id AND e.kind = 'dismissed') AS dismissed,
                    (SELECT COUNT(*) FROM capture_events e
                     WHERE e.capture_id = c.id AND e.kind = 'replied') AS replied,
                    (SELECT COUNT(*) FROM conversations v
                     WHERE v.capture_id = c.id) AS conversations
             FROM capture_widgets c
             WHERE c.workspace_id = $1 AND (CAST($2 AS TEXT) IS NULL OR c.id = $2)
             ORDER BY c.position, c.id",
        )
        .bind(workspace_id)
        .bind(id)
        .fetch_all(&self.pool)
        .await
        .se()
    }

    async fn order_capture_widgets(&self, workspace_id: &str, ids: &[String]) -> StoreResult<bool> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.se()?;
        let current: Vec<String> =
            sqlx::query_scalar("SELECT id FROM capture_widgets WHERE workspace_id = $1")
                .bind(workspace_id)
                .fetch_all(&mut *tx)
                .await
                .se()?;
        if !crate::captures::is_reordering(ids, &current) {
            return Ok(false);
        }
        for (position, id) in (1_i64..).zip(ids) {
            sqlx::query(
                "UPDATE capture_widgets SET position = $1 WHERE workspace_id = $2 AND id = $3",
            )
            .bind(position)
            .bind(workspace_id)
            .bind(id)
            .execute(&mut *tx)
            .await
            .se()?;
        }
        tx.commit().await.se()?;
        Ok(true)
    }

    async fn capture_offer_source(
        &self,
        workspace_id: &str,
    ) -> StoreResult<crate::captures::stored::OfferSource> {
        let rows: Vec<crate::captures::stored::OfferSourceRow> = sqlx::query_as(
            "SELECT w.widget_settings, c.id, c.input, c.sender_agent_id, a.name, a.photo_url
             FROM workspaces w
             LEFT JOIN capture_widgets c ON c.workspace_id = w.id AND c.enabled
             LEFT JOIN agents a ON a.workspace_id = w.id AND a.id = c.sender_agent_id
             WHERE w.id = $1
             ORDER BY c.position, c.id",
        )
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await
        .se()?;
        Ok(crate::captures::stored::OfferSource::from_rows(rows))
    }

    async fn capture_history(
        &self,
        workspace_id: &str,
        visitor_id: &str,
        max_views: i64,
    ) -> StoreResult<Vec<crate::captures::stored::HistoryRow>> {
        sqlx::query_as(
            "SELECT CAST(NULL AS TEXT) AS capture_id, CAST(NULL AS TEXT) AS kind,
                    views.created_at AS at
             FROM (SELECT created_at FROM page_views
                   WHERE workspace_id = $1 AND visitor_id = $2
                   ORDER BY created_at DESC LIMIT $3) AS views
             UNION ALL
             SELECT capture_id, kind, MAX(created_at) AS at FROM capture_events
             WHERE workspace_id = $1 AND visitor_id = $2
             GROUP BY capture_id, kind",
        )
        .bind(workspace_id)
        .bind(visitor_id)
        .bind(max_views)
        .fetch_all(&self.pool)
        .await
        .se()
    }

    async fn record_capture_event(
        &self,
        workspace_id: &str,
        capture_id: &str,
        event: crate::captures::stored::CaptureEvent,
        visitor_id: &str,
        session_id: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM capture_widgets WHERE workspace_id = $1 AND id = $2)",
        )
        .bind(workspace_id)
        .bind(capture_id)
        .fetch_one(&self.pool)
        .await
        .se()?;
        if !exists {
            return Ok(false);
        }
        // A page view's small write: with whatever else the writer commits. A repeat hits a
        // unique index and inserts nothing; a widget deleted meanwhile, the EXISTS.
        self.writer
            .execute(
                "INSERT INTO capture_events
                   (workspace_id, capture_id, kind, visitor_id, session_id, created_at)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6
                 WHERE EXISTS (SELECT 1 FROM capture_widgets WHERE workspace_id = ?1 AND id = ?2)
                 ON CONFLICT DO NOTHING",
                vec![
                    text(workspace_id),
                    text(capture_id),
                    text(event.as_str()),
                    text(visitor_id),
                    text(session_id),
                    now.into(),
                ],
            )
            .await?;
        Ok(true)
    }

    async fn start_capture_conversation(
        &self,
        start: &crate::captures::stored::CaptureStart,
    ) -> StoreResult<crate::captures::stored::CaptureStarted> {
        use crate::captures::stored::CaptureStarted;
        let conversation = &start.conversation;
        // IMMEDIATE: the checks and counts below see no other writer until the commit.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await.se()?;
        let available: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM capture_widgets
                            WHERE workspace_id = $1 AND id = $2 AND enabled)
                AND NOT EXISTS (SELECT 1 FROM capture_events
                                WHERE capture_id = $2 AND visitor_id = $3 AND kind = 'replied')",
        )
        .bind(&conversation.workspace_id)
        .bind(&start.capture_id)
        .bind(&conversation.visitor_id)
        .fetch_one(&mut *tx)
        .await
        .se()?;
        if !available {
            return Ok(CaptureStarted::NotAvailable);
        }
        // The visitor saw the capture's message (seq 1) before replying (seq 2).
        let inserted = sqlx::query(
            "INSERT INTO conversations
               (id, workspace_id, visitor_id, person_id, session_id, verified, status, last_seq,
                created_at, updated_at, visitor_read_seq, capture_id)
             SELECT $1, $2, $3, $4, $5, $6, 'open', 2, $7, $7, 1, $8
             WHERE (SELECT COUNT(*) FROM conversations
                    WHERE workspace_id = $2 AND visitor_id = $3 AND status = 'open') < $9",
        )
        .bind(&start.conversation_id)
        .bind(&conversation.workspace_id)
        .bind(&conversation.visitor_id)
        .bind(&conversation.person_id)
        .bind(&conversation.session_id)
        .bind(conversation.verified)
        .bind(start.now)
        .bind(&start.capture_id)
        .bind(start.max_open)
        .execute(&mut *tx)
        .await
        .se()?;
        if inserted.rows_affected() == 0 {
            return Ok(CaptureStarted::TooManyOpen);
        }
        let mut committed = Vec::with_capacity(2);
        for (seq, message) in [(1, &start.opening), (2, &start.reply)] {
            let id = crate::db::new_message_id();
            sqlx::query(
                "INSERT INTO messages
                   (id, conversation_id, seq, author_kind, author_name, body, client_msg_id,
                    created_at, auto_reply)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&id)
            .bind(&start.conversation_id)
            .bind(seq)
            .bind(author_kind_text(message.author.kind))
            .bind(&message.author.name)
            .bind(&message.body)
            .bind(&message.client_msg_id)
            .bind(start.now)
            .bind(message.auto_reply)
            .execute(&mut *tx)
            .await
            .se()?;
            committed.push(
                message
                    .clone()
                    .committed(id, &start.conversation_id, seq, start.now),
            );
        }
        sqlx::query(
            "INSERT INTO capture_events
               (workspace_id, capture_id, kind, visitor_id, session_id, created_at)
             VALUES ($1, $2, 'replied', $3, $4, $5)",
        )
        .bind(&conversation.workspace_id)
        .bind(&start.capture_id)
        .bind(&conversation.visitor_id)
        .bind(&conversation.session_id)
        .bind(start.now)
        .execute(&mut *tx)
        .await
        .se()?;
        tx.commit().await.se()?;
        let reply = committed.pop().expect("two messages");
        let opening = committed.pop().expect("two messages");
        Ok(CaptureStarted::Started(Box::new(
            crate::captures::stored::Opened { opening, reply },
        )))
    }

    async fn capture_conversations(
        &self,
        workspace_id: &str,
        capture_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<Conversation>> {
        let rows: Vec<ConversationRow> = sqlx::query_as(&format!(
            "SELECT {CONVERSATION_COLUMNS} FROM conversations
             WHERE workspace_id = $1 AND capture_id = $2
             ORDER BY created_at DESC, id DESC LIMIT $3"
        ))
        .bind(workspace_id)
        .bind(capture_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .se()?;
        Ok(rows.into_iter().map(Conversation::from).collect())
    }

    // Bots and their webhook deliveries (`crate::bots`).

    async fn insert_bot(
        &self,
        bot: &crate::bots::registry::BotRecord,
        key: &ApiKeyRecord,
        max_bots: i64,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.se()?;
        // Counted in the insert, which holds SQLite's write lock: two admins can't both pass.
        let inserted = sqlx::query(
            "INSERT INTO bots (id, workspace_id, name, photo_url, webhook_url, takes, enabled,
                               signing_secret, api_key_id, created_at, updated_at)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10
             WHERE (SELECT COUNT(*) FROM bots WHERE workspace_id = $2) < $11",
        )
        .bind(&bot.id)
        .bind(&bot.workspace_id)
        .bind(&bot.input.name)
        .bind(&bot.input.photo_url)
        .bind(&bot.input.webhook_url)
        .bind(crate::bots::registry::takes_text(bot.input.takes))
        .bind(bot.input.enabled)
        .bind(&bot.signing_secret)
        .bind(&key.id)
        .bind(bot.created_at)
        .bind(max_bots)
        .execute(&mut *tx)
        .await
        .se()?;
        if inserted.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO api_keys (id, workspace_id, key_hash, prefix, created_at, bot_id)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&key.id)
        .bind(&bot.workspace_id)
        .bind(&key.key_hash)
        .bind(&key.prefix)
        .bind(key.created_at)
        .bind(&bot.id)
        .execute(&mut *tx)
        .await
        .se()?;
        tx.commit().await.se()?;
        Ok(true)
    }

    async fn list_bots(
        &self,
        workspace_id: &str,
    ) -> StoreResult<Vec<crate::bots::registry::BotRecord>> {
        use crate::bots::registry::{bot_from_row, BotRow, BOT_COLUMNS};
        let rows: Vec<BotRow> = sqlx::query_as(&format!(
            "SELECT {BOT_COLUMNS} FROM bots b LEFT JOIN api_keys k ON k.id = b.api_key_id
             WHERE b.workspace_id = $1 ORDER BY b.created_at, b.id"
        ))
        .bind(workspace_id)
        .fetch_all(&self.pool)
        .await
        .se()?;
        Ok(rows.into_iter().map(bot_from_row).collect())
    }

    async fn bot_by_id(
        &self,
        workspace_id: &str,
        bot_id: &str,
    ) -> StoreResult<Option<crate::bots::registry::BotRecord>> {
        use crate::bots::registry::{bot_from_row, BotRow, BOT_COLUMNS};
        let row: Option<BotRow> = sqlx::query_as(&format!(
            "SELECT {BOT_COLUMNS} FROM bots b LEFT JOIN api_keys k ON k.id = b.api_key_id
             WHERE b.workspace_id = $1 AND b.id = $2"
        ))
        .bind(workspace_id)
        .bind(bot_id)
        .fetch_optional(&self.pool)
        .await
        .se()?;
        Ok(row.map(bot_from_row))
    }

    async fn update_bot(
        &self,
        workspace_id: &str,
        bot_id: &str,
        input: &talk_protocol::BotInput,
        now: i64,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE bots SET name = $3, photo_url = $4, webhook_url = $5, takes = $6,
                             enabled = $7, updated_at = $8
             WHERE workspace_id = $1 AND id = $2",
        )
        .bind(workspace_id)
        .bind(bot_id)
        .bind(&input.name)
        .bind(&input.photo_url)
        .bind(&input.webhook_url)
        .bind(crate::bots::registry::takes_text(input.takes))
        .bind(input.enabled)
        .bind(now)
        .execute(&self.pool)
        .await
        .se()?;
        Ok(result.rows_affected() > 0)
    }

    async fn delete_bot(&self, workspace_id: &str, bot_id: &str, now: i64) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.se()?;
        // Its conversations' bot_id goes to NULL and its deliveries go (foreign keys).
        let deleted = sqlx::query("DELETE FROM bots WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
            .bind(bot_id)
            .execute(&mut *tx)
            .await
            .se()?;
        if deleted.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $3)
             WHERE workspace_id = $1 AND bot_id = $2",
        )
        .bind(workspace_id)
        .bind(bot_id)
        .bind(now)
        .execute(&mut *tx)
        .await
        .se()?;
        tx.commit().await.se()?;
        Ok(true)
    }

    async fn api_key_holder(
        &self,
        key_hash: &str,
    ) -> StoreResult<Option<crate::bots::registry::KeyHolder>> {
        let row: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT workspace_id, bot_id FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
        )
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await
        .se()?;
        Ok(
            row.map(|(workspace_id, bot_id)| crate::bots::registry::KeyHolder {
                workspace_id,
                bot_id,
            }),
        )
    }

    async fn conversation_bot(
        &self,
        workspace_id: &str,
        conversation_id: &str,
    ) -> StoreResult<Option<(String, String)>> {
        sqlx::query_as(
            "SELECT b.id, b.name FROM conversations c JOIN bots b ON b.id = c.bot_id
             WHERE c.workspace_id = $1 AND c.id = $2",
        )
        .bind(workspace_id)
        .bind(conversation_id)
        .fetch_optional(&self.pool)
        .await
        .se()
    }

    async fn release_conversation(
        &self,
        workspace_id: &str,
        conversation_id: &str,
        bot_id: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE conversations SET bot_id = NULL, updated_at = $4
             WHERE workspace_id = $1 AND id = $2 AND bot_id = $3",
        )
        .bind(workspace_id)
        .bind(conversation_id)
        .bind(bot_id)
        .bind(now)
        .execute(&self.pool)
        .await
        .se()?;
        Ok(result.rows_affected() > 0)
    }

    async fn claim_deliveries(
        &self,
        now: i64,
        leased_until: i64,
        limit: i64,
    ) -> StoreResult<Vec<crate::bots::delivery::DeliveryJob>> {
        use crate::bots::delivery::{job_from_row, JobRow};
        // One node per SQLite file. Looked for with a read first: most looks find nothing,
        // and a read doesn't take the write lock the group commit's writer waits on.
        let due: Vec<String> = sqlx::query_scalar(
            "SELECT d.id FROM webhook_deliveries d
             WHERE d.status = 'pending' AND d.next_attempt_at <= $1
               AND (d.leased_until IS NULL OR d.leased_until <= $1)
               AND NOT EXISTS (
                   SELECT 1 FROM webhook_deliveries e
                   WHERE e.conversation_id = d.conversation_id AND e.status = 'pending'
                     AND e.message_seq < d.message_seq)
             ORDER BY d.next_attempt_at, d.created_at
             LIMIT $2",
        )
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .se()?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (3..3 + due.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "UPDATE webhook_deliveries SET leased_until = $2
             WHERE id IN ({}) AND status = 'pending'
               AND (leased_until IS NULL OR leased_until <= $1)
             RETURNING id, workspace_id, bot_id, conversation_id, message_id, message_seq,
                       attempts, created_at",
            placeholders.join(", ")
        );
        let mut query = sqlx::query_as::<_, JobRow>(&sql)
            .bind(now)
            .bind(leased_until);
        for id in &due {
            query = query.bind(id);
        }
        let rows = query.fetch_all(&self.pool).await.se()?;
        Ok(rows
            .into_iter()
            .map(|row| job_from_row(row, leased_until))
            .collect())
    }

    async fn next_delivery_due(&self) -> StoreResult<Option<i64>> {
        sqlx::query_scalar(
            "SELECT MIN(CASE WHEN d.leased_until > d.next_attempt_at THEN d.leased_until
                             ELSE d.next_attempt_at END)
             FROM webhook_deliveries d
             WHERE d.status = 'pending'
               AND NOT EXISTS (
                   SELECT 1 FROM webhook_deliveries e
                   WHERE e.conversation_id = d.conversation_id AND e.status = 'pending'
                     AND e.message_seq < d.message_seq)",
        )
        .fetch_one(&self.pool)
        .await
        .se()
    }

    async fn record_attempt(
        &self,
        delivery_id: &str,
        leased_until: i64,
        attempt: &crate::bots::delivery::AttemptRecord,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE webhook_deliveries
             SET status = $3, attempts = attempts + 1, next_attempt_at = $4,
                 leased_until = NULL, last_status = $5, last_error = $6, delivered_at = $7
             WHERE id = $1 AND leased_until = $2",
        )
        .bind(delivery_id)
        .bind(leased_until)
        .bind(crate::bots::delivery::status_text(attempt.status))
        .bind(attempt.next_attempt_at)
        .bind(attempt.last_status.map(i64::from))
        .bind(&attempt.last_error)
        .bind(attempt.delivered_at)
        .execute(&self.pool)
        .await
        .se()?;
        Ok(result.rows_affected() > 0)
    }

    async fn release_leases(&self, delivery_ids: Option<&[String]>) -> StoreResult<()> {
        let Some(delivery_ids) = delivery_ids else {
            sqlx::query(
                "UPDATE webhook_deliveries SET leased_until = NULL
                 WHERE leased_until IS NOT NULL",
            )
            .execute(&self.pool)
            .await
            .se()?;
            return Ok(());
        };
        // At most the worker's deliveries in flight: one short statement per batch.
        for batch in delivery_ids.chunks(100) {
            let placeholders: Vec<String> = (1..=batch.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "UPDATE webhook_deliveries SET leased_until = NULL WHERE id IN ({})",
                placeholders.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for id in batch {
                query = query.bind(id);
            }
            query.execute(&self.pool).await.se()?;
        }
        Ok(())
    }

    async fn list_deliveries(
        &self,
        workspace_id: &str,
        bot_id: &str,
        limit: i64,
    ) -> StoreResult<Vec<talk_protocol::WebhookDelivery>> {
        use crate::bots::delivery::{delivery_from_row, DeliveryRow};
        let rows: Vec<DeliveryRow> = sqlx::query_as(
            "SELECT id, bot_id, conversation_id, event_type, status, attempts, last_status,
                    last_error, created_at, next_attempt_at, delivered_at
             FROM webhook_deliveries WHERE workspace_id = $1 AND bot_id = $2
             ORDER BY created_at DESC, message_seq DESC, id DESC LIMIT $3",
        )
        .bind(workspace_id)
        .bind(bot_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .se()?;
        Ok(rows.into_iter().map(delivery_from_row).collect())
    }

    async fn prune_deliveries(&self, before: i64) -> StoreResult<u64> {
        let result = sqlx::query(
            "DELETE FROM webhook_deliveries WHERE status != 'pending' AND created_at < $1",
        )
        .bind(before)
        .execute(&self.pool)
        .await
        .se()?;
        Ok(result.rows_affected())
    }

    async fn answered_after(&self, conversation_id: &str, seq: i64) -> StoreResult<bool> {
        sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM messages
                            WHERE conversation_id = $1 AND seq > $2 AND author_kind != 'visitor')",
        )
        .bind(conversation_id)
        .bind(seq)
        .fetch_one(&self.pool)
        .await
        .se()
    }

    // Conversations agents start (`crate::outbound`).

    async fn outbound_sightings(
        &self,
        workspace_id: &str,
        person_id: &str,
    ) -> StoreResult<crate::outbound::Sightings> {
        let verified: Option<(String, String)> = sqlx::query_as(
            "SELECT s.visitor_id, s.id FROM sessions s
             JOIN visitors v ON v.workspace_id = s.workspace_id AND v.id = s.visitor_id
             WHERE s.workspace_id = $1 AND s.person_id = $2 AND s.verified
               AND s.kind = 'widget' AND NOT s.preview AND v.person_id = $2
             ORDER BY s.created_at DESC, s.id DESC LIMIT 1",
        )
        .bind(workspace_id)
        .bind(person_id)
        .fetch_optional(&self.pool)
        .await
        .se()?;
        let linked: Option<(String, String)> = sqlx::query_as(
            "SELECT s.visitor_id, s.id FROM visitors v
             JOIN sessions s ON s.workspace_id = v.workspace_id AND s.visitor_id = v.id
             WHERE v.workspace_id = $1 AND v.person_id = $2 AND s.kind = 'widget'
               AND NOT s.preview
             ORDER BY s.created_at DESC, s.id DESC LIMIT 1",
        )
        .bind(workspace_id)
        .bind(person_id)
        .fetch_optional(&self.pool)
        .await
        .se()?;
        let seen = |(visitor_id, session_id)| crate::outbound::SeenVisitor {
            visitor_id,
            session_id,
        };
        Ok(crate::outbound::Sightings {
            verified: verified.map(seen),
            linked: linked.map(seen),
        })
    }

    async fn start_outbound(
        &self,
        start: &crate::outbound::OutboundStart,
    ) -> StoreResult<crate::outbound::OutboundOutcome> {
        use crate::outbound::OutboundOutcome;
        let message = &start.message;
        let visitor = &start.recipient.visitor;
        let mut tx = self.pool.begin().await.se()?;
        // A write first: it takes SQLite's write lock before anything is read, so the checks
        // in it and the reads after it see every concurrent start committed before it.
        let inserted = sqlx::query(
            "INSERT INTO conversations
               (id, workspace_id, visitor_id, person_id, session_id, verified, status, last_seq,
                created_at, updated_at, assignee_id, visitor_read_seq, agent_read_seq, outbound)
             SELECT $1, $2, $3, $4, $5, $6, 'open', 1, $7, $7, $8, 0, 1, TRUE
             WHERE NOT EXISTS (
                     SELECT 1 FROM conversations c JOIN messages m ON m.conversation_id = c.id
                     WHERE c.workspace_id = $2 AND c.person_id = $4 AND m.seq = 1
                       AND m.client_msg_id = $9)
               AND (SELECT COUNT(*) FROM conversations
                    WHERE workspace_id = $2 AND status = 'open'
                      AND (visitor_id = $3 OR ($6 AND verified AND person_id = $4))) < $10",
        )
        .bind(&start.id)
        .bind(&start.workspace_id)
        .bind(&visitor.visitor_id)
        .bind(&start.person_id)
        .bind(&visitor.session_id)
        .bind(start.recipient.verified)
        .bind(start.now)
        .bind(&start.assignee_id)
        .bind(&message.client_msg_id)
        .bind(start.max_open)
        .execute(&mut *tx)
        .await
        .se()?;
        if inserted.rows_affected() == 0 {
            let earlier: Option<String> = sqlx::query_scalar(
                "SELECT c.id FROM conversations c JOIN messages m ON m.conversation_id = c.id
                 WHERE c.workspace_id = $1 AND c.person_id = $2 AND m.seq = 1
                   AND m.client_msg_id = $3",
            )
            .bind(&start.workspace_id)
            .bind(&start.person_id)
            .bind(&message.client_msg_id)
            .fetch_optional(&mut *tx)
            .await
            .se()?;
            return Ok(earlier.map_or(OutboundOutcome::TooMany, OutboundOutcome::Earlier));
        }
        let id = crate::db::new_message_id();
        sqlx::query(
            "INSERT INTO messages
               (id, conversation_id, seq, author_kind, author_name, body, client_msg_id, created_at,
                auto_reply)
             VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&id)
        .bind(&start.id)
        .bind(author_kind_text(message.author.kind))
        .bind(&message.author.name)
        .bind(&message.body)
        .bind(&message.client_msg_id)
        .bind(start.now)
        .bind(message.auto_reply)
        .execute(&mut *tx)
        .await
        .se()?;
        tx.commit().await.se()?;
        let message = message.clone().committed(id, &start.id, 1, start.now);
        Ok(OutboundOutcome::Started(message))
    }

    // Usage metering and quotas (`crate::usage`).
    async fn usage_days(
        &self,
        workspace_id: &str,
        from_day: i64,
        to_day: i64,
    ) -> StoreResult<Vec<crate::usage::stored::UsageRow>> {
        sqlx::query_as(&crate::usage::stored::rows_sql())
            .bind(workspace_id)
            .bind(from_day)
            .bind(to_day)
            .fetch_all(&self.pool)
            .await
            .se()
    }

    async fn usage_total(
        &self,
        workspace_id: &str,
        from_day: i64,
        to_day: i64,
        preview: bool,
    ) -> StoreResult<talk_protocol::UsageCounts> {
        let sums: crate::usage::stored::UsageSums =
            sqlx::query_as(&crate::usage::stored::total_sql())
                .bind(workspace_id)
                .bind(from_day)
                .bind(to_day)
                .bind(preview)
                .fetch_one(&self.pool)
                .await
                .se()?;
        Ok(sums.into())
    }

    async fn set_quota(
        &self,
        workspace_id: &str,
        quota: &talk_protocol::QuotaSettings,
    ) -> StoreResult<bool> {
        let updated = sqlx::query(
            "UPDATE workspaces
             SET quota_mode = $1, quota_text_per_month = $2, quota_voice_minutes_per_month = $3
             WHERE id = $4",
        )
        .bind(crate::usage::stored::mode_text(quota.mode))
        .bind(quota.text_messages_per_month)
        .bind(quota.voice_minutes_per_month)
        .bind(workspace_id)
        .execute(&self.pool)
        .await
        .se()?;
        Ok(updated.rows_affected() > 0)
    }

    async fn record_quota_warning(
        &self,
        workspace_id: &str,
        warning: &talk_protocol::QuotaWarning,
        now: i64,
    ) -> StoreResult<bool> {
        let inserted = sqlx::query(
            "INSERT INTO quota_warnings (workspace_id, month, metric, level, created_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (workspace_id, month, metric, level) DO NOTHING",
        )
        .bind(workspace_id)
        .bind(&warning.month)
        .bind(crate::usage::stored::metric_text(warning.metric))
        .bind(i64::from(warning.level))
        .bind(now)
        .execute(&self.pool)
        .await
        .se()?;
        Ok(inserted.rows_affected() > 0)
    }

    // Previews (`crate::usage::preview`).
    async fn delete_preview_conversations(&self, before: i64, limit: i64) -> StoreResult<u64> {
        let result = sqlx::query(
            "DELETE FROM conversations WHERE id IN
               (SELECT id FROM conversations WHERE preview AND created_at < $1 LIMIT $2)",
        )
        .bind(before)
        .bind(limit)
        .execute(&self.pool)
        .await
        .se()?;
        Ok(result.rows_affected())
    }

    async fn delete_preview_sessions(&self, before: i64, limit: i64) -> StoreResult<u64> {
        // A session's conversations are its visitor's: looked up by the visitor's index
        // (`session_id` has none).
        let result = sqlx::query(
            "DELETE FROM sessions WHERE id IN
               (SELECT s.id FROM sessions s
                WHERE s.preview AND s.created_at < $1
                  AND NOT EXISTS (SELECT 1 FROM conversations c
                                  WHERE c.workspace_id = s.workspace_id
                                    AND c.visitor_id = s.visitor_id AND c.session_id = s.id)
                LIMIT $2)",
        )
        .bind(before)
        .bind(limit)
        .execute(&self.pool)
        .await
        .se()?;
        Ok(result.rows_affected())
    }
}

/// `SET` and the "unless it is already so" condition of a conversation change, its value
/// bound as $3. Both engines accept the same text.
pub(crate) fn change_sql(change: &ConversationChange) -> (&'static str, &'static str) {
    match change {
        ConversationChange::Status(_) => ("status = $3", "status != $3"),
        ConversationChange::Assignee(_) => ("assignee_id = $3", "assignee_id IS DISTINCT FROM $3"),
        ConversationChange::VisitorRead(_) => ("visitor_read_seq = $3", "visitor_read_seq < $3"),
        ConversationChange::AgentRead(_) => ("agent_read_seq = $3", "agent_read_seq < $3"),
    }
}

/// Keeps `workspaces.captures_enabled` (whether any capture widget is on, which spares the
/// widget session a query when none is) true to the widgets, in the transaction that wrote one.
async fn refresh_captures_enabled(
    conn: &mut SqliteConnection,
    workspace_id: &str,
) -> StoreResult<()> {
    sqlx::query(REFRESH_CAPTURES_ENABLED)
        .bind(workspace_id)
        .execute(conn)
        .await
        .se()?;
    Ok(())
}

/// `workspaces.captures_enabled` ($1) made true to its capture widgets again. Both engines
/// accept the same text.
pub(crate) const REFRESH_CAPTURES_ENABLED: &str = "UPDATE workspaces SET captures_enabled = EXISTS
       (SELECT 1 FROM capture_widgets WHERE workspace_id = $1 AND enabled)
     WHERE id = $1";

/// Visitors that had a verified widget session for person $2 (workspace $1).
pub(crate) const VERIFIED_VISITORS_OF_PERSON: &str = "SELECT visitor_id FROM sessions
     WHERE workspace_id = $1 AND person_id = $2 AND verified AND kind = 'widget'
       AND visitor_id IS NOT NULL";

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes commit without checkpointing (the WAL grows), and the background task copies
    /// the WAL into the database file by itself.
    #[tokio::test]
    async fn checkpoints_run_beside_the_writers_not_in_their_commits() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("talk.db");
        let store = SqliteStore::connect(&format!("sqlite://{}", file.display()))
            .await
            .unwrap();
        let autocheckpoint: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(autocheckpoint, 0, "no checkpoint inside a COMMIT");

        let before = std::fs::metadata(&file).unwrap().len();
        sqlx::query("CREATE TABLE filler (body TEXT)")
            .execute(&store.pool)
            .await
            .unwrap();
        for _ in 0..200 {
            sqlx::query("INSERT INTO filler VALUES (?)")
                .bind("x".repeat(4096))
                .execute(&store.pool)
                .await
                .unwrap();
        }
        // 200 pages and more were committed to the WAL; the database file gets them within
        // a few checkpoint periods, though nobody here asked for a checkpoint.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let now = std::fs::metadata(&file).unwrap().len();
            if now >= before + 200 * 4096 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the database file is still {now} bytes (was {before})"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
