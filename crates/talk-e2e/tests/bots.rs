//! Agent bots by webhook (issue 17, seed 003) with a real bot process: the minimal Python bot
//! of `docs/bots.md`, run as it is printed there, on loopback. The visitor asks and the bot
//! answers in the widget (typing shown meanwhile), the bot hands over and an agent answers in
//! the inbox, a bot that is down gets every message once it is back (across a server restart),
//! and the docs' bot refuses a forged signature.

use serde_json::{json, Value};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use talk_e2e::inbox::{self, open_first_conversation, sign_in};
use talk_e2e::{eventually, page_with_snippet, with_two_browsers, HostSite, TestServer, ENTER};

const WAIT: Duration = Duration::from_secs(20);

/// The first ```python block of docs/bots.md, verbatim.
fn docs_bot_source() -> String {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/bots.md");
    let text = std::fs::read_to_string(&docs).expect("docs/bots.md");
    let start = text
        .find("```python\n")
        .expect("a python block in docs/bots.md")
        + 10;
    let end = start + text[start..].find("```").expect("the block's end");
    text[start..end].to_string()
}

/// A free loopback port for the bot (taken again by the bot right after).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("a free port")
        .local_addr()
        .expect("its address")
        .port()
}

/// The docs' bot as a process; killed on drop.
struct DocsBot {
    child: Child,
    _dir: tempfile::TempDir,
}

impl DocsBot {
    /// Starts the bot on `port` with the key and secret Talk gave it; waits until it listens.
    async fn start(talk_url: &str, bot: &Value, port: u16) -> DocsBot {
        let dir = tempfile::tempdir().expect("temp dir");
        let script = dir.path().join("bot.py");
        std::fs::write(&script, docs_bot_source()).expect("write bot.py");
        let child = Command::new("python3")
            .arg(&script)
            .env("TALK_URL", talk_url)
            .env("BOT_API_KEY", bot["api_key"].as_str().expect("api_key"))
            .env(
                "BOT_SECRET",
                bot["signing_secret"].as_str().expect("signing_secret"),
            )
            .env("PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 runs the docs' bot (scripts/install-tools.sh installs it)");
        eventually("the bot to listen", WAIT, || async {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .ok()
        })
        .await;
        DocsBot { child, _dir: dir }
    }
}

impl Drop for DocsBot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A server whose webhooks may go to loopback (the bot runs there) and whose retries are quick.
async fn server() -> TestServer {
    TestServer::start_with(|settings| {
        settings.bot_allow_private_targets = true;
        settings.bot_retry_base_ms = 200;
        settings.bot_retry_max_ms = 1_000;
    })
    .await
}

/// Registers a bot that takes every new conversation, as an admin does in the inbox; answers
/// `BotCreated` (its secret and key).
async fn register_bot(server: &TestServer, port: u16) -> Value {
    let cookie = server.admin_cookie().await;
    let answer = reqwest::Client::new()
        .post(format!("{}/v1/admin/bots", server.url))
        .header("cookie", cookie)
        .json(&json!({
            "name": "Robo",
            "webhook_url": format!("http://127.0.0.1:{port}/talk"),
            "takes": "all_new",
        }))
        .send()
        .await
        .expect("register the bot");
    let status = answer.status();
    let created: Value = answer.json().await.expect("BotCreated");
    assert_eq!(status.as_u16(), 201, "register the bot: {created}");
    created
}

/// The bot's delivery log, newest first: (status, attempts).
async fn deliveries(server: &TestServer, bot_id: &str) -> Vec<(String, u64)> {
    let cookie = server.admin_cookie().await;
    let log: Value = reqwest::Client::new()
        .get(format!("{}/v1/admin/bots/{bot_id}/deliveries", server.url))
        .header("cookie", cookie)
        .send()
        .await
        .expect("delivery log")
        .json()
        .await
        .expect("DeliveryList");
    log["deliveries"]
        .as_array()
        .expect("deliveries")
        .iter()
        .map(|d| {
            (
                d["status"].as_str().unwrap_or_default().to_string(),
                d["attempts"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_answers_in_the_widget_then_hands_over_to_an_agent() {
    let server = server().await;
    with_two_browsers(
        "bots-handoff",
        server,
        |server, visitor, agent| async move {
            let port = free_port();
            let bot = register_bot(&server, port).await;
            let _bot = DocsBot::start(&server.url, &bot, port).await;
            let (email, password) = server.admin_login();
            sign_in(&agent, &server.inbox_url(), email, password).await;

            let site = HostSite::start(vec![(
                "/",
                page_with_snippet(&server.capture_key, &server.url, "{talk: {}}", ""),
            )])
            .await;
            visitor.goto(&format!("{}/", site.url)).await;
            let widget = visitor.widget().await;
            widget.start_chat().await;
            widget.type_into("talk-email", "ada@example.com").await;
            widget.click("talk-identify-submit").await;
            widget.wait_for("talk-typing").await;
            // Every text the typing line shows, from now on.
            visitor
                .js("window.typingSeen = []; \
                 const line = document.querySelector('ap3c-talk').shadowRoot \
                     .querySelector('[data-testid=talk-typing]'); \
                 new MutationObserver(() => typingSeen.push(line.textContent)) \
                     .observe(line, {childList: true, characterData: true, subtree: true});")
                .await;

            // The visitor asks; the bot (thinking a second) answers, typing meanwhile.
            widget.send("What are your opening hours?").await;
            widget
                .wait_for_messages_within(
                    &[
                        ("visitor", "What are your opening hours?"),
                        ("bot", "You said: What are your opening hours?"),
                    ],
                    WAIT,
                )
                .await;
            let typing = visitor.js("return window.typingSeen;").await;
            assert!(
                typing.as_array().is_some_and(|seen| seen.iter().any(|t| t
                    .as_str()
                    .is_some_and(|t| t.starts_with("Robo") && t.ends_with("is typing…")))),
                "the bot's typing showed: {typing}"
            );
            assert_eq!(
                widget.text("talk-typing").await,
                "",
                "and went with its answer"
            );

            // Asked for a human, the bot says so and hands over; an agent answers from the inbox.
            widget.send("Can I talk to a human?").await;
            widget
                .wait_for_messages_within(
                    &[
                        ("visitor", "What are your opening hours?"),
                        ("bot", "You said: What are your opening hours?"),
                        ("visitor", "Can I talk to a human?"),
                        ("bot", "A human will take over."),
                    ],
                    WAIT,
                )
                .await;
            open_first_conversation(&agent).await;
            inbox::wait_for_messages(
                &agent,
                &[
                    ("visitor", "What are your opening hours?"),
                    ("bot", "You said: What are your opening hours?"),
                    ("visitor", "Can I talk to a human?"),
                    ("bot", "A human will take over."),
                ],
                WAIT,
            )
            .await;
            agent
                .fill("inbox-reply", "Hi, Sam here. We open at 9.")
                .await;
            agent
                .wait_for("inbox-reply")
                .await
                .send_keys(ENTER)
                .await
                .expect("send the reply");
            widget
                .wait_for_messages_within(
                    &[
                        ("visitor", "What are your opening hours?"),
                        ("bot", "You said: What are your opening hours?"),
                        ("visitor", "Can I talk to a human?"),
                        ("bot", "A human will take over."),
                        ("agent", "Hi, Sam here. We open at 9."),
                    ],
                    WAIT,
                )
                .await;

            // Handed over, the conversation is the agents': the bot hears no more of it.
            widget.send("Thanks!").await;
            tokio::time::sleep(Duration::from_secs(3)).await;
            let last = widget.messages().await;
            assert_eq!(
                last.last()
                    .map(|(author, body, _)| (author.as_str(), body.as_str())),
                Some(("visitor", "Thanks!")),
                "nothing after the handoff from the bot: {last:?}"
            );
            let log = deliveries(&server, bot["bot"]["id"].as_str().expect("bot id")).await;
            assert_eq!(log.len(), 2, "two events, none after the handoff: {log:?}");
            assert!(
                log.iter().all(|(status, _)| status == "delivered"),
                "{log:?}"
            );
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_that_was_down_gets_every_message_in_order_across_a_server_restart() {
    let mut server = server().await;
    let port = free_port();
    let bot = register_bot(&server, port).await;
    let bot_id = bot["bot"]["id"].as_str().expect("bot id").to_string();

    // Three messages while nothing listens on the bot's port.
    let visitor = server
        .api()
        .visitor("0123456789abcdef0123456789abcdef")
        .await;
    visitor.identify("ada@example.com").await;
    let first = visitor
        .send(None, "018f0000-0000-7000-8000-000000000001", "one")
        .await;
    let conversation = first.conversation_id.clone();
    for (n, body) in [(2, "two"), (3, "three")] {
        visitor
            .send(
                Some(&conversation),
                &format!("018f0000-0000-7000-8000-00000000000{n}"),
                body,
            )
            .await;
    }
    eventually("failed attempts in the log", WAIT, || async {
        let log = deliveries(&server, &bot_id).await;
        (log.len() == 3
            && log
                .iter()
                .any(|(status, attempts)| status == "pending" && *attempts >= 1))
        .then_some(())
    })
    .await;

    // The server restarts (its retries are in the database), then the bot comes up.
    server.shut_down().await;
    server.start_again().await;
    let _bot = DocsBot::start(&server.url, &bot, port).await;

    let answers = eventually(
        "the bot's three answers",
        Duration::from_secs(40),
        || async {
            let bodies: Vec<String> = server
                .messages(&conversation)
                .await
                .into_iter()
                .filter(|m| m.author.kind == talk_protocol::AuthorKind::Bot)
                .map(|m| m.body)
                .collect();
            (bodies.len() >= 3).then_some(bodies)
        },
    )
    .await;
    assert_eq!(
        answers,
        ["You said: one", "You said: two", "You said: three"],
        "each once, in order"
    );
    let log = deliveries(&server, &bot_id).await;
    assert_eq!(log.len(), 3);
    // Newest first. The oldest waited through failed attempts; the others waited behind it
    // (a conversation's events go in order) and went at their first.
    assert!(
        log.iter().all(|(status, _)| status == "delivered"),
        "all delivered: {log:?}"
    );
    assert!(log[2].1 >= 2, "the first after failed attempts: {log:?}");
    server.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_bot_refuses_a_forged_signature() {
    let mut server = server().await;
    let port = free_port();
    let bot = register_bot(&server, port).await;
    let _bot = DocsBot::start(&server.url, &bot, port).await;
    let body = json!({
        "id": "forged-1",
        "type": "message.created",
        "created_at": 0,
        "bot_id": bot["bot"]["id"],
        "conversation": {"id": "c1", "verified": false, "status": "open", "visitor_id": "v",
                         "person_id": null, "last_seq": 1, "created_at": 0},
        "message": {"id": "m1", "conversation_id": "c1", "seq": 1,
                    "author": {"kind": "visitor"}, "body": "hi", "created_at": 0},
    })
    .to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let secret = bot["signing_secret"].as_str().expect("signing_secret");
    let signed = |t: u64, body: &str| format!("t={t},v1={}", hmac_hex(secret, t, body));
    let forged = [
        ("no signature", None),
        (
            "a made-up one",
            Some(format!("t={now},v1={}", "ab".repeat(32))),
        ),
        (
            "another secret's",
            Some(format!(
                "t={now},v1={}",
                hmac_hex("whsec_other", now, &body)
            )),
        ),
        ("an old one replayed", Some(signed(now - 3_600, &body))),
        ("one for another body", Some(signed(now, "{}"))),
    ];
    let http = reqwest::Client::new();
    for (what, signature) in forged {
        let mut request = http
            .post(format!("http://127.0.0.1:{port}/talk"))
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(signature) = signature {
            request = request.header("Talk-Signature", signature);
        }
        let answer = request.send().await.expect("the bot answers");
        assert_eq!(answer.status().as_u16(), 401, "{what}");
    }
    server.shut_down().await;
}

/// `Talk-Signature`'s v1: hex HMAC-SHA256 over `"<t>.<body>"`.
fn hmac_hex(secret: &str, t: u64, body: &str) -> String {
    use hmac::{Mac, SimpleHmac};
    let mut mac = SimpleHmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(format!("{t}.{body}").as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}
