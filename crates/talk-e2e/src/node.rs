//! A talk-server node as an operator runs it: the real `talk-server` binary in a process of
//! its own (so a test can SIGKILL it), on a free loopback port and a database it shares with
//! the other nodes. The in-process [`crate::TestServer`] cannot stand in here: a node that dies
//! must take its sockets, its pool and its LISTEN connection with it, as a crashed machine does.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// The debug `talk-server` beside this test binary (`target/debug/deps/<test>` →
/// `target/debug/talk-server`), or `TALK_SERVER_BIN`. Cargo builds a package's binaries only
/// for that package's own tests, so talk-e2e cannot ask for it; naming talk-server in the
/// same command does (`cargo test -p talk-server -p talk-e2e --test cluster`: talk-server has
/// a tests/cluster.rs too, which needs the binary), as `scripts/test.sh` runs it. By hand:
/// `cargo build -p talk-server` first.
pub fn server_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("TALK_SERVER_BIN") {
        return PathBuf::from(path);
    }
    let test = std::env::current_exe().expect("the test binary's path");
    let profile_dir = test
        .parent()
        .and_then(Path::parent)
        .expect("the test binary is in target/<profile>/deps");
    let binary = profile_dir.join("talk-server");
    assert!(
        binary.is_file(),
        "no talk-server binary at {}: run `cargo build -p talk-server` first, or `cargo test \
         -p talk-server -p talk-e2e --test cluster` (as scripts/test.sh does), or set \
         TALK_SERVER_BIN",
        binary.display()
    );
    binary
}

/// What `talk-server workspace create --json` prints once.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct Workspace {
    pub capture_key: String,
    pub api_key: String,
    pub admin_email: String,
    pub admin_password: String,
}

/// Creates a workspace (and the schema) on `database_url` with the binary's own command.
pub async fn create_workspace(database_url: &str) -> Workspace {
    let created = tokio::time::timeout(
        Duration::from_secs(30),
        Command::new(server_binary())
            .args(["workspace", "create", "--name", "E2E", "--json"])
            .env("TALK_DATABASE_URL", database_url)
            .env("RUST_LOG", "warn")
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("workspace create in time")
    .expect("run talk-server workspace create");
    assert!(
        created.status.success(),
        "workspace create: {}",
        String::from_utf8_lossy(&created.stderr)
    );
    serde_json::from_slice(&created.stdout).expect("the workspace's JSON")
}

/// A free loopback address (bound, then released for the process that will listen on it).
pub fn free_addr() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
}

/// One `talk-server serve` process. Killed (SIGKILL) when dropped, so a failing test leaves
/// no server behind; its log stays in the test's folder.
pub struct Node {
    pub name: String,
    pub addr: SocketAddr,
    /// Where this node itself answers (not the public URL browsers are given).
    pub url: String,
    pub log: PathBuf,
    child: Option<Child>,
}

impl Node {
    /// Starts a node named `name` on `database_url`, telling browsers `public_url` (the node's
    /// own address when `None`; the load balancer's when there is one), and waits until its
    /// `/healthz` answers. The database URL gets `application_name=talk-<name>`, so a test
    /// can tell this node's PostgreSQL connections from the others' in `pg_stat_activity`.
    pub async fn start(
        name: &str,
        database_url: &str,
        public_url: Option<&str>,
        dir: &Path,
        extra_env: &[(&str, &str)],
    ) -> Node {
        let addr = free_addr();
        let url = format!("http://{addr}");
        let mut database = url::Url::parse(database_url).expect("a database URL");
        database
            .query_pairs_mut()
            .append_pair("application_name", &format!("talk-{name}"));
        let log = dir.join(format!("node-{name}.log"));
        let log_file = std::fs::File::create(&log).expect("the node's log");
        let mut command = Command::new(server_binary());
        command
            .arg("serve")
            .env("TALK_LISTEN", addr.to_string())
            .env("TALK_DATABASE_URL", database.as_str())
            .env("TALK_PUBLIC_URL", public_url.unwrap_or(&url))
            .env("TALK_WIDGET_DIR", crate::server::widget_dir())
            .env("TALK_INBOX_DIR", crate::inbox_dir())
            .env("TALK_DEMO_PAGE", "true")
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .envs(extra_env.iter().copied())
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().expect("log"))
            .stderr(log_file)
            .kill_on_drop(true);
        let mut child = command.spawn().expect("start talk-server serve");
        let http = reqwest::Client::new();
        let health = format!("{url}/healthz");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("node {name} exited ({status}); see {}", log.display());
            }
            let answered = http.get(&health).send().await;
            if answered.is_ok_and(|response| response.status().is_success()) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "node {name} not healthy on {url}; see {}",
                log.display()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Node {
            name: name.into(),
            addr,
            url,
            log,
            child: Some(child),
        }
    }

    /// SIGKILL, as a crashed machine: no shutdown, no close frames, nothing flushed. Returns
    /// once the process is gone.
    pub async fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.start_kill().expect("SIGKILL");
            tokio::time::timeout(Duration::from_secs(10), child.wait())
                .await
                .expect("the killed node exits")
                .expect("wait for the node");
        }
    }
}
