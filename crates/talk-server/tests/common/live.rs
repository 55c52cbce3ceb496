//! A real server on 127.0.0.1:0 with WebSocket and SSE clients. HTTP calls go in-process
//! to the same state (same database, same hub).

use super::{test_app_with, TestApp};
use axum::http::{Method, StatusCode};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use talk_protocol::{Conversation, Message, ServerEvent};
use talk_server::{serve, Settings};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Server {
    pub app: TestApp,
    pub addr: SocketAddr,
    pub stop: Option<oneshot::Sender<()>>,
    running: Option<JoinHandle<std::io::Result<()>>>,
}

/// A served workspace whose bot stays quiet (empty response times), so tests of the transport
/// see only the messages they send; `tests/auto_reply.rs` switches the bot on.
pub async fn start_with(configure: impl FnOnce(&mut Settings)) -> Server {
    let app = test_app_with(configure).await;
    let workspace_id = &app.workspace.workspace_id;
    let mut settings = talk_server::widget_settings::load(&app.state.db, workspace_id)
        .await
        .unwrap()
        .unwrap();
    settings.response_times.online.clear();
    settings.response_times.away.clear();
    talk_server::widget_settings::save(&app.state.db, workspace_id, &settings)
        .await
        .unwrap();
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

pub async fn start() -> Server {
    start_with(|_| {}).await
}

impl Server {
    pub async fn connect(&self) -> Ws {
        let url = format!("ws://{}/v1/talk/socket", self.addr);
        tokio_tungstenite::connect_async(url).await.unwrap().0
    }

    /// A fresh widget session for the visitor, authenticated on a new socket.
    pub async fn open(&self, visitor: &str, token: Option<&str>) -> (Ws, Vec<Conversation>) {
        let session_token = self.app.session_token(visitor, token).await;
        let mut ws = self.connect().await;
        send(&mut ws, json!({"type": "auth", "token": session_token})).await;
        match next_event(&mut ws).await {
            ServerEvent::Ready { conversations, .. } => (ws, conversations),
            other => panic!("expected ready, got {other:?}"),
        }
    }

    pub async fn identify(&self, visitor: &str, email: &str) {
        let token = self.app.session_token(visitor, None).await;
        let answer = self
            .app
            .identify(&token, json!({"email": email, "first_name": "Ann"}))
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    }

    pub async fn agent_reply(&self, conversation_id: &str, body: &str) -> Message {
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

    pub async fn agent_conversations(&self) -> Vec<Conversation> {
        let answer = self.app.agent(Method::GET, "/v1/conversations", None).await;
        serde_json::from_value(answer.json()["conversations"].clone()).unwrap()
    }

    pub async fn shutdown(&mut self) {
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

impl Server {
    /// `GET /v1/agent/socket` with these headers (cookie, origin); the handshake's outcome.
    pub async fn connect_agent(
        &self,
        headers: &[(&str, &str)],
    ) -> Result<Ws, tokio_tungstenite::tungstenite::Error> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = format!("ws://{}/v1/agent/socket", self.addr)
            .into_client_request()
            .unwrap();
        for (name, value) in headers {
            let name: axum::http::HeaderName = name.parse().unwrap();
            request.headers_mut().insert(name, value.parse().unwrap());
        }
        tokio_tungstenite::connect_async(request)
            .await
            .map(|(ws, _)| ws)
    }

    /// An agent's inbox socket, signed in with `cookie`, past its `ready`.
    pub async fn agent_socket(&self, cookie: &str) -> Ws {
        let origin = self.app.state.settings.public_origin();
        let mut ws = self
            .connect_agent(&[("cookie", cookie), ("origin", &origin)])
            .await
            .expect("the agent socket opens");
        match next_event(&mut ws).await {
            ServerEvent::Ready { conversations, .. } => assert!(conversations.is_empty()),
            other => panic!("expected ready, got {other:?}"),
        }
        ws
    }
}

/// Asserts that nothing is queued for the socket: a ping's pong is the next event.
pub async fn assert_quiet(ws: &mut Ws) {
    send(ws, json!({"type": "ping"})).await;
    assert_eq!(next_event(ws).await, ServerEvent::Pong);
}

pub async fn send(ws: &mut Ws, event: Value) {
    ws.send(Frame::text(event.to_string())).await.unwrap();
}

pub async fn send_message(
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
pub async fn next_event(ws: &mut Ws) -> ServerEvent {
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
pub async fn close_code_of(ws: &mut Ws) -> u16 {
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

pub fn ack(event: ServerEvent) -> Message {
    match event {
        ServerEvent::Ack { message, .. } => message,
        other => panic!("expected ack, got {other:?}"),
    }
}

pub fn error_code(event: ServerEvent) -> (String, Option<String>) {
    match event {
        ServerEvent::Error {
            code,
            client_msg_id,
            ..
        } => (code, client_msg_id),
        other => panic!("expected error, got {other:?}"),
    }
}

impl Server {
    /// An agent API call on this server's state; asserts the status, returns the JSON.
    pub async fn agent_call(
        &self,
        method: Method,
        uri: &str,
        body: Option<Value>,
        status: StatusCode,
    ) -> Value {
        let answer = self.app.agent(method, uri, body).await;
        assert_eq!(answer.status, status, "{uri}: {}", answer.text);
        if answer.text.is_empty() {
            Value::Null
        } else {
            answer.json()
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `POST /v1/talk/messages` over a real socket: (status, JSON answer).
    pub async fn post_event(&self, session_token: &str, event: Value) -> (StatusCode, Value) {
        let response = reqwest::Client::new()
            .post(self.url("/v1/talk/messages"))
            .bearer_auth(session_token)
            .header("content-type", "application/json")
            .body(event.to_string())
            .send()
            .await
            .unwrap();
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `GET /v1/talk/messages/stream`; the response, whatever its status.
    pub async fn stream_response(
        &self,
        session_token: &str,
        last_event_id: Option<&str>,
    ) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .get(self.url("/v1/talk/messages/stream"))
            .bearer_auth(session_token);
        if let Some(last_event_id) = last_event_id {
            request = request.header("last-event-id", last_event_id);
        }
        request.send().await.unwrap()
    }

    /// An open SSE stream, asserting success.
    pub async fn stream(&self, session_token: &str, last_event_id: Option<&str>) -> SseReader {
        let response = self.stream_response(session_token, last_event_id).await;
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        SseReader::new(response)
    }
}

/// Reads a `text/event-stream` body block by block.
pub struct SseReader {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<Vec<u8>>> + Send>>,
    buffer: String,
}

/// One SSE block: its `id:`, its `data:` and its comment lines.
#[derive(Debug, Default)]
pub struct SseBlock {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: Option<String>,
    pub comments: Vec<String>,
}

impl SseReader {
    pub fn new(response: reqwest::Response) -> Self {
        SseReader {
            body: Box::pin(
                response
                    .bytes_stream()
                    .map(|chunk| chunk.map(|bytes| bytes.to_vec())),
            ),
            buffer: String::new(),
        }
    }

    pub async fn next_block(&mut self, within: Duration) -> SseBlock {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut parsed = SseBlock::default();
                for line in block.lines() {
                    if let Some(comment) = line.strip_prefix(':') {
                        parsed.comments.push(comment.trim().to_string());
                    } else if let Some(event) = line.strip_prefix("event:") {
                        parsed.event = Some(event.trim().to_string());
                    } else if let Some(id) = line.strip_prefix("id:") {
                        parsed.id = Some(id.trim().to_string());
                    } else if let Some(data) = line.strip_prefix("data:") {
                        parsed.data = Some(data.trim().to_string());
                    }
                }
                return parsed;
            }
            let chunk = tokio::time::timeout(within, self.body.next())
                .await
                .expect("an SSE block in time")
                .expect("the stream is open")
                .unwrap();
            self.buffer.push_str(&String::from_utf8(chunk).unwrap());
        }
    }

    /// Reads until the server's `end` event (skipping everything before it, within
    /// `within`), then checks the stream closes after it.
    pub async fn end_event(&mut self, within: Duration) -> talk_protocol::StreamEnd {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let block = self.next_block(left).await;
            if block.event.as_deref() == Some(talk_protocol::STREAM_END_EVENT) {
                let end =
                    serde_json::from_str(&block.data.expect("an end event has data")).unwrap();
                let rest = tokio::time::timeout(Duration::from_secs(5), self.body.next())
                    .await
                    .expect("the stream closes after its end event");
                assert!(rest.is_none(), "nothing after the end event");
                return end;
            }
        }
    }

    /// The next event and its id; skips keep-alive comments.
    pub async fn next_event(&mut self) -> (String, ServerEvent) {
        loop {
            let block = self.next_block(Duration::from_secs(5)).await;
            if let Some(data) = block.data {
                let id = block.id.expect("every event has an id");
                return (id, serde_json::from_str(&data).unwrap());
            }
        }
    }
}

/// The workspace's admin agent (created with the workspace).
pub async fn admin_agent_id(app: &TestApp) -> String {
    app.sql
        .string(
            "SELECT id FROM agents WHERE workspace_id = $1",
            &[(&app.workspace.workspace_id).into()],
        )
        .await
}

pub fn conversation_updated(event: ServerEvent) -> Conversation {
    match event {
        ServerEvent::ConversationUpdated { conversation } => conversation,
        other => panic!("expected conversation_updated, got {other:?}"),
    }
}
