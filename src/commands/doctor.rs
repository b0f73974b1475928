//! `hybrid-e2e doctor`: the preflight checks alone, as a table.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use super::runtime;
use super::setup_args::{min_free_disk, naming};
use crate::cli::DoctorArgs;
use crate::config::LoadedConfig;
use crate::errors::{ExpectedError, exit_codes};
use crate::phases::RunContext;
use crate::phases::preflight::{self, CheckStatus};
use crate::plan::{Overrides, Plan, new_run_id};
use crate::report::printer::Printer;

pub(crate) fn doctor(
    args: DoctorArgs,
    config_path: Option<&Path>,
    printer: &Printer,
) -> Result<ExitCode, ExpectedError> {
    let config = LoadedConfig::require(args.config.path.as_deref().or(config_path))?;
    let overrides = Overrides {
        tag_suffix: args.tag_suffix.clone().filter(|suffix| !suffix.is_empty()),
        ..naming(&args.naming)
    };
    let plan = Plan::new(&config, &overrides, new_run_id());
    let levels = super::lint::levels(&config, &[]);
    let run = Arc::new(RunContext::new(plan, levels, min_free_disk(&args.disk)));
    let checks = runtime()?.block_on(preflight::run_all(&run));
    let mut out = String::new();
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
    super::write_stdout(printer, &out)?;
    let failed = checks.iter().any(|check| check.status == CheckStatus::Fail);
    Ok(ExitCode::from(if failed {
        exit_codes::INFRASTRUCTURE
    } else {
        exit_codes::OK
    }))
}
