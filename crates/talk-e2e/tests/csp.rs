//! The CSP matrix: host pages served with a real Content-Security-Policy header by the test's
//! own server, the messenger in every mode that can work there. Each page records every
//! `securitypolicyviolation` from its first script on, and every console error.

use serde_json::{json, Value};
use std::time::Duration;
use talk_e2e::{
    eventually, snippet_script, with_browser, with_this_browser, Browser, HostSite, SitePage,
    TestServer, AUTO_REPLY,
};

const NONCE: &str = "bm9uY2UtZm9yLXRoZS1jc3AtdGVzdA";

/// The host page's own watcher, run before anything else: violations and console errors.
const WATCH: &str = "window.violations = []; window.consoleErrors = [];
document.addEventListener('securitypolicyviolation', function (e) {
  violations.push(e.effectiveDirective + ' ' + e.blockedURI);
});
var logError = console.error;
console.error = function () {
  consoleErrors.push(Array.prototype.map.call(arguments, String).join(' '));
  return logError.apply(console, arguments);
};
window.talkEvents = [];
(window.ap3c = window.ap3c || {}).cmd = window.ap3c.cmd || [];
ap3c.cmd.push(function () { ap3c.talk.onReady(function () { talkEvents.push('ready'); }); });";

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Auto,
    Inline,
    Frame,
}

impl Mode {
    fn option(self) -> &'static str {
        match self {
            Mode::Auto => "{talk: {}}",
            Mode::Inline => "{talk: {mode: 'inline'}}",
            Mode::Frame => "{talk: {mode: 'frame'}}",
        }
    }
}

/// The seed's level-3 policy, exactly, with the snippet inline carrying the nonce.
fn level3_site(server: &TestServer, mode: Mode) -> Vec<SitePage> {
    let csp = format!(
        "object-src 'none'; script-src 'nonce-{NONCE}' 'unsafe-inline' 'strict-dynamic' https: http:; base-uri 'none'"
    );
    let snippet = snippet_script(&server.capture_key, &server.url, mode.option(), "");
    let page = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Shop</title>\
         <link rel=\"icon\" href=\"data:,\"><script nonce=\"{NONCE}\">{WATCH}</script>\
         <script nonce=\"{NONCE}\">{snippet}</script></head>\
         <body><h1>A customer's shop</h1></body></html>"
    );
    vec![SitePage::html("/", page, Some(csp))]
}

/// A level-1/2 policy: no inline script at all (the snippet is a file of the site), the Talk
/// origin allowed for scripts, connections (HTTP and WebSocket) and frames; `extra` adds to
/// script-src, `frames` replaces frame-src.
fn level2_site(
    server: &TestServer,
    mode: Mode,
    extra: &str,
    frames: Option<&str>,
) -> Vec<SitePage> {
    let talk = &server.url;
    let socket = talk.replacen("http://", "ws://", 1);
    let frame_src = frames.map_or_else(|| talk.clone(), str::to_string);
    let csp = format!(
        "default-src 'self'; script-src 'self' {talk}{extra}; connect-src 'self' {talk} {socket}; \
         style-src 'self'; img-src 'self' data:; frame-src {frame_src}"
    );
    let page = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Shop</title>\
         <link rel=\"icon\" href=\"data:,\"><script src=\"/watch.js\"></script>\
         <script src=\"/snippet.js\"></script></head>\
         <body><h1>A customer's shop</h1></body></html>"
        .to_string();
    vec![
        SitePage::html("/", page, Some(csp)),
        SitePage::script("/watch.js", WATCH.to_string()),
        SitePage::script(
            "/snippet.js",
            snippet_script(&server.capture_key, &server.url, mode.option(), ""),
        ),
    ]
}

async fn violations(browser: &Browser) -> Vec<String> {
    serde_json::from_value(browser.js("return window.violations;").await).expect("a list")
}

/// The visitor writes, the bot answers, an agent replies through the API, the visitor sees it.
async fn converse(server: &TestServer, browser: &Browser, mode: Mode) {
    eventually(
        "the messenger to be ready",
        Duration::from_secs(30),
        || async {
            (browser.js("return window.talkEvents;").await == json!(["ready"])).then_some(())
        },
    )
    .await;
    let in_frame = browser
        .js("return !!document.querySelector('ap3c-talk').shadowRoot.querySelector('iframe');")
        .await;
    assert_eq!(
        in_frame,
        json!(mode == Mode::Frame),
        "the messenger runs in {mode:?} mode"
    );
    if mode == Mode::Frame {
        browser.enter_messenger_frame().await;
    }
    let widget = browser.widget().await;
    widget
        .start_conversation("ada@example.com", "Can I pay by invoice?")
        .await;
    let conversation = server.conversations().await.remove(0);
    server.reply(&conversation.id, "Yes, we can.").await;
    widget
        .wait_for_messages(&[
            ("visitor", "Can I pay by invoice?"),
            ("bot", AUTO_REPLY),
            ("agent", "Yes, we can."),
        ])
        .await;
    if mode == Mode::Frame {
        // The frame's origin keeps no visitor id of its own: the host page's cookie is it.
        // (Cookies don't separate ports, so only the frame's storage can show that here.)
        let stored = browser.js("return JSON.stringify(localStorage);").await;
        let stored = stored.as_str().expect("a string");
        assert!(!stored.contains(&conversation.visitor_id), "{stored}");
        browser.leave_frame().await;
        // The open messenger's frame is as wide as the panel and as tall as the window.
        let size = browser
            .js("const f = document.querySelector('ap3c-talk').shadowRoot.querySelector('iframe'); \
                 const r = f.getBoundingClientRect(); \
                 return [r.width, r.height === innerHeight];")
            .await;
        assert_eq!(size, json!([420, true]), "the open frame's size");
    }
    let cookie = browser
        .js("return (document.cookie.match(/ap3c_talk_vid=([0-9a-f]{32})/) || [])[1];")
        .await;
    assert_eq!(
        cookie,
        json!(conversation.visitor_id),
        "the host page's visitor is the one talking"
    );
}

/// `expected`: which mode auto should pick (or which mode is forced) on this page.
async fn conversation_under(
    name: &str,
    site: fn(&TestServer, Mode) -> Vec<SitePage>,
    option: Mode,
    runs_in: Mode,
) {
    with_browser(name, |server, browser| async move {
        let site = HostSite::start_with(site(&server, option)).await;
        browser.goto(&format!("{}/", site.url)).await;
        converse(&server, &browser, runs_in).await;
        browser.screenshot(name).await;
        let seen = violations(&browser).await;
        if option == Mode::Auto && runs_in == Mode::Frame && !browser.engine.reports_refused_wasm()
        {
            // WebKit refuses auto's probe (and would refuse the messenger's module) silently.
            assert!(seen.is_empty(), "CSP violations: {seen:?}");
        } else if option == Mode::Auto && runs_in == Mode::Frame {
            // auto's probe: the page refused to instantiate the 8-byte module, and said so.
            assert_eq!(seen.len(), 1, "{seen:?}");
            assert!(
                seen[0].starts_with("script-src") && seen[0].contains("wasm-eval"),
                "{seen:?}"
            );
        } else {
            assert!(seen.is_empty(), "CSP violations: {seen:?}");
        }
        let errors = browser.js("return window.consoleErrors;").await;
        assert_eq!(errors, json!([]), "console errors");
        server.stop().await;
    })
    .await;
}

fn level2(server: &TestServer, mode: Mode) -> Vec<SitePage> {
    level2_site(server, mode, "", None)
}

fn level2_with_wasm(server: &TestServer, mode: Mode) -> Vec<SitePage> {
    level2_site(server, mode, " 'wasm-unsafe-eval'", None)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn level3_policy_auto_picks_the_frame() {
    conversation_under("csp-level3-auto", level3_site, Mode::Auto, Mode::Frame).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn level3_policy_forced_frame() {
    conversation_under("csp-level3-frame", level3_site, Mode::Frame, Mode::Frame).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn level2_policy_auto_picks_the_frame() {
    conversation_under("csp-level2-auto", level2, Mode::Auto, Mode::Frame).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn level2_policy_forced_frame() {
    conversation_under("csp-level2-frame", level2, Mode::Frame, Mode::Frame).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn level2_policy_with_wasm_auto_picks_inline() {
    conversation_under(
        "csp-level2-wasm-auto",
        level2_with_wasm,
        Mode::Auto,
        Mode::Inline,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn level2_policy_with_wasm_forced_inline() {
    conversation_under(
        "csp-level2-wasm-inline",
        level2_with_wasm,
        Mode::Inline,
        Mode::Inline,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn level2_policy_with_wasm_forced_frame() {
    conversation_under(
        "csp-level2-wasm-frame",
        level2_with_wasm,
        Mode::Frame,
        Mode::Frame,
    )
    .await;
}

/// No WebAssembly and no frames: the loader says once which directive to add, and stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_refuses_both_gets_one_console_error_naming_the_directive() {
    with_browser("csp-refuses-both", |server, browser| async move {
        let site =
            HostSite::start_with(level2_site(&server, Mode::Auto, "", Some("'none'"))).await;
        browser.goto(&format!("{}/", site.url)).await;
        let errors = eventually("the loader's console error", Duration::from_secs(30), || async {
            let errors: Vec<String> =
                serde_json::from_value(browser.js("return window.consoleErrors;").await).ok()?;
            (!errors.is_empty()).then_some(errors)
        })
        .await;
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("'wasm-unsafe-eval'")
                && errors[0].contains("script-src")
                && errors[0].contains(&format!("{} to frame-src", server.url)),
            "{errors:?}"
        );
        // The launcher is gone; asking again (as a page or a visitor would) changes nothing.
        assert_eq!(browser.js("return document.querySelector('ap3c-talk');").await, Value::Null);
        browser.js("ap3c.talk.open(); ap3c.talk.open();").await;
        tokio::time::sleep(Duration::from_secs(2)).await; // absence needs a moment to mean anything
        let errors = browser.js("return window.consoleErrors.length;").await;
        assert_eq!(errors, json!(1), "no retries, no second error");
        let frames = browser
            .js("return performance.getEntriesByType('resource').filter(function (e) { \
                 return e.name.indexOf('/widget/frame') >= 0 || e.name.indexOf('.wasm') >= 0; }).length;")
            .await;
        assert_eq!(frames, json!(0), "nothing fetched for a messenger that cannot run");
        // Exactly what the loader tried: the 8-byte probe (WebKit refuses it without a
        // report) and the frame.
        let seen = violations(&browser).await;
        let probe_reported = browser.engine.reports_refused_wasm();
        assert_eq!(seen.len(), 1 + usize::from(probe_reported), "{seen:?}");
        assert_eq!(
            seen.iter().any(|v| v.starts_with("script-src") && v.contains("wasm-eval")),
            probe_reported,
            "{seen:?}"
        );
        assert!(seen.iter().any(|v| v.starts_with("frame-src") && v.contains(&server.url)), "{seen:?}");
        browser.screenshot("csp-refuses-both").await;
        server.stop().await;
    })
    .await;
}

/// Counts the messenger's tones in its frame (one oscillator started per tone) instead of
/// making noise, and notes the frame's uncaught errors and unhandled rejections from then on.
const COUNT_PLAYS: &str = "window.plays = 0; OscillatorNode.prototype.start = \
     function () { window.plays++; }; window.frameErrors = []; \
     addEventListener('error', function (e) { frameErrors.push('Uncaught ' + e.message); }); \
     addEventListener('unhandledrejection', function (e) { frameErrors.push('Uncaught (in promise) ' + e.reason); });";

/// Uncaught errors and unhandled rejections of the pages and their frames. Chromium: the
/// console's, since the last call, from the first script on. Firefox and WebKit give no console
/// over WebDriver: what the frames of `tabs` noted since `COUNT_PLAYS` ran in them (after the
/// messenger started, so the election's first request is not covered there).
async fn uncaught_errors(browser: &Browser, tabs: &[&fantoccini::wd::WindowHandle]) -> Vec<String> {
    if browser.engine.has_console_log() {
        return browser.uncaught_errors().await;
    }
    let mut errors = Vec::new();
    for tab in tabs {
        browser
            .client
            .switch_to_window((*tab).clone())
            .await
            .unwrap();
        browser.enter_messenger_frame().await;
        let noted = browser.js("return window.frameErrors;").await;
        errors.extend(serde_json::from_value::<Vec<String>>(noted).expect("a list"));
        browser.leave_frame().await;
    }
    errors
}

/// The `play()` calls the messenger made in `tab`'s frame.
async fn plays_in(browser: &Browser, tab: &fantoccini::wd::WindowHandle) -> i64 {
    browser.client.switch_to_window(tab.clone()).await.unwrap();
    browser.enter_messenger_frame().await;
    let plays = browser
        .js("return window.plays;")
        .await
        .as_i64()
        .expect("a count");
    browser.leave_frame().await;
    plays
}

/// Opens the level-3 page in a new tab, waits for the messenger and has the visitor touch it
/// (the browser lets only a frame the visitor interacted with make a sound).
async fn open_tab(browser: &Browser, page: &str, first: bool) -> fantoccini::wd::WindowHandle {
    let tab = if first {
        browser.client.window().await.unwrap()
    } else {
        browser.client.new_window(true).await.unwrap().handle
    };
    browser.client.switch_to_window(tab.clone()).await.unwrap();
    browser.goto(page).await;
    eventually(
        "the messenger to be ready",
        Duration::from_secs(30),
        || async {
            (browser.js("return window.talkEvents;").await == json!(["ready"])).then_some(())
        },
    )
    .await;
    browser.enter_messenger_frame().await;
    let widget = browser.widget().await;
    if first {
        widget.start_conversation("ada@example.com", "hello").await;
    } else {
        widget.click("talk-launcher").await;
    }
    widget.click("talk-close").await;
    browser.js(COUNT_PLAYS).await;
    browser.leave_frame().await;
    tab
}

/// An agent replies; once every tab in `tabs` counts it as unread (the host page's title),
/// how many sounds each tab's messenger made.
async fn reply_and_count_plays(
    server: &TestServer,
    browser: &Browser,
    tabs: &[&fantoccini::wd::WindowHandle],
    body: &str,
    unread: u32,
) -> Vec<i64> {
    let conversation = server.conversations().await.remove(0);
    server.reply(&conversation.id, body).await;
    for tab in tabs {
        browser
            .client
            .switch_to_window((*tab).clone())
            .await
            .unwrap();
        eventually(
            "the reply to count as unread",
            Duration::from_secs(15),
            || async {
                (browser.js("return document.title;").await == json!(format!("({unread}) Shop")))
                    .then_some(())
            },
        )
        .await;
    }
    // The sound goes with the unread count; a second player would have rung by now.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut plays = Vec::new();
    for tab in tabs {
        plays.push(plays_in(browser, tab).await);
    }
    plays
}

/// The seed's level-3 page on another site than the Talk server, for a visitor whose browser
/// refuses the Talk origin storage in frames (as strict third-party cookie settings do): the
/// messenger runs in its frame, where Web Locks refuse the sound election's request. No
/// unhandled rejection, and still exactly one of the visitor's two tabs plays; when that tab
/// closes, the other takes over. Per engine ([`Browser::start_refusing_storage_to`]): Chromium
/// elects over a BroadcastChannel; Firefox refuses that too, and every tab plays; WebKit
/// partitions the frame's storage instead of refusing it, and Web Locks elect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_framed_messenger_without_web_locks_elects_one_sound_player_and_rejects_nothing() {
    let server = TestServer::start().await;
    let browser = Browser::start_refusing_storage_to(&server.url).await;
    with_this_browser(
        "csp-level3-sound",
        server,
        browser,
        |server, browser| async move {
            let site = HostSite::start_with(level3_site(&server, Mode::Auto)).await;
            // localhost: another site than the Talk server's 127.0.0.1, so its frame is third-party.
            let page = format!("{}/", site.url.replace("127.0.0.1", "localhost"));
            let first = open_tab(&browser, &page, true).await;
            let second = open_tab(&browser, &page, false).await;

            let plays =
                reply_and_count_plays(&server, &browser, &[&first, &second], "one", 1).await;
            let uncaught = uncaught_errors(&browser, &[&first, &second]).await;
            if browser.engine.has_broadcast_channel_without_storage() {
                assert!(
                    uncaught.is_empty() && plays.iter().sum::<i64>() == 1,
                    "uncaught errors: {uncaught:?}; plays per tab: {plays:?} (exactly one tab must play)"
                );
            } else {
                // Firefox refuses such a frame a BroadcastChannel too: no election is possible,
                // and every tab plays rather than none (the designed fallback).
                assert!(
                    uncaught.is_empty() && plays == [1, 1],
                    "uncaught errors: {uncaught:?}; plays per tab: {plays:?} (every tab must play)"
                );
            }

            // The player's tab goes; the other one plays from now on.
            let (player, other) = if plays[0] == 1 {
                (first, second)
            } else {
                (second, first)
            };
            browser.client.switch_to_window(player).await.unwrap();
            browser.client.close_window().await.unwrap();
            let before = plays_in(&browser, &other).await;
            let after = reply_and_count_plays(&server, &browser, &[&other], "two", 2).await;
            assert_eq!(after, vec![before + 1], "the remaining tab took over");
            assert_eq!(uncaught_errors(&browser, &[&other]).await, Vec::<String>::new());
            server.stop().await;
        },
    )
    .await;
}
