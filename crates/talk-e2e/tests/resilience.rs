//! What a production widget must survive: server restarts, hostile message content, and
//! keyboard-only visitors.

use std::time::Duration;
use talk_e2e::{eventually, with_browser, Browser, TestServer, Widget, AUTO_REPLY};

/// Opens the demo page and identifies; returns the widget ready to chat.
async fn identified_visitor(server: &TestServer, browser: &Browser) -> Widget {
    browser.goto(&server.demo_url()).await;
    let widget = browser.widget().await;
    widget.start_chat().await;
    widget.type_into("talk-email", "ada@example.com").await;
    widget.click("talk-identify-submit").await;
    widget.wait_for("talk-composer").await;
    widget
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restart_mid_conversation_loses_and_duplicates_nothing() {
    with_browser("restart", |mut server, browser| async move {
        let widget = identified_visitor(&server, &browser).await;
        widget.send("one").await;
        widget
            .wait_for_messages(&[("visitor", "one"), ("bot", AUTO_REPLY)])
            .await;
        let conversation = server.conversations().await.remove(0);
        server.reply(&conversation.id, "two").await;
        widget
            .wait_for_messages(&[("visitor", "one"), ("bot", AUTO_REPLY), ("agent", "two")])
            .await;

        // The server goes away; the visitor keeps typing.
        server.shut_down().await;
        widget.send("three").await;
        widget.send("four").await;
        let shown = widget.messages().await;
        assert_eq!(
            shown
                .iter()
                .map(|(_, body, state)| (body.as_str(), state.as_str()))
                .collect::<Vec<_>>(),
            [
                ("one", "sent"),
                (AUTO_REPLY, "sent"),
                ("two", "sent"),
                ("three", "sending"),
                ("four", "sending")
            ],
            "typed while offline: queued, in order"
        );

        // A new server process on the same database: the queue drains once, in order.
        server.start_again().await;
        widget
            .wait_for_messages(&[
                ("visitor", "one"),
                ("bot", AUTO_REPLY),
                ("agent", "two"),
                ("visitor", "three"),
                ("visitor", "four"),
            ])
            .await;
        server.reply(&conversation.id, "five").await;
        widget
            .wait_for_messages(&[
                ("visitor", "one"),
                ("bot", AUTO_REPLY),
                ("agent", "two"),
                ("visitor", "three"),
                ("visitor", "four"),
                ("agent", "five"),
            ])
            .await;

        let stored: Vec<(i64, String)> = server
            .messages(&conversation.id)
            .await
            .into_iter()
            .map(|message| (message.seq, message.body))
            .collect();
        let expected: Vec<(i64, String)> = ["one", AUTO_REPLY, "two", "three", "four", "five"]
            .iter()
            .enumerate()
            .map(|(index, body)| (index as i64 + 1, body.to_string()))
            .collect();
        assert_eq!(stored, expected, "every message stored once, in order");
        assert_eq!(server.conversations().await.len(), 1);
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markup_in_messages_is_shown_as_text() {
    with_browser("markup", |server, browser| async move {
        let widget = identified_visitor(&server, &browser).await;
        let hostile = "<img src=x onerror=alert(1)>";
        widget.send(hostile).await;
        widget.wait_for_messages(&[("visitor", hostile), ("bot", AUTO_REPLY)]).await;
        let conversation = server.conversations().await.remove(0);
        let reply = "<b>bold</b> & <script>alert(2)</script>";
        server.reply(&conversation.id, reply).await;
        widget
            .wait_for_messages(&[("visitor", hostile), ("bot", AUTO_REPLY), ("agent", reply)])
            .await;
        let injected = browser
            .client
            .execute(
                "const root = document.querySelector('ap3c-talk').shadowRoot; \
                 return root.querySelectorAll('.talk-messages img, .talk-messages b, .talk-messages script').length \
                   + document.querySelectorAll('body img').length;",
                vec![],
            )
            .await
            .expect("count injected elements");
        assert_eq!(injected, serde_json::json!(0), "no markup became elements");
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyboard_users_can_close_and_land_back_on_the_launcher() {
    with_browser("keyboard", |server, browser| async move {
        let widget = identified_visitor(&server, &browser).await;
        let focused_testid = || async {
            browser
                .client
                .execute(
                    "const active = document.querySelector('ap3c-talk').shadowRoot.activeElement; \
                     return active && active.getAttribute('data-testid');",
                    vec![],
                )
                .await
                .expect("read focus")
        };

        widget.click("talk-close").await;
        eventually("the panel to close", Duration::from_secs(5), || async {
            widget.find("talk-panel").await.is_none().then_some(())
        })
        .await;
        eventually(
            "focus back on the launcher",
            Duration::from_secs(5),
            || async {
                (focused_testid().await == serde_json::json!("talk-launcher")).then_some(())
            },
        )
        .await;

        // Reopening returns to the conversation; Escape closes too.
        widget.click("talk-launcher").await;
        widget.type_into("talk-composer", "\u{E00C}").await;
        eventually(
            "Escape to close the panel",
            Duration::from_secs(5),
            || async { widget.find("talk-panel").await.is_none().then_some(()) },
        )
        .await;
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_socket_token_is_refreshed_while_the_conversation_goes_on() {
    let server = TestServer::start_with(|settings| settings.socket_token_ttl_secs = 3).await;
    talk_e2e::with_browser_using("token-refresh", server, |mut server, browser| async move {
        let widget = identified_visitor(&server, &browser).await;
        widget.send("first").await;
        widget
            .wait_for_messages(&[("visitor", "first"), ("bot", AUTO_REPLY)])
            .await;
        let conversation = server.conversations().await.remove(0);
        let sessions_at_start = server.widget_sessions().await;

        // Several token lifetimes pass; the widget renews its token on its own.
        eventually(
            "two silent token refreshes",
            Duration::from_secs(15),
            || async { (server.widget_sessions().await >= sessions_at_start + 2).then_some(()) },
        )
        .await;
        server.reply(&conversation.id, "still here?").await;
        widget.send("yes").await;
        widget
            .wait_for_messages(&[
                ("visitor", "first"),
                ("bot", AUTO_REPLY),
                ("agent", "still here?"),
                ("visitor", "yes"),
            ])
            .await;

        // A reconnect long after the first token expired still just works.
        server.shut_down().await;
        server.start_again().await;
        server.reply(&conversation.id, "after the restart").await;
        widget.send("got it").await;
        widget
            .wait_for_messages(&[
                ("visitor", "first"),
                ("bot", AUTO_REPLY),
                ("agent", "still here?"),
                ("visitor", "yes"),
                ("agent", "after the restart"),
                ("visitor", "got it"),
            ])
            .await;
        assert!(
            widget.find("talk-identify-form").await.is_none(),
            "never asked again"
        );
        assert_eq!(
            server.conversations().await.len(),
            1,
            "one conversation throughout"
        );
        server.stop().await;
    })
    .await;
}
