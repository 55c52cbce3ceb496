//! Agent bots: a program the workspace plugs in by webhook (seed 003's AI agent). Admins
//! register one at `/v1/admin/bots`; it gets a signing secret and a bot-scoped API key, each
//! shown once. Talk POSTs a [`WebhookEvent`] for each visitor message in a conversation the
//! bot holds, signed in [`SIGNATURE_HEADER`]; the bot answers with
//! `POST /v1/conversations/{id}/messages` and hands over with `POST …/handoff`, both with its
//! key in `X-Api-Key`.

use crate::{Conversation, Message, PersonSummary};
use serde::{Deserialize, Serialize};

/// The header carrying a webhook's signature: `t=<unix seconds>,v1=<hex HMAC-SHA256>`, the
/// HMAC keyed by the bot's signing secret over `"<t>.<body>"`.
pub const SIGNATURE_HEADER: &str = "Talk-Signature";
/// A receiver refuses a signature whose `t` is further than this from its clock (replays).
pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;
/// The event id header (also `id` in the body): a receiver handles each id once.
pub const DELIVERY_ID_HEADER: &str = "Talk-Delivery";
/// Bots per workspace.
pub const MAX_BOTS: usize = 10;
/// Longest webhook URL, in bytes.
pub const MAX_WEBHOOK_URL_BYTES: usize = 2048;
/// Most deliveries `GET /v1/admin/bots/{id}/deliveries` answers (newest first).
pub const MAX_DELIVERY_LOG: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bot {
    pub id: String,
    #[serde(flatten)]
    pub input: BotInput,
    /// The first characters of its API key, to recognise it.
    pub api_key_prefix: String,
    pub created_at: i64,
}

/// `POST /v1/admin/bots`, `PUT /v1/admin/bots/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotInput {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_url: Option<String>,
    /// `https://…` (or `http://` where private targets are allowed).
    pub webhook_url: String,
    pub takes: BotTakes,
    #[serde(default = "crate::captures::yes")]
    pub enabled: bool,
}

/// Which conversations a bot takes when they start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BotTakes {
    /// Every new conversation.
    AllNew,
    /// New conversations that start while no agent is online (the widget's "away" status)
    /// and that nobody is assigned to.
    OutsideOfficeHours,
}

/// `POST /v1/admin/bots`'s answer: the secret and the key appear here only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotCreated {
    pub bot: Bot,
    pub signing_secret: String,
    pub api_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BotList {
    pub bots: Vec<Bot>,
}

/// One webhook event's delivery, as the admin's log shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDelivery {
    /// Also the event's `id`.
    pub id: String,
    pub bot_id: String,
    pub conversation_id: String,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// The last attempt's HTTP status, if it got one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<u16>,
    /// The last attempt's failure, for a human.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub created_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Not yet delivered; retried with backoff.
    Pending,
    Delivered,
    /// Given up on after the last retry.
    Failed,
}

/// `GET /v1/admin/bots/{id}/deliveries`: newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryList {
    pub deliveries: Vec<WebhookDelivery>,
}

/// What Talk POSTs to a bot's webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEvent {
    /// The delivery's id: the same on every retry of this event.
    pub id: String,
    /// `message.created`.
    #[serde(rename = "type")]
    pub event_type: String,
    pub created_at: i64,
    pub bot_id: String,
    pub conversation: Conversation,
    pub message: Message,
    /// Whom the visitor said it is (verified or not: see `conversation.verified`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<PersonSummary>,
}

/// The event type of a visitor's message.
pub const EVENT_MESSAGE_CREATED: &str = "message.created";

/// Longest handoff note, in characters.
pub const MAX_HANDOFF_NOTE_CHARS: usize = 500;

/// `POST /v1/conversations/{id}/handoff` (the bot's key): the bot lets go; the agents are
/// notified and the bot gets no more of this conversation's events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandoffRequest {
    /// Shown to the agents, e.g. why the bot handed over.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
