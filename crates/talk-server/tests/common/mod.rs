//! Shared test helpers: a real database (a SQLite file in a temp dir, or a fresh PostgreSQL
//! database when `TALK_TEST_DATABASE_URL` names a server), in-process HTTP calls and a real
//! server for sockets.
#![allow(dead_code)]

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::net::SocketAddr;
use talk_server::{app, create_workspace, AppState, NewWorkspace, Settings};
use tempfile::TempDir;
use tower::ServiceExt;

pub mod bots;
pub mod live;
pub mod sql;
pub mod store;

#[allow(unused_imports)]
pub use sql::{Bind, Sql};

pub struct TestApp {
    pub state: AppState,
    pub router: Router,
    pub workspace: NewWorkspace,
    /// Direct SQL on the same database, for what the API doesn't show.
    pub sql: Sql,
    _dir: TempDir,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    /// The body as sent (`text` is lossy for binary files).
    pub bytes: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.text))
    }

    /// The stable error code of an error answer.
    pub fn code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .map(|value| value.to_str().unwrap())
            .unwrap_or_default()
    }
}

pub async fn test_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings {
        database_url: sql::test_database_url(dir.path()).await,
        widget_dir: dir.path().join("dist"),
        ..Settings::default()
    };
    configure(&mut settings);
    let state = AppState::connect(settings).await.unwrap();
    let workspace = create_workspace(&state.db, "Test").await.unwrap();
    let sql = Sql::connect(&state.settings.database_url).await;
    TestApp {
        sql,
        router: app(state.clone()),
        state,
        workspace,
        _dir: dir,
    }
}

pub async fn test_app() -> TestApp {
    test_app_with(|_| {}).await
}

pub fn visitor_id(n: u8) -> String {
    format!(
        "{:032x}",
        0xabc0_0000_0000_0000_0000_0000_0000_0000u128 + u128::from(n)
    )
}

impl TestApp {
    /// Sends a request in-process as if from 127.0.0.1 (as `serve` records the peer).
    pub async fn request(&self, mut request: Request<Body>) -> Answer {
        if request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .is_none()
        {
            request
                .extensions_mut()
                .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        }
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
            bytes: bytes.to_vec(),
        }
    }

    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Answer {
        let mut builder = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let body = match body {
            Some(body) => {
                builder = builder.header("content-type", "application/json");
                Body::from(body.to_string())
            }
            None => Body::empty(),
        };
        self.request(builder.body(body).unwrap()).await
    }

    pub async fn get(&self, uri: &str) -> Answer {
        self.send(Method::GET, uri, &[], None).await
    }

    /// `POST /v1/talk/session` with this workspace's API key.
    pub async fn talk_session(&self, body: Value) -> Answer {
        let api_key = self.workspace.api_key.clone();
        self.send(
            Method::POST,
            "/v1/talk/session",
            &[("x-api-key", &api_key)],
            Some(body),
        )
        .await
    }

    pub async fn widget_session(&self, visitor_id: &str, token: Option<&str>) -> Answer {
        let mut body = json!({"capture_key": self.workspace.capture_key, "visitor_id": visitor_id});
        if let Some(token) = token {
            body["token"] = json!(token);
        }
        self.send(Method::POST, "/v1/talk/widget/session", &[], Some(body))
            .await
    }

    /// A widget session's token, asserting success.
    pub async fn session_token(&self, visitor_id: &str, token: Option<&str>) -> String {
        let answer = self.widget_session(visitor_id, token).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.json()["session_token"].as_str().unwrap().to_string()
    }

    pub async fn identify(&self, session_token: &str, body: Value) -> Answer {
        let bearer = format!("Bearer {session_token}");
        self.send(
            Method::POST,
            "/v1/talk/identify",
            &[("authorization", &bearer)],
            Some(body),
        )
        .await
    }

    pub async fn agent(&self, method: Method, uri: &str, body: Option<Value>) -> Answer {
        let api_key = self.workspace.api_key.clone();
        self.send(method, uri, &[("x-api-key", &api_key)], body)
            .await
    }

    /// `POST /v1/agent/login`.
    pub async fn login(&self, email: &str, password: &str) -> Answer {
        self.send(
            Method::POST,
            "/v1/agent/login",
            &[],
            Some(json!({"email": email, "password": password})),
        )
        .await
    }

    /// Signs in and answers the `Cookie` header value that carries the session.
    pub async fn sign_in(&self, email: &str, password: &str) -> String {
        let answer = self.login(email, password).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        session_cookie(&answer).expect("login sets the session cookie")
    }

    /// The workspace's first admin, signed in.
    pub async fn admin_cookie(&self) -> String {
        let (email, password) = (
            self.workspace.admin_email.clone(),
            self.workspace.admin_password.clone(),
        );
        self.sign_in(&email, &password).await
    }

    /// A request carrying an agent's session cookie.
    pub async fn as_agent(
        &self,
        cookie: &str,
        method: Method,
        uri: &str,
        body: Option<Value>,
    ) -> Answer {
        self.send(method, uri, &[("cookie", cookie)], body).await
    }

    /// `GET /v1/people/{id}` (agent API), asserting success.
    pub async fn person_profile(&self, person_id: &str) -> Value {
        let answer = self
            .agent(Method::GET, &format!("/v1/people/{person_id}"), None)
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.json()
    }

    pub async fn people_count(&self) -> i64 {
        self.sql
            .i64(
                "SELECT COUNT(*) FROM people WHERE workspace_id = $1",
                &[(&self.workspace.workspace_id).into()],
            )
            .await
    }

    /// A conversation started in a widget session, written straight into the database as
    /// the socket would (verified iff the session is; the session's person, else the
    /// visitor's). The socket tests cover the real path.
    pub async fn conversation_in_session(&self, session_id: &str) -> String {
        let conversation_id = talk_server::db::new_id();
        let now = talk_server::db::now_ms();
        let inserted = self
            .sql
            .execute(
                "INSERT INTO conversations
                   (id, workspace_id, visitor_id, person_id, session_id, verified, created_at,
                    updated_at)
                 SELECT $1, s.workspace_id, s.visitor_id,
                        COALESCE(s.person_id, v.person_id), s.id, s.verified, $2, $2
                 FROM sessions s
                 LEFT JOIN visitors v ON v.workspace_id = s.workspace_id AND v.id = s.visitor_id
                 WHERE s.id = $3",
                &[(&conversation_id).into(), now.into(), session_id.into()],
            )
            .await;
        assert_eq!(inserted, 1, "no session {session_id}");
        conversation_id
    }

    /// `POST /v1/talk/track` for this workspace.
    pub async fn track(&self, visitor_id: &str, body: Value) -> Answer {
        let mut body = body;
        body["capture_key"] = json!(self.workspace.capture_key);
        body["visitor_id"] = json!(visitor_id);
        self.send(Method::POST, "/v1/talk/track", &[], Some(body))
            .await
    }

    /// The workspace's active signing key: (kid, secret).
    pub async fn signing_key(&self) -> (String, String) {
        self.sql
            .text_pairs(
                "SELECT kid, secret FROM signing_keys
                 WHERE workspace_id = $1 AND retired_at IS NULL
                 ORDER BY created_at DESC LIMIT 1",
                &[(&self.workspace.workspace_id).into()],
            )
            .await
            .remove(0)
    }

    /// Signs arbitrary claims with this workspace's key (for expired or odd tokens).
    pub async fn sign(&self, claims: Value) -> String {
        let (kid, secret) = self.signing_key().await;
        sign_with(&kid, &secret, claims)
    }
}

/// `talk_agent=<id>` from an answer's `Set-Cookie`, if it sets a non-empty one.
pub fn session_cookie(answer: &Answer) -> Option<String> {
    answer
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .filter_map(|value| value.split(';').next())
        .find(|pair| pair.starts_with("talk_agent=") && pair.len() > "talk_agent=".len())
        .map(str::to_string)
}

pub fn sign_with(kid: &str, secret: &str, claims: Value) -> String {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}
