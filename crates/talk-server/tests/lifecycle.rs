//! How long a live connection may stay open: agent sockets end at once when their agent is
//! removed or its password reset; widget sockets end when their token expires (unless an
//! `auth` renewed it) or its signing key is retired, and SSE streams likewise (with a last
//! `end` event carrying the socket's close code). Real sockets, real SQLite files.

mod common;

use axum::http::{Method, StatusCode};
use common::live::*;
use common::{now_secs, visitor_id};
use serde_json::json;
use std::time::Duration;
use talk_protocol::{close_code, ServerEvent};
use talk_server::tokens;

/// Sooner than any heartbeat (30 s by default): the close comes from the action itself.
const AT_ONCE: Duration = Duration::from_secs(3);

/// A new agent, signed in, with its inbox socket open: (agent id, socket).
async fn agent_with_socket(server: &Server, admin: &str) -> (String, Ws) {
    let created = server
        .app
        .as_agent(
            admin,
            Method::POST,
            "/v1/admin/agents",
            Some(json!({"email": "sam@example.com", "name": "Sam", "role": "agent"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let created = created.json();
    let agent_id = created["agent"]["id"].as_str().unwrap().to_string();
    let cookie = server
        .app
        .sign_in("sam@example.com", created["password"].as_str().unwrap())
        .await;
    let mut socket = server.agent_socket(&cookie).await;
    assert_quiet(&mut socket).await;
    (agent_id, socket)
}

async fn closed_at_once(ws: &mut Ws) -> u16 {
    tokio::time::timeout(AT_ONCE, close_code_of(ws))
        .await
        .expect("the socket is closed at once, not at its next heartbeat")
}

#[tokio::test]
async fn removed_agent_socket_is_closed_at_once() {
    let server = start().await;
    let admin = server.app.admin_cookie().await;
    let (agent_id, mut socket) = agent_with_socket(&server, &admin).await;
    let mut admin_socket = server.agent_socket(&admin).await;

    let removed = server
        .app
        .as_agent(
            &admin,
            Method::DELETE,
            &format!("/v1/admin/agents/{agent_id}"),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);
    assert_eq!(closed_at_once(&mut socket).await, close_code::SIGNED_OUT);
    // Only that agent's sockets.
    assert_quiet(&mut admin_socket).await;
}

#[tokio::test]
async fn password_reset_closes_agent_sockets() {
    let server = start().await;
    let admin = server.app.admin_cookie().await;
    let (agent_id, mut socket) = agent_with_socket(&server, &admin).await;

    let reset = server
        .app
        .as_agent(
            &admin,
            Method::POST,
            &format!("/v1/admin/agents/{agent_id}/reset-password"),
            None,
        )
        .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.text);
    assert_eq!(closed_at_once(&mut socket).await, close_code::SIGNED_OUT);
}

/// A socket authenticated with `session_token`, past its `ready`.
async fn open_with(server: &Server, session_token: &str) -> Ws {
    let mut ws = server.connect().await;
    send(&mut ws, json!({"type": "auth", "token": session_token})).await;
    match next_event(&mut ws).await {
        ServerEvent::Ready { .. } => ws,
        other => panic!("expected ready, got {other:?}"),
    }
}

#[tokio::test]
async fn socket_closes_when_its_token_expires() {
    let server = start_with(|settings| settings.socket_token_ttl_secs = 1).await;
    let (mut ws, _) = server.open(&visitor_id(1), None).await;
    assert_quiet(&mut ws).await;
    let started = std::time::Instant::now();
    assert_eq!(close_code_of(&mut ws).await, close_code::TOKEN_EXPIRED);
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[tokio::test]
async fn sse_stream_ends_when_its_token_expires() {
    let server = start_with(|settings| settings.socket_token_ttl_secs = 1).await;
    let token = server.app.session_token(&visitor_id(1), None).await;
    let mut stream = server.stream(&token, None).await;
    stream.next_event().await;
    let end = stream.end_event(Duration::from_secs(4)).await;
    assert_eq!(end.code, close_code::TOKEN_EXPIRED);
}

#[tokio::test]
async fn refreshed_socket_outlives_its_first_token() {
    let server = start_with(|settings| settings.socket_token_ttl_secs = 2).await;
    let visitor = visitor_id(1);
    let (mut ws, _) = server.open(&visitor, None).await;

    // Another visitor's token can't take the socket over; the socket stays as it was.
    let other = server.app.session_token(&visitor_id(2), None).await;
    send(&mut ws, json!({"type": "auth", "token": other})).await;
    assert_eq!(
        error_code(next_event(&mut ws).await),
        ("token_mismatch".to_string(), None)
    );

    // A fresh token of the same visitor (as the widget's renewal gets) moves the expiry.
    let now = now_secs();
    let renewed = server
        .app
        .sign(
            json!({"typ": "socket", "ws": server.app.workspace.workspace_id, "sid": "renewal",
                     "vid": visitor, "ver": false, "iat": now, "exp": now + 600}),
        )
        .await;
    send(&mut ws, json!({"type": "auth", "token": renewed})).await;
    assert_quiet(&mut ws).await;
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_quiet(&mut ws).await;
}

#[tokio::test]
async fn retiring_a_key_closes_its_sockets() {
    let server = start_with(|settings| settings.heartbeat_secs = 1).await;
    let app = &server.app;
    let (first_kid, _) = app.signing_key().await;
    let old_token = app.session_token(&visitor_id(1), None).await;
    let mut old = open_with(&server, &old_token).await;

    tokens::rotate_signing_key(&app.state.db, &app.workspace.workspace_id)
        .await
        .unwrap();
    let (mut new, _) = server.open(&visitor_id(2), None).await;
    // As `talk-server key retire` does, from another process: only the database changes.
    tokens::retire_signing_key(&app.state.db, &app.workspace.workspace_id, &first_kid)
        .await
        .unwrap();

    // Within a few heartbeats (1 s here), which also ping: a bound on the whole wait.
    let closed = tokio::time::timeout(Duration::from_secs(10), close_code_of(&mut old))
        .await
        .expect("closed within a few heartbeats");
    assert_eq!(closed, close_code::KEY_RETIRED);
    assert_quiet(&mut new).await;
}

#[tokio::test]
async fn retiring_a_key_ends_its_sse_streams() {
    let server = start_with(|settings| settings.heartbeat_secs = 1).await;
    let app = &server.app;
    let (first_kid, _) = app.signing_key().await;
    let old_token = app.session_token(&visitor_id(1), None).await;
    let mut old = server.stream(&old_token, None).await;
    old.next_event().await;

    tokens::rotate_signing_key(&app.state.db, &app.workspace.workspace_id)
        .await
        .unwrap();
    let new_token = app.session_token(&visitor_id(2), None).await;
    let mut new = server.stream(&new_token, None).await;
    new.next_event().await;
    tokens::retire_signing_key(&app.state.db, &app.workspace.workspace_id, &first_kid)
        .await
        .unwrap();

    let end = old.end_event(Duration::from_secs(10)).await;
    assert_eq!(end.code, close_code::KEY_RETIRED);
    // The other stream, signed with the new key, stays: only keep-alives or nothing.
    let quiet = tokio::time::timeout(
        Duration::from_secs(2),
        new.next_block(Duration::from_secs(3)),
    )
    .await;
    if let Ok(block) = quiet {
        assert!(
            block.event.is_none() && block.data.is_none(),
            "{:?}",
            block.data
        );
    }
}
