//! The headless API channel (seed 003, issue 18) over real sockets: `POST /v1/talk/session`
//! with `"browser": true` hands the site's backend a browser session (a short-lived token,
//! token-free URLs, ICE servers with TURN credentials) that works on `POST /v1/talk/messages`,
//! the SSE stream and the socket, under the workspace's allowed origins like the widget's.

mod common;

use axum::http::StatusCode;
use common::live::*;
use common::visitor_id;
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::time::Duration;
use talk_protocol::{close_code, close_reason, AuthorKind, BrowserSession, ServerEvent};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as Frame;

const MSG_1: &str = "5d0c8f1e-2b6a-4c3d-9e8f-7a6b5c4d3e01";
const MSG_2: &str = "5d0c8f1e-2b6a-4c3d-9e8f-7a6b5c4d3e02";
const MSG_3: &str = "5d0c8f1e-2b6a-4c3d-9e8f-7a6b5c4d3e03";
const TURN_URL: &str = "turn:turn.example.com:3478?transport=udp";
const SHOP: &str = "https://shop.example.com";
const EVIL: &str = "https://evil.example";

fn mint_body(email: &str, browser: bool) -> Value {
    json!({
        "fields": {"str::email": email, "str::name": "Ada Lovelace"},
        "browser": browser,
    })
}

/// A server that hands out TURN credentials (as `tests/ice.rs` configures it).
async fn start_with_turn() -> Server {
    start_with(|settings| {
        settings.turn_urls.0 = vec![TURN_URL.to_string()];
        settings.turn_secret = Some("api-channel-secret".into());
    })
    .await
}

impl Server {
    /// `POST /v1/talk/session` with `"browser": true`; the whole answer and its browser half.
    async fn mint(&self, email: &str) -> (Value, BrowserSession) {
        let answer = self.app.talk_session(mint_body(email, true)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        let json = answer.json();
        let browser = serde_json::from_value(json["browser"].clone()).unwrap();
        (json, browser)
    }

    /// `POST /v1/talk/messages` with the token and these extra headers: (status, JSON).
    async fn post_from(
        &self,
        session_token: &str,
        headers: &[(&str, &str)],
        event: Value,
    ) -> (StatusCode, Value) {
        let mut request = reqwest::Client::new()
            .post(format!("http://{}/v1/talk/messages", self.addr))
            .bearer_auth(session_token)
            .header("content-type", "application/json")
            .body(event.to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `GET /v1/talk/messages/stream` with the token and these extra headers.
    async fn stream_from(
        &self,
        session_token: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .get(format!("http://{}/v1/talk/messages/stream", self.addr))
            .bearer_auth(session_token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    /// A socket opened with these headers (an `Origin`), after sending `auth` with the token.
    async fn socket_from(&self, session_token: &str, headers: &[(&str, &str)]) -> Ws {
        let mut request = format!("ws://{}/v1/talk/socket", self.addr)
            .into_client_request()
            .unwrap();
        for (name, value) in headers {
            let name: axum::http::HeaderName = name.parse().unwrap();
            request.headers_mut().insert(name, value.parse().unwrap());
        }
        let mut ws = tokio_tungstenite::connect_async(request).await.unwrap().0;
        send(&mut ws, json!({"type": "auth", "token": session_token})).await;
        ws
    }
}

fn send_event(client_msg_id: &str, body: &str) -> Value {
    json!({"type": "send", "client_msg_id": client_msg_id, "body": body})
}

fn single_ack(answer: Value) -> talk_protocol::Message {
    let events: Vec<ServerEvent> = serde_json::from_value(answer).unwrap();
    match &events[..] {
        [ServerEvent::Ack { message, .. }] => message.clone(),
        other => panic!("expected one ack, got {other:?}"),
    }
}

fn ready_conversations(event: ServerEvent) -> Vec<String> {
    match event {
        ServerEvent::Ready { conversations, .. } => {
            conversations.into_iter().map(|c| c.id).collect()
        }
        other => panic!("expected ready, got {other:?}"),
    }
}

/// The server's close frame: (code, reason).
async fn close_frame(ws: &mut Ws) -> (u16, String) {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a close within 5 s");
        match frame {
            Some(Ok(Frame::Close(Some(frame)))) => {
                return (u16::from(frame.code), frame.reason.to_string())
            }
            Some(Ok(Frame::Ping(_) | Frame::Pong(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn browser_true_answers_a_browser_session_with_token_free_urls_and_turn_credentials() {
    let mut server = start_with_turn().await;
    let before_ms = common::now_secs() * 1000;
    let (answer, browser) = server.mint("ada@example.com").await;
    let settings = &server.app.state.settings;

    assert_eq!(browser.session_id, answer["session_id"].as_str().unwrap());
    assert_eq!(
        browser.messages_url,
        format!("{}/v1/talk/messages", settings.public_url)
    );
    assert_eq!(
        browser.signalling_url,
        format!("{}/v1/talk/socket", settings.public_ws_url())
    );
    for url in [&browser.messages_url, &browser.signalling_url] {
        assert!(
            !url.contains('?') && !url.contains(&browser.session_token),
            "{url}"
        );
    }
    let ttl_ms = i64::try_from(settings.socket_token_ttl_secs).unwrap() * 1000;
    assert!(
        (before_ms + ttl_ms..=before_ms + ttl_ms + 2000)
            .contains(&browser.session_token_expires_at),
        "expires at {} (minted at {before_ms})",
        browser.session_token_expires_at
    );
    assert_ne!(browser.session_token, answer["token"].as_str().unwrap());
    assert_eq!(browser.ice_transport_policy, settings.ice_transport_policy);
    let turn = browser
        .ice_servers
        .iter()
        .find(|server| server.urls == [TURN_URL])
        .expect("the TURN server");
    // coturn's REST credentials: `<expiry>:<session id>`, with the HMAC as the password.
    let username = turn.username.as_deref().unwrap();
    assert!(
        username.ends_with(&format!(":{}", browser.session_id)),
        "{username}"
    );
    assert!(!turn.credential.as_deref().unwrap().is_empty());

    // The session row is the API channel's, verified, as the person's stable visitor.
    let person_id = answer["person_id"].as_str().unwrap();
    let visitor = &talk_server::db::sha256_hex(&format!("api:{person_id}"))[..32];
    let rows = server
        .app
        .sql
        .i64(
            "SELECT COUNT(*) FROM sessions
             WHERE id = $1 AND kind = 'api' AND verified AND visitor_id = $2 AND person_id = $3",
            &[
                (&browser.session_id).into(),
                visitor.into(),
                person_id.into(),
            ],
        )
        .await;
    assert_eq!(rows, 1);
    server.shutdown().await;
}

#[tokio::test]
async fn without_browser_the_answer_is_as_before() {
    let mut server = start().await;
    let answer = server
        .app
        .talk_session(mint_body("ada@example.com", false))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let json = answer.json();
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["person_id", "person_status", "session_id", "token"]);
    let visitor = server
        .app
        .sql
        .i64(
            "SELECT COUNT(*) FROM sessions WHERE id = $1 AND visitor_id IS NULL AND kind = 'api'",
            &[json["session_id"].as_str().unwrap().into()],
        )
        .await;
    assert_eq!(visitor, 1);
    server.shutdown().await;
}

#[tokio::test]
async fn the_token_works_over_http_sse_and_the_socket() {
    let mut server = start().await;
    let (minted, browser) = server.mint("ada@example.com").await;
    let token = &browser.session_token;

    let mut stream = server.stream(token, None).await;
    let (_, ready) = stream.next_event().await;
    assert!(ready_conversations(ready).is_empty());

    let (status, answer) = server
        .post_event(token, send_event(MSG_1, "Hello from my own UI"))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let sent = single_ack(answer);
    assert_eq!(sent.author.kind, AuthorKind::Visitor);
    assert_eq!(
        conversation_updated(stream.next_event().await.1).id,
        sent.conversation_id
    );
    assert_eq!(
        stream.next_event().await.1,
        ServerEvent::Message {
            message: sent.clone()
        }
    );

    // The agents see who wrote: the verified person.
    let listed = server.agent_conversations().await;
    assert_eq!(listed.len(), 1);
    assert!(listed[0].verified);
    assert_eq!(listed[0].person_id.as_deref(), minted["person_id"].as_str());

    // An agent's answer reaches the stream and the socket.
    let mut ws = server.socket_from(token, &[]).await;
    assert_eq!(
        ready_conversations(next_event(&mut ws).await),
        [sent.conversation_id.as_str()]
    );
    let reply = server
        .agent_reply(&sent.conversation_id, "Hi Ada, how can I help?")
        .await;
    let on_stream = stream.next_event().await.1;
    assert_eq!(
        on_stream,
        ServerEvent::Message {
            message: reply.clone()
        }
    );
    assert_eq!(
        next_event(&mut ws).await,
        ServerEvent::Message { message: reply }
    );

    // The socket sends too, into the same conversation.
    let answer_event = send_message(&mut ws, Some(&sent.conversation_id), MSG_2, "Thanks").await;
    assert_eq!(ack(answer_event).seq, 3);
    server.shutdown().await;
}

#[tokio::test]
async fn a_second_mint_for_the_person_sees_the_first_sessions_conversation() {
    let mut server = start().await;
    let (first_answer, first) = server.mint("ada@example.com").await;
    let (status, answer) = server
        .post_event(&first.session_token, send_event(MSG_1, "First visit"))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let conversation_id = single_ack(answer).conversation_id;

    let reply = server.agent_reply(&conversation_id, "Welcome back").await;

    let (second_answer, second) = server.mint("ada@example.com").await;
    assert_eq!(second_answer["person_id"], first_answer["person_id"]);
    assert_eq!(second_answer["person_status"], "by-merge-field");
    assert_ne!(second.session_id, first.session_id);
    // `Last-Event-ID: v1` (docs/api.md's client starts so) replays the conversation from its
    // first message.
    let mut stream = server.stream(&second.session_token, Some("v1")).await;
    assert_eq!(
        ready_conversations(stream.next_event().await.1),
        [conversation_id.as_str()]
    );
    let replayed: Vec<String> = [stream.next_event().await.1, stream.next_event().await.1]
        .into_iter()
        .map(|event| match event {
            ServerEvent::Message { message } => message.body,
            other => panic!("expected a message, got {other:?}"),
        })
        .collect();
    assert_eq!(replayed, ["First visit", reply.body.as_str()]);
    let mut ws = server.socket_from(&second.session_token, &[]).await;
    assert_eq!(
        ready_conversations(next_event(&mut ws).await),
        [conversation_id.as_str()]
    );

    // Someone else's session sees none of it.
    let (_, other) = server.mint("grace@example.com").await;
    let mut other_ws = server.socket_from(&other.session_token, &[]).await;
    assert!(ready_conversations(next_event(&mut other_ws).await).is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn allowed_origins_apply_to_the_api_channel_as_to_the_widget() {
    let mut server = start().await;
    talk_server::workspaces::set_allowed_origins(
        &server.app.state.db,
        &server.app.workspace.workspace_id,
        &[SHOP.to_string()],
    )
    .await
    .unwrap();
    let (_, browser) = server.mint("ada@example.com").await;
    let token = browser.session_token.as_str();
    let own_origin = server.app.state.settings.public_origin();

    // POST /v1/talk/messages: a foreign origin is refused; the allowed one, our own and
    // none (a server) pass. The refusal carries CORS headers, so the page can read it.
    let refused = reqwest::Client::new()
        .post(format!("http://{}/v1/talk/messages", server.addr))
        .bearer_auth(token)
        .header("origin", EVIL)
        .header("content-type", "application/json")
        .body(send_event(MSG_1, "Hi").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    assert_eq!(refused.headers()["access-control-allow-origin"], EVIL);
    let body: Value = serde_json::from_str(&refused.text().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "origin_not_allowed");
    let mut conversation_id = None;
    for (headers, client_msg_id) in [
        (vec![("origin", SHOP)], MSG_1),
        (vec![("origin", own_origin.as_str())], MSG_2),
        (vec![], MSG_3),
    ] {
        let mut event = send_event(client_msg_id, "Hi");
        if let Some(id) = &conversation_id {
            event["conversation_id"] = json!(id);
        }
        let (status, answer) = server.post_from(token, &headers, event).await;
        assert_eq!(status, StatusCode::OK, "{headers:?}: {answer}");
        conversation_id = Some(single_ack(answer).conversation_id);
    }

    // The SSE stream.
    let refused = server.stream_from(token, &[("origin", EVIL)]).await;
    assert_eq!(refused.status().as_u16(), 403);
    let body: Value = serde_json::from_str(&refused.text().await.unwrap()).unwrap();
    assert_eq!(body["error"]["code"], "origin_not_allowed");
    for headers in [vec![("origin", SHOP)], vec![]] {
        let response = server.stream_from(token, &headers).await;
        assert_eq!(response.status().as_u16(), 200, "{headers:?}");
        let mut stream = SseReader::new(response);
        assert_eq!(ready_conversations(stream.next_event().await.1).len(), 1);
    }

    // The socket: refused at `auth`, with the auth-failed code and the reason.
    let mut ws = server.socket_from(token, &[("origin", EVIL)]).await;
    assert_eq!(
        close_frame(&mut ws).await,
        (
            close_code::AUTH_FAILED,
            close_reason::ORIGIN_NOT_ALLOWED.to_string()
        )
    );
    for headers in [
        vec![("origin", SHOP)],
        vec![("origin", own_origin.as_str())],
        vec![],
    ] {
        let mut ws = server.socket_from(token, &headers).await;
        assert_eq!(
            ready_conversations(next_event(&mut ws).await).len(),
            1,
            "{headers:?}"
        );
    }

    // The other routes a session token reaches: identify.
    let identify = server
        .app
        .send(
            axum::http::Method::POST,
            "/v1/talk/identify",
            &[
                ("authorization", &format!("Bearer {token}")),
                ("origin", EVIL),
            ],
            Some(json!({"email": "ada@example.com"})),
        )
        .await;
    assert_eq!(
        (identify.status, identify.code().as_str()),
        (StatusCode::FORBIDDEN, "origin_not_allowed")
    );

    // A widget's token is held to the same rule on the same endpoints.
    let widget = server
        .app
        .send(
            axum::http::Method::POST,
            "/v1/talk/widget/session",
            &[("origin", SHOP)],
            Some(json!({"capture_key": server.app.workspace.capture_key, "visitor_id": visitor_id(1)})),
        )
        .await;
    assert_eq!(widget.status, StatusCode::OK, "{}", widget.text);
    let widget_token = widget.json()["session_token"].as_str().unwrap().to_string();
    let (status, answer) = server
        .post_from(&widget_token, &[("origin", EVIL)], json!({"type": "ping"}))
        .await;
    assert_eq!(
        (status, &answer["error"]["code"]),
        (StatusCode::FORBIDDEN, &json!("origin_not_allowed"))
    );
    let (status, _) = server
        .post_from(&widget_token, &[("origin", SHOP)], json!({"type": "ping"}))
        .await;
    assert_eq!(status, StatusCode::OK);
    server.shutdown().await;
}

#[tokio::test]
async fn a_page_on_another_origin_may_preflight_the_browser_endpoints() {
    let mut server = start().await;
    for (path, method, headers) in [
        ("/v1/talk/messages", "POST", "authorization,content-type"),
        (
            "/v1/talk/messages/stream",
            "GET",
            "authorization,last-event-id",
        ),
    ] {
        let response = reqwest::Client::new()
            .request(
                reqwest::Method::OPTIONS,
                format!("http://{}{path}", server.addr),
            )
            .header("origin", SHOP)
            .header("access-control-request-method", method)
            .header("access-control-request-headers", headers)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        let allowed = |name: &str| {
            response.headers()[name]
                .to_str()
                .unwrap()
                .to_ascii_lowercase()
        };
        assert_eq!(allowed("access-control-allow-origin"), SHOP);
        for header in headers.split(',') {
            assert!(
                allowed("access-control-allow-headers").contains(header),
                "{path}: {header}"
            );
        }
    }
    server.shutdown().await;
}

/// The fenced block right after docs/api.md's line `<!-- docs-test: {marker}`.
fn documented_block(marker: &str) -> String {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api.md")).unwrap();
    let tag = format!("<!-- docs-test: {marker}");
    let block: Vec<&str> = doc
        .lines()
        .skip_while(|line| !line.starts_with(&tag))
        .skip(2)
        .take_while(|line| !line.starts_with("```"))
        .collect();
    assert!(!block.is_empty(), "no block marked {marker}");
    block.join("\n")
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

#[tokio::test]
async fn the_documented_mint_works_and_answers_the_documented_shape() {
    let mut server = start_with_turn().await;
    let curl = documented_block("api-channel-request");
    let body: String = curl
        .lines()
        .skip_while(|line| !line.ends_with("<<'JSON'"))
        .skip(1)
        .take_while(|line| *line != "JSON")
        .collect();
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["browser"], true);
    let documented: Value =
        serde_json::from_str(&documented_block("api-channel-response")).unwrap();

    let answer = server.app.talk_session(body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let answer = answer.json();
    assert_eq!(keys(&answer), keys(&documented));
    assert_eq!(keys(&answer["browser"]), keys(&documented["browser"]));
    let turn = &answer["browser"]["ice_servers"][0];
    assert_eq!(keys(turn), keys(&documented["browser"]["ice_servers"][1]));
    server.shutdown().await;
}
