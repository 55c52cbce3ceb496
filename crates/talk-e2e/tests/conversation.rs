//! A visitor on the demo page chats with an agent through the real server, in real Chromium.

use std::time::Duration;
use talk_e2e::{eventually, widget_path, with_browser, AUTO_REPLY};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn visitor_chats_reloads_and_switches_to_a_verified_session() {
    with_browser("conversation", |server, browser| async move {
        // An unidentified visitor opens the messenger and is asked for an email.
        browser.goto(&server.demo_url()).await;
        let widget = browser.widget().await;
        // The snippet's queue was drained; later pushes run at once.
        let ran_at_once = browser
            .client
            .execute(
                "var ran = false; ap3c.cmd.push(function () { ran = true; }); return ran;",
                vec![],
            )
            .await
            .expect("push to ap3c.cmd");
        assert_eq!(ran_at_once, serde_json::Value::Bool(true));
        assert_eq!(
            browser.accessibility_violations().await,
            Vec::<String>::new(),
            "launcher"
        );
        widget.click("talk-launcher").await;
        widget.wait_for("talk-home").await;
        assert_eq!(
            browser.accessibility_violations().await,
            Vec::<String>::new(),
            "homepage"
        );
        // Every engine's homepage, side by side in e2e-output/<engine>/ (this suite runs in
        // all three; the settings suite's homepage shots only in Chromium).
        browser.screenshot("homepage-default-1280x800").await;
        widget.click("talk-new-conversation").await;
        widget.wait_for("talk-identify-form").await;
        assert_eq!(
            browser.accessibility_violations().await,
            Vec::<String>::new(),
            "email form"
        );
        widget.type_into("talk-email", "ada@example.com").await;
        widget.click("talk-identify-submit").await;

        // Enter sends; the message is shown once the server has committed it.
        widget.send("hello").await;
        widget
            .wait_for_messages(&[("visitor", "hello"), ("bot", AUTO_REPLY)])
            .await;

        let conversations = server.conversations().await;
        assert_eq!(conversations.len(), 1, "{conversations:?}");
        let first = conversations[0].clone();
        assert!(!first.verified, "a typed email proves nothing");
        let stored: Vec<String> = server
            .messages(&first.id)
            .await
            .into_iter()
            .map(|m| m.body)
            .collect();
        assert_eq!(stored, ["hello", AUTO_REPLY]);

        // An agent replies through the API; it appears live.
        server.reply(&first.id, "Hi Ada, how can I help?").await;
        widget
            .wait_for_messages(&[
                ("visitor", "hello"),
                ("bot", AUTO_REPLY),
                ("agent", "Hi Ada, how can I help?"),
            ])
            .await;
        assert_eq!(
            browser.accessibility_violations().await,
            Vec::<String>::new(),
            "conversation"
        );
        browser.screenshot("conversation-1280x800").await;

        // After a reload the same visitor (cookie) sees its history and is not asked again.
        browser.client.refresh().await.expect("reload");
        let widget = browser.widget().await;
        widget.continue_chat().await;
        widget
            .wait_for_messages(&[
                ("visitor", "hello"),
                ("bot", AUTO_REPLY),
                ("agent", "Hi Ada, how can I help?"),
            ])
            .await;
        assert!(widget.find("talk-identify-form").await.is_none());

        // The site's backend mints a token after a login; the page switches sessions.
        let session = server.mint_token("ada@example.com", "Ada Lovelace").await;
        assert_eq!(
            session.person_id,
            first.person_id.clone().expect("identified person")
        );
        browser
            .client
            .execute(
                "window.ap3c.talk.setVerifiedSession({token: arguments[0]})",
                vec![session.token.clone().into()],
            )
            .await
            .expect("setVerifiedSession");
        let greeting = eventually(
            "the greeting to name the person",
            Duration::from_secs(15),
            || async {
                let text = widget.text_now("talk-greeting").await?;
                // The first name is split from str::name "Ada Lovelace" by the session API.
                (text.trim() == "Hi Ada").then_some(text)
            },
        )
        .await;
        assert!(greeting.starts_with("Hi"), "{greeting}");
        assert!(
            widget.find("talk-identify-form").await.is_none(),
            "a verified person is never asked"
        );

        // The new session starts a new conversation, and only that one is verified.
        widget.click("talk-new-conversation").await;
        widget.wait_for_messages(&[]).await;
        widget.type_into("talk-composer", "I'm signed in now").await;
        widget.click("talk-send").await;
        widget
            .wait_for_messages(&[("visitor", "I'm signed in now"), ("bot", AUTO_REPLY)])
            .await;

        let conversations = server.conversations().await;
        assert_eq!(conversations.len(), 2, "{conversations:?}");
        let old = conversations
            .iter()
            .find(|c| c.id == first.id)
            .expect("first conversation");
        let new = conversations
            .iter()
            .find(|c| c.id != first.id)
            .expect("second conversation");
        assert!(!old.verified, "the earlier conversation stays unverified");
        assert!(
            new.verified,
            "the conversation started in the verified session is verified"
        );
        let stored: Vec<String> = server
            .messages(&new.id)
            .await
            .into_iter()
            .map(|m| m.body)
            .collect();
        assert_eq!(stored, ["I'm signed in now", AUTO_REPLY]);

        // Nothing a browser downloads carries a secret.
        let secrets: Vec<String> = server
            .signing_secrets()
            .await
            .into_iter()
            .chain([server.api_key.clone()])
            .collect();
        assert!(secrets.len() >= 2);
        let demo_path = server.demo_url().replacen(&server.url, "", 1);
        for path in [
            "/app.js".to_string(),
            widget_path("talk-widget.js"),
            widget_path("talk-widget_bg.wasm"),
            widget_path("embed.js"),
            widget_path("frame.js"),
            demo_path,
        ] {
            let served = server.fetch(&path).await;
            for secret in &secrets {
                assert!(
                    !served
                        .windows(secret.len())
                        .any(|window| window == secret.as_bytes()),
                    "{path} contains a secret"
                );
            }
        }
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_homepage_lists_earlier_conversations_with_replies_the_visitor_has_not_seen() {
    with_browser("conversation-list", |server, browser| async move {
        browser.goto(&server.demo_url()).await;
        let widget = browser.widget().await;
        widget
            .start_conversation("ada@example.com", "About my order")
            .await;
        let first = server.conversations().await.remove(0);

        // A second conversation from the homepage.
        widget.click("talk-back").await;
        widget.click("talk-new-conversation").await;
        widget.wait_for_messages(&[]).await;
        widget.send("Another question").await;
        widget.wait_for_messages(&[("visitor", "Another question"), ("bot", AUTO_REPLY)]).await;
        assert_eq!(server.conversations().await.len(), 2);

        // The team answers the first one while the visitor is in the second.
        server.reply(&first.id, "Your order ships today").await;
        widget.click("talk-back").await;
        let listed = eventually("the first conversation on top, unread", Duration::from_secs(10), || async {
            let items = browser
                .client
                .execute(
                    "return Array.from(document.querySelector('ap3c-talk').shadowRoot \
                       .querySelectorAll('[data-testid=talk-conversation-item]')).map(function (b) { \
                       return [b.querySelector('.talk-preview').textContent, b.getAttribute('data-unread')]; });",
                    vec![],
                )
                .await
                .ok()?;
            (items[0][0] == "Your order ships today").then_some(items)
        })
        .await;
        assert_eq!(
            listed,
            serde_json::json!([["Your order ships today", "true"], [AUTO_REPLY, "false"]])
        );

        // Back into it: its whole history, and it is read.
        widget.click("talk-conversation-item").await;
        widget
            .wait_for_messages(&[
                ("visitor", "About my order"),
                ("bot", AUTO_REPLY),
                ("agent", "Your order ships today"),
            ])
            .await;
        eventually("the read receipt", Duration::from_secs(10), || async {
            let conversation = server.conversations().await.into_iter().find(|c| c.id == first.id)?;
            (conversation.visitor_read_seq == 3).then_some(())
        })
        .await;
        server.stop().await;
    })
    .await;
}
