//! The command line (clap derive). Each subcommand's options live in one struct.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::lint::{Format, Level, Rule};

const EXAMPLES: &str = "\
Examples:
  hybrid-e2e lint                          Lint every Dockerfile under the current directory
  hybrid-e2e lint docker/ --format github  Annotate findings on a pull request
  hybrid-e2e lint --fix --dry-run          Show the fixes as a unified diff
  hybrid-e2e lint --rule no-dnf-update=warning --format sarif -o lint.sarif

Exit codes: 0 ok, 2 usage or config error, 3 lint findings, 5 infrastructure failure
(see docs/exit-codes.md).";

/// Fast, trustworthy hybrid-parallel E2E setup for Kubernetes projects in CI.
#[derive(Debug, Parser)]
#[command(name = "hybrid-e2e", version, after_help = EXAMPLES, propagate_version = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Commands,
}

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// More output (repeat for more).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub(crate) verbose: u8,
    /// Less output: findings only, no summary.
    #[arg(short, long, action = ArgAction::Count, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: u8,
    /// When to colour the output.
    #[arg(long, value_enum, default_value_t = ColorMode::Auto, global = true, env = "HYBRID_E2E_COLOR")]
    pub(crate) color: ColorMode,
    /// The config file [default: ./hybrid-e2e.yaml if present].
    #[arg(long, global = true, env = "HYBRID_E2E_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorMode {
    /// Colour when writing to a terminal (honours NO_COLOR and CLICOLOR_FORCE).
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Commands {
    /// Lint Dockerfiles: no `dnf update` (DD-TEST-002) and friends.
    #[command(after_help = LINT_HELP)]
    Lint(Box<LintArgs>),
    /// Print the JSON Schema of hybrid-e2e.yaml (for editor completion and validation).
    ConfigSchema,
}

const LINT_HELP: &str = "\
Files: Dockerfile, Containerfile, *.Dockerfile, *.Containerfile, Dockerfile.*, Containerfile.*,
found recursively, honouring .gitignore. Files named on the command line are linted whatever
their name.

Suppress a finding on the comment line(s) directly above the instruction:
  # hybrid-e2e ignore=no-dnf-update reason=\"base image rebuilt weekly outside E2E\"

Examples:
  hybrid-e2e lint examples/
  hybrid-e2e lint --format json | jq '.findings[] | select(.suppressed | not)'
  hybrid-e2e lint --fix docker/";

/// `hybrid-e2e lint`.
#[derive(Debug, Args)]
pub(crate) struct LintArgs {
    /// Files or directories to lint [default: .].
    pub(crate) paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(crate) format: Format,
    /// Write the report to FILE instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
    /// Rewrite files to remove offending commands (targeted updates are left for you).
    #[arg(long)]
    pub(crate) fix: bool,
    /// With --fix: print a unified diff instead of writing files.
    #[arg(long, requires = "fix")]
    pub(crate) dry_run: bool,
    /// Set a rule's level: error, warning or off (repeatable; overrides the config file).
    #[arg(long = "rule", value_name = "RULE=LEVEL", value_parser = parse_rule_level)]
    pub(crate) rules: Vec<(Rule, Level)>,
    /// Also lint files matching GLOB (relative to each directory scanned; repeatable).
    #[arg(long, value_name = "GLOB")]
    pub(crate) include: Vec<String>,
    /// Skip files and directories matching GLOB (repeatable).
    #[arg(long, value_name = "GLOB")]
    pub(crate) exclude: Vec<String>,
    /// Do not honour .gitignore and .ignore files.
    #[arg(long)]
    pub(crate) no_ignore: bool,
}

fn parse_rule_level(value: &str) -> Result<(Rule, Level), String> {
    let (id, level) = value
        .split_once('=')
        .ok_or_else(|| format!("expected RULE=LEVEL, got `{value}`"))?;
    let rule = Rule::from_id(id.trim()).ok_or_else(|| {
        let known: Vec<&str> = Rule::ALL.iter().map(|rule| rule.id()).collect();
        format!("unknown rule `{id}` (known rules: {})", known.join(", "))
    })?;
    let level =
        Level::from_str(level.trim(), true).map_err(|_| format!("unknown level `{level}` (error, warning, off)"))?;
    Ok((rule, level))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn rule_levels_parse_and_reject_typos() {
        assert_eq!(
            parse_rule_level("no-dnf-update=warning"),
            Ok((Rule::NoDnfUpdate, Level::Warning))
        );
        assert!(
            parse_rule_level("no-dnf-updat=off")
                .expect_err("typo")
                .contains("known rules")
        );
        assert!(parse_rule_level("no-dnf-update").is_err());
    }
}
