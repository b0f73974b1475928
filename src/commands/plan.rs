//! `hybrid-e2e plan`: the config resolved for one run, printed; nothing runs.

use std::path::Path;
use std::process::ExitCode;

use super::setup_args::overrides;
use crate::cli::{PlanArgs, PlanFormat};
use crate::config::LoadedConfig;
use crate::errors::{ExpectedError, exit_codes};
use crate::plan::{Plan, new_run_id};
use crate::report::printer::Printer;

pub(crate) fn plan(args: PlanArgs, config_path: Option<&Path>, printer: &Printer) -> Result<ExitCode, ExpectedError> {
    let config = LoadedConfig::require(args.config.path.as_deref().or(config_path))?;
    let plan = Plan::new(&config, &overrides(&args.setup), new_run_id());
    let text = match args.format {
        PlanFormat::Text => plan.render_text(),
        PlanFormat::Json => serde_json::to_string_pretty(&plan).unwrap_or_default() + "\n",
    };
    super::write_stdout(printer, &text)?;
    Ok(ExitCode::from(exit_codes::OK))
}
