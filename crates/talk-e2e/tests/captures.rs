//! Capture widgets (issue 17, seed 000's outbound conversations) on a customer's site: the
//! server offers one in the session answer of a page that matches, the loader's capture module
//! shows it after its delay, a dismissal is for good, and an unidentified visitor's reply starts
//! a conversation that reads the capture's message, the reply, then the email form.

use serde_json::{json, Value};
use std::time::Duration;
use talk_e2e::inbox::sign_in;
use talk_e2e::{eventually, page_with_snippet, with_browser, Browser, HostSite, TestServer};

const PRICING_HELP: &str = "Questions about our plans? Ask us here.";

/// A capture widget made through the admin API, as the inbox's settings make one.
async fn create_capture(server: &TestServer, capture: Value) -> String {
    let cookie = server.admin_cookie().await;
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/admin/capture-widgets", server.url))
        .header("cookie", cookie)
        .json(&capture)
        .send()
        .await
        .expect("create the capture widget");
    let status = answer.status();
    let body: Value = answer.json().await.expect("capture widget JSON");
    assert_eq!(status.as_u16(), 201, "create the capture widget: {body}");
    body["id"].as_str().expect("its id").to_string()
}

/// Its counts as the admin API answers them: shown, dismissed, replied, conversations.
async fn stats(server: &TestServer, id: &str) -> [i64; 4] {
    let cookie = server.admin_cookie().await;
    let list: Value = reqwest::Client::new()
        .get(format!("{}/v1/admin/capture-widgets", server.url))
        .header("cookie", cookie)
        .send()
        .await
        .expect("list the capture widgets")
        .json()
        .await
        .expect("list JSON");
    let capture = list["capture_widgets"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("capture {id} in {list}"))
        .clone();
    let count = |name: &str| capture["stats"][name].as_i64().unwrap_or(-1);
    [
        count("shown"),
        count("dismissed"),
        count("replied"),
        count("conversations"),
    ]
}

/// Whether the capture card is on screen (it lives in the messenger's shadow root).
async fn card_shown(browser: &Browser) -> bool {
    browser
        .js(
            "const card = document.querySelector('ap3c-talk')?.shadowRoot \
             ?.querySelector('[data-testid=capture-card]'); \
         return Boolean(card && card.checkVisibility());",
        )
        .await
        == json!(true)
}

/// Waits for the messenger's session on this page view (its `ready`).
async fn wait_until_ready(browser: &Browser) {
    eventually(
        "the messenger to be ready",
        Duration::from_secs(20),
        || async {
            (browser.js("return window.talkReady === true;").await == json!(true)).then_some(())
        },
    )
    .await;
}

const RECORD_READY: &str = "ap3c.cmd.push(function () { \
     ap3c.talk.onReady(function () { window.talkReady = true; }); });";

/// The resources this page fetched whose URL contains `part`.
async fn fetched(browser: &Browser, part: &str) -> Vec<String> {
    let found = browser
        .js(&format!(
            "return performance.getEntriesByType('resource').map(e => e.name) \
                 .filter(n => n.includes({}));",
            json!(part)
        ))
        .await;
    serde_json::from_value(found).unwrap_or_default()
}

async fn site(server: &TestServer) -> HostSite {
    let page = || page_with_snippet(&server.capture_key, &server.url, "{talk: {}}", RECORD_READY);
    HostSite::start(vec![("/", page()), ("/pricing", page())]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_for_pricing_shows_there_after_its_delay_not_elsewhere_and_a_dismissal_is_for_good(
) {
    with_browser("capture-targeting", |server, browser| async move {
        let id = create_capture(
            &server,
            json!({
                "name": "Pricing help",
                "message": PRICING_HELP,
                "sender": {"kind": "bot"},
                "rules": [{"match": "starts_with", "value": "/pricing"}],
                "delay_secs": 3,
                "frequency": "every_page_view",
            }),
        )
        .await;
        let site = site(&server).await;

        // The home page: no capture, and nothing fetched for one.
        browser.goto(&format!("{}/", site.url)).await;
        wait_until_ready(&browser).await;
        tokio::time::sleep(Duration::from_millis(4_500)).await;
        assert!(!card_shown(&browser).await, "no capture on /");
        assert_eq!(
            [
                fetched(&browser, "/widget/capture-").await,
                fetched(&browser, "/v1/talk/captures/").await
            ]
            .concat(),
            Vec::<String>::new(),
            "a page without a capture loads no capture module and reports nothing"
        );

        // /pricing: shown once its 3 s on the page have passed, not before.
        browser.goto(&format!("{}/pricing", site.url)).await;
        wait_until_ready(&browser).await;
        let early = browser.js("return performance.now();").await;
        if early.as_f64().is_some_and(|ms| ms < 2_500.0) {
            assert!(!card_shown(&browser).await, "shown before its delay");
        }
        eventually(
            "the capture on /pricing",
            Duration::from_secs(15),
            || async { card_shown(&browser).await.then_some(()) },
        )
        .await;
        let at = browser.js("return performance.now();").await;
        assert!(
            at.as_f64().is_some_and(|ms| ms >= 3_000.0),
            "shown at {at} ms"
        );
        let widget = browser.widget().await;
        assert_eq!(widget.text("capture-message").await, PRICING_HELP);
        assert!(widget
            .text("capture-sender")
            .await
            .contains(&server_bot_name()));
        eventually("shown to be counted", Duration::from_secs(10), || async {
            (stats(&server, &id).await[0] == 1).then_some(())
        })
        .await;
        assert_eq!(
            browser.accessibility_violations().await,
            Vec::<String>::new(),
            "axe on the messenger's shadow root with the card"
        );

        // Dismissed, it goes, and it doesn't come back on the next view of the page.
        widget.click("capture-dismiss").await;
        eventually("the card to go", Duration::from_secs(5), || async {
            (!card_shown(&browser).await).then_some(())
        })
        .await;
        eventually(
            "dismissed to be counted",
            Duration::from_secs(10),
            || async { (stats(&server, &id).await[1] == 1).then_some(()) },
        )
        .await;
        browser.goto(&format!("{}/pricing", site.url)).await;
        wait_until_ready(&browser).await;
        tokio::time::sleep(Duration::from_millis(4_500)).await;
        assert!(!card_shown(&browser).await, "a dismissed capture came back");
        assert_eq!(stats(&server, &id).await, [1, 1, 0, 0]);
    })
    .await;
}

/// The homepage's bot name when the settings keep the default.
fn server_bot_name() -> String {
    talk_protocol::Homepage::default().bot_name
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unidentified_visitors_reply_starts_the_conversation_and_the_email_form_follows() {
    with_browser("capture-reply", |server, browser| async move {
        let id = create_capture(
            &server,
            json!({
                "name": "Plans",
                "message": "Hi {{first_name|there}}! Need help choosing a plan?",
                "sender": {"kind": "bot"},
                "rules": [{"match": "contains", "value": "pricing"}],
                "display": "opened",
            }),
        )
        .await;
        // The admin's view before: nothing yet.
        let (email, password) = server.admin_login();
        sign_in(&browser, &server.inbox_url(), email, password).await;
        assert_eq!(inbox_counts(&server, &browser, "Plans").await, ["0", "0", "0", "0"]);

        let site = site(&server).await;
        browser.goto(&format!("{}/pricing", site.url)).await;
        let widget = browser.widget().await;
        widget.wait_for("capture-card").await;
        let capture_text = "Hi there! Need help choosing a plan?";
        assert_eq!(widget.text("capture-message").await, capture_text);

        // The reply goes without an email.
        widget
            .type_into("capture-reply", "Which plan fits a team of five?")
            .await;
        widget.click("capture-send").await;
        eventually("the card to go", Duration::from_secs(10), || async {
            (!card_shown(&browser).await).then_some(())
        })
        .await;

        // The messenger opens on the new conversation: capture message, reply, email form.
        widget
            .wait_for_messages(&[
                ("bot", capture_text),
                ("visitor", "Which plan fits a team of five?"),
            ])
            .await;
        widget.wait_for("talk-email").await;
        let order = browser.js(
            "const root = document.querySelector('ap3c-talk').shadowRoot; \
             const last = [...root.querySelectorAll('[data-testid=talk-message]')].pop(); \
             const form = root.querySelector('[data-testid=talk-email]'); \
             return Boolean(last.compareDocumentPosition(form) & Node.DOCUMENT_POSITION_FOLLOWING);",
        )
        .await;
        assert_eq!(order, json!(true), "the email form comes after the reply");

        let conversations = server.conversations().await;
        assert_eq!(conversations.len(), 1);
        let stored = server.messages(&conversations[0].id).await;
        let stored: Vec<(&str, &str)> = stored
            .iter()
            .map(|m| (m.body.as_str(), kind(&m.author.kind)))
            .collect();
        assert_eq!(
            stored[..2],
            [
                (capture_text, "bot"),
                ("Which plan fits a team of five?", "visitor")
            ]
        );
        assert_eq!(stats(&server, &id).await, [1, 0, 1, 1]);

        // With the email given, the conversation goes on from the composer.
        widget.type_into("talk-email", "ada@example.com").await;
        widget.click("talk-identify-submit").await;
        widget.send("Thanks!").await;
        eventually("the second message", Duration::from_secs(15), || async {
            let messages = server.messages(&conversations[0].id).await;
            messages
                .iter()
                .any(|m| m.body == "Thanks!")
                .then_some(())
        })
        .await;

        // Answered, the capture isn't offered to this visitor again.
        browser.goto(&format!("{}/pricing", site.url)).await;
        wait_until_ready(&browser).await;
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        assert!(!card_shown(&browser).await, "offered again after a reply");

        // The inbox's counts moved, and the conversation it started is listed there.
        assert_eq!(inbox_counts(&server, &browser, "Plans").await, ["1", "0", "1", "1"]);
        browser.click("capture-show-conversations").await;
        browser.wait_for("capture-conversation").await;
        let listed = browser
            .js("return [...document.querySelectorAll('[data-testid=capture-conversation]')] \
                 .map(c => c.dataset.id);")
            .await;
        assert_eq!(listed, json!([conversations[0].id]));
    })
    .await;
}

/// The counts the inbox's settings page shows for the capture widget named `name`: shown,
/// dismissed, replied, conversations.
async fn inbox_counts(server: &TestServer, browser: &Browser, name: &str) -> [String; 4] {
    browser.goto(&server.inbox_url()).await;
    browser.wait_for("inbox-page").await;
    browser.click("nav-settings").await;
    browser.wait_for("capture-row").await;
    let counts = browser
        .js(&format!(
            "const row = [...document.querySelectorAll('[data-testid=capture-row]')] \
                 .find(r => r.dataset.name === {}); \
             return ['capture-shown', 'capture-dismissed', 'capture-replied', \
                     'capture-conversations'] \
                 .map(id => row.querySelector(`[data-testid=${{id}}]`).textContent.trim());",
            json!(name)
        ))
        .await;
    serde_json::from_value(counts).expect("four counts")
}

fn kind(kind: &talk_protocol::AuthorKind) -> &'static str {
    match kind {
        talk_protocol::AuthorKind::Visitor => "visitor",
        talk_protocol::AuthorKind::Agent => "agent",
        talk_protocol::AuthorKind::Bot => "bot",
    }
}
