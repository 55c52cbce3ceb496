//! Two nodes, one PostgreSQL database: two servers (each its own `AppState`, hub and bus
//! listener) on real sockets. What one node commits reaches the other node's connections
//! live, every seq once and in order, also across a lost listener connection; an agent
//! removed on one node loses its socket on the other at once. PostgreSQL only (run under
//! `scripts/postgres.sh`): on SQLite each test says why it skips, since a SQLite server is a
//! single node without a bus.

mod common;

use axum::http::{Method, StatusCode};
use common::live::*;
use common::visitor_id;
use serde_json::json;
use std::collections::BTreeSet;
use std::time::Duration;
use talk_protocol::{close_code, Message, ServerEvent};

/// Node A and node B on A's database; `None` (and why) on SQLite.
async fn two_nodes() -> Option<(Server, Server)> {
    let a = start_with(generous).await;
    let url = a.app.state.settings.database_url.clone();
    if !url.starts_with("postgres") {
        eprintln!("skipped: two nodes share a PostgreSQL database (run under scripts/postgres.sh)");
        return None;
    }
    let b = start_with(|settings| {
        generous(settings);
        settings.database_url = url;
    })
    .await;
    Some((a, b))
}

/// Senders here send faster than a person types.
fn generous(settings: &mut talk_server::Settings) {
    settings.socket_messages_per_window = 10_000;
}

fn uuid(n: u32) -> String {
    format!("7a1c1c8e-4a4c-4f0e-9a57-{n:012x}")
}

fn message(event: ServerEvent) -> Message {
    match event {
        ServerEvent::Message { message } => message,
        other => panic!("expected a message, got {other:?}"),
    }
}

/// A conversation started by a visitor on node A, heard by the admin's inbox on node B:
/// (visitor socket on A, inbox socket on B, conversation id).
async fn visitor_on_a_agent_on_b(a: &Server, b: &Server) -> (Ws, Ws, String) {
    let cookie = a.app.admin_cookie().await;
    let mut inbox = b.agent_socket(&cookie).await;
    let visitor = visitor_id(1);
    a.identify(&visitor, "ann@example.com").await;
    let (mut ws, _) = a.open(&visitor, None).await;
    let first = ack(send_message(&mut ws, None, &uuid(1), "Hello").await);
    let started = conversation_updated(next_event(&mut inbox).await);
    assert_eq!(started.id, first.conversation_id);
    assert_eq!(message(next_event(&mut inbox).await), first);
    (ws, inbox, first.conversation_id)
}

/// Reads a socket until it has seen seqs `1..=last` (its acks and others' messages); the
/// messages come in seq order, each once.
async fn sees_every_seq(ws: &mut Ws, seen: &mut BTreeSet<i64>, last: i64) {
    let mut last_message = 0;
    while seen.len() < usize::try_from(last).unwrap() {
        match next_event(ws).await {
            ServerEvent::Ack { message, .. } => {
                seen.insert(message.seq);
            }
            ServerEvent::Message { message } => {
                assert!(
                    message.seq > last_message,
                    "seq {} after {last_message}",
                    message.seq
                );
                last_message = message.seq;
                seen.insert(message.seq);
            }
            ServerEvent::Typing { .. } | ServerEvent::Read { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(*seen, (1..=last).collect::<BTreeSet<_>>());
}

#[tokio::test]
async fn a_visitor_on_one_node_and_an_agent_on_another_converse_live() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let (mut visitor, mut inbox, conversation_id) = visitor_on_a_agent_on_b(&a, &b).await;

    // The agent answers on node B; the visitor on node A hears it.
    send(
        &mut inbox,
        json!({"type": "send", "conversation_id": conversation_id,
               "client_msg_id": uuid(2), "body": "Hi Ann"}),
    )
    .await;
    let reply = ack(next_event(&mut inbox).await);
    assert_eq!(message(next_event(&mut visitor).await), reply);
    // And back, with typing on the way.
    send(
        &mut visitor,
        json!({"type": "typing", "conversation_id": conversation_id, "typing": true}),
    )
    .await;
    assert!(matches!(
        next_event(&mut inbox).await,
        ServerEvent::Typing { typing: true, .. }
    ));
    let thanks = ack(send_message(&mut visitor, Some(&conversation_id), &uuid(3), "Thanks").await);
    assert_eq!(message(next_event(&mut inbox).await), thanks);
    assert_eq!(thanks.seq, 3);
    // A change of state made on node A (closing) reaches node B's inbox.
    let closed = a
        .app
        .agent(
            Method::POST,
            &format!("/v1/conversations/{conversation_id}/close"),
            None,
        )
        .await;
    assert!(closed.status.is_success(), "{}", closed.text);
    let updated = conversation_updated(next_event(&mut inbox).await);
    assert_eq!(updated.id, conversation_id);
}

/// A visitor's author is kept by its session between messages: an identify made through
/// node B renames the next message the visitor sends over its socket on node A.
#[tokio::test]
async fn an_identify_on_one_node_names_the_next_message_on_another() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let (mut visitor, _inbox, conversation_id) = visitor_on_a_agent_on_b(&a, &b).await;
    // A's workspace (each test server makes its own), B's HTTP.
    let token = a.app.session_token(&visitor_id(1), None).await;
    let renamed = json!({"email": "ann@example.com", "first_name": "Annie", "last_name": "Lee"});
    let answer = b.app.identify(&token, renamed).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    // Node A hears of it through the bus (NOTIFY, sent in the identify's commit): wait until
    // it has, as a visitor's next request after the answer would on a real network.
    let mut sent = 1;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        sent += 1;
        let next = ack(send_message(
            &mut visitor,
            Some(&conversation_id),
            &uuid(sent),
            "Still me",
        )
        .await);
        if next.author.name.as_deref() == Some("Annie Lee") {
            break;
        }
        assert_eq!(next.author.name.as_deref(), Some("Ann"));
        assert!(
            tokio::time::Instant::now() < deadline,
            "node A never heard of the identify"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn senders_on_both_nodes_interleave_and_everyone_sees_every_seq_once_in_order() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let (mut visitor, mut inbox, conversation_id) = visitor_on_a_agent_on_b(&a, &b).await;
    const EACH: u32 = 40;
    for n in 0..EACH {
        send(
            &mut visitor,
            json!({"type": "send", "conversation_id": conversation_id,
                   "client_msg_id": uuid(100 + n), "body": format!("v{n}")}),
        )
        .await;
        send(
            &mut inbox,
            json!({"type": "send", "conversation_id": conversation_id,
                   "client_msg_id": uuid(200 + n), "body": format!("a{n}")}),
        )
        .await;
    }
    let last = 1 + 2 * i64::from(EACH);
    let mut visitor_seen = BTreeSet::from([1]);
    let mut inbox_seen = BTreeSet::from([1]);
    sees_every_seq(&mut visitor, &mut visitor_seen, last).await;
    sees_every_seq(&mut inbox, &mut inbox_seen, last).await;
    nothing_new(&mut visitor, last).await;
    nothing_new(&mut inbox, last).await;
}

/// Nothing more but, at most, a sender's own message that a gap fill delivered besides its
/// ack (same seq: clients dedupe by seq).
async fn nothing_new(ws: &mut Ws, last: i64) {
    send(ws, json!({"type": "ping"})).await;
    loop {
        match next_event(ws).await {
            ServerEvent::Pong => return,
            ServerEvent::Message { message } => assert!(message.seq <= last, "{message:?}"),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_listener_cut_off_mid_stream_resyncs_and_loses_nothing() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let (mut visitor, mut inbox, conversation_id) = visitor_on_a_agent_on_b(&a, &b).await;
    let bus = b.app.state.bus().expect("a PostgreSQL node has a bus");
    let before = bus.listener_pid().expect("B listens");
    const EACH: u32 = 20;
    for n in 0..EACH {
        send(
            &mut visitor,
            json!({"type": "send", "conversation_id": conversation_id,
                   "client_msg_id": uuid(100 + n), "body": format!("v{n}")}),
        )
        .await;
        if n == EACH / 4 {
            let ended = a
                .app
                .sql
                .i64(
                    "SELECT CASE WHEN pg_terminate_backend($1::int) THEN 1::int8 ELSE 0::int8 END",
                    &[i64::from(before).into()],
                )
                .await;
            assert_eq!(ended, 1, "B's listener was ended");
        }
    }
    let last = 1 + i64::from(EACH);
    let mut visitor_seen = BTreeSet::from([1]);
    sees_every_seq(&mut visitor, &mut visitor_seen, last).await;
    let mut inbox_seen = BTreeSet::from([1]);
    sees_every_seq(&mut inbox, &mut inbox_seen, last).await;
    // B listens again, on a new connection.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match bus.listener_pid() {
            Some(pid) if pid != before => break,
            _ if tokio::time::Instant::now() > deadline => panic!("B never listened again"),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    // And hears what comes next.
    let more = ack(send_message(&mut visitor, Some(&conversation_id), &uuid(999), "more").await);
    assert_eq!(message(next_event(&mut inbox).await), more);
}

#[tokio::test]
async fn an_agent_removed_on_one_node_loses_its_socket_on_another_at_once() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let admin = a.app.admin_cookie().await;
    let created = a
        .app
        .as_agent(
            &admin,
            Method::POST,
            "/v1/admin/agents",
            Some(json!({"email": "sam@example.com", "name": "Sam", "role": "agent"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let created = created.json();
    let agent_id = created["agent"]["id"].as_str().unwrap().to_string();
    let cookie = b
        .app
        .sign_in("sam@example.com", created["password"].as_str().unwrap())
        .await;
    let mut socket = b.agent_socket(&cookie).await;
    let mut admin_socket = b.agent_socket(&admin).await;
    assert_quiet(&mut socket).await;

    let removed = a
        .app
        .as_agent(
            &admin,
            Method::DELETE,
            &format!("/v1/admin/agents/{agent_id}"),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);
    // Sooner than any heartbeat (30 s by default): the bus carried it.
    let code = tokio::time::timeout(Duration::from_secs(3), close_code_of(&mut socket))
        .await
        .expect("closed at once, not at the next heartbeat");
    assert_eq!(code, close_code::SIGNED_OUT);
    assert_quiet(&mut admin_socket).await;
}

#[tokio::test]
async fn a_key_retired_from_another_process_ends_its_sockets_on_every_node_at_once() {
    let Some((_a, b)) = two_nodes().await else {
        return;
    };
    let (kid, _) = b.app.signing_key().await;
    let (mut old, _) = b.open(&visitor_id(1), None).await;
    // As `talk-server keys retire` does: its own connection to the database, no server.
    let cli = talk_server::db::connect(&b.app.state.settings.database_url)
        .await
        .unwrap();
    let workspace_id = &b.app.workspace.workspace_id;
    talk_server::tokens::rotate_signing_key(&cli, workspace_id)
        .await
        .unwrap();
    let (mut new, _) = b.open(&visitor_id(2), None).await;
    talk_server::tokens::retire_signing_key(&cli, workspace_id, &kid)
        .await
        .unwrap();
    // Sooner than the retired-key poll (every heartbeat, 30 s by default).
    let code = tokio::time::timeout(Duration::from_secs(3), close_code_of(&mut old))
        .await
        .expect("closed at once, not at the next poll");
    assert_eq!(code, close_code::KEY_RETIRED);
    assert_quiet(&mut new).await;
}

/// A visitor on node A calls; the agent on node B answers: the call's changes and each
/// side's signalling cross the bus, and the record reaches both.
#[tokio::test]
async fn a_call_between_two_nodes_rings_relays_and_ends_on_both() {
    let Some((a, b)) = two_nodes().await else {
        return;
    };
    let workspace_id = &a.app.workspace.workspace_id;
    let mut settings = talk_server::widget_settings::load(&a.app.state.db, workspace_id)
        .await
        .unwrap()
        .unwrap();
    settings.voice = true;
    talk_server::widget_settings::save(&a.app.state.db, workspace_id, &settings)
        .await
        .unwrap();
    let cookie = a.app.admin_cookie().await;
    a.app
        .as_agent(
            &cookie,
            Method::PUT,
            "/v1/agent/presence",
            Some(json!({"presence": "online"})),
        )
        .await;
    let (mut visitor, mut inbox, conversation_id) = visitor_on_a_agent_on_b(&a, &b).await;
    let call_id = uuid(99);
    let call_state = |event: ServerEvent| match event {
        ServerEvent::Call { call } => call.state,
        other => panic!("expected a call, got {other:?}"),
    };
    send(
        &mut visitor,
        json!({"type": "call_start", "conversation_id": conversation_id, "call_id": call_id}),
    )
    .await;
    assert_eq!(
        call_state(next_event(&mut visitor).await),
        talk_protocol::CallState::Ringing
    );
    assert_eq!(
        call_state(next_event(&mut inbox).await),
        talk_protocol::CallState::Ringing
    );
    send(
        &mut inbox,
        json!({"type": "call_answer", "call_id": call_id, "accept": true}),
    )
    .await;
    assert_eq!(
        call_state(next_event(&mut visitor).await),
        talk_protocol::CallState::Active
    );
    assert_eq!(
        call_state(next_event(&mut inbox).await),
        talk_protocol::CallState::Active
    );
    send(
        &mut visitor,
        json!({"type": "call_signal", "call_id": call_id,
               "signal": {"kind": "offer", "sdp": "v=0\r\n"}}),
    )
    .await;
    assert!(matches!(
        next_event(&mut inbox).await,
        ServerEvent::CallSignal { .. }
    ));
    send(
        &mut inbox,
        json!({"type": "call_signal", "call_id": call_id,
               "signal": {"kind": "answer", "sdp": "v=0\r\n"}}),
    )
    .await;
    assert!(matches!(
        next_event(&mut visitor).await,
        ServerEvent::CallSignal { .. }
    ));
    send(
        &mut visitor,
        json!({"type": "call_hangup", "call_id": call_id}),
    )
    .await;
    // The ended call and its record message cross the bus separately (the message through
    // the sequencer, from its commit): either may come first on the other node.
    for ws in [&mut visitor, &mut inbox] {
        let (mut ended, mut recorded) = (false, false);
        for _ in 0..2 {
            match next_event(ws).await {
                ServerEvent::Call { call } => {
                    assert_eq!(call.state, talk_protocol::CallState::Ended);
                    ended = true;
                }
                ServerEvent::Message { message } => {
                    assert_eq!(message.body, "Voice call failed to connect");
                    recorded = true;
                }
                other => panic!("expected the ended call and its record, got {other:?}"),
            }
        }
        assert!(ended && recorded);
    }
}
