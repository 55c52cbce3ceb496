//! `talk-bench`: the server load benchmark. Starts a real `talk-server` (and a socket.io relay
//! as the peer) on loopback, holds idle visitor WebSockets, measures server RSS per idle
//! connection, then drives visitor→agent messages (durable: acknowledged after commit) and
//! prints one table. Then (`--phase flood`, also in the default `all`) flood isolation: Talk
//! visitors' delivery latency alone and while one visitor floods sends and one client floods
//! sockets (`flood.rs`). Loopback only; every phase is bounded in count and time.
//! `scripts/bench-server.sh` builds and runs it with the defaults.

mod client;
mod flood;
mod load;
mod report;
mod targets;

use anyhow::{bail, Result};
use clap::Parser;
use client::{AgentKind, Connector, Protocol};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser, Debug)]
#[command(about = "Load benchmark: talk-server against a socket.io relay, on loopback")]
pub struct Options {
    /// The talk-server binary (`cargo build --profile server -p talk-server`).
    #[arg(long)]
    server_bin: PathBuf,
    /// The socket.io relay script (bench/socketio-relay/relay.js); without it, no peer runs.
    #[arg(long)]
    relay_script: Option<PathBuf>,
    #[arg(long, default_value = "node")]
    node: PathBuf,
    /// Idle visitor sockets to hold, lowered to what RLIMIT_NOFILE allows.
    #[arg(long, default_value_t = 18_000)]
    idle: usize,
    /// Client sockets come from 127.0.0.2, 127.0.0.3, …: each has ~28k ports to one server.
    #[arg(long, default_value_t = 4)]
    source_addrs: u8,
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
    /// Agent sockets with `--agent inbox`; each hears every message.
    #[arg(long, default_value_t = 1)]
    agents: usize,
    /// Unacknowledged messages per pair in the closed-loop (maximum throughput) phase.
    #[arg(long, default_value_t = 4)]
    window: usize,
    /// Offered rates (msg/s over all pairs) of the open-loop latency phases.
    #[arg(long, value_delimiter = ',', default_value = "1000,5000")]
    rates: Vec<u32>,
    /// Length of each message phase.
    #[arg(long, default_value_t = 10)]
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
        + options.agents as u64
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
    let talk = targets::TalkServer::start(&options.server_bin, true).await?;
    if !options.flood_no_pin {
        match targets::pin_apart(talk.target.pid).await {
            Ok(Some(cpus)) => eprintln!("[talk-server] pinned: {cpus}"),
            Ok(None) => eprintln!("[talk-server] one CPU: not pinned"),
            Err(error) => eprintln!("[talk-server] not pinned: {error:#}"),
        }
    }
    let protocol = talk.protocol();
    let connector = Arc::new(Connector::new(talk.target.addr, options.source_addrs));
    let result = flood::run(&protocol, connector, talk.target.addr, options).await?;
    talk.target.stop("talk-server").await;
    println!();
    report::print_flood(&result);
    Ok(result.none_lost())
}

async fn run_load(options: &Options) -> Result<bool> {
    let mut runs = Vec::new();

    let talk = targets::TalkServer::start(&options.server_bin, false).await?;
    let protocol = talk.protocol();
    let connector = Arc::new(Connector::new(talk.target.addr, options.source_addrs));
    let mut result = load::run(&protocol, connector, talk.target.pid, options).await?;
    result.stored = Some(talk.stored_messages().await?);
    runs.push(result);
    talk.target.stop("talk-server").await;

    if let Some(script) = &options.relay_script {
        let relay = targets::start_relay(&options.node, script).await?;
        let protocol = Protocol::SocketIo {
            url: format!("ws://{}/socket.io/?EIO=4&transport=websocket", relay.addr),
        };
        let connector = Arc::new(Connector::new(relay.addr, options.source_addrs));
        runs.push(load::run(&protocol, connector, relay.pid, options).await?);
        relay.stop("socket.io relay").await;
    }

    println!();
    report::print(&runs);
    Ok(runs.iter().all(report::none_lost))
}
