//! What the store reads and writes for capture widgets (`crate::store::Store`'s capture
//! section): rows as both engines return them, and the records written.

use crate::conversations::{NewConversation, NewMessage};
use talk_protocol::{CaptureStats, Message};

/// A capture widget to insert or replace: the admin's input, validated, as JSON, and what
/// queries filter or join on beside it.
#[derive(Debug, Clone)]
pub struct CaptureWidgetRecord<'a> {
    pub id: &'a str,
    pub workspace_id: &'a str,
    /// JSON of `talk_protocol::CaptureWidgetInput`.
    pub input_json: &'a str,
    pub enabled: bool,
    /// The sending agent; `None`: the bot.
    pub sender_agent_id: Option<&'a str>,
    pub now: i64,
}

/// A stored capture widget with its counts.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CaptureWidgetRow {
    pub id: String,
    pub position: i64,
    pub input: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub shown: i64,
    pub dismissed: i64,
    pub replied: i64,
    pub conversations: i64,
}

impl CaptureWidgetRow {
    pub fn stats(&self) -> CaptureStats {
        CaptureStats {
            shown: self.shown,
            dismissed: self.dismissed,
            replied: self.replied,
            conversations: self.conversations,
        }
    }
}

/// What a page view's offer is chosen from: the workspace's widget settings (JSON, `None`:
/// defaults) and its enabled capture widgets in order, each with its sending agent as it is
/// now.
#[derive(Debug, Clone, Default)]
pub struct OfferSource {
    pub widget_settings: Option<String>,
    pub candidates: Vec<CandidateRow>,
}

#[derive(Debug, Clone)]
pub struct CandidateRow {
    pub id: String,
    pub input: String,
    pub sender_agent_id: Option<String>,
    /// `None` with a `sender_agent_id`: the agent no longer exists.
    pub agent_name: Option<String>,
    pub agent_photo_url: Option<String>,
}

/// One row of a visitor's history: a page view (`capture_id` and `kind` empty) or, per
/// capture and kind, the visitor's latest event.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryRow {
    pub capture_id: Option<String>,
    pub kind: Option<String>,
    pub at: i64,
}

/// The page views read per visitor when offering: enough to tell a visit (there is rarely
/// more than a handful of views in one), bounded whatever the visitor's history.
pub const HISTORY_VIEWS: i64 = 200;

/// What happened to a capture with a visitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureEvent {
    Shown,
    Dismissed,
    Replied,
}

impl CaptureEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            CaptureEvent::Shown => talk_protocol::capture_event::SHOWN,
            CaptureEvent::Dismissed => talk_protocol::capture_event::DISMISSED,
            CaptureEvent::Replied => "replied",
        }
    }
}

/// A visitor's reply to a capture: the conversation it starts, the capture's message (seq
/// 1, from its sender) and the reply (seq 2), and the `replied` event, in one transaction.
#[derive(Debug, Clone)]
pub struct CaptureStart {
    pub conversation_id: String,
    pub conversation: NewConversation,
    pub capture_id: String,
    pub opening: NewMessage,
    pub reply: NewMessage,
    pub max_open: i64,
    pub now: i64,
}

/// The two messages a reply committed.
#[derive(Debug, Clone)]
pub struct Opened {
    pub opening: Message,
    pub reply: Message,
}

#[derive(Debug, Clone)]
pub enum CaptureStarted {
    Started(Box<Opened>),
    /// The visitor has `max_open` open conversations already.
    TooManyOpen,
    /// No such enabled capture in the workspace, or the visitor replied to it before.
    NotAvailable,
}

/// A row of `capture_offer_source`'s query: the workspace's widget settings, then the
/// capture (id, input, sender agent id) and its agent's name and photo, or `None`s when the
/// workspace has no enabled capture widget (the join's one row).
pub type OfferSourceRow = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

impl OfferSource {
    pub fn from_rows(rows: Vec<OfferSourceRow>) -> Self {
        let widget_settings = rows.first().and_then(|row| row.0.clone());
        let candidates = rows
            .into_iter()
            .filter_map(
                |(_, id, input, sender_agent_id, agent_name, agent_photo_url)| {
                    Some(CandidateRow {
                        id: id?,
                        input: input?,
                        sender_agent_id,
                        agent_name,
                        agent_photo_url,
                    })
                },
            )
            .collect();
        OfferSource {
            widget_settings,
            candidates,
        }
    }
}
