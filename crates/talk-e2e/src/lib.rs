//! Harness for end-to-end tests: a real `talk-server` (in-process, real sockets, a fresh
//! SQLite file) and a real browser driven over WebDriver: headless Chromium, Firefox or WebKit,
//! as `TALK_E2E_ENGINE` says ([`Engine`]). For several nodes: the real binary as processes
//! ([`Node`]) on the PostgreSQL cluster of `scripts/postgres.sh` ([`postgres`]), behind nginx
//! ([`Nginx`]), reached through their HTTP API ([`Api`]).

mod api;
mod browser;
pub mod inbox;
pub mod nginx;
mod node;
pub mod postgres;
mod server;
mod site;

pub use api::{Api, VisitorSession};
pub use browser::{Browser, Engine, Widget};
pub use nginx::Nginx;
pub use node::{create_workspace, server_binary, Node, Workspace};
pub use server::{inbox_dir, widget_path, EventListener, TestServer, TestTurn};
pub use site::{page_with_snippet, snippet_script, HostSite, SitePage};

use futures_util::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

/// The bot's answer to a new conversation while no agent is online (default settings).
pub const AUTO_REPLY: &str = "Thanks for your message! We'll reply as soon as we're back.";

/// WebDriver's Enter key.
pub const ENTER: &str = "\u{E007}";

/// Runs `body` against a fresh server and browser, keeps a screenshot in `e2e-output/` if it
/// fails, and always ends the browser session.
pub async fn with_browser<F>(name: &str, body: impl FnOnce(TestServer, Browser) -> F)
where
    F: Future<Output = ()>,
{
    with_browser_using(name, TestServer::start().await, body).await
}

/// `with_browser` with a server the test set up itself.
pub async fn with_browser_using<F>(
    name: &str,
    server: TestServer,
    body: impl FnOnce(TestServer, Browser) -> F,
) where
    F: Future<Output = ()>,
{
    with_this_browser(name, server, Browser::start().await, body).await
}

/// `with_browser_using` with a browser the test started itself (e.g.
/// [`Browser::start_refusing_storage_to`]).
pub async fn with_this_browser<F>(
    name: &str,
    server: TestServer,
    browser: Browser,
    body: impl FnOnce(TestServer, Browser) -> F,
) where
    F: Future<Output = ()>,
{
    let client = browser.client.clone();
    // A panic drops the test's future and the browser with it: the browser runs on until the
    // screenshot is taken.
    let alive = browser.keep_alive();
    let outcome = AssertUnwindSafe(body(server, browser)).catch_unwind().await;
    if outcome.is_err() {
        if let Ok(png) = client.screenshot().await {
            let _ = std::fs::write(output_dir().join(format!("{name}-failed.png")), png);
        }
    }
    let _ = client.close().await;
    drop(alive);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Runs `body` with two browsers (say, an agent's and a visitor's) against `server`; keeps a
/// screenshot of each in `e2e-output/` if it fails, and always ends both sessions.
pub async fn with_two_browsers<F>(
    name: &str,
    server: TestServer,
    body: impl FnOnce(TestServer, Browser, Browser) -> F,
) where
    F: Future<Output = ()>,
{
    with_browsers(name, 2, |mut browsers| {
        let second = browsers.pop().expect("two browsers");
        let first = browsers.pop().expect("two browsers");
        body(server, first, second)
    })
    .await
}

/// Runs `body` with `count` browsers and no [`TestServer`] (the servers are the test's own,
/// e.g. [`Node`]s); keeps a screenshot of each in `e2e-output/` if it fails, and always ends
/// every session.
pub async fn with_browsers<F>(name: &str, count: usize, body: impl FnOnce(Vec<Browser>) -> F)
where
    F: Future<Output = ()>,
{
    let mut browsers = Vec::new();
    for _ in 0..count {
        browsers.push(Browser::start().await);
    }
    let clients: Vec<_> = browsers
        .iter()
        .map(|browser| browser.client.clone())
        .collect();
    // A panic drops the test's future and the browsers with it: they run on until their
    // screenshots are taken.
    let alive: Vec<_> = browsers.iter().map(Browser::keep_alive).collect();
    let outcome = AssertUnwindSafe(body(browsers)).catch_unwind().await;
    for (index, client) in clients.iter().enumerate() {
        if outcome.is_err() {
            if let Ok(png) = client.screenshot().await {
                let _ =
                    std::fs::write(output_dir().join(format!("{name}-{index}-failed.png")), png);
            }
        }
        let _ = client.clone().close().await;
    }
    drop(alive);
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Polls `check` until it yields a value or `timeout` passes. The DOM and the socket update
/// asynchronously, so tests wait for a state instead of sleeping.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Where tests leave screenshots, one folder per engine (`e2e-output/chromium/` …); ignored by
/// git.
pub fn output_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../e2e-output")
        .join(Engine::current().name());
    std::fs::create_dir_all(&dir).expect("create e2e-output/<engine>/");
    dir
}
