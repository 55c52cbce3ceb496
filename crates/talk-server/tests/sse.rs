//! The HTTP + SSE transport over real sockets: events posted with `POST /v1/talk/messages`,
//! received on `GET /v1/talk/messages/stream`, resumed with `Last-Event-ID`.

mod common;

use axum::http::StatusCode;
use common::live::*;
use common::visitor_id;
use serde_json::json;
use std::time::Duration;
use talk_protocol::{AuthorKind, ServerEvent};

const MSG_1: &str = "8b1c1c8e-4a4c-4f0e-9a57-3f5d3c2b1a01";
const MSG_2: &str = "8b1c1c8e-4a4c-4f0e-9a57-3f5d3c2b1a02";

fn message_seq(event: &ServerEvent) -> i64 {
    match event {
        ServerEvent::Message { message } => message.seq,
        other => panic!("expected a message, got {other:?}"),
    }
}

#[tokio::test]
async fn posted_events_answer_directly_and_the_stream_resumes_exactly() {
    let server = start().await;
    let visitor = visitor_id(1);
    server.identify(&visitor, "ann@example.com").await;
    let token = server.app.session_token(&visitor, None).await;

    let mut stream = server.stream(&token, None).await;
    let (ready_id, ready) = stream.next_event().await;
    assert!(
        matches!(ready, ServerEvent::Ready { ref conversations, .. } if conversations.is_empty())
    );
    assert_eq!(ready_id, "v1");

    let (status, answer) = server
        .post_event(
            &token,
            json!({"type": "send", "client_msg_id": MSG_1, "body": "Hello"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let answer: Vec<ServerEvent> = serde_json::from_value(answer).unwrap();
    let first = match &answer[..] {
        [ServerEvent::Ack { message, .. }] => message.clone(),
        other => panic!("expected one ack, got {other:?}"),
    };
    // The stream learns of the new conversation and carries its message.
    let (_, announced) = stream.next_event().await;
    assert_eq!(conversation_updated(announced).id, first.conversation_id);
    let (seen_id, seen) = stream.next_event().await;
    assert_eq!(
        seen,
        ServerEvent::Message {
            message: first.clone()
        }
    );
    assert_eq!(seen_id, format!("v1;{}:1", first.conversation_id));

    // Direct answers: the same events as on the socket.
    let (_, pong) = server.post_event(&token, json!({"type": "ping"})).await;
    assert_eq!(pong, json!([{"type": "pong"}]));
    let (_, history) = server
        .post_event(
            &token,
            json!({"type": "load_before", "conversation_id": first.conversation_id}),
        )
        .await;
    assert_eq!(history[0]["type"], "history");
    assert_eq!(history[0]["messages"][0]["id"], first.id.as_str());
    let (status, read) = server
        .post_event(
            &token,
            json!({"type": "read", "conversation_id": first.conversation_id, "up_to_seq": 1}),
        )
        .await;
    assert_eq!((status, read), (StatusCode::OK, json!([])));

    // Drop the stream; two agent messages go out meanwhile.
    drop(stream);
    let missed = [
        server.agent_reply(&first.conversation_id, "One").await,
        server.agent_reply(&first.conversation_id, "Two").await,
    ];
    let mut stream = server.stream(&token, Some(&seen_id)).await;
    let (id, ready) = stream.next_event().await;
    assert!(matches!(ready, ServerEvent::Ready { .. }));
    assert_eq!(id, seen_id);
    for message in &missed {
        let (id, event) = stream.next_event().await;
        assert_eq!(
            event,
            ServerEvent::Message {
                message: message.clone()
            }
        );
        assert_eq!(id, format!("v1;{}:{}", first.conversation_id, message.seq));
    }
    // Nothing else was replayed: the next event is the agent's read receipt.
    let uri = format!("/v1/conversations/{}/read", first.conversation_id);
    server
        .agent_call(
            axum::http::Method::POST,
            &uri,
            Some(json!({"up_to_seq": 3})),
            StatusCode::OK,
        )
        .await;
    let (_, event) = stream.next_event().await;
    assert!(
        matches!(
            event,
            ServerEvent::Read {
                reader: AuthorKind::Agent,
                up_to_seq: 3,
                ..
            }
        ),
        "{event:?}"
    );

    // Resuming from an earlier id replays from there, once.
    let mut replay = server.stream(&token, Some(&ready_id)).await;
    replay.next_event().await;
    let mut seqs = Vec::new();
    for _ in 0..3 {
        seqs.push(message_seq(&replay.next_event().await.1));
    }
    assert_eq!(seqs, [1, 2, 3]);
}

#[tokio::test]
async fn stream_carries_other_tabs_messages_and_typing_but_not_its_own_typing() {
    let server = start().await;
    let visitor = visitor_id(1);
    server.identify(&visitor, "ann@example.com").await;
    let (mut tab, _) = server.open(&visitor, None).await;
    let first = ack(send_message(&mut tab, None, MSG_1, "Hello").await);

    let token = server.app.session_token(&visitor, None).await;
    let mut stream = server.stream(&token, None).await;
    let (id, ready) = stream.next_event().await;
    assert_eq!(id, format!("v1;{}:1", first.conversation_id));
    assert!(
        matches!(ready, ServerEvent::Ready { ref conversations, .. } if conversations.len() == 1)
    );

    // This session's typing goes to the socket tab, not back to its own stream.
    let (status, _) = server
        .post_event(
            &token,
            json!({"type": "typing", "conversation_id": first.conversation_id, "typing": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(matches!(
        next_event(&mut tab).await,
        ServerEvent::Typing { typing: true, .. }
    ));
    let from_tab = ack(send_message(&mut tab, Some(&first.conversation_id), MSG_2, "Hi").await);
    let (_, event) = stream.next_event().await;
    assert_eq!(event, ServerEvent::Message { message: from_tab });
}

#[tokio::test]
async fn transport_errors_use_the_socket_codes() {
    let server = start_with(|settings| settings.socket_token_ttl_secs = 1).await;
    let visitor = visitor_id(1);
    let token = server.app.session_token(&visitor, None).await;

    let cases = [
        (
            json!({"type": "auth", "token": token}),
            StatusCode::BAD_REQUEST,
            "invalid_event",
        ),
        (
            json!({"type": "nope"}),
            StatusCode::BAD_REQUEST,
            "invalid_event",
        ),
        (
            json!({"type": "send", "client_msg_id": MSG_1, "body": "Hello"}),
            StatusCode::BAD_REQUEST,
            "identify_first",
        ),
        (
            json!({"type": "resume", "conversation_id": "000000000000000000000000", "after_seq": 0}),
            StatusCode::NOT_FOUND,
            "conversation_not_found",
        ),
    ];
    for (event, status, code) in cases {
        let (answered, body) = server.post_event(&token, event.clone()).await;
        assert_eq!(
            (answered, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{event}"
        );
    }
    let (status, body) = server.post_event("", json!({"type": "ping"})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("missing_token"))
    );

    let refused = server.stream_response(&token, Some("1:2")).await;
    assert_eq!(refused.status().as_u16(), 400);
    let body: serde_json::Value = serde_json::from_str(&refused.text().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "invalid_last_event_id");

    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, body) = server.post_event(&token, json!({"type": "ping"})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_expired"))
    );
    let expired = server.stream_response(&token, None).await;
    assert_eq!(expired.status().as_u16(), 401);
    let body: serde_json::Value = serde_json::from_str(&expired.text().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "token_expired");
}

#[tokio::test]
async fn idle_stream_gets_keep_alive_comments_and_ends_on_shutdown() {
    let mut server = start_with(|settings| settings.sse_keep_alive_secs = 1).await;
    let token = server.app.session_token(&visitor_id(1), None).await;
    let mut stream = server.stream(&token, None).await;
    stream.next_event().await;
    let block = stream.next_block(Duration::from_secs(3)).await;
    assert_eq!(block.comments, ["keep-alive"]);
    assert!(block.data.is_none());

    // An open stream doesn't hold up shutdown.
    server.shutdown().await;
}

fn client_msg_id(n: u32) -> String {
    format!("8b1c1c8e-4a4c-4f0e-9a57-3f5d3c2b{n:04}")
}

#[tokio::test]
async fn http_sends_have_a_session_budget() {
    let server = start_with(|settings| {
        settings.socket_messages_per_window = 3;
        settings.socket_message_window_secs = 60;
    })
    .await;
    let visitor = visitor_id(1);
    server.identify(&visitor, "ann@example.com").await;
    let token = server.app.session_token(&visitor, None).await;
    let send = |n: u32, conversation_id: Option<&str>| {
        let mut event = json!({"type": "send", "client_msg_id": client_msg_id(n), "body": "Hi"});
        if let Some(conversation_id) = conversation_id {
            event["conversation_id"] = json!(conversation_id);
        }
        event
    };

    // The socket's budget, three sends, one request each.
    let (status, answer) = server.post_event(&token, send(1, None)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let conversation_id = answer[0]["message"]["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();
    for n in 2..=3 {
        let (status, answer) = server
            .post_event(&token, send(n, Some(&conversation_id)))
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let (status, answer) = server
        .post_event(&token, send(4, Some(&conversation_id)))
        .await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")),
        "{answer}"
    );
    // Only sends count: reading the conversation is never refused.
    let (status, answer) = server
        .post_event(
            &token,
            json!({"type": "resume", "conversation_id": conversation_id, "after_seq": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // Another session (another tab) has its own budget.
    let other = server.app.session_token(&visitor, None).await;
    let (status, answer) = server
        .post_event(&other, send(5, Some(&conversation_id)))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test]
async fn sse_replay_of_a_large_history_arrives_whole_and_in_order() {
    let server = start().await;
    let visitor = visitor_id(1);
    server.identify(&visitor, "ann@example.com").await;
    let (mut tab, _) = server.open(&visitor, None).await;
    let body = "x".repeat(16_000);
    let first = ack(send_message(&mut tab, None, MSG_1, &body).await);
    for _ in 0..40 {
        server.agent_reply(&first.conversation_id, &body).await;
    }

    // Resumed from before the conversation: every message once, page after page, then live.
    let token = server.app.session_token(&visitor, None).await;
    let mut stream = server.stream(&token, Some("v1")).await;
    let (ready_id, _) = stream.next_event().await;
    assert_eq!(ready_id, "v1");
    for seq in 1..=41 {
        let (id, event) = stream.next_event().await;
        assert_eq!(message_seq(&event), seq);
        assert_eq!(id, format!("v1;{}:{seq}", first.conversation_id));
    }
    let live = server.agent_reply(&first.conversation_id, "Live").await;
    let (_, event) = stream.next_event().await;
    assert_eq!(event, ServerEvent::Message { message: live });
}
