//! What the messenger shows, as signals, and the pure rules that update it.

use crate::var::Var;
use talk_protocol::{Author, AuthorKind, Conversation, Message, PersonSummary, WidgetConfig};

/// Where the messenger is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// Opening a session with the server.
    Starting,
    /// An unidentified visitor must give an email before a conversation starts.
    Identify,
    Chat,
    /// The server refused this page for good (unknown capture key, origin not allowed …).
    Unavailable(String),
}

/// Why the server refused to start a conversation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Notice {
    /// The visitor has too many open conversations: continue one.
    TooManyConversations,
    /// The workspace's quota is used up (`quota_exceeded`): the message waits, and the
    /// email form comes back, for the team to get back to the visitor.
    QuotaReached,
}

/// A conversation as the homepage lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationPreview {
    pub id: String,
    /// The newest message, once known.
    pub last_body: Option<String>,
    /// When it last changed (ms), for the newest-first order.
    pub changed_at: i64,
    /// Holds a message from the team the visitor hasn't seen.
    pub unread: bool,
}

impl ConversationPreview {
    pub fn of(conversation: &Conversation) -> Self {
        ConversationPreview {
            id: conversation.id.clone(),
            last_body: None,
            changed_at: conversation.created_at,
            unread: conversation.last_seq > conversation.visitor_read_seq,
        }
    }
}

/// Records a message in its conversation's preview and moves that conversation to the top.
pub fn note_in_preview(previews: &mut Vec<ConversationPreview>, message: &Message, unread: bool) {
    let index = previews
        .iter()
        .position(|p| p.id == message.conversation_id);
    let mut preview = match index {
        Some(index) => previews.remove(index),
        None => ConversationPreview {
            id: message.conversation_id.clone(),
            last_body: None,
            changed_at: message.created_at,
            unread: false,
        },
    };
    if message.created_at >= preview.changed_at || preview.last_body.is_none() {
        preview.last_body = Some(message.body.clone());
        preview.changed_at = preview.changed_at.max(message.created_at);
    }
    preview.unread |= unread;
    let at = previews.partition_point(|p| p.changed_at >= preview.changed_at);
    previews.insert(at, preview);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Delivery {
    /// Waiting for the server to commit it (queued while offline).
    Sending,
    /// Committed: it has a sequence number.
    Sent,
    /// The server refused it; the visitor may retry.
    Failed,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Sending => "sending",
            Delivery::Sent => "sent",
            Delivery::Failed => "failed",
        }
    }
}

/// One row of the conversation view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLine {
    /// Stable across the line's life: the client_msg_id for the visitor's own sends.
    pub key: String,
    pub author: Author,
    pub body: String,
    pub seq: Option<i64>,
    pub created_at: Option<i64>,
    pub delivery: Delivery,
}

impl ChatLine {
    pub fn pending(client_msg_id: &str, body: &str) -> Self {
        ChatLine {
            key: client_msg_id.to_string(),
            author: Author {
                kind: AuthorKind::Visitor,
                name: None,
            },
            body: body.to_string(),
            seq: None,
            created_at: None,
            delivery: Delivery::Sending,
        }
    }

    fn committed(message: Message) -> Self {
        ChatLine {
            key: message.client_msg_id.unwrap_or(message.id),
            author: message.author,
            body: message.body,
            seq: Some(message.seq),
            created_at: Some(message.created_at),
            delivery: Delivery::Sent,
        }
    }
}

/// Puts a committed message in its place: committed lines in sequence order, then the
/// visitor's unconfirmed ones in the order they were typed. A message seen twice (live and
/// again in a resume) is shown once.
pub fn merge_message(lines: &mut Vec<ChatLine>, message: Message) {
    if lines.iter().any(|line| line.seq == Some(message.seq)) {
        return;
    }
    if let Some(own) = &message.client_msg_id {
        lines.retain(|line| !(line.seq.is_none() && &line.key == own));
    }
    let committed = lines.iter().take_while(|line| line.seq.is_some()).count();
    let at = lines[..committed].partition_point(|line| line.seq < Some(message.seq));
    lines.insert(at, ChatLine::committed(message));
}

/// Marks an unconfirmed line as failed (or back to sending on retry).
pub fn set_delivery(lines: &mut [ChatLine], client_msg_id: &str, delivery: Delivery) {
    for line in lines
        .iter_mut()
        .filter(|line| line.seq.is_none() && line.key == client_msg_id)
    {
        line.delivery = delivery;
    }
}

/// The reactive state the components read. Cheap to copy: every field is a signal handle.
#[derive(Clone, Copy)]
pub struct MessengerState {
    /// The visitor's conversations, newest first.
    pub conversations: Var<Vec<ConversationPreview>>,
    /// The workspace's settings and status; `None` until loaded (defaults apply meanwhile).
    pub config: Var<Option<WidgetConfig>>,
    /// What the open messenger shows: the current conversation (or the email form before it),
    /// else the homepage (greeting, conversations and quick links). A bool, not an enum of
    /// two screens: each value type is `Var`'s per-type code once more.
    pub conversation_screen: Var<bool>,
    /// Who is typing on the agents' side, if anyone.
    pub agent_typing: Var<Option<String>>,
    /// The agents have read the visitor's messages up to this sequence number.
    pub agent_read_seq: Var<i64>,
    pub open: Var<bool>,
    /// Hidden by the page (`ap3c.talk.hide()`): no launcher, no panel.
    pub hidden: Var<bool>,
    /// Agent and bot messages that arrived while the messenger was closed or the tab hidden.
    /// An i64 like `agent_read_seq`: each value type is `Var`'s per-type code once more.
    pub unread: Var<i64>,
    pub stage: Var<Stage>,
    pub person: Var<Option<PersonSummary>>,
    pub names_required: Var<bool>,
    pub lines: Var<Vec<ChatLine>>,
    /// The realtime socket is connected and authenticated.
    pub connected: Var<bool>,
    pub identify_busy: Var<bool>,
    pub identify_error: Var<Option<String>>,
    /// Why a new conversation can't start now (`runtime::core::Notice`).
    pub notice: Var<Option<Notice>>,
}

impl MessengerState {
    pub fn new() -> Self {
        MessengerState {
            conversations: Var::new(Vec::new()),
            config: Var::new(None),
            conversation_screen: Var::new(false),
            agent_typing: Var::new(None),
            agent_read_seq: Var::new(0),
            open: Var::new(false),
            hidden: Var::new(false),
            unread: Var::new(0),
            stage: Var::new(Stage::Starting),
            person: Var::new(None),
            names_required: Var::new(false),
            lines: Var::new(Vec::new()),
            connected: Var::new(false),
            identify_busy: Var::new(false),
            identify_error: Var::new(None),
            notice: Var::new(None),
        }
    }

    /// Back to a blank messenger, e.g. when a verified session replaces the current one.
    pub fn reset(&self) {
        self.stage.set(Stage::Starting);
        self.person.set(None);
        self.lines.set(Vec::new());
        self.conversations.set(Vec::new());
        self.unread.set(0);
        self.conversation_screen.set(false);
        self.agent_typing.set(None);
        self.agent_read_seq.set(0);
        self.connected.set(false);
        self.identify_busy.set(false);
        self.identify_error.set(None);
    }
}

impl Default for MessengerState {
    fn default() -> Self {
        Self::new()
    }
}
