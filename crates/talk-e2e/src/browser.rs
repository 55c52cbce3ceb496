use fantoccini::elements::{Element, ShadowRoot};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use std::net::TcpListener;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// Headless Chromium behind its own chromedriver on a free port.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

/// chromedriver runs in a process group of its own, so a test that fails (and never closes
/// its session) still takes Chromium down with it: killing only chromedriver would leave the
/// browser running, and a few dozen failed runs fill a 2-core machine with orphans.
impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(pid) = self.driver.id() {
            // SAFETY: kill(2) with a negative pid signals the group this Browser created.
            unsafe { libc::kill(-(pid as libc::pid_t), libc::SIGKILL) };
        }
    }
}

/// chromedriver's console log (`goog:loggingPrefs`), which fantoccini has no call for.
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (
            axum::http::Method::POST,
            Some(r#"{"type":"browser"}"#.into()),
        )
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

impl Browser {
    pub async fn start() -> Browser {
        Browser::launch(&[], json!({})).await
    }

    /// Chromium as a visitor whose settings refuse `origin` cookies and storage wherever it
    /// is framed, as strict cookie settings do to third-party frames: Web Locks and
    /// localStorage answer its frames with `SecurityError`. Site isolation is off so that
    /// such a frame shares the page's renderer and its console reaches
    /// [`Browser::uncaught_errors`] (chromedriver only reads the pages' own consoles); what
    /// the frame may do is decided by the browser's settings either way.
    pub async fn start_refusing_storage_to(origin: &str) -> Browser {
        let refused = format!("{origin},*");
        let prefs = json!({"profile": {"content_settings": {"exceptions": {"cookies": {
            refused: {"setting": 2}
        }}}}});
        let args = [
            "--disable-site-isolation-trials",
            "--disable-features=IsolateOrigins,site-per-process",
        ];
        Browser::launch(&args, prefs).await
    }

    async fn launch(extra_args: &[&str], prefs: serde_json::Value) -> Browser {
        let port = free_port();
        let driver_bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|error| {
                panic!("start {driver_bin} (run scripts/install-tools.sh --browser): {error}")
            });
        let profile = tempfile::tempdir().expect("profile dir");
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let mut args = vec![
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--window-size=1280,800".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        args.extend(extra_args.iter().map(|arg| arg.to_string()));
        let capabilities = json!({
            "goog:chromeOptions": {"binary": chromium, "args": args, "prefs": prefs},
            // The consoles' errors, for `uncaught_errors`.
            "goog:loggingPrefs": {"browser": "SEVERE"},
        });
        let capabilities = capabilities.as_object().cloned().expect("an object");
        let url = format!("http://127.0.0.1:{port}");
        let client = crate::eventually(
            "chromedriver to accept a session",
            Duration::from_secs(30),
            || {
                let capabilities = capabilities.clone();
                let url = url.clone();
                async move {
                    ClientBuilder::new(HttpConnector::new())
                        .capabilities(capabilities)
                        .connect(&url)
                        .await
                        .ok()
                }
            },
        )
        .await;
        Browser {
            client,
            driver,
            _profile: profile,
        }
    }

    /// The console's uncaught exceptions and unhandled promise rejections (`Uncaught …`) since
    /// the last call, of every page of this session and the frames in their renderer.
    pub async fn uncaught_errors(&self) -> Vec<String> {
        let log = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .expect("chromedriver's browser log");
        let entries = log.as_array().cloned().unwrap_or_default();
        entries
            .iter()
            .filter_map(|entry| entry["message"].as_str())
            .filter(|message| message.contains("Uncaught"))
            .map(str::to_string)
            .collect()
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// The widget's shadow root, once the loader has started the WASM and it has mounted.
    pub async fn widget(&self) -> Widget {
        let host = crate::eventually("the widget to mount", Duration::from_secs(20), || async {
            let host = self.client.find(Locator::Css("ap3c-talk")).await.ok()?;
            let root = host.shadow_root().await.ok()?;
            root.find(Locator::Css("[data-testid=talk-launcher]"))
                .await
                .ok()?;
            Some(root)
        })
        .await;
        Widget { root: host }
    }

    /// Switches WebDriver into the messenger's frame (frame mode) once the loader has added it;
    /// [`Browser::widget`] then finds the messenger in there. Back with [`Browser::leave_frame`].
    pub async fn enter_messenger_frame(&self) {
        let frame = crate::eventually("the messenger's frame", Duration::from_secs(20), || async {
            let host = self.client.find(Locator::Css("ap3c-talk")).await.ok()?;
            let root = host.shadow_root().await.ok()?;
            root.find(Locator::Css("iframe")).await.ok()
        })
        .await;
        frame
            .enter_frame()
            .await
            .expect("enter the messenger's frame");
    }

    pub async fn leave_frame(&self) {
        self.client
            .enter_parent_frame()
            .await
            .expect("back to the host page");
    }

    /// Waits until this page's loader has its answer to `launcher.css` and returns the HTTP
    /// status (204: the workspace switched the widget off, and the loader draws nothing).
    pub async fn launcher_stylesheet_status(&self) -> u64 {
        let script = "const e = performance.getEntriesByType('resource') \
               .find(function (e) { return e.name.indexOf('/v1/talk/widget/launcher.css') >= 0; }); \
             return e && e.responseEnd > 0 ? e.responseStatus : null;";
        crate::eventually(
            "the loader's launcher.css answer",
            Duration::from_secs(15),
            || async { self.js(script).await.as_u64() },
        )
        .await
    }

    /// Runs `script` in the current frame and returns its value.
    pub async fn js(&self, script: &str) -> serde_json::Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|error| panic!("{script}: {error}"))
    }

    /// Runs axe-core (installed by `scripts/install-tools.sh --browser`) on the widget, shadow
    /// DOM included, and returns one line per violation.
    pub async fn accessibility_violations(&self) -> Vec<String> {
        self.axe("{include: [['ap3c-talk']]}, {resultTypes: ['violations']}")
            .await
    }

    /// axe-core on the whole page (frames left out: the settings preview is the widget, which
    /// `accessibility_violations` checks on its own pages).
    pub async fn page_accessibility_violations(&self) -> Vec<String> {
        self.axe("document, {resultTypes: ['violations'], iframes: false}")
            .await
    }

    async fn axe(&self, arguments: &str) -> Vec<String> {
        let axe = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../.tools/node_modules/axe-core/axe.min.js");
        let source = std::fs::read_to_string(&axe).unwrap_or_else(|error| {
            panic!(
                "{}: {error} (run scripts/install-tools.sh --browser)",
                axe.display()
            )
        });
        self.client
            .execute(&source, vec![])
            .await
            .expect("inject axe-core");
        let script = format!(
            "const done = arguments[0]; \
                 axe.run({arguments}) \
                   .then(function (r) {{ done(r.violations.map(function (v) {{ \
                     return v.id + ': ' + v.help + ' at ' + v.nodes.map(function (n) {{ \
                       return JSON.stringify(n.target); }}).join(', '); }})); }}) \
                   .catch(function (e) {{ done(['axe failed: ' + e]); }});"
        );
        let report = self
            .client
            .execute_async(&script, vec![])
            .await
            .expect("run axe-core");
        serde_json::from_value(report).expect("a list of violations")
    }

    /// An element of the page (not a shadow root) by `data-testid`, if there is one now.
    pub async fn find(&self, testid: &str) -> Option<Element> {
        self.client
            .find(Locator::Css(&by_testid(testid)))
            .await
            .ok()
    }

    pub async fn wait_for(&self, testid: &str) -> Element {
        crate::eventually(
            &format!("[data-testid={testid}]"),
            Duration::from_secs(15),
            || self.find(testid),
        )
        .await
    }

    pub async fn click(&self, testid: &str) {
        self.wait_for(testid).await.click().await.expect("click");
    }

    /// The element's text, once it is there.
    pub async fn text(&self, testid: &str) -> String {
        self.wait_for(testid).await.text().await.expect("text")
    }

    /// The element's text if it is there now (for `eventually`).
    pub async fn text_now(&self, testid: &str) -> Option<String> {
        self.find(testid).await?.text().await.ok()
    }

    /// Replaces the field's text.
    pub async fn fill(&self, testid: &str, text: &str) {
        let field = self.wait_for(testid).await;
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("type");
    }

    /// The text of every element with this `data-testid`, in document order.
    pub async fn texts(&self, testid: &str) -> Vec<String> {
        let mut texts = Vec::new();
        if let Ok(found) = self.client.find_all(Locator::Css(&by_testid(testid))).await {
            for element in found {
                texts.push(element.text().await.unwrap_or_default());
            }
        }
        texts
    }

    pub async fn screenshot(&self, name: &str) {
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(crate::output_dir().join(format!("{name}.png")), png);
        }
    }

    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

/// The widget as a visitor sees it: elements found by `data-testid` inside its shadow root.
pub struct Widget {
    root: ShadowRoot,
}

fn by_testid(testid: &str) -> String {
    format!("[data-testid={testid}]")
}

impl Widget {
    pub async fn find(&self, testid: &str) -> Option<Element> {
        self.root.find(Locator::Css(&by_testid(testid))).await.ok()
    }

    pub async fn wait_for(&self, testid: &str) -> Element {
        crate::eventually(
            &format!("[data-testid={testid}]"),
            Duration::from_secs(15),
            || self.find(testid),
        )
        .await
    }

    pub async fn click(&self, testid: &str) {
        self.wait_for(testid).await.click().await.expect("click");
    }

    /// The element's text, once it is there.
    pub async fn text(&self, testid: &str) -> String {
        self.wait_for(testid).await.text().await.expect("text")
    }

    /// The element's text if it is there now (for `eventually`).
    pub async fn text_now(&self, testid: &str) -> Option<String> {
        self.find(testid).await?.text().await.ok()
    }

    pub async fn type_into(&self, testid: &str, text: &str) {
        self.wait_for(testid)
            .await
            .send_keys(text)
            .await
            .expect("type");
    }

    /// Opens the messenger and, from its homepage, a new conversation.
    pub async fn start_chat(&self) {
        self.click("talk-launcher").await;
        self.click("talk-new-conversation").await;
    }

    /// Writes `text` in the composer and sends it with Enter.
    pub async fn send(&self, text: &str) {
        self.type_into("talk-composer", text).await;
        self.type_into("talk-composer", crate::ENTER).await;
    }

    /// As a new visitor: opens a new conversation, gives `email`, writes `first` and waits for
    /// it and the bot's answer.
    pub async fn start_conversation(&self, email: &str, first: &str) {
        self.start_chat().await;
        self.type_into("talk-email", email).await;
        self.click("talk-identify-submit").await;
        self.send(first).await;
        self.wait_for_messages(&[("visitor", first), ("bot", crate::AUTO_REPLY)])
            .await;
    }

    /// Opens the messenger and, from its homepage, the most recent conversation.
    pub async fn continue_chat(&self) {
        self.click("talk-launcher").await;
        self.click("talk-conversation-item").await;
    }

    /// Each message as (author, body, delivery state), in display order.
    pub async fn messages(&self) -> Vec<(String, String, String)> {
        let mut found = Vec::new();
        let Ok(items) = self
            .root
            .find_all(Locator::Css(&by_testid("talk-message")))
            .await
        else {
            return found;
        };
        for item in items {
            let author = item
                .attr("data-author")
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
            let state = item
                .attr("data-state")
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
            let body = match item.find(Locator::Css(".talk-message-body")).await {
                Ok(body) => body.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            found.push((author, body, state));
        }
        found
    }

    /// Waits until the list shows exactly these (author, body) pairs, all committed.
    pub async fn wait_for_messages(&self, expected: &[(&str, &str)]) {
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(author, body)| (author.to_string(), body.to_string()))
            .collect();
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let last = self.messages().await;
            let shown: Vec<(String, String)> = last
                .iter()
                .map(|(a, b, _)| (a.clone(), b.clone()))
                .collect();
            if shown == expected && last.iter().all(|(_, _, state)| state == "sent") {
                return;
            }
            if std::time::Instant::now() > deadline {
                panic!("messages shown {last:?}, expected {expected:?} all sent");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
