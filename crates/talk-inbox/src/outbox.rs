//! The agent's replies that the server has not acknowledged yet. Plain Rust: no browser, so
//! the rules are tested natively (`cargo test -p talk-inbox --lib`).
//!
//! The rules that make an agent's reply exactly-once and in order, as the widget's outbox does
//! for the visitor (`src/runtime/outbox.rs`):
//! - a reply goes out under its `client_msg_id`, and every resend (after a reconnect, over
//!   HTTP, or a retry after a refusal) uses the same id, so the server stores it once;
//! - a reply is in flight on one transport at a time: the socket, or HTTP while the socket is
//!   down; never both;
//! - nothing overtakes a reply in flight over HTTP: what was typed later waits behind it;
//! - an ack removes it; a refusal keeps it, failed, with the server's reason, until the agent
//!   retries it (back in the queue, same id); a dropped socket puts what was in flight on it
//!   back in the queue;
//! - at most `MAX_PENDING` replies wait: more are refused with a clear message.

/// How many replies may wait for the server at once.
pub const MAX_PENDING: usize = 100;

/// Where a pending reply stands.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ReplyState {
    /// Waits for a transport.
    Queued,
    /// Written to the current socket; its ack is awaited.
    OnSocket,
    /// Posted over HTTP; its answer is awaited.
    OverHttp,
    /// The server refused it (its message); kept until the agent retries.
    Failed(String),
}

impl ReplyState {
    /// The view's `data-state`: `sending` or `failed`.
    pub fn key(&self) -> &'static str {
        match self {
            ReplyState::Failed(_) => "failed",
            _ => "sending",
        }
    }
}

/// One reply the server has not acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingReply {
    pub client_msg_id: String,
    pub conversation_id: String,
    pub body: String,
    pub state: ReplyState,
}

/// The agent's pending replies, in the order typed.
#[derive(Debug, Default)]
pub struct Outbox {
    queue: Vec<PendingReply>,
}

impl Outbox {
    /// Queues a reply. Refused (with a message for the agent) when `MAX_PENDING` wait
    /// already. An id already queued is not queued again.
    pub fn push(
        &mut self,
        client_msg_id: String,
        conversation_id: String,
        body: String,
    ) -> Result<(), String> {
        if self.contains(&client_msg_id) {
            return Ok(());
        }
        if self.queue.len() >= MAX_PENDING {
            return Err(format!(
                "{MAX_PENDING} replies are still waiting to be sent: wait for the connection \
                 to come back before writing more"
            ));
        }
        self.queue.push(PendingReply {
            client_msg_id,
            conversation_id,
            body,
            state: ReplyState::Queued,
        });
        Ok(())
    }

    pub fn contains(&self, client_msg_id: &str) -> bool {
        self.queue
            .iter()
            .any(|reply| reply.client_msg_id == client_msg_id)
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// What to write to the socket now, in the order typed; marked in flight on it. Stops at
    /// a reply in flight over HTTP: what was typed after it waits for its answer.
    pub fn take_for_socket(&mut self) -> Vec<PendingReply> {
        let mut taken = Vec::new();
        for reply in self.queue.iter_mut() {
            match reply.state {
                ReplyState::OverHttp => break,
                ReplyState::Queued => {
                    reply.state = ReplyState::OnSocket;
                    taken.push(reply.clone());
                }
                ReplyState::OnSocket | ReplyState::Failed(_) => {}
            }
        }
        taken
    }

    /// The one reply to post over HTTP now (the socket is down): the first queued one, if
    /// nothing is in flight anywhere (HTTP goes one at a time, so the order holds).
    pub fn take_for_http(&mut self) -> Option<PendingReply> {
        if self
            .queue
            .iter()
            .any(|reply| matches!(reply.state, ReplyState::OnSocket | ReplyState::OverHttp))
        {
            return None;
        }
        let reply = self
            .queue
            .iter_mut()
            .find(|reply| reply.state == ReplyState::Queued)?;
        reply.state = ReplyState::OverHttp;
        Some(reply.clone())
    }

    /// Stored (acked on the socket, answered over HTTP, or seen among the conversation's
    /// messages): removed. True if it was pending.
    pub fn acked(&mut self, client_msg_id: &str) -> bool {
        let before = self.queue.len();
        self.queue
            .retain(|reply| reply.client_msg_id != client_msg_id);
        self.queue.len() != before
    }

    /// Refused by the server: kept, failed, with its reason. True if it was pending.
    pub fn refused(&mut self, client_msg_id: &str, message: String) -> bool {
        match self
            .queue
            .iter_mut()
            .find(|reply| reply.client_msg_id == client_msg_id)
        {
            Some(reply) => {
                reply.state = ReplyState::Failed(message);
                true
            }
            None => false,
        }
    }

    /// The agent retries a failed reply: back in the queue, under the same id.
    pub fn retry(&mut self, client_msg_id: &str) {
        if let Some(reply) = self.queue.iter_mut().find(|reply| {
            reply.client_msg_id == client_msg_id && matches!(reply.state, ReplyState::Failed(_))
        }) {
            reply.state = ReplyState::Queued;
        }
    }

    /// The HTTP post got no answer (or one that says nothing of the reply): back in the
    /// queue, to go out again under the same id.
    pub fn http_failed(&mut self, client_msg_id: &str) {
        if let Some(reply) = self.queue.iter_mut().find(|reply| {
            reply.client_msg_id == client_msg_id && reply.state == ReplyState::OverHttp
        }) {
            reply.state = ReplyState::Queued;
        }
    }

    /// The socket is gone: what was in flight on it goes out again, in order.
    pub fn disconnected(&mut self) {
        for reply in self.queue.iter_mut() {
            if reply.state == ReplyState::OnSocket {
                reply.state = ReplyState::Queued;
            }
        }
    }

    /// The conversation's pending replies, in the order typed (for the view).
    pub fn pending(&self, conversation_id: &str) -> Vec<PendingReply> {
        self.queue
            .iter()
            .filter(|reply| reply.conversation_id == conversation_id)
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outbox(ids: &[&str]) -> Outbox {
        let mut outbox = Outbox::default();
        for id in ids {
            outbox
                .push(id.to_string(), "c1".into(), format!("body {id}"))
                .unwrap();
        }
        outbox
    }

    fn ids(replies: &[PendingReply]) -> Vec<&str> {
        replies.iter().map(|r| r.client_msg_id.as_str()).collect()
    }

    fn states(outbox: &Outbox, conversation_id: &str) -> Vec<(String, String)> {
        outbox
            .pending(conversation_id)
            .into_iter()
            .map(|r| (r.client_msg_id, r.state.key().to_string()))
            .collect()
    }

    #[test]
    fn resends_after_a_drop_in_order_under_the_same_ids_without_duplicates() {
        let mut outbox = outbox(&["a", "b"]);
        let first = outbox.take_for_socket();
        assert_eq!(ids(&first), ["a", "b"]);
        assert_eq!(first[0].body, "body a");
        // In flight: nothing is written twice.
        outbox
            .push("c".into(), "c1".into(), "body c".into())
            .unwrap();
        assert_eq!(ids(&outbox.take_for_socket()), ["c"]);
        assert!(outbox.take_for_socket().is_empty());
        // Pushing an id already queued changes nothing.
        outbox
            .push("a".into(), "c1".into(), "again".into())
            .unwrap();
        assert_eq!(outbox.len(), 3);

        // The socket drops before any ack: all three go again, in order, same ids.
        outbox.disconnected();
        assert_eq!(ids(&outbox.take_for_socket()), ["a", "b", "c"]);
        assert!(outbox.take_for_socket().is_empty());
    }

    #[test]
    fn an_ack_removes_the_reply_and_only_it() {
        let mut outbox = outbox(&["a", "b"]);
        outbox.take_for_socket();
        assert!(outbox.acked("a"));
        assert!(!outbox.acked("a"), "a second ack is nothing");
        assert!(!outbox.acked("unknown"));
        assert_eq!(ids(&outbox.pending("c1")), ["b"]);
        outbox.disconnected();
        assert_eq!(ids(&outbox.take_for_socket()), ["b"]);
        assert!(outbox.acked("b"));
        assert!(outbox.is_empty());
    }

    #[test]
    fn a_refused_reply_stays_failed_until_retried_under_the_same_id() {
        let mut outbox = outbox(&["a", "b"]);
        outbox.take_for_socket();
        assert!(outbox.refused("a", "This conversation is gone.".into()));
        assert!(!outbox.refused("unknown", "x".into()));
        assert_eq!(
            outbox.pending("c1")[0].state,
            ReplyState::Failed("This conversation is gone.".into())
        );
        // A drop does not resend a failed reply; only the one in flight.
        outbox.disconnected();
        assert_eq!(ids(&outbox.take_for_socket()), ["b"]);
        assert!(outbox.acked("b"));
        assert_eq!(states(&outbox, "c1"), [("a".into(), "failed".into())]);

        outbox.retry("a");
        assert_eq!(states(&outbox, "c1"), [("a".into(), "sending".into())]);
        let again = outbox.take_for_socket();
        assert_eq!(ids(&again), ["a"]);
        assert_eq!(again[0].body, "body a");
        assert!(outbox.acked("a"));
        assert!(outbox.is_empty());
    }

    #[test]
    fn at_most_max_pending_wait() {
        let mut outbox = Outbox::default();
        for n in 0..MAX_PENDING {
            outbox
                .push(format!("id{n}"), "c1".into(), "hi".into())
                .unwrap();
        }
        let refused = outbox.push("one-more".into(), "c1".into(), "hi".into());
        assert!(refused.unwrap_err().contains("100 replies"));
        assert_eq!(outbox.len(), MAX_PENDING);
        assert!(outbox.acked("id0"));
        assert!(outbox
            .push("one-more".into(), "c1".into(), "hi".into())
            .is_ok());
    }

    #[test]
    fn http_goes_one_at_a_time_and_never_beside_the_socket() {
        let mut outbox = outbox(&["a", "b"]);
        let posted = outbox.take_for_http().unwrap();
        assert_eq!(posted.client_msg_id, "a");
        assert_eq!(outbox.take_for_http(), None, "one at a time");
        // The socket is back: nothing overtakes the reply in flight over HTTP, and that one
        // is not written to the socket as well.
        assert!(outbox.take_for_socket().is_empty());
        // Its answer was lost: queued again, then the socket sends it and what followed.
        outbox.http_failed("a");
        assert_eq!(ids(&outbox.take_for_socket()), ["a", "b"]);
        assert_eq!(outbox.take_for_http(), None, "in flight on the socket");
        outbox.disconnected();
        assert_eq!(outbox.take_for_http().unwrap().client_msg_id, "a");
        assert!(outbox.acked("a"));
        assert_eq!(outbox.take_for_http().unwrap().client_msg_id, "b");
    }

    #[test]
    fn pending_lists_one_conversation_in_the_order_typed() {
        let mut outbox = Outbox::default();
        outbox.push("a".into(), "c1".into(), "1".into()).unwrap();
        outbox.push("b".into(), "c2".into(), "2".into()).unwrap();
        outbox.push("c".into(), "c1".into(), "3".into()).unwrap();
        assert_eq!(ids(&outbox.pending("c1")), ["a", "c"]);
        assert_eq!(ids(&outbox.pending("c2")), ["b"]);
        assert!(outbox.pending("c3").is_empty());
    }
}
