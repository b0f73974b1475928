//! `hybrid-e2e run`: the setup, then its reports (written locally first, then published).

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use super::runtime;
use super::setup_args::{check_target, min_free_disk, overrides};
use crate::cli::RunArgs;
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
    let records = [outcome.record];
    let check = check_target(&args.publish, printer.github);
    // The local reports are written first; publishing to GitHub (retries, rate limits) ends at
    // once on a signal, like the run itself.
    let published = runtime.block_on(async {
        tokio::select! {
            published = publish::publish(&records, &[], &report_dir, printer.github, args.fail_on_target, check) => Some(published),
            true = pipeline::signalled() => None,
        }
    });
    let Some(published) = published else {
        let _ = writeln!(
            err,
            "error: cancelled while publishing; the reports are in {}",
            report_dir.display()
        );
        return Ok(exit_codes::CANCELLED);
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
        }
        Err(error) => {
            let _ = writeln!(err, "error: {error}");
            return Ok(exit_codes::INFRASTRUCTURE);
        }
    }
    Ok(run_exit_code(&records[0], args.fail_on_target))
}
