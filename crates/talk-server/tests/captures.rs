//! Capture widgets (`talk_server::captures`) through the real endpoints: the offer in the
//! widget session's answer (targeting, audiences, dates, frequency caps), the browser's
//! `shown` / `dismissed`, the visitor's reply over the socket and over HTTP, the admin API.
//! Time moves by moving the stored times of a visitor's page views and capture events back,
//! as if that long had passed.

mod common;

use axum::http::{Method, StatusCode};
use common::live::*;
use common::{visitor_id, Answer, TestApp};
use serde_json::{json, Value};
use talk_protocol::{AuthorKind, ServerEvent, MAX_CAPTURE_WIDGETS};

const MSG_1: &str = "0190f5a2-7b1c-7c3e-9a57-3f5d3c2b1a01";
const MSG_2: &str = "0190f5a2-7b1c-7c3e-9a57-3f5d3c2b1a02";
const MSG_3: &str = "0190f5a2-7b1c-7c3e-9a57-3f5d3c2b1a03";
const MINUTE_MS: i64 = 60_000;

/// A capture widget's input: the bot says hello on every page, once per visitor.
fn capture(name: &str) -> Value {
    json!({
        "name": name,
        "message": "Hi {{first_name|there}}, can we help?",
        "sender": {"kind": "bot"},
        "delay_secs": 3,
    })
}

fn with(mut input: Value, changes: Value) -> Value {
    for (key, value) in changes.as_object().unwrap() {
        input[key] = value.clone();
    }
    input
}

impl TestApp {
    /// A request as the workspace's admin, in a session of its own (signing in by password
    /// for each would hash it each time).
    async fn admin(&self, method: Method, uri: &str, body: Option<Value>) -> Answer {
        let admin_id = self
            .sql
            .string(
                "SELECT id FROM agents WHERE workspace_id = $1 AND role = 'admin'",
                &[(&self.workspace.workspace_id).into()],
            )
            .await;
        let session = talk_server::agents::start_session(&self.state.db, &admin_id)
            .await
            .unwrap();
        let cookie = format!("{}={session}", talk_server::http::SESSION_COOKIE);
        self.as_agent(&cookie, method, uri, body).await
    }

    /// Creates a capture widget as the admin; its id.
    async fn create_capture(&self, input: Value) -> String {
        let answer = self
            .admin(Method::POST, "/v1/admin/capture-widgets", Some(input))
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer.json()["id"].as_str().unwrap().to_string()
    }

    async fn capture_widget(&self, id: &str) -> Value {
        let answer = self
            .admin(
                Method::GET,
                &format!("/v1/admin/capture-widgets/{id}"),
                None,
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.json()
    }

    async fn replace_capture(&self, id: &str, input: Value) {
        let answer = self
            .admin(
                Method::PUT,
                &format!("/v1/admin/capture-widgets/{id}"),
                Some(input),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    }

    /// A widget session on `page_url` (and a verified token): the whole answer.
    async fn session_on(
        &self,
        visitor: &str,
        token: Option<&str>,
        page_url: Option<&str>,
    ) -> Value {
        let mut body = json!({"capture_key": self.workspace.capture_key, "visitor_id": visitor});
        if let Some(token) = token {
            body["token"] = json!(token);
        }
        if let Some(page_url) = page_url {
            body["page_url"] = json!(page_url);
        }
        let answer = self
            .send(Method::POST, "/v1/talk/widget/session", &[], Some(body))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.json()
    }

    /// The id of the capture a page view is offered, if any.
    async fn offered(&self, visitor: &str, page_url: &str) -> Option<String> {
        self.offered_to(visitor, None, page_url).await
    }

    async fn offered_to(
        &self,
        visitor: &str,
        token: Option<&str>,
        page_url: &str,
    ) -> Option<String> {
        let answer = self.session_on(visitor, token, Some(page_url)).await;
        answer["capture"]["id"].as_str().map(str::to_string)
    }

    /// A page view that shows the capture it is offered: its session token.
    async fn view_and_show(&self, visitor: &str, page_url: &str, expected: &str) -> String {
        let answer = self.session_on(visitor, None, Some(page_url)).await;
        assert_eq!(answer["capture"]["id"], expected, "{answer}");
        let token = answer["session_token"].as_str().unwrap().to_string();
        let reported = self.report(&token, expected, "shown").await;
        assert_eq!(reported.status, StatusCode::NO_CONTENT, "{}", reported.text);
        token
    }

    async fn report(&self, session_token: &str, capture_id: &str, event: &str) -> Answer {
        let bearer = format!("Bearer {session_token}");
        self.send(
            Method::POST,
            &format!("/v1/talk/captures/{capture_id}/{event}"),
            &[("authorization", &bearer)],
            None,
        )
        .await
    }

    /// As if `ms` had passed for the visitor: its page views and capture events move back.
    async fn time_passes(&self, visitor: &str, ms: i64) {
        for table in ["page_views", "capture_events"] {
            self.sql
                .execute(
                    &format!(
                        "UPDATE {table} SET created_at = created_at - $1
                         WHERE workspace_id = $2 AND visitor_id = $3"
                    ),
                    &[
                        ms.into(),
                        (&self.workspace.workspace_id).into(),
                        visitor.into(),
                    ],
                )
                .await;
        }
    }

    async fn track_page(&self, visitor: &str, url: &str) {
        let answer = self.track(visitor, json!({"url": url})).await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    }

    async fn stats(&self, id: &str) -> Value {
        self.capture_widget(id).await["stats"].clone()
    }
}

#[tokio::test]
async fn a_capture_for_pricing_is_offered_on_pricing_and_not_elsewhere() {
    let app = common::test_app().await;
    let id = app
        .create_capture(with(
            capture("Pricing help"),
            json!({"rules": [{"match": "equals", "value": "/pricing"}], "display": "opened"}),
        ))
        .await;
    let visitor = visitor_id(1);
    let answer = app
        .session_on(
            &visitor,
            None,
            Some("https://site.example/pricing?plan=pro#faq"),
        )
        .await;
    assert_eq!(
        answer["capture"],
        json!({
            "id": id,
            "message": "Hi there, can we help?",
            "sender": {"kind": "bot", "name": "Talk Bot"},
            "delay_secs": 3,
            "display": "opened",
        })
    );
    // The session itself is as before.
    assert!(answer["session_token"].is_string() && answer["socket_url"].is_string());
    assert_eq!(app.offered(&visitor, "https://site.example/").await, None);
    assert_eq!(
        app.offered(&visitor, "https://site.example/pricing/enterprise")
            .await,
        None
    );
    // No page, or not a web page: no capture, and the session still starts.
    for page in [None, Some("not a url"), Some("javascript:alert(1)")] {
        let answer = app.session_on(&visitor, None, page).await;
        assert!(answer.get("capture").is_none(), "{page:?}: {answer}");
        assert!(answer["session_token"].is_string());
    }
    let long = format!("https://site.example/pricing?{}", "q".repeat(3000));
    assert_eq!(app.offered(&visitor, &long).await, None);
}

#[tokio::test]
async fn exclude_rules_take_pages_out() {
    let app = common::test_app().await;
    let id = app
        .create_capture(with(
            capture("Docs"),
            json!({"rules": [
                {"match": "starts_with", "value": "https://Docs.Example.com"},
                {"match": "contains", "value": "/internal/", "exclude": true},
            ]}),
        ))
        .await;
    let visitor = visitor_id(1);
    assert_eq!(
        app.offered(&visitor, "https://docs.example.com/guide")
            .await,
        Some(id.clone())
    );
    assert_eq!(
        app.offered(&visitor, "https://docs.example.com/internal/ops")
            .await,
        None
    );
    assert_eq!(
        app.offered(&visitor, "https://www.example.com/guide").await,
        None
    );
    // Only exclude rules: every other page.
    app.replace_capture(
        &id,
        with(
            capture("Docs"),
            json!({"rules": [{"match": "contains", "value": "/checkout", "exclude": true}]}),
        ),
    )
    .await;
    assert_eq!(
        app.offered(&visitor, "https://shop.example/").await,
        Some(id.clone())
    );
    assert_eq!(
        app.offered(&visitor, "https://shop.example/checkout").await,
        None
    );
}

#[tokio::test]
async fn each_audience_gets_its_own_capture() {
    let app = common::test_app().await;
    let page = "https://site.example/";
    let verified = app
        .create_capture(with(capture("Verified"), json!({"audience": "verified"})))
        .await;
    let known = app
        .create_capture(with(capture("Known"), json!({"audience": "known"})))
        .await;
    let unidentified = app
        .create_capture(with(
            capture("Unidentified"),
            json!({"audience": "unidentified"}),
        ))
        .await;

    let anonymous = visitor_id(1);
    assert_eq!(app.offered(&anonymous, page).await, Some(unidentified));

    // The email form links a person: known, not verified.
    let identified = visitor_id(2);
    let token = app.session_token(&identified, None).await;
    let answer = app
        .identify(
            &token,
            json!({"email": "ann@example.com", "first_name": "Ann"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let offered = app.session_on(&identified, None, Some(page)).await;
    assert_eq!(offered["capture"]["id"], json!(known));
    assert_eq!(offered["capture"]["message"], "Hi Ann, can we help?");

    let minted = app
        .talk_session(json!({"fields": {"str::email": "zoe@example.com", "str::name": "Zoe Real", "str::first": "Zoe"}}))
        .await
        .json();
    let verified_token = minted["token"].as_str().unwrap();
    let offered = app
        .session_on(&visitor_id(3), Some(verified_token), Some(page))
        .await;
    assert_eq!(offered["capture"]["id"], json!(verified));
    assert_eq!(offered["capture"]["message"], "Hi Zoe, can we help?");
}

#[tokio::test]
async fn a_capture_runs_between_its_dates() {
    let app = common::test_app().await;
    let now = talk_server::db::now_ms();
    let page = "https://site.example/";
    let visitor = visitor_id(1);
    let id = app
        .create_capture(with(
            capture("Launch"),
            json!({"starts_at": now + 3_600_000}),
        ))
        .await;
    assert_eq!(app.offered(&visitor, page).await, None);
    app.replace_capture(
        &id,
        with(
            capture("Launch"),
            json!({"starts_at": now - 3_600_000, "ends_at": now - 1}),
        ),
    )
    .await;
    assert_eq!(app.offered(&visitor, page).await, None);
    app.replace_capture(
        &id,
        with(
            capture("Launch"),
            json!({"starts_at": now - 3_600_000, "ends_at": now + 3_600_000}),
        ),
    )
    .await;
    assert_eq!(app.offered(&visitor, page).await, Some(id));
}

#[tokio::test]
async fn once_per_visitor_means_never_again_once_shown() {
    let app = common::test_app().await;
    let page = "https://site.example/";
    let id = app.create_capture(capture("Hello")).await;
    let ann = visitor_id(1);
    // Offered but never shown (the visitor left before its delay): offered again.
    assert_eq!(app.offered(&ann, page).await, Some(id.clone()));
    let token = app.view_and_show(&ann, page, &id).await;
    // Reported twice in one session: one showing.
    let again = app.report(&token, &id, "shown").await;
    assert_eq!(again.status, StatusCode::NO_CONTENT);
    assert_eq!(app.stats(&id).await["shown"], 1);
    assert_eq!(app.offered(&ann, page).await, None);
    app.time_passes(&ann, 30 * 24 * 60 * MINUTE_MS).await;
    assert_eq!(app.offered(&ann, page).await, None);
    assert_eq!(app.offered(&visitor_id(2), page).await, Some(id));
}

#[tokio::test]
async fn once_per_session_comes_back_after_thirty_minutes_away() {
    let app = common::test_app().await;
    let page = "https://site.example/";
    let id = app
        .create_capture(with(
            capture("Per visit"),
            json!({"frequency": "once_per_session"}),
        ))
        .await;
    let ann = visitor_id(1);
    app.track_page(&ann, page).await;
    app.view_and_show(&ann, page, &id).await;
    app.track_page(&ann, "https://site.example/features").await;
    assert_eq!(
        app.offered(&ann, "https://site.example/features").await,
        None
    );
    // 20 minutes on, another page: the same visit (each gap under 30 minutes).
    app.time_passes(&ann, 20 * MINUTE_MS).await;
    app.track_page(&ann, "https://site.example/blog").await;
    app.time_passes(&ann, 20 * MINUTE_MS).await;
    assert_eq!(app.offered(&ann, "https://site.example/blog").await, None);
    // Then 31 minutes without a page view: a new visit.
    app.time_passes(&ann, 31 * MINUTE_MS).await;
    assert_eq!(app.offered(&ann, page).await, Some(id.clone()));
    app.view_and_show(&ann, page, &id).await;
    assert_eq!(app.offered(&ann, page).await, None);
}

#[tokio::test]
async fn every_page_view_waits_out_the_minimum_gap() {
    let app = common::test_app().await;
    let page = "https://site.example/";
    let id = app
        .create_capture(with(
            capture("Nag"),
            json!({"frequency": "every_page_view", "min_gap_secs": 60}),
        ))
        .await;
    let ann = visitor_id(1);
    app.view_and_show(&ann, page, &id).await;
    assert_eq!(app.offered(&ann, page).await, None);
    app.time_passes(&ann, 61_000).await;
    app.view_and_show(&ann, page, &id).await;
    assert_eq!(app.offered(&ann, page).await, None);
    assert_eq!(app.stats(&id).await["shown"], 2);

    let mut without_gap = with(capture("Nag"), json!({"frequency": "every_page_view"}));
    without_gap["min_gap_secs"] = json!(0);
    app.replace_capture(&id, without_gap).await;
    app.view_and_show(&ann, page, &id).await;
    app.view_and_show(&ann, page, &id).await;
}

#[tokio::test]
async fn a_dismissed_capture_never_comes_back() {
    let app = common::test_app().await;
    let page = "https://site.example/";
    let first = app
        .create_capture(with(
            capture("First"),
            json!({"frequency": "every_page_view"}),
        ))
        .await;
    let second = app.create_capture(capture("Second")).await;
    let ann = visitor_id(1);
    let token = app.view_and_show(&ann, page, &first).await;
    for _ in 0..2 {
        let answer = app.report(&token, &first, "dismissed").await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    }
    // The next in order takes its place, and it stays away however long.
    assert_eq!(app.offered(&ann, page).await, Some(second));
    app.time_passes(&ann, 365 * 24 * 60 * MINUTE_MS).await;
    let offered = app.offered(&ann, page).await;
    assert_ne!(offered.as_deref(), Some(first.as_str()));
    assert_eq!(app.stats(&first).await["dismissed"], 1);
}

#[tokio::test]
async fn no_capture_while_the_widget_is_off_or_its_sender_is_gone() {
    let app = common::test_app().await;
    let page = "https://site.example/";
    let ann = visitor_id(1);
    let (agent, _) = talk_server::agents::create(
        &app.state.db,
        &app.workspace.workspace_id,
        talk_server::agents::NewAgent {
            email: "sam@example.com",
            name: "Sam",
            role: talk_protocol::AgentRole::Agent,
            photo_url: Some("https://cdn.example.com/sam.png"),
        },
    )
    .await
    .unwrap()
    .unwrap();
    let id = app
        .create_capture(with(
            capture("From Sam"),
            json!({"sender": {"kind": "agent", "agent_id": agent.id}}),
        ))
        .await;
    let answer = app.session_on(&ann, None, Some(page)).await;
    assert_eq!(
        answer["capture"]["sender"],
        json!({"kind": "agent", "name": "Sam", "photo_url": "https://cdn.example.com/sam.png"})
    );

    let mut settings = app
        .admin(Method::GET, "/v1/admin/widget-settings", None)
        .await
        .json();
    settings["enabled"] = json!(false);
    let saved = app
        .admin(
            Method::PUT,
            "/v1/admin/widget-settings",
            Some(settings.clone()),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    assert_eq!(app.offered(&ann, page).await, None);
    settings["enabled"] = json!(true);
    app.admin(Method::PUT, "/v1/admin/widget-settings", Some(settings))
        .await;
    assert_eq!(app.offered(&ann, page).await, Some(id.clone()));

    let removed = app
        .admin(
            Method::DELETE,
            &format!("/v1/admin/agents/{}", agent.id),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);
    assert_eq!(app.offered(&ann, page).await, None);
}

#[tokio::test]
async fn the_workspace_flag_follows_its_enabled_captures() {
    let app = common::test_app().await;
    let flag = || async {
        app.sql
            .i64(
                "SELECT CAST(CASE WHEN captures_enabled THEN 1 ELSE 0 END AS BIGINT)
                 FROM workspaces WHERE id = $1",
                &[(&app.workspace.workspace_id).into()],
            )
            .await
    };
    assert_eq!(flag().await, 0);
    let id = app
        .create_capture(with(capture("Off"), json!({"enabled": false})))
        .await;
    assert_eq!(flag().await, 0);
    assert_eq!(
        app.offered(&visitor_id(1), "https://site.example/").await,
        None
    );
    app.replace_capture(&id, capture("On")).await;
    assert_eq!(flag().await, 1);
    let deleted = app
        .admin(
            Method::DELETE,
            &format!("/v1/admin/capture-widgets/{id}"),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert_eq!(flag().await, 0);
}

/// The next live message, skipping conversation announcements.
async fn next_message(ws: &mut Ws) -> talk_protocol::Message {
    loop {
        match next_event(ws).await {
            ServerEvent::Message { message } => return message,
            ServerEvent::ConversationUpdated { .. } => continue,
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

fn capture_reply(capture_id: &str, client_msg_id: &str, body: &str) -> Value {
    json!({"type": "capture_reply", "capture_id": capture_id, "client_msg_id": client_msg_id, "body": body})
}

#[tokio::test]
async fn an_unidentified_visitors_reply_starts_a_conversation_the_agents_see() {
    let server = start().await;
    let app = &server.app;
    let admin = admin_agent_id(app).await;
    let id = app
        .create_capture(with(
            capture("Pricing"),
            json!({"sender": {"kind": "agent", "agent_id": admin}}),
        ))
        .await;
    let cookie = app.admin_cookie().await;
    let mut inbox = server.agent_socket(&cookie).await;
    let ann = visitor_id(1);
    let (mut tab, _) = server.open(&ann, None).await;
    let (mut other_tab, _) = server.open(&ann, None).await;

    send(
        &mut tab,
        capture_reply(&id, MSG_1, "  What does Pro cost?  "),
    )
    .await;
    let reply = ack(next_event(&mut tab).await);
    assert_eq!((reply.seq, reply.body.as_str()), (2, "What does Pro cost?"));
    assert_eq!(reply.author.kind, AuthorKind::Visitor);
    assert_eq!(reply.client_msg_id.as_deref(), Some(MSG_1));
    let conversation_id = reply.conversation_id.clone();

    // The agents hear of the conversation, then its two messages in order.
    let started = conversation_updated(next_event(&mut inbox).await);
    assert_eq!(started.id, conversation_id);
    assert_eq!((started.last_seq, started.visitor_read_seq), (2, 1));
    let opening = next_message(&mut inbox).await;
    assert_eq!((opening.seq, opening.author.kind), (1, AuthorKind::Agent));
    assert_eq!(opening.author.name.as_deref(), Some("Admin"));
    assert_eq!(opening.body, "Hi there, can we help?");
    assert_eq!(next_message(&mut inbox).await, reply);
    // So does the visitor's other tab.
    assert_eq!(
        conversation_updated(next_event(&mut other_tab).await).id,
        conversation_id
    );
    assert_eq!(next_message(&mut other_tab).await, opening);
    assert_eq!(next_message(&mut other_tab).await, reply);

    // The conversation reads the capture's message, then the reply; it is the capture's.
    let listed = server
        .agent_call(
            Method::GET,
            &format!("/v1/conversations/{conversation_id}/messages"),
            None,
            StatusCode::OK,
        )
        .await;
    let messages: Vec<talk_protocol::Message> =
        serde_json::from_value(listed["messages"].clone()).unwrap();
    assert_eq!(messages, vec![opening.clone(), reply.clone()]);
    let capture_of = app
        .sql
        .string(
            "SELECT capture_id FROM conversations WHERE id = $1",
            &[(&conversation_id).into()],
        )
        .await;
    assert_eq!(capture_of, id);

    // A resend answers the stored reply and starts nothing.
    send(&mut tab, capture_reply(&id, MSG_1, "What does Pro cost?")).await;
    assert_eq!(ack(next_event(&mut tab).await), reply);
    assert_quiet(&mut inbox).await;
    // Another reply to the same capture is refused: it started its conversation already.
    send(&mut tab, capture_reply(&id, MSG_2, "Hello again")).await;
    assert_eq!(
        error_code(next_event(&mut tab).await),
        ("capture_not_available".to_string(), Some(MSG_2.to_string()))
    );

    // The visitor must identify before its next message, as for any conversation.
    let refused = send_message(&mut tab, Some(&conversation_id), MSG_3, "And Team?").await;
    assert_eq!(
        error_code(refused),
        ("identify_first".to_string(), Some(MSG_3.to_string()))
    );
    server.identify(&ann, "ann@example.com").await;
    let next = ack(send_message(&mut tab, Some(&conversation_id), MSG_3, "And Team?").await);
    assert_eq!(
        (next.conversation_id.as_str(), next.seq),
        (conversation_id.as_str(), 3)
    );

    // Replied: not offered again.
    assert_eq!(app.offered(&ann, "https://site.example/").await, None);
    let stats = app.stats(&id).await;
    assert_eq!(
        (stats["replied"].clone(), stats["conversations"].clone()),
        (json!(1), json!(1))
    );
}

#[tokio::test]
async fn a_reply_over_http_is_acknowledged_like_a_send() {
    let server = start().await;
    let app = &server.app;
    let id = app.create_capture(capture("Hello")).await;
    let ann = visitor_id(1);
    server.identify(&ann, "ann@example.com").await;
    let token = app.session_token(&ann, None).await;
    let (status, answer) = server
        .post_event(&token, capture_reply(&id, MSG_1, "Hi!"))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let events: Vec<ServerEvent> = serde_json::from_value(answer).unwrap();
    let [ServerEvent::Ack {
        client_msg_id,
        message,
    }] = events.as_slice()
    else {
        panic!("expected one ack, got {events:?}");
    };
    assert_eq!((client_msg_id.as_str(), message.seq), (MSG_1, 2));
    assert_eq!(message.author.name.as_deref(), Some("Ann"));
    // The bot's message greets the visitor by the name it typed.
    let (mut ws, conversations) = server.open(&ann, None).await;
    assert_eq!(conversations.len(), 1);
    assert!(conversations[0].person_id.is_some());
    send(
        &mut ws,
        json!({"type": "resume", "conversation_id": message.conversation_id, "after_seq": 0}),
    )
    .await;
    let ServerEvent::History { messages, .. } = next_event(&mut ws).await else {
        panic!("expected history");
    };
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[0].author.kind, AuthorKind::Bot);
    assert_eq!(messages[0].author.name.as_deref(), Some("Talk Bot"));
    assert_eq!(messages[0].body, "Hi Ann, can we help?");
    assert_eq!(&messages[1], message);
    // A resend over HTTP answers the same.
    let (_, again) = server
        .post_event(&token, capture_reply(&id, MSG_1, "Hi!"))
        .await;
    let again: Vec<ServerEvent> = serde_json::from_value(again).unwrap();
    assert_eq!(again, events);
}

#[tokio::test]
async fn replies_are_refused_as_sends_are_and_for_unavailable_captures() {
    let server = start().await;
    let app = &server.app;
    let id = app.create_capture(capture("Hello")).await;
    let off = app
        .create_capture(with(capture("Off"), json!({"enabled": false})))
        .await;
    let other = talk_server::create_workspace(&app.state.db, "Other")
        .await
        .unwrap();
    let other_admin = app.sign_in(&other.admin_email, &other.admin_password).await;
    let foreign = app
        .as_agent(
            &other_admin,
            Method::POST,
            "/v1/admin/capture-widgets",
            Some(capture("Theirs")),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::CREATED, "{}", foreign.text);
    let foreign = foreign.json()["id"].as_str().unwrap().to_string();
    let ann = visitor_id(1);
    let (mut ws, _) = server.open(&ann, None).await;
    for (event, code) in [
        (capture_reply("nope", MSG_1, "Hi"), "capture_not_available"),
        (capture_reply(&off, MSG_1, "Hi"), "capture_not_available"),
        (
            capture_reply(&foreign, MSG_1, "Hi"),
            "capture_not_available",
        ),
        (capture_reply(&id, MSG_1, "   "), "empty_message"),
        (
            capture_reply(
                &id,
                MSG_1,
                &"x".repeat(talk_protocol::MAX_MESSAGE_BYTES + 1),
            ),
            "message_too_long",
        ),
        (
            capture_reply(&id, "not-a-uuid", "Hi"),
            "invalid_client_msg_id",
        ),
    ] {
        send(&mut ws, event.clone()).await;
        let (got, _) = error_code(next_event(&mut ws).await);
        assert_eq!(got, code, "{event}");
    }
    // At the open-conversations limit, as a send is.
    let session_id = app.session_on(&ann, None, None).await["session_id"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..talk_protocol::MAX_OPEN_CONVERSATIONS_PER_VISITOR {
        app.conversation_in_session(&session_id).await;
    }
    send(&mut ws, capture_reply(&id, MSG_1, "Hi")).await;
    assert_eq!(
        error_code(next_event(&mut ws).await).0,
        "too_many_conversations"
    );
    assert_eq!(app.stats(&id).await["replied"], 0);
    // Over HTTP, the refusal is the status with the same code.
    let token = app.session_token(&ann, None).await;
    let (status, answer) = server
        .post_event(&token, capture_reply("nope", MSG_2, "Hi"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["error"]["code"], "capture_not_available");
}

#[tokio::test]
async fn shown_and_dismissed_need_the_session_of_the_captures_workspace() {
    let app = common::test_app().await;
    let id = app.create_capture(capture("Hello")).await;
    let none = app
        .send(
            Method::POST,
            &format!("/v1/talk/captures/{id}/shown"),
            &[],
            None,
        )
        .await;
    assert_eq!(
        (none.status, none.code()),
        (StatusCode::UNAUTHORIZED, "missing_token".into())
    );
    let bad = app
        .send(
            Method::POST,
            &format!("/v1/talk/captures/{id}/dismissed"),
            &[("authorization", "Bearer nonsense")],
            None,
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);

    let other = talk_server::create_workspace(&app.state.db, "Other")
        .await
        .unwrap();
    let body = json!({"capture_key": other.capture_key, "visitor_id": visitor_id(9)});
    let elsewhere = app
        .send(Method::POST, "/v1/talk/widget/session", &[], Some(body))
        .await
        .json();
    let foreign_token = elsewhere["session_token"].as_str().unwrap();
    for event in ["shown", "dismissed"] {
        let answer = app.report(foreign_token, &id, event).await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::NOT_FOUND, "capture_not_available".into())
        );
    }
    let token = app.session_token(&visitor_id(1), None).await;
    let unknown = app
        .report(&token, "0123456789abcdef01234567", "shown")
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let stats = app.stats(&id).await;
    assert_eq!(
        (stats["shown"].clone(), stats["dismissed"].clone()),
        (json!(0), json!(0))
    );
    // CORS as the other browser routes: a page's preflight is answered.
    let preflight = app
        .send(
            Method::OPTIONS,
            &format!("/v1/talk/captures/{id}/shown"),
            &[
                ("origin", "https://site.example"),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", "authorization"),
            ],
            None,
        )
        .await;
    assert!(preflight.status.is_success(), "{}", preflight.status);
    assert_eq!(
        preflight.header("access-control-allow-origin"),
        "https://site.example"
    );
}

#[tokio::test]
async fn the_counts_move_and_list_the_conversations_started() {
    let server = start().await;
    let app = &server.app;
    let page = "https://site.example/";
    let id = app.create_capture(capture("Hello")).await;
    let zero = json!({"shown": 0, "dismissed": 0, "replied": 0, "conversations": 0});
    assert_eq!(app.stats(&id).await, zero);

    let ann = visitor_id(1);
    app.view_and_show(&ann, page, &id).await;
    let bob = visitor_id(2);
    let bob_token = app.view_and_show(&bob, page, &id).await;
    app.report(&bob_token, &id, "dismissed").await;
    let (mut ws, _) = server.open(&ann, None).await;
    send(&mut ws, capture_reply(&id, MSG_1, "Yes please")).await;
    let reply = ack(next_event(&mut ws).await);
    assert_eq!(
        app.stats(&id).await,
        json!({"shown": 2, "dismissed": 1, "replied": 1, "conversations": 1})
    );
    let listed = app
        .admin(
            Method::GET,
            &format!("/v1/admin/capture-widgets/{id}/conversations"),
            None,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let conversations = listed.json()["conversations"].clone();
    assert_eq!(conversations.as_array().unwrap().len(), 1);
    assert_eq!(conversations[0]["id"], json!(reply.conversation_id));
    let list = app
        .admin(Method::GET, "/v1/admin/capture-widgets", None)
        .await
        .json();
    assert_eq!(list["capture_widgets"][0]["stats"]["replied"], 1);
    // Deleting the capture keeps its conversation.
    app.admin(
        Method::DELETE,
        &format!("/v1/admin/capture-widgets/{id}"),
        None,
    )
    .await;
    assert_eq!(server.agent_conversations().await.len(), 1);
}

#[tokio::test]
async fn admins_manage_capture_widgets_with_validation_and_order() {
    let app = common::test_app().await;
    let created = app
        .admin(
            Method::POST,
            "/v1/admin/capture-widgets",
            Some(with(
                capture("  First  "),
                json!({"rules": [{"match": "equals", "value": " /a "}]}),
            )),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let created = created.json();
    assert_eq!(created["name"], "First");
    assert_eq!(created["rules"][0]["value"], "/a");
    assert_eq!(
        (created["position"].clone(), created["enabled"].clone()),
        (json!(1), json!(true))
    );
    assert_eq!(created["audience"], "everyone");
    assert_eq!(created["frequency"], "once_per_visitor");
    let first = created["id"].as_str().unwrap().to_string();
    let second = app.create_capture(capture("Second")).await;
    let third = app.create_capture(capture("Third")).await;

    for (input, field) in [
        (with(capture("x"), json!({"name": ""})), "name"),
        (
            with(capture("x"), json!({"message": "Hi {{password}}"})),
            "message",
        ),
        (
            with(capture("x"), json!({"message": "{{first_name}}"})),
            "message",
        ),
        (
            with(
                capture("x"),
                json!({"sender": {"kind": "agent", "agent_id": "0123456789abcdef01234567"}}),
            ),
            "sender.agent_id",
        ),
        (
            with(
                capture("x"),
                json!({"rules": vec![json!({"match": "contains", "value": "a"}); 21]}),
            ),
            "rules",
        ),
        (
            with(
                capture("x"),
                json!({"rules": [{"match": "contains", "value": ""}]}),
            ),
            "rules[0].value",
        ),
        (
            with(capture("x"), json!({"delay_secs": 3601})),
            "delay_secs",
        ),
        (
            with(capture("x"), json!({"starts_at": 2000, "ends_at": 1000})),
            "ends_at",
        ),
    ] {
        let answer = app
            .admin(
                Method::POST,
                "/v1/admin/capture-widgets",
                Some(input.clone()),
            )
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::BAD_REQUEST, "invalid_capture_widget".into()),
            "{input}"
        );
        let message = answer.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(message.starts_with(field), "{message} names {field}");
    }
    let malformed = app
        .admin(
            Method::POST,
            "/v1/admin/capture-widgets",
            Some(with(capture("x"), json!({"frequency": "hourly"}))),
        )
        .await;
    assert_eq!(malformed.code(), "invalid_json");

    // Order: exactly the workspace's ids.
    for ids in [
        json!([first, second]),
        json!([first, second, third, third]),
        json!([first, second, "0123456789abcdef01234567"]),
    ] {
        let answer = app
            .admin(
                Method::PUT,
                "/v1/admin/capture-widgets/order",
                Some(json!({"ids": ids})),
            )
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::BAD_REQUEST, "invalid_capture_order".into())
        );
    }
    let ordered = app
        .admin(
            Method::PUT,
            "/v1/admin/capture-widgets/order",
            Some(json!({"ids": [third, first, second]})),
        )
        .await;
    assert_eq!(ordered.status, StatusCode::OK, "{}", ordered.text);
    let names = |list: &Value| -> Vec<String> {
        list["capture_widgets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|widget| widget["name"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(names(&ordered.json()), ["Third", "First", "Second"]);
    let listed = app
        .admin(Method::GET, "/v1/admin/capture-widgets", None)
        .await
        .json();
    assert_eq!(names(&listed), ["Third", "First", "Second"]);
    // The first in order that suits the page is offered.
    assert_eq!(
        app.offered(&visitor_id(1), "https://site.example/b").await,
        Some(third.clone())
    );

    // Editing keeps the place; a new one goes last.
    app.replace_capture(
        &first,
        with(capture("First, edited"), json!({"enabled": false})),
    )
    .await;
    let edited = app.capture_widget(&first).await;
    assert_eq!(
        (edited["name"].clone(), edited["enabled"].clone()),
        (json!("First, edited"), json!(false))
    );
    assert_eq!(edited["position"], 2);
    let fourth = app.create_capture(capture("Fourth")).await;
    assert_eq!(app.capture_widget(&fourth).await["position"], 4);

    // Unknown or deleted ids, and another workspace's, are not found.
    let deleted = app
        .admin(
            Method::DELETE,
            &format!("/v1/admin/capture-widgets/{second}"),
            None,
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    for (method, uri, body) in [
        (
            Method::GET,
            format!("/v1/admin/capture-widgets/{second}"),
            None,
        ),
        (
            Method::PUT,
            format!("/v1/admin/capture-widgets/{second}"),
            Some(capture("x")),
        ),
        (
            Method::DELETE,
            format!("/v1/admin/capture-widgets/{second}"),
            None,
        ),
        (
            Method::GET,
            format!("/v1/admin/capture-widgets/{second}/conversations"),
            None,
        ),
    ] {
        let answer = app.admin(method, &uri, body).await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::NOT_FOUND, "capture_widget_not_found".into()),
            "{uri}"
        );
    }

    // At most MAX_CAPTURE_WIDGETS.
    let have = 3;
    for n in have..MAX_CAPTURE_WIDGETS {
        app.create_capture(capture(&format!("More {n}"))).await;
    }
    let over = app
        .admin(
            Method::POST,
            "/v1/admin/capture-widgets",
            Some(capture("One too many")),
        )
        .await;
    assert_eq!(
        (over.status, over.code()),
        (StatusCode::CONFLICT, "too_many_capture_widgets".into())
    );
}

#[tokio::test]
async fn agents_who_are_not_admins_are_refused() {
    let app = common::test_app().await;
    let id = app.create_capture(capture("Hello")).await;
    let (_, password) = talk_server::agents::create(
        &app.state.db,
        &app.workspace.workspace_id,
        talk_server::agents::NewAgent {
            email: "agent@example.com",
            name: "Agent",
            role: talk_protocol::AgentRole::Agent,
            photo_url: None,
        },
    )
    .await
    .unwrap()
    .unwrap();
    let cookie = app.sign_in("agent@example.com", &password).await;
    for (method, uri, body) in [
        (Method::GET, "/v1/admin/capture-widgets".to_string(), None),
        (
            Method::POST,
            "/v1/admin/capture-widgets".to_string(),
            Some(capture("x")),
        ),
        (Method::GET, format!("/v1/admin/capture-widgets/{id}"), None),
        (
            Method::PUT,
            format!("/v1/admin/capture-widgets/{id}"),
            Some(capture("x")),
        ),
        (
            Method::DELETE,
            format!("/v1/admin/capture-widgets/{id}"),
            None,
        ),
        (
            Method::PUT,
            "/v1/admin/capture-widgets/order".to_string(),
            Some(json!({"ids": [id]})),
        ),
        (
            Method::GET,
            format!("/v1/admin/capture-widgets/{id}/conversations"),
            None,
        ),
    ] {
        let answer = app
            .as_agent(&cookie, method.clone(), &uri, body.clone())
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::FORBIDDEN, "admin_only".into()),
            "{uri}"
        );
        let anonymous = app.send(method, &uri, &[], body).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{uri}");
    }
    assert_eq!(app.capture_widget(&id).await["name"], "Hello");
}

/// Two nodes on one PostgreSQL database: a reply on node A reaches the inbox and the
/// visitor's other tab on node B, both messages in order. Skipped on SQLite (one node).
#[tokio::test]
async fn a_reply_on_one_node_reaches_the_other() {
    let a = start().await;
    let url = a.app.state.settings.database_url.clone();
    if !url.starts_with("postgres") {
        eprintln!("skipped: two nodes share a PostgreSQL database (run under scripts/postgres.sh)");
        return;
    }
    let b = start_with(|settings| settings.database_url = url).await;
    let id = a.app.create_capture(capture("Hello")).await;
    let cookie = a.app.admin_cookie().await;
    let mut inbox = b.agent_socket(&cookie).await;
    let ann = visitor_id(1);
    let (mut tab, _) = a.open(&ann, None).await;
    // The other tab: a session of A's workspace, connected to node B.
    let token = a.app.session_token(&ann, None).await;
    let mut other_tab = b.connect().await;
    send(&mut other_tab, json!({"type": "auth", "token": token})).await;
    assert!(matches!(
        next_event(&mut other_tab).await,
        ServerEvent::Ready { .. }
    ));

    send(&mut tab, capture_reply(&id, MSG_1, "Tell me more")).await;
    let reply = ack(next_event(&mut tab).await);
    for ws in [&mut inbox, &mut other_tab] {
        let started = conversation_updated(next_event(ws).await);
        assert_eq!(started.id, reply.conversation_id);
        let opening = next_message(ws).await;
        assert_eq!((opening.seq, opening.author.kind), (1, AuthorKind::Bot));
        assert_eq!(next_message(ws).await, reply);
        assert_quiet(ws).await;
    }
}
