//! The inbox's own API (`/v1/agent/…`, authenticated by the `talk_agent` session cookie): the
//! conversation list with unread counts and its filters. The inbox's socket speaks the same
//! `ClientEvent`/`ServerEvent` as the widget's.

use crate::{Conversation, ConversationStatus, Message};
use serde::{Deserialize, Serialize};

/// A conversation as the inbox lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxConversation {
    #[serde(flatten)]
    pub conversation: Conversation,
    /// Messages the agents have not read: `last_seq − agent_read_seq`.
    pub unread: i64,
    /// The contact's name (`str::name`, else first and last name), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_email: Option<String>,
    /// The newest message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message: Option<Message>,
}

impl InboxConversation {
    /// When the conversation last moved: its newest message, else its start.
    pub fn last_activity(&self) -> i64 {
        self.last_message
            .as_ref()
            .map_or(self.conversation.created_at, |message| message.created_at)
    }
}

/// `GET /v1/agent/conversations`: one page, newest activity first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxConversationList {
    pub conversations: Vec<InboxConversation>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Conversations per page of `GET /v1/agent/conversations` when the request names no limit.
pub const DEFAULT_INBOX_PAGE_SIZE: u32 = 50;
/// The largest page of `GET /v1/agent/conversations`.
pub const MAX_INBOX_PAGE_SIZE: u32 = 100;

/// Who a listed conversation must be assigned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignedFilter {
    /// The signed-in agent.
    Me,
}

/// The query of `GET /v1/agent/conversations`; every filter is optional.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ConversationStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned: Option<AssignedFilter>,
}

impl ConversationFilter {
    /// The query string, `?`-prefixed, or empty without filters or cursor. The cursor is the
    /// server's `next_cursor`, made of URL-safe characters only.
    pub fn query(&self, cursor: Option<&str>) -> String {
        let mut parts = Vec::new();
        match self.status {
            Some(ConversationStatus::Open) => parts.push("status=open".to_string()),
            Some(ConversationStatus::Closed) => parts.push("status=closed".to_string()),
            None => {}
        }
        if self.assigned == Some(AssignedFilter::Me) {
            parts.push("assigned=me".to_string());
        }
        if let Some(cursor) = cursor {
            parts.push(format!("cursor={cursor}"));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        }
    }

    /// Whether a conversation belongs in a list with this filter, for `agent_id`.
    pub fn matches(&self, conversation: &Conversation, agent_id: &str) -> bool {
        self.status
            .is_none_or(|status| conversation.status == status)
            && match self.assigned {
                Some(AssignedFilter::Me) => conversation.assignee_id.as_deref() == Some(agent_id),
                None => true,
            }
    }
}

/// `POST /v1/agent/people/{id}/conversations` (inbox) and `POST /v1/people/{id}/conversations`
/// (API key): an agent writes first to a known person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartConversationRequest {
    pub body: String,
    /// The sender's idempotency key (a UUID): a resend under the same id starts nothing new
    /// and is answered with the conversation started the first time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_msg_id: Option<String>,
    /// The name the message shows, with an API key ("Agent" when absent); a signed-in agent
    /// writes under its own name and this is ignored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartedConversation {
    pub conversation: Conversation,
    pub message: Message,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conversation(status: ConversationStatus, assignee: Option<&str>) -> Conversation {
        Conversation {
            id: "c".into(),
            verified: false,
            status,
            visitor_id: "v".into(),
            person_id: None,
            last_seq: 3,
            created_at: 5,
            assignee_id: assignee.map(str::to_string),
            visitor_read_seq: 0,
            agent_read_seq: 1,
        }
    }

    #[test]
    fn inbox_conversation_is_a_conversation_plus_counts() {
        let listed = InboxConversation {
            conversation: conversation(ConversationStatus::Open, None),
            unread: 2,
            contact_name: Some("Ada".into()),
            contact_email: None,
            last_message: None,
        };
        let value = serde_json::to_value(&listed).unwrap();
        assert_eq!(value["id"], json!("c"));
        assert_eq!(value["unread"], json!(2));
        assert_eq!(value["contact_name"], json!("Ada"));
        assert!(value.get("contact_email").is_none());
        assert_eq!(listed.last_activity(), 5);
        assert_eq!(
            serde_json::from_value::<InboxConversation>(value).unwrap(),
            listed
        );
    }

    #[test]
    fn filter_builds_its_query_and_matches() {
        assert_eq!(ConversationFilter::default().query(None), "");
        let mine_open = ConversationFilter {
            status: Some(ConversationStatus::Open),
            assigned: Some(AssignedFilter::Me),
        };
        assert_eq!(mine_open.query(None), "?status=open&assigned=me");
        assert_eq!(
            mine_open.query(Some("5.ab")),
            "?status=open&assigned=me&cursor=5.ab"
        );
        assert!(mine_open.matches(&conversation(ConversationStatus::Open, Some("a")), "a"));
        assert!(!mine_open.matches(&conversation(ConversationStatus::Open, Some("b")), "a"));
        assert!(!mine_open.matches(&conversation(ConversationStatus::Closed, Some("a")), "a"));
        assert!(ConversationFilter::default()
            .matches(&conversation(ConversationStatus::Closed, None), "a"));
    }
}
