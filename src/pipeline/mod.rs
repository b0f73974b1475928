//! The orchestrator of `hybrid-e2e run`: the strict schedule as a table of phases, each run
//! through the same phase runner — or, in `mode: pipelined`, preflight and then one dependency
//! graph of steps (`graph.rs`, `scheduler.rs`, the just-in-time cluster start in `history.rs`);
//! teardown per `preserve`; `timings.json` written whatever happens (success, failure, Ctrl-C or
//! SIGTERM). `timeline.rs` is `plan`'s view of both schedules.

mod coverage;
mod facts;
pub(crate) mod graph;
pub(crate) mod history;
mod schedule;
mod scheduler;
mod services;
pub(crate) mod timeline;

use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use crate::config::{Preserve, ScheduleMode};
use crate::lint::RuleLevels;
use crate::model::{Event, PhaseName, PhaseReport, Reporter, Reporters, RunFacts, RunRecord, Status, Stopwatch};
use crate::phases::{self, RunContext};
use crate::plan::Plan;
use crate::report::timings::TimingsFile;
use crate::runner;
pub(crate) use coverage::{
    CaptureError, capture_with_signals as capture_coverage_with_signals, run_to_capture as coverage_run_to_capture,
};
use facts::WarningLog;
pub(crate) use facts::repository_root;
use schedule::STRICT;
pub(crate) use services::services_up_with_signals;

/// What `run` was asked to do.
pub(crate) struct RunOptions {
    pub(crate) plan: Plan,
    pub(crate) lint_levels: RuleLevels,
    pub(crate) min_free_disk: u64,
    /// The reporters besides `timings.json` (the terminal; tests add recorders).
    pub(crate) reporters: Vec<Box<dyn Reporter>>,
}

/// The finished run.
pub(crate) struct RunOutcome {
    pub(crate) record: RunRecord,
    /// Set when `timings.json` could not be written.
    pub(crate) timings_error: Option<String>,
}

/// Run on one runtime; SIGINT/SIGTERM cancel the run cleanly.
pub(crate) async fn run_with_signals(options: RunOptions) -> RunOutcome {
    until_signalled(|cancel| run(options, cancel)).await
}

/// Runs `work` with a token that SIGINT or SIGTERM cancels. The listener lives exactly as long as
/// `work`: it is aborted when `work` ends or is dropped. (Tokio keeps its signal handler
/// installed after that: a later signal is seen only by a caller that listens itself, as `run`
/// does while it publishes.)
pub(crate) async fn until_signalled<Work, Fut>(work: Work) -> Fut::Output
where
    Work: FnOnce(CancellationToken) -> Fut,
    Fut: Future,
{
    struct AbortOnDrop(tokio::task::JoinHandle<()>);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    let cancel = CancellationToken::new();
    let signals = cancel.clone();
    let _listener = AbortOnDrop(tokio::spawn(async move {
        if signalled().await {
            signals.cancel();
        }
    }));
    work(cancel).await
}

/// Resolves when SIGINT or SIGTERM arrives (`false` if they cannot be listened for).
pub(crate) async fn signalled() -> bool {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut terminate), Ok(mut interrupt)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
    else {
        return false;
    };
    tokio::select! {
        _ = terminate.recv() => true,
        _ = interrupt.recv() => true,
    }
}

/// What every command that runs phases (`run`, `services up`) sets up first and finishes with:
/// the shared context, the reporters (the caller's, the warning log, `timings.json`) and the
/// clock.
struct Session {
    context: Arc<RunContext>,
    plan: Arc<Plan>,
    reporters: Arc<Reporters>,
    warnings: Arc<Mutex<Vec<String>>>,
    timings_error: Arc<Mutex<Option<String>>>,
    started: Stopwatch,
}

impl Session {
    /// Announce `command` on `target` (the cluster, or the services' network) with the plan's
    /// warnings, then start the clock.
    fn start(options: RunOptions, command: &'static str, target: fn(&Plan) -> &str) -> Session {
        let context = Arc::new(RunContext::new(
            options.plan,
            options.lint_levels,
            options.min_free_disk,
        ));
        let plan = Arc::clone(&context.plan);
        let timings_error = Arc::new(Mutex::new(None));
        let warnings = Arc::new(Mutex::new(Vec::new()));
        let mut sinks = options.reporters;
        sinks.push(Box::new(WarningLog(Arc::clone(&warnings))));
        sinks.push(Box::new(TimingsFile {
            path: plan.report_dir.join("timings.json"),
            error: Arc::clone(&timings_error),
        }));
        let reporters = Arc::new(Reporters::new(sinks));
        let report_dir = plan.report_dir.display().to_string();
        reporters.emit(Event::RunStarted {
            command,
            run_id: &plan.run_id,
            cluster: target(&plan),
            report_dir: &report_dir,
        });
        for warning in &plan.warnings {
            reporters.emit(Event::Warning { message: warning });
        }
        Session {
            context,
            plan,
            reporters,
            warnings,
            timings_error,
            started: Stopwatch::start(),
        }
    }

    /// The record's facts; `cluster_name` is the cluster (or the services' network).
    async fn facts(&self, kind_version: Option<String>, cluster_name: String) -> RunFacts {
        let plan = &self.plan;
        RunFacts {
            run_id: plan.run_id.clone(),
            config_file: plan.config_file.clone(),
            config_hash: plan.config_hash.clone(),
            commit: facts::commit().await,
            host: facts::host(),
            engine: self
                .context
                .engine()
                .map(|engine| (engine.kind.as_str().to_owned(), engine.version.clone())),
            kind_version,
            dockerfile_findings: self.context.dockerfile_findings(),
            cluster_name,
            images: plan.images.iter().map(|image| image.reference.clone()).collect(),
            total_target: plan.targets.total,
            warnings: std::mem::take(&mut *self.warnings.lock().unwrap_or_else(std::sync::PoisonError::into_inner)),
        }
    }

    /// Paths made relative to the repository, the record announced (and so written), and
    /// whether `timings.json` could be written.
    async fn finish(self, mut record: RunRecord) -> RunOutcome {
        if let (Some(root), Ok(cwd)) = (facts::repository_root().await, std::env::current_dir()) {
            record.relative_to(&root, &cwd);
        }
        self.reporters.emit(Event::RunFinished { record: &record });
        let timings_error = self
            .timings_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        RunOutcome { record, timings_error }
    }
}

/// The run itself, cancellable through `cancel`.
pub(crate) async fn run(options: RunOptions, cancel: CancellationToken) -> RunOutcome {
    let session = Session::start(options, "run", |plan| &plan.cluster.name);
    let (context, plan, reporters) = (
        Arc::clone(&session.context),
        Arc::clone(&session.plan),
        Arc::clone(&session.reporters),
    );
    let mut phases: Vec<PhaseReport> = Vec::new();
    let mut stopped = false;
    let mut schedule = None;
    for entry in &STRICT {
        let target = plan.target(entry.phase);
        // Without `test:` the run ends with the setup (no test phase in the record).
        if entry.phase == PhaseName::Test && plan.test.is_none() {
            continue;
        }
        // Coverage is captured after a suite ran (passed or failed), never after a cancel.
        if entry.phase == PhaseName::Coverage {
            if plan.coverage.is_none() || plan.test.is_none() {
                continue;
            }
            let skipped = if cancel.is_cancelled() {
                Some("the run was cancelled")
            } else if !suite_ran(&phases) {
                Some("the suite did not run against the cluster")
            } else {
                None
            };
            if let Some(reason) = skipped {
                phases.push(PhaseReport::skipped(entry.phase, None, reason));
                continue;
            }
            // What the coverage phase stops is brought back when the cluster outlives the run.
            let failed = phases.iter().any(|phase| phase.status == Status::Failed);
            context.set_cluster_kept(plan.cluster.teardown_deferred || keep_cluster(plan.cluster.preserve, failed));
        }
        // Services start in `run` only for a suite to use (else `services up` is the command).
        if entry.phase == PhaseName::Services && (plan.test.is_none() || plan.services.services.is_empty()) {
            continue;
        }
        // `mode: pipelined`: after preflight, the setup phases run as one dependency graph;
        // the test phase follows it (the suite may use any image, so it needs every load and
        // every deploy group).
        if plan.mode == ScheduleMode::Pipelined && entry.phase.is_setup() && entry.phase != PhaseName::Services {
            if entry.phase == PhaseName::Build && !stopped {
                let outcome = scheduler::run(&context, &cancel, &reporters).await;
                stopped = outcome
                    .phases
                    .iter()
                    .any(|phase| !(phase.status.is_success() || phase.status == Status::Skipped))
                    || cancel.is_cancelled();
                phases.extend(outcome.phases);
                schedule = outcome.schedule;
            } else if entry.phase == PhaseName::Build {
                phases.extend(
                    [PhaseName::Build, PhaseName::Cluster, PhaseName::Load, PhaseName::Deploy].map(|phase| {
                        PhaseReport::skipped(phase, plan.target(phase), "an earlier phase did not succeed")
                    }),
                );
            }
            continue;
        }
        // Coverage follows a failed suite too (decided above); every other phase stops.
        if stopped && entry.phase != PhaseName::Coverage {
            phases.push(PhaseReport::skipped(
                entry.phase,
                target,
                "an earlier phase did not succeed",
            ));
            continue;
        }
        let report = match (entry.steps)(&context) {
            Ok(steps) => {
                let options = (entry.options)(&plan, steps.len());
                runner::run_phase(entry.phase, steps, options, &cancel, &reporters, &plan.report_dir).await
            }
            Err(reason) => {
                let report = PhaseReport::skipped(entry.phase, target, reason);
                reporters.emit(Event::PhaseFinished { report: &report });
                report
            }
        };
        stopped = !(report.status.is_success() || report.status == Status::Skipped);
        phases.push(report);
    }
    let failed = phases.iter().any(|phase| phase.status == Status::Failed) || cancel.is_cancelled();
    let mut teardown = Vec::new();
    // The services a run started never outlive it (diagnostics first when it failed).
    let services_ran = phases
        .iter()
        .any(|phase| phase.phase == PhaseName::Services && phase.status != Status::Skipped);
    if services_ran && let Some(step) = services::teardown_step(&context, &reporters, failed).await {
        teardown.push(step);
    }
    // `hybrid-e2e action` leaves the cluster to the job's later steps; its post step tears down.
    if context.cluster_created() && !plan.cluster.teardown_deferred {
        if keep_cluster(plan.cluster.preserve, failed) {
            let message = preserved_message(&context).await;
            reporters.emit(Event::Warning { message: &message });
        } else {
            teardown.extend(phases::cluster::teardown_steps(&context));
        }
    }
    if !teardown.is_empty() {
        phases.push(runner::run_teardown(teardown, &reporters, &plan.report_dir).await);
    }
    let facts = session.facts(context.kind_version(), plan.cluster.name.clone()).await;
    let elapsed = session.started.stop();
    let record = match plan.mode {
        ScheduleMode::Strict => RunRecord::new(facts, &phases, elapsed, cancel.is_cancelled()),
        ScheduleMode::Pipelined => RunRecord::pipelined(facts, &phases, elapsed, cancel.is_cancelled(), schedule),
    };
    session.finish(record).await
}

/// Whether the test phase's suite ran against the cluster: it started (its step has a clock)
/// and did not fail as infrastructure (could not start, or its cluster stopped answering), so
/// the coverage of its workloads is the suite's.
fn suite_ran(phases: &[PhaseReport]) -> bool {
    phases
        .iter()
        .filter(|phase| phase.phase == PhaseName::Test)
        .flat_map(|phase| &phase.steps)
        .any(|step| {
            step.timing.is_some()
                && !step
                    .failure
                    .as_ref()
                    .is_some_and(|failure| failure.class == crate::model::FailureClass::Infrastructure)
        })
}

/// What a kept cluster leaves behind, as it is: a cluster (with or without its kubeconfig), or
/// nothing at all when `kind create` failed before making one.
async fn preserved_message(context: &RunContext) -> String {
    let plan = &context.plan;
    let name = &plan.cluster.name;
    let exists = context
        .kind()
        .clusters()
        .await
        .is_ok_and(|clusters| clusters.contains(name));
    if !exists {
        return format!("no cluster `{name}` exists to keep: `kind create cluster` failed before making one");
    }
    let delete = format!("delete it with `hybrid-e2e cleanup` or `kind delete cluster --name {name}`");
    if plan.cluster.kubeconfig.is_file() {
        format!(
            "cluster `{name}` preserved (preserve: {}); kubeconfig {}; {delete}",
            plan.cluster.preserve.as_str(),
            plan.cluster.kubeconfig.display()
        )
    } else {
        format!(
            "cluster `{name}` (left by a failed create) preserved (preserve: {}); it has no kubeconfig (`kind get kubeconfig --name {name}` may give one); {delete}",
            plan.cluster.preserve.as_str()
        )
    }
}

/// Whether `preserve` keeps the cluster of a run that `failed` (or was cancelled).
fn keep_cluster(preserve: Preserve, failed: bool) -> bool {
    match preserve {
        Preserve::Always => true,
        Preserve::OnFailure => failed,
        Preserve::Never => false,
    }
}
