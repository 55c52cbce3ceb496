//! The widget embedded on a customer's site (another origin) and driven through `window.ap3c`.

use serde_json::{json, Value};
use std::time::Duration;
use talk_e2e::{eventually, page_with_snippet, with_browser, Browser, HostSite, AUTO_REPLY};

/// Registers page callbacks that record what they were told in `window.talkEvents`.
const RECORD_EVENTS: &str = "window.talkEvents = []; ap3c.cmd.push(function () { \
     ap3c.talk.onReady(function () { talkEvents.push('ready'); }); \
     ap3c.talk.onUnreadCountChange(function (n) { talkEvents.push('unread:' + n); }); });";

async fn js(browser: &Browser, script: &str) -> Value {
    browser
        .client
        .execute(script, vec![])
        .await
        .unwrap_or_else(|error| panic!("{script}: {error}"))
}

async fn wait_for_event(browser: &Browser, event: &str) {
    eventually(
        &format!("page event {event}"),
        Duration::from_secs(15),
        || async {
            let events = js(browser, "return window.talkEvents;").await;
            events
                .as_array()
                .is_some_and(|events| events.contains(&json!(event)))
                .then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_api_drives_the_messenger_and_hears_about_unread_messages() {
    with_browser("page-api", |server, browser| async move {
        let site = HostSite::start(vec![(
            "/",
            page_with_snippet(
                &server.capture_key,
                &server.url,
                "{talk: {}}",
                RECORD_EVENTS,
            ),
        )])
        .await;
        browser.goto(&format!("{}/", site.url)).await;
        let widget = browser.widget().await;
        wait_for_event(&browser, "ready").await;

        // open() from the page; the visitor identifies and writes.
        js(&browser, "ap3c.talk.open();").await;
        widget.click("talk-new-conversation").await;
        widget.type_into("talk-email", "ada@example.com").await;
        widget.click("talk-identify-submit").await;
        widget.send("Do you ship to Norway?").await;
        widget
            .wait_for_messages(&[("visitor", "Do you ship to Norway?"), ("bot", AUTO_REPLY)])
            .await;

        // Closed, an agent's reply counts as unread: callback, badge and tab title.
        js(&browser, "ap3c.talk.close();").await;
        let conversation = server.conversations().await.remove(0);
        server.reply(&conversation.id, "We do!").await;
        wait_for_event(&browser, "unread:1").await;
        assert_eq!(widget.text("talk-unread").await, "1");
        assert_eq!(
            js(&browser, "return document.title;").await,
            json!("(1) Shop")
        );

        // Opening reads it.
        js(&browser, "ap3c.talk.open();").await;
        wait_for_event(&browser, "unread:0").await;
        assert_eq!(js(&browser, "return document.title;").await, json!("Shop"));
        widget
            .wait_for_messages(&[
                ("visitor", "Do you ship to Norway?"),
                ("bot", AUTO_REPLY),
                ("agent", "We do!"),
            ])
            .await;

        // A single-page app changes route: the page view is recorded, the widget stays.
        js(
            &browser,
            "history.pushState({}, '', '/pricing'); ap3c.talk.route();",
        )
        .await;
        let pricing = format!("{}/pricing", site.url);
        eventually(
            "the route change to reach the contact",
            Duration::from_secs(10),
            || async {
                let contact = server.contact(&conversation.id).await;
                (contact.current_page?.url == pricing).then_some(())
            },
        )
        .await;
        let pages = server.page_urls(&conversation.id).await;
        assert_eq!(
            pages,
            [pricing.clone(), format!("{}/", site.url)],
            "newest first"
        );
        widget.wait_for("talk-panel").await;

        // hide() takes launcher and panel away; show() brings the launcher back.
        let launcher_shown = "const l = document.querySelector('ap3c-talk').shadowRoot \
             .querySelector('[data-testid=talk-launcher]'); return l.checkVisibility();";
        js(&browser, "ap3c.talk.hide();").await;
        eventually("the launcher to hide", Duration::from_secs(5), || async {
            (js(&browser, launcher_shown).await == json!(false)).then_some(())
        })
        .await;
        assert!(widget.find("talk-panel").await.is_none());
        js(&browser, "ap3c.talk.show();").await;
        eventually(
            "the launcher to come back",
            Duration::from_secs(5),
            || async { (js(&browser, launcher_shown).await == json!(true)).then_some(()) },
        )
        .await;

        // shutdown() forgets the visitor: a new id, and the next visitor is asked who they are.
        let cookie = "return (document.cookie.match(/ap3c_talk_vid=([0-9a-f]{32})/) || [])[1];";
        let before = js(&browser, cookie).await;
        js(&browser, "ap3c.talk.shutdown(); ap3c.talk.open();").await;
        let after = js(&browser, cookie).await;
        assert!(
            before.is_string() && after.is_string() && before != after,
            "{before} {after}"
        );
        widget.click("talk-new-conversation").await;
        widget.wait_for("talk-identify-form").await;
        assert!(
            widget.messages().await.is_empty(),
            "the old visitor's history is gone"
        );
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_in_init_greets_the_known_contact_and_verifies_the_conversation() {
    with_browser("init-token", |server, browser| async move {
        let session = server.mint_token("grace@example.com", "Grace Hopper").await;
        let options = format!(
            "{{cookieDomains: [], talk: {{token: '{}'}}}}",
            session.token
        );
        let site = HostSite::start(vec![(
            "/",
            page_with_snippet(&server.capture_key, &server.url, &options, ""),
        )])
        .await;
        browser.goto(&format!("{}/", site.url)).await;
        let widget = browser.widget().await;
        widget.click("talk-launcher").await;
        let greeting = eventually("a greeting by name", Duration::from_secs(15), || async {
            let text = widget.text_now("talk-greeting").await?;
            text.contains("Grace").then_some(text)
        })
        .await;
        assert!(greeting.starts_with("Hi"), "{greeting}");
        widget.click("talk-new-conversation").await;
        assert!(
            widget.find("talk-identify-form").await.is_none(),
            "a known contact is never asked"
        );
        widget
            .type_into("talk-composer", "Hello from my account")
            .await;
        widget.click("talk-send").await;
        widget
            .wait_for_messages(&[("visitor", "Hello from my account"), ("bot", AUTO_REPLY)])
            .await;
        let conversations = server.conversations().await;
        assert_eq!(conversations.len(), 1);
        assert!(conversations[0].verified);
        assert_eq!(
            conversations[0].person_id.as_deref(),
            Some(session.person_id.as_str())
        );
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_talk_keeps_the_messenger_off_that_page() {
    with_browser("disable-talk", |server, browser| async move {
        let site = HostSite::start(vec![
            (
                "/quiet",
                page_with_snippet(&server.capture_key, &server.url, "{disableTalk: true}", ""),
            ),
            (
                "/",
                page_with_snippet(&server.capture_key, &server.url, "{talk: {}}", ""),
            ),
        ])
        .await;
        browser.goto(&format!("{}/quiet", site.url)).await;
        eventually("the loader to run ap3c.init", Duration::from_secs(10), || async {
            (js(&browser, "return !!(window.ap3c && ap3c._talkLoaded && document.readyState === 'complete');").await
                == json!(true))
            .then_some(())
        })
        .await;
        // Absence needs a moment to be meaningful: a normal page mounts well within it.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let fetched_widget = "return performance.getEntriesByType('resource') \
             .some(function (entry) { return entry.name.indexOf('talk-widget') >= 0; });";
        assert_eq!(js(&browser, fetched_widget).await, json!(false), "no widget download");
        assert_eq!(js(&browser, "return document.querySelector('ap3c-talk') === null;").await, json!(true));

        // The same site without the option gets the messenger.
        browser.goto(&format!("{}/", site.url)).await;
        browser.widget().await;
        assert_eq!(js(&browser, fetched_widget).await, json!(true));
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_language_option_gives_an_arabic_right_to_left_messenger() {
    with_browser("arabic", |server, browser| async move {
        let site = HostSite::start(vec![(
            "/",
            page_with_snippet(
                &server.capture_key,
                &server.url,
                "{talk: {language: 'ar'}}",
                "",
            ),
        )])
        .await;
        browser.goto(&format!("{}/", site.url)).await;
        let widget = browser.widget().await;
        widget.start_chat().await;
        widget.wait_for("talk-identify-form").await;
        let root =
            "const m = document.querySelector('ap3c-talk').shadowRoot.querySelector('[dir]'); \
             return [m.getAttribute('lang'), m.getAttribute('dir')];";
        assert_eq!(js(&browser, root).await, json!(["ar", "rtl"]));
        let greeting = widget.text("talk-greeting").await;
        assert_eq!(greeting, "مرحبًا");
        browser.screenshot("arabic-1280x800").await;
        server.stop().await;
    })
    .await;
}

/// The client id of the tab holding the sound election's lock, if any tab does.
async fn sound_lock_holder(browser: &Browser) -> Option<String> {
    let held = browser
        .client
        .execute_async(
            "const done = arguments[0]; navigator.locks.query().then(function (s) { \
               done(s.held.filter(function (l) { return l.name.indexOf('ap3c-talk-sound:') === 0; }) \
                 .map(function (l) { return l.clientId; })); });",
            vec![],
        )
        .await
        .ok()?;
    held.as_array()?.first()?.as_str().map(str::to_string)
}

/// Counts tones (one oscillator started per tone) instead of making noise.
const COUNT_PLAYS: &str =
    "window.plays = 0; OscillatorNode.prototype.start = function () { window.plays++; };";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tab_plays_the_sound_and_only_after_the_visitor_interacted() {
    with_browser("sound", |server, browser| async move {
        let site = HostSite::start(vec![(
            "/",
            page_with_snippet(
                &server.capture_key,
                &server.url,
                "{talk: {}}",
                RECORD_EVENTS,
            ),
        )])
        .await;
        let page = format!("{}/", site.url);

        // Tab A: the visitor writes (an interaction), then closes the messenger.
        browser.goto(&page).await;
        let first_tab = browser.client.window().await.unwrap();
        let widget = browser.widget().await;
        wait_for_event(&browser, "ready").await;
        widget.start_conversation("ada@example.com", "hello").await;
        widget.click("talk-close").await;
        js(&browser, COUNT_PLAYS).await;

        // Tab B: the same visitor, no interaction yet.
        let second_tab = browser.client.new_window(true).await.unwrap().handle;
        browser
            .client
            .switch_to_window(second_tab.clone())
            .await
            .unwrap();
        browser.goto(&page).await;
        browser.widget().await;
        wait_for_event(&browser, "ready").await;
        js(&browser, COUNT_PLAYS).await;

        let conversation = server.conversations().await.remove(0);
        server.reply(&conversation.id, "one").await;
        wait_for_event(&browser, "unread:1").await;
        browser.client.switch_to_window(first_tab).await.unwrap();
        wait_for_event(&browser, "unread:1").await;
        assert_eq!(
            js(&browser, "return window.plays;").await,
            json!(1),
            "tab A plays"
        );
        // The lock manager is the origin's: `query()` lists every tab's locks, so what tells
        // that B took over is a holder other than A's client.
        let holder_a = sound_lock_holder(&browser)
            .await
            .expect("tab A holds the lock");
        browser.client.close_window().await.unwrap();
        browser.client.switch_to_window(second_tab).await.unwrap();
        assert_eq!(
            js(&browser, "return window.plays;").await,
            json!(0),
            "tab B stays quiet"
        );

        // Tab A is gone: B inherits the player's lock, but the page hasn't been touched yet.
        eventually(
            "tab B to hold the sound lock",
            Duration::from_secs(10),
            || async {
                sound_lock_holder(&browser)
                    .await
                    .filter(|holder| *holder != holder_a)
            },
        )
        .await;
        server.reply(&conversation.id, "two").await;
        wait_for_event(&browser, "unread:2").await;
        assert_eq!(
            js(&browser, "return window.plays;").await,
            json!(0),
            "no sound before an interaction"
        );

        // After a click on the page, it may ding.
        browser
            .client
            .find(fantoccini::Locator::Css("h1"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        server.reply(&conversation.id, "three").await;
        wait_for_event(&browser, "unread:3").await;
        assert_eq!(js(&browser, "return window.plays;").await, json!(1));
        server.stop().await;
    })
    .await;
}
