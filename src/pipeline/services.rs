//! `services up`: preflight (the services' checks), build (only the images services run), then
//! the services phase, through the same runner as `run`. On failure or a signal: diagnostics of
//! every container first, then everything the run started is removed (by its run label). On
//! success the containers keep running for the tests; `services down` removes them.
//! `timings.json` is written whatever happens.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{RunOptions, RunOutcome, Session};
use crate::model::{Event, PhaseName, PhaseReport, Reporters, RunRecord, Status};
use crate::phases::services::Endpoint;
use crate::phases::{self, RunContext};
use crate::runner::{self, PhaseOptions, Step, StepContext, StepResult};
use crate::tools::containers::{self, RUN_LABEL};

/// A finished `services up`.
pub(crate) struct ServicesOutcome {
    pub(crate) run: RunOutcome,
    /// Each service's endpoints (only when everything is up).
    pub(crate) endpoints: std::collections::BTreeMap<String, Vec<Endpoint>>,
    /// The engine used (`docker`, `podman`), for `services down`.
    pub(crate) engine: Option<String>,
    /// Whether the services are still running (the run succeeded).
    pub(crate) kept: bool,
}

/// `services up`; SIGINT/SIGTERM cancel it and remove what it started.
pub(crate) async fn services_up_with_signals(options: RunOptions) -> ServicesOutcome {
    super::until_signalled(|cancel| services_up(options, cancel)).await
}

type StepsOf = fn(&Arc<RunContext>) -> Result<Vec<Step>, &'static str>;

/// `services up`, cancellable through `cancel`.
pub(crate) async fn services_up(options: RunOptions, cancel: CancellationToken) -> ServicesOutcome {
    let session = Session::start(options, "services up", |plan| &plan.services.network);
    let (context, plan, reporters) = (
        Arc::clone(&session.context),
        Arc::clone(&session.plan),
        Arc::clone(&session.reporters),
    );
    let schedule: [(PhaseName, StepsOf); 3] = [
        (PhaseName::Preflight, phases::preflight::services_steps),
        (PhaseName::Build, |run| {
            if run.plan.images.is_empty() {
                return Err("no service is built from `images:`");
            }
            phases::build::steps(run)
        }),
        (PhaseName::Services, phases::services::steps),
    ];
    let mut phases: Vec<PhaseReport> = Vec::new();
    let mut stopped = false;
    for (phase, steps) in schedule {
        let target = plan.target(phase);
        if stopped {
            phases.push(PhaseReport::skipped(phase, target, "an earlier phase did not succeed"));
            continue;
        }
        let report = match steps(&context) {
            Ok(steps) => {
                let options = match phase {
                    // One check after another, every one reported.
                    PhaseName::Preflight => PhaseOptions {
                        concurrency: 1,
                        fail_fast: false,
                        target: None,
                        target_line: None,
                    },
                    // Service steps wait for each other; the runner must not hold them back.
                    PhaseName::Services => PhaseOptions {
                        concurrency: steps.len(),
                        fail_fast: plan.fail_fast,
                        target,
                        target_line: plan.target_line(phase),
                    },
                    _ => PhaseOptions {
                        concurrency: plan.concurrency,
                        fail_fast: plan.fail_fast,
                        target,
                        target_line: plan.target_line(phase),
                    },
                };
                runner::run_phase(phase, steps, options, &cancel, &reporters, &plan.report_dir).await
            }
            Err(reason) => {
                let report = PhaseReport::skipped(phase, target, reason);
                reporters.emit(Event::PhaseFinished { report: &report });
                report
            }
        };
        stopped = !(report.status.is_success() || report.status == Status::Skipped);
        phases.push(report);
    }
    let services_ran = phases
        .iter()
        .any(|phase| phase.phase == PhaseName::Services && phase.status != Status::Skipped);
    let kept = !stopped && !cancel.is_cancelled();
    if services_ran
        && !kept
        && let Some(step) = teardown_step(&context, &reporters, true).await
    {
        phases.push(runner::run_teardown(vec![step], &reporters, &plan.report_dir).await);
    }
    let facts = session.facts(None, plan.services.network.clone()).await;
    let record = RunRecord::new(facts, &phases, session.started.stop(), cancel.is_cancelled());
    let run = session.finish(record).await;
    ServicesOutcome {
        endpoints: if kept {
            context.services.endpoints()
        } else {
            Default::default()
        },
        engine: context.engine().map(|engine| engine.kind.as_str().to_owned()),
        kept,
        run,
    }
}

/// Remove everything carrying `label`, as a teardown step.
/// The teardown step removing what this run's services phase started (by its run label), after
/// the diagnostics of every container when the run `failed`; `None` without an engine.
pub(super) async fn teardown_step(context: &RunContext, reporters: &Reporters, failed: bool) -> Option<Step> {
    let engine = context.engine()?;
    let plan = &context.plan;
    if failed {
        // Diagnostics before anything is removed.
        let written = phases::services::diagnose(&engine, &plan.services, &plan.report_dir).await;
        if !written.is_empty() {
            let message = format!(
                "diagnostics of {} container(s) in {}",
                written.len() / 2,
                plan.report_dir.join("diagnostics/services").display()
            );
            reporters.emit(Event::Warning { message: &message });
        }
    }
    let label = format!("{RUN_LABEL}={}", plan.run_id);
    Some(Step::new("services", move |context: StepContext| async move {
        remove_step(&engine, &label, &context).await
    }))
}

async fn remove_step(engine: &crate::tools::ContainerEngine, label: &str, context: &StepContext) -> StepResult {
    let removed = containers::remove_labelled(engine, label).await;
    context.say(&format!(
        "removed container(s) [{}] and network(s) [{}]",
        removed.containers.join(", "),
        removed.networks.join(", ")
    ));
    if removed.errors.is_empty() {
        StepResult::ok()
    } else {
        StepResult::failed(
            crate::model::Failure::new(
                crate::model::FailureClass::Infrastructure,
                format!("could not remove everything: {}", removed.errors.join("; ")),
            )
            .hint("`hybrid-e2e services down --all` retries; `docker ps -a --filter label=io.hybrid-e2e.services.run` lists what is left"),
        )
    }
}
