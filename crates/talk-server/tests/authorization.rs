//! The authorization matrix: every route × every kind of caller, against a real server on a
//! real SQLite file. HTTP goes in-process to the served state; the two WebSockets go over
//! real sockets. Each cell's expected outcome is in `MATRIX`; the test runs every cell and
//! fails listing each one that differs. A route routed or documented (OpenAPI) but missing
//! from `MATRIX` fails it too, and docs/security.md must hold the same table.
//!
//! Adding a route: one `row(…)` line in `MATRIX`, then `TALK_WRITE_DOCS=1 cargo test -p
//! talk-server --test authorization` rewrites the doc's table.

mod common;

use axum::body::Body;
use axum::http::{Method, Request};
use common::live::{self, Server, Ws};
use common::{now_secs, visitor_id};
use futures_util::StreamExt;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::Duration;
use talk_protocol::{AgentRole, ServerEvent};
use talk_server::{agents, create_workspace, workspaces, NewWorkspace};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as Frame;

/// Who calls. Each holds only its own credentials; `{id}` always names something of
/// workspace 1 (visitor A's conversation, its person, an agent or API key of workspace 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    /// No credential at all (not even the public capture key).
    Anonymous,
    /// Visitor A's browser: capture key, visitor id, widget session token, and a verified
    /// token minted for it. `{id}` conversations are A's.
    VisitorA,
    /// Another visitor of the same workspace: capture key, its own visitor id and token.
    VisitorB,
    /// An agent (role `agent`) of workspace 1, signed in: `talk_agent` cookie.
    Agent,
    /// An admin of workspace 1, signed in: `talk_agent` cookie and password.
    Admin,
    /// Workspace 1's backend: its `X-Api-Key`.
    ApiKey,
    /// Workspace 2's admin, holding everything of workspace 2: cookie, API key, capture key,
    /// a visitor and its token.
    OtherWorkspace,
    /// Workspace 1's backend with a revoked `X-Api-Key`.
    RevokedApiKey,
    /// Visitor A and workspace 1's agent after their credentials ran out: expired widget
    /// session token, expired verified token, expired `talk_agent` cookie.
    Expired,
}

const CALLERS: [Caller; 9] = [
    Caller::Anonymous,
    Caller::VisitorA,
    Caller::VisitorB,
    Caller::Agent,
    Caller::Admin,
    Caller::ApiKey,
    Caller::OtherWorkspace,
    Caller::RevokedApiKey,
    Caller::Expired,
];

impl Caller {
    fn title(self) -> &'static str {
        match self {
            Caller::Anonymous => "anonymous",
            Caller::VisitorA => "visitor A",
            Caller::VisitorB => "visitor B",
            Caller::Agent => "agent",
            Caller::Admin => "admin",
            Caller::ApiKey => "API key",
            Caller::OtherWorkspace => "other workspace",
            Caller::RevokedApiKey => "revoked API key",
            Caller::Expired => "expired",
        }
    }
}

/// Which credential a route reads, so each caller sends the one it holds (or nothing).
#[derive(Debug, Clone, Copy)]
enum Credential {
    /// Nothing: public.
    None,
    /// `?capture_key=`.
    CaptureKeyQuery,
    /// `capture_key`, `visitor_id` (and `token`, a verified token) in the JSON body.
    CaptureKeyBody,
    /// `Authorization: Bearer <widget session token>`.
    SessionToken,
    /// The widget socket: the session token in the first frame, then a `resume` of `{id}`.
    SocketFrame,
    /// The `talk_agent` cookie (with the server's own `Origin`, as the inbox sends it).
    AgentCookie,
    /// `X-Api-Key`.
    ApiKey,
    /// Email and password in the body (a guess at workspace 1's admin without one).
    Password,
}

/// What `{id}` (in the path or the body) names. Fresh per cell where a cell could change it
/// for the next (a closed conversation, a deleted agent, a revoked key).
#[derive(Debug, Clone, Copy)]
enum Target {
    None,
    /// A new conversation of visitor A.
    Conversation,
    /// Visitor A's (verified) person.
    Person,
    /// A new person of workspace 1 seen on the site: a new visitor gave its email in the
    /// widget (Visitor A's person has more open conversations than an agent may add to).
    SeenPerson,
    /// A new agent of workspace 1.
    Agent,
    /// A new API key of workspace 1.
    ApiKeyId,
    /// A new capture widget of workspace 1.
    CaptureWidget,
    /// A new agent bot of workspace 1.
    Bot,
}

struct Row {
    method: &'static str,
    path: &'static str,
    credential: Credential,
    target: Target,
    /// JSON body; `{id}` is replaced by the target.
    body: Option<&'static str>,
    /// One outcome per caller, in `CALLERS` order: the HTTP status, or for the widget socket
    /// `ready` (authenticated, `{id}` readable), `ready/404` (authenticated, `{id}` refused
    /// with `conversation_not_found`) or the close code.
    expected: [&'static str; 9],
}

const fn row(
    method: &'static str,
    path: &'static str,
    credential: Credential,
    target: Target,
    body: Option<&'static str>,
    expected: [&'static str; 9],
) -> Row {
    Row {
        method,
        path,
        credential,
        target,
        body,
        expected,
    }
}

use Credential as C;
use Target as T;

/// A capture widget's input (`talk_protocol::CaptureWidgetInput`).
const CAPTURE_WIDGET: &str =
    r#"{"name": "Hello", "message": "Hi {{first_name|there}}", "sender": {"kind": "bot"}}"#;

#[rustfmt::skip]
const MATRIX: &[Row] = &[
    //  method, path, credential, target, body,
    //  [anonymous, visitor A, visitor B, agent, admin, API key, other workspace, revoked API key, expired]
    // Public.
    row("GET", "/healthz", C::None, T::None, None, ["200", "200", "200", "200", "200", "200", "200", "200", "200"]),
    row("GET", "/app.js", C::None, T::None, None, ["200", "200", "200", "200", "200", "200", "200", "200", "200"]),
    row("GET", "/v1/openapi.json", C::None, T::None, None, ["200", "200", "200", "200", "200", "200", "200", "200", "200"]),
    // The browser's: the public capture key (a visitor id, a session token).
    row("GET", "/demo", C::CaptureKeyQuery, T::None, None, ["200", "200", "200", "200", "200", "200", "200", "200", "200"]),
    row("GET", "/widget/frame", C::CaptureKeyQuery, T::None, None, ["400", "200", "200", "400", "400", "400", "200", "400", "200"]),
    row("GET", "/v1/talk/widget/config", C::CaptureKeyQuery, T::None, None, ["400", "200", "200", "400", "400", "400", "200", "400", "200"]),
    row("GET", "/v1/talk/widget/launcher.css", C::CaptureKeyQuery, T::None, None, ["400", "200", "200", "400", "400", "400", "200", "400", "200"]),
    row("POST", "/v1/talk/track", C::CaptureKeyBody, T::None, Some(r#"{"url": "https://shop.example.com/"}"#), ["400", "204", "204", "400", "400", "400", "204", "400", "204"]),
    row("POST", "/v1/talk/widget/session", C::CaptureKeyBody, T::None, Some("{}"), ["400", "200", "200", "400", "400", "400", "200", "400", "401"]),
    row("POST", "/v1/talk/identify", C::SessionToken, T::None, Some(r#"{"email": "ann@example.com"}"#), ["401", "200", "200", "401", "401", "401", "200", "401", "401"]),
    row("POST", "/v1/talk/messages", C::SessionToken, T::Conversation, Some(r#"{"type": "resume", "conversation_id": "{id}", "after_seq": 0}"#), ["401", "200", "404", "401", "401", "401", "404", "401", "401"]),
    row("GET", "/v1/talk/messages/stream", C::SessionToken, T::None, None, ["401", "200", "200", "401", "401", "401", "200", "401", "401"]),
    row("POST", "/v1/talk/captures/{id}/shown", C::SessionToken, T::CaptureWidget, None, ["401", "204", "204", "401", "401", "401", "404", "401", "401"]),
    row("POST", "/v1/talk/captures/{id}/dismissed", C::SessionToken, T::CaptureWidget, None, ["401", "204", "204", "401", "401", "401", "404", "401", "401"]),
    row("GET", "/v1/talk/socket", C::SocketFrame, T::Conversation, None, ["4001", "ready", "ready/404", "4001", "4001", "4001", "ready/404", "4001", "4002"]),
    // The site's backend: X-Api-Key.
    row("POST", "/v1/talk/session", C::ApiKey, T::None, Some(r#"{"fields": {"str::email": "zoe@example.com", "str::name": "Zoe Real"}}"#), ["401", "401", "401", "401", "401", "200", "200", "401", "401"]),
    row("GET", "/v1/conversations", C::ApiKey, T::None, None, ["401", "401", "401", "401", "401", "200", "200", "401", "401"]),
    row("GET", "/v1/conversations/{id}/messages", C::ApiKey, T::Conversation, None, ["401", "401", "401", "401", "401", "200", "404", "401", "401"]),
    row("POST", "/v1/conversations/{id}/messages", C::ApiKey, T::Conversation, Some(r#"{"body": "Hello"}"#), ["401", "401", "401", "401", "401", "201", "404", "401", "401"]),
    row("GET", "/v1/conversations/{id}/contact", C::ApiKey, T::Conversation, None, ["401", "401", "401", "401", "401", "200", "404", "401", "401"]),
    row("POST", "/v1/conversations/{id}/close", C::ApiKey, T::Conversation, None, ["401", "401", "401", "401", "401", "200", "404", "401", "401"]),
    row("POST", "/v1/conversations/{id}/reopen", C::ApiKey, T::Conversation, None, ["401", "401", "401", "401", "401", "200", "404", "401", "401"]),
    row("POST", "/v1/conversations/{id}/assign", C::ApiKey, T::Conversation, Some(r#"{"agent_id": null}"#), ["401", "401", "401", "401", "401", "200", "404", "401", "401"]),
    row("POST", "/v1/conversations/{id}/typing", C::ApiKey, T::Conversation, Some(r#"{"typing": true}"#), ["401", "401", "401", "401", "401", "204", "404", "401", "401"]),
    row("POST", "/v1/conversations/{id}/read", C::ApiKey, T::Conversation, Some(r#"{"up_to_seq": 0}"#), ["401", "401", "401", "401", "401", "200", "404", "401", "401"]),
    row("GET", "/v1/people/{id}", C::ApiKey, T::Person, None, ["401", "401", "401", "401", "401", "200", "404", "401", "401"]),
    row("POST", "/v1/people/{id}/conversations", C::ApiKey, T::SeenPerson, Some(r#"{"body": "Hello"}"#), ["401", "401", "401", "401", "401", "201", "404", "401", "401"]),
    row("POST", "/v1/conversations/{id}/handoff", C::ApiKey, T::Conversation, Some("{}"), ["401", "401", "401", "401", "401", "204", "404", "401", "401"]),
    // The inbox: the talk_agent cookie.
    row("POST", "/v1/agent/login", C::Password, T::None, None, ["401", "401", "401", "200", "200", "401", "200", "401", "401"]),
    row("POST", "/v1/agent/logout", C::AgentCookie, T::None, None, ["204", "204", "204", "204", "204", "204", "204", "204", "204"]),
    row("GET", "/v1/agent/me", C::AgentCookie, T::None, None, ["401", "401", "401", "200", "200", "401", "200", "401", "401"]),
    row("PUT", "/v1/agent/presence", C::AgentCookie, T::None, Some(r#"{"presence": "away"}"#), ["401", "401", "401", "200", "200", "401", "200", "401", "401"]),
    row("GET", "/v1/agent/socket", C::AgentCookie, T::None, None, ["401", "401", "401", "101", "101", "401", "101", "401", "401"]),
    row("GET", "/v1/agent/conversations", C::AgentCookie, T::None, None, ["401", "401", "401", "200", "200", "401", "200", "401", "401"]),
    row("GET", "/v1/agent/conversations/{id}/messages", C::AgentCookie, T::Conversation, None, ["401", "401", "401", "200", "200", "401", "404", "401", "401"]),
    row("POST", "/v1/agent/conversations/{id}/messages", C::AgentCookie, T::Conversation, Some(r#"{"body": "Hello"}"#), ["401", "401", "401", "201", "201", "401", "404", "401", "401"]),
    row("GET", "/v1/agent/conversations/{id}/contact", C::AgentCookie, T::Conversation, None, ["401", "401", "401", "200", "200", "401", "404", "401", "401"]),
    row("POST", "/v1/agent/conversations/{id}/close", C::AgentCookie, T::Conversation, None, ["401", "401", "401", "200", "200", "401", "404", "401", "401"]),
    row("POST", "/v1/agent/conversations/{id}/reopen", C::AgentCookie, T::Conversation, None, ["401", "401", "401", "200", "200", "401", "404", "401", "401"]),
    row("POST", "/v1/agent/conversations/{id}/assign", C::AgentCookie, T::Conversation, Some(r#"{"agent_id": null}"#), ["401", "401", "401", "200", "200", "401", "404", "401", "401"]),
    row("POST", "/v1/agent/conversations/{id}/typing", C::AgentCookie, T::Conversation, Some(r#"{"typing": true}"#), ["401", "401", "401", "204", "204", "401", "404", "401", "401"]),
    row("POST", "/v1/agent/conversations/{id}/read", C::AgentCookie, T::Conversation, Some(r#"{"up_to_seq": 0}"#), ["401", "401", "401", "200", "200", "401", "404", "401", "401"]),
    row("POST", "/v1/agent/people/{id}/conversations", C::AgentCookie, T::SeenPerson, Some(r#"{"body": "Hello"}"#), ["401", "401", "401", "201", "201", "401", "404", "401", "401"]),
    // Admin only: the talk_agent cookie of an admin.
    row("GET", "/v1/admin/workspace", C::AgentCookie, T::None, None, ["401", "401", "401", "403", "200", "401", "200", "401", "401"]),
    row("GET", "/v1/admin/widget-settings", C::AgentCookie, T::None, None, ["401", "401", "401", "403", "200", "401", "200", "401", "401"]),
    row("PUT", "/v1/admin/widget-settings", C::AgentCookie, T::None, Some("{}"), ["401", "401", "401", "403", "200", "401", "200", "401", "401"]),
    row("GET", "/v1/admin/allowed-origins", C::AgentCookie, T::None, None, ["401", "401", "401", "403", "200", "401", "200", "401", "401"]),
    row("PUT", "/v1/admin/allowed-origins", C::AgentCookie, T::None, Some(r#"{"origins": []}"#), ["401", "401", "401", "403", "200", "401", "200", "401", "401"]),
    row("GET", "/v1/admin/agents", C::AgentCookie, T::None, None, ["401", "401", "401", "403", "200", "401", "200", "401", "401"]),
    row("POST", "/v1/admin/agents", C::AgentCookie, T::None, Some(r#"{"email": "new-{n}@example.com", "name": "New", "role": "agent"}"#), ["401", "401", "401", "403", "201", "401", "201", "401", "401"]),
    row("DELETE", "/v1/admin/agents/{id}", C::AgentCookie, T::Agent, None, ["401", "401", "401", "403", "204", "401", "404", "401", "401"]),
    row("POST", "/v1/admin/agents/{id}/reset-password", C::AgentCookie, T::Agent, None, ["401", "401", "401", "403", "200", "401", "404", "401", "401"]),
    row("GET", "/v1/admin/api-keys", C::AgentCookie, T::None, None, ["401", "401", "401", "403", "200", "401", "200", "401", "401"]),
    row("POST", "/v1/admin/api-keys", C::AgentCookie, T::None, None, ["401", "401", "401", "403", "201", "401", "201", "401", "401"]),
    row("DELETE", "/v1/admin/api-keys/{id}", C::AgentCookie, T::ApiKeyId, None, ["401", "401", "401", "403", "204", "401", "404", "401", "401"]),
    row("GET", "/v1/admin/capture-widgets", C::AgentCookie, T::None, None, ["401", "401", "401", "403", "200", "401", "200", "401", "401"]),
    row("POST", "/v1/admin/capture-widgets", C::AgentCookie, T::None, Some(CAPTURE_WIDGET), ["401", "401", "401", "403", "201", "401", "201", "401", "401"]),
    // An empty order names none of the widgets the cells before made: authorized, then refused.
    row("PUT", "/v1/admin/capture-widgets/order", C::AgentCookie, T::None, Some(r#"{"ids": []}"#), ["401", "401", "401", "403", "400", "401", "400", "401", "401"]),
    row("GET", "/v1/admin/capture-widgets/{id}", C::AgentCookie, T::CaptureWidget, None, ["401", "401", "401", "403", "200", "401", "404", "401", "401"]),
    row("PUT", "/v1/admin/capture-widgets/{id}", C::AgentCookie, T::CaptureWidget, Some(CAPTURE_WIDGET), ["401", "401", "401", "403", "200", "401", "404", "401", "401"]),
    row("DELETE", "/v1/admin/capture-widgets/{id}", C::AgentCookie, T::CaptureWidget, None, ["401", "401", "401", "403", "204", "401", "404", "401", "401"]),
    row("GET", "/v1/admin/capture-widgets/{id}/conversations", C::AgentCookie, T::CaptureWidget, None, ["401", "401", "401", "403", "200", "401", "404", "401", "401"]),
    row("GET", "/v1/admin/bots", C::AgentCookie, T::None, None, ["401", "401", "401", "403", "200", "401", "200", "401", "401"]),
    row("POST", "/v1/admin/bots", C::AgentCookie, T::None, Some(r#"{"name": "Ada", "webhook_url": "http://127.0.0.1:9/hook", "takes": "all_new"}"#), ["401", "401", "401", "403", "201", "401", "201", "401", "401"]),
    row("GET", "/v1/admin/bots/{id}", C::AgentCookie, T::Bot, None, ["401", "401", "401", "403", "200", "401", "404", "401", "401"]),
    row("PUT", "/v1/admin/bots/{id}", C::AgentCookie, T::Bot, Some(r#"{"name": "Ada", "webhook_url": "http://127.0.0.1:9/hook", "takes": "all_new", "enabled": false}"#), ["401", "401", "401", "403", "200", "401", "404", "401", "401"]),
    row("DELETE", "/v1/admin/bots/{id}", C::AgentCookie, T::Bot, None, ["401", "401", "401", "403", "204", "401", "404", "401", "401"]),
    row("GET", "/v1/admin/bots/{id}/deliveries", C::AgentCookie, T::Bot, None, ["401", "401", "401", "403", "200", "401", "404", "401", "401"]),
    // Previews (`crate::usage::preview`).
    row("POST", "/v1/admin/preview-token", C::AgentCookie, T::None, None, ["401", "401", "401", "403", "200", "401", "200", "401", "401"]),
    // Usage and quotas (issue 18, metering).
    row("GET", "/v1/admin/usage", C::AgentCookie, T::None, None, ["401", "401", "401", "403", "200", "401", "200", "401", "401"]),
    row("GET", "/v1/admin/quota", C::AgentCookie, T::None, None, ["401", "401", "401", "403", "200", "401", "200", "401", "401"]),
    row("PUT", "/v1/admin/quota", C::AgentCookie, T::None, Some(r#"{"mode": "off"}"#), ["401", "401", "401", "403", "200", "401", "200", "401", "401"]),
];

/// Visitor A, B (workspace 1) or C (workspace 2): its id and widget session.
struct Visitor {
    id: String,
    session_id: String,
    session_token: String,
}

struct World {
    server: Server,
    other: NewWorkspace,
    agent_id: String,
    admin_id: String,
    other_admin_id: String,
    /// The agent whose sessions the `Expired` caller holds (expired one per cell).
    expired_agent_id: String,
    agent_password: String,
    visitor_a: Visitor,
    visitor_b: Visitor,
    visitor_c: Visitor,
    verified_token_a: String,
    person_a: String,
    revoked_api_key: String,
    expired_session_token: String,
    expired_verified_token: String,
}

/// What one caller sends in one cell.
#[derive(Default)]
struct Credentials {
    capture_key: Option<String>,
    visitor_id: Option<String>,
    verified_token: Option<String>,
    session_token: Option<String>,
    cookie: Option<String>,
    api_key: Option<String>,
    login: Option<(String, String)>,
}

impl World {
    async fn new() -> World {
        let server = live::start_with(|settings| {
            // The matrix sends a few hundred requests from one address; rate limits have
            // their own tests (tests/operational.rs).
            settings.browser_requests_per_minute = 100_000;
            settings.login_attempts_per_minute = 100_000;
            settings.demo_page = true;
            // The bot rows register webhooks on loopback.
            settings.bot_allow_private_targets = true;
        })
        .await;
        let app = &server.app;
        let db = &app.state.db;
        let workspace_id = app.workspace.workspace_id.clone();
        let other = create_workspace(db, "Other").await.unwrap();
        let sql = &app.sql;
        let admin_of = |workspace_id: String| async move {
            sql.string(
                "SELECT id FROM agents WHERE workspace_id = $1 AND role = 'admin'",
                &[workspace_id.into()],
            )
            .await
        };
        let admin_id = admin_of(workspace_id.clone()).await;
        let other_admin_id = admin_of(other.workspace_id.clone()).await;
        let (agent, agent_password) = agents::create(
            db,
            &workspace_id,
            agents::NewAgent {
                email: "agent@example.com",
                name: "Agent",
                role: AgentRole::Agent,
                photo_url: None,
            },
        )
        .await
        .unwrap()
        .unwrap();
        let expired_agent_id = insert_agent(&server, "expired").await;

        // Visitor A is verified: its backend minted a token, its widget traded it.
        let minted = app
            .talk_session(
                json!({"fields": {"str::email": "ann@example.com", "str::name": "Ann Real"}}),
            )
            .await
            .json();
        let verified_token_a = minted["token"].as_str().unwrap().to_string();
        let person_a = minted["person_id"].as_str().unwrap().to_string();
        let visitor_a = widget_visitor(
            &server,
            &app.workspace.capture_key,
            visitor_id(1),
            Some(&verified_token_a),
        )
        .await;
        let visitor_b =
            widget_visitor(&server, &app.workspace.capture_key, visitor_id(2), None).await;
        let visitor_c = widget_visitor(&server, &other.capture_key, visitor_id(3), None).await;

        let (_, revoked_api_key) = workspaces::insert_api_key(db, &workspace_id).await.unwrap();
        workspaces::revoke_api_key(db, &revoked_api_key)
            .await
            .unwrap();

        // The same tokens, run out: re-signed with `exp` in the past by the workspace's key.
        let expired = |token: &str| {
            let mut claims = token_claims(token);
            claims["exp"] = json!(now_secs() - 60);
            claims
        };
        let expired_session_token = app.sign(expired(&visitor_a.session_token)).await;
        let expired_verified_token = app.sign(expired(&verified_token_a)).await;

        World {
            other,
            agent_id: agent.id,
            admin_id,
            other_admin_id,
            expired_agent_id,
            agent_password,
            visitor_a,
            visitor_b,
            visitor_c,
            verified_token_a,
            person_a,
            revoked_api_key,
            expired_session_token,
            expired_verified_token,
            server,
        }
    }

    fn app(&self) -> &common::TestApp {
        &self.server.app
    }

    /// A fresh agent session (as `POST /v1/agent/login` starts), so a cell that signs out
    /// doesn't sign out the next.
    async fn cookie(&self, agent_id: &str) -> String {
        let session = agents::start_session(&self.app().state.db, agent_id)
            .await
            .unwrap();
        format!("{}={session}", talk_server::http::SESSION_COOKIE)
    }

    async fn credentials(&self, caller: Caller) -> Credentials {
        let w1 = &self.app().workspace;
        match caller {
            Caller::Anonymous => Credentials::default(),
            Caller::VisitorA => Credentials {
                capture_key: Some(w1.capture_key.clone()),
                visitor_id: Some(self.visitor_a.id.clone()),
                verified_token: Some(self.verified_token_a.clone()),
                session_token: Some(self.visitor_a.session_token.clone()),
                ..Credentials::default()
            },
            Caller::VisitorB => Credentials {
                capture_key: Some(w1.capture_key.clone()),
                visitor_id: Some(self.visitor_b.id.clone()),
                session_token: Some(self.visitor_b.session_token.clone()),
                ..Credentials::default()
            },
            Caller::Agent => Credentials {
                cookie: Some(self.cookie(&self.agent_id).await),
                login: Some(("agent@example.com".into(), self.agent_password.clone())),
                ..Credentials::default()
            },
            Caller::Admin => Credentials {
                cookie: Some(self.cookie(&self.admin_id).await),
                login: Some((w1.admin_email.clone(), w1.admin_password.clone())),
                ..Credentials::default()
            },
            Caller::ApiKey => Credentials {
                api_key: Some(w1.api_key.clone()),
                ..Credentials::default()
            },
            Caller::OtherWorkspace => Credentials {
                capture_key: Some(self.other.capture_key.clone()),
                visitor_id: Some(self.visitor_c.id.clone()),
                session_token: Some(self.visitor_c.session_token.clone()),
                cookie: Some(self.cookie(&self.other_admin_id).await),
                api_key: Some(self.other.api_key.clone()),
                login: Some((
                    self.other.admin_email.clone(),
                    self.other.admin_password.clone(),
                )),
                ..Credentials::default()
            },
            Caller::RevokedApiKey => Credentials {
                api_key: Some(self.revoked_api_key.clone()),
                ..Credentials::default()
            },
            Caller::Expired => {
                let cookie = self.cookie(&self.expired_agent_id).await;
                self.app()
                    .sql
                    .execute(
                        "UPDATE agent_sessions SET expires_at = 0 WHERE agent_id = $1",
                        &[(&self.expired_agent_id).into()],
                    )
                    .await;
                Credentials {
                    capture_key: Some(w1.capture_key.clone()),
                    visitor_id: Some(self.visitor_a.id.clone()),
                    verified_token: Some(self.expired_verified_token.clone()),
                    session_token: Some(self.expired_session_token.clone()),
                    cookie: Some(cookie),
                    ..Credentials::default()
                }
            }
        }
    }

    /// The id `{id}` stands for in this cell.
    async fn target(&self, target: Target) -> String {
        let db = &self.app().state.db;
        match target {
            Target::None => String::new(),
            Target::Conversation => {
                self.app()
                    .conversation_in_session(&self.visitor_a.session_id)
                    .await
            }
            Target::Person => self.person_a.clone(),
            Target::SeenPerson => {
                let app = self.app();
                let visitor = talk_server::db::random_hex(16);
                let token = app.session_token(&visitor, None).await;
                let email = format!("seen-{visitor}@example.com");
                let identified = app.identify(&token, json!({"email": email})).await;
                assert_eq!(identified.status, 200, "{}", identified.text);
                app.sql
                    .string(
                        "SELECT person_id FROM visitors WHERE id = $1",
                        &[visitor.into()],
                    )
                    .await
            }
            Target::Agent => insert_agent(&self.server, "victim").await,
            Target::ApiKeyId => {
                workspaces::insert_api_key(db, &self.app().workspace.workspace_id)
                    .await
                    .unwrap()
                    .0
                    .id
            }
            Target::CaptureWidget => {
                // One that is there (a workspace holds at most 50), else a new one.
                use talk_server::captures::service;
                let workspace_id = &self.app().workspace.workspace_id;
                let listed = service::list(db, workspace_id).await.unwrap();
                match listed.capture_widgets.into_iter().next() {
                    Some(widget) => widget.id,
                    None => {
                        let input = serde_json::from_str(CAPTURE_WIDGET).unwrap();
                        service::create(db, workspace_id, input).await.unwrap().id
                    }
                }
            }
            Target::Bot => {
                // A workspace has at most 10 bots: the cells' bots take turns.
                let workspace_id = &self.app().workspace.workspace_id;
                for bot in db.list_bots(workspace_id).await.unwrap() {
                    db.delete_bot(workspace_id, &bot.id, 0).await.unwrap();
                }
                let input = talk_protocol::BotInput {
                    name: "Bot".into(),
                    photo_url: None,
                    webhook_url: "http://127.0.0.1:9/hook".into(),
                    takes: talk_protocol::BotTakes::AllNew,
                    enabled: false,
                };
                talk_server::bots::registry::create(db, workspace_id, input)
                    .await
                    .unwrap()
                    .expect("under the cap")
                    .bot
                    .id
            }
        }
    }

    /// The cell's outcome, and the error code (if any) to show beside a difference.
    async fn run(&self, row: &Row, caller: Caller, cell: usize) -> (String, String) {
        let credentials = self.credentials(caller).await;
        let id = self.target(row.target).await;
        let path = row.path.replace("{id}", &id);
        let body = row
            .body
            .map(|body| body.replace("{id}", &id).replace("{n}", &cell.to_string()));
        match row.credential {
            Credential::SocketFrame => {
                return (self.widget_socket(&credentials, &id).await, String::new())
            }
            Credential::AgentCookie if row.path == "/v1/agent/socket" => {
                return (self.agent_socket(&credentials).await, String::new());
            }
            _ => {}
        }
        let mut uri = path;
        let mut headers: Vec<(String, String)> = Vec::new();
        let mut body: Option<Value> =
            body.map(|body| serde_json::from_str(&body).expect("a row's body is JSON"));
        match row.credential {
            Credential::None | Credential::SocketFrame => {}
            Credential::CaptureKeyQuery => {
                if let Some(capture_key) = &credentials.capture_key {
                    uri = format!("{uri}?capture_key={capture_key}");
                }
            }
            Credential::CaptureKeyBody => {
                let body = body.get_or_insert_with(|| json!({}));
                for (name, value) in [
                    ("capture_key", &credentials.capture_key),
                    ("visitor_id", &credentials.visitor_id),
                    ("token", &credentials.verified_token),
                ] {
                    if let Some(value) = value {
                        body[name] = json!(value);
                    }
                }
            }
            Credential::SessionToken => {
                if let Some(token) = &credentials.session_token {
                    headers.push(("authorization".into(), format!("Bearer {token}")));
                }
            }
            Credential::AgentCookie => {
                if let Some(cookie) = &credentials.cookie {
                    headers.push(("cookie".into(), cookie.clone()));
                }
                headers.push(("origin".into(), self.app().state.settings.public_origin()));
            }
            Credential::ApiKey => {
                if let Some(api_key) = &credentials.api_key {
                    headers.push(("x-api-key".into(), api_key.clone()));
                }
            }
            Credential::Password => {
                let w1 = &self.app().workspace;
                let (email, password) = credentials
                    .login
                    .clone()
                    .unwrap_or_else(|| (w1.admin_email.clone(), "a guess".into()));
                body = Some(json!({"email": email, "password": password}));
            }
        }
        if row.path == "/v1/admin/widget-settings" && row.method == "PUT" {
            // Today's settings, saved back unchanged.
            body = Some(self.widget_settings().await);
        }
        let mut request = Request::builder()
            .method(Method::from_bytes(row.method.as_bytes()).unwrap())
            .uri(uri);
        for (name, value) in &headers {
            request = request.header(name, value);
        }
        let request = match body {
            Some(body) => request
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        }
        .unwrap();
        if row.path.ends_with("/stream") {
            // An open event stream never ends: its status is the answer.
            let response =
                tower::ServiceExt::oneshot(self.app().router.clone(), with_peer(request))
                    .await
                    .unwrap();
            return (response.status().as_u16().to_string(), String::new());
        }
        let answer = self.app().request(request).await;
        let code = match answer.status.is_client_error() || answer.status.is_server_error() {
            true => answer.code(),
            false => String::new(),
        };
        (answer.status.as_u16().to_string(), code)
    }

    async fn widget_settings(&self) -> Value {
        let cookie = self.cookie(&self.admin_id).await;
        self.app()
            .as_agent(&cookie, Method::GET, "/v1/admin/widget-settings", None)
            .await
            .json()
    }

    /// The widget socket: the caller's session token in the first frame (a ping when it has
    /// none), then a `resume` of visitor A's conversation.
    async fn widget_socket(&self, credentials: &Credentials, conversation_id: &str) -> String {
        let mut ws = self.server.connect().await;
        let first = match &credentials.session_token {
            Some(token) => json!({"type": "auth", "token": token}),
            None => json!({"type": "ping"}),
        };
        live::send(&mut ws, first).await;
        match next_frame(&mut ws).await {
            Outcome::Event(ServerEvent::Ready { .. }) => {}
            Outcome::Event(other) => return format!("unexpected {other:?}"),
            Outcome::Closed(code) => return code.to_string(),
        }
        live::send(
            &mut ws,
            json!({"type": "resume", "conversation_id": conversation_id, "after_seq": 0}),
        )
        .await;
        loop {
            match next_frame(&mut ws).await {
                Outcome::Event(ServerEvent::History { .. }) => return "ready".into(),
                Outcome::Event(ServerEvent::Error { code, .. }) => {
                    return match code.as_str() {
                        "conversation_not_found" => "ready/404".into(),
                        other => format!("ready/{other}"),
                    }
                }
                // Live events of the caller's own conversations may come first.
                Outcome::Event(_) => continue,
                Outcome::Closed(code) => return format!("ready/{code}"),
            }
        }
    }

    /// The inbox socket's handshake: 101 when it upgrades, else the refusal's status.
    async fn agent_socket(&self, credentials: &Credentials) -> String {
        let mut request = format!("ws://{}/v1/agent/socket", self.server.addr)
            .into_client_request()
            .unwrap();
        let origin = self.app().state.settings.public_origin();
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
        if let Some(cookie) = &credentials.cookie {
            request
                .headers_mut()
                .insert("cookie", cookie.parse().unwrap());
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((mut ws, response)) => {
                let _ = ws.close(None).await;
                response.status().as_u16().to_string()
            }
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                response.status().as_u16().to_string()
            }
            Err(error) => format!("error {error}"),
        }
    }
}

enum Outcome {
    Event(ServerEvent),
    Closed(u16),
}

async fn next_frame(ws: &mut Ws) -> Outcome {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s");
        match frame {
            Some(Ok(Frame::Text(text))) => {
                return Outcome::Event(serde_json::from_str(text.as_str()).unwrap())
            }
            Some(Ok(Frame::Close(Some(frame)))) => return Outcome::Closed(u16::from(frame.code)),
            Some(Ok(Frame::Close(None))) | None | Some(Err(_)) => return Outcome::Closed(0),
            Some(Ok(_)) => continue,
        }
    }
}

fn with_peer(mut request: Request<Body>) -> Request<Body> {
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            [127, 0, 0, 1],
            40000,
        ))));
    request
}

/// An agent of workspace 1 written straight into the database (no password hashing: it
/// never signs in with one).
async fn insert_agent(server: &Server, name: &str) -> String {
    let agent = talk_server::store::AgentRecord {
        id: talk_server::db::new_id(),
        email: format!("{name}-{}@example.com", talk_server::db::random_hex(4)),
        name: name.to_string(),
        role: AgentRole::Agent,
        photo_url: None,
        password_hash: "not a password hash".to_string(),
        created_at: talk_server::db::now_ms(),
    };
    server
        .app
        .state
        .db
        .insert_agent(&server.app.workspace.workspace_id, &agent)
        .await
        .unwrap();
    agent.id
}

async fn widget_visitor(
    server: &Server,
    capture_key: &str,
    visitor_id: String,
    verified_token: Option<&str>,
) -> Visitor {
    let mut body = json!({"capture_key": capture_key, "visitor_id": visitor_id});
    if let Some(token) = verified_token {
        body["token"] = json!(token);
    }
    let answer = server
        .app
        .send(Method::POST, "/v1/talk/widget/session", &[], Some(body))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let answer = answer.json();
    Visitor {
        id: visitor_id,
        session_id: answer["session_id"].as_str().unwrap().to_string(),
        session_token: answer["session_token"].as_str().unwrap().to_string(),
    }
}

/// A JWT's claims, unchecked.
fn token_claims(token: &str) -> Value {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.insecure_disable_signature_validation();
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let key = jsonwebtoken::DecodingKey::from_secret(&[]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .unwrap()
        .claims
}

/// The matrix as a markdown table, from `MATRIX` (what the test holds the server to).
fn markdown_table() -> String {
    let mut table = String::from("| route |");
    for caller in CALLERS {
        table.push_str(&format!(" {} |", caller.title()));
    }
    table.push_str("\n|---|");
    table.push_str(&"---|".repeat(CALLERS.len()));
    table.push('\n');
    for row in MATRIX {
        table.push_str(&format!("| `{} {}` |", row.method, row.path));
        for outcome in row.expected {
            table.push_str(&format!(" {outcome} |"));
        }
        table.push('\n');
    }
    table
}

#[tokio::test]
async fn every_route_answers_every_caller_as_the_matrix_says() {
    let world = World::new().await;
    let mut differences = Vec::new();
    let mut cells = 0;
    for row in MATRIX {
        for (column, caller) in CALLERS.into_iter().enumerate() {
            let (actual, code) = world.run(row, caller, cells).await;
            cells += 1;
            let expected = row.expected[column];
            if std::env::var_os("TALK_MATRIX_CODES").is_some() {
                println!(
                    "{} {} as {}: {actual} {code}",
                    row.method,
                    row.path,
                    caller.title()
                );
            }
            if actual != expected {
                differences.push(format!(
                    "{} {} as {}: expected {expected}, got {actual} {code}",
                    row.method,
                    row.path,
                    caller.title()
                ));
            }
        }
    }
    println!("{}", markdown_table());
    println!(
        "{} routes × {} callers = {cells} cells",
        MATRIX.len(),
        CALLERS.len()
    );
    assert!(
        differences.is_empty(),
        "{} of {cells} cells differ:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

/// The SSE cursor and the socket's `load_before` name conversations too (the matrix tries
/// `resume`): naming another visitor's must give nothing of it.
#[tokio::test]
async fn naming_another_visitors_conversation_gives_nothing_of_it() {
    let world = World::new().await;
    let server = &world.server;
    let conversation_a = world
        .app()
        .conversation_in_session(&world.visitor_a.session_id)
        .await;
    server.agent_reply(&conversation_a, "for A only").await;
    let conversation_b = world
        .app()
        .conversation_in_session(&world.visitor_b.session_id)
        .await;

    // A cursor naming A's conversation from its start: B's stream replays nothing of it, so
    // the first message B gets is the live one in its own conversation.
    let cursor = format!("v1;{conversation_a}:0;{conversation_b}:0");
    let mut stream = server
        .stream(&world.visitor_b.session_token, Some(&cursor))
        .await;
    let (_, ready) = stream.next_event().await;
    assert!(matches!(ready, ServerEvent::Ready { .. }), "{ready:?}");
    server.agent_reply(&conversation_b, "for B").await;
    match stream.next_event().await.1 {
        ServerEvent::Message { message } => assert_eq!(message.conversation_id, conversation_b),
        other => panic!("expected B's message, got {other:?}"),
    }

    let (mut ws, _) = server.open(&world.visitor_b.id, None).await;
    live::send(
        &mut ws,
        json!({"type": "load_before", "conversation_id": conversation_a, "limit": 200}),
    )
    .await;
    let (code, _) = live::error_code(live::next_event(&mut ws).await);
    assert_eq!(code, "conversation_not_found");
}

/// Every (method, path) the router serves or the OpenAPI document lists has a row.
#[test]
fn the_matrix_covers_every_route() {
    let in_matrix: BTreeSet<(String, String)> = MATRIX
        .iter()
        .map(|row| (row.method.to_string(), row.path.to_string()))
        .collect();
    assert_eq!(in_matrix.len(), MATRIX.len(), "a route has two rows");
    let served: BTreeSet<(String, String)> = routed_operations()
        .union(&documented_operations())
        .cloned()
        .collect();
    let missing: Vec<_> = served.difference(&in_matrix).collect();
    let unknown: Vec<_> = in_matrix.difference(&served).collect();
    assert!(
        missing.is_empty() && unknown.is_empty(),
        "add a row to MATRIX for each route missing from it: {missing:?}; \
         rows for routes that no longer exist: {unknown:?}"
    );
}

/// docs/security.md shows the table the test holds the server to. `TALK_WRITE_DOCS=1`
/// rewrites it after a row changes.
#[test]
fn docs_security_holds_the_matrix() {
    const START: &str =
        "<!-- authorization-matrix: generated by crates/talk-server/tests/authorization.rs -->\n";
    const END: &str = "<!-- end of authorization-matrix -->";
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/security.md");
    let doc = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{path}: {error}"));
    let start = doc.find(START).expect("docs/security.md marks the matrix") + START.len();
    let end = start + doc[start..].find(END).expect("the matrix's end marker");
    let table = markdown_table();
    if doc[start..end] != table {
        if std::env::var_os("TALK_WRITE_DOCS").is_some() {
            let updated = format!("{}{table}{}", &doc[..start], &doc[end..]);
            std::fs::write(path, updated).unwrap();
        } else {
            panic!(
                "docs/security.md's matrix differs from the test's: rerun with TALK_WRITE_DOCS=1\n{table}"
            );
        }
    }
}

/// (METHOD, path) of every route in src/http/mod.rs, read from the source (axum can't list
/// its routes). `/frame` is routed inside the router nested at `/widget`.
fn routed_operations() -> BTreeSet<(String, String)> {
    let source = include_str!("../src/http/mod.rs");
    let route = regex::Regex::new(r#"\.route\(\s*"([^"]+)",\s*((?:[^()]|\([^()]*\))*)\)"#).unwrap();
    let method = regex::Regex::new(r"(?:^|[\s.(])(get|post|put|delete|patch)\(").unwrap();
    let mut operations = BTreeSet::new();
    for captures in route.captures_iter(source) {
        let path = match &captures[1] {
            "/frame" => "/widget/frame",
            path => path,
        };
        for method in method.captures_iter(&captures[2]) {
            operations.insert((method[1].to_uppercase(), path.to_string()));
        }
    }
    assert!(
        operations.len() >= 40,
        "the route parser found {operations:?}"
    );
    operations
}

fn documented_operations() -> BTreeSet<(String, String)> {
    let document: Value = serde_json::from_str(include_str!("../assets/openapi.json")).unwrap();
    document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect()
}
