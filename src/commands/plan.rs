//! `hybrid-e2e plan`: the config resolved for one run, printed, and checked as far as it can be
//! without a machine (the Dockerfile lint, the manifests); nothing runs.

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use super::setup_args::overrides;
use crate::cli::{PlanArgs, PlanFormat};
use crate::config::LoadedConfig;
use crate::errors::{ExpectedError, exit_codes};
use crate::phases::preflight::{self, Check, CheckStatus};
use crate::pipeline::timeline;
use crate::plan::{Plan, new_run_id};
use crate::report::printer::Printer;

pub(crate) fn plan(args: PlanArgs, config_path: Option<&Path>, printer: &Printer) -> Result<ExitCode, ExpectedError> {
    let config = LoadedConfig::require(args.config.path.as_deref().or(config_path))?;
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
    super::write_stdout(printer, &text)?;
    // Everything that needs no machine is checked here, as `run` would in preflight.
    let levels = super::lint::levels(&config, &[]);
    let failed: Vec<Check> = preflight::file_checks(&plan, &levels)
        .into_iter()
        .filter(|check| check.status == CheckStatus::Fail)
        .collect();
    let mut err = printer.stderr();
    for check in &failed {
        // One line per finding, compiler style; two groups sharing a file report it once.
        let mut lines: Vec<String> = check
            .findings
            .iter()
            .map(|finding| format!("error: {}:{}: {}", finding.path, finding.line, finding.message))
            .collect();
        let mut seen = std::collections::HashSet::new();
        lines.retain(|line| seen.insert(line.clone()));
        if lines.is_empty() {
            lines.push(format!("error: {}: {}", check.name, check.detail));
        }
        for line in lines {
            let _ = writeln!(err, "{line}");
        }
        if let Some(hint) = &check.hint {
            let _ = writeln!(err, "  hint: {hint}");
        }
    }
    Ok(ExitCode::from(match failed.as_slice() {
        [] => exit_codes::OK,
        [only] if only.name == "lint" => exit_codes::LINT_FINDINGS,
        _ => exit_codes::USAGE,
    }))
}
