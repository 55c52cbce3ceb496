//! Exact message delivery on a node that shares its database with others. Every message
//! this node delivers, its own and other nodes', passes through here in seq order per
//! conversation: the node tracks the next seq of each conversation it has subscribers for
//! (on the conversation's topic or its workspace's), drops what it delivered already, holds
//! what comes early and fills the gap from the database. Signals heard from the bus name
//! only ids and seqs; the messages are loaded from the database. After the listener
//! reconnects (or a batch too big to name), every tracked conversation is read again from
//! its next seq. Without a bus (SQLite, one node) none of this runs.

use super::bus::{Bus, Heard, Signal};
use super::ending::{Credential, End, Endings};
use super::hub::{Except, Hub, SocketId, Topic};
use super::publish;
use crate::db::Db;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};
use talk_protocol::{close_code, close_reason, Message, ServerEvent};
use tokio::sync::mpsc;

/// Messages read per query when filling a gap.
const FILL_PAGE: u32 = 200;

/// Whom a held message leaves out, owned.
#[derive(Debug, Clone)]
pub enum Skip {
    Nobody,
    Socket(SocketId),
    Session(Arc<str>),
}

impl Skip {
    pub fn of(except: Except) -> Self {
        match except {
            Except::Nobody => Skip::Nobody,
            Except::Socket(id) => Skip::Socket(id),
            Except::Session(session) => Skip::Session(session.into()),
        }
    }

    fn except(&self) -> Except<'_> {
        match self {
            Skip::Nobody => Except::Nobody,
            Skip::Socket(id) => Except::Socket(*id),
            Skip::Session(session) => Except::Session(session),
        }
    }
}

struct Track {
    workspace_id: String,
    /// The first seq tracked: an older message offered late (committed before this node
    /// began tracking, published after) is delivered as it comes, as without a bus.
    floor: i64,
    /// The seq delivered next.
    next: i64,
    /// Messages that came before their predecessors.
    pending: BTreeMap<i64, (Message, Skip)>,
    /// The highest seq known committed; `i64::MAX` while resyncing.
    want: i64,
    /// A fill task runs for this conversation.
    filling: bool,
}

impl Track {
    fn new(workspace_id: &str, next: i64) -> Self {
        Track {
            workspace_id: workspace_id.to_string(),
            floor: next,
            next,
            pending: BTreeMap::new(),
            want: next - 1,
            filling: false,
        }
    }
}

pub struct Sequencer {
    db: Db,
    bus: Arc<dyn Bus>,
    hub: Weak<Hub>,
    endings: Arc<Endings>,
    tracks: Mutex<HashMap<String, Track>>,
}

impl std::fmt::Debug for Sequencer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sequencer")
            .field("node", &self.bus.node_id())
            .finish_non_exhaustive()
    }
}

/// Whether anyone here hears the conversation's messages: its subscribers, and its agents
/// unless it is a preview.
fn has_subscribers(hub: &Hub, workspace_id: &str, conversation_id: &str) -> bool {
    let mut topics = vec![Topic::conversation(conversation_id)];
    if !crate::usage::preview::is_preview_conversation(conversation_id) {
        topics.push(Topic::Workspace(workspace_id.to_string()));
    }
    hub.has_subscribers(&topics)
}

impl Sequencer {
    pub fn new(db: Db, bus: Arc<dyn Bus>, hub: Weak<Hub>, endings: Arc<Endings>) -> Self {
        Sequencer {
            db,
            bus,
            hub,
            endings,
            tracks: Mutex::default(),
        }
    }

    pub fn bus(&self) -> &Arc<dyn Bus> {
        &self.bus
    }

    fn tracks(&self) -> std::sync::MutexGuard<'_, HashMap<String, Track>> {
        self.tracks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The track of a conversation this node has subscribers for; forgets it otherwise.
    fn track<'a>(
        tracks: &'a mut HashMap<String, Track>,
        hub: &Hub,
        workspace_id: &str,
        conversation_id: &str,
        next: i64,
    ) -> Option<&'a mut Track> {
        if !has_subscribers(hub, workspace_id, conversation_id) {
            tracks.remove(conversation_id);
            return None;
        }
        Some(
            tracks
                .entry(conversation_id.to_string())
                .or_insert_with(|| Track::new(workspace_id, next)),
        )
    }

    /// Tracks a conversation from `last_seq + 1` if this node tracks it not yet (as `track`,
    /// only while it has subscribers here): a subscriber just read it up to `last_seq`. A
    /// track begun at the first message heard instead started there, and skipped for good an
    /// older one whose signal came later (another node committed it first): a listener here
    /// never got it.
    pub fn watch(&self, hub: &Hub, workspace_id: &str, conversation_id: &str, last_seq: i64) {
        Self::track(
            &mut self.tracks(),
            hub,
            workspace_id,
            conversation_id,
            last_seq + 1,
        );
    }

    /// A committed message to deliver here: now if it is the next, later if it is early,
    /// never if it was delivered.
    pub fn offer(self: &Arc<Self>, hub: &Hub, workspace_id: &str, message: Message, skip: Skip) {
        let conversation_id = message.conversation_id.clone();
        let mut tracks = self.tracks();
        let Some(track) = Self::track(
            &mut tracks,
            hub,
            workspace_id,
            &conversation_id,
            message.seq,
        ) else {
            return;
        };
        if message.seq < track.floor {
            let except = skip.except();
            return publish::local_in_conversation(
                hub,
                workspace_id,
                &conversation_id,
                ServerEvent::Message { message },
                except,
            );
        }
        if message.seq < track.next || track.pending.contains_key(&message.seq) {
            return;
        }
        track.pending.insert(message.seq, (message, skip));
        // Delivered under the lock, so two callers cannot swap the order.
        drain(hub, track);
        if let Some((&last, _)) = track.pending.last_key_value() {
            track.want = track.want.max(last);
            self.fill_soon(track, &conversation_id);
        }
    }

    /// A message delivered otherwise (a new conversation's first, to its whole audience).
    pub fn delivered(&self, hub: &Hub, workspace_id: &str, conversation_id: &str, seq: i64) {
        let mut tracks = self.tracks();
        if let Some(track) = Self::track(&mut tracks, hub, workspace_id, conversation_id, seq + 1) {
            if track.next == seq {
                track.next = seq + 1;
                drain(hub, track);
            }
        }
    }

    fn fill_soon(self: &Arc<Self>, track: &mut Track, conversation_id: &str) {
        if !track.filling && track.want >= track.next {
            track.filling = true;
            tokio::spawn(Arc::clone(self).fill(conversation_id.to_string()));
        }
    }

    /// Reads the conversation from its next seq until what is wanted is delivered.
    async fn fill(self: Arc<Self>, conversation_id: String) {
        loop {
            let Some(hub) = self.hub.upgrade() else {
                return;
            };
            let (after, workspace_id) = {
                let mut tracks = self.tracks();
                let Some(track) = tracks.get_mut(&conversation_id) else {
                    return;
                };
                if track.next > track.want {
                    track.filling = false;
                    return;
                }
                (track.next - 1, track.workspace_id.clone())
            };
            let page = self
                .db
                .messages_after(&conversation_id, after, FILL_PAGE)
                .await;
            match page {
                Ok(messages) if !messages.is_empty() => {
                    for message in messages {
                        self.offer(&hub, &workspace_id, message, Skip::Nobody);
                    }
                }
                outcome => {
                    if let Err(error) = outcome {
                        tracing::error!(%error, "bus: filling a gap");
                    }
                    // Nothing more committed: deliver what is held and stop.
                    let mut tracks = self.tracks();
                    if let Some(track) = tracks.get_mut(&conversation_id) {
                        if let Some((&first, _)) = track.pending.first_key_value() {
                            track.next = first;
                            drain(&hub, track);
                        }
                        track.want = track.next - 1;
                        track.filling = false;
                    }
                    return;
                }
            }
        }
    }

    /// Reads every tracked conversation again from its next seq.
    fn resync(self: &Arc<Self>) {
        let mut tracks = self.tracks();
        for (conversation_id, track) in tracks.iter_mut() {
            track.want = i64::MAX;
            self.fill_soon(track, conversation_id);
        }
    }

    /// What the listener heard, one at a time.
    pub async fn heard(self: &Arc<Self>, heard: Heard) {
        let Some(hub) = self.hub.upgrade() else {
            return;
        };
        let signal = match heard {
            Heard::Reconnected => {
                // Whatever changed meanwhile went unheard: authors are read again too.
                self.db.identity_version().bump();
                return self.resync();
            }
            Heard::Signal(signal) => *signal,
        };
        match signal {
            Signal::Msgs { msgs } => {
                let mut tracks = self.tracks();
                for (workspace_id, conversation_id, first, last) in msgs {
                    if let Some(track) =
                        Self::track(&mut tracks, &hub, &workspace_id, &conversation_id, first)
                    {
                        track.want = track.want.max(last);
                        self.fill_soon(track, &conversation_id);
                    }
                }
            }
            Signal::Reload => self.resync(),
            Signal::Started {
                workspace_id,
                conversation_id,
            } => {
                let found = self
                    .db
                    .find_conversation(&workspace_id, &conversation_id)
                    .await;
                // Its opening messages (one, or a capture's two): each to its whole
                // audience, as the starting node published them.
                let opening = self.db.messages_after(&conversation_id, 0, FILL_PAGE).await;
                match (found, opening) {
                    (Ok(Some(conversation)), Ok(opening)) => {
                        if !opening.is_empty() {
                            publish::local_conversation_opened(
                                &hub,
                                &workspace_id,
                                &conversation,
                                &opening,
                                Except::Nobody,
                            );
                            for message in &opening {
                                self.delivered(&hub, &workspace_id, &conversation_id, message.seq);
                            }
                        }
                    }
                    (Ok(None), _) => {}
                    (Err(error), _) | (_, Err(error)) => {
                        tracing::error!(%error, "bus: a started conversation");
                    }
                }
            }
            Signal::Conversation {
                workspace_id,
                conversation_id,
            } => match self
                .db
                .find_conversation(&workspace_id, &conversation_id)
                .await
            {
                Ok(Some(conversation)) => publish::local_conversation_updated(
                    &hub,
                    &workspace_id,
                    &conversation,
                    Except::Nobody,
                ),
                Ok(None) => {}
                Err(error) => tracing::error!(%error, "bus: a changed conversation"),
            },
            Signal::Event {
                workspace_id,
                conversation_id,
                event,
            } => {
                if matches!(
                    event,
                    ServerEvent::Typing { .. }
                        | ServerEvent::Read { .. }
                        | ServerEvent::Call { .. }
                ) {
                    publish::local_in_conversation(
                        &hub,
                        &workspace_id,
                        &conversation_id,
                        event,
                        Except::Nobody,
                    );
                }
            }
            Signal::ToParty { party, event } => {
                hub.publish(&[Topic::Party(party)], event, Except::Nobody);
            }
            Signal::ToAgents {
                workspace_id,
                event,
            } => hub.publish(&[Topic::Workspace(workspace_id)], event, Except::Nobody),
            Signal::ToAdmins {
                workspace_id,
                event,
            } => hub.publish(&[Topic::Admins(workspace_id)], event, Except::Nobody),
            Signal::EndAgent {
                agent_id,
                password_reset,
            } => {
                let reason = if password_reset {
                    close_reason::PASSWORD_RESET
                } else {
                    close_reason::AGENT_REMOVED
                };
                let end = End {
                    code: close_code::SIGNED_OUT,
                    reason,
                };
                self.endings.end(&Credential::Agent(agent_id), end);
            }
            Signal::Identities => self.db.identity_version().bump(),
            Signal::EndKey { kid } => {
                let end = End {
                    code: close_code::KEY_RETIRED,
                    reason: close_reason::KEY_RETIRED,
                };
                self.endings.end(&Credential::SigningKey(kid), end);
            }
        }
    }
}

/// Delivers the held messages that are next, in order.
fn drain(hub: &Hub, track: &mut Track) {
    while let Some(entry) = track.pending.first_entry() {
        if *entry.key() != track.next {
            break;
        }
        let (message, skip) = entry.remove();
        track.next += 1;
        publish::local_in_conversation(
            hub,
            &track.workspace_id,
            &message.conversation_id.clone(),
            ServerEvent::Message { message },
            skip.except(),
        );
    }
}

/// Starts the node's listener and hands what it hears to the sequencer.
pub fn start(sequencer: Arc<Sequencer>) {
    let (heard, mut hearing) = mpsc::channel(1024);
    sequencer.bus.start(heard);
    tokio::spawn(async move {
        while let Some(heard) = hearing.recv().await {
            sequencer.heard(heard).await;
        }
    });
}
