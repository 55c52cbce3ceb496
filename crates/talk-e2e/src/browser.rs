use fantoccini::elements::{Element, ShadowRoot};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use std::net::TcpListener;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::process::{Child, Command};

/// The browser engine the end-to-end tests drive, from `TALK_E2E_ENGINE` (`chromium`, the
/// default, `firefox` or `webkit`). Every test runs in whichever engine that names; what an
/// engine cannot do, a test checks by name ([`Engine::has_web_locks`] …), never skips.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// Debian's Chromium, headless, through chromedriver.
    Chromium,
    /// Debian's Firefox ESR, headless, through geckodriver (crates.io).
    Firefox,
    /// WebKitGTK's MiniBrowser under its own Xvfb, through WebKitWebDriver.
    Webkit,
}

impl Engine {
    /// The engine named by `TALK_E2E_ENGINE`; Chromium when unset. Panics on an unknown name:
    /// a typo must not quietly test Chromium again.
    pub fn current() -> Engine {
        match std::env::var("TALK_E2E_ENGINE").as_deref() {
            Err(_) | Ok("") | Ok("chromium") => Engine::Chromium,
            Ok("firefox") => Engine::Firefox,
            Ok("webkit") => Engine::Webkit,
            Ok(other) => panic!("TALK_E2E_ENGINE={other}: expected chromium, firefox or webkit"),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Engine::Chromium => "chromium",
            Engine::Firefox => "firefox",
            Engine::Webkit => "webkit",
        }
    }

    /// `requestIdleCallback`: Chromium and Firefox have it, WebKit (Safari) does not, so the
    /// loader's idle load falls back to `setTimeout` there.
    pub fn has_request_idle_callback(self) -> bool {
        self != Engine::Webkit
    }

    /// A `securitypolicyviolation` (`script-src`, `wasm-eval`) when the page's CSP refuses
    /// WebAssembly: Chromium and Firefox send one; WebKit refuses the module without one.
    pub fn reports_refused_wasm(self) -> bool {
        self != Engine::Webkit
    }

    /// A `BroadcastChannel` in a third-party frame whose storage the browser refuses: Chromium
    /// gives one (partitioned by the top-level site); Firefox throws `SecurityError`, so no
    /// election between such frames is possible there. (WebKit partitions such a frame's
    /// storage rather than refusing it.)
    pub fn has_broadcast_channel_without_storage(self) -> bool {
        self != Engine::Firefox
    }

    /// A window as narrow as a phone (375 px): Chromium only. Firefox keeps its windows at
    /// least 500 px wide, WebKitGTK's MiniBrowser (its toolbar) 447 px.
    pub fn sizes_windows_to_a_phone(self) -> bool {
        self == Engine::Chromium
    }

    /// An HTTP cache for `fetch()`: WebKit's automation session is ephemeral and has none (its
    /// module scripts still come from the memory cache).
    pub fn has_http_cache(self) -> bool {
        self != Engine::Webkit
    }

    /// A revalidated response (`304`) shows in Resource Timing as such (headers-only transfer
    /// size): Chromium only. Firefox revalidates but reports the cached answer's status and
    /// sizes again; WebKit's automation session has no cache ([`Engine::has_http_cache`]).
    pub fn shows_revalidation_in_resource_timing(self) -> bool {
        self == Engine::Chromium
    }

    /// A fake microphone and screen that need no prompt, so a voice call runs headless:
    /// Chromium only, which this harness starts with `--use-fake-device-for-media-stream` and
    /// `--use-fake-ui-for-media-stream` (Firefox's and WebKit's fake capture devices are not
    /// set up here).
    pub fn fakes_media_devices(self) -> bool {
        self == Engine::Chromium
    }

    /// The console's log over WebDriver (`goog:loggingPrefs`): chromedriver only.
    pub fn has_console_log(self) -> bool {
        self == Engine::Chromium
    }
}

/// A headless browser of [`Engine::current`] behind its own WebDriver server on a free port,
/// with a fresh profile.
pub struct Browser {
    pub client: Client,
    pub engine: Engine,
    /// The driver and the profile, gone when the last holder lets go: this browser, or the
    /// runner ([`crate::with_browsers`] …) that takes a failed test's screenshots after the
    /// test's future (which owns the browser) was dropped.
    processes: Arc<Processes>,
}

/// A browser's driver (and for WebKit the X server before it), each in a process group of its
/// own, and its profile.
pub(crate) struct Processes {
    children: Vec<Child>,
    _profile: tempfile::TempDir,
}

/// Each driver runs in a process group of its own, so a test that fails (and never closes its
/// session) still takes the browser down with it: killing only the driver would leave the
/// browser running, and a few dozen failed runs fill a 2-core machine with orphans.
impl Drop for Processes {
    fn drop(&mut self) {
        for process in self.children.iter().rev() {
            if let Some(pid) = process.id() {
                // SAFETY: kill(2) with a negative pid signals the group this Browser created.
                unsafe { libc::kill(-(pid as libc::pid_t), libc::SIGKILL) };
            }
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

/// WebDriver's Get Computed Label (the accessible name), which fantoccini has no call for.
#[derive(Debug)]
struct ComputedLabel(String);

impl fantoccini::wd::WebDriverCompatibleCommand for ComputedLabel {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/element/{}/computedlabel",
            session.unwrap_or_default(),
            self.0
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (axum::http::Method, Option<String>) {
        (axum::http::Method::GET, None)
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Starts `program` in a process group of its own, its output thrown away.
fn spawn(program: &str, args: &[String], env: &[(&str, String)]) -> Child {
    Command::new(program)
        .args(args)
        .envs(env.iter().map(|(key, value)| (*key, value.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|error| {
            panic!("start {program} (run scripts/install-tools.sh --browser): {error}")
        })
}

/// An X server of its own for one WebKit browser (MiniBrowser's `--headless` hangs here):
/// `-displayfd` has Xvfb pick a free display and say which, so parallel tests never race for
/// one.
async fn start_xvfb() -> (Child, String) {
    use tokio::io::AsyncBufReadExt;
    let mut xvfb = Command::new("Xvfb")
        .args([
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1600x1200x24",
            "-nolisten",
            "tcp",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|error| {
            panic!("start Xvfb (run scripts/install-tools.sh --browser): {error}")
        });
    let stdout = xvfb.stdout.take().expect("Xvfb's stdout");
    let mut line = String::new();
    tokio::time::timeout(
        Duration::from_secs(20),
        tokio::io::BufReader::new(stdout).read_line(&mut line),
    )
    .await
    .expect("Xvfb to name its display")
    .expect("Xvfb's display number");
    let display = format!(":{}", line.trim());
    (xvfb, display)
}

impl Browser {
    pub async fn start() -> Browser {
        Browser::launch(None).await
    }

    /// A visitor whose browser refuses `origin` cookies and storage wherever it is framed, as
    /// strict cookie settings do to third-party frames, as far as each engine can be told so:
    ///
    /// - Chromium: a content setting refuses `origin` in frames; Web Locks and localStorage
    ///   answer its frames with `SecurityError`. Site isolation is off so that such a frame
    ///   shares the page's renderer and its console reaches [`Browser::uncaught_errors`]
    ///   (chromedriver only reads the pages' own consoles).
    /// - Firefox: `network.cookie.cookieBehavior` 1 refuses every third party's cookies and
    ///   storage (the Talk origin is the only third party in these tests).
    /// - WebKit: MiniBrowser's own policy (no third-party cookies); WebKit partitions a
    ///   third-party frame's storage by the top-level site and cannot be told to refuse it.
    pub async fn start_refusing_storage_to(origin: &str) -> Browser {
        Browser::launch(Some(origin)).await
    }

    async fn launch(refuse_storage_to: Option<&str>) -> Browser {
        let engine = Engine::current();
        let port = free_port();
        let profile = tempfile::tempdir().expect("profile dir");
        let mut processes = Vec::new();
        let capabilities = match engine {
            Engine::Chromium => {
                let driver =
                    std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
                processes.push(spawn(&driver, &[format!("--port={port}")], &[]));
                let chromium =
                    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
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
                    // Voice calls (tests/voice.rs): a fake microphone (a beep) and camera, and
                    // every media prompt answered yes. The fake UI also answers
                    // getDisplayMedia's picker, with a fake screen ("screen:-3:0", 800×600 of
                    // moving frames), in headless Chromium 156 without any other flag.
                    "--use-fake-device-for-media-stream".into(),
                    "--use-fake-ui-for-media-stream".into(),
                ];
                let mut prefs = json!({});
                if let Some(origin) = refuse_storage_to {
                    let refused = format!("{origin},*");
                    prefs = json!({"profile": {"content_settings": {"exceptions": {"cookies": {
                        refused: {"setting": 2}
                    }}}}});
                    args.push("--disable-site-isolation-trials".into());
                    args.push("--disable-features=IsolateOrigins,site-per-process".into());
                }
                json!({
                    "goog:chromeOptions": {"binary": chromium, "args": args, "prefs": prefs},
                    // The consoles' errors and warnings, for `console_messages`.
                    "goog:loggingPrefs": {"browser": "WARNING"},
                })
            }
            Engine::Firefox => {
                let driver = std::env::var("GECKODRIVER").unwrap_or_else(|_| "geckodriver".into());
                // Its own BiDi port too: the default (9222) is one for all parallel tests.
                let args = [
                    format!("--port={port}"),
                    format!("--websocket-port={}", free_port()),
                    "--log=fatal".into(),
                ];
                processes.push(spawn(&driver, &args, &[]));
                let firefox =
                    std::env::var("FIREFOX").unwrap_or_else(|_| "/usr/bin/firefox-esr".into());
                // 5 (the default): third parties get partitioned storage; 1: none at all.
                let cookie_behavior = if refuse_storage_to.is_some() { 1 } else { 5 };
                json!({
                    "browserName": "firefox",
                    "moz:firefoxOptions": {
                        "binary": firefox,
                        "args": ["-headless", "-profile", profile.path()],
                        // The closed network: nothing phones home.
                        "prefs": {
                            "app.update.disabledForTesting": true,
                            "browser.safebrowsing.malware.enabled": false,
                            "browser.safebrowsing.phishing.enabled": false,
                            "browser.shell.checkDefaultBrowser": false,
                            "datareporting.policy.dataSubmissionEnabled": false,
                            "network.captive-portal-service.enabled": false,
                            "network.connectivity-service.enabled": false,
                            "toolkit.telemetry.enabled": false,
                            "network.cookie.cookieBehavior": cookie_behavior,
                        },
                    },
                })
            }
            Engine::Webkit => {
                let (xvfb, display) = start_xvfb().await;
                processes.push(xvfb);
                let driver =
                    std::env::var("WEBKIT_WEBDRIVER").unwrap_or_else(|_| "WebKitWebDriver".into());
                // MiniBrowser's automation mode keeps its data in memory; its caches and
                // settings go to this browser's own folder all the same.
                let home = profile.path().display().to_string();
                let env = [
                    ("DISPLAY", display),
                    ("XDG_CACHE_HOME", format!("{home}/cache")),
                    ("XDG_CONFIG_HOME", format!("{home}/config")),
                    ("XDG_DATA_HOME", format!("{home}/data")),
                ];
                processes.push(spawn(&driver, &[format!("--port={port}")], &env));
                let minibrowser = std::env::var("MINIBROWSER").unwrap_or_else(|_| {
                    "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser".into()
                });
                json!({
                    "browserName": "MiniBrowser",
                    "webkitgtk:browserOptions": {"binary": minibrowser, "args": ["--automation"]},
                })
            }
        };
        let capabilities = capabilities.as_object().cloned().expect("an object");
        let url = format!("http://127.0.0.1:{port}");
        let client = crate::eventually(
            &format!("the {} driver to accept a session", engine.name()),
            Duration::from_secs(60),
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
        if engine != Engine::Chromium {
            client
                .set_window_size(1280, 800)
                .await
                .expect("a 1280x800 window");
        }
        Browser {
            client,
            engine,
            processes: Arc::new(Processes {
                children: processes,
                _profile: profile,
            }),
        }
    }

    /// Keeps the driver and the browser running while held, even once this `Browser` is
    /// dropped: for a screenshot after a test's future panicked (and dropped it).
    pub(crate) fn keep_alive(&self) -> Arc<Processes> {
        self.processes.clone()
    }

    /// The console's uncaught exceptions and unhandled promise rejections (`Uncaught …`) since
    /// the last look (this or [`Browser::console_messages`]), of every page of this session and
    /// the frames in their renderer. Chromium only ([`Engine::has_console_log`]).
    pub async fn uncaught_errors(&self) -> Vec<String> {
        self.console_messages()
            .await
            .into_iter()
            .filter(|message| message.contains("Uncaught"))
            .collect()
    }

    /// The console's errors and warnings (`console.warn` and up) since the last look (this or
    /// [`Browser::uncaught_errors`]), as [`Browser::uncaught_errors`] sees them.
    pub async fn console_messages(&self) -> Vec<String> {
        assert!(
            self.engine.has_console_log(),
            "{} gives no console log over WebDriver",
            self.engine.name()
        );
        let log = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .expect("chromedriver's browser log");
        let entries = log.as_array().cloned().unwrap_or_default();
        entries
            .iter()
            .filter_map(|entry| entry["message"].as_str())
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
        // WebKit's resource timing has no `responseStatus`: there, once the loader's request
        // is done, the same request again says what the server answers.
        let script = "const done = arguments[0]; \
             const e = performance.getEntriesByType('resource') \
               .find(function (e) { return e.name.indexOf('/v1/talk/widget/launcher.css') >= 0; }); \
             if (!e || !(e.responseEnd > 0)) return done(null); \
             if ('responseStatus' in e) return done(e.responseStatus); \
             fetch(e.name, {cache: 'no-store'}).then(function (r) { done(r.status); }, \
               function () { done(null); });";
        crate::eventually(
            "the loader's launcher.css answer",
            Duration::from_secs(15),
            || async {
                self.client
                    .execute_async(script, vec![])
                    .await
                    .ok()?
                    .as_u64()
            },
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

    /// axe-core on what `selector` finds in the page (not in a shadow root), e.g. a panel
    /// the inbox appends to its body.
    pub async fn accessibility_violations_in(&self, selector: &str) -> Vec<String> {
        let selector = serde_json::to_string(selector).expect("a JSON string");
        self.axe(&format!(
            "{{include: [[{selector}]]}}, {{resultTypes: ['violations']}}"
        ))
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

    /// Presses `keys` together wherever the focus is, as a person would (each key down in
    /// order, then up in reverse): `[Key::Tab]`, `[Key::Shift, Key::Tab]` …
    pub async fn press(&self, keys: &[fantoccini::key::Key]) {
        use fantoccini::actions::{InputSource, KeyAction, KeyActions};
        let mut actions = KeyActions::new("keyboard".into());
        for key in keys {
            actions = actions.then(KeyAction::Down {
                value: (*key).into(),
            });
        }
        for key in keys.iter().rev() {
            actions = actions.then(KeyAction::Up {
                value: (*key).into(),
            });
        }
        self.client
            .perform_actions(actions)
            .await
            .unwrap_or_else(|error| panic!("press {keys:?}: {error}"));
    }

    /// The element's accessible name as the browser computes it (WebDriver's Get Computed
    /// Label).
    pub async fn accessible_name(&self, element: &Element) -> String {
        let label = self
            .client
            .issue_cmd(ComputedLabel(element.element_id().to_string()))
            .await
            .expect("the computed label");
        label.as_str().unwrap_or_default().to_string()
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
        self.wait_for_messages_within(expected, Duration::from_secs(15))
            .await;
    }

    /// `wait_for_messages` with a deadline of its own (say, a reconnect's backoff included).
    pub async fn wait_for_messages_within(&self, expected: &[(&str, &str)], timeout: Duration) {
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(author, body)| (author.to_string(), body.to_string()))
            .collect();
        let deadline = std::time::Instant::now() + timeout;
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
