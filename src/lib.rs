//! hybrid-e2e: fast, trustworthy hybrid-parallel E2E setup for Kubernetes projects in CI.
//!
//! The library holds everything; `main.rs` only calls [`main_entry`]. Nothing here is a stable
//! Rust API: the product is the binary, its files and exit codes (`docs/`).

mod action;
mod cli;
mod commands;
mod config;
mod coverage;
mod errors;
mod exec;
mod files;
#[cfg(test)]
mod fuzz_tests;
mod image_ref;
mod k8s;
mod lint;
mod model;
mod phases;
mod pipeline;
mod plan;
mod regress;
mod report;
mod runner;
#[cfg(test)]
mod test_support;
mod testresults;
mod tools;
mod triage;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, ColorMode, Commands};
use crate::errors::{ExpectedError, exit_codes};
use crate::report::printer::{Printer, Verbosity};

/// Parse the command line, run one command, map its result to a documented exit code.
pub fn main_entry() -> ExitCode {
    // One crypto provider for the whole process (kube's and octocrab's TLS): ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let error = name_the_variable(error);
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(exit_codes::USAGE));
        }
    };
    // The GitHub container action: its inputs name the command, which then runs like the CLI's.
    if let Commands::Action(args) = cli.command {
        return action::main(*args);
    }
    let printer = init_output(&cli);
    finish(dispatch(cli, &printer), &printer)
}

/// A command's result as the exit code, the error (if any) printed.
fn finish(result: Result<ExitCode, ExpectedError>, printer: &Printer) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(error) => {
            let _ = writeln!(
                printer.stderr(),
                "{}error{}: {error}",
                ERROR_STYLE.render(),
                ERROR_STYLE.render_reset()
            );
            error.exit_code()
        }
    }
}

const ERROR_STYLE: anstyle::Style = anstyle::AnsiColor::Red.on_default().bold();

/// A bad value that came from a `HYBRID_E2E_*` variable, not the command line, is blamed on the
/// variable: clap names only the flag, and the user never typed it.
fn name_the_variable(error: clap::Error) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(error.kind(), ErrorKind::InvalidValue | ErrorKind::ValueValidation) {
        return error;
    }
    let Some(ContextValue::String(arg)) = error.get(ContextKind::InvalidArg) else {
        return error;
    };
    let long = arg.split_whitespace().next().unwrap_or_default().to_owned();
    let typed = std::env::args().any(|word| word == long || word.starts_with(&format!("{long}=")));
    if typed {
        return error;
    }
    let command = <Cli as clap::CommandFactory>::command();
    let variable = std::iter::once(&command)
        .chain(command.get_subcommands())
        .flat_map(|command| command.get_arguments())
        .find(|candidate| candidate.get_long().is_some_and(|name| format!("--{name}") == long))
        .and_then(|candidate| candidate.get_env())
        .map(|variable| variable.to_string_lossy().into_owned());
    match variable.filter(|variable| std::env::var_os(variable).is_some()) {
        Some(variable) => {
            let message = error.to_string();
            let message = message.trim_start_matches("error: ").replacen(
                &format!("for '{arg}'"),
                &format!("in ${variable} (it sets {long})"),
                1,
            );
            clap::Error::raw(error.kind(), message).with_cmd(&command)
        }
        None => error,
    }
}

/// Decide how output looks, once, and set up logging to match.
fn init_output(cli: &Cli) -> Printer {
    let choice = match cli.global.color {
        ColorMode::Auto => anstream::ColorChoice::Auto,
        ColorMode::Always => anstream::ColorChoice::Always,
        ColorMode::Never => anstream::ColorChoice::Never,
    };
    choice.write_global();
    let printer = Printer::detect(cli.global.quiet, cli.global.verbose, choice);
    let level = match (printer.verbosity, cli.global.verbose) {
        (Verbosity::Quiet, _) => "error",
        (_, 0) => "warn",
        (_, 1) => "info",
        (_, 2) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("HYBRID_E2E_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("hybrid_e2e={level}")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(printer.color)
        .without_time()
        .with_target(false)
        .init();
    printer
}

fn dispatch(cli: Cli, printer: &Printer) -> Result<ExitCode, ExpectedError> {
    let config = cli.config.as_deref();
    match cli.command {
        Commands::Lint(args) => commands::lint::lint_command(*args, config, printer),
        Commands::Run(args) => commands::run::run(*args, config, printer),
        Commands::Plan(args) => commands::plan::plan(*args, config, printer),
        Commands::Doctor(args) => commands::doctor::doctor(*args, config, printer),
        Commands::Cleanup(args) => commands::cleanup::cleanup(*args, config, printer),
        Commands::Report(args) => commands::report::report(*args, config, printer),
        Commands::Regress(args) => commands::regress::regress(*args, printer),
        Commands::Services(args) => commands::services::services(*args, config, printer),
        Commands::Coverage(args) => commands::coverage::coverage(*args, config, printer),
        Commands::ConfigSchema(_) => {
            commands::write_stdout(printer, &config::json_schema())?;
            Ok(ExitCode::from(exit_codes::OK))
        }
        // `main_entry` hands it to `action::main`, which never names it again.
        Commands::Action(_) => Err(ExpectedError::Action("`action` cannot run inside `action`".to_owned())),
    }
}

/// Entry points for `benches/` only; not an API.
#[doc(hidden)]
pub mod bench_support {
    use std::sync::Arc;

    use kube::api::GroupVersionKind;
    use kube::discovery::ApiResource;
    use serde_json::Value;

    use crate::k8s::apply::Applied;
    use crate::k8s::objects::ManifestObject;
    use crate::k8s::wait::FetchedTick;

    /// `regress`: replay a series night by night and list its alarm events as JSON (the peer
    /// comparison of `tests/peers/regress`, through `benches/regress.rs --replay`).
    pub fn regress_replay(values: &[f64], params: &Value) -> Result<Value, String> {
        crate::regress::replay::replay(values, params)
    }

    /// What one tick of the deploy wait left.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct TickCounts {
        pub ready: usize,
        pub failed: usize,
        pub pending: usize,
        /// LIST bodies that did not decode (a bench bug, not a readiness result).
        pub undecodable: usize,
    }

    /// The deploy wait's state just after the applies of `objects` (as written: `apiVersion`,
    /// `kind`, `metadata.name`, and `metadata.namespace` for namespaced ones), ready for one tick.
    pub struct ReadinessTick(FetchedTick);

    impl ReadinessTick {
        pub fn new(objects: &[Value]) -> ReadinessTick {
            let applied: Vec<Applied> = objects.iter().map(applied).collect();
            ReadinessTick(FetchedTick::new(&applied))
        }

        /// One tick of the real wait (`src/k8s/wait.rs`): one LIST per pending resource and
        /// namespace, decoded as kube decodes it, each object judged by the readiness rules,
        /// then each namespace's pods matched to their owners for fail-fast states and
        /// unschedulable pods (which fail at once here). `list(api_version, kind, namespace)`
        /// and `pods(namespace)` return the LIST response bodies.
        pub fn run(
            &mut self,
            mut list: impl FnMut(&str, &str, Option<&str>) -> Vec<u8>,
            pods: impl FnMut(&str) -> Vec<u8>,
        ) -> TickCounts {
            let counts = self.0.run(
                |resource: &ApiResource, namespace: Option<&str>| {
                    list(&resource.api_version, &resource.kind, namespace)
                },
                pods,
            );
            TickCounts {
                ready: counts.ready,
                failed: counts.failed,
                pending: counts.pending,
                undecodable: counts.undecodable,
            }
        }
    }

    fn applied(object: &Value) -> Applied {
        let text = |pointer: &str| object.pointer(pointer).and_then(Value::as_str).map(str::to_owned);
        let api_version = text("/apiVersion").unwrap_or_default();
        let kind = text("/kind").unwrap_or_default();
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version.as_str()));
        let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(group, version, &kind));
        let namespace = text("/metadata/namespace");
        Applied {
            object: Arc::new(ManifestObject {
                file: "bench.yaml".into(),
                document: 1,
                line: 1,
                api_version: api_version.clone(),
                kind: kind.clone(),
                name: text("/metadata/name").unwrap_or_default(),
                namespace: namespace.clone(),
                value: object.clone(),
            }),
            resource,
            namespace,
        }
    }
}
