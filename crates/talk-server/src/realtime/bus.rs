//! Cross-node fan-out. Each node's [`Hub`](super::Hub) delivers to its own connections; a
//! [`Bus`] carries signals between nodes that share one database. The single-node SQLite
//! server has no bus at all (`None`: no overhead). PostgreSQL's bus is `LISTEN/NOTIFY`
//! ([`postgres`]); what it carries is small (ids and seqs), and a receiving node loads the
//! rest from the database, so a lost or repeated signal costs a query, never a message: see
//! [`super::sequencer`].

pub mod postgres;

use serde::{Deserialize, Serialize};
use talk_protocol::ServerEvent;
use tokio::sync::mpsc;

/// The `LISTEN/NOTIFY` channel.
pub const CHANNEL: &str = "talk";
/// PostgreSQL refuses payloads of 8,000 bytes or more; past this a batch says [`Signal::Reload`].
pub const MAX_PAYLOAD: usize = 7_900;

/// What one node tells the others.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Signal {
    /// Messages committed (sent in the committing transaction): per conversation
    /// `[workspace_id, conversation_id, first seq, last seq]`.
    Msgs {
        msgs: Vec<(String, String, i64, i64)>,
    },
    /// A batch too big to name: resync every conversation tracked.
    Reload,
    /// A conversation was started with its opening messages (seq 1, or a capture's 1 and 2),
    /// in that transaction.
    Started {
        workspace_id: String,
        conversation_id: String,
    },
    /// A conversation's state changed (closed, reopened, assigned): load it and publish.
    Conversation {
        workspace_id: String,
        conversation_id: String,
    },
    /// Typing (best effort, never stored) or a read receipt: small, so sent whole.
    Event {
        workspace_id: String,
        conversation_id: String,
        event: ServerEvent,
    },
    /// A call's signalling step for one side ([`super::hub::Topic::Party`]): sent whole.
    ToParty { party: String, event: ServerEvent },
    /// For the workspace's agents only (a bot's handoff): sent whole.
    ToAgents {
        workspace_id: String,
        event: ServerEvent,
    },
    /// For the workspace's admins only (a quota warning): sent whole.
    ToAdmins {
        workspace_id: String,
        event: ServerEvent,
    },
    /// The agent was removed or its password reset: end its inbox sockets.
    EndAgent {
        agent_id: String,
        password_reset: bool,
    },
    /// The signing key was retired: end the widget connections resting on it.
    EndKey { kid: String },
    /// A person was saved, or a visitor linked or its claim recorded: sessions read their
    /// authors again ([`crate::store::IdentityVersion`]).
    Identities,
}

/// A signal as sent: the sending node's id and the signal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    pub node: String,
    #[serde(flatten)]
    pub signal: Signal,
}

impl Envelope {
    /// The payload to NOTIFY; a message batch too big to name becomes [`Signal::Reload`].
    pub fn payload(node: &str, signal: Signal) -> String {
        let envelope = Envelope {
            node: node.to_string(),
            signal,
        };
        let text = serde_json::to_string(&envelope).unwrap_or_default();
        if text.len() <= MAX_PAYLOAD {
            return text;
        }
        serde_json::to_string(&Envelope {
            node: node.to_string(),
            signal: Signal::Reload,
        })
        .unwrap_or_default()
    }
}

/// What a node's listener hears.
#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    /// Another node's signal.
    Signal(Box<Signal>),
    /// The listener was reconnected: whatever was sent meanwhile is lost, so resync.
    Reconnected,
}

/// Carries signals between nodes. Delivery is at most once and in no promised order: the
/// receiver's sequencer makes message delivery exact.
pub trait Bus: Send + Sync + 'static {
    /// This node's id, which its own signals carry (and its listener ignores).
    fn node_id(&self) -> &str;
    /// Sends a signal after its write committed; never waits (queued, dropped when the queue
    /// is full: typing is best effort, the rest is made good by resync and heartbeats).
    fn notify(&self, signal: Signal);
    /// Starts listening: other nodes' signals and reconnections go to `heard`.
    fn start(&self, heard: mpsc::Sender<Heard>);
    /// The database backend id of the listening connection, once connected (tests end it).
    fn listener_pid(&self) -> Option<i32> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_too_big_to_name_says_reload() {
        let small = Signal::Msgs {
            msgs: vec![("w".into(), "c".into(), 1, 2)],
        };
        let text = Envelope::payload("n", small.clone());
        let back: Envelope = serde_json::from_str(&text).unwrap();
        assert_eq!((back.node.as_str(), back.signal), ("n", small));
        let big = Signal::Msgs {
            msgs: (0..200)
                .map(|i| ("w".repeat(24), format!("{i:024}"), 1, 2))
                .collect(),
        };
        let text = Envelope::payload("n", big);
        assert!(text.len() < MAX_PAYLOAD);
        let back: Envelope = serde_json::from_str(&text).unwrap();
        assert_eq!(back.signal, Signal::Reload);
    }
}
