//! Rate limits, security headers and the OpenAPI document, in-process.

mod common;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode};
use common::{test_app, test_app_with};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::net::SocketAddr;

#[tokio::test]
async fn browser_endpoints_are_rate_limited_per_ip() {
    let app = test_app_with(|settings| settings.browser_requests_per_minute = 2).await;
    let uri = format!(
        "/v1/talk/widget/config?capture_key={}",
        app.workspace.capture_key
    );
    let origin = [("origin", "https://shop.example.com")];
    for _ in 0..2 {
        assert_eq!(
            app.send(Method::GET, &uri, &origin, None).await.status,
            StatusCode::OK
        );
    }
    // The budget is shared by every browser endpoint.
    let limited = app
        .send(
            Method::POST,
            "/v1/talk/widget/session",
            &origin,
            Some(json!({"capture_key": app.workspace.capture_key, "visitor_id": common::visitor_id(1)})),
        )
        .await;
    assert_eq!(
        (limited.status, limited.code().as_str()),
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited")
    );
    let retry_after: u64 = limited.header("retry-after").parse().unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    // A page can read the 429.
    assert_eq!(
        limited.header("access-control-allow-origin"),
        "https://shop.example.com"
    );
    // Preflights don't count and aren't refused.
    let preflight = app
        .send(
            Method::OPTIONS,
            "/v1/talk/widget/session",
            &[
                ("origin", "https://shop.example.com"),
                ("access-control-request-method", "POST"),
            ],
            None,
        )
        .await;
    assert_eq!(preflight.status, StatusCode::OK);

    let mut elsewhere = Request::get(&uri).body(Body::empty()).unwrap();
    elsewhere
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 1], 443))));
    assert_eq!(app.request(elsewhere).await.status, StatusCode::OK);
    // Server-to-server endpoints are not limited by it.
    assert_eq!(
        app.agent(Method::GET, "/v1/conversations", None)
            .await
            .status,
        StatusCode::OK
    );
}

/// Behind a load balancer every request comes from the balancer: only a peer listed in
/// `trusted_proxies` has its `X-Forwarded-For` believed, so each visitor keeps a budget of
/// its own there and nobody else can pick one by writing the header.
#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_rate_limited() {
    let app = test_app_with(|settings| {
        settings.browser_requests_per_minute = 2;
        settings.trusted_proxies = "10.0.0.0/8".parse().unwrap();
    })
    .await;
    let uri = format!(
        "/v1/talk/widget/config?capture_key={}",
        app.workspace.capture_key
    );
    let via = |peer: [u8; 4], forwarded: &str| {
        let mut request = Request::get(&uri)
            .header("x-forwarded-for", forwarded)
            .body(Body::empty())
            .unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((peer, 40_000))));
        request
    };
    let balancer = [10, 0, 0, 5];
    for _ in 0..2 {
        let answer = app.request(via(balancer, "198.51.100.1")).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    let over = app.request(via(balancer, "198.51.100.1")).await;
    assert_eq!(over.status, StatusCode::TOO_MANY_REQUESTS);
    // Another visitor through the same balancer has its own budget, even one that forged
    // an address left of what the balancer appended.
    let other = app
        .request(via(balancer, "198.51.100.1, 198.51.100.2"))
        .await;
    assert_eq!(other.status, StatusCode::OK);
    // An untrusted peer's header is ignored: it is limited as itself, whatever it writes.
    for forged in ["203.0.113.1", "203.0.113.2"] {
        let answer = app.request(via([192, 0, 2, 7], forged)).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    let forged = app.request(via([192, 0, 2, 7], "203.0.113.3")).await;
    assert_eq!(forged.status, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn every_response_carries_security_headers() {
    let app = test_app().await;
    for uri in ["/healthz", "/v1/conversations", "/nope"] {
        let answer = app.get(uri).await;
        assert_eq!(answer.header("x-content-type-options"), "nosniff", "{uri}");
        assert_eq!(answer.header("x-frame-options"), "DENY", "{uri}");
        assert!(
            answer
                .header("content-security-policy")
                .starts_with("default-src 'none'"),
            "{uri}"
        );
    }
    // Scripts and stylesheets never become a document: nosniff only, since every page view
    // of every site fetches the loader and the launcher's stylesheet.
    let launcher = format!(
        "/v1/talk/widget/launcher.css?capture_key={}",
        app.workspace.capture_key
    );
    for uri in ["/app.js", launcher.as_str()] {
        let answer = app.get(uri).await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}");
        assert_eq!(answer.header("x-content-type-options"), "nosniff", "{uri}");
        assert_eq!(answer.header("x-frame-options"), "", "{uri}");
        assert_eq!(answer.header("content-security-policy"), "", "{uri}");
    }
    // Nor does the widget's WebAssembly, fetched with every messenger.
    let dist = &app.state.settings.widget_dir;
    std::fs::create_dir_all(dist).unwrap();
    std::fs::write(dist.join("talk-widget-0123456789abcdef_bg.wasm"), b"\0asm").unwrap();
    let wasm = app
        .get("/widget/talk-widget-0123456789abcdef_bg.wasm")
        .await;
    assert_eq!(wasm.status, StatusCode::OK);
    assert_eq!(wasm.header("content-type"), "application/wasm");
    assert_eq!(wasm.header("x-frame-options"), "");
    assert_eq!(wasm.header("content-security-policy"), "");
    assert_eq!(wasm.header("x-content-type-options"), "nosniff");
}

#[tokio::test]
async fn demo_page_runs_only_its_nonced_snippet() {
    let app = test_app_with(|settings| {
        settings.demo_page = true;
        settings.public_url = "https://talk.example.com".into();
    })
    .await;
    let nonce_of = |text: &str| -> String {
        let start = text.find("nonce=\"").expect("a nonced script") + 7;
        text[start..start + 32].to_string()
    };
    let first = app.get("/demo").await;
    let nonce = nonce_of(&first.text);
    assert!(
        nonce.bytes().all(|byte| byte.is_ascii_hexdigit()),
        "{nonce}"
    );
    let csp = first.header("content-security-policy");
    assert!(
        csp.contains(&format!(
            "script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'"
        )),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(
        csp.contains("connect-src 'self' https://talk.example.com wss://talk.example.com"),
        "{csp}"
    );
    assert!(
        csp.contains("object-src 'none'") && csp.contains("base-uri 'none'"),
        "{csp}"
    );
    assert_eq!(first.header("x-frame-options"), "DENY");
    let second = app.get("/demo").await;
    assert_ne!(nonce_of(&second.text), nonce, "a fresh nonce per page");
}

/// Every (method, path) routed in src/http/mod.rs: read from the source, because axum can't
/// list its routes.
fn routed_operations() -> BTreeSet<(String, String)> {
    let source = include_str!("../src/http/mod.rs");
    let route = regex::Regex::new(r#"\.route\(\s*"([^"]+)",\s*((?:[^()]|\([^()]*\))*)\)"#).unwrap();
    let method = regex::Regex::new(r"(?:^|[\s.(])(get|post|put|delete|patch)\(").unwrap();
    let mut operations = BTreeSet::new();
    for captures in route.captures_iter(source) {
        let path = &captures[1];
        for method in method.captures_iter(&captures[2]) {
            operations.insert((method[1].to_string(), path.to_string()));
        }
    }
    operations
}

fn documented_operations(document: &Value) -> BTreeSet<(String, String)> {
    document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect()
}

#[tokio::test]
async fn openapi_document_matches_the_router() {
    let app = test_app().await;
    let answer = app.get("/v1/openapi.json").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), "application/json");
    let document = answer.json();
    assert_eq!(document["openapi"], "3.1.0");

    let routed: BTreeSet<_> = routed_operations()
        .into_iter()
        .filter(|(_, path)| path.starts_with("/v1/") && path != "/v1/talk/socket")
        .collect();
    assert!(routed.len() >= 20, "the route parser found {routed:?}");
    let documented = documented_operations(&document);
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "routed but not documented: {undocumented:?}"
    );

    for (method, path) in &documented {
        let uri = path.replace("{id}", "000000000000000000000000");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let answer = app.send(method.clone(), &uri, &[], None).await;
        assert!(
            answer.status != StatusCode::METHOD_NOT_ALLOWED
                && !(answer.status == StatusCode::NOT_FOUND && answer.code() == "not_found"),
            "documented {method} {path} answers {} {}",
            answer.status,
            answer.text
        );
    }

    // Every schema reference resolves.
    let text = answer.text.as_str();
    let reference = regex::Regex::new(r##""\$ref": "#/components/schemas/([A-Za-z]+)""##).unwrap();
    for captures in reference.captures_iter(text) {
        assert!(
            document["components"]["schemas"][&captures[1]].is_object(),
            "missing schema {}",
            &captures[1]
        );
    }
}
