//! Statistics of `hybrid-e2e regress`: tell a real timing regression from CI-runner noise.
//!
//! A *series* is the timing of one (service, phase, step) over the nightly runs, oldest first. Every run is
//! judged against the runs before it only, so a report of night *t* never changes when later nights arrive.
//! Failed and cancelled runs are counted but excluded from every statistic (they are skipped, so they neither
//! break nor extend a streak of breaches).
//!
//! Two rules; a run is a **regression** (or, symmetrically, an **improvement**) when either confirms:
//!
//! 1. **Threshold rule** (issue 15, `style-and-crates.md` §B.14). Median and scaled MAD (×1.4826) of the last
//!    [`Params::window`] completed runs before the current one. The run *breaches* when
//!    `current − median > max(k·MAD, min_ratio·median, floor_seconds)` (or `median − current > …`).
//!    [`Params::consecutive`] breaches in a row, in the same direction, confirm. Catches large steps after
//!    `consecutive` runs; one run alone never confirms.
//! 2. **Change-point rule** ([`ChangePointParams`]). For each split that puts the last *m* runs
//!    (`min_segment ≤ m ≤ max_segment`) after a change, a one-sided Student t-test (pooled variance) of those
//!    *m* runs against the up to `baseline` runs before them, on values winsorized at
//!    `baseline median ± winsor_k·MAD`, Bonferroni-corrected over the splits tried. Confirmed when the
//!    adjusted p-value ≤ `alpha` and three effect conditions hold: the median of the *m* runs is at least
//!    `max(min_ratio·median, floor_seconds)` beyond the baseline median; without the most extreme of the *m*
//!    runs, the conservative median of the others is still half that far; and the current run is beyond the
//!    rolling median of rule 1 (so a run equal to that median never flags). It pools the evidence of several
//!    runs, so it finds the +15 % steps (≈ 2σ of ±20 % noise) that no single-run threshold sees without
//!    drowning in false alarms, and the winsorization and the second condition keep one outlier night from
//!    carrying a change. Deterministic: closed-form Student t tail, no permutations, no RNG.
//!
//! Also p50/p95 (linear interpolation between order statistics, numpy's default), the share of runs over a
//! target, and the trend as a Theil–Sen slope over timestamps (robust to outlier nights, unlike least
//! squares), in seconds per week.
//!
//! Defaults are the (k 3, p 10 %, floor 5 s, M 2) except the window: 28 runs rather than 14,
//! which lowers the false alarms on pure noise at the same power (measured against E-Divisive and
//! Otava on the same simulated series: docs/regress.md, "How it compares"); `window: 14` restores it.
//!
//! Cost per series of n runs: [`summarize`] is O(W² + c·N log N + S·B) with W = `trend_window` and c the
//! length of the current breach streak; [`decide_all`] (every run, for charts and the simulation harness) is
//! O(n·(N log N + S·B)) with S = `max_segment − min_segment + 1`.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

/// Makes the MAD a consistent estimator of the standard deviation of normal data.
pub(crate) const MAD_SCALE: f64 = 1.4826;
/// Seconds in a week: the unit of [`SeriesStats::slope_seconds_per_week`].
pub(crate) const SECONDS_PER_WEEK: f64 = 604_800.0;

/// How a run ended, as far as one series is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Outcome {
    /// `ok` or `over-target`: the duration is a valid sample.
    Completed,
    Failed,
    Cancelled,
}

/// One run of one series.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Run {
    /// Duration in seconds (ignored unless `outcome` is [`Outcome::Completed`]).
    pub(crate) seconds: f64,
    /// When the run started, in seconds since the Unix epoch (orders the history and scales the trend).
    pub(crate) timestamp: f64,
    pub(crate) outcome: Outcome,
}

/// Verdict for a series (and, worst first, for a whole report).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Verdict {
    Regression,
    Improvement,
    Ok,
    InsufficientData,
}

/// Which rule confirmed a regression or improvement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Rule {
    Threshold,
    ChangePoint,
}

/// Direction of a breach or change: `Up` is slower (a regression), `Down` faster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Direction {
    Up,
    Down,
}

impl Direction {
    fn sign(self) -> f64 {
        match self {
            Direction::Up => 1.0,
            Direction::Down => -1.0,
        }
    }

    fn status(self) -> Verdict {
        match self {
            Direction::Up => Verdict::Regression,
            Direction::Down => Verdict::Improvement,
        }
    }
}

/// Thresholds of the threshold rule and the summaries (configurable per phase).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct Params {
    /// N: completed runs before the current one in the rolling median and MAD.
    pub(crate) window: usize,
    /// k: breach when the deviation exceeds k·MAD (scaled).
    pub(crate) k: f64,
    /// p: … and p·median (0.10 = 10 %).
    pub(crate) min_ratio: f64,
    /// … and this many seconds.
    pub(crate) floor_seconds: f64,
    /// M: breaches in a row, in one direction, that confirm a regression or an improvement.
    pub(crate) consecutive: usize,
    /// Completed runs needed before the current one; fewer gives `insufficient-data`.
    pub(crate) min_runs: usize,
    /// Newest completed runs (the current one included) in p50, p95 and the over-target share.
    pub(crate) summary_window: usize,
    /// Newest completed runs (the current one included) in the trend slope (cost is quadratic in it).
    pub(crate) trend_window: usize,
    /// The change-point rule; `None` (`null`) turns it off.
    pub(crate) change_point: Option<ChangePointParams>,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            window: 28,
            k: 3.0,
            min_ratio: 0.10,
            floor_seconds: 5.0,
            consecutive: 2,
            min_runs: 7,
            summary_window: 30,
            trend_window: 56,
            change_point: Some(ChangePointParams::default()),
        }
    }
}

/// Parameters of the change-point rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ChangePointParams {
    /// Fewest runs after the change that may confirm it (a single run never does: keep ≥ 2).
    pub(crate) min_segment: usize,
    /// Most runs after the change that are tested (the rule looks back this far for the change).
    pub(crate) max_segment: usize,
    /// Completed runs before the change in the comparison (the baseline), at most.
    pub(crate) baseline: usize,
    /// … and at least.
    pub(crate) min_baseline: usize,
    /// Significance: one-sided p-value, Bonferroni-adjusted over the splits tried.
    pub(crate) alpha: f64,
    /// Values are winsorized at baseline median ± winsor_k·MAD before the t-test.
    pub(crate) winsor_k: f64,
}

impl Default for ChangePointParams {
    fn default() -> Self {
        ChangePointParams {
            min_segment: 3,
            max_segment: 8,
            baseline: 56,
            min_baseline: 10,
            alpha: 0.002,
            winsor_k: 3.0,
        }
    }
}

/// A parameter that makes no sense.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid regression parameters: {0}")]
pub(crate) struct ParamsError(String);

impl Params {
    /// Checks the parameters (call once after reading them from a configuration).
    pub(crate) fn validate(&self) -> Result<(), ParamsError> {
        let err = |m: &str| Err(ParamsError(m.to_owned()));
        let finite_non_negative = |x: f64| x.is_finite() && x >= 0.0;
        if self.window < 2 {
            return err("window must be at least 2");
        }
        if self.min_runs < 2 {
            return err("min_runs must be at least 2");
        }
        if self.consecutive == 0 {
            return err("consecutive must be at least 1");
        }
        if !finite_non_negative(self.k) || !finite_non_negative(self.min_ratio) {
            return err("k and min_ratio must be finite and non-negative");
        }
        if !(self.floor_seconds.is_finite() && self.floor_seconds > 0.0) {
            return err("floor_seconds must be positive (a run equal to the median must never breach)");
        }
        if self.summary_window == 0 || self.trend_window < 2 {
            return err("summary_window must be at least 1 and trend_window at least 2");
        }
        if let Some(cp) = &self.change_point {
            if cp.min_segment < 2 || cp.max_segment < cp.min_segment {
                return err("change_point needs 2 <= min_segment <= max_segment");
            }
            if cp.min_baseline < 2 || cp.baseline < cp.min_baseline {
                return err("change_point needs 2 <= min_baseline <= baseline");
            }
            if !(cp.alpha > 0.0 && cp.alpha < 1.0 && cp.winsor_k.is_finite() && cp.winsor_k > 0.0) {
                return err("change_point needs 0 < alpha < 1 and winsor_k > 0");
            }
        }
        Ok(())
    }
}

/// Rolling reference of one run: the completed runs before it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub(crate) struct Baseline {
    pub(crate) median: f64,
    /// Scaled MAD (×1.4826).
    pub(crate) mad: f64,
    /// Runs it was computed from (≤ `window`).
    pub(crate) runs: usize,
}

/// A change confirmed by the change-point rule.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub(crate) struct ChangePoint {
    pub(crate) direction: Direction,
    /// Index (among the completed runs) of the first run at the new level.
    pub(crate) start: usize,
    /// Runs at the new level, the current one included.
    pub(crate) runs_after: usize,
    /// Median of the baseline runs before the change.
    pub(crate) median_before: f64,
    /// Median of the runs after it.
    pub(crate) median_after: f64,
    /// Student t statistic (on winsorized values).
    pub(crate) t: f64,
    /// One-sided p-value, Bonferroni-adjusted.
    pub(crate) p_value: f64,
}

/// The decision for one run, from the runs before it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub(crate) struct Decision {
    pub(crate) seconds: f64,
    pub(crate) baseline: Option<Baseline>,
    /// `max(k·MAD, min_ratio·median, floor_seconds)`.
    pub(crate) threshold: Option<f64>,
    pub(crate) breach: Option<Direction>,
    /// Breaches in a row in `breach`'s direction, this run included (0 without a breach).
    pub(crate) consecutive_breaches: usize,
    pub(crate) change_point: Option<ChangePoint>,
    pub(crate) status: Verdict,
    /// What confirmed `status` (the threshold rule when both did).
    pub(crate) rule: Option<Rule>,
}

/// Median of values sorted ascending (`None` when empty).
pub(crate) fn median_sorted(sorted: &[f64]) -> Option<f64> {
    let n = sorted.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(sorted[n / 2]),
        _ => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// Median of values in any order.
#[cfg(test)]
pub(crate) fn median(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    median_sorted(&v)
}

/// Scaled median absolute deviation (×1.4826) of values in any order.
#[cfg(test)]
pub(crate) fn scaled_mad(values: &[f64]) -> Option<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let m = median_sorted(&v)?;
    Some(scaled_mad_sorted(&v, m))
}

/// Percentile `q` in [0, 1] of values sorted ascending, by linear interpolation between order statistics
/// (Hyndman–Fan type 7, numpy's and Excel's default).
pub(crate) fn percentile_sorted(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

/// Share of values strictly over `target`.
pub(crate) fn over_target_share(values: &[f64], target: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(values.iter().filter(|&&v| v > target).count() as f64 / values.len() as f64)
}

/// Theil–Sen slope (median of the pairwise slopes) of `(timestamp, value)` points, in value units per
/// timestamp unit; pairs with equal timestamps are skipped. O(n²) time and memory; `None` without two
/// distinct timestamps.
pub(crate) fn theil_sen_slope(points: &[(f64, f64)]) -> Option<f64> {
    let mut slopes = Vec::with_capacity(points.len() * points.len().saturating_sub(1) / 2);
    for (i, &(ti, yi)) in points.iter().enumerate() {
        for &(tj, yj) in &points[i + 1..] {
            let dt = tj - ti;
            if dt != 0.0 {
                slopes.push((yj - yi) / dt);
            }
        }
    }
    let n = slopes.len();
    if n == 0 {
        return None;
    }
    let (_, &mut upper, _) = slopes.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        return Some(upper);
    }
    let lower = slopes[..n / 2].iter().copied().max_by(f64::total_cmp)?;
    Some((lower + upper) / 2.0)
}

/// Upper tail of Student's t distribution, P(T > t), with `df` > 0 degrees of freedom.
pub(crate) fn student_t_sf(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if t == f64::INFINITY {
        return 0.0;
    }
    if t == f64::NEG_INFINITY {
        return 1.0;
    }
    let tail = 0.5 * regularized_incomplete_beta(df / (df + t * t), df / 2.0, 0.5);
    if t >= 0.0 { tail } else { 1.0 - tail }
}

/// ln Γ(x) for x > 0 (Lanczos approximation, g = 7, 9 terms; relative error below 1e-13).
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = C[0];
    for (i, c) in C.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// I_x(a, b), the regularized incomplete beta function, by its continued fraction (modified Lentz).
fn regularized_incomplete_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    // The continued fraction converges fast for x < (a + 1) / (a + b + 2); use the symmetry otherwise.
    if x > (a + 1.0) / (a + b + 2.0) {
        return 1.0 - regularized_incomplete_beta(1.0 - x, b, a);
    }
    let ln_front = ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln();
    const TINY: f64 = 1e-300;
    let guard = |v: f64| if v.abs() < TINY { TINY } else { v };
    let mut c = 1.0;
    let mut d = 1.0 / guard(1.0 - (a + b) * x / (a + 1.0));
    let mut h = d;
    for m in 1..=500 {
        let m = m as f64;
        let even = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        d = 1.0 / guard(1.0 + even * d);
        c = guard(1.0 + even / c);
        h *= d * c;
        let odd = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        d = 1.0 / guard(1.0 + odd * d);
        c = guard(1.0 + odd / c);
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < 1e-15 {
            break;
        }
    }
    (ln_front.exp() * h / a).clamp(0.0, 1.0)
}

/// Reusable buffers of the per-run computations.
#[derive(Default)]
struct Scratch {
    sorted: Vec<f64>,
    after: Vec<f64>,
}

/// Rolling baseline and threshold of run `t` (`None` with fewer than `min_runs` runs before it).
fn threshold_at(values: &[f64], t: usize, p: &Params, s: &mut Scratch) -> Option<(Baseline, f64)> {
    if t < p.min_runs {
        return None;
    }
    let window = &values[t.saturating_sub(p.window)..t];
    s.sorted.clear();
    s.sorted.extend_from_slice(window);
    s.sorted.sort_by(f64::total_cmp);
    let median = median_sorted(&s.sorted)?;
    let mad = scaled_mad_sorted(&s.sorted, median);
    let threshold = (p.k * mad).max(p.min_ratio * median.abs()).max(p.floor_seconds);
    Some((
        Baseline {
            median,
            mad,
            runs: window.len(),
        },
        threshold,
    ))
}

fn breach_of(x: f64, baseline: &Baseline, threshold: f64) -> Option<Direction> {
    let deviation = x - baseline.median;
    if deviation > threshold {
        Some(Direction::Up)
    } else if -deviation > threshold {
        Some(Direction::Down)
    } else {
        None
    }
}

/// The change-point rule at run `t` (see the module documentation). The baseline of the split with m runs
/// after the change is `values[start − baseline .. start]`, start = t + 1 − m; it is kept sorted from one m
/// to the next (one removal and one insertion), so a run costs O(S·B) rather than O(S·B log B).
fn change_point_at(
    values: &[f64],
    t: usize,
    rolling_median: f64,
    p: &Params,
    cp: &ChangePointParams,
    s: &mut Scratch,
) -> Option<ChangePoint> {
    let tries = (cp.max_segment - cp.min_segment + 1) as f64;
    let current = values[t];
    let first_start = (t + 1).checked_sub(cp.min_segment)?;
    if first_start < cp.min_baseline {
        return None;
    }
    s.sorted.clear();
    s.sorted
        .extend_from_slice(&values[first_start.saturating_sub(cp.baseline)..first_start]);
    s.sorted.sort_by(f64::total_cmp);
    let mut best: Option<ChangePoint> = None;
    for m in cp.min_segment..=cp.max_segment {
        let Some(start) = (t + 1).checked_sub(m).filter(|&start| start >= cp.min_baseline) else {
            break; // longer segments leave even less baseline
        };
        if m > cp.min_segment {
            // The newest baseline run moves into the segment; one older run joins the baseline.
            remove_sorted(&mut s.sorted, values[start]);
            if start >= cp.baseline {
                insert_sorted(&mut s.sorted, values[start - cp.baseline]);
            }
        }
        let base = &s.sorted;
        let after = &values[start..=t];
        let Some(median_before) = median_sorted(base) else {
            continue;
        };
        let spread = scaled_mad_sorted(base, median_before);
        let (lo, hi) = (
            median_before - cp.winsor_k * spread,
            median_before + cp.winsor_k * spread,
        );
        let (mean_b, ss_b) = mean_and_sum_of_squares(base.iter().map(|x| x.clamp(lo, hi)));
        let (mean_a, ss_a) = mean_and_sum_of_squares(after.iter().map(|x| x.clamp(lo, hi)));
        let (nb, na) = (base.len() as f64, m as f64);
        let df = nb + na - 2.0;
        let se = ((ss_b + ss_a) / df * (1.0 / nb + 1.0 / na)).sqrt();
        let diff = mean_a - mean_b;
        let t_stat = if se > 0.0 {
            diff / se
        } else if diff == 0.0 {
            0.0
        } else {
            diff.signum() * f64::INFINITY
        };
        let direction = match t_stat.partial_cmp(&0.0) {
            Some(Ordering::Greater) => Direction::Up,
            Some(Ordering::Less) => Direction::Down,
            _ => continue,
        };
        let sign = direction.sign();
        let min_shift = (p.min_ratio * median_before.abs()).max(p.floor_seconds);
        s.after.clear();
        s.after.extend_from_slice(after);
        s.after.sort_by(f64::total_cmp);
        let Some(median_after) = median_sorted(&s.after) else {
            continue;
        };
        // Without the most extreme run after the change (the slowest for an increase), the conservative
        // median of the others (the lower one of an even count for an increase) must still be half the
        // minimum shift away: one outlier night among them cannot carry the change.
        let others = match direction {
            Direction::Up => &s.after[..m - 1],
            Direction::Down => &s.after[1..],
        };
        let robust = match direction {
            Direction::Up => others[(others.len() - 1) / 2],
            Direction::Down => others[others.len() / 2],
        };
        if sign * (median_after - median_before) < min_shift
            || sign * (robust - median_before) < 0.5 * min_shift
            || sign * (current - rolling_median) <= 0.0
        {
            continue;
        }
        let p_value = (student_t_sf(t_stat.abs(), df) * tries).min(1.0);
        if p_value > cp.alpha || best.is_some_and(|b| b.p_value <= p_value) {
            continue;
        }
        best = Some(ChangePoint {
            direction,
            start,
            runs_after: m,
            median_before,
            median_after,
            t: t_stat,
            p_value,
        });
    }
    best
}

fn insert_sorted(sorted: &mut Vec<f64>, x: f64) {
    let i = sorted.partition_point(|v| v.total_cmp(&x) == Ordering::Less);
    sorted.insert(i, x);
}

fn remove_sorted(sorted: &mut Vec<f64>, x: f64) {
    let i = sorted.partition_point(|v| v.total_cmp(&x) == Ordering::Less);
    if sorted.get(i).is_some_and(|v| v.total_cmp(&x) == Ordering::Equal) {
        sorted.remove(i);
    }
}

/// Scaled MAD of values sorted ascending around their median, in O(n): the absolute deviations are read in
/// ascending order by walking outwards from the median (a merge of the two halves).
fn scaled_mad_sorted(sorted: &[f64], median: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return 0.0;
    }
    let want_hi = n / 2; // index of the upper middle deviation; the lower one is want_hi − 1 for even n
    let mut right = sorted.partition_point(|v| *v < median);
    let mut left = right; // deviations on the left are sorted[left − 1], sorted[left − 2], …
    let (mut prev, mut k) = (0.0, 0);
    loop {
        let take_left = match (left.checked_sub(1), sorted.get(right)) {
            (Some(l), Some(r)) => median - sorted[l] <= r - median,
            (Some(_), None) => true,
            _ => false,
        };
        let d = if take_left {
            left -= 1;
            median - sorted[left]
        } else {
            right += 1;
            sorted[right - 1] - median
        };
        if k == want_hi {
            let mad = if n % 2 == 1 { d } else { (prev + d) / 2.0 };
            return mad * MAD_SCALE;
        }
        prev = d;
        k += 1;
    }
}

/// Mean and sum of squared deviations from it (two passes over a cloned iterator).
fn mean_and_sum_of_squares(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let (n, sum) = values.clone().fold((0usize, 0.0), |(n, s), x| (n + 1, s + x));
    if n == 0 {
        return (f64::NAN, 0.0);
    }
    let mean = sum / n as f64;
    (mean, values.map(|x| (x - mean) * (x - mean)).sum())
}

fn combine(
    seconds: f64,
    base: Option<(Baseline, f64)>,
    breach: Option<Direction>,
    consecutive_breaches: usize,
    change_point: Option<ChangePoint>,
    p: &Params,
) -> Decision {
    let (status, rule) = match (breach, change_point) {
        (_, _) if base.is_none() => (Verdict::InsufficientData, None),
        (Some(d), _) if consecutive_breaches >= p.consecutive => (d.status(), Some(Rule::Threshold)),
        (_, Some(c)) => (c.direction.status(), Some(Rule::ChangePoint)),
        _ => (Verdict::Ok, None),
    };
    Decision {
        seconds,
        baseline: base.map(|b| b.0),
        threshold: base.map(|b| b.1),
        breach,
        consecutive_breaches,
        change_point,
        status,
        rule,
    }
}

/// Decisions for every run of a series of completed durations, oldest first; run `t` sees `values[..=t]`.
/// For charts and for replaying history (the simulation harness). Values must be finite.
pub(crate) fn decide_all(values: &[f64], p: &Params) -> Vec<Decision> {
    let mut s = Scratch::default();
    let mut out: Vec<Decision> = Vec::with_capacity(values.len());
    for (t, &x) in values.iter().enumerate() {
        let base = threshold_at(values, t, p, &mut s);
        let breach = base.and_then(|(b, thr)| breach_of(x, &b, thr));
        let consecutive = match (breach, out.last()) {
            (None, _) => 0,
            (Some(d), Some(prev)) if prev.breach == Some(d) => prev.consecutive_breaches + 1,
            (Some(_), _) => 1,
        };
        let change_point = match (&p.change_point, base) {
            (Some(cp), Some((b, _))) => change_point_at(values, t, b.median, p, cp, &mut s),
            _ => None,
        };
        out.push(combine(x, base, breach, consecutive, change_point, p));
    }
    out
}

/// The decision for the newest of a series of completed durations (oldest first): the same as the last
/// element of [`decide_all`], at the cost of the current breach streak only. `None` when `values` is empty.
pub(crate) fn decide_last(values: &[f64], p: &Params) -> Option<Decision> {
    let t = values.len().checked_sub(1)?;
    let mut s = Scratch::default();
    let base = threshold_at(values, t, p, &mut s);
    let breach = base.and_then(|(b, thr)| breach_of(values[t], &b, thr));
    let mut consecutive = usize::from(breach.is_some());
    if let Some(d) = breach {
        for j in (0..t).rev() {
            match threshold_at(values, j, p, &mut s) {
                Some((b, thr)) if breach_of(values[j], &b, thr) == Some(d) => consecutive += 1,
                _ => break,
            }
        }
    }
    let change_point = match (&p.change_point, base) {
        (Some(cp), Some((b, _))) => change_point_at(values, t, b.median, p, cp, &mut s),
        _ => None,
    };
    Some(combine(values[t], base, breach, consecutive, change_point, p))
}

/// How many runs a series has, and what became of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct RunCounts {
    pub(crate) total: usize,
    /// In the statistics.
    pub(crate) completed: usize,
    pub(crate) failed: usize,
    pub(crate) cancelled: usize,
    /// Completed but with a duration that is not a finite non-negative number (excluded).
    pub(crate) invalid: usize,
}

/// Everything `regress.json` says about one series.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub(crate) struct SeriesStats {
    pub(crate) status: Verdict,
    pub(crate) rule: Option<Rule>,
    /// The newest completed run.
    pub(crate) current_seconds: Option<f64>,
    pub(crate) current_timestamp: Option<f64>,
    /// Rolling median and scaled MAD of the runs before the current one.
    pub(crate) median_seconds: Option<f64>,
    pub(crate) mad_seconds: Option<f64>,
    pub(crate) threshold_seconds: Option<f64>,
    /// `(current − median) / median`.
    pub(crate) change_ratio: Option<f64>,
    pub(crate) consecutive_breaches: usize,
    pub(crate) runs: RunCounts,
    /// Over the newest `summary_window` completed runs, the current one included.
    pub p50_seconds: Option<f64>,
    pub p95_seconds: Option<f64>,
    pub(crate) over_target_share: Option<f64>,
    /// Theil–Sen slope over the newest `trend_window` completed runs.
    pub(crate) slope_seconds_per_week: Option<f64>,
    pub(crate) change_point: Option<ChangePoint>,
}

/// Summarizes one series. `runs` may come in any order (they are ordered by timestamp, then duration);
/// the current run is the newest completed one. `target_seconds` is the DD-TEST-002 target of the series.
pub(crate) fn summarize(runs: &[Run], target_seconds: Option<f64>, p: &Params) -> SeriesStats {
    let mut counts = RunCounts {
        total: runs.len(),
        ..RunCounts::default()
    };
    let mut completed: Vec<(f64, f64)> = Vec::with_capacity(runs.len());
    for r in runs {
        match r.outcome {
            Outcome::Failed => counts.failed += 1,
            Outcome::Cancelled => counts.cancelled += 1,
            Outcome::Completed if r.seconds.is_finite() && r.seconds >= 0.0 && r.timestamp.is_finite() => {
                completed.push((r.timestamp, r.seconds));
            }
            Outcome::Completed => counts.invalid += 1,
        }
    }
    counts.completed = completed.len();
    completed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let values: Vec<f64> = completed.iter().map(|c| c.1).collect();

    let mut recent: Vec<f64> = values[values.len().saturating_sub(p.summary_window)..].to_vec();
    recent.sort_by(f64::total_cmp);
    let decision = decide_last(&values, p);
    let baseline = decision.and_then(|d| d.baseline);
    let current = values.last().copied();
    SeriesStats {
        status: decision.map_or(Verdict::InsufficientData, |d| d.status),
        rule: decision.and_then(|d| d.rule),
        current_seconds: current,
        current_timestamp: completed.last().map(|c| c.0),
        median_seconds: baseline.map(|b| b.median),
        mad_seconds: baseline.map(|b| b.mad),
        threshold_seconds: decision.and_then(|d| d.threshold),
        change_ratio: match (current, baseline) {
            (Some(c), Some(b)) if b.median != 0.0 => Some((c - b.median) / b.median),
            _ => None,
        },
        consecutive_breaches: decision.map_or(0, |d| d.consecutive_breaches),
        runs: counts,
        p50_seconds: percentile_sorted(&recent, 0.50),
        p95_seconds: percentile_sorted(&recent, 0.95),
        over_target_share: target_seconds.and_then(|target| over_target_share(&recent, target)),
        slope_seconds_per_week: theil_sen_slope(&completed[completed.len().saturating_sub(p.trend_window)..])
            .map(|s| s * SECONDS_PER_WEEK),
        change_point: decision.and_then(|d| d.change_point),
    }
}

#[cfg(test)]
mod tests;
