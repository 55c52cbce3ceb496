//! Every HTTP body and socket event that crosses the wire between the Talk widget, the
//! server and the inbox. Serde only, so the widget's WASM stays small.
//!
//! Times are Unix milliseconds; ids are opaque strings.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub mod agents;
pub mod bots;
pub mod calls;
pub mod captures;
pub mod days;
pub mod inbox;
pub mod people;
pub mod realtime;
pub mod settings;
pub mod usage;
pub use agents::*;
pub use bots::*;
pub use calls::*;
pub use captures::*;
pub use inbox::*;
pub use people::*;
pub use realtime::*;
pub use settings::*;
pub use usage::*;

/// The body of every error answer: `{"error": {"code": "…", "message": "…"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable, snake_case: clients branch on this, never on the message.
    pub code: String,
    /// For a human: says what to fix.
    pub message: String,
}

/// Field names of the person fields the server understands (Ortto's naming).
pub mod field {
    pub const EMAIL: &str = "str::email";
    pub const NAME: &str = "str::name";
    pub const FIRST_NAME: &str = "str::first";
    pub const LAST_NAME: &str = "str::last";
}

// ---------------------------------------------------------------------------------------------
// POST /v1/talk/session: the site owner's backend mints a verified-session token (X-Api-Key).
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TalkSessionRequest {
    /// Main and optional fallback merge field, or `["person_id"]` alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_by: Option<Vec<String>>,
    /// 1 append only, 2 overwrite existing (default), 3 ignore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merge_strategy: Option<u8>,
    /// 0 any, 1 fallback only if the main value is empty, 2 all must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub find_strategy: Option<u8>,
    #[serde(default)]
    pub skip_non_existing: bool,
    /// Also mint a browser session ([`BrowserSession`]) for a page that talks to Talk
    /// without the widget.
    #[serde(default)]
    pub browser: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_id: Option<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, FieldValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// A person field's value; the field name's prefix (`str::`, `int::`, `bool::`) says which.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldValue {
    Text(String),
    Integer(i64),
    Number(f64),
    Bool(bool),
}

impl FieldValue {
    pub fn as_text(&self) -> Option<&str> {
        match self {
            FieldValue::Text(text) => Some(text),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TalkSessionResponse {
    pub session_id: String,
    /// Signed, valid 365 days; the page passes it to `ap3c.init` or `setVerifiedSession`.
    pub token: String,
    pub person_id: String,
    pub person_status: PersonStatus,
    /// Asked for with `"browser": true`: what a site that builds its own UI hands its page
    /// (the headless API channel, seed 003).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub browser: Option<BrowserSession>,
}

/// The browser-safe half of a session minted by the site's backend (seed 003): a short-lived
/// token and token-free URLs. The token goes in `Authorization: Bearer` (HTTP + SSE) or in
/// the socket's first frame (`auth`), never in a URL. The workspace's allowed origins apply
/// to the page using it exactly as to the widget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowserSession {
    /// The same session as the response's `session_id`.
    pub session_id: String,
    pub session_token: String,
    /// Unix ms; mint a new session before then.
    pub session_token_expires_at: i64,
    /// `POST` a `ClientEvent` here; `GET {messages_url}/stream` is the SSE stream.
    pub messages_url: String,
    /// The WebSocket: messages and call signalling.
    pub signalling_url: String,
    /// With short-lived TURN credentials.
    pub ice_servers: Vec<IceServer>,
    #[serde(default)]
    pub ice_transport_policy: IceTransportPolicy,
}

/// How the person behind a session was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PersonStatus {
    ById,
    ByMergeField,
    Created,
}

// ---------------------------------------------------------------------------------------------
// POST /v1/talk/widget/session: the widget starts a browser session with the public capture key.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WidgetSessionRequest {
    pub capture_key: String,
    /// The anonymous visitor id from the host page's first-party cookie.
    pub visitor_id: String,
    /// A verified-session token from `POST /v1/talk/session`, when the page has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The host page's URL (without its fragment), for the capture widgets' page rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WidgetSessionResponse {
    pub session_id: String,
    /// Short-lived; sent in the socket's first frame or an `Authorization: Bearer` header,
    /// never in a URL.
    pub session_token: String,
    pub session_token_expires_at: i64,
    /// Token-free WebSocket URL.
    pub socket_url: String,
    /// Token-free HTTP + SSE messages URL.
    pub messages_url: String,
    pub ice_servers: Vec<IceServer>,
    /// `relay`: calls use only the TURN servers, so neither side learns the other's address.
    #[serde(default)]
    pub ice_transport_policy: IceTransportPolicy,
    pub verified: bool,
    /// Verified: the person's stored email and names. Unverified: only what this visitor
    /// typed in the email form, if anything.
    pub person: Option<PersonSummary>,
    pub identity: IdentityRequirements,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
}

/// `RTCConfiguration.iceTransportPolicy`: which ICE candidates a call may use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IceTransportPolicy {
    /// Direct where the network allows, else through TURN.
    #[default]
    All,
    /// Only through TURN: the peers never see each other's addresses.
    Relay,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityRequirements {
    /// First and last name are required besides the email.
    pub names_required: bool,
}

/// Whom the widget greets. No person id and, for an unverified visitor, nothing stored for
/// its email: anyone with the capture key can type someone else's email.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonSummary {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub name: Option<String>,
}

impl PersonSummary {
    /// The name to greet the person by: first name, else full name.
    pub fn greeting_name(&self) -> Option<&str> {
        fn non_blank(name: &Option<String>) -> Option<&str> {
            name.as_deref()
                .map(str::trim)
                .filter(|name| !name.is_empty())
        }
        non_blank(&self.first_name).or_else(|| non_blank(&self.name))
    }
}

// ---------------------------------------------------------------------------------------------
// POST /v1/talk/identify: an unidentified visitor gives its email (Authorization: Bearer).
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentifyRequest {
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentifyResponse {
    /// What the visitor typed (trimmed), never what is stored for that email.
    pub person: PersonSummary,
}

// ---------------------------------------------------------------------------------------------
// Conversations and messages.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationStatus {
    Open,
    Closed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conversation {
    pub id: String,
    /// Created in a session whose verified token was valid then; never changes afterwards.
    pub verified: bool,
    pub status: ConversationStatus,
    pub visitor_id: String,
    pub person_id: Option<String>,
    /// Sequence number of the newest message (0 when empty).
    pub last_seq: i64,
    pub created_at: i64,
    /// The agent the conversation is assigned to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee_id: Option<String>,
    /// The visitor has read every message up to this sequence number; never decreases.
    #[serde(default)]
    pub visitor_read_seq: i64,
    /// The agents have read every message up to this sequence number; never decreases.
    #[serde(default)]
    pub agent_read_seq: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthorKind {
    Visitor,
    Agent,
    Bot,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    pub kind: AuthorKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: String,
    pub conversation_id: String,
    /// 1, 2, 3 … within its conversation, in commit order.
    pub seq: i64,
    pub author: Author,
    /// Plain text. Clients render it as text, never as HTML.
    pub body: String,
    /// The sender's idempotency key (a UUID), for messages sent by a client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_msg_id: Option<String>,
    pub created_at: i64,
}

/// Longest message body accepted, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// Agent API (X-Api-Key): `POST /v1/conversations/{id}/messages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentReplyRequest {
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_name: Option<String>,
    /// The sender's idempotency key (a UUID): a resend under the same id is stored once and
    /// answered with the stored message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_msg_id: Option<String>,
}

/// Agent API (X-Api-Key): `GET /v1/conversations`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversationList {
    pub conversations: Vec<Conversation>,
}

/// Agent API (X-Api-Key): `GET /v1/conversations/{id}/messages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageList {
    pub messages: Vec<Message>,
}

// ---------------------------------------------------------------------------------------------
// WebSocket events.
// ---------------------------------------------------------------------------------------------

/// What a client sends on the socket. The first frame must be `auth`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientEvent {
    /// The first frame authenticates the socket. A later one renews it: a fresh token of the
    /// same visitor, person and verified state moves the socket's expiry to its `exp` (the
    /// socket closes with `TOKEN_EXPIRED` when the token it holds runs out).
    Auth {
        token: String,
    },
    /// Sends a message; without `conversation_id` it starts a new conversation.
    /// Idempotent on `client_msg_id`: a resend returns the committed message again.
    Send {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        conversation_id: Option<String>,
        client_msg_id: String,
        body: String,
    },
    /// Asks for the messages of a conversation after `after_seq`, then live ones. Answered
    /// by `history` with the oldest of them, one page (`MAX_PAGE_SIZE` messages, at most
    /// `MAX_PAGE_BYTES`); when it says `more`, resume again after its last message.
    Resume {
        conversation_id: String,
        after_seq: i64,
    },
    /// Asks for an older page: up to `limit` (default 50, at most 200) messages before
    /// `before_seq` (default: the newest), answered by `history` in ascending order. The
    /// page keeps the newest of them that fit `MAX_PAGE_BYTES`; older ones exist while its
    /// first message's seq is above 1 (seqs have no gaps).
    LoadBefore {
        conversation_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before_seq: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
    },
    /// The visitor started or stopped typing. At most one per second is passed on.
    Typing {
        conversation_id: String,
        typing: bool,
    },
    /// The visitor has read every message up to `up_to_seq`.
    Read {
        conversation_id: String,
        up_to_seq: i64,
    },
    #[cfg(feature = "calls")]
    /// Calls the other side of a conversation (see [`calls`]). A visitor's call rings for
    /// the workspace's agents; an agent's for the visitor's tabs.
    CallStart {
        conversation_id: String,
        /// A UUID the caller makes: a resend starts nothing new.
        call_id: String,
    },
    #[cfg(feature = "calls")]
    /// The called side accepts or declines a ringing call.
    CallAnswer {
        call_id: String,
        accept: bool,
    },
    #[cfg(feature = "calls")]
    /// Negotiation for the other side of an accepted call.
    CallSignal {
        call_id: String,
        signal: CallSignal,
    },
    #[cfg(feature = "calls")]
    /// This side's media is connected (ICE connected); the call's duration counts from when
    /// both sides have said so.
    CallConnected {
        call_id: String,
    },
    #[cfg(feature = "calls")]
    /// Ends the call (a ringing one too: the caller gives up, or it is declined).
    CallHangup {
        call_id: String,
        /// This side could not take part (no microphone, no network path).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        failed: bool,
    },
    #[cfg(feature = "outbound")]
    /// The visitor's reply to a capture widget's message (`captures`): starts a conversation
    /// whose first message is the capture's, from its sender, then this one. Answered by `ack`
    /// like `send`. An unidentified visitor may send it (the email form comes after it).
    CaptureReply {
        capture_id: String,
        client_msg_id: String,
        body: String,
    },
    Ping,
}

/// What the server sends on the socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerEvent {
    /// Authentication succeeded; lists the conversations this session may see, newest first.
    Ready {
        session_id: String,
        conversations: Vec<Conversation>,
    },
    /// The message is committed.
    Ack {
        client_msg_id: String,
        message: Message,
    },
    /// Missed messages after a `resume`, or an older page after `load_before`; in sequence
    /// order.
    History {
        conversation_id: String,
        messages: Vec<Message>,
        /// Answering a `resume`: the page was cut at its bounds and messages after its last
        /// one exist; resume again after it. Always false for `load_before`.
        #[serde(default)]
        more: bool,
    },
    /// A live message (from anyone, including this visitor's other tabs).
    Message {
        message: Message,
    },
    /// A conversation was started (in another tab), closed, reopened or assigned.
    ConversationUpdated {
        conversation: Conversation,
    },
    /// Someone else in the conversation started or stopped typing. Not stored.
    Typing {
        conversation_id: String,
        author: Author,
        typing: bool,
    },
    /// Someone else has read the conversation up to `up_to_seq`.
    Read {
        conversation_id: String,
        reader: AuthorKind,
        up_to_seq: i64,
    },
    #[cfg(feature = "calls")]
    /// A call in a conversation this session sees started, was answered, connected or ended.
    Call {
        call: Call,
    },
    #[cfg(feature = "calls")]
    /// The other side's negotiation step; only the call's two sides ever get one.
    CallSignal {
        call_id: String,
        from: AuthorKind,
        signal: CallSignal,
    },
    #[cfg(feature = "outbound")]
    /// This month's usage passed 80% or 100% of a quota (`usage`): sent once per threshold
    /// to the workspace's admins.
    QuotaWarning {
        warning: QuotaWarning,
    },
    #[cfg(feature = "outbound")]
    /// A bot handed a conversation over to the agents (`POST /v1/conversations/{id}/handoff`,
    /// see `bots`): sent to the workspace's agents only, for the inbox to ring.
    Handoff {
        conversation_id: String,
        /// The bot that let go.
        bot_name: String,
        /// Why, as the bot put it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    Error {
        code: String,
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_msg_id: Option<String>,
    },
    Pong,
}

/// WebSocket close codes the server uses, so clients can tell why a socket ended.
pub mod close_code {
    /// The server is shutting down or restarting: reconnect after a pause.
    pub const GOING_AWAY: u16 = 1001;
    /// The first frame was not a valid `auth` event, or the token is bad: do not retry as is.
    pub const AUTH_FAILED: u16 = 4001;
    /// The session token expired: get a new one, then reconnect.
    pub const TOKEN_EXPIRED: u16 = 4002;
    /// The agent was removed, or signed out everywhere (password reset, sign-out, expired
    /// session): sign in again.
    pub const SIGNED_OUT: u16 = 4003;
    /// The key that signed the session token was retired: get a new session, then reconnect.
    pub const KEY_RETIRED: u16 = 4004;
    /// The client fell too far behind (its unsent events passed the server's bound):
    /// reconnect and resume.
    pub const TOO_SLOW: u16 = 4008;
}

/// The last event of an SSE stream the server ends (`event: end`), carrying what a WebSocket's
/// close frame would: the code (from [`close_code`]) and a reason for logs. A stream that
/// breaks without it ended on the network: reconnect with `Last-Event-ID`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamEnd {
    pub code: u16,
    pub reason: String,
}

/// The SSE event name of [`StreamEnd`].
pub const STREAM_END_EVENT: &str = "end";

/// The reasons sent with the server's close frames (for people reading logs: clients branch
/// on the code).
pub mod close_reason {
    pub const AGENT_REMOVED: &str = "agent removed";
    pub const PASSWORD_RESET: &str = "password reset: sign in again";
    pub const SIGNED_OUT: &str = "signed out: sign in again";
    pub const TOKEN_EXPIRED: &str = "token expired";
    pub const KEY_RETIRED: &str = "the token's signing key was retired";
    /// With [`super::close_code::AUTH_FAILED`]: the page's `Origin` is not one the token's
    /// workspace allows (as `error_code::ORIGIN_NOT_ALLOWED` over HTTP).
    pub const ORIGIN_NOT_ALLOWED: &str =
        "origin_not_allowed: this page's origin is not in the workspace's allowed origins";
}

/// Error codes clients act on (besides showing the message).
pub mod error_code {
    /// A visitor already has [`crate::MAX_OPEN_CONVERSATIONS_PER_VISITOR`] open
    /// conversations: it must continue one of them.
    pub const TOO_MANY_CONVERSATIONS: &str = "too_many_conversations";
    /// A second `auth` named another visitor, person or verified state than the socket's.
    pub const TOKEN_MISMATCH: &str = "token_mismatch";
    /// An unidentified visitor must give an email before sending (after a capture reply too).
    pub const IDENTIFY_FIRST: &str = "identify_first";
    /// The capture widget is unknown, switched off, or not offered to this visitor any more.
    pub const CAPTURE_NOT_AVAILABLE: &str = "capture_not_available";
    /// A bot's API key used where only a workspace key or an agent may act.
    pub const BOT_KEY_NOT_ALLOWED: &str = "bot_key_not_allowed";
    /// A bot acted on a conversation it doesn't hold (never did, or handed over).
    pub const CONVERSATION_NOT_HELD: &str = "conversation_not_held";
    /// A webhook URL that points at a loopback, private or link-local address (or resolves
    /// to one), while the server doesn't allow private targets.
    pub const WEBHOOK_TARGET_REFUSED: &str = "webhook_target_refused";
    /// A preview session (the inbox's live preview or test mode) used up today's fair-use
    /// allowance for previews; production is unaffected.
    pub const PREVIEW_LIMIT_REACHED: &str = "preview_limit_reached";
    /// The workspace's hard monthly quota is used up: new visitor conversations (and calls)
    /// are refused until next month or a higher limit. Running conversations go on. A
    /// client keeps the refused message and may offer the email fallback.
    pub const QUOTA_EXCEEDED: &str = "quota_exceeded";
    /// The page's `Origin` is not one of the workspace's allowed origins (403): on the
    /// widget's session start and on every request made with a browser session token.
    pub const ORIGIN_NOT_ALLOWED: &str = "origin_not_allowed";
}

/// Open conversations one visitor may have at once; a new one beyond this is refused with
/// `too_many_conversations`. Closed ones don't count.
pub const MAX_OPEN_CONVERSATIONS_PER_VISITOR: i64 = 10;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn seed_session_request_parses() {
        // The seed's cURL body (with the commas it forgot).
        let request: TalkSessionRequest = serde_json::from_value(json!({
            "merge_by": ["str::email"],
            "merge_strategy": 2,
            "find_strategy": 0,
            "skip_non_existing": false,
            "person_id": "006281d8ff95c3ed70b70801",
            "fields": {"str::email": "john.smith@example.com", "str::name": "John Smith"},
            "location": {"source_ip": "119.19.0.218"}
        }))
        .unwrap();
        assert_eq!(
            request.merge_by.as_deref(),
            Some(&["str::email".to_string()][..])
        );
        assert_eq!(request.merge_strategy, Some(2));
        assert_eq!(
            request.fields[field::EMAIL].as_text(),
            Some("john.smith@example.com")
        );
        assert_eq!(
            request.location.unwrap().source_ip.as_deref(),
            Some("119.19.0.218")
        );
    }

    #[test]
    fn session_response_has_the_seed_shape() {
        let response = TalkSessionResponse {
            session_id: "000000000000000000000000".into(),
            token: "t".into(),
            person_id: "006281d8ff95c3ed70b70801".into(),
            person_status: PersonStatus::ByMergeField,
            browser: None,
        };
        assert_eq!(
            serde_json::to_value(&response).unwrap(),
            json!({
                "session_id": "000000000000000000000000",
                "token": "t",
                "person_id": "006281d8ff95c3ed70b70801",
                "person_status": "by-merge-field"
            })
        );
    }

    #[test]
    fn socket_events_are_tagged_by_type() {
        let send = ClientEvent::Send {
            conversation_id: None,
            client_msg_id: "c1".into(),
            body: "hi".into(),
        };
        assert_eq!(
            serde_json::to_value(&send).unwrap(),
            json!({"type": "send", "client_msg_id": "c1", "body": "hi"})
        );
        let parsed: ClientEvent =
            serde_json::from_str(r#"{"type":"resume","conversation_id":"x","after_seq":3}"#)
                .unwrap();
        assert_eq!(
            parsed,
            ClientEvent::Resume {
                conversation_id: "x".into(),
                after_seq: 3
            }
        );
        assert_eq!(
            serde_json::to_string(&ServerEvent::Pong).unwrap(),
            r#"{"type":"pong"}"#
        );
    }

    #[test]
    fn realtime_events_have_their_wire_shape() {
        let load: ClientEvent =
            serde_json::from_str(r#"{"type":"load_before","conversation_id":"x"}"#).unwrap();
        assert_eq!(
            load,
            ClientEvent::LoadBefore {
                conversation_id: "x".into(),
                before_seq: None,
                limit: None
            }
        );
        let typing = ServerEvent::Typing {
            conversation_id: "x".into(),
            author: Author {
                kind: AuthorKind::Agent,
                name: Some("Sam".into()),
            },
            typing: true,
        };
        assert_eq!(
            serde_json::to_value(&typing).unwrap(),
            json!({"type": "typing", "conversation_id": "x",
                   "author": {"kind": "agent", "name": "Sam"}, "typing": true})
        );
        let read = ServerEvent::Read {
            conversation_id: "x".into(),
            reader: AuthorKind::Visitor,
            up_to_seq: 4,
        };
        assert_eq!(
            serde_json::to_value(&read).unwrap(),
            json!({"type": "read", "conversation_id": "x", "reader": "visitor", "up_to_seq": 4})
        );
        // Conversations serialized before read positions existed still parse.
        let conversation: Conversation = serde_json::from_value(json!({
            "id": "x", "verified": false, "status": "closed", "visitor_id": "v",
            "person_id": null, "last_seq": 2, "created_at": 1
        }))
        .unwrap();
        assert_eq!(
            (conversation.assignee_id, conversation.visitor_read_seq),
            (None, 0)
        );
    }

    #[test]
    fn unknown_event_type_is_an_error() {
        assert!(serde_json::from_str::<ClientEvent>(r#"{"type":"nope"}"#).is_err());
    }

    #[test]
    fn greeting_prefers_first_name_and_skips_blank() {
        let mut person = PersonSummary {
            name: Some("John Smith".into()),
            ..Default::default()
        };
        assert_eq!(person.greeting_name(), Some("John Smith"));
        person.first_name = Some("John".into());
        assert_eq!(person.greeting_name(), Some("John"));
        person.first_name = Some("  ".into());
        assert_eq!(person.greeting_name(), Some("John Smith"));
        person.first_name = None;
        person.name = None;
        assert_eq!(person.greeting_name(), None);
    }
}
