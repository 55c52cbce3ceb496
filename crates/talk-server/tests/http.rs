//! In-process HTTP tests against real SQLite files.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{now_secs, sign_with, test_app, test_app_with, visitor_id, TestApp};
use serde_json::{json, Value};
use talk_server::workspaces;

fn person(email: &str, name: &str) -> Value {
    json!({"fields": {"str::email": email, "str::name": name}})
}

#[tokio::test]
async fn healthz_answers_ok_with_security_headers() {
    let app = test_app().await;
    let answer = app.get("/healthz").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json(), json!({"status": "ok"}));
    assert_eq!(answer.header("x-content-type-options"), "nosniff");
    assert_eq!(
        answer.header("referrer-policy"),
        "strict-origin-when-cross-origin"
    );
}

#[tokio::test]
async fn loader_script_is_javascript_cached_briefly() {
    let app = test_app().await;
    let answer = app.get("/app.js").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.header("content-type"),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(answer.header("cache-control"), "public, max-age=300");
    assert_eq!(answer.header("x-content-type-options"), "nosniff");
    // Sent with every page view: no header that changes nothing for a script.
    for redundant in [
        "referrer-policy",
        "x-frame-options",
        "content-security-policy",
    ] {
        assert!(answer.headers.get(redundant).is_none(), "{redundant}");
    }
}

#[tokio::test]
async fn widget_files_are_served_with_no_cache_and_wasm_type() {
    let app = test_app().await;
    let dist = &app.state.settings.widget_dir;
    std::fs::create_dir_all(dist).unwrap();
    std::fs::write(dist.join("talk_widget_bg.wasm"), b"\0asm").unwrap();
    let answer = app.get("/widget/talk_widget_bg.wasm").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), "application/wasm");
    assert_eq!(answer.header("cache-control"), "no-cache");
    let missing = app.get("/widget/nope.js").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // Customer pages on other origins load the module and the WASM in CORS mode.
    let cross_origin = app
        .request(
            Request::get("/widget/talk_widget_bg.wasm")
                .header("origin", "https://shop.example")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(cross_origin.status, StatusCode::OK);
    assert_eq!(cross_origin.header("access-control-allow-origin"), "*");
}

#[tokio::test]
async fn demo_page_is_off_by_default() {
    let app = test_app().await;
    let answer = app.get("/demo").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.code(), "not_found");
}

#[tokio::test]
async fn demo_page_embeds_capture_key_but_never_the_api_key() {
    let app = test_app_with(|settings| {
        settings.demo_page = true;
        settings.public_url = "https://talk.example.com".into();
    })
    .await;
    let answer = app.get("/demo").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), "text/html; charset=utf-8");
    assert!(answer
        .text
        .contains(&format!("\"{}\"", app.workspace.capture_key)));
    assert!(answer.text.contains("\"https://talk.example.com/\""));
    assert!(answer.text.contains("\"https://talk.example.com/app.js\""));
    assert!(!answer.text.contains(&app.workspace.api_key));
    assert!(!answer.text.contains("{{"));

    let by_key = app
        .get(&format!("/demo?capture_key={}", app.workspace.capture_key))
        .await;
    assert_eq!(by_key.status, StatusCode::OK);
    let unknown = app.get("/demo?capture_key=talk_pk_nope").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn unknown_path_and_wrong_method_answer_json() {
    let app = test_app().await;
    let missing = app.get("/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.code(), "not_found");
    let wrong_method = app.get("/v1/talk/session").await;
    assert_eq!(wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.code(), "method_not_allowed");
    let browser_wrong_method = app.get("/v1/talk/identify").await;
    assert_eq!(browser_wrong_method.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(browser_wrong_method.code(), "method_not_allowed");
    let plain_get_of_socket = app.get("/v1/talk/socket").await;
    assert_eq!(plain_get_of_socket.status, StatusCode::BAD_REQUEST);
    assert_eq!(plain_get_of_socket.code(), "websocket_required");
}

// ---------------------------------------------------------------------------------------------
// POST /v1/talk/session
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn talk_session_api_key_errors() {
    let app = test_app().await;
    let body = Some(person("a@example.com", "A"));
    let missing = app
        .send(Method::POST, "/v1/talk/session", &[], body.clone())
        .await;
    assert_eq!(
        (missing.status, missing.code().as_str()),
        (StatusCode::UNAUTHORIZED, "missing_api_key")
    );

    let unknown = app
        .send(
            Method::POST,
            "/v1/talk/session",
            &[("x-api-key", "talk_sk_nope")],
            body.clone(),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.code().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_api_key")
    );

    workspaces::revoke_api_key(&app.state.db, &app.workspace.api_key)
        .await
        .unwrap();
    let revoked = app.talk_session(person("a@example.com", "A")).await;
    assert_eq!(
        (revoked.status, revoked.code().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_api_key")
    );
}

#[tokio::test]
async fn talk_session_rejects_bad_bodies() {
    let app = test_app().await;
    let api_key = app.workspace.api_key.clone();
    let raw = |body: &'static str, content_type: &'static str| {
        Request::builder()
            .method(Method::POST)
            .uri("/v1/talk/session")
            .header("x-api-key", api_key.clone())
            .header("content-type", content_type)
            .body(Body::from(body))
            .unwrap()
    };
    let malformed = app.request(raw("{not json", "application/json")).await;
    assert_eq!(
        (malformed.status, malformed.code().as_str()),
        (StatusCode::BAD_REQUEST, "invalid_json")
    );
    let wrong_type = app.request(raw("{}", "text/plain")).await;
    assert_eq!(
        (wrong_type.status, wrong_type.code().as_str()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
    );
    let wrong_shape = app
        .request(raw(r#"{"merge_strategy": "two"}"#, "application/json"))
        .await;
    assert_eq!(wrong_shape.code(), "invalid_json");
    assert!(wrong_shape.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("merge_strategy"));

    let big = "x".repeat(70 * 1024);
    let too_large = app
        .talk_session(json!({"fields": {"str::email": "a@example.com", "str::name": big}}))
        .await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(too_large.code(), "payload_too_large");

    let cases: Vec<(Value, StatusCode, &str)> = vec![
        (
            json!({"fields": {"str::name": "A"}}),
            StatusCode::BAD_REQUEST,
            "missing_email",
        ),
        (
            json!({"fields": {"str::email": " ", "str::name": "A"}}),
            StatusCode::BAD_REQUEST,
            "missing_email",
        ),
        (
            json!({"fields": {"str::email": "nope", "str::name": "A"}}),
            StatusCode::BAD_REQUEST,
            "invalid_email",
        ),
        (
            json!({"fields": {"str::email": "a@example.com"}}),
            StatusCode::BAD_REQUEST,
            "missing_name",
        ),
        (
            json!({"fields": {"str::email": "a@example.com", "str::name": ""}}),
            StatusCode::BAD_REQUEST,
            "missing_name",
        ),
        (
            json!({"merge_strategy": 4, "fields": {"str::email": "a@example.com", "str::name": "A"}}),
            StatusCode::BAD_REQUEST,
            "invalid_merge_strategy",
        ),
        (
            json!({"merge_strategy": 0, "fields": {"str::email": "a@example.com", "str::name": "A"}}),
            StatusCode::BAD_REQUEST,
            "invalid_merge_strategy",
        ),
        (
            json!({"find_strategy": 3, "fields": {"str::email": "a@example.com", "str::name": "A"}}),
            StatusCode::BAD_REQUEST,
            "invalid_find_strategy",
        ),
        (
            json!({"merge_by": ["str::email", "str::name", "str::first"], "fields": {"str::email": "a@example.com", "str::name": "A"}}),
            StatusCode::BAD_REQUEST,
            "invalid_merge_by",
        ),
        (
            json!({"merge_by": [], "fields": {"str::email": "a@example.com", "str::name": "A"}}),
            StatusCode::BAD_REQUEST,
            "invalid_merge_by",
        ),
        (
            json!({"merge_by": ["person_id", "str::email"], "fields": {"str::email": "a@example.com", "str::name": "A"}}),
            StatusCode::BAD_REQUEST,
            "invalid_merge_by",
        ),
        (
            json!({"skip_non_existing": true, "fields": {"str::email": "a@example.com", "str::name": "A"}}),
            StatusCode::NOT_FOUND,
            "person_not_found",
        ),
        (
            json!({"skip_non_existing": true, "merge_by": ["person_id"], "person_id": "006281d8ff95c3ed70b70801",
                   "fields": {"str::email": "a@example.com", "str::name": "A"}}),
            StatusCode::NOT_FOUND,
            "person_not_found",
        ),
    ];
    for (body, status, code) in cases {
        let answer = app.talk_session(body.clone()).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (status, code),
            "{body}"
        );
        assert!(!answer.json()["error"]["message"]
            .as_str()
            .unwrap()
            .is_empty());
    }
}

#[tokio::test]
async fn talk_session_creates_then_finds_by_merge_field_then_by_id() {
    let app = test_app().await;
    let created = app
        .talk_session(person("John.Smith@example.com", "John Smith"))
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.text);
    let created = created.json();
    assert_eq!(created["person_status"], "created");
    let person_id = created["person_id"].as_str().unwrap().to_string();
    assert_eq!(person_id.len(), 24);
    let keys: Vec<&String> = created.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["person_id", "person_status", "session_id", "token"]);

    let again = app
        .talk_session(person("  JOHN.SMITH@EXAMPLE.COM ", "John Smith"))
        .await
        .json();
    assert_eq!(again["person_status"], "by-merge-field");
    assert_eq!(again["person_id"], person_id.as_str());
    assert_ne!(again["session_id"], created["session_id"]);

    let mut by_id = person("other@example.com", "John Smith");
    by_id["person_id"] = json!(person_id);
    let by_id = app.talk_session(by_id).await.json();
    assert_eq!(by_id["person_status"], "by-id");
    assert_eq!(by_id["person_id"], person_id.as_str());

    let unknown_id = json!({"person_id": "006281d8ff95c3ed70b70801",
        "fields": {"str::email": "new@example.com", "str::name": "New"}});
    let unknown_id = app.talk_session(unknown_id).await.json();
    assert_eq!(unknown_id["person_status"], "created");
}

#[tokio::test]
async fn talk_session_token_is_a_jwt_naming_its_key() {
    let app = test_app().await;
    let answer = app.talk_session(person("a@example.com", "A")).await.json();
    let token = answer["token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::HS256);
    let (kid, _) = app.signing_key().await;
    assert_eq!(header.kid.as_deref(), Some(kid.as_str()));
}

#[tokio::test]
async fn merge_strategies_decide_what_happens_to_existing_values() {
    let app = test_app().await;
    let email = "ann@example.com";
    let with = |strategy: u8, name: &str| json!({"merge_strategy": strategy, "fields": {"str::email": email, "str::name": name}});
    let read_name = || async {
        let answer = app
            .talk_session(
                json!({"merge_strategy": 3, "fields": {"str::email": email, "str::name": "x"}}),
            )
            .await
            .json();
        let session = app
            .widget_session(&visitor_id(1), answer["token"].as_str())
            .await
            .json();
        assert_eq!(session["verified"], true);
        session["person"]["name"].as_str().unwrap().to_string()
    };

    assert_eq!(
        app.talk_session(with(2, "Ann One")).await.json()["person_status"],
        "created"
    );
    assert_eq!(read_name().await, "Ann One");
    // 1: only fills empty fields.
    app.talk_session(with(1, "Ann Two")).await;
    assert_eq!(read_name().await, "Ann One");
    // 2: overwrites.
    app.talk_session(with(2, "Ann Three")).await;
    assert_eq!(read_name().await, "Ann Three");
    // 3: leaves the person alone.
    app.talk_session(with(3, "Ann Four")).await;
    assert_eq!(read_name().await, "Ann Three");
    // A new person always gets the fields, whatever the strategy.
    let fresh = app
        .talk_session(json!({"merge_strategy": 3, "fields": {"str::email": "bo@example.com", "str::name": "Bo"}}))
        .await
        .json();
    let session = app
        .widget_session(&visitor_id(2), fresh["token"].as_str())
        .await
        .json();
    assert_eq!(session["person"]["name"], "Bo");
}

#[tokio::test]
async fn responses_never_leak_the_api_key_or_signing_secret() {
    let app = test_app().await;
    let (_, secret) = app.signing_key().await;
    let session = app.talk_session(person("a@example.com", "A")).await;
    let widget = app
        .widget_session(&visitor_id(1), session.json()["token"].as_str())
        .await;
    for answer in [&session, &widget] {
        assert_eq!(answer.status, StatusCode::OK);
        assert!(!answer.text.contains(&app.workspace.api_key));
        assert!(!answer.text.contains(&secret));
    }
}

// ---------------------------------------------------------------------------------------------
// POST /v1/talk/widget/session
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn widget_session_without_token_is_anonymous() {
    let app = test_app_with(|settings| {
        settings.public_url = "https://talk.example.com/".into();
        settings.normalize();
    })
    .await;
    let answer = app.widget_session(&visitor_id(1), None).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let body = answer.json();
    assert_eq!(body["verified"], false);
    assert_eq!(body["person"], Value::Null);
    assert_eq!(body["socket_url"], "wss://talk.example.com/v1/talk/socket");
    assert_eq!(
        body["messages_url"],
        "https://talk.example.com/v1/talk/messages"
    );
    assert_eq!(body["identity"]["names_required"], false);
    assert_eq!(body["ice_servers"], json!([]));
    let expires_at = body["session_token_expires_at"].as_i64().unwrap();
    let expected = (now_secs() + 900) * 1000;
    assert!(
        (expires_at - expected).abs() <= 2000,
        "{expires_at} vs {expected}"
    );
}

#[tokio::test]
async fn widget_session_with_token_is_verified_for_the_person() {
    let app = test_app().await;
    let minted = app
        .talk_session(person("Ver@Example.com", "Vera Fied"))
        .await
        .json();
    let answer = app
        .widget_session(&visitor_id(1), minted["token"].as_str())
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let body = answer.json();
    assert_eq!(body["verified"], true);
    assert_eq!(
        body["person"],
        json!({"email": "Ver@Example.com", "first_name": "Vera", "last_name": "Fied",
            "name": "Vera Fied"})
    );
    // Without the token the session is unverified, and this visitor typed nothing: no
    // person's names are shown to it.
    let later = app.widget_session(&visitor_id(1), None).await.json();
    assert_eq!(later["verified"], false);
    assert_eq!(later["person"], Value::Null);
}

#[tokio::test]
async fn widget_session_errors() {
    let app = test_app().await;
    let unknown = app
        .send(
            Method::POST,
            "/v1/talk/widget/session",
            &[],
            Some(json!({"capture_key": "talk_pk_nope", "visitor_id": visitor_id(1)})),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.code().as_str()),
        (StatusCode::NOT_FOUND, "unknown_capture_key")
    );

    for bad in [
        "",
        "abc",
        &visitor_id(1).to_uppercase(),
        &format!("{}0", visitor_id(1)),
        "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
    ] {
        let answer = app.widget_session(bad, None).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (StatusCode::BAD_REQUEST, "invalid_visitor_id"),
            "{bad}"
        );
    }

    let garbled = app.widget_session(&visitor_id(1), Some("not.a.jwt")).await;
    assert_eq!(
        (garbled.status, garbled.code().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );

    let (kid, _) = app.signing_key().await;
    let claims = json!({"typ": "talk", "ws": app.workspace.workspace_id, "sub": "x", "sid": "y",
        "iat": now_secs(), "exp": now_secs() + 3600});
    let forged = sign_with(&kid, "not-the-secret", claims.clone());
    let forged = app.widget_session(&visitor_id(1), Some(&forged)).await;
    assert_eq!(
        (forged.status, forged.code().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );

    let mut expired_claims = claims.clone();
    expired_claims["iat"] = json!(now_secs() - 7200);
    expired_claims["exp"] = json!(now_secs() - 3600);
    let expired = app.sign(expired_claims).await;
    let expired = app.widget_session(&visitor_id(1), Some(&expired)).await;
    assert_eq!(
        (expired.status, expired.code().as_str()),
        (StatusCode::UNAUTHORIZED, "token_expired")
    );

    // A socket token is not a verified-session token.
    let socket_token = app.session_token(&visitor_id(1), None).await;
    let wrong_type = app
        .widget_session(&visitor_id(1), Some(&socket_token))
        .await;
    assert_eq!(wrong_type.code(), "invalid_token");

    // A token from another workspace, signed by that workspace's key.
    let other = talk_server::create_workspace(&app.state.db, "Other")
        .await
        .unwrap();
    let other_token = app
        .send(
            Method::POST,
            "/v1/talk/session",
            &[("x-api-key", &other.api_key)],
            Some(person("a@example.com", "A")),
        )
        .await
        .json();
    let wrong = app
        .widget_session(&visitor_id(1), other_token["token"].as_str())
        .await;
    assert_eq!(
        (wrong.status, wrong.code().as_str()),
        (StatusCode::UNAUTHORIZED, "token_wrong_workspace")
    );
}

#[tokio::test]
async fn widget_session_enforces_allowed_origins() {
    let app = test_app().await;
    workspaces::set_allowed_origins(
        &app.state.db,
        &app.workspace.workspace_id,
        &["https://shop.example.com".to_string()],
    )
    .await
    .unwrap();
    let body = json!({"capture_key": app.workspace.capture_key, "visitor_id": visitor_id(1)});
    let app = &app;
    let post = |origin: Option<&'static str>| {
        let body = body.clone();
        async move {
            let headers: Vec<(&str, &str)> = origin
                .map(|origin| ("origin", origin))
                .into_iter()
                .collect();
            app.send(
                Method::POST,
                "/v1/talk/widget/session",
                &headers,
                Some(body),
            )
            .await
        }
    };
    let foreign = post(Some("https://evil.example.com")).await;
    assert_eq!(
        (foreign.status, foreign.code().as_str()),
        (StatusCode::FORBIDDEN, "origin_not_allowed")
    );
    let absent = post(None).await;
    assert_eq!(absent.code(), "origin_not_allowed");
    let allowed = post(Some("https://shop.example.com")).await;
    assert_eq!(allowed.status, StatusCode::OK, "{}", allowed.text);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        "https://shop.example.com"
    );
}

#[tokio::test]
async fn browser_endpoints_answer_cors_preflight() {
    let app = test_app().await;
    for path in ["/v1/talk/widget/session", "/v1/talk/identify"] {
        let request = Request::builder()
            .method(Method::OPTIONS)
            .uri(path)
            .header("origin", "https://shop.example.com")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type,authorization",
            )
            .body(Body::empty())
            .unwrap();
        let answer = app.request(request).await;
        assert!(answer.status.is_success(), "{path}: {}", answer.status);
        assert_eq!(
            answer.header("access-control-allow-origin"),
            "https://shop.example.com"
        );
        assert_eq!(answer.header("access-control-max-age"), "600");
    }
    // Server-to-server endpoints get no CORS headers.
    let answer = app.talk_session(person("a@example.com", "A")).await;
    assert!(answer.headers.get("access-control-allow-origin").is_none());
}

// ---------------------------------------------------------------------------------------------
// POST /v1/talk/identify
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn identify_errors() {
    let app = test_app().await;
    let body = json!({"email": "a@example.com"});
    let missing = app
        .send(Method::POST, "/v1/talk/identify", &[], Some(body.clone()))
        .await;
    assert_eq!(
        (missing.status, missing.code().as_str()),
        (StatusCode::UNAUTHORIZED, "missing_token")
    );
    let not_bearer = app
        .send(
            Method::POST,
            "/v1/talk/identify",
            &[("authorization", "Basic abc")],
            Some(body.clone()),
        )
        .await;
    assert_eq!(not_bearer.code(), "missing_token");
    let garbled = app.identify("garbage", body.clone()).await;
    assert_eq!(
        (garbled.status, garbled.code().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_token")
    );
    let expired = app
        .sign(json!({"typ": "socket", "ws": app.workspace.workspace_id, "sid": "s", "vid": visitor_id(1),
            "ver": false, "iat": now_secs() - 100, "exp": now_secs() - 10}))
        .await;
    let expired = app.identify(&expired, body.clone()).await;
    assert_eq!(
        (expired.status, expired.code().as_str()),
        (StatusCode::UNAUTHORIZED, "token_expired")
    );
    // A verified-session token is not a session token.
    let talk_token = app.talk_session(person("b@example.com", "B")).await.json();
    let wrong_type = app
        .identify(talk_token["token"].as_str().unwrap(), body.clone())
        .await;
    assert_eq!(wrong_type.code(), "invalid_token");

    let token = app.session_token(&visitor_id(1), None).await;
    for email in [
        "",
        "nope",
        "a@",
        &format!("{}@example.com", "a".repeat(250)),
    ] {
        let answer = app.identify(&token, json!({"email": email})).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (StatusCode::BAD_REQUEST, "invalid_email"),
            "{email}"
        );
    }
    let long = app
        .identify(
            &token,
            json!({"email": "a@example.com", "first_name": "x".repeat(101)}),
        )
        .await;
    assert_eq!(
        (long.status, long.code().as_str()),
        (StatusCode::BAD_REQUEST, "name_too_long")
    );
    let malformed = app.identify(&token, json!({"first_name": "A"})).await;
    assert_eq!(malformed.code(), "invalid_json");

    workspaces::set_names_required(&app.state.db, &app.workspace.workspace_id, true)
        .await
        .unwrap();
    let session = app.widget_session(&visitor_id(1), None).await.json();
    assert_eq!(session["identity"]["names_required"], true);
    let no_last = app
        .identify(
            &token,
            json!({"email": "a@example.com", "first_name": "A", "last_name": "  "}),
        )
        .await;
    assert_eq!(
        (no_last.status, no_last.code().as_str()),
        (StatusCode::BAD_REQUEST, "missing_name")
    );
    let ok = app
        .identify(
            &token,
            json!({"email": "a@example.com", "first_name": "A", "last_name": "B"}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
}

/// Anyone with the capture key can type anyone's email: the answer, and the visitor's later
/// sessions, hold only what this visitor typed, never the names or id stored for that email.
#[tokio::test]
async fn identify_answer_never_reveals_stored_names() {
    let app = test_app().await;
    let minted = app
        .talk_session(json!({"fields": {"str::email": "real@example.com",
        "str::name": "Real Person", "str::first": "Real"}}))
        .await
        .json();
    let real_id = minted["person_id"].as_str().unwrap();
    let reveals_the_stored_person =
        |text: &str| text.contains(real_id) || text.contains("Real") || text.contains("Person");

    let token = app.session_token(&visitor_id(2), None).await;
    let answer = app
        .identify(
            &token,
            json!({"email": " REAL@example.com ", "first_name": "Impostor", "last_name": "Smith"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let typed = json!({"email": "REAL@example.com", "first_name": "Impostor",
        "last_name": "Smith", "name": "Impostor Smith"});
    assert_eq!(answer.json()["person"], typed);
    assert!(!reveals_the_stored_person(&answer.text), "{}", answer.text);

    let later = app.widget_session(&visitor_id(2), None).await;
    assert_eq!(later.json()["verified"], false);
    assert_eq!(later.json()["person"], typed);
    assert!(!later.text.contains(real_id), "{}", later.text);

    // Only an email typed: no name comes back, though the person has one.
    let email_only = app.session_token(&visitor_id(3), None).await;
    let answer = app
        .identify(&email_only, json!({"email": "real@example.com"}))
        .await;
    assert_eq!(
        answer.json()["person"],
        json!({"email": "real@example.com", "first_name": null, "last_name": null, "name": null})
    );
    assert!(!reveals_the_stored_person(&answer.text), "{}", answer.text);

    // The person is untouched by what was typed.
    let stored = app.person_profile(real_id).await["person"].clone();
    assert_eq!(
        stored["fields"],
        json!({"str::email": "real@example.com", "str::name": "Real Person", "str::first": "Real"})
    );

    // A new email: a person with that email alone, and the typed names only in the answer.
    let fresh = app
        .identify(
            &token,
            json!({"email": "new@example.com", "first_name": "New", "last_name": "Comer"}),
        )
        .await
        .json();
    assert_eq!(fresh["person"]["email"], "new@example.com");
    assert_eq!(fresh["person"]["name"], "New Comer");
    assert_eq!(app.people_count().await, 2);
}

/// The impostor is linked to the person for agents (not verified), but agents see its
/// messages and its list entry under the name it typed, not the person's stored name.
#[tokio::test]
async fn agents_see_an_unverified_visitor_by_what_it_typed() {
    let app = test_app().await;
    let minted = app
        .talk_session(json!({"fields": {"str::email": "real@example.com",
        "str::name": "Real Person"}}))
        .await
        .json();
    let token = app.session_token(&visitor_id(2), None).await;
    let identified = app
        .identify(
            &token,
            json!({"email": "real@example.com", "first_name": "Impostor", "last_name": "Smith"}),
        )
        .await;
    assert_eq!(identified.status, StatusCode::OK, "{}", identified.text);
    let bearer = format!("Bearer {token}");
    let sent = app
        .send(
            Method::POST,
            "/v1/talk/messages",
            &[("authorization", &bearer)],
            Some(json!({"type": "send", "body": "Refund me",
                "client_msg_id": "8b1c1c8e-4a4c-4f0e-9a57-3f5d3c2b1a01"})),
        )
        .await;
    assert_eq!(sent.status, StatusCode::OK, "{}", sent.text);
    let message = &sent.json()[0]["message"];
    assert_eq!(message["author"]["name"], "Impostor Smith");
    let conversation_id = message["conversation_id"].as_str().unwrap();

    let stored = app
        .agent(
            Method::GET,
            &format!("/v1/conversations/{conversation_id}/messages"),
            None,
        )
        .await
        .json();
    assert_eq!(
        stored["messages"][0]["author"]["name"], "Impostor Smith",
        "{stored}"
    );

    let cookie = app.admin_cookie().await;
    let listed = app
        .as_agent(&cookie, Method::GET, "/v1/agent/conversations", None)
        .await
        .json();
    let listed = &listed["conversations"][0];
    assert_eq!(listed["verified"], false);
    assert_eq!(listed["contact_name"], "Impostor Smith");
    assert_eq!(listed["contact_email"], "real@example.com");

    let contact = app
        .agent(
            Method::GET,
            &format!("/v1/conversations/{conversation_id}/contact"),
            None,
        )
        .await
        .json();
    assert_eq!(contact["verified"], false);
    assert_eq!(
        contact["person"]["id"], minted["person_id"],
        "the link stays"
    );
    assert_eq!(
        contact["claimed"],
        json!({"email": "real@example.com", "first_name": "Impostor",
            "last_name": "Smith", "name": "Impostor Smith"})
    );
}

// ---------------------------------------------------------------------------------------------
// Agent API
// ---------------------------------------------------------------------------------------------

/// A conversation of an anonymous visitor's widget session.
async fn insert_conversation(app: &TestApp) -> String {
    let session = app.widget_session(&visitor_id(1), None).await.json();
    app.conversation_in_session(session["session_id"].as_str().unwrap())
        .await
}

#[tokio::test]
async fn agent_api_errors() {
    let app = test_app().await;
    let missing = app.send(Method::GET, "/v1/conversations", &[], None).await;
    assert_eq!(
        (missing.status, missing.code().as_str()),
        (StatusCode::UNAUTHORIZED, "missing_api_key")
    );
    let invalid = app
        .send(
            Method::GET,
            "/v1/conversations",
            &[("x-api-key", "nope")],
            None,
        )
        .await;
    assert_eq!(
        (invalid.status, invalid.code().as_str()),
        (StatusCode::UNAUTHORIZED, "invalid_api_key")
    );

    let unknown = app
        .agent(
            Method::GET,
            "/v1/conversations/000000000000000000000000/messages",
            None,
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.code().as_str()),
        (StatusCode::NOT_FOUND, "conversation_not_found")
    );
    let unknown = app
        .agent(
            Method::POST,
            "/v1/conversations/000000000000000000000000/messages",
            Some(json!({"body": "hi"})),
        )
        .await;
    assert_eq!(unknown.code(), "conversation_not_found");

    let conversation_id = insert_conversation(&app).await;
    let uri = format!("/v1/conversations/{conversation_id}/messages");
    let empty = app
        .agent(Method::POST, &uri, Some(json!({"body": "  \n "})))
        .await;
    assert_eq!(
        (empty.status, empty.code().as_str()),
        (StatusCode::BAD_REQUEST, "empty_message")
    );
    let long = app
        .agent(
            Method::POST,
            &uri,
            Some(json!({"body": "x".repeat(talk_protocol::MAX_MESSAGE_BYTES + 1)})),
        )
        .await;
    assert_eq!(
        (long.status, long.code().as_str()),
        (StatusCode::BAD_REQUEST, "message_too_long")
    );

    // Another workspace's key can't see it.
    let other = talk_server::create_workspace(&app.state.db, "Other")
        .await
        .unwrap();
    let foreign = app
        .send(Method::GET, &uri, &[("x-api-key", &other.api_key)], None)
        .await;
    assert_eq!(foreign.code(), "conversation_not_found");
}

#[tokio::test]
async fn agent_replies_are_numbered_and_listed() {
    let app = test_app().await;
    let conversation_id = insert_conversation(&app).await;
    let uri = format!("/v1/conversations/{conversation_id}/messages");
    let first = app
        .agent(Method::POST, &uri, Some(json!({"body": "Hello"})))
        .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let first = first.json();
    assert_eq!(first["seq"], 1);
    assert_eq!(first["author"], json!({"kind": "agent", "name": "Agent"}));
    let second = app
        .agent(
            Method::POST,
            &uri,
            Some(json!({"body": "<b>Hi</b>", "agent_name": "Sam"})),
        )
        .await
        .json();
    assert_eq!(second["seq"], 2);
    assert_eq!(second["author"]["name"], "Sam");

    let listed = app.agent(Method::GET, &uri, None).await.json();
    let seqs: Vec<i64> = listed["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2]);
    assert_eq!(listed["messages"][1]["body"], "<b>Hi</b>");

    let conversations = app
        .agent(Method::GET, "/v1/conversations", None)
        .await
        .json();
    assert_eq!(
        conversations["conversations"][0]["id"],
        conversation_id.as_str()
    );
    assert_eq!(conversations["conversations"][0]["last_seq"], 2);
}
