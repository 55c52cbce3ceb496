//! Signing keys: rotation keeps old tokens working until their key is retired, and every
//! kind of bad token has its own code.

mod common;

use axum::http::StatusCode;
use common::{now_secs, test_app, visitor_id, TestApp};
use serde_json::json;
use talk_server::tokens::{self, KeyError};

async fn mint(app: &TestApp, email: &str) -> String {
    let answer = app
        .talk_session(json!({"fields": {"str::email": email, "str::name": "Ann"}}))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.json()["token"].as_str().unwrap().to_string()
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

#[tokio::test]
async fn rotation_keeps_old_tokens_until_their_key_is_retired() {
    let app = test_app().await;
    let workspace_id = app.workspace.workspace_id.clone();
    let (first_kid, _) = app.signing_key().await;
    let before = mint(&app, "before@example.com").await;
    assert_eq!(kid_of(&before), first_kid);
    let old_socket_token = app.session_token(&visitor_id(1), Some(&before)).await;
    assert_eq!(kid_of(&old_socket_token), first_kid);

    let new_kid = tokens::rotate_signing_key(&app.state.db, &workspace_id)
        .await
        .unwrap();
    assert_ne!(new_kid, first_kid);

    // Minted before the rotation: still verifies.
    let answer = app.widget_session(&visitor_id(1), Some(&before)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(answer.json()["verified"], true);
    // Minted after: signed by the new key, and so are new socket tokens.
    let after = mint(&app, "after@example.com").await;
    assert_eq!(kid_of(&after), new_kid);
    assert_eq!(
        kid_of(answer.json()["session_token"].as_str().unwrap()),
        new_kid
    );

    // The key that signs can't be retired; the old one can.
    let refused = tokens::retire_signing_key(&app.state.db, &workspace_id, &new_kid).await;
    assert!(
        matches!(refused, Err(KeyError::ActiveKey(_))),
        "{refused:?}"
    );
    tokens::retire_signing_key(&app.state.db, &workspace_id, &first_kid)
        .await
        .unwrap();

    let retired = app.widget_session(&visitor_id(1), Some(&before)).await;
    assert_eq!(
        (retired.status, retired.code().as_str()),
        (StatusCode::UNAUTHORIZED, "token_key_retired")
    );
    // Socket tokens it signed go too.
    let retired_socket = app
        .identify(&old_socket_token, json!({"email": "a@example.com"}))
        .await;
    assert_eq!(retired_socket.code(), "token_key_retired");
    let still = app.widget_session(&visitor_id(2), Some(&after)).await;
    assert_eq!(still.status, StatusCode::OK, "{}", still.text);
    assert_eq!(still.json()["verified"], true);

    // Retiring again is a no-op.
    tokens::retire_signing_key(&app.state.db, &workspace_id, &first_kid)
        .await
        .unwrap();
}

#[tokio::test]
async fn rotating_twice_in_one_millisecond_still_signs_with_the_newest() {
    let app = test_app().await;
    let workspace_id = &app.workspace.workspace_id;
    let mut kids = Vec::new();
    for _ in 0..3 {
        kids.push(
            tokens::rotate_signing_key(&app.state.db, workspace_id)
                .await
                .unwrap(),
        );
    }
    let token = mint(&app, "a@example.com").await;
    assert_eq!(&kid_of(&token), kids.last().unwrap());
}

#[tokio::test]
async fn keys_belong_to_one_workspace() {
    let app = test_app().await;
    let other = talk_server::create_workspace(&app.state.db, "Other")
        .await
        .unwrap();
    let (kid, _) = app.signing_key().await;
    let foreign = tokens::retire_signing_key(&app.state.db, &other.workspace_id, &kid).await;
    assert!(
        matches!(foreign, Err(KeyError::UnknownKey(_))),
        "{foreign:?}"
    );
    let unknown = tokens::rotate_signing_key(&app.state.db, "000000000000000000000000").await;
    assert!(
        matches!(unknown, Err(KeyError::UnknownWorkspace(_))),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn each_bad_token_has_its_own_code() {
    let app = test_app().await;
    let workspace_id = app.workspace.workspace_id.clone();
    let talk_claims = |exp: i64| {
        json!({"typ": "talk", "ws": workspace_id, "sub": "x", "sid": "y", "iat": now_secs() - 10,
            "exp": exp})
    };
    let (kid, _) = app.signing_key().await;
    let cases = [
        (app.sign(talk_claims(now_secs() - 1)).await, "token_expired"),
        (
            common::sign_with(&kid, "forged", talk_claims(now_secs() + 60)),
            "invalid_token",
        ),
        ("garbled".to_string(), "invalid_token"),
        (
            common::sign_with("no-such-kid", "x", talk_claims(now_secs() + 60)),
            "invalid_token",
        ),
        // A socket token used as a talk token.
        (
            app.session_token(&visitor_id(1), None).await,
            "invalid_token",
        ),
    ];
    for (token, code) in cases {
        let answer = app.widget_session(&visitor_id(1), Some(&token)).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (StatusCode::UNAUTHORIZED, code),
            "{token}"
        );
    }
    // A talk token used as a socket token.
    let talk_token = mint(&app, "a@example.com").await;
    let wrong_type = app
        .identify(&talk_token, json!({"email": "a@example.com"}))
        .await;
    assert_eq!(
        (wrong_type.status, wrong_type.code().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
}
