//! Page views (`POST /v1/talk/track`) and the agent endpoints that show them with the
//! contact: `GET /v1/conversations/{id}/contact` and `GET /v1/people/{id}`.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{test_app, test_app_with, visitor_id, TestApp};
use serde_json::{json, Value};
use talk_server::workspaces;

fn page(path: &str) -> Value {
    json!({"url": format!("https://shop.example.com{path}"), "title": format!("Title {path}")})
}

async fn view(app: &TestApp, visitor: &str, path: &str) {
    let answer = app.track(visitor, page(path)).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    assert!(answer.text.is_empty());
}

fn paths(page_views: &Value) -> Vec<String> {
    page_views
        .as_array()
        .unwrap()
        .iter()
        .map(|view| {
            view["url"]
                .as_str()
                .unwrap()
                .trim_start_matches("https://shop.example.com")
                .to_string()
        })
        .collect()
}

/// A widget session's id (verified when a token is given).
async fn session(app: &TestApp, visitor: &str, token: Option<&str>) -> String {
    let answer = app.widget_session(visitor, token).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.json()["session_id"].as_str().unwrap().to_string()
}

async fn contact(app: &TestApp, conversation_id: &str) -> Value {
    let answer = app
        .agent(
            Method::GET,
            &format!("/v1/conversations/{conversation_id}/contact"),
            None,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    answer.json()
}

#[tokio::test]
async fn track_validates_its_input() {
    let app = test_app().await;
    let unknown = app
        .send(
            Method::POST,
            "/v1/talk/track",
            &[],
            Some(
                json!({"capture_key": "talk_pk_nope", "visitor_id": visitor_id(1),
                "url": "https://shop.example.com/"}),
            ),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.code().as_str()),
        (StatusCode::NOT_FOUND, "unknown_capture_key")
    );
    let bad_visitor = app.track("ABC", page("/")).await;
    assert_eq!(
        (bad_visitor.status, bad_visitor.code().as_str()),
        (StatusCode::BAD_REQUEST, "invalid_visitor_id")
    );

    let long_url = format!("https://shop.example.com/{}", "a".repeat(2048));
    let cases: Vec<(Value, &str)> = vec![
        (json!({"url": "/relative"}), "invalid_url"),
        (json!({"url": "javascript:alert(1)"}), "invalid_url"),
        (json!({"url": "ftp://shop.example.com/"}), "invalid_url"),
        (json!({"url": "https://"}), "invalid_url"),
        (json!({"url": ""}), "invalid_url"),
        (json!({"url": long_url}), "invalid_url"),
        (
            json!({"url": "https://shop.example.com/", "title": "t".repeat(513)}),
            "field_too_long",
        ),
        (
            json!({"url": "https://shop.example.com/", "referrer": long_url}),
            "field_too_long",
        ),
        (
            json!({"url": "https://shop.example.com/", "referrer": "javascript:alert(1)"}),
            "invalid_url",
        ),
    ];
    for (body, code) in cases {
        let answer = app.track(&visitor_id(1), body.clone()).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (StatusCode::BAD_REQUEST, code),
            "{body}"
        );
    }
    let missing_url = app.track(&visitor_id(1), json!({})).await;
    assert_eq!(missing_url.code(), "invalid_json");

    // Limits are inclusive; blank title and referrer mean none.
    let at_limits = format!("https://shop.example.com/{}", "a".repeat(2048 - 25));
    assert_eq!(at_limits.len(), 2048);
    let answer = app
        .track(
            &visitor_id(1),
            json!({"url": at_limits, "title": "é".repeat(512), "referrer": " "}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    let conversation_id = app
        .conversation_in_session(&session(&app, &visitor_id(1), None).await)
        .await;
    let shown = contact(&app, &conversation_id).await;
    assert_eq!(shown["current_page"]["url"], at_limits.as_str());
    assert_eq!(shown["current_page"]["referrer"], Value::Null);
}

#[tokio::test]
async fn track_is_a_browser_endpoint_with_the_workspace_origin_check() {
    let app = test_app().await;
    workspaces::set_allowed_origins(
        &app.state.db,
        &app.workspace.workspace_id,
        &["https://shop.example.com".to_string()],
    )
    .await
    .unwrap();
    let body = json!({"capture_key": app.workspace.capture_key, "visitor_id": visitor_id(1),
        "url": "https://shop.example.com/"});
    let foreign = app
        .send(
            Method::POST,
            "/v1/talk/track",
            &[("origin", "https://evil.example.com")],
            Some(body.clone()),
        )
        .await;
    assert_eq!(
        (foreign.status, foreign.code().as_str()),
        (StatusCode::FORBIDDEN, "origin_not_allowed")
    );
    let allowed = app
        .send(
            Method::POST,
            "/v1/talk/track",
            &[("origin", "https://shop.example.com")],
            Some(body.clone()),
        )
        .await;
    assert_eq!(allowed.status, StatusCode::NO_CONTENT, "{}", allowed.text);
    // `*`: no credentials are involved, so it allows what a mirrored origin did, without the
    // `Vary: origin` a mirrored origin needs.
    assert_eq!(allowed.header("access-control-allow-origin"), "*");
    assert_eq!(allowed.header("vary"), "");

    let preflight = Request::builder()
        .method(Method::OPTIONS)
        .uri("/v1/talk/track")
        .header("origin", "https://shop.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .body(Body::empty())
        .unwrap();
    let preflight = app.request(preflight).await;
    assert!(preflight.status.is_success(), "{}", preflight.status);
    // Still answered: a loader cached before the page view became a simple request sends
    // `application/json`.
    assert_eq!(preflight.header("access-control-allow-origin"), "*");
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        "content-type"
    );

    // As a simple request (`text/plain`, no preflight) the origin check is the same.
    let plain = |origin: &'static str| {
        track_from(&app, origin, "text/plain;charset=UTF-8", body.to_string())
    };
    let foreign = plain("https://evil.example.com").await;
    assert_eq!(
        (foreign.status, foreign.code().as_str()),
        (StatusCode::FORBIDDEN, "origin_not_allowed")
    );
    assert_eq!(
        plain("https://shop.example.com").await.status,
        StatusCode::NO_CONTENT
    );
}

/// `POST /v1/talk/track` with a body of this content type, as a page's `fetch` sends it.
async fn track_as(app: &TestApp, content_type: &str, body: impl Into<Body>) -> common::Answer {
    track_from(app, "https://shop.example.com", content_type, body).await
}

async fn track_from(
    app: &TestApp,
    origin: &str,
    content_type: &str,
    body: impl Into<Body>,
) -> common::Answer {
    let request = Request::builder()
        .method(Method::POST)
        .uri("/v1/talk/track")
        .header("origin", origin)
        .header("content-type", content_type)
        .body(body.into())
        .unwrap();
    app.request(request).await
}

#[tokio::test]
async fn track_takes_its_json_as_text_plain_parsed_as_strictly() {
    let app = test_app().await;
    let body = json!({"capture_key": app.workspace.capture_key, "visitor_id": visitor_id(1),
        "url": "https://shop.example.com/plain", "title": "Plain", "referrer": ""});
    // What fetch sends for a string body without a Content-Type: a CORS simple request.
    let answer = track_as(&app, "text/plain;charset=UTF-8", body.to_string()).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    // A 204 has nothing to show: no document headers, no body.
    assert_eq!(answer.text, "");
    assert_eq!(answer.header("x-frame-options"), "");
    assert_eq!(answer.header("content-security-policy"), "");
    assert_eq!(answer.header("x-content-type-options"), "nosniff");
    let conversation_id = app
        .conversation_in_session(&session(&app, &visitor_id(1), None).await)
        .await;
    let shown = contact(&app, &conversation_id).await;
    assert_eq!(
        shown["current_page"]["url"],
        "https://shop.example.com/plain"
    );
    assert_eq!(shown["current_page"]["title"], "Plain");

    // Bad JSON: the same code and message whichever way it came.
    let mut missing_url = body.clone();
    missing_url.as_object_mut().unwrap().remove("url");
    for bad in [
        "{\"capture_key\":".to_string(),
        "not json".to_string(),
        missing_url.to_string(),
        json!([body.clone()]).to_string(),
        String::new(),
    ] {
        let plain = track_as(&app, "text/plain;charset=UTF-8", bad.clone()).await;
        let json = track_as(&app, "application/json", bad.clone()).await;
        assert_eq!(
            (plain.status, plain.code().as_str()),
            (StatusCode::BAD_REQUEST, "invalid_json"),
            "{bad:?}: {}",
            plain.text
        );
        assert_eq!(plain.text, json.text, "{bad:?}");
    }
    // Unknown fields are ignored, as for application/json; validation is the same.
    let mut invalid_url = body.clone();
    invalid_url["url"] = json!("javascript:alert(1)");
    let answer = track_as(&app, "text/plain", invalid_url.to_string()).await;
    assert_eq!(answer.code(), "invalid_url");
    let answer = track_as(&app, "TEXT/PLAIN; charset=utf-8", body.to_string()).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);

    // Other content types stay refused, and the size limit holds.
    for other in [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/html",
    ] {
        let answer = track_as(&app, other, body.to_string()).await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            "{other}"
        );
    }
    let huge = json!({"capture_key": app.workspace.capture_key, "visitor_id": visitor_id(1),
        "url": "https://shop.example.com/", "title": "t".repeat(70 * 1024)});
    let answer = track_as(&app, "text/plain;charset=UTF-8", huge.to_string()).await;
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
}

#[tokio::test]
async fn a_text_plain_page_view_is_rate_limited_like_the_rest() {
    let app = test_app_with(|settings| settings.browser_requests_per_minute = 2).await;
    let body = json!({"capture_key": app.workspace.capture_key, "visitor_id": visitor_id(1),
        "url": "https://shop.example.com/"})
    .to_string();
    for _ in 0..2 {
        let answer = track_as(&app, "text/plain;charset=UTF-8", body.clone()).await;
        assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.text);
    }
    let limited = track_as(&app, "text/plain;charset=UTF-8", body).await;
    assert_eq!(
        (limited.status, limited.code().as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    // A page can read the 429.
    assert_eq!(limited.header("access-control-allow-origin"), "*");
}

#[tokio::test]
async fn history_follows_the_visitor_and_only_verified_visitors_join_a_verified_contact() {
    let app = test_app().await;
    let minted = app
        .talk_session(
            json!({"fields": {"str::email": "ann@example.com", "str::name": "Ann Lee"},
            "location": {"source_ip": "203.0.113.9"}}),
        )
        .await
        .json();
    let token = minted["token"].as_str().unwrap();
    let ann_id = minted["person_id"].as_str().unwrap();
    let (laptop, phone, impostor, stranger) =
        (visitor_id(1), visitor_id(2), visitor_id(3), visitor_id(4));

    // Ann browses anonymously first, then signs in: earlier views become hers.
    view(&app, &laptop, "/home").await;
    let laptop_session = session(&app, &laptop, Some(token)).await;
    view(&app, &laptop, "/pricing").await;
    // Her phone is verified too.
    session(&app, &phone, Some(token)).await;
    view(&app, &phone, "/phone").await;
    // Someone types Ann's email: known as Ann, but not verified.
    let impostor_token = app.session_token(&impostor, None).await;
    view(&app, &impostor, "/before-claim").await;
    let claimed = app
        .identify(&impostor_token, json!({"email": "ann@example.com"}))
        .await;
    assert_eq!(claimed.status, StatusCode::OK, "{}", claimed.text);
    view(&app, &impostor, "/impostor").await;
    let impostor_session = session(&app, &impostor, None).await;
    view(&app, &stranger, "/stranger").await;
    let stranger_session = session(&app, &stranger, None).await;

    // A verified conversation: its visitor's views and those of Ann's other verified visitors.
    let verified = contact(&app, &app.conversation_in_session(&laptop_session).await).await;
    assert_eq!(verified["verified"], true);
    assert_eq!(verified["visitor_id"], laptop.as_str());
    assert_eq!(
        paths(&verified["page_views"]),
        ["/phone", "/pricing", "/home"]
    );
    assert_eq!(
        verified["current_page"]["url"],
        "https://shop.example.com/pricing"
    );
    assert_eq!(verified["current_page"]["title"], "Title /pricing");
    assert_eq!(verified["current_page"]["visitor_id"], laptop.as_str());
    let person = &verified["person"];
    assert_eq!(person["id"], ann_id);
    assert_eq!(person["email"], "ann@example.com");
    assert_eq!(person["first_name"], "Ann");
    assert_eq!(person["last_name"], "Lee");
    assert_eq!(person["name"], "Ann Lee");
    assert_eq!(person["last_seen_ip"], "203.0.113.9");
    assert_eq!(person["fields"]["str::email"], "ann@example.com");
    assert!(person["created_at"].as_i64().unwrap() > 0);

    // An unverified conversation shows only its own visitor's views, never Ann's.
    let unverified = contact(&app, &app.conversation_in_session(&impostor_session).await).await;
    assert_eq!(unverified["verified"], false);
    assert_eq!(unverified["person"]["id"], ann_id, "who it claims to be");
    assert_eq!(
        paths(&unverified["page_views"]),
        ["/impostor", "/before-claim"]
    );

    // Nobody known: no person, just the visitor's views.
    let anonymous = contact(&app, &app.conversation_in_session(&stranger_session).await).await;
    assert_eq!(anonymous["person"], Value::Null);
    assert_eq!(paths(&anonymous["page_views"]), ["/stranger"]);

    // The person's own page: every visitor linked to or verified as Ann.
    let profile = app.person_profile(ann_id).await;
    assert_eq!(profile["person"]["id"], ann_id);
    assert_eq!(
        paths(&profile["page_views"]),
        ["/impostor", "/before-claim", "/phone", "/pricing", "/home"]
    );
}

#[tokio::test]
async fn page_views_are_capped_at_the_newest_hundred() {
    let app = test_app().await;
    for n in 0..105 {
        view(&app, &visitor_id(1), &format!("/{n}")).await;
    }
    let conversation_id = app
        .conversation_in_session(&session(&app, &visitor_id(1), None).await)
        .await;
    let shown = paths(&contact(&app, &conversation_id).await["page_views"]);
    let expected: Vec<String> = (5..105).rev().map(|n| format!("/{n}")).collect();
    assert_eq!(shown, expected);
}

#[tokio::test]
async fn contact_endpoints_are_for_agents_only() {
    let app = test_app().await;
    let minted = app
        .talk_session(json!({"fields": {"str::email": "ann@example.com", "str::name": "Ann"}}))
        .await
        .json();
    let ann_id = minted["person_id"].as_str().unwrap();
    let session_answer = app
        .widget_session(&visitor_id(1), minted["token"].as_str())
        .await;
    let session_json = session_answer.json();
    let conversation_id = app
        .conversation_in_session(session_json["session_id"].as_str().unwrap())
        .await;
    let contact_uri = format!("/v1/conversations/{conversation_id}/contact");
    let person_uri = format!("/v1/people/{ann_id}");

    // A visitor's own session token opens neither.
    let bearer = format!("Bearer {}", session_json["session_token"].as_str().unwrap());
    for uri in [&contact_uri, &person_uri] {
        let answer = app
            .send(Method::GET, uri, &[("authorization", &bearer)], None)
            .await;
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (StatusCode::UNAUTHORIZED, "missing_api_key"),
            "{uri}"
        );
    }
    // Another workspace's key sees nothing of this one.
    let other = talk_server::create_workspace(&app.state.db, "Other")
        .await
        .unwrap();
    let foreign = |uri: String| {
        let api_key = other.api_key.clone();
        let app = &app;
        async move {
            app.send(Method::GET, &uri, &[("x-api-key", &api_key)], None)
                .await
        }
    };
    assert_eq!(
        foreign(contact_uri.clone()).await.code(),
        "conversation_not_found"
    );
    assert_eq!(foreign(person_uri.clone()).await.code(), "person_not_found");

    let unknown_conversation = app
        .agent(
            Method::GET,
            "/v1/conversations/000000000000000000000000/contact",
            None,
        )
        .await;
    assert_eq!(
        (
            unknown_conversation.status,
            unknown_conversation.code().as_str()
        ),
        (StatusCode::NOT_FOUND, "conversation_not_found")
    );
    let unknown_person = app
        .agent(Method::GET, "/v1/people/000000000000000000000000", None)
        .await;
    assert_eq!(
        (unknown_person.status, unknown_person.code().as_str()),
        (StatusCode::NOT_FOUND, "person_not_found")
    );
}
