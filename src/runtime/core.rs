//! The engine's rules, as plain Rust: what each server event and each visitor action changes,
//! and what the browser must then do, as [`Effect`]s. No browser here, so every rule has a
//! native test (`cargo test -p talk-widget --lib`); `super::effects` carries the effects out.

use super::outbox::Outbox;
use crate::state::{ConversationPreview, Notice};
use talk_protocol::{
    error_code, AuthorKind, ClientEvent, Conversation, Message, ServerEvent, DEFAULT_PAGE_SIZE,
};

/// What the browser does after a step, in order.
#[cfg_attr(test, derive(Debug, PartialEq))]
pub enum Effect {
    /// Write this event to the socket (dropped when it is not open).
    Send(ClientEvent),
    /// The socket is authenticated: show it, and start the backoff afresh.
    Connected,
    /// Tell the page the messenger is connected (`onReady`): once per page.
    AnnounceReady,
    /// The homepage's list, newest first.
    ListConversations(Vec<ConversationPreview>),
    /// A message of the current conversation: into the view and its preview.
    ShowMessage(Message),
    /// A message of another conversation: into its preview only.
    Preview { message: Message, unread: bool },
    /// Unseen agent and bot messages: badge, tab title, the page's `onUnreadCountChange`.
    SetUnread(u32),
    /// The short sound for a message the visitor hasn't seen.
    PlayAlert,
    /// The server refused one of the visitor's messages.
    MarkFailed(String),
    /// Why a new conversation can't start now, above the composer (`None`: nothing to say).
    Notice(Option<Notice>),
    /// Who is typing on the agents' side (`None`: nobody).
    AgentTyping(Option<String>),
    /// The agents have read the current conversation up to here.
    AgentReadSeq(i64),
    /// Another conversation (or a new one) replaces the one on screen.
    ClearConversation,
    /// A server error, for the console.
    Warn { code: String, message: String },
}

/// What the visitor can see right now. The browser glue sets it before each step.
#[derive(Clone, Copy, Default)]
pub struct Sight {
    /// The messenger is open and its tab visible.
    pub open: bool,
    /// … and it shows the current conversation.
    pub conversation: bool,
}

/// The messenger's state between events.
#[derive(Default)]
pub struct Core {
    /// The session is verified: it continues only a verified conversation.
    pub verified: bool,
    /// Authenticated on the current socket and told which conversations it may see.
    pub ready: bool,
    announced_ready: bool,
    pub conversation_id: Option<String>,
    /// The visitor chose "new conversation": a reconnect must not pick the old one again.
    starting_new: bool,
    /// In the current conversation, every message from the first one shown up to this one
    /// is here; a resume asks for what follows. History arrives in pages and live messages
    /// may overtake them, so a message beyond a gap waits in `ahead` instead of moving it.
    pub last_seq: i64,
    /// Shown messages above `last_seq + 1`, ascending, until the gap below them is filled.
    /// A sorted `Vec`: a few entries at most, and no B-tree code in the WASM.
    ahead: Vec<i64>,
    /// The oldest message shown (0: none); older ones are loaded on demand while it is > 1
    /// (seqs have no gaps).
    oldest_seq: i64,
    /// A `load_before` for older messages is on its way.
    loading_older: bool,
    /// A `resume`'s pages are on their way: a gap above `last_seq` is being filled already.
    resuming: bool,
    /// The `last_seq` a gap was last asked about (0: none). A gap the server's answer did
    /// not fill is not asked about again until `last_seq` moves, so a message the server no
    /// longer has (an erased one) can't make the widget ask forever.
    gap_asked_at: i64,
    /// Sent to the server as a read receipt.
    read_sent: i64,
    agent_read_seq: i64,
    unread: u32,
    /// When the visitor's last "typing" went out (ms).
    typing_sent_at: f64,
    pub outbox: Outbox,
    pub sight: Sight,
}

impl Core {
    /// A new session: nothing from the old one, except what the page was already told and
    /// the messages not acknowledged yet, which go out again under their ids once the new
    /// session is ready (to the conversation they were typed into while the new session can
    /// see it: `Outbox::rehome`).
    pub fn restart(&mut self) {
        let mut outbox = std::mem::take(&mut self.outbox);
        outbox.disconnected();
        *self = Core {
            announced_ready: self.announced_ready,
            typing_sent_at: self.typing_sent_at,
            sight: self.sight,
            outbox,
            ..Core::default()
        };
    }

    /// One server event.
    pub fn apply(&mut self, event: ServerEvent) -> Vec<Effect> {
        let mut effects = Vec::new();
        self.apply_event(event, &mut effects);
        // One receipt for whatever this event brought in, if the visitor is looking.
        self.read_receipt(&mut effects);
        effects
    }

    // Each arm reads as "this event: if it concerns the conversation on screen …"; the
    // wildcard below (for the call events) is what makes clippy want guards instead.
    #[allow(clippy::collapsible_match)]
    fn apply_event(&mut self, event: ServerEvent, effects: &mut Vec<Effect>) {
        match event {
            ServerEvent::Ready { conversations, .. } => {
                self.ready = true;
                effects.push(Effect::Connected);
                if !self.announced_ready {
                    self.announced_ready = true;
                    effects.push(Effect::AnnounceReady);
                }
                if self.conversation_id.is_none() && !self.starting_new {
                    self.conversation_id =
                        current_conversation(&conversations, self.verified).map(|c| c.id.clone());
                    if let Some(conversation_id) = &self.conversation_id {
                        self.outbox.adopt(conversation_id);
                    }
                }
                // After a restart: what was typed into a conversation this session can't see.
                self.outbox.rehome(
                    |id| conversations.iter().any(|c| c.id == id),
                    self.conversation_id.as_deref(),
                );
                if let Some(current) = conversations
                    .iter()
                    .find(|c| Some(&c.id) == self.conversation_id.as_ref())
                {
                    self.agent_read_seq = current.agent_read_seq;
                    effects.push(Effect::AgentReadSeq(current.agent_read_seq));
                }
                // Newest first, in the server's order where two changed at the same time: each
                // goes in after those that changed at its time or later (a handful of
                // conversations; a stable sort's merge code was 0.5 KB of WASM).
                let mut previews: Vec<ConversationPreview> =
                    Vec::with_capacity(conversations.len());
                // What the team wrote while the visitor was away (a conversation they started
                // included): the badge counts it until the visitor opens the messenger.
                let mut unread = 0;
                for conversation in &conversations {
                    unread += conversation.last_seq - conversation.visitor_read_seq;
                    let preview = ConversationPreview::of(conversation);
                    let at = previews
                        .iter()
                        .position(|shown| shown.changed_at < preview.changed_at)
                        .unwrap_or(previews.len());
                    previews.insert(at, preview);
                }
                effects.push(Effect::ListConversations(previews));
                if !self.sight.open {
                    self.set_unread(unread as u32, effects);
                }
                // The newest message of each other one, for its preview.
                for conversation in conversations
                    .iter()
                    .filter(|c| c.last_seq > 0 && !self.is_current(&c.id))
                {
                    effects.push(Effect::Send(ClientEvent::LoadBefore {
                        conversation_id: conversation.id.clone(),
                        before_seq: None,
                        limit: Some(1),
                    }));
                }
                if let Some(conversation_id) = self.conversation_id.clone() {
                    let catch_up = self.catch_up(conversation_id);
                    self.send_catch_up(catch_up, effects);
                }
                self.flush(effects);
            }
            ServerEvent::History {
                conversation_id,
                messages,
                more,
            } => {
                if self.is_current(&conversation_id) {
                    let first = messages.first().map(|message| message.seq);
                    let last = messages.last().map(|message| message.seq);
                    let older_page = first.is_some_and(|first| first < self.oldest_seq);
                    if first.is_none_or(|first| first < self.oldest_seq) {
                        self.loading_older = false;
                    }
                    for message in messages {
                        self.show(message, effects);
                    }
                    // A resume answered in pages: ask for the next one, after this one.
                    if let (true, Some(after_seq)) = (more, last) {
                        effects.push(Effect::Send(ClientEvent::Resume {
                            conversation_id,
                            after_seq,
                        }));
                    } else if !older_page {
                        // The resume's last page: a gap still open was missed by it.
                        self.resuming = false;
                        self.fill_gap(effects);
                    }
                } else if let Some(newest) = messages.into_iter().last() {
                    effects.push(Effect::Preview {
                        message: newest,
                        unread: false,
                    });
                }
            }
            ServerEvent::Message { message } => {
                let from_us = message.author.kind != AuthorKind::Visitor;
                // The team starts a conversation (its first message is theirs) while the
                // messenger is closed: opening it shows that one.
                if from_us && message.seq == 1 && !self.sight.open {
                    self.switch_to(message.conversation_id.clone(), effects);
                }
                let current = self.is_current(&message.conversation_id);
                if from_us && !(current && self.sight.conversation) {
                    self.set_unread(self.unread + 1, effects);
                    effects.push(Effect::PlayAlert);
                }
                if current {
                    self.show(message, effects);
                    // A live message beyond a gap: one was lost on the way (a node's bus
                    // lagged, a frame was dropped). Resume fetches what is missing.
                    self.fill_gap(effects);
                } else {
                    effects.push(Effect::Preview {
                        message,
                        unread: from_us,
                    });
                }
            }
            ServerEvent::Ack {
                client_msg_id,
                message,
            } => {
                // The conversation now exists: what was written after its first message follows.
                let started = self.outbox.acked(&client_msg_id, &message.conversation_id);
                let mut adopted = false;
                if started && self.conversation_id.is_none() {
                    self.conversation_id = Some(message.conversation_id.clone());
                    self.starting_new = false;
                    adopted = true;
                }
                if self.is_current(&message.conversation_id) {
                    let (conversation_id, after_seq) =
                        (message.conversation_id.clone(), message.seq);
                    self.show(message, effects);
                    // What the conversation said before its ack named it (the bot's answer,
                    // which the HTTP + SSE transport's stream may deliver before the POST's
                    // answer) was only previewed: ask for it again, now that it is ours.
                    if adopted {
                        self.send_catch_up(
                            ClientEvent::Resume {
                                conversation_id,
                                after_seq,
                            },
                            effects,
                        );
                    }
                } else {
                    // Typed into another conversation (before a restart, or another one opened).
                    effects.push(Effect::Preview {
                        message,
                        unread: false,
                    });
                }
                if started {
                    // A held first message got through: whatever stopped it is over.
                    effects.push(Effect::Notice(None));
                }
                self.flush(effects);
            }
            ServerEvent::Error {
                code,
                message,
                client_msg_id,
            } => {
                let notice = match code.as_str() {
                    error_code::TOO_MANY_CONVERSATIONS => Some(Notice::TooManyConversations),
                    // A preview's fair-use limit reads the same to the admin trying the widget
                    // (the server's own words go to the console).
                    error_code::QUOTA_EXCEEDED | error_code::PREVIEW_LIMIT_REACHED => {
                        Some(Notice::QuotaReached)
                    }
                    _ => None,
                };
                // Refused for now, not for what it says: it stays in the outbox, in flight,
                // and goes again under its id on the next connection. Nothing typed after it
                // for a new conversation overtakes it; running conversations go on.
                let held = notice == Some(Notice::QuotaReached);
                effects.push(Effect::Warn { code, message });
                // Perhaps the answer to the older page: let the visitor try again.
                self.loading_older = false;
                if let Some(client_msg_id) = client_msg_id {
                    if !held {
                        self.outbox.remove(&client_msg_id);
                        effects.push(Effect::MarkFailed(client_msg_id));
                    }
                    if notice.is_some() {
                        effects.push(Effect::Notice(notice));
                    }
                    self.flush(effects);
                }
            }
            ServerEvent::Pong => {}
            ServerEvent::ConversationUpdated { conversation } => {
                if self.is_current(&conversation.id) {
                    self.raise_agent_read_seq(conversation.agent_read_seq, effects);
                }
            }
            ServerEvent::Typing {
                conversation_id,
                author,
                typing,
            } => {
                if self.is_current(&conversation_id) && author.kind != AuthorKind::Visitor {
                    effects.push(Effect::AgentTyping(
                        typing.then(|| author.name.unwrap_or_default()),
                    ));
                }
            }
            ServerEvent::Read {
                conversation_id,
                reader,
                up_to_seq,
            } => {
                if self.is_current(&conversation_id) && reader != AuthorKind::Visitor {
                    self.raise_agent_read_seq(up_to_seq, effects);
                }
            }
            // Calls (talk-protocol's `calls` feature, on in builds beside the server) are not
            // the engine's.
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }

    /// The socket is gone: not ready, and nothing is in flight any more.
    pub fn disconnected(&mut self) {
        self.ready = false;
        self.loading_older = false;
        // Its answer will not come on this socket; the next `ready` resumes anyway.
        self.resuming = false;
        self.outbox.disconnected();
    }

    /// The visitor sends a message (or retries a failed one under its id).
    pub fn queue(&mut self, client_msg_id: String, body: String) -> Vec<Effect> {
        self.outbox
            .push(client_msg_id, body, self.conversation_id.clone());
        let mut effects = Vec::new();
        self.flush(&mut effects);
        effects
    }

    /// The visitor types: tell the agents, at most every 3 seconds (`now` in ms).
    pub fn typing(&mut self, now: f64) -> Vec<Effect> {
        let mut effects = Vec::new();
        if !self.ready || now - self.typing_sent_at < 3_000.0 {
            return effects;
        }
        if let Some(conversation_id) = self.conversation_id.clone() {
            self.typing_sent_at = now;
            effects.push(Effect::Send(ClientEvent::Typing {
                conversation_id,
                typing: true,
            }));
        }
        effects
    }

    /// "New conversation" on the homepage: the next message opens it.
    pub fn start_new(&mut self) -> Vec<Effect> {
        self.conversation_id = None;
        self.starting_new = true;
        self.clear_conversation()
    }

    /// Another of the visitor's conversations, from the homepage's list.
    pub fn open_conversation(&mut self, conversation_id: String) -> Vec<Effect> {
        let mut effects = Vec::new();
        self.switch_to(conversation_id, &mut effects);
        effects
    }

    /// Puts `conversation_id` on screen (unless it is there): its view starts afresh from its
    /// newest page.
    fn switch_to(&mut self, conversation_id: String, effects: &mut Vec<Effect>) {
        if self.is_current(&conversation_id) {
            return;
        }
        self.conversation_id = Some(conversation_id.clone());
        self.starting_new = false;
        effects.append(&mut self.clear_conversation());
        let catch_up = self.catch_up(conversation_id);
        self.send_catch_up(catch_up, effects);
    }

    /// The visitor scrolled to the top of the conversation: the page before the oldest
    /// message shown, if there is one and none is on its way.
    pub fn load_older(&mut self) -> Vec<Effect> {
        let Some(conversation_id) = self.conversation_id.clone() else {
            return Vec::new();
        };
        if !self.ready || self.loading_older || self.oldest_seq <= 1 {
            return Vec::new();
        }
        self.loading_older = true;
        vec![Effect::Send(ClientEvent::LoadBefore {
            conversation_id,
            before_seq: Some(self.oldest_seq),
            limit: Some(DEFAULT_PAGE_SIZE),
        })]
    }

    /// What brings the current conversation up to date: with nothing shown yet, its newest
    /// page (older ones come on demand); else every message after the last one seen, in
    /// pages, so nothing missed during a drop is skipped.
    fn catch_up(&self, conversation_id: String) -> ClientEvent {
        if self.last_seq == 0 {
            ClientEvent::LoadBefore {
                conversation_id,
                before_seq: None,
                limit: Some(DEFAULT_PAGE_SIZE),
            }
        } else {
            ClientEvent::Resume {
                conversation_id,
                after_seq: self.last_seq,
            }
        }
    }

    fn send_catch_up(&mut self, event: ClientEvent, effects: &mut Vec<Effect>) {
        if matches!(event, ClientEvent::Resume { .. }) {
            self.resuming = true;
        }
        effects.push(Effect::Send(event));
    }

    /// Asks for what lies between `last_seq` and a message shown beyond it, unless a resume
    /// is filling it already or this very gap was asked about.
    fn fill_gap(&mut self, effects: &mut Vec<Effect>) {
        let Some(conversation_id) = self.conversation_id.clone() else {
            return;
        };
        if !self.ready || self.resuming || self.ahead.is_empty() || self.last_seq == 0 {
            return;
        }
        if self.gap_asked_at == self.last_seq {
            return;
        }
        self.gap_asked_at = self.last_seq;
        self.send_catch_up(
            ClientEvent::Resume {
                conversation_id,
                after_seq: self.last_seq,
            },
            effects,
        );
    }

    /// The visitor is looking at the open messenger: everything is read.
    pub fn seen(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        if self.sight.open {
            self.set_unread(0, &mut effects);
        }
        self.read_receipt(&mut effects);
        effects
    }

    fn is_current(&self, conversation_id: &str) -> bool {
        self.conversation_id.as_deref() == Some(conversation_id)
    }

    fn clear_conversation(&mut self) -> Vec<Effect> {
        self.last_seq = 0;
        self.ahead.clear();
        self.oldest_seq = 0;
        self.loading_older = false;
        self.resuming = false;
        self.gap_asked_at = 0;
        self.read_sent = 0;
        self.agent_read_seq = 0;
        vec![Effect::ClearConversation]
    }

    fn show(&mut self, message: Message, effects: &mut Vec<Effect>) {
        self.note_seq(message.seq);
        if message.author.kind != AuthorKind::Visitor {
            // A message ends its author's typing.
            effects.push(Effect::AgentTyping(None));
        }
        effects.push(Effect::ShowMessage(message));
    }

    /// Moves `last_seq` over a shown message when nothing is missing below it. The first
    /// message shown anchors it: older ones are loaded on demand, not resumed.
    fn note_seq(&mut self, seq: i64) {
        if self.oldest_seq == 0 || seq < self.oldest_seq {
            self.oldest_seq = seq;
        }
        if self.last_seq == 0 {
            self.last_seq = seq;
        } else if seq > self.last_seq {
            if let Err(at) = self.ahead.binary_search(&seq) {
                self.ahead.insert(at, seq);
            }
        }
        // The run of sequence numbers that now follows `last_seq`.
        let mut filled = 0;
        while self.ahead.get(filled) == Some(&(self.last_seq + 1 + filled as i64)) {
            filled += 1;
        }
        self.last_seq += filled as i64;
        self.ahead.drain(..filled);
    }

    fn flush(&mut self, effects: &mut Vec<Effect>) {
        if self.ready {
            for event in self.outbox.flush() {
                effects.push(Effect::Send(event));
            }
        }
    }

    fn set_unread(&mut self, count: u32, effects: &mut Vec<Effect>) {
        if self.unread != count {
            self.unread = count;
            effects.push(Effect::SetUnread(count));
        }
    }

    fn raise_agent_read_seq(&mut self, seq: i64, effects: &mut Vec<Effect>) {
        if seq > self.agent_read_seq {
            self.agent_read_seq = seq;
            effects.push(Effect::AgentReadSeq(seq));
        }
    }

    /// Tells the agents what the visitor has seen, when the conversation is on screen.
    fn read_receipt(&mut self, effects: &mut Vec<Effect>) {
        if !self.sight.conversation || !self.ready || self.last_seq <= self.read_sent {
            return;
        }
        if let Some(conversation_id) = self.conversation_id.clone() {
            self.read_sent = self.last_seq;
            effects.push(Effect::Send(ClientEvent::Read {
                conversation_id,
                up_to_seq: self.last_seq,
            }));
        }
    }
}

/// The conversation a session continues: the newest one with the session's own verified
/// state, so a verified session never appends to a conversation that was not verified.
fn current_conversation(conversations: &[Conversation], verified: bool) -> Option<&Conversation> {
    conversations
        .iter()
        .filter(|conversation| conversation.verified == verified)
        .max_by_key(|conversation| conversation.created_at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{merge_message, ChatLine};
    use talk_protocol::{Author, ConversationStatus};

    fn conversation(id: &str, verified: bool, created_at: i64, last_seq: i64) -> Conversation {
        Conversation {
            id: id.into(),
            verified,
            status: ConversationStatus::Open,
            visitor_id: "v".into(),
            person_id: None,
            last_seq,
            created_at,
            assignee_id: None,
            visitor_read_seq: 0,
            agent_read_seq: 0,
        }
    }

    fn message(
        conversation_id: &str,
        seq: i64,
        kind: AuthorKind,
        client_msg_id: Option<&str>,
    ) -> Message {
        Message {
            id: format!("m{seq}"),
            conversation_id: conversation_id.into(),
            seq,
            author: Author { kind, name: None },
            body: format!("body {seq}"),
            client_msg_id: client_msg_id.map(str::to_string),
            created_at: 1_000 + seq,
        }
    }

    fn ready(conversations: Vec<Conversation>) -> ServerEvent {
        ServerEvent::Ready {
            session_id: "s".into(),
            conversations,
        }
    }

    fn sends(effects: &[Effect]) -> Vec<&ClientEvent> {
        effects
            .iter()
            .filter_map(|effect| match effect {
                Effect::Send(event) => Some(event),
                _ => None,
            })
            .collect()
    }

    fn send(conversation_id: Option<&str>, client_msg_id: &str) -> ClientEvent {
        ClientEvent::Send {
            conversation_id: conversation_id.map(str::to_string),
            client_msg_id: client_msg_id.into(),
            body: format!("text {client_msg_id}"),
        }
    }

    fn resume(conversation_id: &str, after_seq: i64) -> ClientEvent {
        ClientEvent::Resume {
            conversation_id: conversation_id.into(),
            after_seq,
        }
    }

    fn newest_page(conversation_id: &str) -> ClientEvent {
        ClientEvent::LoadBefore {
            conversation_id: conversation_id.into(),
            before_seq: None,
            limit: Some(DEFAULT_PAGE_SIZE),
        }
    }

    fn older_page(conversation_id: &str, before_seq: i64) -> ClientEvent {
        ClientEvent::LoadBefore {
            conversation_id: conversation_id.into(),
            before_seq: Some(before_seq),
            limit: Some(DEFAULT_PAGE_SIZE),
        }
    }

    fn history(
        conversation_id: &str,
        seqs: std::ops::RangeInclusive<i64>,
        more: bool,
    ) -> ServerEvent {
        ServerEvent::History {
            conversation_id: conversation_id.into(),
            messages: seqs
                .map(|seq| message(conversation_id, seq, AuthorKind::Agent, None))
                .collect(),
            more,
        }
    }

    fn shown_seqs(effects: &[Effect]) -> Vec<i64> {
        effects
            .iter()
            .filter_map(|effect| match effect {
                Effect::ShowMessage(message) => Some(message.seq),
                _ => None,
            })
            .collect()
    }

    fn ack(conversation_id: &str, seq: i64, client_msg_id: &str) -> ServerEvent {
        ServerEvent::Ack {
            client_msg_id: client_msg_id.into(),
            message: message(
                conversation_id,
                seq,
                AuthorKind::Visitor,
                Some(client_msg_id),
            ),
        }
    }

    /// A core connected in conversation `c1`, nothing unread.
    fn connected_in_c1() -> Core {
        let mut core = Core::default();
        core.apply(ready(vec![conversation("c1", false, 1, 0)]));
        core
    }

    /// The ids of the conversation list among `effects`, in its order.
    fn listed(effects: &[Effect]) -> Vec<&str> {
        let Some(Effect::ListConversations(previews)) = effects
            .iter()
            .find(|effect| matches!(effect, Effect::ListConversations(_)))
        else {
            panic!("no list");
        };
        previews.iter().map(|p| p.id.as_str()).collect()
    }

    #[test]
    fn the_list_is_newest_first_and_keeps_the_servers_order_for_ties() {
        let mut core = Core::default();
        let effects = core.apply(ready(vec![
            conversation("a", false, 3, 0),
            conversation("b", false, 7, 0),
            conversation("c", false, 3, 0),
            conversation("d", false, 9, 0),
            conversation("e", false, 3, 0),
            conversation("f", false, 1, 0),
        ]));
        let order = listed(&effects);
        assert_eq!(order, ["d", "b", "a", "c", "e", "f"]);
    }

    #[test]
    fn ready_picks_the_newest_conversation_of_the_sessions_own_verified_state() {
        let conversations = vec![
            conversation("verified", true, 9, 0),
            conversation("newer", false, 5, 2),
            conversation("older", false, 1, 4),
        ];
        let mut core = Core::default();
        let effects = core.apply(ready(conversations.clone()));
        assert_eq!(core.conversation_id.as_deref(), Some("newer"));
        assert!(core.ready);
        assert_eq!(effects[0], Effect::Connected);
        assert_eq!(effects[1], Effect::AnnounceReady);
        let order = listed(&effects);
        assert_eq!(order, ["verified", "newer", "older"]);
        // A preview for each other conversation with messages, then the current one's newest
        // page.
        let load = |id: &str| ClientEvent::LoadBefore {
            conversation_id: id.into(),
            before_seq: None,
            limit: Some(1),
        };
        assert_eq!(sends(&effects), [&load("older"), &newest_page("newer")]);

        let mut verified = Core {
            verified: true,
            ..Core::default()
        };
        verified.apply(ready(conversations.clone()));
        assert_eq!(verified.conversation_id.as_deref(), Some("verified"));

        // A reconnect keeps the conversation, resumes after what was seen, announces nothing.
        core.apply(ServerEvent::History {
            conversation_id: "newer".into(),
            messages: vec![message("newer", 1, AuthorKind::Agent, None)],
            more: false,
        });
        core.disconnected();
        let again = core.apply(ready(conversations.clone()));
        assert!(!again.contains(&Effect::AnnounceReady));
        assert!(sends(&again).contains(&&resume("newer", 1)));

        // After "new conversation" a reconnect must not pick the old one again.
        core.start_new();
        core.disconnected();
        let fresh = core.apply(ready(conversations));
        assert_eq!(core.conversation_id, None);
        assert!(!sends(&fresh)
            .iter()
            .any(|event| matches!(event, ClientEvent::Resume { .. })));
    }

    #[test]
    fn resume_after_a_drop_sends_again_in_order_without_duplicates() {
        let mut core = connected_in_c1();
        let first = core.queue("a".into(), "text a".into());
        assert_eq!(sends(&first), [&send(Some("c1"), "a")]);
        core.queue("b".into(), "text b".into());
        core.apply(ack("c1", 1, "a"));

        // Dropped with b unacknowledged; c typed while offline goes nowhere yet.
        core.disconnected();
        assert!(core.queue("c".into(), "text c".into()).is_empty());
        let back = core.apply(ready(vec![conversation("c1", false, 1, 1)]));
        let sent = sends(&back);
        let resume_at = sent.iter().position(|e| **e == resume("c1", 1)).unwrap();
        assert_eq!(
            sent[resume_at + 1..],
            [&send(Some("c1"), "b"), &send(Some("c1"), "c")]
        );

        // The server saw b before the drop: its ack and the resume both bring it; shown once.
        let mut lines: Vec<ChatLine> = vec![
            ChatLine::pending("b", "text b"),
            ChatLine::pending("c", "text c"),
        ];
        let mut show = |effects: Vec<Effect>| {
            for effect in effects {
                if let Effect::ShowMessage(message) = effect {
                    merge_message(&mut lines, message);
                }
            }
        };
        show(core.apply(ServerEvent::History {
            conversation_id: "c1".into(),
            messages: vec![message("c1", 2, AuthorKind::Visitor, Some("b"))],
            more: false,
        }));
        show(core.apply(ack("c1", 2, "b")));
        show(core.apply(ack("c1", 3, "c")));
        // A late duplicate ack sends nothing again.
        let late = core.apply(ack("c1", 3, "c"));
        show(late);
        assert!(core.outbox.is_empty());
        let keys: Vec<(&str, Option<i64>)> =
            lines.iter().map(|l| (l.key.as_str(), l.seq)).collect();
        assert_eq!(keys, [("b", Some(2)), ("c", Some(3))]);
    }

    /// `restart` used to empty the outbox: a message typed but not yet acknowledged when the
    /// verified state changed (or the token was refused) was lost.
    #[test]
    fn a_restart_keeps_unacknowledged_messages_and_sends_them_again_where_they_were_typed() {
        let mut core = connected_in_c1();
        core.queue("a".into(), "text a".into());
        core.queue("b".into(), "text b".into());
        core.apply(ack("c1", 1, "a"));
        core.disconnected();
        core.queue("c".into(), "text c".into());

        // The page calls setVerifiedSession: a new, verified session of the same visitor.
        core.restart();
        core.verified = true;
        let effects = core.apply(ready(vec![
            conversation("c1", false, 1, 2),
            conversation("v1", true, 2, 0),
        ]));
        // It continues the verified conversation; b and c go where they were typed, c1 (still
        // visible: same visitor), in order, under their ids.
        assert_eq!(core.conversation_id.as_deref(), Some("v1"));
        let sent = sends(&effects);
        let queued: Vec<&&ClientEvent> = sent
            .iter()
            .filter(|event| matches!(event, ClientEvent::Send { .. }))
            .collect();
        assert_eq!(queued, [&&send(Some("c1"), "b"), &&send(Some("c1"), "c")]);
        // Their acks go into c1's preview, not into the verified conversation on screen.
        let acked = core.apply(ack("c1", 2, "b"));
        assert!(!acked.iter().any(|e| matches!(e, Effect::ShowMessage(_))));
        assert!(acked
            .iter()
            .any(|e| matches!(e, Effect::Preview { message, .. } if message.seq == 2)));
        core.apply(ack("c1", 3, "c"));
        assert!(core.outbox.is_empty());
        assert_eq!(core.conversation_id.as_deref(), Some("v1"));
    }

    #[test]
    fn after_a_restart_a_message_for_a_conversation_out_of_sight_goes_to_the_new_pick() {
        // Verified: continuing p1, which the person started on another device.
        let mut core = Core {
            verified: true,
            ..Core::default()
        };
        core.apply(ready(vec![conversation("p1", true, 1, 4)]));
        core.queue("written".into(), "text written".into());
        core.disconnected();
        core.queue("offline".into(), "text offline".into());

        // The verified token is refused: unverified, this visitor's own conversations only.
        core.restart();
        let effects = core.apply(ready(vec![conversation("own", false, 1, 3)]));
        assert_eq!(core.conversation_id.as_deref(), Some("own"));
        let sent = sends(&effects);
        assert!(sent.ends_with(&[
            // Written: perhaps stored in p1 already, and found by its id only there.
            &send(Some("p1"), "written"),
            // Never written: nothing to find, so it goes where the visitor now writes.
            &send(Some("own"), "offline"),
        ]));
    }

    #[test]
    fn the_ack_of_a_new_conversations_first_message_assigns_the_queued_rest() {
        let mut core = Core::default();
        core.apply(ready(Vec::new()));
        assert_eq!(core.conversation_id, None);
        let first = core.queue("first".into(), "text first".into());
        assert_eq!(sends(&first), [&send(None, "first")]);
        assert!(core.queue("second".into(), "text second".into()).is_empty());
        assert!(core.queue("third".into(), "text third".into()).is_empty());

        let effects = core.apply(ack("c7", 1, "first"));
        assert_eq!(core.conversation_id.as_deref(), Some("c7"));
        assert!(matches!(&effects[0], Effect::ShowMessage(m) if m.seq == 1));
        assert_eq!(
            sends(&effects),
            [
                // Anything said in c7 before this ack (only previewed until now).
                &resume("c7", 1),
                &send(Some("c7"), "second"),
                &send(Some("c7"), "third")
            ]
        );
    }

    /// Over HTTP + SSE the stream may bring the new conversation's messages (the visitor's
    /// own, the bot's answer) before the POST's answer names the conversation.
    #[test]
    fn what_a_new_conversation_said_before_its_ack_is_fetched_once_it_is_ours() {
        let mut core = Core::default();
        core.apply(ready(Vec::new()));
        core.queue("first".into(), "text first".into());
        let early = core.apply(ServerEvent::Message {
            message: message("c7", 2, AuthorKind::Bot, None),
        });
        assert!(shown_seqs(&early).is_empty(), "not ours yet: a preview");
        let acked = core.apply(ack("c7", 1, "first"));
        assert_eq!(sends(&acked), [&resume("c7", 1)]);
        let caught_up = core.apply(history("c7", 2..=2, false));
        assert_eq!(shown_seqs(&caught_up), [2]);
        assert_eq!(core.last_seq, 2);
    }

    /// Found by `delivery_properties`: typed before `ready`, it started a conversation of its
    /// own beside the one `ready` picked (and the one on screen).
    #[test]
    fn a_message_typed_before_ready_goes_to_the_conversation_the_session_continues() {
        let mut core = Core::default();
        assert!(core.queue("early".into(), "text early".into()).is_empty());
        let effects = core.apply(ready(vec![conversation("c0", false, 5, 3)]));
        assert_eq!(core.conversation_id.as_deref(), Some("c0"));
        assert!(sends(&effects).contains(&&send(Some("c0"), "early")));
    }

    #[test]
    fn an_error_marks_the_message_failed_and_a_retry_goes_under_the_same_id() {
        let mut core = connected_in_c1();
        core.queue("a".into(), "text a".into());
        let effects = core.apply(ServerEvent::Error {
            code: "rate_limited".into(),
            message: "Slow down.".into(),
            client_msg_id: Some("a".into()),
        });
        assert_eq!(
            effects,
            [
                Effect::Warn {
                    code: "rate_limited".into(),
                    message: "Slow down.".into()
                },
                Effect::MarkFailed("a".into()),
            ]
        );
        assert!(core.outbox.is_empty());
        let retry = core.queue("a".into(), "text a".into());
        assert_eq!(sends(&retry), [&send(Some("c1"), "a")]);

        // An error about no message in particular only warns.
        let other = core.apply(ServerEvent::Error {
            code: "bad_event".into(),
            message: "?".into(),
            client_msg_id: None,
        });
        assert_eq!(other.len(), 1);
        assert_eq!(core.outbox.len(), 1);
    }

    #[test]
    fn too_many_conversations_fails_the_message_and_is_explained() {
        let mut core = connected_in_c1();
        core.start_new();
        core.queue("a".into(), "text a".into());
        let effects = core.apply(ServerEvent::Error {
            code: error_code::TOO_MANY_CONVERSATIONS.into(),
            message: "Continue one.".into(),
            client_msg_id: Some("a".into()),
        });
        assert_eq!(
            &effects[1..],
            [
                Effect::MarkFailed("a".into()),
                Effect::Notice(Some(Notice::TooManyConversations))
            ]
        );
    }

    #[test]
    fn a_message_refused_by_the_quota_stays_in_the_outbox_and_goes_again_on_reconnect() {
        let mut core = connected_in_c1();
        core.start_new();
        core.queue("a".into(), "first of a new one".into());
        let effects = core.apply(ServerEvent::Error {
            code: error_code::QUOTA_EXCEEDED.into(),
            message: "Can't take new conversations.".into(),
            client_msg_id: Some("a".into()),
        });
        // Not failed, not dropped: explained, and kept.
        assert_eq!(&effects[1..], [Effect::Notice(Some(Notice::QuotaReached))]);
        assert_eq!(core.outbox.len(), 1);
        // What follows waits behind it, rather than starting a conversation of its own.
        let later = core.queue("b".into(), "text b".into());
        assert!(sends(&later).is_empty());

        // The next connection sends it again under the same id; the second still waits.
        core.disconnected();
        let again = core.apply(ready(vec![conversation("c1", false, 5, 5)]));
        let sent: Vec<_> = sends(&again)
            .into_iter()
            .filter_map(|event| match event {
                ClientEvent::Send { client_msg_id, .. } => Some(client_msg_id.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(sent, ["a"]);
        // Accepted this time: the notice goes, and the rest follows into the new conversation.
        let acked = core.apply(ServerEvent::Ack {
            client_msg_id: "a".into(),
            message: message("c9", 1, AuthorKind::Visitor, Some("a")),
        });
        assert!(acked.contains(&Effect::Notice(None)));
        assert!(sends(&acked).contains(&&send(Some("c9"), "b")));
    }

    #[test]
    fn a_preview_limit_keeps_the_message_too() {
        let mut core = connected_in_c1();
        core.queue("a".into(), "text a".into());
        let effects = core.apply(ServerEvent::Error {
            code: error_code::PREVIEW_LIMIT_REACHED.into(),
            message: "Previews are limited.".into(),
            client_msg_id: Some("a".into()),
        });
        assert_eq!(&effects[1..], [Effect::Notice(Some(Notice::QuotaReached))]);
        assert_eq!(core.outbox.len(), 1);
    }

    #[test]
    fn history_of_the_current_conversation_is_shown_and_of_another_previewed() {
        let mut core = connected_in_c1();
        let effects = core.apply(ServerEvent::History {
            conversation_id: "c1".into(),
            messages: vec![
                message("c1", 1, AuthorKind::Visitor, Some("x")),
                message("c1", 2, AuthorKind::Agent, None),
            ],
            more: false,
        });
        assert_eq!(
            effects,
            [
                Effect::ShowMessage(message("c1", 1, AuthorKind::Visitor, Some("x"))),
                // An agent's message ends its typing.
                Effect::AgentTyping(None),
                Effect::ShowMessage(message("c1", 2, AuthorKind::Agent, None)),
            ]
        );
        assert_eq!(core.last_seq, 2);

        let other = core.apply(ServerEvent::History {
            conversation_id: "c2".into(),
            messages: vec![
                message("c2", 4, AuthorKind::Agent, None),
                message("c2", 5, AuthorKind::Agent, None),
            ],
            more: false,
        });
        assert_eq!(
            other,
            [Effect::Preview {
                message: message("c2", 5, AuthorKind::Agent, None),
                unread: false
            }]
        );
        assert_eq!(core.last_seq, 2);
    }

    #[test]
    fn unread_counts_team_messages_the_visitor_does_not_see() {
        let mut core = connected_in_c1();
        // Closed messenger: each agent message counts and rings.
        let effects = core.apply(ServerEvent::Message {
            message: message("c1", 1, AuthorKind::Agent, None),
        });
        assert_eq!(effects[..2], [Effect::SetUnread(1), Effect::PlayAlert]);
        let effects = core.apply(ServerEvent::Message {
            message: message("c1", 2, AuthorKind::Bot, None),
        });
        assert_eq!(effects[..2], [Effect::SetUnread(2), Effect::PlayAlert]);
        // The visitor's own message from another tab does not.
        let own = core.apply(ServerEvent::Message {
            message: message("c1", 3, AuthorKind::Visitor, Some("t")),
        });
        assert!(!own
            .iter()
            .any(|e| matches!(e, Effect::SetUnread(_) | Effect::PlayAlert)));
        // Open, but on the homepage: counts; seeing the open messenger clears it, once.
        core.sight = Sight {
            open: true,
            conversation: false,
        };
        let home = core.apply(ServerEvent::Message {
            message: message("c1", 4, AuthorKind::Agent, None),
        });
        assert_eq!(home[0], Effect::SetUnread(3));
        assert_eq!(core.seen(), [Effect::SetUnread(0)]);
        assert!(core.seen().is_empty());
        // Looking at the conversation: not unread, and read at once.
        core.sight.conversation = true;
        let looking = core.apply(ServerEvent::Message {
            message: message("c1", 5, AuthorKind::Agent, None),
        });
        assert!(!looking
            .iter()
            .any(|e| matches!(e, Effect::SetUnread(_) | Effect::PlayAlert)));
        assert_eq!(
            sends(&looking),
            [&ClientEvent::Read {
                conversation_id: "c1".into(),
                up_to_seq: 5
            }]
        );
        // … but a message in another conversation still counts, and marks its preview.
        let elsewhere = core.apply(ServerEvent::Message {
            message: message("c2", 1, AuthorKind::Agent, None),
        });
        assert_eq!(
            elsewhere,
            [
                Effect::SetUnread(1),
                Effect::PlayAlert,
                Effect::Preview {
                    message: message("c2", 1, AuthorKind::Agent, None),
                    unread: true
                },
            ]
        );
    }

    /// An agent writes first (`POST …/people/{id}/conversations`): the new conversation and
    /// its first message arrive on the visitor's topic while the visitor is in another one.
    #[test]
    fn a_conversation_the_team_starts_while_the_messenger_is_closed_rings_and_is_what_opens() {
        let mut core = connected_in_c1();
        let first = message("c2", 1, AuthorKind::Agent, None);
        assert!(core
            .apply(ServerEvent::ConversationUpdated {
                conversation: conversation("c2", false, 5, 1),
            })
            .is_empty());
        let effects = core.apply(ServerEvent::Message {
            message: first.clone(),
        });
        assert_eq!(core.conversation_id.as_deref(), Some("c2"));
        assert_eq!(
            effects,
            [
                Effect::ClearConversation,
                Effect::Send(newest_page("c2")),
                Effect::SetUnread(1),
                Effect::PlayAlert,
                Effect::AgentTyping(None),
                Effect::ShowMessage(first),
            ]
        );

        // Open on another conversation, the visitor stays where it is: a badge, a sound and
        // an unread row on the homepage.
        core.sight = Sight {
            open: true,
            conversation: true,
        };
        let third = message("c3", 1, AuthorKind::Agent, None);
        let effects = core.apply(ServerEvent::Message {
            message: third.clone(),
        });
        assert_eq!(core.conversation_id.as_deref(), Some("c2"));
        assert_eq!(
            effects,
            [
                Effect::SetUnread(2),
                Effect::PlayAlert,
                Effect::Preview {
                    message: third,
                    unread: true
                },
                // (What is on screen is read: the team's first message in c2.)
                Effect::Send(ClientEvent::Read {
                    conversation_id: "c2".into(),
                    up_to_seq: 1
                }),
            ]
        );
        // Closed again, a reply in an older conversation is no reason to switch.
        core.sight = Sight::default();
        core.apply(ServerEvent::Message {
            message: message("c1", 2, AuthorKind::Agent, None),
        });
        assert_eq!(core.conversation_id.as_deref(), Some("c2"));
    }

    /// The visitor comes back: what the team wrote meanwhile (here a conversation they
    /// started) is on the badge at `ready`, and the homepage row is unread.
    #[test]
    fn ready_counts_what_the_team_wrote_while_the_visitor_was_away() {
        let mut seen = conversation("c1", false, 1, 3);
        seen.visitor_read_seq = 3;
        let mut replied = conversation("c2", false, 2, 4);
        replied.visitor_read_seq = 2;
        let started_by_team = conversation("c3", false, 3, 1);
        let conversations = vec![started_by_team, replied, seen];

        let mut core = Core::default();
        let effects = core.apply(ready(conversations.clone()));
        assert!(effects.contains(&Effect::SetUnread(3)));
        assert_eq!(core.conversation_id.as_deref(), Some("c3"), "the newest");
        let Some(Effect::ListConversations(previews)) = effects
            .iter()
            .find(|effect| matches!(effect, Effect::ListConversations(_)))
        else {
            panic!("no list");
        };
        let unread: Vec<(&str, bool)> = previews
            .iter()
            .map(|preview| (preview.id.as_str(), preview.unread))
            .collect();
        assert_eq!(unread, [("c3", true), ("c2", true), ("c1", false)]);
        // A reconnect says it again only if it changed.
        core.disconnected();
        assert!(!core
            .apply(ready(conversations.clone()))
            .iter()
            .any(|effect| matches!(effect, Effect::SetUnread(_))));

        // Open (the visitor is looking): nothing to count.
        let mut open = Core {
            sight: Sight {
                open: true,
                conversation: false,
            },
            ..Core::default()
        };
        assert!(!open
            .apply(ready(conversations))
            .iter()
            .any(|effect| matches!(effect, Effect::SetUnread(_))));
    }

    #[test]
    fn read_receipts_go_once_per_position_and_only_while_connected() {
        let mut core = connected_in_c1();
        core.apply(ServerEvent::Message {
            message: message("c1", 1, AuthorKind::Agent, None),
        });
        core.sight = Sight {
            open: true,
            conversation: true,
        };
        let read = ClientEvent::Read {
            conversation_id: "c1".into(),
            up_to_seq: 1,
        };
        assert_eq!(sends(&core.seen()), [&read]);
        assert!(sends(&core.seen()).is_empty());
        core.disconnected();
        core.apply(ServerEvent::Message {
            message: message("c1", 2, AuthorKind::Agent, None),
        });
        assert!(sends(&core.seen()).is_empty());
    }

    #[test]
    fn agent_read_position_only_grows_and_typing_goes_out_every_three_seconds() {
        let mut core = connected_in_c1();
        let read = |seq| ServerEvent::Read {
            conversation_id: "c1".into(),
            reader: AuthorKind::Agent,
            up_to_seq: seq,
        };
        assert_eq!(core.apply(read(3)), [Effect::AgentReadSeq(3)]);
        assert!(core.apply(read(2)).is_empty());
        assert_eq!(core.typing(10_000.0).len(), 1);
        assert!(core.typing(12_000.0).is_empty());
        assert_eq!(core.typing(13_000.0).len(), 1);
        // Opening another conversation clears the view and asks for its newest page.
        assert_eq!(
            core.open_conversation("c2".into()),
            [Effect::ClearConversation, Effect::Send(newest_page("c2"))]
        );
        assert!(core.open_conversation("c2".into()).is_empty());
    }

    #[test]
    fn opening_shows_the_newest_page_and_older_ones_on_demand() {
        let mut core = Core::default();
        let opened = core.apply(ready(vec![conversation("c1", false, 1, 120)]));
        assert_eq!(sends(&opened), [&newest_page("c1")]);
        // Nothing shown yet: nothing older to ask for.
        assert!(core.load_older().is_empty());

        assert_eq!(
            shown_seqs(&core.apply(history("c1", 71..=120, false))),
            (71..=120).collect::<Vec<_>>()
        );
        assert_eq!(core.last_seq, 120);
        assert_eq!(core.load_older(), [Effect::Send(older_page("c1", 71))]);
        // One request at a time, however often the visitor reaches the top.
        assert!(core.load_older().is_empty());
        // Older pages fill in below; the resume position stays at the newest.
        core.apply(history("c1", 21..=70, false));
        assert_eq!(core.last_seq, 120);
        assert_eq!(core.load_older(), [Effect::Send(older_page("c1", 21))]);
        core.apply(history("c1", 1..=20, false));
        assert!(core.load_older().is_empty(), "seq 1 is the first message");

        // A live message continues the conversation; a reconnect resumes after it.
        core.apply(ServerEvent::Message {
            message: message("c1", 121, AuthorKind::Agent, None),
        });
        core.disconnected();
        let back = core.apply(ready(vec![conversation("c1", false, 1, 121)]));
        assert_eq!(sends(&back), [&resume("c1", 121)]);
    }

    #[test]
    fn a_resume_answered_in_pages_fetches_the_rest_and_skips_nothing() {
        let mut core = Core::default();
        core.apply(ready(vec![conversation("c1", false, 1, 10)]));
        core.apply(history("c1", 1..=10, false));
        core.disconnected();

        // Back after a long drop: 11..=40 were missed.
        let back = core.apply(ready(vec![conversation("c1", false, 1, 40)]));
        assert_eq!(sends(&back), [&resume("c1", 10)]);
        let first = core.apply(history("c1", 11..=20, true));
        assert_eq!(sends(&first), [&resume("c1", 20)], "more: the next page");
        // A live message overtakes the pages: shown, but the gap below it stays to fill.
        let live = core.apply(ServerEvent::Message {
            message: message("c1", 41, AuthorKind::Agent, None),
        });
        assert_eq!(shown_seqs(&live), [41]);
        assert_eq!(core.last_seq, 20);

        // Dropped again mid-way: the resume starts after the last page, not after 41.
        core.disconnected();
        let again = core.apply(ready(vec![conversation("c1", false, 1, 41)]));
        assert_eq!(sends(&again), [&resume("c1", 20)]);
        let page = core.apply(history("c1", 21..=30, true));
        assert_eq!(sends(&page), [&resume("c1", 30)]);
        let last = core.apply(history("c1", 31..=41, false));
        assert!(sends(&last).is_empty(), "the last page asks for nothing");
        // 41 was shown already; the gap is closed, so the mark moves over it.
        assert_eq!(core.last_seq, 41);
        core.apply(ServerEvent::Message {
            message: message("c1", 42, AuthorKind::Agent, None),
        });
        assert_eq!(core.last_seq, 42);
    }

    fn live(conversation_id: &str, seq: i64) -> ServerEvent {
        ServerEvent::Message {
            message: message(conversation_id, seq, AuthorKind::Agent, None),
        }
    }

    #[test]
    fn a_live_message_beyond_a_gap_resumes_once_and_the_answer_closes_it() {
        let mut core = Core::default();
        core.apply(ready(vec![conversation("c1", false, 1, 3)]));
        core.apply(history("c1", 1..=3, false));
        assert_eq!(
            sends(&core.apply(live("c1", 4))),
            Vec::<&ClientEvent>::new()
        );

        // 5 and 6 were lost on the way (another node's bus lagged): 7 shows, and the gap
        // above 4 is fetched, once, however many messages arrive beyond it meanwhile.
        let beyond = core.apply(live("c1", 7));
        assert_eq!(shown_seqs(&beyond), [7]);
        assert_eq!(sends(&beyond), [&resume("c1", 4)]);
        assert!(sends(&core.apply(live("c1", 8))).is_empty());
        assert_eq!(core.last_seq, 4);

        let filled = core.apply(history("c1", 5..=8, false));
        assert_eq!(shown_seqs(&filled), [5, 6, 7, 8]);
        assert!(sends(&filled).is_empty());
        assert_eq!(core.last_seq, 8);

        // A later gap is asked about again.
        assert_eq!(sends(&core.apply(live("c1", 10))), [&resume("c1", 8)]);
    }

    #[test]
    fn a_gap_the_server_cannot_fill_is_not_asked_about_forever() {
        let mut core = Core::default();
        core.apply(ready(vec![conversation("c1", false, 1, 2)]));
        core.apply(history("c1", 1..=2, false));
        assert_eq!(sends(&core.apply(live("c1", 4))), [&resume("c1", 2)]);
        // The answer has 4 only: 3 is gone (erased). The gap stays; no second ask for it.
        let answer = core.apply(history("c1", 4..=4, false));
        assert!(sends(&answer).is_empty());
        assert!(sends(&core.apply(live("c1", 5))).is_empty());
        assert_eq!(core.last_seq, 2);
    }

    #[test]
    fn a_gap_while_a_resume_pages_in_waits_for_its_last_page() {
        let mut core = Core::default();
        core.apply(ready(vec![conversation("c1", false, 1, 2)]));
        core.apply(history("c1", 1..=2, false));
        core.disconnected();
        let back = core.apply(ready(vec![conversation("c1", false, 1, 30)]));
        assert_eq!(sends(&back), [&resume("c1", 2)]);
        // Live messages overtake the pages: no second resume beside the first.
        assert!(sends(&core.apply(live("c1", 31))).is_empty());
        assert!(sends(&core.apply(history("c1", 3..=20, true))).contains(&&resume("c1", 20)));
        assert!(sends(&core.apply(live("c1", 32))).is_empty());
        // The last page stops short of 31 (its answer was cut before 31 was committed… and
        // 31's neighbours were lost): the gap left is asked about after the last page.
        let last = core.apply(history("c1", 21..=29, false));
        assert_eq!(sends(&last), [&resume("c1", 29)]);
    }

    #[test]
    fn an_older_page_does_not_end_a_resume_in_flight() {
        let mut core = Core::default();
        core.apply(ready(vec![conversation("c1", false, 1, 60)]));
        core.apply(history("c1", 41..=60, false));
        core.disconnected();
        assert_eq!(
            sends(&core.apply(ready(vec![conversation("c1", false, 1, 90)]))),
            [&resume("c1", 60)]
        );
        core.load_older();
        // The older page lands while the resume is out: a live message beyond the gap
        // still waits for the resume rather than asking twice.
        assert!(sends(&core.apply(history("c1", 21..=40, false))).is_empty());
        assert!(sends(&core.apply(live("c1", 91))).is_empty());
    }
}
