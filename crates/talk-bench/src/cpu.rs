//! CPU time from /proc (Linux): what a measured phase cost the target and the generator, per
//! acknowledged message. A target is its server processes (every node) and, for Talk on
//! PostgreSQL, the PostgreSQL server's processes too, which do part of the work.

use anyhow::{Context, Result};
use std::path::Path;

/// Kernel clock ticks per second (`getconf CLK_TCK`; 100 on every Linux this runs on).
fn ticks_per_sec() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// The fields of `/proc/<pid>/stat` this module uses, in clock ticks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    pub ppid: u32,
    /// utime + stime: the process's own CPU, all its threads.
    pub own: u64,
    /// cutime + cstime: its children that exited and were waited for.
    pub reaped_children: u64,
}

/// Parses a `/proc/<pid>/stat` line. The command name (field 2) may hold spaces and
/// parentheses, so the fields are counted after its last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state): ppid is field 4, utime..cstime fields 14..17.
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    Some(Stat {
        ppid: field(4)? as u32,
        own: field(14)? + field(15)?,
        reaped_children: field(16)? + field(17)?,
    })
}

fn stat(pid: u32) -> Result<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    parse_stat(&text).context("unexpected /proc/<pid>/stat")
}

/// CPU seconds per acknowledged message, in µs: `None` when nothing was acknowledged.
pub fn micros_per_message(ticks: u64, messages: u64) -> Option<f64> {
    (messages > 0).then(|| ticks as f64 / ticks_per_sec() * 1e6 / messages as f64)
}

/// Whose CPU a phase is charged: the target's processes, and PostgreSQL's when it serves
/// the target (the postmaster, its live children, and the children it reaped).
#[derive(Clone, Default)]
pub struct Meter {
    pub pids: Vec<u32>,
    pub postmaster: Option<u32>,
}

impl Meter {
    /// The target's CPU so far, in ticks. A process that is gone counts nothing.
    pub fn target_ticks(&self) -> u64 {
        let mut ticks: u64 = self
            .pids
            .iter()
            .filter_map(|&pid| stat(pid).ok())
            .map(|stat| stat.own)
            .sum();
        if let Some(postmaster) = self.postmaster {
            ticks += postgres_ticks(postmaster);
        }
        ticks
    }

    /// This process (the generator), every thread.
    pub fn generator_ticks() -> u64 {
        stat(std::process::id()).map_or(0, |stat| stat.own)
    }
}

/// The postmaster, its live children (backends, WAL writer, checkpointer, …) and those it
/// has reaped.
fn postgres_ticks(postmaster: u32) -> u64 {
    let Ok(main) = stat(postmaster) else { return 0 };
    let children: u64 = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| stat(pid).ok())
        .filter(|stat| stat.ppid == postmaster)
        .map(|stat| stat.own)
        .sum();
    main.own + main.reaped_children + children
}

/// The postmaster's pid: the first line of `postmaster.pid` in its data folder.
pub fn postmaster_pid(data_directory: &Path) -> Result<u32> {
    let text = std::fs::read_to_string(data_directory.join("postmaster.pid"))
        .context("reading postmaster.pid")?;
    text.lines()
        .next()
        .and_then(|line| line.trim().parse().ok())
        .context("no pid in postmaster.pid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let line = "4242 (node (relay) x) S 17 4242 17 0 -1 4194560 100 0 0 0 \
                    250 50 7 3 20 0 11 0 1234 5678 99";
        assert_eq!(
            parse_stat(line),
            Some(Stat {
                ppid: 17,
                own: 300,
                reaped_children: 10
            })
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn own_stat_parses_and_cost_per_message_divides() {
        assert!(stat(std::process::id()).is_ok());
        assert_eq!(micros_per_message(5, 0), None);
        let per = micros_per_message(100, 1000).unwrap();
        assert!((per - 1e6 / ticks_per_sec() / 10.0).abs() < 1e-6);
    }
}
