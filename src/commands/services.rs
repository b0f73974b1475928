//! `hybrid-e2e services up|down`: the integration tier's containers, health-gated and timed
//! (pipeline::services), its outputs (services.env, step outputs, stdout), and their removal.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use serde::{Deserialize, Serialize};

use super::run::{publish_record, run_exit_code};
use super::runtime;
use crate::cli::{ServicesAction, ServicesArgs, ServicesDownArgs, ServicesTarget, ServicesUpArgs};
use crate::config::{EngineChoice, LoadedConfig};
use crate::errors::{ExpectedError, exit_codes};
use crate::model::Reporter;
use crate::phases::services::Endpoint;
use crate::pipeline::{self, RunOptions};
use crate::plan::{Overrides, Plan, new_run_id, project_id};
use crate::report::display::Display;
use crate::report::github;
use crate::report::printer::Printer;
use crate::tools::containers::{self, PROJECT_LABEL, RUN_LABEL};
use crate::tools::{self, ContainerEngine};

/// What `services up` leaves for `services down` in the report directory.
pub(crate) const STATE_FILE: &str = "services.json";
/// The dotenv file of the endpoints.
pub(crate) const DOTENV_FILE: &str = "services.env";

/// `services.json`.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ServicesState {
    pub(crate) run_id: String,
    pub(crate) engine: Option<String>,
    pub(crate) network: String,
    pub(crate) project: String,
    pub(crate) containers: Vec<String>,
    /// Whether the services were left running (the run succeeded).
    pub(crate) running: bool,
}

pub(crate) fn services(
    args: ServicesArgs,
    config_path: Option<&Path>,
    printer: &Printer,
) -> Result<ExitCode, ExpectedError> {
    match args.action {
        ServicesAction::Up(args) => up(*args, config_path, printer).map(ExitCode::from),
        ServicesAction::Down(args) => down(*args, config_path, printer).map(ExitCode::from),
    }
}

fn overrides(target: &ServicesTarget, tag_suffix: Option<String>) -> Overrides {
    Overrides {
        engine: target.engine,
        report_dir: target.report_dir.clone(),
        tag_suffix: tag_suffix.filter(|suffix| !suffix.is_empty()),
        ..Overrides::default()
    }
}

fn up(args: ServicesUpArgs, config_path: Option<&Path>, printer: &Printer) -> Result<u8, ExpectedError> {
    let config = LoadedConfig::require(args.config.path.as_deref().or(config_path))?;
    if config.file.services.is_empty() {
        return Err(ExpectedError::Usage(format!(
            "{} has no `services:`; see docs/services.md",
            config
                .path
                .as_deref()
                .map_or_else(|| "the config".to_owned(), |path| path.display().to_string())
        )));
    }
    let mut plan = Plan::new(&config, &overrides(&args.target, args.tag_suffix.clone()), new_run_id());
    // Build only what the services run.
    let needed: Vec<String> = plan
        .services
        .services
        .iter()
        .filter_map(|service| service.build.clone())
        .collect();
    plan.images.retain(|image| needed.contains(&image.name));
    let report_dir = plan.report_dir.clone();
    let mut state = ServicesState {
        run_id: plan.run_id.clone(),
        engine: None,
        network: plan.services.network.clone(),
        project: plan.services.project.clone(),
        containers: plan
            .services
            .services
            .iter()
            .map(|service| service.container.clone())
            .collect(),
        running: false,
    };
    let services_order: Vec<String> = plan
        .services
        .services
        .iter()
        .map(|service| service.name.clone())
        .collect();
    let reporters: Vec<Box<dyn Reporter>> = vec![Box::new(Display::stderr(printer))];
    let options = RunOptions {
        plan,
        lint_levels: super::lint::levels(&config, &[]),
        min_free_disk: super::setup_args::min_free_disk(&args.disk),
        reporters,
    };
    let runtime = runtime()?;
    let outcome = runtime.block_on(pipeline::services_up_with_signals(options));
    let mut err = printer.stderr();
    state.engine = outcome.engine.clone();
    state.running = outcome.kept;
    let dotenv = report_dir.join(DOTENV_FILE);
    let outputs = endpoint_outputs(&state, &services_order, &outcome.endpoints);
    // Only a run that left its services running replaces the state: a failed run removed all
    // it started, and an earlier run's state (its containers may still run) stays for `down`.
    if outcome.kept {
        let state_text = serde_json::to_string_pretty(&state).unwrap_or_default() + "\n";
        write_file(&report_dir.join(STATE_FILE), &state_text)?;
        write_file(&dotenv, &dotenv_text(&outputs))?;
    }
    if let Some(error) = &outcome.run.timings_error {
        let _ = writeln!(err, "error: {error}");
        return Ok(exit_codes::INFRASTRUCTURE);
    }
    let record = outcome.run.record;
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
    if outcome.kept {
        if printer.github {
            let outputs: Vec<(&str, String)> = outputs
                .iter()
                .map(|(key, value)| (key.as_str(), value.clone()))
                .collect();
            if let Err(warning) = github::append("GITHUB_OUTPUT", &github::output_file_text(&outputs)) {
                let _ = writeln!(err, "warning: {warning}");
            }
        }
        super::write_stdout(printer, &dotenv_text(&outputs))?;
        if !printer.quiet() {
            let _ = writeln!(
                err,
                "services are up; {} has these lines; `hybrid-e2e services down` removes them",
                dotenv.display()
            );
        }
    }
    Ok(run_exit_code(&record, args.fail_on_target))
}

/// [`phases::services::outputs`] of a `services up` run.
fn endpoint_outputs(
    state: &ServicesState,
    order: &[String],
    endpoints: &std::collections::BTreeMap<String, Vec<Endpoint>>,
) -> Vec<(String, String)> {
    crate::phases::services::outputs(&state.run_id, &state.network, order, endpoints)
}

fn dotenv_text(outputs: &[(String, String)]) -> String {
    let mut text = String::new();
    for (key, value) in outputs {
        let _ = writeln!(text, "{key}={value}");
    }
    text
}

fn write_file(path: &Path, text: &str) -> Result<(), ExpectedError> {
    if let Some(parent) = path.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    std::fs::write(path, text).map_err(|source| ExpectedError::WriteOutput {
        path: path.to_owned(),
        source,
    })
}

/// The engine a run used (from its state), else the one that answers now.
async fn engine_for(choice: Option<EngineChoice>, recorded: Option<&str>) -> Option<ContainerEngine> {
    let choice = choice.or(match recorded {
        Some("docker") => Some(EngineChoice::Docker),
        Some("podman") => Some(EngineChoice::Podman),
        _ => None,
    });
    tools::detect_engine(choice.unwrap_or_default()).await.ok()
}

fn down(args: ServicesDownArgs, config_path: Option<&Path>, printer: &Printer) -> Result<u8, ExpectedError> {
    let config = LoadedConfig::load(args.config.path.as_deref().or(config_path))?;
    let plan = Plan::new(&config, &overrides(&args.target, None), new_run_id());
    let state_path = plan.report_dir.join(STATE_FILE);
    let state: Option<ServicesState> = std::fs::read_to_string(&state_path)
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok());
    let label = if args.all {
        Some(format!("{PROJECT_LABEL}={}", project_id(&config)))
    } else {
        args.run_id
            .clone()
            .or_else(|| state.as_ref().map(|state| state.run_id.clone()))
            .map(|run_id| format!("{RUN_LABEL}={run_id}"))
    };
    let mut out = String::new();
    let Some(label) = label else {
        let _ = writeln!(
            out,
            "nothing to remove: no {} (pass --run-id ID, or --all for every run of this project)",
            state_path.display()
        );
        super::write_stdout(printer, &out)?;
        return Ok(exit_codes::OK);
    };
    let runtime = runtime()?;
    let recorded = state.as_ref().and_then(|state| state.engine.clone());
    let Some(engine) = runtime.block_on(engine_for(args.target.engine, recorded.as_deref())) else {
        let _ = writeln!(
            printer.stderr(),
            "error: no container engine answers; nothing was removed"
        );
        return Ok(exit_codes::INFRASTRUCTURE);
    };
    let removed = runtime.block_on(containers::remove_labelled(&engine, &label));
    for container in &removed.containers {
        let _ = writeln!(out, "removed container {container}");
    }
    for network in &removed.networks {
        let _ = writeln!(out, "removed network {network}");
    }
    if removed.containers.is_empty() && removed.networks.is_empty() && removed.errors.is_empty() {
        let _ = writeln!(out, "nothing to remove ({label})");
    }
    super::write_stdout(printer, &out)?;
    if !removed.errors.is_empty() {
        let _ = writeln!(printer.stderr(), "error: {}", removed.errors.join("; "));
        return Ok(exit_codes::INFRASTRUCTURE);
    }
    let _ = std::fs::remove_file(plan.report_dir.join(DOTENV_FILE));
    if let Some(mut state) = state.filter(|state| label.ends_with(&state.run_id) || args.all) {
        state.running = false;
        let _ = std::fs::write(
            &state_path,
            serde_json::to_string_pretty(&state).unwrap_or_default() + "\n",
        );
    }
    Ok(exit_codes::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_name_each_port() {
        let state = ServicesState {
            run_id: "r1".into(),
            engine: Some("docker".into()),
            network: "hybrid-e2e-ab".into(),
            project: "p".into(),
            containers: vec![],
            running: true,
        };
        let mut endpoints = std::collections::BTreeMap::new();
        endpoints.insert(
            "data-storage".to_owned(),
            vec![
                Endpoint {
                    container_port: 8080,
                    host: "127.0.0.1".into(),
                    host_port: 49153,
                },
                Endpoint {
                    container_port: 9090,
                    host: "127.0.0.1".into(),
                    host_port: 19090,
                },
            ],
        );
        let text = dotenv_text(&endpoint_outputs(
            &state,
            &["data-storage".to_owned(), "migrate".to_owned()],
            &endpoints,
        ));
        assert_eq!(
            text,
            "DATA_STORAGE_HOST=127.0.0.1\nDATA_STORAGE_PORT=49153\nDATA_STORAGE_PORT_8080=49153\nDATA_STORAGE_PORT_9090=19090\nSERVICES_RUN_ID=r1\nSERVICES_NETWORK=hybrid-e2e-ab\n"
        );
    }
}
