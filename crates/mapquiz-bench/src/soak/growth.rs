//! The rule that fails a soak when a resource keeps growing.
//!
//! Samples taken during the warm-up (the first `warmup` seconds: caches fill, pools open, the allocator
//! settles) are left out. On the rest, for each series:
//!
//! - `allowed` = max(`absolute`, `relative` × the series' mean over the steady part);
//! - `projected` = the least-squares slope × the steady part's length: what the trend adds over the run;
//! - `rise` = mean of the last tenth of the steady samples − mean of the first tenth;
//! - the series **keeps growing**, and the soak fails, when `projected > allowed` **and** `rise > allowed`.
//!
//! Both must hold: a slope alone is swayed by a burst near either end, a rise alone by where the windows
//! happen to fall in the load's cycle (a lobby round starting or ending).

use serde::Serialize;

/// Fewer steady samples than this give no verdict (the run was too short to tell); the series passes.
pub const MIN_SAMPLES: usize = 10;

/// How much a series may grow over a run before it counts as growing: the larger of the two.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Tolerance {
    /// In the series' unit.
    pub absolute: f64,
    /// A fraction of the series' steady mean.
    pub relative: f64,
}

/// One series' figures and verdict.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    /// The series (`server RSS`, `open file descriptors`, ...).
    pub name: String,
    /// Its unit (`MiB`, `fds`, ...).
    pub unit: String,
    /// Steady samples the verdict is drawn from.
    pub samples: usize,
    /// Mean over the steady part.
    pub warm_mean: f64,
    /// Least-squares slope, unit per hour.
    pub slope_per_hour: f64,
    /// Slope × the steady part's length.
    pub projected: f64,
    /// Last tenth's mean − first tenth's mean.
    pub rise: f64,
    /// The growth tolerated over the run.
    pub allowed: f64,
    /// The fitted line's ends over the steady part, `[[seconds, value]; 2]`, for the plot.
    pub fit: [[f64; 2]; 2],
    /// Whether the series kept growing (the soak fails).
    pub growing: bool,
    /// Too few samples for a verdict.
    pub inconclusive: bool,
}

impl Verdict {
    /// One report line.
    pub fn line(&self) -> String {
        if self.inconclusive {
            return format!("{}: only {} steady samples, no verdict", self.name, self.samples);
        }
        format!(
            "{}: warm mean {:.1} {u}, slope {:+.2} {u}/h, projected {:+.1} {u}, rise {:+.1} {u}, allowed {:.1} {u} … {}",
            self.name,
            self.warm_mean,
            self.slope_per_hour,
            self.projected,
            self.rise,
            self.allowed,
            if self.growing { "KEEPS GROWING" } else { "steady" },
            u = self.unit,
        )
    }
}

/// Judges `points` (`(seconds, value)`, in time order) by the rule above.
pub fn judge(name: &str, unit: &str, points: &[(f64, f64)], warmup_secs: f64, tolerance: Tolerance) -> Verdict {
    let steady: Vec<(f64, f64)> = points.iter().copied().filter(|(t, _)| *t >= warmup_secs).collect();
    let n = steady.len();
    let mean = |s: &[(f64, f64)]| if s.is_empty() { 0.0 } else { s.iter().map(|p| p.1).sum::<f64>() / s.len() as f64 };
    let warm_mean = mean(&steady);
    let allowed = tolerance.absolute.max(tolerance.relative * warm_mean.abs());
    let mut verdict = Verdict {
        name: name.to_owned(),
        unit: unit.to_owned(),
        samples: n,
        warm_mean,
        slope_per_hour: 0.0,
        projected: 0.0,
        rise: 0.0,
        allowed,
        fit: [[0.0; 2]; 2],
        growing: false,
        inconclusive: n < MIN_SAMPLES,
    };
    if verdict.inconclusive {
        return verdict;
    }
    let (slope, intercept) = fit(&steady);
    let (from, to) = (steady[0].0, steady[n - 1].0);
    let span = to - from;
    verdict.fit = [[from, intercept + slope * from], [to, intercept + slope * to]];
    let window = (n / 10).max(1);
    verdict.slope_per_hour = slope * 3600.0;
    verdict.projected = slope * span;
    verdict.rise = mean(&steady[n - window..]) - mean(&steady[..window]);
    verdict.growing = verdict.projected > allowed && verdict.rise > allowed;
    verdict
}

/// The least-squares line of `points`: slope (unit per second; 0 when time does not vary) and intercept.
fn fit(points: &[(f64, f64)]) -> (f64, f64) {
    let n = points.len() as f64;
    let (mt, mv) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let (mut cov, mut var) = (0.0, 0.0);
    for (t, v) in points {
        cov += (t - mt) * (v - mv);
        var += (t - mt) * (t - mt);
    }
    let slope = if var > 0.0 { cov / var } else { 0.0 };
    (slope, mv - slope * mt)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOL: Tolerance = Tolerance { absolute: 5.0, relative: 0.0 };

    fn series(f: impl Fn(f64) -> f64) -> Vec<(f64, f64)> {
        (0..600).map(|s| (f64::from(s), f(f64::from(s)))).collect()
    }

    #[test]
    fn a_steady_leak_fails() {
        // 0.02 per second: 10.8 over the 540 steady seconds, beyond 5.
        let v = judge("x", "u", &series(|t| 100.0 + 0.02 * t), 60.0, TOL);
        assert!(v.growing, "{}", v.line());
        assert!((v.slope_per_hour - 72.0).abs() < 1e-6);
    }

    #[test]
    fn noise_and_a_flat_line_pass() {
        // A sawtooth of amplitude 20 (a load cycle) around a constant.
        let v = judge("x", "u", &series(|t| 100.0 + 20.0 * ((t / 37.0).fract() - 0.5)), 60.0, TOL);
        assert!(!v.growing, "{}", v.line());
    }

    #[test]
    fn growth_in_the_warm_up_only_passes() {
        let v = judge("x", "u", &series(|t| if t < 60.0 { t } else { 60.0 }), 60.0, TOL);
        assert!(!v.growing, "{}", v.line());
    }

    #[test]
    fn a_plateau_that_comes_back_down_passes() {
        // A long busy stretch late in the run tilts the fitted line, but the series ends where it began.
        let v = judge("x", "u", &series(|t| if t > 350.0 && t < 530.0 { 120.0 } else { 100.0 }), 60.0, TOL);
        assert!(v.projected > 5.0 && v.rise < 5.0, "{}", v.line());
        assert!(!v.growing, "{}", v.line());
    }

    #[test]
    fn the_relative_tolerance_scales_with_the_mean() {
        let tol = Tolerance { absolute: 1.0, relative: 0.05 };
        // 4 % of 1000 over the run: inside 5 %.
        let v = judge("x", "u", &series(|t| 1000.0 + 40.0 * t / 600.0), 0.0, tol);
        assert!(!v.growing, "{}", v.line());
        let v = judge("x", "u", &series(|t| 1000.0 + 80.0 * t / 600.0), 0.0, tol);
        assert!(v.growing, "{}", v.line());
    }

    #[test]
    fn too_few_samples_give_no_verdict() {
        let v = judge("x", "u", &[(0.0, 1.0), (1.0, 100.0)], 0.0, TOL);
        assert!(v.inconclusive && !v.growing);
    }
}
