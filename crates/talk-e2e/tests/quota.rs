//! A workspace over its hard monthly quota (#18): a visitor's new conversation is refused
//! with `quota_exceeded`, and the widget keeps the message (shown as sending, never failed),
//! says so politely and offers the email form; once the limit is raised and the widget
//! connects again, the kept message is stored, once.

use talk_e2e::{eventually, with_browser, TestServer, AUTO_REPLY};

const WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// `PUT /v1/admin/quota` as the workspace's admin.
async fn set_quota(server: &TestServer, text_messages_per_month: i64) {
    let answer = reqwest::Client::new()
        .put(format!("{}/v1/admin/quota", server.url))
        .header("cookie", server.admin_cookie().await)
        .json(&serde_json::json!({
            "mode": "hard",
            "text_messages_per_month": text_messages_per_month,
            "voice_minutes_per_month": null
        }))
        .send()
        .await
        .expect("set the quota");
    let status = answer.status();
    assert!(
        status.is_success(),
        "PUT /v1/admin/quota: {status} {}",
        answer.text().await.unwrap_or_default()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_a_hard_quota_the_widget_keeps_the_message_and_sends_it_once_allowed() {
    with_browser("quota-hard", |mut server, browser| async move {
        // The month's text so far: the visitor's message and the auto-reply.
        browser.goto(&server.demo_url()).await;
        let widget = browser.widget().await;
        widget.start_conversation("ada@example.com", "one").await;
        set_quota(&server, 2).await;

        // A new conversation: refused, kept, explained, and the email form is back.
        widget.click("talk-back").await;
        widget.click("talk-new-conversation").await;
        widget.send("two").await;
        let notice = widget.wait_for("talk-notice").await;
        assert_eq!(notice.attr("role").await.unwrap().as_deref(), Some("alert"));
        assert!(
            widget
                .text("talk-notice")
                .await
                .starts_with("We can't take new messages"),
            "{}",
            widget.text("talk-notice").await
        );
        widget.wait_for("talk-email").await;
        let shown = widget.messages().await;
        assert_eq!(
            shown
                .iter()
                .map(|(author, body, state)| (author.as_str(), body.as_str(), state.as_str()))
                .collect::<Vec<_>>(),
            [("visitor", "two", "sending")],
            "kept as sending, not failed"
        );
        assert_eq!(server.conversations().await.len(), 1, "nothing stored");

        // The email fallback: the visitor leaves an address; the form goes, the notice stays.
        widget
            .type_into("talk-email", "ada.backup@example.com")
            .await;
        widget.click("talk-identify-submit").await;
        widget.wait_for("talk-composer").await;
        assert!(widget.find("talk-notice").await.is_some());

        // The admin raises the limit; the next connection sends the kept message, once.
        set_quota(&server, 1_000).await;
        server.shut_down().await;
        server.start_again().await;
        widget
            .wait_for_messages(&[("visitor", "two"), ("bot", AUTO_REPLY)])
            .await;
        eventually("the notice to go", WAIT, || async {
            widget.find("talk-notice").await.is_none().then_some(())
        })
        .await;
        let conversations = server.conversations().await;
        assert_eq!(conversations.len(), 2);
        let mut bodies = Vec::new();
        for conversation in &conversations {
            for message in server.messages(&conversation.id).await {
                bodies.push(message.body);
            }
        }
        assert_eq!(
            bodies.iter().filter(|body| *body == "two").count(),
            1,
            "stored once: {bodies:?}"
        );
        server.stop().await;
    })
    .await;
}
