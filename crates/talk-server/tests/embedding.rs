//! What embedding needs from the server: the launcher's stylesheet, the loader's lazy module
//! and the messenger's frame page with its own strict CSP.

mod common;

use axum::http::{Method, StatusCode};
use common::{test_app, test_app_with, visitor_id};
use serde_json::json;
use std::path::{Path, PathBuf};
use talk_server::{widget_settings, workspaces};

#[tokio::test]
async fn the_frame_page_has_its_own_strict_policy_and_may_be_framed() {
    let app =
        test_app_with(|settings| settings.public_url = "https://talk.example.com".into()).await;
    let answer = app
        .get(&format!(
            "/widget/frame?capture_key={}",
            app.workspace.capture_key
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(
        answer.header("content-security-policy"),
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
         connect-src 'self' wss://talk.example.com; img-src 'self' https: data:; \
         style-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; \
         frame-ancestors *"
    );
    assert_eq!(
        answer.header("x-frame-options"),
        "",
        "customers' pages frame it"
    );
    assert!(answer
        .text
        .contains(r#"<script type="module" src="/widget/frame.js">"#));
    assert!(
        !answer.text.contains(&app.workspace.capture_key),
        "nothing of the query echoed"
    );

    let missing = app.get("/widget/frame").await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.code(), "missing_capture_key");
    let unknown = app.get("/widget/frame?capture_key=talk_pk_nope").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.code(), "unknown_capture_key");
}

/// Trunk's preview page (`index.html`, the seed's snippet with any capture key from the URL) is
/// for `trunk serve`: the build leaves it out, and where a widget directory still holds one (an
/// older build, Trunk's own output), it is locked down like any other document of ours. It
/// must never be a page of the Talk origin (the inbox's) that any site may frame.
#[tokio::test]
async fn widget_preview_page_is_not_served_or_is_locked_down() {
    let app = test_app().await;
    let dist = &app.state.settings.widget_dir;
    std::fs::create_dir_all(dist).unwrap();
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><script>ap3c.init(new URLSearchParams(location.search)\
         .get('capture_key'))</script>",
    )
    .unwrap();
    std::fs::write(dist.join("notes.html"), "<!doctype html>").unwrap();
    for path in ["/widget/", "/widget/index.html", "/widget/notes.html"] {
        let answer = app.get(path).await;
        if answer.status == StatusCode::NOT_FOUND && path == "/widget/" {
            continue; // not served: the directory has no index
        }
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert_eq!(answer.header("x-frame-options"), "DENY", "{path}");
        assert_eq!(
            answer.header("content-security-policy"),
            "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            "{path}: no script runs and no page frames it"
        );
    }
    // The frame page is still the one customers' pages may frame.
    let frame = app
        .get(&format!(
            "/widget/frame?capture_key={}",
            app.workspace.capture_key
        ))
        .await;
    assert_eq!(frame.status, StatusCode::OK);
    assert_eq!(frame.header("x-frame-options"), "");
    assert!(frame
        .header("content-security-policy")
        .ends_with("frame-ancestors *"));

    // The build has no preview page to serve, where there is a build (scripts/test.sh makes it).
    let built = std::env::var_os("TALK_WIDGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../dist"));
    if built.join("loader/manifest.json").is_file() {
        let app = test_app_with(|settings| settings.widget_dir = built).await;
        for path in ["/widget/", "/widget/index.html"] {
            assert_eq!(app.get(path).await.status, StatusCode::NOT_FOUND, "{path}");
        }
    }
}

#[tokio::test]
async fn only_allowed_origins_may_frame_the_messenger_which_may_then_start_sessions() {
    let app =
        test_app_with(|settings| settings.public_url = "https://talk.example.com".into()).await;
    workspaces::set_allowed_origins(
        &app.state.db,
        &app.workspace.workspace_id,
        &[
            "https://shop.example.com".to_string(),
            "https://www.shop.example.com".to_string(),
        ],
    )
    .await
    .unwrap();
    let answer = app
        .get(&format!(
            "/widget/frame?capture_key={}",
            app.workspace.capture_key
        ))
        .await;
    assert!(
        answer
            .header("content-security-policy")
            .ends_with("frame-ancestors https://shop.example.com https://www.shop.example.com"),
        "{}",
        answer.header("content-security-policy")
    );

    // Inside the frame the messenger's requests come from our own origin.
    let body = json!({"capture_key": app.workspace.capture_key, "visitor_id": visitor_id(1)});
    let mut statuses = Vec::new();
    for origin in [
        "https://talk.example.com",
        "https://shop.example.com",
        "https://evil.example.com",
    ] {
        let answer = app
            .send(
                Method::POST,
                "/v1/talk/widget/session",
                &[("origin", origin)],
                Some(body.clone()),
            )
            .await;
        statuses.push((answer.status, answer.code()));
    }
    assert_eq!(statuses[0].0, StatusCode::OK);
    assert_eq!(statuses[1].0, StatusCode::OK);
    let foreign = &statuses[2];
    assert_eq!(
        foreign,
        &(StatusCode::FORBIDDEN, "origin_not_allowed".to_string())
    );
}

#[tokio::test]
async fn the_launcher_stylesheet_follows_the_settings_and_is_empty_when_switched_off() {
    let app = test_app().await;
    let url = format!(
        "/v1/talk/widget/launcher.css?capture_key={}",
        app.workspace.capture_key
    );
    let answer = app.get(&url).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("content-type"), "text/css; charset=utf-8");
    assert!(
        answer.text.contains("right:20px;bottom:20px"),
        "{}",
        answer.text
    );
    let default_brand = talk_protocol::Homepage::default().brand_color;
    assert!(
        answer.text.contains(&format!("background:{default_brand}")),
        "{}",
        answer.text
    );
    assert!(
        answer.text.contains("z-index:2147483000"),
        "{}",
        answer.text
    );

    let workspace = &app.workspace.workspace_id;
    let mut settings = widget_settings::load(&app.state.db, workspace)
        .await
        .unwrap()
        .unwrap();
    settings.homepage.brand_color = "#0a7d33".into();
    settings.launcher.position = talk_protocol::LauncherPosition::Left;
    settings.launcher.horizontal_margin = 32;
    widget_settings::save(&app.state.db, workspace, &settings)
        .await
        .unwrap();
    let answer = app.get(&url).await;
    assert!(
        answer.text.contains("left:32px;bottom:20px"),
        "{}",
        answer.text
    );
    assert!(
        answer.text.contains("background:#0a7d33"),
        "{}",
        answer.text
    );
    // The frame it sizes in frame mode: launcher-sized, panel-wide when open.
    assert!(
        answer
            .text
            .contains("left:0;bottom:0;width:112px;height:100px"),
        "{}",
        answer.text
    );
    assert!(
        answer.text.contains("iframe.open{width:432px;height:100%}"),
        "{}",
        answer.text
    );

    settings.enabled = false;
    widget_settings::save(&app.state.db, workspace, &settings)
        .await
        .unwrap();
    let off = app.get(&url).await;
    assert_eq!(off.status, StatusCode::NO_CONTENT);
    assert_eq!(off.text, "");

    let missing = app.get("/v1/talk/widget/launcher.css").await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.code(), "missing_capture_key");
    let unknown = app
        .get("/v1/talk/widget/launcher.css?capture_key=nope")
        .await;
    assert_eq!(unknown.code(), "unknown_capture_key");
}

/// `GET` with these request headers.
async fn get_with(app: &common::TestApp, uri: &str, headers: &[(&str, &str)]) -> common::Answer {
    app.send(Method::GET, uri, headers, None).await
}

fn brotli_decoded(bytes: &[u8]) -> String {
    let mut out = Vec::new();
    brotli::BrotliDecompress(&mut &bytes[..], &mut out).expect("brotli");
    String::from_utf8(out).unwrap()
}

fn gzip_decoded(bytes: &[u8]) -> String {
    let mut out = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(bytes), &mut out)
        .expect("gzip");
    out
}

#[tokio::test]
async fn the_launcher_stylesheet_travels_compressed_and_revalidates_until_the_settings_change() {
    let app = test_app().await;
    let url = format!(
        "/v1/talk/widget/launcher.css?capture_key={}",
        app.workspace.capture_key
    );
    let plain = app.get(&url).await;
    assert_eq!(plain.status, StatusCode::OK);
    assert_eq!(plain.header("content-encoding"), "");
    assert!(plain.text.contains("background:"), "{}", plain.text);

    let origin = ("origin", "https://shop.example.com");
    let brotli = get_with(
        &app,
        &url,
        &[("accept-encoding", "gzip, deflate, br, zstd"), origin],
    )
    .await;
    assert_eq!(brotli.status, StatusCode::OK);
    assert_eq!(brotli.header("content-encoding"), "br");
    assert_eq!(brotli.header("content-type"), "text/css; charset=utf-8");
    assert_eq!(brotli.header("vary"), "accept-encoding");
    assert_eq!(brotli.header("cache-control"), "no-cache");
    assert_eq!(
        brotli.header("content-length"),
        brotli.bytes.len().to_string()
    );
    assert_eq!(brotli_decoded(&brotli.bytes), plain.text);
    assert!(
        brotli.bytes.len() * 2 < plain.bytes.len(),
        "{} B",
        brotli.bytes.len()
    );
    // Any page may read it, and one copy serves them all: `*`, not the page's origin.
    assert_eq!(brotli.header("access-control-allow-origin"), "*");

    let gzip = get_with(&app, &url, &[("accept-encoding", "gzip")]).await;
    assert_eq!(gzip.header("content-encoding"), "gzip");
    assert_eq!(gzip.header("vary"), "accept-encoding");
    assert_eq!(gzip_decoded(&gzip.bytes), plain.text);

    // One tag for every encoding (weak: same meaning, other bytes), stable between requests.
    let etag = brotli.header("etag").to_string();
    assert!(etag.starts_with("W/\""), "{etag}");
    assert_eq!(gzip.header("etag"), etag);
    assert_eq!(plain.header("etag"), etag);

    // The next page view revalidates: 304, no body.
    let again = get_with(
        &app,
        &url,
        &[("accept-encoding", "br"), ("if-none-match", &etag), origin],
    )
    .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert!(again.bytes.is_empty());
    assert_eq!(again.header("etag"), etag);
    assert_eq!(again.header("access-control-allow-origin"), "*");

    // A settings change reaches the visitor on its next page load: the old tag no longer
    // matches, and the new stylesheet comes compressed too.
    let workspace = &app.workspace.workspace_id;
    let mut settings = widget_settings::load(&app.state.db, workspace)
        .await
        .unwrap()
        .unwrap();
    settings.homepage.brand_color = "#0a7d33".into();
    widget_settings::save(&app.state.db, workspace, &settings)
        .await
        .unwrap();
    let changed = get_with(
        &app,
        &url,
        &[("accept-encoding", "br"), ("if-none-match", &etag)],
    )
    .await;
    assert_eq!(changed.status, StatusCode::OK);
    assert_eq!(changed.header("content-encoding"), "br");
    assert_ne!(changed.header("etag"), etag);
    let css = brotli_decoded(&changed.bytes);
    assert!(css.contains("background:#0a7d33"), "{css}");
    let plain_now = app.get(&url).await;
    assert_eq!(plain_now.text, css);
}

#[tokio::test]
async fn a_bad_colour_never_becomes_css() {
    let mut settings = talk_protocol::WidgetSettings::default();
    settings.homepage.brand_color = "red;}*{display:none".into();
    let css = talk_server::http::launcher_stylesheet(&settings);
    assert!(!css.contains("red;}"), "{css}");
    assert!(css.contains("background:#4f46e5"), "{css}");
}

#[tokio::test]
async fn the_loaders_modules_are_served_to_any_origin() {
    let built = ["embed-0123456789abcdef.js", "frame-0123456789abcdef.js"];
    let app = test_app_with(|settings| {
        std::fs::create_dir_all(&settings.widget_dir).unwrap();
        for file in built {
            std::fs::write(settings.widget_dir.join(file), "export {};").unwrap();
        }
    })
    .await;
    for file in built {
        let path = format!("/widget/{file}");
        let answer = app
            .send(
                Method::GET,
                &path,
                &[("origin", "https://shop.example.com")],
                None,
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert_eq!(answer.header("content-type"), "text/javascript");
        assert_eq!(answer.header("access-control-allow-origin"), "*");
        assert_eq!(answer.text, "export {};");
    }
}

#[tokio::test]
async fn the_loader_is_sent_minified_when_built_and_from_its_sources_otherwise() {
    let from_sources = test_app().await;
    let answer = from_sources.get("/app.js").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.header("content-type"),
        "text/javascript; charset=utf-8"
    );
    assert!(answer.text.contains("\n  "), "the readable source");

    let built = test_app_with(|settings| {
        let loader = settings.widget_dir.join("loader");
        std::fs::create_dir_all(&loader).unwrap();
        std::fs::write(loader.join("app.js"), "/*minified app.js*/").unwrap();
    })
    .await;
    assert_eq!(built.get("/app.js").await.text, "/*minified app.js*/");
}
