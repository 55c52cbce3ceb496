//! Chaos: a few dozen visitors and an agent talk through the real `talk-server` binary (its
//! own process, a SQLite file or, under `scripts/postgres.sh`, a PostgreSQL database,
//! loopback sockets) while a TCP proxy between them and the server cuts 1,000 WebSocket
//! connections at random times, the clients themselves close sockets abruptly, and the server
//! is killed with SIGKILL and restarted (same database, same port) several times mid-load.
//!
//! The clients follow the widget's rules (`src/runtime/core.rs`, `outbox.rs`): every message
//! has a client UUID and is resent under it after a reconnect until it is acknowledged, a new
//! conversation's first message goes alone, and a reconnected client resumes after the last
//! seq it has without a gap, page by page. The agent hears everything on its inbox socket
//! (`GET /v1/agent/socket`), catches up after a reconnect by listing the conversations and
//! resuming each, and replies on that socket under client UUIDs, resent the same way.
//!
//! Afterwards: every acknowledged message is stored exactly once, the agent saw every visitor
//! message, each conversation's seqs run 1..=last_seq, and no client saw two messages at one
//! seq or one client id at two seqs.
//!
//! `TALK_CHAOS_SEED=<n>` replays a run's random choices (the drop and kill schedule, which
//! socket is cut, what clients write and when); the seed is printed on every run. Thread
//! timing still varies between runs.

#[allow(dead_code)]
#[path = "common/sql.rs"]
mod sql;

use futures_util::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use talk_protocol::{AuthorKind, ClientEvent, Conversation, Message, ServerEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::{oneshot, watch};
use tokio::time::{sleep, sleep_until, timeout, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::WebSocketStream;

const VISITORS: usize = 30;
const MESSAGES_PER_VISITOR: usize = 20;
/// Sockets the proxy cuts while the load runs.
const PROXY_DROPS: usize = 1000;
/// SIGKILLs of the server, each followed by a restart on the same file and port.
const KILLS: usize = 3;
/// The visitors write, and the drops and kills happen, within this window.
const LOAD_WINDOW: Duration = Duration::from_secs(40);
/// The agent answers about one visitor message in this many.
const REPLY_ONE_IN: u32 = 3;
/// A client closes its own socket without a close frame about this often (on average).
const MEAN_CLIENT_CLOSE_AFTER: Duration = Duration::from_secs(6);
/// The whole run, setup to verdict; nothing waits longer than this.
const RUN_LIMIT: Duration = Duration::from_secs(150);
/// Any single step: an HTTP request, a handshake, a server start.
const STEP_LIMIT: Duration = Duration::from_secs(10);
/// A connected client that hears nothing for this long reconnects (the server pings sooner).
const SILENCE_LIMIT: Duration = Duration::from_secs(20);

type Ws = WebSocketStream<TcpStream>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_survive_socket_drops_and_server_kills_exactly_once() {
    let seed = std::env::var("TALK_CHAOS_SEED")
        .ok()
        .map(|seed| seed.parse::<u64>().expect("TALK_CHAOS_SEED is a u64"))
        .unwrap_or_else(rand::random);
    // Printed first, so a failing or hanging run can be replayed.
    eprintln!("chaos: seed {seed} (replay with TALK_CHAOS_SEED={seed})");
    let dir = tempfile::tempdir().expect("temp dir");
    let outcome = timeout(RUN_LIMIT, run(seed, dir.path())).await;
    match outcome {
        Ok(counts) => eprintln!("chaos: seed {seed}: {counts}"),
        Err(_) => panic!("chaos: seed {seed}: the run took over {RUN_LIMIT:?}"),
    }
}

/// What the run did and found; printed at the end.
#[derive(Debug, Default)]
struct Counts {
    proxy_drops: usize,
    client_closes: usize,
    kills: usize,
    /// Messages written and not yet acknowledged at the moments of the kills, summed.
    unacked_at_kills: usize,
    conversations: usize,
    written: usize,
    send_frames: usize,
    acked: usize,
    stored: usize,
    repeated_deliveries: usize,
    duplicates: usize,
    gaps: usize,
    /// Stored messages a client should have seen and did not.
    missed: usize,
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "drops {} (proxy {} + client {}), kills {} (unacked messages then: {}), \
             conversations {}, messages written {} \
             (send frames with resends {}), acked {}, stored {}, duplicates {}, gaps {}, \
             missed {} (repeated deliveries merged by seq, as the widget does: {})",
            self.proxy_drops + self.client_closes,
            self.proxy_drops,
            self.client_closes,
            self.kills,
            self.unacked_at_kills,
            self.conversations,
            self.written,
            self.send_frames,
            self.acked,
            self.stored,
            self.duplicates,
            self.gaps,
            self.missed,
            self.repeated_deliveries,
        )
    }
}

async fn run(seed: u64, dir: &Path) -> Counts {
    let mut rng = StdRng::seed_from_u64(seed);
    let proxy_listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy port");
    let proxy_addr = proxy_listener.local_addr().expect("proxy address");
    let mut server = ServerProcess::create(dir, proxy_addr).await;
    let sockets = Arc::new(Mutex::new(SocketTable::default()));
    let proxy = tokio::spawn(run_proxy(proxy_listener, server.addr, sockets.clone()));
    let api = Api::new(format!("http://{proxy_addr}"), &server).await;

    let (phase_tx, phase) = watch::channel(Phase::Load);
    let shared = Arc::new(Shared::default());
    let mut visitors = Vec::new();
    for index in 0..VISITORS {
        let visitor = Visitor::new(index, rng.gen(), api.clone(), shared.clone(), phase.clone());
        visitors.push(tokio::spawn(visitor.run()));
    }
    let agent = Agent::new(rng.gen(), api.clone(), shared.clone(), phase.clone());
    let agent = tokio::spawn(agent.run());

    // The chaos: drops and kills at random times over the load window.
    let started = Instant::now();
    let mut drop_at: Vec<Duration> = (0..PROXY_DROPS)
        .map(|_| LOAD_WINDOW.mul_f64(rng.gen_range(0.02..0.95)))
        .collect();
    drop_at.sort();
    let kill_at: Vec<Duration> = (0..KILLS)
        .map(|kill| LOAD_WINDOW.mul_f64((kill as f64 + rng.gen_range(0.3..0.7)) / KILLS as f64))
        .collect();
    let mut chaos_rng = StdRng::seed_from_u64(rng.gen());
    let (mut proxy_drops, mut kills, mut unacked_at_kills) = (0, 0, 0);
    while proxy_drops < PROXY_DROPS || kills < KILLS {
        let next_drop = drop_at.get(proxy_drops).copied().unwrap_or(Duration::MAX);
        let next_kill = kill_at.get(kills).copied().unwrap_or(Duration::MAX);
        if next_kill <= next_drop {
            sleep_until(started + next_kill).await;
            // Mid-flight: at a moment some message is unacknowledged, so the kill may fall
            // between its commit and its ack (or before the commit), the cases that matter.
            let mid_flight = Instant::now() + Duration::from_secs(3);
            while shared.pending.load(Ordering::SeqCst) == 0 && Instant::now() < mid_flight {
                sleep(Duration::from_millis(1)).await;
            }
            unacked_at_kills += shared.pending.load(Ordering::SeqCst);
            server.kill_and_restart().await;
            kills += 1;
        } else {
            sleep_until(started + next_drop).await;
            // Only a live socket counts: while the server restarts there may be none.
            let reconnected = Instant::now() + STEP_LIMIT;
            while !sockets.lock().unwrap().cut_one(&mut chaos_rng) {
                assert!(
                    Instant::now() < reconnected,
                    "no client socket open for {STEP_LIMIT:?} (drops so far {proxy_drops})"
                );
                sleep(Duration::from_millis(5)).await;
            }
            proxy_drops += 1;
        }
    }
    let chaos_took = started.elapsed();

    // Everyone has written everything (queued while offline, perhaps): now only resends.
    wait_for("every visitor to write its messages", || {
        shared.done_writing.load(Ordering::SeqCst) == VISITORS
    })
    .await;
    phase_tx.send_replace(Phase::Drain);
    wait_for("every written message to be acknowledged", || {
        shared.pending.load(Ordering::SeqCst) == 0
    })
    .await;

    // Nothing is in flight: the stored conversations are final. Every client must catch up.
    let stored = read_database(&server.database).await;
    let targets: HashMap<String, i64> = stored
        .conversations
        .iter()
        .map(|(id, last_seq)| (id.clone(), *last_seq))
        .collect();
    phase_tx.send_replace(Phase::Converge(Arc::new(targets)));
    let deadline = Instant::now() + STEP_LIMIT * 3;
    while Instant::now() < deadline
        && !(agent.is_finished() && visitors.iter().all(|visitor| visitor.is_finished()))
    {
        sleep(Duration::from_millis(20)).await;
    }
    // Whoever has not caught up by now stops, and the verdict says what it is missing.
    phase_tx.send_replace(Phase::Stop);
    let mut reports = Vec::new();
    for visitor in visitors {
        reports.push(
            timeout(STEP_LIMIT * 2, visitor)
                .await
                .expect("a visitor stops when told")
                .expect("visitor task"),
        );
    }
    let agent = timeout(STEP_LIMIT * 2, agent)
        .await
        .expect("the agent stops when told")
        .expect("agent task");
    proxy.abort();
    server.kill().await;
    eprintln!(
        "chaos: {proxy_drops} drops and {kills} kills in {chaos_took:?}; server log: {}",
        server.log.display()
    );

    // Read again after a last SIGKILL: what is durable is what counts.
    let stored = read_database(&server.database).await;
    let counts = Counts {
        proxy_drops,
        kills,
        unacked_at_kills,
        client_closes: shared.client_closes.load(Ordering::SeqCst),
        ..Counts::default()
    };
    match verify(&stored, &reports, &agent, counts) {
        Ok(counts) => counts,
        Err(problems) => {
            // The temporary directory goes with the panic: show what the server said.
            let log = std::fs::read_to_string(&server.log).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            for line in &lines[lines.len().saturating_sub(30)..] {
                eprintln!("[server log] {line}");
            }
            panic!("{problems}");
        }
    }
}

async fn wait_for(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + STEP_LIMIT * 3;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(20)).await;
    }
}

/// Checks the invariants: the counts, or every violation found.
fn verify(
    stored: &Stored,
    visitors: &[ClientReport],
    agent: &ClientReport,
    mut counts: Counts,
) -> Result<Counts, String> {
    let mut problems: Vec<String> = Vec::new();
    counts.conversations = stored.conversations.len();
    counts.stored = stored.messages.len();

    // Each conversation's seqs are 1..=last_seq.
    let mut by_conversation: HashMap<&str, BTreeMap<i64, &Message>> = HashMap::new();
    for message in &stored.messages {
        by_conversation
            .entry(&message.conversation_id)
            .or_default()
            .insert(message.seq, message);
    }
    for (conversation_id, last_seq) in &stored.conversations {
        let seqs = by_conversation.get(conversation_id.as_str());
        let present = seqs.map_or(0, |seqs| seqs.len() as i64);
        let missing = (1..=*last_seq)
            .filter(|seq| !seqs.is_some_and(|seqs| seqs.contains_key(seq)))
            .count();
        counts.gaps += missing;
        if missing > 0 || present != *last_seq {
            problems.push(format!(
                "conversation {conversation_id}: last_seq {last_seq}, {present} messages, {missing} seqs missing"
            ));
        }
    }

    // Stored exactly once, as acknowledged.
    let mut stored_by_client_id: HashMap<&str, Vec<&Message>> = HashMap::new();
    for message in &stored.messages {
        match &message.client_msg_id {
            Some(client_msg_id) => stored_by_client_id
                .entry(client_msg_id)
                .or_default()
                .push(message),
            None => problems.push(format!("message {} has no client id", message.id)),
        }
    }
    for (client_msg_id, copies) in &stored_by_client_id {
        if copies.len() > 1 {
            counts.duplicates += copies.len() - 1;
            problems.push(format!("{client_msg_id} is stored {} times", copies.len()));
        }
    }
    let clients = visitors.iter().chain(std::iter::once(agent));
    let mut written: HashSet<&str> = HashSet::new();
    for client in clients.clone() {
        counts.written += client.written.len();
        counts.send_frames += client.send_frames;
        counts.acked += client.acks.len();
        counts.repeated_deliveries += client.repeated_deliveries;
        counts.duplicates += client.duplicates.len();
        problems.extend(client.duplicates.iter().cloned());
        problems.extend(client.errors.iter().cloned());
        written.extend(client.written.iter().map(String::as_str));
        for client_msg_id in &client.written {
            if !client.acks.contains_key(client_msg_id) {
                problems.push(format!(
                    "{}: {client_msg_id} was never acknowledged",
                    client.name
                ));
            }
        }
        for (client_msg_id, acked) in &client.acks {
            match stored_by_client_id
                .get(client_msg_id.as_str())
                .map(Vec::as_slice)
            {
                Some([stored]) if stored.id == acked.id && stored.seq == acked.seq => {}
                Some([stored]) => problems.push(format!(
                    "{}: {client_msg_id} acked as {} at seq {}, stored as {} at seq {}",
                    client.name, acked.id, acked.seq, stored.id, stored.seq
                )),
                Some(_) => {} // counted above
                None => problems.push(format!(
                    "{}: {client_msg_id} acked (seq {} of {}) but not stored",
                    client.name, acked.seq, acked.conversation_id
                )),
            }
        }
    }
    for client_msg_id in stored_by_client_id.keys() {
        if !written.contains(client_msg_id) {
            problems.push(format!("{client_msg_id} is stored but no client wrote it"));
        }
    }

    // Every client's view is the stored conversation, seq for seq: the agent's of every one
    // (so every visitor message reached it), each visitor's of its own.
    for client in clients {
        for (conversation_id, view) in &client.views {
            let Some(stored_view) = by_conversation.get(conversation_id.as_str()) else {
                problems.push(format!(
                    "{} saw conversation {conversation_id}, not stored",
                    client.name
                ));
                continue;
            };
            for (seq, message) in stored_view {
                match view.get(seq) {
                    Some(seen) if seen.id == message.id => {}
                    Some(seen) => problems.push(format!(
                        "{} saw {} at seq {seq} of {conversation_id}, stored is {}",
                        client.name, seen.id, message.id
                    )),
                    None => {
                        counts.missed += 1;
                        problems.push(format!(
                            "{} never saw seq {seq} of {conversation_id} ({:?})",
                            client.name, message.author.kind
                        ));
                    }
                }
            }
        }
    }
    for conversation_id in stored.conversations.keys() {
        if !agent.views.contains_key(conversation_id) {
            problems.push(format!(
                "the agent never saw conversation {conversation_id}"
            ));
        }
    }

    if counts.written <= VISITORS * MESSAGES_PER_VISITOR {
        problems.push(format!("only {} messages written", counts.written));
    }
    if problems.is_empty() {
        Ok(counts)
    } else {
        let shown: Vec<String> = problems.iter().take(40).cloned().collect();
        Err(format!(
            "{} problems ({counts}):\n{}",
            problems.len(),
            shown.join("\n")
        ))
    }
}

// ---------------------------------------------------------------------------------------------
// The server process.
// ---------------------------------------------------------------------------------------------

struct ServerProcess {
    child: Option<Child>,
    addr: SocketAddr,
    env: Vec<(&'static str, String)>,
    dir: PathBuf,
    /// A SQLite file in the run's folder, or a fresh database on the PostgreSQL server
    /// `TALK_TEST_DATABASE_URL` names (`scripts/postgres.sh`).
    database: String,
    log: PathBuf,
    capture_key: String,
    api_key: String,
    admin_email: String,
    admin_password: String,
}

impl ServerProcess {
    /// Creates the workspace with the binary's own command, then serves.
    async fn create(dir: &Path, public: SocketAddr) -> ServerProcess {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port");
        let database = sql::test_database_url(dir).await;
        eprintln!("chaos: database {database}");
        let env = vec![
            ("TALK_LISTEN", addr.to_string()),
            ("TALK_DATABASE_URL", database.clone()),
            // The clients know the server only through the proxy.
            ("TALK_PUBLIC_URL", format!("http://{public}")),
            // Every client is 127.0.0.1 and reconnects a lot: the per-IP limits would refuse
            // sessions, and the per-socket send budget would refuse resends.
            ("TALK_BROWSER_REQUESTS_PER_MINUTE", "0".into()),
            ("TALK_SOCKET_MESSAGES_PER_WINDOW", "0".into()),
            ("RUST_LOG", "warn".into()),
            ("NO_COLOR", "1".into()),
        ];
        let created = timeout(
            STEP_LIMIT,
            Command::new(env!("CARGO_BIN_EXE_talk-server"))
                .args(["workspace", "create", "--name", "Chaos", "--json"])
                .envs(env.clone())
                .current_dir(dir)
                .kill_on_drop(true)
                .output(),
        )
        .await
        .expect("workspace create in time")
        .expect("run talk-server");
        assert!(
            created.status.success(),
            "workspace create: {}",
            String::from_utf8_lossy(&created.stderr)
        );
        let workspace: serde_json::Value =
            serde_json::from_slice(&created.stdout).expect("workspace JSON");
        let text = |key: &str| workspace[key].as_str().expect(key).to_string();
        let mut server = ServerProcess {
            child: None,
            addr,
            env,
            dir: dir.to_path_buf(),
            database,
            log: dir.join("server.log"),
            capture_key: text("capture_key"),
            api_key: text("api_key"),
            admin_email: text("admin_email"),
            admin_password: text("admin_password"),
        };
        server.start().await;
        server
    }

    async fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("server log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_talk-server"))
            .arg("serve")
            .envs(self.env.clone())
            .current_dir(&self.dir)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            // A failed or timed-out test leaves no server behind.
            .kill_on_drop(true)
            .spawn()
            .expect("start talk-server");
        let deadline = Instant::now() + STEP_LIMIT * 2;
        while TcpStream::connect(self.addr).await.is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("talk-server exited ({status}); see {}", self.log.display());
            }
            assert!(
                Instant::now() < deadline,
                "talk-server not listening on {}; see {}",
                self.addr,
                self.log.display()
            );
            sleep(Duration::from_millis(20)).await;
        }
        self.child = Some(child);
    }

    /// SIGKILL: no shutdown, no close frames, whatever is not committed is gone.
    async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.start_kill().expect("SIGKILL");
            timeout(STEP_LIMIT, child.wait())
                .await
                .expect("the killed server exits")
                .expect("wait");
        }
    }

    async fn kill_and_restart(&mut self) {
        self.kill().await;
        self.start().await;
    }
}

/// What the database holds.
struct Stored {
    /// Conversation id → its `last_seq`.
    conversations: BTreeMap<String, i64>,
    messages: Vec<Message>,
}

async fn read_database(url: &str) -> Stored {
    // SQLite: this may run beside the server, which keeps the file in WAL mode.
    let sql = sql::Sql::connect(url).await;
    let conversations = sql
        .text_i64_pairs("SELECT id, last_seq FROM conversations", &[])
        .await
        .into_iter()
        .collect();
    type Row = (String, String, i64, String, String, Option<String>, i64);
    const MESSAGES: &str = "SELECT id, conversation_id, seq, author_kind, body, client_msg_id,
                                   created_at
                            FROM messages ORDER BY conversation_id, seq";
    let rows: Vec<Row> = match &sql {
        sql::Sql::Sqlite(pool) => sqlx::query_as(MESSAGES).fetch_all(pool).await,
        sql::Sql::Postgres(pool) => sqlx::query_as(MESSAGES).fetch_all(pool).await,
    }
    .expect("messages");
    let messages = rows
        .into_iter()
        .map(
            |(id, conversation_id, seq, author_kind, body, client_msg_id, created_at)| Message {
                id,
                conversation_id,
                seq,
                author: talk_protocol::Author {
                    kind: match author_kind.as_str() {
                        "visitor" => AuthorKind::Visitor,
                        "agent" => AuthorKind::Agent,
                        _ => AuthorKind::Bot,
                    },
                    name: None,
                },
                body,
                client_msg_id,
                created_at,
            },
        )
        .collect();
    match sql {
        sql::Sql::Sqlite(pool) => pool.close().await,
        sql::Sql::Postgres(pool) => pool.close().await,
    }
    Stored {
        conversations,
        messages,
    }
}

// ---------------------------------------------------------------------------------------------
// The proxy: forwards every connection to the server; WebSocket connections can be cut.
// ---------------------------------------------------------------------------------------------

/// The open WebSocket connections, each with the switch that cuts it.
#[derive(Default)]
struct SocketTable {
    next_id: u64,
    open: BTreeMap<u64, oneshot::Sender<()>>,
}

impl SocketTable {
    /// Cuts one open socket, chosen by `rng`; false when none is open.
    fn cut_one(&mut self, rng: &mut StdRng) -> bool {
        if self.open.is_empty() {
            return false;
        }
        let index = rng.gen_range(0..self.open.len());
        let id = *self.open.keys().nth(index).expect("in range");
        let cut = self.open.remove(&id).expect("present");
        // Its relay may have ended this instant; then it was not open: try another.
        cut.send(()).is_ok() || self.cut_one(rng)
    }
}

async fn run_proxy(listener: TcpListener, server: SocketAddr, sockets: Arc<Mutex<SocketTable>>) {
    while let Ok((client, _)) = listener.accept().await {
        tokio::spawn(relay(client, server, sockets.clone()));
    }
}

async fn relay(mut client: TcpStream, server: SocketAddr, sockets: Arc<Mutex<SocketTable>>) {
    // The request's head tells a WebSocket upgrade from a plain HTTP request: only sockets
    // are cut (HTTP requests still fail while the server is down).
    let mut head = vec![0u8; 16 * 1024];
    let read = match timeout(STEP_LIMIT, client.read(&mut head)).await {
        Ok(Ok(read)) if read > 0 => read,
        _ => return,
    };
    let is_socket = String::from_utf8_lossy(&head[..read])
        .to_ascii_lowercase()
        .contains("upgrade: websocket");
    // The server is down (killed, restarting): the client sees its connection close.
    let Ok(Ok(mut upstream)) = timeout(STEP_LIMIT, TcpStream::connect(server)).await else {
        return;
    };
    let _ = upstream.set_nodelay(true);
    let _ = client.set_nodelay(true);
    if upstream.write_all(&head[..read]).await.is_err() {
        return;
    }
    let (cut, cut_off) = oneshot::channel();
    let id = is_socket.then(|| {
        let mut table = sockets.lock().unwrap();
        table.next_id += 1;
        let id = table.next_id;
        table.open.insert(id, cut);
        id
    });
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
        Ok(()) = cut_off => {}
    }
    if let Some(id) = id {
        sockets.lock().unwrap().open.remove(&id);
    }
    // Dropping both streams closes both sides at once, mid-stream.
}

// ---------------------------------------------------------------------------------------------
// The clients.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Phase {
    /// Visitors write, the agent replies, the chaos runs.
    Load,
    /// No new messages: what is queued is resent until acknowledged.
    Drain,
    /// The stored conversations and their `last_seq`: catch up to them, then report.
    Converge(Arc<HashMap<String, i64>>),
    /// Report now, caught up or not.
    Stop,
}

#[derive(Default)]
struct Shared {
    done_writing: AtomicUsize,
    /// Written and not yet acknowledged, across all clients.
    pending: AtomicUsize,
    client_closes: AtomicUsize,
}

/// The server's address as the clients know it (the proxy), and what they sign in with.
#[derive(Clone)]
struct Api {
    base: String,
    capture_key: String,
    api_key: String,
    agent_cookie: String,
    http: reqwest::Client,
}

impl Api {
    async fn new(base: String, server: &ServerProcess) -> Api {
        let http = reqwest::Client::builder()
            .timeout(STEP_LIMIT)
            .build()
            .expect("HTTP client");
        let login = http
            .post(format!("{base}/v1/agent/login"))
            .header("content-type", "application/json")
            .body(
                json!({"email": server.admin_email, "password": server.admin_password}).to_string(),
            )
            .send()
            .await
            .expect("login");
        assert!(login.status().is_success(), "login: {}", login.status());
        let agent_cookie = login
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find(|value| value.starts_with("talk_agent="))
            .and_then(|value| value.split(';').next())
            .expect("session cookie")
            .to_string();
        // The bot would answer each new conversation; keep the stored messages the clients'.
        let settings_url = format!("{base}/v1/admin/widget-settings");
        let mut settings: serde_json::Value = serde_json::from_str(
            &http
                .get(&settings_url)
                .header("cookie", &agent_cookie)
                .send()
                .await
                .expect("settings")
                .text()
                .await
                .expect("settings body"),
        )
        .expect("settings JSON");
        settings["response_times"] = json!({"online": "", "away": ""});
        let saved = http
            .put(&settings_url)
            .header("cookie", &agent_cookie)
            .header("content-type", "application/json")
            .body(settings.to_string())
            .send()
            .await
            .expect("save settings");
        assert!(saved.status().is_success(), "settings: {}", saved.status());
        Api {
            base,
            capture_key: server.capture_key.clone(),
            api_key: server.api_key.clone(),
            agent_cookie,
            http,
        }
    }

    async fn post(
        &self,
        path: &str,
        bearer: Option<&str>,
        body: serde_json::Value,
    ) -> Option<serde_json::Value> {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        let response = request.send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        serde_json::from_str(&response.text().await.ok()?).ok()
    }

    async fn conversations(&self) -> Option<Vec<Conversation>> {
        let response = self
            .http
            .get(format!("{}/v1/conversations", self.base))
            .header("X-Api-Key", &self.api_key)
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        let list: talk_protocol::ConversationList =
            serde_json::from_str(&response.text().await.ok()?).ok()?;
        Some(list.conversations)
    }

    async fn websocket(&self, path: &str, headers: &[(&'static str, &str)]) -> Option<Ws> {
        let url = format!("{}{path}", self.base.replacen("http", "ws", 1));
        let mut request = url.into_client_request().ok()?;
        for (name, value) in headers {
            request
                .headers_mut()
                .insert(*name, value.parse().expect("header value"));
        }
        let addr = self.base.trim_start_matches("http://").to_string();
        let connect = async {
            let stream = TcpStream::connect(addr).await.ok()?;
            stream.set_nodelay(true).ok()?;
            let (ws, _) = tokio_tungstenite::client_async(request, stream)
                .await
                .ok()?;
            Some(ws)
        };
        timeout(STEP_LIMIT, connect).await.ok().flatten()
    }
}

fn random_uuid(rng: &mut StdRng) -> String {
    uuid::Builder::from_random_bytes(rng.gen())
        .into_uuid()
        .to_string()
}

/// What a client did and saw, for the verdict.
#[derive(Default)]
struct ClientReport {
    name: String,
    /// Client ids of the messages it wrote.
    written: Vec<String>,
    send_frames: usize,
    /// Client id → the message its ack named.
    acks: HashMap<String, Message>,
    /// Conversation → seq → the message shown there.
    views: HashMap<String, BTreeMap<i64, Message>>,
    /// Client id → (conversation, seq) it was shown at.
    shown_client_ids: HashMap<String, (String, i64)>,
    repeated_deliveries: usize,
    duplicates: Vec<String>,
    errors: Vec<String>,
}

impl ClientReport {
    /// Shows a message as the widget does (by seq); records anything that would be a
    /// duplicate on screen. Returns whether it was new.
    fn show(&mut self, message: Message) -> bool {
        if let Some(client_msg_id) = &message.client_msg_id {
            let at = (message.conversation_id.clone(), message.seq);
            match self.shown_client_ids.get(client_msg_id) {
                Some(shown) if *shown != at => self.duplicates.push(format!(
                    "{} saw {client_msg_id} at {shown:?} and at {at:?}",
                    self.name
                )),
                Some(_) => {}
                None => {
                    self.shown_client_ids.insert(client_msg_id.clone(), at);
                }
            }
        }
        let view = self
            .views
            .entry(message.conversation_id.clone())
            .or_default();
        match view.get(&message.seq) {
            Some(shown) if shown.id == message.id => {
                self.repeated_deliveries += 1;
                false
            }
            Some(shown) => {
                self.duplicates.push(format!(
                    "{} saw {} and {} at seq {} of {}",
                    self.name, shown.id, message.id, message.seq, message.conversation_id
                ));
                false
            }
            None => {
                view.insert(message.seq, message);
                true
            }
        }
    }

    /// The highest seq of `conversation_id` below which this client has every message.
    fn contiguous(&self, conversation_id: &str) -> i64 {
        let Some(view) = self.views.get(conversation_id) else {
            return 0;
        };
        let mut last = 0;
        for seq in view.keys() {
            if *seq != last + 1 {
                break;
            }
            last = *seq;
        }
        last
    }
}

/// The widget's outbox rules (`src/runtime/outbox.rs`): in order, resent under the same id
/// after a reconnect, a new conversation's first message alone until its ack names the
/// conversation.
#[derive(Default)]
struct Outbox {
    queue: Vec<Outgoing>,
}

struct Outgoing {
    client_msg_id: String,
    body: String,
    conversation_id: Option<String>,
    in_flight: bool,
    written: bool,
}

impl Outbox {
    fn push(&mut self, client_msg_id: String, body: String, conversation_id: Option<String>) {
        self.queue.push(Outgoing {
            client_msg_id,
            body,
            conversation_id,
            in_flight: false,
            written: false,
        });
    }

    fn flush(&mut self) -> Vec<ClientEvent> {
        let mut creating = self
            .queue
            .iter()
            .any(|outgoing| outgoing.in_flight && outgoing.conversation_id.is_none());
        let mut events = Vec::new();
        for outgoing in self.queue.iter_mut().filter(|outgoing| !outgoing.in_flight) {
            if outgoing.conversation_id.is_none() {
                if creating {
                    break;
                }
                creating = true;
            }
            outgoing.in_flight = true;
            outgoing.written = true;
            events.push(ClientEvent::Send {
                conversation_id: outgoing.conversation_id.clone(),
                client_msg_id: outgoing.client_msg_id.clone(),
                body: outgoing.body.clone(),
            });
        }
        events
    }

    /// Removes the message; true if it was queued.
    fn remove(&mut self, client_msg_id: &str) -> bool {
        let before = self.queue.len();
        self.queue
            .retain(|outgoing| outgoing.client_msg_id != client_msg_id);
        self.queue.len() < before
    }

    fn assign(&mut self, conversation_id: &str, only_unwritten: bool) {
        for outgoing in self
            .queue
            .iter_mut()
            .filter(|outgoing| !only_unwritten || !outgoing.written)
        {
            outgoing
                .conversation_id
                .get_or_insert_with(|| conversation_id.to_string());
        }
    }

    fn disconnected(&mut self) {
        for outgoing in &mut self.queue {
            outgoing.in_flight = false;
        }
    }
}

/// One connection's end: why the client stopped reading.
enum Ended {
    Dropped,
    Done,
}

async fn send_event(ws: &mut Ws, event: &ClientEvent) -> bool {
    let text = serde_json::to_string(event).expect("serializable");
    timeout(STEP_LIMIT, ws.send(Frame::text(text)))
        .await
        .is_ok_and(|sent| sent.is_ok())
}

/// The next server event, or `None` when the socket ended or stayed silent too long.
async fn next_event(ws: &mut Ws, within: Duration) -> Option<ServerEvent> {
    let deadline = Instant::now() + within;
    loop {
        match timeout_at(deadline, ws.next()).await? {
            Some(Ok(Frame::Text(text))) => {
                return Some(serde_json::from_str(text.as_str()).expect("a server event"))
            }
            Some(Ok(Frame::Close(_))) | Some(Err(_)) | None => return None,
            Some(Ok(_)) => continue,
        }
    }
}

async fn timeout_at<F: std::future::Future>(deadline: Instant, future: F) -> Option<F::Output> {
    tokio::time::timeout_at(deadline, future).await.ok()
}

/// Waits before reconnecting: doubling from 50 ms to 1 s, with half jitter (the widget's
/// shape, scaled down to keep the run short).
async fn back_off(attempt: &mut u32, rng: &mut StdRng) {
    let cap = (50u64 << (*attempt).min(5)).min(1000);
    *attempt += 1;
    sleep(Duration::from_millis(rng.gen_range(cap / 2..=cap))).await;
}

fn client_close_delay(rng: &mut StdRng) -> Duration {
    // Exponential: memoryless, like a visitor closing a laptop lid.
    let uniform: f64 = rng.gen_range(f64::EPSILON..1.0);
    MEAN_CLIENT_CLOSE_AFTER.mul_f64(-uniform.ln())
}

struct Visitor {
    index: usize,
    rng: StdRng,
    api: Api,
    shared: Arc<Shared>,
    phase: watch::Receiver<Phase>,
    visitor_id: String,
    token: Option<String>,
    identified: bool,
    conversation_id: Option<String>,
    outbox: Outbox,
    /// When each message is written, from the start.
    write_at: Vec<Duration>,
    report: ClientReport,
}

impl Visitor {
    fn new(
        index: usize,
        seed: u64,
        api: Api,
        shared: Arc<Shared>,
        phase: watch::Receiver<Phase>,
    ) -> Visitor {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut write_at: Vec<Duration> = (0..MESSAGES_PER_VISITOR)
            .map(|_| LOAD_WINDOW.mul_f64(rng.gen_range(0.0..0.9)))
            .collect();
        write_at.sort();
        let visitor_id = format!("{:032x}", rng.gen::<u128>());
        Visitor {
            index,
            rng,
            api,
            shared,
            phase,
            visitor_id,
            token: None,
            identified: false,
            conversation_id: None,
            outbox: Outbox::default(),
            write_at,
            report: ClientReport {
                name: format!("visitor {index}"),
                ..ClientReport::default()
            },
        }
    }

    async fn run(mut self) -> ClientReport {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            match self.connect_once(started, &mut attempt).await {
                Ended::Done => return self.report,
                Ended::Dropped if matches!(*self.phase.borrow(), Phase::Stop) => {
                    return self.report
                }
                Ended::Dropped => {
                    self.outbox.disconnected();
                    back_off(&mut attempt, &mut self.rng).await;
                }
            }
        }
    }

    /// The session (once; its token outlives the run) and the email (needed before sending).
    async fn sign_in(&mut self) -> Option<String> {
        if self.token.is_none() {
            let session = self
                .api
                .post(
                    "/v1/talk/widget/session",
                    None,
                    json!({"capture_key": self.api.capture_key, "visitor_id": self.visitor_id}),
                )
                .await?;
            self.token = Some(session["session_token"].as_str()?.to_string());
        }
        let token = self.token.clone()?;
        if !self.identified {
            let email = format!("chaos-{}@example.com", self.index);
            self.api
                .post("/v1/talk/identify", Some(&token), json!({"email": email}))
                .await?;
            self.identified = true;
        }
        Some(token)
    }

    /// Writes the messages whose time has come into the outbox.
    fn write_due(&mut self, started: Instant) {
        while self.report.written.len() < MESSAGES_PER_VISITOR
            && started + self.write_at[self.report.written.len()] <= Instant::now()
        {
            let client_msg_id = random_uuid(&mut self.rng);
            let body = format!(
                "visitor {} message {}",
                self.index,
                self.report.written.len()
            );
            self.outbox
                .push(client_msg_id.clone(), body, self.conversation_id.clone());
            self.report.written.push(client_msg_id);
            self.shared.pending.fetch_add(1, Ordering::SeqCst);
            if self.report.written.len() == MESSAGES_PER_VISITOR {
                self.shared.done_writing.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    fn next_write(&self, started: Instant) -> Option<Instant> {
        self.write_at
            .get(self.report.written.len())
            .map(|after| started + *after)
    }

    fn caught_up(&self) -> bool {
        let targets = match &*self.phase.borrow() {
            Phase::Converge(targets) => targets.clone(),
            Phase::Stop => return true,
            _ => return false,
        };
        let Some(conversation_id) = &self.conversation_id else {
            return false;
        };
        targets
            .get(conversation_id)
            .is_some_and(|target| self.report.contiguous(conversation_id) >= *target)
    }

    async fn flush(&mut self, ws: &mut Ws) -> bool {
        for event in self.outbox.flush() {
            self.report.send_frames += 1;
            if !send_event(ws, &event).await {
                return false;
            }
        }
        true
    }

    async fn connect_once(&mut self, started: Instant, attempt: &mut u32) -> Ended {
        self.write_due(started);
        let Some(token) = self.sign_in().await else {
            return Ended::Dropped;
        };
        let Some(mut ws) = self.api.websocket("/v1/talk/socket", &[]).await else {
            return Ended::Dropped;
        };
        if !send_event(&mut ws, &ClientEvent::Auth { token }).await {
            return Ended::Dropped;
        }
        let close_at = Instant::now() + client_close_delay(&mut self.rng);
        let mut ready = false;
        loop {
            if (ready && self.caught_up()) || matches!(*self.phase.borrow(), Phase::Stop) {
                return Ended::Done;
            }
            let chaos = matches!(*self.phase.borrow(), Phase::Load);
            let wake = self
                .next_write(started)
                .into_iter()
                .chain(chaos.then_some(close_at))
                .min()
                .unwrap_or(Instant::now() + SILENCE_LIMIT);
            tokio::select! {
                event = next_event(&mut ws, SILENCE_LIMIT) => {
                    let Some(event) = event else { return Ended::Dropped };
                    if matches!(event, ServerEvent::Ready { .. }) {
                        ready = true;
                        *attempt = 0;
                    }
                    if !self.apply(&mut ws, event).await {
                        return Ended::Dropped;
                    }
                }
                _ = tokio::time::sleep_until(wake) => {
                    if chaos && Instant::now() >= close_at {
                        // Abrupt: no close frame, the TCP connection just goes.
                        self.shared.client_closes.fetch_add(1, Ordering::SeqCst);
                        return Ended::Dropped;
                    }
                    self.write_due(started);
                    if ready && !self.flush(&mut ws).await {
                        return Ended::Dropped;
                    }
                }
                _ = self.phase.changed() => {}
            }
        }
    }

    /// The widget's reaction to an event; false when the socket failed.
    async fn apply(&mut self, ws: &mut Ws, event: ServerEvent) -> bool {
        match event {
            ServerEvent::Ready { conversations, .. } => {
                if self.conversation_id.is_none() {
                    // The first message's ack was lost, but it was committed: continue there.
                    if let Some(conversation) = conversations.first() {
                        self.conversation_id = Some(conversation.id.clone());
                        self.outbox.assign(&conversation.id, true);
                    }
                }
                if let Some(conversation_id) = self.conversation_id.clone() {
                    let after_seq = self.report.contiguous(&conversation_id);
                    let resume = ClientEvent::Resume {
                        conversation_id,
                        after_seq,
                    };
                    if !send_event(ws, &resume).await {
                        return false;
                    }
                }
            }
            ServerEvent::Ack {
                client_msg_id,
                message,
            } => {
                if self.outbox.remove(&client_msg_id) {
                    self.shared.pending.fetch_sub(1, Ordering::SeqCst);
                }
                self.outbox.assign(&message.conversation_id, false);
                self.conversation_id
                    .get_or_insert_with(|| message.conversation_id.clone());
                if let Some(earlier) = self
                    .report
                    .acks
                    .insert(client_msg_id.clone(), message.clone())
                {
                    if earlier.id != message.id {
                        self.report.duplicates.push(format!(
                            "{}: {client_msg_id} acked as {} and as {}",
                            self.report.name, earlier.id, message.id
                        ));
                    }
                }
                self.report.show(message);
            }
            ServerEvent::Message { message } => {
                self.report.show(message);
            }
            ServerEvent::History {
                conversation_id,
                messages,
                more,
            } => {
                let last = messages.last().map(|message| message.seq);
                for message in messages {
                    self.report.show(message);
                }
                if let (true, Some(after_seq)) = (more, last) {
                    let resume = ClientEvent::Resume {
                        conversation_id,
                        after_seq,
                    };
                    if !send_event(ws, &resume).await {
                        return false;
                    }
                }
            }
            ServerEvent::Error {
                code,
                message,
                client_msg_id,
            } => {
                self.report.errors.push(format!(
                    "{}: error {code}: {message} ({client_msg_id:?})",
                    self.report.name
                ));
                if let Some(client_msg_id) = client_msg_id {
                    if self.outbox.remove(&client_msg_id) {
                        self.shared.pending.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            }
            _ => {}
        }
        self.flush(ws).await
    }
}

struct Agent {
    rng: StdRng,
    api: Api,
    shared: Arc<Shared>,
    phase: watch::Receiver<Phase>,
    outbox: Outbox,
    report: ClientReport,
}

impl Agent {
    fn new(seed: u64, api: Api, shared: Arc<Shared>, phase: watch::Receiver<Phase>) -> Agent {
        Agent {
            rng: StdRng::seed_from_u64(seed),
            api,
            shared,
            phase,
            outbox: Outbox::default(),
            report: ClientReport {
                name: "the agent".into(),
                ..ClientReport::default()
            },
        }
    }

    async fn run(mut self) -> ClientReport {
        let mut attempt = 0;
        loop {
            match self.connect_once(&mut attempt).await {
                Ended::Done => return self.report,
                Ended::Dropped if matches!(*self.phase.borrow(), Phase::Stop) => {
                    return self.report
                }
                Ended::Dropped => {
                    self.outbox.disconnected();
                    back_off(&mut attempt, &mut self.rng).await;
                }
            }
        }
    }

    fn caught_up(&self) -> bool {
        let targets = match &*self.phase.borrow() {
            Phase::Converge(targets) => targets.clone(),
            Phase::Stop => return true,
            _ => return false,
        };
        targets
            .iter()
            .all(|(conversation_id, target)| self.report.contiguous(conversation_id) >= *target)
    }

    async fn connect_once(&mut self, attempt: &mut u32) -> Ended {
        let origin = self.api.base.clone();
        let cookie = self.api.agent_cookie.clone();
        let Some(mut ws) = self
            .api
            .websocket(
                "/v1/agent/socket",
                &[("cookie", &cookie), ("origin", &origin)],
            )
            .await
        else {
            return Ended::Dropped;
        };
        let close_at = Instant::now() + client_close_delay(&mut self.rng);
        loop {
            if self.caught_up() {
                return Ended::Done;
            }
            let chaos = matches!(*self.phase.borrow(), Phase::Load);
            let wake = if chaos {
                close_at
            } else {
                Instant::now() + SILENCE_LIMIT
            };
            tokio::select! {
                event = next_event(&mut ws, SILENCE_LIMIT) => {
                    let Some(event) = event else { return Ended::Dropped };
                    if matches!(event, ServerEvent::Ready { .. }) {
                        *attempt = 0;
                        // As the inbox does after `ready`: the list over HTTP, then every
                        // conversation from where this agent's view of it ends.
                        let Some(conversations) = self.api.conversations().await else {
                            return Ended::Dropped;
                        };
                        for conversation in conversations {
                            let after_seq = self.report.contiguous(&conversation.id);
                            self.report.views.entry(conversation.id.clone()).or_default();
                            let resume = ClientEvent::Resume { conversation_id: conversation.id, after_seq };
                            if !send_event(&mut ws, &resume).await {
                                return Ended::Dropped;
                            }
                        }
                    }
                    if !self.apply(&mut ws, event).await {
                        return Ended::Dropped;
                    }
                }
                _ = tokio::time::sleep_until(wake) => {
                    if chaos && Instant::now() >= close_at {
                        self.shared.client_closes.fetch_add(1, Ordering::SeqCst);
                        return Ended::Dropped;
                    }
                }
                _ = self.phase.changed() => {}
            }
        }
    }

    /// Shows what arrives; answers some visitor messages while the load runs.
    fn see(&mut self, message: Message) {
        let visitor_wrote = message.author.kind == AuthorKind::Visitor;
        let conversation_id = message.conversation_id.clone();
        let client_msg_id = message.client_msg_id.clone().unwrap_or_default();
        let new = self.report.show(message);
        let replying =
            matches!(*self.phase.borrow(), Phase::Load) && self.rng.gen_ratio(1, REPLY_ONE_IN);
        if new && visitor_wrote && replying {
            let reply_id = random_uuid(&mut self.rng);
            self.outbox.push(
                reply_id.clone(),
                format!("re: {client_msg_id}"),
                Some(conversation_id),
            );
            self.report.written.push(reply_id);
            self.shared.pending.fetch_add(1, Ordering::SeqCst);
        }
    }

    async fn apply(&mut self, ws: &mut Ws, event: ServerEvent) -> bool {
        match event {
            ServerEvent::Message { message } => self.see(message),
            ServerEvent::History {
                conversation_id,
                messages,
                more,
            } => {
                let last = messages.last().map(|message| message.seq);
                for message in messages {
                    self.see(message);
                }
                if let (true, Some(after_seq)) = (more, last) {
                    let resume = ClientEvent::Resume {
                        conversation_id,
                        after_seq,
                    };
                    if !send_event(ws, &resume).await {
                        return false;
                    }
                }
            }
            ServerEvent::Ack {
                client_msg_id,
                message,
            } => {
                if self.outbox.remove(&client_msg_id) {
                    self.shared.pending.fetch_sub(1, Ordering::SeqCst);
                }
                self.report.acks.insert(client_msg_id, message.clone());
                self.report.show(message);
            }
            // A conversation started while the list was read: hear it from its start.
            ServerEvent::ConversationUpdated { conversation }
                if !self.report.views.contains_key(&conversation.id) =>
            {
                self.report
                    .views
                    .entry(conversation.id.clone())
                    .or_default();
                let resume = ClientEvent::Resume {
                    conversation_id: conversation.id,
                    after_seq: 0,
                };
                if !send_event(ws, &resume).await {
                    return false;
                }
            }
            ServerEvent::Error {
                code,
                message,
                client_msg_id,
            } => {
                self.report.errors.push(format!(
                    "the agent: error {code}: {message} ({client_msg_id:?})"
                ));
                if let Some(client_msg_id) = client_msg_id {
                    if self.outbox.remove(&client_msg_id) {
                        self.shared.pending.fetch_sub(1, Ordering::SeqCst);
                    }
                }
            }
            _ => {}
        }
        for event in self.outbox.flush() {
            self.report.send_frames += 1;
            if !send_event(ws, &event).await {
                return false;
            }
        }
        true
    }
}
