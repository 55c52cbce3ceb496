//! Voice calls over real sockets: ringing, answering, signalling relayed between the call's
//! two sides only, the call record, a side that goes away, and the bounds.

mod common;

use axum::http::{Method, StatusCode};
use common::live::*;
use common::visitor_id;
use serde_json::{json, Value};
use std::time::Duration;
use talk_protocol::{
    AuthorKind, Call, CallOutcome, CallSignal, CallState, Message, ServerEvent, CALL_GRACE_SECS,
};

const CALL_1: &str = "0b5c9a2e-7d1f-4c3e-8a6b-2f4e6d8c0a01";
const CALL_2: &str = "0b5c9a2e-7d1f-4c3e-8a6b-2f4e6d8c0a02";
const OFFER: &str = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n";
const CANDIDATE: &str = "candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host";

/// A server whose workspace has voice on and its admin online.
async fn voice_server() -> (Server, String) {
    let server = start().await;
    let workspace_id = &server.app.workspace.workspace_id;
    let db = &server.app.state.db;
    let mut settings = talk_server::widget_settings::load(db, workspace_id)
        .await
        .unwrap()
        .unwrap();
    settings.voice = true;
    talk_server::widget_settings::save(db, workspace_id, &settings)
        .await
        .unwrap();
    let cookie = server.app.admin_cookie().await;
    let online = server
        .app
        .as_agent(
            &cookie,
            Method::PUT,
            "/v1/agent/presence",
            Some(json!({"presence": "online"})),
        )
        .await;
    assert_eq!(online.status, StatusCode::OK, "{}", online.text);
    (server, cookie)
}

/// An identified visitor's socket and its conversation's id.
async fn visitor_in_conversation(server: &Server, n: u8) -> (Ws, String) {
    let visitor = visitor_id(n);
    server
        .identify(&visitor, &format!("visitor{n}@example.com"))
        .await;
    let (mut ws, _) = server.open(&visitor, None).await;
    let client_msg_id = format!("7a1c1c8e-4a4c-4f0e-9a57-3f5d3c2b1c{n:02}");
    let first = ack(send_message(&mut ws, None, &client_msg_id, "Hello").await);
    (ws, first.conversation_id)
}

fn call_of(event: ServerEvent) -> Call {
    match event {
        ServerEvent::Call { call } => call,
        other => panic!("expected a call, got {other:?}"),
    }
}

async fn next_call(ws: &mut Ws) -> Call {
    call_of(next_event(ws).await)
}

async fn next_message(ws: &mut Ws) -> Message {
    match next_event(ws).await {
        ServerEvent::Message { message } => message,
        other => panic!("expected a message, got {other:?}"),
    }
}

/// Sends an event that must be refused; the refusal's code.
async fn refused(ws: &mut Ws, event: Value) -> String {
    send(ws, event).await;
    error_code(next_event(ws).await).0
}

/// The visitor calls and the inbox accepts: both have seen the call ring and go active.
async fn accepted_call(visitor: &mut Ws, inbox: &mut Ws, conversation_id: &str) {
    send(
        visitor,
        json!({"type": "call_start", "conversation_id": conversation_id, "call_id": CALL_1}),
    )
    .await;
    next_call(visitor).await;
    next_call(inbox).await;
    send(
        inbox,
        json!({"type": "call_answer", "call_id": CALL_1, "accept": true}),
    )
    .await;
    next_call(inbox).await;
    next_call(visitor).await;
}

fn offer(call_id: &str) -> Value {
    json!({"type": "call_signal", "call_id": call_id,
           "signal": {"kind": "offer", "sdp": OFFER}})
}

fn candidate(call_id: &str) -> Value {
    json!({"type": "call_signal", "call_id": call_id,
           "signal": {"kind": "candidate", "candidate": CANDIDATE, "sdp_mid": "0",
                      "sdp_m_line_index": 0}})
}

#[tokio::test]
async fn a_visitors_call_rings_relays_between_its_two_sides_only_and_is_recorded() {
    let (server, cookie) = voice_server().await;
    let (mut visitor, conversation_id) = visitor_in_conversation(&server, 1).await;
    let (mut stranger, _) = visitor_in_conversation(&server, 2).await;
    let mut inbox = server.agent_socket(&cookie).await;
    let mut other_tab = server.agent_socket(&cookie).await;

    send(
        &mut visitor,
        json!({"type": "call_start", "conversation_id": conversation_id, "call_id": CALL_1}),
    )
    .await;
    let ringing = next_call(&mut visitor).await;
    assert_eq!(
        (
            ringing.state,
            ringing.caller,
            ringing.conversation_id.as_str()
        ),
        (
            CallState::Ringing,
            AuthorKind::Visitor,
            conversation_id.as_str()
        )
    );
    assert_eq!(next_call(&mut inbox).await, ringing);
    assert_eq!(next_call(&mut other_tab).await, ringing);

    // A visitor of another conversation can neither answer nor signal into this call: to it
    // the call doesn't exist.
    let answer = json!({"type": "call_answer", "call_id": CALL_1, "accept": true});
    assert_eq!(
        refused(&mut stranger, answer.clone()).await,
        "call_not_found"
    );
    assert_eq!(
        refused(&mut stranger, candidate(CALL_1)).await,
        "call_not_found"
    );
    // Nor can the caller answer its own call, or anyone signal before it is accepted.
    assert_eq!(refused(&mut visitor, answer.clone()).await, "not_in_call");
    assert_eq!(refused(&mut visitor, offer(CALL_1)).await, "call_state");

    send(&mut inbox, answer.clone()).await;
    let active = next_call(&mut visitor).await;
    assert_eq!(active.state, CallState::Active);
    assert_eq!(active.agent_name.as_deref(), Some("Admin"));
    assert_eq!(next_call(&mut inbox).await, active);
    assert_eq!(next_call(&mut other_tab).await, active);
    // The first answer took it.
    assert_eq!(refused(&mut other_tab, answer).await, "call_state");

    // The visitor's offer reaches the agent's connection that answered, and no other.
    send(&mut visitor, offer(CALL_1)).await;
    match next_event(&mut inbox).await {
        ServerEvent::CallSignal {
            call_id,
            from,
            signal,
        } => {
            assert_eq!((call_id.as_str(), from), (CALL_1, AuthorKind::Visitor));
            assert_eq!(signal, CallSignal::Offer { sdp: OFFER.into() });
        }
        other => panic!("expected the offer, got {other:?}"),
    }
    send(&mut inbox, candidate(CALL_1)).await;
    match next_event(&mut visitor).await {
        ServerEvent::CallSignal { from, signal, .. } => {
            assert_eq!(from, AuthorKind::Agent);
            assert!(matches!(signal, CallSignal::Candidate { .. }), "{signal:?}");
        }
        other => panic!("expected the candidate, got {other:?}"),
    }
    // Another connection of the same agent is not a side, and a stranger still can't.
    assert_eq!(
        refused(&mut other_tab, candidate(CALL_1)).await,
        "not_in_call"
    );
    assert_eq!(
        refused(&mut stranger, candidate(CALL_1)).await,
        "call_not_found"
    );
    assert_quiet(&mut other_tab).await;
    assert_quiet(&mut stranger).await;
    assert_quiet(&mut visitor).await;
    assert_quiet(&mut inbox).await;

    // Connected once both sides say so; timed from then to the hang-up.
    send(
        &mut visitor,
        json!({"type": "call_connected", "call_id": CALL_1}),
    )
    .await;
    let half = next_call(&mut inbox).await;
    assert_eq!(half.connected_at, None);
    next_call(&mut visitor).await;
    send(
        &mut inbox,
        json!({"type": "call_connected", "call_id": CALL_1}),
    )
    .await;
    let connected = next_call(&mut visitor).await;
    assert!(connected.connected_at.is_some());
    next_call(&mut inbox).await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    send(
        &mut inbox,
        json!({"type": "call_hangup", "call_id": CALL_1}),
    )
    .await;
    let ended = next_call(&mut visitor).await;
    assert_eq!(
        (ended.state, ended.outcome),
        (CallState::Ended, Some(CallOutcome::Completed))
    );
    assert!(
        (1_200..5_000).contains(&ended.duration_ms),
        "{}",
        ended.duration_ms
    );
    assert_eq!(
        ended.duration_ms,
        ended.ended_at.unwrap() - ended.connected_at.unwrap()
    );
    // The conversation records it, for both sides, under the caller.
    let record = next_message(&mut visitor).await;
    assert_eq!(record.body, talk_server::calls::record_text(&ended));
    assert!(
        record.body.starts_with("Voice call · 1 s"),
        "{}",
        record.body
    );
    assert_eq!(record.author.kind, AuthorKind::Visitor);
    assert_eq!(next_call(&mut inbox).await, ended);
    assert_eq!(next_message(&mut inbox).await, record);
    // The stored call has the same duration, for metering.
    let stored = server
        .app
        .state
        .db
        .call_by_id(CALL_1)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.call, ended);
    // Ended is ended.
    let hangup = json!({"type": "call_hangup", "call_id": CALL_1});
    assert_eq!(refused(&mut visitor, hangup).await, "call_state");
}

#[tokio::test]
async fn an_agents_call_declined_by_the_visitor_is_recorded_as_declined() {
    let (server, cookie) = voice_server().await;
    let (mut visitor, conversation_id) = visitor_in_conversation(&server, 1).await;
    let mut inbox = server.agent_socket(&cookie).await;
    send(
        &mut inbox,
        json!({"type": "call_start", "conversation_id": conversation_id, "call_id": CALL_1}),
    )
    .await;
    let ringing = next_call(&mut inbox).await;
    assert_eq!(ringing.caller, AuthorKind::Agent);
    assert_eq!(next_call(&mut visitor).await, ringing);
    send(
        &mut visitor,
        json!({"type": "call_answer", "call_id": CALL_1, "accept": false}),
    )
    .await;
    let declined = next_call(&mut inbox).await;
    assert_eq!(declined.outcome, Some(CallOutcome::Declined));
    let record = next_message(&mut inbox).await;
    assert_eq!(
        (record.body.as_str(), record.author.kind),
        ("Declined voice call", AuthorKind::Agent)
    );
    assert_eq!(next_call(&mut visitor).await, declined);
    assert_eq!(next_message(&mut visitor).await, record);
}

#[tokio::test]
async fn a_side_whose_tab_closes_ends_the_call_after_the_grace() {
    let (server, cookie) = voice_server().await;
    let (mut visitor, conversation_id) = visitor_in_conversation(&server, 1).await;
    let mut inbox = server.agent_socket(&cookie).await;
    accepted_call(&mut visitor, &mut inbox, &conversation_id).await;
    let closed_at = std::time::Instant::now();
    drop(visitor);
    let ended = next_call(&mut inbox).await;
    let waited = closed_at.elapsed();
    assert_eq!(ended.outcome, Some(CallOutcome::Failed));
    assert!(
        waited >= Duration::from_secs(CALL_GRACE_SECS)
            && waited < Duration::from_secs(CALL_GRACE_SECS + 2),
        "{waited:?}"
    );
    assert_eq!(
        next_message(&mut inbox).await.body,
        "Voice call failed to connect"
    );

    // The next call in that conversation may ring: nothing is left running.
    let (mut again, _) = server.open(&visitor_id(1), None).await;
    send(
        &mut again,
        json!({"type": "call_start", "conversation_id": conversation_id, "call_id": CALL_2}),
    )
    .await;
    assert_eq!(next_call(&mut again).await.state, CallState::Ringing);
}

#[tokio::test]
async fn a_call_needs_voice_on_an_agent_online_a_uuid_and_no_other_call() {
    let (server, cookie) = voice_server().await;
    let (mut visitor, conversation_id) = visitor_in_conversation(&server, 1).await;
    let start = |call_id: &str| json!({"type": "call_start", "conversation_id": conversation_id, "call_id": call_id});
    assert_eq!(
        refused(&mut visitor, start("not-a-uuid")).await,
        "invalid_call_id"
    );
    let elsewhere = json!({"type": "call_start", "conversation_id": "nope", "call_id": CALL_1});
    assert_eq!(
        refused(&mut visitor, elsewhere).await,
        "conversation_not_found"
    );

    send(&mut visitor, start(CALL_1)).await;
    let ringing = next_call(&mut visitor).await;
    // A resend is the same call; another call in the conversation waits for this one.
    send(&mut visitor, start(CALL_1)).await;
    assert_eq!(next_call(&mut visitor).await, ringing);
    assert_eq!(
        refused(&mut visitor, start(CALL_2)).await,
        "call_in_progress"
    );
    send(
        &mut visitor,
        json!({"type": "call_hangup", "call_id": CALL_1}),
    )
    .await;
    let missed = next_call(&mut visitor).await;
    assert_eq!(missed.outcome, Some(CallOutcome::Missed));
    assert_eq!(next_message(&mut visitor).await.body, "Missed voice call");

    // Nobody online: the visitor is told so (an agent may still call).
    server
        .app
        .as_agent(
            &cookie,
            Method::PUT,
            "/v1/agent/presence",
            Some(json!({"presence": "away"})),
        )
        .await;
    assert_eq!(
        refused(&mut visitor, start(CALL_2)).await,
        "no_agent_online"
    );
    // Voice off: nobody calls.
    let workspace_id = &server.app.workspace.workspace_id;
    let db = &server.app.state.db;
    let mut settings = talk_server::widget_settings::load(db, workspace_id)
        .await
        .unwrap()
        .unwrap();
    settings.voice = false;
    talk_server::widget_settings::save(db, workspace_id, &settings)
        .await
        .unwrap();
    assert_eq!(refused(&mut visitor, start(CALL_2)).await, "voice_off");
    let mut inbox = server.agent_socket(&cookie).await;
    assert_eq!(refused(&mut inbox, start(CALL_2)).await, "voice_off");
}

#[tokio::test]
async fn signals_are_checked_bounded_and_rate_limited() {
    let (server, cookie) = voice_server().await;
    let (mut visitor, conversation_id) = visitor_in_conversation(&server, 1).await;
    let mut inbox = server.agent_socket(&cookie).await;
    accepted_call(&mut visitor, &mut inbox, &conversation_id).await;

    let huge = "v=0\r\n".to_string() + &"a=x\r\n".repeat(3_000);
    let too_big = json!({"type": "call_signal", "call_id": CALL_1,
                         "signal": {"kind": "offer", "sdp": huge}});
    assert_eq!(refused(&mut visitor, too_big).await, "invalid_signal");
    let not_sdp = json!({"type": "call_signal", "call_id": CALL_1,
                         "signal": {"kind": "answer", "sdp": "<script>"}});
    assert_eq!(refused(&mut visitor, not_sdp).await, "invalid_signal");
    let unknown_kind = json!({"type": "call_signal", "call_id": CALL_1,
                              "signal": {"kind": "bye"}});
    assert_eq!(refused(&mut visitor, unknown_kind).await, "invalid_event");

    // A burst of candidates passes; a flood is refused, and the agent gets what passed.
    let mut passed = 0;
    let mut limited = false;
    for _ in 0..200 {
        send(&mut visitor, candidate(CALL_1)).await;
    }
    send(&mut visitor, json!({"type": "ping"})).await;
    loop {
        match next_event(&mut visitor).await {
            ServerEvent::Pong => break,
            ServerEvent::Error { code, .. } if code == "rate_limited" => limited = true,
            other => panic!("unexpected {other:?}"),
        }
    }
    send(&mut inbox, json!({"type": "ping"})).await;
    loop {
        match next_event(&mut inbox).await {
            ServerEvent::Pong => break,
            ServerEvent::CallSignal { .. } => passed += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(limited, "200 candidates at once are refused in part");
    assert!((60..200).contains(&passed), "{passed} passed");
}

#[tokio::test]
async fn a_visitor_on_http_and_sse_takes_an_agents_call() {
    let (server, cookie) = voice_server().await;
    let visitor = visitor_id(1);
    server.identify(&visitor, "visitor1@example.com").await;
    let token = server.app.session_token(&visitor, None).await;
    let (status, first) = server
        .post_event(
            &token,
            json!({"type": "send", "client_msg_id": "7a1c1c8e-4a4c-4f0e-9a57-3f5d3c2b1c01",
                   "body": "Hello"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let conversation_id = first[0]["message"]["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut stream = server.stream(&token, None).await;
    assert!(matches!(
        stream.next_event().await.1,
        ServerEvent::Ready { .. }
    ));
    let mut inbox = server.agent_socket(&cookie).await;

    send(
        &mut inbox,
        json!({"type": "call_start", "conversation_id": conversation_id, "call_id": CALL_1}),
    )
    .await;
    let ringing = next_call(&mut inbox).await;
    assert_eq!(call_of(stream.next_event().await.1), ringing);
    let (status, answer) = server
        .post_event(
            &token,
            json!({"type": "call_answer", "call_id": CALL_1, "accept": true}),
        )
        .await;
    assert_eq!((status, answer), (StatusCode::OK, json!([])));
    let active = next_call(&mut inbox).await;
    assert_eq!(active.state, CallState::Active);
    assert_eq!(call_of(stream.next_event().await.1), active);

    // The offer goes out as a POST; the agent's answer comes back on the stream.
    let (status, _) = server.post_event(&token, offer(CALL_1)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(matches!(
        next_event(&mut inbox).await,
        ServerEvent::CallSignal {
            from: AuthorKind::Visitor,
            ..
        }
    ));
    send(
        &mut inbox,
        json!({"type": "call_signal", "call_id": CALL_1,
               "signal": {"kind": "answer", "sdp": OFFER}}),
    )
    .await;
    match stream.next_event().await.1 {
        ServerEvent::CallSignal { from, signal, .. } => {
            assert_eq!(from, AuthorKind::Agent);
            assert_eq!(signal, CallSignal::Answer { sdp: OFFER.into() });
        }
        other => panic!("expected the answer, got {other:?}"),
    }
    // Another tab of the same visitor (its own widget session) is not a side.
    let other_tab = server.app.session_token(&visitor, None).await;
    let (status, refused) = server.post_event(&other_tab, candidate(CALL_1)).await;
    assert_eq!(
        (status, refused["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("not_in_call"))
    );
}
