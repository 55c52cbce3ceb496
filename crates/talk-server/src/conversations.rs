//! Conversations and messages. A message gets its sequence number and is committed in one
//! transaction; callers acknowledge or publish only after that.

use crate::db::{self, Db};
use crate::error::{ApiError, ApiResult};
use crate::group_commit::MessageWriter;
use talk_protocol::{
    Author, AuthorKind, Conversation, ConversationStatus, InboxConversation, Message,
    DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE,
};

/// Who is looking: decides which conversations are visible.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub workspace_id: String,
    pub visitor_id: String,
    /// Set only for a verified session: its person's verified conversations are visible too.
    /// An unverified claim of an email never widens what a visitor sees.
    pub verified_person_id: Option<String>,
}

#[derive(sqlx::FromRow)]
struct ConversationRow {
    id: String,
    visitor_id: String,
    person_id: Option<String>,
    verified: bool,
    status: String,
    last_seq: i64,
    created_at: i64,
    assignee_id: Option<String>,
    visitor_read_seq: i64,
    agent_read_seq: i64,
}

impl From<ConversationRow> for Conversation {
    fn from(row: ConversationRow) -> Self {
        Conversation {
            id: row.id,
            verified: row.verified,
            status: if row.status == "closed" {
                ConversationStatus::Closed
            } else {
                ConversationStatus::Open
            },
            visitor_id: row.visitor_id,
            person_id: row.person_id,
            last_seq: row.last_seq,
            created_at: row.created_at,
            assignee_id: row.assignee_id,
            visitor_read_seq: row.visitor_read_seq,
            agent_read_seq: row.agent_read_seq,
        }
    }
}

#[derive(sqlx::FromRow)]
struct MessageRow {
    id: String,
    conversation_id: String,
    seq: i64,
    author_kind: String,
    author_name: Option<String>,
    body: String,
    client_msg_id: Option<String>,
    created_at: i64,
}

impl From<MessageRow> for Message {
    fn from(row: MessageRow) -> Self {
        let kind = match row.author_kind.as_str() {
            "agent" => AuthorKind::Agent,
            "bot" => AuthorKind::Bot,
            _ => AuthorKind::Visitor,
        };
        Message {
            id: row.id,
            conversation_id: row.conversation_id,
            seq: row.seq,
            author: Author {
                kind,
                name: row.author_name,
            },
            body: row.body,
            client_msg_id: row.client_msg_id,
            created_at: row.created_at,
        }
    }
}

fn author_kind_text(kind: AuthorKind) -> &'static str {
    match kind {
        AuthorKind::Visitor => "visitor",
        AuthorKind::Agent => "agent",
        AuthorKind::Bot => "bot",
    }
}

fn status_text(status: ConversationStatus) -> &'static str {
    match status {
        ConversationStatus::Open => "open",
        ConversationStatus::Closed => "closed",
    }
}

const CONVERSATION_COLUMNS: &str = "id, visitor_id, person_id, verified, status, last_seq, \
     created_at, assignee_id, visitor_read_seq, agent_read_seq";
const MESSAGE_COLUMNS: &str =
    "id, conversation_id, seq, author_kind, author_name, body, client_msg_id, created_at";

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub author: Author,
    pub body: String,
    pub client_msg_id: Option<String>,
    /// Reopen the conversation if it is closed (a visitor writing again), in the same commit.
    pub reopens: bool,
}

#[derive(Debug, Clone)]
pub struct NewConversation {
    pub workspace_id: String,
    pub visitor_id: String,
    pub person_id: Option<String>,
    pub session_id: String,
    pub verified: bool,
}

/// The conversations a viewer may see, newest first.
pub async fn visible(db: &Db, viewer: &Viewer) -> Result<Vec<Conversation>, sqlx::Error> {
    let rows: Vec<ConversationRow> = sqlx::query_as(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations
         WHERE workspace_id = ?1
           AND (visitor_id = ?2 OR (?3 IS NOT NULL AND person_id = ?3 AND verified))
         ORDER BY created_at DESC, id DESC"
    ))
    .bind(&viewer.workspace_id)
    .bind(&viewer.visitor_id)
    .bind(&viewer.verified_person_id)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Conversation::from).collect())
}

/// One conversation, if the viewer may see it.
pub async fn find_visible(
    db: &Db,
    viewer: &Viewer,
    conversation_id: &str,
) -> Result<Option<Conversation>, sqlx::Error> {
    let row: Option<ConversationRow> = sqlx::query_as(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations
         WHERE id = ?4 AND workspace_id = ?1
           AND (visitor_id = ?2 OR (?3 IS NOT NULL AND person_id = ?3 AND verified))"
    ))
    .bind(&viewer.workspace_id)
    .bind(&viewer.visitor_id)
    .bind(&viewer.verified_person_id)
    .bind(conversation_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Conversation::from))
}

/// A workspace's conversations, newest first (agent API).
pub async fn list_for_workspace(
    db: &Db,
    workspace_id: &str,
) -> Result<Vec<Conversation>, sqlx::Error> {
    let rows: Vec<ConversationRow> = sqlx::query_as(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE workspace_id = ?
         ORDER BY created_at DESC, id DESC"
    ))
    .bind(workspace_id)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Conversation::from).collect())
}

/// A conversation with its newest message and its contact, as the inbox lists it.
#[derive(sqlx::FromRow)]
struct InboxRow {
    #[sqlx(flatten)]
    conversation: ConversationRow,
    message_id: Option<String>,
    author_kind: Option<String>,
    author_name: Option<String>,
    body: Option<String>,
    client_msg_id: Option<String>,
    message_created_at: Option<i64>,
    contact_id: Option<String>,
    contact_fields: Option<String>,
    contact_created_at: Option<i64>,
    contact_last_seen_ip: Option<String>,
    claimed_email: Option<String>,
    claimed_first_name: Option<String>,
    claimed_last_name: Option<String>,
}

impl From<InboxRow> for InboxConversation {
    fn from(row: InboxRow) -> Self {
        let conversation = Conversation::from(row.conversation);
        let last_message = match (
            row.message_id,
            row.author_kind,
            row.body,
            row.message_created_at,
        ) {
            (Some(id), Some(author_kind), Some(body), Some(created_at)) => {
                Some(Message::from(MessageRow {
                    id,
                    conversation_id: conversation.id.clone(),
                    seq: conversation.last_seq,
                    author_kind,
                    author_name: row.author_name,
                    body,
                    client_msg_id: row.client_msg_id,
                    created_at,
                }))
            }
            _ => None,
        };
        let contact = match (row.contact_id, row.contact_fields, row.contact_created_at) {
            (Some(id), Some(fields), Some(created_at)) => Some(crate::people::Person {
                id,
                fields: serde_json::from_str(&fields).unwrap_or_default(),
                created_at,
                last_seen_ip: row.contact_last_seen_ip,
            }),
            _ => None,
        };
        // An unverified conversation is listed under what its visitor typed: the linked
        // person's stored name would make anyone who typed that email look like them.
        let (contact_name, contact_email) = if conversation.verified {
            (
                contact.as_ref().and_then(|person| person.display_name()),
                contact
                    .as_ref()
                    .and_then(|person| person.text(talk_protocol::field::EMAIL))
                    .map(str::to_string),
            )
        } else {
            let claim = crate::people::Claim::from_columns(
                row.claimed_email,
                row.claimed_first_name,
                row.claimed_last_name,
            );
            (
                claim.as_ref().and_then(|claim| claim.name()),
                claim.map(|claim| claim.email),
            )
        };
        InboxConversation {
            unread: (conversation.last_seq - conversation.agent_read_seq).max(0),
            contact_name,
            contact_email,
            conversation,
            last_message,
        }
    }
}

/// The inbox's list: a workspace's conversations, filtered by status and assignee, newest
/// activity (last message, else start) first. The contact of a verified conversation is its
/// person; of an unverified one, what its visitor typed.
pub async fn inbox_list(
    db: &Db,
    workspace_id: &str,
    filter: InboxFilter<'_>,
    page: InboxPage,
) -> Result<(Vec<InboxConversation>, Option<InboxCursor>), sqlx::Error> {
    let status = filter.status.map(|status| status_text(status).to_string());
    let (after_activity, after_id) = match page.after {
        Some(cursor) => (Some(cursor.activity), Some(cursor.id)),
        None => (None, None),
    };
    let mut rows: Vec<InboxRow> = sqlx::query_as(
        "SELECT c.id, c.visitor_id, c.person_id, c.verified, c.status, c.last_seq,
                c.created_at, c.assignee_id, c.visitor_read_seq, c.agent_read_seq,
                m.id AS message_id, m.author_kind, m.author_name, m.body, m.client_msg_id,
                m.created_at AS message_created_at,
                p.id AS contact_id, p.fields AS contact_fields,
                p.created_at AS contact_created_at, p.last_seen_ip AS contact_last_seen_ip,
                v.claimed_email, v.claimed_first_name, v.claimed_last_name
         FROM conversations c
         LEFT JOIN messages m ON m.conversation_id = c.id AND m.seq = c.last_seq
         LEFT JOIN visitors v ON v.workspace_id = c.workspace_id AND v.id = c.visitor_id
         LEFT JOIN people p ON p.id = COALESCE(c.person_id, v.person_id)
         WHERE c.workspace_id = ?1
           AND (?2 IS NULL OR c.status = ?2)
           AND (?3 IS NULL OR c.assignee_id = ?3)
           AND (?4 IS NULL
                OR COALESCE(m.created_at, c.created_at) < ?4
                OR (COALESCE(m.created_at, c.created_at) = ?4 AND c.id < ?5))
         ORDER BY COALESCE(m.created_at, c.created_at) DESC, c.id DESC
         LIMIT ?6",
    )
    .bind(workspace_id)
    .bind(status)
    .bind(filter.assignee_id)
    .bind(after_activity)
    .bind(after_id)
    // One more than the page: whether another page follows.
    .bind(i64::from(page.limit) + 1)
    .fetch_all(db)
    .await?;
    let more = rows.len() > page.limit as usize;
    rows.truncate(page.limit as usize);
    let listed: Vec<InboxConversation> = rows.into_iter().map(InboxConversation::from).collect();
    let next = listed.last().filter(|_| more).map(|last| InboxCursor {
        activity: last.last_activity(),
        id: last.conversation.id.clone(),
    });
    Ok((listed, next))
}

/// Which conversations the inbox lists.
#[derive(Debug, Clone, Copy, Default)]
pub struct InboxFilter<'a> {
    pub status: Option<ConversationStatus>,
    pub assignee_id: Option<&'a str>,
}

/// One page of the inbox's list: up to `limit` conversations after `after`.
#[derive(Debug, Clone)]
pub struct InboxPage {
    pub after: Option<InboxCursor>,
    pub limit: u32,
}

/// A position in the inbox's order (last activity, then id, both descending): the last
/// conversation of a page. Written `{activity}.{id}`, URL-safe as it stands. Keyed by
/// position rather than offset, so conversations that move up while an agent scrolls don't
/// shift the pages after them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxCursor {
    pub activity: i64,
    pub id: String,
}

impl InboxCursor {
    pub fn parse(text: &str) -> Option<InboxCursor> {
        let (activity, id) = text.split_once('.')?;
        let valid_id =
            (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric());
        if activity.is_empty() || !activity.bytes().all(|b| b.is_ascii_digit()) || !valid_id {
            return None;
        }
        Some(InboxCursor {
            activity: activity.parse().ok()?,
            id: id.to_string(),
        })
    }
}

impl std::fmt::Display for InboxCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.activity, self.id)
    }
}

pub async fn find_in_workspace(
    db: &Db,
    workspace_id: &str,
    conversation_id: &str,
) -> Result<Option<Conversation>, sqlx::Error> {
    let row: Option<ConversationRow> = sqlx::query_as(&format!(
        "SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE workspace_id = ? AND id = ?"
    ))
    .bind(workspace_id)
    .bind(conversation_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Conversation::from))
}

/// The newest `limit` messages with `seq < before_seq` (all when `None`), in sequence order.
pub async fn messages_before(
    db: &Db,
    conversation_id: &str,
    before_seq: Option<i64>,
    limit: u32,
) -> Result<Vec<Message>, sqlx::Error> {
    let rows: Vec<MessageRow> = sqlx::query_as(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND seq < ?
         ORDER BY seq DESC LIMIT ?"
    ))
    .bind(conversation_id)
    .bind(before_seq.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().rev().map(Message::from).collect())
}

/// The first `limit` messages with `seq > after_seq`, in sequence order.
pub async fn messages_after(
    db: &Db,
    conversation_id: &str,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<Message>, sqlx::Error> {
    let rows: Vec<MessageRow> = sqlx::query_as(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND seq > ?
         ORDER BY seq LIMIT ?"
    ))
    .bind(conversation_id)
    .bind(after_seq)
    .bind(limit)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Message::from).collect())
}

pub async fn message_by_client_id(
    db: &Db,
    conversation_id: &str,
    client_msg_id: &str,
) -> Result<Option<Message>, sqlx::Error> {
    let row: Option<MessageRow> = sqlx::query_as(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND client_msg_id = ?"
    ))
    .bind(conversation_id)
    .bind(client_msg_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Message::from))
}

/// A message this visitor already sent with this `client_msg_id`, in any of its conversations
/// (a resent first message must not start a second conversation).
pub async fn visitor_message_by_client_id(
    db: &Db,
    workspace_id: &str,
    visitor_id: &str,
    client_msg_id: &str,
) -> Result<Option<Message>, sqlx::Error> {
    let row: Option<MessageRow> = sqlx::query_as(
        "SELECT m.id, m.conversation_id, m.seq, m.author_kind, m.author_name, m.body,
                m.client_msg_id, m.created_at
         FROM messages m JOIN conversations c ON c.id = m.conversation_id
         WHERE c.workspace_id = ? AND c.visitor_id = ? AND m.client_msg_id = ?
         LIMIT 1",
    )
    .bind(workspace_id)
    .bind(visitor_id)
    .bind(client_msg_id)
    .fetch_optional(db)
    .await?;
    Ok(row.map(Message::from))
}

/// Inserts the conversation's next message inside the caller's transaction (the group
/// commit's, or a new conversation's) and moves its `last_seq`; a visitor's message
/// (`reopens`) reopens a closed conversation. Answers the message and whether it reopened.
pub(crate) async fn insert_message(
    conn: &mut sqlx::SqliteConnection,
    conversation_id: &str,
    message: NewMessage,
) -> Result<(Message, bool), InsertError> {
    let now = db::now_ms();
    let id = db::new_id();
    // The seq comes from the conversation row, so this statement is the only one that can
    // fail on bad input (a resent client_msg_id, a conversation that is gone), and a failed
    // statement leaves nothing behind: no savepoint needed.
    let inserted: Option<(i64, String)> = sqlx::query_as(
        "INSERT INTO messages
           (id, conversation_id, seq, author_kind, author_name, body, client_msg_id, created_at)
         SELECT ?, id, last_seq + 1, ?, ?, ?, ?, ? FROM conversations WHERE id = ?
         RETURNING seq, (SELECT status FROM conversations WHERE id = conversation_id)",
    )
    .bind(&id)
    .bind(author_kind_text(message.author.kind))
    .bind(&message.author.name)
    .bind(&message.body)
    .bind(&message.client_msg_id)
    .bind(now)
    .bind(conversation_id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(InsertError::classify)?;
    let (seq, status_before) = inserted.ok_or(InsertError::Refused(sqlx::Error::RowNotFound))?;
    sqlx::query(
        "UPDATE conversations
         SET last_seq = ?, updated_at = ?, status = CASE WHEN ? THEN 'open' ELSE status END
         WHERE id = ?",
    )
    .bind(seq)
    .bind(now)
    .bind(message.reopens)
    .bind(conversation_id)
    .execute(&mut *conn)
    .await
    .map_err(InsertError::Transaction)?;
    let reopened = message.reopens && status_before == "closed";
    let message = Message {
        id,
        conversation_id: conversation_id.to_string(),
        seq,
        author: message.author,
        body: message.body,
        client_msg_id: message.client_msg_id,
        created_at: now,
    };
    Ok((message, reopened))
}

/// Why a message was not inserted.
#[derive(Debug)]
pub(crate) enum InsertError {
    /// This message alone was refused (a constraint, or no such conversation); the
    /// transaction is intact and nothing of the message was written.
    Refused(sqlx::Error),
    /// Anything else: the transaction may be half-done or rolled back, so must not commit.
    Transaction(sqlx::Error),
}

impl InsertError {
    fn classify(error: sqlx::Error) -> Self {
        // Constraint failures end the statement only; I/O, full-disk or busy errors may
        // have rolled back the whole transaction (SQLite's "automatic rollback").
        let constraint = error.as_database_error().is_some_and(|database_error| {
            !matches!(database_error.kind(), sqlx::error::ErrorKind::Other)
        });
        if constraint {
            InsertError::Refused(error)
        } else {
            InsertError::Transaction(error)
        }
    }

    pub(crate) fn into_inner(self) -> sqlx::Error {
        match self {
            InsertError::Refused(error) | InsertError::Transaction(error) => error,
        }
    }
}

/// The outcome of an idempotent append.
#[derive(Debug, Clone)]
pub enum Appended {
    /// Newly committed: acknowledge and publish (and the reopening, if it reopened).
    New { message: Message, reopened: bool },
    /// This `client_msg_id` was committed before: acknowledge again, publish nothing.
    Duplicate(Message),
}

impl Appended {
    pub fn into_message(self) -> Message {
        match self {
            Appended::New { message, .. } | Appended::Duplicate(message) => message,
        }
    }
}

/// Appends a message to an existing conversation, committed (with whatever else the writer
/// had queued) before returning. Idempotent on `client_msg_id`.
pub async fn append(
    writer: &MessageWriter,
    conversation_id: &str,
    message: NewMessage,
) -> Result<Appended, sqlx::Error> {
    let client_msg_id = message.client_msg_id.clone();
    match writer.commit(conversation_id, message).await {
        Ok((message, reopened)) => Ok(Appended::New { message, reopened }),
        // Sent before (a resend, or another tab): its insert failed alone, so no seq was
        // used; answer with the message stored the first time. Checking first would cost
        // every message a query for the rare resend.
        Err(error) if db::is_unique_violation(&error) && client_msg_id.is_some() => {
            let client_msg_id = client_msg_id.unwrap_or_default();
            message_by_client_id(writer.db(), conversation_id, &client_msg_id)
                .await?
                .map(Appended::Duplicate)
                .ok_or(error)
        }
        Err(error) => Err(error),
    }
}

/// Starts a conversation with its first message, in one transaction; `None` when the
/// visitor already has `max_open` open conversations.
pub async fn create_with_message(
    db: &Db,
    conversation: NewConversation,
    message: NewMessage,
    max_open: i64,
) -> Result<Option<(Conversation, Message)>, sqlx::Error> {
    let id = db::new_id();
    let now = db::now_ms();
    let mut tx = db.begin().await?;
    // Counted in the insert itself, so concurrent sends of one visitor can't pass the cap
    // together: the statement holds the write lock while it counts.
    let inserted = sqlx::query(
        "INSERT INTO conversations
           (id, workspace_id, visitor_id, person_id, session_id, verified, status, last_seq,
            created_at, updated_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, 'open', 0, ?7, ?7
         WHERE (SELECT COUNT(*) FROM conversations
                WHERE workspace_id = ?2 AND visitor_id = ?3 AND status = 'open') < ?8",
    )
    .bind(&id)
    .bind(&conversation.workspace_id)
    .bind(&conversation.visitor_id)
    .bind(&conversation.person_id)
    .bind(&conversation.session_id)
    .bind(conversation.verified)
    .bind(now)
    .bind(max_open)
    .execute(&mut *tx)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(None);
    }
    let (message, _) = insert_message(&mut tx, &id, message)
        .await
        .map_err(InsertError::into_inner)?;
    tx.commit().await?;
    let created = Conversation {
        id,
        verified: conversation.verified,
        status: ConversationStatus::Open,
        visitor_id: conversation.visitor_id,
        person_id: conversation.person_id,
        last_seq: message.seq,
        created_at: now,
        assignee_id: None,
        visitor_read_seq: 0,
        agent_read_seq: 0,
    };
    Ok(Some((created, message)))
}

/// Whether an update changed anything; either way, the conversation as it is now.
#[derive(Debug, Clone)]
pub struct Updated {
    pub conversation: Conversation,
    pub changed: bool,
}

/// Runs `UPDATE conversations SET {assignments} WHERE workspace_id = ?1 AND id = ?2 AND
/// {unless_already}` with `value` bound as ?3, then reloads the conversation.
async fn update<V>(
    db: &Db,
    workspace_id: &str,
    conversation_id: &str,
    assignments: &str,
    unless_already: &str,
    value: V,
) -> Result<Option<Updated>, sqlx::Error>
where
    V: for<'q> sqlx::Encode<'q, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite> + Send + 'static,
{
    let changed = sqlx::query(&format!(
        "UPDATE conversations SET {assignments}, updated_at = ?4
         WHERE workspace_id = ?1 AND id = ?2 AND {unless_already}"
    ))
    .bind(workspace_id)
    .bind(conversation_id)
    .bind(value)
    .bind(db::now_ms())
    .execute(db)
    .await?
    .rows_affected()
        > 0;
    let conversation = find_in_workspace(db, workspace_id, conversation_id).await?;
    Ok(conversation.map(|conversation| Updated {
        conversation,
        changed,
    }))
}

pub async fn set_status(
    db: &Db,
    workspace_id: &str,
    conversation_id: &str,
    status: ConversationStatus,
) -> Result<Option<Updated>, sqlx::Error> {
    let status = status_text(status).to_string();
    update(
        db,
        workspace_id,
        conversation_id,
        "status = ?3",
        "status != ?3",
        status,
    )
    .await
}

/// Assigns to `agent_id` (which the caller checked is an agent of the workspace), or
/// unassigns with `None`.
pub async fn assign(
    db: &Db,
    workspace_id: &str,
    conversation_id: &str,
    agent_id: Option<&str>,
) -> Result<Option<Updated>, sqlx::Error> {
    update(
        db,
        workspace_id,
        conversation_id,
        "assignee_id = ?3",
        "assignee_id IS NOT ?3",
        agent_id.map(str::to_string),
    )
    .await
}

/// Moves the reader's read position forward to `up_to_seq` (0 ..= `last_seq`); never back.
pub async fn mark_read(
    db: &Db,
    workspace_id: &str,
    conversation: &Conversation,
    reader: AuthorKind,
    up_to_seq: i64,
) -> ApiResult<Updated> {
    if !(0..=conversation.last_seq).contains(&up_to_seq) {
        return Err(ApiError::bad_request(
            "invalid_seq",
            format!(
                "up_to_seq must be between 0 and the conversation's last_seq ({})",
                conversation.last_seq
            ),
        ));
    }
    let column = match reader {
        AuthorKind::Visitor => "visitor_read_seq",
        AuthorKind::Agent | AuthorKind::Bot => "agent_read_seq",
    };
    update(
        db,
        workspace_id,
        &conversation.id,
        &format!("{column} = ?3"),
        &format!("{column} < ?3"),
        up_to_seq,
    )
    .await?
    .ok_or_else(|| ApiError::not_found("conversation_not_found", "no such conversation"))
}

/// A page request's `before_seq` (≥ 1, default: after the newest) and `limit` (1 ..=
/// `MAX_PAGE_SIZE`, default `DEFAULT_PAGE_SIZE`).
pub fn checked_page(before_seq: Option<i64>, limit: Option<u32>) -> ApiResult<(Option<i64>, u32)> {
    let limit = limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(invalid_paging());
    }
    if before_seq.is_some_and(|before_seq| before_seq < 1) {
        return Err(invalid_paging());
    }
    Ok((before_seq, limit))
}

pub fn invalid_paging() -> ApiError {
    ApiError::bad_request(
        "invalid_paging",
        format!(
            "before_seq must be a sequence number of at least 1 and limit between 1 and \
             {MAX_PAGE_SIZE} (default {DEFAULT_PAGE_SIZE})"
        ),
    )
}

/// Why a message body was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyProblem {
    Empty,
    TooLong,
}

impl BodyProblem {
    pub fn code(self) -> &'static str {
        match self {
            BodyProblem::Empty => "empty_message",
            BodyProblem::TooLong => "message_too_long",
        }
    }

    pub fn message(self) -> String {
        match self {
            BodyProblem::Empty => "the message is empty".to_string(),
            BodyProblem::TooLong => format!(
                "the message is longer than {} bytes",
                talk_protocol::MAX_MESSAGE_BYTES
            ),
        }
    }
}

/// The body as stored: trimmed, non-empty, at most `MAX_MESSAGE_BYTES`.
pub fn checked_body(body: &str) -> Result<String, BodyProblem> {
    let trimmed = body.trim();
    if trimmed.is_empty() {
        Err(BodyProblem::Empty)
    } else if trimmed.len() > talk_protocol::MAX_MESSAGE_BYTES {
        Err(BodyProblem::TooLong)
    } else {
        Ok(trimmed.to_string())
    }
}

/// Whether `agent_id` is an agent of the workspace (assignment targets).
pub async fn is_agent_of(db: &Db, workspace_id: &str, agent_id: &str) -> Result<bool, sqlx::Error> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM agents WHERE workspace_id = ? AND id = ?")
            .bind(workspace_id)
            .bind(agent_id)
            .fetch_optional(db)
            .await?;
    Ok(found.is_some())
}
