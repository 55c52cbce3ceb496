//! Agent API bodies for conversation state and presence (X-Api-Key).

use serde::{Deserialize, Serialize};

/// `POST /v1/conversations/{id}/assign`: `null` unassigns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignRequest {
    pub agent_id: Option<String>,
}

/// `POST /v1/conversations/{id}/typing`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentTypingRequest {
    pub typing: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
}

/// `POST /v1/conversations/{id}/read`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadRequest {
    pub up_to_seq: i64,
}

/// Messages per page when the request names no limit.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Largest page of messages served.
pub const MAX_PAGE_SIZE: u32 = 200;
/// A page of history (a `history` event, an SSE replay step) stops before its messages
/// would pass this many bytes of JSON, so that it fits one WebSocket frame of the server's
/// write buffer. It always holds at least one message, so paging makes progress.
pub const MAX_PAGE_BYTES: usize = 128 * 1024;
