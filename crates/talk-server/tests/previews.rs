//! Previews (`talk_server::usage::preview`) through the real endpoints and sockets: the
//! preview token, preview sessions counted apart and listed nowhere, agents hearing nothing
//! of them, the daily fair-use limits, and the clean-up after a day. Runs on SQLite, or on
//! PostgreSQL with `TALK_TEST_DATABASE_URL` (`scripts/postgres.sh`).

mod common;

use axum::http::{Method, StatusCode};
use common::live::*;
use common::{visitor_id, Answer, TestApp};
use serde_json::{json, Value};
use talk_protocol::{error_code, ServerEvent};
use talk_server::usage::preview;

const DAY_MS: i64 = 86_400_000;
const CALL_1: &str = "0b5c9a2e-7d1f-4c3e-8a6b-2f4e6d8c0b01";
const CALL_2: &str = "0b5c9a2e-7d1f-4c3e-8a6b-2f4e6d8c0b02";

/// The n-th client message id.
fn msg(n: u8) -> String {
    format!("7a1c1c8e-4a4c-4f0e-9a57-3f5d3c2b1d{n:02}")
}

impl TestApp {
    /// `POST /v1/admin/preview-token` as the workspace's admin, asserting success.
    async fn preview_token(&self, admin_cookie: &str) -> String {
        let answer = self.preview_token_answer(Some(admin_cookie)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        let token = answer.json();
        let expires_at = token["expires_at"].as_i64().unwrap();
        let in_a_day = talk_server::db::now_ms() + DAY_MS;
        assert!(
            (in_a_day - 5_000..=in_a_day).contains(&expires_at),
            "{token}"
        );
        token["token"].as_str().unwrap().to_string()
    }

    async fn preview_token_answer(&self, cookie: Option<&str>) -> Answer {
        let origin = self.state.settings.public_origin();
        let mut headers = vec![("origin", origin.as_str())];
        if let Some(cookie) = cookie {
            headers.push(("cookie", cookie));
        }
        self.send(Method::POST, "/v1/admin/preview-token", &headers, None)
            .await
    }

    /// Today's `usage_days` row of this workspace, production or preview: (text by visitors,
    /// conversations started, widget sessions); zeros without one.
    async fn usage_today(&self, preview: bool) -> (i64, i64, i64) {
        let day = talk_server::db::now_ms() / DAY_MS;
        let mut counts = [0; 3];
        for (count, column) in
            counts
                .iter_mut()
                .zip(["text_visitor", "conversations_inbound", "widget_sessions"])
        {
            let sql = format!(
                "SELECT {column} FROM usage_days
                 WHERE workspace_id = $1 AND day = $2 AND preview = ($3 = 1)"
            );
            let binds = [
                (&self.workspace.workspace_id).into(),
                day.into(),
                i64::from(preview).into(),
            ];
            *count = self.sql.opt_i64(&sql, &binds).await.unwrap_or(0);
        }
        (counts[0], counts[1], counts[2])
    }

    async fn count(&self, sql: &str) -> i64 {
        self.sql
            .i64(sql, &[(&self.workspace.workspace_id).into()])
            .await
    }
}

/// A preview session's token (the inbox's frame passes the preview token as the widget's
/// `token`), for whatever visitor id the browser holds.
async fn preview_session(app: &TestApp, preview_token: &str) -> Value {
    let answer = app
        .widget_session(&visitor_id(99), Some(preview_token))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.json()
}

/// An identified preview's socket, past its `ready`, and its session token.
async fn preview_socket(server: &Server, preview_token: &str) -> (Ws, String) {
    let session = preview_session(&server.app, preview_token).await;
    let session_token = session["session_token"].as_str().unwrap().to_string();
    if session["person"].is_null() {
        let identified = server
            .app
            .identify(&session_token, json!({"email": "admin-trying@example.com"}))
            .await;
        assert_eq!(identified.status, StatusCode::OK, "{}", identified.text);
    }
    let mut ws = server.connect().await;
    send(&mut ws, json!({"type": "auth", "token": session_token})).await;
    match next_event(&mut ws).await {
        ServerEvent::Ready { .. } => (ws, session_token),
        other => panic!("expected ready, got {other:?}"),
    }
}

/// A production visitor's socket (identified), past its `ready`.
async fn production_socket(server: &Server, n: u8) -> Ws {
    let visitor = visitor_id(n);
    server
        .identify(&visitor, &format!("visitor{n}@example.com"))
        .await;
    server.open(&visitor, None).await.0
}

#[tokio::test]
async fn the_preview_token_is_an_admins_and_starts_previews_of_its_workspace_only() {
    let app = common::test_app().await;
    let admin = app.admin_cookie().await;

    // Only a signed-in admin gets one.
    let anonymous = app.preview_token_answer(None).await;
    assert_eq!(
        anonymous.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        anonymous.text
    );
    let created = app
        .as_agent(
            &admin,
            Method::POST,
            "/v1/admin/agents",
            Some(json!({"email": "agent@example.com", "name": "Sam", "role": "agent"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let password = created.json()["password"].as_str().unwrap().to_string();
    let agent = app.sign_in("agent@example.com", &password).await;
    let refused = app.preview_token_answer(Some(&agent)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert_eq!(refused.code(), "admin_only");

    let token = app.preview_token(&admin).await;
    let session = preview_session(&app, &token).await;
    assert_eq!(session["verified"], false, "{session}");
    assert!(session["person"].is_null(), "{session}");
    let session_id = session["session_id"].as_str().unwrap();
    let visitor = app
        .sql
        .string(
            "SELECT visitor_id FROM sessions WHERE id = $1",
            &[session_id.into()],
        )
        .await;
    // A preview, of no person.
    let marked = app
        .sql
        .i64(
            "SELECT COUNT(*) FROM sessions WHERE id = $1 AND preview AND person_id IS NULL",
            &[session_id.into()],
        )
        .await;
    assert_eq!(marked, 1);
    // The admin's own preview visitor, never the browser's.
    let admin_id = admin_agent_id(&app).await;
    assert_eq!(visitor, preview::visitor_id(&admin_id));
    assert_ne!(visitor, visitor_id(99));

    // Another workspace's widget refuses it.
    let other = talk_server::create_workspace(&app.state.db, "Other")
        .await
        .unwrap();
    let elsewhere = app
        .send(
            Method::POST,
            "/v1/talk/widget/session",
            &[],
            Some(
                json!({"capture_key": other.capture_key, "visitor_id": visitor_id(1),
                        "token": token}),
            ),
        )
        .await;
    assert_eq!(
        elsewhere.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        elsewhere.text
    );
    assert_eq!(elsewhere.code(), "token_wrong_workspace");

    // An expired one, one of another kind and one of an agent who is no admin are refused
    // as every bad token is.
    let now = common::now_secs();
    let expired = app
        .sign(
            json!({"typ": "preview", "ws": app.workspace.workspace_id, "sub": admin_id,
                     "iat": now - 100, "exp": now - 10}),
        )
        .await;
    let answer = app.widget_session(&visitor_id(1), Some(&expired)).await;
    assert_eq!(answer.code(), "token_expired", "{}", answer.text);
    let odd = app
        .sign(
            json!({"typ": "socket", "ws": app.workspace.workspace_id, "sub": admin_id,
                     "iat": now, "exp": now + 100}),
        )
        .await;
    let answer = app.widget_session(&visitor_id(1), Some(&odd)).await;
    assert_eq!(answer.code(), "invalid_token", "{}", answer.text);
    let agent_id = created.json()["agent"]["id"].as_str().unwrap().to_string();
    let not_admin = app
        .sign(
            json!({"typ": "preview", "ws": app.workspace.workspace_id, "sub": agent_id,
                     "iat": now, "exp": now + 100}),
        )
        .await;
    let answer = app.widget_session(&visitor_id(1), Some(&not_admin)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{}", answer.text);
    assert_eq!(answer.code(), "invalid_token");
}

#[tokio::test]
async fn a_preview_is_counted_apart_listed_nowhere_and_unheard_by_agents() {
    let mut server = start().await;
    let app = &server.app;
    let admin = app.admin_cookie().await;
    let mut inbox = server.agent_socket(&admin).await;
    let token = app.preview_token(&admin).await;

    let (mut previewing, _) = preview_socket(&server, &token).await;
    let first = ack(send_message(&mut previewing, None, &msg(1), "Does the bot answer?").await);
    let preview_id = first.conversation_id.clone();
    assert!(
        preview::is_preview_conversation(&preview_id),
        "{preview_id}"
    );
    ack(send_message(&mut previewing, Some(&preview_id), &msg(2), "And again?").await);
    send(
        &mut previewing,
        json!({"type": "typing", "conversation_id": preview_id, "typing": true}),
    )
    .await;

    // The same preview token again (the widget's token refresh): the same preview visitor,
    // who sees its conversation.
    let (_, session_token) = preview_socket(&server, &token).await;
    let (status, _) = server
        .post_event(
            &session_token,
            json!({"type": "resume", "conversation_id": preview_id, "after_seq": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let mut visitor = production_socket(&server, 1).await;
    let production = ack(send_message(&mut visitor, None, &msg(3), "A real question").await);
    // The agents hear of the production conversation first and of the preview never.
    let started = conversation_updated(next_event(&mut inbox).await);
    assert_eq!(started.id, production.conversation_id);
    match next_event(&mut inbox).await {
        ServerEvent::Message { message } => assert_eq!(message.id, production.id),
        other => panic!("expected the production message, got {other:?}"),
    }
    assert_quiet(&mut inbox).await;

    // Listed nowhere: the inbox, the API.
    let listed = app
        .as_agent(&admin, Method::GET, "/v1/agent/conversations", None)
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let ids: Vec<String> = listed.json()["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, [production.conversation_id.as_str()]);
    let api: Vec<String> = server
        .agent_conversations()
        .await
        .into_iter()
        .map(|conversation| conversation.id)
        .collect();
    assert_eq!(api, [production.conversation_id.as_str()]);

    // Counted apart: the preview's messages, conversation and sessions only in its row.
    assert_eq!(app.usage_today(false).await.0, 1);
    assert_eq!(app.usage_today(false).await.1, 1);
    let (text, conversations, sessions) = app.usage_today(true).await;
    assert_eq!((text, conversations), (2, 1));
    let preview_sessions = app
        .count("SELECT COUNT(*) FROM sessions WHERE workspace_id = $1 AND preview")
        .await;
    assert_eq!(sessions, preview_sessions);
    assert!(preview_sessions >= 2);
    let marked = app
        .count("SELECT COUNT(*) FROM conversations WHERE workspace_id = $1 AND preview")
        .await;
    assert_eq!(marked, 1);

    // The person the preview gave its email as is never reached through the preview.
    let person_id = app
        .sql
        .string(
            "SELECT person_id FROM conversations WHERE id = $1",
            &[(&preview_id).into()],
        )
        .await;
    let outbound = app
        .agent(
            Method::POST,
            &format!("/v1/people/{person_id}/conversations"),
            Some(json!({"body": "Hello from sales"})),
        )
        .await;
    assert_eq!(outbound.status, StatusCode::CONFLICT, "{}", outbound.text);
    assert_quiet(&mut previewing).await;

    // Previews show no capture widget and can't answer one.
    send(
        &mut previewing,
        json!({"type": "capture_reply", "capture_id": "000000000000000000000000",
               "client_msg_id": msg(4), "body": "Yes"}),
    )
    .await;
    assert_eq!(
        error_code(next_event(&mut previewing).await),
        ("invalid_event".to_string(), Some(msg(4)))
    );
    server.shutdown().await;
}

#[tokio::test]
async fn preview_messages_stop_at_the_limit_and_production_goes_on() {
    let mut server = start_with(|settings| settings.preview_messages_per_day = 5).await;
    let app = &server.app;
    let admin = app.admin_cookie().await;
    let token = app.preview_token(&admin).await;
    let (mut previewing, session_token) = preview_socket(&server, &token).await;

    let first = ack(send_message(&mut previewing, None, &msg(1), "one").await);
    for n in 2..=5 {
        ack(send_message(
            &mut previewing,
            Some(&first.conversation_id),
            &msg(n),
            "more",
        )
        .await);
    }
    // The sixth, in the conversation or starting another, over the socket or HTTP.
    let refused = send_message(
        &mut previewing,
        Some(&first.conversation_id),
        &msg(6),
        "six",
    )
    .await;
    match &refused {
        ServerEvent::Error { message, .. } => assert_eq!(
            message,
            "Previews are limited to 5 messages a day per workspace; production is unaffected. \
             Try again tomorrow."
        ),
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(
        error_code(refused),
        (error_code::PREVIEW_LIMIT_REACHED.to_string(), Some(msg(6)))
    );
    let refused = send_message(&mut previewing, None, &msg(7), "another").await;
    assert_eq!(
        error_code(refused),
        (error_code::PREVIEW_LIMIT_REACHED.to_string(), Some(msg(7)))
    );
    let (status, body) = server
        .post_event(
            &session_token,
            json!({"type": "send", "conversation_id": first.conversation_id,
                   "client_msg_id": msg(8), "body": "over HTTP"}),
        )
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"]["code"], error_code::PREVIEW_LIMIT_REACHED);
    let stored = app
        .sql
        .i64(
            "SELECT last_seq FROM conversations WHERE id = $1",
            &[(&first.conversation_id).into()],
        )
        .await;
    assert_eq!(stored, 5);

    // Production in the same workspace is not under it.
    let mut visitor = production_socket(&server, 1).await;
    let production = ack(send_message(&mut visitor, None, &msg(9), "real").await);
    for n in 10..=15 {
        ack(send_message(
            &mut visitor,
            Some(&production.conversation_id),
            &msg(n),
            "on",
        )
        .await);
    }
    assert_eq!(app.usage_today(true).await.0, 5);
    assert_eq!(app.usage_today(false).await.0, 7);
    server.shutdown().await;
}

#[tokio::test]
async fn a_preview_call_is_refused_past_the_voice_limit() {
    let mut server = start_with(|settings| settings.preview_voice_minutes_per_day = 3).await;
    let app = &server.app;
    let workspace_id = app.workspace.workspace_id.clone();
    let mut settings = talk_server::widget_settings::load(&app.state.db, &workspace_id)
        .await
        .unwrap()
        .unwrap();
    settings.voice = true;
    talk_server::widget_settings::save(&app.state.db, &workspace_id, &settings)
        .await
        .unwrap();
    let admin = app.admin_cookie().await;
    let online = app
        .as_agent(
            &admin,
            Method::PUT,
            "/v1/agent/presence",
            Some(json!({"presence": "online"})),
        )
        .await;
    assert_eq!(online.status, StatusCode::OK, "{}", online.text);
    let mut inbox = server.agent_socket(&admin).await;
    let token = app.preview_token(&admin).await;
    let (mut previewing, _) = preview_socket(&server, &token).await;
    let conversation_id =
        ack(send_message(&mut previewing, None, &msg(1), "call?").await).conversation_id;

    // Under the limit a preview call rings the agents: that is how voice is tried.
    send(
        &mut previewing,
        json!({"type": "call_start", "conversation_id": conversation_id, "call_id": CALL_1}),
    )
    .await;
    assert!(matches!(
        next_event(&mut previewing).await,
        ServerEvent::Call { .. }
    ));
    assert!(matches!(
        next_event(&mut inbox).await,
        ServerEvent::Call { .. }
    ));
    send(
        &mut previewing,
        json!({"type": "call_hangup", "call_id": CALL_1, "failed": false}),
    )
    .await;
    assert!(matches!(
        next_event(&mut previewing).await,
        ServerEvent::Call { .. }
    ));
    // The call's record, in the preview only.
    assert!(matches!(
        next_event(&mut previewing).await,
        ServerEvent::Message { .. }
    ));

    // Today's preview minutes at the limit (as three minutes of calls would leave them).
    let day = talk_server::db::now_ms() / DAY_MS;
    app.sql
        .execute(
            "INSERT INTO usage_days (workspace_id, day, preview, voice_minutes)
             VALUES ($1, $2, TRUE, 3)
             ON CONFLICT (workspace_id, day, preview) DO UPDATE SET voice_minutes = 3",
            &[(&workspace_id).into(), day.into()],
        )
        .await;
    send(
        &mut previewing,
        json!({"type": "call_start", "conversation_id": conversation_id, "call_id": CALL_2}),
    )
    .await;
    let refused = next_event(&mut previewing).await;
    match &refused {
        ServerEvent::Error { message, .. } => assert!(
            message.contains("limited to 3 voice minutes a day"),
            "{message}"
        ),
        other => panic!("expected an error, got {other:?}"),
    }
    assert_eq!(
        error_code(refused).0,
        error_code::PREVIEW_LIMIT_REACHED.to_string()
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_clean_up_removes_day_old_previews_and_keeps_production_and_counts() {
    let mut server = start().await;
    let app = &server.app;
    let db = app.state.db.clone();
    let admin = app.admin_cookie().await;
    let token = app.preview_token(&admin).await;
    let (mut previewing, _) = preview_socket(&server, &token).await;
    let preview_id = ack(send_message(&mut previewing, None, &msg(1), "try").await).conversation_id;
    ack(send_message(&mut previewing, Some(&preview_id), &msg(2), "again").await);
    // A second preview session, which starts no conversation.
    preview_session(app, &token).await;
    let mut visitor = production_socket(&server, 1).await;
    let production_id =
        ack(send_message(&mut visitor, None, &msg(3), "real").await).conversation_id;
    let counts = |app: &TestApp| {
        let sql = app.sql.clone();
        let ws = app.workspace.workspace_id.clone();
        async move {
            sql.strings(
                "SELECT CAST(day AS TEXT) || '/' || CAST(preview AS TEXT) || '/' ||
                        CAST(text_visitor AS TEXT) || '/' || CAST(conversations_inbound AS TEXT)
                        || '/' || CAST(widget_sessions AS TEXT)
                 FROM usage_days WHERE workspace_id = $1 ORDER BY day, preview",
                &[ws.into()],
            )
            .await
        }
    };
    let counted = counts(app).await;
    let production_sessions = app
        .count("SELECT COUNT(*) FROM sessions WHERE workspace_id = $1 AND NOT preview")
        .await;
    let messages = "SELECT COUNT(*) FROM messages m JOIN conversations c
                    ON c.id = m.conversation_id WHERE c.workspace_id = $1";
    assert_eq!(app.count(messages).await, 3);

    // Younger than a day: nothing goes.
    let now = talk_server::db::now_ms();
    assert_eq!(
        preview::clean_up(&db, now).await.unwrap(),
        preview::Cleaned::default()
    );

    // Sessions aged past a day while their conversation is not: only the session no
    // conversation rests on goes.
    app.sql
        .execute(
            "UPDATE sessions SET created_at = created_at - $1 WHERE preview",
            &[(DAY_MS + 1).into()],
        )
        .await;
    let cleaned = preview::clean_up(&db, now).await.unwrap();
    assert_eq!(
        cleaned,
        preview::Cleaned {
            conversations: 0,
            sessions: 1
        }
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sessions WHERE workspace_id = $1 AND preview")
            .await,
        1
    );

    // A day later everything of the preview goes, its messages with it; production and the
    // counters stay.
    let cleaned = preview::clean_up(&db, now + DAY_MS + 60_000).await.unwrap();
    assert_eq!(
        cleaned,
        preview::Cleaned {
            conversations: 1,
            sessions: 1
        }
    );
    let left = "SELECT COUNT(*) FROM conversations WHERE workspace_id = $1";
    assert_eq!(app.count(left).await, 1);
    assert_eq!(app.count(messages).await, 1);
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sessions WHERE workspace_id = $1 AND preview")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM sessions WHERE workspace_id = $1 AND NOT preview")
            .await,
        production_sessions
    );
    assert_eq!(counts(app).await, counted);
    let production_left = app
        .sql
        .i64(
            "SELECT COUNT(*) FROM conversations WHERE id = $1",
            &[(&production_id).into()],
        )
        .await;
    assert_eq!(production_left, 1);
    // Again: nothing left to do.
    assert_eq!(
        preview::clean_up(&db, now + DAY_MS + 60_000).await.unwrap(),
        preview::Cleaned::default()
    );
    server.shutdown().await;
}
