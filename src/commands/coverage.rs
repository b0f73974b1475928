//! `hybrid-e2e coverage`: E2E coverage (DD-TEST-007) after a suite that ran outside `run`. The
//! run's `timings.json` says what to capture from (pipeline::coverage); the coverage phase it
//! runs is added to that record, and `junit.xml` and `summary.md` are rendered again from it; in
//! GitHub Actions the coverage table is appended to the job summary.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use super::run::PlanHook;
use super::runtime;
use crate::cli::CoverageArgs;
use crate::config::LoadedConfig;
use crate::errors::{ExpectedError, exit_codes};
use crate::files;
use crate::model::{Reporter, RunRecord, Status};
use crate::phases;
use crate::pipeline::{self, RunOptions};
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
    let run = pipeline::coverage_run_to_capture(&config, report_dir.clone(), args.engine, args.tag_suffix.clone())?;
    let mut err = printer.stderr();
    if !printer.quiet() {
        for note in &run.notes {
            let _ = writeln!(err, "note: {note}");
        }
    }
    let (mut record, timings, mut plan) = (run.record, run.timings, run.plan);
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
    let mut say = |line: &str| {
        if !printer.quiet() {
            let _ = writeln!(printer.stderr(), "{line}");
        }
    };
    let outcome = runtime.block_on(pipeline::capture_coverage_with_signals(
        options,
        !args.leave_stopped,
        &mut say,
    ))?;
    // The warnings of a coverage phase this one replaces are its own, not the run's any more.
    let stale = record
        .phases
        .iter()
        .find(|phase| phase.name == outcome.report.phase.as_str())
        .map(phases::coverage::warnings_of)
        .unwrap_or_default();
    record.add_late_phase(&outcome.report, outcome.warnings, &stale);
    runtime.block_on(write_reports(
        &record,
        &timings,
        &report_dir,
        args.fail_on_target,
        printer.github,
        &mut err,
    ))?;
    // Stray requests must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    if !printer.quiet() {
        let _ = writeln!(
            err,
            "coverage: {} updated (phase `coverage`), with junit.xml and summary.md",
            timings.display()
        );
    }
    if outcome.cancelled {
        let _ = writeln!(
            err,
            "error: cancelled; what was captured is in {}",
            report_dir.display()
        );
        return Ok(exit_codes::CANCELLED);
    }
    // Coverage problems are warnings; a failed step can only be a panic in the capture.
    if outcome.report.status == Status::Failed {
        let _ = writeln!(
            err,
            "error: the coverage phase failed: {} (a bug in hybrid-e2e; please report it)",
            outcome.report.message.as_deref().unwrap_or("no message")
        );
        return Ok(exit_codes::BUG);
    }
    Ok(exit_codes::OK)
}

/// `timings.json` with the new phase, then `junit.xml` and `summary.md` from it (local files
/// first); in GitHub Actions, the coverage table on the job summary.
async fn write_reports(
    record: &RunRecord,
    timings: &Path,
    report_dir: &Path,
    fail_on_target: bool,
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
    if let Err(error) = publish::publish(records, &[], report_dir, false, fail_on_target, None).await {
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
