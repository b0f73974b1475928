//! `hybrid-e2e coverage`: the coverage phase alone, after a suite that ran outside `run` (a later
//! job step), against the cluster an earlier run kept. Same phase, same runner and reporters as
//! in `run`; only what `run`'s earlier phases would have found (the engine, a reachable API) is
//! found here first.

use std::sync::{Arc, Mutex, PoisonError};

use tokio_util::sync::CancellationToken;

use std::path::PathBuf;

use clap::ValueEnum as _;

use super::RunOptions;
use super::facts::WarningLog;
use super::schedule;
use crate::config::{EngineChoice, LoadedConfig};
use crate::model::{Event, PhaseName, PhaseReport, ReadRecordError, Reporters, RunRecord};
use crate::phases::{self, RunContext};
use crate::plan::{Overrides, Plan};
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

/// Why nothing could be captured at all: the first four are the caller's (exit 2), the rest
/// the machine's (exit 5).
#[derive(Debug, thiserror::Error)]
pub(crate) enum CaptureError {
    #[error(
        "{source}\n  `coverage` follows a `hybrid-e2e run` that kept its cluster: it reads that run's report directory (--report-dir)"
    )]
    NoRun { source: ReadRecordError },
    #[error("run {run_id} made no cluster (status {status}{failed}): nothing to capture coverage from")]
    NoCluster {
        run_id: String,
        status: &'static str,
        failed: String,
    },
    #[error("no image in {config} has `coverage: true`: nothing to capture")]
    NoCoverageImage { config: String },
    #[error(
        "run {run_id} deployed {deployed}, not {wanted}: give `coverage` the run's --tag-suffix (HYBRID_E2E_TAG_SUFFIX) and config"
    )]
    ForeignImages {
        run_id: String,
        deployed: String,
        wanted: String,
    },
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

impl CaptureError {
    /// The caller asked for something that cannot be (exit 2), rather than the machine failing.
    pub(crate) fn is_usage(&self) -> bool {
        matches!(
            self,
            CaptureError::NoRun { .. }
                | CaptureError::NoCluster { .. }
                | CaptureError::NoCoverageImage { .. }
                | CaptureError::ForeignImages { .. }
                | CaptureError::ClusterGone(_)
        )
    }
}

/// The run to capture from, as its `timings.json` in `report_dir` has it.
pub(crate) struct RunToCapture {
    pub(crate) record: RunRecord,
    pub(crate) timings: PathBuf,
    /// The run's plan again: its run id (the node directories, the per-run tags), its cluster,
    /// its engine unless `engine` says otherwise, its tag suffix.
    pub(crate) plan: Plan,
    /// What the user should know (a config changed since the run, an inferred tag suffix).
    pub(crate) notes: Vec<String>,
}

/// Read the run in `report_dir` and plan its coverage phase. Its coverage images must be ones
/// the run deployed (the workloads are found by reference); without `tag_suffix`, the suffix the
/// run's image references carry is taken.
pub(crate) fn run_to_capture(
    config: &LoadedConfig,
    report_dir: PathBuf,
    engine: Option<EngineChoice>,
    tag_suffix: Option<String>,
) -> Result<RunToCapture, CaptureError> {
    let timings = report_dir.join("timings.json");
    let record = crate::model::read_run_record(&timings).map_err(|source| CaptureError::NoRun { source })?;
    let made_cluster = record
        .phases
        .iter()
        .any(|phase| phase.name == PhaseName::Cluster.as_str() && phase.status.is_success());
    if !made_cluster {
        return Err(CaptureError::NoCluster {
            run_id: record.run_id.clone(),
            status: record.status.as_str(),
            failed: record
                .failed_phase
                .as_deref()
                .map(|phase| format!(", failed in {phase}"))
                .unwrap_or_default(),
        });
    }
    let mut notes = Vec::new();
    if record.config_hash != config.hash {
        notes.push(format!(
            "the config changed since run {}: its workloads are found in today's manifests",
            record.run_id
        ));
    }
    let engine = engine.or_else(|| {
        record
            .engine
            .as_deref()
            .and_then(|name| EngineChoice::from_str(name, true).ok())
    });
    let plan_with = |tag_suffix: Option<String>| {
        let overrides = Overrides {
            engine,
            cluster_name: Some(record.cluster_name.clone()),
            report_dir: Some(report_dir.clone()),
            tag_suffix,
            ..Overrides::default()
        };
        Plan::new(config, &overrides, record.run_id.clone())
    };
    let mut plan = plan_with(tag_suffix.clone());
    let Some(spec) = &plan.coverage else {
        return Err(CaptureError::NoCoverageImage {
            config: plan.config_file.clone().unwrap_or_else(|| "the config".to_owned()),
        });
    };
    let foreign = |plan: &Plan| -> Vec<String> {
        plan.coverage
            .iter()
            .flat_map(|spec| &spec.images)
            .filter(|image| !record.images.contains(&image.reference))
            .map(|image| image.reference.clone())
            .collect()
    };
    if tag_suffix.is_none()
        && !foreign(&plan).is_empty()
        && let Some(suffix) = suffix_of_the_run(&spec.images[0].reference, &record.images)
    {
        let suffixed = plan_with(Some(suffix.clone()));
        if foreign(&suffixed).is_empty() {
            notes.push(format!("tag suffix `{suffix}`: the run's image references carry it"));
            plan = suffixed;
        }
    }
    let wanted = foreign(&plan);
    if !wanted.is_empty() {
        return Err(CaptureError::ForeignImages {
            run_id: record.run_id.clone(),
            deployed: record.images.join(", "),
            wanted: wanted.join(", "),
        });
    }
    Ok(RunToCapture {
        record,
        timings,
        plan,
        notes,
    })
}

/// The tag suffix (`--tag-suffix`) a run's references add to `reference`: `<reference>-<suffix>`.
fn suffix_of_the_run(reference: &str, run_images: &[String]) -> Option<String> {
    let prefix = format!("{reference}-");
    run_images
        .iter()
        .find_map(|image| image.strip_prefix(&prefix))
        .filter(|suffix| crate::config::parse_tag_suffix(suffix).is_ok())
        .map(str::to_owned)
}

/// Run the coverage phase of `options.plan` against its (existing) cluster; SIGINT/SIGTERM
/// cancel it. `restore`: bring back what it stopped afterwards. `say` gets one-off lines
/// (how the cluster was reached).
pub(crate) async fn capture_with_signals(
    options: RunOptions,
    restore: bool,
    say: &mut dyn FnMut(&str),
) -> Result<CaptureOutcome, CaptureError> {
    super::until_signalled(|cancel| async move { capture(options, restore, say, &cancel).await }).await
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_suffix_is_what_the_run_appended_to_the_tag() {
        let run = [
            "localhost/app/gateway:e2e-pr7".to_owned(),
            "localhost/app/db:1".to_owned(),
        ];
        assert_eq!(
            suffix_of_the_run("localhost/app/gateway:e2e", &run).as_deref(),
            Some("pr7")
        );
        assert_eq!(suffix_of_the_run("localhost/app/db:1", &run), None);
        let odd = ["localhost/app/gateway:e2e-a/b".to_owned()];
        assert_eq!(suffix_of_the_run("localhost/app/gateway:e2e", &odd), None);
    }
}
