//! In-process fan-out keyed by conversation id. Publishing never waits: a socket whose
//! queue is full is told to close (it reconnects and resumes), so one slow client can't
//! hold up the others.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use talk_protocol::ServerEvent;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub type SocketId = u64;

/// A socket's end of the hub: its outgoing queue and the signal that it fell behind.
#[derive(Debug, Clone)]
pub struct Subscriber {
    pub id: SocketId,
    queue: mpsc::Sender<Arc<ServerEvent>>,
    too_slow: CancellationToken,
}

impl Subscriber {
    pub fn new(
        id: SocketId,
        queue: mpsc::Sender<Arc<ServerEvent>>,
        too_slow: CancellationToken,
    ) -> Self {
        Subscriber {
            id,
            queue,
            too_slow,
        }
    }

    fn deliver(&self, event: &Arc<ServerEvent>) {
        match self.queue.try_send(Arc::clone(event)) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => self.too_slow.cancel(),
            // The socket is ending and will unsubscribe itself.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

#[derive(Debug, Default)]
pub struct Hub {
    next_socket_id: AtomicU64,
    topics: Mutex<HashMap<String, HashMap<SocketId, Subscriber>>>,
}

impl Hub {
    pub fn new() -> Self {
        Hub::default()
    }

    pub fn next_socket_id(&self) -> SocketId {
        self.next_socket_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn subscribe(&self, conversation_id: &str, subscriber: &Subscriber) {
        let mut topics = self
            .topics
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        topics
            .entry(conversation_id.to_string())
            .or_default()
            .insert(subscriber.id, subscriber.clone());
    }

    /// Removes the socket from these topics and drops topics left empty.
    pub fn unsubscribe<'a>(
        &self,
        socket_id: SocketId,
        conversation_ids: impl IntoIterator<Item = &'a String>,
    ) {
        let mut topics = self
            .topics
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for conversation_id in conversation_ids {
            if let Some(subscribers) = topics.get_mut(conversation_id) {
                subscribers.remove(&socket_id);
                if subscribers.is_empty() {
                    topics.remove(conversation_id);
                }
            }
        }
    }

    /// Queues the event for every subscriber of the conversation except `except`.
    pub fn publish(&self, conversation_id: &str, event: ServerEvent, except: Option<SocketId>) {
        let event = Arc::new(event);
        let topics = self
            .topics
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(subscribers) = topics.get(conversation_id) {
            for subscriber in subscribers.values() {
                if Some(subscriber.id) != except {
                    subscriber.deliver(&event);
                }
            }
        }
    }

    /// How many conversations have live subscribers.
    pub fn topic_count(&self) -> usize {
        self.topics
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
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
        let a = Subscriber::new(hub.next_socket_id(), tx_a, CancellationToken::new());
        let b = Subscriber::new(hub.next_socket_id(), tx_b, slow_b.clone());
        hub.subscribe("c", &a);
        hub.subscribe("c", &b);

        hub.publish("c", ServerEvent::Pong, Some(a.id));
        assert!(rx_a.try_recv().is_err());
        assert_eq!(*rx_b.try_recv().unwrap(), ServerEvent::Pong);

        hub.publish("c", ServerEvent::Pong, None);
        hub.publish("c", ServerEvent::Pong, None);
        assert!(slow_b.is_cancelled());

        hub.unsubscribe(a.id, [&"c".to_string()]);
        hub.unsubscribe(b.id, [&"c".to_string()]);
        assert_eq!(hub.topic_count(), 0);
    }
}
