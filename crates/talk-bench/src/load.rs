//! The load, the same for every target: hold idle visitor sockets, then run message phases
//! over visitor→agent pairs while the idle ones stay connected. Every phase is bounded in
//! time and count.

use crate::client::{AgentKind, Connector, Inbox, Incoming, Pair, Protocol, Ws};
use crate::cpu::{micros_per_message, Meter};
use crate::memory::IdleStep;
use crate::Options;
use anyhow::{Context, Result};
use futures_util::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::time::{interval_at, sleep_until, MissedTickBehavior};
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_util::sync::CancellationToken;

/// Stop opening idle sockets after this many failures: the target (or a limit) is saturated.
const MAX_IDLE_FAILURES: usize = 100;

/// Microseconds since the bench started: the send time every message body carries, so the
/// receiving socket computes the latency without a shared table.
fn now_us() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

fn us_at(instant: tokio::time::Instant) -> u64 {
    let now = tokio::time::Instant::now();
    now_us().saturating_sub(now.saturating_duration_since(instant).as_micros() as u64)
}

/// `"<phase> <send time µs> <padding>"`, padded to `bytes`.
pub fn message_body(phase: usize, sent_us: u64, bytes: usize) -> String {
    let mut body = format!("{phase} {sent_us} ");
    while body.len() < bytes {
        body.push('x');
    }
    body
}

/// The phase and send time a body carries.
pub fn parse_body(body: &str) -> Option<(usize, u64)> {
    let mut parts = body.split(' ');
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

fn histogram() -> Histogram<u64> {
    // 1 µs .. 5 min, 3 significant digits.
    Histogram::new_with_bounds(1, 300_000_000, 3).expect("valid bounds")
}

#[derive(Clone, Copy)]
pub enum Mode {
    /// Keep `window` messages unacknowledged per pair: the most the target sustains.
    Closed { window: usize },
    /// `rate` messages per second over all pairs, on a fixed schedule whatever the answers.
    Open { rate: u32 },
}

pub struct PhaseResult {
    pub label: String,
    pub sent: u64,
    /// Acknowledged within the phase's sending window: the sustained rate's numerator.
    pub acked_in_time: u64,
    /// Acknowledged in all, the drain included: what the CPU time is divided by.
    pub acked: u64,
    pub shed: u64,
    pub errors: u64,
    pub seconds: f64,
    pub ack: Histogram<u64>,
    pub delivery: Histogram<u64>,
    /// CPU per acknowledged message, µs: the target's processes, and the generator's.
    pub cpu_target_us: Option<f64>,
    pub cpu_generator_us: Option<f64>,
}

impl PhaseResult {
    pub fn msgs_per_sec(&self) -> f64 {
        self.acked_in_time as f64 / self.seconds
    }
}

#[derive(Default, Clone, Copy)]
pub struct Totals {
    pub sent: u64,
    pub acked: u64,
    pub delivered: u64,
    pub errors: u64,
}

pub struct RunResult {
    pub target: &'static str,
    pub idle_wanted: usize,
    pub idle_held: usize,
    pub idle_alive_at_end: usize,
    pub idle_failure: Option<String>,
    pub connect_secs: f64,
    pub rss_before: u64,
    pub rss_after: u64,
    /// RSS at each `--idle-steps` count reached, the last at `idle_held`.
    pub idle_steps: Vec<IdleStep>,
    pub pairs: usize,
    /// Each run (`--runs`) of the message phases, in order, on the same idle sockets.
    pub runs: Vec<Vec<PhaseResult>>,
    pub totals: Totals,
    /// Messages the target stored (Talk's or the durable peer's database), counted after
    /// the run.
    pub stored: Option<u64>,
    /// A socket.io peer (durable or volatile), not a Talk target.
    pub peer: Option<Peer>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// The relay storing each message in SQLite before acknowledging it.
    Durable,
    /// The relay storing nothing: the ceiling.
    Volatile,
}

impl RunResult {
    pub fn rss_per_idle(&self) -> Option<f64> {
        (self.idle_held > 0)
            .then(|| self.rss_after.saturating_sub(self.rss_before) as f64 / self.idle_held as f64)
    }
}

/// One pair's socket state across phases, with its lifetime counts.
pub(crate) struct PairState {
    pub(crate) pair: Pair,
    pub(crate) totals: Totals,
}

/// The load against one target, `name` in the table; `pids` are its server processes (a
/// multi-node target's nodes), whose RSS is added up; `cpu` charges each phase's CPU.
/// The message phases run `--runs` times over the same idle sockets and pairs, so each
/// figure has a median and a spread.
pub async fn run(
    name: &'static str,
    protocol: &Protocol,
    connector: Arc<Connector>,
    pids: &[u32],
    cpu: &Meter,
    options: &Options,
) -> Result<RunResult> {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_before = rss_sum(pids)?;

    // Idle visitors, step by step (`--idle-steps`), the target's RSS after each.
    eprintln!("[{name}] opening {} idle visitor sockets", options.idle);
    let stop_idle = CancellationToken::new();
    let alive = Arc::new(AtomicUsize::new(0));
    let mut opening = IdleOpening::new(options);
    let mut idle_steps = Vec::new();
    for wanted in step_targets(&options.idle_steps, options.idle) {
        let started = Instant::now();
        opening
            .open_until(wanted, protocol, &connector, &alive, &stop_idle)
            .await;
        opening.secs += started.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_secs(2)).await; // let allocations settle
        let rss_bytes = rss_sum(pids)?;
        eprintln!(
            "[{name}] {} idle sockets, RSS {:.1} MB",
            opening.held,
            rss_bytes as f64 / 1e6
        );
        idle_steps.push(IdleStep {
            sockets: opening.held,
            rss_bytes,
        });
        if opening.stopped.is_some() {
            break;
        }
    }
    let (idle_held, connect_secs) = (opening.held, opening.secs);
    let idle_failure = opening.failure();
    let rss_after = idle_steps.last().map_or(rss_before, |step| step.rss_bytes);
    eprintln!(
        "[{name}] {idle_held} idle sockets in {connect_secs:.1} s, RSS {} → {} MB",
        rss_before / 1_000_000,
        rss_after / 1_000_000
    );

    // Agents, pairs, then the phases.
    let inbox = match options.agent {
        AgentKind::Inbox => Some(
            protocol
                .open_inbox(&connector, options.agents, options.pairs)
                .await
                .context("opening the agent sockets")?,
        ),
        AgentKind::VisitorTab => None,
    };
    let mut pairs = open_pairs(protocol, &connector, options.pairs, inbox.as_ref()).await?;
    let mut plans: Vec<(String, Mode)> = vec![(
        crate::report::CLOSED_LOOP.to_string(),
        Mode::Closed {
            window: options.window,
        },
    )];
    for &rate in &options.rates {
        plans.push((crate::report::open_loop_label(rate), Mode::Open { rate }));
    }
    let mut runs = Vec::new();
    for run in 0..options.runs {
        let mut phases = Vec::new();
        for (index, (label, mode)) in plans.iter().enumerate() {
            eprintln!(
                "[{name}] run {}/{}: {label}, {} s",
                run + 1,
                options.runs,
                options.phase_secs
            );
            let (target_before, generator_before) = (cpu.target_ticks(), Meter::generator_ticks());
            let (back, mut result) = run_phase(
                protocol,
                pairs,
                // Phase numbers are unique over the runs: a late message is never counted in
                // a later phase.
                run * plans.len() + index + 1,
                label,
                *mode,
                options.phase_secs,
                options,
            )
            .await;
            result.cpu_target_us = micros_per_message(
                cpu.target_ticks().saturating_sub(target_before),
                result.acked,
            );
            result.cpu_generator_us = micros_per_message(
                Meter::generator_ticks().saturating_sub(generator_before),
                result.acked,
            );
            pairs = back;
            phases.push(result);
        }
        runs.push(phases);
    }

    let totals = sum_totals(&pairs);
    let idle_alive_at_end = alive.load(Ordering::Relaxed);
    stop_idle.cancel();
    drop(inbox);
    Ok(RunResult {
        target: name,
        idle_wanted: options.idle,
        idle_held,
        idle_alive_at_end,
        idle_failure,
        connect_secs,
        rss_before,
        rss_after,
        idle_steps,
        pairs: options.pairs,
        runs,
        totals,
        stored: None,
        peer: None,
    })
}

fn rss_sum(pids: &[u32]) -> Result<u64> {
    pids.iter().map(|&pid| crate::targets::rss_bytes(pid)).sum()
}

/// The socket counts to pause at: the steps below `idle`, then `idle` itself.
fn step_targets(steps: &[usize], idle: usize) -> Vec<usize> {
    let mut targets: Vec<usize> = steps
        .iter()
        .copied()
        .filter(|&step| step > 0 && step < idle)
        .collect();
    targets.sort_unstable();
    targets.dedup();
    targets.push(idle);
    targets
}

/// Opening idle sockets, `connect_concurrency` at a time, in steps, within one
/// `connect_timeout_secs` and one budget of `MAX_IDLE_FAILURES` over all steps; each socket
/// is held by a task that answers pings until `stop`.
struct IdleOpening {
    concurrency: usize,
    timeout_secs: u64,
    deadline: Instant,
    /// Attempts made (each one's index spreads source addresses and nodes).
    attempted: usize,
    held: usize,
    /// Time spent opening, the pauses at the steps left out.
    secs: f64,
    failures: usize,
    first_failure: Option<String>,
    /// Why opening stopped before its count: the failure budget or the time cap.
    stopped: Option<String>,
}

impl IdleOpening {
    fn new(options: &Options) -> Self {
        IdleOpening {
            concurrency: options.connect_concurrency.max(1),
            timeout_secs: options.connect_timeout_secs,
            deadline: Instant::now() + Duration::from_secs(options.connect_timeout_secs),
            attempted: 0,
            held: 0,
            secs: 0.0,
            failures: 0,
            first_failure: None,
            stopped: None,
        }
    }

    /// Opens sockets until `wanted` attempts were made, or the budget or time ran out.
    async fn open_until(
        &mut self,
        wanted: usize,
        protocol: &Protocol,
        connector: &Arc<Connector>,
        alive: &Arc<AtomicUsize>,
        stop: &CancellationToken,
    ) {
        let mut attempts = futures_util::stream::iter(self.attempted..wanted)
            .map(|index| protocol.open_idle(connector, index))
            .buffer_unordered(self.concurrency);
        self.attempted = wanted.max(self.attempted);
        while let Some(attempt) = attempts.next().await {
            match attempt {
                Ok(ws) => {
                    self.held += 1;
                    alive.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(hold(ws, alive.clone(), stop.clone()));
                }
                Err(error) => {
                    self.failures += 1;
                    self.first_failure
                        .get_or_insert_with(|| format!("{error:#}"));
                }
            }
            if self.failures >= MAX_IDLE_FAILURES {
                self.stopped = Some(format!("stopped after {} failures", self.failures));
            } else if Instant::now() > self.deadline {
                self.stopped = Some(format!("stopped at the {} s cap", self.timeout_secs));
            }
            if self.stopped.is_some() {
                return;
            }
        }
    }

    fn failure(&self) -> Option<String> {
        let first = self.first_failure.as_deref().unwrap_or("none");
        match &self.stopped {
            Some(why) => Some(format!("{why}; first failure: {first}")),
            None => self
                .first_failure
                .as_ref()
                .map(|first| format!("{} failures; first: {first}", self.failures)),
        }
    }
}

/// Keeps an idle socket open: reads (which answers WebSocket pings) and answers socket.io's
/// application-level pings.
async fn hold(mut ws: Ws, alive: Arc<AtomicUsize>, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            frame = ws.next() => match frame {
                Some(Ok(Frame::Text(text))) if text.as_str() == "2" => {
                    if ws.send(Frame::text("3")).await.is_err() {
                        break;
                    }
                }
                Some(Ok(Frame::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => {}
            }
        }
    }
    alive.fetch_sub(1, Ordering::Relaxed);
}

/// `count` visitors, each with its own session, identified and with a first message that
/// starts its conversation (counted as sent, acked and delivered).
pub(crate) async fn open_pairs(
    protocol: &Protocol,
    connector: &Connector,
    count: usize,
    inbox: Option<&Inbox>,
) -> Result<Vec<PairState>> {
    let mut pairs = Vec::with_capacity(count);
    for index in 0..count {
        let pair = protocol
            .open_pair(connector, index, inbox)
            .await
            .with_context(|| format!("opening pair {index}"))?;
        pairs.push(PairState {
            pair,
            totals: Totals {
                sent: 1,
                acked: 1,
                delivered: 1,
                errors: 0,
            },
        });
    }
    Ok(pairs)
}

/// Every pair's counts added up.
pub(crate) fn sum_totals(pairs: &[PairState]) -> Totals {
    let mut totals = Totals::default();
    for state in pairs {
        totals.sent += state.totals.sent;
        totals.acked += state.totals.acked;
        totals.delivered += state.totals.delivered;
        totals.errors += state.totals.errors;
    }
    totals
}

pub(crate) async fn run_phase(
    protocol: &Protocol,
    pairs: Vec<PairState>,
    phase: usize,
    label: &str,
    mode: Mode,
    secs: u64,
    options: &Options,
) -> (Vec<PairState>, PhaseResult) {
    let count = pairs.len().max(1);
    let start = tokio::time::Instant::now() + Duration::from_millis(100);
    let end = start + Duration::from_secs(secs);
    let tasks: Vec<_> = pairs
        .into_iter()
        .enumerate()
        .map(|(index, state)| {
            let protocol = protocol.clone();
            let schedule = match mode {
                Mode::Closed { window } => Schedule::Closed { window },
                Mode::Open { rate } => {
                    // Each pair sends every `count / rate` s, pairs staggered evenly.
                    let interval = Duration::from_secs_f64(count as f64 / f64::from(rate.max(1)));
                    Schedule::Open {
                        interval,
                        first: start + interval.mul_f64(index as f64 / count as f64),
                    }
                }
            };
            let limits = PhaseLimits {
                phase,
                start,
                end,
                drain_until: end + Duration::from_secs(options.drain_secs),
                max_in_flight: options.max_in_flight,
                body_bytes: options.body_bytes,
            };
            tokio::spawn(drive_pair(protocol, state, schedule, limits))
        })
        .collect();
    let mut result = PhaseResult {
        label: label.to_string(),
        sent: 0,
        acked_in_time: 0,
        acked: 0,
        shed: 0,
        errors: 0,
        seconds: secs as f64,
        ack: histogram(),
        delivery: histogram(),
        cpu_target_us: None,
        cpu_generator_us: None,
    };
    let mut back = Vec::with_capacity(count);
    for task in tasks {
        let (state, stats) = task.await.expect("pair task");
        result.sent += stats.sent;
        result.acked_in_time += stats.acked_in_time;
        result.acked += stats.acked;
        result.shed += stats.shed;
        result.errors += stats.errors;
        result.ack.add(&stats.ack).expect("same bounds");
        result.delivery.add(&stats.delivery).expect("same bounds");
        back.push(state);
    }
    (back, result)
}

enum Schedule {
    Closed {
        window: usize,
    },
    Open {
        interval: Duration,
        first: tokio::time::Instant,
    },
}

struct PhaseLimits {
    phase: usize,
    start: tokio::time::Instant,
    end: tokio::time::Instant,
    drain_until: tokio::time::Instant,
    max_in_flight: usize,
    body_bytes: usize,
}

struct PairStats {
    sent: u64,
    acked_in_time: u64,
    acked: u64,
    shed: u64,
    errors: u64,
    ack: Histogram<u64>,
    delivery: Histogram<u64>,
}

/// Sends on the schedule until `end`, then waits (until `drain_until`) for every ack and
/// delivery. Latency counts from the scheduled send time, so a stalled target can't hide
/// its backlog (no coordinated omission).
async fn drive_pair(
    protocol: Protocol,
    mut state: PairState,
    schedule: Schedule,
    limits: PhaseLimits,
) -> (PairState, PairStats) {
    let mut stats = PairStats {
        sent: 0,
        acked_in_time: 0,
        acked: 0,
        shed: 0,
        errors: 0,
        ack: histogram(),
        delivery: histogram(),
    };
    let (mut acked, mut delivered) = (0u64, 0u64);
    // Scheduled send times (µs) of the sends shed: each counts as latency until the phase
    // ends, so an overloaded target cannot look fast by having its slow sends left out.
    let mut shed_at = Vec::new();
    let mut ticker = match schedule {
        Schedule::Open { interval, first } => {
            let mut ticker = interval_at(first, interval);
            ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
            Some(ticker)
        }
        Schedule::Closed { .. } => None,
    };
    let window = match schedule {
        Schedule::Closed { window } => window.min(limits.max_in_flight),
        Schedule::Open { .. } => 0,
    };
    sleep_until(limits.start).await;
    let mut broken = false;
    loop {
        let now = tokio::time::Instant::now();
        let sending = now < limits.end && !broken;
        let in_flight = (stats.sent - acked) as usize;
        if !sending && acked + stats.errors >= stats.sent && delivered >= acked {
            break;
        }
        if sending && in_flight < window {
            let body = message_body(limits.phase, now_us(), limits.body_bytes);
            let frame = protocol.send_frame(&mut state.pair.route, &body);
            if state.pair.visitor.send(frame).await.is_err() {
                broken = true;
            }
            stats.sent += 1;
            continue;
        }
        tokio::select! {
            _ = sleep_until(limits.end), if sending => {}
            _ = sleep_until(limits.drain_until) => break,
            tick = async { ticker.as_mut().expect("open schedule").tick().await }, if sending && ticker.is_some() => {
                if in_flight >= limits.max_in_flight {
                    stats.shed += 1;
                    shed_at.push(us_at(tick));
                } else {
                    let body = message_body(limits.phase, us_at(tick), limits.body_bytes);
                    let frame = protocol.send_frame(&mut state.pair.route, &body);
                    if state.pair.visitor.send(frame).await.is_err() {
                        broken = true;
                    }
                    stats.sent += 1;
                }
            }
            frame = state.pair.visitor.next() => match frame {
                Some(Ok(Frame::Text(text))) => match protocol.decode(text.as_str()) {
                    Incoming::Ack(body) => {
                        acked += 1;
                        if tokio::time::Instant::now() <= limits.end {
                            stats.acked_in_time += 1;
                        }
                        record(&mut stats.ack, &body, limits.phase);
                    }
                    Incoming::Error(error) => {
                        stats.errors += 1;
                        if stats.errors == 1 {
                            eprintln!("talk-bench: the target refused a message: {error}");
                        }
                    }
                    Incoming::Reply(reply) => broken |= state.pair.visitor.send(Frame::text(reply)).await.is_err(),
                    Incoming::Delivered(_) | Incoming::Other => {}
                },
                Some(Ok(_)) => {}
                Some(Err(_)) | None => { broken = true; if !sending { break; } }
            },
            frame = state.pair.agent.next() => match frame {
                Some(Ok(Frame::Text(text))) => match protocol.decode(text.as_str()) {
                    Incoming::Delivered(body) => {
                        delivered += 1;
                        record(&mut stats.delivery, &body, limits.phase);
                    }
                    Incoming::Reply(reply) => broken |= state.pair.agent.send(Frame::text(reply)).await.is_err(),
                    _ => {}
                },
                Some(Ok(_)) => {}
                Some(Err(_)) | None => { broken = true; if !sending { break; } }
            },
        }
    }
    let ended = now_us();
    for scheduled in shed_at {
        let waited = ended.saturating_sub(scheduled).max(1);
        stats.ack.saturating_record(waited);
        stats.delivery.saturating_record(waited);
    }
    stats.acked = acked;
    state.totals.sent += stats.sent;
    state.totals.acked += acked;
    state.totals.delivered += delivered;
    state.totals.errors += stats.errors;
    (state, stats)
}

fn record(histogram: &mut Histogram<u64>, body: &str, phase: usize) {
    if let Some((body_phase, sent_us)) = parse_body(body) {
        if body_phase == phase {
            histogram.saturating_record(now_us().saturating_sub(sent_us).max(1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_steps_below_the_count_come_first_in_order_once() {
        assert_eq!(step_targets(&[], 18_000), [18_000]);
        assert_eq!(
            step_targets(&[10_000, 5_000, 10_000, 18_000, 20_000, 0], 18_000),
            [5_000, 10_000, 18_000]
        );
    }

    #[test]
    fn bodies_carry_phase_and_send_time_at_the_requested_size() {
        let body = message_body(3, 123_456, 64);
        assert_eq!(body.len(), 64);
        assert_eq!(parse_body(&body), Some((3, 123_456)));
        assert_eq!(parse_body("hello"), None);
    }
}
