//! The servers under load, each a child process on a free loopback port: a real
//! `talk-server` on a fresh SQLite file or a fresh PostgreSQL database (one node, or several
//! sharing that database), and the socket.io relay on Node.js.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use talk_protocol::{LoginRequest, ResponseTimes, WidgetSettings};
use tokio::process::{Child, Command};

const START_TIMEOUT: Duration = Duration::from_secs(30);
const LOG_TAIL_LINES: usize = 8;

/// Resident memory of a process, from /proc (Linux).
pub fn rss_bytes(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .context("no VmRSS in /proc/<pid>/status")?;
    Ok(kib * 1024)
}

fn free_loopback_addr() -> Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

async fn wait_until_listening(addr: SocketAddr, child: &mut Child, log: &Path) -> Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        if let Some(status) = child.try_wait()? {
            bail!("exited ({status}) before listening; see {}", log.display());
        }
        if Instant::now() > deadline {
            bail!(
                "not listening on {addr} after {START_TIMEOUT:?}; see {}",
                log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// A running target. Killed when dropped.
pub struct Target {
    child: Child,
    pub pid: u32,
    pub addr: SocketAddr,
    /// Holds the database and the log until the run is over.
    _dir: tempfile::TempDir,
}

impl Target {
    fn log_file(dir: &Path) -> Result<(PathBuf, std::fs::File)> {
        let path = dir.join("target.log");
        Ok((path.clone(), std::fs::File::create(&path)?))
    }

    /// Kills the target and shows the end of its log: warnings and errors explain failures.
    pub async fn stop(mut self, name: &str) {
        // Best effort: it may have died already, which the run would have shown.
        let _ = self.child.kill().await;
        let log = std::fs::read_to_string(self._dir.path().join("target.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        for line in &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..] {
            eprintln!("[{name} log] {line}");
        }
    }
}

#[derive(Deserialize)]
struct CreatedWorkspace {
    capture_key: String,
    admin_email: String,
    admin_password: String,
}

/// `--database`: which Talk targets the load phase runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Database {
    /// Talk on SQLite only.
    Sqlite,
    /// Talk on PostgreSQL, one node and two nodes.
    Postgres,
    /// SQLite, then PostgreSQL on one node and on two.
    All,
}

/// One Talk target of the load phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TalkTarget {
    Sqlite,
    Postgres { nodes: usize },
}

impl Database {
    /// The Talk targets to run, in the table's order (the relay follows them).
    pub fn talk_targets(self) -> Vec<TalkTarget> {
        let postgres = [
            TalkTarget::Postgres { nodes: 1 },
            TalkTarget::Postgres { nodes: 2 },
        ];
        match self {
            Database::Sqlite => vec![TalkTarget::Sqlite],
            Database::Postgres => postgres.to_vec(),
            Database::All => [TalkTarget::Sqlite].into_iter().chain(postgres).collect(),
        }
    }
}

impl TalkTarget {
    /// Its column's name in the table.
    pub fn name(self) -> &'static str {
        match self {
            TalkTarget::Sqlite => "Talk SQLite",
            TalkTarget::Postgres { nodes: 1 } => "Talk PostgreSQL",
            TalkTarget::Postgres { .. } => "Talk PostgreSQL ×2 nodes",
        }
    }

    pub fn nodes(self) -> usize {
        match self {
            TalkTarget::Sqlite => 1,
            TalkTarget::Postgres { nodes } => nodes,
        }
    }

    pub fn needs_postgres(self) -> bool {
        matches!(self, TalkTarget::Postgres { .. })
    }
}

/// Where a Talk target keeps its data.
pub enum Storage {
    /// A fresh SQLite file in the target's temporary folder.
    Sqlite,
    /// A fresh database on the PostgreSQL server at `admin_url` (`scripts/postgres.sh`).
    Postgres { admin_url: String },
}

/// A Talk target: one talk-server, or several nodes on one PostgreSQL database.
pub struct TalkServer {
    /// One process per node, each on its own loopback port.
    pub nodes: Vec<Target>,
    /// The nodes' http URLs, in the same order.
    pub bases: Vec<String>,
    pub capture_key: String,
    /// The bench workspace's admin, signed in: what agent sockets authenticate with.
    pub agent_cookie: String,
    database_url: String,
}

impl TalkServer {
    /// How the load generator speaks to this server.
    pub fn protocol(&self) -> crate::client::Protocol {
        crate::client::Protocol::Talk {
            bases: self.bases.clone(),
            capture_key: self.capture_key.clone(),
            agent_cookie: self.agent_cookie.clone(),
            http: reqwest::Client::new(),
        }
    }

    pub fn pids(&self) -> Vec<u32> {
        self.nodes.iter().map(|node| node.pid).collect()
    }

    /// Starts `nodes` × `bin serve` on a fresh database, with the bench workspace's
    /// auto-reply off, so every message is one visitor message and nothing else. Without
    /// `rate_limits`, the browser and socket message limits are off (the load phases); with
    /// them, the server's defaults apply (the flood phase). Several nodes need PostgreSQL:
    /// they share its database and hear each other over LISTEN/NOTIFY.
    pub async fn start(
        bin: &Path,
        rate_limits: bool,
        storage: &Storage,
        nodes: usize,
    ) -> Result<TalkServer> {
        let dir = tempfile::tempdir()?;
        let database_url = match storage {
            Storage::Sqlite if nodes > 1 => bail!("several nodes need PostgreSQL"),
            Storage::Sqlite => format!("sqlite://{}", dir.path().join("talk.db").display()),
            Storage::Postgres { admin_url } => crate::postgres::create_database(admin_url).await?,
        };
        let mut dirs = vec![dir];
        for _ in 1..nodes {
            dirs.push(tempfile::tempdir()?);
        }
        let mut started = Vec::with_capacity(nodes);
        let mut bases = Vec::with_capacity(nodes);
        let mut workspace = None;
        let mut agent_cookie = String::new();
        for dir in dirs {
            let addr = free_loopback_addr()?;
            let base = format!("http://{addr}");
            let mut env = vec![
                ("TALK_LISTEN", addr.to_string()),
                ("TALK_DATABASE_URL", database_url.clone()),
                ("TALK_PUBLIC_URL", base.clone()),
                ("RUST_LOG", "warn".into()),
                ("NO_COLOR", "1".into()),
                // As docs/deploy.md tells a host to run it: glibc's arenas per thread left
                // ~0.8 KB more RSS per idle socket (10.06 against 9.22 KB at 18,000 sockets).
                ("MALLOC_ARENA_MAX", "2".into()),
            ];
            if !rate_limits {
                env.push(("TALK_BROWSER_REQUESTS_PER_MINUTE", "0".into()));
                env.push(("TALK_SOCKET_MESSAGES_PER_WINDOW", "0".into()));
            }
            if workspace.is_none() {
                workspace = Some(create_workspace(bin, &env).await?);
            }
            let (log, file) = Target::log_file(dir.path())?;
            let mut child = Command::new(bin)
                .arg("serve")
                .envs(env)
                .stdout(file.try_clone()?)
                .stderr(file)
                .kill_on_drop(true)
                .spawn()?;
            wait_until_listening(addr, &mut child, &log)
                .await
                .context("talk-server")?;
            if started.is_empty() {
                // Before the other nodes start, so none of them can have read the settings
                // with the auto-reply still on.
                let workspace = workspace.as_ref().expect("created above");
                agent_cookie = turn_off_auto_reply(&base, workspace).await?;
            }
            started.push(Target {
                pid: child.id().context("talk-server pid")?,
                child,
                addr,
                _dir: dir,
            });
            bases.push(base);
        }
        Ok(TalkServer {
            nodes: started,
            bases,
            capture_key: workspace.context("no node started")?.capture_key,
            agent_cookie,
            database_url,
        })
    }

    /// Visitor messages in the database: read after the run, the durable count.
    pub async fn stored_messages(&self) -> Result<u64> {
        if self.database_url.starts_with("postgres") {
            return crate::postgres::stored_messages(&self.database_url).await;
        }
        let pool = sqlx::SqlitePool::connect(&format!("{}?mode=ro", self.database_url)).await?;
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM messages WHERE author_kind = 'visitor'")
                .fetch_one(&pool)
                .await?;
        pool.close().await;
        Ok(count as u64)
    }

    /// Stops every node, showing the end of each one's log.
    pub async fn stop(self, name: &str) {
        let several = self.nodes.len() > 1;
        for (index, node) in self.nodes.into_iter().enumerate() {
            if several {
                node.stop(&format!("{name} node {}", node_letter(index)))
                    .await;
            } else {
                node.stop(name).await;
            }
        }
    }
}

/// Node 0 is A, node 1 is B, …
pub fn node_letter(index: usize) -> char {
    char::from(b'A' + (index % 26) as u8)
}

/// `bin workspace create`: the bench workspace, on the database `env` names.
async fn create_workspace(bin: &Path, env: &[(&str, String)]) -> Result<CreatedWorkspace> {
    let created = Command::new(bin)
        .args(["workspace", "create", "--name", "bench", "--json"])
        .envs(env.iter().cloned())
        .output()
        .await
        .with_context(|| format!("running {}", bin.display()))?;
    if !created.status.success() {
        bail!(
            "workspace create: {}",
            String::from_utf8_lossy(&created.stderr)
        );
    }
    Ok(serde_json::from_slice(&created.stdout)?)
}

/// The bot answers a new conversation's first message unless the response times are empty.
/// Returns the admin's session cookie, which the agent sockets sign in with.
async fn turn_off_auto_reply(base: &str, workspace: &CreatedWorkspace) -> Result<String> {
    let http = reqwest::Client::new();
    let login = http
        .post(format!("{base}/v1/agent/login"))
        .json(&LoginRequest {
            email: workspace.admin_email.clone(),
            password: workspace.admin_password.clone(),
            workspace_id: None,
        })
        .send()
        .await?
        .error_for_status()
        .context("admin login")?;
    let cookie = login
        .headers()
        .get(reqwest::header::SET_COOKIE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .context("admin login set no cookie")?
        .to_string();
    let settings = WidgetSettings {
        response_times: ResponseTimes {
            online: String::new(),
            away: String::new(),
        },
        ..WidgetSettings::default()
    };
    http.put(format!("{base}/v1/admin/widget-settings"))
        .header(reqwest::header::COOKIE, &cookie)
        .json(&settings)
        .send()
        .await?
        .error_for_status()
        .context("turning the auto-reply off")?;
    Ok(cookie)
}

/// `node relay.js`: socket.io, websocket transport only. With `durable`, the durable peer
/// (bench/socketio-durable/relay.js): its SQLite file `relay.db` (DB) is in the target's
/// temp folder, on the same filesystem as Talk's SQLite file.
pub async fn start_relay(node: &Path, script: &Path, durable: bool) -> Result<Target> {
    let dir = tempfile::tempdir()?;
    let addr = free_loopback_addr()?;
    let (log, file) = Target::log_file(dir.path())?;
    let mut command = Command::new(node);
    if durable {
        command.env("DB", relay_db(dir.path()));
    }
    let mut child = command
        .arg(script)
        .env("HOST", addr.ip().to_string())
        .env("PORT", addr.port().to_string())
        .stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("running {} {}", node.display(), script.display()))?;
    wait_until_listening(addr, &mut child, &log)
        .await
        .context("socket.io relay")?;
    Ok(Target {
        pid: child.id().context("relay pid")?,
        child,
        addr,
        _dir: dir,
    })
}

fn relay_db(dir: &Path) -> PathBuf {
    dir.join("relay.db")
}

impl Target {
    /// The durable peer's stored messages (every acknowledged send, once): read after the
    /// run, while it still runs (WAL: a reader sees every committed transaction).
    pub async fn relay_stored_messages(&self) -> Result<u64> {
        let url = format!("sqlite://{}?mode=ro", relay_db(self._dir.path()).display());
        let pool = sqlx::SqlitePool::connect(&url)
            .await
            .context("opening the durable peer's database")?;
        let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM messages")
            .fetch_one(&pool)
            .await?;
        pool.close().await;
        Ok(count as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_choice_picks_the_talk_targets_in_table_order() {
        use TalkTarget::*;
        assert_eq!(Database::Sqlite.talk_targets(), [Sqlite]);
        assert_eq!(
            Database::Postgres.talk_targets(),
            [Postgres { nodes: 1 }, Postgres { nodes: 2 }]
        );
        assert_eq!(
            Database::All.talk_targets(),
            [Sqlite, Postgres { nodes: 1 }, Postgres { nodes: 2 }]
        );
        let names: Vec<_> = Database::All
            .talk_targets()
            .into_iter()
            .map(TalkTarget::name)
            .collect();
        assert_eq!(
            names,
            ["Talk SQLite", "Talk PostgreSQL", "Talk PostgreSQL ×2 nodes"]
        );
        assert!(!Sqlite.needs_postgres() && Postgres { nodes: 2 }.needs_postgres());
    }

    #[test]
    fn database_option_parses_and_defaults_to_all() {
        use clap::Parser;
        let parse = |extra: &[&str]| {
            let args = ["talk-bench", "--server-bin", "x"].iter().chain(extra);
            crate::Options::try_parse_from(args).map(|options| options.database)
        };
        assert_eq!(parse(&[]).unwrap(), Database::All);
        assert_eq!(
            parse(&["--database", "postgres"]).unwrap(),
            Database::Postgres
        );
        assert_eq!(parse(&["--database=sqlite"]).unwrap(), Database::Sqlite);
        assert!(parse(&["--database", "mysql"]).is_err());
    }

    #[test]
    fn nodes_are_lettered() {
        assert_eq!(node_letter(0), 'A');
        assert_eq!(node_letter(1), 'B');
    }

    #[test]
    fn reads_own_rss() {
        let rss = rss_bytes(std::process::id()).expect("own /proc status");
        assert!(rss > 100 * 1024, "implausibly small RSS: {rss}");
    }
}
