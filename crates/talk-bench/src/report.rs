//! The printed table: one column per target, and Talk's figures as a ratio to the peer's.

use crate::flood::FloodResult;
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
    /// Talk's value over the peer's, when both exist.
    ratio: Option<f64>,
}

fn row(
    label: impl Into<String>,
    runs: &[RunResult],
    cell: impl Fn(&RunResult) -> String,
    value: impl Fn(&RunResult) -> Option<f64>,
) -> Row {
    let ratio = match runs {
        [ours, peer] => match (value(ours), value(peer)) {
            (Some(ours), Some(peer)) if peer > 0.0 => Some(ours / peer),
            _ => None,
        },
        _ => None,
    };
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

pub fn print(runs: &[RunResult]) {
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
    let ratio_header = if runs.len() == 2 { "talk / peer" } else { "" };
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

pub fn print_flood(result: &FloodResult) {
    println!(
        "flood isolation (talk-server, default rate limits): {} visitors at {} msg/s in all, {} s per measurement",
        result.pairs, result.rate, result.secs
    );
    let p = |phase: &PhaseResult, q: f64| ms(&phase.delivery, q);
    let fmt = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2}"));
    let width = 40;
    println!(
        "{:<width$}{:>8}{:>8}{:>11}{:>14}",
        "delivery latency, ms", "p50", "p99", "p99 ratio", "sent/refused"
    );
    let base = &result.baseline;
    println!(
        "{:<width$}{:>8}{:>8}{:>11}{:>14}",
        "baseline",
        fmt(p(base, 0.5)),
        fmt(p(base, 0.99)),
        "1.00",
        format!("{}/{}", base.sent, base.errors)
    );
    for flooded in &result.flooded {
        let phase = &flooded.phase;
        let (ratio, verdict) = match (p(base, 0.99), p(phase, 0.99)) {
            (Some(b), Some(f)) => {
                let (r, v) = flood_verdict(b, f);
                (format!("{r:.2}"), v)
            }
            _ => ("-".into(), "-"),
        };
        println!(
            "{:<width$}{:>8}{:>8}{:>11}{:>14}   target ≤ {FLOOD_P99_TARGET:.1}×: {verdict}",
            format!("flooded: {}", phase.label),
            fmt(p(phase, 0.5)),
            fmt(p(phase, 0.99)),
            ratio,
            format!("{}/{}", phase.sent, phase.errors)
        );
    }
    let again = &result.baseline_again;
    println!(
        "{:<width$}{:>8}{:>8}{:>11}{:>14}   (the baseline's own spread)",
        "baseline again, floods over",
        fmt(p(again, 0.5)),
        fmt(p(again, 0.99)),
        match (p(base, 0.99), p(again, 0.99)) {
            (Some(b), Some(a)) => format!("{:.2}", flood_verdict(b, a).0),
            _ => "-".into(),
        },
        format!("{}/{}", again.sent, again.errors)
    );
    for flooded in &result.flooded {
        if let Some(sender) = &flooded.sender {
            println!(
                "  [{}] flooding visitor: sent {}, acked {}, rate_limited {}, other errors {}{}",
                flooded.phase.label,
                thousands(sender.sent),
                thousands(sender.acked),
                thousands(sender.rate_limited),
                thousands(sender.other_errors),
                sender.closed_after_secs.map_or(String::new(), |s| format!(
                    ", closed by the server after {s:.1} s"
                ))
            );
        }
        if let Some(sockets) = &flooded.sockets {
            println!(
                "  [{}] socket flooder: {} attempts in {:.1} s, opened {} (held at most {}, cap {}), refused 429 {}, other failures {}{}",
                flooded.phase.label,
                thousands(sockets.attempts),
                sockets.seconds,
                thousands(sockets.opened),
                thousands(sockets.held_max as u64),
                thousands(result.socket_cap as u64),
                thousands(sockets.refused),
                thousands(sockets.failed),
                sockets
                    .first_failure
                    .as_ref()
                    .map_or(String::new(), |f| format!(" (first: {f})"))
            );
        }
    }
    let totals = &result.totals;
    println!(
        "ordinary visitors' messages sent / acked / delivered: {} / {} / {}",
        thousands(totals.sent),
        thousands(totals.acked),
        thousands(totals.delivered)
    );
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
}
