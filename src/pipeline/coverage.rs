//! `hybrid-e2e coverage`: the coverage phase alone, after a suite that ran outside `run` (a later
//! job step), against the cluster an earlier run kept. Same phase, same runner and reporters as
//! in `run`; only what `run`'s earlier phases would have found (the engine, a reachable API) is
//! found here first.

use std::sync::{Arc, Mutex, PoisonError};

use tokio_util::sync::CancellationToken;

use super::RunOptions;
use super::facts::WarningLog;
use super::schedule;
use crate::model::{Event, PhaseName, PhaseReport, Reporters};
use crate::phases::{self, RunContext};
use crate::runner;
use crate::tools;

/// The phase as it ran.
pub(crate) struct CaptureOutcome {
    pub(crate) report: PhaseReport,
    /// The warnings emitted while it ran (every coverage problem is one).
    pub(crate) warnings: Vec<String>,
    /// A signal stopped it (what it did so far is in `report`).
    pub(crate) cancelled: bool,
}

/// Why nothing could be captured at all.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CaptureError {
    #[error("no container engine to copy from the Kind nodes: {message} ({hint})")]
    Engine { message: String, hint: String },
    #[error("`kind get clusters` failed: {0}")]
    Kind(String),
    #[error(
        "Kind cluster `{0}` no longer exists: `coverage` reads from the cluster the run kept (`run --preserve always`, or the action before its post step); run it before the cluster is deleted"
    )]
    ClusterGone(String),
    #[error("cannot reach Kind cluster `{cluster}`: {message}")]
    Unreachable { cluster: String, message: String },
}

/// Run the coverage phase of `options.plan` against its (existing) cluster; SIGINT/SIGTERM
/// cancel it. `restore`: scale what it stopped back up afterwards. `say` gets one-off lines
/// (how the cluster was reached).
pub(crate) async fn capture_with_signals(
    options: RunOptions,
    restore: bool,
    say: &mut dyn FnMut(&str),
) -> Result<CaptureOutcome, CaptureError> {
    let cancel = CancellationToken::new();
    let signals = cancel.clone();
    let listener = tokio::spawn(async move {
        if super::signalled().await {
            signals.cancel();
        }
    });
    let outcome = capture(options, restore, say, &cancel).await;
    listener.abort();
    outcome
}

async fn capture(
    options: RunOptions,
    restore: bool,
    say: &mut dyn FnMut(&str),
    cancel: &CancellationToken,
) -> Result<CaptureOutcome, CaptureError> {
    let context = Arc::new(RunContext::new(
        options.plan,
        options.lint_levels,
        options.min_free_disk,
    ));
    let plan = Arc::clone(&context.plan);
    let warnings = Arc::new(Mutex::new(Vec::new()));
    let mut sinks = options.reporters;
    sinks.push(Box::new(WarningLog(Arc::clone(&warnings))));
    let reporters = Arc::new(Reporters::new(sinks));
    let report_dir = plan.report_dir.display().to_string();
    reporters.emit(Event::RunStarted {
        command: "coverage",
        run_id: &plan.run_id,
        cluster: &plan.cluster.name,
        report_dir: &report_dir,
    });
    let engine = tools::detect_engine(plan.engine)
        .await
        .map_err(|problem| CaptureError::Engine {
            message: problem.message,
            hint: problem.hint,
        })?;
    context.set_engine(engine);
    let clusters = context.kind().clusters().await.map_err(CaptureError::Kind)?;
    if !clusters.contains(&plan.cluster.name) {
        return Err(CaptureError::ClusterGone(plan.cluster.name.clone()));
    }
    let reached = phases::cluster::reach_existing(&context)
        .await
        .map_err(|failure| CaptureError::Unreachable {
            cluster: plan.cluster.name.clone(),
            message: failure.hint.map_or_else(
                || failure.message.clone(),
                |hint| format!("{} ({hint})", failure.message),
            ),
        })?;
    for line in &reached {
        say(line);
    }
    context.set_cluster_kept(restore);
    let steps = schedule::entry(PhaseName::Coverage)
        .ok_or("the schedule has no coverage phase")
        .and_then(|entry| Ok((entry, (entry.steps)(&context)?)));
    let report = match steps {
        Ok((entry, steps)) => {
            let phase_options = (entry.options)(&plan, steps.len());
            runner::run_phase(
                PhaseName::Coverage,
                steps,
                phase_options,
                cancel,
                &reporters,
                &plan.report_dir,
            )
            .await
        }
        Err(reason) => {
            let report = PhaseReport::skipped(PhaseName::Coverage, None, reason);
            reporters.emit(Event::PhaseFinished { report: &report });
            report
        }
    };
    let warnings = std::mem::take(&mut *warnings.lock().unwrap_or_else(PoisonError::into_inner));
    Ok(CaptureOutcome {
        report,
        warnings,
        cancelled: cancel.is_cancelled(),
    })
}
