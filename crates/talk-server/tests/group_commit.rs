//! Group commit: many messages at once share transactions, yet each is numbered exactly once,
//! answered only after it is stored, and a failing one fails alone.

mod common;

use common::{test_app, visitor_id};
use futures_util::future::join_all;
use talk_protocol::{Author, AuthorKind};
use talk_server::conversations::{self, Appended, NewMessage};

fn visitor_message(body: String, client_msg_id: Option<String>) -> NewMessage {
    NewMessage {
        author: Author {
            kind: AuthorKind::Visitor,
            name: None,
        },
        body,
        client_msg_id,
        reopens: true,
        auto_reply: false,
    }
}

async fn stored_seqs(app: &common::TestApp, conversation_id: &str) -> Vec<i64> {
    app.sql
        .i64s(
            "SELECT seq FROM messages WHERE conversation_id = $1 ORDER BY seq",
            &[conversation_id.into()],
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_get_every_sequence_number_once() {
    let app = test_app().await;
    let session = app.widget_session(&visitor_id(1), None).await.json();
    let conversation_id = app
        .conversation_in_session(session["session_id"].as_str().unwrap())
        .await;
    let before = stored_seqs(&app, &conversation_id).await.len() as i64;

    const SENDERS: usize = 300;
    let appends = (0..SENDERS).map(|n| {
        let writer = app.state.messages.clone();
        let conversation_id = conversation_id.clone();
        tokio::spawn(async move {
            let message = visitor_message(format!("message {n}"), Some(format!("c-{n}")));
            conversations::append(&writer, &conversation_id, message).await
        })
    });
    let mut answered: Vec<i64> = join_all(appends)
        .await
        .into_iter()
        .map(|joined| match joined.unwrap().unwrap() {
            Appended::New { message, .. } => message.seq,
            Appended::Duplicate(message) => panic!("not a duplicate: {message:?}"),
        })
        .collect();
    answered.sort_unstable();

    let expected: Vec<i64> = (before + 1..=before + SENDERS as i64).collect();
    assert_eq!(
        answered, expected,
        "each answer is a distinct, gap-free seq"
    );
    let stored = stored_seqs(&app, &conversation_id).await;
    assert_eq!(
        &stored[before as usize..],
        expected.as_slice(),
        "all stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_message_fails_alone_and_resends_are_answered_with_the_original() {
    let app = test_app().await;
    let session = app.widget_session(&visitor_id(2), None).await.json();
    let conversation_id = app
        .conversation_in_session(session["session_id"].as_str().unwrap())
        .await;
    let writer = &app.state.messages;

    // Queued together: the one for a conversation that doesn't exist fails, the others commit;
    // the same client id twice is stored once and both senders get that message.
    let (good, missing, first_copy, second_copy) = tokio::join!(
        conversations::append(
            writer,
            &conversation_id,
            visitor_message("good".into(), None)
        ),
        conversations::append(
            writer,
            "no-such-conversation",
            visitor_message("lost?".into(), None)
        ),
        conversations::append(
            writer,
            &conversation_id,
            visitor_message("twice".into(), Some("same-id".into()))
        ),
        conversations::append(
            writer,
            &conversation_id,
            visitor_message("twice".into(), Some("same-id".into()))
        ),
    );
    let good = good.unwrap().into_message();
    assert!(missing.is_err(), "no conversation, no message");
    let first_copy = first_copy.unwrap().into_message();
    let second_copy = second_copy.unwrap().into_message();
    assert_eq!(
        first_copy.id, second_copy.id,
        "one message for one client id"
    );

    let bodies = app
        .sql
        .strings(
            "SELECT body FROM messages WHERE conversation_id = $1 AND seq >= $2",
            &[
                (&conversation_id).into(),
                good.seq.min(first_copy.seq).into(),
            ],
        )
        .await;
    assert_eq!(bodies.len(), 2, "good and one copy of twice: {bodies:?}");
    assert!(bodies.contains(&"good".to_string()) && bodies.contains(&"twice".to_string()));
    let lost = app
        .sql
        .i64("SELECT COUNT(*) FROM messages WHERE body = 'lost?'", &[])
        .await;
    assert_eq!(lost, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_messages_use_no_seq_and_a_visitor_message_reopens_once() {
    let app = test_app().await;
    let session = app.widget_session(&visitor_id(3), None).await.json();
    let conversation_id = app
        .conversation_in_session(session["session_id"].as_str().unwrap())
        .await;
    let writer = &app.state.messages;
    let first = conversations::append(
        writer,
        &conversation_id,
        visitor_message("first".into(), Some("one".into())),
    )
    .await
    .unwrap()
    .into_message();
    let resent = conversations::append(
        writer,
        &conversation_id,
        visitor_message("first".into(), Some("one".into())),
    )
    .await
    .unwrap();
    assert!(matches!(resent, Appended::Duplicate(ref message) if message.id == first.id));

    let workspace_id = app
        .sql
        .string(
            "SELECT workspace_id FROM conversations WHERE id = $1",
            &[(&conversation_id).into()],
        )
        .await;
    conversations::set_status(
        &app.state.db,
        &workspace_id,
        &conversation_id,
        talk_protocol::ConversationStatus::Closed,
    )
    .await
    .unwrap();
    let reopening = conversations::append(
        writer,
        &conversation_id,
        visitor_message("back".into(), None),
    )
    .await
    .unwrap();
    let Appended::New { message, reopened } = reopening else {
        panic!("a new message");
    };
    assert!(reopened, "a closed conversation is reopened by the visitor");
    assert_eq!(message.seq, first.seq + 1, "the resend used no seq");
    let Appended::New { reopened, .. } = conversations::append(
        writer,
        &conversation_id,
        visitor_message("again".into(), None),
    )
    .await
    .unwrap() else {
        panic!("a new message");
    };
    assert!(!reopened, "already open");

    let (status, last_seq) = app
        .sql
        .text_i64_pairs(
            "SELECT status, last_seq FROM conversations WHERE id = $1",
            &[(&conversation_id).into()],
        )
        .await
        .remove(0);
    assert_eq!((status.as_str(), last_seq), ("open", first.seq + 2));
}
