//! The PostgreSQL store: several talk-server nodes can share one database. Migrations:
//! `migrations/postgres`. The SQL is SQLite's where both engines accept it; what differs:
//!
//! - **Group commit.** In PostgreSQL one failing statement aborts the whole transaction, so
//!   no statement of a batch may fail on a message's account. A single message is one
//!   statement that locks its conversation row (`SELECT … FOR UPDATE`), inserts with `ON
//!   CONFLICT (conversation_id, client_msg_id) DO NOTHING` at `last_seq + 1` and moves
//!   `last_seq` only if the insert happened: a resend inserts nothing and uses no seq, a
//!   conversation that is gone matches no row. A larger batch is two statements in all
//!   ([`append_many`]): lock and read its conversations, then one `UNNEST` insert of the
//!   messages numbered in between. The row locks order writers of one conversation across
//!   nodes, so seqs have no gaps and no duplicates; a batch takes its locks in conversation
//!   id order, so two nodes' batches cannot deadlock. Should a batch fail anyway, each of
//!   its messages is retried in a transaction of its own, so one bad message fails alone.
//! - **Conversation cap.** SQLite's single writer made "count open conversations, then
//!   insert" atomic; here a transaction-scoped advisory lock on the visitor does.
//! - JSON fields are read with `::jsonb`, retired keys with `= ANY($1)`.

use super::numbering::{self, Locked};
use super::rows::*;
use super::sqlite::{change_sql, REFRESH_CAPTURES_ENABLED, VERIFIED_VISITORS_OF_PERSON};
use super::{
    author_kind_text, constraint, presence_text, role_text, status_text, AgentRecord, ApiKeyRecord,
    Committed, ConversationChange, IdentityVersion, PageViewRecord, PersonKey, SessionRecord,
    Store, StoreError, StoreResult, WorkspaceRecord,
};
use crate::conversations::{InboxFilter, InboxRowPage, NewConversation, NewMessage, Viewer};
use crate::people::{Claim, Person, VisitorIdentity};
use crate::realtime::bus::{postgres::PgBus, Bus, Envelope, Signal, CHANNEL};
use crate::tokens::SigningKey;
use crate::workspaces::Workspace;
use async_trait::async_trait;
use serde_json::Value;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgConnection, PgPool};
use std::sync::Arc;
use talk_protocol::{
    AgentProfile, ApiKeyInfo, Conversation, InboxConversation, Message, OnlineAgent, PageView,
    Presence, MAX_PAGE_VIEWS,
};

pub struct PgStore {
    pool: PgPool,
    /// This server's id on the bus: its own NOTIFYs carry it, and its listener skips them.
    node: Arc<str>,
    identities: IdentityVersion,
}

/// `NOTIFY talk` inside the caller's transaction: delivered iff it commits.
async fn notify(conn: &mut PgConnection, node: &str, signal: Signal) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(CHANNEL)
        .bind(Envelope::payload(node, signal))
        .execute(conn)
        .await?;
    Ok(())
}

/// Maps an engine error: no row → not found; a unique violation → conflict under the
/// constraint's name (the migrations name them as [`constraint`] does); anything else →
/// other.
/// Keeps `workspaces.captures_enabled` (whether any capture widget is on, which spares the
/// widget session a query when none is) true to the widgets, in the transaction that wrote one.
async fn refresh_captures_enabled(conn: &mut PgConnection, workspace_id: &str) -> StoreResult<()> {
    sqlx::query(REFRESH_CAPTURES_ENABLED)
        .bind(workspace_id)
        .execute(conn)
        .await
        .se()?;
    Ok(())
}

fn store_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::RowNotFound => StoreError::NotFound,
        sqlx::Error::Database(database) if database.is_unique_violation() => StoreError::Conflict {
            constraint: database.constraint().unwrap_or("unknown").to_string(),
        },
        _ => StoreError::Other(Box::new(error)),
    }
}

trait OrStoreError<T> {
    fn se(self) -> StoreResult<T>;
}

impl<T> OrStoreError<T> for Result<T, sqlx::Error> {
    fn se(self) -> StoreResult<T> {
        self.map_err(store_error)
    }
}

impl PgStore {
    /// Connects to and migrates the database.
    pub async fn connect(database_url: &str) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .connect(database_url)
            .await
            .se()?;
        sqlx::migrate!("./migrations/postgres")
            .run(&pool)
            .await
            .map_err(StoreError::other)?;
        Ok(PgStore {
            pool,
            node: crate::db::new_id().into(),
            identities: IdentityVersion::default(),
        })
    }

    /// Commits a write that may change a visitor's author line (a person saved, a visitor
    /// linked or its claim recorded) with the `identities` signal, delivered iff it commits:
    /// every node's sessions read their authors again.
    async fn commit_identity_change(
        &self,
        mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    ) -> StoreResult<()> {
        notify(&mut tx, &self.node, Signal::Identities).await.se()?;
        tx.commit().await.se()?;
        self.identities.bump();
        Ok(())
    }
}

async fn insert_agent(
    conn: &mut PgConnection,
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
    conn: &mut PgConnection,
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

/// PostgreSQL refuses NUL in text; such a message is refused before it can abort a batch.
fn has_nul(message: &NewMessage) -> bool {
    message.body.contains('\0')
        || message
            .author
            .name
            .as_deref()
            .is_some_and(|name| name.contains('\0'))
        || message
            .client_msg_id
            .as_deref()
            .is_some_and(|id| id.contains('\0'))
}

/// Inserts the conversation's next message inside the caller's transaction (the group
/// commit's, or a new conversation's) and moves its `last_seq`; a visitor's message
/// (`reopens`) reopens a closed conversation. Answers the message and whether it reopened.
/// One statement, which a refused message does not fail: see the module's doc.
async fn insert_message(
    conn: &mut PgConnection,
    conversation_id: &str,
    message: NewMessage,
    workspace: &mut Option<String>,
) -> Result<StoreResult<Committed>, sqlx::Error> {
    if has_nul(&message) {
        return Ok(Err(StoreError::other("the message holds a NUL character")));
    }
    let now = crate::db::now_ms();
    let id = crate::db::new_message_id();
    let (seq, status_before, workspace_id): (Option<i64>, Option<String>, Option<String>) =
        sqlx::query_as(
            "WITH c AS (
             SELECT id, workspace_id, last_seq, status FROM conversations WHERE id = $7 FOR UPDATE
         ), m AS (
             INSERT INTO messages
               (id, conversation_id, seq, author_kind, author_name, body, client_msg_id,
                created_at, auto_reply)
             SELECT $1, c.id, c.last_seq + 1, $2, $3, $4, $5, $6, $9 FROM c
             ON CONFLICT (conversation_id, client_msg_id) DO NOTHING
             RETURNING seq
         ), u AS (
             UPDATE conversations
             SET last_seq = m.seq, updated_at = $6,
                 status = CASE WHEN $8 THEN 'open' ELSE conversations.status END
             FROM m WHERE conversations.id = $7
             RETURNING conversations.id
         )
         SELECT (SELECT seq FROM m), (SELECT status FROM c), (SELECT workspace_id FROM c)",
        )
        .bind(&id)
        .bind(author_kind_text(message.author.kind))
        .bind(&message.author.name)
        .bind(&message.body)
        .bind(&message.client_msg_id)
        .bind(now)
        .bind(conversation_id)
        .bind(message.reopens)
        .bind(message.auto_reply)
        .fetch_one(&mut *conn)
        .await?;
    let Some(status_before) = status_before else {
        return Ok(Err(StoreError::NotFound));
    };
    let Some(seq) = seq else {
        return Ok(Err(StoreError::Conflict {
            constraint: constraint::MESSAGE_CLIENT_ID.to_string(),
        }));
    };
    let reopened = message.reopens && status_before == "closed";
    *workspace = workspace_id;
    Ok(Ok((
        message.committed(id, conversation_id, seq, now),
        reopened,
    )))
}

impl PgStore {
    /// One transaction for the batch, conversation rows locked in id order. A single message
    /// is one statement; a larger batch is two, whatever its size ([`append_many`]).
    async fn append_batch(
        &self,
        batch: &[(usize, String, NewMessage)],
    ) -> Result<Vec<(usize, StoreResult<Committed>)>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let (outcomes, named) = if let [(index, conversation_id, message)] = batch {
            let mut workspace = None;
            let outcome =
                insert_message(&mut tx, conversation_id, message.clone(), &mut workspace).await?;
            let named = match (&outcome, workspace) {
                (Ok((message, _)), Some(workspace_id)) => {
                    vec![(
                        workspace_id,
                        conversation_id.clone(),
                        message.seq,
                        message.seq,
                    )]
                }
                _ => Vec::new(),
            };
            (vec![(*index, outcome)], named)
        } else {
            append_many(&mut tx, batch).await?
        };
        if !named.is_empty() {
            notify(&mut tx, &self.node, Signal::Msgs { msgs: named }).await?;
        }
        tx.commit().await?;
        Ok(outcomes)
    }
}

/// What a batch wrote, per conversation in id order: workspace, conversation, first and last
/// seq (the bus's `Msgs` signal).
type Named = Vec<(String, String, i64, i64)>;

/// A batch of several messages in two statements instead of one per message (issue 19):
///
/// 1. lock the batch's conversations in id order and read their last seq, status and which of
///    the batch's client message ids they already hold;
/// 2. numbered here ([`numbering`]), insert every message that stays and move each
///    conversation's `last_seq` in one `INSERT … SELECT FROM UNNEST` with the `UPDATE` beside
///    it.
///
/// The row locks order writers of one conversation across nodes, and statement 2 runs after
/// they are held, so seqs have no gap. The client ids read in statement 1 come from its
/// snapshot, which predates the lock wait: a resend committed by the lock's previous holder
/// can be missed there, and then statement 2 fails on the unique constraint, the batch rolls
/// back and its messages are retried one by one (`append_messages`), where the per-message
/// statement sees it.
async fn append_many(
    conn: &mut PgConnection,
    batch: &[(usize, String, NewMessage)],
) -> Result<(Vec<(usize, StoreResult<Committed>)>, Named), sqlx::Error> {
    let mut conversation_ids: Vec<&str> = batch.iter().map(|(_, id, _)| id.as_str()).collect();
    conversation_ids.dedup();
    // (conversation, client id) pairs: one index probe each, where `client_msg_id = ANY(…)`
    // per conversation would probe every conversation for every id of the batch.
    let (held_in, held_ids): (Vec<&str>, Vec<&str>) = batch
        .iter()
        .filter_map(|(_, id, message)| Some((id.as_str(), message.client_msg_id.as_deref()?)))
        .unzip();
    let rows: Vec<(String, String, i64, String, Vec<String>)> = sqlx::query_as(
        "WITH locked AS (
             SELECT id, workspace_id, last_seq, status FROM conversations
             WHERE id = ANY($1) ORDER BY id FOR UPDATE
         ), held AS (
             SELECT m.conversation_id, array_agg(m.client_msg_id) AS client_ids
             FROM UNNEST($2::text[], $3::text[]) AS b(conversation_id, client_msg_id)
             JOIN messages m
               ON m.conversation_id = b.conversation_id AND m.client_msg_id = b.client_msg_id
             GROUP BY m.conversation_id
         )
         SELECT l.id, l.workspace_id, l.last_seq, l.status, COALESCE(h.client_ids, '{}')
         FROM locked l LEFT JOIN held h ON h.conversation_id = l.id",
    )
    .bind(&conversation_ids)
    .bind(&held_in)
    .bind(&held_ids)
    .fetch_all(&mut *conn)
    .await?;
    let locked = rows
        .into_iter()
        .map(|(id, workspace_id, last_seq, status, held)| {
            let client_ids = held.into_iter().collect();
            let conversation = Locked {
                workspace_id,
                last_seq,
                status,
                client_ids,
            };
            (id, conversation)
        })
        .collect();
    let now = crate::db::now_ms();
    let numbered = numbering::number(
        locked,
        batch
            .iter()
            .map(|(_, conversation_id, message)| (conversation_id.as_str(), message)),
        now,
        |message| has_nul(message).then(|| StoreError::other("the message holds a NUL character")),
    );

    let named: Named = numbered
        .touched
        .iter()
        .map(|t| {
            (
                t.workspace_id.clone(),
                t.id.clone(),
                t.first_seq,
                t.last_seq,
            )
        })
        .collect();
    // The outcomes are the batch's, in its order: each new message with its marker.
    let rows = MessageRows::new(batch.iter().zip(&numbered.outcomes).filter_map(
        |((_, _, new), outcome)| {
            let (message, _) = outcome.as_ref().ok()?;
            Some((message, new.auto_reply))
        },
    ));
    if rows.ids.is_empty() {
        return Ok((indexed(batch, numbered.outcomes), named));
    }
    let updated: Vec<&str> = numbered.touched.iter().map(|t| t.id.as_str()).collect();
    let last_seqs: Vec<i64> = numbered.touched.iter().map(|t| t.last_seq).collect();
    let statuses: Vec<&str> = numbered.touched.iter().map(|t| t.status.as_str()).collect();
    sqlx::query(
        "WITH m AS (
             INSERT INTO messages
               (id, conversation_id, seq, author_kind, author_name, body, client_msg_id,
                auto_reply, created_at)
             SELECT m.*, $8
             FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::text[], $5::text[], $6::text[],
                         $7::text[], $12::bool[]) AS m
         )
         UPDATE conversations c SET last_seq = u.last_seq, status = u.status, updated_at = $8
         FROM UNNEST($9::text[], $10::int8[], $11::text[]) AS u(id, last_seq, status)
         WHERE c.id = u.id",
    )
    .bind(&rows.ids)
    .bind(&rows.conversation_ids)
    .bind(&rows.seqs)
    .bind(&rows.author_kinds)
    .bind(&rows.author_names)
    .bind(&rows.bodies)
    .bind(&rows.client_ids)
    .bind(now)
    .bind(&updated)
    .bind(&last_seqs)
    .bind(&statuses)
    .bind(&rows.auto_replies)
    .execute(&mut *conn)
    .await?;
    Ok((indexed(batch, numbered.outcomes), named))
}

/// The outcomes with the batch's own indices.
fn indexed(
    batch: &[(usize, String, NewMessage)],
    outcomes: Vec<StoreResult<Committed>>,
) -> Vec<(usize, StoreResult<Committed>)> {
    batch
        .iter()
        .map(|(index, _, _)| *index)
        .zip(outcomes)
        .collect()
}

/// The batch's new messages as columns, for `UNNEST`.
struct MessageRows<'a> {
    ids: Vec<&'a str>,
    conversation_ids: Vec<&'a str>,
    seqs: Vec<i64>,
    author_kinds: Vec<&'static str>,
    author_names: Vec<Option<&'a str>>,
    bodies: Vec<&'a str>,
    client_ids: Vec<Option<&'a str>>,
    auto_replies: Vec<bool>,
}

impl<'a> MessageRows<'a> {
    fn new(messages: impl Iterator<Item = (&'a Message, bool)>) -> Self {
        let mut rows = MessageRows {
            ids: Vec::new(),
            conversation_ids: Vec::new(),
            seqs: Vec::new(),
            author_kinds: Vec::new(),
            author_names: Vec::new(),
            bodies: Vec::new(),
            client_ids: Vec::new(),
            auto_replies: Vec::new(),
        };
        for (m, auto_reply) in messages {
            rows.ids.push(&m.id);
            rows.conversation_ids.push(&m.conversation_id);
            rows.seqs.push(m.seq);
            rows.author_kinds.push(author_kind_text(m.author.kind));
            rows.author_names.push(m.author.name.as_deref());
            rows.bodies.push(&m.body);
            rows.client_ids.push(m.client_msg_id.as_deref());
            rows.auto_replies.push(auto_reply);
        }
        rows
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn identity_version(&self) -> &IdentityVersion {
        &self.identities
    }

    fn bus(&self) -> Option<Arc<dyn Bus>> {
        Some(Arc::new(PgBus::new(
            self.pool.clone(),
            Arc::clone(&self.node),
        )))
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
        let mut tx = self.pool.begin().await.se()?;
        sqlx::query(
            "UPDATE signing_keys SET retired_at = $1 WHERE kid = $2 AND retired_at IS NULL",
        )
        .bind(now)
        .bind(kid)
        .execute(&mut *tx)
        .await
        .se()?;
        // Every node ends the connections resting on it at once (the CLI retires keys).
        let end = Signal::EndKey {
            kid: kid.to_string(),
        };
        notify(&mut tx, &self.node, end).await.se()?;
        tx.commit().await.se()?;
        Ok(())
    }

    async fn retired_signing_keys(&self, kids: &[String]) -> StoreResult<Vec<String>> {
        sqlx::query_scalar(
            "SELECT kid FROM signing_keys WHERE retired_at IS NOT NULL AND kid = ANY($1)",
        )
        .bind(kids)
        .fetch_all(&self.pool)
        .await
        .se()
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
        let mut tx = self.pool.begin().await.se()?;
        let result = sqlx::query("DELETE FROM agents WHERE workspace_id = $1 AND id = $2")
            .bind(workspace_id)
            .bind(agent_id)
            .execute(&mut *tx)
            .await
            .se()?;
        if result.rows_affected() == 0 {
            return Ok(false);
        }
        // Other nodes end its inbox sockets at once; this one does so itself.
        let end = Signal::EndAgent {
            agent_id: agent_id.to_string(),
            password_reset: false,
        };
        notify(&mut tx, &self.node, end).await.se()?;
        tx.commit().await.se()?;
        Ok(true)
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
        let end = Signal::EndAgent {
            agent_id: agent_id.to_string(),
            password_reset: true,
        };
        notify(&mut tx, &self.node, end).await.se()?;
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
                    conditions.push(format!("trim(fields::jsonb ->> ${path}) = ${}", path + 1));
                    binds.push(name.clone());
                    binds.push(value.clone());
                }
                PersonKey::Exact { name, json } => {
                    let path = binds.len() + 2;
                    conditions.push(format!(
                        "fields::jsonb -> ${path} = CAST(${} AS jsonb)",
                        path + 1
                    ));
                    binds.push(name.clone());
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
        let mut tx = self.pool.begin().await.se()?;
        sqlx::query(
            "UPDATE people SET fields = $1, email_norm = $2, updated_at = $3
             WHERE workspace_id = $4 AND id = $5",
        )
        .bind(Value::Object(person.fields.clone()).to_string())
        .bind(email_norm)
        .bind(now)
        .bind(workspace_id)
        .bind(&person.id)
        .execute(&mut *tx)
        .await
        .se()?;
        self.commit_identity_change(tx).await
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
        let mut tx = self.pool.begin().await.se()?;
        sqlx::query("UPDATE visitors SET person_id = $1 WHERE workspace_id = $2 AND id = $3")
            .bind(person_id)
            .bind(workspace_id)
            .bind(visitor_id)
            .execute(&mut *tx)
            .await
            .se()?;
        self.commit_identity_change(tx).await
    }

    async fn record_claim(
        &self,
        workspace_id: &str,
        visitor_id: &str,
        person_id: &str,
        claim: &Claim,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.se()?;
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
        .execute(&mut *tx)
        .await
        .se()?;
        self.commit_identity_change(tx).await
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
        sqlx::query(
            "INSERT INTO visitors (workspace_id, id, created_at) VALUES ($1, $2, $3)
             ON CONFLICT (workspace_id, id) DO NOTHING",
        )
        .bind(workspace_id)
        .bind(visitor_id)
        .bind(now)
        .execute(&self.pool)
        .await
        .se()?;
        Ok(())
    }

    async fn insert_session(&self, session: &SessionRecord<'_>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sessions
               (id, workspace_id, visitor_id, person_id, verified, kind, created_at, preview)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(session.id)
        .bind(session.workspace_id)
        .bind(session.visitor_id)
        .bind(session.person_id)
        .bind(session.verified)
        .bind(session.kind)
        .bind(session.created_at)
        .bind(session.preview)
        .execute(&self.pool)
        .await
        .se()?;
        Ok(())
    }

    async fn record_page_view(
        &self,
        workspace_id: &str,
        visitor_id: &str,
        view: &PageViewRecord<'_>,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO page_views
               (workspace_id, visitor_id, person_id, url, title, referrer, created_at)
             VALUES ($1, $2, (SELECT person_id FROM visitors WHERE workspace_id = $1 AND id = $2),
                     $3, $4, $5, $6)",
        )
        .bind(workspace_id)
        .bind(visitor_id)
        .bind(view.url)
        .bind(view.title)
        .bind(view.referrer)
        .bind(view.created_at)
        .execute(&self.pool)
        .await
        .se()?;
        Ok(())
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
        // Locks in conversation id order (a stable sort keeps each conversation's order).
        let mut ordered: Vec<(usize, String, NewMessage)> = batch
            .into_iter()
            .enumerate()
            .map(|(index, (conversation_id, message))| (index, conversation_id, message))
            .collect();
        ordered.sort_by(|a, b| a.1.cmp(&b.1));
        let mut outcomes: Vec<Option<StoreResult<Committed>>> =
            (0..ordered.len()).map(|_| None).collect();
        match self.append_batch(&ordered).await {
            Ok(done) => {
                for (index, outcome) in done {
                    outcomes[index] = Some(outcome);
                }
            }
            Err(error) if ordered.len() == 1 => return Err(store_error(error)),
            Err(error) => {
                // Nothing was committed: each message alone, so whatever failed fails alone.
                tracing::warn!(%error, messages = ordered.len(), "batch failed; one by one");
                for one in ordered.chunks(1) {
                    let index = one[0].0;
                    outcomes[index] = Some(match self.append_batch(one).await {
                        Ok(mut done) => done.pop().map_or(Err(StoreError::NotFound), |(_, o)| o),
                        Err(error) => Err(store_error(error)),
                    });
                }
            }
        }
        Ok(outcomes
            .into_iter()
            .map(|outcome| outcome.unwrap_or(Err(StoreError::NotFound)))
            .collect())
    }

    async fn create_conversation(
        &self,
        id: &str,
        conversation: &NewConversation,
        message: NewMessage,
        max_open: i64,
        now: i64,
    ) -> StoreResult<Option<Message>> {
        let mut tx = self.pool.begin().await.se()?;
        // Concurrent first messages of one visitor (on any node) count one after the other.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 0))")
            .bind(&conversation.workspace_id)
            .bind(&conversation.visitor_id)
            .execute(&mut *tx)
            .await
            .se()?;
        // The bot is taken only if it is still there and enabled.
        let inserted = sqlx::query(
            "INSERT INTO conversations
               (id, workspace_id, visitor_id, person_id, session_id, verified, status, last_seq,
                created_at, updated_at, bot_id, preview)
             SELECT $1, $2, $3, $4, $5, $6, 'open', 0, $7, $7,
                    (SELECT id FROM bots WHERE id = $9 AND workspace_id = $2 AND enabled), $10
             WHERE (SELECT COUNT(*) FROM conversations
                    WHERE workspace_id = $2 AND visitor_id = $3 AND status = 'open') < $8",
        )
        .bind(id)
        .bind(&conversation.workspace_id)
        .bind(&conversation.visitor_id)
        .bind(&conversation.person_id)
        .bind(&conversation.session_id)
        .bind(conversation.verified)
        .bind(now)
        .bind(max_open)
        .bind(&conversation.bot_id)
        .bind(conversation.preview)
        .execute(&mut *tx)
        .await
        .se()?;
        if inserted.rows_affected() == 0 {
            return Ok(None);
        }
        let (message, _) = insert_message(&mut tx, id, message, &mut None)
            .await
            .se()??;
        let started = Signal::Started {
            workspace_id: conversation.workspace_id.clone(),
            conversation_id: id.to_string(),
        };
        notify(&mut tx, &self.node, started).await.se()?;
        tx.commit().await.se()?;
        Ok(Some(message))
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
        let mut tx = self.pool.begin().await.se()?;
        // One writer of a workspace's capture widgets at a time, on any node: the count
        // holds until the insert, and the workspace's flag is computed from the last write.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('captures/' || $1, 0))")
            .bind(record.workspace_id)
            .execute(&mut *tx)
            .await
            .se()?;
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
        let mut tx = self.pool.begin().await.se()?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('captures/' || $1, 0))")
            .bind(record.workspace_id)
            .execute(&mut *tx)
            .await
            .se()?;
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
        let mut tx = self.pool.begin().await.se()?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('captures/' || $1, 0))")
            .bind(workspace_id)
            .execute(&mut *tx)
            .await
            .se()?;
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
        let mut tx = self.pool.begin().await.se()?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('captures/' || $1, 0))")
            .bind(workspace_id)
            .execute(&mut *tx)
            .await
            .se()?;
        let current: Vec<String> =
            sqlx::query_scalar("SELECT id FROM capture_widgets WHERE workspace_id = $1")
                .bind(workspace_id)
                .fetch_all(&mut *tx)
                .await
                .se()?;
        if !crate::captures::is_reordering(ids, &current) {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE capture_widgets SET position = ordered.position
             FROM UNNEST($2::text[]) WITH ORDINALITY AS ordered(id, position)
             WHERE capture_widgets.workspace_id = $1 AND capture_widgets.id = ordered.id",
        )
        .bind(workspace_id)
        .bind(ids)
        .execute(&mut *tx)
        .await
        .se()?;
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
        // One round trip: whether the widget exists, and the event unless it was recorded
        // before (a unique index).
        sqlx::query_scalar(
            "WITH widget AS (
                 SELECT id FROM capture_widgets WHERE workspace_id = $1 AND id = $2
             ), recorded AS (
                 INSERT INTO capture_events
                   (workspace_id, capture_id, kind, visitor_id, session_id, created_at)
                 SELECT $1, widget.id, $3, $4, $5, $6 FROM widget
                 ON CONFLICT DO NOTHING
             )
             SELECT EXISTS (SELECT 1 FROM widget)",
        )
        .bind(workspace_id)
        .bind(capture_id)
        .bind(event.as_str())
        .bind(visitor_id)
        .bind(session_id)
        .bind(now)
        .fetch_one(&self.pool)
        .await
        .se()
    }

    async fn start_capture_conversation(
        &self,
        start: &crate::captures::stored::CaptureStart,
    ) -> StoreResult<crate::captures::stored::CaptureStarted> {
        use crate::captures::stored::CaptureStarted;
        if has_nul(&start.opening) || has_nul(&start.reply) {
            return Err(StoreError::other("the message holds a NUL character"));
        }
        let conversation = &start.conversation;
        let mut tx = self.pool.begin().await.se()?;
        // The lock `create_conversation` takes: this visitor's new conversations, from a
        // capture or not, on any node, are counted one after the other.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 0))")
            .bind(&conversation.workspace_id)
            .bind(&conversation.visitor_id)
            .execute(&mut *tx)
            .await
            .se()?;
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
        for (seq, message) in [(1_i64, &start.opening), (2, &start.reply)] {
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
        // Other nodes announce the conversation with both its messages.
        let started = Signal::Started {
            workspace_id: conversation.workspace_id.clone(),
            conversation_id: start.conversation_id.clone(),
        };
        notify(&mut tx, &self.node, started).await.se()?;
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
        // Two admins' inserts count one after the other, on any node.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('bots/' || $1, 0))")
            .bind(&bot.workspace_id)
            .execute(&mut *tx)
            .await
            .se()?;
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
        // SKIP LOCKED: another node's claim in progress is passed over, never waited for;
        // the lease keeps it from being taken again once that claim has committed.
        let rows: Vec<JobRow> = sqlx::query_as(
            "WITH due AS (
                 SELECT d.id FROM webhook_deliveries d
                 WHERE d.status = 'pending' AND d.next_attempt_at <= $1
                   AND (d.leased_until IS NULL OR d.leased_until <= $1)
                   AND NOT EXISTS (
                       SELECT 1 FROM webhook_deliveries e
                       WHERE e.conversation_id = d.conversation_id AND e.status = 'pending'
                         AND e.message_seq < d.message_seq)
                 ORDER BY d.next_attempt_at, d.created_at
                 LIMIT $3
                 FOR UPDATE SKIP LOCKED
             )
             UPDATE webhook_deliveries w SET leased_until = $2
             FROM due WHERE w.id = due.id
             RETURNING w.id, w.workspace_id, w.bot_id, w.conversation_id, w.message_id,
                       w.message_seq, w.attempts, w.created_at",
        )
        .bind(now)
        .bind(leased_until)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .se()?;
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
        sqlx::query("UPDATE webhook_deliveries SET leased_until = NULL WHERE id = ANY($1)")
            .bind(delivery_ids)
            .execute(&self.pool)
            .await
            .se()?;
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
        // Concurrent starts for the person (a resend) and first messages of the visitor (any
        // node; `create_conversation` takes the same visitor lock) count one after the other.
        // Always person, then visitor: no two transactions wait for each other's lock.
        sqlx::query(
            "SELECT pg_advisory_xact_lock(hashtextextended($1 || '/person/' || $2, 0)),
                    pg_advisory_xact_lock(hashtextextended($1 || '/' || $3, 0))",
        )
        .bind(&start.workspace_id)
        .bind(&start.person_id)
        .bind(&visitor.visitor_id)
        .execute(&mut *tx)
        .await
        .se()?;
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
        if let Some(earlier) = earlier {
            return Ok(OutboundOutcome::Earlier(earlier));
        }
        let inserted = sqlx::query(
            "INSERT INTO conversations
               (id, workspace_id, visitor_id, person_id, session_id, verified, status, last_seq,
                created_at, updated_at, assignee_id, visitor_read_seq, agent_read_seq, outbound)
             SELECT $1, $2, $3, $4, $5, $6, 'open', 0, $7, $7, $8, 0, 1, TRUE
             WHERE (SELECT COUNT(*) FROM conversations
                    WHERE workspace_id = $2 AND status = 'open'
                      AND (visitor_id = $3 OR ($6 AND verified AND person_id = $4))) < $9",
        )
        .bind(&start.id)
        .bind(&start.workspace_id)
        .bind(&visitor.visitor_id)
        .bind(&start.person_id)
        .bind(&visitor.session_id)
        .bind(start.recipient.verified)
        .bind(start.now)
        .bind(&start.assignee_id)
        .bind(start.max_open)
        .execute(&mut *tx)
        .await
        .se()?;
        if inserted.rows_affected() == 0 {
            return Ok(OutboundOutcome::TooMany);
        }
        let (message, _) = insert_message(&mut tx, &start.id, message.clone(), &mut None)
            .await
            .se()??;
        let started = Signal::Started {
            workspace_id: start.workspace_id.clone(),
            conversation_id: start.id.clone(),
        };
        notify(&mut tx, &self.node, started).await.se()?;
        tx.commit().await.se()?;
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
