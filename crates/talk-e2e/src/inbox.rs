//! The inbox page as an agent uses it, by `data-testid`, at any server's address.

use crate::{eventually, Browser};
use std::time::Duration;

/// Signs in on the inbox at `inbox_url` and waits for the inbox page.
pub async fn sign_in(browser: &Browser, inbox_url: &str, email: &str, password: &str) {
    browser.goto(inbox_url).await;
    browser.fill("signin-email", email).await;
    browser.fill("signin-password", password).await;
    browser.click("signin-submit").await;
    browser.wait_for("inbox-page").await;
}

/// For each element carrying the `row` testid, in document order, what `cells` (a JS
/// expression over the element `r`) makes of it.
pub async fn rows<T: serde::de::DeserializeOwned>(browser: &Browser, row: &str, cells: &str) -> T {
    let script = format!(
        "return Array.from(document.querySelectorAll('[data-testid={row}]')) \
           .map(function (r) {{ return {cells}; }});"
    );
    serde_json::from_value(browser.js(&script).await).expect("rows")
}

/// The listed conversations as (name, unread), top first.
pub async fn conversations(browser: &Browser) -> Vec<(String, String)> {
    let name = "r.querySelector('[data-testid=inbox-conversation-name]').textContent";
    rows(
        browser,
        "inbox-conversation",
        &format!("[{name}, r.getAttribute('data-unread')]"),
    )
    .await
}

/// The open conversation's messages as (author, body), in order.
pub async fn messages(browser: &Browser) -> Vec<(String, String)> {
    let body = "r.querySelector('[data-testid=inbox-message-body]').textContent";
    rows(
        browser,
        "inbox-message",
        &format!("[r.getAttribute('data-author'), {body}]"),
    )
    .await
}

/// Waits until `read` answers exactly `expected`; on timeout, says what it last answered.
pub async fn wait_for_pairs<F, Fut>(
    what: &str,
    expected: &[(&str, &str)],
    timeout: Duration,
    read: F,
) where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Vec<(String, String)>>,
{
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let seen = read().await;
        if seen == expected {
            return;
        }
        if std::time::Instant::now() > deadline {
            panic!("{what} shows {seen:?}, expected {expected:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the open conversation shows exactly these (author, body) messages.
pub async fn wait_for_messages(browser: &Browser, expected: &[(&str, &str)], timeout: Duration) {
    wait_for_pairs("the inbox's conversation", expected, timeout, || {
        messages(browser)
    })
    .await;
}

/// Finds and clicks `testid`, again while the node found is replaced before the click.
pub async fn click_when_there(browser: &Browser, testid: &str) {
    eventually(
        &format!("a click on {testid}"),
        Duration::from_secs(15),
        || async { browser.find(testid).await?.click().await.ok() },
    )
    .await;
}

/// Clicks the first listed conversation, again while the list is drawn anew under the click
/// (as the socket connects).
pub async fn open_first_conversation(browser: &Browser) {
    click_when_there(browser, "inbox-conversation").await;
}
