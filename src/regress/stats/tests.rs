//! Tests of the regression statistics on fixed simulated series (issue 15, "Tests" and the acceptance criteria
//! measured against E-Divisive and Otava in `regress-sim`). The noise model is the issue's: every value is
//! base × N(1, 0.07), about ±20 % spread. A tiny deterministic PRNG keeps every series fixed.

use super::*;

/// xorshift64* with Box–Muller normals: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    fn below(&mut self, n: usize) -> usize {
        (self.uniform() * n as f64) as usize % n
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

const SIGMA: f64 = 0.07;
const NIGHT: f64 = 86_400.0;

/// `n` nightly values of base × N(1, 0.07), base uniform in [60, 400) s (so 10 % of it is above the 5 s floor).
fn noise(rng: &mut Rng, n: usize) -> Vec<f64> {
    let base = 60.0 + 340.0 * rng.uniform();
    (0..n).map(|_| base * (1.0 + SIGMA * rng.normal())).collect()
}

fn step(rng: &mut Rng, n: usize, t0: usize, factor: f64) -> Vec<f64> {
    let mut v = noise(rng, n);
    v[t0..].iter_mut().for_each(|x| *x *= factor);
    v
}

fn flagged(d: &Decision) -> bool {
    matches!(d.status, Verdict::Regression | Verdict::Improvement)
}

/// Alarm events: runs that are flagged when the run before was not (in the same direction).
fn events(values: &[f64], p: &Params) -> Vec<(usize, Verdict)> {
    let mut out = Vec::new();
    let mut previous = Verdict::Ok;
    for (night, d) in decide_all(values, p).iter().enumerate() {
        if flagged(d) && d.status != previous {
            out.push((night, d.status));
        }
        previous = d.status;
    }
    out
}

/// Nights from `t0` to the first regression at or after it.
fn delay(values: &[f64], t0: usize, p: &Params) -> Option<usize> {
    decide_all(values, p)
        .iter()
        .enumerate()
        .skip(t0)
        .find(|(_, d)| d.status == Verdict::Regression)
        .map(|(n, _)| n - t0)
}

fn runs_of(values: &[f64]) -> Vec<Run> {
    values
        .iter()
        .enumerate()
        .map(|(i, &s)| Run {
            seconds: s,
            timestamp: 1.767e9 + i as f64 * NIGHT,
            outcome: Outcome::Completed,
        })
        .collect()
}

// ---- building blocks ----

#[test]
fn median_mad_and_percentiles_match_numpy() {
    let a = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0];
    assert_eq!(median(&a), Some(4.0));
    assert_eq!(median(&[1.0, 2.0, 3.0, 4.0]), Some(2.5));
    assert_eq!(median(&[]), None);
    // numpy: median(|a - 4|) = 1 -> 1.4826
    assert_eq!(scaled_mad(&a), Some(MAD_SCALE));
    assert_eq!(scaled_mad(&[1.0, 2.0, 3.0, 4.0]), Some(MAD_SCALE)); // deviations 1.5, 0.5, 0.5, 1.5
    let mut s = a.to_vec();
    s.sort_by(f64::total_cmp);
    // numpy.percentile(a, [95, 50, 10]) = 7.5, 4.0, 1.0
    assert_eq!(percentile_sorted(&s, 0.95), Some(7.5));
    assert_eq!(percentile_sorted(&s, 0.50), Some(4.0));
    assert_eq!(percentile_sorted(&s, 0.10), Some(1.0));
    assert_eq!(percentile_sorted(&[], 0.5), None);
    assert_eq!(percentile_sorted(&s, 1.5), None);
}

#[test]
fn linear_time_mad_equals_the_sorting_one() {
    let mut rng = Rng::new(1);
    for n in 1..60 {
        for _ in 0..20 {
            // integers make ties and an even count common
            let v: Vec<f64> = (0..n).map(|_| (rng.uniform() * 12.0).floor()).collect();
            let m = median(&v).unwrap_or(f64::NAN);
            let dev: Vec<f64> = v.iter().map(|x| (x - m).abs()).collect();
            let naive = median(&dev).unwrap_or(f64::NAN) * MAD_SCALE;
            assert_eq!(scaled_mad(&v), Some(naive), "{v:?}");
        }
    }
}

#[test]
fn student_t_tail_matches_scipy() {
    // scipy.stats.t.sf(t, df)
    let cases = [
        (2.0, 10.0, 0.036_694_017_385_370_18),
        (4.5, 28.0, 5.432_774_822_133_854e-05),
        (1.0, 1.0, 0.25),
        (3.0, 5.0, 0.015_049_623_948_731_293),
        (0.0, 7.0, 0.5),
        (6.0, 40.0, 2.363_227_566_394_090_3e-07),
        (2.5, 3.5, 0.037_847_321_904_745_01),
        (10.0, 30.0, 2.287_625_704_114_809e-11),
    ];
    for (t, df, want) in cases {
        let got = student_t_sf(t, df);
        assert!(((got - want) / want).abs() < 1e-9, "t={t} df={df}: {got} vs {want}");
        assert!((student_t_sf(-t, df) - (1.0 - want)).abs() < 1e-12);
    }
    assert_eq!(student_t_sf(f64::INFINITY, 3.0), 0.0);
}

#[test]
fn theil_sen_is_exact_on_a_line_and_ignores_outlier_nights() {
    let line: Vec<(f64, f64)> = (0..30).map(|i| (i as f64 * NIGHT, 100.0 + 2.0 * i as f64)).collect();
    let slope = theil_sen_slope(&line).unwrap_or(f64::NAN) * SECONDS_PER_WEEK;
    assert!((slope - 14.0).abs() < 1e-9, "{slope}");
    // Three outlier nights at the end barely move it (least squares would report a steep rise).
    let mut bumpy = line.clone();
    for p in bumpy.iter_mut().skip(27) {
        p.1 *= 1.6;
    }
    let slope = theil_sen_slope(&bumpy).unwrap_or(f64::NAN) * SECONDS_PER_WEEK;
    assert!((slope - 14.0).abs() < 2.0, "{slope}");
    // Equal timestamps are skipped; none distinct gives None.
    assert_eq!(theil_sen_slope(&[(1.0, 5.0), (1.0, 9.0)]), None);
    assert_eq!(theil_sen_slope(&[(1.0, 5.0), (1.0, 9.0), (2.0, 7.0)]), Some(0.0));
}

#[test]
fn params_defaults_partial_json_and_validation() {
    let p: Params = serde_json::from_str(r#"{"window": 14, "change_point": {"alpha": 0.005}}"#).unwrap_or_default();
    assert_eq!(p.window, 14);
    assert_eq!(p.k, 3.0);
    assert_eq!(
        p.change_point.as_ref().map(|c| (c.alpha, c.max_segment)),
        Some((0.005, 8))
    );
    let off: Params = serde_json::from_str(r#"{"change_point": null}"#).unwrap_or_default();
    assert!(off.change_point.is_none());
    assert!(
        serde_json::from_str::<Params>(r#"{"windw": 14}"#).is_err(),
        "unknown fields are rejected"
    );
    assert!(Params::default().validate().is_ok());
    assert!(
        Params {
            floor_seconds: 0.0,
            ..Params::default()
        }
        .validate()
        .is_err()
    );
    assert!(
        Params {
            consecutive: 0,
            ..Params::default()
        }
        .validate()
        .is_err()
    );
    let one_run = ChangePointParams {
        min_segment: 1,
        ..ChangePointParams::default()
    };
    assert!(
        Params {
            change_point: Some(one_run),
            ..Params::default()
        }
        .validate()
        .is_err()
    );
}

// ---- the rules on hand-made series ----

#[test]
fn constant_history_flags_a_step_beyond_the_floors_after_m_runs() {
    let p = Params::default();
    let mut v = vec![100.0; 20];
    assert_eq!(decide_last(&v, &p).map(|d| d.status), Some(Verdict::Ok));
    v.push(120.0);
    let d = decide_last(&v, &p).map(|d| (d.status, d.breach, d.consecutive_breaches));
    assert_eq!(d, Some((Verdict::Ok, Some(Direction::Up), 1)), "one run never confirms");
    v.push(120.0);
    let d = decide_last(&v, &p);
    assert_eq!(
        d.map(|d| (d.status, d.rule, d.consecutive_breaches)),
        Some((Verdict::Regression, Some(Rule::Threshold), 2))
    );
    // +4 s on 100 s is under both p·median (10 s) and the floor: never a breach.
    let mut small = vec![100.0; 20];
    small.extend([104.0; 10]);
    assert!(decide_all(&small, &p).iter().all(|d| d.breach.is_none()));
}

#[test]
fn improvements_are_symmetric() {
    let mut rng = Rng::new(7);
    let p = Params::default();
    let mut found = 0;
    for _ in 0..100 {
        let v = step(&mut rng, 70, 60, 0.7);
        let ds = decide_all(&v, &p);
        found += usize::from(ds[60..].iter().any(|d| d.status == Verdict::Improvement));
        assert!(ds[60..].iter().all(|d| d.status != Verdict::Regression));
    }
    assert!(found >= 98, "{found}/100 −30 % steps reported as improvements");
}

#[test]
fn insufficient_data_until_min_runs() {
    let p = Params::default();
    let v = vec![100.0; p.min_runs];
    assert!(decide_all(&v, &p).iter().all(|d| d.status == Verdict::InsufficientData));
    let s = summarize(&runs_of(&v), None, &p);
    assert_eq!((s.status, s.median_seconds), (Verdict::InsufficientData, None));
    assert_eq!(summarize(&[], None, &p).status, Verdict::InsufficientData);
}

#[test]
fn failed_and_cancelled_runs_are_excluded_but_counted() {
    let p = Params::default();
    let mut runs = runs_of(&[100.0; 20]);
    runs[5] = Run {
        seconds: 9_999.0,
        outcome: Outcome::Failed,
        ..runs[5]
    };
    runs[6] = Run {
        seconds: 0.5,
        outcome: Outcome::Cancelled,
        ..runs[6]
    };
    runs[7] = Run {
        seconds: f64::NAN,
        ..runs[7]
    };
    // A failed run between two slow runs does not break their streak.
    runs.push(Run {
        seconds: 130.0,
        timestamp: 1.8e9,
        outcome: Outcome::Completed,
    });
    runs.push(Run {
        seconds: 10.0,
        timestamp: 1.8e9 + NIGHT,
        outcome: Outcome::Failed,
    });
    runs.push(Run {
        seconds: 130.0,
        timestamp: 1.8e9 + 2.0 * NIGHT,
        outcome: Outcome::Completed,
    });
    let s = summarize(&runs, Some(120.0), &p);
    assert_eq!(
        s.runs,
        RunCounts {
            total: 23,
            completed: 19,
            failed: 2,
            cancelled: 1,
            invalid: 1
        }
    );
    assert_eq!((s.status, s.consecutive_breaches), (Verdict::Regression, 2));
    assert_eq!(
        (s.median_seconds, s.mad_seconds, s.current_seconds),
        (Some(100.0), Some(0.0), Some(130.0))
    );
    assert_eq!(s.change_ratio.map(|r| (r * 100.0).round()), Some(30.0));
    assert_eq!(
        s.over_target_share.map(|x| (x * 19.0).round()),
        Some(2.0),
        "2 of 19 completed runs over 120 s"
    );
    assert_eq!(s.p50_seconds, Some(100.0));
}

// ---- acceptance criteria, on simulated nights (figures from `regress-sim`, see the note) ----

/// Issue 15: pure noise over 100 nights for 15 services. The defaults were tuned to the frontier between this
/// and the +15 % power below: measured about 1.9 events per 1,500 nights against E-Divisive's 16.6 and
/// Otava's 5.8 on the same series. Ten independent fleets keep the test from resting on one lucky seed.
#[test]
fn pure_noise_raises_fewer_false_alarms_than_the_peers() {
    let p = Params::default();
    let mut rng = Rng::new(15);
    let fleets = 10;
    let mut total = 0;
    let mut up = 0;
    for _ in 0..fleets {
        for _ in 0..15 {
            let ev = events(&noise(&mut rng, 100), &p);
            total += ev.len();
            up += ev.iter().filter(|e| e.1 == Verdict::Regression).count();
        }
    }
    let per_fleet = total as f64 / fleets as f64;
    eprintln!("pure noise: {per_fleet:.1} alarms per 1,500 nights ({up} regressions in {fleets} fleets)");
    assert!(
        per_fleet <= 5.8,
        "{per_fleet} alarms per 15 × 100 nights (Otava 5.8, E-Divisive 16.6)"
    );
    // Without the change-point rule the threshold rule alone is quieter still.
    let quiet = Params {
        change_point: None,
        ..Params::default()
    };
    let mut rng = Rng::new(15);
    let alone: usize = (0..fleets * 15)
        .map(|_| events(&noise(&mut rng, 100), &quiet).len())
        .sum();
    assert!(
        alone as f64 / fleets as f64 <= 1.5,
        "{alone} threshold-rule alarms in {fleets} fleets"
    );
}

/// +30 % step in one phase: flagged after M runs (E-Divisive: median delay 0 nights, mean 0.44), for that
/// series only: the other phases see only their background false alarms (about 1.3 per 1,000 series-nights)
/// and the setup total, where load is a fifth, does not follow it (+6 %, under p = 10 %).
#[test]
fn a_30_percent_step_in_one_phase_flags_after_m_runs_and_only_that_series() {
    let p = Params::default();
    let mut rng = Rng::new(30);
    let (t0, n) = (60, 74);
    let bases = [("build", 150.0), ("cluster", 45.0), ("load", 60.0), ("deploy", 40.0)];
    let mut delays = Vec::new();
    let (mut early, mut others, mut setup) = (0, 0, 0);
    for _ in 0..200 {
        let mut phases: Vec<Vec<f64>> = bases
            .iter()
            .map(|&(_, base)| (0..n).map(|_| base * (1.0 + SIGMA * rng.normal())).collect())
            .collect();
        phases[2][t0..].iter_mut().for_each(|x| *x *= 1.3);
        let total: Vec<f64> = (0..n).map(|i| phases.iter().map(|v| v[i]).sum()).collect();
        delays.push(delay(&phases[2], t0, &p).unwrap_or(usize::MAX));
        let load = decide_all(&phases[2], &p);
        early += usize::from(load[t0].status == Verdict::Regression && load[t0 - 1].status != Verdict::Regression);
        for (_, v) in phases.iter().enumerate().filter(|&(i, _)| i != 2) {
            others += events(v, &p).iter().filter(|&&(night, _)| night >= t0).count();
        }
        setup += usize::from(events(&total, &p).iter().any(|&(night, _)| night >= t0));
    }
    delays.sort_unstable();
    let median_delay = delays[delays.len() / 2];
    let found: Vec<usize> = delays.iter().copied().filter(|&d| d < usize::MAX).collect();
    let mean = found.iter().sum::<usize>() as f64 / found.len() as f64;
    eprintln!(
        "+30 %: median delay {median_delay}, mean {mean:.2}, {} of 200 found; alarms after t0: {others} in 600 other \
         phases, {setup} of 200 setup totals; {early} on the first slow night",
        found.len()
    );
    assert_eq!(median_delay, p.consecutive - 1, "flagged after M runs");
    assert!(mean <= 0.44 + 1.0, "mean delay {mean} > E-Divisive's 0.44 + 1 night");
    assert!(found.len() >= 198, "{} of 200 found", found.len());
    // 600 series × 14 nights ≈ 8,400 series-nights of background (≈ 11 alarms expected at 1.3 per 1,000).
    assert!(others <= 25, "{others} alarms in phases without a change");
    // The setup total really moved (+18 s on ≈ 295 s: +6 % under 4 % noise); it is printed, not asserted.
}

/// +15 % (≈ 2σ): found within 7 nights in ≥ 90 % of 200 trials. Measured 94.6 % of 1,000 trials with 60 nights
/// of history (90.3 % with 30), E-Divisive 94 % with 30.
#[test]
fn a_15_percent_step_is_found_within_7_nights_in_90_percent_of_200_trials() {
    let p = Params::default();
    let mut rng = Rng::new(1515);
    let (t0, n) = (60, 74);
    let within = (0..200)
        .filter(|_| delay(&step(&mut rng, n, t0, 1.15), t0, &p).is_some_and(|d| d <= 7))
        .count();
    eprintln!("+15 %: {within} of 200 within 7 nights");
    assert!(within >= 180, "{within} of 200");
}

/// A single outlier night never flags by itself. Hard guarantee: while the other runs stay within ±4 % (no two
/// of them differ by p = 10 % of a median), an outlier of any size (×1.3 to ×3) flags nothing, on its night or
/// after.
/// With full noise, a neighbour beyond +10 % can pair with it as two slow runs do: the excess over the same
/// series without the outlier is measured (E-Divisive flags 98 % of these trials, Otava 100 %).
#[test]
fn a_single_outlier_night_never_flags() {
    let p = Params::default();
    let mut rng = Rng::new(16);
    let t0 = 60;
    let mut excess = 0;
    for trial in 0..200 {
        let base = 60.0 + 340.0 * rng.uniform();
        let factor = 1.3 + 1.7 * rng.uniform();
        let mut calm: Vec<f64> = (0..74)
            .map(|_| base * (1.0 + 0.04 * (2.0 * rng.uniform() - 1.0)))
            .collect();
        calm[t0] *= factor;
        if let Some((n, d)) = decide_all(&calm, &p).iter().enumerate().find(|(_, d)| flagged(d)) {
            let rel: Vec<String> = calm[n.saturating_sub(10)..=n]
                .iter()
                .map(|x| format!("{:.3}", x / base))
                .collect();
            panic!("trial {trial}: outlier ×{factor:.2} flagged at {n}: {d:?} {rel:?}");
        }
        let clean = noise(&mut rng, 74);
        let mut noisy = clean.clone();
        noisy[t0] *= 1.6;
        let near = |v: &[f64]| decide_all(v, &p)[t0..t0 + 3].iter().any(flagged);
        excess += usize::from(near(&noisy) && !near(&clean));
    }
    eprintln!("outlier with full noise: {excess} of 200 flagged within 2 nights beyond the same series without it");
    assert!(
        excess <= 12,
        "{excess} of 200 (measured 9 with seed 16; 3.5 % of 200 in regress-sim)"
    );
}

// ---- properties ----

/// Random histories with steps, outliers, drifts and ties.
fn random_history(rng: &mut Rng) -> Vec<f64> {
    let n = 2 + rng.below(120);
    let mut v = noise(rng, n);
    match rng.below(5) {
        0 => {
            let t0 = rng.below(n);
            let f = 0.6 + 0.8 * rng.uniform();
            v[t0..].iter_mut().for_each(|x| *x *= f);
        }
        1 => {
            let i = rng.below(n);
            v[i] *= 1.0 + 2.0 * rng.uniform();
        }
        2 => v.iter_mut().enumerate().for_each(|(i, x)| *x *= 1.0 + 0.01 * i as f64),
        3 => v.iter_mut().for_each(|x| *x = x.round()),
        _ => {}
    }
    v
}

#[test]
fn property_the_order_of_the_history_does_not_change_medians_or_the_summary() {
    let p = Params::default();
    let mut rng = Rng::new(42);
    for _ in 0..300 {
        let v = random_history(&mut rng);
        let mut shuffled = v.clone();
        rng.shuffle(&mut shuffled);
        assert_eq!(median(&v), median(&shuffled));
        assert_eq!(scaled_mad(&v), scaled_mad(&shuffled));
        // Runs handed over in any order are put back in time order: the same summary.
        let runs = runs_of(&v);
        let mut shuffled_runs = runs.clone();
        rng.shuffle(&mut shuffled_runs);
        assert_eq!(
            summarize(&runs, Some(200.0), &p),
            summarize(&shuffled_runs, Some(200.0), &p)
        );
    }
}

#[test]
fn property_adding_a_run_equal_to_the_median_never_flags() {
    let mut rng = Rng::new(43);
    for i in 0..2_000 {
        let p = if i % 2 == 0 {
            Params::default()
        } else {
            Params {
                window: 14,
                ..Params::default()
            }
        };
        let mut v = random_history(&mut rng);
        let m = median(&v[v.len().saturating_sub(p.window)..]).unwrap_or(100.0);
        v.push(m);
        let d = decide_last(&v, &p).map(|d| d.status);
        assert!(
            matches!(d, Some(Verdict::Ok | Verdict::InsufficientData)),
            "{d:?} for {v:?}"
        );
    }
}

#[test]
fn property_decide_last_is_the_last_of_decide_all() {
    let p = Params::default();
    let mut rng = Rng::new(44);
    for _ in 0..300 {
        let v = random_history(&mut rng);
        assert_eq!(decide_last(&v, &p).as_ref(), decide_all(&v, &p).last());
    }
}

// ---- the fleet of the issue, and the peers on their own series ----

/// Every series of a fleet history (setup total, phases, steps), values oldest first.
fn fleet_series(runs: &[crate::regress::history::HistoryRun]) -> Vec<(String, Vec<f64>)> {
    let mut all: std::collections::BTreeMap<String, Vec<f64>> = std::collections::BTreeMap::new();
    for run in runs {
        all.entry(format!("{} setup", run.service))
            .or_default()
            .push(run.setup_seconds);
        for phase in &run.phases {
            all.entry(format!("{} {}", run.service, phase.name))
                .or_default()
                .push(phase.seconds);
            for step in &phase.steps {
                all.entry(format!("{} {}/{}", run.service, phase.name, step.name))
                    .or_default()
                    .push(step.seconds);
            }
        }
    }
    all.into_iter().collect()
}

/// Issue 15: pure noise (each step N(1, 0.07) × its base) over 100 nights for 15 services, every
/// series of the report (setup, 4 phases, 11 steps: 240 series, 24,000 series-nights). Measured
/// over 10 fleets; the bound is the measured rate with a margin, not zero: see docs/regress.md,
/// "False alarms in a fleet".
#[test]
fn a_fleet_of_pure_noise_raises_about_one_alarm_per_thousand_series_nights() {
    use crate::regress::fixtures;
    let p = Params::default();
    let fleets = 10;
    let (mut alarms, mut flagged_nights, mut quiet_fleets) = (0, 0, 0);
    for seed in 0..fleets {
        let runs = fixtures::fleet(15, 100, 1_000 + seed, &[]);
        let series = fleet_series(&runs);
        assert_eq!(series.len(), 240);
        let mut any = [false; 100];
        let mut fleet_alarms = 0;
        for (_, values) in &series {
            fleet_alarms += events(values, &p).len();
            for (night, decision) in decide_all(values, &p).iter().enumerate() {
                any[night] |= flagged(decision);
            }
        }
        alarms += fleet_alarms;
        quiet_fleets += usize::from(fleet_alarms == 0);
        flagged_nights += any.iter().filter(|&&flagged| flagged).count();
    }
    let per_thousand = alarms as f64 / (fleets as f64 * 24.0);
    eprintln!(
        "fleet of pure noise: {alarms} alarms in {fleets} fleets × 24,000 series-nights ({per_thousand:.2} per 1,000); \
         {flagged_nights} of {} fleet-nights with a flagged series; {quiet_fleets} fleets raised nothing",
        fleets * 100
    );
    assert!(per_thousand <= 1.5, "{per_thousand} alarms per 1,000 series-nights");
}

/// Issue 15: a +30 % step in one phase of one service (its biggest load step, so the phase
/// follows) is flagged after M runs in the changed series; in the 15 other series of that
/// service, nothing flags beyond their noise.
#[test]
fn a_30_percent_step_in_one_phase_of_a_fleet_flags_that_phase() {
    use crate::regress::fixtures::{self, Change};
    let p = Params::default();
    let (t0, nights) = (60, 74);
    let mut delays = Vec::new();
    let mut others = 0;
    for seed in 0..40 {
        let change = Change {
            service: 0,
            phase: "load",
            step: "api",
            night: t0,
            factor: 1.3,
        };
        let runs: Vec<_> = fixtures::fleet(1, nights, 2_000 + seed, &[change]);
        for (name, values) in fleet_series(&runs) {
            if name.ends_with(" load") || name.ends_with(" load/api") {
                delays.push(delay(&values, t0, &p).unwrap_or(usize::MAX));
            } else {
                others += events(&values[..t0 + p.consecutive], &p)
                    .iter()
                    .filter(|&&(night, _)| night >= t0)
                    .count();
            }
        }
    }
    delays.sort_unstable();
    eprintln!("+30 % in load/api: delays {delays:?}; {others} alarms elsewhere on nights t0..t0+M");
    assert_eq!(delays[delays.len() / 2], p.consecutive - 1, "flagged after M runs");
    assert!(
        delays.iter().filter(|&&d| d <= p.consecutive).count() >= 76,
        "{delays:?}"
    );
    assert!(others <= 2, "{others} alarms in series without a change");
}

/// The peer comparison of issue 15 on the series the peers saw (`tests/fixtures/regress/peers`,
/// made by `tests/peers/regress/run.sh`; E-Divisive and Otava's events recorded there). Scored as
/// `evaluate.py` does: a detection is the first upward event on or after the change whose index
/// is at most 2 before it.
#[test]
fn against_e_divisive_and_otava_on_the_same_series() {
    #[derive(serde::Deserialize)]
    struct Series {
        id: String,
        t0: Option<usize>,
        values: Vec<f64>,
    }
    /// (night, index, direction) of one series.
    type RecordedEvents = Vec<(usize, usize, String)>;
    #[derive(serde::Deserialize)]
    struct Fixture {
        series: std::collections::BTreeMap<String, Vec<Series>>,
        peers: std::collections::BTreeMap<String, std::collections::BTreeMap<String, Vec<RecordedEvents>>>,
    }
    /// (night, index, up)
    type Events = Vec<Vec<(usize, usize, bool)>>;
    let ours = |series: &[Series], p: &Params| -> Events {
        series
            .iter()
            .map(|s| {
                let mut out = Vec::new();
                let mut previous = Verdict::Ok;
                for (night, d) in decide_all(&s.values, p).iter().enumerate() {
                    if flagged(d) && d.status != previous {
                        let index = match (d.rule, d.change_point) {
                            (Some(Rule::ChangePoint), Some(cp)) => cp.start,
                            _ => night + 1 - d.consecutive_breaches,
                        };
                        out.push((night, index, d.status == Verdict::Regression));
                    }
                    previous = d.status;
                }
                out
            })
            .collect()
    };
    let delays = |series: &[Series], events: &Events| -> Vec<f64> {
        series
            .iter()
            .zip(events)
            .map(|(s, ev)| {
                let t0 = s.t0.unwrap_or(0);
                ev.iter()
                    .filter(|&&(night, index, up)| night >= t0 && up && index + 2 >= t0)
                    .map(|&(night, _, _)| (night - t0) as f64)
                    .fold(f64::INFINITY, f64::min)
            })
            .collect()
    };
    let summary = |d: &[f64]| {
        let mut sorted = d.to_vec();
        sorted.sort_by(f64::total_cmp);
        let found: Vec<f64> = d.iter().copied().filter(|x| x.is_finite()).collect();
        let mean = found.iter().sum::<f64>() / found.len().max(1) as f64;
        let within7 = d.iter().filter(|&&x| x <= 7.0).count() as f64 / d.len() as f64;
        (sorted[sorted.len() / 2], mean, within7)
    };
    let p = Params::default();
    for file in ["t0-30", "t0-60"] {
        let path = crate::test_support::repo_path(&format!("tests/fixtures/regress/peers/{file}.json"));
        let fixture: Fixture = serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("JSON");
        let peer = |name: &str, scenario: &str| -> Option<Events> {
            let recorded = fixture.peers.get(name)?.get(scenario)?;
            Some(
                recorded
                    .iter()
                    .map(|ev| ev.iter().map(|(n, i, d)| (*n, *i, d == "up")).collect())
                    .collect(),
            )
        };
        for scenario in ["step30", "step15"] {
            let series = &fixture.series[scenario];
            let (median, mean, within7) = summary(&delays(series, &ours(series, &p)));
            eprintln!("{file} {scenario}: ours median delay {median}, mean {mean:.2}, within 7 nights {within7:.3}");
            for name in ["edivisive", "otava"] {
                let Some(events) = peer(name, scenario) else { continue };
                let (their_median, their_mean, their_within7) = summary(&delays(series, &events));
                eprintln!(
                    "{file} {scenario}: {name} median {their_median}, mean {their_mean:.2}, within 7 {their_within7:.3}"
                );
                if scenario == "step30" {
                    assert!(
                        median <= their_median + 1.0,
                        "{file}: median delay {median} vs {name} {their_median}"
                    );
                    assert!(
                        mean <= their_mean + 1.0,
                        "{file}: mean delay {mean:.2} vs {name} {their_mean:.2}"
                    );
                }
            }
            if scenario == "step15" {
                assert!(
                    within7 >= 0.90,
                    "{file}: +15 % within 7 nights in {within7:.3} of the trials"
                );
            }
        }
        let noise = &fixture.series["noise"];
        let fleets = noise
            .iter()
            .map(|s| s.id.split('/').nth(1).unwrap_or_default())
            .collect::<std::collections::BTreeSet<_>>()
            .len() as f64;
        let count = |events: &Events| events.iter().map(Vec::len).sum::<usize>() as f64 / fleets;
        let alarms = count(&ours(noise, &p));
        for name in ["edivisive", "otava"] {
            let Some(events) = peer(name, "noise") else { continue };
            let theirs = count(&events);
            eprintln!("{file} noise: ours {alarms:.1} alarms per fleet of 15 × 100 nights, {name} {theirs:.1}");
            assert!(
                alarms <= theirs,
                "{file}: {alarms} false alarms per fleet vs {name} {theirs}"
            );
        }
        let outliers = &fixture.series["outlier"];
        let flagged_share = |events: &Events| {
            outliers
                .iter()
                .zip(events)
                .filter(|(s, ev)| {
                    let t0 = s.t0.unwrap_or(0);
                    ev.iter().any(|&(night, index, _)| night >= t0 && index + 2 >= t0)
                })
                .count() as f64
                / outliers.len() as f64
        };
        let ours_outliers = flagged_share(&ours(outliers, &p));
        eprintln!("{file} outlier: ours flag {ours_outliers:.3} of single slow nights");
        assert!(ours_outliers <= 0.10, "{ours_outliers}");
    }
}

proptest::proptest! {
    /// The order the history is handed over in never changes the medians or the summary.
    #[test]
    fn proptest_order_does_not_matter(values in proptest::collection::vec(1.0f64..1_000.0, 1..60), seed in 0u64..1_000) {
        let mut rng = Rng::new(seed);
        let runs = runs_of(&values);
        let mut shuffled = runs.clone();
        rng.shuffle(&mut shuffled);
        let mut shuffled_values = values.clone();
        rng.shuffle(&mut shuffled_values);
        proptest::prop_assert_eq!(median(&values), median(&shuffled_values));
        proptest::prop_assert_eq!(summarize(&runs, Some(500.0), &Params::default()), summarize(&shuffled, Some(500.0), &Params::default()));
    }

    /// A run equal to the rolling median never flags.
    #[test]
    fn proptest_a_run_at_the_median_never_flags(values in proptest::collection::vec(1.0f64..1_000.0, 2..80)) {
        let p = Params::default();
        let mut v = values.clone();
        let m = median(&v[v.len().saturating_sub(p.window)..]).unwrap_or(1.0);
        v.push(m);
        let status = decide_last(&v, &p).map(|d| d.status);
        proptest::prop_assert!(matches!(status, Some(Verdict::Ok | Verdict::InsufficientData)), "{:?}", status);
    }
}
