//! Harness for end-to-end tests: a real `talk-server` (in-process, real sockets, a fresh
//! SQLite file) and a real headless Chromium driven over WebDriver.

mod browser;
mod server;

pub use browser::{Browser, Widget};
pub use server::TestServer;

use std::future::Future;
use std::time::{Duration, Instant};

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

/// Where tests leave screenshots; ignored by git.
pub fn output_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../e2e-output");
    std::fs::create_dir_all(&dir).expect("create e2e-output/");
    dir
}
