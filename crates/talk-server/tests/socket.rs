//! Real servers on 127.0.0.1:0 and real WebSocket clients. HTTP calls go in-process to the
//! same state (same database, same hub).

mod common;

use axum::http::{Method, StatusCode};
use common::live::*;
use common::visitor_id;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::time::Duration;
use talk_protocol::{close_code, ServerEvent};
use tokio_tungstenite::tungstenite::Message as Frame;

const MSG_1: &str = "6f1c1c8e-4a4c-4f0e-9a57-3f5d3c2b1a01";
const MSG_2: &str = "6f1c1c8e-4a4c-4f0e-9a57-3f5d3c2b1a02";
const MSG_3: &str = "6f1c1c8e-4a4c-4f0e-9a57-3f5d3c2b1a03";

#[tokio::test]
async fn first_frame_must_be_auth() {
    let server = start().await;
    let mut ws = server.connect().await;
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(close_code_of(&mut ws).await, close_code::AUTH_FAILED);

    let mut ws = server.connect().await;
    ws.send(Frame::text("hello")).await.unwrap();
    assert_eq!(close_code_of(&mut ws).await, close_code::AUTH_FAILED);
}

#[tokio::test]
async fn forged_token_closes_with_auth_failed() {
    let server = start().await;
    let (kid, _) = server.app.signing_key().await;
    let claims = json!({"typ": "socket", "ws": server.app.workspace.workspace_id, "sid": "s",
        "vid": visitor_id(1), "ver": true, "pid": "p",
        "iat": common::now_secs(), "exp": common::now_secs() + 600});
    let forged = common::sign_with(&kid, "guessed-secret", claims);
    for token in [forged.as_str(), "garbage"] {
        let mut ws = server.connect().await;
        send(&mut ws, json!({"type": "auth", "token": token})).await;
        assert_eq!(close_code_of(&mut ws).await, close_code::AUTH_FAILED);
    }
}

#[tokio::test]
async fn expired_session_token_closes_with_token_expired() {
    let server = start_with(|settings| settings.socket_token_ttl_secs = 1).await;
    let session_token = server.app.session_token(&visitor_id(1), None).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let mut ws = server.connect().await;
    send(&mut ws, json!({"type": "auth", "token": session_token})).await;
    assert_eq!(close_code_of(&mut ws).await, close_code::TOKEN_EXPIRED);
}

/// A session keeps its author between messages (no read per message): a new identify on the
/// same visitor must still show in the very next message.
#[tokio::test]
async fn a_new_identify_names_the_next_message_on_a_live_socket() {
    let server = start().await;
    let visitor = visitor_id(1);
    server.identify(&visitor, "ann@example.com").await;
    let (mut ws, _) = server.open(&visitor, None).await;
    let first = ack(send_message(&mut ws, None, MSG_1, "Hello").await);
    assert_eq!(first.author.name.as_deref(), Some("Ann"));

    let token = server.app.session_token(&visitor, None).await;
    let renamed = json!({"email": "ann@example.com", "first_name": "Annie", "last_name": "Lee"});
    let answer = server.app.identify(&token, renamed).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let second = ack(send_message(&mut ws, Some(&first.conversation_id), MSG_2, "Me again").await);
    assert_eq!(second.author.name.as_deref(), Some("Annie Lee"));
    // And kept from there: the next one has the same name.
    let third = ack(send_message(&mut ws, Some(&first.conversation_id), MSG_3, "And again").await);
    assert_eq!(third.author.name.as_deref(), Some("Annie Lee"));
}

#[tokio::test]
async fn sending_requires_identify_and_is_idempotent() {
    let server = start().await;
    let visitor = visitor_id(1);
    let (mut ws, conversations) = server.open(&visitor, None).await;
    assert!(conversations.is_empty());

    let refused = send_message(&mut ws, None, MSG_1, "Hello").await;
    assert_eq!(
        error_code(refused),
        ("identify_first".to_string(), Some(MSG_1.to_string()))
    );

    server.identify(&visitor, "ann@example.com").await;
    // The same socket may send now: identity is looked up per send.
    let first = ack(send_message(&mut ws, None, MSG_1, "  Hello  ").await);
    assert_eq!(first.seq, 1);
    assert_eq!(first.body, "Hello");
    assert_eq!(first.client_msg_id.as_deref(), Some(MSG_1));
    assert_eq!(first.author.name.as_deref(), Some("Ann"));

    // A resend (e.g. after a drop) returns the committed message again.
    let again = ack(send_message(&mut ws, None, MSG_1, "Hello").await);
    assert_eq!((again.id.as_str(), again.seq), (first.id.as_str(), 1));
    let again = ack(send_message(&mut ws, Some(&first.conversation_id), MSG_1, "Hello").await);
    assert_eq!((again.id.as_str(), again.seq), (first.id.as_str(), 1));

    let conversations = server.agent_conversations().await;
    assert_eq!(conversations.len(), 1);
    let listed = server
        .app
        .agent(
            Method::GET,
            &format!("/v1/conversations/{}/messages", first.conversation_id),
            None,
        )
        .await
        .json();
    assert_eq!(listed["messages"].as_array().unwrap().len(), 1);

    let second = ack(send_message(&mut ws, Some(&first.conversation_id), MSG_2, "More").await);
    assert_eq!(second.seq, 2);

    // Refusals are events, not closes.
    let cases = [
        (
            Some(first.conversation_id.as_str()),
            "not-a-uuid",
            "hi",
            "invalid_client_msg_id",
        ),
        (
            Some(first.conversation_id.as_str()),
            MSG_3,
            " \n ",
            "empty_message",
        ),
        (
            Some("000000000000000000000000"),
            MSG_3,
            "hi",
            "conversation_not_found",
        ),
    ];
    for (conversation_id, client_msg_id, body, code) in cases {
        let refused = send_message(&mut ws, conversation_id, client_msg_id, body).await;
        assert_eq!(error_code(refused).0, code);
    }
    let long = "x".repeat(talk_protocol::MAX_MESSAGE_BYTES + 1);
    let refused = send_message(&mut ws, Some(&first.conversation_id), MSG_3, &long).await;
    assert_eq!(error_code(refused).0, "message_too_long");

    ws.send(Frame::text("{\"type\":\"nope\"}")).await.unwrap();
    assert_eq!(error_code(next_event(&mut ws).await).0, "invalid_event");
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next_event(&mut ws).await, ServerEvent::Pong);
}

#[tokio::test]
async fn agent_replies_arrive_live_on_every_tab() {
    let server = start().await;
    let visitor = visitor_id(1);
    server.identify(&visitor, "ann@example.com").await;
    let (mut tab_one, _) = server.open(&visitor, None).await;
    let first = ack(send_message(&mut tab_one, None, MSG_1, "Hello").await);
    let (mut tab_two, conversations) = server.open(&visitor, None).await;
    assert_eq!(conversations.len(), 1);
    assert_eq!(conversations[0].id, first.conversation_id);

    // A visitor message reaches the other tab, not the sender (it got the ack).
    let from_tab_one = ack(send_message(
        &mut tab_one,
        Some(&first.conversation_id),
        MSG_2,
        "Still there?",
    )
    .await);
    assert_eq!(
        next_event(&mut tab_two).await,
        ServerEvent::Message {
            message: from_tab_one
        }
    );

    let reply = server.agent_reply(&first.conversation_id, "Hi Ann").await;
    assert_eq!(reply.seq, 3);
    for tab in [&mut tab_one, &mut tab_two] {
        assert_eq!(
            next_event(tab).await,
            ServerEvent::Message {
                message: reply.clone()
            }
        );
    }
}

#[tokio::test]
async fn resume_returns_exactly_the_missed_messages() {
    let server = start().await;
    let visitor = visitor_id(1);
    server.identify(&visitor, "ann@example.com").await;
    let (mut ws, _) = server.open(&visitor, None).await;
    let first = ack(send_message(&mut ws, None, MSG_1, "Hello").await);
    ws.close(None).await.unwrap();
    drop(ws);

    let missed = [
        server.agent_reply(&first.conversation_id, "One").await,
        server.agent_reply(&first.conversation_id, "Two").await,
    ];
    let (mut ws, conversations) = server.open(&visitor, None).await;
    assert_eq!(conversations[0].last_seq, 3);
    send(
        &mut ws,
        json!({"type": "resume", "conversation_id": first.conversation_id, "after_seq": first.seq}),
    )
    .await;
    match next_event(&mut ws).await {
        ServerEvent::History {
            conversation_id,
            messages,
            ..
        } => assert_eq!(
            (conversation_id, messages),
            (first.conversation_id.clone(), missed.to_vec())
        ),
        other => panic!("expected history, got {other:?}"),
    }
    // Nothing else follows: the ping's pong comes next.
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next_event(&mut ws).await, ServerEvent::Pong);
}

#[tokio::test]
async fn claiming_an_email_does_not_reveal_its_conversations() {
    let server = start().await;
    let (visitor_a, visitor_b) = (visitor_id(1), visitor_id(2));
    server.identify(&visitor_a, "ann@example.com").await;
    let (mut ws_a, _) = server.open(&visitor_a, None).await;
    let first = ack(send_message(&mut ws_a, None, MSG_1, "Private").await);

    server.identify(&visitor_b, "ANN@example.com").await;
    let (mut ws_b, conversations) = server.open(&visitor_b, None).await;
    assert!(conversations.is_empty(), "{conversations:?}");
    send(
        &mut ws_b,
        json!({"type": "resume", "conversation_id": first.conversation_id, "after_seq": 0}),
    )
    .await;
    assert_eq!(
        error_code(next_event(&mut ws_b).await).0,
        "conversation_not_found"
    );
    let refused = send_message(&mut ws_b, Some(&first.conversation_id), MSG_2, "Let me in").await;
    assert_eq!(error_code(refused).0, "conversation_not_found");
}

#[tokio::test]
async fn verified_sessions_start_verified_conversations() {
    let server = start().await;
    let visitor = visitor_id(1);
    server.identify(&visitor, "ann@example.com").await;
    let (mut ws, _) = server.open(&visitor, None).await;
    let unverified = ack(send_message(&mut ws, None, MSG_1, "Before login").await);
    ws.close(None).await.unwrap();

    let minted = server
        .app
        .talk_session(
            json!({"fields": {"str::email": "ann@example.com", "str::name": "Ann Smith"}}),
        )
        .await
        .json();
    assert_eq!(minted["person_status"], "by-merge-field");
    let token = minted["token"].as_str().unwrap();
    let (mut ws, conversations) = server.open(&visitor, Some(token)).await;
    assert_eq!(
        conversations.len(),
        1,
        "its own visitor's conversation stays visible"
    );
    let verified = ack(send_message(&mut ws, None, MSG_2, "After login").await);
    assert_ne!(verified.conversation_id, unverified.conversation_id);
    assert_eq!(verified.author.name.as_deref(), Some("Ann Smith"));

    let listed = server.agent_conversations().await;
    let find = |id: &str| {
        listed
            .iter()
            .find(|conversation| conversation.id == id)
            .unwrap()
            .clone()
    };
    assert!(find(&verified.conversation_id).verified);
    assert!(!find(&unverified.conversation_id).verified);

    // The same verified person on another device sees the verified conversation only.
    let (_, elsewhere) = server.open(&visitor_id(3), Some(token)).await;
    let ids: Vec<&str> = elsewhere
        .iter()
        .map(|conversation| conversation.id.as_str())
        .collect();
    assert_eq!(ids, [verified.conversation_id.as_str()]);
}

#[tokio::test]
async fn shutdown_closes_open_sockets_with_going_away() {
    let mut server = start().await;
    let (mut ws, _) = server.open(&visitor_id(1), None).await;
    let mut waiting = server.connect().await;
    if let Some(stop) = server.stop.take() {
        let _ = stop.send(());
    }
    assert_eq!(close_code_of(&mut ws).await, close_code::GOING_AWAY);
    assert_eq!(close_code_of(&mut waiting).await, close_code::GOING_AWAY);
    server.shutdown().await;
}

/// The conversation: 17 messages of 16,000 B (the visitor's first, 16 agent replies).
async fn large_conversation(server: &Server, visitor: &str) -> String {
    server.identify(visitor, "ann@example.com").await;
    let (mut ws, _) = server.open(visitor, None).await;
    let body = "x".repeat(16_000);
    let first = ack(send_message(&mut ws, None, MSG_1, &body).await);
    for _ in 0..16 {
        server.agent_reply(&first.conversation_id, &body).await;
    }
    first.conversation_id
}

/// The next event as sent: its JSON and its frame's length. Fails when the socket ends.
async fn next_frame(ws: &mut Ws) -> (serde_json::Value, usize) {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("an event within 5 s")
            .expect("the socket is open (it was dropped)")
            .expect("no socket error");
        match frame {
            Frame::Text(text) => return (serde_json::from_str(text.as_str()).unwrap(), text.len()),
            Frame::Ping(_) | Frame::Pong(_) => continue,
            other => panic!("expected an event, got {other:?}"),
        }
    }
}

/// Under the server's WebSocket write buffer (256 KiB) with room to spare.
const MAX_FRAME_BYTES: usize = 160 * 1024;

fn seqs_of(history: &serde_json::Value) -> Vec<i64> {
    assert_eq!(history["type"], "history", "{history}");
    history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|message| message["seq"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn resume_of_a_large_history_is_paged_not_dropped() {
    let server = start().await;
    let visitor = visitor_id(1);
    let conversation_id = large_conversation(&server, &visitor).await;

    // A new page's widget resumes from 0: the answer is a page, and `more` asks for the next.
    let (mut ws, _) = server.open(&visitor, None).await;
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let after_seq = seen.last().copied().unwrap_or(0);
        send(
            &mut ws,
            json!({"type": "resume", "conversation_id": conversation_id, "after_seq": after_seq}),
        )
        .await;
        let (history, frame_bytes) = next_frame(&mut ws).await;
        assert!(frame_bytes <= MAX_FRAME_BYTES, "{frame_bytes} B");
        let seqs = seqs_of(&history);
        assert_eq!(seqs.first(), Some(&(after_seq + 1)), "no gap between pages");
        seen.extend(seqs);
        pages += 1;
        if history["more"] != json!(true) {
            break;
        }
    }
    assert_eq!(
        seen,
        (1..=17).collect::<Vec<i64>>(),
        "every message once, in order"
    );
    assert!(pages > 1, "one page can't hold 17 × 16,000 B");
    // Resumed to the end: nothing more, and the socket still serves.
    send(
        &mut ws,
        json!({"type": "resume", "conversation_id": conversation_id, "after_seq": 17}),
    )
    .await;
    let (last, _) = next_frame(&mut ws).await;
    assert_eq!((seqs_of(&last), &last["more"]), (vec![], &json!(false)));
    assert_quiet(&mut ws).await;
}

#[tokio::test]
async fn load_before_is_bounded() {
    let server = start().await;
    let visitor = visitor_id(1);
    let conversation_id = large_conversation(&server, &visitor).await;

    let (mut ws, _) = server.open(&visitor, None).await;
    send(
        &mut ws,
        json!({"type": "load_before", "conversation_id": conversation_id, "limit": 200}),
    )
    .await;
    let (newest, frame_bytes) = next_frame(&mut ws).await;
    assert!(frame_bytes <= MAX_FRAME_BYTES, "{frame_bytes} B");
    let mut seen = seqs_of(&newest);
    assert_eq!(seen.last(), Some(&17), "the newest messages come first");
    assert!(seen.len() < 17, "cut to the page's bytes: {seen:?}");
    // Older pages on demand, before the oldest one held, until seq 1.
    while seen[0] > 1 {
        send(
            &mut ws,
            json!({"type": "load_before", "conversation_id": conversation_id,
                   "before_seq": seen[0], "limit": 200}),
        )
        .await;
        let (older, frame_bytes) = next_frame(&mut ws).await;
        assert!(frame_bytes <= MAX_FRAME_BYTES, "{frame_bytes} B");
        let mut page = seqs_of(&older);
        assert_eq!(page.last(), Some(&(seen[0] - 1)), "no gap between pages");
        page.extend(seen);
        seen = page;
    }
    assert_eq!(seen, (1..=17).collect::<Vec<i64>>());
    assert_quiet(&mut ws).await;
}

#[tokio::test]
async fn the_agents_message_list_is_bounded_in_bytes() {
    let server = start().await;
    let visitor = visitor_id(1);
    let conversation_id = large_conversation(&server, &visitor).await;

    let uri = format!("/v1/conversations/{conversation_id}/messages?limit=200");
    let seqs = |answer: &serde_json::Value| -> Vec<i64> {
        answer["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|message| message["seq"].as_i64().unwrap())
            .collect()
    };
    let newest = server
        .agent_call(Method::GET, &uri, None, StatusCode::OK)
        .await;
    assert!(newest.to_string().len() <= MAX_FRAME_BYTES);
    let mut seen = seqs(&newest);
    assert_eq!(seen.last(), Some(&17), "the newest messages come first");
    assert!(seen.len() < 17, "cut to the page's bytes: {seen:?}");
    while seen[0] > 1 {
        let older = server
            .agent_call(
                Method::GET,
                &format!("{uri}&before_seq={}", seen[0]),
                None,
                StatusCode::OK,
            )
            .await;
        let mut page = seqs(&older);
        assert_eq!(page.last(), Some(&(seen[0] - 1)), "no gap between pages");
        page.extend(seen);
        seen = page;
    }
    assert_eq!(seen, (1..=17).collect::<Vec<i64>>());
}

/// A send the store fails to write (here a trigger refuses it, as a database that went away
/// would) is not refused with an `error`, which would make the widget give it up while it
/// goes on sending: the socket closes (1011) before reading another frame, so the widget
/// resends it, and what it sent after it, in order. The same message then goes through.
#[tokio::test]
async fn a_send_the_store_fails_closes_the_socket_unread_and_a_resend_is_stored_once() {
    let server = start().await;
    let sql = &server.app.sql;
    failing_disk_for(sql, "unlucky").await;
    server.identify(&visitor_id(1), "ann@example.com").await;
    let (mut ws, _) = server.open(&visitor_id(1), None).await;
    let first = ack(send_message(&mut ws, None, MSG_1, "fine").await);
    let conversation = first.conversation_id.clone();

    // The failing send, and one right behind it on the same socket.
    let failing = json!({"type": "send", "conversation_id": conversation,
                         "client_msg_id": MSG_2, "body": "unlucky"});
    let behind = json!({"type": "send", "conversation_id": conversation,
                        "client_msg_id": MSG_3, "body": "typed after it"});
    send(&mut ws, failing).await;
    send(&mut ws, behind).await;
    assert_eq!(
        close_code_of(&mut ws).await,
        1011,
        "no error event, a close"
    );
    let stored = |sql: &common::sql::Sql| {
        let sql = sql.clone();
        let conversation = conversation.clone();
        async move {
            sql.strings(
                "SELECT body FROM messages WHERE conversation_id = $1 ORDER BY seq",
                &[conversation.as_str().into()],
            )
            .await
        }
    };
    assert_eq!(stored(sql).await, ["fine"], "nothing after it was read");

    // The disk is fine again: the widget's resend of both, in order, under their ids.
    disk_fixed(sql).await;
    let (mut ws, _) = server.open(&visitor_id(1), None).await;
    let again = ack(send_message(&mut ws, Some(&conversation), MSG_2, "unlucky").await);
    let next = ack(send_message(&mut ws, Some(&conversation), MSG_3, "typed after it").await);
    assert_eq!((again.seq, next.seq), (first.seq + 1, first.seq + 2));
    assert_eq!(stored(sql).await, ["fine", "unlucky", "typed after it"]);
}

/// Events queued faster than a socket writes them go out in batches (one flush each, at
/// most 64 events): every one of them, once, in order, across batch boundaries.
#[tokio::test]
async fn a_backlog_written_in_batches_loses_and_reorders_nothing() {
    let server = start().await;
    let cookie = server.app.admin_cookie().await;
    let mut inbox = server.agent_socket(&cookie).await;
    let workspace =
        talk_server::realtime::hub::Topic::Workspace(server.app.workspace.workspace_id.clone());
    // Published without yielding: all of them are queued before the socket writes one.
    const EVENTS: i64 = 300;
    for seq in 1..=EVENTS {
        server.app.state.hub.publish(
            std::slice::from_ref(&workspace),
            ServerEvent::Read {
                conversation_id: "c1".into(),
                reader: talk_protocol::AuthorKind::Visitor,
                up_to_seq: seq,
            },
            talk_server::realtime::hub::Except::Nobody,
        );
    }
    for expected in 1..=EVENTS {
        match next_event(&mut inbox).await {
            ServerEvent::Read { up_to_seq, .. } => assert_eq!(up_to_seq, expected),
            other => panic!("expected read {expected}, got {other:?}"),
        }
    }
    assert_quiet(&mut inbox).await;
}

/// A store that fails every insert of a message with this body, as a database that went away
/// would (a trigger raises an error).
async fn failing_disk_for(sql: &common::sql::Sql, body: &str) {
    if matches!(sql, common::sql::Sql::Sqlite(_)) {
        sql.execute(
            &format!(
                "CREATE TRIGGER failing_disk BEFORE INSERT ON messages WHEN NEW.body = '{body}'
                 BEGIN SELECT RAISE(ABORT, 'the disk is on fire'); END"
            ),
            &[],
        )
        .await;
    } else {
        sql.execute(
            &format!(
                "CREATE FUNCTION failing_disk() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN IF NEW.body = '{body}' THEN RAISE EXCEPTION 'the disk is on fire'; END IF;
                 RETURN NEW; END $$"
            ),
            &[],
        )
        .await;
        sql.execute(
            "CREATE TRIGGER failing_disk BEFORE INSERT ON messages
             FOR EACH ROW EXECUTE FUNCTION failing_disk()",
            &[],
        )
        .await;
    }
}

async fn disk_fixed(sql: &common::sql::Sql) {
    let drop = match sql {
        common::sql::Sql::Sqlite(_) => "DROP TRIGGER failing_disk",
        common::sql::Sql::Postgres(_) => "DROP TRIGGER failing_disk ON messages",
    };
    sql.execute(drop, &[]).await;
}

/// The inbox keeps an outbox too: an agent's reply the store fails also ends the socket
/// unread, and the inbox resends it after reconnecting.
#[tokio::test]
async fn an_agent_reply_the_store_fails_closes_the_inbox_socket_unread() {
    let server = start().await;
    server.identify(&visitor_id(1), "ann@example.com").await;
    let (mut visitor, _) = server.open(&visitor_id(1), None).await;
    let conversation = ack(send_message(&mut visitor, None, MSG_1, "hello").await).conversation_id;
    failing_disk_for(&server.app.sql, "unlucky").await;
    let cookie = server.app.admin_cookie().await;
    let origin = server.app.state.settings.public_origin();
    let open_inbox = || async {
        let mut ws = server
            .connect_agent(&[("cookie", cookie.as_str()), ("origin", origin.as_str())])
            .await
            .expect("the agent socket opens");
        assert!(matches!(
            next_event(&mut ws).await,
            ServerEvent::Ready { .. }
        ));
        ws
    };
    let mut inbox = open_inbox().await;
    let failing = json!({"type": "send", "conversation_id": conversation,
                         "client_msg_id": MSG_2, "body": "unlucky"});
    send(&mut inbox, failing).await;
    assert_eq!(close_code_of(&mut inbox).await, 1011);
    disk_fixed(&server.app.sql).await;
    let mut inbox = open_inbox().await;
    let again = ack(send_message(&mut inbox, Some(&conversation), MSG_2, "unlucky").await);
    assert_eq!(again.body, "unlucky");
    let stored = server
        .app
        .sql
        .i64(
            "SELECT COUNT(*) FROM messages WHERE client_msg_id = $1",
            &[MSG_2.into()],
        )
        .await;
    assert_eq!(stored, 1);
}
