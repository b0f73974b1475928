//! `hybrid-e2e plan`: the config resolved for one run, printed; nothing runs.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use super::setup_args::overrides;
use crate::cli::{PlanArgs, PlanFormat};
use crate::config::LoadedConfig;
use crate::errors::{ExpectedError, exit_codes};
use crate::pipeline::timeline;
use crate::plan::{Plan, new_run_id};

pub(crate) fn plan(args: PlanArgs, config_path: Option<&Path>) -> Result<ExitCode, ExpectedError> {
    let config = LoadedConfig::require(config_path)?;
    let plan = Plan::new(&config, &overrides(&args.setup), new_run_id());
    let text = match args.format {
        // The graph and both modes' predicted timelines follow the plan itself.
        PlanFormat::Text => plan.render_text() + &timeline::render_text(&plan),
        PlanFormat::Json => {
            let mut value = serde_json::to_value(&plan).unwrap_or_default();
            value["schedule"] = timeline::to_json(&plan);
            serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
        }
    };
    let _ = std::io::stdout().write_all(text.as_bytes());
    Ok(ExitCode::from(exit_codes::OK))
}
