//! Flood isolation (issue 13): delivery latency of ordinary visitors, first alone, then while
//! one visitor sends beyond its rate limit and one client opens sockets as fast as it can.
//! Talk only, against a server with its default rate limits. Reported, not enforced: the
//! target is p99 ≤ 2× the baseline's. Bounded in time and count; loopback only.

use crate::client::{Connector, Incoming, Protocol, Ws};
use crate::load::{
    message_body, open_pairs, run_phase, sum_totals, Mode, PairState, PhaseResult, Totals,
};
use crate::Options;
use anyhow::{Context, Result};
use futures_util::stream::FuturesUnordered;
use futures_util::{SinkExt, StreamExt};
use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::time::MissedTickBehavior;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_util::sync::CancellationToken;

/// The attackers' first source address (127.0.0.200): apart from the visitors' 127.0.0.2,
/// 127.0.0.3, …, so per-IP limits see one client, as they would a real one.
const FLOOD_SOURCE_FIRST: u8 = 200;
/// One socket attempt (connect, upgrade, auth) may take this long.
const FLOOD_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Let the floods get going before the measured phase starts.
const FLOOD_WARM_UP: Duration = Duration::from_secs(1);
/// Seconds of unmeasured load before the baseline.
const FLOOD_WARM_UP_SECS: u64 = 5;
/// The phase number the flooding visitor's bodies carry (never measured): above any
/// measured phase's.
const FLOOD_PHASE: usize = 1_000_000;

/// The visitor that sends beyond its rate limit.
#[derive(Default, Debug)]
pub struct SenderFlood {
    pub sent: u64,
    pub acked: u64,
    pub rate_limited: u64,
    pub other_errors: u64,
    /// The server closed its socket (after this many seconds), ending its flood.
    pub closed_after_secs: Option<f64>,
}

/// The client that opens sockets as fast as it can.
#[derive(Default, Debug)]
pub struct SocketFlood {
    pub attempts: u64,
    pub opened: u64,
    /// Upgrades answered 429 (the per-IP browser limit).
    pub refused: u64,
    pub failed: u64,
    pub first_failure: Option<String>,
    pub held_max: usize,
    pub seconds: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sender,
    Sockets,
    Both,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Sender, Kind::Sockets, Kind::Both];

    pub fn label(self) -> &'static str {
        match self {
            Kind::Sender => "visitor over its rate limit",
            Kind::Sockets => "socket flood",
            Kind::Both => "both at once",
        }
    }
}

/// One flooded measurement: the ordinary visitors' phase and what the attackers got.
pub struct Flooded {
    pub kind: &'static str,
    pub phase: PhaseResult,
    pub sender: Option<SenderFlood>,
    pub sockets: Option<SocketFlood>,
}

/// A baseline and the three flooded measurements, in this round's order.
pub struct Round {
    pub baseline: PhaseResult,
    pub flooded: Vec<Flooded>,
}

pub struct FloodResult {
    pub pairs: usize,
    pub rate: u32,
    pub secs: u64,
    /// A p99 from one short measurement swings with a single stall (a checkpoint, the other
    /// core busy), so the verdict compares medians over rounds, each with its own baseline.
    pub rounds: Vec<Round>,
    pub socket_cap: usize,
    pub totals: Totals,
}

impl FloodResult {
    /// Every ordinary visitor's message was acknowledged and delivered, none refused.
    pub fn none_lost(&self) -> bool {
        let totals = &self.totals;
        totals.errors == 0 && totals.acked == totals.sent && totals.delivered == totals.sent
    }
}

/// The flood kinds in round `round`'s order: rotated, so that no kind always follows the
/// socket flood (whose closing sockets the server is still tidying up) or always runs first.
fn kinds_in_round(round: usize) -> [Kind; 3] {
    let mut kinds = [Kind::Sender, Kind::Sockets, Kind::Both];
    kinds.rotate_left(round % 3);
    kinds
}

/// Each measurement's attackers come from their own address (127.0.0.200 onwards), so one's
/// spent per-IP budget doesn't shield the next.
fn attacker_address(round: usize, kind: Kind) -> Ipv4Addr {
    let slot = round * 3 + kind as usize;
    Ipv4Addr::new(127, 0, 0, FLOOD_SOURCE_FIRST + slot as u8)
}

/// Most rounds the attackers' addresses allow (127.0.0.200 … 127.0.0.254).
pub const MAX_ROUNDS: usize = (255 - FLOOD_SOURCE_FIRST as usize) / 3;

pub async fn run(
    protocol: &Protocol,
    connector: Arc<Connector>,
    options: &Options,
) -> Result<FloodResult> {
    let name = protocol.name();
    let inbox = protocol
        .open_inbox(&connector, 1, options.flood_pairs)
        .await
        .context("opening the agent socket")?;
    let mut pairs = open_pairs(protocol, &connector, options.flood_pairs, Some(&inbox)).await?;
    let secs = options.flood_secs;
    let rate = options.flood_rate;

    eprintln!(
        "[{name}] flood: {} visitors, {rate} msg/s, {secs} s per measurement, {} rounds",
        options.flood_pairs, options.flood_rounds
    );
    // Unmeasured warm-up: the first seconds after the pairs open are slower (fresh
    // conversations, the database's first pages).
    let (back, _) = run_phase(
        protocol,
        pairs,
        1,
        "warm-up",
        Mode::Open { rate },
        FLOOD_WARM_UP_SECS,
        options,
    )
    .await;
    pairs = back;

    // Phase numbers tag the bodies, so a late delivery never counts in the next phase.
    let mut phase_number = 2;
    let mut rounds = Vec::with_capacity(options.flood_rounds);
    for round in 0..options.flood_rounds {
        eprintln!("[{name}] round {}: baseline", round + 1);
        let (back, baseline) = run_phase(
            protocol,
            pairs,
            phase_number,
            "baseline",
            Mode::Open { rate },
            secs,
            options,
        )
        .await;
        pairs = back;
        phase_number += 1;
        let mut flooded = Vec::new();
        for kind in kinds_in_round(round) {
            eprintln!("[{name}] round {}: flooded ({})", round + 1, kind.label());
            let attacker = Arc::new(Connector::single_source(attacker_address(round, kind)));
            let (back, measurement) = measure_flooded(
                protocol,
                &inbox,
                &attacker,
                pairs,
                kind,
                phase_number,
                options,
            )
            .await?;
            pairs = back;
            phase_number += 1;
            flooded.push(measurement);
        }
        rounds.push(Round { baseline, flooded });
    }

    let totals = sum_totals(&pairs);
    drop(inbox);
    Ok(FloodResult {
        pairs: options.flood_pairs,
        rate,
        secs,
        rounds,
        socket_cap: options.flood_socket_cap,
        totals,
    })
}

/// The ordinary visitors' measurement while `kind`'s attackers run from `attacker`.
async fn measure_flooded(
    protocol: &Protocol,
    inbox: &crate::client::Inbox,
    attacker: &Arc<Connector>,
    pairs: Vec<PairState>,
    kind: Kind,
    phase_number: usize,
    options: &Options,
) -> Result<(Vec<PairState>, Flooded)> {
    let stop = CancellationToken::new();
    let sender = if kind != Kind::Sockets {
        let mut flooder = protocol
            .open_pair(attacker, options.flood_pairs + phase_number, Some(inbox))
            .await
            .context("opening the flooding visitor")?;
        let (protocol, stop, send_rate) = (protocol.clone(), stop.clone(), options.flood_send_rate);
        Some(tokio::spawn(async move {
            flood_sends(
                &protocol,
                &mut flooder.visitor,
                &mut flooder.route,
                send_rate,
                stop,
            )
            .await
        }))
    } else {
        None
    };
    let sockets = if kind != Kind::Sender {
        let session = protocol
            .widget_session(&crate::client::random_visitor_id())
            .await
            .context("the socket flooder's widget session")?;
        let (protocol, stop, attacker) = (protocol.clone(), stop.clone(), attacker.clone());
        let (cap, attempts, concurrency) = (
            options.flood_socket_cap,
            options.flood_socket_attempts,
            options.flood_socket_concurrency,
        );
        Some(tokio::spawn(async move {
            flood_sockets(
                &protocol,
                &attacker,
                &session,
                cap,
                attempts,
                concurrency,
                stop,
            )
            .await
        }))
    } else {
        None
    };
    tokio::time::sleep(FLOOD_WARM_UP).await;
    let (pairs, phase) = run_phase(
        protocol,
        pairs,
        phase_number,
        kind.label(),
        Mode::Open {
            rate: options.flood_rate,
        },
        options.flood_secs,
        options,
    )
    .await;
    stop.cancel();
    let sender = match sender {
        Some(task) => Some(task.await.context("sender flood task")?),
        None => None,
    };
    let sockets = match sockets {
        Some(task) => Some(task.await.context("socket flood task")?),
        None => None,
    };
    Ok((
        pairs,
        Flooded {
            kind: kind.label(),
            phase,
            sender,
            sockets,
        },
    ))
}

/// Sends `rate` messages a second (far beyond the limit) until `stop`, reading what comes
/// back: acks for what the budget allowed, `rate_limited` errors for the rest.
async fn flood_sends(
    protocol: &Protocol,
    ws: &mut Ws,
    route: &mut crate::client::Route,
    rate: u32,
    stop: CancellationToken,
) -> SenderFlood {
    let mut result = SenderFlood::default();
    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = ticker.tick() => {
                let body = message_body(FLOOD_PHASE, 0, 64);
                let frame = protocol.send_frame(route, &body);
                if ws.send(frame).await.is_err() {
                    result.closed_after_secs = Some(started.elapsed().as_secs_f64());
                    break;
                }
                result.sent += 1;
            }
            frame = ws.next() => match frame {
                Some(Ok(Frame::Text(text))) => match protocol.decode(text.as_str()) {
                    Incoming::Ack(_) => result.acked += 1,
                    Incoming::Error(error) if error.starts_with("rate_limited") => result.rate_limited += 1,
                    Incoming::Error(_) => result.other_errors += 1,
                    _ => {}
                },
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    result.closed_after_secs = Some(started.elapsed().as_secs_f64());
                    break;
                }
            },
        }
    }
    result
}

/// Opens sockets (upgrade + auth with one widget session) `concurrency` at a time, at most
/// `max_attempts` in all, holding up to `cap` (the oldest closed first), until `stop`.
async fn flood_sockets(
    protocol: &Protocol,
    connector: &Connector,
    session: &talk_protocol::WidgetSessionResponse,
    cap: usize,
    max_attempts: u64,
    concurrency: usize,
    stop: CancellationToken,
) -> SocketFlood {
    let mut result = SocketFlood::default();
    let started = Instant::now();
    let mut held: VecDeque<Ws> = VecDeque::new();
    let mut pending = FuturesUnordered::new();
    loop {
        while pending.len() < concurrency.max(1)
            && result.attempts < max_attempts
            && !stop.is_cancelled()
        {
            result.attempts += 1;
            pending.push(tokio::time::timeout(
                FLOOD_HANDSHAKE_TIMEOUT,
                protocol.talk_socket(connector, session),
            ));
        }
        if pending.is_empty() {
            break;
        }
        tokio::select! {
            _ = stop.cancelled() => break,
            Some(attempt) = pending.next() => match attempt {
                Ok(Ok(ws)) => {
                    result.opened += 1;
                    held.push_back(ws);
                    if held.len() > cap {
                        held.pop_front();
                    }
                    result.held_max = result.held_max.max(held.len());
                }
                Ok(Err(error)) => {
                    let text = format!("{error:#}");
                    if text.contains("429") {
                        result.refused += 1;
                    } else {
                        result.failed += 1;
                        result.first_failure.get_or_insert(text);
                    }
                }
                Err(_) => {
                    result.failed += 1;
                    result.first_failure.get_or_insert_with(|| "handshake timed out".into());
                }
            },
        }
    }
    result.seconds = started.elapsed().as_secs_f64();
    // Attempts exhausted early: hold what is open until the phase ends.
    stop.cancelled().await;
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_round_runs_every_kind_and_no_kind_keeps_its_place() {
        for round in 0..MAX_ROUNDS {
            let mut kinds = kinds_in_round(round).to_vec();
            kinds.sort_by_key(|kind| *kind as usize);
            assert_eq!(kinds, Kind::ALL);
        }
        let firsts: Vec<Kind> = (0..3).map(|round| kinds_in_round(round)[0]).collect();
        assert_eq!(firsts, Kind::ALL);
    }

    #[test]
    fn each_measurement_attacks_from_an_address_of_its_own() {
        let mut seen = std::collections::HashSet::new();
        for round in 0..MAX_ROUNDS {
            for kind in Kind::ALL {
                let address = attacker_address(round, kind);
                assert!(address.octets()[3] >= FLOOD_SOURCE_FIRST);
                assert!(seen.insert(address), "{address} used twice");
            }
        }
    }
}
