//! The printed table: one column per target, and the first Talk target's figures as a ratio
//! to the peer's.

use crate::flood::{FloodResult, Flooded, SenderFlood, SocketFlood};
use crate::load::{PhaseResult, RunResult};
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

/// The delivery latency cells of one phase: p50 / p99 / p99.9 in ms.
fn latencies(histogram: &Histogram<u64>) -> String {
    match (
        ms(histogram, 0.5),
        ms(histogram, 0.99),
        ms(histogram, 0.999),
    ) {
        (Some(p50), Some(p99), Some(p999)) => format!("{p50:.2} / {p99:.2} / {p999:.2}"),
        _ => "-".into(),
    }
}

struct Row {
    label: String,
    cells: Vec<String>,
    /// The first target's value over the peer's, when both exist.
    ratio: Option<f64>,
}

/// The first run and the peer's, when there is a peer and another run before it.
fn compared(runs: &[RunResult]) -> Option<(&RunResult, &RunResult)> {
    let peer = runs.iter().find(|run| run.peer)?;
    let first = runs.first().filter(|first| !first.peer)?;
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

fn phase<'a>(run: &'a RunResult, label: &str) -> Option<&'a PhaseResult> {
    run.phases.iter().find(|phase| phase.label == label)
}

/// Every message reached its agent, and, where the target stores them, is in the database.
pub fn none_lost(run: &RunResult) -> bool {
    let totals = &run.totals;
    totals.errors == 0
        && totals.acked == totals.sent
        && totals.delivered == totals.sent
        && run.stored.is_none_or(|stored| stored == totals.sent)
}

/// The table, then `notes` (storage, durability, pinning, how nodes were used).
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
        .map(|run| run.phases.iter().map(|phase| phase.label.clone()).collect())
        .unwrap_or_default();
    for label in &labels {
        rows.push(row(
            format!("{label}: msg/s acked"),
            runs,
            |run| phase(run, label).map_or("-".into(), |p| format!("{:.0}", p.msgs_per_sec())),
            |run| phase(run, label).map(PhaseResult::msgs_per_sec),
        ));
        rows.push(row(
            "  ack p50 / p99, ms",
            runs,
            |run| {
                phase(run, label).map_or("-".into(), |p| {
                    match (ms(&p.ack, 0.5), ms(&p.ack, 0.99)) {
                        (Some(p50), Some(p99)) => format!("{p50:.2} / {p99:.2}"),
                        _ => "-".into(),
                    }
                })
            },
            |run| phase(run, label).and_then(|p| ms(&p.ack, 0.99)),
        ));
        rows.push(row(
            "  delivery p50 / p99 / p99.9, ms",
            runs,
            |run| phase(run, label).map_or("-".into(), |p| latencies(&p.delivery)),
            |run| phase(run, label).and_then(|p| ms(&p.delivery, 0.99)),
        ));
        rows.push(row(
            "  sent / shed / refused",
            runs,
            |run| {
                phase(run, label).map_or("-".into(), |p| {
                    format!(
                        "{} / {} / {}",
                        thousands(p.sent),
                        thousands(p.shed),
                        thousands(p.errors)
                    )
                })
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
}
