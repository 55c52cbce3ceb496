//! `talk-bench`: the server load benchmark. Starts a real `talk-server` (then the two socket.io
//! peers: the durable one storing in SQLite, and the volatile relay) on loopback, each pinned
//! apart from the generator (`pinning.rs`), after probing the disk's fsync (`disk.rs`);
//! holds idle visitor WebSockets, measures server RSS per idle connection, then drives visitor→agent messages (durable: acknowledged after commit) and
//! prints one table. The Talk targets (`--database`): SQLite, PostgreSQL on one node, and
//! PostgreSQL on two nodes with every measured delivery crossing from one node to the other
//! (`nodes.rs`); PostgreSQL is the server `scripts/postgres.sh --durable` runs
//! (`postgres.rs`). Then (`--phase flood`, also in the default `all`) flood isolation: Talk
//! visitors' delivery latency alone and while one visitor floods sends and one client floods
//! sockets (`flood.rs`). Loopback only; every phase is bounded in count and time.
//! `scripts/bench-server.sh` builds and runs it with the defaults.

mod client;
mod cpu;
mod disk;
mod flood;
mod load;
mod memory;
mod nodes;
mod pinning;
mod postgres;
mod report;
mod targets;

use anyhow::{bail, Context, Result};
use clap::Parser;
use client::{AgentKind, Connector, Protocol};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(
    about = "Load benchmark: talk-server against a durable socket.io peer and the volatile relay, on loopback"
)]
pub struct Options {
    /// The talk-server binary (`cargo build --profile server -p talk-server`).
    #[arg(long)]
    server_bin: PathBuf,
    /// The socket.io relay script (bench/socketio-relay/relay.js): the volatile peer, the
    /// ceiling; without it, that column is left out.
    #[arg(long)]
    relay_script: Option<PathBuf>,
    /// The durable peer (bench/socketio-durable/relay.js): the relay storing each message in
    /// SQLite before acknowledging it; without it, that column is left out.
    #[arg(long)]
    durable_script: Option<PathBuf>,
    /// Runs of the load phase's message phases per target (on the same idle sockets); the
    /// table gives the median and the spread (min–max) of each figure.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Load phase: leave the targets and the generator unpinned (by default, with two or more
    /// CPUs, the target runs on CPU 0 and the generator on the others).
    #[arg(long)]
    no_pin: bool,
    #[arg(long, default_value = "node")]
    node: PathBuf,
    /// Idle visitor sockets to hold, lowered to what RLIMIT_NOFILE allows.
    #[arg(long, default_value_t = 18_000)]
    idle: usize,
    /// Idle socket counts below `--idle` at which the target's RSS is recorded too (after a
    /// 2 s pause, as at the end), e.g. `5000,10000`: the report fits a line (fixed + per
    /// socket) through them and projects it to 100,000 sockets.
    #[arg(long, value_delimiter = ',')]
    idle_steps: Vec<usize>,
    /// Client sockets come from 127.0.0.2, 127.0.0.3, …: each has ~28k ports to one server.
    #[arg(long, default_value_t = 4)]
    source_addrs: u8,
    /// The load phase's Talk targets: SQLite, PostgreSQL (one node and two nodes sharing one
    /// database), or all three. PostgreSQL is the server `TALK_TEST_DATABASE_URL` names
    /// (`scripts/postgres.sh --durable`); without it those targets are skipped, saying why.
    #[arg(long, value_enum, default_value_t = targets::Database::All)]
    database: targets::Database,
    /// Idle sockets being opened at once.
    #[arg(long, default_value_t = 128)]
    connect_concurrency: usize,
    /// Cap on the time spent opening idle sockets.
    #[arg(long, default_value_t = 180)]
    connect_timeout_secs: u64,
    /// Visitor→agent pairs that carry the messages.
    #[arg(long, default_value_t = 100)]
    pairs: usize,
    /// Who receives the messages: agents' inbox sockets, or a second tab of each visitor.
    #[arg(long, value_enum, default_value_t = AgentKind::Inbox)]
    agent: AgentKind,
    /// Agent sockets with `--agent inbox`; each hears every message. A two-node target
    /// opens at least one per node (the same number on each).
    #[arg(long, default_value_t = 1)]
    agents: usize,
    /// Unacknowledged messages per pair in the closed-loop (maximum throughput) phase.
    #[arg(long, default_value_t = 4)]
    window: usize,
    /// Offered rates (msg/s over all pairs) of the open-loop latency phases.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000")]
    rates: Vec<u32>,
    /// Length of each message phase (6 s: three runs of three phases per target keep the
    /// default run of five targets near ten minutes).
    #[arg(long, default_value_t = 6)]
    phase_secs: u64,
    /// After a phase, how long to wait for outstanding acks and deliveries.
    #[arg(long, default_value_t = 30)]
    drain_secs: u64,
    /// Per pair: an open-loop send beyond this many unacknowledged is shed (counted, not
    /// sent), so an overloaded target can't build an unbounded backlog.
    #[arg(long, default_value_t = 64)]
    max_in_flight: usize,
    #[arg(long, default_value_t = 64)]
    body_bytes: usize,
    /// Which phases run: the load (idle sockets, throughput, latency; both targets), the
    /// flood isolation (talk-server only, default rate limits), or both.
    #[arg(long, value_enum, default_value_t = Phase::All)]
    phase: Phase,
    /// Flood phase: ordinary visitors (each its own socket and conversation) measured.
    #[arg(long, default_value_t = 100)]
    flood_pairs: usize,
    /// Flood phase: their offered rate, msg/s over all of them (under each socket's limit).
    #[arg(long, default_value_t = 100)]
    flood_rate: u32,
    /// Flood phase: length of the baseline and of each flooded measurement.
    #[arg(long, default_value_t = 10)]
    flood_secs: u64,
    /// Flood phase: rounds of baseline + three floods; the verdict compares medians.
    #[arg(long, default_value_t = 3)]
    flood_rounds: usize,
    /// Flood phase: leave the server and the generator unpinned (by default, with two or
    /// more CPUs, talk-server runs on CPU 0 and the generator, attackers included, on the
    /// others, so the attackers' own CPU is not taken from the server: a real attacker's
    /// machine is not the server's).
    #[arg(long)]
    flood_no_pin: bool,
    /// Flood phase: what the flooding visitor tries to send, msg/s (its limit is 2/s).
    #[arg(long, default_value_t = 500)]
    flood_send_rate: u32,
    /// Flood phase: sockets the socket flooder holds open at most (the oldest closed first).
    #[arg(long, default_value_t = 1000)]
    flood_socket_cap: usize,
    /// Flood phase: socket attempts in all (bounds the ephemeral ports used).
    #[arg(long, default_value_t = 20_000)]
    flood_socket_attempts: u64,
    /// Flood phase: socket attempts in flight at once.
    #[arg(long, default_value_t = 32)]
    flood_socket_concurrency: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Phase {
    All,
    Load,
    Flood,
}

/// File descriptors besides the sockets counted: HTTP pool, database, stdio.
const SPARE_FDS: u64 = 300;

fn main() -> ExitCode {
    let mut options = Options::parse();
    match prepare(&mut options)
        .and_then(|()| tokio::runtime::Runtime::new()?.block_on(run(&options)))
    {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("talk-bench: messages were lost (see the table)");
            ExitCode::FAILURE
        }
        Err(error) => {
            eprintln!("talk-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Raises the open-files limit to its hard limit (children inherit it) and lowers `idle`
/// to what fits: each socket is one descriptor here and one in the target.
fn prepare(options: &mut Options) -> Result<()> {
    let limit = rlimit::increase_nofile_limit(u64::MAX)?;
    let others = 2 * options.pairs as u64
        + nodes::agent_count(options.agents, 2) as u64
        + options.connect_concurrency as u64
        + SPARE_FDS;
    let fits = limit.saturating_sub(others) as usize;
    if fits < options.idle {
        eprintln!(
            "talk-bench: RLIMIT_NOFILE is {limit} (hard limit): holding {fits} idle sockets, not {}",
            options.idle
        );
        options.idle = fits;
    }
    if options.rates.contains(&0) || options.flood_rate == 0 {
        bail!("--rates and --flood-rate must be positive");
    }
    if !(1..=100).contains(&options.runs) {
        bail!("--runs must be 1 to 100");
    }
    if !(1..=flood::MAX_ROUNDS).contains(&options.flood_rounds) {
        bail!("--flood-rounds must be 1 to {}", flood::MAX_ROUNDS);
    }
    Ok(())
}

async fn run(options: &Options) -> Result<bool> {
    let mut ok = true;
    if options.phase != Phase::Flood {
        ok &= run_load(options).await?;
    }
    if options.phase != Phase::Load {
        ok &= run_flood(options).await?;
    }
    Ok(ok)
}

/// Flood isolation against a talk-server with its default rate limits.
async fn run_flood(options: &Options) -> Result<bool> {
    let talk =
        targets::TalkServer::start(&options.server_bin, true, &targets::Storage::Sqlite, 1).await?;
    if !options.flood_no_pin {
        match pinning::machine_plan() {
            Some(plan) => match pin_apart(&plan, &talk.pids()).await {
                Ok(()) => eprintln!("[talk-server] pinned: {}", plan.describe()),
                Err(error) => eprintln!("[talk-server] not pinned: {error:#}"),
            },
            None => eprintln!("[talk-server] one CPU: not pinned"),
        }
    }
    let protocol = talk.protocol();
    let connector = Arc::new(Connector::new(options.source_addrs));
    let result = flood::run(&protocol, connector, options).await?;
    talk.stop("talk-server").await;
    println!();
    report::print_flood(&result);
    Ok(result.none_lost())
}

async fn pin_apart(plan: &pinning::Plan, pids: &[u32]) -> Result<()> {
    pinning::pin_generator(plan).await?;
    pinning::pin_target(plan, pids).await
}

async fn run_load(options: &Options) -> Result<bool> {
    let talk_targets = options.database.talk_targets();
    let mut notes = Vec::new();
    let machine = machine_description();
    eprintln!("talk-bench: {machine}");
    notes.push(machine);
    // Every database of the run (Talk's SQLite files, PostgreSQL's data, the durable peer's
    // file) is made under the temp dir: its fsync is what durability costs.
    let tmp = std::env::temp_dir();
    let probe = match disk::probe(&tmp) {
        Ok(probe) => {
            let summary = probe.summary(&tmp);
            eprintln!("talk-bench: {summary}");
            notes.push(summary);
            Some(probe)
        }
        Err(error) => {
            notes.push(format!(
                "disk: no fsync probe of {}: {error:#}",
                tmp.display()
            ));
            None
        }
    };
    if talk_targets.contains(&targets::TalkTarget::Sqlite) || options.durable_script.is_some() {
        notes.push(format!(
            "SQLite (Talk, durable peer): WAL, synchronous = FULL, files in {} on {}",
            tmp.display(),
            describe_filesystem(&tmp)
        ));
    }
    let mut postmaster = None;
    let postgres = if talk_targets.iter().any(|target| target.needs_postgres()) {
        match postgres::admin_url() {
            Ok(url) => {
                let facts = postgres::server_facts(&url).await?;
                eprintln!("talk-bench: {}", facts.summary());
                notes.push(facts.summary());
                let data = PathBuf::from(&facts.data_directory);
                notes.push(format!(
                    "PostgreSQL: data in {} on {}, over a Unix socket",
                    data.display(),
                    describe_filesystem(&data)
                ));
                match cpu::postmaster_pid(&data) {
                    Ok(pid) => postmaster = Some(pid),
                    Err(error) => notes.push(format!(
                        "PostgreSQL's CPU not counted (postmaster not found: {error:#})"
                    )),
                }
                Some(url)
            }
            Err(why) => {
                eprintln!("talk-bench: skipping the PostgreSQL targets: {why}");
                notes.push(format!("PostgreSQL targets skipped: {why}"));
                None
            }
        }
    } else {
        None
    };
    let plan = (!options.no_pin).then(pinning::machine_plan).flatten();
    match &plan {
        Some(plan) => {
            pinning::pin_generator(plan).await?;
            notes.push(format!(
                "pinned (taskset): {}; both nodes of a two-node target on the target's CPU; \
                 PostgreSQL's processes unpinned (they serve the target from any CPU; their \
                 CPU time is counted in the target's)",
                plan.describe()
            ));
        }
        None => notes.push("load phase: nothing pinned (--no-pin, or one CPU)".into()),
    }
    notes.push(format!(
        "{} runs of the message phases per target, {} s each, on the same idle sockets: \
         each cell is the median (min–max over the runs); sent / shed / refused and the totals \
         add the runs up; a shed send counts as latency until its phase ended",
        options.runs, options.phase_secs
    ));

    let mut runs = Vec::new();
    for target in talk_targets {
        let storage = match (target, &postgres) {
            (targets::TalkTarget::Sqlite, _) => targets::Storage::Sqlite,
            (_, Some(admin_url)) => targets::Storage::Postgres {
                admin_url: admin_url.clone(),
            },
            (_, None) => continue,
        };
        let name = target.name();
        let talk = targets::TalkServer::start(&options.server_bin, false, &storage, target.nodes())
            .await
            .with_context(|| format!("starting {name}"))?;
        if talk.nodes.len() > 1 {
            eprintln!("[{name}] nodes: {}", talk.bases.join(", "));
            notes.push(split_note(name, talk.nodes.len(), options));
        }
        if let Some(plan) = &plan {
            pinning::pin_target(plan, &talk.pids()).await?;
        }
        let meter = cpu::Meter {
            pids: talk.pids(),
            postmaster: postmaster.filter(|_| target.needs_postgres()),
        };
        let protocol = talk.protocol();
        let connector = Arc::new(Connector::new(options.source_addrs));
        let mut result =
            load::run(name, &protocol, connector, &talk.pids(), &meter, options).await?;
        result.stored = Some(talk.stored_messages().await?);
        runs.push(result);
        talk.stop(name).await;
    }

    let peers = [
        (load::Peer::Durable, "durable peer", &options.durable_script),
        (
            load::Peer::Volatile,
            "volatile relay",
            &options.relay_script,
        ),
    ];
    for (peer, name, script) in peers {
        let Some(script) = script else { continue };
        let durable = peer == load::Peer::Durable;
        let relay = targets::start_relay(&options.node, script, durable)
            .await
            .with_context(|| format!("starting the {name}"))?;
        if let Some(plan) = &plan {
            pinning::pin_target(plan, &[relay.pid]).await?;
        }
        let protocol = Protocol::SocketIo {
            url: format!("ws://{}/socket.io/?EIO=4&transport=websocket", relay.addr),
        };
        let connector = Arc::new(Connector::new(options.source_addrs));
        let meter = cpu::Meter {
            pids: vec![relay.pid],
            postmaster: None,
        };
        let mut result =
            load::run(name, &protocol, connector, &[relay.pid], &meter, options).await?;
        result.peer = Some(peer);
        if durable {
            result.stored = Some(relay.relay_stored_messages().await?);
        }
        runs.push(result);
        relay.stop(name).await;
    }

    if plan.is_some() {
        // Unpinned again, so a flood phase after this one starts from the whole machine.
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        pinning::pin(std::process::id(), &format!("0-{}", cpus - 1)).await?;
    }
    println!();
    report::print(&runs, &notes);
    for run in runs.iter().filter(|run| run.idle_steps.len() > 1) {
        for line in memory::describe(run.target, &run.idle_steps) {
            println!("{line}");
        }
    }
    report::print_verdicts(&runs, probe.as_ref().map(|probe| probe.p99_ms));
    Ok(runs.iter().all(report::none_lost))
}

/// The machine, for the report: CPUs, CPU model, kernel.
fn machine_description() -> String {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".into(), |text| text.trim().to_string());
    // Memory figures hold on a busy machine, timings don't: the load says which this was.
    let load = std::fs::read_to_string("/proc/loadavg").map_or_else(
        |_| "unknown".into(),
        |text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        },
    );
    format!("machine: nproc {cpus}, {model}, Linux {kernel}, load average {load} at the start")
}

/// `df`'s answer for `path`, or why there is none.
fn describe_filesystem(path: &std::path::Path) -> String {
    postgres::filesystem(path).unwrap_or_else(|error| format!("(unknown: {error:#})"))
}

/// How a multi-node target's clients are spread, for the report.
fn split_note(name: &str, nodes: usize, options: &Options) -> String {
    let receiver = match options.agent {
        AgentKind::Inbox => format!(
            "the agent socket that measures it on the next node ({} agent sockets, {} per node; \
             each hears every message, so each message is also delivered on its own node, \
             unmeasured)",
            nodes::agent_count(options.agents, nodes),
            nodes::agent_count(options.agents, nodes) / nodes
        ),
        AgentKind::VisitorTab => "its second tab on the next node".into(),
    };
    format!(
        "{name}: idle sockets and pairs alternate over {nodes} nodes; each pair's visitor on \
         one node, {receiver}: every measured delivery crosses LISTEN/NOTIFY"
    )
}
