use crate::Api;
use std::net::SocketAddr;
use std::path::PathBuf;
use talk_protocol::{Conversation, FieldValue, Message, TalkSessionRequest, TalkSessionResponse};
use talk_server::{create_workspace, AppState, Settings};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A real talk-server on a free loopback port with a fresh SQLite file and one workspace.
pub struct TestServer {
    pub url: String,
    pub capture_key: String,
    pub api_key: String,
    admin_email: String,
    admin_password: String,
    pub state: AppState,
    settings: Settings,
    http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

/// The Trunk-built widget; `scripts/test.sh` builds it before the tests run.
pub fn widget_dir() -> PathBuf {
    let dir = std::env::var_os("TALK_WIDGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../dist"));
    assert!(
        dir.join("loader/manifest.json").is_file(),
        "no widget build in {}: run scripts/build-widget.sh (scripts/test.sh does)",
        dir.display()
    );
    dir
}

/// Where the server sends a file of the widget build named by its plain name
/// (`talk-widget.js`, `talk-widget_bg.wasm`, `embed.js`, `frame.js`): `/widget/<hashed name>`,
/// from the loader build's manifest.
pub fn widget_path(plain: &str) -> String {
    let manifest = std::fs::read(widget_dir().join("loader/manifest.json")).expect("manifest");
    let names: serde_json::Value = serde_json::from_slice(&manifest).expect("JSON");
    let name = names[plain]
        .as_str()
        .unwrap_or_else(|| panic!("{plain} is not in the manifest: {names}"));
    format!("/widget/{name}")
}

/// The Trunk-built inbox; `scripts/test.sh` builds it (scripts/build-inbox.sh) before the tests.
pub fn inbox_dir() -> PathBuf {
    std::env::var_os("TALK_INBOX_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../talk-inbox/dist"))
}

/// Binds with SO_REUSEADDR so a restarted server gets its old port back at once.
fn listen(addr: SocketAddr) -> TcpListener {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_reuseaddr(true).expect("SO_REUSEADDR");
    socket.bind(addr).expect("bind");
    socket.listen(1024).expect("listen")
}

/// The throwaway TURN server `scripts/coturn.sh` runs the tests beside (coturn on loopback,
/// `use-auth-secret`), from the variables it exports.
#[derive(Clone, Debug)]
pub struct TestTurn {
    /// `turn:127.0.0.1:PORT?transport=udp` and `…?transport=tcp`.
    pub urls: Vec<String>,
    /// The shared secret credentials are minted with.
    pub secret: String,
}

impl TestTurn {
    /// `None` unless the tests run under `scripts/coturn.sh` (`TALK_TEST_TURN_URLS`,
    /// `TALK_TEST_TURN_SECRET`).
    pub fn from_env() -> Option<TestTurn> {
        let urls = std::env::var("TALK_TEST_TURN_URLS").ok()?;
        let secret = std::env::var("TALK_TEST_TURN_SECRET").ok()?;
        let urls: Vec<String> = urls
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(str::to_string)
            .collect();
        (!urls.is_empty() && !secret.is_empty()).then_some(TestTurn { urls, secret })
    }
}

impl TestServer {
    pub async fn start() -> TestServer {
        TestServer::start_with(|_| {}).await
    }

    /// A server whose calls go through `turn` only (`ice_transport_policy = relay`, so neither
    /// browser offers its own addresses), minting TURN credentials with `secret`: the TURN
    /// server's own ([`TestTurn::secret`]) or another, which it refuses.
    pub async fn start_with_turn(turn: &TestTurn, secret: &str) -> TestServer {
        let (urls, secret) = (turn.urls.clone(), secret.to_string());
        TestServer::start_with(move |settings| {
            settings.turn_urls.0 = urls;
            settings.turn_secret = Some(secret);
            settings.ice_transport_policy = talk_protocol::IceTransportPolicy::Relay;
        })
        .await
    }

    /// Like `start`, with some settings changed (e.g. a short token lifetime).
    pub async fn start_with(adjust: impl FnOnce(&mut Settings)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let listener = listen("127.0.0.1:0".parse().expect("address"));
        let addr = listener.local_addr().expect("address");
        let url = format!("http://{addr}");
        let settings = Settings {
            listen: addr.to_string(),
            database_url: format!("sqlite://{}", dir.path().join("talk.db").display()),
            public_url: url.clone(),
            widget_dir: widget_dir(),
            inbox_dir: inbox_dir(),
            demo_page: true,
            ..Settings::default()
        };
        let mut settings = settings;
        adjust(&mut settings);
        let state = AppState::connect(settings.clone())
            .await
            .expect("open the database");
        let workspace = create_workspace(&state.db, "E2E")
            .await
            .expect("create a workspace");
        let mut server = TestServer {
            url,
            capture_key: workspace.capture_key,
            api_key: workspace.api_key,
            admin_email: workspace.admin_email,
            admin_password: workspace.admin_password,
            state,
            settings,
            http: reqwest::Client::new(),
            stop: None,
            task: None,
            _dir: dir,
        };
        server.run(listener);
        server
    }

    fn run(&mut self, listener: TcpListener) {
        let (stop, stopped) = oneshot::channel::<()>();
        self.task = Some(tokio::spawn(talk_server::serve(
            listener,
            self.state.clone(),
            async move {
                let _ = stopped.await;
            },
        )));
        self.stop = Some(stop);
    }

    /// Stops serving (open sockets are closed with "going away"); the database stays.
    pub async fn shut_down(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server");
        }
    }

    /// A new server process, as after a crash or deploy: same address, same database file.
    pub async fn start_again(&mut self) {
        let addr = self.settings.listen.parse().expect("address");
        self.state = AppState::connect(self.settings.clone())
            .await
            .expect("reopen the database");
        self.run(listen(addr));
    }

    /// The workspace admin's email and password, as printed on creation.
    pub fn admin_login(&self) -> (&str, &str) {
        (&self.admin_email, &self.admin_password)
    }

    /// The inbox's page; panics with how to build it if it is not built.
    pub fn inbox_url(&self) -> String {
        assert!(
            inbox_dir().join("index.html").is_file(),
            "no inbox build in {}: run scripts/build-inbox.sh (scripts/test.sh does)",
            inbox_dir().display()
        );
        format!("{}/inbox/", self.url)
    }

    pub fn demo_url(&self) -> String {
        format!("{}/demo?capture_key={}", self.url, self.capture_key)
    }

    /// The workspace's HTTP API (API key) at this server.
    pub fn api(&self) -> Api {
        Api::at(
            &self.url,
            &self.capture_key,
            &self.api_key,
            self.http.clone(),
        )
    }

    pub async fn conversations(&self) -> Vec<Conversation> {
        self.api().conversations().await
    }

    pub async fn messages(&self, conversation_id: &str) -> Vec<Message> {
        self.api().messages(conversation_id).await
    }

    /// An agent's reply through the agent API.
    pub async fn reply(&self, conversation_id: &str, body: &str) -> Message {
        self.api().reply(conversation_id, body).await
    }

    /// What the site owner's backend does after a login: `POST /v1/talk/session`.
    pub async fn mint_token(&self, email: &str, name: &str) -> TalkSessionResponse {
        let request = TalkSessionRequest {
            merge_by: Some(vec!["str::email".into()]),
            fields: [
                ("str::email".to_string(), FieldValue::Text(email.into())),
                ("str::name".to_string(), FieldValue::Text(name.into())),
            ]
            .into(),
            ..Default::default()
        };
        self.api()
            .call(
                self.http
                    .post(format!("{}/v1/talk/session", self.url))
                    .json(&request),
            )
            .await
    }

    /// A served file, as the browser would fetch it.
    pub async fn fetch(&self, path: &str) -> Vec<u8> {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("GET");
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.bytes().await.expect("body").to_vec()
    }

    /// A signed-in session of the workspace's admin: the `talk_agent=…` cookie.
    pub async fn admin_cookie(&self) -> String {
        let login = self
            .http
            .post(format!("{}/v1/agent/login", self.url))
            .json(&serde_json::json!({"email": self.admin_email, "password": self.admin_password}))
            .send()
            .await
            .expect("login");
        assert!(login.status().is_success(), "login: {}", login.status());
        login
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find(|value| value.starts_with("talk_agent="))
            .and_then(|value| value.split(';').next())
            .expect("session cookie")
            .to_string()
    }

    /// Changes the widget settings as the workspace's admin would in the inbox.
    pub async fn update_widget_settings(&self, change: impl FnOnce(&mut serde_json::Value)) {
        let cookie = self.admin_cookie().await;
        let settings_url = format!("{}/v1/admin/widget-settings", self.url);
        let mut settings: serde_json::Value = self
            .http
            .get(&settings_url)
            .header("cookie", &cookie)
            .send()
            .await
            .expect("read settings")
            .json()
            .await
            .expect("settings JSON");
        change(&mut settings);
        let saved = self
            .http
            .put(&settings_url)
            .header("cookie", &cookie)
            .json(&settings)
            .send()
            .await
            .expect("save settings");
        let status = saved.status();
        assert!(
            status.is_success(),
            "save settings: {status} {}",
            saved.text().await.unwrap_or_default()
        );
    }

    /// Voice calls on for the workspace and its admin online, so a visitor may call (the
    /// widget shows its call button only then, from the settings it loads with the page).
    pub async fn enable_voice(&self) {
        self.update_widget_settings(|settings| settings["voice"] = true.into())
            .await;
        self.set_admin_presence(talk_protocol::Presence::Online)
            .await;
    }

    /// The workspace admin's presence, as the inbox's toggle sets it.
    pub async fn set_admin_presence(&self, presence: talk_protocol::Presence) {
        let response = self
            .http
            .put(format!("{}/v1/agent/presence", self.url))
            .header("cookie", self.admin_cookie().await)
            .json(&serde_json::json!({ "presence": presence }))
            .send()
            .await
            .expect("presence");
        assert!(
            response.status().is_success(),
            "presence: {}",
            response.status()
        );
    }

    /// The conversation's calls as stored, oldest first.
    pub async fn calls(&self, conversation_id: &str) -> Vec<talk_protocol::Call> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM calls WHERE conversation_id = ? ORDER BY created_at, rowid",
        )
        .bind(conversation_id)
        .fetch_all(&self.sql().await)
        .await
        .expect("read calls");
        let mut calls = Vec::new();
        for id in ids {
            let record = self
                .state
                .db
                .call_by_id(&id)
                .await
                .expect("read a call")
                .expect("the call just listed");
            calls.push(record.call);
        }
        calls
    }

    /// What agents see of the conversation's contact: person, verified, browsing history.
    pub async fn contact(&self, conversation_id: &str) -> talk_protocol::Contact {
        self.api()
            .call(self.http.get(format!(
                "{}/v1/conversations/{conversation_id}/contact",
                self.url
            )))
            .await
    }

    /// The URLs of the contact's page views, newest first.
    pub async fn page_urls(&self, conversation_id: &str) -> Vec<String> {
        self.contact(conversation_id)
            .await
            .page_views
            .into_iter()
            .map(|view| view.url)
            .collect()
    }

    /// An agent typing, through the agent API.
    pub async fn agent_typing(&self, conversation_id: &str) {
        let response = self
            .http
            .post(format!(
                "{}/v1/conversations/{conversation_id}/typing",
                self.url
            ))
            .header("X-Api-Key", &self.api_key)
            .json(&serde_json::json!({"typing": true, "agent_name": "Grace"}))
            .send()
            .await
            .expect("typing");
        assert!(
            response.status().is_success(),
            "typing: {}",
            response.status()
        );
    }

    /// The agents have read the conversation up to `seq`.
    pub async fn agent_read(&self, conversation_id: &str, seq: i64) -> Conversation {
        self.api()
            .call(
                self.http
                    .post(format!(
                        "{}/v1/conversations/{conversation_id}/read",
                        self.url
                    ))
                    .json(&serde_json::json!({"up_to_seq": seq})),
            )
            .await
    }

    /// A visitor's conversation started without a browser, as a widget on the HTTP
    /// transport would: a session, the email, the first message. Answers its id.
    pub async fn start_conversation(&self, visitor_id: &str, email: &str, body: &str) -> String {
        let visitor = self.api().visitor(visitor_id).await;
        visitor.identify(email).await;
        visitor
            .send(None, "5e0f6c1e-2f43-4a8e-9d1c-7b2a41c0a001", body)
            .await
            .conversation_id
    }

    /// Listens as another session of `visitor_id` on the HTTP + SSE transport: it hears what
    /// the hub fans out to everyone in the visitor's conversations but the sender.
    pub async fn listen_as_visitor(&self, visitor_id: &str) -> EventListener {
        self.api().visitor(visitor_id).await.listen().await
    }

    /// The server's SQLite file, opened beside it for what tests read or change directly (the
    /// server itself reaches it only through its store).
    pub async fn sql(&self) -> sqlx::SqlitePool {
        sqlx::SqlitePool::connect(&self.settings.database_url)
            .await
            .expect("open the database")
    }

    /// How many browser sessions the widget has opened so far.
    pub async fn widget_sessions(&self) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM sessions WHERE kind = 'widget'")
            .fetch_one(&self.sql().await)
            .await
            .expect("count sessions")
    }

    /// The workspace's token-signing secrets, straight from the database.
    pub async fn signing_secrets(&self) -> Vec<String> {
        sqlx::query_scalar("SELECT secret FROM signing_keys")
            .fetch_all(&self.sql().await)
            .await
            .expect("read signing keys")
    }

    pub async fn stop(mut self) {
        self.shut_down().await;
    }
}

/// An SSE stream of server events.
pub struct EventListener {
    response: reqwest::Response,
    buffer: String,
}

impl EventListener {
    pub(crate) fn new(response: reqwest::Response) -> EventListener {
        EventListener {
            response,
            buffer: String::new(),
        }
    }

    /// The next event of the given `type` within `timeout`, skipping others.
    pub async fn next_of_type(
        &mut self,
        kind: &str,
        timeout: std::time::Duration,
    ) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                for line in block.lines() {
                    if let Some(data) = line.strip_prefix("data:") {
                        let event: serde_json::Value =
                            serde_json::from_str(data.trim()).expect("event JSON");
                        if event["type"] == kind {
                            return event;
                        }
                    }
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .unwrap_or_else(|_| panic!("no {kind} event within {timeout:?}"))
                .expect("stream")
                .expect("stream ended");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}
