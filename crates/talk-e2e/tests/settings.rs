//! The workspace's settings as a visitor sees them, and what agents and visitors see of each
//! other while they write.

use serde_json::{json, Value};
use std::time::Duration;
use talk_e2e::{eventually, with_browser, Browser, AUTO_REPLY};

async fn js(browser: &Browser, script: &str) -> Value {
    browser
        .client
        .execute(script, vec![])
        .await
        .unwrap_or_else(|error| panic!("{script}: {error}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admins_settings_shape_the_visitors_widget() {
    with_browser("settings", |server, browser| async move {
        server
            .update_widget_settings(|settings| {
                settings["homepage"]["brand_color"] = json!("#0a7d34");
                settings["homepage"]["appearance"] = json!("dark");
                settings["homepage"]["bot_photo_url"] = json!("https://cdn.example/bot.png");
                settings["homepage"]["greeting"] = json!("Welcome, {{first_name|friend}}!");
                settings["homepage"]["quick_links"] =
                    json!([{"label": "Shipping and returns", "url": "https://shop.example/shipping"}]);
                settings["launcher"]["position"] = json!("left");
                settings["names_required"] = json!(true);
                settings["response_times"]["away"] = json!("We reply within a day.");
            })
            .await;
        browser.goto(&server.demo_url()).await;
        let widget = browser.widget().await;

        // Launcher on the left, in the brand colour.
        let launcher = "const l = document.querySelector('ap3c-talk').shadowRoot \
             .querySelector('[data-testid=talk-launcher]'); const r = l.getBoundingClientRect(); \
             return [r.left < innerWidth / 2, getComputedStyle(l).backgroundColor];";
        assert_eq!(js(&browser, launcher).await, json!([true, "rgb(10, 125, 52)"]));

        widget.click("talk-launcher").await;
        // Dark, because the workspace says so (the browser's scheme is light).
        let panel_background = "return getComputedStyle(document.querySelector('ap3c-talk').shadowRoot              .querySelector('[data-testid=talk-panel]')).backgroundColor;";
        assert_eq!(js(&browser, panel_background).await, json!("rgb(28, 31, 38)"));
        let greeting = widget.text("talk-greeting").await;
        assert_eq!(greeting, "Welcome, friend!");
        assert_eq!(
            widget.text("talk-response-time").await,
            "We reply within a day."
        );
        let link = widget.wait_for("talk-quick-link").await;
        assert!(link.text().await.unwrap().starts_with("Shipping and returns"));
        assert_eq!(link.attr("href").await.unwrap().as_deref(), Some("https://shop.example/shipping"));
        assert_eq!(link.attr("rel").await.unwrap().as_deref(), Some("noopener noreferrer"));
        assert_eq!(browser.accessibility_violations().await, Vec::<String>::new(), "homepage with settings");
        browser.screenshot("homepage-1280x800").await;
        browser.client.set_window_size(375, 667).await.unwrap();
        browser.screenshot("homepage-375x667").await;
        browser.client.set_window_size(1280, 800).await.unwrap();

        // The workspace asks for names: they are required, then shown to agents as the
        // visitor's unverified claim (the person gets the email alone).
        widget.click("talk-new-conversation").await;
        widget.type_into("talk-email", "ada@example.com").await;
        widget.click("talk-identify-submit").await;
        widget.wait_for("talk-first-name-error").await;
        widget.type_into("talk-first-name", "Ada").await;
        widget.type_into("talk-last-name", "Lovelace").await;
        widget.click("talk-identify-submit").await;
        widget.send("Hello").await;
        widget
            .wait_for_messages(&[("visitor", "Hello"), ("bot", "Thanks for your message! We reply within a day.")])
            .await;
        // The bot's message carries its photo.
        let bot_photo = "return Array.from(document.querySelector('ap3c-talk').shadowRoot              .querySelectorAll('[data-author=bot] img.talk-avatar')).map(function (i) { return i.getAttribute('src'); });";
        assert_eq!(js(&browser, bot_photo).await, json!(["https://cdn.example/bot.png"]));
        let conversation = server.conversations().await.remove(0);
        let contact = server.contact(&conversation.id).await;
        let person = contact.person.expect("an identified person");
        assert_eq!(person.email.as_deref(), Some("ada@example.com"));
        let claimed = contact.claimed.expect("what the visitor typed");
        assert_eq!(
            (claimed.email.as_deref(), claimed.first_name.as_deref(), claimed.last_name.as_deref()),
            (Some("ada@example.com"), Some("Ada"), Some("Lovelace"))
        );
        // The snippet's ap3c.track recorded the page the visitor is on.
        let current = contact.current_page.expect("a page view");
        assert!(current.url.starts_with(&format!("{}/demo", server.url)), "{}", current.url);

        // Switched off on the server: gone on the next page load.
        server.update_widget_settings(|settings| settings["enabled"] = json!(false)).await;
        browser.client.refresh().await.unwrap();
        // The loader asks for the launcher's stylesheet first: 204 means switched off, and it
        // draws nothing and fetches no widget.
        assert_eq!(browser.launcher_stylesheet_status().await, 204);
        let launcher_count = "return document.querySelectorAll('ap3c-talk').length;";
        assert_eq!(js(&browser, launcher_count).await, json!(0), "no launcher when OFF");
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_and_read_receipts_go_both_ways() {
    with_browser("typing", |server, browser| async move {
        browser.goto(&server.demo_url()).await;
        let widget = browser.widget().await;
        widget
            .start_conversation("ada@example.com", "Is this in stock?")
            .await;
        let conversation = server.conversations().await.remove(0);

        // The visitor types: the others in the conversation hear it (as agents will).
        let visitor_id = conversation.visitor_id.clone();
        let mut others = server.listen_as_visitor(&visitor_id).await;
        widget.type_into("talk-composer", "Also").await;
        let typing = others.next_of_type("typing", Duration::from_secs(10)).await;
        assert_eq!(typing["conversation_id"], json!(conversation.id));
        assert_eq!(typing["author"]["kind"], json!("visitor"));
        assert_eq!(typing["typing"], json!(true));
        widget
            .type_into("talk-composer", "\u{E009}a\u{E009}\u{E003}")
            .await; // Ctrl+A, Backspace

        // The visitor has the conversation on screen: the agents learn it was read.
        eventually(
            "the visitor's read receipt",
            Duration::from_secs(10),
            || async {
                let read = server.conversations().await.remove(0).visitor_read_seq;
                (read >= 2).then_some(())
            },
        )
        .await;

        // An agent types: the visitor sees who.
        server.agent_typing(&conversation.id).await;
        let typing = eventually("the typing indicator", Duration::from_secs(10), || async {
            let text = widget.text_now("talk-typing").await?;
            (!text.is_empty()).then_some(text)
        })
        .await;
        assert_eq!(typing, "Grace is typing…");
        // The reply ends it.
        server.reply(&conversation.id, "Yes, 12 left.").await;
        widget
            .wait_for_messages(&[
                ("visitor", "Is this in stock?"),
                ("bot", AUTO_REPLY),
                ("agent", "Yes, 12 left."),
            ])
            .await;
        assert_eq!(widget.text("talk-typing").await, "");

        // The agents read the visitor's next message: "Seen" under it.
        widget.send("Great, thanks").await;
        widget
            .wait_for_messages(&[
                ("visitor", "Is this in stock?"),
                ("bot", AUTO_REPLY),
                ("agent", "Yes, 12 left."),
                ("visitor", "Great, thanks"),
            ])
            .await;
        assert!(widget.find("talk-seen").await.is_none());
        server.agent_read(&conversation.id, 4).await;
        widget.wait_for("talk-seen").await;
        server.stop().await;
    })
    .await;
}
