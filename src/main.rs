//! hybrid-e2e: fast, trustworthy hybrid-parallel E2E setup for Kubernetes projects in CI.
//!
//! `main` parses the command line, runs one command and maps its result to a documented exit code.

mod cli;
mod config;
mod errors;
mod lint;
mod report;
mod setup;
#[cfg(test)]
mod test_support;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, ColorMode, Commands, LintArgs};
use crate::config::LoadedConfig;
use crate::errors::{ExpectedError, exit_codes};
use crate::lint::{Format, LintOptions, RuleLevels};

fn main() -> ExitCode {
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
        Commands::Lint(args) => lint_command(*args, cli.global.config.as_deref(), quiet),
        Commands::ConfigSchema => {
            let _ = std::io::stdout().write_all(config::json_schema().as_bytes());
            Ok(ExitCode::from(exit_codes::OK))
        }
    }
}

fn lint_command(args: LintArgs, config_path: Option<&std::path::Path>, quiet: bool) -> Result<ExitCode, ExpectedError> {
    let loaded = LoadedConfig::load(config_path)?;
    let config = &loaded.file;
    let mut levels = RuleLevels::default();
    for (rule, level) in &config.lint.rules {
        levels.set(rule.0, *level);
    }
    for (rule, level) in &args.rules {
        levels.set(*rule, *level);
    }
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths
    };
    let options = LintOptions {
        paths,
        format: args.format,
        fix: args.fix,
        dry_run: args.dry_run,
        levels,
        include: config.lint.include.iter().chain(&args.include).cloned().collect(),
        exclude: config.lint.exclude.iter().chain(&args.exclude).cloned().collect(),
        use_ignore_files: !args.no_ignore,
        quiet,
    };
    let outcome = lint::run(&options)?;
    let mut stderr = anstream::stderr();
    for problem in &outcome.fix_problems {
        let _ = writeln!(stderr, "warning: could not fix {problem}");
    }
    if options.dry_run {
        let mut stdout = anstream::stdout();
        let _ = stdout.write_all(outcome.diff.as_bytes());
        if !quiet {
            let _ = writeln!(
                stderr,
                "would apply {} fix(es) in {} file(s)",
                outcome.fixes_applied, outcome.files_fixed
            );
        }
    } else {
        if options.fix && !quiet {
            let _ = writeln!(
                stderr,
                "applied {} fix(es) in {} file(s)",
                outcome.fixes_applied, outcome.files_fixed
            );
        }
        write_report(&outcome.rendered, args.output.as_deref(), options.format)?;
    }
    Ok(ExitCode::from(if outcome.failed {
        exit_codes::LINT_FINDINGS
    } else {
        exit_codes::OK
    }))
}

/// Write to `--output` (never coloured) or standard output (coloured only on a terminal).
fn write_report(rendered: &str, output: Option<&std::path::Path>, format: Format) -> Result<(), ExpectedError> {
    match output {
        Some(path) => {
            let plain = anstream::adapter::strip_str(rendered).to_string();
            std::fs::write(path, plain).map_err(|source| ExpectedError::WriteOutput {
                path: path.to_owned(),
                source,
            })
        }
        None if format == Format::Text => {
            let _ = anstream::stdout().write_all(rendered.as_bytes());
            Ok(())
        }
        None => {
            let _ = std::io::stdout().write_all(rendered.as_bytes());
            Ok(())
        }
    }
}
