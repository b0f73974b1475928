//! `hybrid-e2e lint`: config and flags in, report out.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::LintArgs;
use crate::config::LoadedConfig;
use crate::errors::{ExpectedError, exit_codes};
use crate::lint::{self, LintOptions, RuleLevels};
use crate::report::printer::Printer;

/// The lint levels from the config, then the flags.
pub(crate) fn levels(config: &LoadedConfig, flags: &[(lint::Rule, lint::Level)]) -> RuleLevels {
    let mut levels = RuleLevels::default();
    for (rule, level) in &config.file.lint.rules {
        levels.set(rule.0, *level);
    }
    for (rule, level) in flags {
        levels.set(*rule, *level);
    }
    levels
}

pub(crate) fn lint_command(
    args: LintArgs,
    config_path: Option<&Path>,
    printer: &Printer,
) -> Result<ExitCode, ExpectedError> {
    let quiet = printer.quiet();
    let loaded = LoadedConfig::load(args.config.path.as_deref().or(config_path))?;
    let config = &loaded.file;
    let levels = levels(&loaded, &args.rules);
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
    let mut stderr = printer.stderr();
    for problem in &outcome.fix_problems {
        let _ = writeln!(stderr, "warning: could not fix {problem}");
    }
    if options.dry_run {
        super::write_stdout(printer, &outcome.diff)?;
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
        write_report(printer, &outcome.rendered, args.output.as_deref())?;
    }
    Ok(ExitCode::from(if outcome.failed {
        exit_codes::LINT_FINDINGS
    } else {
        exit_codes::OK
    }))
}

/// Write to `--output` (never coloured) or standard output (coloured only on a terminal, and
/// only text: the other formats carry no styles).
fn write_report(printer: &Printer, rendered: &str, output: Option<&Path>) -> Result<(), ExpectedError> {
    match output {
        Some(path) => {
            let plain = anstream::adapter::strip_str(rendered).to_string();
            std::fs::write(path, plain).map_err(|source| ExpectedError::WriteOutput {
                path: path.to_owned(),
                source,
            })
        }
        None => super::write_stdout(printer, rendered),
    }
}
