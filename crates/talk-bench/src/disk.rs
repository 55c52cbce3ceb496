//! What durability costs here: the filesystem the databases live on and how long an fsync of
//! it takes (p50/p99 of `fdatasync` after a small write), printed before the load phase. On
//! tmpfs an fsync is free and "durable" figures mean nothing, so the run says so loudly.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// Writes and `fdatasync`s this many times.
pub const PROBES: usize = 200;

/// Filesystems where an fsync reaches no disk.
const VOLATILE: [&str; 2] = ["tmpfs", "ramfs"];

pub struct Probe {
    /// The filesystem type, as `stat -f -c %T` names it (ext4 shows as `ext2/ext3`).
    pub fs_type: String,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Probe {
    pub fn volatile(&self) -> bool {
        VOLATILE.contains(&self.fs_type.as_str())
    }

    pub fn summary(&self, dir: &Path) -> String {
        let mut text = format!(
            "disk: {} is on {}; fsync (4 KiB write + fdatasync, {PROBES}×) p50 {:.2} ms, p99 {:.2} ms",
            dir.display(),
            self.fs_type,
            self.p50_ms,
            self.p99_ms
        );
        if self.volatile() {
            text.push_str(
                "\n!!! WARNING: the databases are on a memory filesystem: fsync is free, \
                 durable figures here are NOT durable. Set TMPDIR to a disk. !!!",
            );
        }
        text
    }
}

/// The `q` quantile (0..=1) of `values`, nearest rank; `None` when empty.
pub fn percentile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The filesystem type of `dir` (`stat -f`).
pub fn fs_type(dir: &Path) -> Result<String> {
    let output = std::process::Command::new("stat")
        .args(["-f", "-c", "%T"])
        .arg(dir)
        .output()
        .context("running stat -f")?;
    anyhow::ensure!(output.status.success(), "stat -f {}", dir.display());
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Probes `dir` (where the run's databases are made): a fresh file in a temporary folder
/// there, rewritten and synced `PROBES` times. Blocking; run before the load.
pub fn probe(dir: &Path) -> Result<Probe> {
    let folder = tempfile::tempdir_in(dir)?;
    let mut file = std::fs::File::create(folder.path().join("fsync-probe"))?;
    let block = [0x5a_u8; 4096];
    let mut samples = Vec::with_capacity(PROBES);
    for _ in 0..PROBES {
        let started = Instant::now();
        file.write_all(&block)?;
        file.sync_data()?;
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    Ok(Probe {
        fs_type: fs_type(dir)?,
        p50_ms: percentile(&samples, 0.5).unwrap_or(0.0),
        p99_ms: percentile(&samples, 0.99).unwrap_or(0.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_is_nearest_rank() {
        assert_eq!(percentile(&[], 0.5), None);
        let values: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(percentile(&values, 0.5), Some(100.0));
        assert_eq!(percentile(&values, 0.99), Some(198.0));
        assert_eq!(percentile(&[3.0, 1.0, 2.0], 1.0), Some(3.0));
        assert_eq!(percentile(&[3.0, 1.0, 2.0], 0.0), Some(1.0));
    }

    #[test]
    fn tmpfs_is_flagged_and_a_real_probe_runs() {
        let tmpfs = Probe {
            fs_type: "tmpfs".into(),
            p50_ms: 0.0,
            p99_ms: 0.0,
        };
        assert!(tmpfs.volatile());
        assert!(tmpfs.summary(Path::new("/tmp")).contains("WARNING"));
        let probe = probe(&std::env::temp_dir()).unwrap();
        assert!(!probe.fs_type.is_empty());
        assert!(probe.p99_ms >= probe.p50_ms);
    }
}
