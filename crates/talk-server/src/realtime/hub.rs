//! In-process fan-out keyed by topic. Publishing never waits: a subscriber whose queue is
//! full, in events or in bytes, is told to close (it reconnects and resumes), so one slow
//! client can neither hold up the others nor grow the server's memory without limit.

use super::sequencer::Sequencer;
use super::{MAX_QUEUED_BYTES, QUEUE_CAPACITY};
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use talk_protocol::ServerEvent;
use tokio::sync::Notify;
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
    /// What only a workspace's admins see (quota warnings): its admins' inbox sockets.
    Admins(String),
    /// One side of a call (`crate::calls`): a widget session's connections, or one inbox
    /// connection. Subscribed only once the session has seen a call.
    Party(String),
}

impl Topic {
    pub fn conversation(conversation_id: &str) -> Self {
        Topic::Conversation(conversation_id.to_string())
    }
}

/// An event as published: one allocation shared by every subscriber's queue, encoded to JSON
/// once, by whichever connection writes it first, for all of them.
#[derive(Debug)]
pub struct Published {
    event: ServerEvent,
    json: OnceLock<Box<str>>,
}

impl Published {
    pub fn new(event: ServerEvent) -> Arc<Self> {
        Arc::new(Published {
            event,
            json: OnceLock::new(),
        })
    }

    /// The event's JSON text (what a WebSocket frame or an SSE `data:` line carries).
    pub fn json(&self) -> &str {
        self.json.get_or_init(|| {
            // Protocol types are plain structs and strings: encoding cannot fail.
            serde_json::to_string(&self.event)
                .expect("server events encode")
                .into_boxed_str()
        })
    }
}

impl std::ops::Deref for Published {
    type Target = ServerEvent;

    fn deref(&self) -> &ServerEvent {
        &self.event
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

/// Events waiting for one connection, bounded by `QUEUE_CAPACITY` events and
/// `MAX_QUEUED_BYTES`: the hub's side.
#[derive(Debug, Clone)]
pub struct Queue {
    shared: Arc<QueueState>,
}

/// The connection's side of its queue.
#[derive(Debug)]
pub struct Outgoing {
    shared: Arc<QueueState>,
}

/// A list under a lock and a wake-up, not a tokio channel: every live connection has one,
/// and the channel allocated ~820 B (a block of 32 slots) before its first event, where
/// this takes ~150 (`socket::footprint`).
#[derive(Debug)]
struct QueueState {
    events: Mutex<QueuedEvents>,
    capacity: usize,
    bytes: AtomicUsize,
    arrived: Notify,
}

#[derive(Debug, Default)]
struct QueuedEvents {
    queued: VecDeque<Arc<Published>>,
    /// The connection's side was dropped: nothing will read what is queued.
    closed: bool,
}

/// Why an event was not queued.
#[derive(Debug, PartialEq, Eq)]
enum Refused {
    Full,
    Closed,
}

/// A new connection's queue.
pub fn queue() -> (Queue, Outgoing) {
    queue_of(QUEUE_CAPACITY)
}

fn queue_of(capacity: usize) -> (Queue, Outgoing) {
    let shared = Arc::new(QueueState {
        events: Mutex::new(QueuedEvents::default()),
        capacity,
        bytes: AtomicUsize::new(0),
        arrived: Notify::new(),
    });
    let queue = Queue {
        shared: Arc::clone(&shared),
    };
    (queue, Outgoing { shared })
}

impl QueueState {
    fn events(&self) -> std::sync::MutexGuard<'_, QueuedEvents> {
        self.events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Queue {
    fn try_send(&self, event: &Arc<Published>) -> Result<(), Refused> {
        let mut events = self.shared.events();
        if events.closed {
            return Err(Refused::Closed);
        }
        if events.queued.len() >= self.shared.capacity {
            return Err(Refused::Full);
        }
        events.queued.push_back(Arc::clone(event));
        drop(events);
        // Kept as a permit when the connection is not waiting right now.
        self.shared.arrived.notify_one();
        Ok(())
    }
}

impl Outgoing {
    /// The next event, in the order queued; pending until there is one. Cancel-safe: an
    /// event is taken only when this returns it.
    pub async fn recv(&mut self) -> Arc<Published> {
        loop {
            if let Some(event) = self.try_recv() {
                return event;
            }
            self.shared.arrived.notified().await;
        }
    }

    /// An event already queued, without waiting: what a connection writes in the same batch.
    pub fn try_recv(&mut self) -> Option<Arc<Published>> {
        let event = self.shared.events().queued.pop_front()?;
        self.shared
            .bytes
            .fetch_sub(weight(&event), Ordering::Relaxed);
        Some(event)
    }
}

impl Drop for Outgoing {
    fn drop(&mut self) {
        let mut events = self.shared.events();
        events.closed = true;
        events.queued.clear();
    }
}

/// Roughly what a queued event holds: its message's text, else a few short strings.
fn weight(event: &ServerEvent) -> usize {
    const SMALL: usize = 256;
    match event {
        ServerEvent::Message { message } | ServerEvent::Ack { message, .. } => {
            SMALL + message.body.len()
        }
        _ => SMALL,
    }
}

/// A connection's end of the hub: its outgoing queue and the signal that it fell behind.
#[derive(Debug, Clone)]
pub struct Subscriber {
    pub id: SocketId,
    session_id: Arc<str>,
    queue: Queue,
    too_slow: CancellationToken,
}

impl Subscriber {
    pub fn new(id: SocketId, session_id: &str, queue: Queue, too_slow: CancellationToken) -> Self {
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

    fn deliver(&self, event: &Arc<Published>) {
        let weight = weight(event);
        let bytes = &self.queue.shared.bytes;
        let queued = bytes.fetch_add(weight, Ordering::Relaxed);
        if queued + weight > MAX_QUEUED_BYTES {
            bytes.fetch_sub(weight, Ordering::Relaxed);
            self.too_slow.cancel();
            return;
        }
        match self.queue.try_send(event) {
            Ok(()) => {}
            Err(Refused::Full) => {
                bytes.fetch_sub(weight, Ordering::Relaxed);
                self.too_slow.cancel();
            }
            // The connection is ending and will unsubscribe itself.
            Err(Refused::Closed) => {
                bytes.fetch_sub(weight, Ordering::Relaxed);
            }
        }
    }
}

#[derive(Debug, Default)]
pub struct Hub {
    next_socket_id: AtomicU64,
    /// Each topic's subscribers in a list, not a map: nearly every topic has one or two (a
    /// visitor's own topic, a conversation's tabs), and a one-entry map allocated ~250 B
    /// per topic where a list takes one subscriber's 48 (`socket::footprint`).
    topics: Mutex<HashMap<Topic, Vec<Subscriber>>>,
    /// With a bus (several nodes): orders messages and talks to the other nodes.
    sequencer: OnceLock<Arc<Sequencer>>,
}

impl Hub {
    pub fn new() -> Self {
        Hub::default()
    }

    /// Puts messages through the sequencer from now on (a node with a bus).
    pub fn set_sequencer(&self, sequencer: Arc<Sequencer>) {
        let _ = self.sequencer.set(sequencer);
    }

    pub fn sequencer(&self) -> Option<&Arc<Sequencer>> {
        self.sequencer.get()
    }

    /// Whether any of the topics has a subscriber on this node.
    pub fn has_subscribers(&self, topics: &[Topic]) -> bool {
        let all = self.topics();
        topics.iter().any(|topic| all.contains_key(topic))
    }

    pub fn next_socket_id(&self) -> SocketId {
        self.next_socket_id.fetch_add(1, Ordering::Relaxed)
    }

    fn topics(&self) -> std::sync::MutexGuard<'_, HashMap<Topic, Vec<Subscriber>>> {
        self.topics
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn subscribe(&self, topic: &Topic, subscriber: &Subscriber) {
        let mut all = self.topics();
        let subscribers = all.entry(topic.clone()).or_default();
        match subscribers
            .iter_mut()
            .find(|known| known.id == subscriber.id)
        {
            Some(known) => *known = subscriber.clone(),
            None => subscribers.push(subscriber.clone()),
        }
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
                subscribers.retain(|subscriber| subscriber.id != socket_id);
                if subscribers.is_empty() {
                    all.remove(topic);
                }
            }
        }
    }

    /// Queues the event once for every subscriber of any of the topics, except `except`.
    pub fn publish(&self, topics: &[Topic], event: ServerEvent, except: Except) {
        let event = Published::new(event);
        let all = self.topics();
        let mut reached = HashSet::new();
        for subscribers in topics.iter().filter_map(|topic| all.get(topic)) {
            for subscriber in subscribers {
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
        let (tx_a, mut rx_a) = queue_of(1);
        let (tx_b, mut rx_b) = queue_of(1);
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
        assert!(rx_a.try_recv().is_none());
        assert_eq!(**rx_b.try_recv().unwrap(), ServerEvent::Pong);
        hub.publish(
            std::slice::from_ref(&topic),
            ServerEvent::Pong,
            Except::Session("s2"),
        );
        assert_eq!(**rx_a.try_recv().unwrap(), ServerEvent::Pong);
        assert!(rx_b.try_recv().is_none());

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
    fn every_subscriber_shares_one_event_encoded_once() {
        let hub = Hub::new();
        let topic = Topic::conversation("c1");
        let (queue_a, mut rx_a) = queue();
        let (queue_b, mut rx_b) = queue();
        for (id, queue) in [(1, queue_a), (2, queue_b)] {
            hub.subscribe(
                &topic,
                &Subscriber::new(id, "s", queue, CancellationToken::new()),
            );
        }
        hub.publish(&[topic], ServerEvent::Pong, Except::Nobody);
        let (a, b) = (rx_a.try_recv().unwrap(), rx_b.try_recv().unwrap());
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.json(), r#"{"type":"pong"}"#);
        assert!(std::ptr::eq(a.json(), b.json()), "one encoding for both");
    }

    fn numbered(seq: i64) -> ServerEvent {
        ServerEvent::Message {
            message: talk_protocol::Message {
                id: format!("m{seq}"),
                conversation_id: "c".into(),
                seq,
                author: talk_protocol::Author {
                    kind: talk_protocol::AuthorKind::Agent,
                    name: None,
                },
                body: "x".into(),
                client_msg_id: None,
                created_at: 1,
            },
        }
    }

    fn seq_of(event: &Published) -> i64 {
        match &**event {
            ServerEvent::Message { message } => message.seq,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_queue_keeps_order_and_wakes_a_waiting_connection() {
        let hub = Hub::new();
        let (tx, mut rx) = queue();
        let subscriber = Subscriber::new(hub.next_socket_id(), "s", tx, CancellationToken::new());
        let topic = Topic::conversation("c");
        hub.subscribe(&topic, &subscriber);
        let waiting = tokio::spawn(async move {
            let mut seqs = Vec::new();
            for _ in 0..100 {
                seqs.push(seq_of(&*rx.recv().await));
            }
            (seqs, rx)
        });
        tokio::task::yield_now().await;
        for seq in 1..=100 {
            hub.publish(std::slice::from_ref(&topic), numbered(seq), Except::Nobody);
        }
        let (seqs, mut rx) = waiting.await.unwrap();
        assert_eq!(seqs, (1..=100).collect::<Vec<_>>());
        assert!(rx.try_recv().is_none());
    }

    #[test]
    fn a_connection_gone_is_not_queued_for_nor_flagged_too_slow() {
        let hub = Hub::new();
        let (tx, rx) = queue_of(1);
        let slow = CancellationToken::new();
        let subscriber = Subscriber::new(hub.next_socket_id(), "s", tx, slow.clone());
        let topic = Topic::conversation("c");
        hub.subscribe(&topic, &subscriber);
        drop(rx);
        for seq in 1..=3 {
            hub.publish(std::slice::from_ref(&topic), numbered(seq), Except::Nobody);
        }
        assert!(!slow.is_cancelled());
        assert_eq!(subscriber.queue.shared.bytes.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn subscribing_a_socket_twice_to_a_topic_delivers_once_and_one_unsubscribe_ends_it() {
        let hub = Hub::new();
        let (tx, mut rx) = queue();
        let subscriber = Subscriber::new(hub.next_socket_id(), "s", tx, CancellationToken::new());
        let (other_tx, mut other_rx) = queue();
        let other = Subscriber::new(
            hub.next_socket_id(),
            "t",
            other_tx,
            CancellationToken::new(),
        );
        let topic = Topic::conversation("c");
        hub.subscribe(&topic, &subscriber);
        hub.subscribe(&topic, &other);
        hub.subscribe(&topic, &subscriber);
        hub.publish(
            std::slice::from_ref(&topic),
            ServerEvent::Pong,
            Except::Nobody,
        );
        assert!(rx.try_recv().is_some());
        assert!(rx.try_recv().is_none());
        hub.unsubscribe(subscriber.id, [&topic]);
        hub.publish(
            std::slice::from_ref(&topic),
            ServerEvent::Pong,
            Except::Nobody,
        );
        assert!(rx.try_recv().is_none());
        assert_eq!(
            other_rx.try_recv().map(|event| event.json().to_string()),
            Some(r#"{"type":"pong"}"#.into())
        );
        assert_eq!(hub.topic_count(), 1);
    }

    #[test]
    fn a_subscriber_of_several_topics_gets_an_event_once() {
        let hub = Hub::new();
        let (tx, mut rx) = queue_of(4);
        let subscriber = Subscriber::new(hub.next_socket_id(), "s", tx, CancellationToken::new());
        let visitor = Topic::Visitor {
            workspace_id: "w".into(),
            visitor_id: "v".into(),
        };
        let conversation = Topic::conversation("c");
        hub.subscribe(&visitor, &subscriber);
        hub.subscribe(&conversation, &subscriber);
        hub.publish(&[conversation, visitor], ServerEvent::Pong, Except::Nobody);
        assert_eq!(**rx.try_recv().unwrap(), ServerEvent::Pong);
        assert!(rx.try_recv().is_none());
    }

    #[test]
    fn a_queue_over_its_byte_bound_flags_too_slow_and_draining_frees_it() {
        let hub = Hub::new();
        let (tx, mut rx) = queue();
        let slow = CancellationToken::new();
        let subscriber = Subscriber::new(hub.next_socket_id(), "s", tx, slow.clone());
        let topic = Topic::conversation("c");
        hub.subscribe(&topic, &subscriber);
        let big = || ServerEvent::Message {
            message: talk_protocol::Message {
                id: "m".into(),
                conversation_id: "c".into(),
                seq: 1,
                author: talk_protocol::Author {
                    kind: talk_protocol::AuthorKind::Agent,
                    name: None,
                },
                body: "x".repeat(talk_protocol::MAX_MESSAGE_BYTES),
                client_msg_id: None,
                created_at: 1,
            },
        };
        let fits = MAX_QUEUED_BYTES / weight(&big());
        assert!(fits < QUEUE_CAPACITY, "the bytes bind before the count");
        for _ in 0..fits {
            hub.publish(std::slice::from_ref(&topic), big(), Except::Nobody);
        }
        assert!(!slow.is_cancelled());
        // Reading one makes room for one more …
        rx.try_recv().unwrap();
        hub.publish(std::slice::from_ref(&topic), big(), Except::Nobody);
        assert!(!slow.is_cancelled());
        // … and one past the bound closes the connection.
        hub.publish(std::slice::from_ref(&topic), big(), Except::Nobody);
        assert!(slow.is_cancelled());
    }
}
