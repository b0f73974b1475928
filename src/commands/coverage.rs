//! `hybrid-e2e coverage`: E2E coverage (DD-TEST-007) after a suite that ran outside `run`. It
//! reads the run's `timings.json` (its run id, cluster and images), runs the coverage phase
//! against the cluster the run kept, adds that phase to `timings.json` and renders `junit.xml`
//! and `summary.md` again; in GitHub Actions it appends the coverage table to the job summary.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::ValueEnum as _;

use super::run::PlanHook;
use super::runtime;
use crate::cli::CoverageArgs;
use crate::config::{EngineChoice, LoadedConfig};
use crate::errors::{ExpectedError, exit_codes};
use crate::files;
use crate::model::{Reporter, RunRecord, read_run_record};
use crate::pipeline::{self, CaptureError, RunOptions};
use crate::plan::{Overrides, Plan};
use crate::report::display::Display;
use crate::report::printer::Printer;
use crate::report::{github, publish, summary};

pub(crate) fn coverage(
    args: CoverageArgs,
    config_path: Option<&Path>,
    printer: &Printer,
) -> Result<ExitCode, ExpectedError> {
    coverage_with(args, config_path, printer, None).map(ExitCode::from)
}

/// `coverage`, with the container action's last word on the plan (its network, its
/// kubeconfigs); the exit code as a number.
pub(crate) fn coverage_with(
    args: CoverageArgs,
    config_path: Option<&Path>,
    printer: &Printer,
    adjust_plan: Option<PlanHook>,
) -> Result<u8, ExpectedError> {
    let config = LoadedConfig::require(args.config.path.as_deref().or(config_path))?;
    let report_dir = args
        .report_dir
        .clone()
        .unwrap_or_else(|| config.resolve(&config.file.report_dir));
    let timings = report_dir.join("timings.json");
    let mut record = read_run_record(&timings).map_err(|error| {
        ExpectedError::Usage(format!(
            "{error}\n  `coverage` follows a `hybrid-e2e run` that kept its cluster: it reads that run's report directory (--report-dir)"
        ))
    })?;
    let mut plan = plan_for(&config, &args, &record, report_dir.clone())?;
    if let Some(adjust) = adjust_plan {
        adjust(&config, &mut plan)?;
    }
    let reporters: Vec<Box<dyn Reporter>> = vec![Box::new(Display::stderr(printer))];
    let options = RunOptions {
        plan,
        lint_levels: super::lint::levels(&config, &[]),
        min_free_disk: 0,
        reporters,
    };
    let runtime = runtime()?;
    let mut err = printer.stderr();
    let mut say = |line: &str| {
        if !printer.quiet() {
            let _ = writeln!(printer.stderr(), "{line}");
        }
    };
    let outcome = match runtime.block_on(pipeline::capture_coverage_with_signals(
        options,
        !args.leave_stopped,
        &mut say,
    )) {
        Ok(outcome) => outcome,
        Err(error @ CaptureError::ClusterGone(_)) => return Err(ExpectedError::Usage(error.to_string())),
        Err(error) => {
            let _ = writeln!(err, "error: {error}");
            return Ok(exit_codes::INFRASTRUCTURE);
        }
    };
    record.add_late_phase(&outcome.report, outcome.warnings);
    runtime.block_on(write_reports(&record, &timings, &report_dir, printer.github, &mut err))?;
    // Stray requests must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    let _ = writeln!(
        err,
        "coverage: {} updated (phase `coverage`), with junit.xml and summary.md",
        timings.display()
    );
    if outcome.cancelled {
        let _ = writeln!(
            err,
            "error: cancelled; what was captured is in {}",
            report_dir.display()
        );
        return Ok(exit_codes::CANCELLED);
    }
    Ok(exit_codes::OK)
}

/// The run's plan again: its run id (the node directories and the per-run tags), its cluster,
/// its engine unless `--engine` says otherwise. Its coverage images must be ones the run
/// deployed (the workloads are found by reference).
fn plan_for(
    config: &LoadedConfig,
    args: &CoverageArgs,
    record: &RunRecord,
    report_dir: PathBuf,
) -> Result<Plan, ExpectedError> {
    let made_cluster = record
        .phases
        .iter()
        .any(|phase| phase.name == "cluster" && phase.status.is_success());
    if !made_cluster {
        return Err(ExpectedError::Usage(format!(
            "run {} made no cluster (status {}{}): nothing to capture coverage from",
            record.run_id,
            record.status.as_str(),
            record
                .failed_phase
                .as_deref()
                .map(|phase| format!(", failed in {phase}"))
                .unwrap_or_default()
        )));
    }
    let engine = args.engine.or_else(|| {
        record
            .engine
            .as_deref()
            .and_then(|name| EngineChoice::from_str(name, true).ok())
    });
    let overrides = Overrides {
        engine,
        cluster_name: Some(record.cluster_name.clone()),
        report_dir: Some(report_dir),
        tag_suffix: args.tag_suffix.clone(),
        ..Overrides::default()
    };
    let plan = Plan::new(config, &overrides, record.run_id.clone());
    let Some(spec) = &plan.coverage else {
        return Err(ExpectedError::Usage(format!(
            "no image in {} has `coverage: true`: nothing to capture",
            plan.config_file.as_deref().unwrap_or("the config")
        )));
    };
    let foreign: Vec<&str> = spec
        .images
        .iter()
        .filter(|image| !record.images.contains(&image.reference))
        .map(|image| image.reference.as_str())
        .collect();
    if !foreign.is_empty() {
        return Err(ExpectedError::Usage(format!(
            "run {} deployed {}, not {}: give `coverage` the run's --tag-suffix (HYBRID_E2E_TAG_SUFFIX) and config",
            record.run_id,
            record.images.join(", "),
            foreign.join(", ")
        )));
    }
    Ok(plan)
}

/// `timings.json` with the new phase, then `junit.xml` and `summary.md` from it (local files
/// first); in GitHub Actions, the coverage table on the job summary.
async fn write_reports(
    record: &RunRecord,
    timings: &Path,
    report_dir: &Path,
    github: bool,
    err: &mut dyn std::io::Write,
) -> Result<(), ExpectedError> {
    let write_error = |source: std::io::Error| ExpectedError::WriteOutput {
        path: timings.to_path_buf(),
        source,
    };
    let text = serde_json::to_string_pretty(record).map_err(|error| write_error(std::io::Error::other(error)))? + "\n";
    files::write_atomically(timings, text.as_bytes()).map_err(write_error)?;
    let records = std::slice::from_ref(record);
    if let Err(error) = publish::publish(records, &[], report_dir, false, false, None).await {
        return Err(ExpectedError::WriteOutput {
            path: error.path,
            source: error.source,
        });
    }
    if github && let Some(section) = summary::coverage_section(record) {
        // The run's own summary is already on the page: only what is new.
        if let Err(warning) = github::append("GITHUB_STEP_SUMMARY", &section) {
            let _ = writeln!(err, "warning: {warning}");
        }
    }
    Ok(())
}
