//! `regress.json`: the stable contract of a regression report (docs/regress.md). `regress.md`,
//! the job summary and the issues are rendered from this one document, so they say the same.
//! `format_version` is bumped only on incompatible changes; fields are only ever added.

use serde::Serialize;

use super::history::Skipped;
use super::stats::{Params, Rule, Verdict};

/// Bumped only on incompatible changes.
pub(crate) const REGRESS_FORMAT_VERSION: u32 = 1;
/// Completed durations of each series kept in `recent_seconds` (the inline charts).
pub(crate) const RECENT_RUNS: usize = 30;
/// Skipped inputs listed in the document (the rest are counted).
pub(crate) const SKIPPED_LISTED: usize = 200;

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RegressDocument {
    pub(crate) format_version: u32,
    pub(crate) generated_at: String,
    /// The worst status of any series: regression, improvement, ok, insufficient-data.
    pub(crate) verdict: Verdict,
    /// What splits series besides service, phase, step and branch.
    pub(crate) group_by: Vec<&'static str>,
    pub(crate) params: ParamsReport,
    pub(crate) history: HistorySummary,
    /// One row per service (and group): the fleet view.
    pub(crate) services: Vec<ServiceEntry>,
    pub(crate) series: Vec<SeriesEntry>,
    /// The SVG trend charts, relative to the output directory.
    pub(crate) charts: Vec<ChartEntry>,
}

/// The parameters in force: the defaults and any per-phase overrides.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ParamsReport {
    pub(crate) defaults: Params,
    /// Phase name (`setup` for the total) → its parameters, where they differ from the defaults.
    pub(crate) phases: std::collections::BTreeMap<String, Params>,
}

/// Where the runs came from.
#[derive(Debug, Clone, Serialize, Default)]
pub(crate) struct HistorySummary {
    /// Runs read from every source, each counted once.
    pub(crate) runs: usize,
    /// Runs in the series of this report (current groups, not stale).
    pub(crate) runs_analyzed: usize,
    /// Groups left out because their newest run is older than `stale_after_days` before the newest run.
    pub(crate) stale_groups: usize,
    pub(crate) stale_after_days: f64,
    /// Runs left out because their config hash is not the current one of their group.
    pub(crate) other_config_runs: usize,
    /// Inputs that could not be read (corrupt, truncated, newer format, expired artifacts…).
    pub(crate) skipped: Vec<Skipped>,
    pub(crate) skipped_total: usize,
}

/// The fleet view: per service, its setup time against the target.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ServiceEntry {
    pub(crate) service: String,
    pub(crate) branch: Option<String>,
    pub(crate) engine: Option<String>,
    pub(crate) runner: Option<String>,
    pub(crate) config_hash: Option<String>,
    /// Worst status of the service's series.
    pub(crate) status: Verdict,
    /// Series of this service that regressed.
    pub(crate) regressions: usize,
    pub(crate) setup_median_seconds: Option<f64>,
    pub(crate) setup_p95_seconds: Option<f64>,
    pub(crate) setup_last_seconds: Option<f64>,
    pub(crate) setup_target_seconds: Option<f64>,
    /// The last run's status in `timings.json` (ok, over-target, failed, cancelled).
    pub(crate) last_run_status: crate::model::Status,
    pub(crate) last_run_id: String,
    pub(crate) last_started_at: String,
    pub(crate) last_commit: Option<String>,
    /// Dockerfile lint findings of the last run.
    pub(crate) dockerfile_findings: usize,
    pub(crate) runs: usize,
}

/// A change confirmed by the change-point rule.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ChangePointEntry {
    /// The first run at the new level.
    pub(crate) since_run_id: Option<String>,
    pub(crate) since_started_at: Option<String>,
    pub(crate) runs_after: usize,
    pub(crate) median_before_seconds: f64,
    pub(crate) median_after_seconds: f64,
    pub(crate) p_value: f64,
}

/// One series: a service's phase, step or setup total over its runs.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SeriesEntry {
    pub(crate) service: String,
    /// `setup` for the total of build, cluster, load and deploy.
    pub(crate) phase: String,
    /// `null` for a phase (or the setup total).
    pub(crate) step: Option<String>,
    pub(crate) branch: Option<String>,
    pub(crate) engine: Option<String>,
    pub(crate) runner: Option<String>,
    pub(crate) config_hash: Option<String>,
    pub(crate) status: Verdict,
    /// What confirmed a regression or improvement.
    pub(crate) rule: Option<Rule>,
    pub(crate) current_seconds: Option<f64>,
    pub(crate) current_run_id: Option<String>,
    pub(crate) current_started_at: Option<String>,
    /// Rolling median and scaled MAD of the runs before the current one.
    pub(crate) median_seconds: Option<f64>,
    pub(crate) mad_seconds: Option<f64>,
    /// `max(k·MAD, p·median, floor)`.
    pub(crate) threshold_seconds: Option<f64>,
    /// `(current − median) / median`.
    pub(crate) change_ratio: Option<f64>,
    pub(crate) consecutive_breaches: usize,
    /// Runs of the series, failed and cancelled ones included.
    pub(crate) runs: usize,
    pub(crate) completed_runs: usize,
    pub(crate) failed_runs: usize,
    pub(crate) cancelled_runs: usize,
    pub(crate) p50_seconds: Option<f64>,
    pub(crate) p95_seconds: Option<f64>,
    /// The DD-TEST-002 target (phases and the setup total; steps have none).
    pub(crate) target_seconds: Option<f64>,
    pub(crate) over_target_share: Option<f64>,
    pub(crate) slope_seconds_per_week: Option<f64>,
    pub(crate) change_point: Option<ChangePointEntry>,
    /// The newest completed durations, oldest first (at most 30): the inline charts.
    pub(crate) recent_seconds: Vec<f64>,
}

/// One SVG chart.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ChartEntry {
    pub(crate) phase: String,
    pub(crate) file: String,
}

impl Verdict {
    /// Worst first: regression, improvement, ok, insufficient data.
    pub(crate) fn rank(self) -> u8 {
        match self {
            Verdict::Regression => 0,
            Verdict::Improvement => 1,
            Verdict::Ok => 2,
            Verdict::InsufficientData => 3,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Verdict::Regression => "regression",
            Verdict::Improvement => "improvement",
            Verdict::Ok => "ok",
            Verdict::InsufficientData => "insufficient-data",
        }
    }

    /// The worst of several (insufficient data when there is none).
    pub(crate) fn worst(verdicts: impl IntoIterator<Item = Verdict>) -> Verdict {
        verdicts
            .into_iter()
            .min_by_key(|verdict| verdict.rank())
            .unwrap_or(Verdict::InsufficientData)
    }
}

impl SeriesEntry {
    /// `service phase/step` or `service phase`.
    pub(crate) fn label(&self) -> String {
        match &self.step {
            Some(step) => format!("{} {}/{step}", self.service, self.phase),
            None => format!("{} {}", self.service, self.phase),
        }
    }

    /// The series' identity, stable across nights (the issue marker).
    pub(crate) fn id(&self) -> String {
        let part = |value: &Option<String>| value.clone().unwrap_or_default();
        [
            self.service.clone(),
            part(&self.branch),
            part(&self.engine),
            part(&self.runner),
            self.phase.clone(),
            part(&self.step),
        ]
        .join("|")
    }
}
