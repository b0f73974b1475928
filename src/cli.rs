//! The command line (clap derive). Each subcommand's options live in one struct.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::config::{EngineChoice, Preserve, ScheduleMode};
use crate::lint::{Format, Level, Rule};

const EXAMPLES: &str = "\
Examples:
  hybrid-e2e plan                          Validate hybrid-e2e.yaml and show what a run would do
  hybrid-e2e run                           Build, create the Kind cluster, load; timed
  hybrid-e2e doctor                        Check the engine, kind, disk, inotify and ports
  hybrid-e2e lint                          Lint every Dockerfile under the current directory
  hybrid-e2e lint docker/ --format github  Annotate findings on a pull request
  hybrid-e2e lint --fix --dry-run          Show the fixes as a unified diff
  hybrid-e2e lint --rule no-dnf-update=warning --format sarif -o lint.sarif

Exit codes: 0 ok, 1 setup failed (application), 2 usage or config error, 3 lint findings,
4 targets exceeded (--fail-on-target), 5 infrastructure failure, 130 cancelled
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
    /// Run the hybrid-parallel setup: build → cluster → load → deploy (server-side apply, one readiness wait per group), timed against the targets.
    #[command(after_help = RUN_HELP)]
    Run(Box<RunArgs>),
    /// Validate the config and print the phases, steps, references and targets; runs nothing.
    Plan(Box<PlanArgs>),
    /// Preflight checks: engine, kind, kubectl, free disk, inotify limits, cluster name, ports.
    Doctor(Box<SetupArgs>),
    /// Delete what a run left behind: its cluster, its images and image archives.
    Cleanup(Box<CleanupArgs>),
    /// Render or publish reports (JUnit, job summary, annotations, outputs) from saved report
    /// directories; `--merge` combines matrix jobs.
    #[command(after_help = REPORT_HELP)]
    Report(Box<ReportArgs>),
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

const RUN_HELP: &str = "\
Writes timings.json, step logs and diagnostics to the report directory on success, failure and
Ctrl-C/SIGTERM alike. Needs Docker or Podman plus kind; stops at preflight with a hint otherwise.

Examples:
  hybrid-e2e run --preserve always          Keep the cluster to poke at it afterwards
  HYBRID_E2E_TAG_SUFFIX=pr42 hybrid-e2e run  Unique image tags per pull request
  hybrid-e2e run --fail-on-target           Exit 4 when a phase is over its DD-TEST-002 target";

/// Per-run overrides shared by `run`, `plan` and `doctor` (flags win over variables, which win
/// over the config file).
#[derive(Debug, Args)]
pub(crate) struct SetupArgs {
    /// Container engine.
    #[arg(long, value_enum, env = "HYBRID_E2E_ENGINE")]
    pub(crate) engine: Option<EngineChoice>,
    /// Keep the cluster after the run.
    #[arg(long, value_enum, env = "HYBRID_E2E_PRESERVE")]
    pub(crate) preserve: Option<Preserve>,
    /// The Kind cluster name [default: from the config, else unique per run].
    #[arg(long, env = "HYBRID_E2E_CLUSTER_NAME", value_name = "NAME")]
    pub(crate) cluster_name: Option<String>,
    /// Appended to every image tag (`-SUFFIX`), e.g. a PR number or job id.
    #[arg(long, env = "HYBRID_E2E_TAG_SUFFIX", value_name = "SUFFIX")]
    pub(crate) tag_suffix: Option<String>,
    /// Where reports go [default: `report_dir` of the config].
    #[arg(long, env = "HYBRID_E2E_REPORT_DIR", value_name = "DIR")]
    pub(crate) report_dir: Option<PathBuf>,
    /// Steps of one phase running at once [default: `concurrency` of the config].
    #[arg(long, env = "HYBRID_E2E_CONCURRENCY", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) concurrency: Option<u32>,
    /// Server-side applies in flight at once within a deploy group [default: 16].
    #[arg(long, env = "HYBRID_E2E_APPLY_CONCURRENCY", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) apply_concurrency: Option<u32>,
    /// Scheduling mode [default: `mode` of the config, else strict].
    #[arg(long, value_enum, env = "HYBRID_E2E_MODE")]
    pub(crate) mode: Option<ScheduleMode>,
    /// `mode: pipelined`: a directory of earlier runs' timings.json to predict from [default: `pipelined.history` of the config].
    #[arg(long, env = "HYBRID_E2E_HISTORY", value_name = "DIR")]
    pub(crate) history: Option<PathBuf>,
    /// How often deploy readiness is polled, e.g. `500ms` [default: 1s].
    #[arg(long, env = "HYBRID_E2E_POLL_INTERVAL", value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub(crate) poll_interval: Option<std::time::Duration>,
    /// Fail preflight below this much free disk, in GiB.
    #[arg(
        long,
        env = "HYBRID_E2E_MIN_FREE_DISK_GIB",
        value_name = "GIB",
        default_value_t = 10.0
    )]
    pub(crate) min_free_disk: f64,
}

/// Where results are published on GitHub.
#[derive(Debug, Args)]
pub(crate) struct PublishArgs {
    /// Token for the check run [default: GITHUB_TOKEN]. Never printed.
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub(crate) github_token: Option<String>,
    /// Update this check run (the job's own: `${{ job.check_run_id }}`) instead of creating one.
    #[arg(long, env = "HYBRID_E2E_CHECK_RUN_ID", value_name = "ID")]
    pub(crate) check_run_id: Option<u64>,
    /// Name of the check run created on the head commit.
    #[arg(
        long,
        env = "HYBRID_E2E_CHECK_NAME",
        default_value = "hybrid-e2e",
        value_name = "NAME"
    )]
    pub(crate) check_name: String,
    /// The commit to attach the check run to [default: the PR head, else GITHUB_SHA].
    #[arg(long, env = "HYBRID_E2E_COMMIT", value_name = "SHA")]
    pub(crate) commit: Option<String>,
    /// Do not create or update a check run (annotations and the summary are still written).
    #[arg(long, env = "HYBRID_E2E_NO_CHECK_RUN")]
    pub(crate) no_check_run: bool,
}

/// `hybrid-e2e run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) setup: SetupArgs,
    #[command(flatten)]
    pub(crate) publish: PublishArgs,
    /// Exit 4 when a phase or the total is over its target (otherwise only reported).
    #[arg(long, env = "HYBRID_E2E_FAIL_ON_TARGET")]
    pub(crate) fail_on_target: bool,
}

/// `hybrid-e2e plan`.
#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    #[command(flatten)]
    pub(crate) setup: SetupArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub(crate) format: PlanFormat,
}

/// `plan --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum PlanFormat {
    Text,
    Json,
}

const REPORT_HELP: &str = "\
Works anywhere: it only reads timings.json. In GitHub Actions (or with --github always) it also
prints annotations, appends the job summary and sets step outputs; publishing problems are
warnings, never failures, and the local files are written first.

Examples:
  hybrid-e2e report                                  Re-render ./hybrid-e2e-report
  hybrid-e2e report --merge e2e-*/ -o merged         One JUnit and summary for matrix jobs
  hybrid-e2e report artifacts/ --github always       Publish a fork PR's results from workflow_run";

/// `hybrid-e2e report`.
#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// The report directory [default: `report_dir` of the config].
    pub(crate) dir: Option<PathBuf>,
    /// More report directories to merge with the first (one per matrix job).
    #[arg(long, value_name = "DIR", num_args = 1..)]
    pub(crate) merge: Vec<PathBuf>,
    /// Where junit.xml and summary.md go [default: the report directory; `hybrid-e2e-report-merged` when merging].
    #[arg(short, long, value_name = "DIR")]
    pub(crate) output: Option<PathBuf>,
    /// Publish to GitHub: annotations, job summary, step outputs.
    #[arg(long, value_enum, default_value_t = GithubMode::Auto, env = "HYBRID_E2E_GITHUB")]
    pub(crate) github: GithubMode,
    /// Over-target phases are JUnit failures, not only warnings.
    #[arg(long, env = "HYBRID_E2E_FAIL_ON_TARGET")]
    pub(crate) fail_on_target: bool,
    #[command(flatten)]
    pub(crate) publish: PublishArgs,
}

/// `--github`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum GithubMode {
    /// When `GITHUB_ACTIONS=true`.
    Auto,
    Always,
    Never,
}

/// `hybrid-e2e cleanup`.
#[derive(Debug, Args)]
pub(crate) struct CleanupArgs {
    #[command(flatten)]
    pub(crate) setup: SetupArgs,
    /// Also delete every Kind cluster whose name starts with PREFIX (e.g. `hybrid-e2e-`).
    #[arg(long, value_name = "PREFIX")]
    pub(crate) prefix: Option<String>,
    /// Show what would be deleted without deleting it.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

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
