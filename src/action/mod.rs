//! `hybrid-e2e action`: the GitHub container action (action.yml, docs/action.md). The main step
//! reads the `INPUT_*` variables once ([`inputs`]), turns them into the CLI's own command line and
//! parses it with the CLI's parser ([`argv`]), changes to `working_directory`, and runs the
//! command like the CLI. What only a container action needs is added around it: for `run`, the
//! Kind network and host paths ([`container`], [`kind_config`], `phases::cluster::network`), a
//! deferred teardown and the `GITHUB_STATE` the post step reads ([`run`], [`post`]); for every
//! command, outputs the runner's host can use ([`files`]).

mod argv;
mod container;
#[cfg(test)]
mod contract;
mod files;
pub(crate) mod inputs;
mod kind_config;
mod post;
mod run;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{ActionArgs, ActionStep, Cli, Commands};
use crate::config::{EngineChoice, LoadedConfig};
use crate::errors::{ExpectedError, exit_codes};
use crate::report::printer::Printer;
use argv::LintFrom;
use container::{Whereabouts, normalize, to_container_path, to_host_path};
use inputs::{ActionCommand, Inputs};
use post::Outcome;

/// `hybrid-e2e action [post]`.
pub(crate) fn main(args: ActionArgs) -> ExitCode {
    match args.step {
        Some(ActionStep::Post) => post::main(),
        None => main_step(),
    }
}

fn usage_error(message: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "error: {message}");
    ExitCode::from(exit_codes::USAGE)
}

/// The engine's program (`HYBRID_E2E_DOCKER`, as for the CLI).
fn docker_program() -> String {
    std::env::var("HYBRID_E2E_DOCKER")
        .ok()
        .filter(|program| !program.is_empty())
        .unwrap_or_else(|| "docker".to_owned())
}

fn block_on<F: std::future::Future>(future: F) -> Option<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    Some(runtime.block_on(future))
}

/// The workspace: `GITHUB_WORKSPACE` (`/github/workspace` in the container), else the current
/// directory.
fn workspace() -> PathBuf {
    let current = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    match std::env::var_os("GITHUB_WORKSPACE").filter(|path| !path.is_empty()) {
        Some(path) => normalize(&current.join(path)),
        None => current,
    }
}

/// `working_directory` in this container: relative to the workspace; an absolute path that only
/// exists on the host (`${{ github.workspace }}/e2e` evaluates to the runner's path) is mapped
/// back through the mounts.
fn working_dir(workspace: &Path, input: &str, whereabouts: &Whereabouts) -> Result<PathBuf, String> {
    let mut path = normalize(&workspace.join(input));
    if !path.is_dir()
        && let Whereabouts::Container(me) = whereabouts
        && let Some(inside) = to_container_path(&path, &me.mounts)
    {
        path = inside;
    }
    if path.is_dir() {
        Ok(path)
    } else {
        Err(format!(
            "input `working_directory`: {} is not a directory (it is relative to the workspace, {})",
            path.display(),
            workspace.display()
        ))
    }
}

fn main_step() -> ExitCode {
    let inputs = match Inputs::from_env() {
        Ok(inputs) => inputs,
        Err(error) => return usage_error(&error.to_string()),
    };
    let workspace = workspace();
    let docker = docker_program();
    // Only `run` and `coverage` hand paths and networks to Docker; an absolute working_directory may be a
    // host path to map.
    let wants_container = matches!(inputs.command, ActionCommand::Run | ActionCommand::Coverage)
        || Path::new(&inputs.working_directory).is_absolute();
    let whereabouts = if wants_container {
        block_on(container::detect(&docker)).unwrap_or(Whereabouts::Host)
    } else {
        Whereabouts::Host
    };
    if let Whereabouts::UnknownContainer(why) = &whereabouts {
        let _ = writeln!(std::io::stderr(), "warning: {why}");
    }
    let working_dir = match working_dir(&workspace, &inputs.working_directory, &whereabouts) {
        Ok(path) => path,
        Err(message) => return usage_error(&message),
    };
    // lint names files from the repository root (GitHub resolves annotation paths there).
    let lint_from = LintFrom {
        prefix: working_dir.strip_prefix(&workspace).ok().map(Path::to_path_buf),
        default_config: {
            let relative = working_dir
                .strip_prefix(&workspace)
                .map_or_else(|_| working_dir.clone(), Path::to_path_buf);
            let default = relative.join("hybrid-e2e.yaml");
            (std::env::var_os("HYBRID_E2E_CONFIG").is_none() && workspace.join(&default).is_file())
                .then(|| normalize(&default))
        },
    };
    let cwd = if inputs.command == ActionCommand::Lint && lint_from.prefix.is_some() {
        workspace.clone()
    } else {
        working_dir.clone()
    };
    if let Err(error) = std::env::set_current_dir(&cwd) {
        return usage_error(&format!("cannot change to {}: {error}", cwd.display()));
    }
    // The post step runs after every use of the action; it learns which command this one was.
    if let Err(error) = files::append(
        "GITHUB_STATE",
        &[("command".to_owned(), inputs.command.as_str().to_owned())],
    ) {
        let _ = writeln!(std::io::stderr(), "warning: {error}");
    }
    let argv = argv::command_line(&inputs, &lint_from);
    let shown = crate::exec::ProcessSpec::new(&argv[0]).args(&argv[1..]).display();
    let mut cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(error) => {
            return usage_error(&format!(
                "the inputs make an invalid command line, `{shown}`:\n{}",
                error.render()
            ));
        }
    };
    // A debug re-run of the job (RUNNER_DEBUG=1) shows every line the tools print.
    if std::env::var("RUNNER_DEBUG").is_ok_and(|value| value == "1") && cli.global.quiet == 0 {
        cli.global.verbose = cli.global.verbose.max(1);
    }
    if let Some(token) = inputs
        .github_token
        .clone()
        .filter(|_| !argv::args_set_token(&inputs.args))
    {
        match &mut cli.command {
            Commands::Run(args) => args.publish.github_token = Some(token),
            Commands::Report(args) => args.publish.github_token = Some(token),
            Commands::Regress(args) => args.github_token = Some(token),
            _ => {}
        }
    }
    let printer = crate::init_output(&cli);
    let _ = writeln!(printer.stderr(), "hybrid-e2e action: `{shown}` in {}", cwd.display());
    let layout = run::Layout {
        workspace: workspace.clone(),
        working_dir,
        whereabouts,
    };
    let command = inputs.command;
    let config = cli.config.clone();
    match cli.command {
        Commands::Run(args) => {
            let (result, learned) = run::run(*args, config.as_deref(), &printer, &layout);
            let code = match result {
                Ok(code) => code,
                Err(error) => {
                    print_error(&printer, &error);
                    exit_code_number(&error)
                }
            };
            let outcome = match code {
                exit_codes::OK => Outcome::Success,
                exit_codes::CANCELLED => Outcome::Cancelled,
                _ => Outcome::Failure,
            };
            if let Err(error) = files::append("GITHUB_STATE", &[("outcome".to_owned(), outcome.as_str().to_owned())]) {
                let _ = writeln!(printer.stderr(), "warning: {error}");
            }
            finish_outputs(&printer, &layout, Some(&learned));
            ExitCode::from(code)
        }
        Commands::Coverage(args) => {
            let hook_layout = layout.clone();
            let hook: crate::commands::run::PlanHook =
                Box::new(move |config, plan| run::reach_kept_cluster(&hook_layout, config, plan));
            match crate::commands::coverage::coverage_with(*args, config.as_deref(), &printer, Some(hook)) {
                Ok(code) => ExitCode::from(code),
                Err(error) => {
                    print_error(&printer, &error);
                    ExitCode::from(exit_code_number(&error))
                }
            }
        }
        Commands::Doctor(args) => {
            let engine = args.naming.engine.or_else(|| {
                LoadedConfig::load(args.config.path.as_deref().or(config.as_deref()))
                    .ok()
                    .map(|loaded| loaded.file.engine)
            });
            if engine == Some(EngineChoice::Podman) {
                print_error(&printer, &ExpectedError::Action(run::PODMAN_REFUSED.to_owned()));
                return ExitCode::from(exit_codes::USAGE);
            }
            crate::finish(
                crate::dispatch(
                    Cli {
                        command: Commands::Doctor(args),
                        ..cli
                    },
                    &printer,
                ),
                &printer,
            )
        }
        other => {
            let code = crate::finish(crate::dispatch(Cli { command: other, ..cli }, &printer), &printer);
            if command == ActionCommand::Report {
                finish_outputs(&printer, &layout, None);
            }
            code
        }
    }
}

fn print_error(printer: &Printer, error: &ExpectedError) {
    let _ = writeln!(printer.stderr(), "error: {error}");
}

fn exit_code_number(error: &ExpectedError) -> u8 {
    error.code()
}

/// A path the CLI wrote to an output, as the job's later steps (on the host) need it: relative
/// to the workspace when it is in it (`actions/upload-artifact` takes that as it is), else the
/// host's path.
fn for_the_host(layout: &run::Layout, value: &str) -> String {
    if value.is_empty() {
        return String::new();
    }
    let path = run::absolute(&layout.working_dir, Path::new(value));
    if let Ok(relative) = path.strip_prefix(&layout.workspace) {
        let text = relative.display().to_string();
        return if text.is_empty() { ".".to_owned() } else { text };
    }
    match &layout.whereabouts {
        Whereabouts::Container(me) => to_host_path(&path, &me.mounts).unwrap_or(path),
        _ => path,
    }
    .display()
    .to_string()
}

/// The step outputs, finished: report paths for the host, and for `run` the host kubeconfig and
/// the cluster name (empty when no cluster was made).
fn finish_outputs(printer: &Printer, layout: &run::Layout, learned: Option<&run::Learned>) {
    let mut extra = Vec::new();
    if let Some(learned) = learned {
        let made = learned.cluster_started;
        let kubeconfig = learned
            .host_kubeconfig
            .as_ref()
            .filter(|path| made && path.is_file())
            .map(|path| match &layout.whereabouts {
                Whereabouts::Container(me) => to_host_path(path, &me.mounts).unwrap_or_else(|| path.clone()),
                _ => path.clone(),
            });
        extra.push((
            "kubeconfig".to_owned(),
            kubeconfig.map(|path| path.display().to_string()).unwrap_or_default(),
        ));
        extra.push((
            "cluster-name".to_owned(),
            learned.cluster.clone().filter(|_| made).unwrap_or_default(),
        ));
    }
    let fix = |name: &str, value: String| match name {
        "report-dir" | "junit-path" => for_the_host(layout, &value),
        _ => value,
    };
    if let Err(error) = files::finish_outputs(fix, &extra) {
        let _ = writeln!(printer.stderr(), "warning: {error}");
    }
}

#[cfg(test)]
mod tests {
    use super::container::{Mount, SelfContainer};
    use super::*;

    fn layout(whereabouts: Whereabouts) -> run::Layout {
        run::Layout {
            workspace: PathBuf::from("/github/workspace"),
            working_dir: PathBuf::from("/github/workspace/e2e"),
            whereabouts,
        }
    }

    #[test]
    fn report_paths_are_relative_to_the_workspace() {
        let layout = layout(Whereabouts::Host);
        assert_eq!(
            for_the_host(&layout, "/github/workspace/e2e/hybrid-e2e-report"),
            "e2e/hybrid-e2e-report"
        );
        assert_eq!(
            for_the_host(&layout, "hybrid-e2e-report-merged"),
            "e2e/hybrid-e2e-report-merged"
        );
        assert_eq!(
            for_the_host(&layout, "../hybrid-e2e-report/junit.xml"),
            "hybrid-e2e-report/junit.xml"
        );
        assert_eq!(for_the_host(&layout, ".."), ".");
        assert_eq!(for_the_host(&layout, "/tmp/report"), "/tmp/report");
        assert_eq!(for_the_host(&layout, ""), "");
    }

    #[test]
    fn report_paths_outside_the_workspace_become_host_paths() {
        let me = SelfContainer {
            id: "c".repeat(64),
            mounts: vec![Mount {
                source: PathBuf::from("/home/runner/work/_temp/_github_home"),
                destination: PathBuf::from("/github/home"),
            }],
        };
        let layout = layout(Whereabouts::Container(me));
        assert_eq!(
            for_the_host(&layout, "/github/home/report"),
            "/home/runner/work/_temp/_github_home/report"
        );
    }

    #[test]
    fn the_working_directory_is_relative_to_the_workspace() {
        let workspace = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(workspace.path().join("e2e")).expect("mkdir");
        let found = working_dir(workspace.path(), "./e2e/", &Whereabouts::Host).expect("exists");
        assert_eq!(found, workspace.path().join("e2e"));
        assert_eq!(
            working_dir(workspace.path(), ".", &Whereabouts::Host).expect("exists"),
            workspace.path()
        );
        let error = working_dir(workspace.path(), "missing", &Whereabouts::Host).expect_err("missing");
        assert!(error.starts_with("input `working_directory`"), "{error}");
        // `${{ github.workspace }}/e2e` is the runner's path: mapped back into the container.
        let me = SelfContainer {
            id: "c".repeat(64),
            mounts: vec![Mount {
                source: PathBuf::from("/home/runner/work/repo/repo"),
                destination: workspace.path().to_path_buf(),
            }],
        };
        assert_eq!(
            working_dir(
                workspace.path(),
                "/home/runner/work/repo/repo/e2e",
                &Whereabouts::Container(me)
            )
            .expect("mapped"),
            workspace.path().join("e2e")
        );
    }
}
