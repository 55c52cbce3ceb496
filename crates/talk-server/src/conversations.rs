//! Conversations and messages. A message gets its sequence number and is committed in one
//! transaction; callers acknowledge or publish only after that.

use crate::db::{self, Db};
use crate::error::{ApiError, ApiResult};
use crate::group_commit::MessageWriter;
use crate::store::{constraint, ConversationChange, StoreError, StoreResult};
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

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub author: Author,
    pub body: String,
    pub client_msg_id: Option<String>,
    /// Reopen the conversation if it is closed (a visitor writing again), in the same commit.
    pub reopens: bool,
    /// The widget's automatic answer (`crate::auto_reply`), counted apart from the bots'
    /// messages (`messages.auto_reply`, `crate::usage`).
    pub auto_reply: bool,
}

impl NewMessage {
    /// The message as committed: its id, its conversation's seq, when.
    pub fn committed(
        self,
        id: String,
        conversation_id: &str,
        seq: i64,
        created_at: i64,
    ) -> Message {
        Message {
            id,
            conversation_id: conversation_id.to_string(),
            seq,
            author: self.author,
            body: self.body,
            client_msg_id: self.client_msg_id,
            created_at,
        }
    }
}

#[derive(Debug, Clone)]
pub struct NewConversation {
    pub workspace_id: String,
    pub visitor_id: String,
    pub person_id: Option<String>,
    pub session_id: String,
    pub verified: bool,
    /// The bot that takes it (`bots::registry::taker_for_new_conversation`); stored only if
    /// that bot still exists and is enabled when the conversation is inserted.
    pub bot_id: Option<String>,
    /// Started in a preview session (`crate::usage::preview`): counted apart, listed nowhere.
    pub preview: bool,
}

/// The conversations a viewer may see, newest first.
pub async fn visible(db: &Db, viewer: &Viewer) -> StoreResult<Vec<Conversation>> {
    db.visible_conversations(viewer).await
}

/// One conversation, if the viewer may see it.
pub async fn find_visible(
    db: &Db,
    viewer: &Viewer,
    conversation_id: &str,
) -> StoreResult<Option<Conversation>> {
    db.find_visible_conversation(viewer, conversation_id).await
}

/// A workspace's conversations, newest first (agent API).
pub async fn list_for_workspace(db: &Db, workspace_id: &str) -> StoreResult<Vec<Conversation>> {
    db.list_conversations(workspace_id).await
}

/// The inbox's list: a workspace's conversations, filtered by status and assignee, newest
/// activity (last message, else start) first. The contact of a verified conversation is its
/// person; of an unverified one, what its visitor typed.
pub async fn inbox_list(
    db: &Db,
    workspace_id: &str,
    filter: InboxFilter<'_>,
    page: InboxPage,
) -> StoreResult<(Vec<InboxConversation>, Option<InboxCursor>)> {
    let rows = InboxRowPage {
        after: page.after,
        // One more than the page: whether another page follows.
        limit: i64::from(page.limit) + 1,
    };
    let mut listed = db.inbox_rows(workspace_id, filter, &rows).await?;
    let more = listed.len() > page.limit as usize;
    listed.truncate(page.limit as usize);
    let next = listed.last().filter(|_| more).map(|last| InboxCursor {
        activity: last.last_activity(),
        id: last.conversation.id.clone(),
    });
    Ok((listed, next))
}

/// What the store reads for one inbox page: up to `limit` rows after `after`.
#[derive(Debug, Clone)]
pub struct InboxRowPage {
    pub after: Option<InboxCursor>,
    pub limit: i64,
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
) -> StoreResult<Option<Conversation>> {
    db.find_conversation(workspace_id, conversation_id).await
}

/// The newest `limit` messages with `seq < before_seq` (all when `None`), in sequence order.
pub async fn messages_before(
    db: &Db,
    conversation_id: &str,
    before_seq: Option<i64>,
    limit: u32,
) -> StoreResult<Vec<Message>> {
    let mut messages = db
        .messages_before(conversation_id, before_seq.unwrap_or(i64::MAX), limit)
        .await?;
    messages.reverse();
    Ok(messages)
}

/// The first `limit` messages with `seq > after_seq`, in sequence order.
pub async fn messages_after(
    db: &Db,
    conversation_id: &str,
    after_seq: i64,
    limit: u32,
) -> StoreResult<Vec<Message>> {
    db.messages_after(conversation_id, after_seq, limit).await
}

pub async fn message_by_client_id(
    db: &Db,
    conversation_id: &str,
    client_msg_id: &str,
) -> StoreResult<Option<Message>> {
    db.message_by_client_id(conversation_id, client_msg_id)
        .await
}

/// A message this visitor already sent with this `client_msg_id`, in any of its conversations
/// (a resent first message must not start a second conversation).
pub async fn visitor_message_by_client_id(
    db: &Db,
    workspace_id: &str,
    visitor_id: &str,
    client_msg_id: &str,
) -> StoreResult<Option<Message>> {
    db.visitor_message_by_client_id(workspace_id, visitor_id, client_msg_id)
        .await
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
) -> StoreResult<Appended> {
    let client_msg_id = message.client_msg_id.clone();
    match writer.commit(conversation_id, message).await {
        Ok((message, reopened)) => Ok(Appended::New { message, reopened }),
        // Sent before (a resend, or another tab): its insert failed alone, so no seq was
        // used; answer with the message stored the first time. Checking first would cost
        // every message a query for the rare resend.
        Err(StoreError::Conflict { constraint })
            if constraint == constraint::MESSAGE_CLIENT_ID && client_msg_id.is_some() =>
        {
            let client_msg_id = client_msg_id.unwrap_or_default();
            message_by_client_id(writer.db(), conversation_id, &client_msg_id)
                .await?
                .map(Appended::Duplicate)
                .ok_or(StoreError::Conflict { constraint })
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
) -> StoreResult<Option<(Conversation, Message)>> {
    let id = if conversation.preview {
        crate::usage::preview::conversation_id()
    } else {
        db::new_id()
    };
    let now = db::now_ms();
    let Some(message) = db
        .create_conversation(&id, &conversation, message, max_open, now)
        .await?
    else {
        return Ok(None);
    };
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

/// Applies the change unless it changes nothing, then reloads the conversation.
async fn update(
    db: &Db,
    workspace_id: &str,
    conversation_id: &str,
    change: ConversationChange,
) -> StoreResult<Option<Updated>> {
    let changed = db
        .update_conversation(workspace_id, conversation_id, &change, db::now_ms())
        .await?;
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
) -> StoreResult<Option<Updated>> {
    update(
        db,
        workspace_id,
        conversation_id,
        ConversationChange::Status(status),
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
) -> StoreResult<Option<Updated>> {
    update(
        db,
        workspace_id,
        conversation_id,
        ConversationChange::Assignee(agent_id.map(str::to_string)),
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
    let change = match reader {
        AuthorKind::Visitor => ConversationChange::VisitorRead(up_to_seq),
        AuthorKind::Agent | AuthorKind::Bot => ConversationChange::AgentRead(up_to_seq),
    };
    update(db, workspace_id, &conversation.id, change)
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
pub async fn is_agent_of(db: &Db, workspace_id: &str, agent_id: &str) -> StoreResult<bool> {
    Ok(db.agent_by_id(workspace_id, agent_id).await?.is_some())
}
