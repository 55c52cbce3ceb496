//! The engine's delivery rules (`Core` and its `Outbox`) under generated runs: the visitor
//! types and retries, the connection drops at any point (losing frames both ways) and comes
//! back, the messenger restarts in a new session, and a model server commits, deduplicates by `client_msg_id` the way the real one
//! does, or refuses a send (its rate limit comes before deduplication, as in
//! `realtime/session.rs`). Whatever the order:
//! - a `client_msg_id` is never written again after the client saw its ack, nor twice on one
//!   socket (unless the visitor retried it after a refusal);
//! - nothing is lost: once the connection settles, every message is stored exactly once and
//!   acknowledged, the outbox is empty;
//! - the server stores them in the order typed, all in one conversation: the one on screen
//!   (the visitor's earlier conversation, when it has one).

use super::core::{Core, Effect};
use proptest::prelude::*;
use std::collections::{HashSet, VecDeque};
use talk_protocol::{
    Author, AuthorKind, ClientEvent, Conversation, ConversationStatus, Message, ServerEvent,
};

/// The model server's history page: far under the real one, so runs page often.
const MODEL_PAGE: usize = 3;

#[derive(Debug, Clone)]
enum Step {
    /// The visitor sends a new message.
    Type,
    /// The visitor retries a refused message (the n-th, modulo how many there are).
    Retry(usize),
    /// The server takes the next frame off the wire; `refuse`: it is over its send budget.
    ServerReads { refuse: bool },
    /// The widget takes the next event off the wire.
    ClientReads,
    /// The connection drops: what is on the wire either way is lost.
    Drop,
    /// A new socket authenticates (when the old one is gone).
    Reconnect,
    /// The messenger restarts in a new session (the page changed the verified token, or it
    /// was refused and the same visitor carries on unverified): a drop, and a new `Core`
    /// state, which keeps only what the page was told and the outbox.
    Restart,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => Just(Step::Type),
        1 => any::<usize>().prop_map(Step::Retry),
        5 => prop::bool::weighted(0.15).prop_map(|refuse| Step::ServerReads { refuse }),
        5 => Just(Step::ClientReads),
        1 => Just(Step::Drop),
        2 => Just(Step::Reconnect),
        1 => Just(Step::Restart),
    ]
}

/// The server's side: conversations and their messages, in commit order.
#[derive(Default)]
struct ModelServer {
    conversations: Vec<(String, Vec<Message>)>,
}

impl ModelServer {
    /// With `earlier`, the visitor has a conversation from an earlier page: an agent's message.
    fn new(earlier: bool) -> ModelServer {
        let mut server = ModelServer::default();
        if earlier {
            let message = Message {
                id: "c0-1".into(),
                conversation_id: "c0".into(),
                seq: 1,
                author: Author {
                    kind: AuthorKind::Agent,
                    name: Some("Sam".into()),
                },
                body: "Hello again".into(),
                client_msg_id: None,
                created_at: 0,
            };
            server.conversations.push(("c0".into(), vec![message]));
        }
        server
    }

    fn stored(&self, client_msg_id: &str) -> Option<&Message> {
        self.conversations
            .iter()
            .flat_map(|(_, messages)| messages)
            .find(|message| message.client_msg_id.as_deref() == Some(client_msg_id))
    }

    fn answer(&mut self, frame: ClientEvent, refuse: bool) -> Option<ServerEvent> {
        match frame {
            ClientEvent::Send {
                conversation_id,
                client_msg_id,
                body,
            } => {
                if refuse {
                    return Some(ServerEvent::Error {
                        code: "rate_limited".into(),
                        message: "too many messages".into(),
                        client_msg_id: Some(client_msg_id),
                    });
                }
                if let Some(message) = self.stored(&client_msg_id) {
                    return Some(ack(message.clone()));
                }
                let index = match conversation_id {
                    Some(id) => self
                        .conversations
                        .iter()
                        .position(|(known, _)| *known == id)
                        .expect("the widget names only conversations the server gave it"),
                    None => {
                        let id = format!("c{}", self.conversations.len() + 1);
                        self.conversations.push((id, Vec::new()));
                        self.conversations.len() - 1
                    }
                };
                let (conversation_id, messages) = &mut self.conversations[index];
                let seq = messages.len() as i64 + 1;
                let message = Message {
                    id: format!("{conversation_id}-{seq}"),
                    conversation_id: conversation_id.clone(),
                    seq,
                    author: Author {
                        kind: AuthorKind::Visitor,
                        name: None,
                    },
                    body,
                    client_msg_id: Some(client_msg_id),
                    created_at: seq,
                };
                messages.push(message.clone());
                Some(ack(message))
            }
            ClientEvent::Resume {
                conversation_id,
                after_seq,
            } => {
                let (_, messages) = self
                    .conversations
                    .iter()
                    .find(|(id, _)| *id == conversation_id)?;
                // Small pages, so that resuming in pages (`more`) is part of every run.
                let missed: Vec<Message> = messages
                    .iter()
                    .filter(|message| message.seq > after_seq)
                    .cloned()
                    .collect();
                Some(ServerEvent::History {
                    conversation_id,
                    more: missed.len() > MODEL_PAGE,
                    messages: missed.into_iter().take(MODEL_PAGE).collect(),
                })
            }
            // Previews, receipts and typing don't touch delivery.
            _ => None,
        }
    }

    fn ready(&self) -> ServerEvent {
        ServerEvent::Ready {
            session_id: "s".into(),
            conversations: self
                .conversations
                .iter()
                .map(|(id, messages)| Conversation {
                    id: id.clone(),
                    verified: false,
                    status: ConversationStatus::Open,
                    visitor_id: "v".into(),
                    person_id: None,
                    last_seq: messages.len() as i64,
                    created_at: 1,
                    assignee_id: None,
                    visitor_read_seq: 0,
                    agent_read_seq: 0,
                })
                .collect(),
        }
    }
}

fn ack(message: Message) -> ServerEvent {
    ServerEvent::Ack {
        client_msg_id: message.client_msg_id.clone().unwrap_or_default(),
        message,
    }
}

/// A widget and a server joined by a connection that may drop.
struct Run {
    core: Core,
    server: ModelServer,
    connected: bool,
    to_server: VecDeque<ClientEvent>,
    to_client: VecDeque<ServerEvent>,
    /// Every id the visitor sent, in the order of its last send.
    typed: Vec<String>,
    /// Refused, waiting for the visitor to retry.
    failed: Vec<String>,
    /// Ever refused by the server (whether or not the widget heard): the server stored what
    /// came after them first, so their place in the order is not the one typed.
    ever_refused: HashSet<String>,
    acked: HashSet<String>,
    written_on_this_socket: HashSet<String>,
    count: usize,
}

impl Run {
    fn new(earlier_conversation: bool) -> Run {
        Run {
            core: Core::default(),
            server: ModelServer::new(earlier_conversation),
            connected: false,
            to_server: VecDeque::new(),
            to_client: VecDeque::new(),
            typed: Vec::new(),
            failed: Vec::new(),
            ever_refused: HashSet::new(),
            acked: HashSet::new(),
            written_on_this_socket: HashSet::new(),
            count: 0,
        }
    }

    fn carry_out(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            let Effect::Send(frame) = effect else {
                continue;
            };
            if let ClientEvent::Send { client_msg_id, .. } = &frame {
                assert!(
                    !self.acked.contains(client_msg_id),
                    "{client_msg_id} written again after its ack"
                );
                assert!(
                    self.written_on_this_socket.insert(client_msg_id.clone()),
                    "{client_msg_id} written twice on one socket"
                );
            }
            // A socket that is not open drops the write, as the browser glue does.
            if self.connected {
                self.to_server.push_back(frame);
            }
        }
    }

    fn apply(&mut self, step: Step) {
        match step {
            Step::Type => {
                self.count += 1;
                let id = format!("m{}", self.count);
                self.typed.push(id.clone());
                let effects = self.core.queue(id.clone(), format!("body of {id}"));
                self.carry_out(effects);
            }
            Step::Retry(n) => {
                if self.failed.is_empty() {
                    return;
                }
                let id = self.failed.remove(n % self.failed.len());
                self.typed.retain(|typed| *typed != id);
                self.typed.push(id.clone());
                // A retry is a new write of the same id (the server deduplicates it).
                self.written_on_this_socket.remove(&id);
                let effects = self.core.queue(id.clone(), format!("body of {id}"));
                self.carry_out(effects);
            }
            Step::ServerReads { refuse } => {
                if let Some(frame) = self.to_server.pop_front() {
                    if let (true, ClientEvent::Send { client_msg_id, .. }) = (refuse, &frame) {
                        self.ever_refused.insert(client_msg_id.clone());
                    }
                    if let Some(answer) = self.server.answer(frame, refuse) {
                        self.to_client.push_back(answer);
                    }
                }
            }
            Step::ClientReads => {
                if let Some(event) = self.to_client.pop_front() {
                    match &event {
                        ServerEvent::Ack { client_msg_id, .. } => {
                            self.acked.insert(client_msg_id.clone());
                        }
                        ServerEvent::Error {
                            client_msg_id: Some(client_msg_id),
                            ..
                        } => {
                            self.failed.push(client_msg_id.clone());
                        }
                        _ => {}
                    }
                    let effects = self.core.apply(event);
                    self.carry_out(effects);
                }
            }
            Step::Drop => {
                self.connected = false;
                self.to_server.clear();
                self.to_client.clear();
                self.written_on_this_socket.clear();
                self.core.disconnected();
            }
            Step::Restart => {
                self.apply(Step::Drop);
                self.core.restart();
            }
            Step::Reconnect => {
                if self.connected {
                    return;
                }
                self.connected = true;
                let ready = self.server.ready();
                let effects = self.core.apply(ready);
                self.carry_out(effects);
            }
        }
    }

    /// The connection settles: the visitor retries whatever failed, nothing is refused,
    /// every frame is read.
    fn settle(&mut self) {
        self.apply(Step::Reconnect);
        for _ in 0..10_000 {
            if !self.failed.is_empty() {
                self.apply(Step::Retry(0));
            } else if !self.to_server.is_empty() {
                self.apply(Step::ServerReads { refuse: false });
            } else if !self.to_client.is_empty() {
                self.apply(Step::ClientReads);
            } else {
                return;
            }
        }
        panic!("the connection never settled");
    }

    fn check_settled(&self) {
        assert!(self.core.outbox.is_empty(), "messages left unsent");
        assert!(
            self.server.conversations.len() <= 1,
            "one visitor's messages went to {} conversations",
            self.server.conversations.len()
        );
        if let Some((id, _)) = self.server.conversations.first() {
            assert_eq!(
                self.core.conversation_id.as_ref(),
                Some(id),
                "the messages are not in the conversation on screen"
            );
        }
        let stored: Vec<&str> = self
            .server
            .conversations
            .iter()
            .flat_map(|(_, messages)| messages)
            .filter_map(|message| message.client_msg_id.as_deref())
            .collect();
        let distinct: HashSet<&str> = stored.iter().copied().collect();
        assert_eq!(distinct.len(), stored.len(), "stored twice: {stored:?}");
        for id in &self.typed {
            assert!(distinct.contains(id.as_str()), "{id} was lost");
            assert!(self.acked.contains(id), "{id} was never acknowledged");
        }
        assert_eq!(stored.len(), self.typed.len(), "stored what nobody typed");
        // Never refused: stored in the order typed.
        let typed: Vec<&str> = self
            .typed
            .iter()
            .map(String::as_str)
            .filter(|id| !self.ever_refused.contains(*id))
            .collect();
        let stored_order: Vec<&str> = stored
            .into_iter()
            .filter(|id| !self.ever_refused.contains(*id))
            .collect();
        assert_eq!(stored_order, typed, "stored out of order");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn resends_never_duplicate_reorder_or_lose_a_message(
        earlier_conversation in any::<bool>(),
        steps in prop::collection::vec(step(), 0..80),
    ) {
        let mut run = Run::new(earlier_conversation);
        for step in steps {
            run.apply(step);
        }
        run.settle();
        run.check_settled();
    }
}
