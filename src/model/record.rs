//! `timings.json`: what a run did and how long each part took. Versioned; fields are only ever
//! added. The mapping from the runner's reports and the one reader (with its checks) live here.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{CoverageResult, FailureClass, Finding, PhaseName, PhaseReport, Status, StepReport, TestResults, Timing};

/// Bumped only on incompatible changes.
pub(crate) const TIMINGS_FORMAT_VERSION: u32 = 1;

/// The whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunRecord {
    pub(crate) format_version: u32,
    pub(crate) run_id: String,
    pub(crate) config_file: Option<String>,
    pub(crate) config_hash: String,
    pub(crate) commit: Option<String>,
    pub(crate) host: String,
    pub(crate) engine: Option<String>,
    pub(crate) engine_version: Option<String>,
    pub(crate) kind_version: Option<String>,
    pub(crate) cluster_name: String,
    /// The fully-qualified image references the run built.
    pub(crate) images: Vec<String>,
    /// The scheduling mode: `strict` (DD-TEST-002's phases, one after another) or `pipelined`
    /// (the same steps as a dependency graph).
    #[serde(default = "strict_mode")]
    pub(crate) mode: String,
    pub(crate) started_at: String,
    pub(crate) finished_at: Option<String>,
    pub(crate) status: Status,
    pub(crate) failure_class: Option<FailureClass>,
    pub(crate) failed_phase: Option<String>,
    pub(crate) message: Option<String>,
    /// From the start of the build phase to the end of the deploy phase: the sum of the phases
    /// in `strict` mode, the span from the first setup step's start to the last one's end in
    /// `pipelined` mode (phases overlap).
    pub(crate) setup_seconds: f64,
    pub(crate) total_target_seconds: f64,
    pub(crate) within_target: bool,
    pub(crate) phases: Vec<PhaseRecord>,
    /// `mode: pipelined` only (`null` in strict runs): how the graph was scheduled.
    #[serde(default)]
    pub(crate) schedule: Option<ScheduleRecord>,
    /// What preflight's lint found in the Dockerfiles about to be built (`null` when the lint
    /// did not run, e.g. a run stopped before it); suppressed findings are not counted.
    #[serde(default)]
    pub(crate) dockerfile_findings: Option<DockerfileFindings>,
    pub(crate) warnings: Vec<String>,
}

/// Counts of unsuppressed lint findings by level, for the fleet table and dashboards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DockerfileFindings {
    pub(crate) errors: usize,
    pub(crate) warnings: usize,
}

fn strict_mode() -> String {
    "strict".to_owned()
}

/// How a pipelined run was scheduled: the just-in-time cluster start (prediction, and its
/// error), the critical path, and what the strict schedule would have taken with the same step
/// durations. Times are seconds from the start of the builds (the graph's start).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ScheduleRecord {
    pub(crate) cluster_start: ClusterStartRecord,
    /// Build slots while the cluster booted (one fewer than `concurrency`, at least one).
    pub(crate) build_slots_while_booting: u32,
    /// The longest chain of dependent steps by their own durations: no schedule is faster.
    pub(crate) critical_path_seconds: Option<f64>,
    /// That chain, as `phase/step`.
    pub(crate) critical_path: Vec<String>,
    /// DD-TEST-002's strict schedule with the same step durations (phases one after another,
    /// steps of a phase under the concurrency limit, deploy groups in `depends_on` waves);
    /// `null` when not every setup step ran.
    pub(crate) strict_seconds: Option<f64>,
}

/// When the cluster started, and why then.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct ClusterStartRecord {
    /// `history` (predicted from earlier runs), `first-build` (no usable history: when the first
    /// build finished), `no-builds` (nothing to wait for).
    pub(crate) policy: String,
    /// Earlier runs of this config the prediction used.
    pub(crate) history_runs: u32,
    /// Predicted end of the first and of the last build, and the predicted `cluster/create` time.
    pub(crate) predicted_first_build_seconds: Option<f64>,
    pub(crate) predicted_build_seconds: Option<f64>,
    pub(crate) predicted_cluster_seconds: Option<f64>,
    pub(crate) margin_seconds: f64,
    pub(crate) max_idle_seconds: f64,
    /// The latest start with which the graph, simulated with the predicted step times, ends no
    /// later than with the cluster started at once (at most the builds' predicted end).
    pub(crate) predicted_latest_start_seconds: Option<f64>,
    /// The planned start: min(predicted build end − predicted cluster time, latest start) −
    /// margin, never before 0, never so early that the ready cluster is predicted to wait for its
    /// first image longer than `max_idle`.
    pub(crate) planned_start_seconds: Option<f64>,
    /// What happened: the start, the ready cluster, the builds' end, the create's time.
    pub(crate) started_seconds: Option<f64>,
    pub(crate) ready_seconds: Option<f64>,
    pub(crate) build_seconds: Option<f64>,
    pub(crate) cluster_seconds: Option<f64>,
    /// Actual − predicted.
    pub(crate) build_error_seconds: Option<f64>,
    pub(crate) cluster_error_seconds: Option<f64>,
    /// How long the ready cluster waited for its first load (0 when an image was waiting for it).
    pub(crate) idle_seconds: Option<f64>,
}

/// One phase.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PhaseRecord {
    pub(crate) name: String,
    pub(crate) started_at: Option<String>,
    pub(crate) finished_at: Option<String>,
    pub(crate) duration_seconds: f64,
    /// How long at least one of its steps was running (the union of their own work); less than
    /// the span when steps waited for other phases (`mode: pipelined`, where the target applies
    /// to this). `null` when no step ran.
    #[serde(default)]
    pub(crate) busy_seconds: Option<f64>,
    pub(crate) target_seconds: Option<f64>,
    /// The config-file line setting the target, when the config sets it.
    #[serde(default)]
    pub(crate) target_line: Option<u64>,
    pub(crate) status: Status,
    pub(crate) failure_class: Option<FailureClass>,
    pub(crate) message: Option<String>,
    pub(crate) steps: Vec<StepRecord>,
}

/// One step of a phase.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StepRecord {
    pub(crate) name: String,
    /// When the step's own work started (after any wait for what it depends on).
    pub(crate) started_at: Option<String>,
    pub(crate) finished_at: Option<String>,
    /// The step's own work, not the time it waited for others.
    pub(crate) duration_seconds: f64,
    /// How long it waited for what it depends on before `started_at` (deploy groups waiting
    /// for `depends_on`); `null` for steps that wait for nothing.
    #[serde(default)]
    pub(crate) waited_seconds: Option<f64>,
    pub(crate) status: Status,
    pub(crate) failure_class: Option<FailureClass>,
    pub(crate) message: Option<String>,
    pub(crate) hint: Option<String>,
    /// Where the failure points (a Dockerfile, the kind config), for annotations.
    pub(crate) file: Option<String>,
    /// The line in `file`, when known (the Dockerfile step that failed).
    #[serde(default)]
    pub(crate) line: Option<usize>,
    /// The column in `file`, when known.
    #[serde(default)]
    pub(crate) column: Option<usize>,
    /// Images saved or loaded: bytes moved and throughput.
    pub(crate) bytes: Option<u64>,
    pub(crate) bytes_per_second: Option<f64>,
    pub(crate) attempts: u32,
    /// The step's full output, relative to the report directory.
    pub(crate) log: Option<String>,
    /// The last lines of output of a failed step (the digest reporters show).
    #[serde(default)]
    pub(crate) tail: Vec<String>,
    /// The line annotations quote: the failing thing's own last output (`null`: the last line
    /// of `tail`).
    #[serde(default)]
    pub(crate) excerpt: Option<String>,
    /// Structured findings behind a failure (Dockerfile lint findings, manifest problems).
    #[serde(default)]
    pub(crate) findings: Vec<Finding>,
    /// The test phase's suite (`null` for other steps): every case its JUnit reported, with
    /// outcome, time and the failure's `file:line`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tests: Option<TestResults>,
    /// The coverage phase's steps (`null` for other steps): one image's E2E coverage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) coverage: Option<CoverageResult>,
}

/// What the run knows about itself besides its phases.
#[derive(Debug, Clone, Default)]
pub(crate) struct RunFacts {
    pub(crate) run_id: String,
    pub(crate) config_file: Option<String>,
    pub(crate) config_hash: String,
    pub(crate) commit: Option<String>,
    pub(crate) host: String,
    /// The engine (`docker`, `podman`) and its version, when one answered.
    pub(crate) engine: Option<(String, String)>,
    pub(crate) kind_version: Option<String>,
    pub(crate) cluster_name: String,
    pub(crate) images: Vec<String>,
    pub(crate) total_target: Duration,
    pub(crate) dockerfile_findings: Option<DockerfileFindings>,
    pub(crate) warnings: Vec<String>,
}

/// Lines of a failed step's output kept in `timings.json`.
const TAIL_IN_RECORD: usize = 120;

fn rfc3339(time: chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl StepRecord {
    fn from_report(step: &StepReport) -> StepRecord {
        let duration = step.timing.map_or(0.0, |timing| timing.duration.as_secs_f64());
        let failure = step.failure.as_ref();
        StepRecord {
            name: step.name.clone(),
            started_at: step.timing.map(|timing| rfc3339(timing.started_at)),
            finished_at: step.timing.map(|timing| rfc3339(timing.finished_at)),
            duration_seconds: duration,
            waited_seconds: step.waited.map(|waited| waited.as_secs_f64()),
            status: step.status,
            failure_class: failure.map(|failure| failure.class),
            message: failure.map(|failure| failure.message.clone()),
            hint: failure.and_then(|failure| failure.hint.clone()),
            file: failure.and_then(|failure| failure.file.clone()),
            line: failure.and_then(|failure| failure.line),
            column: failure.and_then(|failure| failure.column),
            bytes: step.bytes,
            bytes_per_second: step
                .bytes
                .filter(|_| duration > 0.0)
                .map(|bytes| bytes as f64 / duration),
            attempts: step.attempts,
            log: step.log.clone(),
            tail: failure.map_or_else(Vec::new, |failure| {
                failure.tail[failure.tail.len().saturating_sub(TAIL_IN_RECORD)..].to_vec()
            }),
            excerpt: failure.and_then(|failure| failure.excerpt.clone()),
            findings: failure.map_or_else(Vec::new, |failure| failure.findings.clone()),
            tests: step.tests.as_deref().cloned(),
            coverage: step.coverage.as_deref().cloned(),
        }
    }
}

/// The union of the steps' own work: how long at least one of them was running.
pub(crate) fn busy(steps: &[StepReport]) -> Option<Duration> {
    let mut spans: Vec<(chrono::DateTime<chrono::Utc>, chrono::DateTime<chrono::Utc>)> = steps
        .iter()
        .filter_map(|step| step.timing)
        .map(|timing| {
            let end = timing.started_at + chrono::Duration::from_std(timing.duration).unwrap_or_default();
            (timing.started_at, end)
        })
        .collect();
    if spans.is_empty() {
        return None;
    }
    spans.sort();
    let mut total = chrono::Duration::zero();
    let (mut start, mut end) = spans[0];
    for (next_start, next_end) in spans.into_iter().skip(1) {
        if next_start > end {
            total += end - start;
            (start, end) = (next_start, next_end);
        } else if next_end > end {
            end = next_end;
        }
    }
    total += end - start;
    Some(total.to_std().unwrap_or_default())
}

impl PhaseRecord {
    fn from_report(phase: &PhaseReport) -> PhaseRecord {
        PhaseRecord {
            name: phase.phase.as_str().to_owned(),
            started_at: phase.timing.map(|timing| rfc3339(timing.started_at)),
            finished_at: phase.timing.map(|timing| rfc3339(timing.finished_at)),
            duration_seconds: phase.timing.map_or(0.0, |timing| timing.duration.as_secs_f64()),
            busy_seconds: busy(&phase.steps).map(|busy| busy.as_secs_f64()),
            target_seconds: phase.target.map(|target| target.as_secs_f64()),
            target_line: phase.target_line,
            status: phase.status,
            failure_class: phase.failure().map(|(_, failure)| failure.class),
            message: phase.message.clone(),
            steps: phase.steps.iter().map(StepRecord::from_report).collect(),
        }
    }
}

impl RunRecord {
    /// The record of a finished run: `total` spans the whole run, `cancelled` says a signal
    /// stopped it.
    pub(crate) fn new(facts: RunFacts, phases: &[PhaseReport], total: Timing, cancelled: bool) -> RunRecord {
        let setup: Duration = phases
            .iter()
            .filter(|phase| phase.phase.is_setup())
            .filter_map(|phase| phase.timing)
            .map(|timing| timing.duration)
            .sum();
        RunRecord::with_setup(facts, phases, total, cancelled, setup)
    }

    /// The record of a pipelined run: its phases overlap, so the setup time is their span.
    pub(crate) fn pipelined(
        facts: RunFacts,
        phases: &[PhaseReport],
        total: Timing,
        cancelled: bool,
        schedule: Option<ScheduleRecord>,
    ) -> RunRecord {
        let timings: Vec<Timing> = phases
            .iter()
            .filter(|phase| phase.phase.is_setup())
            .filter_map(|phase| phase.timing)
            .collect();
        let setup = match (
            timings.iter().map(|timing| timing.started_at).min(),
            timings.iter().map(|timing| timing.finished_at).max(),
        ) {
            (Some(start), Some(end)) => (end - start).to_std().unwrap_or_default(),
            _ => Duration::ZERO,
        };
        let mut record = RunRecord::with_setup(facts, phases, total, cancelled, setup);
        record.mode = "pipelined".to_owned();
        record.schedule = schedule;
        record
    }

    fn with_setup(
        facts: RunFacts,
        phases: &[PhaseReport],
        total: Timing,
        cancelled: bool,
        setup: Duration,
    ) -> RunRecord {
        let failed = phases.iter().find(|phase| phase.status == Status::Failed);
        let first_failure = failed.and_then(PhaseReport::failure);
        let over = phases.iter().any(|phase| phase.status == Status::OverTarget) || setup > facts.total_target;
        // The setup's budget is the setup's: a test phase over its own target does not spend it.
        let setup_over = phases
            .iter()
            .any(|phase| phase.phase.is_setup() && phase.status == Status::OverTarget)
            || setup > facts.total_target;
        let status = if failed.is_some() {
            Status::Failed
        } else if cancelled {
            Status::Cancelled
        } else if over {
            Status::OverTarget
        } else {
            Status::Ok
        };
        let message = match (failed, cancelled) {
            (Some(phase), _) => phase
                .message
                .clone()
                .map(|message| format!("{} failed: {message}", phase.phase)),
            (None, true) => Some("cancelled by a signal".to_owned()),
            (None, false) if over => Some("over target".to_owned()),
            _ => None,
        };
        let (engine, engine_version) = facts.engine.unzip();
        RunRecord {
            format_version: TIMINGS_FORMAT_VERSION,
            run_id: facts.run_id,
            config_file: facts.config_file,
            config_hash: facts.config_hash,
            commit: facts.commit,
            host: facts.host,
            engine,
            engine_version,
            kind_version: facts.kind_version,
            cluster_name: facts.cluster_name,
            images: facts.images,
            mode: strict_mode(),
            started_at: rfc3339(total.started_at),
            finished_at: Some(rfc3339(total.finished_at)),
            status,
            failure_class: first_failure
                .map(|(_, failure)| failure.class)
                .or(cancelled.then_some(FailureClass::Cancelled)),
            failed_phase: failed.map(|phase| phase.phase.as_str().to_owned()),
            message,
            setup_seconds: setup.as_secs_f64(),
            total_target_seconds: facts.total_target.as_secs_f64(),
            within_target: !setup_over
                && !phases
                    .iter()
                    .any(|phase| phase.phase != PhaseName::Test && phase.status == Status::Failed)
                && !cancelled,
            phases: phases.iter().map(PhaseRecord::from_report).collect(),
            schedule: None,
            dockerfile_findings: facts.dockerfile_findings,
            warnings: facts.warnings,
        }
    }
}

impl RunRecord {
    /// A phase run after the record was written (`hybrid-e2e coverage`): it replaces an earlier
    /// one of that name, else it goes before `teardown` (where it would have run), else last.
    /// Its warnings join the run's, instead of `stale` (the replaced phase's). The setup's clock
    /// and the run's outcome stay as they were: such a phase is never part of the setup and
    /// never fails a run.
    pub(crate) fn add_late_phase(&mut self, phase: &PhaseReport, warnings: Vec<String>, stale: &[String]) {
        self.warnings.retain(|warning| !stale.contains(warning));
        let record = PhaseRecord::from_report(phase);
        if let Some(existing) = self.phases.iter_mut().find(|existing| existing.name == record.name) {
            *existing = record;
        } else {
            let at = self
                .phases
                .iter()
                .position(|existing| existing.name == PhaseName::Teardown.as_str())
                .unwrap_or(self.phases.len());
            self.phases.insert(at, record);
        }
        self.warnings.extend(warnings);
    }

    /// Paths as the repository sees them, so annotations attach to the pull request's files:
    /// the config file, every file a step points at and every finding, relative to `root` (the
    /// repository), with relative paths resolved against `cwd` (where they were written).
    /// Paths outside `root` stay as they are.
    pub(crate) fn relative_to(&mut self, root: &Path, cwd: &Path) {
        let relative = |path: &mut String| *path = repo_relative(path, root, cwd);
        if let Some(config) = &mut self.config_file {
            relative(config);
        }
        for step in self.phases.iter_mut().flat_map(|phase| &mut phase.steps) {
            if let Some(file) = &mut step.file {
                relative(file);
            }
            for finding in &mut step.findings {
                relative(&mut finding.path);
            }
            for suite in step.tests.iter_mut().flat_map(|tests| &mut tests.suites) {
                for file in suite.cases.iter_mut().filter_map(|case| case.file.as_mut()) {
                    relative(file);
                }
            }
        }
    }
}

/// `path` relative to `root`, after resolving it against `cwd` and dropping `.` and `..`.
fn repo_relative(path: &str, root: &Path, cwd: &Path) -> String {
    fn lexical(path: &Path) -> PathBuf {
        let mut out = PathBuf::new();
        for component in path.components() {
            match component {
                std::path::Component::CurDir => {}
                std::path::Component::ParentDir => {
                    out.pop();
                }
                other => out.push(other),
            }
        }
        out
    }
    let absolute = lexical(&cwd.join(path));
    match absolute.strip_prefix(lexical(root)) {
        Ok(relative) if !relative.as_os_str().is_empty() => relative.display().to_string(),
        _ => path.to_owned(),
    }
}

/// The largest `timings.json` we read (a year of a huge run is far below this).
const MAX_RECORD_BYTES: u64 = 64 * 1024 * 1024;
/// The largest duration a record may state: no setup takes a year.
const MAX_SECONDS: f64 = 365.0 * 24.0 * 3600.0;

/// Why a `timings.json` could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadRecordError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is larger than {} MiB; it is not a timings.json hybrid-e2e wrote", MAX_RECORD_BYTES / 1024 / 1024)]
    TooLarge { path: PathBuf },
    #[error("{path} is not a valid timings.json: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error(
        "{path} has format_version {found}; this hybrid-e2e reads version {TIMINGS_FORMAT_VERSION} (upgrade hybrid-e2e)"
    )]
    NewerFormat { path: PathBuf, found: u64 },
    #[error("{path}: `{field}` is {value}; expected a finite number from 0 up (durations at most one year)")]
    BadNumber { path: PathBuf, field: String, value: f64 },
}

/// Read and check a `timings.json`: bounded size, a format version this build understands,
/// every duration finite and in range.
pub(crate) fn read_run_record(path: &Path) -> Result<RunRecord, ReadRecordError> {
    let read_error = |source| ReadRecordError::Read {
        path: path.to_owned(),
        source,
    };
    // A FIFO or a device would block or never end: regular files only.
    if !std::fs::metadata(path).map_err(read_error)?.is_file() {
        return Err(ReadRecordError::Read {
            path: path.to_owned(),
            source: std::io::Error::other("not a regular file"),
        });
    }
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(MAX_RECORD_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_RECORD_BYTES {
        return Err(ReadRecordError::TooLarge { path: path.to_owned() });
    }
    parse_run_record(&bytes, path)
}

/// Check and parse the bytes of a `timings.json` read from `path` (named in errors).
pub(crate) fn parse_run_record(bytes: &[u8], path: &Path) -> Result<RunRecord, ReadRecordError> {
    let invalid = |message: String| ReadRecordError::Invalid {
        path: path.to_owned(),
        message,
    };
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|error| invalid(error.to_string()))?;
    match value.get("format_version").and_then(serde_json::Value::as_u64) {
        Some(version) if version == u64::from(TIMINGS_FORMAT_VERSION) => {}
        Some(version) if version > u64::from(TIMINGS_FORMAT_VERSION) => {
            return Err(ReadRecordError::NewerFormat {
                path: path.to_owned(),
                found: version,
            });
        }
        _ => return Err(invalid("`format_version` is missing or not 1".to_owned())),
    }
    let record: RunRecord = serde_json::from_value(value).map_err(|error| invalid(error.to_string()))?;
    record
        .check_numbers()
        .map_err(|(field, value)| ReadRecordError::BadNumber {
            path: path.to_owned(),
            field,
            value,
        })?;
    Ok(record)
}

impl RunRecord {
    /// Every duration finite, non-negative and below a year: `report` reads uploaded artifacts.
    fn check_numbers(&self) -> Result<(), (String, f64)> {
        let check = |field: String, value: f64| {
            if value.is_finite() && (0.0..=MAX_SECONDS).contains(&value) {
                Ok(())
            } else {
                Err((field, value))
            }
        };
        check("setup_seconds".to_owned(), self.setup_seconds)?;
        if let Some(schedule) = &self.schedule {
            let start = &schedule.cluster_start;
            let optional = [
                ("critical_path_seconds", schedule.critical_path_seconds),
                ("strict_seconds", schedule.strict_seconds),
                (
                    "cluster_start.predicted_first_build_seconds",
                    start.predicted_first_build_seconds,
                ),
                ("cluster_start.predicted_build_seconds", start.predicted_build_seconds),
                (
                    "cluster_start.predicted_cluster_seconds",
                    start.predicted_cluster_seconds,
                ),
                (
                    "cluster_start.predicted_latest_start_seconds",
                    start.predicted_latest_start_seconds,
                ),
                ("cluster_start.planned_start_seconds", start.planned_start_seconds),
                ("cluster_start.started_seconds", start.started_seconds),
                ("cluster_start.ready_seconds", start.ready_seconds),
                ("cluster_start.build_seconds", start.build_seconds),
                ("cluster_start.cluster_seconds", start.cluster_seconds),
                ("cluster_start.idle_seconds", start.idle_seconds),
                ("cluster_start.margin_seconds", Some(start.margin_seconds)),
                ("cluster_start.max_idle_seconds", Some(start.max_idle_seconds)),
            ];
            for (field, value) in optional {
                if let Some(value) = value {
                    check(format!("schedule.{field}"), value)?;
                }
            }
            // Errors are signed.
            for (field, value) in [
                ("build_error_seconds", start.build_error_seconds),
                ("cluster_error_seconds", start.cluster_error_seconds),
            ] {
                if let Some(value) = value
                    && !(value.is_finite() && value.abs() <= MAX_SECONDS)
                {
                    return Err((format!("schedule.cluster_start.{field}"), value));
                }
            }
        }
        check("total_target_seconds".to_owned(), self.total_target_seconds)?;
        for (index, phase) in self.phases.iter().enumerate() {
            check(format!("phases[{index}].duration_seconds"), phase.duration_seconds)?;
            if let Some(busy) = phase.busy_seconds {
                check(format!("phases[{index}].busy_seconds"), busy)?;
            }
            if let Some(target) = phase.target_seconds {
                check(format!("phases[{index}].target_seconds"), target)?;
            }
            for (step_index, step) in phase.steps.iter().enumerate() {
                check(
                    format!("phases[{index}].steps[{step_index}].duration_seconds"),
                    step.duration_seconds,
                )?;
                for (case_index, case) in step.tests.iter().flat_map(|tests| tests.cases()).enumerate() {
                    check(
                        format!("phases[{index}].steps[{step_index}].tests.cases[{case_index}].duration_seconds"),
                        case.1.duration_seconds,
                    )?;
                }
                if let Some(rate) = step.bytes_per_second
                    && !(rate.is_finite() && rate >= 0.0)
                {
                    return Err((format!("phases[{index}].steps[{step_index}].bytes_per_second"), rate));
                }
                if let Some(percent) = step.coverage.as_ref().and_then(|coverage| coverage.percent)
                    && !(percent.is_finite() && (0.0..=100.0).contains(&percent))
                {
                    return Err((format!("phases[{index}].steps[{step_index}].coverage.percent"), percent));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_phase_goes_before_teardown_once_and_leaves_the_outcome_alone() {
        let now = chrono::Utc::now();
        let total = Timing {
            started_at: now,
            finished_at: now,
            duration: Duration::from_secs(200),
        };
        let facts = RunFacts {
            run_id: "20261130-120000-0a1b2c3d".to_owned(),
            config_file: None,
            config_hash: "sha256:0".to_owned(),
            commit: None,
            host: "runner".to_owned(),
            engine: None,
            kind_version: None,
            cluster_name: "hybrid-e2e-0a1b2c3d".to_owned(),
            images: Vec::new(),
            total_target: Duration::from_secs(360),
            dockerfile_findings: None,
            warnings: vec!["earlier".to_owned()],
        };
        let phases = [
            PhaseReport::skipped(PhaseName::Deploy, None, "nothing"),
            PhaseReport::skipped(PhaseName::Teardown, None, "nothing"),
        ];
        let mut record = RunRecord::new(facts, &phases, total, false);
        let (status, setup) = (record.status, record.setup_seconds);
        let names = |record: &RunRecord| record.phases.iter().map(|phase| phase.name.clone()).collect::<Vec<_>>();
        record.add_late_phase(
            &PhaseReport::skipped(PhaseName::Coverage, None, "first"),
            vec!["late".to_owned()],
            &[],
        );
        assert_eq!(names(&record), ["deploy", "coverage", "teardown"]);
        assert_eq!(record.warnings, ["earlier", "late"]);
        // Again: replaced in place, the first one's warnings with it.
        record.add_late_phase(
            &PhaseReport::skipped(PhaseName::Coverage, None, "second"),
            vec!["again".to_owned()],
            &["late".to_owned()],
        );
        assert_eq!(names(&record), ["deploy", "coverage", "teardown"]);
        assert_eq!(record.phases[1].message.as_deref(), Some("second"));
        assert_eq!(record.warnings, ["earlier", "again"]);
        assert_eq!((record.status, record.setup_seconds), (status, setup));
    }

    #[test]
    fn paths_become_relative_to_the_repository() {
        let root = Path::new("/home/runner/work/app/app");
        let cases = [
            (
                "docker/api.Dockerfile",
                "/home/runner/work/app/app/services/api",
                "services/api/docker/api.Dockerfile",
            ),
            ("./docker/../Dockerfile", "/home/runner/work/app/app", "Dockerfile"),
            (
                "/home/runner/work/app/app/deploy/db.yaml",
                "/elsewhere",
                "deploy/db.yaml",
            ),
            ("../outside.yaml", "/home/runner/work/app/app", "../outside.yaml"),
            ("/etc/kind.yaml", "/home/runner/work/app/app", "/etc/kind.yaml"),
            ("a:b/Dockerfile", "/home/runner/work/app/app", "a:b/Dockerfile"),
        ];
        for (path, cwd, expected) in cases {
            assert_eq!(repo_relative(path, root, Path::new(cwd)), expected, "{path} from {cwd}");
        }
    }
}
