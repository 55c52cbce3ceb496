//! CPU pinning: the target on CPU 0 and the generator on the others, so neither takes the
//! other's core and each one's CPU time is its own. With 2 cores: target on CPU 0, generator
//! on CPU 1. Every node of a multi-node target shares CPU 0 (one machine's core, however many
//! nodes). PostgreSQL's processes are left unpinned: they are not children of the target and
//! come and go with connections; their CPU time is counted in the target's (`cpu.rs`), and
//! the report says so.

use anyhow::{bail, Context, Result};
use std::process::Stdio;
use tokio::process::Command;

/// Which CPUs the target and the generator get, as `taskset --cpu-list` lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub target: String,
    pub generator: String,
}

/// The plan for a machine with `cpus` CPUs: `None` below two (nothing to keep apart).
pub fn plan(cpus: usize) -> Option<Plan> {
    match cpus {
        0 | 1 => None,
        2 => Some(Plan {
            target: "0".into(),
            generator: "1".into(),
        }),
        n => Some(Plan {
            target: "0".into(),
            generator: format!("1-{}", n - 1),
        }),
    }
}

/// This machine's plan.
pub fn machine_plan() -> Option<Plan> {
    plan(std::thread::available_parallelism().map_or(1, |n| n.get()))
}

impl Plan {
    pub fn describe(&self) -> String {
        format!(
            "target on CPU {}, generator on CPU {}",
            self.target, self.generator
        )
    }
}

/// Pins every thread of `pid` to `cpus` with util-linux's `taskset`. Threads started later
/// inherit the mask from the thread that starts them.
pub async fn pin(pid: u32, cpus: &str) -> Result<()> {
    let status = Command::new("taskset")
        .args(["--all-tasks", "--cpu-list", "--pid", cpus, &pid.to_string()])
        .stdout(Stdio::null())
        .status()
        .await
        .context("running taskset")?;
    if !status.success() {
        bail!("taskset --pid {cpus} {pid}: {status}");
    }
    Ok(())
}

/// Pins this process (the generator) by the plan.
pub async fn pin_generator(plan: &Plan) -> Result<()> {
    pin(std::process::id(), &plan.generator).await
}

/// Pins a target's processes (one per node) by the plan.
pub async fn pin_target(plan: &Plan, pids: &[u32]) -> Result<()> {
    for &pid in pids {
        pin(pid, &plan.target).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_gets_cpu_0_and_the_generator_the_rest() {
        assert_eq!(plan(1), None);
        assert_eq!(
            plan(2),
            Some(Plan {
                target: "0".into(),
                generator: "1".into()
            })
        );
        assert_eq!(plan(8).unwrap().generator, "1-7");
        assert_eq!(
            plan(2).unwrap().describe(),
            "target on CPU 0, generator on CPU 1"
        );
    }
}
