//! What a returning visitor downloads: the widget's files are content-hashed and immutable, so
//! the second page view takes them all from the browser's cache; and frame mode fetches
//! embed.js once (the host page), not a second time inside the frame.

use serde::Deserialize;
use serde_json::json;
use std::time::Duration;
use talk_e2e::{eventually, page_with_snippet, with_browser, Browser, HostSite};

/// A Resource Timing entry of a file the Talk server sends.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Fetched {
    path: String,
    transfer_size: u64,
    encoded_body_size: u64,
    decoded_body_size: u64,
    /// None in WebKit, whose Resource Timing has no `responseStatus`.
    response_status: Option<u64>,
}

/// The loader and widget files the current document fetched, once the WASM has arrived.
async fn talk_files(browser: &Browser) -> Vec<Fetched> {
    let script = "return performance.getEntriesByType('resource')
        .filter(function (e) { return /\\/app\\.js$|\\/widget\\/[^/]+\\.(js|wasm)$/.test(e.name); })
        .map(function (e) { return {path: new URL(e.name).pathname, transferSize: e.transferSize,
          encodedBodySize: e.encodedBodySize, decodedBodySize: e.decodedBodySize,
          responseStatus: e.responseStatus, done: e.responseEnd > 0}; });";
    let entries = eventually("the WASM to arrive", Duration::from_secs(20), || async {
        let entries = browser.js(script).await;
        let all = entries.as_array()?;
        let arrived = all.iter().any(|entry| {
            entry["path"]
                .as_str()
                .unwrap_or_default()
                .ends_with("_bg.wasm")
                && entry["done"] == true
        });
        arrived.then_some(entries)
    })
    .await;
    serde_json::from_value(entries).expect("resource entries")
}

/// The Resource Timing entry of the launcher's stylesheet (fetched by the loader).
async fn launcher_transfer(browser: &Browser) -> Fetched {
    let script = "return performance.getEntriesByType('resource')
        .filter(function (e) { return e.name.indexOf('/launcher.css') >= 0; })
        .map(function (e) { return {path: new URL(e.name).pathname, transferSize: e.transferSize,
          encodedBodySize: e.encodedBodySize, decodedBodySize: e.decodedBodySize,
          responseStatus: e.responseStatus}; });";
    let mut entries: Vec<Fetched> =
        serde_json::from_value(browser.js(script).await).expect("resource entries");
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries.remove(0)
}

/// WebKit's automation session (MiniBrowser `--automation`) is ephemeral: it has no HTTP cache,
/// so what the widget `fetch()`es (the WASM) is downloaded again on every page, whatever its
/// `Cache-Control`; its module scripts come from the memory cache. Says so for the WASM there,
/// asserting that it was indeed fetched again (so a WebKit that caches it shows up here).
fn refetched_in_this_engine(browser: &Browser, file: &Fetched) -> bool {
    if browser.engine.has_http_cache() || !file.path.ends_with("_bg.wasm") {
        return false;
    }
    assert!(file.transfer_size > 0, "{file:?}");
    true
}

fn paths(files: &[Fetched]) -> Vec<&str> {
    files.iter().map(|file| file.path.as_str()).collect()
}

fn the_widget_files(files: &[Fetched]) {
    let paths = paths(files);
    for part in ["/widget/embed-", "/widget/talk-widget-"] {
        assert!(paths.iter().any(|path| path.starts_with(part)), "{paths:?}");
    }
    assert!(
        paths.iter().any(|path| path.ends_with("_bg.wasm")),
        "{paths:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returning_visitors_second_page_view_downloads_no_widget_bytes() {
    with_browser("caching-second-view", |server, browser| async move {
        // The demo page is on the Talk server's origin, so Resource Timing shows the sizes
        // (another origin's files show 0 without Timing-Allow-Origin).
        browser.goto(&server.demo_url()).await;
        browser.widget().await;
        let first = talk_files(&browser).await;
        the_widget_files(&first);
        for file in &first {
            assert!(
                file.transfer_size > 0,
                "first view, from the network: {file:?}"
            );
            assert!(
                file.encoded_body_size < file.decoded_body_size,
                "sent compressed: {file:?}"
            );
        }

        let first_launcher = launcher_transfer(&browser).await;
        assert!(
            first_launcher.transfer_size > first_launcher.encoded_body_size,
            "{first_launcher:?}"
        );

        // Another page of the same site (a navigation, not a reload).
        browser.goto(&format!("{}/demo", server.url)).await;
        browser.widget().await;
        let second = talk_files(&browser).await;
        the_widget_files(&second);
        for file in &second {
            if refetched_in_this_engine(&browser, file) {
                continue;
            }
            // app.js is revalidated (304). WebKit doesn't say the status: there, a transfer
            // smaller than the body is a revalidation's headers.
            let revalidated_loader = file.path == "/app.js"
                && match file.response_status {
                    Some(status) => status == 304,
                    None => file.transfer_size < file.encoded_body_size,
                };
            assert!(
                file.transfer_size == 0 || revalidated_loader,
                "second view, from the cache: {file:?}"
            );
        }
        // The launcher's stylesheet is revalidated by its ETag (`no-cache`): asked again (not
        // taken from the cache unasked, transfer size > 0), but its body not sent again.
        let again = launcher_transfer(&browser).await;
        if browser.engine.shows_revalidation_in_resource_timing() {
            assert!(
                again.transfer_size > 0 && again.transfer_size < first_launcher.transfer_size,
                "second view's launcher.css: {again:?}, first: {first_launcher:?}"
            );
        } else {
            // Firefox revalidates (If-None-Match, 304) but its Resource Timing repeats the
            // first answer's status and sizes; WebKit's automation session has no cache to
            // revalidate. Both still ask again.
            assert!(
                again.transfer_size > 0,
                "second view's launcher.css: {again:?}"
            );
        }
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frame_mode_fetches_embed_once_and_nothing_again_on_the_next_page() {
    with_browser("caching-frame", |server, browser| async move {
        let page = page_with_snippet(
            &server.capture_key,
            &server.url,
            "{talk: {mode: 'frame'}}",
            "",
        );
        let site = HostSite::start(vec![("/", page.clone()), ("/next", page)]).await;
        browser.goto(&format!("{}/", site.url)).await;
        browser.enter_messenger_frame().await;
        browser.widget().await;
        let in_frame = talk_files(&browser).await;
        let frame_paths = paths(&in_frame);
        assert!(
            frame_paths
                .iter()
                .any(|path| path.starts_with("/widget/frame-")),
            "{frame_paths:?}"
        );
        assert!(
            !frame_paths.iter().any(|path| path.contains("embed")),
            "the frame fetched embed.js: {frame_paths:?}"
        );
        browser.leave_frame().await;
        let on_page = browser
            .js("return performance.getEntriesByType('resource')
                 .filter(function (e) { return e.name.indexOf('/widget/embed-') >= 0; }).length;")
            .await;
        assert_eq!(on_page, 1, "embed.js fetched once, by the host page");

        // The next page: the frame's files come from the cache (in the frame they are
        // same-origin, so their sizes show).
        browser.goto(&format!("{}/next", site.url)).await;
        browser.enter_messenger_frame().await;
        browser.widget().await;
        for file in talk_files(&browser).await {
            if refetched_in_this_engine(&browser, &file) {
                continue;
            }
            assert_eq!(
                file.transfer_size, 0,
                "second view, from the cache: {file:?}"
            );
        }
        server.stop().await;
    })
    .await;
}

/// A returning visitor's messenger opens with the settings kept from the last page view, not
/// after the server's answer (a round trip, ~150 ms on a phone). Here that answer never
/// comes: the second page holds every settings request forever. The fresh answer still wins
/// when it comes (the first view's settings are the server's).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returning_visitors_messenger_opens_before_the_settings_answer() {
    with_browser(
        "caching-remembered-settings",
        |server, browser| async move {
            server
                .update_widget_settings(|settings| settings["launcher"]["position"] = json!("left"))
                .await;
            let stall = "var realFetch = window.fetch;
            window.fetch = function (input) {
              if (String((input && input.url) || input).indexOf('/v1/talk/widget/config') >= 0) {
                return new Promise(function () {});
              }
              return realFetch.apply(this, arguments);
            };";
            let site = HostSite::start(vec![
                (
                    "/",
                    page_with_snippet(&server.capture_key, &server.url, "{}", ""),
                ),
                (
                    "/stalled",
                    page_with_snippet(&server.capture_key, &server.url, "{}", stall),
                ),
            ])
            .await;
            let on_the_left = "return document.querySelector('ap3c-talk').shadowRoot
            .querySelector('.talk-root').classList.contains('talk-left');";

            browser.goto(&format!("{}/", site.url)).await;
            browser.widget().await;
            assert_eq!(browser.js(on_the_left).await, true, "the server's settings");

            browser.goto(&format!("{}/stalled", site.url)).await;
            let widget_again = browser.widget().await;
            assert_eq!(
                browser.js(on_the_left).await,
                true,
                "the remembered settings"
            );
            widget_again.click("talk-launcher").await;
            widget_again.wait_for("talk-new-conversation").await;
            server.stop().await;
        },
    )
    .await;
}

/// One answer's size on the wire over HTTP/1.1 as hyper writes it: status line, each header
/// line, the blank line, then the body as sent (this client decompresses nothing).
async fn wire_bytes(response: reqwest::Response) -> (u16, usize, usize) {
    let status = response.status();
    let head = "HTTP/1.1 ".len()
        + status.as_str().len()
        + 1
        + status.canonical_reason().unwrap_or_default().len()
        + 2
        + response
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + 2 + value.len() + 2)
            .sum::<usize>()
        + 2;
    let body = response.bytes().await.expect("body").len();
    (status.as_u16(), head, body)
}

/// What an untouched page view costs from the Talk server, headers included, asked as
/// Chromium asks from a customer's page: `/app.js`, the launcher's stylesheet and the page
/// view, which is a CORS simple request (`text/plain`), so no preflight comes before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untouched_page_view_costs_at_most_2500_bytes_with_headers() {
    let server = talk_e2e::TestServer::start().await;
    let http = reqwest::Client::new();
    let origin = "https://shop.example.com";
    let accept = "gzip, deflate, br, zstd";
    let app_js = http
        .get(format!("{}/app.js", server.url))
        .header("accept-encoding", accept)
        .send()
        .await
        .expect("app.js");
    let stylesheet = http
        .get(format!(
            "{}/v1/talk/widget/launcher.css?capture_key={}",
            server.url, server.capture_key
        ))
        .header("accept-encoding", accept)
        .header("origin", origin)
        .send()
        .await
        .expect("launcher.css");
    let etag = stylesheet.headers()["etag"].to_str().unwrap().to_string();
    let body = serde_json::json!({"capture_key": server.capture_key,
        "visitor_id": "0123456789abcdef0123456789abcdef",
        "url": format!("{origin}/products/shoes"), "title": "Shoes", "referrer": ""});
    let track = http
        .post(format!("{}/v1/talk/track", server.url))
        .header("accept-encoding", accept)
        .header("origin", origin)
        .header("content-type", "text/plain;charset=UTF-8")
        .body(body.to_string())
        .send()
        .await
        .expect("track");
    let mut total = 0;
    for (name, response, status) in [
        ("/app.js", app_js, 200),
        ("launcher.css", stylesheet, 200),
        ("track", track, 204),
    ] {
        let (got, head, body) = wire_bytes(response).await;
        println!(
            "{name}: {head} B headers + {body} B body = {} B",
            head + body
        );
        assert_eq!(got, status, "{name}");
        total += head + body;
    }
    println!("an untouched page view: {total} B");
    assert!(total <= 2500, "{total} B");

    // The next page view of the site revalidates the stylesheet: a bodiless 304.
    let again = http
        .get(format!(
            "{}/v1/talk/widget/launcher.css?capture_key={}",
            server.url, server.capture_key
        ))
        .header("accept-encoding", accept)
        .header("origin", origin)
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("launcher.css again");
    let (status, head, body) = wire_bytes(again).await;
    println!("launcher.css revalidated: {head} B headers + {body} B body");
    assert_eq!((status, body), (304, 0));
    server.stop().await;
}
