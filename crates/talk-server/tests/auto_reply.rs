//! The bot's auto-reply to a new conversation, and the per-socket message budget, over real
//! sockets.

mod common;

use axum::http::{Method, StatusCode};
use common::live::*;
use common::visitor_id;
use serde_json::{json, Value};
use talk_protocol::{AuthorKind, Message, ServerEvent};

const MSG_1: &str = "6f1c1c8e-4a4c-4f0e-9a57-3f5d3c2b1a01";
const MSG_2: &str = "6f1c1c8e-4a4c-4f0e-9a57-3f5d3c2b1a02";
const MSG_3: &str = "6f1c1c8e-4a4c-4f0e-9a57-3f5d3c2b1a03";
const MSG_4: &str = "6f1c1c8e-4a4c-4f0e-9a57-3f5d3c2b1a04";

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

/// The next event that is a live message (skipping the conversation announcement).
async fn next_message(ws: &mut Ws) -> Message {
    loop {
        match next_event(ws).await {
            ServerEvent::Message { message } => return message,
            ServerEvent::ConversationUpdated { .. } => continue,
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

/// Sends the first message of a new conversation: its ack's message and the bot's reply.
async fn start_conversation(ws: &mut Ws, client_msg_id: &str, body: &str) -> (Message, Message) {
    let first = ack(send_message(ws, None, client_msg_id, body).await);
    let auto_reply = next_message(ws).await;
    assert_eq!(auto_reply.author.kind, AuthorKind::Bot, "{auto_reply:?}");
    assert_eq!(
        (auto_reply.conversation_id.as_str(), auto_reply.seq),
        (first.conversation_id.as_str(), first.seq + 1)
    );
    (first, auto_reply)
}

#[tokio::test]
async fn the_bot_quotes_the_response_time_of_the_current_status() {
    let server = start().await;
    server
        .update_widget_settings(|settings| {
            settings["homepage"]["bot_name"] = json!("Acme Bot");
            settings["response_times"] = json!({
                "online": "We typically reply in a few minutes.",
                "away": "We reply within a day."
            });
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

    // An agent online: the online text, stored like any message.
    server.set_admin_presence("online").await;
    let online_visitor = visitor_id(2);
    server.identify(&online_visitor, "bob@example.com").await;
    let (mut tab, _) = server.open(&online_visitor, None).await;
    let (first, auto_reply) = start_conversation(&mut tab, MSG_3, "Hi").await;
    assert_eq!(
        auto_reply.body,
        "Thanks for your message! We typically reply in a few minutes."
    );
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
    // The live harness's workspace has empty response times.
    let server = start().await;
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
    let first = ack(send_message(&mut ws, None, MSG_1, "One").await);
    for client_msg_id in [MSG_2, MSG_3] {
        ack(send_message(&mut ws, Some(&first.conversation_id), client_msg_id, "More").await);
    }
    let refused = send_message(&mut ws, Some(&first.conversation_id), MSG_4, "Too many").await;
    assert_eq!(
        error_code(refused),
        ("rate_limited".to_string(), Some(MSG_4.to_string()))
    );
    // Refused, not stored; the socket stays open and a new socket has its own budget.
    send(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next_event(&mut ws).await, ServerEvent::Pong);
    let (mut fresh, _) = server.open(&visitor, None).await;
    let accepted = ack(send_message(&mut fresh, Some(&first.conversation_id), MSG_4, "Now").await);
    assert_eq!(accepted.seq, 4);
}
