//! The STUN/TURN servers a session gets: minted TURN credentials in the widget's session and
//! the agent's `me`, never the secret; and, with the test script's coturn running
//! (`scripts/coturn.sh`), a real allocation with the minted credential and none with a
//! credential of the wrong secret.

mod common;

use axum::http::{Method, StatusCode};
use base64::Engine;
use common::{test_app_with, visitor_id};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha1::Sha1;

const SECRET: &str = "a-shared-secret-only-the-server-and-turn-know";

fn hmac_sha1_base64(secret: &str, text: &str) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The TURN entry of an `ice_servers` list, checked against the secret: (username, expiry).
fn turn_entry(ice_servers: &Value, secret: &str) -> (String, String, i64) {
    let turn = ice_servers
        .as_array()
        .unwrap()
        .iter()
        .find(|server| server["username"].is_string())
        .expect("a TURN entry with a credential");
    let username = turn["username"].as_str().unwrap().to_string();
    let credential = turn["credential"].as_str().unwrap().to_string();
    assert_eq!(credential, hmac_sha1_base64(secret, &username));
    let expiry: i64 = username.split(':').next().unwrap().parse().unwrap();
    (username, credential, expiry)
}

#[tokio::test]
async fn sessions_get_short_lived_turn_credentials_and_never_the_secret() {
    let app = test_app_with(|settings| {
        settings.stun_urls.0 = vec!["stun:127.0.0.1:3478".into()];
        settings.turn_urls.0 = vec![
            "turn:127.0.0.1:3478?transport=udp".into(),
            "turn:127.0.0.1:3478?transport=tcp".into(),
        ];
        settings.turn_secret = Some(SECRET.into());
        settings.turn_credential_ttl_secs = 600;
    })
    .await;
    let answer = app.widget_session(&visitor_id(1), None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert!(!answer.text.contains(SECRET));
    let session = answer.json();
    assert_eq!(
        session["ice_servers"][0],
        serde_json::json!({"urls": ["stun:127.0.0.1:3478"]})
    );
    assert_eq!(
        session["ice_servers"][1]["urls"].as_array().unwrap().len(),
        2
    );
    let (username, _, expiry) = turn_entry(&session["ice_servers"], SECRET);
    assert_eq!(
        username,
        format!("{expiry}:{}", session["session_id"].as_str().unwrap())
    );
    let now = common::now_secs();
    assert!(
        (now + 590..=now + 610).contains(&expiry),
        "{expiry} vs {now}"
    );

    let cookie = app.admin_cookie().await;
    let me = app
        .as_agent(&cookie, Method::GET, "/v1/agent/me", None)
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert!(!me.text.contains(SECRET));
    let me = me.json();
    let (username, _, _) = turn_entry(&me["ice_servers"], SECRET);
    assert!(username.ends_with(&format!(":{}", me["id"].as_str().unwrap())));
}

/// `turnutils_uclient` (coturn's own test client) allocates on the TURN server with this
/// credential and relays a message between two allocations: exit 0 only if that worked.
fn allocates(port: &str, username: &str, password: &str) -> bool {
    let status = std::process::Command::new("timeout")
        .args([
            "30",
            "turnutils_uclient",
            "-u",
            username,
            "-w",
            password,
            "-p",
            port,
        ])
        // Two allocations relaying to each other (-y), no RTCP (-c), one message, one client.
        .args(["-y", "-c", "-n", "1", "-m", "1", "127.0.0.1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("turnutils_uclient runs");
    status.success()
}

#[tokio::test]
async fn coturn_accepts_the_minted_credential_and_refuses_one_of_another_secret() {
    // Set by scripts/coturn.sh, which scripts/test.sh runs the tests in.
    let (Ok(urls), Ok(secret), Ok(port)) = (
        std::env::var("TALK_TEST_TURN_URLS"),
        std::env::var("TALK_TEST_TURN_SECRET"),
        std::env::var("TALK_TEST_TURN_PORT"),
    ) else {
        eprintln!("SKIPPED: no TURN server (run under scripts/coturn.sh)");
        return;
    };
    let app = test_app_with(|settings| {
        settings.turn_urls.0 = urls.split(',').map(str::to_string).collect();
        settings.turn_secret = Some(secret.clone());
    })
    .await;
    let session = app.widget_session(&visitor_id(1), None).await.json();
    let (username, credential, _) = turn_entry(&session["ice_servers"], &secret);
    let wrong = hmac_sha1_base64("not-the-secret", &username);
    let (right, refused) = tokio::join!(
        tokio::task::spawn_blocking({
            let (port, username) = (port.clone(), username.clone());
            move || allocates(&port, &username, &credential)
        }),
        tokio::task::spawn_blocking(move || allocates(&port, &username, &wrong)),
    );
    assert!(right.unwrap(), "coturn refused the server's credential");
    assert!(
        !refused.unwrap(),
        "coturn took a credential of another secret"
    );
}
