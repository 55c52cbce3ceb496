//! The visitor's messages that the server has not acknowledged yet. Plain Rust: no browser.
//!
//! The rules that make delivery exactly-once and in order:
//! - a message goes out under its `client_msg_id`, and a resend after a reconnect uses the
//!   same id, so the server stores it once however often it arrives;
//! - while the first message of a new conversation is in flight the rest wait, or each would
//!   start a conversation of its own; its ack names the conversation, and the rest follow it;
//! - nothing overtakes a waiting message: what was typed later waits behind it, so the server
//!   stores them in the order typed;
//! - a message typed before `ready` said which conversation the session continues goes to that
//!   one (`adopt`), not to a new conversation of its own;
//! - an ack or an error removes the message; nothing is ever queued twice;
//! - a restart of the messenger (a new session: the verified state changed, or the token was
//!   refused) keeps the queue: each message goes to the conversation it was typed into if the
//!   new session can still see it; one the new session can't see gives its messages that were
//!   never written to the conversation the new session continues (`rehome`), while a written
//!   one keeps its conversation, since the server may hold it there already and finds it only
//!   there (client ids are unique per conversation).

use talk_protocol::ClientEvent;

struct Outgoing {
    client_msg_id: String,
    body: String,
    /// Where it was written; `None`: it starts a new conversation (or follows one that does).
    conversation_id: Option<String>,
    /// Written to the current socket (cleared on reconnect: the server dedupes resends).
    in_flight: bool,
    /// Ever written: it may be stored already (its ack lost), wherever it was sent.
    written: bool,
}

#[derive(Default)]
pub struct Outbox {
    queue: Vec<Outgoing>,
}

impl Outbox {
    /// Queues a message for `conversation_id` (`None`: a new conversation). An id already
    /// queued is not queued again.
    pub fn push(&mut self, client_msg_id: String, body: String, conversation_id: Option<String>) {
        if self.contains(&client_msg_id) {
            return;
        }
        self.queue.push(Outgoing {
            client_msg_id,
            body,
            conversation_id,
            in_flight: false,
            written: false,
        });
    }

    pub fn contains(&self, client_msg_id: &str) -> bool {
        self.queue
            .iter()
            .any(|outgoing| outgoing.client_msg_id == client_msg_id)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// What to write to the socket now, in the order typed; marks it in flight.
    pub fn flush(&mut self) -> Vec<ClientEvent> {
        let mut creating = self
            .queue
            .iter()
            .any(|outgoing| outgoing.in_flight && outgoing.conversation_id.is_none());
        let mut to_send = Vec::new();
        for outgoing in self.queue.iter_mut().filter(|outgoing| !outgoing.in_flight) {
            if outgoing.conversation_id.is_none() {
                if creating {
                    // It waits for the conversation, and so does everything typed after it.
                    break;
                }
                creating = true;
            }
            outgoing.in_flight = true;
            outgoing.written = true;
            to_send.push(ClientEvent::Send {
                conversation_id: outgoing.conversation_id.clone(),
                client_msg_id: outgoing.client_msg_id.clone(),
                body: outgoing.body.clone(),
            });
        }
        to_send
    }

    /// Committed in `conversation_id`: removed, and what waited for a new conversation
    /// follows it there. True if it was queued to start a new conversation.
    pub fn acked(&mut self, client_msg_id: &str, conversation_id: &str) -> bool {
        let started = self.queue.iter().any(|outgoing| {
            outgoing.client_msg_id == client_msg_id && outgoing.conversation_id.is_none()
        });
        self.remove(client_msg_id);
        for outgoing in self.queue.iter_mut() {
            outgoing
                .conversation_id
                .get_or_insert_with(|| conversation_id.to_string());
        }
        started
    }

    /// `ready` named the conversation this session continues: what was typed before, with
    /// no conversation yet, goes there. A message already written keeps its `None`: it may
    /// have started a conversation already, and the server finds it again by its id.
    pub fn adopt(&mut self, conversation_id: &str) {
        for outgoing in self.queue.iter_mut().filter(|outgoing| !outgoing.written) {
            outgoing
                .conversation_id
                .get_or_insert_with(|| conversation_id.to_string());
        }
    }

    /// A new session's `ready` listed what it can see: a message never written to a
    /// conversation outside that goes to `current` (the one the session continues; `None`:
    /// a new one). A written one keeps its conversation: it may be stored there already.
    pub fn rehome(&mut self, visible: impl Fn(&str) -> bool, current: Option<&str>) {
        for outgoing in self.queue.iter_mut().filter(|outgoing| !outgoing.written) {
            if outgoing
                .conversation_id
                .as_deref()
                .is_some_and(|conversation_id| !visible(conversation_id))
            {
                outgoing.conversation_id = current.map(str::to_string);
            }
        }
    }

    /// Refused by the server: removed (the visitor may retry it under the same id).
    pub fn remove(&mut self, client_msg_id: &str) {
        self.queue
            .retain(|outgoing| outgoing.client_msg_id != client_msg_id);
    }

    /// The socket is gone: everything goes out again on the next one.
    pub fn disconnected(&mut self) {
        for outgoing in self.queue.iter_mut() {
            outgoing.in_flight = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(conversation_id: Option<&str>, client_msg_id: &str, body: &str) -> ClientEvent {
        ClientEvent::Send {
            conversation_id: conversation_id.map(str::to_string),
            client_msg_id: client_msg_id.to_string(),
            body: body.to_string(),
        }
    }

    fn outbox(conversation_id: Option<&str>, ids: &[&str]) -> Outbox {
        let mut outbox = Outbox::default();
        for id in ids {
            outbox.push(
                id.to_string(),
                format!("body {id}"),
                conversation_id.map(str::to_string),
            );
        }
        outbox
    }

    #[test]
    fn sends_in_order_once_and_again_after_a_drop_under_the_same_ids() {
        let mut outbox = outbox(Some("c1"), &["a", "b"]);
        let first = outbox.flush();
        assert_eq!(
            first,
            [
                send(Some("c1"), "a", "body a"),
                send(Some("c1"), "b", "body b")
            ]
        );
        // In flight: a second flush writes nothing twice.
        outbox.push("c".into(), "body c".into(), Some("c1".into()));
        assert_eq!(outbox.flush(), [send(Some("c1"), "c", "body c")]);
        assert!(outbox.flush().is_empty());

        // The socket drops before any ack: all three go again, in order, same ids.
        outbox.disconnected();
        assert_eq!(
            outbox.flush(),
            [
                send(Some("c1"), "a", "body a"),
                send(Some("c1"), "b", "body b"),
                send(Some("c1"), "c", "body c"),
            ]
        );
        outbox.acked("a", "c1");
        outbox.disconnected();
        assert_eq!(
            outbox.flush(),
            [
                send(Some("c1"), "b", "body b"),
                send(Some("c1"), "c", "body c")
            ]
        );
    }

    #[test]
    fn a_new_conversations_first_message_goes_alone_and_its_ack_assigns_the_rest() {
        let mut outbox = outbox(None, &["first", "second", "third"]);
        assert_eq!(outbox.flush(), [send(None, "first", "body first")]);
        assert!(
            outbox.flush().is_empty(),
            "the rest wait for the conversation"
        );

        // Dropped before the ack: only the first goes again, still alone.
        outbox.disconnected();
        assert_eq!(outbox.flush(), [send(None, "first", "body first")]);

        outbox.acked("first", "c9");
        assert_eq!(
            outbox.flush(),
            [
                send(Some("c9"), "second", "body second"),
                send(Some("c9"), "third", "body third"),
            ]
        );
        assert_eq!(outbox.len(), 2);
    }

    #[test]
    fn ack_and_error_remove_and_nothing_is_queued_twice() {
        let mut outbox = outbox(Some("c1"), &["a", "b"]);
        outbox.push("a".into(), "again".into(), Some("c1".into()));
        assert_eq!(outbox.len(), 2);
        outbox.flush();
        outbox.remove("a");
        assert!(!outbox.contains("a"));
        outbox.acked("b", "c1");
        assert!(outbox.is_empty());
        // An ack for something no longer queued (a duplicate ack) changes nothing.
        outbox.acked("b", "c1");
        assert!(outbox.is_empty() && outbox.flush().is_empty());
    }

    #[test]
    fn an_error_on_a_new_conversations_first_message_lets_the_next_one_start_it() {
        let mut outbox = outbox(None, &["first", "second"]);
        outbox.flush();
        outbox.remove("first");
        assert_eq!(outbox.flush(), [send(None, "second", "body second")]);
    }

    #[test]
    fn nothing_overtakes_a_message_waiting_for_its_conversation() {
        let mut outbox = outbox(None, &["first", "second"]);
        outbox.push("third".into(), "body third".into(), Some("c1".into()));
        // "second" waits for the conversation "first" starts; "third" waits behind it.
        assert_eq!(outbox.flush(), [send(None, "first", "body first")]);
        outbox.acked("first", "c1");
        assert_eq!(
            outbox.flush(),
            [
                send(Some("c1"), "second", "body second"),
                send(Some("c1"), "third", "body third")
            ]
        );
    }

    #[test]
    fn a_conversation_out_of_sight_gives_its_unwritten_messages_to_the_current_one() {
        let mut outbox = outbox(Some("gone"), &["written"]);
        outbox.flush();
        outbox.disconnected();
        outbox.push(
            "unwritten".into(),
            "body unwritten".into(),
            Some("gone".into()),
        );
        outbox.push("here".into(), "body here".into(), Some("c1".into()));
        outbox.rehome(|id| id == "c1", Some("c1"));
        assert_eq!(
            outbox.flush(),
            [
                send(Some("gone"), "written", "body written"),
                send(Some("c1"), "unwritten", "body unwritten"),
                send(Some("c1"), "here", "body here"),
            ]
        );
        // With no conversation to continue, it starts one (after the written one's answer).
        let mut fresh = self::outbox(Some("gone"), &["a", "b"]);
        fresh.rehome(|_| false, None);
        assert_eq!(fresh.flush(), [send(None, "a", "body a")]);
        assert!(fresh.acked("a", "c5"));
        assert_eq!(fresh.flush(), [send(Some("c5"), "b", "body b")]);
    }

    #[test]
    fn ready_gives_its_conversation_to_what_was_never_written() {
        let mut outbox = outbox(None, &["written"]);
        outbox.flush();
        outbox.disconnected();
        outbox.push("unwritten".into(), "body unwritten".into(), None);
        outbox.adopt("c0");
        // "written" may have started a conversation already (its ack lost): it keeps none and
        // the server finds it by its id; "unwritten" goes to c0, behind it.
        assert_eq!(
            outbox.flush(),
            [
                send(None, "written", "body written"),
                send(Some("c0"), "unwritten", "body unwritten")
            ]
        );
    }
}
