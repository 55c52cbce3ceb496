//! Agents (inbox users): accounts, passwords, presence and sign-in sessions.

use crate::db::{self, Db};
use sqlx::SqliteConnection;
use std::sync::LazyLock;
use talk_protocol::{AgentProfile, AgentRole, OnlineAgent, Presence};

/// A session lives this long after its last use.
pub const SESSION_TTL_MS: i64 = 30 * 24 * 60 * 60 * 1000;
/// Sliding expiry is written at most this often per session, not on every request.
const SESSION_REFRESH_MS: i64 = 60 * 60 * 1000;

#[derive(sqlx::FromRow)]
struct AgentRow {
    id: String,
    workspace_id: String,
    email: String,
    name: String,
    role: String,
    presence: String,
    photo_url: Option<String>,
}

const AGENT_COLUMNS: &str = "id, workspace_id, email, name, role, presence, photo_url";

impl From<AgentRow> for AgentProfile {
    fn from(row: AgentRow) -> Self {
        AgentProfile {
            id: row.id,
            workspace_id: row.workspace_id,
            email: row.email,
            name: row.name,
            role: if row.role == "admin" {
                AgentRole::Admin
            } else {
                AgentRole::Agent
            },
            presence: if row.presence == "online" {
                Presence::Online
            } else {
                Presence::Away
            },
            photo_url: row.photo_url,
        }
    }
}

fn role_text(role: AgentRole) -> &'static str {
    match role {
        AgentRole::Admin => "admin",
        AgentRole::Agent => "agent",
    }
}

fn presence_text(presence: Presence) -> &'static str {
    match presence {
        Presence::Online => "online",
        Presence::Away => "away",
    }
}

/// Emails are matched trimmed and lowercased.
pub fn normalized_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A generated password: 96 random bits, shown once.
pub fn new_password() -> String {
    db::random_hex(12)
}

fn hash_error(error: impl std::fmt::Display) -> sqlx::Error {
    sqlx::Error::Protocol(format!("password hashing: {error}"))
}

/// Argon2id with a random salt, off the async threads (it is slow by design).
pub async fn hash_password(password: &str) -> Result<String, sqlx::Error> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(hash_error)
    })
    .await
    .map_err(hash_error)?
}

/// Checks a password against a stored hash, or against [`DECOY_HASH`] when `hash` is `None`.
async fn verify_password(password: &str, hash: Option<String>) -> Result<bool, sqlx::Error> {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let hash = hash.as_deref().unwrap_or(&DECOY_HASH);
        let parsed = PasswordHash::new(hash).map_err(hash_error)?;
        Ok(argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(hash_error)?
}

/// A hash no password matches, verified against when the email is unknown so that an unknown
/// email costs as much time as a wrong password.
static DECOY_HASH: LazyLock<String> = LazyLock::new(|| {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2::Argon2::default()
        .hash_password(db::random_hex(16).as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .unwrap_or_default()
});

/// Inserts an agent (inside the caller's transaction); the email must be normalised.
pub async fn insert(
    conn: &mut SqliteConnection,
    workspace_id: &str,
    email: &str,
    name: &str,
    role: AgentRole,
    photo_url: Option<&str>,
    password_hash: &str,
) -> Result<String, sqlx::Error> {
    let id = db::new_id();
    sqlx::query(
        "INSERT INTO agents (id, workspace_id, email, name, password_hash, role, photo_url, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&id)
    .bind(workspace_id)
    .bind(email)
    .bind(name)
    .bind(password_hash)
    .bind(role_text(role))
    .bind(photo_url)
    .bind(db::now_ms())
    .execute(conn)
    .await?;
    Ok(id)
}

pub struct NewAgent<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub role: AgentRole,
    pub photo_url: Option<&'a str>,
}

/// Creates an agent with a generated password; `Ok(None)` if the email is taken in this
/// workspace.
pub async fn create(
    db: &Db,
    workspace_id: &str,
    agent: NewAgent<'_>,
) -> Result<Option<(AgentProfile, String)>, sqlx::Error> {
    let password = new_password();
    let password_hash = hash_password(&password).await?;
    let email = normalized_email(agent.email);
    let inserted = insert(
        &mut *db.acquire().await?,
        workspace_id,
        &email,
        agent.name,
        agent.role,
        agent.photo_url,
        &password_hash,
    )
    .await;
    let id = match inserted {
        Ok(id) => id,
        Err(error) if db::is_unique_violation(&error) => return Ok(None),
        Err(error) => return Err(error),
    };
    let profile = by_id(db, workspace_id, &id)
        .await?
        .ok_or(sqlx::Error::RowNotFound)?;
    Ok(Some((profile, password)))
}

pub async fn by_id(
    db: &Db,
    workspace_id: &str,
    agent_id: &str,
) -> Result<Option<AgentProfile>, sqlx::Error> {
    let row: Option<AgentRow> = sqlx::query_as(&format!(
        "SELECT {AGENT_COLUMNS} FROM agents WHERE workspace_id = ? AND id = ?"
    ))
    .bind(workspace_id)
    .bind(agent_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(AgentProfile::from))
}

/// A workspace's agents, oldest first.
pub async fn list(db: &Db, workspace_id: &str) -> Result<Vec<AgentProfile>, sqlx::Error> {
    let rows: Vec<AgentRow> = sqlx::query_as(&format!(
        "SELECT {AGENT_COLUMNS} FROM agents WHERE workspace_id = ? ORDER BY created_at, id"
    ))
    .bind(workspace_id)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(AgentProfile::from).collect())
}

/// Removes an agent and its sessions; false if there was none.
pub async fn delete(db: &Db, workspace_id: &str, agent_id: &str) -> Result<bool, sqlx::Error> {
    let result = sqlx::query("DELETE FROM agents WHERE workspace_id = ? AND id = ?")
        .bind(workspace_id)
        .bind(agent_id)
        .execute(db)
        .await?;
    Ok(result.rows_affected() > 0)
}

/// Sets a new generated password and ends the agent's sessions; `None` if there is no such
/// agent.
pub async fn reset_password(
    db: &Db,
    workspace_id: &str,
    agent_id: &str,
) -> Result<Option<String>, sqlx::Error> {
    let password = new_password();
    let password_hash = hash_password(&password).await?;
    let mut tx = db.begin().await?;
    let updated =
        sqlx::query("UPDATE agents SET password_hash = ? WHERE workspace_id = ? AND id = ?")
            .bind(password_hash)
            .bind(workspace_id)
            .bind(agent_id)
            .execute(&mut *tx)
            .await?;
    if updated.rows_affected() == 0 {
        return Ok(None);
    }
    sqlx::query("DELETE FROM agent_sessions WHERE agent_id = ?")
        .bind(agent_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Some(password))
}

pub async fn set_presence(db: &Db, agent_id: &str, presence: Presence) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE agents SET presence = ? WHERE id = ?")
        .bind(presence_text(presence))
        .bind(agent_id)
        .execute(db)
        .await?;
    Ok(())
}

/// The agents shown as online in the widget, oldest first.
pub async fn online(db: &Db, workspace_id: &str) -> Result<Vec<OnlineAgent>, sqlx::Error> {
    let rows: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT name, photo_url FROM agents WHERE workspace_id = ? AND presence = 'online'
         ORDER BY created_at, id",
    )
    .bind(workspace_id)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, photo_url)| OnlineAgent { name, photo_url })
        .collect())
}

/// `online` while any agent of the workspace is.
pub async fn workspace_status(db: &Db, workspace_id: &str) -> Result<Presence, sqlx::Error> {
    let any_online: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM agents WHERE workspace_id = ? AND presence = 'online')",
    )
    .bind(workspace_id)
    .fetch_one(db)
    .await?;
    Ok(if any_online {
        Presence::Online
    } else {
        Presence::Away
    })
}

/// The agent these credentials sign in, if any. One email may be an agent in several
/// workspaces: the password picks the account (oldest first), or `workspace_id` does.
/// An unknown email costs one password verification too, so timing doesn't tell it apart.
pub async fn authenticate(
    db: &Db,
    email: &str,
    password: &str,
    workspace_id: Option<&str>,
) -> Result<Option<AgentProfile>, sqlx::Error> {
    let candidates: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT id, workspace_id, password_hash FROM agents
         WHERE email = ?1 AND (?2 IS NULL OR workspace_id = ?2)
         ORDER BY created_at, id",
    )
    .bind(normalized_email(email))
    .bind(workspace_id)
    .fetch_all(db)
    .await?;
    if candidates.is_empty() {
        verify_password(password, None).await?;
        return Ok(None);
    }
    for (agent_id, workspace_id, hash) in candidates {
        if verify_password(password, Some(hash)).await? {
            return by_id(db, &workspace_id, &agent_id).await;
        }
    }
    Ok(None)
}

/// Starts a session; returns the random session id for the cookie (only its hash is stored).
pub async fn start_session(db: &Db, agent_id: &str) -> Result<String, sqlx::Error> {
    let session_id = db::random_hex(32);
    let now = db::now_ms();
    sqlx::query(
        "INSERT INTO agent_sessions (id_hash, agent_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
    )
    .bind(db::sha256_hex(&session_id))
    .bind(agent_id)
    .bind(now)
    .bind(now + SESSION_TTL_MS)
    .execute(db)
    .await?;
    Ok(session_id)
}

/// What a session cookie resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionLookup {
    Valid(AgentProfile),
    Expired,
    Unknown,
}

/// Resolves a session id and slides its expiry; an expired session is deleted.
pub async fn session_agent(db: &Db, session_id: &str) -> Result<SessionLookup, sqlx::Error> {
    let id_hash = db::sha256_hex(session_id);
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT agent_id, expires_at FROM agent_sessions WHERE id_hash = ?")
            .bind(&id_hash)
            .fetch_optional(db)
            .await?;
    let Some((agent_id, expires_at)) = row else {
        return Ok(SessionLookup::Unknown);
    };
    let now = db::now_ms();
    if expires_at <= now {
        end_session(db, session_id).await?;
        return Ok(SessionLookup::Expired);
    }
    if expires_at - now < SESSION_TTL_MS - SESSION_REFRESH_MS {
        sqlx::query("UPDATE agent_sessions SET expires_at = ? WHERE id_hash = ?")
            .bind(now + SESSION_TTL_MS)
            .bind(&id_hash)
            .execute(db)
            .await?;
    }
    let row: Option<AgentRow> =
        sqlx::query_as(&format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = ?"))
            .bind(&agent_id)
            .fetch_optional(db)
            .await?;
    Ok(row.map_or(SessionLookup::Unknown, |row| {
        SessionLookup::Valid(row.into())
    }))
}

pub async fn end_session(db: &Db, session_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM agent_sessions WHERE id_hash = ?")
        .bind(db::sha256_hex(session_id))
        .execute(db)
        .await?;
    Ok(())
}
