//! From runs to series to the report: runs are grouped into lanes (service × branch, and engine
//! and runner type unless `--group-by` says otherwise), a lane keeps only the runs of its current
//! config hash (unless asked), and each lane's setup total, phases and steps become series judged
//! by [`super::stats`].

use std::collections::{BTreeMap, HashSet};

use super::document::{
    ChangePointEntry, HistorySummary, ParamsReport, RECENT_RUNS, RegressDocument, SeriesEntry, ServiceEntry,
};
use super::history::{HistoryRun, in_parallel};
use super::stats::{Outcome, Params, Run, Verdict, summarize};
use crate::model::Status;

/// Seconds in a day.
const DAY: f64 = 86_400.0;

/// What splits series besides service, branch, phase and step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GroupBy {
    pub(crate) engine: bool,
    pub(crate) runner: bool,
    pub(crate) config_hash: bool,
}

impl Default for GroupBy {
    fn default() -> Self {
        GroupBy {
            engine: true,
            runner: true,
            config_hash: true,
        }
    }
}

impl GroupBy {
    /// `engine,runner,config-hash`, a subset of them, or `none`.
    pub(crate) fn parse(text: &str) -> Result<GroupBy, String> {
        let mut group_by = GroupBy {
            engine: false,
            runner: false,
            config_hash: false,
        };
        for part in text.split(',').map(str::trim).filter(|part| !part.is_empty()) {
            match part {
                "engine" => group_by.engine = true,
                "runner" => group_by.runner = true,
                "config-hash" => group_by.config_hash = true,
                "none" => {}
                other => {
                    return Err(format!(
                        "unknown --group-by `{other}` (engine, runner, config-hash, or none)"
                    ));
                }
            }
        }
        Ok(group_by)
    }

    pub(crate) fn names(self) -> Vec<&'static str> {
        [
            (self.engine, "engine"),
            (self.runner, "runner"),
            (self.config_hash, "config-hash"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }
}

/// The parameters of each phase: the defaults, overridden per phase (`setup` is the total).
#[derive(Debug, Clone, Default)]
pub(crate) struct PhaseParams {
    pub(crate) defaults: Params,
    pub(crate) phases: BTreeMap<String, Params>,
}

impl PhaseParams {
    pub(crate) fn for_phase(&self, phase: &str) -> &Params {
        self.phases.get(phase).unwrap_or(&self.defaults)
    }
}

/// How to analyze.
#[derive(Debug, Clone, Default)]
pub(crate) struct AnalysisOptions {
    pub(crate) params: PhaseParams,
    pub(crate) group_by: GroupBy,
    /// `(service, run_id)` of the runs named by `--current`: each is its lane's current run.
    pub(crate) current: HashSet<(String, String)>,
    /// Lanes whose current run is older than this before the newest run are left out.
    pub(crate) stale_after_days: f64,
}

/// One line of a trend chart: one lane's completed runs of one phase.
#[derive(Debug, Clone)]
pub(crate) struct ChartLine {
    pub(crate) label: String,
    /// (seconds since the epoch, duration)
    pub(crate) points: Vec<(f64, f64)>,
    pub(crate) target: Option<f64>,
    pub(crate) status: Verdict,
}

/// The lines of one phase's chart.
#[derive(Debug, Clone)]
pub(crate) struct ChartData {
    pub(crate) phase: String,
    pub(crate) lines: Vec<ChartLine>,
}

/// The report and what its charts draw.
#[derive(Debug, Clone)]
pub(crate) struct Analysis {
    pub(crate) document: RegressDocument,
    pub(crate) charts: Vec<ChartData>,
}

/// Phases in the order a run has them; `setup` (the total) first, unknown phases before teardown.
pub(crate) fn phase_rank(phase: &str) -> u8 {
    match phase {
        "setup" => 0,
        "preflight" => 1,
        "build" => 2,
        "cluster" => 3,
        "load" => 4,
        "deploy" => 5,
        "teardown" => 7,
        _ => 6,
    }
}

fn outcome(status: Status) -> Outcome {
    match status {
        Status::Ok | Status::OverTarget => Outcome::Completed,
        Status::Cancelled => Outcome::Cancelled,
        Status::Failed | Status::Skipped => Outcome::Failed,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct LaneKey {
    service: String,
    branch: Option<String>,
    engine: Option<String>,
    runner: Option<String>,
}

/// The runs of one series, oldest first, with the runs they came from.
#[derive(Default)]
struct SeriesRuns<'a> {
    runs: Vec<Run>,
    from: Vec<&'a HistoryRun>,
}

impl<'a> SeriesRuns<'a> {
    fn push(&mut self, seconds: f64, outcome: Outcome, run: &'a HistoryRun) {
        self.runs.push(Run {
            seconds,
            timestamp: run.timestamp,
            outcome,
        });
        self.from.push(run);
    }
}

/// Analyze the history: every current, non-stale lane's series, the fleet rows and the verdict.
/// `generated_at` is left empty for the caller.
pub(crate) fn analyze(all: &[HistoryRun], options: &AnalysisOptions) -> Analysis {
    let mut order: Vec<&HistoryRun> = all.iter().collect();
    order.sort_by(|a, b| {
        a.timestamp
            .total_cmp(&b.timestamp)
            .then_with(|| a.run_id.cmp(&b.run_id))
    });
    let newest = order.last().map_or(0.0, |run| run.timestamp);
    let mut lanes: BTreeMap<LaneKey, Vec<&HistoryRun>> = BTreeMap::new();
    for run in order {
        let key = LaneKey {
            service: run.service.clone(),
            branch: run.branch.clone(),
            engine: run.engine.clone().filter(|_| options.group_by.engine),
            runner: run.runner.clone().filter(|_| options.group_by.runner),
        };
        lanes.entry(key).or_default().push(run);
    }
    let mut history = HistorySummary {
        runs: all.len(),
        stale_after_days: options.stale_after_days,
        ..HistorySummary::default()
    };
    let several_lanes_per_service = {
        let mut seen = HashSet::new();
        lanes.keys().any(|key| !seen.insert(&key.service))
    };
    let lanes: Vec<(LaneKey, Vec<&HistoryRun>)> = lanes.into_iter().collect();
    // Lanes are independent: one thread each, up to four.
    let results = in_parallel(&lanes, 2, |(key, runs)| {
        analyze_lane(key, runs, newest, options, several_lanes_per_service)
    });
    let mut services = Vec::new();
    let mut series = Vec::new();
    let mut charts: BTreeMap<(u8, String), Vec<ChartLine>> = BTreeMap::new();
    for result in results {
        let Some(lane) = result else {
            history.stale_groups += 1;
            continue;
        };
        history.other_config_runs += lane.other_config_runs;
        history.runs_analyzed += lane.runs_analyzed;
        services.push(lane.service);
        series.extend(lane.series);
        for (phase, line) in lane.chart_lines {
            charts.entry((phase_rank(&phase), phase)).or_default().push(line);
        }
    }
    let document = RegressDocument {
        format_version: super::document::REGRESS_FORMAT_VERSION,
        generated_at: String::new(),
        verdict: Verdict::worst(series.iter().map(|entry| entry.status)),
        group_by: options.group_by.names(),
        params: ParamsReport {
            defaults: options.params.defaults.clone(),
            phases: options.params.phases.clone(),
        },
        history,
        services,
        series,
        charts: Vec::new(),
    };
    let charts = charts
        .into_iter()
        .map(|((_, phase), lines)| ChartData { phase, lines })
        .collect();
    Analysis { document, charts }
}

/// What one lane adds to the report.
struct LaneResult {
    service: ServiceEntry,
    series: Vec<SeriesEntry>,
    chart_lines: Vec<(String, ChartLine)>,
    runs_analyzed: usize,
    other_config_runs: usize,
}

/// One lane: `None` when it is stale.
fn analyze_lane(
    key: &LaneKey,
    runs: &[&HistoryRun],
    newest: f64,
    options: &AnalysisOptions,
    several_lanes_per_service: bool,
) -> Option<LaneResult> {
    let current_index = runs
        .iter()
        .rposition(|run| options.current.contains(&(run.service.clone(), run.run_id.clone())))
        .unwrap_or(runs.len() - 1);
    let current = runs[current_index];
    if newest - current.timestamp > options.stale_after_days * DAY {
        return None;
    }
    let mut lane: Vec<&HistoryRun> = runs[..=current_index].to_vec();
    let mut other_config_runs = 0;
    if options.group_by.config_hash {
        let before = lane.len();
        lane.retain(|run| run.config_hash == current.config_hash);
        other_config_runs = before - lane.len();
    }
    let config_hash = options.group_by.config_hash.then(|| current.config_hash.clone());
    let lane_series = lane_series(&lane);
    let label = if several_lanes_per_service {
        let mut parts = vec![key.service.clone()];
        parts.extend(key.branch.clone());
        parts.extend(key.engine.clone());
        parts.extend(key.runner.clone());
        parts.join(" · ")
    } else {
        key.service.clone()
    };
    let mut entries = Vec::with_capacity(lane_series.len());
    let mut chart_lines = Vec::new();
    for (&(_, phase, step), runs) in &lane_series {
        let params = options.params.for_phase(phase);
        let target = match (phase, step) {
            ("setup", None) => Some(current.total_target_seconds),
            (_, None) => current
                .phases
                .iter()
                .find(|record| record.name == phase)
                .and_then(|record| record.target_seconds),
            _ => None,
        };
        let entry = series_entry(key, config_hash.clone(), phase, step, runs, target, params);
        if step.is_none() {
            let points: Vec<(f64, f64)> = runs
                .runs
                .iter()
                .filter(|run| run.outcome == Outcome::Completed)
                .map(|run| (run.timestamp, run.seconds))
                .collect();
            chart_lines.push((
                phase.to_owned(),
                ChartLine {
                    label: label.clone(),
                    points,
                    target,
                    status: entry.status,
                },
            ));
        }
        entries.push(entry);
    }
    let setup = entries
        .iter()
        .find(|entry| entry.phase == "setup" && entry.step.is_none());
    let service = ServiceEntry {
        service: key.service.clone(),
        branch: key.branch.clone(),
        engine: key.engine.clone(),
        runner: key.runner.clone(),
        config_hash,
        status: Verdict::worst(entries.iter().map(|entry| entry.status)),
        regressions: entries
            .iter()
            .filter(|entry| entry.status == Verdict::Regression)
            .count(),
        setup_median_seconds: setup.and_then(|entry| entry.median_seconds),
        setup_p95_seconds: setup.and_then(|entry| entry.p95_seconds),
        setup_last_seconds: setup.and_then(|entry| entry.current_seconds),
        setup_target_seconds: Some(current.total_target_seconds),
        last_run_status: current.status,
        last_run_id: current.run_id.clone(),
        last_started_at: current.started_at.clone(),
        last_commit: current.commit.clone(),
        dockerfile_findings: current.findings,
        runs: lane.len(),
    };
    Some(LaneResult {
        service,
        series: entries,
        chart_lines,
        runs_analyzed: lane.len(),
        other_config_runs,
    })
}

/// Phase rank, phase and step, borrowed from the runs (no allocation per run).
type SeriesKey<'a> = (u8, &'a str, Option<&'a str>);

/// The setup total, every phase and every step of a lane's runs (skipped phases and steps are
/// not runs of their series; every item of a failed or cancelled run counts as failed or
/// cancelled).
fn lane_series<'a>(lane: &[&'a HistoryRun]) -> BTreeMap<SeriesKey<'a>, SeriesRuns<'a>> {
    let mut all: BTreeMap<SeriesKey<'a>, SeriesRuns<'a>> = BTreeMap::new();
    for &run in lane {
        let outcome = outcome(run.status);
        all.entry((0, "setup", None))
            .or_default()
            .push(run.setup_seconds, outcome, run);
        for phase in run.phases.iter().filter(|phase| phase.status != Status::Skipped) {
            let rank = phase_rank(&phase.name);
            all.entry((rank, phase.name.as_str(), None))
                .or_default()
                .push(phase.seconds, outcome, run);
            for step in phase.steps.iter().filter(|step| step.status != Status::Skipped) {
                all.entry((rank, phase.name.as_str(), Some(step.name.as_str())))
                    .or_default()
                    .push(step.seconds, outcome, run);
            }
        }
    }
    all
}

fn series_entry(
    key: &LaneKey,
    config_hash: Option<String>,
    phase: &str,
    step: Option<&str>,
    runs: &SeriesRuns<'_>,
    target: Option<f64>,
    params: &Params,
) -> SeriesEntry {
    let stats = summarize(&runs.runs, target, params);
    // The completed runs in the order `summarize` sees them (time, then duration).
    let mut completed: Vec<(f64, f64, &HistoryRun)> = runs
        .runs
        .iter()
        .zip(&runs.from)
        .filter(|(run, _)| run.outcome == Outcome::Completed && run.seconds.is_finite())
        .map(|(run, from)| (run.timestamp, run.seconds, *from))
        .collect();
    completed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let current = completed.last().map(|entry| entry.2);
    SeriesEntry {
        service: key.service.clone(),
        phase: phase.to_owned(),
        step: step.map(str::to_owned),
        branch: key.branch.clone(),
        engine: key.engine.clone(),
        runner: key.runner.clone(),
        config_hash,
        status: stats.status,
        rule: stats.rule,
        current_seconds: stats.current_seconds,
        current_run_id: current.map(|run| run.run_id.clone()),
        current_started_at: current.map(|run| run.started_at.clone()),
        median_seconds: stats.median_seconds,
        mad_seconds: stats.mad_seconds,
        threshold_seconds: stats.threshold_seconds,
        change_ratio: stats.change_ratio,
        consecutive_breaches: stats.consecutive_breaches,
        runs: stats.runs.total,
        completed_runs: stats.runs.completed,
        failed_runs: stats.runs.failed,
        cancelled_runs: stats.runs.cancelled,
        p50_seconds: stats.p50_seconds,
        p95_seconds: stats.p95_seconds,
        target_seconds: target,
        over_target_share: stats.over_target_share,
        slope_seconds_per_week: stats.slope_seconds_per_week,
        change_point: stats.change_point.map(|change| {
            let since = completed.get(change.start).map(|entry| entry.2);
            ChangePointEntry {
                since_run_id: since.map(|run| run.run_id.clone()),
                since_started_at: since.map(|run| run.started_at.clone()),
                runs_after: change.runs_after,
                median_before_seconds: change.median_before,
                median_after_seconds: change.median_after,
                p_value: change.p_value,
            }
        }),
        recent_seconds: completed[completed.len().saturating_sub(RECENT_RUNS)..]
            .iter()
            .map(|entry| entry.1)
            .collect(),
    }
}

#[cfg(test)]
mod tests;
