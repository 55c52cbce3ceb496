//! The sequencer alone, on whichever engine the tests run on, with a bus that carries
//! nothing: what a node delivers is every committed message once, in seq order, whether it
//! comes from this node (early or late), from a signal naming ids and seqs, or from a resync
//! after the listener reconnected.

mod common;

use common::store::conversation_with;
use common::test_app;
use std::sync::Arc;
use std::time::Duration;
use talk_protocol::{Author, AuthorKind, Message, ServerEvent};
use talk_server::conversations::NewMessage;
use talk_server::db::Db;
use talk_server::realtime::bus::{Bus, Heard, Signal};
use talk_server::realtime::hub::{Except, Subscriber, Topic};
use talk_server::realtime::{publish, queue, Hub, Outgoing, Sequencer};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

struct Silent;

impl Bus for Silent {
    fn node_id(&self) -> &str {
        "test"
    }
    fn notify(&self, _signal: Signal) {}
    fn start(&self, _heard: mpsc::Sender<Heard>) {}
}

fn visitor_message(body: &str) -> NewMessage {
    NewMessage {
        author: Author {
            kind: AuthorKind::Visitor,
            name: None,
        },
        body: body.to_string(),
        client_msg_id: None,
        reopens: false,
        auto_reply: false,
    }
}

/// A conversation with its first message (seq 1).
async fn conversation(db: &Db, workspace_id: &str) -> String {
    let visitor = "abc00000000000000000000000000001";
    conversation_with(db.as_ref(), workspace_id, visitor, visitor_message("1")).await
}

/// Commits `n` messages without delivering them.
async fn commit(db: &Db, conversation_id: &str, n: usize) -> Vec<Message> {
    let batch = (0..n)
        .map(|i| (conversation_id.to_string(), visitor_message(&i.to_string())))
        .collect();
    db.append_messages(batch)
        .await
        .unwrap()
        .into_iter()
        .map(|outcome| outcome.unwrap().0)
        .collect()
}

async fn next_seq(outgoing: &mut Outgoing) -> i64 {
    let event = tokio::time::timeout(Duration::from_secs(5), outgoing.recv())
        .await
        .expect("an event within 5 s");
    match &**event {
        ServerEvent::Message { message } => message.seq,
        other => panic!("expected a message, got {other:?}"),
    }
}

async fn nothing_more(outgoing: &mut Outgoing) {
    let more = tokio::time::timeout(Duration::from_millis(200), outgoing.recv()).await;
    assert!(more.is_err(), "nothing more: {more:?}");
}

/// A node with a silent bus, a conversation (seq 1) and one subscriber to its topic.
struct Node {
    db: Db,
    workspace_id: String,
    hub: Arc<Hub>,
    sequencer: Arc<Sequencer>,
    conversation_id: String,
    outgoing: Outgoing,
    _subscriber: Subscriber,
}

async fn node() -> Node {
    let app = test_app().await;
    let db = app.state.db.clone();
    let workspace_id = app.workspace.workspace_id.clone();
    let hub = Arc::new(Hub::new());
    let sequencer = Arc::new(Sequencer::new(
        db.clone(),
        Arc::new(Silent),
        Arc::downgrade(&hub),
        Arc::default(),
    ));
    hub.set_sequencer(Arc::clone(&sequencer));
    let conversation_id = conversation(&db, &workspace_id).await;
    let (tx, outgoing) = queue();
    let subscriber = Subscriber::new(hub.next_socket_id(), "s", tx, CancellationToken::new());
    hub.subscribe(&Topic::conversation(&conversation_id), &subscriber);
    Node {
        db,
        workspace_id,
        hub,
        sequencer,
        conversation_id,
        outgoing,
        _subscriber: subscriber,
    }
}

#[tokio::test]
async fn every_committed_message_is_delivered_once_in_order() {
    let Node {
        db,
        workspace_id,
        hub,
        sequencer,
        conversation_id,
        mut outgoing,
        _subscriber,
    } = node().await;
    let deliver = |message: &Message| {
        publish::in_conversation(
            &hub,
            &workspace_id,
            &conversation_id,
            ServerEvent::Message {
                message: message.clone(),
            },
            Except::Nobody,
        )
    };

    // This node's own messages: 2 starts the track; 4 comes before 3, is held, and the gap
    // is filled from the database; a late 3 is a duplicate.
    let m = commit(&db, &conversation_id, 3).await;
    deliver(&m[0]);
    assert_eq!(next_seq(&mut outgoing).await, 2);
    deliver(&m[2]);
    assert_eq!(next_seq(&mut outgoing).await, 3);
    assert_eq!(next_seq(&mut outgoing).await, 4);
    deliver(&m[1]);
    deliver(&m[2]);
    nothing_more(&mut outgoing).await;
    // Seq 1 was committed before tracking began (at 2): published late, it is delivered.
    let first = db.messages_after(&conversation_id, 0, 1).await.unwrap();
    deliver(&first[0]);
    assert_eq!(next_seq(&mut outgoing).await, 1);

    // Another node's: a signal names them, they are loaded; heard twice, delivered once.
    commit(&db, &conversation_id, 2).await;
    let signal = Signal::Msgs {
        msgs: vec![(workspace_id.clone(), conversation_id.clone(), 5, 6)],
    };
    for _ in 0..2 {
        sequencer
            .heard(Heard::Signal(Box::new(signal.clone())))
            .await;
    }
    assert_eq!(next_seq(&mut outgoing).await, 5);
    assert_eq!(next_seq(&mut outgoing).await, 6);
    nothing_more(&mut outgoing).await;

    // Signals lost while the listener was away: the resync finds what was committed.
    commit(&db, &conversation_id, 3).await;
    sequencer.heard(Heard::Reconnected).await;
    for seq in 7..=9 {
        assert_eq!(next_seq(&mut outgoing).await, seq);
    }
    // And a batch too big to name does the same.
    commit(&db, &conversation_id, 1).await;
    sequencer
        .heard(Heard::Signal(Box::new(Signal::Reload)))
        .await;
    assert_eq!(next_seq(&mut outgoing).await, 10);
    nothing_more(&mut outgoing).await;
}

/// Two nodes race: another node commits seq 2, this one seq 3, and this node hears of its own
/// first. A track begun at that first message would start at 3 and skip 2 for good; begun
/// where the subscriber's list left off (`watch`, as a visitor's session does), it holds 3,
/// fills 2 from the database, and the late signal for 2 adds nothing.
#[tokio::test]
async fn a_track_begun_from_the_subscribers_list_fills_an_older_message_heard_late() {
    let mut node = node().await;
    let (workspace_id, conversation_id) = (node.workspace_id.clone(), node.conversation_id.clone());
    // The subscriber's list had the conversation up to seq 1.
    node.sequencer
        .watch(&node.hub, &workspace_id, &conversation_id, 1);

    let m = commit(&node.db, &conversation_id, 2).await;
    publish::in_conversation(
        &node.hub,
        &workspace_id,
        &conversation_id,
        ServerEvent::Message {
            message: m[1].clone(),
        },
        Except::Nobody,
    );
    assert_eq!(next_seq(&mut node.outgoing).await, 2);
    assert_eq!(next_seq(&mut node.outgoing).await, 3);
    let late = Signal::Msgs {
        msgs: vec![(workspace_id, conversation_id, 2, 2)],
    };
    node.sequencer.heard(Heard::Signal(Box::new(late))).await;
    nothing_more(&mut node.outgoing).await;
}
