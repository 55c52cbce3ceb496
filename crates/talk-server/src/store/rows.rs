//! Rows as both engines return them (the `FromRow` derives are generic over the engine) and
//! their conversion into the server's types.

use crate::people::{Claim, Person, VisitorIdentity};
use talk_protocol::{
    AgentProfile, AgentRole, Author, AuthorKind, Conversation, ConversationStatus,
    InboxConversation, Message, PageView, Presence,
};

pub(crate) const CONVERSATION_COLUMNS: &str = "id, visitor_id, person_id, verified, status, \
     last_seq, created_at, assignee_id, visitor_read_seq, agent_read_seq";
pub(crate) const MESSAGE_COLUMNS: &str =
    "id, conversation_id, seq, author_kind, author_name, body, client_msg_id, created_at";
pub(crate) const PERSON_COLUMNS: &str = "id, fields, created_at, last_seen_ip";
pub(crate) const AGENT_COLUMNS: &str = "id, workspace_id, email, name, role, presence, photo_url";
pub(crate) const WORKSPACE_COLUMNS: &str =
    "id, name, capture_key, names_required, allowed_origins, created_at, captures_enabled, \
     quota_mode, quota_text_per_month, quota_voice_minutes_per_month";
pub(crate) const KEY_COLUMNS: &str = "kid, workspace_id, secret, retired_at";
pub(crate) const PAGE_VIEW_COLUMNS: &str = "url, title, referrer, visitor_id, created_at";

#[derive(sqlx::FromRow)]
pub(crate) struct ConversationRow {
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
pub(crate) struct MessageRow {
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

/// The inbox's list: a conversation with its newest message and its contact.
pub(crate) const INBOX_SELECT: &str =
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
     WHERE c.workspace_id = $1 AND NOT c.preview
       AND ($2 IS NULL OR c.status = $2)
       AND ($3 IS NULL OR c.assignee_id = $3)
       AND ($4 IS NULL
            OR COALESCE(m.created_at, c.created_at) < $4
            OR (COALESCE(m.created_at, c.created_at) = $4 AND c.id < $5))
     ORDER BY COALESCE(m.created_at, c.created_at) DESC, c.id DESC
     LIMIT $6";

#[derive(sqlx::FromRow)]
pub(crate) struct InboxRow {
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
            (Some(id), Some(fields), Some(created_at)) => Some(Person {
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
            let claim = Claim::from_columns(
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

#[derive(sqlx::FromRow)]
pub(crate) struct PersonRow {
    id: String,
    fields: String,
    created_at: i64,
    last_seen_ip: Option<String>,
}

impl From<PersonRow> for Person {
    fn from(row: PersonRow) -> Self {
        Person {
            id: row.id,
            fields: serde_json::from_str(&row.fields).unwrap_or_default(),
            created_at: row.created_at,
            last_seen_ip: row.last_seen_ip,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct VisitorIdentityRow {
    person_id: Option<String>,
    claimed_email: Option<String>,
    claimed_first_name: Option<String>,
    claimed_last_name: Option<String>,
}

impl From<VisitorIdentityRow> for VisitorIdentity {
    fn from(row: VisitorIdentityRow) -> Self {
        VisitorIdentity {
            person_id: row.person_id,
            claim: Claim::from_columns(
                row.claimed_email,
                row.claimed_first_name,
                row.claimed_last_name,
            ),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AgentRow {
    id: String,
    workspace_id: String,
    email: String,
    name: String,
    role: String,
    presence: String,
    photo_url: Option<String>,
}

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

#[derive(sqlx::FromRow)]
pub(crate) struct PageViewRow {
    url: String,
    title: Option<String>,
    referrer: Option<String>,
    visitor_id: String,
    created_at: i64,
}

impl From<PageViewRow> for PageView {
    fn from(row: PageViewRow) -> Self {
        PageView {
            url: row.url,
            title: row.title,
            referrer: row.referrer,
            visitor_id: row.visitor_id,
            created_at: row.created_at,
        }
    }
}

pub(crate) const CALL_COLUMNS: &str = "id, workspace_id, conversation_id, caller, caller_name, \
     state, outcome, visitor_party, agent_party, agent_id, agent_name, created_at, answered_at, \
     visitor_connected_at, agent_connected_at, connected_at, ended_at, duration_ms, version";
/// Both engines take the same text for these.
pub(crate) const INSERT_CALL: &str = "INSERT INTO calls (id, workspace_id, conversation_id, \
     caller, caller_name, state, outcome, visitor_party, agent_party, agent_id, agent_name, \
     created_at, answered_at, visitor_connected_at, agent_connected_at, connected_at, ended_at, \
     duration_ms, version) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)";
/// Saves every changing column if the row is still at version $13 (set to $14).
pub(crate) const SAVE_CALL: &str = "UPDATE calls SET state = $2, outcome = $3, \
     visitor_party = $4, agent_party = $5, agent_id = $6, agent_name = $7, answered_at = $8, \
     visitor_connected_at = $9, agent_connected_at = $10, connected_at = $11, ended_at = $12, \
     duration_ms = $15, version = $14 WHERE id = $1 AND version = $13";

#[derive(sqlx::FromRow)]
pub(crate) struct CallRow {
    id: String,
    workspace_id: String,
    conversation_id: String,
    caller: String,
    caller_name: Option<String>,
    state: String,
    outcome: Option<String>,
    visitor_party: Option<String>,
    agent_party: Option<String>,
    agent_id: Option<String>,
    agent_name: Option<String>,
    created_at: i64,
    answered_at: Option<i64>,
    visitor_connected_at: Option<i64>,
    agent_connected_at: Option<i64>,
    connected_at: Option<i64>,
    ended_at: Option<i64>,
    duration_ms: i64,
    version: i64,
}

impl From<CallRow> for crate::calls::CallRecord {
    fn from(row: CallRow) -> Self {
        use talk_protocol::{Call, CallOutcome, CallState};
        let state = match row.state.as_str() {
            "ringing" => CallState::Ringing,
            "active" => CallState::Active,
            _ => CallState::Ended,
        };
        let outcome = row.outcome.as_deref().map(|outcome| match outcome {
            "completed" => CallOutcome::Completed,
            "missed" => CallOutcome::Missed,
            "declined" => CallOutcome::Declined,
            _ => CallOutcome::Failed,
        });
        crate::calls::CallRecord {
            call: Call {
                id: row.id,
                conversation_id: row.conversation_id,
                caller: if row.caller == "agent" {
                    AuthorKind::Agent
                } else {
                    AuthorKind::Visitor
                },
                state,
                outcome,
                agent_id: row.agent_id,
                agent_name: row.agent_name,
                created_at: row.created_at,
                answered_at: row.answered_at,
                connected_at: row.connected_at,
                ended_at: row.ended_at,
                duration_ms: row.duration_ms,
            },
            workspace_id: row.workspace_id,
            caller_name: row.caller_name,
            visitor_party: row.visitor_party,
            agent_party: row.agent_party,
            visitor_connected_at: row.visitor_connected_at,
            agent_connected_at: row.agent_connected_at,
            version: row.version,
        }
    }
}

pub(crate) fn call_state_text(state: talk_protocol::CallState) -> &'static str {
    use talk_protocol::CallState;
    match state {
        CallState::Ringing => "ringing",
        CallState::Active => "active",
        CallState::Ended => "ended",
    }
}

pub(crate) fn call_outcome_text(outcome: talk_protocol::CallOutcome) -> &'static str {
    use talk_protocol::CallOutcome;
    match outcome {
        CallOutcome::Completed => "completed",
        CallOutcome::Missed => "missed",
        CallOutcome::Declined => "declined",
        CallOutcome::Failed => "failed",
    }
}

/// Binds a call's columns in [`INSERT_CALL`]'s order, or [`SAVE_CALL`]'s; one macro for both
/// engines' query types.
macro_rules! bind_call {
    (insert $query:expr, $record:expr) => {{
        let record: &crate::calls::CallRecord = $record;
        let call = &record.call;
        $query
            .bind(&call.id)
            .bind(&record.workspace_id)
            .bind(&call.conversation_id)
            .bind(super::author_kind_text(call.caller))
            .bind(&record.caller_name)
            .bind(super::rows::call_state_text(call.state))
            .bind(call.outcome.map(super::rows::call_outcome_text))
            .bind(&record.visitor_party)
            .bind(&record.agent_party)
            .bind(&call.agent_id)
            .bind(&call.agent_name)
            .bind(call.created_at)
            .bind(call.answered_at)
            .bind(record.visitor_connected_at)
            .bind(record.agent_connected_at)
            .bind(call.connected_at)
            .bind(call.ended_at)
            .bind(call.duration_ms)
            .bind(record.version)
    }};
    (save $query:expr, $record:expr, $expected:expr) => {{
        let record: &crate::calls::CallRecord = $record;
        let call = &record.call;
        $query
            .bind(&call.id)
            .bind(super::rows::call_state_text(call.state))
            .bind(call.outcome.map(super::rows::call_outcome_text))
            .bind(&record.visitor_party)
            .bind(&record.agent_party)
            .bind(&call.agent_id)
            .bind(&call.agent_name)
            .bind(call.answered_at)
            .bind(record.visitor_connected_at)
            .bind(record.agent_connected_at)
            .bind(call.connected_at)
            .bind(call.ended_at)
            .bind($expected)
            .bind(record.version)
            .bind(call.duration_ms)
    }};
}
pub(crate) use bind_call;
