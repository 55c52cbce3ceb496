//! Two nodes, end to end: two real `talk-server` processes on different ports share one
//! PostgreSQL database (LISTEN/NOTIFY between them), with real Chromium on the widget and the
//! inbox. A conversation crosses the nodes live (typing, read receipts, the verified label);
//! senders on both nodes interleave; faults strike mid-stream: node B's LISTEN connection is
//! ended, node B is killed with SIGKILL behind nginx (`deploy/nginx.conf`), PostgreSQL
//! restarts. Each time every client ends with every message once, in seq order.
//!
//! PostgreSQL only (run under `scripts/postgres.sh`): on SQLite each test says why it skips,
//! since a SQLite server is a single node. The nodes are the debug `talk-server` binary:
//!
//! ```sh
//! scripts/postgres.sh cargo test -p talk-server -p talk-e2e --test cluster   # builds it too
//! ```

use sqlx::PgPool;
use std::collections::BTreeSet;
use std::time::Duration;
use talk_e2e::{
    create_workspace, eventually, inbox, postgres, with_browsers, Api, Browser, EventListener,
    Nginx, Node, VisitorSession, Widget, Workspace, AUTO_REPLY, ENTER,
};
use tempfile::TempDir;

/// The tests share one PostgreSQL cluster, which one of them restarts, and two cores: one at
/// a time.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const WAIT: Duration = Duration::from_secs(15);
/// Long enough for a client's reconnect backoff after its node or the database went away.
const RECOVERY: Duration = Duration::from_secs(45);

/// Node A and node B on a fresh database, one workspace on it.
struct Cluster {
    workspace: Workspace,
    database: String,
    a: Node,
    b: Node,
    /// The nodes' logs.
    _dir: TempDir,
}

impl Cluster {
    /// Two nodes telling browsers their own addresses, or `public_url` (a load balancer's)
    /// when given; `None` (and why) on SQLite.
    async fn start(public_url: Option<&str>) -> Option<Cluster> {
        let Some(database) = postgres::fresh_database().await else {
            eprintln!(
                "skipped: two talk-server nodes share a PostgreSQL database \
                 (run under scripts/postgres.sh)"
            );
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let workspace = create_workspace(&database).await;
        // Test senders write faster than a person types.
        let env = [("TALK_SOCKET_MESSAGES_PER_WINDOW", "0")];
        let a = Node::start("a", &database, public_url, dir.path(), &env).await;
        let b = Node::start("b", &database, public_url, dir.path(), &env).await;
        Some(Cluster {
            workspace,
            database,
            a,
            b,
            _dir: dir,
        })
    }

    fn api(&self, node: &Node) -> Api {
        Api::new(&node.url, &self.workspace)
    }

    fn demo_url(&self, base: &str) -> String {
        format!("{base}/demo?capture_key={}", self.workspace.capture_key)
    }

    async fn sign_in(&self, agent: &Browser, base: &str) {
        let (email, password) = (&self.workspace.admin_email, &self.workspace.admin_password);
        inbox::sign_in(agent, &format!("{base}/inbox/"), email, password).await;
    }

    async fn sql(&self) -> PgPool {
        postgres::pool(&self.database).await
    }
}

/// A failing test shows the end of each node's log (the folder goes with the test).
impl Drop for Cluster {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        for node in [&self.a, &self.b] {
            let log = std::fs::read_to_string(&node.log).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            eprintln!("--- node {} ({}), last lines:", node.name, node.url);
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// Opens the messenger on `page`, gives an email, writes `first`, waits for the bot.
async fn visitor_starts(browser: &Browser, page: &str, first: &str) -> Widget {
    browser.goto(page).await;
    let widget = browser.widget().await;
    widget.start_chat().await;
    widget.type_into("talk-email", "ada@example.com").await;
    widget.click("talk-identify-submit").await;
    widget.send(first).await;
    widget
        .wait_for_messages(&[("visitor", first), ("bot", AUTO_REPLY)])
        .await;
    widget
}

/// The body of the visitor's message that shows "Seen" (the agents read up to it), if any.
async fn seen_under(browser: &Browser) -> Option<String> {
    let found = browser
        .js(
            "const root = document.querySelector('ap3c-talk').shadowRoot; \
             const seen = root.querySelector('[data-testid=talk-seen]'); \
             const line = seen && seen.closest('[data-testid=talk-message]'); \
             return line ? line.querySelector('.talk-message-body').textContent : null;",
        )
        .await;
    found.as_str().map(str::to_string)
}

/// The visitor, identified, starts a conversation on `api`'s node over the widget's HTTP
/// transport ("hello"), and the bot has answered: its session and the conversation.
async fn visitor_says_hello(api: &Api) -> (VisitorSession, String) {
    let sender = api.visitor(VISITOR_ID).await;
    sender.identify("ada@example.com").await;
    let conversation_id = sender.send(None, &uuid(1), "hello").await.conversation_id;
    eventually("the bot's answer", WAIT, || async {
        (api.messages(&conversation_id).await.len() == 2).then_some(())
    })
    .await;
    (sender, conversation_id)
}

/// The stored conversation as (author, body) in seq order, after checking its seqs run
/// 1, 2, 3 … without a gap or a repeat.
async fn stored(api: &Api, conversation_id: &str) -> Vec<(String, String)> {
    let messages = api.messages(conversation_id).await;
    let seqs: Vec<i64> = messages.iter().map(|message| message.seq).collect();
    let expected: Vec<i64> = (1..=messages.len() as i64).collect();
    assert_eq!(seqs, expected, "stored seqs");
    messages
        .into_iter()
        .map(|message| {
            let author = serde_json::to_value(message.author.kind).expect("author kind");
            (author.as_str().expect("a name").to_string(), message.body)
        })
        .collect()
}

fn pairs(owned: &[(String, String)]) -> Vec<(&str, &str)> {
    owned
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect()
}

/// Reads `listener` until it has seen the message with seq `last`: the seqs it heard must be
/// exactly `from..=last`, in order, each once.
async fn hears_every_seq(who: &str, listener: &mut EventListener, from: i64, last: i64) {
    let mut heard = Vec::new();
    while heard.last() != Some(&last) {
        let event = listener.next_of_type("message", RECOVERY).await;
        let seq = event["message"]["seq"].as_i64().expect("a seq");
        heard.push(seq);
        assert!(
            heard.len() as i64 <= last - from + 1,
            "{who} heard {heard:?}"
        );
    }
    let expected: Vec<i64> = (from..=last).collect();
    assert_eq!(heard, expected, "{who}: every seq once, in order");
}

fn uuid(n: u32) -> String {
    format!("5e0f6c1e-2f43-4a8e-9d1c-{n:012x}")
}

const VISITOR_ID: &str = "0123456789abcdef0123456789abcdef";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_visitor_on_node_a_and_an_agent_on_node_b_talk_live() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(cluster) = Cluster::start(None).await else {
        return;
    };
    let cluster = &cluster;
    with_browsers("cluster-live", 2, |browsers| async move {
        let (agent, visitor) = (&browsers[0], &browsers[1]);
        cluster.sign_in(agent, &cluster.b.url).await;
        agent.wait_for("inbox-no-conversations").await;

        // The visitor writes on node A: the conversation appears in node B's inbox live.
        let first = "Is the blue one in stock?";
        let widget = visitor_starts(visitor, &cluster.demo_url(&cluster.a.url), first).await;
        inbox::wait_for_pairs(
            "the conversation list",
            &[("ada@example.com", "2")],
            WAIT,
            || inbox::conversations(agent),
        )
        .await;
        inbox::open_first_conversation(agent).await;
        inbox::wait_for_messages(agent, &[("visitor", first), ("bot", AUTO_REPLY)], WAIT).await;
        assert_eq!(agent.text("inbox-not-verified").await, "Not verified");

        // Typing crosses both ways.
        widget.type_into("talk-composer", "Also").await;
        eventually("the visitor's typing on node B", WAIT, || async {
            let text = agent.text_now("inbox-typing").await?;
            (text == "The visitor is typing…").then_some(())
        })
        .await;
        agent.fill("inbox-reply", "Yes, 12 left").await;
        eventually("the agent's typing on node A", WAIT, || async {
            let text = widget.text_now("talk-typing").await?;
            text.ends_with("is typing…").then_some(())
        })
        .await;

        // The reply reaches the visitor on A; the visitor's read comes back to B: "Seen".
        agent
            .wait_for("inbox-reply")
            .await
            .send_keys(ENTER)
            .await
            .unwrap();
        let so_far = [
            ("visitor", first),
            ("bot", AUTO_REPLY),
            ("agent", "Yes, 12 left"),
        ];
        widget.wait_for_messages(&so_far).await;
        inbox::wait_for_messages(agent, &so_far, WAIT).await;
        agent.wait_for("inbox-seen").await;

        // The visitor answers on A (the composer still has "Also"); the agent, who has the
        // conversation open on B, reads it, and "Seen" moves under it on A.
        eventually("\"Seen\" under the first message", WAIT, || async {
            (seen_under(visitor).await.as_deref() == Some(first)).then_some(())
        })
        .await;
        widget.send(" in green?").await;
        let all = [
            ("visitor", first),
            ("bot", AUTO_REPLY),
            ("agent", "Yes, 12 left"),
            ("visitor", "Also in green?"),
        ];
        inbox::wait_for_messages(agent, &all, WAIT).await;
        widget.wait_for_messages(&all).await;
        eventually("\"Seen\" under the visitor's answer", WAIT, || async {
            (seen_under(visitor).await.as_deref() == Some("Also in green?")).then_some(())
        })
        .await;

        let conversation = cluster.api(&cluster.a).conversations().await.remove(0);
        assert_eq!(
            stored(&cluster.api(&cluster.b), &conversation.id).await,
            all.map(|(a, b)| (a.to_string(), b.to_string()))
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn senders_on_both_nodes_interleave_and_every_client_sees_one_seq_order() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(cluster) = Cluster::start(None).await else {
        return;
    };
    let (api_a, api_b) = (cluster.api(&cluster.a), cluster.api(&cluster.b));
    // The visitor writes on node A over the widget's HTTP transport; the bot answers.
    let (sender, conversation_id) = visitor_says_hello(&api_a).await;

    let (cluster, api_a, api_b, sender) = (&cluster, &api_a, &api_b, &sender);
    let conversation_id = &conversation_id;
    with_browsers("cluster-interleave", 1, |browsers| async move {
        let agent = &browsers[0];
        cluster.sign_in(agent, &cluster.b.url).await;
        inbox::open_first_conversation(agent).await;
        inbox::wait_for_messages(agent, &[("visitor", "hello"), ("bot", AUTO_REPLY)], WAIT).await;
        // Listeners on both nodes: the visitor's other tabs, one on each.
        let mut on_a = api_a.visitor(VISITOR_ID).await.listen().await;
        let mut on_b = api_b.visitor(VISITOR_ID).await.listen().await;

        // The visitor on A and the agent API on B write at the same time.
        const EACH: u32 = 20;
        let visitor_writes = async {
            for n in 0..EACH {
                let body = format!("v{n}");
                sender
                    .send(Some(conversation_id), &uuid(100 + n), &body)
                    .await;
            }
        };
        let agent_writes = async {
            for n in 0..EACH {
                api_b.reply(conversation_id, &format!("a{n}")).await;
            }
        };
        tokio::join!(visitor_writes, agent_writes);

        let all = stored(api_a, conversation_id).await;
        let last = all.len() as i64;
        assert_eq!(last, 2 + 2 * i64::from(EACH));
        let bodies: BTreeSet<&str> = all.iter().map(|(_, body)| body.as_str()).collect();
        assert_eq!(bodies.len(), all.len(), "each message stored once");
        // They did interleave: the author changes along the conversation, not once.
        let turns = all.windows(2).filter(|pair| pair[0].0 != pair[1].0).count();
        assert!(
            turns > 4,
            "the senders took turns only {turns} times: {all:?}"
        );
        hears_every_seq("the listener on A", &mut on_a, 3, last).await;
        hears_every_seq("the listener on B", &mut on_b, 3, last).await;
        // The agent's inbox on B shows them in that order, each once.
        inbox::wait_for_messages(agent, &pairs(&all), WAIT).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_bs_listen_connection_ended_mid_stream_loses_nothing() {
    let _one = ONE_AT_A_TIME.lock().await;
    let Some(cluster) = Cluster::start(None).await else {
        return;
    };
    let (api_a, api_b) = (cluster.api(&cluster.a), cluster.api(&cluster.b));
    let sql = cluster.sql().await;
    let (sender, conversation_id) = visitor_says_hello(&api_a).await;

    let (cluster, api_a, api_b, sender, sql) = (&cluster, &api_a, &api_b, &sender, &sql);
    let conversation_id = &conversation_id;
    with_browsers("cluster-listener", 1, |browsers| async move {
        let agent = &browsers[0];
        cluster.sign_in(agent, &cluster.b.url).await;
        inbox::open_first_conversation(agent).await;
        inbox::wait_for_messages(agent, &[("visitor", "hello"), ("bot", AUTO_REPLY)], WAIT).await;
        let mut on_b = api_b.visitor(VISITOR_ID).await.listen().await;
        let before = postgres::listener_backend(sql, "talk-b")
            .await
            .expect("node B listens");

        // The visitor writes on A; a quarter of the way in, B's LISTEN connection is ended.
        const COUNT: u32 = 20;
        for n in 0..COUNT {
            sender
                .send(Some(conversation_id), &uuid(100 + n), &format!("m{n}"))
                .await;
            if n == COUNT / 4 {
                postgres::terminate_backend(sql, before).await;
            }
        }
        let all = stored(api_a, conversation_id).await;
        let last = all.len() as i64;
        assert_eq!(last, 2 + i64::from(COUNT));
        hears_every_seq("the listener on B", &mut on_b, 3, last).await;
        inbox::wait_for_messages(agent, &pairs(&all), WAIT).await;

        // B listens again, on a new connection, and hears what comes next.
        eventually("node B to listen again", WAIT, || async {
            let now = postgres::listener_backend(sql, "talk-b").await?;
            (now != before).then_some(())
        })
        .await;
        sender.send(Some(conversation_id), &uuid(999), "more").await;
        let mut expected = all.clone();
        expected.push(("visitor".into(), "more".into()));
        inbox::wait_for_messages(agent, &pairs(&expected), WAIT).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_b_killed_behind_nginx_its_clients_resume_on_node_a() {
    let _one = ONE_AT_A_TIME.lock().await;
    // nginx's address first: every node tells browsers to come back through it.
    let listen = Nginx::reserve();
    let public = format!("http://{listen}");
    let Some(mut cluster) = Cluster::start(Some(&public)).await else {
        return;
    };
    // B takes the traffic while it is up, A is the backup (deploy/nginx.conf).
    let nginx = Nginx::start(listen, cluster.b.addr, cluster.a.addr).await;
    let api_a = cluster.api(&cluster.a);
    let (b_addr, a_addr) = (cluster.b.addr.to_string(), cluster.a.addr.to_string());

    let (cluster_ref, nginx_ref, api_a_ref, b_addr_ref) = (&mut cluster, &nginx, &api_a, &b_addr);
    with_browsers("cluster-kill", 2, |browsers| async move {
        let (cluster, nginx, api_a, b_addr) = (cluster_ref, nginx_ref, api_a_ref, b_addr_ref);
        let (agent, visitor) = (&browsers[0], &browsers[1]);
        cluster.sign_in(agent, &nginx.url).await;
        let widget = visitor_starts(visitor, &cluster.demo_url(&nginx.url), "one").await;
        inbox::wait_for_pairs(
            "the conversation list",
            &[("ada@example.com", "2")],
            WAIT,
            || inbox::conversations(agent),
        )
        .await;
        inbox::open_first_conversation(agent).await;
        // The widget's other transport through nginx too: an SSE stream (another tab of the
        // visitor, on HTTP + SSE) must hear the reply as it is written, not when nginx's
        // buffer fills.
        let visitor_id = api_a.conversations().await.remove(0).visitor_id;
        let through_nginx = Api::new(&nginx.url, &cluster.workspace);
        let mut stream = through_nginx.visitor(&visitor_id).await.listen().await;
        agent.fill("inbox-reply", "two").await;
        agent
            .wait_for("inbox-reply")
            .await
            .send_keys(ENTER)
            .await
            .unwrap();
        let heard = stream.next_of_type("message", WAIT).await;
        assert_eq!(heard["message"]["body"], "two", "{heard}");
        let before = [("visitor", "one"), ("bot", AUTO_REPLY), ("agent", "two")];
        widget.wait_for_messages(&before).await;
        inbox::wait_for_messages(agent, &before, WAIT).await;
        let log = nginx.access_log();
        assert!(
            log.lines()
                .any(|line| line.contains("/v1/talk/widget/session")
                    && line.contains(&format!("upstream={b_addr} "))),
            "the widget's session was made on B: {log}"
        );

        // B dies mid-conversation. Meanwhile another agent answers through A's API, and the
        // visitor writes while the widget has no connection.
        cluster.b.kill9().await;
        let conversation_id = api_a.conversations().await.remove(0).id;
        api_a.reply(&conversation_id, "three").await;
        widget.send("four").await;
        let after_kill = [
            ("visitor", "one"),
            ("bot", AUTO_REPLY),
            ("agent", "two"),
            ("agent", "three"),
            ("visitor", "four"),
        ];
        widget.wait_for_messages_within(&after_kill, RECOVERY).await;
        inbox::wait_for_messages(agent, &after_kill, RECOVERY).await;

        // Through A now, both ways, live.
        agent.fill("inbox-reply", "five").await;
        agent
            .wait_for("inbox-reply")
            .await
            .send_keys(ENTER)
            .await
            .unwrap();
        widget.send("six").await;
        let all = [
            ("visitor", "one"),
            ("bot", AUTO_REPLY),
            ("agent", "two"),
            ("agent", "three"),
            ("visitor", "four"),
            ("agent", "five"),
            ("visitor", "six"),
        ];
        // Five and six are written at once: whichever committed first has the lower seq.
        let stored_now = eventually("every message stored", WAIT, || async {
            let now = stored(api_a, &conversation_id).await;
            (now.len() == all.len()).then_some(now)
        })
        .await;
        let mut expected: Vec<_> = all
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        expected.sort();
        let mut sorted = stored_now.clone();
        sorted.sort();
        assert_eq!(sorted, expected, "every message stored once");
        widget.wait_for_messages(&pairs(&stored_now)).await;
        inbox::wait_for_messages(agent, &pairs(&stored_now), WAIT).await;
    })
    .await;

    // nginx moved them: each socket was on B until the kill, then on A. (nginx logs a
    // WebSocket when it closes: the browsers' sessions ended above.)
    let upstreams_of = |socket: &str| -> Vec<String> {
        nginx
            .access_log()
            .lines()
            .filter(|line| line.contains(&format!("GET {socket}")))
            .filter_map(|line| line.split(" upstream=").nth(1))
            .filter_map(|rest| rest.split(" upstream_status=").next())
            .map(str::to_string)
            .collect()
    };
    for socket in ["/v1/talk/socket", "/v1/agent/socket"] {
        let upstreams = eventually(&format!("{socket} on B, then on A"), WAIT, || async {
            let upstreams = upstreams_of(socket);
            let on_b = upstreams.contains(&b_addr);
            let on_a = upstreams.iter().any(|upstream| upstream.ends_with(&a_addr));
            (on_b && on_a).then_some(upstreams)
        })
        .await;
        eprintln!("{socket} went to {upstreams:?}");
    }
    // And no client saw B's death as an error: nginx sent each request B refused on to A
    // (proxy_next_upstream) rather than answering it 502.
    let log = nginx.access_log();
    let failed: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("\" 502 "))
        .collect();
    assert!(failed.is_empty(), "answered 502 by nginx: {failed:#?}");
}

/// What a PostgreSQL restart in the middle of a visitor's writing left behind.
struct AfterRestart {
    /// Every message the visitor typed, in order.
    typed: Vec<String>,
    /// The widget's visitor messages once none is "sending": (body, state).
    shown: Vec<(String, String)>,
    /// The stored conversation, (author, body) in seq order.
    stored: Vec<(String, String)>,
}

/// The visitor writes the next of m0, m1, m2 …
async fn write_next(widget: &Widget, typed: &mut Vec<String>) {
    let body = format!("m{}", typed.len());
    widget.send(&body).await;
    typed.push(body);
}

/// A visitor on node A writes, an agent on node B has the conversation open, and PostgreSQL
/// restarts (`pg_ctl restart -m fast`) while the visitor goes on writing. Checks what must hold whatever the widget did with sends the restart refused:
/// every message the widget shows as sent is stored, once; the stored seqs have no gap; the
/// inbox on B (whose LISTEN connection the restart cut) shows exactly what is stored.
async fn visitor_writes_through_a_postgresql_restart(name: &str) -> Option<AfterRestart> {
    let _one = ONE_AT_A_TIME.lock().await;
    let cluster = Cluster::start(None).await?;
    let api_a = cluster.api(&cluster.a);
    let (cluster, api_a) = (&cluster, &api_a);
    let after = std::sync::Mutex::new(None);
    let after_ref = &after;
    with_browsers(name, 2, |browsers| async move {
        let (agent, visitor) = (&browsers[0], &browsers[1]);
        cluster.sign_in(agent, &cluster.b.url).await;
        let widget = visitor_starts(visitor, &cluster.demo_url(&cluster.a.url), "m0").await;
        inbox::wait_for_pairs(
            "the conversation list",
            &[("ada@example.com", "2")],
            WAIT,
            || inbox::conversations(agent),
        )
        .await;
        inbox::open_first_conversation(agent).await;

        let mut typed: Vec<String> = vec!["m0".into()];
        for _ in 1..4 {
            write_next(&widget, &mut typed).await;
        }
        // The visitor goes on writing for as long as the restart takes (a second or two), so
        // some sends reach node A while PostgreSQL is down or coming back.
        let restart = tokio::spawn(postgres::restart_cluster());
        while !restart.is_finished() {
            write_next(&widget, &mut typed).await;
        }
        restart.await.expect("the restart");
        for _ in 0..2 {
            write_next(&widget, &mut typed).await;
        }

        // Settled: every message of the visitor's either acknowledged or given up.
        let shown = eventually("no message left sending", RECOVERY, || async {
            let shown: Vec<(String, String)> = widget
                .messages()
                .await
                .into_iter()
                .filter(|(author, _, _)| author == "visitor")
                .map(|(_, body, state)| (body, state))
                .collect();
            let settled =
                shown.len() == typed.len() && shown.iter().all(|(_, state)| state != "sending");
            settled.then_some(shown)
        })
        .await;
        let conversation_id = api_a.conversations().await.remove(0).id;
        let stored = stored(api_a, &conversation_id).await;
        for (body, state) in &shown {
            let copies = stored.iter().filter(|(_, stored)| stored == body).count();
            if state == "sent" {
                assert_eq!(copies, 1, "{body}: acknowledged, stored {copies} times");
            }
            assert!(copies <= 1, "{body}: stored {copies} times");
        }
        inbox::wait_for_messages(agent, &pairs(&stored), RECOVERY).await;
        *after_ref.lock().unwrap() = Some(AfterRestart {
            typed,
            shown,
            stored,
        });
    })
    .await;
    let after = after.lock().unwrap().take();
    after
}

/// Sends that reach node A while PostgreSQL restarts are not given up: the node ends the
/// widget's socket without reading further (its store failed, so whether the message is
/// stored is unknown), and the widget resends it and everything typed after it, in order,
/// under the same ids. Every typed message ends up stored once, in the order typed, and
/// shown as sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_restart_mid_send_stores_every_typed_message_once_in_order() {
    let Some(after) =
        visitor_writes_through_a_postgresql_restart("cluster-pg-restart-resend").await
    else {
        return;
    };
    let given_up: Vec<&str> = after
        .shown
        .iter()
        .filter(|(_, state)| state != "sent")
        .map(|(body, _)| body.as_str())
        .collect();
    assert!(given_up.is_empty(), "the widget gave up {given_up:?}");
    let mut expected = vec![("visitor".to_string(), after.typed[0].clone())];
    expected.push(("bot".into(), AUTO_REPLY.into()));
    expected.extend(
        after.typed[1..]
            .iter()
            .map(|body| ("visitor".into(), body.clone())),
    );
    assert_eq!(
        after.stored, expected,
        "every typed message stored once, in order"
    );
}
