//! `hybrid-e2e run`: preflight, then DD-TEST-002's phases in order, teardown per `preserve`,
//! and `timings.json` written whatever happens (success, failure, Ctrl-C or SIGTERM).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::engine::{self, Failure, PhaseName, PhaseOptions, PhaseReport, StepReport};
use super::plan::Plan;
use super::preflight::{self, CheckStatus};
use super::tools::Engine;
use super::{build, cluster, load};
use crate::config::Preserve;
use crate::deploy::phase::{self, DeployOptions};
use crate::lint::RuleLevels;
use crate::report::display::Display;
use crate::report::events::{Event, Reporter, Reporters};
use crate::report::timings::TimingsFile;
use crate::timing::{FailureClass, PhaseRecord, RunRecord, Status, StepRecord, Stopwatch, TIMINGS_FORMAT_VERSION};

/// What `run` was asked to do.
pub(crate) struct RunOptions {
    pub(crate) plan: Plan,
    pub(crate) lint_levels: RuleLevels,
    pub(crate) min_free_disk: u64,
    pub(crate) verbose: bool,
    pub(crate) quiet: bool,
    /// Extra reporters (tests).
    pub(crate) extra_reporters: Vec<Box<dyn Reporter>>,
}

/// The finished run.
pub(crate) struct RunOutcome {
    pub(crate) record: RunRecord,
    /// Set when `timings.json` could not be written.
    pub(crate) timings_error: Option<String>,
}

/// Run on a fresh single-threaded runtime; SIGINT/SIGTERM cancel the run cleanly.
pub(crate) fn run_blocking(options: RunOptions) -> std::io::Result<RunOutcome> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let cancel = CancellationToken::new();
    let outcome = runtime.block_on(async {
        let signals = cancel.clone();
        tokio::spawn(async move {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut terminate), Ok(mut interrupt)) =
                (signal(SignalKind::terminate()), signal(SignalKind::interrupt()))
            else {
                return;
            };
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
            signals.cancel();
        });
        run(options, cancel).await
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(outcome)
}

/// The run itself, cancellable through `cancel`.
pub(crate) async fn run(options: RunOptions, cancel: CancellationToken) -> RunOutcome {
    let plan = Arc::new(options.plan);
    let timings_error = Arc::new(Mutex::new(None));
    let mut sinks: Vec<Box<dyn Reporter>> = vec![
        Box::new(Display::stderr(options.verbose, options.quiet)),
        Box::new(TimingsFile {
            path: plan.report_dir.join("timings.json"),
            error: Arc::clone(&timings_error),
        }),
    ];
    sinks.extend(options.extra_reporters);
    let reporters = Arc::new(Reporters::new(sinks));
    let report_dir = plan.report_dir.display().to_string();
    reporters.emit(Event::RunStarted {
        run_id: &plan.run_id,
        cluster: &plan.cluster.name,
        report_dir: &report_dir,
    });
    for warning in &plan.warnings {
        reporters.emit(Event::Warning { message: warning });
    }
    let started = Stopwatch::start();
    let mut phases: Vec<PhaseReport> = Vec::new();

    let (preflight_report, preflight) =
        run_preflight(&plan, options.min_free_disk, &options.lint_levels, &reporters).await;
    let preflight_ok = preflight_report.status != Status::Failed;
    phases.push(preflight_report);
    let tools = match (preflight_ok, preflight.engine) {
        (true, Some(engine)) => Some((Arc::new(engine), Arc::new(preflight.kind))),
        _ => None,
    };
    let mut cluster_created = false;
    if let Some((engine, kind)) = &tools {
        let options = |target| PhaseOptions {
            concurrency: plan.concurrency,
            fail_fast: plan.fail_fast,
            target: Some(target),
        };
        let steps = plan
            .images
            .iter()
            .map(|image| build::step(Arc::clone(engine), image.clone()))
            .collect();
        let build = engine::run_phase(
            PhaseName::Build,
            steps,
            options(plan.targets.build),
            &cancel,
            &reporters,
            &plan.report_dir,
        )
        .await;
        let mut healthy = build.status.is_success();
        phases.push(build);
        if healthy {
            let diagnostics = plan.report_dir.join("diagnostics");
            let step = cluster::step(Arc::clone(kind), plan.cluster.clone(), diagnostics, plan.poll_interval);
            let report = engine::run_phase(
                PhaseName::Cluster,
                vec![step],
                options(plan.targets.cluster),
                &cancel,
                &reporters,
                &plan.report_dir,
            )
            .await;
            // A failed create is retained (--retain) and may still need deleting.
            cluster_created = true;
            healthy = report.status.is_success();
            phases.push(report);
        }
        if healthy {
            let archives = plan.report_dir.join("archives");
            let steps = plan
                .images
                .iter()
                .map(|image| {
                    load::step(
                        Arc::clone(engine),
                        Arc::clone(kind),
                        plan.cluster.name.clone(),
                        image.clone(),
                        archives.clone(),
                    )
                })
                .collect();
            let report = engine::run_phase(
                PhaseName::Load,
                steps,
                options(plan.targets.load),
                &cancel,
                &reporters,
                &plan.report_dir,
            )
            .await;
            healthy = report.status.is_success();
            phases.push(report);
        }
        if healthy {
            let deploy = DeployOptions::from_plan(&plan);
            let report = if deploy.is_empty() {
                let report = PhaseReport::skipped(
                    PhaseName::Deploy,
                    Some(plan.targets.deploy),
                    "no namespaces, CRDs or deploy groups configured",
                );
                reporters.emit(Event::PhaseFinished { report: &report });
                report
            } else {
                let steps = phase::steps(deploy);
                let options = PhaseOptions {
                    // Group steps wait for each other; the engine must not hold them back.
                    concurrency: steps.len(),
                    fail_fast: plan.fail_fast,
                    target: Some(plan.targets.deploy),
                };
                engine::run_phase(PhaseName::Deploy, steps, options, &cancel, &reporters, &plan.report_dir).await
            };
            phases.push(report);
        }
    }
    for phase in [PhaseName::Build, PhaseName::Cluster, PhaseName::Load, PhaseName::Deploy] {
        if !phases.iter().any(|report| report.phase == phase) {
            let target = Some(match phase {
                PhaseName::Build => plan.targets.build,
                PhaseName::Cluster => plan.targets.cluster,
                PhaseName::Load => plan.targets.load,
                _ => plan.targets.deploy,
            });
            phases.push(PhaseReport::skipped(phase, target, "an earlier phase did not succeed"));
        }
    }
    let failed = phases.iter().any(|phase| phase.status == Status::Failed) || cancel.is_cancelled();
    let keep = match plan.cluster.preserve {
        Preserve::Always => true,
        Preserve::OnFailure => failed,
        Preserve::Never => false,
    };
    if let Some((_, kind)) = &tools
        && cluster_created
    {
        if keep {
            let message = format!(
                "cluster `{}` preserved (preserve: {}); kubeconfig {}; delete it with `hybrid-e2e cleanup` or `kind delete cluster --name {}`",
                plan.cluster.name,
                plan.cluster.preserve.as_str(),
                plan.cluster.kubeconfig.display(),
                plan.cluster.name
            );
            reporters.emit(Event::Warning { message: &message });
        } else {
            let step = cluster::delete_step(Arc::clone(kind), plan.cluster.name.clone());
            let never = CancellationToken::new();
            let options = PhaseOptions {
                concurrency: 1,
                fail_fast: true,
                target: None,
            };
            phases.push(
                engine::run_phase(
                    PhaseName::Teardown,
                    vec![step],
                    options,
                    &never,
                    &reporters,
                    &plan.report_dir,
                )
                .await,
            );
        }
    }
    let record = record(
        &plan,
        &phases,
        &started,
        tools.as_ref().map(|(engine, _)| engine.as_ref()),
        preflight.kind_version,
        cancel.is_cancelled(),
    );
    reporters.emit(Event::RunFinished { record: &record });
    let timings_error = timings_error
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .take();
    RunOutcome { record, timings_error }
}

impl Status {
    fn is_success(self) -> bool {
        matches!(self, Status::Ok | Status::OverTarget)
    }
}

/// Preflight as a phase of its own: one step per check, so it is timed and reported like the rest.
async fn run_preflight(
    plan: &Plan,
    min_free_disk: u64,
    levels: &RuleLevels,
    reporters: &Arc<Reporters>,
) -> (PhaseReport, preflight::Preflight) {
    let stopwatch = Stopwatch::start();
    let result = preflight::run(plan, min_free_disk, levels).await;
    let timing = stopwatch.stop();
    reporters.emit(Event::PhaseStarted {
        phase: PhaseName::Preflight,
        steps: result.checks.len(),
        target: None,
    });
    let mut steps = Vec::new();
    for check in &result.checks {
        if check.status == CheckStatus::Warn {
            let message = format!(
                "{}: {} ({})",
                check.name,
                check.detail,
                check.hint.as_deref().unwrap_or("")
            );
            reporters.emit(Event::Warning { message: &message });
        }
        let failure = (check.status == CheckStatus::Fail).then(|| {
            let mut failure = Failure::new(check.class, format!("{}: {}", check.name, check.detail));
            if let Some(hint) = &check.hint {
                failure = failure.hint(hint.clone());
            }
            if let Some(file) = &check.file {
                failure = failure.file(file.clone());
            }
            failure
        });
        let report = StepReport {
            name: check.name.to_owned(),
            timing: None,
            status: if failure.is_some() { Status::Failed } else { Status::Ok },
            failure,
            bytes: None,
            attempts: 1,
            log: None,
            note: Some(check.detail.clone()),
        };
        reporters.emit(Event::StepFinished {
            phase: PhaseName::Preflight,
            report: &report,
        });
        steps.push(report);
    }
    let status = if result.failed() { Status::Failed } else { Status::Ok };
    let message = steps
        .iter()
        .find_map(|step| step.failure.as_ref().map(|failure| failure.message.clone()));
    let report = PhaseReport {
        phase: PhaseName::Preflight,
        timing: Some(timing),
        target: None,
        status,
        steps,
        message,
    };
    reporters.emit(Event::PhaseFinished { report: &report });
    (report, result)
}

/// Lines of a failed step's output kept in `timings.json`.
const TAIL_IN_RECORD: usize = 120;

fn rfc3339(time: chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn step_record(step: &StepReport) -> StepRecord {
    let duration = step.timing.map_or(0.0, |timing| timing.duration.as_secs_f64());
    StepRecord {
        name: step.name.clone(),
        started_at: step.timing.map(|timing| rfc3339(timing.started_at)),
        finished_at: step.timing.map(|timing| rfc3339(timing.finished_at)),
        duration_seconds: duration,
        status: step.status,
        failure_class: step.failure.as_ref().map(|failure| failure.class),
        message: step.failure.as_ref().map(|failure| failure.message.clone()),
        hint: step.failure.as_ref().and_then(|failure| failure.hint.clone()),
        file: step.failure.as_ref().and_then(|failure| failure.file.clone()),
        line: step.failure.as_ref().and_then(|failure| failure.line),
        bytes: step.bytes,
        bytes_per_second: step
            .bytes
            .filter(|_| duration > 0.0)
            .map(|bytes| bytes as f64 / duration),
        attempts: step.attempts,
        log: step.log.clone(),
        tail: step.failure.as_ref().map_or_else(Vec::new, |failure| {
            failure.tail[failure.tail.len().saturating_sub(TAIL_IN_RECORD)..].to_vec()
        }),
    }
}

fn record(
    plan: &Plan,
    phases: &[PhaseReport],
    started: &Stopwatch,
    engine: Option<&Engine>,
    kind_version: Option<String>,
    cancelled: bool,
) -> RunRecord {
    let setup: Duration = phases
        .iter()
        .filter(|phase| phase.phase.is_setup())
        .filter_map(|phase| phase.timing)
        .map(|timing| timing.duration)
        .sum();
    let failed = phases.iter().find(|phase| phase.status == Status::Failed);
    let first_failure = failed.and_then(PhaseReport::failure);
    let over = phases.iter().any(|phase| phase.status == Status::OverTarget) || setup > plan.targets.total;
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
            .map(|message| format!("{} failed: {message}", phase.phase.as_str())),
        (None, true) => Some("cancelled by a signal".to_owned()),
        (None, false) if over => Some("over target".to_owned()),
        _ => None,
    };
    let total = started.stop();
    let warnings = plan.warnings.clone();
    RunRecord {
        format_version: TIMINGS_FORMAT_VERSION,
        run_id: plan.run_id.clone(),
        config_file: plan.config_file.clone(),
        config_hash: plan.config_hash.clone(),
        commit: commit(),
        host: nix::unistd::gethostname()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default(),
        engine: engine.map(|engine| engine.kind.as_str().to_owned()),
        engine_version: engine.map(|engine| engine.version.clone()),
        kind_version,
        cluster_name: plan.cluster.name.clone(),
        images: plan.images.iter().map(|image| image.reference.clone()).collect(),
        started_at: rfc3339(total.started_at),
        finished_at: Some(rfc3339(total.finished_at)),
        status,
        failure_class: first_failure
            .map(|(_, failure)| failure.class)
            .or(cancelled.then_some(FailureClass::Infrastructure)),
        failed_phase: failed.map(|phase| phase.phase.as_str().to_owned()),
        message,
        setup_seconds: setup.as_secs_f64(),
        total_target_seconds: plan.targets.total.as_secs_f64(),
        within_target: setup <= plan.targets.total && !over && failed.is_none() && !cancelled,
        phases: phases
            .iter()
            .map(|phase| PhaseRecord {
                name: phase.phase.as_str().to_owned(),
                started_at: phase.timing.map(|timing| rfc3339(timing.started_at)),
                finished_at: phase.timing.map(|timing| rfc3339(timing.finished_at)),
                duration_seconds: phase.timing.map_or(0.0, |timing| timing.duration.as_secs_f64()),
                target_seconds: phase.target.map(|target| target.as_secs_f64()),
                target_line: plan.target_line(phase.phase.as_str()),
                status: phase.status,
                failure_class: phase.failure().map(|(_, failure)| failure.class),
                message: phase.message.clone(),
                steps: phase.steps.iter().map(step_record).collect(),
            })
            .collect(),
        warnings,
    }
}

/// `GITHUB_SHA`, else `git rev-parse HEAD`.
fn commit() -> Option<String> {
    if let Ok(sha) = std::env::var("GITHUB_SHA")
        && !sha.is_empty()
    {
        return Some(sha);
    }
    let output = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
        .filter(|sha| !sha.is_empty())
}
