//! Voice calls end to end: an agent in the inbox (the server's origin) and a visitor on a
//! customer's page (another origin), each in a real headless Chromium with a fake microphone
//! and a fake screen (`--use-fake-device-for-media-stream`, `--use-fake-ui-for-media-stream`),
//! talking over real WebRTC through the server's signalling; with `scripts/coturn.sh`, through
//! a real TURN server too. What is checked is what people get: the call panel's words and
//! buttons (`loader/call.js`), media arriving on both sides (`getStats()` through the panel's
//! `talkPeer`), the screen on the agent's side, and the call as the conversation and the
//! server record it.
//!
//! The messenger runs in the page, or in its frame of the Talk origin (`talk.mode = 'frame'`,
//! where the frame's `allow` gives it the microphone and the screen). Chromium only: the
//! harness gives no other engine a fake microphone and screen
//! ([`Engine::fakes_media_devices`]), so each test says it skips there. The TURN tests skip
//! without coturn's variables:
//!
//! ```sh
//! scripts/coturn.sh scripts/test-e2e.sh --engine chromium voice
//! ```

use fantoccini::key::Key;
use fantoccini::Locator;
use serde::Deserialize;
use std::time::{Duration, Instant};
use talk_e2e::{
    eventually, inbox, page_with_snippet, with_two_browsers, Browser, Engine, HostSite, TestServer,
    TestTurn, Widget,
};
use talk_protocol::{Call, CallOutcome, CallState};

/// Each test runs two browsers with live media on a 2-core machine, and some measure time:
/// one at a time, so no test's timing depends on another's load.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const WAIT: Duration = Duration::from_secs(15);
/// The bot's answer to a new conversation while an agent is online (default settings).
const ONLINE_REPLY: &str = "Thanks for your message! We typically reply in a few minutes.";
const FIRST: &str = "Can we talk?";
const EMAIL: &str = "ada@example.com";

/// Which of the two browsers: where its call panel is.
#[derive(Clone, Copy, Debug)]
enum Side {
    /// The host page: the panel is in the widget's shadow root.
    Visitor,
    /// The inbox: the panel is in the page's body.
    Agent,
}

impl Side {
    /// A JS expression for the panel (`null` while there is none). In frame mode WebDriver is
    /// in the messenger's frame, whose document has an `ap3c-talk` of its own.
    fn panel(self) -> &'static str {
        match self {
            Side::Visitor => {
                "(function () { const h = document.querySelector('ap3c-talk'); \
                   return h && h.shadowRoot \
                     && h.shadowRoot.querySelector('[data-testid=call-panel]'); })()"
            }
            Side::Agent => "document.querySelector('[data-testid=call-panel]')",
        }
    }
}

/// The call panel as a person sees it.
#[derive(Debug, Deserialize, Clone)]
struct Panel {
    shown: bool,
    status: String,
    error: String,
    /// The buttons on show, as (testid, text), in order.
    buttons: Vec<(String, String)>,
    lang: String,
    dir: String,
    /// The `data-testid` of the element that has the keyboard focus, through shadow roots.
    focused: Option<String>,
    /// The agent's `<video>`: shown, and its decoded width.
    video_shown: bool,
    video_width: u64,
}

impl Panel {
    fn buttons(&self) -> Vec<&str> {
        self.buttons.iter().map(|(id, _)| id.as_str()).collect()
    }

    fn label(&self, testid: &str) -> Option<&str> {
        self.buttons
            .iter()
            .find(|(id, _)| id == testid)
            .map(|(_, text)| text.as_str())
    }

    /// The status is the running duration, `mm:ss`.
    fn clock(&self) -> Option<&str> {
        let s = self.status.as_str();
        let bytes = s.as_bytes();
        (bytes.len() == 5
            && bytes[2] == b':'
            && [0, 1, 3, 4].iter().all(|&i| bytes[i].is_ascii_digit()))
        .then_some(s)
    }
}

async fn panel(browser: &Browser, side: Side) -> Option<Panel> {
    let script = format!(
        "const p = {}; if (!p) return null; \
         const q = function (id) {{ return p.querySelector('[data-testid=' + id + ']'); }}; \
         let a = document.activeElement; \
         while (a && a.shadowRoot && a.shadowRoot.activeElement) a = a.shadowRoot.activeElement; \
         const v = q('call-video'); \
         return {{shown: !p.hidden, status: q('call-status').textContent, \
           error: q('call-error').textContent, \
           buttons: Array.from(p.querySelectorAll('button')) \
             .filter(function (b) {{ return !b.hidden; }}) \
             .map(function (b) {{ return [b.dataset.testid, b.textContent]; }}), \
           lang: p.getAttribute('lang') || '', dir: p.getAttribute('dir') || '', \
           focused: (a && a.dataset && a.dataset.testid) || null, \
           video_shown: !!v && !v.hidden, video_width: v ? v.videoWidth : 0}};",
        side.panel()
    );
    serde_json::from_value(browser.js(&script).await).expect("the panel")
}

/// Waits until the panel is shown and `ready` says yes; on timeout, says what it last was.
async fn wait_panel(
    browser: &Browser,
    side: Side,
    what: &str,
    timeout: Duration,
    ready: impl Fn(&Panel) -> bool,
) -> Panel {
    let deadline = Instant::now() + timeout;
    loop {
        let seen = panel(browser, side).await;
        if let Some(seen) = seen.as_ref().filter(|p| p.shown && ready(p)) {
            return seen.clone();
        }
        if Instant::now() > deadline {
            panic!("{side:?}'s call panel: timed out after {timeout:?} waiting for {what}; it shows {seen:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_status(browser: &Browser, side: Side, status: &str) -> Panel {
    wait_panel(browser, side, &format!("{status:?}"), WAIT, |p| {
        p.status == status
    })
    .await
}

/// Waits until the panel is gone (hidden, or never drawn).
async fn wait_hidden(browser: &Browser, side: Side) {
    eventually(&format!("{side:?}'s call panel to go"), WAIT, || async {
        (!panel(browser, side).await.is_some_and(|p| p.shown)).then_some(())
    })
    .await;
}

/// A button of the panel, for WebDriver (a real click: sharing a screen needs one).
async fn button(
    browser: &Browser,
    side: Side,
    testid: &str,
) -> Option<fantoccini::elements::Element> {
    let css = format!("[data-testid=call-panel] [data-testid={testid}]");
    match side {
        Side::Visitor => {
            let host = browser.client.find(Locator::Css("ap3c-talk")).await.ok()?;
            let root = host.shadow_root().await.ok()?;
            root.find(Locator::Css(&css)).await.ok()
        }
        Side::Agent => browser.client.find(Locator::Css(&css)).await.ok(),
    }
}

/// Clicks the panel's button, again while it isn't clickable yet (still hidden).
async fn click(browser: &Browser, side: Side, testid: &str) {
    eventually(
        &format!("a click on the {side:?}'s {testid}"),
        WAIT,
        || async { button(browser, side, testid).await?.click().await.ok() },
    )
    .await;
}

/// The accessible names of the panel's buttons on show, as (testid, name).
async fn accessible_names(browser: &Browser, side: Side) -> Vec<(String, String)> {
    let shown = panel(browser, side).await.expect("a panel").buttons;
    let mut names = Vec::new();
    for (testid, _) in shown {
        let element = button(browser, side, &testid).await.expect("the button");
        names.push((testid, browser.accessible_name(&element).await));
    }
    names
}

/// What the panel's peer connection reports (`getStats()`).
#[derive(Debug, Deserialize, Default)]
struct Stats {
    /// `inbound-rtp` audio `bytesReceived`.
    audio_bytes: Option<u64>,
    /// `inbound-rtp` video `framesDecoded`.
    video_frames: Option<u64>,
    /// The selected candidate pair.
    pair: Option<Pair>,
}

#[derive(Debug, Deserialize)]
struct Pair {
    state: String,
    /// The local and remote candidates' `candidateType`: host, srflx, prflx, relay.
    local: Option<String>,
    remote: Option<String>,
}

async fn stats(browser: &Browser, side: Side) -> Stats {
    let script = format!(
        "const done = arguments[0]; const p = {}; const pc = p && p.talkPeer; \
         if (!pc) return done(null); \
         pc.getStats().then(function (r) {{ \
           const byId = new Map(); r.forEach(function (s) {{ byId.set(s.id, s); }}); \
           const out = {{audio_bytes: null, video_frames: null, pair: null}}; \
           let pairId = null; \
           r.forEach(function (s) {{ \
             if (s.type === 'inbound-rtp' && s.kind === 'audio') \
               out.audio_bytes = (out.audio_bytes || 0) + (s.bytesReceived || 0); \
             if (s.type === 'inbound-rtp' && s.kind === 'video') \
               out.video_frames = (out.video_frames || 0) + (s.framesDecoded || 0); \
             if (s.type === 'transport' && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId; \
           }}); \
           let pair = pairId ? byId.get(pairId) : null; \
           if (!pair) r.forEach(function (s) {{ \
             if (s.type === 'candidate-pair' && s.nominated && s.state === 'succeeded') pair = s; }}); \
           if (pair) {{ \
             const l = byId.get(pair.localCandidateId), m = byId.get(pair.remoteCandidateId); \
             out.pair = {{state: pair.state, local: l ? l.candidateType : null, \
               remote: m ? m.candidateType : null}}; \
           }} \
           done(out); \
         }}, function () {{ done(null); }});",
        side.panel()
    );
    let value = browser
        .client
        .execute_async(&script, vec![])
        .await
        .expect("getStats");
    serde_json::from_value::<Option<Stats>>(value)
        .expect("stats")
        .unwrap_or_default()
}

/// Skips outside Chromium, saying why.
fn runs_here(test: &str) -> bool {
    let engine = Engine::current();
    if engine.fakes_media_devices() {
        return true;
    }
    eprintln!(
        "SKIPPED {test}: calls need a fake microphone and screen, which only Chromium has here, not {}",
        engine.name()
    );
    false
}

/// The coturn of `scripts/coturn.sh`, or `None` after saying the test skips.
fn turn_or_skip() -> Option<TestTurn> {
    let turn = TestTurn::from_env();
    if turn.is_none() {
        eprintln!("SKIPPED: no TURN server (run under scripts/coturn.sh)");
    }
    turn
}

/// The visitor's page: `talk.language`, and whether the messenger runs in a frame of the
/// Talk origin (`talk.mode = 'frame'`) rather than in the page.
#[derive(Clone, Copy, Default)]
struct Page {
    language: Option<&'static str>,
    frame: bool,
}

/// The scene of every test: voice on, the agent online and signed in on the inbox with the
/// conversation open, the visitor on a customer's page in that conversation, its call button
/// shown (in frame mode, WebDriver stays in the messenger's frame). Answers the site (keep
/// it), the messenger and the conversation's id.
async fn meet(
    server: &TestServer,
    agent: &Browser,
    visitor: &Browser,
    page: Page,
) -> (HostSite, Widget, String) {
    server.enable_voice().await;
    let (email, password) = server.admin_login();
    inbox::sign_in(agent, &server.inbox_url(), email, password).await;

    let mut options = Vec::new();
    if let Some(language) = page.language {
        options.push(format!("language: '{language}'"));
    }
    if page.frame {
        options.push("mode: 'frame'".to_string());
    }
    let options = format!("{{talk: {{{}}}}}", options.join(", "));
    let site = HostSite::start(vec![(
        "/",
        page_with_snippet(&server.capture_key, &server.url, &options, ""),
    )])
    .await;
    visitor.goto(&format!("{}/", site.url)).await;
    if page.frame {
        visitor.enter_messenger_frame().await;
    }
    let widget = visitor.widget().await;
    widget.start_chat().await;
    widget.type_into("talk-email", EMAIL).await;
    widget.click("talk-identify-submit").await;
    widget.send(FIRST).await;
    widget
        .wait_for_messages(&[("visitor", FIRST), ("bot", ONLINE_REPLY)])
        .await;
    let conversation = server.conversations().await.remove(0).id;

    inbox::open_first_conversation(agent).await;
    inbox::wait_for_messages(agent, &[("visitor", FIRST), ("bot", ONLINE_REPLY)], WAIT).await;
    widget.wait_for("talk-call").await;
    (site, widget, conversation)
}

/// The visitor calls, the agent accepts; waits until both show the running duration, and
/// answers when it saw both connected.
async fn call_and_accept(agent: &Browser, visitor: &Browser, widget: &Widget) -> Instant {
    widget.click("talk-call").await;
    let calling = wait_status(visitor, Side::Visitor, "Calling…").await;
    assert_eq!(calling.buttons, [("call-hangup".into(), "Cancel".into())]);
    let ringing = wait_status(agent, Side::Agent, &format!("Incoming call from {EMAIL}")).await;
    assert_eq!(ringing.buttons(), ["call-accept", "call-decline"]);
    click(agent, Side::Agent, "call-accept").await;
    both_connected(agent, visitor).await
}

/// Waits until both panels show the running duration; answers when it saw that.
async fn both_connected(agent: &Browser, visitor: &Browser) -> Instant {
    let running = |p: &Panel| p.clock().is_some();
    for (browser, side) in [(visitor, Side::Visitor), (agent, Side::Agent)] {
        let seen = wait_panel(browser, side, "the running duration", WAIT, running).await;
        assert_eq!(seen.error, "", "{side:?}");
    }
    Instant::now()
}

/// Waits until received audio bytes grow on `side`; its stats then.
async fn audio_flows(browser: &Browser, side: Side) -> Stats {
    let first = stats(browser, side).await.audio_bytes.unwrap_or(0);
    eventually(&format!("{side:?}'s audio to flow"), WAIT, || async {
        let now = stats(browser, side).await;
        (now.audio_bytes? > first).then_some(now)
    })
    .await
}

/// The visitor shares its screen and the agent sees it (frames decoded, a size); the visitor
/// stops and it goes; the call runs on all along.
async fn share_and_stop(agent: &Browser, visitor: &Browser) {
    click(visitor, Side::Visitor, "call-share").await;
    wait_panel(visitor, Side::Visitor, "Stop sharing", WAIT, |p| {
        p.label("call-share") == Some("Stop sharing")
    })
    .await;
    // The fake screen is 800×600 of moving frames.
    let shown = wait_panel(agent, Side::Agent, "the visitor's screen", WAIT, |p| {
        p.video_shown && p.video_width > 0
    })
    .await;
    assert!(shown.video_width >= 320, "{shown:?}");
    agent.screenshot("voice-agent-sees-the-screen").await;
    eventually("decoded video frames", WAIT, || async {
        let frames = stats(agent, Side::Agent).await.video_frames?;
        (frames > 0).then_some(())
    })
    .await;
    assert!(panel(agent, Side::Agent).await.unwrap().clock().is_some());

    click(visitor, Side::Visitor, "call-share").await;
    wait_panel(visitor, Side::Visitor, "Share screen", WAIT, |p| {
        p.label("call-share") == Some("Share screen")
    })
    .await;
    wait_panel(agent, Side::Agent, "the screen to go", WAIT, |p| {
        !p.video_shown && p.clock().is_some()
    })
    .await;
}

/// The conversation's one call, once it has ended.
async fn ended_call(server: &TestServer, conversation: &str) -> Call {
    eventually("the call to be stored as ended", WAIT, || async {
        let calls = server.calls(conversation).await;
        assert!(calls.len() <= 1, "one call: {calls:?}");
        calls
            .into_iter()
            .find(|call| call.state == CallState::Ended)
    })
    .await
}

/// Waits until both sides show `(author, body)` as the conversation's last message.
async fn both_show_last(agent: &Browser, widget: &Widget, author: &str, body: &str) {
    let expected = (author.to_string(), body.to_string());
    eventually(
        &format!("the visitor's messenger to show {expected:?} last"),
        WAIT,
        || async {
            let last = widget.messages().await.pop()?;
            ((last.0.as_str(), last.1.as_str()) == (author, body)).then_some(())
        },
    )
    .await;
    eventually(
        &format!("the inbox to show {expected:?} last"),
        WAIT,
        || async { (inbox::messages(agent).await.pop()? == expected).then_some(()) },
    )
    .await;
}

/// No uncaught error on `browser`'s console and no warning of the call module or the
/// messenger (`[talk] …`: a refused candidate, a failed negotiation, a refused event …) since
/// the last look, but those containing one of `expected`.
async fn clean_console(browser: &Browser, side: Side, expected: &[&str]) {
    let bad: Vec<String> = browser
        .console_messages()
        .await
        .into_iter()
        .filter(|message| message.contains("Uncaught") || message.contains("[talk]"))
        .filter(|message| !expected.iter().any(|known| message.contains(known)))
        .collect();
    assert_eq!(bad, Vec::<String>::new(), "{side:?}'s console");
}

async fn clean_consoles(agent: &Browser, visitor: &Browser) {
    clean_console(agent, Side::Agent, &[]).await;
    clean_console(visitor, Side::Visitor, &[]).await;
}

/// The focused element's `data-testid` (through shadow roots) after pressing `keys`.
async fn press(browser: &Browser, side: Side, keys: &[Key]) -> Option<String> {
    browser.press(keys).await;
    panel(browser, side).await.and_then(|p| p.focused)
}

/// Runs `body` with the agent's browser and the visitor's against the server `server` starts,
/// one test at a time, saying how long it took; in an engine without fake media devices it
/// says why it skips instead.
async fn voice_test<F>(
    name: &str,
    server: impl std::future::Future<Output = TestServer>,
    body: impl FnOnce(TestServer, Browser, Browser) -> F,
) where
    F: std::future::Future<Output = ()>,
{
    if !runs_here(name) {
        return;
    }
    let server = server.await;
    let _one = ONE_AT_A_TIME.lock().await;
    let started = Instant::now();
    with_two_browsers(name, server, body).await;
    eprintln!("{name}: {:.1?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_calls_the_agent_answers_they_hear_each_other_and_the_call_is_recorded() {
    voice_test(
        "voice-call",
        TestServer::start(),
        |server, agent, visitor| async move {
            let (_site, widget, conversation) =
                meet(&server, &agent, &visitor, Page::default()).await;
            let connected = call_and_accept(&agent, &visitor, &widget).await;

            // Both hear the other: the audio bytes received grow on each side.
            let sides = [(&visitor, Side::Visitor), (&agent, Side::Agent)];
            let mut before = Vec::new();
            for (browser, side) in sides {
                before.push(stats(browser, side).await);
            }
            tokio::time::sleep(Duration::from_millis(1_000)).await;
            for ((browser, side), before) in sides.into_iter().zip(&before) {
                let after = stats(browser, side).await;
                let (Some(first), Some(second)) = (before.audio_bytes, after.audio_bytes) else {
                    panic!("{side:?}: no inbound audio: {before:?} {after:?}");
                };
                assert!(
                    second > first,
                    "{side:?}: audio bytes {first}, then {second}"
                );
                let pair = after.pair.as_ref().expect("a selected candidate pair");
                assert_eq!(pair.state, "succeeded", "{side:?}: {pair:?}");
            }

            visitor.screenshot("voice-visitor-in-call").await;
            agent.screenshot("voice-agent-in-call").await;

            // The duration runs, on both sides.
            for (browser, side) in sides {
                let first = panel(browser, side).await.expect("a panel").status;
                wait_panel(browser, side, "the duration to move on", WAIT, |p| {
                    p.clock().is_some_and(|clock| clock > first.as_str())
                })
                .await;
            }
            let visitors = panel(&visitor, Side::Visitor).await.expect("a panel");
            assert_eq!(
                visitors.buttons(),
                ["call-mute", "call-share", "call-hangup"]
            );
            let agents = panel(&agent, Side::Agent).await.expect("a panel");
            assert_eq!(agents.buttons(), ["call-mute", "call-hangup"]);
            assert!(!agents.video_shown, "no screen shared yet");

            // The visitor hangs up: "Call ended" on both sides, then the panels go.
            click(&visitor, Side::Visitor, "call-hangup").await;
            let hung_up = Instant::now();
            let ended = wait_status(&agent, Side::Agent, "Call ended").await;
            assert_eq!(ended.error, "");
            assert_eq!(ended.buttons(), Vec::<&str>::new());
            wait_hidden(&agent, Side::Agent).await;
            wait_hidden(&visitor, Side::Visitor).await;

            // Stored: completed, timed from both sides connected to the hang-up.
            let call = ended_call(&server, &conversation).await;
            assert_eq!(call.outcome, Some(CallOutcome::Completed), "{call:?}");
            let seen_ms = hung_up.duration_since(connected).as_millis() as i64;
            eprintln!(
                "stored {} ms, seen connected for {seen_ms} ms",
                call.duration_ms
            );
            assert!(
                (call.duration_ms - seen_ms).abs() <= 1_000,
                "stored {} ms, seen connected for {seen_ms} ms",
                call.duration_ms
            );
            // The conversation records it, under the caller, on both sides.
            let record = format!("Voice call · {} s", call.duration_ms / 1000);
            both_show_last(&agent, &widget, "visitor", &record).await;
            clean_consoles(&agent, &visitor).await;
            server.stop().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_calls_and_the_visitor_declines() {
    voice_test(
        "voice-declined",
        TestServer::start(),
        |server, agent, visitor| async move {
            let (_site, widget, conversation) =
                meet(&server, &agent, &visitor, Page::default()).await;
            agent.click("inbox-call").await;
            let calling = wait_status(&agent, Side::Agent, "Calling…").await;
            assert_eq!(calling.buttons, [("call-hangup".into(), "Cancel".into())]);

            let ringing = wait_status(&visitor, Side::Visitor, "Incoming call").await;
            assert_eq!(ringing.buttons(), ["call-accept", "call-decline"]);
            click(&visitor, Side::Visitor, "call-decline").await;
            wait_hidden(&visitor, Side::Visitor).await;
            let declined = wait_status(&agent, Side::Agent, "Call declined").await;
            assert_eq!(declined.buttons(), Vec::<&str>::new());

            let call = ended_call(&server, &conversation).await;
            assert_eq!(call.outcome, Some(CallOutcome::Declined), "{call:?}");
            assert_eq!(call.duration_ms, 0);
            both_show_last(&agent, &widget, "agent", "Declined voice call").await;
            clean_consoles(&agent, &visitor).await;
            server.stop().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_visitor_gives_up_before_an_answer_and_the_call_is_missed() {
    voice_test(
        "voice-missed",
        TestServer::start(),
        |server, agent, visitor| async move {
            let (_site, widget, conversation) =
                meet(&server, &agent, &visitor, Page::default()).await;
            widget.click("talk-call").await;
            wait_status(&visitor, Side::Visitor, "Calling…").await;
            wait_status(&agent, Side::Agent, &format!("Incoming call from {EMAIL}")).await;
            // Cancel (the hang-up button while it rings): the inbox stops ringing at once.
            click(&visitor, Side::Visitor, "call-hangup").await;
            let missed = wait_status(&agent, Side::Agent, "Missed call").await;
            assert_eq!(missed.buttons(), Vec::<&str>::new());
            wait_hidden(&agent, Side::Agent).await;
            let call = ended_call(&server, &conversation).await;
            assert_eq!(call.outcome, Some(CallOutcome::Missed), "{call:?}");
            both_show_last(&agent, &widget, "visitor", "Missed voice call").await;
            clean_consoles(&agent, &visitor).await;
            server.stop().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_the_server_refuses_says_why() {
    voice_test(
        "voice-refused",
        TestServer::start(),
        |server, agent, visitor| async move {
            let (_site, widget, conversation) =
                meet(&server, &agent, &visitor, Page::default()).await;
            // The agent goes away after the visitor's page loaded: the call button is still there
            // (the settings come with the page) and the server refuses the call (no_agent_online).
            server
                .set_admin_presence(talk_protocol::Presence::Away)
                .await;
            widget.click("talk-call").await;
            let refused = wait_panel(&visitor, Side::Visitor, "the refusal", WAIT, |p| {
                p.status == "Call failed"
            })
            .await;
            assert_eq!(refused.error, "No agent is available for a call right now.");
            // The reason stays until the visitor closes it (focus is on Close).
            assert_eq!(refused.buttons(), vec!["call-close"]);
            let focus = panel(&visitor, Side::Visitor).await.and_then(|p| p.focused);
            assert_eq!(focus.as_deref(), Some("call-close"));
            click(&visitor, Side::Visitor, "call-close").await;
            wait_hidden(&visitor, Side::Visitor).await;
            assert!(server.calls(&conversation).await.is_empty());
            wait_hidden(&agent, Side::Agent).await;
            clean_console(&agent, Side::Agent, &[]).await;
            clean_console(&visitor, Side::Visitor, &["[talk] no_agent_online: "]).await;
            server.stop().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_visitor_shares_a_screen_the_agent_sees_it_until_it_stops() {
    voice_test(
        "voice-screen",
        TestServer::start(),
        |server, agent, visitor| async move {
            let (_site, widget, _) = meet(&server, &agent, &visitor, Page::default()).await;
            call_and_accept(&agent, &visitor, &widget).await;
            share_and_stop(&agent, &visitor).await;
            // Shared again: the same video transceiver comes back to life.
            share_and_stop(&agent, &visitor).await;
            click(&agent, Side::Agent, "call-hangup").await;
            wait_status(&visitor, Side::Visitor, "Call ended").await;
            clean_consoles(&agent, &visitor).await;
            server.stop().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_messenger_in_a_frame_calls_with_the_microphone_and_screen_it_was_allowed() {
    voice_test(
        "voice-frame",
        TestServer::start(),
        |server, agent, visitor| async move {
            let page = Page {
                frame: true,
                ..Page::default()
            };
            let (_site, widget, conversation) = meet(&server, &agent, &visitor, page).await;
            // The frame is the Talk origin's: it has a microphone and a screen to share only by
            // the frame's `allow` (microphone; display-capture).
            call_and_accept(&agent, &visitor, &widget).await;
            audio_flows(&visitor, Side::Visitor).await;
            audio_flows(&agent, Side::Agent).await;
            share_and_stop(&agent, &visitor).await;
            click(&visitor, Side::Visitor, "call-hangup").await;
            wait_status(&agent, Side::Agent, "Call ended").await;
            let call = ended_call(&server, &conversation).await;
            assert_eq!(call.outcome, Some(CallOutcome::Completed), "{call:?}");
            clean_consoles(&agent, &visitor).await;
            server.stop().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_tab_that_closes_mid_call_ends_it_for_the_agent_within_5_s() {
    voice_test(
        "voice-tab-closed",
        TestServer::start(),
        |server, agent, visitor| async move {
            let (_site, widget, conversation) =
                meet(&server, &agent, &visitor, Page::default()).await;
            call_and_accept(&agent, &visitor, &widget).await;
            audio_flows(&agent, Side::Agent).await;

            visitor.goto("about:blank").await;
            let gone = Instant::now();
            let ended = wait_panel(
                &agent,
                Side::Agent,
                "the call to end",
                Duration::from_secs(8),
                |p| p.status == "Call ended",
            )
            .await;
            let took = gone.elapsed();
            eprintln!("the agent's call ended {took:.1?} after the visitor's tab went: {ended:?}");
            assert!(took <= Duration::from_secs(5), "ended after {took:?}");

            let call = ended_call(&server, &conversation).await;
            assert_eq!(call.outcome, Some(CallOutcome::Completed), "{call:?}");
            let record = (
                "visitor".to_string(),
                format!("Voice call · {} s", call.duration_ms / 1000),
            );
            eventually("the inbox to show the record", WAIT, || async {
                (inbox::messages(&agent).await.pop()? == record).then_some(())
            })
            .await;
            clean_console(&agent, Side::Agent, &[]).await;
            server.stop().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_forced_through_turn_connects_by_relay() {
    let Some(turn) = turn_or_skip() else {
        return;
    };
    voice_test(
        "voice-relay",
        TestServer::start_with_turn(&turn, &turn.secret),
        |server, agent, visitor| async move {
            let (_site, widget, _) = meet(&server, &agent, &visitor, Page::default()).await;
            call_and_accept(&agent, &visitor, &widget).await;
            for (browser, side) in [(&visitor, Side::Visitor), (&agent, Side::Agent)] {
                let flowing = audio_flows(browser, side).await;
                let pair = flowing.pair.expect("a selected candidate pair");
                assert_eq!(pair.state, "succeeded", "{side:?}: {pair:?}");
                assert_eq!(pair.local.as_deref(), Some("relay"), "{side:?}: {pair:?}");
                assert_eq!(pair.remote.as_deref(), Some("relay"), "{side:?}: {pair:?}");
            }
            click(&visitor, Side::Visitor, "call-hangup").await;
            wait_status(&agent, Side::Agent, "Call ended").await;
            clean_consoles(&agent, &visitor).await;
            server.stop().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_turn_credentials_are_refused_fails_and_says_why() {
    let Some(turn) = turn_or_skip() else {
        return;
    };
    // Credentials minted with another secret: coturn refuses every allocation, and with
    // relay-only ICE there is no other way.
    voice_test(
        "voice-relay-refused",
        TestServer::start_with_turn(&turn, "not-the-turn-servers-secret"),
        |server, agent, visitor| async move {
            let (_site, widget, conversation) =
                meet(&server, &agent, &visitor, Page::default()).await;
            widget.click("talk-call").await;
            wait_status(&visitor, Side::Visitor, "Calling…").await;
            click(&agent, Side::Agent, "call-accept").await;
            let accepted = Instant::now();
            wait_status(&visitor, Side::Visitor, "Connecting…").await;

            // The client gives up after 20 s without a connection and says why; a side that hears
            // of the failure from the server first says only that it failed. The panel keeps its
            // last words for 3 s, so both sides are watched together.
            const UNREACHABLE: &str =
                "Couldn't connect the call. A network or firewall may be blocking it.";
            let deadline = Instant::now() + Duration::from_secs(35);
            let (mut visitor_saw, mut agent_saw) = (None, None);
            while visitor_saw.is_none() || agent_saw.is_none() {
                for (browser, side, slot) in [
                    (&visitor, Side::Visitor, &mut visitor_saw),
                    (&agent, Side::Agent, &mut agent_saw),
                ] {
                    if slot.is_some() {
                        continue;
                    }
                    if let Some(p) = panel(browser, side).await.filter(|p| p.shown) {
                        assert!(p.clock().is_none(), "{side:?} connected: {p:?}");
                        if p.status == "Call failed" {
                            *slot = Some(p);
                        }
                    }
                }
                assert!(
                    Instant::now() < deadline,
                    "no failure on both sides: visitor {visitor_saw:?}, agent {agent_saw:?}"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            let took = accepted.elapsed();
            let (visitor_saw, agent_saw) = (visitor_saw.unwrap(), agent_saw.unwrap());
            eprintln!("failed after {took:.1?}: visitor {visitor_saw:?}, agent {agent_saw:?}");
            assert!(
                visitor_saw.error == UNREACHABLE || agent_saw.error == UNREACHABLE,
                "a side says why: visitor {visitor_saw:?}, agent {agent_saw:?}"
            );
            assert!(took >= Duration::from_secs(15), "gave up after {took:?}");

            let call = ended_call(&server, &conversation).await;
            assert_eq!(call.outcome, Some(CallOutcome::Failed), "{call:?}");
            assert_eq!((call.connected_at, call.duration_ms), (None, 0));
            both_show_last(&agent, &widget, "visitor", "Voice call failed to connect").await;
            // Both sides give up at about the same time: the server refuses the second
            // hang-up, which the messenger notes on the console.
            let second_hang_up = ["[talk] call_state: the call has ended"];
            clean_console(&agent, Side::Agent, &second_hang_up).await;
            clean_console(&visitor, Side::Visitor, &second_hang_up).await;
            server.stop().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_call_panel_is_accessible_by_keyboard_and_speaks_german() {
    voice_test(
        "voice-a11y-de",
        TestServer::start(),
        |server, agent, visitor| async move {
            let page = Page {
                language: Some("de"),
                ..Page::default()
            };
            let (_site, widget, _) = meet(&server, &agent, &visitor, page).await;
            widget.click("talk-call").await;
            let calling = wait_status(&visitor, Side::Visitor, "Es klingelt…").await;
            assert_eq!((calling.lang.as_str(), calling.dir.as_str()), ("de", "ltr"));
            assert_eq!(
                calling.focused.as_deref(),
                Some("call-hangup"),
                "{calling:?}"
            );
            assert_eq!(
                accessible_names(&visitor, Side::Visitor).await,
                [("call-hangup".into(), "Abbrechen".into())]
            );
            assert_eq!(
                visitor.accessibility_violations().await,
                Vec::<String>::new(),
                "the visitor's panel, calling"
            );

            // The inbox rings: the focus is on Accept; Tab reaches Decline and Shift+Tab comes
            // back; Enter takes the call.
            let ringing = wait_panel(&agent, Side::Agent, "an incoming call", WAIT, |p| {
                p.status.starts_with("Incoming call")
            })
            .await;
            assert_eq!(
                ringing.focused.as_deref(),
                Some("call-accept"),
                "{ringing:?}"
            );
            assert_eq!(
                accessible_names(&agent, Side::Agent).await,
                [
                    ("call-accept".into(), "Accept".into()),
                    ("call-decline".into(), "Decline".into())
                ]
            );
            assert_eq!(
                agent
                    .accessibility_violations_in("[data-testid=call-panel]")
                    .await,
                Vec::<String>::new(),
                "the inbox's panel, ringing"
            );
            let back = [Key::Shift, Key::Tab];
            let focus = press(&agent, Side::Agent, &[Key::Tab]).await;
            assert_eq!(focus.as_deref(), Some("call-decline"));
            let focus = press(&agent, Side::Agent, &back).await;
            assert_eq!(focus.as_deref(), Some("call-accept"));
            agent.press(&[Key::Enter]).await;
            both_connected(&agent, &visitor).await;

            // Active, in German: the focus on Hang up; Mute and Share are Shift+Tab away and
            // work from the keyboard; Enter on Hang up ends the call.
            let active = wait_panel(&visitor, Side::Visitor, "the active panel", WAIT, |p| {
                p.buttons().len() == 3
            })
            .await;
            assert_eq!(active.focused.as_deref(), Some("call-hangup"), "{active:?}");
            assert_eq!(
                accessible_names(&visitor, Side::Visitor).await,
                [
                    ("call-mute".into(), "Stummschalten".into()),
                    ("call-share".into(), "Bildschirm teilen".into()),
                    ("call-hangup".into(), "Auflegen".into())
                ]
            );
            assert_eq!(
                visitor.accessibility_violations().await,
                Vec::<String>::new(),
                "the visitor's panel, active"
            );
            let agents = panel(&agent, Side::Agent).await.expect("a panel");
            assert_eq!(agents.focused.as_deref(), Some("call-hangup"), "{agents:?}");
            assert_eq!(
                agent
                    .accessibility_violations_in("[data-testid=call-panel]")
                    .await,
                Vec::<String>::new(),
                "the inbox's panel, active"
            );
            let focus = press(&visitor, Side::Visitor, &back).await;
            assert_eq!(focus.as_deref(), Some("call-share"));
            let focus = press(&visitor, Side::Visitor, &back).await;
            assert_eq!(focus.as_deref(), Some("call-mute"));
            visitor.press(&[Key::Enter]).await;
            let pressed = visitor
                .js(&format!(
                "return {}.querySelector('[data-testid=call-mute]').getAttribute('aria-pressed');",
                Side::Visitor.panel()
            ))
                .await;
            assert_eq!(pressed, serde_json::json!("true"), "muted by keyboard");
            let focus = press(&visitor, Side::Visitor, &[Key::Tab]).await;
            assert_eq!(focus.as_deref(), Some("call-share"));
            let focus = press(&visitor, Side::Visitor, &[Key::Tab]).await;
            assert_eq!(focus.as_deref(), Some("call-hangup"));
            visitor.press(&[Key::Enter]).await;
            wait_status(&visitor, Side::Visitor, "Anruf beendet").await;
            wait_status(&agent, Side::Agent, "Call ended").await;
            clean_consoles(&agent, &visitor).await;
            server.stop().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incoming_call_rings_in_arabic_and_is_declined_by_keyboard() {
    voice_test(
        "voice-a11y-ar",
        TestServer::start(),
        |server, agent, visitor| async move {
            let page = Page {
                language: Some("ar"),
                ..Page::default()
            };
            let (_site, widget, conversation) = meet(&server, &agent, &visitor, page).await;
            agent.click("inbox-call").await;
            let ringing = wait_status(&visitor, Side::Visitor, "مكالمة واردة").await;
            assert_eq!((ringing.lang.as_str(), ringing.dir.as_str()), ("ar", "rtl"));
            assert_eq!(
                ringing.focused.as_deref(),
                Some("call-accept"),
                "{ringing:?}"
            );
            assert_eq!(
                accessible_names(&visitor, Side::Visitor).await,
                [
                    ("call-accept".into(), "قبول".into()),
                    ("call-decline".into(), "رفض".into())
                ]
            );
            assert_eq!(
                visitor.accessibility_violations().await,
                Vec::<String>::new(),
                "the visitor's panel, ringing"
            );
            let focus = press(&visitor, Side::Visitor, &[Key::Tab]).await;
            assert_eq!(focus.as_deref(), Some("call-decline"));
            visitor.press(&[Key::Enter]).await;
            wait_hidden(&visitor, Side::Visitor).await;
            wait_status(&agent, Side::Agent, "Call declined").await;
            let call = ended_call(&server, &conversation).await;
            assert_eq!(call.outcome, Some(CallOutcome::Declined), "{call:?}");
            both_show_last(&agent, &widget, "agent", "Declined voice call").await;
            clean_consoles(&agent, &visitor).await;
            server.stop().await;
        },
    )
    .await;
}
