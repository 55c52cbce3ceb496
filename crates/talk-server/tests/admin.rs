//! The admin API (admin session cookie) and the public widget configuration, in-process
//! against real SQLite files.

mod common;

use axum::http::{Method, StatusCode};
use common::{test_app, visitor_id, Answer, TestApp};
use serde_json::{json, Value};
use talk_server::create_workspace;

impl TestApp {
    async fn admin(&self, method: Method, uri: &str, body: Option<Value>) -> Answer {
        let cookie = self.admin_cookie().await;
        self.as_agent(&cookie, method, uri, body).await
    }
}

fn custom_settings() -> Value {
    json!({
        "enabled": true,
        "homepage": {
            "logo_url": "https://cdn.example.com/logo.png",
            "brand_color": "#FF0066",
            "text_color": "#000000",
            "font_family": "\"Inter\", sans-serif",
            "bot_name": "Acme Bot",
            "bot_photo_url": "https://cdn.example.com/bot.png",
            "greeting": "Hello {{first_name|friend}}!",
            "quick_links": [{"label": "Book a demo", "url": "https://example.com/demo"}],
            "appearance": "dark"
        },
        "launcher": {
            "icon": {"kind": "custom", "url": "https://cdn.example.com/icon.svg"},
            "position": "left",
            "horizontal_margin": 0,
            "vertical_margin": 200,
            "z_index": 2147483647
        },
        "names_required": true,
        "response_times": {"online": "Back in minutes.", "away": "Back tomorrow."},
        "voice": true
    })
}

#[tokio::test]
async fn admin_routes_need_an_admin() {
    let app = test_app().await;
    let anonymous = app.get("/v1/admin/agents").await;
    assert_eq!(
        (anonymous.status, anonymous.code().as_str()),
        (StatusCode::UNAUTHORIZED, "not_signed_in")
    );
    let created = app
        .admin(
            Method::POST,
            "/v1/admin/agents",
            Some(json!({"email": "sam@example.com", "name": "Sam", "role": "agent"})),
        )
        .await
        .json();
    let agent_cookie = app
        .sign_in("sam@example.com", created["password"].as_str().unwrap())
        .await;
    for (method, uri) in [
        (Method::GET, "/v1/admin/agents"),
        (Method::GET, "/v1/admin/widget-settings"),
        (Method::GET, "/v1/admin/allowed-origins"),
        (Method::GET, "/v1/admin/api-keys"),
        (Method::POST, "/v1/admin/api-keys"),
        (Method::GET, "/v1/admin/workspace"),
    ] {
        let answer = app.as_agent(&agent_cookie, method, uri, None).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (StatusCode::FORBIDDEN, "admin_only"),
            "{uri}"
        );
    }
}

#[tokio::test]
async fn widget_settings_round_trip_and_reach_the_public_config() {
    let app = test_app().await;
    let defaults = app
        .admin(Method::GET, "/v1/admin/widget-settings", None)
        .await;
    assert_eq!(defaults.status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<talk_protocol::WidgetSettings>(&defaults.text).unwrap(),
        talk_protocol::WidgetSettings::default()
    );

    let saved = app
        .admin(
            Method::PUT,
            "/v1/admin/widget-settings",
            Some(custom_settings()),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    let mut expected = custom_settings();
    expected["homepage"]["brand_color"] = json!("#ff0066");
    assert_eq!(saved.json(), expected);
    let read = app
        .admin(Method::GET, "/v1/admin/widget-settings", None)
        .await;
    assert_eq!(read.json(), expected);

    let config = app
        .send(
            Method::GET,
            &format!(
                "/v1/talk/widget/config?capture_key={}",
                app.workspace.capture_key
            ),
            &[("origin", "https://shop.example.com")],
            None,
        )
        .await;
    assert_eq!(config.status, StatusCode::OK);
    assert_eq!(
        config.header("access-control-allow-origin"),
        "https://shop.example.com"
    );
    assert_eq!(
        config.json(),
        json!({"settings": expected, "status": "away", "online_agents": []})
    );

    // names_required is the same setting the widget session reports.
    let session = app.widget_session(&visitor_id(1), None).await.json();
    assert_eq!(session["identity"]["names_required"], true);

    // Left-out fields take their defaults.
    let partial = app
        .admin(
            Method::PUT,
            "/v1/admin/widget-settings",
            Some(json!({"enabled": false})),
        )
        .await
        .json();
    assert_eq!(partial["enabled"], false);
    assert_eq!(partial["homepage"]["bot_name"], "Talk Bot");
    assert_eq!(partial["names_required"], false);
}

#[tokio::test]
async fn invalid_widget_settings_are_refused_with_stable_codes() {
    let app = test_app().await;
    let cookie = app.admin_cookie().await;
    let too_many_links: Vec<Value> = (0..11)
        .map(|n| json!({"label": format!("L{n}"), "url": "https://example.com/"}))
        .collect();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "/homepage/logo_url",
            json!("javascript:alert(1)"),
            "invalid_url",
        ),
        (
            "/homepage/bot_photo_url",
            json!("data:image/png;base64,AA"),
            "invalid_url",
        ),
        ("/homepage/brand_color", json!("red"), "invalid_color"),
        ("/homepage/text_color", json!("#fff"), "invalid_color"),
        (
            "/homepage/font_family",
            json!("Arial; color: red"),
            "invalid_font_family",
        ),
        ("/homepage/bot_name", json!("  "), "invalid_bot_name"),
        (
            "/homepage/greeting",
            json!("Hi {{password}}"),
            "invalid_greeting",
        ),
        (
            "/homepage/quick_links",
            json!(too_many_links),
            "too_many_quick_links",
        ),
        (
            "/homepage/quick_links",
            json!([{"label": "x", "url": "ftp://example.com/"}]),
            "invalid_url",
        ),
        (
            "/homepage/quick_links",
            json!([{"label": "", "url": "https://example.com/"}]),
            "invalid_quick_link_label",
        ),
        (
            "/launcher/icon",
            json!({"kind": "custom", "url": "javascript:alert(1)"}),
            "invalid_url",
        ),
        ("/launcher/horizontal_margin", json!(201), "invalid_margin"),
        ("/launcher/vertical_margin", json!(-1), "invalid_json"),
        (
            "/launcher/z_index",
            json!(2_147_483_648u64),
            "invalid_z_index",
        ),
        ("/launcher/position", json!("top"), "invalid_json"),
        (
            "/response_times/away",
            json!("x".repeat(121)),
            "response_time_too_long",
        ),
    ];
    for (pointer, value, code) in cases {
        let mut settings = custom_settings();
        *settings.pointer_mut(pointer).unwrap() = value;
        let answer = app
            .as_agent(
                &cookie,
                Method::PUT,
                "/v1/admin/widget-settings",
                Some(settings),
            )
            .await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (StatusCode::BAD_REQUEST, code),
            "{pointer}: {}",
            answer.text
        );
    }
    // Nothing was stored.
    let stored = app
        .as_agent(&cookie, Method::GET, "/v1/admin/widget-settings", None)
        .await;
    assert_eq!(stored.json()["homepage"]["bot_name"], "Talk Bot");
}

#[tokio::test]
async fn widget_config_needs_a_known_capture_key() {
    let app = test_app().await;
    let unknown = app
        .get("/v1/talk/widget/config?capture_key=talk_pk_nope")
        .await;
    assert_eq!(
        (unknown.status, unknown.code().as_str()),
        (StatusCode::NOT_FOUND, "unknown_capture_key")
    );
    let missing = app.get("/v1/talk/widget/config").await;
    assert_eq!(
        (missing.status, missing.code().as_str()),
        (StatusCode::BAD_REQUEST, "missing_capture_key")
    );
}

#[tokio::test]
async fn allowed_origins_are_validated_normalised_and_enforced() {
    let app = test_app().await;
    let cookie = app.admin_cookie().await;
    let empty = app
        .as_agent(&cookie, Method::GET, "/v1/admin/allowed-origins", None)
        .await;
    assert_eq!(empty.json(), json!({"origins": []}));

    let saved = app
        .as_agent(
            &cookie,
            Method::PUT,
            "/v1/admin/allowed-origins",
            Some(json!({"origins": ["https://Shop.Example.com/", "https://shop.example.com:443", "http://localhost:3000"]})),
        )
        .await;
    assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
    let expected = json!({"origins": ["https://shop.example.com", "http://localhost:3000"]});
    assert_eq!(saved.json(), expected);
    let read = app
        .as_agent(&cookie, Method::GET, "/v1/admin/allowed-origins", None)
        .await;
    assert_eq!(read.json(), expected);

    // The widget session enforces them.
    let body = json!({"capture_key": app.workspace.capture_key, "visitor_id": visitor_id(1)});
    let refused = app
        .send(
            Method::POST,
            "/v1/talk/widget/session",
            &[("origin", "https://evil.example")],
            Some(body.clone()),
        )
        .await;
    assert_eq!(refused.code(), "origin_not_allowed");
    let allowed = app
        .send(
            Method::POST,
            "/v1/talk/widget/session",
            &[("origin", "https://shop.example.com")],
            Some(body),
        )
        .await;
    assert_eq!(allowed.status, StatusCode::OK);

    for bad in [
        "shop.example.com",
        "https://shop.example.com/path",
        "javascript:alert(1)",
    ] {
        let answer = app
            .as_agent(
                &cookie,
                Method::PUT,
                "/v1/admin/allowed-origins",
                Some(json!({"origins": [bad]})),
            )
            .await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (StatusCode::BAD_REQUEST, "invalid_origin"),
            "{bad}"
        );
    }
    let too_many: Vec<String> = (0..101)
        .map(|n| format!("https://s{n}.example.com"))
        .collect();
    let answer = app
        .as_agent(
            &cookie,
            Method::PUT,
            "/v1/admin/allowed-origins",
            Some(json!({"origins": too_many})),
        )
        .await;
    assert_eq!(answer.code(), "too_many_origins");
    let unchanged = app
        .as_agent(&cookie, Method::GET, "/v1/admin/allowed-origins", None)
        .await;
    assert_eq!(unchanged.json(), expected);
}

#[tokio::test]
async fn agents_are_added_listed_reset_and_removed() {
    let app = test_app().await;
    let cookie = app.admin_cookie().await;
    let created = app
        .as_agent(
            &cookie,
            Method::POST,
            "/v1/admin/agents",
            Some(
                json!({"email": " Sam@Example.com ", "name": " Sam ", "role": "agent",
                        "photo_url": "https://cdn.example.com/sam.png"}),
            ),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let created = created.json();
    let sam = created["agent"].clone();
    assert_eq!(sam["email"], "sam@example.com");
    assert_eq!(sam["name"], "Sam");
    assert_eq!(sam["role"], "agent");
    assert_eq!(sam["photo_url"], "https://cdn.example.com/sam.png");
    let password = created["password"].as_str().unwrap().to_string();
    assert!(password.len() >= 16);
    let sam_cookie = app.sign_in("sam@example.com", &password).await;

    let listed = app
        .as_agent(&cookie, Method::GET, "/v1/admin/agents", None)
        .await
        .json();
    let emails: Vec<&str> = listed["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|agent| agent["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        [app.workspace.admin_email.as_str(), "sam@example.com"]
    );
    assert!(!listed.to_string().contains("password"));

    let refusals = [
        (
            json!({"email": "SAM@example.com", "name": "Sam 2", "role": "agent"}),
            StatusCode::CONFLICT,
            "email_taken",
        ),
        (
            json!({"email": "not-an-email", "name": "X", "role": "agent"}),
            StatusCode::BAD_REQUEST,
            "invalid_email",
        ),
        (
            json!({"email": "x@example.com", "name": " ", "role": "agent"}),
            StatusCode::BAD_REQUEST,
            "invalid_name",
        ),
        (
            json!({"email": "x@example.com", "name": "X", "role": "agent", "photo_url": "javascript:alert(1)"}),
            StatusCode::BAD_REQUEST,
            "invalid_url",
        ),
        (
            json!({"email": "x@example.com", "name": "X", "role": "owner"}),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
    ];
    for (body, status, code) in refusals {
        let answer = app
            .as_agent(&cookie, Method::POST, "/v1/admin/agents", Some(body))
            .await;
        assert_eq!((answer.status, answer.code().as_str()), (status, code));
    }

    // A reset replaces the password and signs the agent out.
    let sam_id = sam["id"].as_str().unwrap();
    let reset = app
        .as_agent(
            &cookie,
            Method::POST,
            &format!("/v1/admin/agents/{sam_id}/reset-password"),
            None,
        )
        .await;
    assert_eq!(reset.status, StatusCode::OK);
    let new_password = reset.json()["password"].as_str().unwrap().to_string();
    assert_ne!(new_password, password);
    let me = app
        .as_agent(&sam_cookie, Method::GET, "/v1/agent/me", None)
        .await;
    assert_eq!(me.code(), "not_signed_in");
    assert_eq!(
        app.login("sam@example.com", &password).await.code(),
        "invalid_credentials"
    );
    let sam_cookie = app.sign_in("sam@example.com", &new_password).await;

    let admin_id = app
        .as_agent(&cookie, Method::GET, "/v1/agent/me", None)
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let self_removal = app
        .as_agent(
            &cookie,
            Method::DELETE,
            &format!("/v1/admin/agents/{admin_id}"),
            None,
        )
        .await;
    assert_eq!(
        (self_removal.status, self_removal.code().as_str()),
        (StatusCode::BAD_REQUEST, "cannot_remove_self")
    );
    let removed = app
        .as_agent(
            &cookie,
            Method::DELETE,
            &format!("/v1/admin/agents/{sam_id}"),
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let me = app
        .as_agent(&sam_cookie, Method::GET, "/v1/agent/me", None)
        .await;
    assert_eq!(me.code(), "not_signed_in");
    for (method, uri) in [
        (Method::DELETE, format!("/v1/admin/agents/{sam_id}")),
        (
            Method::POST,
            format!("/v1/admin/agents/{sam_id}/reset-password"),
        ),
    ] {
        let answer = app.as_agent(&cookie, method, &uri, None).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (StatusCode::NOT_FOUND, "agent_not_found")
        );
    }
}

#[tokio::test]
async fn admins_reach_only_their_own_workspace() {
    let app = test_app().await;
    let other = create_workspace(&app.state.db, "Other").await.unwrap();
    let other_cookie = app.sign_in(&other.admin_email, &other.admin_password).await;
    let first_admin_id = app
        .as_agent(&app.admin_cookie().await, Method::GET, "/v1/agent/me", None)
        .await
        .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let listed = app
        .as_agent(&other_cookie, Method::GET, "/v1/admin/agents", None)
        .await
        .json();
    assert_eq!(listed["agents"].as_array().unwrap().len(), 1);
    assert_eq!(listed["agents"][0]["email"], other.admin_email.as_str());
    let answer = app
        .as_agent(
            &other_cookie,
            Method::DELETE,
            &format!("/v1/admin/agents/{first_admin_id}"),
            None,
        )
        .await;
    assert_eq!(answer.code(), "agent_not_found");

    let keys = app
        .as_agent(
            &app.admin_cookie().await,
            Method::GET,
            "/v1/admin/api-keys",
            None,
        )
        .await
        .json();
    let first_key_id = keys["api_keys"][0]["id"].as_str().unwrap();
    let answer = app
        .as_agent(
            &other_cookie,
            Method::DELETE,
            &format!("/v1/admin/api-keys/{first_key_id}"),
            None,
        )
        .await;
    assert_eq!(answer.code(), "api_key_not_found");
    let still_works = app.agent(Method::GET, "/v1/conversations", None).await;
    assert_eq!(still_works.status, StatusCode::OK);
}

#[tokio::test]
async fn workspace_info_names_the_admins_own_workspace_and_no_secret() {
    let app = test_app().await;
    let other = create_workspace(&app.state.db, "Other").await.unwrap();
    let other_cookie = app.sign_in(&other.admin_email, &other.admin_password).await;
    let own = app.admin(Method::GET, "/v1/admin/workspace", None).await;
    assert_eq!(own.status, StatusCode::OK);
    let own = own.json();
    assert_eq!(own["capture_key"], app.workspace.capture_key.as_str());
    assert_eq!(own["id"], app.workspace.workspace_id.as_str());
    assert_eq!(
        own.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["capture_key", "id", "name"]
    );
    let theirs = app
        .as_agent(&other_cookie, Method::GET, "/v1/admin/workspace", None)
        .await
        .json();
    assert_eq!(theirs["capture_key"], other.capture_key.as_str());
    assert_eq!(theirs["name"], "Other");
    let anonymous = app.get("/v1/admin/workspace").await;
    assert_eq!(anonymous.code(), "not_signed_in");
}

#[tokio::test]
async fn api_keys_are_shown_once_listed_by_prefix_and_revoked() {
    let app = test_app().await;
    let cookie = app.admin_cookie().await;
    let listed = app
        .as_agent(&cookie, Method::GET, "/v1/admin/api-keys", None)
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    let keys = listed.json()["api_keys"].clone();
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert_eq!(keys[0]["prefix"], &app.workspace.api_key[8..16]);
    assert_eq!(keys[0]["revoked_at"], Value::Null);
    assert!(!listed.text.contains(&app.workspace.api_key));

    let created = app
        .as_agent(&cookie, Method::POST, "/v1/admin/api-keys", None)
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let created = created.json();
    let key = created["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("talk_sk_"));
    assert_eq!(created["prefix"], &key[8..16]);
    let with_new_key = app
        .send(
            Method::GET,
            "/v1/conversations",
            &[("x-api-key", &key)],
            None,
        )
        .await;
    assert_eq!(with_new_key.status, StatusCode::OK);

    let listed = app
        .as_agent(&cookie, Method::GET, "/v1/admin/api-keys", None)
        .await;
    assert_eq!(listed.json()["api_keys"].as_array().unwrap().len(), 2);
    assert!(!listed.text.contains(&key));

    let key_id = created["id"].as_str().unwrap();
    let revoked = app
        .as_agent(
            &cookie,
            Method::DELETE,
            &format!("/v1/admin/api-keys/{key_id}"),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    let refused = app
        .send(
            Method::GET,
            "/v1/conversations",
            &[("x-api-key", &key)],
            None,
        )
        .await;
    assert_eq!(refused.code(), "invalid_api_key");
    let listed = app
        .as_agent(&cookie, Method::GET, "/v1/admin/api-keys", None)
        .await
        .json();
    assert!(listed["api_keys"][1]["revoked_at"].is_i64());
    assert_eq!(listed["api_keys"][0]["revoked_at"], Value::Null);

    let unknown = app
        .as_agent(&cookie, Method::DELETE, "/v1/admin/api-keys/nope", None)
        .await;
    assert_eq!(
        (unknown.status, unknown.code().as_str()),
        (StatusCode::NOT_FOUND, "api_key_not_found")
    );
}
