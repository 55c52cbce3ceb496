//! The headless API channel (issue 18, seed 003) as docs/api.md prints it: a page of the
//! customer's site (another origin) without the widget runs the docs' client block as it is,
//! with the site's backend minting its browser session with the API key (`"browser": true`).
//! The page converses with an agent who answers in the inbox; while the workspace's allowed
//! origins leave the site out, the page is refused and keeps what it typed.

use axum::routing::{get, post};
use axum::{Json, Router};
use fantoccini::Locator;
use serde_json::{json, Value};
use std::time::Duration;
use talk_e2e::inbox::{self, open_first_conversation, sign_in};
use talk_e2e::{
    eventually, with_browser_using, with_two_browsers, Browser, HostSite, TestServer, AUTO_REPLY,
    ENTER,
};

const WAIT: Duration = Duration::from_secs(20);
const QUESTION: &str = "Do you ship to Perth?";
const ANSWER: &str = "We do, in 3 to 5 days.";

/// The block docs/api.md marks `api-channel-client`, verbatim.
fn docs_client_block() -> String {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/api.md");
    let text = std::fs::read_to_string(&docs).expect("docs/api.md");
    let marker = text
        .find("<!-- docs-test: api-channel-client")
        .expect("the client block's marker in docs/api.md");
    let start = marker + text[marker..].find("```html\n").expect("an html block") + 8;
    let end = start + text[start..].find("```").expect("the block's end");
    text[start..end].to_string()
}

/// The customer's site: `/` is the page with the docs' client; `POST /talk/session` is its
/// backend's endpoint, minting for its signed-in user (here always the same one) with the
/// site's API key, and handing the page the browser half alone.
async fn site(server: &TestServer) -> HostSite {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Shop</title>\
         <link rel=\"icon\" href=\"data:,\"></head>\n<body><h1>A customer's shop</h1>\n{}</body></html>",
        docs_client_block()
    );
    let (talk_url, api_key) = (server.url.clone(), server.api_key.clone());
    let mint = move || async move {
        let answer: Value = reqwest::Client::new()
            .post(format!("{talk_url}/v1/talk/session"))
            .header("x-api-key", api_key)
            .json(&json!({
                "fields": {"str::email": "ada@example.com", "str::name": "Ada Lovelace"},
                "browser": true,
            }))
            .send()
            .await
            .expect("mint")
            .json()
            .await
            .expect("the mint's JSON");
        Json(answer["browser"].clone())
    };
    HostSite::serve(
        Router::new()
            .route("/", get(move || async move { axum::response::Html(page) }))
            .route("/talk/session", post(mint)),
    )
    .await
}

/// What the page shows, line by line.
async fn shown(page: &Browser) -> Vec<String> {
    let lines = page
        .js("return Array.from(document.querySelectorAll('#talk-log p'), (p) => p.textContent);")
        .await;
    serde_json::from_value(lines).expect("lines")
}

/// Types into the page's box and presses Enter.
async fn type_and_send(page: &Browser, text: &str) {
    let input = page
        .client
        .find(Locator::Css("#talk-text"))
        .await
        .expect("the docs' message box");
    input
        .send_keys(&format!("{text}{ENTER}"))
        .await
        .expect("type");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_client_converses_with_an_agent_in_the_inbox() {
    let server = TestServer::start().await;
    with_two_browsers("api-channel", server, |server, agent, page| async move {
        let site = site(&server).await;
        page.goto(&format!("{}/", site.url)).await;
        assert!(page.find("talk-launcher").await.is_none(), "no widget here");
        type_and_send(&page, QUESTION).await;
        // The page's own message, then the automatic reply (no agent is online yet).
        let lines = eventually("the question and the auto-reply", WAIT, || async {
            let lines = shown(&page).await;
            (lines.len() == 2).then_some(lines)
        })
        .await;
        assert_eq!(lines[0], format!("Ada Lovelace: {QUESTION}"));
        assert!(lines[1].ends_with(&format!(": {AUTO_REPLY}")), "{lines:?}");
        assert_eq!(
            page.js("return document.getElementById('talk-text').value;")
                .await,
            ""
        );

        // The agent answers in the inbox, in the conversation the page started.
        let (email, password) = server.admin_login();
        sign_in(&agent, &server.inbox_url(), email, password).await;
        open_first_conversation(&agent).await;
        inbox::wait_for_messages(&agent, &[("visitor", QUESTION), ("bot", AUTO_REPLY)], WAIT).await;
        agent.fill("inbox-reply", ANSWER).await;
        agent.click("inbox-send").await;

        eventually("the agent's answer on the page", WAIT, || async {
            let lines = shown(&page).await;
            (lines.len() == 3 && lines[2].ends_with(&format!(": {ANSWER}"))).then_some(())
        })
        .await;
        // One conversation, the person's verified one, with the three messages once each.
        let conversations = server.conversations().await;
        assert_eq!(conversations.len(), 1);
        assert!(conversations[0].verified);
        assert_eq!(server.messages(&conversations[0].id).await.len(), 3);

        // A reload is a new session of the same person: the page shows the conversation again
        // and goes on in it.
        page.goto(&format!("{}/", site.url)).await;
        eventually("the conversation after a reload", WAIT, || async {
            (shown(&page).await.len() == 3).then_some(())
        })
        .await;
        type_and_send(&page, "Great, thanks!").await;
        inbox::wait_for_messages(
            &agent,
            &[
                ("visitor", QUESTION),
                ("bot", AUTO_REPLY),
                ("agent", ANSWER),
                ("visitor", "Great, thanks!"),
            ],
            WAIT,
        )
        .await;
        assert_eq!(page.uncaught_errors().await, Vec::<String>::new());
        server.stop().await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allowed_origins_hold_off_a_page_of_another_site_until_it_is_allowed() {
    let server = TestServer::start().await;
    with_browser_using("api-channel-origins", server, |server, page| async move {
        let site = site(&server).await;
        let workspace =
            talk_server::workspaces::by_capture_key(&server.state.db, &server.capture_key)
                .await
                .expect("the workspace")
                .expect("the workspace");
        let allow = |origins: Vec<String>| {
            let db = server.state.db.clone();
            let workspace_id = workspace.id.clone();
            async move {
                talk_server::workspaces::set_allowed_origins(&db, &workspace_id, &origins)
                    .await
                    .expect("set the allowed origins");
            }
        };
        allow(vec!["https://shop.example.com".into()]).await;

        page.goto(&format!("{}/", site.url)).await;
        type_and_send(&page, QUESTION).await;
        // Refused (403 origin_not_allowed): nothing stored, and the text back in the box.
        eventually("the refused message back in the box", WAIT, || async {
            let value = page
                .js("return document.getElementById('talk-text').value;")
                .await;
            (value == QUESTION).then_some(())
        })
        .await;
        assert!(shown(&page).await.is_empty());
        assert!(server.conversations().await.is_empty());

        // Allowed: the stream (retrying) connects, and the same message goes through.
        allow(vec!["https://shop.example.com".into(), site.url.clone()]).await;
        page.js("document.getElementById('talk-form').requestSubmit();")
            .await;
        eventually("the message shown once allowed", WAIT, || async {
            shown(&page)
                .await
                .first()
                .is_some_and(|line| line.ends_with(QUESTION))
                .then_some(())
        })
        .await;
        assert_eq!(server.conversations().await.len(), 1);
        server.stop().await;
    })
    .await;
}
