//! `hybrid-e2e doctor`: the preflight checks alone, as a table.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use super::runtime;
use super::setup_args::{min_free_disk, overrides};
use crate::cli::SetupArgs;
use crate::config::LoadedConfig;
use crate::errors::{ExpectedError, exit_codes};
use crate::phases::RunContext;
use crate::phases::preflight::{self, CheckStatus};
use crate::plan::{Plan, new_run_id};
use crate::report::printer::Printer;

pub(crate) fn doctor(
    args: SetupArgs,
    config_path: Option<&Path>,
    printer: &Printer,
) -> Result<ExitCode, ExpectedError> {
    let config = LoadedConfig::require(config_path)?;
    let plan = Plan::new(&config, &overrides(&args), new_run_id());
    let levels = super::lint::levels(&config, &[]);
    let run = Arc::new(RunContext::new(plan, levels, min_free_disk(&args)));
    let checks = runtime()?.block_on(preflight::run_all(&run));
    let mut out = printer.stdout();
    for check in &checks {
        let (mark, style) = match check.status {
            CheckStatus::Pass => ("ok  ", anstyle::AnsiColor::Green.on_default().bold()),
            CheckStatus::Warn => ("warn", anstyle::AnsiColor::Yellow.on_default().bold()),
            CheckStatus::Fail => ("FAIL", anstyle::AnsiColor::Red.on_default().bold()),
        };
        let _ = writeln!(
            out,
            "{style}{mark}{style:#} {:<13} {}",
            check.name,
            check.detail.replace('\n', "\n                   ")
        );
        if check.status != CheckStatus::Pass
            && let Some(hint) = &check.hint
        {
            let _ = writeln!(out, "                   hint: {hint}");
        }
    }
    let failed = checks.iter().any(|check| check.status == CheckStatus::Fail);
    Ok(ExitCode::from(if failed {
        exit_codes::INFRASTRUCTURE
    } else {
        exit_codes::OK
    }))
}
