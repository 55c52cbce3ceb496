//! The target's memory against the idle sockets it holds (`--idle-steps`): RSS recorded at
//! each step, a least-squares line through the steps (fixed + per socket), and what that
//! line projects for a host that holds more sockets than this one may open.

/// The target's RSS once it held `sockets` idle sockets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IdleStep {
    pub sockets: usize,
    pub rss_bytes: u64,
}

/// RSS = `fixed_bytes` + `per_socket_bytes` × sockets.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineFit {
    pub fixed_bytes: f64,
    pub per_socket_bytes: f64,
}

impl LineFit {
    pub fn project(&self, sockets: usize) -> f64 {
        self.fixed_bytes + self.per_socket_bytes * sockets as f64
    }
}

/// Least squares through the steps; `None` without two different socket counts.
pub fn fit(steps: &[IdleStep]) -> Option<LineFit> {
    let n = steps.len() as f64;
    let mean_x = steps.iter().map(|step| step.sockets as f64).sum::<f64>() / n;
    let mean_y = steps.iter().map(|step| step.rss_bytes as f64).sum::<f64>() / n;
    let (mut covariance, mut variance) = (0.0, 0.0);
    for step in steps {
        let dx = step.sockets as f64 - mean_x;
        covariance += dx * (step.rss_bytes as f64 - mean_y);
        variance += dx * dx;
    }
    if steps.len() < 2 || variance == 0.0 {
        return None;
    }
    let per_socket_bytes = covariance / variance;
    Some(LineFit {
        fixed_bytes: mean_y - per_socket_bytes * mean_x,
        per_socket_bytes,
    })
}

/// The socket count the report projects the line to (issue 19: "100 k sockets on paper").
pub const PROJECTED_SOCKETS: usize = 100_000;

/// The report's lines for one target: RSS at each step, the line, the projection.
pub fn describe(target: &str, steps: &[IdleStep]) -> Vec<String> {
    let mut lines = vec![format!(
        "{target}: RSS at {}",
        steps
            .iter()
            .map(|step| format!(
                "{} idle sockets {:.1} MB",
                step.sockets,
                step.rss_bytes as f64 / 1e6
            ))
            .collect::<Vec<_>>()
            .join(", ")
    )];
    if let Some(line) = fit(steps) {
        lines.push(format!(
            "{target}: fit RSS = {:.1} MB + {:.2} KB × sockets; {} sockets → {:.0} MB",
            line.fixed_bytes / 1e6,
            line.per_socket_bytes / 1e3,
            PROJECTED_SOCKETS,
            line.project(PROJECTED_SOCKETS) / 1e6
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(sockets: usize, rss_bytes: u64) -> IdleStep {
        IdleStep { sockets, rss_bytes }
    }

    #[test]
    fn a_straight_line_is_found_exactly() {
        let steps = [
            step(5_000, 80_000_000),
            step(10_000, 130_000_000),
            step(18_000, 210_000_000),
        ];
        let line = fit(&steps).unwrap();
        assert!((line.fixed_bytes - 30_000_000.0).abs() < 1e-3);
        assert!((line.per_socket_bytes - 10_000.0).abs() < 1e-9);
        assert!((line.project(100_000) - 1_030_000_000.0).abs() < 1e-2);
    }

    #[test]
    fn scattered_steps_get_the_least_squares_line() {
        // y = 1 + 2x with residuals +1, -2, +1: the fit is the line itself.
        let steps = [step(0, 2), step(1, 1), step(2, 6)];
        let line = fit(&steps).unwrap();
        assert!((line.per_socket_bytes - 2.0).abs() < 1e-9);
        assert!((line.fixed_bytes - 1.0).abs() < 1e-9);
    }

    #[test]
    fn no_line_without_two_socket_counts() {
        assert_eq!(fit(&[]), None);
        assert_eq!(fit(&[step(5, 1)]), None);
        assert_eq!(fit(&[step(5, 1), step(5, 2)]), None);
        assert_eq!(describe("t", &[step(5, 1_000_000)]).len(), 1);
    }
}
