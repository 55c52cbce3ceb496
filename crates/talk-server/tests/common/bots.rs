//! Agent bots in tests: a webhook receiver that plays the bot (a real HTTP server on
//! 127.0.0.1:0, not one of ours), the signature checked here by hand, and a server that can
//! be stopped and started again on the same database.

use super::live::{self, Ws};
use super::TestApp;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::post;
use axum::Router;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;
use talk_protocol::ServerEvent;
use talk_server::{serve, AppState, Settings};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// One request the bot received.
#[derive(Debug, Clone)]
pub struct Hit {
    pub signature: String,
    pub delivery: String,
    pub content_type: String,
    pub body: Vec<u8>,
    pub json: Value,
    /// The status the receiver answered it with.
    pub answered: u16,
}

/// The bot's end of the webhook: records every request and answers with the status set.
pub struct Receiver {
    pub url: String,
    answer: Arc<AtomicU16>,
    hits: mpsc::UnboundedReceiver<Hit>,
    _server: JoinHandle<()>,
}

#[derive(Clone)]
struct Shared {
    answer: Arc<AtomicU16>,
    hits: mpsc::UnboundedSender<Hit>,
}

async fn hook(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let answered = shared.answer.load(Ordering::SeqCst);
    let _ = shared.hits.send(Hit {
        signature: header("talk-signature"),
        delivery: header("talk-delivery"),
        content_type: header("content-type"),
        json: serde_json::from_slice(&body).unwrap_or(Value::Null),
        body: body.to_vec(),
        answered,
    });
    StatusCode::from_u16(answered).unwrap()
}

impl Receiver {
    /// Listening on 127.0.0.1, answering 200 until told otherwise.
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (sender, hits) = mpsc::unbounded_channel();
        let answer = Arc::new(AtomicU16::new(200));
        let shared = Shared {
            answer: Arc::clone(&answer),
            hits: sender,
        };
        let router = Router::new().route("/hook", post(hook)).with_state(shared);
        let server = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Receiver {
            url: format!("http://{addr}/hook"),
            answer,
            hits,
            _server: server,
        }
    }

    /// The status the next requests get.
    pub fn answer_with(&self, status: u16) {
        self.answer.store(status, Ordering::SeqCst);
    }

    /// The next request, within `within`.
    pub async fn next_within(&mut self, within: Duration) -> Hit {
        tokio::time::timeout(within, self.hits.recv())
            .await
            .expect("a webhook request in time")
            .expect("the receiver runs")
    }

    pub async fn next(&mut self) -> Hit {
        self.next_within(Duration::from_secs(10)).await
    }

    /// Whether a request is already waiting (none sent is the point of the caller).
    pub fn try_next(&mut self) -> Option<Hit> {
        self.hits.try_recv().ok()
    }
}

/// Checks a `Talk-Signature` by hand (not with the server's code): `t=<secs>,v1=<hex>`,
/// HMAC-SHA256 keyed by the secret over `"<t>.<body>"`, `t` within 300 s of now.
pub fn signature_is_valid(secret: &str, header: &str, body: &[u8]) -> bool {
    let Some((t, v1)) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
    else {
        return false;
    };
    let Ok(t) = t.parse::<i64>() else {
        return false;
    };
    if (super::now_secs() - t).abs() > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    hex::decode(v1).is_ok_and(|v1| mac.verify_slice(&v1).is_ok())
}

/// A `Talk-Signature` as the server makes it, made here by hand (to forge or replay).
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// `POST /v1/admin/bots` as the admin signed in with `cookie`: the answer, whatever its
/// status.
pub async fn register(app: &TestApp, cookie: &str, body: Value) -> super::Answer {
    app.as_agent(cookie, Method::POST, "/v1/admin/bots", Some(body))
        .await
}

/// A registered bot: its id, signing secret and API key.
pub struct Registered {
    pub id: String,
    pub name: String,
    pub secret: String,
    pub key: String,
}

/// Registers a bot taking `takes` with its webhook at `url`, asserting success.
pub async fn register_bot(
    app: &TestApp,
    cookie: &str,
    name: &str,
    url: &str,
    takes: &str,
) -> Registered {
    let answer = register(
        app,
        cookie,
        json!({"name": name, "webhook_url": url, "takes": takes}),
    )
    .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    let created = answer.json();
    Registered {
        id: created["bot"]["id"].as_str().unwrap().to_string(),
        name: name.to_string(),
        secret: created["signing_secret"].as_str().unwrap().to_string(),
        key: created["api_key"].as_str().unwrap().to_string(),
    }
}

/// A request with a bot's key.
pub async fn as_bot(
    app: &TestApp,
    key: &str,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> super::Answer {
    app.send(method, uri, &[("x-api-key", key)], body).await
}

/// `GET /v1/admin/bots/{id}/deliveries` as the admin: the deliveries, newest first.
pub async fn deliveries(app: &TestApp, cookie: &str, bot_id: &str) -> Vec<Value> {
    let answer = app
        .as_agent(
            cookie,
            Method::GET,
            &format!("/v1/admin/bots/{bot_id}/deliveries"),
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.json()["deliveries"].as_array().unwrap().clone()
}

/// The conversation's bot id as stored ("" for none).
pub async fn bot_of(app: &TestApp, conversation_id: &str) -> String {
    app.sql
        .string(
            "SELECT COALESCE(bot_id, '') FROM conversations WHERE id = $1",
            &[conversation_id.into()],
        )
        .await
}

/// Reads events until one matches (others are skipped), within 10 s.
pub async fn wait_for<T>(ws: &mut Ws, mut matches: impl FnMut(&ServerEvent) -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the awaited event did not come"
        );
        let event = live::next_event(ws).await;
        if let Some(found) = matches(&event) {
            return found;
        }
    }
}

/// Polls `check` until it answers `Some`, for at most `within`.
pub async fn eventually<T, F, Fut>(within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not so within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A server serving an existing database (a second run on the first one's).
pub struct Node {
    pub state: AppState,
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    running: Option<JoinHandle<std::io::Result<()>>>,
}

impl Node {
    pub async fn start(settings: Settings) -> Node {
        let state = AppState::connect(settings).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let running = tokio::spawn(serve(listener, state.clone(), async move {
            let _ = stopped.await;
        }));
        Node {
            state,
            addr,
            stop: Some(stop),
            running: Some(running),
        }
    }

    pub async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(running) = self.running.take() {
            tokio::time::timeout(Duration::from_secs(20), running)
                .await
                .expect("serve() returns after shutdown")
                .unwrap()
                .unwrap();
        }
    }
}
