//! The inbox in real Chromium against a real server: an agent answers a visitor who is on the
//! demo page in a second browser; an admin changes the widget's settings and the visitor's
//! widget follows.

use serde_json::{json, Value};
use std::time::Duration;
use talk_e2e::{
    eventually, inbox, with_browser, with_browser_using, with_two_browsers, Browser, TestServer,
    AUTO_REPLY, ENTER,
};

const WAIT: Duration = Duration::from_secs(15);

/// Signs in on the inbox page with the workspace admin's login.
async fn sign_in(browser: &Browser, server: &TestServer) {
    let (email, password) = server.admin_login();
    inbox::sign_in(browser, &server.inbox_url(), email, password).await;
}

/// Waits until the list shows exactly these (name, unread) rows, top first.
async fn wait_for_rows(agent: &Browser, expected: &[(&str, &str)]) {
    inbox::wait_for_pairs("the conversation list", expected, WAIT, || {
        inbox::conversations(agent)
    })
    .await;
}

async fn wait_for_inbox_messages(agent: &Browser, expected: &[(&str, &str)]) {
    inbox::wait_for_messages(agent, expected, WAIT).await;
}

/// Saves the widget settings form and waits for it to say so.
async fn save_settings(admin: &Browser) {
    admin.click("settings-save").await;
    eventually("the save to finish", WAIT, || async {
        let text = admin.text_now("settings-save-status").await?;
        text.starts_with("Saved.").then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_answers_a_visitor_live_and_sees_who_is_verified() {
    let server = TestServer::start().await;
    with_two_browsers(
        "inbox-conversation",
        server,
        |server, agent, visitor| async move {
            // Wrong password: said in words, and the agent stays on the sign-in page.
            agent.goto(&server.inbox_url()).await;
            agent.wait_for("signin-form").await;
            assert_eq!(
                agent.page_accessibility_violations().await,
                Vec::<String>::new(),
                "sign-in page"
            );
            agent.fill("signin-email", server.admin_login().0).await;
            agent.fill("signin-password", "not the password").await;
            agent.click("signin-submit").await;
            let error = agent.text("signin-error").await;
            assert_eq!(error, "The email or password is wrong.");
            sign_in(&agent, &server).await;
            agent.wait_for("inbox-no-conversations").await;

            // A visitor starts a conversation: it appears in the inbox without a reload.
            visitor.goto(&server.demo_url()).await;
            let widget = visitor.widget().await;
            widget.start_chat().await;
            widget.type_into("talk-email", "ada@example.com").await;
            widget.click("talk-identify-submit").await;
            widget.send("Is the blue one in stock?").await;
            widget
                .wait_for_messages(&[
                    ("visitor", "Is the blue one in stock?"),
                    ("bot", AUTO_REPLY),
                ])
                .await;
            wait_for_rows(&agent, &[("ada@example.com", "2")]).await;

            // Opened: its messages, "Not verified" in the message bar, the contact's pages.
            agent.click("inbox-conversation").await;
            wait_for_inbox_messages(
                &agent,
                &[
                    ("visitor", "Is the blue one in stock?"),
                    ("bot", AUTO_REPLY),
                ],
            )
            .await;
            assert_eq!(agent.text("inbox-not-verified").await, "Not verified");
            let demo_page = server.demo_url();
            let pages = eventually("the contact's page views", WAIT, || async {
                let pages: Vec<String> =
                    inbox::rows(&agent, "inbox-page-view", "r.getAttribute('data-url')").await;
                (!pages.is_empty()).then_some(pages)
            })
            .await;
            assert_eq!(pages, [demo_page]);
            assert_eq!(agent.text("inbox-contact-verified").await, "Not verified");
            assert_eq!(
                inbox::conversations(&agent).await,
                [("ada@example.com".to_string(), "0".to_string())],
                "opening it read it"
            );
            assert_eq!(
                agent.page_accessibility_violations().await,
                Vec::<String>::new(),
                "inbox page"
            );

            // Typing shows both ways.
            widget.type_into("talk-composer", "Also").await;
            eventually("the visitor's typing in the inbox", WAIT, || async {
                let text = agent.text_now("inbox-typing").await?;
                (text == "The visitor is typing…").then_some(())
            })
            .await;
            agent.fill("inbox-reply", "Yes, 12 left").await;
            eventually("the agent's typing in the widget", WAIT, || async {
                let text = widget.text_now("talk-typing").await?;
                text.ends_with("is typing…").then_some(())
            })
            .await;

            // The reply reaches the visitor.
            agent
                .wait_for("inbox-reply")
                .await
                .send_keys(ENTER)
                .await
                .unwrap();
            widget
                .wait_for_messages(&[
                    ("visitor", "Is the blue one in stock?"),
                    ("bot", AUTO_REPLY),
                    ("agent", "Yes, 12 left"),
                ])
                .await;
            wait_for_inbox_messages(
                &agent,
                &[
                    ("visitor", "Is the blue one in stock?"),
                    ("bot", AUTO_REPLY),
                    ("agent", "Yes, 12 left"),
                ],
            )
            .await;
            // The visitor has it on screen: "Seen" under it in the inbox.
            agent.wait_for("inbox-seen").await;

            // Assign to me, close, reopen.
            agent.click("inbox-assign").await;
            agent.wait_for("inbox-assigned-to-me").await;
            agent.click("inbox-close").await;
            eventually("the closed state", WAIT, || async {
                let text = agent.text_now("inbox-conversation-status").await?;
                (text == "Closed").then_some(())
            })
            .await;
            assert!(
                inbox::conversations(&agent).await.is_empty(),
                "closed: gone from the Open tab"
            );
            agent.click("inbox-tab-closed").await;
            wait_for_count(&agent, "inbox-conversation", 1).await;
            agent.click("inbox-reopen").await;
            agent.wait_for("inbox-close").await;
            agent.click("inbox-tab-mine").await;
            wait_for_count(&agent, "inbox-conversation", 1).await;

            // The same person signs in on the site: the new conversation is verified, no label.
            let session = server.mint_token("ada@example.com", "Ada Lovelace").await;
            visitor
                .client
                .execute(
                    "window.ap3c.talk.setVerifiedSession({token: arguments[0]})",
                    vec![session.token.clone().into()],
                )
                .await
                .expect("setVerifiedSession");
            eventually("the verified homepage", WAIT, || async {
                let text = widget.text_now("talk-greeting").await?;
                (text.trim() == "Hi Ada").then_some(())
            })
            .await;
            widget.click("talk-new-conversation").await;
            widget.wait_for_messages(&[]).await;
            widget.send("Signed in now").await;
            widget
                .wait_for_messages(&[("visitor", "Signed in now"), ("bot", AUTO_REPLY)])
                .await;
            agent.click("inbox-tab-open").await;
            let rows = eventually("the verified conversation on top", WAIT, || async {
                let rows = inbox::conversations(&agent).await;
                (rows.len() == 2 && rows[0].0 == "Ada Lovelace").then_some(rows)
            })
            .await;
            assert_eq!(rows[0].1, "2");
            agent.click("inbox-conversation").await;
            wait_for_inbox_messages(&agent, &[("visitor", "Signed in now"), ("bot", AUTO_REPLY)])
                .await;
            let verified = eventually("the contact to load", WAIT, || async {
                agent.text_now("inbox-contact-verified").await
            })
            .await;
            assert_eq!(verified, "Verified");
            assert!(
                agent.find("inbox-not-verified").await.is_none(),
                "no label for a verified conversation"
            );
            agent.screenshot("inbox-1280x800").await;
            server.stop().await;
        },
    )
    .await;
}

/// A script answering the launcher's background colour (null without a launcher) in
/// `document`, the page's own or the preview frame's.
fn launcher_colour(document: &str) -> String {
    format!(
        "const h = {document} && {document}.querySelector('ap3c-talk'); \
         const l = h && h.shadowRoot.querySelector('[data-testid=talk-launcher]'); \
         return l ? getComputedStyle(l).backgroundColor : null;"
    )
}

const PREVIEW: &str = "document.querySelector('[data-testid=settings-preview]').contentDocument";

/// The first word of each message on screen, in order.
async fn message_tags(agent: &Browser) -> Vec<String> {
    inbox::rows(agent, "inbox-message-body", "r.textContent.split(' ')[0]").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_conversation_opens_on_its_newest_page_and_loads_older_ones() {
    let server = TestServer::start().await;
    // 1 + 20 messages of 16,000 B: about 330 KB, which the server's pages (128 KiB of
    // messages at most) split in three.
    let conversation = server
        .start_conversation(
            "0123456789abcdef0123456789abcdef",
            "long@example.com",
            "first",
        )
        .await;
    let big = "x".repeat(16_000);
    for n in 2..=21 {
        server.reply(&conversation, &format!("{n} {big}")).await;
    }
    with_browser_using("inbox-load-older", server, |server, agent| async move {
        sign_in(&agent, &server).await;
        // Clicked afresh until it takes: the list may be drawn again as the socket connects.
        inbox::click_when_there(&agent, "inbox-conversation").await;
        let newest = eventually("the newest page", WAIT, || async {
            let shown = message_tags(&agent).await;
            (!shown.is_empty()).then_some(shown)
        })
        .await;
        assert_eq!(newest.last().map(String::as_str), Some("21"));
        assert!(
            newest.len() < 21,
            "one bounded page first: {} messages",
            newest.len()
        );

        // Older pages on demand (the button, or scrolling to the top), until the first
        // message, each once and in order.
        let mut shown = newest;
        while shown.first().map(String::as_str) != Some("first") {
            let before = shown.len();
            shown = eventually("an older page", WAIT, || async {
                let now = message_tags(&agent).await;
                if now.len() > before {
                    return Some(now);
                }
                // Clicked again while it hasn't taken (a node replaced under the click).
                if let Some(button) = agent.find("inbox-load-older").await {
                    let _ = button.click().await;
                }
                None
            })
            .await;
        }
        let auto_reply = AUTO_REPLY.split(' ').next().unwrap().to_string();
        let expected: Vec<String> = ["first".to_string(), auto_reply]
            .into_iter()
            .chain((2..=21).map(|n| n.to_string()))
            .collect();
        assert_eq!(shown, expected);
        // Nothing older: the button is gone.
        eventually("the load-older button to go", WAIT, || async {
            let left: Vec<String> = inbox::rows(&agent, "inbox-load-older", "r.textContent").await;
            left.is_empty().then_some(())
        })
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_change_the_visitors_widget_after_a_live_preview() {
    let server = TestServer::start().await;
    with_two_browsers(
        "inbox-settings",
        server,
        |server, admin, visitor| async move {
            sign_in(&admin, &server).await;
            admin.click("nav-settings").await;
            admin.wait_for("settings-form").await;

            // The preview runs the real widget, opened, with the saved settings.
            eventually("the preview's widget", WAIT, || async {
                let colour = admin.js(&launcher_colour(PREVIEW)).await;
                (colour == json!("rgb(31, 111, 235)")).then_some(())
            })
            .await;
            assert_eq!(
                admin.page_accessibility_violations().await,
                Vec::<String>::new(),
                "settings page"
            );

            // A bad colour is refused before anything is sent.
            admin.fill("settings-brand-color", "green").await;
            admin.click("settings-save").await;
            assert_eq!(
                admin.text("settings-brand-color-error").await,
                "Write the brand colour like #1f6feb."
            );

            // An unsaved colour shows in the preview at once, not yet for visitors.
            admin.fill("settings-brand-color", "#0a7d34").await;
            eventually("the preview to take the unsaved colour", WAIT, || async {
                let colour = admin.js(&launcher_colour(PREVIEW)).await;
                (colour == json!("rgb(10, 125, 52)")).then_some(())
            })
            .await;
            admin.click("settings-quick-link-add").await;
            admin
                .fill("settings-quick-link-label-0", "Book a demo")
                .await;
            admin
                .fill("settings-quick-link-url-0", "https://shop.example/demo")
                .await;
            let preview_link = format!(
                "const h = {PREVIEW}.querySelector('ap3c-talk'); \
             const a = h && h.shadowRoot.querySelector('[data-testid=talk-quick-link]'); \
             return a ? a.textContent : null;"
            );
            eventually("the preview's quick link", WAIT, || async {
                let text = admin.js(&preview_link).await;
                text.as_str()
                    .is_some_and(|t| t.starts_with("Book a demo"))
                    .then_some(())
            })
            .await;
            visitor.goto(&server.demo_url()).await;
            visitor.widget().await;
            assert_eq!(
                visitor.js(&launcher_colour("document")).await,
                json!("rgb(31, 111, 235)"),
                "unsaved"
            );

            // Saved: the visitor's next page load has the colour and the link.
            save_settings(&admin).await;
            visitor.client.refresh().await.unwrap();
            let widget = visitor.widget().await;
            eventually("the visitor's launcher in the new colour", WAIT, || async {
                (visitor.js(&launcher_colour("document")).await == json!("rgb(10, 125, 52)"))
                    .then_some(())
            })
            .await;
            widget.click("talk-launcher").await;
            // Found afresh each time: the messenger may draw its homepage again when the fresh
            // settings follow the remembered ones (WebKit's driver caught the old node).
            let href = eventually("the visitor's quick link", WAIT, || async {
                let link = widget.find("talk-quick-link").await?;
                let text = link.text().await.ok()?;
                let href = link.attr("href").await.ok()??;
                text.starts_with("Book a demo").then_some(href)
            })
            .await;
            assert_eq!(href, "https://shop.example/demo");

            // The response time the visitor sees follows the agent's presence.
            assert_eq!(
                widget.text("talk-response-time").await,
                "We'll reply as soon as we're back."
            );
            admin.click("inbox-presence").await;
            eventually("the agent to be online", WAIT, || async {
                let presence = admin
                    .find("inbox-presence")
                    .await?
                    .attr("data-presence")
                    .await
                    .ok()??;
                (presence == "online").then_some(())
            })
            .await;
            visitor.client.refresh().await.unwrap();
            let widget = visitor.widget().await;
            widget.click("talk-launcher").await;
            assert_eq!(
                widget.text("talk-response-time").await,
                "We typically reply in a few minutes."
            );

            // OFF: the preview says so, and the visitor's next page load shows no widget.
            admin.click("settings-enabled").await;
            admin.wait_for("settings-preview-off").await;
            save_settings(&admin).await;
            visitor.client.refresh().await.unwrap();
            // The loader asks for the launcher's stylesheet first: 204 means switched off.
            assert_eq!(visitor.launcher_stylesheet_status().await, 204);
            assert_eq!(
                visitor
                    .js("return document.querySelectorAll('ap3c-talk').length;")
                    .await,
                json!(0)
            );
            assert_eq!(
                visitor.js(&launcher_colour("document")).await,
                Value::Null,
                "no launcher when OFF"
            );
            server.stop().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_manage_keys_agents_and_origins_and_an_ended_session_signs_out() {
    with_browser("inbox-admin", |server, admin| async move {
        sign_in(&admin, &server).await;
        admin.click("nav-settings").await;
        admin.wait_for("settings-form").await;

        an_api_key_is_shown_once_works_and_is_revoked(&admin, &server).await;
        agents_are_added_reset_and_removed(&admin, &server).await;
        allowed_origins_are_checked_and_stored_normalised(&admin, &server).await;

        // The session ends on the server (signed out elsewhere, expired): the next request
        // brings the inbox back to sign-in, saying why.
        sqlx::query("DELETE FROM agent_sessions")
            .execute(&server.sql().await)
            .await
            .unwrap();
        admin.click("nav-inbox").await;
        let notice = admin.text("signin-notice").await;
        assert_eq!(
            notice,
            "Your session has expired. Sign in again to continue."
        );
        server.stop().await;
    })
    .await;
}

/// Waits until exactly `count` elements carry `testid`.
async fn wait_for_count(browser: &Browser, testid: &str, count: usize) {
    eventually(&format!("{count} × {testid}"), WAIT, || async {
        (browser.texts(testid).await.len() == count).then_some(())
    })
    .await;
}

/// Clicks the button in the settings list row whose `row_filter` (a JS expression over `r`)
/// is true.
async fn click_in_row(browser: &Browser, row: &str, row_filter: &str, button: &str) {
    browser
        .js(&format!(
            "Array.from(document.querySelectorAll('[data-testid={row}]')) \
               .find(function (r) {{ return {row_filter}; }}) \
               .querySelector('[data-testid={button}]').click();"
        ))
        .await;
}

async fn an_api_key_is_shown_once_works_and_is_revoked(admin: &Browser, server: &TestServer) {
    wait_for_count(admin, "settings-api-key", 1).await;
    admin.click("settings-api-key-create").await;
    let key = admin.text("settings-new-api-key").await;
    assert!(key.starts_with("talk_sk_"), "{key}");
    let status = || async {
        reqwest::Client::new()
            .get(format!("{}/v1/conversations", server.url))
            .header("X-Api-Key", &key)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(status().await, 200);
    wait_for_count(admin, "settings-api-key", 2).await;
    // The list shows each key by its prefix only.
    let prefix = &key[.."talk_sk_".len() + 8];
    let shown_prefix = format!("r.querySelector('code').textContent.indexOf('{prefix}') === 0");
    click_in_row(
        admin,
        "settings-api-key",
        &shown_prefix,
        "settings-api-key-revoke",
    )
    .await;
    eventually("the key to stop working", WAIT, || async {
        (status().await == 401).then_some(())
    })
    .await;
}

/// The form explains a bad email; a new agent's shown password signs in; a reset password
/// replaces it; a removed agent is gone.
async fn agents_are_added_reset_and_removed(admin: &Browser, server: &TestServer) {
    admin.fill("settings-agent-email", "sam@").await;
    admin.fill("settings-agent-name", "Sam").await;
    admin.click("settings-agent-create").await;
    assert_eq!(
        admin.text("settings-agent-email-error").await,
        "Enter the agent's email address, like sam@example.com."
    );
    admin.fill("settings-agent-email", "sam@example.com").await;
    admin.click("settings-agent-create").await;
    let password = admin.text("settings-agent-password").await;
    let login = |password: String| async move {
        reqwest::Client::new()
            .post(format!("{}/v1/agent/login", server.url))
            .json(&json!({"email": "sam@example.com", "password": password}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(login(password.clone()).await, 200);
    wait_for_count(admin, "settings-agent", 2).await;

    let sam = "r.getAttribute('data-email') === 'sam@example.com'";
    click_in_row(admin, "settings-agent", sam, "settings-agent-reset").await;
    let new_password = eventually("the new password", WAIT, || async {
        let shown = admin.text_now("settings-agent-password").await?;
        (shown != password).then_some(shown)
    })
    .await;
    assert_eq!(login(password).await, 401);
    assert_eq!(login(new_password).await, 200);

    click_in_row(admin, "settings-agent", sam, "settings-agent-remove").await;
    wait_for_count(admin, "settings-agent", 1).await;
}

/// A path is refused before sending; an origin is stored normalised.
async fn allowed_origins_are_checked_and_stored_normalised(admin: &Browser, server: &TestServer) {
    admin
        .fill("settings-origins", "https://shop.example/cart")
        .await;
    admin.click("settings-origins-save").await;
    let error = admin.text("settings-origins-error").await;
    assert!(error.contains("is not an origin"), "{error}");
    admin
        .fill("settings-origins", "https://Shop.Example/")
        .await;
    admin.click("settings-origins-save").await;
    eventually("the origins to be saved", WAIT, || async {
        let status = admin.text_now("settings-origins-status").await?;
        (status == "Saved.").then_some(())
    })
    .await;
    let origins: String = sqlx::query_scalar("SELECT allowed_origins FROM workspaces")
        .fetch_one(&server.sql().await)
        .await
        .unwrap();
    assert_eq!(origins, r#"["https://shop.example"]"#);
}

/// The agent's pending replies on screen as (state, body), in order.
async fn pending_replies(agent: &Browser) -> Vec<(String, String)> {
    let body = "r.querySelector('[data-testid=inbox-pending-body]').textContent";
    inbox::rows(
        agent,
        "inbox-pending",
        &format!("[r.getAttribute('data-state'), {body}]"),
    )
    .await
}

/// Types a reply and sends it with the Send button.
async fn reply(agent: &Browser, text: &str) {
    agent.fill("inbox-reply", text).await;
    agent.click("inbox-send").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_typed_while_the_server_restarts_are_stored_and_shown_once() {
    let server = TestServer::start().await;
    let conversation = server
        .start_conversation(
            "fedcba9876543210fedcba9876543210",
            "ada@example.com",
            "Hello?",
        )
        .await;
    with_browser_using("inbox-restart", server, |mut server, agent| async move {
        sign_in(&agent, &server).await;
        inbox::click_when_there(&agent, "inbox-conversation").await;
        let author = |kind: talk_protocol::AuthorKind| match kind {
            talk_protocol::AuthorKind::Visitor => "visitor",
            talk_protocol::AuthorKind::Agent => "agent",
            talk_protocol::AuthorKind::Bot => "bot",
        };
        let mut expected: Vec<(&str, String)> = server
            .messages(&conversation)
            .await
            .into_iter()
            .map(|m| (author(m.author.kind), m.body))
            .collect();
        let pairs = |list: &[(&str, String)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(a, b)| (a.to_string(), b.clone()))
                .collect()
        };
        let wait_for = |list: Vec<(String, String)>, timeout: Duration| {
            let agent = &agent;
            async move {
                let refs: Vec<(&str, &str)> =
                    list.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
                inbox::wait_for_messages(agent, &refs, timeout).await;
            }
        };
        wait_for(pairs(&expected), WAIT).await;

        // Live: the reply shows as sending at most until its ack, then as a message.
        reply(&agent, "First").await;
        expected.push(("agent", "First".into()));
        wait_for(pairs(&expected), WAIT).await;
        inbox::wait_for_pairs("the pending replies", &[], WAIT, || pending_replies(&agent)).await;

        // The server goes away; the agent goes on answering. The replies wait, in order.
        server.shut_down().await;
        reply(&agent, "Second").await;
        reply(&agent, "Third").await;
        inbox::wait_for_pairs(
            "the pending replies",
            &[("sending", "Second"), ("sending", "Third")],
            WAIT,
            || pending_replies(&agent),
        )
        .await;
        assert_eq!(
            inbox::messages(&agent).await,
            pairs(&expected),
            "nothing shown as sent while the server is down"
        );

        // A new server process on the same database: the inbox reconnects (with back-off)
        // and the replies go once, in order; each shows once, as a message.
        server.start_again().await;
        expected.push(("agent", "Second".into()));
        expected.push(("agent", "Third".into()));
        wait_for(pairs(&expected), Duration::from_secs(40)).await;
        inbox::wait_for_pairs("the pending replies", &[], WAIT, || pending_replies(&agent)).await;
        let bodies = agent.texts("inbox-message-body").await;
        assert_eq!(
            bodies.iter().filter(|b| *b == "Second").count(),
            1,
            "shown once: {bodies:?}"
        );

        let stored: Vec<(String, String)> = server
            .messages(&conversation)
            .await
            .into_iter()
            .map(|m| (author(m.author.kind).to_string(), m.body))
            .collect();
        assert_eq!(
            stored,
            pairs(&expected),
            "every reply stored once, in order"
        );
        let seqs: Vec<i64> = server
            .messages(&conversation)
            .await
            .iter()
            .map(|m| m.seq)
            .collect();
        assert_eq!(seqs, (1..=expected.len() as i64).collect::<Vec<_>>());

        // A reply the server refuses stays on screen, failed, with the reason and Retry;
        // a retry goes under the same id and is refused again; nothing is stored.
        let too_long = "y".repeat(talk_protocol::MAX_MESSAGE_BYTES + 1);
        agent
            .js(&format!(
                "const box = document.querySelector('[data-testid=inbox-reply]'); \
                 box.value = '{too_long}'; \
                 box.dispatchEvent(new Event('input', {{bubbles: true}})); return null;"
            ))
            .await;
        agent.click("inbox-send").await;
        let failed = [("failed", too_long.as_str())];
        inbox::wait_for_pairs("the refused reply", &failed, WAIT, || {
            pending_replies(&agent)
        })
        .await;
        let status = agent.text("inbox-pending-status").await;
        assert!(status.starts_with("Not sent: "), "{status}");
        // The line is drawn anew on each change of state: marked, the old one is told apart.
        agent
            .js("document.querySelector('[data-testid=inbox-pending]').dataset.old = '1'; return null;")
            .await;
        agent.click("inbox-retry").await;
        eventually("the retried reply refused again", WAIT, || async {
            let rows: Vec<(String, bool)> = inbox::rows(
                &agent,
                "inbox-pending",
                "[r.getAttribute('data-state'), r.dataset.old === '1']",
            )
            .await;
            (rows == [("failed".to_string(), false)]).then_some(())
        })
        .await;
        assert_eq!(
            server.messages(&conversation).await.len(),
            expected.len(),
            "nothing refused is stored"
        );
        server.stop().await;
    })
    .await;
}
