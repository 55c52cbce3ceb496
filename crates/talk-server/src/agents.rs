//! Agents (inbox users): accounts, passwords, presence and sign-in sessions.

use crate::db::{self, Db};
use crate::store::{AgentRecord, StoreError, StoreResult};
use std::sync::LazyLock;
use talk_protocol::{AgentProfile, AgentRole, OnlineAgent, Presence};

/// A session lives this long after its last use.
pub const SESSION_TTL_MS: i64 = 30 * 24 * 60 * 60 * 1000;
/// Sliding expiry is written at most this often per session, not on every request.
const SESSION_REFRESH_MS: i64 = 60 * 60 * 1000;

/// Emails are matched trimmed and lowercased.
pub fn normalized_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A generated password: 96 random bits, shown once.
pub fn new_password() -> String {
    db::random_hex(12)
}

fn hash_error(error: impl std::fmt::Display) -> StoreError {
    StoreError::other(format!("password hashing: {error}"))
}

/// Argon2id with a random salt, off the async threads (it is slow by design).
pub async fn hash_password(password: &str) -> StoreResult<String> {
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
async fn verify_password(password: &str, hash: Option<String>) -> StoreResult<bool> {
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
) -> StoreResult<Option<(AgentProfile, String)>> {
    let password = new_password();
    let record = AgentRecord {
        id: db::new_id(),
        email: normalized_email(agent.email),
        name: agent.name.to_string(),
        role: agent.role,
        photo_url: agent.photo_url.map(str::to_string),
        password_hash: hash_password(&password).await?,
        created_at: db::now_ms(),
    };
    match db.insert_agent(workspace_id, &record).await {
        Ok(()) => {}
        Err(StoreError::Conflict { .. }) => return Ok(None),
        Err(error) => return Err(error),
    }
    let profile = by_id(db, workspace_id, &record.id)
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok(Some((profile, password)))
}

pub async fn by_id(
    db: &Db,
    workspace_id: &str,
    agent_id: &str,
) -> StoreResult<Option<AgentProfile>> {
    db.agent_by_id(workspace_id, agent_id).await
}

/// A workspace's agents, oldest first.
pub async fn list(db: &Db, workspace_id: &str) -> StoreResult<Vec<AgentProfile>> {
    db.list_agents(workspace_id).await
}

/// Removes an agent and its sessions; false if there was none.
pub async fn delete(db: &Db, workspace_id: &str, agent_id: &str) -> StoreResult<bool> {
    db.delete_agent(workspace_id, agent_id).await
}

/// Sets a new generated password and ends the agent's sessions; `None` if there is no such
/// agent.
pub async fn reset_password(
    db: &Db,
    workspace_id: &str,
    agent_id: &str,
) -> StoreResult<Option<String>> {
    let password = new_password();
    let password_hash = hash_password(&password).await?;
    let reset = db
        .reset_agent_password(workspace_id, agent_id, &password_hash)
        .await?;
    Ok(reset.then_some(password))
}

pub async fn set_presence(db: &Db, agent_id: &str, presence: Presence) -> StoreResult<()> {
    db.set_presence(agent_id, presence).await
}

/// The agents shown as online in the widget, oldest first.
pub async fn online(db: &Db, workspace_id: &str) -> StoreResult<Vec<OnlineAgent>> {
    db.online_agents(workspace_id).await
}

/// `online` while any agent of the workspace is.
pub async fn workspace_status(db: &Db, workspace_id: &str) -> StoreResult<Presence> {
    Ok(if db.any_agent_online(workspace_id).await? {
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
) -> StoreResult<Option<AgentProfile>> {
    let candidates = db
        .login_candidates(&normalized_email(email), workspace_id)
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
pub async fn start_session(db: &Db, agent_id: &str) -> StoreResult<String> {
    let session_id = db::random_hex(32);
    let now = db::now_ms();
    db.insert_agent_session(
        &db::sha256_hex(&session_id),
        agent_id,
        now,
        now + SESSION_TTL_MS,
    )
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
pub async fn session_agent(db: &Db, session_id: &str) -> StoreResult<SessionLookup> {
    let id_hash = db::sha256_hex(session_id);
    let Some((agent_id, expires_at)) = db.agent_session(&id_hash).await? else {
        return Ok(SessionLookup::Unknown);
    };
    let now = db::now_ms();
    if expires_at <= now {
        end_session(db, session_id).await?;
        return Ok(SessionLookup::Expired);
    }
    if expires_at - now < SESSION_TTL_MS - SESSION_REFRESH_MS {
        db.extend_agent_session(&id_hash, now + SESSION_TTL_MS)
            .await?;
    }
    Ok(db
        .agent_anywhere(&agent_id)
        .await?
        .map_or(SessionLookup::Unknown, SessionLookup::Valid))
}

pub async fn end_session(db: &Db, session_id: &str) -> StoreResult<()> {
    db.delete_agent_session(&db::sha256_hex(session_id)).await
}
