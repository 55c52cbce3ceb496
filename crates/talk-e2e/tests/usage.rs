//! Usage metering as an admin sees it in the inbox (issue 18): the Usage page's chart, table
//! and totals after a real conversation and a real call; and previews (the settings page's
//! test mode) counted apart from production and kept out of the inbox.
//!
//! The call needs Chromium's fake microphone ([`Engine::fakes_media_devices`]); that test says
//! it skips elsewhere:
//!
//! ```sh
//! scripts/coturn.sh scripts/test-e2e.sh --engine chromium usage
//! ```

use fantoccini::Locator;
use serde::Deserialize;
use std::time::Duration;
use talk_e2e::{
    eventually, inbox, page_with_snippet, with_browser, with_two_browsers, Browser, Engine,
    HostSite, TestServer, Widget,
};
use talk_protocol::{CallState, UsageReport};

const WAIT: Duration = Duration::from_secs(15);
/// The bot's answer to a new conversation while an agent is online (default settings).
const ONLINE_REPLY: &str = "Thanks for your message! We typically reply in a few minutes.";
const FIRST: &str = "How much is the blue one?";
const ANSWER: &str = "It's 20 euros.";

async fn sign_in(browser: &Browser, server: &TestServer) {
    let (email, password) = server.admin_login();
    inbox::sign_in(browser, &server.inbox_url(), email, password).await;
}

/// `GET /v1/admin/usage` for one day, as the workspace's admin.
async fn usage_of(server: &TestServer, day: &str) -> UsageReport {
    let answer = reqwest::Client::new()
        .get(format!("{}/v1/admin/usage?from={day}&to={day}", server.url))
        .header("cookie", server.admin_cookie().await)
        .send()
        .await
        .expect("GET /v1/admin/usage");
    assert!(answer.status().is_success(), "usage: {}", answer.status());
    answer.json().await.expect("a usage report")
}

/// One day of the chart and the table, as the page shows it.
#[derive(Debug, Deserialize)]
struct PageDay {
    day: String,
    /// The chart's bars: production text and voice, preview text.
    text_bar: i64,
    voice_bar: i64,
    preview_text_bar: i64,
    /// The table's cells.
    text: i64,
    voice: i64,
    calls: i64,
    preview_text: i64,
}

/// Opens the Usage page (last 7 days) with its table, and reads its newest day (today, UTC).
async fn usage_page_today(admin: &Browser) -> PageDay {
    admin.click("nav-usage").await;
    admin.wait_for("usage-chart").await;
    admin.click("usage-range-7").await;
    eventually("the week's report", WAIT, || async {
        let days = admin
            .js("return document.querySelectorAll('[data-testid=usage-row]').length;")
            .await;
        (days == serde_json::json!(7)).then_some(())
    })
    .await;
    admin.click("usage-table-toggle").await;
    let script = "const rows = document.querySelectorAll('[data-testid=usage-row]'); \
         const row = rows[rows.length - 1]; const day = row.dataset.day; \
         const cell = function (id) { return Number(row.querySelector('[data-testid=usage-row-' + id + ']').dataset.count); }; \
         const bar = function (id) { return Number(document.querySelector( \
           '[data-testid=usage-chart-' + id + '][data-day=\"' + day + '\"]').getAttribute('data-count')); }; \
         return {day: day, text_bar: bar('text'), voice_bar: bar('voice'), \
           preview_text_bar: bar('preview-text'), text: cell('text'), voice: cell('voice'), \
           calls: cell('calls'), preview_text: cell('preview-text')};";
    serde_json::from_value(admin.js(script).await).expect("today's numbers")
}

/// A total of the page's, by test id.
async fn total(admin: &Browser, testid: &str) -> i64 {
    let count = admin
        .js(&format!(
            "return Number(document.querySelector('[data-testid={testid}]').dataset.count);"
        ))
        .await;
    count
        .as_i64()
        .unwrap_or_else(|| panic!("{testid}: {count}"))
}

/// The sum of a column of the table (the days of the range).
async fn column_sum(admin: &Browser, cell: &str) -> i64 {
    let sum = admin
        .js(&format!(
            "return Array.from(document.querySelectorAll('[data-testid=usage-row] [data-testid={cell}]')) \
               .reduce(function (sum, c) {{ return sum + Number(c.dataset.count); }}, 0);"
        ))
        .await;
    sum.as_i64().expect("a sum")
}

/// The status text of a call panel: in the inbox's page, or in the widget's shadow root.
async fn call_status(browser: &Browser, in_widget: bool) -> Option<String> {
    let panel = if in_widget {
        "(function () { const h = document.querySelector('ap3c-talk'); \
           return h && h.shadowRoot && h.shadowRoot.querySelector('[data-testid=call-panel]'); })()"
    } else {
        "document.querySelector('[data-testid=call-panel]')"
    };
    let script = format!(
        "const p = {panel}; if (!p || p.hidden) return null; \
         return p.querySelector('[data-testid=call-status]').textContent;"
    );
    browser.js(&script).await.as_str().map(str::to_string)
}

/// Waits until both call panels show the running duration (`mm:ss`).
async fn both_connected(agent: &Browser, visitor: &Browser) {
    for (browser, in_widget) in [(visitor, true), (agent, false)] {
        eventually("the call to connect", WAIT, || async {
            let status = call_status(browser, in_widget).await?;
            let bytes = status.as_bytes();
            (bytes.len() == 5 && bytes[2] == b':').then_some(())
        })
        .await;
    }
}

/// Clicks a button of the agent's call panel, again while it isn't clickable yet.
async fn click_agent_call(agent: &Browser, testid: &str) {
    let css = format!("[data-testid=call-panel] [data-testid={testid}]");
    eventually(&format!("a click on {testid}"), WAIT, || async {
        let button = agent.client.find(Locator::Css(&css)).await.ok()?;
        button.click().await.ok()
    })
    .await;
}

/// Clicks a button of the visitor's call panel (in the widget's shadow root).
async fn click_visitor_call(visitor: &Browser, testid: &str) {
    let css = format!("[data-testid=call-panel] [data-testid={testid}]");
    eventually(&format!("a click on {testid}"), WAIT, || async {
        let host = visitor.client.find(Locator::Css("ap3c-talk")).await.ok()?;
        let root = host.shadow_root().await.ok()?;
        root.find(Locator::Css(&css)).await.ok()?.click().await.ok()
    })
    .await;
}

/// A visitor on a customer's site writes, the agent answers in the inbox, then they talk on a
/// call for a couple of seconds: the Usage page's chart and table show today's counts, and
/// its totals agree with the table and with the API.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_usage_page_shows_todays_conversation_and_call() {
    if !Engine::current().fakes_media_devices() {
        eprintln!(
            "SKIPPED usage: the call needs a fake microphone, which only Chromium has here, not {}",
            Engine::current().name()
        );
        return;
    }
    let server = TestServer::start().await;
    with_two_browsers("usage", server, |server, agent, visitor| async move {
        server.enable_voice().await;
        sign_in(&agent, &server).await;
        let site = HostSite::start(vec![(
            "/",
            page_with_snippet(&server.capture_key, &server.url, "{}", ""),
        )])
        .await;
        visitor.goto(&format!("{}/", site.url)).await;
        let widget: Widget = visitor.widget().await;
        widget.start_chat().await;
        widget.type_into("talk-email", "ada@example.com").await;
        widget.click("talk-identify-submit").await;
        widget.send(FIRST).await;
        widget
            .wait_for_messages(&[("visitor", FIRST), ("bot", ONLINE_REPLY)])
            .await;
        let conversation = server.conversations().await.remove(0).id;

        // The agent answers in the inbox.
        inbox::open_first_conversation(&agent).await;
        inbox::wait_for_messages(&agent, &[("visitor", FIRST), ("bot", ONLINE_REPLY)], WAIT).await;
        agent.fill("inbox-reply", ANSWER).await;
        agent.click("inbox-send").await;
        widget
            .wait_for_messages(&[("visitor", FIRST), ("bot", ONLINE_REPLY), ("agent", ANSWER)])
            .await;

        // A call, connected for a couple of seconds: one voice minute, rounded up.
        widget.click("talk-call").await;
        click_agent_call(&agent, "call-accept").await;
        both_connected(&agent, &visitor).await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        click_visitor_call(&visitor, "call-hangup").await;
        let call = eventually("the call to end", WAIT, || async {
            server
                .calls(&conversation)
                .await
                .into_iter()
                .find(|call| call.state == CallState::Ended)
        })
        .await;
        assert!(call.duration_ms > 0, "{call:?}");

        // The Usage page: today in the chart and the table.
        let today = usage_page_today(&agent).await;
        assert!(today.text >= 3, "visitor, auto-reply and agent: {today:?}");
        assert!(today.voice >= 1 && today.calls == 1, "{today:?}");
        assert_eq!(
            (today.text_bar, today.voice_bar),
            (today.text, today.voice),
            "{today:?}"
        );
        assert_eq!(
            (today.preview_text, today.preview_text_bar),
            (0, 0),
            "{today:?}"
        );

        // The totals agree with the table, and with the API.
        let text_total = total(&agent, "usage-total-text").await;
        assert_eq!(text_total, column_sum(&agent, "usage-row-text").await);
        assert_eq!(
            total(&agent, "usage-total-voice").await,
            column_sum(&agent, "usage-row-voice").await
        );
        let report = usage_of(&server, &today.day).await;
        let api = report.totals;
        assert_eq!(text_total, api.text.total());
        assert_eq!(today.text, api.text.total(), "the table's day is the API's");
        assert_eq!(total(&agent, "usage-total-visitor").await, api.text.visitor);
        assert!(
            api.text.visitor >= 1 && api.text.agent >= 1 && api.text.auto_reply >= 1,
            "{api:?}"
        );
        assert_eq!(total(&agent, "usage-total-agent").await, api.text.agent);
        assert_eq!(
            total(&agent, "usage-total-auto-reply").await,
            api.text.auto_reply
        );
        assert_eq!(total(&agent, "usage-total-voice").await, api.voice_minutes);
        assert_eq!(total(&agent, "usage-total-calls").await, 1);
        assert_eq!(total(&agent, "usage-total-inbound").await, 1);
        assert!(total(&agent, "usage-total-widget-sessions").await >= 1);
        assert_eq!(
            agent.page_accessibility_violations().await,
            Vec::<String>::new(),
            "the usage page"
        );
        agent.screenshot("usage-page").await;
        server.stop().await;
    })
    .await;
}

/// The widget's messages as (author, body) pairs.
async fn shown(widget: &Widget) -> Vec<(String, String)> {
    widget
        .messages()
        .await
        .into_iter()
        .map(|(author, body, _)| (author, body))
        .collect()
}

/// In the settings page's test mode an admin writes and the bot answers: previews count in
/// the preview counters only, and the conversation is nowhere in the inbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_counts_apart_and_stays_out_of_the_inbox() {
    with_browser("usage-previews", |server, admin| async move {
        sign_in(&admin, &server).await;
        admin.click("nav-settings").await;
        admin.wait_for("settings-form").await;
        admin.click("settings-test-mode").await;
        assert!(admin.text("settings-test-note").await.starts_with(
            "Test mode — conversations here are previews: they don't count toward your usage"
        ));
        let frame = admin.wait_for("settings-test-frame").await;
        frame
            .enter_frame()
            .await
            .expect("into the test mode's frame");
        let widget = admin.widget().await;
        // The preview opens the messenger at once: its homepage.
        widget.click("talk-new-conversation").await;
        let composer = eventually("the composer or the email field", WAIT, || async {
            if widget.find("talk-email").await.is_some() {
                return Some(false);
            }
            widget.find("talk-composer").await.map(|_| true)
        })
        .await;
        if !composer {
            widget
                .type_into("talk-email", "admin-test@example.com")
                .await;
            widget.click("talk-identify-submit").await;
        }
        widget.send("Testing the bot").await;
        eventually("the bot's answer in test mode", WAIT, || async {
            let messages = shown(&widget).await;
            let asked = messages.first() == Some(&("visitor".into(), "Testing the bot".into()));
            (asked && messages.iter().any(|(author, _)| author == "bot")).then_some(())
        })
        .await;
        admin.leave_frame().await;
        admin.click("settings-test-close").await;

        // Nowhere in the inbox, nor in the API's listing.
        admin.click("nav-inbox").await;
        admin.wait_for("inbox-page").await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(
            inbox::conversations(&admin).await,
            Vec::<(String, String)>::new()
        );
        assert!(
            server.conversations().await.is_empty(),
            "previews are listed nowhere"
        );

        // The Usage page: nothing in production, the preview's messages apart.
        let today = usage_page_today(&admin).await;
        assert_eq!((today.text, today.text_bar), (0, 0), "{today:?}");
        assert!(
            today.preview_text >= 2 && today.preview_text_bar == today.preview_text,
            "{today:?}"
        );
        assert_eq!(total(&admin, "usage-total-text").await, 0);
        assert_eq!(total(&admin, "usage-total-inbound").await, 0);
        assert_eq!(total(&admin, "usage-total-widget-sessions").await, 0);
        assert!(total(&admin, "usage-preview-text").await >= 2);
        assert!(total(&admin, "usage-preview-sessions").await >= 1);
        let report = usage_of(&server, &today.day).await;
        assert_eq!(report.totals.text.total(), 0);
        assert_eq!(report.totals.widget_sessions, 0);
        assert_eq!(report.preview_totals.text.total(), today.preview_text);
        assert_eq!(
            report.quota.text.used, 0,
            "previews never count toward the quota"
        );
        server.stop().await;
    })
    .await;
}
