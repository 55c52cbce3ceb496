//! The printed table: one column per target, and the first Talk target's figures as a ratio
//! to the peer's.

use crate::flood::{FloodResult, Flooded, SenderFlood, SocketFlood};
use crate::load::{Peer, PhaseResult, RunResult};
use hdrhistogram::Histogram;

fn ms(histogram: &Histogram<u64>, quantile: f64) -> Option<f64> {
    (!histogram.is_empty()).then(|| histogram.value_at_quantile(quantile) as f64 / 1000.0)
}

fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

struct Row {
    label: String,
    cells: Vec<String>,
    /// The first target's value over the peer's, when both exist.
    ratio: Option<f64>,
}

/// The first run (a Talk target) and the peer it is compared with in the ratio column: the
/// durable peer when it ran, else the volatile relay.
fn compared(runs: &[RunResult]) -> Option<(&RunResult, &RunResult)> {
    let peer = runs
        .iter()
        .find(|run| run.peer == Some(Peer::Durable))
        .or_else(|| runs.iter().find(|run| run.peer.is_some()))?;
    let first = runs.first().filter(|first| first.peer.is_none())?;
    Some((first, peer))
}

fn row(
    label: impl Into<String>,
    runs: &[RunResult],
    cell: impl Fn(&RunResult) -> String,
    value: impl Fn(&RunResult) -> Option<f64>,
) -> Row {
    let ratio = compared(runs).and_then(|(ours, peer)| match (value(ours), value(peer)) {
        (Some(ours), Some(peer)) if peer > 0.0 => Some(ours / peer),
        _ => None,
    });
    Row {
        label: label.into(),
        cells: runs.iter().map(cell).collect(),
        ratio,
    }
}

/// A figure over the runs: their median and their spread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

/// The median and the min–max of `values`; `None` when there are none.
pub fn spread(values: &[f64]) -> Option<Spread> {
    Some(Spread {
        median: median(values)?,
        min: values.iter().copied().reduce(f64::min)?,
        max: values.iter().copied().reduce(f64::max)?,
    })
}

/// `median (min–max)` with `decimals`, or the value alone when every run agrees.
pub fn format_spread(spread: Option<Spread>, decimals: usize) -> String {
    match spread {
        None => "-".into(),
        Some(s) if s.min == s.max => format!("{:.decimals$}", s.median),
        Some(s) => format!(
            "{:.decimals$} ({:.decimals$}–{:.decimals$})",
            s.median, s.min, s.max
        ),
    }
}

/// `value` of phase `label` in each run of `run` that has it.
fn per_run(run: &RunResult, label: &str, value: impl Fn(&PhaseResult) -> Option<f64>) -> Vec<f64> {
    run.runs
        .iter()
        .filter_map(|phases| phases.iter().find(|phase| phase.label == label))
        .filter_map(value)
        .collect()
}

fn median_of(
    run: &RunResult,
    label: &str,
    value: impl Fn(&PhaseResult) -> Option<f64>,
) -> Option<f64> {
    median(&per_run(run, label, value))
}

fn sum_of(run: &RunResult, label: &str, value: impl Fn(&PhaseResult) -> u64) -> u64 {
    run.runs
        .iter()
        .filter_map(|phases| phases.iter().find(|phase| phase.label == label))
        .map(value)
        .sum()
}

/// Every message reached its agent, and, where the target stores them, is in the database.
pub fn none_lost(run: &RunResult) -> bool {
    let totals = &run.totals;
    totals.errors == 0
        && totals.acked == totals.sent
        && totals.delivered == totals.sent
        && run.stored.is_none_or(|stored| stored == totals.sent)
}

/// The phase label of the open loop at `rate` msg/s (as load.rs names it).
pub fn open_loop_label(rate: u32) -> String {
    format!("open loop {rate} msg/s")
}

pub const CLOSED_LOOP: &str = "closed loop (max)";

/// The table, then `notes` (machine, disk, storage, durability, pinning, runs, nodes).
pub fn print(runs: &[RunResult], notes: &[String]) {
    let mut rows = vec![
        row(
            "idle visitor sockets held (wanted)",
            runs,
            |run| {
                format!(
                    "{} ({})",
                    thousands(run.idle_held as u64),
                    thousands(run.idle_wanted as u64)
                )
            },
            |run| Some(run.idle_held as f64),
        ),
        row(
            "  still connected at the end",
            runs,
            |run| thousands(run.idle_alive_at_end as u64),
            |_| None,
        ),
        row(
            "  time to open them, s",
            runs,
            |run| format!("{:.1}", run.connect_secs),
            |run| Some(run.connect_secs),
        ),
        row(
            "server RSS before → after, MB",
            runs,
            |run| {
                format!(
                    "{:.1} → {:.1}",
                    run.rss_before as f64 / 1e6,
                    run.rss_after as f64 / 1e6
                )
            },
            |_| None,
        ),
        row(
            "RSS per idle connection, KB",
            runs,
            |run| {
                run.rss_per_idle()
                    .map_or("-".into(), |bytes| format!("{:.2}", bytes / 1000.0))
            },
            |run| run.rss_per_idle(),
        ),
    ];
    let labels: Vec<String> = runs
        .first()
        .and_then(|run| run.runs.first())
        .map(|phases| phases.iter().map(|phase| phase.label.clone()).collect())
        .unwrap_or_default();
    for label in &labels {
        let label = label.as_str();
        rows.push(row(
            format!("{label}: msg/s acked"),
            runs,
            |run| format_spread(spread(&per_run(run, label, |p| Some(p.msgs_per_sec()))), 0),
            |run| median_of(run, label, |p| Some(p.msgs_per_sec())),
        ));
        rows.push(row(
            "  ack p50 / p99, ms",
            runs,
            |run| {
                let p50 = median_of(run, label, |p| ms(&p.ack, 0.5));
                let p99 = spread(&per_run(run, label, |p| ms(&p.ack, 0.99)));
                match p50 {
                    Some(p50) => format!("{p50:.2} / {}", format_spread(p99, 2)),
                    None => "-".into(),
                }
            },
            |run| median_of(run, label, |p| ms(&p.ack, 0.99)),
        ));
        rows.push(row(
            "  delivery p50 / p99.9, ms",
            runs,
            |run| match (
                median_of(run, label, |p| ms(&p.delivery, 0.5)),
                median_of(run, label, |p| ms(&p.delivery, 0.999)),
            ) {
                (Some(p50), Some(p999)) => format!("{p50:.2} / {p999:.2}"),
                _ => "-".into(),
            },
            |run| median_of(run, label, |p| ms(&p.delivery, 0.5)),
        ));
        rows.push(row(
            "  delivery p99, ms",
            runs,
            |run| format_spread(spread(&per_run(run, label, |p| ms(&p.delivery, 0.99))), 2),
            |run| median_of(run, label, |p| ms(&p.delivery, 0.99)),
        ));
        rows.push(row(
            "  CPU per acked msg, µs: target / generator",
            runs,
            |run| {
                let target = median_of(run, label, |p| p.cpu_target_us);
                let generator = median_of(run, label, |p| p.cpu_generator_us);
                let fmt = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.0}"));
                format!("{} / {}", fmt(target), fmt(generator))
            },
            |run| median_of(run, label, |p| p.cpu_target_us),
        ));
        rows.push(row(
            "  sent / shed / refused (all runs)",
            runs,
            |run| {
                format!(
                    "{} / {} / {}",
                    thousands(sum_of(run, label, |p| p.sent)),
                    thousands(sum_of(run, label, |p| p.shed)),
                    thousands(sum_of(run, label, |p| p.errors))
                )
            },
            |_| None,
        ));
    }
    rows.push(row(
        "messages sent / acked / delivered",
        runs,
        |run| {
            format!(
                "{} / {} / {}",
                thousands(run.totals.sent),
                thousands(run.totals.acked),
                thousands(run.totals.delivered)
            )
        },
        |_| None,
    ));
    rows.push(row(
        "  stored (durable)",
        runs,
        |run| run.stored.map_or("not stored".into(), thousands),
        |_| None,
    ));
    rows.push(row(
        "  none lost",
        runs,
        |run| {
            if none_lost(run) {
                "yes".into()
            } else {
                "NO".into()
            }
        },
        |_| None,
    ));

    let names: Vec<String> = runs.iter().map(|run| run.target.to_string()).collect();
    let label_width = rows
        .iter()
        .map(|row| row.label.chars().count())
        .max()
        .unwrap_or(0);
    let cell_width = rows
        .iter()
        .flat_map(|row| row.cells.iter())
        .chain(names.iter())
        .map(|cell| cell.chars().count())
        .max()
        .unwrap_or(0)
        + 2;
    let ratio_header = compared(runs).map_or(String::new(), |(ours, peer)| {
        format!("{} / {}", ours.target, peer.target)
    });
    let pad = |text: &str, width: usize| {
        format!(
            "{text}{}",
            " ".repeat(width.saturating_sub(text.chars().count()))
        )
    };
    println!(
        "{}{}{ratio_header}",
        pad("", label_width + 2),
        names
            .iter()
            .map(|name| pad(name, cell_width))
            .collect::<String>()
    );
    for row in rows {
        let ratio = row
            .ratio
            .map_or(String::new(), |ratio| format!("{ratio:.2}"));
        println!(
            "{}{}{ratio}",
            pad(&row.label, label_width + 2),
            row.cells
                .iter()
                .map(|cell| pad(cell, cell_width))
                .collect::<String>()
        );
    }
    if let Some(run) = runs.first() {
        println!("({} visitor→agent pairs carry the messages while the idle sockets stay connected; latency counts from the scheduled send)", run.pairs);
        for run in runs {
            if let Some(failure) = &run.idle_failure {
                println!("{}: opening idle sockets: {failure}", run.target);
            }
        }
    }
    for note in notes {
        println!("{note}");
    }
}

/// The goals (DESIGN.md's server budgets) a Talk target is judged by.
pub const PEER_FACTOR: f64 = 3.0;
pub const RELAY_FACTOR: f64 = 0.5;
pub const P99_GOAL_MS: f64 = 5.0;
pub const IDLE_GOAL_KB: f64 = 10.0;

/// One Talk target's figures, each the median over the runs.
#[derive(Debug, Clone, Default)]
pub struct TalkFigures {
    pub max_msgs: Option<f64>,
    pub p99_1k_ms: Option<f64>,
    pub shed_1k: u64,
    pub p99_5k_ms: Option<f64>,
    pub shed_5k: u64,
    pub acked_5k: Option<f64>,
    pub rss_per_idle_kb: Option<f64>,
}

/// A goal, judged: `met` is `None` when it was not measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub goal: String,
    pub met: Option<bool>,
    pub figure: String,
}

impl Verdict {
    fn line(&self) -> String {
        let word = match self.met {
            Some(true) => "met",
            Some(false) => "NOT met",
            None => "not measured",
        };
        format!("{}: {word}: {}", self.goal, self.figure)
    }
}

fn ratio_verdict(goal: String, ours: Option<f64>, peer: Option<f64>, factor: f64) -> Verdict {
    match (ours, peer) {
        (Some(ours), Some(peer)) if peer > 0.0 => Verdict {
            goal,
            met: Some(ours >= factor * peer),
            figure: format!("{:.2}× ({ours:.0} vs {peer:.0} msg/s)", ours / peer),
        },
        _ => Verdict {
            goal,
            met: None,
            figure: "a figure is missing".into(),
        },
    }
}

fn p99_verdict(
    rate: &str,
    p99: Option<f64>,
    shed: u64,
    acked: Option<f64>,
) -> (Option<bool>, String) {
    match p99 {
        None => (None, format!("no open loop at {rate}")),
        Some(p99) => {
            let mut figure = format!("p99 {p99:.2} ms");
            if let Some(acked) = acked {
                figure.push_str(&format!(", {acked:.0} msg/s acked"));
            }
            if shed > 0 {
                figure.push_str(&format!(", {shed} sends shed (overloaded)"));
            }
            (Some(p99 <= P99_GOAL_MS && shed == 0), figure)
        }
    }
}

/// The goals for one Talk target, from the medians: ≥ 3× the durable peer's and ≥ 0.5× the
/// volatile relay's acknowledged msg/s (closed loop), delivery p99 ≤ 5 ms at 1 k and at 5 k
/// msg/s (with the disk's fsync p99 beside it: no commit is faster than the disk's flush),
/// ≤ 10 KB RSS per idle socket. A phase that shed sends does not meet a latency goal.
pub fn verdicts(
    talk: &TalkFigures,
    durable_max: Option<f64>,
    volatile_max: Option<f64>,
    fsync_p99_ms: Option<f64>,
) -> Vec<Verdict> {
    let (met_1k, figure_1k) = p99_verdict("1000 msg/s", talk.p99_1k_ms, talk.shed_1k, None);
    let (met_5k, mut figure_5k) =
        p99_verdict("5000 msg/s", talk.p99_5k_ms, talk.shed_5k, talk.acked_5k);
    match fsync_p99_ms {
        Some(fsync) if fsync > P99_GOAL_MS => figure_5k.push_str(&format!(
            "; disk fsync p99 {fsync:.2} ms: over 5 ms alone, the disk does not allow it"
        )),
        Some(fsync) => figure_5k.push_str(&format!("; disk fsync p99 {fsync:.2} ms")),
        None => figure_5k.push_str("; disk fsync not probed"),
    }
    vec![
        ratio_verdict(
            format!("≥ {PEER_FACTOR}× the durable peer's msg/s"),
            talk.max_msgs,
            durable_max,
            PEER_FACTOR,
        ),
        ratio_verdict(
            format!("≥ {RELAY_FACTOR}× the volatile relay's msg/s"),
            talk.max_msgs,
            volatile_max,
            RELAY_FACTOR,
        ),
        Verdict {
            goal: format!("delivery p99 ≤ {P99_GOAL_MS} ms at 1k msg/s"),
            met: met_1k,
            figure: figure_1k,
        },
        Verdict {
            goal: format!("delivery p99 ≤ {P99_GOAL_MS} ms at 5k msg/s"),
            met: met_5k,
            figure: figure_5k,
        },
        match talk.rss_per_idle_kb {
            Some(kb) => Verdict {
                goal: format!("≤ {IDLE_GOAL_KB} KB RSS per idle socket"),
                met: Some(kb <= IDLE_GOAL_KB),
                figure: format!("{kb:.2} KB"),
            },
            None => Verdict {
                goal: format!("≤ {IDLE_GOAL_KB} KB RSS per idle socket"),
                met: None,
                figure: "no idle sockets held".into(),
            },
        },
    ]
}

/// A Talk target's figures from its runs (medians).
fn talk_figures(run: &RunResult) -> TalkFigures {
    let (l1k, l5k) = (open_loop_label(1000), open_loop_label(5000));
    TalkFigures {
        max_msgs: median_of(run, CLOSED_LOOP, |p| Some(p.msgs_per_sec())),
        p99_1k_ms: median_of(run, &l1k, |p| ms(&p.delivery, 0.99)),
        shed_1k: sum_of(run, &l1k, |p| p.shed),
        p99_5k_ms: median_of(run, &l5k, |p| ms(&p.delivery, 0.99)),
        shed_5k: sum_of(run, &l5k, |p| p.shed),
        acked_5k: median_of(run, &l5k, |p| Some(p.msgs_per_sec())),
        rss_per_idle_kb: run.rss_per_idle().map(|bytes| bytes / 1000.0),
    }
}

/// The goals, judged for every Talk target of the run.
pub fn print_verdicts(runs: &[RunResult], fsync_p99_ms: Option<f64>) {
    let peer_max = |peer: Peer| {
        runs.iter()
            .find(|run| run.peer == Some(peer))
            .and_then(|run| median_of(run, CLOSED_LOOP, |p| Some(p.msgs_per_sec())))
    };
    let (durable, volatile) = (peer_max(Peer::Durable), peer_max(Peer::Volatile));
    println!("goals (medians of the runs; closed-loop msg/s for the ratios):");
    for run in runs.iter().filter(|run| run.peer.is_none()) {
        for verdict in verdicts(&talk_figures(run), durable, volatile, fsync_p99_ms) {
            println!("  {}: {}", run.target, verdict.line());
        }
    }
}

/// The flood target: the flooded p99 at most this many times the baseline's.
pub const FLOOD_P99_TARGET: f64 = 2.0;

/// `ok` when `flooded / baseline` is within the target, `OVER` otherwise.
pub fn flood_verdict(baseline_p99: f64, flooded_p99: f64) -> (f64, &'static str) {
    let ratio = flooded_p99 / baseline_p99.max(f64::MIN_POSITIVE);
    (
        ratio,
        if ratio <= FLOOD_P99_TARGET {
            "ok"
        } else {
            "OVER"
        },
    )
}

/// The middle value (the mean of the two middle ones for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let middle = sorted.len() / 2;
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[middle]),
        _ => Some((sorted[middle - 1] + sorted[middle]) / 2.0),
    }
}

pub fn print_flood(result: &FloodResult) {
    println!(
        "flood isolation (talk-server, default rate limits): {} visitors at {} msg/s in all, {} s per measurement, {} rounds",
        result.pairs,
        result.rate,
        result.secs,
        result.rounds.len()
    );
    let quantiles = |phases: &[&PhaseResult], q: f64| -> Vec<f64> {
        phases
            .iter()
            .filter_map(|phase| ms(&phase.delivery, q))
            .collect()
    };
    let fmt = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2}"));
    let per_round = |values: &[f64]| {
        values
            .iter()
            .map(|v| format!("{v:.1}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let sent_refused = |phases: &[&PhaseResult]| {
        let sent: u64 = phases.iter().map(|phase| phase.sent).sum();
        let errors: u64 = phases.iter().map(|phase| phase.errors).sum();
        format!("{sent}/{errors}")
    };
    let width = 38;
    println!(
        "{:<width$}{:>8}{:>8}{:>7}  {:<22}{:>12}",
        "delivery latency, ms (median of rounds)",
        "p50",
        "p99",
        "ratio",
        "p99 per round",
        "sent/refused"
    );
    let baselines: Vec<&PhaseResult> = result.rounds.iter().map(|round| &round.baseline).collect();
    let baseline_p99s = quantiles(&baselines, 0.99);
    let baseline_p99 = median(&baseline_p99s);
    println!(
        "{:<width$}{:>8}{:>8}{:>7}  {:<22}{:>12}",
        "baseline",
        fmt(median(&quantiles(&baselines, 0.5))),
        fmt(baseline_p99),
        "1.00",
        per_round(&baseline_p99s),
        sent_refused(&baselines)
    );
    for kind in crate::flood::Kind::ALL {
        let runs: Vec<&Flooded> = result
            .rounds
            .iter()
            .flat_map(|round| &round.flooded)
            .filter(|flooded| flooded.kind == kind.label())
            .collect();
        let phases: Vec<&PhaseResult> = runs.iter().map(|flooded| &flooded.phase).collect();
        let p99s = quantiles(&phases, 0.99);
        let (ratio, verdict) = match (baseline_p99, median(&p99s)) {
            (Some(b), Some(f)) => {
                let (r, v) = flood_verdict(b, f);
                (format!("{r:.2}"), v)
            }
            _ => ("-".into(), "-"),
        };
        println!(
            "{:<width$}{:>8}{:>8}{:>7}  {:<22}{:>12}   target ≤ {FLOOD_P99_TARGET:.1}×: {verdict}",
            format!("flooded: {}", kind.label()),
            fmt(median(&quantiles(&phases, 0.5))),
            fmt(median(&p99s)),
            ratio,
            per_round(&p99s),
            sent_refused(&phases)
        );
        print_attackers(kind.label(), &runs, result.socket_cap);
    }
    // The baselines' own spread says how much of a ratio is noise.
    let low = baseline_p99s.iter().copied().reduce(f64::min);
    let high = baseline_p99s.iter().copied().reduce(f64::max);
    if let (Some(low), Some(high)) = (low, high) {
        println!(
            "baseline p99 spread over rounds: {low:.2} … {high:.2} ms ({:.2}×)",
            high / low.max(f64::MIN_POSITIVE)
        );
    }
    let totals = &result.totals;
    println!(
        "ordinary visitors' messages sent / acked / delivered: {} / {} / {}",
        thousands(totals.sent),
        thousands(totals.acked),
        thousands(totals.delivered)
    );
}

/// What one kind's attackers did, summed over the rounds.
fn print_attackers(label: &str, runs: &[&Flooded], socket_cap: usize) {
    let senders: Vec<&SenderFlood> = runs.iter().filter_map(|run| run.sender.as_ref()).collect();
    if !senders.is_empty() {
        let sum = |field: fn(&SenderFlood) -> u64| senders.iter().map(|s| field(s)).sum::<u64>();
        let closed = senders
            .iter()
            .filter(|s| s.closed_after_secs.is_some())
            .count();
        println!(
            "  [{label}] flooding visitor: sent {}, acked {}, rate_limited {}, other errors {}{}",
            thousands(sum(|s| s.sent)),
            thousands(sum(|s| s.acked)),
            thousands(sum(|s| s.rate_limited)),
            thousands(sum(|s| s.other_errors)),
            if closed > 0 {
                format!(
                    ", closed by the server in {closed} of {} rounds",
                    senders.len()
                )
            } else {
                String::new()
            }
        );
    }
    let floods: Vec<&SocketFlood> = runs.iter().filter_map(|run| run.sockets.as_ref()).collect();
    if !floods.is_empty() {
        let sum = |field: fn(&SocketFlood) -> u64| floods.iter().map(|s| field(s)).sum::<u64>();
        let seconds: f64 = floods.iter().map(|s| s.seconds).sum();
        let held_max = floods.iter().map(|s| s.held_max).max().unwrap_or(0);
        let first_failure = floods.iter().find_map(|s| s.first_failure.as_ref());
        println!(
            "  [{label}] socket flooder: {} attempts in {seconds:.1} s, opened {} (held at most {}, cap {}), refused 429 {}, other failures {}{}",
            thousands(sum(|s| s.attempts)),
            thousands(sum(|s| s.opened)),
            thousands(held_max as u64),
            thousands(socket_cap as u64),
            thousands(sum(|s| s.refused)),
            thousands(sum(|s| s.failed)),
            first_failure.map_or(String::new(), |f| format!(" (first: {f})"))
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn flood_verdict_is_ok_up_to_twice_the_baseline() {
        assert_eq!(flood_verdict(2.0, 4.0), (2.0, "ok"));
        assert_eq!(flood_verdict(2.0, 4.2).1, "OVER");
        assert_eq!(flood_verdict(0.0, 1.0).1, "OVER");
    }

    #[test]
    fn median_takes_the_middle_and_ignores_one_outlier() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[30.5, 7.9, 12.1]), Some(12.1));
        assert_eq!(median(&[1.0, 4.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn spread_gives_median_and_range() {
        assert_eq!(spread(&[]), None);
        let s = spread(&[3442.0, 3690.0, 3621.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (3621.0, 3442.0, 3690.0));
        assert_eq!(format_spread(Some(s), 0), "3621 (3442–3690)");
        assert_eq!(format_spread(spread(&[5.0, 5.0]), 1), "5.0");
        assert_eq!(format_spread(None, 1), "-");
    }

    fn figures() -> TalkFigures {
        TalkFigures {
            max_msgs: Some(9000.0),
            p99_1k_ms: Some(3.2),
            shed_1k: 0,
            p99_5k_ms: Some(4.9),
            shed_5k: 0,
            acked_5k: Some(5000.0),
            rss_per_idle_kb: Some(9.5),
        }
    }

    #[test]
    fn every_goal_met_when_every_figure_is_within_it() {
        let all = verdicts(&figures(), Some(3000.0), Some(18000.0), Some(1.0));
        assert_eq!(all.len(), 5);
        assert!(all.iter().all(|v| v.met == Some(true)), "{all:?}");
        assert_eq!(all[0].figure, "3.00× (9000 vs 3000 msg/s)");
        assert!(all[3].figure.contains("disk fsync p99 1.00 ms"));
        assert!(all[3].line().contains(": met: "));
    }

    #[test]
    fn goals_fail_on_figures_over_them_and_on_shed_sends() {
        let mut talk = figures();
        talk.max_msgs = Some(5000.0);
        talk.p99_1k_ms = Some(5.01);
        talk.shed_5k = 12;
        talk.rss_per_idle_kb = Some(17.2);
        let all = verdicts(&talk, Some(2000.0), Some(10001.0), Some(8.0));
        let met: Vec<_> = all.iter().map(|v| v.met).collect();
        assert_eq!(met, [Some(false); 5]);
        assert!(all[3].figure.contains("12 sends shed"));
        assert!(all[3].figure.contains("the disk does not allow it"));
        assert!(all[2].line().contains("NOT met: p99 5.01 ms"));
    }

    #[test]
    fn missing_figures_are_not_measured_not_met() {
        let talk = TalkFigures::default();
        let all = verdicts(&talk, None, None, None);
        assert!(all.iter().all(|v| v.met.is_none()), "{all:?}");
        assert!(all[0].line().contains("not measured"));
    }
}
