//! hybrid-e2e: fast, trustworthy hybrid-parallel E2E setup for Kubernetes projects in CI.
//!
//! The library holds everything; `main.rs` only calls [`main_entry`]. Nothing here is a stable
//! Rust API: the product is the binary, its files and exit codes (`docs/`).

mod cli;
mod commands;
mod config;
mod deploy;
mod errors;
mod exec;
mod lint;
mod report;
mod setup;
#[cfg(test)]
mod test_support;
mod timing;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, ColorMode, Commands};
use crate::errors::{ExpectedError, exit_codes};

/// Parse the command line, run one command, map its result to a documented exit code.
pub fn main_entry() -> ExitCode {
    // One crypto provider for the whole process (octocrab's TLS): ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cli = Cli::parse();
    init_output(&cli);
    match dispatch(cli) {
        Ok(code) => code,
        Err(error) => {
            let _ = writeln!(
                anstream::stderr(),
                "{}error{}: {error}",
                ERROR_STYLE.render(),
                ERROR_STYLE.render_reset()
            );
            error.exit_code()
        }
    }
}

const ERROR_STYLE: anstyle::Style = anstyle::AnsiColor::Red.on_default().bold();

fn init_output(cli: &Cli) {
    let choice = match cli.global.color {
        ColorMode::Auto => anstream::ColorChoice::Auto,
        ColorMode::Always => anstream::ColorChoice::Always,
        ColorMode::Never => anstream::ColorChoice::Never,
    };
    choice.write_global();
    let level = match (cli.global.quiet, cli.global.verbose) {
        (1.., _) => "error",
        (0, 0) => "warn",
        (0, 1) => "info",
        (0, 2) => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("HYBRID_E2E_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("hybrid_e2e={level}")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(choice != anstream::ColorChoice::Never && std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .with_target(false)
        .init();
}

fn dispatch(cli: Cli) -> Result<ExitCode, ExpectedError> {
    let quiet = cli.global.quiet > 0;
    match cli.command {
        Commands::Lint(args) => commands::lint::lint_command(*args, cli.global.config.as_deref(), quiet),
        Commands::Run(args) => commands::setup::run(*args, cli.global.config.as_deref(), cli.global.verbose > 0, quiet),
        Commands::Plan(args) => commands::setup::plan(*args, cli.global.config.as_deref()),
        Commands::Doctor(args) => commands::setup::doctor(*args, cli.global.config.as_deref()),
        Commands::Cleanup(args) => commands::setup::cleanup(*args, cli.global.config.as_deref()),
        Commands::Report(args) => commands::setup::report(*args, cli.global.config.as_deref()),
        Commands::ConfigSchema => {
            let _ = std::io::stdout().write_all(config::json_schema().as_bytes());
            Ok(ExitCode::from(exit_codes::OK))
        }
    }
}

/// Entry points for `benches/` only; not an API.
#[doc(hidden)]
pub mod bench_support {
    use crate::deploy::readiness::{self, Context, Readiness};

    /// How many of `objects` the deploy wait would call ready (each also checked for pod states
    /// that fail fast), exactly as one tick of the wait evaluates them.
    pub fn evaluate_readiness(objects: &[serde_json::Value]) -> usize {
        let context = Context::default();
        objects
            .iter()
            .filter(|object| {
                let ready = matches!(readiness::evaluate(object, &context), Readiness::Current);
                let failing = object.get("kind").and_then(serde_json::Value::as_str) == Some("Pod")
                    && readiness::pod_problem(object).is_some();
                ready && !failing
            })
            .count()
    }
}
