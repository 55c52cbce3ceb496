//! In-process fan-out keyed by topic. Publishing never waits: a subscriber whose queue is
//! full is told to close (it reconnects and resumes), so one slow client can't hold up the
//! others.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use talk_protocol::ServerEvent;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub type SocketId = u64;

/// What a live connection (WebSocket or SSE stream) listens to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Everything that happens in one conversation.
    Conversation(String),
    /// Conversations a visitor starts, so its other tabs learn about them.
    Visitor {
        workspace_id: String,
        visitor_id: String,
    },
    /// Verified conversations a person starts, for that person's verified sessions elsewhere.
    Person {
        workspace_id: String,
        person_id: String,
    },
    /// Everything in every conversation of a workspace: the agents' inbox sockets.
    Workspace(String),
}

impl Topic {
    pub fn conversation(conversation_id: &str) -> Self {
        Topic::Conversation(conversation_id.to_string())
    }
}

/// Whom a publish leaves out: the origin of the event, which learns of it otherwise.
#[derive(Debug, Clone, Copy)]
pub enum Except<'a> {
    Nobody,
    Socket(SocketId),
    /// Every connection of this browser session.
    Session(&'a str),
}

/// A connection's end of the hub: its outgoing queue and the signal that it fell behind.
#[derive(Debug, Clone)]
pub struct Subscriber {
    pub id: SocketId,
    session_id: Arc<str>,
    queue: mpsc::Sender<Arc<ServerEvent>>,
    too_slow: CancellationToken,
}

impl Subscriber {
    pub fn new(
        id: SocketId,
        session_id: &str,
        queue: mpsc::Sender<Arc<ServerEvent>>,
        too_slow: CancellationToken,
    ) -> Self {
        Subscriber {
            id,
            session_id: session_id.into(),
            queue,
            too_slow,
        }
    }

    fn is_excluded(&self, except: Except) -> bool {
        match except {
            Except::Nobody => false,
            Except::Socket(id) => self.id == id,
            Except::Session(session_id) => &*self.session_id == session_id,
        }
    }

    fn deliver(&self, event: &Arc<ServerEvent>) {
        match self.queue.try_send(Arc::clone(event)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => self.too_slow.cancel(),
            // The connection is ending and will unsubscribe itself.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

#[derive(Debug, Default)]
pub struct Hub {
    next_socket_id: AtomicU64,
    topics: Mutex<HashMap<Topic, HashMap<SocketId, Subscriber>>>,
}

impl Hub {
    pub fn new() -> Self {
        Hub::default()
    }

    pub fn next_socket_id(&self) -> SocketId {
        self.next_socket_id.fetch_add(1, Ordering::Relaxed)
    }

    fn topics(&self) -> std::sync::MutexGuard<'_, HashMap<Topic, HashMap<SocketId, Subscriber>>> {
        self.topics
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn subscribe(&self, topic: &Topic, subscriber: &Subscriber) {
        self.topics()
            .entry(topic.clone())
            .or_default()
            .insert(subscriber.id, subscriber.clone());
    }

    /// Removes the socket from these topics and drops topics left empty.
    pub fn unsubscribe<'a>(
        &self,
        socket_id: SocketId,
        topics: impl IntoIterator<Item = &'a Topic>,
    ) {
        let mut all = self.topics();
        for topic in topics {
            if let Some(subscribers) = all.get_mut(topic) {
                subscribers.remove(&socket_id);
                if subscribers.is_empty() {
                    all.remove(topic);
                }
            }
        }
    }

    /// Queues the event once for every subscriber of any of the topics, except `except`.
    pub fn publish(&self, topics: &[Topic], event: ServerEvent, except: Except) {
        let event = Arc::new(event);
        let all = self.topics();
        let mut reached = HashSet::new();
        for subscribers in topics.iter().filter_map(|topic| all.get(topic)) {
            for subscriber in subscribers.values() {
                if !subscriber.is_excluded(except) && reached.insert(subscriber.id) {
                    subscriber.deliver(&event);
                }
            }
        }
    }

    /// How many topics have live subscribers.
    pub fn topic_count(&self) -> usize {
        self.topics().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_skips_sender_and_full_queue_flags_too_slow() {
        let hub = Hub::new();
        let (tx_a, mut rx_a) = mpsc::channel(1);
        let (tx_b, mut rx_b) = mpsc::channel(1);
        let slow_b = CancellationToken::new();
        let a = Subscriber::new(hub.next_socket_id(), "s1", tx_a, CancellationToken::new());
        let b = Subscriber::new(hub.next_socket_id(), "s2", tx_b, slow_b.clone());
        let topic = Topic::conversation("c");
        hub.subscribe(&topic, &a);
        hub.subscribe(&topic, &b);

        hub.publish(
            std::slice::from_ref(&topic),
            ServerEvent::Pong,
            Except::Socket(a.id),
        );
        assert!(rx_a.try_recv().is_err());
        assert_eq!(*rx_b.try_recv().unwrap(), ServerEvent::Pong);
        hub.publish(
            std::slice::from_ref(&topic),
            ServerEvent::Pong,
            Except::Session("s2"),
        );
        assert_eq!(*rx_a.try_recv().unwrap(), ServerEvent::Pong);
        assert!(rx_b.try_recv().is_err());

        hub.publish(
            std::slice::from_ref(&topic),
            ServerEvent::Pong,
            Except::Nobody,
        );
        hub.publish(
            std::slice::from_ref(&topic),
            ServerEvent::Pong,
            Except::Nobody,
        );
        assert!(slow_b.is_cancelled());

        hub.unsubscribe(a.id, [&topic]);
        hub.unsubscribe(b.id, [&topic]);
        assert_eq!(hub.topic_count(), 0);
    }

    #[test]
    fn a_subscriber_of_several_topics_gets_an_event_once() {
        let hub = Hub::new();
        let (tx, mut rx) = mpsc::channel(4);
        let subscriber = Subscriber::new(hub.next_socket_id(), "s", tx, CancellationToken::new());
        let visitor = Topic::Visitor {
            workspace_id: "w".into(),
            visitor_id: "v".into(),
        };
        let conversation = Topic::conversation("c");
        hub.subscribe(&visitor, &subscriber);
        hub.subscribe(&conversation, &subscriber);
        hub.publish(&[conversation, visitor], ServerEvent::Pong, Except::Nobody);
        assert_eq!(*rx.try_recv().unwrap(), ServerEvent::Pong);
        assert!(rx.try_recv().is_err());
    }
}
