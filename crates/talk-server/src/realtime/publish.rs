//! Who hears about what. Messages, typing and read receipts go to a conversation's
//! subscribers; a conversation's state (started, closed, reopened, assigned) also goes to the
//! viewer topics of everyone allowed to see it, so their other tabs learn about new
//! conversations and subscribe. Everything also goes to the workspace's topic, which the
//! agents' inbox sockets listen on, except what happens in a preview (`usage::preview`),
//! which agents hear nothing of but its calls.

use super::bus::Signal;
use super::hub::{Except, Hub, Topic};
use super::sequencer::Skip;
use crate::usage::preview::is_preview_conversation;
use talk_protocol::{Conversation, Message, ServerEvent};

/// Whether the workspace's agents hear of `event` in the conversation. A preview is listed
/// nowhere, so they hear nothing of it (told by its id, which is all some publishers know)
/// but its calls' states: voice is tried by answering a call from the inbox.
pub fn agents_hear(conversation_id: &str, event: &ServerEvent) -> bool {
    !is_preview_conversation(conversation_id) || matches!(event, ServerEvent::Call { .. })
}

/// The conversation's own topic and, when its agents hear of `event`, its workspace's.
fn conversation_topics(
    workspace_id: &str,
    conversation_id: &str,
    event: &ServerEvent,
) -> Vec<Topic> {
    let mut topics = vec![Topic::conversation(conversation_id)];
    if agents_hear(conversation_id, event) {
        topics.push(Topic::Workspace(workspace_id.to_string()));
    }
    topics
}

/// The conversation's topics plus the viewer topics that may see it: its visitor's, and its
/// person's when it is verified (the Security rule: never an unverified one).
fn audience(workspace_id: &str, conversation: &Conversation, event: &ServerEvent) -> Vec<Topic> {
    let mut topics = conversation_topics(workspace_id, &conversation.id, event);
    topics.push(Topic::Visitor {
        workspace_id: workspace_id.to_string(),
        visitor_id: conversation.visitor_id.clone(),
    });
    if let (true, Some(person_id)) = (conversation.verified, &conversation.person_id) {
        topics.push(Topic::Person {
            workspace_id: workspace_id.to_string(),
            person_id: person_id.clone(),
        });
    }
    topics
}

/// Publishes on this node only: what the sequencer delivers from other nodes.
pub fn local_conversation_updated(
    hub: &Hub,
    workspace_id: &str,
    conversation: &Conversation,
    except: Except,
) {
    let event = ServerEvent::ConversationUpdated {
        conversation: conversation.clone(),
    };
    hub.publish(&audience(workspace_id, conversation, &event), event, except);
}

pub fn conversation_updated(
    hub: &Hub,
    workspace_id: &str,
    conversation: &Conversation,
    except: Except,
) {
    local_conversation_updated(hub, workspace_id, conversation, except);
    if let Some(sequencer) = hub.sequencer() {
        sequencer.bus().notify(Signal::Conversation {
            workspace_id: workspace_id.to_string(),
            conversation_id: conversation.id.clone(),
        });
    }
}

/// A new conversation and its first message, in that order, on this node only.
pub fn local_conversation_started(
    hub: &Hub,
    workspace_id: &str,
    conversation: &Conversation,
    message: &Message,
    except: Except,
) {
    local_conversation_updated(hub, workspace_id, conversation, except);
    let event = ServerEvent::Message {
        message: message.clone(),
    };
    hub.publish(&audience(workspace_id, conversation, &event), event, except);
}

/// A new conversation and its first message, in that order. Other nodes hear of it from
/// the store, in the transaction that created it.
pub fn conversation_started(
    hub: &Hub,
    workspace_id: &str,
    conversation: &Conversation,
    message: &Message,
    except: Except,
) {
    local_conversation_started(hub, workspace_id, conversation, message, except);
    if let Some(sequencer) = hub.sequencer() {
        sequencer.delivered(hub, workspace_id, &conversation.id, message.seq);
    }
}

/// A new conversation that opens with several messages (a capture's message, then the
/// visitor's reply), on this node only: each message to the conversation's whole audience,
/// as a first message is, so the visitor's other tabs get them all though they subscribe to
/// the conversation only once they hear of it.
pub fn local_conversation_opened(
    hub: &Hub,
    workspace_id: &str,
    conversation: &Conversation,
    messages: &[Message],
    except: Except,
) {
    local_conversation_updated(hub, workspace_id, conversation, except);
    for message in messages {
        let event = ServerEvent::Message {
            message: message.clone(),
        };
        hub.publish(&audience(workspace_id, conversation, &event), event, except);
    }
}

/// [`local_conversation_opened`] here; other nodes hear of it from the store, in the
/// transaction that created it (`Signal::Started`, whose handler reads its messages).
pub fn conversation_opened(
    hub: &Hub,
    workspace_id: &str,
    conversation: &Conversation,
    messages: &[Message],
    except: Except,
) {
    local_conversation_opened(hub, workspace_id, conversation, messages, except);
    if let Some(sequencer) = hub.sequencer() {
        for message in messages {
            sequencer.delivered(hub, workspace_id, &conversation.id, message.seq);
        }
    }
}

/// On this node only, as is.
pub fn local_in_conversation(
    hub: &Hub,
    workspace_id: &str,
    conversation_id: &str,
    event: ServerEvent,
    except: Except,
) {
    hub.publish(
        &conversation_topics(workspace_id, conversation_id, &event),
        event,
        except,
    );
}

/// Messages, typing, read receipts: to the conversation's subscribers and its workspace's
/// agents. With a bus, messages go through the sequencer (other nodes hear of them from the
/// store, in the committing transaction), typing and receipts to the bus after this node.
pub fn in_conversation(
    hub: &Hub,
    workspace_id: &str,
    conversation_id: &str,
    event: ServerEvent,
    except: Except,
) {
    let Some(sequencer) = hub.sequencer() else {
        return local_in_conversation(hub, workspace_id, conversation_id, event, except);
    };
    match event {
        ServerEvent::Message { message } => {
            sequencer.offer(hub, workspace_id, message, Skip::of(except));
        }
        event => {
            local_in_conversation(hub, workspace_id, conversation_id, event.clone(), except);
            sequencer.bus().notify(Signal::Event {
                workspace_id: workspace_id.to_string(),
                conversation_id: conversation_id.to_string(),
                event,
            });
        }
    }
}

/// To the workspace's agents only (their inbox sockets), on every node: what visitors must
/// not see, such as a bot's handoff.
pub fn to_agents(hub: &Hub, workspace_id: &str, event: ServerEvent) {
    on_every_node(
        hub,
        Topic::Workspace(workspace_id.to_string()),
        event,
        |event| Signal::ToAgents {
            workspace_id: workspace_id.to_string(),
            event,
        },
    );
}

/// Publishes `event` to `topic` here and, with other nodes, on the bus as `signal` says
/// (whose handler publishes it to the same topic there).
fn on_every_node(
    hub: &Hub,
    topic: Topic,
    event: ServerEvent,
    signal: impl FnOnce(ServerEvent) -> Signal,
) {
    let Some(sequencer) = hub.sequencer() else {
        return hub.publish(&[topic], event, Except::Nobody);
    };
    hub.publish(&[topic], event.clone(), Except::Nobody);
    sequencer.bus().notify(signal(event));
}

/// To the workspace's admins only (their inbox sockets), on every node: a quota warning.
pub fn to_admins(hub: &Hub, workspace_id: &str, event: ServerEvent) {
    on_every_node(
        hub,
        Topic::Admins(workspace_id.to_string()),
        event,
        |event| Signal::ToAdmins {
            workspace_id: workspace_id.to_string(),
            event,
        },
    );
}

/// A call's signalling step to one side, wherever its connection is.
pub fn to_party(hub: &Hub, party: &str, event: ServerEvent) {
    on_every_node(hub, Topic::Party(party.to_string()), event, |event| {
        Signal::ToParty {
            party: party.to_string(),
            event,
        }
    });
}
