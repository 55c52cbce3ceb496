//! Real servers on 127.0.0.1:0 and real WebSocket clients. HTTP calls go in-process to the
//! same state (same database, same hub).

mod common;

use axum::http::{Method, StatusCode};
use common::{test_app_with, visitor_id, TestApp};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use talk_protocol::{close_code, AuthorKind, Conversation, Message, ServerEvent};
use talk_server::{serve, Settings};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

struct Server {
    app: TestApp,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    running: Option<JoinHandle<std::io::Result<()>>>,
}

async fn start_with(configure: impl FnOnce(&mut Settings)) -> Server {
    let app = test_app_with(configure).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(serve(listener, app.state.clone(), async move {
        let _ = stopped.await;
    }));
    Server {
        app,
        addr,
        stop: Some(stop),
        running: Some(running),
    }
}

async fn start() -> Server {
    start_with(|_| {}).await
}

impl Server {
    async fn connect(&self) -> Ws {
        let url = format!("ws://{}/v1/talk/socket", self.addr);
        tokio_tungstenite::connect_async(url).await.unwrap().0
    }

    /// A fresh widget session for the visitor, authenticated on a new socket.
    async fn open(&self, visitor: &str, token: Option<&str>) -> (Ws, Vec<Conversation>) {
        let session_token = self.app.session_token(visitor, token).await;
        let mut ws = self.connect().await;
        send(&mut ws, json!({"type": "auth", "token": session_token})).await;
        match next_event(&mut ws).await {
            ServerEvent::Ready { conversations, .. } => (ws, conversations),
            other => panic!("expected ready, got {other:?}"),
        }
    }

    async fn identify(&self, visitor: &str, email: &str) {
        let token = self.app.session_token(visitor, None).await;
        let answer = self
            .app
            .identify(&token, json!({"email": email, "first_name": "Ann"}))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    }

    async fn agent_reply(&self, conversation_id: &str, body: &str) -> Message {
        let answer = self
            .app
            .agent(
                Method::POST,
                &format!("/v1/conversations/{conversation_id}/messages"),
                Some(json!({"body": body, "agent_name": "Sam"})),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        serde_json::from_str(&answer.text).unwrap()
    }

    async fn agent_conversations(&self) -> Vec<Conversation> {
        let answer = self.app.agent(Method::GET, "/v1/conversations", None).await;
        serde_json::from_value(answer.json()["conversations"].clone()).unwrap()
    }

    async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(running) = self.running.take() {
            tokio::time::timeout(Duration::from_secs(10), running)
                .await
                .expect("serve() returns after shutdown")
                .unwrap()
                .unwrap();
        }
    }
}

async fn send(ws: &mut Ws, event: Value) {
    ws.send(Frame::text(event.to_string())).await.unwrap();
}

async fn send_message(
    ws: &mut Ws,
    conversation_id: Option<&str>,
    client_msg_id: &str,
    body: &str,
) -> ServerEvent {
    let mut event = json!({"type": "send", "client_msg_id": client_msg_id, "body": body});
    if let Some(conversation_id) = conversation_id {
        event["conversation_id"] = json!(conversation_id);
    }
    send(ws, event).await;
    next_event(ws).await
}

/// The next server event; skips WebSocket-level ping/pong.
async fn next_event(ws: &mut Ws) -> ServerEvent {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("an event within 5 s")
            .expect("the socket is open")
            .unwrap();
        match frame {
            Frame::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
            Frame::Ping(_) | Frame::Pong(_) => continue,
            other => panic!("expected an event, got {other:?}"),
        }
    }
}

/// Reads until the server's close frame; returns its code.
async fn close_code_of(ws: &mut Ws) -> u16 {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(15), ws.next())
            .await
            .expect("a close within 15 s");
        match frame {
            Some(Ok(Frame::Close(Some(frame)))) => return u16::from(frame.code),
            Some(Ok(Frame::Close(None))) | None => panic!("closed without a code"),
            Some(Ok(_)) => continue,
            Some(Err(error)) => panic!("socket error before close: {error}"),
        }
    }
}

/// Sends the first message of a new conversation: answers its ack's message and the bot's
/// auto-reply, which follows it on the same socket.
async fn start_conversation(ws: &mut Ws, client_msg_id: &str, body: &str) -> (Message, Message) {
    let first = ack(send_message(ws, None, client_msg_id, body).await);
    let auto_reply = live_message(next_event(ws).await);
    assert_eq!(auto_reply.author.kind, AuthorKind::Bot, "{auto_reply:?}");
    assert_eq!(
        (auto_reply.conversation_id.as_str(), auto_reply.seq),
        (first.conversation_id.as_str(), first.seq + 1)
    );
    (first, auto_reply)
}

fn live_message(event: ServerEvent) -> Message {
    match event {
        ServerEvent::Message { message } => message,
        other => panic!("expected a message, got {other:?}"),
    }
}

fn ack(event: ServerEvent) -> Message {
    match event {
        ServerEvent::Ack { message, .. } => message,
        other => panic!("expected ack, got {other:?}"),
    }
}

fn error_code(event: ServerEvent) -> (String, Option<String>) {
    match event {
        ServerEvent::Error {
            code,
            client_msg_id,
            ..
        } => (code, client_msg_id),
        other => panic!("expected error, got {other:?}"),
    }
}

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
    let (first, _) = start_conversation(&mut ws, MSG_1, "  Hello  ").await;
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
    assert_eq!(
        listed["messages"].as_array().unwrap().len(),
        2,
        "hello and the auto-reply"
    );

    let second = ack(send_message(&mut ws, Some(&first.conversation_id), MSG_2, "More").await);
    assert_eq!(second.seq, 3);

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
    let (first, _) = start_conversation(&mut tab_one, MSG_1, "Hello").await;
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
    assert_eq!(reply.seq, 4);
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
    let (_, seen) = start_conversation(&mut ws, MSG_1, "Hello").await;
    ws.close(None).await.unwrap();
    drop(ws);

    let missed = [
        server.agent_reply(&seen.conversation_id, "One").await,
        server.agent_reply(&seen.conversation_id, "Two").await,
    ];
    let (mut ws, conversations) = server.open(&visitor, None).await;
    assert_eq!(conversations[0].last_seq, 4);
    send(
        &mut ws,
        json!({"type": "resume", "conversation_id": seen.conversation_id, "after_seq": seen.seq}),
    )
    .await;
    assert_eq!(
        next_event(&mut ws).await,
        ServerEvent::History {
            conversation_id: seen.conversation_id.clone(),
            messages: missed.to_vec(),
        }
    );
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

impl Server {
    /// Changes the widget settings as the workspace's admin.
    async fn update_widget_settings(&self, change: impl FnOnce(&mut Value)) {
        let cookie = self.app.admin_cookie().await;
        let mut settings = self
            .app
            .as_agent(&cookie, Method::GET, "/v1/admin/widget-settings", None)
            .await
            .json();
        change(&mut settings);
        let answer = self
            .app
            .as_agent(
                &cookie,
                Method::PUT,
                "/v1/admin/widget-settings",
                Some(settings),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    }

    async fn set_admin_presence(&self, presence: &str) {
        let cookie = self.app.admin_cookie().await;
        let answer = self
            .app
            .as_agent(
                &cookie,
                Method::PUT,
                "/v1/agent/presence",
                Some(json!({"presence": presence})),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    }
}

#[tokio::test]
async fn the_bot_quotes_the_response_time_of_the_current_status() {
    let server = start().await;
    server
        .update_widget_settings(|settings| {
            settings["homepage"]["bot_name"] = json!("Acme Bot");
            settings["response_times"] =
                json!({"online": "We typically reply in a few minutes.", "away": "We reply within a day."});
        })
        .await;

    // Nobody online: the away text.
    let away_visitor = visitor_id(1);
    server.identify(&away_visitor, "ann@example.com").await;
    let (mut ws, _) = server.open(&away_visitor, None).await;
    let (first, auto_reply) = start_conversation(&mut ws, MSG_1, "Hello").await;
    assert_eq!(
        auto_reply.body,
        "Thanks for your message! We reply within a day."
    );
    assert_eq!(auto_reply.author.name.as_deref(), Some("Acme Bot"));
    assert_eq!(auto_reply.client_msg_id, None);
    // Only the first message of a conversation gets one.
    ack(send_message(&mut ws, Some(&first.conversation_id), MSG_2, "Anyone?").await);
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next_event(&mut ws).await, ServerEvent::Pong);

    // An agent online: the online text.
    server.set_admin_presence("online").await;
    let online_visitor = visitor_id(2);
    server.identify(&online_visitor, "bob@example.com").await;
    let (mut tab_one, _) = server.open(&online_visitor, None).await;
    let (mut tab_two, _) = server.open(&online_visitor, None).await;
    let (first, auto_reply) = start_conversation(&mut tab_one, MSG_3, "Hi").await;
    assert_eq!(
        auto_reply.body,
        "Thanks for your message! We typically reply in a few minutes."
    );
    // The second tab learns of the new conversation by resuming it.
    send(
        &mut tab_two,
        json!({"type": "resume", "conversation_id": first.conversation_id, "after_seq": 0}),
    )
    .await;
    assert_eq!(
        next_event(&mut tab_two).await,
        ServerEvent::History {
            conversation_id: first.conversation_id.clone(),
            messages: vec![first.clone(), auto_reply.clone()],
        }
    );
    // It is stored like any message.
    let stored = server
        .app
        .agent(
            Method::GET,
            &format!("/v1/conversations/{}/messages", first.conversation_id),
            None,
        )
        .await
        .json();
    assert_eq!(
        stored["messages"][1]["author"],
        json!({"kind": "bot", "name": "Acme Bot"})
    );
}

#[tokio::test]
async fn an_empty_response_time_means_no_auto_reply() {
    let server = start().await;
    server
        .update_widget_settings(|settings| settings["response_times"]["away"] = json!(""))
        .await;
    let visitor = visitor_id(1);
    server.identify(&visitor, "ann@example.com").await;
    let (mut ws, _) = server.open(&visitor, None).await;
    let first = ack(send_message(&mut ws, None, MSG_1, "Hello").await);
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next_event(&mut ws).await, ServerEvent::Pong);
    let conversations = server.agent_conversations().await;
    assert_eq!(conversations[0].last_seq, first.seq);
}

#[tokio::test]
async fn a_socket_sending_too_fast_is_told_to_wait() {
    let server = start_with(|settings| {
        settings.socket_messages_per_window = 3;
        settings.socket_message_window_secs = 3600;
    })
    .await;
    let visitor = visitor_id(1);
    server.identify(&visitor, "ann@example.com").await;
    let (mut ws, _) = server.open(&visitor, None).await;
    let (first, _) = start_conversation(&mut ws, MSG_1, "One").await;
    for client_msg_id in [MSG_2, MSG_3] {
        ack(send_message(&mut ws, Some(&first.conversation_id), client_msg_id, "More").await);
    }
    let fourth = "6f1c1c8e-4a4c-4f0e-9a57-3f5d3c2b1a04";
    let refused = send_message(&mut ws, Some(&first.conversation_id), fourth, "Too many").await;
    assert_eq!(
        error_code(refused),
        ("rate_limited".to_string(), Some(fourth.to_string()))
    );
    // Refused, not stored; the socket stays open and a new socket has its own budget.
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next_event(&mut ws).await, ServerEvent::Pong);
    let (mut fresh, _) = server.open(&visitor, None).await;
    let accepted = ack(send_message(&mut fresh, Some(&first.conversation_id), fourth, "Now").await);
    assert_eq!(accepted.seq, 5);
}
