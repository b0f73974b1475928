//! The command line (clap derive). Each subcommand's options live in one struct.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

use crate::config::{self, EngineChoice, Preserve, ScheduleMode};
use crate::lint::{Format, Level, Rule};

const EXAMPLES: &str = "\
Examples:
  hybrid-e2e plan                          Validate hybrid-e2e.yaml and show what a run would do
  hybrid-e2e run                           Build, create the Kind cluster, load, deploy; timed
  hybrid-e2e doctor                        Check the engine, kind, disk, inotify and ports
  hybrid-e2e services up                   Start the integration tier's containers, health-gated
  hybrid-e2e lint                          Lint every Dockerfile under the current directory
  hybrid-e2e lint docker/ --format github  Annotate findings on a pull request
  hybrid-e2e lint --fix --dry-run          Show the fixes as a unified diff
  hybrid-e2e lint --rule no-dnf-update=warning --format sarif -o lint.sarif
  hybrid-e2e regress --history reports/    Nightly: real timing regressions, not runner noise

Exit codes: 0 ok, 1 setup failed (application), 2 usage or config error, 3 lint findings,
4 targets exceeded (--fail-on-target), 5 infrastructure failure, 6 some merged reports
unreadable (report --merge), 7 timing regression (regress --fail-on-regression), 8 the test
phase's suite failed, 130 cancelled, 101 a bug in hybrid-e2e (see docs/exit-codes.md).";

/// Fast, trustworthy hybrid-parallel E2E setup for Kubernetes projects in CI.
#[derive(Debug, Parser)]
#[command(name = "hybrid-e2e", version, after_help = EXAMPLES, propagate_version = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    /// The config file, before the command (`hybrid-e2e --config FILE run`); the command's own
    /// `--config` wins.
    #[arg(long, env = "HYBRID_E2E_CONFIG", value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Commands,
}

/// Options every subcommand takes.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// More output (repeat for more).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub(crate) verbose: u8,
    /// Less output: errors and failures only.
    #[arg(short, long, action = ArgAction::Count, global = true, conflicts_with = "verbose")]
    pub(crate) quiet: u8,
    /// When to colour the output (NO_COLOR and CLICOLOR_FORCE are honoured with `auto`).
    #[arg(long, value_enum, default_value_t = ColorMode::Auto, global = true, env = "HYBRID_E2E_COLOR")]
    pub(crate) color: ColorMode,
}

/// `--config`, for the commands that read the config file.
#[derive(Debug, Args)]
pub(crate) struct ConfigArg {
    /// The config file [default: ./hybrid-e2e.yaml if present].
    #[arg(long = "config", env = "HYBRID_E2E_CONFIG", value_name = "FILE")]
    pub(crate) path: Option<PathBuf>,
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
    Doctor(Box<DoctorArgs>),
    /// Delete what a run left behind: its cluster, its images and image archives, and the containers and networks `services up` started.
    Cleanup(Box<CleanupArgs>),
    /// Render or publish reports (JUnit, job summary, annotations, outputs) from saved report
    /// directories; `--merge` combines matrix jobs.
    #[command(after_help = REPORT_HELP)]
    Report(Box<ReportArgs>),
    /// Lint Dockerfiles: no `dnf update` (DD-TEST-002) and friends.
    #[command(after_help = LINT_HELP)]
    Lint(Box<LintArgs>),
    /// Nightly: compare the latest timings with their history and report real regressions
    /// (rolling median and MAD, consecutive breaches, a change-point test), not runner noise.
    #[command(after_help = REGRESS_HELP)]
    Regress(Box<RegressArgs>),
    /// The integration tier without Kind: `services up` builds and starts the `services:` of the
    /// config on Docker or Podman, health-gated and timed; `services down` removes them.
    #[command(after_help = SERVICES_HELP)]
    Services(Box<ServicesArgs>),
    /// E2E coverage (DD-TEST-007) after a suite that ran outside `run`: stop the instrumented
    /// workloads of the run's kept cluster, copy their data out of the nodes, measure it.
    #[command(after_help = COVERAGE_HELP)]
    Coverage(Box<CoverageArgs>),
    /// Print the JSON Schema of hybrid-e2e.yaml (for editor completion and validation).
    ConfigSchema(ConfigSchemaArgs),
    /// The GitHub container action's entry point: reads the step's `INPUT_*` variables and runs the
    /// command they name, exactly like the CLI (docs/action.md); `action post` is its teardown.
    #[command(after_help = ACTION_HELP)]
    Action(Box<ActionArgs>),
}

const ACTION_HELP: &str = "\
Run by action.yml inside the action's container (image: docker/): `hybrid-e2e action` is the main
step, `hybrid-e2e action post` the post step. Outside GitHub Actions, use the commands directly.";

/// `hybrid-e2e action`.
#[derive(Debug, Args)]
pub(crate) struct ActionArgs {
    #[command(subcommand)]
    pub(crate) step: Option<ActionStep>,
}

/// The steps of the container action besides the main one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Subcommand)]
pub(crate) enum ActionStep {
    /// The post step: delete the Kind cluster per the `preserve` the main step saved (`STATE_*`).
    Post,
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

/// What the cluster and the images are called, shared by `run`, `plan`, `doctor` and `cleanup`
/// (flags win over variables, which win over the config file).
#[derive(Debug, Args)]
pub(crate) struct NamingArgs {
    /// Container engine: auto (Docker if its daemon answers, else Podman), docker or podman.
    #[arg(long, value_enum, env = "HYBRID_E2E_ENGINE")]
    pub(crate) engine: Option<EngineChoice>,
    /// The Kind cluster name [default: from the config, else unique per run].
    #[arg(long, env = "HYBRID_E2E_CLUSTER_NAME", value_name = "NAME", value_parser = config::parse_cluster_name)]
    pub(crate) cluster_name: Option<String>,
    /// Where reports go [default: `report_dir` of the config].
    #[arg(long, env = "HYBRID_E2E_REPORT_DIR", value_name = "DIR")]
    pub(crate) report_dir: Option<PathBuf>,
}

/// How a run goes, shared by `run` and `plan`.
#[derive(Debug, Args)]
pub(crate) struct SetupArgs {
    #[command(flatten)]
    pub(crate) naming: NamingArgs,
    /// Keep the cluster after the run.
    #[arg(long, value_enum, env = "HYBRID_E2E_PRESERVE")]
    pub(crate) preserve: Option<Preserve>,
    /// Appended to every image tag (`-SUFFIX`), e.g. a PR number or job id.
    #[arg(long, env = "HYBRID_E2E_TAG_SUFFIX", value_name = "SUFFIX", value_parser = config::parse_tag_suffix)]
    pub(crate) tag_suffix: Option<String>,
    /// Steps of one phase running at once [default: `concurrency` of the config].
    #[arg(long, env = "HYBRID_E2E_CONCURRENCY", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub(crate) concurrency: Option<u32>,
    /// Server-side applies in flight at once within a deploy group [default: 16].
    #[arg(long, env = "HYBRID_E2E_APPLY_CONCURRENCY", value_name = "N", value_parser = clap::value_parser!(u32).range(1..=256))]
    pub(crate) apply_concurrency: Option<u32>,
    /// Scheduling mode [default: `mode` of the config, else strict].
    #[arg(long, value_enum, env = "HYBRID_E2E_MODE")]
    pub(crate) mode: Option<ScheduleMode>,
    /// `mode: pipelined`: a directory of earlier runs' timings.json to predict from [default: `pipelined.history` of the config].
    #[arg(long, env = "HYBRID_E2E_HISTORY", value_name = "DIR")]
    pub(crate) history: Option<PathBuf>,
    /// How often deploy readiness is polled, e.g. `500ms` [default: 1s; 10ms to 1m].
    #[arg(long, env = "HYBRID_E2E_POLL_INTERVAL", value_name = "DURATION", value_parser = parse_poll_interval)]
    pub(crate) poll_interval: Option<std::time::Duration>,
}

/// `--min-free-disk`.
#[derive(Debug, Args)]
pub(crate) struct DiskArgs {
    /// Fail preflight below this much free disk, in GiB (0 to 1048576).
    #[arg(
        long,
        env = "HYBRID_E2E_MIN_FREE_DISK_GIB",
        value_name = "GIB",
        default_value_t = 10.0,
        value_parser = parse_gib
    )]
    pub(crate) min_free_disk: f64,
}

const SERVICES_HELP: &str = "\
`services up` writes timings.json (phase `services`), junit.xml, summary.md and services.env (each
service's host and ports: POSTGRES_HOST, POSTGRES_PORT, POSTGRES_PORT_5432, ...) to the report
directory, prints the same lines, and sets them as step outputs in GitHub Actions. On failure or
Ctrl-C/SIGTERM it writes diagnostics (inspect, last 200 log lines) and removes what it started.

Examples:
  hybrid-e2e services up && set -a && . hybrid-e2e-report/services.env && set +a && go test ./...
  hybrid-e2e services down                  Remove what the last `services up` started
  hybrid-e2e services down --all            Also what earlier runs of this project left behind";

/// `hybrid-e2e services`.
#[derive(Debug, Args)]
pub(crate) struct ServicesArgs {
    #[command(subcommand)]
    pub(crate) action: ServicesAction,
}

/// `services up` / `services down`.
#[derive(Debug, Subcommand)]
pub(crate) enum ServicesAction {
    /// Build what the services need, start them in `depends_on` order (in parallel where possible) and wait until they are healthy.
    Up(Box<ServicesUpArgs>),
    /// Remove the containers and the network `services up` started (by their run label); idempotent.
    Down(Box<ServicesDownArgs>),
}

/// `--engine` and `--report-dir` of `services`.
#[derive(Debug, Args)]
pub(crate) struct ServicesTarget {
    /// Container engine: auto (Docker if its daemon answers, else Podman), docker or podman.
    #[arg(long, value_enum, env = "HYBRID_E2E_ENGINE")]
    pub(crate) engine: Option<EngineChoice>,
    /// Where reports go [default: `report_dir` of the config].
    #[arg(long, env = "HYBRID_E2E_REPORT_DIR", value_name = "DIR")]
    pub(crate) report_dir: Option<PathBuf>,
}

/// `hybrid-e2e services up`.
#[derive(Debug, Args)]
pub(crate) struct ServicesUpArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    #[command(flatten)]
    pub(crate) target: ServicesTarget,
    /// Appended to every image tag (`-SUFFIX`), e.g. a PR number or job id.
    #[arg(long, env = "HYBRID_E2E_TAG_SUFFIX", value_name = "SUFFIX", value_parser = config::parse_tag_suffix)]
    pub(crate) tag_suffix: Option<String>,
    #[command(flatten)]
    pub(crate) disk: DiskArgs,
    #[command(flatten)]
    pub(crate) publish: PublishArgs,
    /// Exit 4 when a phase or the total is over its target (otherwise only reported).
    #[arg(long, env = "HYBRID_E2E_FAIL_ON_TARGET")]
    pub(crate) fail_on_target: bool,
}

/// `hybrid-e2e services down`.
#[derive(Debug, Args)]
pub(crate) struct ServicesDownArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    #[command(flatten)]
    pub(crate) target: ServicesTarget,
    /// Remove this run's containers [default: the run in `services.json` of the report directory].
    #[arg(long, value_name = "ID", conflicts_with = "all")]
    pub(crate) run_id: Option<String>,
    /// Remove every container and network of this project (any run), e.g. after a killed job.
    #[arg(long)]
    pub(crate) all: bool,
}

const COVERAGE_HELP: &str = "\
For suites run as a later step (the container action, or `run` without `test:`): `run` deploys the
images with `coverage: true` instrumented (GOCOVERDIR, the node mount) and keeps the cluster
(`--preserve always`, or the action's deferred teardown); after the suite, `coverage` reads the
run's timings.json in the report directory (its run id and cluster), scales the instrumented
workloads to zero so Go writes its counters, copies <coverage.dir>/<run id>/<image> out of every
node into <report dir>/coverage/<image>/, converts it with `go tool covdata textfmt` where `go` is
on PATH, and adds a `coverage` phase to timings.json, junit.xml and summary.md. Coverage problems
are warnings (exit 0). Exit 2: no run in the report directory, no cluster left, no `coverage: true`
image, or images the run did not deploy; 5: no engine, the cluster unreachable, a report that
cannot be written; 130: interrupted (docs/exit-codes.md).

Examples:
  hybrid-e2e run --preserve always && go test ./test/e2e/... ; hybrid-e2e coverage --leave-stopped; hybrid-e2e cleanup
  hybrid-e2e coverage --report-dir hybrid-e2e-report      The run whose cluster to read from";

/// `hybrid-e2e coverage`.
#[derive(Debug, Args)]
pub(crate) struct CoverageArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    /// The report directory of the run to capture from [default: `report_dir` of the config].
    #[arg(long, env = "HYBRID_E2E_REPORT_DIR", value_name = "DIR")]
    pub(crate) report_dir: Option<PathBuf>,
    /// Container engine of the Kind nodes [default: the one the run used].
    #[arg(long, value_enum, env = "HYBRID_E2E_ENGINE")]
    pub(crate) engine: Option<EngineChoice>,
    /// The run's image tag suffix (`-SUFFIX`): the instrumented workloads are found by reference.
    #[arg(long, env = "HYBRID_E2E_TAG_SUFFIX", value_name = "SUFFIX", value_parser = config::parse_tag_suffix)]
    pub(crate) tag_suffix: Option<String>,
    /// Leave the workloads stopped (the cluster is deleted next) instead of bringing them back.
    #[arg(long, env = "HYBRID_E2E_LEAVE_STOPPED")]
    pub(crate) leave_stopped: bool,
    /// As the run had it: a phase over its target is a failure in the re-rendered junit.xml.
    #[arg(long, env = "HYBRID_E2E_FAIL_ON_TARGET")]
    pub(crate) fail_on_target: bool,
}

/// `hybrid-e2e doctor`.
#[derive(Debug, Args)]
pub(crate) struct DoctorArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
    #[command(flatten)]
    pub(crate) naming: NamingArgs,
    /// Appended to every image tag (`-SUFFIX`): checked against the manifests as `run` would.
    #[arg(long, env = "HYBRID_E2E_TAG_SUFFIX", value_name = "SUFFIX", value_parser = config::parse_tag_suffix)]
    pub(crate) tag_suffix: Option<String>,
    #[command(flatten)]
    pub(crate) disk: DiskArgs,
}

/// `hybrid-e2e config-schema`.
#[derive(Debug, Args)]
pub(crate) struct ConfigSchemaArgs {}

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
    pub(crate) config: ConfigArg,
    #[command(flatten)]
    pub(crate) setup: SetupArgs,
    #[command(flatten)]
    pub(crate) disk: DiskArgs,
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
    pub(crate) config: ConfigArg,
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
  hybrid-e2e report artifacts/ --github always       Publish a fork PR's results from workflow_run
  hybrid-e2e report --junit unit=unit.xml --junit e2e='e2e/*.xml'   Cross-tier test triage";

/// `hybrid-e2e report`.
#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
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
    /// Triage test tiers instead: `TIER=PATH`, a JUnit file or glob (repeatable; a tier may be
    /// named more than once). Writes triage.md and triage.json [default -o: `hybrid-e2e-triage`].
    #[arg(long, value_name = "TIER=PATH", conflicts_with_all = ["merge", "dir"])]
    pub(crate) junit: Vec<String>,
    /// Triage the tiers of the config's `tiers:` section (with `--junit`: both).
    #[arg(long, conflicts_with_all = ["merge", "dir"])]
    pub(crate) triage: bool,
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
    pub(crate) config: ConfigArg,
    #[command(flatten)]
    pub(crate) naming: NamingArgs,
    /// Also delete every Kind cluster whose name starts with PREFIX (e.g. `hybrid-e2e-`).
    #[arg(long, value_name = "PREFIX")]
    pub(crate) prefix: Option<String>,
    /// Show what would be deleted without deleting it.
    #[arg(long)]
    pub(crate) dry_run: bool,
}

const REGRESS_HELP: &str = "\
Series are keyed by service (the config file relative to the repository), branch, phase and
step; engines, runner types and config hashes are not mixed unless --group-by says so. Writes
regress.json, regress.md and charts/<phase>.svg to --output (docs/regress.md).

Examples:
  hybrid-e2e regress --history reports/                       Every timings.json under reports/
  hybrid-e2e regress --history-file history.jsonl --current hybrid-e2e-report
  hybrid-e2e regress --history-file history.jsonl --github-artifacts 'hybrid-e2e-report-*' \\
      --fail-on-regression --issues                          The nightly job (workflows/nightly.yml)";

/// `hybrid-e2e regress`.
#[derive(Debug, Args)]
pub(crate) struct RegressArgs {
    /// Report directories or timings.json files, searched recursively (repeatable).
    #[arg(long, value_name = "DIR")]
    pub(crate) history: Vec<PathBuf>,
    /// The compact history file (JSON lines): read if present, then rewritten with every run, capped.
    #[arg(long, env = "HYBRID_E2E_HISTORY_FILE", value_name = "FILE")]
    pub(crate) history_file: Option<PathBuf>,
    /// Report directories of the run(s) to judge [default: each series' newest run].
    #[arg(long, value_name = "DIR")]
    pub(crate) current: Vec<PathBuf>,
    /// Also read the artifacts of earlier workflow runs whose name matches this glob.
    #[arg(long, value_name = "NAME_PATTERN")]
    pub(crate) github_artifacts: Option<String>,
    /// The workflow whose runs hold the artifacts: file name or id [default: this run's workflow].
    #[arg(long, env = "HYBRID_E2E_REGRESS_WORKFLOW", value_name = "WORKFLOW")]
    pub(crate) workflow: Option<String>,
    /// Branch of the runs (artifacts: the runs listed; directories: the runs read) [default: GITHUB_REF_NAME].
    #[arg(long, env = "GITHUB_REF_NAME", value_name = "BRANCH")]
    pub(crate) branch: Option<String>,
    /// Workflow runs looked at for artifacts, newest first.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub(crate) max_runs: usize,
    /// Artifacts downloaded per invocation (the rest wait for the next one).
    #[arg(long, default_value_t = 500, value_name = "N")]
    pub(crate) max_downloads: usize,
    /// Where regress.json, regress.md and the charts go.
    #[arg(short, long, default_value = "hybrid-e2e-regress", value_name = "DIR")]
    pub(crate) output: PathBuf,
    /// Exit 7 when a series has a confirmed regression (otherwise only reported).
    #[arg(long, env = "HYBRID_E2E_FAIL_ON_REGRESSION")]
    pub(crate) fail_on_regression: bool,
    /// What splits series besides service, branch, phase and step: a list of engine, runner,
    /// config-hash, or none.
    #[arg(long, default_value = "engine,runner,config-hash", value_name = "LIST")]
    pub(crate) group_by: String,
    /// Runs in the rolling median and MAD [default: 28; the issue's first design used 14].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(2..))]
    pub(crate) window: Option<u32>,
    /// Breach when the change exceeds K scaled MADs [default: 3].
    #[arg(long, value_name = "K")]
    pub(crate) k: Option<f64>,
    /// … and this share of the median [default: 0.10].
    #[arg(long, value_name = "RATIO")]
    pub(crate) min_ratio: Option<f64>,
    /// … and this many seconds [default: 5].
    #[arg(long, value_name = "SECONDS")]
    pub(crate) floor: Option<f64>,
    /// Breaches in a row that confirm a regression [default: 2].
    #[arg(long, value_name = "M", value_parser = clap::value_parser!(u32).range(1..))]
    pub(crate) consecutive: Option<u32>,
    /// Completed runs a series needs before it is judged [default: 7].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(2..))]
    pub(crate) min_runs: Option<u32>,
    /// Only the threshold rule: no change-point test.
    #[arg(long)]
    pub(crate) no_change_point: bool,
    /// Parameters per phase (YAML or JSON: `defaults:` and `phases: {build: {...}, setup: {...}}`).
    #[arg(long, value_name = "FILE")]
    pub(crate) params: Option<PathBuf>,
    /// Groups whose newest run is this much older than the newest run are left out.
    #[arg(long, default_value_t = 30.0, value_name = "DAYS")]
    pub(crate) stale_after_days: f64,
    /// History file cap: newest runs kept per service, engine, runner type and branch.
    #[arg(long, default_value_t = 400, value_name = "N")]
    pub(crate) history_runs: usize,
    /// History file cap: its largest size in MiB (the oldest runs go first).
    #[arg(long, default_value_t = 32, value_name = "MIB")]
    pub(crate) history_max_mib: u64,
    /// Open, update and close one GitHub issue per regressed series (label hybrid-e2e-regression).
    #[arg(long, env = "HYBRID_E2E_REGRESS_ISSUES")]
    pub(crate) issues: bool,
    /// New issues opened per invocation, at most.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub(crate) max_new_issues: usize,
    /// Append the report to the job summary.
    #[arg(long, value_enum, default_value_t = GithubMode::Auto, env = "HYBRID_E2E_GITHUB")]
    pub(crate) github: GithubMode,
    /// Token for artifacts and issues [default: GITHUB_TOKEN]. Never printed.
    #[arg(long, env = "GITHUB_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub(crate) github_token: Option<String>,
    /// OWNER/NAME [default: GITHUB_REPOSITORY].
    #[arg(long, env = "GITHUB_REPOSITORY", value_name = "OWNER/NAME")]
    pub(crate) repo: Option<String>,
    /// Stripped from absolute config paths to name services [default: GITHUB_WORKSPACE, else .].
    #[arg(long, env = "GITHUB_WORKSPACE", value_name = "DIR")]
    pub(crate) repo_root: Option<PathBuf>,
}

/// `hybrid-e2e lint`.
#[derive(Debug, Args)]
pub(crate) struct LintArgs {
    #[command(flatten)]
    pub(crate) config: ConfigArg,
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

fn parse_poll_interval(value: &str) -> Result<std::time::Duration, String> {
    let duration =
        humantime::parse_duration(value).map_err(|error| format!("`{value}`: {error}; write e.g. `500ms` or `2s`"))?;
    if (std::time::Duration::from_millis(10)..=std::time::Duration::from_secs(60)).contains(&duration) {
        Ok(duration)
    } else {
        Err(format!("`{value}` is outside 10ms to 1m"))
    }
}

/// A finite, non-negative number of GiB, at most 1 PiB.
fn parse_gib(value: &str) -> Result<f64, String> {
    let gib: f64 = value
        .trim()
        .parse()
        .map_err(|_| format!("`{value}` is not a number of GiB"))?;
    if gib.is_finite() && (0.0..=1_048_576.0).contains(&gib) {
        Ok(gib)
    } else {
        Err(format!("`{value}` is outside 0 to 1048576 GiB"))
    }
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

    /// Variables read outside clap: the tools' programs and logging.
    const OTHER_VARIABLES: &[(&str, &str)] = &[
        (
            "HYBRID_E2E_DOCKER",
            "the `docker` program to run (default: `docker` on PATH)",
        ),
        (
            "HYBRID_E2E_PODMAN",
            "the `podman` program to run (default: `podman` on PATH)",
        ),
        ("HYBRID_E2E_KIND", "the `kind` program to run (default: `kind` on PATH)"),
        (
            "HYBRID_E2E_GO",
            "the `go` program for `go tool covdata textfmt` in the coverage phase (default: `go` on PATH; without it the raw data is kept, no percentage)",
        ),
        (
            "HYBRID_E2E_LOG",
            "log filter for `-v` diagnostics, e.g. `hybrid_e2e=debug` (tracing's `EnvFilter` syntax)",
        ),
    ];

    /// The README's table of every `HYBRID_E2E_*` variable, generated from the CLI's own
    /// definitions plus the variables read elsewhere.
    fn variables_table() -> String {
        let mut rows: std::collections::BTreeMap<String, (String, String)> = Default::default();
        let command = Cli::command();
        for sub in std::iter::once(&command).chain(command.get_subcommands()) {
            for arg in sub.get_arguments() {
                let (Some(env), Some(long)) = (arg.get_env(), arg.get_long()) else {
                    continue;
                };
                let env = env.to_string_lossy().into_owned();
                if !env.starts_with("HYBRID_E2E_") {
                    continue;
                }
                let help = arg.get_help().map(|help| help.to_string()).unwrap_or_default();
                rows.entry(env).or_insert_with(|| (format!("`--{long}`"), help));
            }
        }
        let mut commands: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for sub in command.get_subcommands() {
            for arg in sub.get_arguments() {
                if let Some(env) = arg.get_env() {
                    commands
                        .entry(env.to_string_lossy().into_owned())
                        .or_default()
                        .push(sub.get_name().to_owned());
                }
            }
        }
        for (name, help) in OTHER_VARIABLES {
            rows.insert((*name).to_owned(), ("—".to_owned(), (*help).to_owned()));
        }
        let mut table = String::from("| variable | flag | commands | what |\n| --- | --- | --- | --- |\n");
        for (name, (flag, help)) in rows {
            let used = commands
                .get(&name)
                .map_or_else(|| "all".to_owned(), |names| names.join(", "));
            let help = help
                .lines()
                .next()
                .unwrap_or_default()
                .trim_end_matches('.')
                .replace('|', "\\|");
            table.push_str(&format!("| `{name}` | {flag} | {used} | {help} |\n"));
        }
        table
    }

    #[test]
    fn the_readme_documents_every_variable() {
        let readme = std::fs::read_to_string(crate::test_support::repo_path("README.md")).expect("README");
        let (start, end) = ("<!-- variables:start -->\n", "<!-- variables:end -->");
        let documented = readme
            .split_once(start)
            .and_then(|(_, rest)| rest.split_once(end))
            .map(|(table, _)| table)
            .unwrap_or_default();
        let expected = variables_table();
        assert!(
            documented == expected,
            "README.md's variables table is stale; between the markers it should read:\n{expected}"
        );
        // Every variable the source reads is in it (test-only switches aside).
        let mut files = Vec::new();
        let mut stack = vec![crate::test_support::repo_path("src")];
        while let Some(directory) = stack.pop() {
            for entry in std::fs::read_dir(directory).expect("src").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|extension| extension == "rs") {
                    files.push(path);
                }
            }
        }
        for file in files {
            let text = std::fs::read_to_string(&file).expect("source");
            for (index, _) in text.match_indices("\"HYBRID_E2E_") {
                let name: String = text[index + 1..]
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                // Test switches, and what the E2E suite is given (docs/test-phase.md), never read.
                if matches!(
                    name.as_str(),
                    "HYBRID_E2E_REQUIRE_PEERS"
                        | "HYBRID_E2E_PEER_PYTHON"
                        | "HYBRID_E2E_"
                        | "HYBRID_E2E_IMAGE_"
                        | "HYBRID_E2E_RUN_ID"
                ) {
                    continue;
                }
                assert!(
                    expected.contains(&format!("`{name}`")),
                    "{name} (read in {}) is not documented",
                    file.display()
                );
            }
        }
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
