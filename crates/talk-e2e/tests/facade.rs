//! The loader's own launcher: nothing of the messenger is fetched until the visitor reaches for
//! it or the page is idle, and the messenger then takes over without a second launcher.

use serde_json::{json, Value};
use std::time::Duration;
use talk_e2e::{eventually, page_with_snippet, with_browser, Browser, HostSite};

/// Installed before the snippet: when the loader adds its `<ap3c-talk>` host, note what was
/// fetched, then keep the main thread busy for 3 s with back-to-back tasks (no idle period)
/// and note it again.
const BUSY_PAGE: &str = "window.fetched = function () {
  return performance.getEntriesByType('resource').map(function (e) { return e.name; });
};
new MutationObserver(function (changes, observer) {
  if (!document.querySelector('ap3c-talk')) return;
  observer.disconnect();
  window.atDraw = fetched();
  var until = performance.now() + 3000, channel = new MessageChannel();
  channel.port1.onmessage = function () {
    var end = performance.now() + 25;
    while (performance.now() < end) {}
    if (performance.now() < until) return channel.port2.postMessage(0);
    var host = document.querySelector('ap3c-talk'), f = host.shadowRoot.querySelector('.f');
    var box = f && f.getBoundingClientRect();
    window.drawn = f && {colour: getComputedStyle(f).backgroundColor,
      hit: document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2) === host};
    window.afterBusy = fetched();
  };
  channel.port2.postMessage(0);
}).observe(document.documentElement, {childList: true, subtree: true});";

fn any_of(names: &Value, part: &str) -> bool {
    names
        .as_array()
        .expect("a list of resources")
        .iter()
        .any(|name| name.as_str().is_some_and(|name| name.contains(part)))
}

async fn wait_until_not_busy(browser: &Browser) -> (Value, Value) {
    eventually(
        "the busy period to end",
        Duration::from_secs(20),
        || async {
            let noted = browser
                .js("return [window.atDraw, window.afterBusy];")
                .await;
            (!noted[1].is_null()).then(|| (noted[0].clone(), noted[1].clone()))
        },
    )
    .await
}

const LAUNCHER_HIT: &str = "const host = document.querySelector('ap3c-talk'); \
     const b = host.shadowRoot.querySelector('button').getBoundingClientRect(); \
     return document.elementFromPoint(b.x + b.width / 2, b.y + b.height / 2) === host;";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_messenger_download_before_the_page_is_idle_then_one_launcher() {
    with_browser("facade-idle", |server, browser| async move {
        let site = HostSite::start(vec![(
            "/",
            page_with_snippet(&server.capture_key, &server.url, "{talk: {}}", BUSY_PAGE),
        )])
        .await;
        browser.goto(&format!("{}/", site.url)).await;
        let (at_draw, after_busy) = wait_until_not_busy(&browser).await;
        let has_idle = browser.engine.has_request_idle_callback();
        assert_eq!(
            browser
                .js("return typeof requestIdleCallback === 'function';")
                .await,
            json!(has_idle)
        );
        if has_idle {
            for fetched in [&at_draw, &after_busy] {
                assert!(
                    any_of(fetched, "/app.js") && any_of(fetched, "launcher.css"),
                    "{fetched}"
                );
                assert!(
                    !any_of(fetched, "/widget/embed-") && !any_of(fetched, "talk-widget"),
                    "{fetched}"
                );
            }
            // The launcher the loader drew is on screen, in the workspace's brand colour.
            // (Noted by the page at the end of its busy period: idle comes right after.)
            assert_eq!(
                browser.js("return window.drawn;").await,
                json!({"colour": "rgb(31, 111, 235)", "hit": true})
            );
        } else {
            // WebKit has no requestIdleCallback: the loader's setTimeout fallback fetches the
            // messenger right after drawing the launcher, busy page or not.
            assert!(
                any_of(&at_draw, "launcher.css") && !any_of(&at_draw, "/widget/embed-"),
                "{at_draw}"
            );
            assert!(any_of(&after_busy, "/widget/embed-"), "{after_busy}");
        }

        // Idle now: the messenger comes and replaces the drawn launcher.
        eventually(
            "the WASM to be fetched",
            Duration::from_secs(20),
            || async { any_of(&browser.js("return fetched();").await, "_bg.wasm").then_some(()) },
        )
        .await;
        browser.widget().await;
        eventually("one launcher", Duration::from_secs(10), || async {
            let buttons = "return Array.from(document.querySelector('ap3c-talk').shadowRoot \
                 .querySelectorAll('button')).map(function (b) { return b.className; });";
            (browser.js(buttons).await == json!(["talk-launcher"])).then_some(())
        })
        .await;
        assert_eq!(
            browser
                .js("return document.querySelectorAll('ap3c-talk').length;")
                .await,
            json!(1)
        );
        assert_eq!(browser.js(LAUNCHER_HIT).await, json!(true));
        browser.screenshot("facade-idle").await;
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_click_on_the_drawn_launcher_opens_the_messenger_once_it_runs() {
    with_browser("facade-click", |server, browser| async move {
        let site = HostSite::start(vec![(
            "/",
            page_with_snippet(&server.capture_key, &server.url, "{talk: {}}", BUSY_PAGE),
        )])
        .await;
        browser.goto(&format!("{}/", site.url)).await;
        if browser.engine.has_request_idle_callback() {
            let facade = drawn_launcher(&browser).await;
            assert!(!any_of(
                &browser.js("return fetched();").await,
                "talk-widget"
            ));
            facade.click().await.expect("click the drawn launcher");
        } else {
            // WebKit: the setTimeout fallback fetches the messenger at once, so the drawn
            // launcher is replaced at a moment the test cannot see: a click on it could land on
            // an element just removed. The visitor clicks the widget's own launcher instead.
            browser.widget().await.click("talk-launcher").await;
        }
        let widget = browser.widget().await;
        widget.wait_for("talk-panel").await;
        widget.wait_for("talk-new-conversation").await;
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unread_messages_load_the_messenger_at_once() {
    with_browser("facade-unread", |server, browser| async move {
        let site = HostSite::start(vec![
            (
                "/",
                page_with_snippet(&server.capture_key, &server.url, "{talk: {}}", BUSY_PAGE),
            ),
            ("/blank", "<!doctype html><title>Blank</title>".to_string()),
        ])
        .await;
        // What the loader keeps from onUnreadCountChange on an earlier page of the site.
        browser.goto(&format!("{}/blank", site.url)).await;
        browser.js("localStorage.ap3c_talk_unread = '2';").await;
        browser.goto(&format!("{}/", site.url)).await;
        let (_, after_busy) = wait_until_not_busy(&browser).await;
        assert!(
            any_of(&after_busy, "/widget/embed-"),
            "fetched while the page was busy: {after_busy}"
        );
        browser.widget().await;
        server.stop().await;
    })
    .await;
}

/// The drawn launcher, once the loader has added it.
async fn drawn_launcher(browser: &Browser) -> fantoccini::elements::Element {
    eventually("the drawn launcher", Duration::from_secs(10), || async {
        let host = browser
            .client
            .find(fantoccini::Locator::Css("ap3c-talk"))
            .await
            .ok()?;
        host.shadow_root()
            .await
            .ok()?
            .find(fantoccini::Locator::Css(".f"))
            .await
            .ok()
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hovering_or_tabbing_to_the_drawn_launcher_fetches_the_messenger_before_idle() {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions, MouseActions, PointerAction};
    with_browser("facade-hover", |server, browser| async move {
        let site = HostSite::start(vec![(
            "/",
            page_with_snippet(&server.capture_key, &server.url, "{talk: {}}", BUSY_PAGE),
        )])
        .await;
        browser.goto(&format!("{}/", site.url)).await;
        if !browser.engine.has_request_idle_callback() {
            // WebKit: no idle to come before; the setTimeout fallback fetches the messenger
            // right after the launcher is drawn, busy page or not, hovered or not.
            let (at_draw, after_busy) = wait_until_not_busy(&browser).await;
            assert!(!any_of(&at_draw, "/widget/embed-"), "{at_draw}");
            assert!(any_of(&after_busy, "/widget/embed-"), "{after_busy}");
            server.stop().await;
            return;
        }
        let launcher = drawn_launcher(&browser).await;
        let hover = MouseActions::new("mouse".into()).then(PointerAction::MoveToElement {
            element: launcher,
            duration: None,
            x: 0.0,
            y: 0.0,
        });
        browser.client.perform_actions(hover).await.expect("hover");
        let (_, after_busy) = wait_until_not_busy(&browser).await;
        assert!(any_of(&after_busy, "/widget/embed-"), "hover: {after_busy}");

        // A keyboard user: Tab reaches the launcher (the page has nothing else to focus).
        browser.client.refresh().await.expect("reload");
        drawn_launcher(&browser).await;
        let tab = KeyActions::new("keyboard".into())
            .then(KeyAction::Down { value: '\u{E004}' })
            .then(KeyAction::Up { value: '\u{E004}' });
        browser.client.perform_actions(tab).await.expect("Tab");
        let (_, after_busy) = wait_until_not_busy(&browser).await;
        assert!(any_of(&after_busy, "/widget/embed-"), "focus: {after_busy}");
        server.stop().await;
    })
    .await;
}
