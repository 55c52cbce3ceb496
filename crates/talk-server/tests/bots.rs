//! Agent bots by webhook, against a real server (and, where it matters, a restarted one on
//! the same database) and a real HTTP receiver playing the bot: the signed delivery and its
//! payload, the bot's answers as itself with typing meanwhile, retries in order across a
//! restart, giving up after the last attempt, SSRF refusal, the bot key's scope, the handoff,
//! which bot takes a new conversation, and the Python bot of docs/bots.md run as it stands.

mod common;

use axum::http::{Method, StatusCode};
use common::bots::{
    as_bot, bot_of, deliveries, eventually, register, register_bot, sign, signature_is_valid,
    wait_for, Node, Receiver,
};
use common::live::{self, Server, Ws};
use common::{test_app_with, visitor_id, TestApp};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use talk_protocol::{Author, AuthorKind, Message, ServerEvent, WebhookEvent};

fn uuid() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("b07b07b0-4a4c-4f0e-9a57-{n:012x}")
}

/// A served workspace whose webhooks may go to loopback (the receiver), retrying fast.
async fn start() -> Server {
    live::start_with(|settings| {
        settings.bot_allow_private_targets = true;
        settings.bot_retry_base_ms = 50;
        settings.bot_retry_max_ms = 200;
    })
    .await
}

/// Sends a visitor message and reads to its ack; answers the message and what came before.
async fn say(
    ws: &mut Ws,
    conversation_id: Option<&str>,
    body: &str,
) -> (Message, Vec<ServerEvent>) {
    let client_msg_id = uuid();
    let mut event = json!({"type": "send", "client_msg_id": client_msg_id, "body": body});
    if let Some(conversation_id) = conversation_id {
        event["conversation_id"] = json!(conversation_id);
    }
    live::send(ws, event).await;
    let mut before = Vec::new();
    loop {
        match live::next_event(ws).await {
            ServerEvent::Ack { message, .. } => return (message, before),
            ServerEvent::Error { code, message, .. } => panic!("refused: {code} {message}"),
            other => before.push(other),
        }
    }
}

/// Visitor `n`, identified as `v<n>@example.com`, on a socket.
async fn visitor(server: &Server, n: u8) -> Ws {
    server
        .identify(&visitor_id(n), &format!("v{n}@example.com"))
        .await;
    server.open(&visitor_id(n), None).await.0
}

fn bot_typing(event: &ServerEvent, name: &str) -> Option<bool> {
    match event {
        ServerEvent::Typing { author, typing, .. }
            if author.kind == AuthorKind::Bot && author.name.as_deref() == Some(name) =>
        {
            Some(*typing)
        }
        _ => None,
    }
}

async fn pending_deliveries(app: &TestApp, conversation_id: &str) -> i64 {
    app.sql
        .i64(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE conversation_id = $1",
            &[conversation_id.into()],
        )
        .await
}

#[tokio::test]
async fn a_visitor_message_reaches_the_bot_signed_and_the_bot_answers_as_itself() {
    let mut receiver = Receiver::start().await;
    let server = start().await;
    let app = &server.app;
    let admin = app.admin_cookie().await;
    // The workspace's auto-reply is on: a conversation a bot takes goes without it.
    let workspace_id = &app.workspace.workspace_id;
    let mut settings = talk_server::widget_settings::load(&app.state.db, workspace_id)
        .await
        .unwrap()
        .unwrap();
    settings.response_times.online = "We reply in minutes.".into();
    settings.response_times.away = "We reply tomorrow.".into();
    talk_server::widget_settings::save(&app.state.db, workspace_id, &settings)
        .await
        .unwrap();
    let bot = register_bot(app, &admin, "Ada", &receiver.url, "all_new").await;

    let mut ws = visitor(&server, 1).await;
    let (first, _) = say(&mut ws, None, "Do you ship to Norway?").await;
    let conversation_id = first.conversation_id.clone();
    assert_eq!(bot_of(app, &conversation_id).await, bot.id);

    let hit = receiver.next().await;
    assert!(
        signature_is_valid(&bot.secret, &hit.signature, &hit.body),
        "{}",
        hit.signature
    );
    assert!(!signature_is_valid(
        "whsec_another",
        &hit.signature,
        &hit.body
    ));
    assert_eq!(hit.content_type, "application/json");
    let event = &hit.json;
    assert_eq!(event["id"], json!(hit.delivery));
    assert_eq!(event["type"], "message.created");
    assert_eq!(event["bot_id"], json!(bot.id));
    assert_eq!(event["conversation"]["id"], json!(conversation_id));
    assert_eq!(event["conversation"]["verified"], json!(false));
    assert_eq!(event["message"]["id"], json!(first.id));
    assert_eq!(event["message"]["seq"], json!(1));
    assert_eq!(event["message"]["body"], "Do you ship to Norway?");
    assert_eq!(event["message"]["author"]["kind"], "visitor");
    assert_eq!(event["contact"]["email"], "v1@example.com");
    assert_eq!(event["contact"]["first_name"], "Ann");
    let parsed: WebhookEvent = serde_json::from_value(event.clone()).unwrap();
    assert_eq!(parsed.message, first);

    // While the bot works, the visitor sees it typing.
    assert!(wait_for(&mut ws, |event| bot_typing(event, "Ada")).await);

    // It answers with its key, as itself, whatever name it gives.
    let uri = format!("/v1/conversations/{conversation_id}/messages");
    let answer = as_bot(
        app,
        &bot.key,
        Method::POST,
        &uri,
        Some(json!({"body": "Yes, we do.", "agent_name": "Someone else"})),
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    let reply: Message = serde_json::from_str(&answer.text).unwrap();
    let ada = Author {
        kind: AuthorKind::Bot,
        name: Some("Ada".into()),
    };
    assert_eq!(reply.author, ada);
    let shown = wait_for(&mut ws, |event| match event {
        ServerEvent::Message { message } if message.id == reply.id => Some(message.clone()),
        _ => None,
    })
    .await;
    assert_eq!(shown.author, ada);

    // The conversation holds the visitor's message and the bot's answer: no auto-reply.
    let history = app.agent(Method::GET, &uri, None).await.json();
    let bodies: Vec<&str> = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|message| message["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["Do you ship to Norway?", "Yes, we do."]);

    // The log shows it delivered at the first attempt.
    let log = eventually(Duration::from_secs(5), || async {
        let log = deliveries(app, &admin, &bot.id).await;
        (log[0]["status"] == "delivered").then_some(log)
    })
    .await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["id"], json!(hit.delivery));
    assert_eq!(log[0]["conversation_id"], json!(conversation_id));
    assert_eq!(log[0]["event_type"], "message.created");
    assert_eq!(log[0]["attempts"], 1);
    assert_eq!(log[0]["last_status"], 200);
    assert!(log[0]["delivered_at"].is_i64());
    assert!(log[0].get("next_attempt_at").is_none());
    assert!(receiver.try_next().is_none(), "delivered once");
}

#[tokio::test]
async fn retries_keep_order_and_a_restart_loses_nothing() {
    let mut receiver = Receiver::start().await;
    receiver.answer_with(503);
    let mut server = live::start_with(|settings| {
        settings.bot_allow_private_targets = true;
        settings.bot_retry_base_ms = 30;
        settings.bot_retry_max_ms = 120;
        settings.bot_max_attempts = 1_000;
    })
    .await;
    let app = &server.app;
    let admin = app.admin_cookie().await;
    let bot = register_bot(app, &admin, "Ada", &receiver.url, "all_new").await;
    let mut ws = visitor(&server, 1).await;
    let (first, _) = say(&mut ws, None, "one").await;
    let conversation_id = first.conversation_id.clone();
    say(&mut ws, Some(&conversation_id), "two").await;
    say(&mut ws, Some(&conversation_id), "three").await;

    // While the bot fails, only the first is tried, again and again, under one id.
    let mut next_seq = 1;
    let mut first_id = None;
    for _ in 0..3 {
        let hit = receiver.next().await;
        assert_eq!(hit.json["message"]["seq"], json!(next_seq), "order");
        assert!(signature_is_valid(&bot.secret, &hit.signature, &hit.body));
        assert_eq!(
            first_id.get_or_insert_with(|| hit.delivery.clone()),
            &hit.delivery
        );
    }
    let log = deliveries(app, &admin, &bot.id).await;
    let retried = log.iter().find(|d| d["id"] == json!(first_id)).unwrap();
    assert_eq!(retried["status"], "pending");
    assert_eq!(retried["last_status"], 503);
    assert!(retried["attempts"].as_i64().unwrap() >= 2, "{retried}");
    assert!(retried["last_error"].as_str().unwrap().contains("503"));

    // Stopped while the bot still fails: all three stay queued.
    let settings = (*app.state.settings).clone();
    server.shutdown().await;
    let app = &server.app;
    assert_eq!(pending_deliveries(app, &conversation_id).await, 3);
    let pending = app
        .sql
        .i64(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'
               AND leased_until IS NULL",
            &[],
        )
        .await;
    assert_eq!(pending, 3, "a stopped server holds no lease");

    // A new server on the same database delivers them, in order, once the bot is back.
    receiver.answer_with(200);
    let mut node = Node::start(settings).await;
    let mut delivered = Vec::new();
    while delivered.len() < 3 {
        let hit = receiver.next().await;
        let seq = hit.json["message"]["seq"].as_i64().unwrap();
        assert_eq!(seq, next_seq, "order");
        if hit.answered == 200 {
            delivered.push(hit.json["message"]["body"].as_str().unwrap().to_string());
            next_seq += 1;
        }
    }
    assert_eq!(delivered, ["one", "two", "three"]);
    let log = eventually(Duration::from_secs(5), || async {
        let log = deliveries(app, &admin, &bot.id).await;
        log.iter()
            .all(|delivery| delivery["status"] == "delivered")
            .then_some(log)
    })
    .await;
    assert_eq!(log.len(), 3);
    node.shutdown().await;
}

#[tokio::test]
async fn an_event_is_failed_after_the_last_attempt_and_the_next_one_goes() {
    let mut receiver = Receiver::start().await;
    receiver.answer_with(500);
    let server = live::start_with(|settings| {
        settings.bot_allow_private_targets = true;
        settings.bot_retry_base_ms = 20;
        settings.bot_retry_max_ms = 40;
        settings.bot_max_attempts = 3;
    })
    .await;
    let app = &server.app;
    let admin = app.admin_cookie().await;
    let bot = register_bot(app, &admin, "Ada", &receiver.url, "all_new").await;
    let mut ws = visitor(&server, 1).await;
    let (first, _) = say(&mut ws, None, "anyone there?").await;
    for _ in 0..3 {
        assert_eq!(receiver.next().await.json["message"]["seq"], 1);
    }
    let failed = eventually(Duration::from_secs(5), || async {
        let log = deliveries(app, &admin, &bot.id).await;
        (log[0]["status"] == "failed").then(|| log[0].clone())
    })
    .await;
    assert_eq!(failed["attempts"], 3);
    assert_eq!(failed["last_status"], 500);
    assert!(
        failed["last_error"]
            .as_str()
            .unwrap()
            .starts_with("HTTP 500"),
        "{failed}"
    );
    assert!(failed.get("next_attempt_at").is_none());

    // Given up on, it no longer holds back the conversation's next event.
    receiver.answer_with(200);
    say(&mut ws, Some(&first.conversation_id), "hello?").await;
    let hit = receiver.next().await;
    assert_eq!(
        hit.json["message"]["seq"], 2,
        "no fourth attempt at the first"
    );
}

#[tokio::test]
async fn webhook_targets_on_private_addresses_are_refused_unless_allowed() {
    let app = test_app_with(|_| {}).await;
    let admin = app.admin_cookie().await;
    for url in [
        "https://127.0.0.1/hook",
        "https://10.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://localhost/hook",
        "https://0x7f.1/hook",
    ] {
        let answer = register(
            &app,
            &admin,
            json!({"name": "Ada", "webhook_url": url, "takes": "all_new"}),
        )
        .await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{url}: {}",
            answer.text
        );
        assert_eq!(answer.code(), "webhook_target_refused", "{url}");
    }
    for url in [
        "http://bot.example.com/hook",
        "ftp://bot.example.com/",
        "not a url",
    ] {
        let answer = register(
            &app,
            &admin,
            json!({"name": "Ada", "webhook_url": url, "takes": "all_new"}),
        )
        .await;
        assert_eq!(
            answer.code(),
            "invalid_webhook_url",
            "{url}: {}",
            answer.text
        );
    }

    let allowed = test_app_with(|settings| settings.bot_allow_private_targets = true).await;
    let allowed_admin = allowed.admin_cookie().await;
    for url in [
        "http://127.0.0.1:9/hook",
        "https://localhost/hook",
        "http://[::1]:9/",
    ] {
        let answer = register(
            &allowed,
            &allowed_admin,
            json!({"name": "Ada", "webhook_url": url, "takes": "all_new"}),
        )
        .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{url}: {}", answer.text);
    }
}

/// A name checked at registration can point elsewhere later (DNS rebinding): every delivery
/// resolves it again and refuses a private address, so the bot never gets the request.
#[tokio::test]
async fn a_delivery_to_a_name_that_now_resolves_to_loopback_is_refused() {
    let mut receiver = Receiver::start().await;
    let server = live::start_with(|settings| {
        settings.bot_retry_base_ms = 20;
        settings.bot_retry_max_ms = 40;
        settings.bot_max_attempts = 2;
    })
    .await;
    let app = &server.app;
    let admin = app.admin_cookie().await;
    let port = receiver
        .url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    // As if registered while the name resolved to a public address.
    let input = talk_protocol::BotInput {
        name: "Ada".into(),
        photo_url: None,
        webhook_url: format!("https://localhost:{port}/hook"),
        takes: talk_protocol::BotTakes::AllNew,
        enabled: true,
    };
    let bot =
        talk_server::bots::registry::create(&app.state.db, &app.workspace.workspace_id, input)
            .await
            .unwrap()
            .unwrap();
    let mut ws = visitor(&server, 1).await;
    say(&mut ws, None, "hello").await;
    let failed = eventually(Duration::from_secs(10), || async {
        let log = deliveries(app, &admin, &bot.bot.id).await;
        (log[0]["status"] == "failed").then(|| log[0].clone())
    })
    .await;
    let error = failed["last_error"].as_str().unwrap();
    assert!(
        error.contains("127.0.0.1") || error.contains("::1"),
        "{error}"
    );
    assert!(failed.get("last_status").is_none());
    assert!(receiver.try_next().is_none(), "nothing reached the address");
}

#[tokio::test]
async fn a_bot_key_acts_only_on_the_conversations_its_bot_holds() {
    let receiver = Receiver::start().await;
    let server = start().await;
    let app = &server.app;
    let admin = app.admin_cookie().await;
    let mut before_ws = visitor(&server, 1).await;
    let (before, _) = say(&mut before_ws, None, "before any bot").await;
    let bot = register_bot(app, &admin, "Ada", &receiver.url, "all_new").await;
    let mut ws = visitor(&server, 2).await;
    let (held, _) = say(&mut ws, None, "hi bot").await;
    let (before, held) = (before.conversation_id, held.conversation_id);
    let key = bot.key.as_str();

    let refused =
        |method: Method, uri: String, body: Option<Value>, status: u16, code: &'static str| {
            let app = &server.app;
            async move {
                let answer = as_bot(app, key, method.clone(), &uri, body).await;
                assert_eq!(
                    (answer.status.as_u16(), answer.code().as_str()),
                    (status, code),
                    "{method} {uri}: {}",
                    answer.text
                );
            }
        };
    // Everything the workspace's key does, but these few.
    refused(
        Method::GET,
        "/v1/conversations".into(),
        None,
        403,
        "bot_key_not_allowed",
    )
    .await;
    refused(
        Method::GET,
        "/v1/people/000000000000000000000000".into(),
        None,
        403,
        "bot_key_not_allowed",
    )
    .await;
    refused(
        Method::POST,
        "/v1/talk/session".into(),
        Some(json!({"fields": {"str::email": "x@example.com", "str::name": "X"}})),
        403,
        "bot_key_not_allowed",
    )
    .await;
    for (method, action, body) in [
        (Method::GET, "contact", None),
        (Method::POST, "close", None),
        (Method::POST, "reopen", None),
        (Method::POST, "assign", Some(json!({"agent_id": null}))),
        (Method::POST, "read", Some(json!({"up_to_seq": 0}))),
    ] {
        let uri = format!("/v1/conversations/{held}/{action}");
        refused(method, uri, body, 403, "bot_key_not_allowed").await;
    }
    // Admin routes take an admin's cookie, never a key.
    for uri in [
        "/v1/admin/bots",
        "/v1/admin/api-keys",
        "/v1/agent/conversations",
    ] {
        let answer = as_bot(app, key, Method::GET, uri, None).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{uri}");
    }
    // Conversations it doesn't hold: one from before it, and one that doesn't exist.
    for conversation in [before.as_str(), "000000000000000000000000"] {
        for (method, action, body) in [
            (Method::GET, "messages", None),
            (Method::POST, "messages", Some(json!({"body": "psst"}))),
            (Method::POST, "typing", Some(json!({"typing": true}))),
            (Method::POST, "handoff", Some(json!({}))),
        ] {
            let uri = format!("/v1/conversations/{conversation}/{action}");
            refused(method, uri, body, 403, "conversation_not_held").await;
        }
    }

    // Its own: history, and typing the visitor sees under its name.
    let history = as_bot(
        app,
        key,
        Method::GET,
        &format!("/v1/conversations/{held}/messages"),
        None,
    )
    .await;
    assert_eq!(history.status, StatusCode::OK, "{}", history.text);
    assert_eq!(history.json()["messages"][0]["body"], "hi bot");
    let typing = as_bot(
        app,
        key,
        Method::POST,
        &format!("/v1/conversations/{held}/typing"),
        Some(json!({"typing": true, "agent_name": "Not Ada"})),
    )
    .await;
    assert_eq!(typing.status, StatusCode::NO_CONTENT, "{}", typing.text);
    assert!(wait_for(&mut ws, |event| bot_typing(event, "Ada")).await);

    // Handed over, it is no longer its.
    let handoff = as_bot(
        app,
        key,
        Method::POST,
        &format!("/v1/conversations/{held}/handoff"),
        Some(json!({})),
    )
    .await;
    assert_eq!(handoff.status, StatusCode::NO_CONTENT, "{}", handoff.text);
    refused(
        Method::GET,
        format!("/v1/conversations/{held}/messages"),
        None,
        403,
        "conversation_not_held",
    )
    .await;
    refused(
        Method::POST,
        format!("/v1/conversations/{held}/messages"),
        Some(json!({"body": "still here"})),
        403,
        "conversation_not_held",
    )
    .await;
    let workspace = app
        .agent(
            Method::GET,
            &format!("/v1/conversations/{held}/messages"),
            None,
        )
        .await;
    assert_eq!(workspace.status, StatusCode::OK);

    // Deleted, its key is revoked.
    let cookie = app.admin_cookie().await;
    let deleted = app
        .as_agent(
            &cookie,
            Method::DELETE,
            &format!("/v1/admin/bots/{}", bot.id),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    refused(
        Method::GET,
        format!("/v1/conversations/{held}/messages"),
        None,
        401,
        "invalid_api_key",
    )
    .await;
}

#[tokio::test]
async fn a_handoff_tells_the_agents_and_stops_the_deliveries() {
    let mut receiver = Receiver::start().await;
    let server = start().await;
    let app = &server.app;
    let admin = app.admin_cookie().await;
    let bot = register_bot(app, &admin, "Ada", &receiver.url, "all_new").await;
    let cookie = app.admin_cookie().await;
    let mut inbox = server.agent_socket(&cookie).await;
    let mut ws = visitor(&server, 1).await;
    let (first, _) = say(&mut ws, None, "I need a person").await;
    let conversation_id = first.conversation_id.clone();
    receiver.next().await;

    let handoff = as_bot(
        app,
        &bot.key,
        Method::POST,
        &format!("/v1/conversations/{conversation_id}/handoff"),
        Some(json!({"note": "  wants a human  "})),
    )
    .await;
    assert_eq!(handoff.status, StatusCode::NO_CONTENT, "{}", handoff.text);
    let told = wait_for(&mut inbox, |event| match event {
        ServerEvent::Handoff {
            conversation_id,
            bot_name,
            note,
        } => Some((conversation_id.clone(), bot_name.clone(), note.clone())),
        _ => None,
    })
    .await;
    assert_eq!(
        told,
        (
            conversation_id.clone(),
            "Ada".into(),
            Some("wants a human".into())
        )
    );
    assert_eq!(bot_of(app, &conversation_id).await, "");
    // The visitor hears the conversation changed, never the handoff itself.
    let mut heard = Vec::new();
    let updated = wait_for(&mut ws, |event| {
        heard.push(event.clone());
        match event {
            ServerEvent::ConversationUpdated { conversation } => Some(conversation.clone()),
            _ => None,
        }
    })
    .await;
    assert_eq!(updated.id, conversation_id);
    assert!(
        !heard
            .iter()
            .any(|event| matches!(event, ServerEvent::Handoff { .. })),
        "{heard:?}"
    );

    // The visitor's next message is for the agents only: nothing is queued for the bot.
    assert_eq!(pending_deliveries(app, &conversation_id).await, 1);
    say(&mut ws, Some(&conversation_id), "hello?").await;
    assert_eq!(pending_deliveries(app, &conversation_id).await, 1);

    // The site's backend can make the bot let go too (and doing it twice changes nothing).
    let mut other = visitor(&server, 2).await;
    let (second, _) = say(&mut other, None, "hi").await;
    receiver.next().await;
    let uri = format!("/v1/conversations/{}/handoff", second.conversation_id);
    for _ in 0..2 {
        let answer = app.agent(Method::POST, &uri, Some(json!({}))).await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    }
    let told = wait_for(&mut inbox, |event| match event {
        ServerEvent::Handoff {
            conversation_id,
            note,
            ..
        } => Some((conversation_id.clone(), note.clone())),
        _ => None,
    })
    .await;
    assert_eq!(told, (second.conversation_id.clone(), None));
    let long = "x".repeat(talk_protocol::MAX_HANDOFF_NOTE_CHARS + 1);
    let answer = app
        .agent(Method::POST, &uri, Some(json!({"note": long})))
        .await;
    assert_eq!(answer.code(), "invalid_note");
}

/// A conversation visitor `n` starts over HTTP (no worker runs in-process).
async fn start_conversation(app: &TestApp, n: u8) -> String {
    let token = app.session_token(&visitor_id(n), None).await;
    let identified = app
        .identify(&token, json!({"email": format!("v{n}@example.com")}))
        .await;
    assert_eq!(identified.status, StatusCode::OK, "{}", identified.text);
    let bearer = format!("Bearer {token}");
    let answer = app
        .send(
            Method::POST,
            "/v1/talk/messages",
            &[("authorization", &bearer)],
            Some(json!({"type": "send", "client_msg_id": uuid(), "body": "Hi"})),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.json()[0]["message"]["conversation_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn which_bot_takes_a_new_conversation() {
    let app = test_app_with(|settings| settings.bot_allow_private_targets = true).await;
    let url = "http://127.0.0.1:9/hook";
    let cookie = app.admin_cookie().await;
    let presence = |presence: &'static str| {
        let (app, cookie) = (&app, cookie.clone());
        async move {
            let answer = app
                .as_agent(
                    &cookie,
                    Method::PUT,
                    "/v1/agent/presence",
                    Some(json!({"presence": presence})),
                )
                .await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        }
    };
    let set_enabled = |bot_id: String, name: &'static str, takes: &'static str, enabled: bool| {
        let (app, cookie) = (&app, cookie.clone());
        async move {
            let answer = app
                .as_agent(
                    &cookie,
                    Method::PUT,
                    &format!("/v1/admin/bots/{bot_id}"),
                    Some(json!({"name": name, "webhook_url": url, "takes": takes, "enabled": enabled})),
                )
                .await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
            assert_eq!(answer.json()["enabled"], json!(enabled));
        }
    };

    assert_eq!(bot_of(&app, &start_conversation(&app, 1).await).await, "");
    // Outside office hours (nobody online), the night bot takes it.
    let night = register_bot(&app, &cookie, "Night", url, "outside_office_hours").await;
    assert_eq!(
        bot_of(&app, &start_conversation(&app, 2).await).await,
        night.id
    );
    // An agent is online: office hours.
    presence("online").await;
    assert_eq!(bot_of(&app, &start_conversation(&app, 3).await).await, "");
    // A bot for every new conversation, switched off, takes nothing; on, it takes them all.
    let answer = register(
        &app,
        &cookie,
        json!({"name": "Day", "webhook_url": url, "takes": "all_new", "enabled": false}),
    )
    .await;
    let day = answer.json()["bot"]["id"].as_str().unwrap().to_string();
    assert_eq!(bot_of(&app, &start_conversation(&app, 4).await).await, "");
    set_enabled(day.clone(), "Day", "all_new", true).await;
    let by_day = start_conversation(&app, 5).await;
    assert_eq!(bot_of(&app, &by_day).await, day);
    // The oldest such bot wins, and wins over the night bot outside office hours too.
    register_bot(&app, &cookie, "Day 2", url, "all_new").await;
    presence("away").await;
    assert_eq!(bot_of(&app, &start_conversation(&app, 6).await).await, day);

    // Switched off, a bot gets no events of the conversations it holds.
    set_enabled(day.clone(), "Day", "all_new", false).await;
    let queued = pending_deliveries(&app, &by_day).await;
    let token = app.session_token(&visitor_id(5), None).await;
    let bearer = format!("Bearer {token}");
    let sent = app
        .send(
            Method::POST,
            "/v1/talk/messages",
            &[("authorization", &bearer)],
            Some(json!({"type": "send", "conversation_id": by_day, "client_msg_id": uuid(), "body": "again"})),
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text);
    assert_eq!(pending_deliveries(&app, &by_day).await, queued);
}

#[tokio::test]
async fn admins_manage_bots_whose_secrets_show_once() {
    let app = test_app_with(|settings| settings.bot_allow_private_targets = true).await;
    let cookie = app.admin_cookie().await;
    let url = "http://127.0.0.1:9/hook";
    let created = register(
        &app,
        &cookie,
        json!({"name": "  Ada  ", "photo_url": "https://cdn.example.com/ada.png",
               "webhook_url": url, "takes": "all_new"}),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let created = created.json();
    let bot = &created["bot"];
    assert_eq!(bot["name"], "Ada");
    assert_eq!(bot["enabled"], true);
    let secret = created["signing_secret"].as_str().unwrap();
    let key = created["api_key"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() == 70,
        "{secret}"
    );
    assert!(key.starts_with("talk_sk_"));
    assert_eq!(bot["api_key_prefix"], json!(&key["talk_sk_".len()..][..8]));
    let id = bot["id"].as_str().unwrap();

    let list = app
        .as_agent(&cookie, Method::GET, "/v1/admin/bots", None)
        .await;
    assert_eq!(list.json()["bots"], json!([bot]));
    let one = app
        .as_agent(&cookie, Method::GET, &format!("/v1/admin/bots/{id}"), None)
        .await;
    assert_eq!(one.json(), *bot);
    for text in [&list.text, &one.text] {
        assert!(!text.contains(secret) && !text.contains(key));
    }
    let changed = app
        .as_agent(
            &cookie,
            Method::PUT,
            &format!("/v1/admin/bots/{id}"),
            Some(json!({"name": "Ada 2", "webhook_url": url, "takes": "outside_office_hours", "enabled": false})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    let changed = changed.json();
    assert_eq!(
        (
            &changed["name"],
            &changed["takes"],
            &changed["enabled"],
            &changed["id"]
        ),
        (
            &json!("Ada 2"),
            &json!("outside_office_hours"),
            &json!(false),
            &json!(id)
        )
    );
    assert!(changed.get("photo_url").is_none());

    for (body, code) in [
        (
            json!({"name": " ", "webhook_url": url, "takes": "all_new"}),
            "invalid_name",
        ),
        (
            json!({"name": "x".repeat(61), "webhook_url": url, "takes": "all_new"}),
            "invalid_name",
        ),
        (
            json!({"name": "A", "photo_url": "javascript:x", "webhook_url": url, "takes": "all_new"}),
            "invalid_url",
        ),
        (
            json!({"name": "A", "webhook_url": url, "takes": "sometimes"}),
            "invalid_json",
        ),
        (json!({"name": "A", "takes": "all_new"}), "invalid_json"),
    ] {
        let answer = register(&app, &cookie, body.clone()).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer.code(), code, "{body}");
    }
    for path in [
        "/v1/admin/bots/000000000000000000000000",
        "/v1/admin/bots/000000000000000000000000/deliveries",
    ] {
        let answer = app.as_agent(&cookie, Method::GET, path, None).await;
        assert_eq!(answer.code(), "bot_not_found", "{path}");
    }

    // At most 10 per workspace.
    for n in 2..=talk_protocol::MAX_BOTS {
        register_bot(&app, &cookie, &format!("Bot {n}"), url, "all_new").await;
    }
    let eleventh = register(
        &app,
        &cookie,
        json!({"name": "One too many", "webhook_url": url, "takes": "all_new"}),
    )
    .await;
    assert_eq!(eleventh.status, StatusCode::CONFLICT);
    assert_eq!(eleventh.code(), "too_many_bots");

    // Deleted, it lets go of its conversations.
    let holder = app.sql.string(
        "SELECT id FROM bots WHERE workspace_id = $1 AND enabled ORDER BY created_at, id LIMIT 1",
        &[(&app.workspace.workspace_id).into()],
    ).await;
    let held = start_conversation(&app, 1).await;
    assert_eq!(bot_of(&app, &held).await, holder);
    let deleted = app
        .as_agent(
            &cookie,
            Method::DELETE,
            &format!("/v1/admin/bots/{holder}"),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(bot_of(&app, &held).await, "");
    let again = app
        .as_agent(
            &cookie,
            Method::DELETE,
            &format!("/v1/admin/bots/{holder}"),
            None,
        )
        .await;
    assert_eq!(again.code(), "bot_not_found");
}

/// The first ```python block of docs/bots.md, run as it stands.
fn docs_bot() -> String {
    let docs = include_str!("../../../docs/bots.md");
    let start = docs
        .find("```python\n")
        .expect("docs/bots.md has a python block")
        + 10;
    let end = start + docs[start..].find("```").unwrap();
    docs[start..end].to_string()
}

struct Python(tokio::process::Child);

impl Drop for Python {
    fn drop(&mut self) {
        let _ = self.0.start_kill();
    }
}

#[tokio::test]
async fn the_docs_python_bot_answers_hands_over_and_refuses_forged_signatures() {
    let server = start().await;
    let app = &server.app;
    let admin = app.admin_cookie().await;
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("bot.py");
    std::fs::write(&script, docs_bot()).unwrap();
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let bot_url = format!("http://127.0.0.1:{port}/");
    let bot = register_bot(app, &admin, "Ada", &bot_url, "all_new").await;
    let _python = Python(
        tokio::process::Command::new("python3")
            .arg(&script)
            .env("TALK_URL", format!("http://{}", server.addr))
            .env("BOT_API_KEY", &bot.key)
            .env("BOT_SECRET", &bot.secret)
            .env("PORT", port.to_string())
            .env("THINK_SECONDS", "0.3")
            // Its request log, kept out of the test's output.
            .stderr(std::fs::File::create(dir.path().join("bot.log")).unwrap())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs"),
    );
    eventually(Duration::from_secs(10), || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
    })
    .await;

    let cookie = app.admin_cookie().await;
    let mut inbox = server.agent_socket(&cookie).await;

    // The visitor asks; the bot types, then answers.
    let mut ws = visitor(&server, 1).await;
    let (first, _) = say(&mut ws, None, "Hello bot").await;
    let conversation_id = first.conversation_id.clone();
    assert!(wait_for(&mut ws, |event| bot_typing(event, "Ada")).await);
    let answer = wait_for(&mut ws, |event| match event {
        ServerEvent::Message { message } if message.author.kind == AuthorKind::Bot => {
            Some(message.clone())
        }
        _ => None,
    })
    .await;
    assert_eq!(answer.body, "You said: Hello bot");
    assert_eq!(answer.author.name.as_deref(), Some("Ada"));

    // Requests not signed by Talk are refused; a repeated event is acknowledged once.
    let client = reqwest::Client::new();
    let post = |signature: Option<String>, body: Vec<u8>| {
        let mut request = client.post(&bot_url).body(body);
        if let Some(signature) = signature {
            request = request.header("Talk-Signature", signature);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let event = json!({
        "id": "forged-event-1",
        "type": "message.created",
        "created_at": 0,
        "bot_id": bot.id,
        "conversation": {"id": conversation_id},
        "message": {"body": "Echo me"},
    });
    let body = serde_json::to_vec(&event).unwrap();
    let now = common::now_secs();
    assert_eq!(post(None, body.clone()).await, 401, "unsigned");
    assert_eq!(
        post(Some(sign("whsec_forged", now, &body)), body.clone()).await,
        401,
        "forged"
    );
    assert_eq!(
        post(Some(sign(&bot.secret, now - 1_000, &body)), body.clone()).await,
        401,
        "stale"
    );
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    assert_eq!(
        post(Some(sign(&bot.secret, now, &body)), tampered).await,
        401,
        "tampered"
    );
    for _ in 0..2 {
        assert_eq!(
            post(Some(sign(&bot.secret, now, &body)), body.clone()).await,
            200
        );
    }
    let history = app
        .agent(
            Method::GET,
            &format!("/v1/conversations/{conversation_id}/messages"),
            None,
        )
        .await
        .json();
    let echoes = history["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|message| message["body"] == "You said: Echo me")
        .count();
    assert_eq!(echoes, 1, "the repeated event was acted on once: {history}");

    // Asked for a human, it says so and hands over; the agents are told.
    say(&mut ws, Some(&conversation_id), "Can I talk to a human?").await;
    let note = wait_for(&mut inbox, |event| match event {
        ServerEvent::Handoff {
            conversation_id: handed,
            note,
            ..
        } if *handed == conversation_id => Some(note.clone()),
        _ => None,
    })
    .await;
    assert_eq!(note.as_deref(), Some("asked for a human"));
    let said = wait_for(&mut ws, |event| match event {
        ServerEvent::Message { message } if message.author.kind == AuthorKind::Bot => {
            Some(message.body.clone())
        }
        _ => None,
    })
    .await;
    assert_eq!(said, "A human will take over.");
    assert_eq!(bot_of(app, &conversation_id).await, "");
}

/// Two nodes on one PostgreSQL database, both running the worker: a retried event is taken
/// by one node at a time (the lease), every event reaches the bot once and in order, and a
/// handoff made on one node reaches the inbox on the other. On SQLite (one node) it says why
/// it skips.
#[tokio::test]
async fn two_nodes_deliver_each_event_once_and_in_order() {
    let mut receiver = Receiver::start().await;
    receiver.answer_with(503);
    let fast = |settings: &mut talk_server::Settings| {
        settings.bot_allow_private_targets = true;
        settings.bot_retry_base_ms = 20;
        settings.bot_retry_max_ms = 60;
        settings.bot_max_attempts = 1_000;
        settings.socket_messages_per_window = 1_000;
    };
    let a = live::start_with(fast).await;
    let url = a.app.state.settings.database_url.clone();
    if !url.starts_with("postgres") {
        eprintln!("skipped: two nodes share a PostgreSQL database (run under scripts/postgres.sh)");
        return;
    }
    let b = live::start_with(|settings| {
        fast(settings);
        settings.database_url = url;
    })
    .await;
    let app = &a.app;
    let admin = app.admin_cookie().await;
    let bot = register_bot(app, &admin, "Ada", &receiver.url, "all_new").await;
    let mut inbox = b.agent_socket(&admin).await;
    let mut ws = visitor(&a, 1).await;
    let (first, _) = say(&mut ws, None, "1").await;
    let conversation_id = first.conversation_id.clone();
    for n in 2..=5 {
        say(&mut ws, Some(&conversation_id), &n.to_string()).await;
    }
    // Retried a while by whichever node is first, then the bot is back.
    for _ in 0..6 {
        assert_eq!(receiver.next().await.json["message"]["seq"], 1);
    }
    receiver.answer_with(200);
    let mut delivered: Vec<(i64, String)> = Vec::new();
    while delivered.len() < 5 {
        let hit = receiver.next().await;
        let seq = hit.json["message"]["seq"].as_i64().unwrap();
        assert_eq!(seq, delivered.len() as i64 + 1, "order: {delivered:?}");
        if hit.answered == 200 {
            delivered.push((seq, hit.delivery));
        }
    }
    let ids: std::collections::BTreeSet<_> = delivered.iter().map(|(_, id)| id).collect();
    assert_eq!(ids.len(), 5);
    // Nothing comes twice: every delivery is recorded delivered, at its one successful try.
    let log = eventually(Duration::from_secs(5), || async {
        let log = deliveries(app, &admin, &bot.id).await;
        log.iter()
            .all(|delivery| delivery["status"] == "delivered")
            .then_some(log)
    })
    .await;
    assert_eq!(log.len(), 5);
    assert!(receiver.try_next().is_none(), "no event twice");

    let handoff = as_bot(
        app,
        &bot.key,
        Method::POST,
        &format!("/v1/conversations/{conversation_id}/handoff"),
        Some(json!({"note": "across nodes"})),
    )
    .await;
    assert_eq!(handoff.status, StatusCode::NO_CONTENT);
    let note = wait_for(&mut inbox, |event| match event {
        ServerEvent::Handoff { note, .. } => Some(note.clone()),
        _ => None,
    })
    .await;
    assert_eq!(note.as_deref(), Some("across nodes"));
}
