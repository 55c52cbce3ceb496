//! Agent sign-in, sessions and presence, in-process against real SQLite files.

mod common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use common::{session_cookie, test_app, test_app_with, TestApp};
use serde_json::json;
use std::net::SocketAddr;
use talk_server::db;

async fn session_expiry(app: &TestApp, cookie: &str) -> Option<i64> {
    let session_id = cookie.trim_start_matches("talk_agent=");
    app.sql
        .opt_i64(
            "SELECT expires_at FROM agent_sessions WHERE id_hash = $1",
            &[db::sha256_hex(session_id).into()],
        )
        .await
}

#[tokio::test]
async fn login_sets_an_http_only_cookie_and_stores_only_its_hash() {
    let app = test_app().await;
    let answer = app
        .login(&app.workspace.admin_email, &app.workspace.admin_password)
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let profile = answer.json();
    assert_eq!(profile["email"], app.workspace.admin_email.as_str());
    assert_eq!(profile["role"], "admin");
    assert_eq!(profile["presence"], "away");
    assert_eq!(profile["workspace_id"], app.workspace.workspace_id.as_str());

    let set_cookie = answer.header("set-cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=2592000"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(
        !set_cookie.contains("Secure"),
        "public_url is http: {set_cookie}"
    );
    let cookie = session_cookie(&answer).unwrap();
    let session_id = cookie.trim_start_matches("talk_agent=");
    assert_eq!(session_id.len(), 64);
    let stored = app
        .sql
        .strings("SELECT id_hash FROM agent_sessions", &[])
        .await;
    assert_eq!(stored, [db::sha256_hex(session_id)]);

    let me = app
        .as_agent(&cookie, Method::GET, "/v1/agent/me", None)
        .await;
    assert_eq!(me.status, StatusCode::OK);
    // The profile, and the ICE servers for its calls (none configured here).
    let mut me_json = me.json();
    let ice_servers = me_json.as_object_mut().unwrap().remove("ice_servers");
    assert_eq!(ice_servers, Some(json!([])));
    let policy = me_json
        .as_object_mut()
        .unwrap()
        .remove("ice_transport_policy");
    assert_eq!(policy, Some(json!("all")));
    assert_eq!(me_json, profile);
    assert_eq!(
        session_cookie(&me).as_deref(),
        Some(cookie.as_str()),
        "renewed"
    );
}

#[tokio::test]
async fn cookie_is_secure_when_the_public_url_is_https() {
    let app =
        test_app_with(|settings| settings.public_url = "https://talk.example.com".into()).await;
    let answer = app
        .login(&app.workspace.admin_email, &app.workspace.admin_password)
        .await;
    assert!(answer.header("set-cookie").contains("Secure"));
}

#[tokio::test]
async fn wrong_password_and_unknown_email_answer_alike() {
    let app = test_app().await;
    let wrong_password = app.login(&app.workspace.admin_email, "nope").await;
    let unknown_email = app
        .login("nobody@example.com", &app.workspace.admin_password)
        .await;
    for answer in [&wrong_password, &unknown_email] {
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        assert_eq!(answer.code(), "invalid_credentials");
        assert!(session_cookie(answer).is_none());
    }
    assert_eq!(wrong_password.text, unknown_email.text);

    // Emails match whatever their case.
    let shouted = app
        .login(
            &app.workspace.admin_email.to_uppercase(),
            &app.workspace.admin_password,
        )
        .await;
    assert_eq!(shouted.status, StatusCode::OK);
}

#[tokio::test]
async fn me_needs_a_live_session() {
    let app = test_app().await;
    let none = app.get("/v1/agent/me").await;
    assert_eq!(
        (none.status, none.code().as_str()),
        (StatusCode::UNAUTHORIZED, "not_signed_in")
    );
    let forged = app
        .as_agent("talk_agent=0123", Method::GET, "/v1/agent/me", None)
        .await;
    assert_eq!(forged.code(), "not_signed_in");

    let cookie = app.admin_cookie().await;
    app.sql
        .execute(
            "UPDATE agent_sessions SET expires_at = $1",
            &[(db::now_ms() - 1).into()],
        )
        .await;
    let expired = app
        .as_agent(&cookie, Method::GET, "/v1/agent/me", None)
        .await;
    assert_eq!(
        (expired.status, expired.code().as_str()),
        (StatusCode::UNAUTHORIZED, "session_expired")
    );
    assert_eq!(session_expiry(&app, &cookie).await, None, "deleted");
    let again = app
        .as_agent(&cookie, Method::GET, "/v1/agent/me", None)
        .await;
    assert_eq!(again.code(), "not_signed_in");
}

#[tokio::test]
async fn using_a_session_slides_its_expiry() {
    let app = test_app().await;
    let cookie = app.admin_cookie().await;
    let one_day = 24 * 60 * 60 * 1000;
    app.sql
        .execute(
            "UPDATE agent_sessions SET expires_at = $1",
            &[(db::now_ms() + one_day).into()],
        )
        .await;
    let me = app
        .as_agent(&cookie, Method::GET, "/v1/agent/me", None)
        .await;
    assert_eq!(me.status, StatusCode::OK);
    let expires_at = session_expiry(&app, &cookie).await.unwrap();
    assert!(expires_at > db::now_ms() + 29 * one_day, "{expires_at}");
}

#[tokio::test]
async fn logout_ends_the_session_and_clears_the_cookie() {
    let app = test_app().await;
    let cookie = app.admin_cookie().await;
    let answer = app
        .as_agent(&cookie, Method::POST, "/v1/agent/logout", None)
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    let cleared = answer.header("set-cookie");
    assert!(
        cleared.starts_with("talk_agent=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    assert_eq!(session_expiry(&app, &cookie).await, None);
    let me = app
        .as_agent(&cookie, Method::GET, "/v1/agent/me", None)
        .await;
    assert_eq!(me.code(), "not_signed_in");
    // Signing out without a session is fine too.
    let again = app.send(Method::POST, "/v1/agent/logout", &[], None).await;
    assert_eq!(again.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn presence_decides_the_workspace_status() {
    let app = test_app().await;
    let cookie = app.admin_cookie().await;
    let config_uri = format!(
        "/v1/talk/widget/config?capture_key={}",
        app.workspace.capture_key
    );
    let config = app.get(&config_uri).await.json();
    assert_eq!(config["status"], "away");
    assert_eq!(config["online_agents"], json!([]));

    let online = app
        .as_agent(
            &cookie,
            Method::PUT,
            "/v1/agent/presence",
            Some(json!({"presence": "online"})),
        )
        .await;
    assert_eq!(online.status, StatusCode::OK);
    assert_eq!(online.json()["presence"], "online");
    let config = app.get(&config_uri).await.json();
    assert_eq!(config["status"], "online");
    assert_eq!(config["online_agents"], json!([{"name": "Admin"}]));

    let invalid = app
        .as_agent(
            &cookie,
            Method::PUT,
            "/v1/agent/presence",
            Some(json!({"presence": "busy"})),
        )
        .await;
    assert_eq!(invalid.code(), "invalid_json");
    let away = app
        .as_agent(
            &cookie,
            Method::PUT,
            "/v1/agent/presence",
            Some(json!({"presence": "away"})),
        )
        .await;
    assert_eq!(away.json()["presence"], "away");
    assert_eq!(app.get(&config_uri).await.json()["status"], "away");

    let anonymous = app
        .send(
            Method::PUT,
            "/v1/agent/presence",
            &[],
            Some(json!({"presence": "online"})),
        )
        .await;
    assert_eq!(anonymous.code(), "not_signed_in");
}

#[tokio::test]
async fn cookie_requests_from_another_origin_are_refused() {
    let app = test_app().await;
    let cookie = app.admin_cookie().await;
    let body = Some(json!({"presence": "online"}));
    let foreign = app
        .send(
            Method::PUT,
            "/v1/agent/presence",
            &[("cookie", &cookie), ("origin", "https://evil.example")],
            body.clone(),
        )
        .await;
    assert_eq!(
        (foreign.status, foreign.code().as_str()),
        (StatusCode::FORBIDDEN, "cross_origin_request")
    );
    let own = app
        .send(
            Method::PUT,
            "/v1/agent/presence",
            &[
                ("cookie", &cookie),
                ("origin", &app.state.settings.public_url),
            ],
            body,
        )
        .await;
    assert_eq!(own.status, StatusCode::OK);
}

#[tokio::test]
async fn login_is_rate_limited_per_ip() {
    let app = test_app_with(|settings| settings.login_attempts_per_minute = 2).await;
    for _ in 0..2 {
        let answer = app.login(&app.workspace.admin_email, "wrong").await;
        assert_eq!(answer.code(), "invalid_credentials");
    }
    // Even the right password waits now.
    let limited = app
        .login(&app.workspace.admin_email, &app.workspace.admin_password)
        .await;
    assert_eq!(
        (limited.status, limited.code().as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    let retry_after: u64 = limited.header("retry-after").parse().unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");

    // Another client is not affected.
    let body =
        json!({"email": app.workspace.admin_email, "password": app.workspace.admin_password});
    let mut request = Request::post("/v1/agent/login")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 7], 5000))));
    assert_eq!(app.request(request).await.status, StatusCode::OK);
}
