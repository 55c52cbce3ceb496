//! Host pages that fight the widget: CSS resets aimed at everything, hidden divs, huge
//! z-indexes, a tiny root font size, a single-page app, a phone-sized viewport with an
//! on-screen keyboard. The messenger works and is where it should be in each.

use serde_json::{json, Value};
use std::time::Duration;
use talk_e2e::{eventually, snippet_script, with_browser, Browser, HostSite, AUTO_REPLY};

const HOSTILE_CSS: &str = "* { all: unset !important; }
div { display: none !important; }
html { font-size: 8px !important; }
iframe, button, section { display: none !important; }
.cover { display: block !important; position: fixed !important; right: 0 !important;
  bottom: 0 !important; width: 100vw !important; height: 50vh !important;
  z-index: 999999999 !important; background: #c00 !important; }";

fn hostile_page(capture_key: &str, talk_url: &str, options: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Shop</title>\
         <link rel=\"icon\" href=\"data:,\"><style>{HOSTILE_CSS}</style>\
         <script>{}</script></head><body><h1>A hostile shop</h1><div>hidden</div>\
         <p class=\"cover\">A cookie banner with a huge z-index</p></body></html>",
        snippet_script(capture_key, talk_url, options, "")
    )
}

/// Where an element of the messenger is and whether it is what a visitor hits there.
const GEOMETRY: &str = "const host = document.querySelector('ap3c-talk'); \
     const el = host && host.shadowRoot && host.shadowRoot.querySelector(arguments[0]); \
     if (!el) return null; \
     const r = el.getBoundingClientRect(); \
     return {x: r.x, y: r.y, width: r.width, height: r.height, \
       innerWidth: innerWidth, innerHeight: innerHeight, \
       hit: document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === host};";

async fn geometry(browser: &Browser, selector: &str) -> Value {
    browser
        .client
        .execute(GEOMETRY, vec![json!(selector)])
        .await
        .expect("geometry")
}

fn number(value: &Value, key: &str) -> f64 {
    value[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} in {value}"))
}

/// The launcher: 56 px, 20 px from the bottom-right corner, on top of everything.
fn assert_launcher_in_place(launcher: &Value) {
    assert_eq!(
        (number(launcher, "width"), number(launcher, "height")),
        (56.0, 56.0),
        "{launcher}"
    );
    let right = number(launcher, "innerWidth") - number(launcher, "x") - 56.0;
    let bottom = number(launcher, "innerHeight") - number(launcher, "y") - 56.0;
    assert!(
        (right - 20.0).abs() < 1.0 && (bottom - 20.0).abs() < 1.0,
        "{launcher}"
    );
    assert_eq!(
        launcher["hit"],
        json!(true),
        "the launcher is what a visitor hits: {launcher}"
    );
}

async fn chat(browser: &Browser) {
    let widget = browser.widget().await;
    widget.start_chat().await;
    widget.type_into("talk-email", "ada@example.com").await;
    widget.click("talk-identify-submit").await;
    widget.send("Hello from a hostile page").await;
    widget
        .wait_for_messages(&[
            ("visitor", "Hello from a hostile page"),
            ("bot", AUTO_REPLY),
        ])
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_css_and_z_index_leave_the_inline_messenger_alone() {
    with_browser("hostile-inline", |server, browser| async move {
        let page = hostile_page(&server.capture_key, &server.url, "{talk: {mode: 'inline'}}");
        let site = HostSite::start(vec![("/", page)]).await;
        browser.goto(&format!("{}/", site.url)).await;
        browser.widget().await;
        assert_launcher_in_place(&geometry(&browser, ".talk-launcher").await);
        let font = browser
            .js(
                "return getComputedStyle(document.querySelector('ap3c-talk').shadowRoot \
                 .querySelector('.talk-root')).fontSize;",
            )
            .await;
        assert_eq!(
            font,
            json!("15px"),
            "the page's root font size doesn't shrink us"
        );
        chat(&browser).await;
        let panel = geometry(&browser, "[data-testid=talk-panel]").await;
        assert_eq!(number(&panel, "width"), 376.0, "{panel}");
        assert!(number(&panel, "height") > 300.0, "{panel}");
        assert_eq!(panel["hit"], json!(true), "{panel}");
        browser.screenshot("hostile-inline").await;
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_css_and_z_index_leave_the_framed_messenger_alone() {
    with_browser("hostile-frame", |server, browser| async move {
        let page = hostile_page(&server.capture_key, &server.url, "{talk: {mode: 'frame'}}");
        let site = HostSite::start(vec![("/", page)]).await;
        browser.goto(&format!("{}/", site.url)).await;
        // The frame (in our shadow root, out of reach of `iframe { display: none }`) shows
        // once the messenger in it is connected, in the launcher's corner.
        let frame = eventually("the frame to show", Duration::from_secs(30), || async {
            let frame = geometry(&browser, "iframe").await;
            let shown = browser
                .js("const f = document.querySelector('ap3c-talk')?.shadowRoot?.querySelector('iframe'); \
                     return !!f && getComputedStyle(f).visibility === 'visible';")
                .await;
            (shown == json!(true) && !frame.is_null()).then_some(frame)
        })
        .await;
        assert_eq!((number(&frame, "width"), number(&frame, "height")), (100.0, 100.0), "{frame}");
        assert_eq!(frame["hit"], json!(true), "{frame}");
        browser.enter_messenger_frame().await;
        chat(&browser).await;
        browser.leave_frame().await;
        // Open: as wide as the panel and its margin, full height.
        let open = geometry(&browser, "iframe").await;
        assert_eq!(number(&open, "width"), 420.0, "{open}");
        assert_eq!(number(&open, "height"), number(&open, "innerHeight"), "{open}");
        browser.screenshot("hostile-frame").await;

        // Closed from the page, an agent's reply shows in the host page's tab title.
        browser.js("ap3c.talk.close();").await;
        let closed = eventually("the frame to shrink", Duration::from_secs(10), || async {
            let frame = geometry(&browser, "iframe").await;
            (number(&frame, "width") == 100.0).then_some(frame)
        })
        .await;
        let conversation = server.conversations().await.remove(0);
        server.reply(&conversation.id, "Welcome!").await;
        eventually("the unread count in the title", Duration::from_secs(10), || async {
            (browser.js("return document.title;").await == json!("(1) Shop")).then_some(())
        })
        .await;
        // Hidden by the page: the corner is the page's again; shown: ours.
        browser.js("ap3c.talk.hide();").await;
        let corner = format!(
            "return document.elementFromPoint({}, {}) === document.querySelector('ap3c-talk');",
            number(&closed, "x") + 50.0,
            number(&closed, "y") + 50.0
        );
        assert_eq!(browser.js(&corner).await, json!(false));
        browser.js("ap3c.talk.show();").await;
        assert_eq!(browser.js(&corner).await, json!(true));
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_page_app_keeps_the_conversation_and_records_its_routes() {
    with_browser("hostile-spa", |server, browser| async move {
        let page = talk_e2e::page_with_snippet(&server.capture_key, &server.url, "{talk: {}}", "");
        let site = HostSite::start(vec![("/", page)]).await;
        browser.goto(&format!("{}/", site.url)).await;
        chat(&browser).await;
        browser.js("window.sameDocument = true;").await;
        for route in ["/products", "/products/42"] {
            browser
                .js(&format!(
                    "history.pushState({{}}, '', '{route}'); document.title = '{route}'; ap3c.talk.route();"
                ))
                .await;
        }
        let conversation = server.conversations().await.remove(0);
        let expected: Vec<String> = ["/products/42", "/products", "/"]
            .iter()
            .map(|path| format!("{}{path}", site.url))
            .collect();
        eventually("the routes in the contact's history", Duration::from_secs(10), || async {
            let pages = server.page_urls(&conversation.id).await;
            (pages == expected).then_some(())
        })
        .await;
        // No reload: the same document, the messenger still open on the same conversation.
        assert_eq!(browser.js("return window.sameDocument;").await, json!(true));
        let widget = browser.widget().await;
        widget.wait_for("talk-panel").await;
        widget
            .wait_for_messages(&[("visitor", "Hello from a hostile page"), ("bot", AUTO_REPLY)])
            .await;
        server.stop().await;
    })
    .await;
}

/// A 375×667 phone as a frame of the host site, for engines whose windows can't get that
/// narrow: inside it, media queries, `innerWidth` and `innerHeight` are the frame's.
const PHONE: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
     <title>Phone</title><link rel=\"icon\" href=\"data:,\"></head>\
     <body style=\"margin: 0\"><iframe title=\"Phone\" src=\"/\" width=\"375\" height=\"667\" \
     style=\"border: 0; display: block\"></iframe></body></html>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_with_an_on_screen_keyboard_keeps_the_composer_in_view() {
    with_browser("hostile-phone", |server, browser| async move {
        let page = talk_e2e::page_with_snippet(&server.capture_key, &server.url, "{talk: {}}", "");
        let site = HostSite::start(vec![("/", page), ("/phone", PHONE.to_string())]).await;
        let window = browser.engine.sizes_windows_to_a_phone();
        if window {
            browser
                .client
                .set_window_size(375, 667)
                .await
                .expect("phone size");
            browser.goto(&format!("{}/", site.url)).await;
        } else {
            // Firefox's and MiniBrowser's windows don't get that narrow: the phone is a frame.
            browser.goto(&format!("{}/phone", site.url)).await;
            browser
                .client
                .enter_frame(0)
                .await
                .expect("the phone's frame");
        }
        assert_eq!(
            browser.js("return innerWidth;").await,
            json!(375),
            "a phone's width"
        );
        browser.widget().await;
        assert_launcher_in_place(&geometry(&browser, ".talk-launcher").await);
        chat(&browser).await;
        // Full screen on a phone.
        let panel = geometry(&browser, "[data-testid=talk-panel]").await;
        assert_eq!(
            (number(&panel, "x"), number(&panel, "y")),
            (0.0, 0.0),
            "{panel}"
        );
        assert_eq!(
            number(&panel, "width"),
            number(&panel, "innerWidth"),
            "{panel}"
        );
        assert_eq!(
            number(&panel, "height"),
            number(&panel, "innerHeight"),
            "{panel}"
        );
        browser.screenshot("hostile-phone").await;

        // The keyboard takes the lower part of the screen: the composer stays above it.
        let before = number(&panel, "innerHeight");
        if window {
            browser
                .client
                .set_window_size(375, 400)
                .await
                .expect("keyboard up");
        } else {
            browser.leave_frame().await;
            browser
                .js("document.querySelector('iframe').height = 400;")
                .await;
            browser
                .client
                .enter_frame(0)
                .await
                .expect("the phone's frame");
        }
        let composer = eventually(
            "the viewport to shrink",
            Duration::from_secs(10),
            || async {
                let composer = geometry(&browser, "[data-testid=talk-composer]").await;
                (number(&composer, "innerHeight") < before).then_some(composer)
            },
        )
        .await;
        let bottom = number(&composer, "y") + number(&composer, "height");
        assert!(
            bottom <= number(&composer, "innerHeight"),
            "composer below the keyboard: {composer}"
        );
        assert_eq!(composer["hit"], json!(true), "{composer}");
        let panel = geometry(&browser, "[data-testid=talk-panel]").await;
        assert_eq!(
            number(&panel, "height"),
            number(&panel, "innerHeight"),
            "{panel}"
        );
        browser.screenshot("hostile-phone-keyboard").await;
        server.stop().await;
    })
    .await;
}

/// Frame mode on a plain page, typed into as a person does: a pointer click on the framed
/// email field, then keys from the keyboard (WebDriver input actions, no Element Send Keys).
/// Issue #15 saw WebKit's driver call that field "not focusable"; in every engine the click
/// must focus it and the keys must land in it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_clicks_into_the_framed_email_field_and_types() {
    use fantoccini::actions::MOUSE_BUTTON_LEFT;
    use fantoccini::actions::{InputSource, KeyAction, KeyActions, MouseActions, PointerAction};
    with_browser("frame-typing", |server, browser| async move {
        let page = talk_e2e::page_with_snippet(
            &server.capture_key,
            &server.url,
            "{talk: {mode: 'frame'}}",
            "",
        );
        let site = HostSite::start(vec![("/", page)]).await;
        browser.goto(&format!("{}/", site.url)).await;
        browser.enter_messenger_frame().await;
        let widget = browser.widget().await;
        widget.start_chat().await;
        let field = widget.wait_for("talk-email").await;
        let click = MouseActions::new("mouse".into())
            .then(PointerAction::MoveToElement {
                element: field,
                duration: None,
                x: 0.0,
                y: 0.0,
            })
            .then(PointerAction::Down {
                button: MOUSE_BUTTON_LEFT,
            })
            .then(PointerAction::Up {
                button: MOUSE_BUTTON_LEFT,
            });
        browser
            .client
            .perform_actions(click)
            .await
            .expect("click the email field");
        let mut keys = KeyActions::new("keyboard".into());
        for key in "ada@example.com".chars() {
            keys = keys
                .then(KeyAction::Down { value: key })
                .then(KeyAction::Up { value: key });
        }
        browser.client.perform_actions(keys).await.expect("type");
        let typed = eventually(
            "the typed address in the field",
            Duration::from_secs(10),
            || async {
                let state = browser
                    .js("const r = document.querySelector('ap3c-talk').shadowRoot; \
                     const f = r.querySelector('[data-testid=talk-email]'); \
                     return [f.value, r.activeElement === f];")
                    .await;
                (state[0] == json!("ada@example.com")).then_some(state)
            },
        )
        .await;
        assert_eq!(
            typed,
            json!(["ada@example.com", true]),
            "focused and filled"
        );
        browser.screenshot("frame-email-typed").await;
        widget.click("talk-identify-submit").await;
        widget.send("Typed by hand").await;
        widget
            .wait_for_messages(&[("visitor", "Typed by hand"), ("bot", AUTO_REPLY)])
            .await;
        browser.leave_frame().await;
        server.stop().await;
    })
    .await;
}
