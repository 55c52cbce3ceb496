//! Agents start conversations too (#17 part 3): from the inbox's contact panel an agent
//! writes first to a known visitor, who gets it on the launcher (badge and sound) while on
//! the site, or listed unread on the next visit. A real server, the inbox in one Chromium,
//! the customer's site (another origin) in another.

use serde_json::{json, Value};
use std::time::Duration;
use talk_e2e::{
    eventually, inbox, page_with_snippet, with_two_browsers, Browser, HostSite, TestServer,
    AUTO_REPLY, ENTER,
};

const WAIT: Duration = Duration::from_secs(15);

/// Records the unread counts the page is told (`window.unreadCounts`).
const RECORD_UNREAD: &str = "window.unreadCounts = []; ap3c.cmd.push(function () { \
     ap3c.talk.onUnreadCountChange(function (n) { unreadCounts.push(n); }); });";

/// Counts the alert tone's notes being played (`window.plays`), as `page_api.rs` does.
const COUNT_PLAYS: &str =
    "window.plays = 0; OscillatorNode.prototype.start = function () { window.plays++; };";

const FIRST: &str = "Do you have it in blue?";
const OUTBOUND: &str = "It's back in stock in blue, want me to put one aside?";

/// The customer's shop (`/`) and a page of another site to leave to (`/away` on the same
/// host site carries no snippet).
async fn shop(server: &TestServer) -> HostSite {
    HostSite::start(vec![
        (
            "/",
            page_with_snippet(
                &server.capture_key,
                &server.url,
                "{talk: {}}",
                RECORD_UNREAD,
            ),
        ),
        ("/away", "<!doctype html><title>Away</title>".to_string()),
    ])
    .await
}

/// The visitor gives an email in the widget, writes, and closes the messenger; the agent
/// opens that conversation in the inbox and waits for its contact panel to offer a new one.
async fn known_visitor_and_their_contact_panel(
    server: &TestServer,
    site: &HostSite,
    agent: &Browser,
    visitor: &Browser,
) {
    visitor.goto(&format!("{}/", site.url)).await;
    let widget = visitor.widget().await;
    widget.start_conversation("ada@example.com", FIRST).await;
    widget.click("talk-close").await;

    let (email, password) = server.admin_login();
    inbox::sign_in(agent, &server.inbox_url(), email, password).await;
    inbox::open_first_conversation(agent).await;
    inbox::wait_for_messages(agent, &[("visitor", FIRST), ("bot", AUTO_REPLY)], WAIT).await;
    agent.wait_for("contact-start").await;
}

/// The agent's new conversation is on screen in the inbox with the message, and listed.
async fn agent_sees_the_new_conversation(agent: &Browser) {
    inbox::wait_for_messages(agent, &[("agent", OUTBOUND)], WAIT).await;
    eventually("both conversations listed", WAIT, || async {
        (inbox::conversations(agent).await.len() == 2).then_some(())
    })
    .await;
    assert_eq!(agent.text("contact-start-error").await, "");
}

async fn unread_counts(visitor: &Browser) -> Value {
    visitor.js("return window.unreadCounts;").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_on_the_site_hears_an_agent_write_first_and_opening_shows_it() {
    let server = TestServer::start().await;
    with_two_browsers(
        "outbound-live",
        server,
        |server, agent, visitor| async move {
            let site = shop(&server).await;
            known_visitor_and_their_contact_panel(&server, &site, &agent, &visitor).await;
            visitor.js(COUNT_PLAYS).await;

            // From the keyboard: the message box, then Enter.
            agent.fill("contact-start-body", OUTBOUND).await;
            agent
                .wait_for("contact-start-body")
                .await
                .send_keys(ENTER)
                .await
                .unwrap();
            agent_sees_the_new_conversation(&agent).await;
            assert_eq!(server.conversations().await.len(), 2);

            // On the site: the launcher's badge, the page told, the tone (once).
            let widget = visitor.widget().await;
            eventually("the badge", WAIT, || async {
                (widget.text_now("talk-unread").await? == "1").then_some(())
            })
            .await;
            assert_eq!(unread_counts(&visitor).await, json!([1]));
            assert_eq!(
                visitor.js("return document.title;").await,
                json!("(1) Shop")
            );
            eventually("the tone", WAIT, || async {
                (visitor.js("return window.plays;").await.as_i64()? > 0).then_some(())
            })
            .await;

            // Opening shows the new conversation, the agent's message in it, and reads it.
            widget.click("talk-launcher").await;
            widget.wait_for_messages(&[("agent", OUTBOUND)]).await;
            eventually("the badge to go", WAIT, || async {
                widget.find("talk-unread").await.is_none().then_some(())
            })
            .await;
            // The visitor answers there; the agent has it on screen.
            widget.send("Yes please!").await;
            inbox::wait_for_messages(
                &agent,
                &[("agent", OUTBOUND), ("visitor", "Yes please!")],
                WAIT,
            )
            .await;
            server.stop().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_who_comes_back_later_finds_it_listed_unread() {
    let server = TestServer::start().await;
    with_two_browsers(
        "outbound-later",
        server,
        |server, agent, visitor| async move {
            let site = shop(&server).await;
            known_visitor_and_their_contact_panel(&server, &site, &agent, &visitor).await;
            // The visitor leaves the site.
            visitor.goto(&format!("{}/away", site.url)).await;

            agent.fill("contact-start-body", OUTBOUND).await;
            agent.click("contact-start-send").await;
            agent_sees_the_new_conversation(&agent).await;

            // Back on the site, later: a new page load. The badge, and the page is told.
            visitor.goto(&format!("{}/", site.url)).await;
            visitor.js(COUNT_PLAYS).await;
            let widget = visitor.widget().await;
            eventually("the badge", WAIT, || async {
                (widget.text_now("talk-unread").await? == "1").then_some(())
            })
            .await;
            assert_eq!(unread_counts(&visitor).await, json!([1]));

            // The homepage lists it first, unread, with the agent's message.
            widget.click("talk-launcher").await;
            widget.wait_for("talk-home").await;
            let rows = eventually("the conversations listed", WAIT, || async {
                let rows = visitor
                    .js(
                        "return Array.from(document.querySelector('ap3c-talk').shadowRoot \
                       .querySelectorAll('[data-testid=talk-conversation-item]')) \
                       .map(function (b) { return [b.querySelector('.talk-preview').textContent, \
                         b.getAttribute('data-unread')]; });",
                    )
                    .await;
                (rows.as_array()?.len() == 2 && rows[0][0] == json!(OUTBOUND)).then_some(rows)
            })
            .await;
            assert_eq!(rows, json!([[OUTBOUND, "true"], [AUTO_REPLY, "false"]]));
            assert_eq!(
                visitor.js("return window.plays;").await,
                json!(0),
                "no tone for the past"
            );

            widget.click("talk-conversation-item").await;
            widget.wait_for_messages(&[("agent", OUTBOUND)]).await;
            server.stop().await;
        },
    )
    .await;
}
