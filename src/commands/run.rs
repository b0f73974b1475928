//! `hybrid-e2e run`: the setup, then its reports (written locally first, then published).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use super::runtime;
use super::setup_args::{check_target, min_free_disk, overrides};
use crate::cli::{PublishArgs, RunArgs};
use crate::config::LoadedConfig;
use crate::errors::{ExpectedError, exit_codes};
use crate::model::{FailureClass, Reporter, RunRecord, Status};
use crate::pipeline::{self, RunOptions};
use crate::plan::{Plan, new_run_id};
use crate::report::display::Display;
use crate::report::printer::Printer;
use crate::report::publish;

/// The exit code a finished run maps to.
pub(crate) fn run_exit_code(record: &RunRecord, fail_on_target: bool) -> u8 {
    match record.status {
        Status::Ok | Status::Skipped => exit_codes::OK,
        Status::OverTarget if fail_on_target => exit_codes::TARGETS_EXCEEDED,
        Status::OverTarget => exit_codes::OK,
        Status::Cancelled => exit_codes::CANCELLED,
        Status::Failed => match record.failure_class {
            Some(FailureClass::Application) if record.failed_phase.as_deref() == Some("test") => {
                exit_codes::TESTS_FAILED
            }
            Some(FailureClass::Application) => exit_codes::SETUP_FAILED,
            _ => exit_codes::INFRASTRUCTURE,
        },
    }
}

pub(crate) fn run(args: RunArgs, config_path: Option<&Path>, printer: &Printer) -> Result<ExitCode, ExpectedError> {
    run_with(args, config_path, printer, RunHooks::default()).map(ExitCode::from)
}

/// What `hybrid-e2e action` adds to a run (src/action): the last word on the plan (the
/// container's network, deferred teardown), and reporters of its own (`GITHUB_STATE`).
#[derive(Default)]
pub(crate) struct RunHooks {
    pub(crate) adjust_plan: Option<PlanHook>,
    pub(crate) reporters: Vec<Box<dyn Reporter>>,
}

/// Called once with the loaded config and the plan, before anything runs.
pub(crate) type PlanHook = Box<dyn FnOnce(&LoadedConfig, &mut Plan) -> Result<(), ExpectedError>>;

/// `run`, with hooks; the exit code as a number.
pub(crate) fn run_with(
    args: RunArgs,
    config_path: Option<&Path>,
    printer: &Printer,
    hooks: RunHooks,
) -> Result<u8, ExpectedError> {
    let config = LoadedConfig::require(args.config.path.as_deref().or(config_path))?;
    let mut plan = Plan::new(&config, &overrides(&args.setup), new_run_id());
    if let Some(adjust) = hooks.adjust_plan {
        adjust(&config, &mut plan)?;
    }
    let report_dir = plan.report_dir.clone();
    let mut reporters: Vec<Box<dyn Reporter>> = vec![Box::new(Display::stderr(printer))];
    reporters.extend(hooks.reporters);
    let options = RunOptions {
        plan,
        lint_levels: super::lint::levels(&config, &[]),
        min_free_disk: min_free_disk(&args.disk),
        reporters,
    };
    let runtime = runtime()?;
    let outcome = runtime.block_on(pipeline::run_with_signals(options));
    let mut err = printer.stderr();
    if let Some(error) = &outcome.timings_error {
        let _ = writeln!(err, "error: {error}");
        return Ok(exit_codes::INFRASTRUCTURE);
    }
    let record = outcome.record;
    if let Some(code) = publish_record(
        runtime,
        &record,
        &report_dir,
        &args.publish,
        args.fail_on_target,
        printer,
        &mut err,
    )? {
        return Ok(code);
    }
    Ok(run_exit_code(&record, args.fail_on_target))
}

/// A finished run's reports: written locally first, then published to GitHub (retries, rate
/// limits), which ends at once on a signal like the run itself. `Some(code)` when publishing
/// ends the command (cancelled, or a report could not be written); `run` and `services up`.
pub(super) fn publish_record(
    runtime: tokio::runtime::Runtime,
    record: &RunRecord,
    report_dir: &Path,
    publish_args: &PublishArgs,
    fail_on_target: bool,
    printer: &Printer,
    err: &mut dyn Write,
) -> Result<Option<u8>, ExpectedError> {
    let records = std::slice::from_ref(record);
    let check = check_target(publish_args, printer.github);
    let published = runtime.block_on(async {
        tokio::select! {
            published = publish::publish(records, &[], report_dir, printer.github, fail_on_target, check) => Some(published),
            true = pipeline::signalled() => None,
        }
    });
    let Some(published) = published else {
        let _ = writeln!(
            err,
            "error: cancelled while publishing; the reports are in {}",
            report_dir.display()
        );
        return Ok(Some(exit_codes::CANCELLED));
    };
    // Stray requests must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match published {
        Ok(published) => {
            super::write_stdout(printer, &published.commands)?;
            for warning in published.warnings {
                let _ = writeln!(err, "warning: {warning}");
            }
            if let Some(url) = published.check_run_url.filter(|_| !printer.quiet()) {
                let _ = writeln!(err, "check run: {url}");
            }
            Ok(None)
        }
        Err(error) => {
            let _ = writeln!(err, "error: {error}");
            Ok(Some(exit_codes::INFRASTRUCTURE))
        }
    }
}
