//! The shape of `hybrid-e2e.yaml` (version 1). Doc comments here become the JSON Schema's
//! descriptions (`hybrid-e2e config-schema`), so they are written for users.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

use crate::lint::{Level, Rule};

/// A value that remembers where it was written, for error messages.
#[derive(Debug, Clone)]
pub(crate) struct Located<T> {
    pub(crate) value: T,
    pub(crate) line: u64,
    pub(crate) column: u64,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Located<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<T>::deserialize(deserializer)?;
        Ok(Located {
            value: spanned.value,
            line: spanned.referenced.line(),
            column: spanned.referenced.column(),
        })
    }
}

impl<T: JsonSchema> JsonSchema for Located<T> {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// A duration written the human way: `90s`, `3m`, `1m 30s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct HumanDuration(pub(crate) Duration);

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let duration = humantime::parse_duration(&text).map_err(|error| {
            de::Error::custom(format!(
                "invalid duration `{text}` ({error}); write e.g. `90s`, `3m` or `1m 30s`"
            ))
        })?;
        if duration > HumanDuration::MAX {
            return Err(de::Error::custom(format!(
                "duration `{text}` is too long: at most {} (7d)",
                humantime::format_duration(HumanDuration::MAX)
            )));
        }
        Ok(HumanDuration(duration))
    }
}

impl HumanDuration {
    /// The longest duration the config accepts: no setup, target or timeout needs more, and
    /// deadlines computed from it stay far inside what the clock can hold.
    pub(crate) const MAX: Duration = Duration::from_secs(7 * 24 * 3600);
}

impl Serialize for HumanDuration {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", humantime::format_duration(self.0))
    }
}

impl JsonSchema for HumanDuration {
    fn inline_schema() -> bool {
        true
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A duration such as `90s`, `3m` or `1m 30s`.",
            "pattern": r"^\s*\d+(\.\d+)?\s*[a-zA-Zµ]+(\s*\d+(\.\d+)?\s*[a-zA-Zµ]+)*\s*$",
            "examples": ["15s", "3m", "1m 30s"]
        })
    }
}

/// The hybrid-e2e configuration file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "hybrid-e2e.yaml")]
pub(crate) struct ConfigFile {
    /// Format version of this file. Must be 1.
    pub(crate) version: u32,
    /// Container engine: `auto` uses Docker when its daemon answers, else Podman.
    #[serde(default)]
    pub(crate) engine: EngineChoice,
    /// Scheduling mode. `strict` runs DD-TEST-002 exactly: every build, then the cluster, then every
    /// load, then every deploy. `pipelined` runs the same steps as a dependency graph: a load starts
    /// when its image is built and the cluster is ready, a deploy group when the images it runs
    /// are loaded and its `depends_on` groups are ready (groups of public images need only the
    /// cluster); the cluster starts just in time (see `pipelined:`).
    #[serde(default)]
    pub(crate) mode: ScheduleMode,
    /// Options of `mode: pipelined` (`strict` ignores them).
    #[serde(default)]
    pub(crate) pipelined: PipelinedConfig,
    /// How many steps of one phase may run at once.
    #[serde(default = "default_concurrency")]
    #[schemars(range(min = 1))]
    pub(crate) concurrency: u32,
    /// Stop a phase at its first failing step (`true`) or let every step finish and report all
    /// failures (`false`).
    #[serde(default = "default_true")]
    pub(crate) fail_fast: bool,
    /// Where reports, logs and diagnostics are written (relative to this file).
    #[serde(default = "default_report_dir")]
    pub(crate) report_dir: String,
    /// The images to build and load.
    #[serde(default)]
    pub(crate) images: Vec<ImageConfig>,
    /// Containers for the integration tier (`hybrid-e2e services up|down`): run directly on the
    /// engine, on one network per run, started in `depends_on` order and health-gated.
    #[serde(default)]
    pub(crate) services: Vec<ServiceConfig>,
    /// The Kind cluster.
    #[serde(default)]
    pub(crate) cluster: ClusterConfig,
    /// CRD manifests (files or globs) applied before everything else.
    #[serde(default)]
    pub(crate) crds: Vec<String>,
    /// Namespaces created before anything is deployed.
    #[serde(default)]
    pub(crate) namespaces: Vec<String>,
    /// Groups of manifests applied concurrently, then waited for once.
    #[serde(default)]
    pub(crate) deploy: Vec<DeployGroup>,
    /// Time budgets per phase and in total (DD-TEST-002 defaults).
    #[serde(default)]
    pub(crate) targets: Targets,
    /// The Dockerfile lint (`hybrid-e2e lint`, and the check `run` does before building).
    #[serde(default)]
    pub(crate) lint: LintConfig,
    /// The project's E2E suite, run after the setup against the run's cluster (its own phase,
    /// `test`, with its own target; the setup's budget stays the setup's).
    #[serde(default)]
    pub(crate) test: Option<TestConfig>,
    /// E2E coverage capture (DD-TEST-007) for the images built with `coverage: true`: where their
    /// Go coverage data is written in the containers and on the Kind nodes, and how long their
    /// workloads may take to stop after the test phase.
    #[serde(default)]
    pub(crate) coverage: CoverageConfig,
    /// JUnit files of the test tiers (`unit`, `integration`, `e2e`, ...) for `hybrid-e2e report
    /// --triage`: tier name → a file or glob, or a list of them, relative to this file. The
    /// report lists the tiers in this order.
    #[serde(default, deserialize_with = "tiers_in_order")]
    #[schemars(with = "BTreeMap<String, OneOrMoreStrings>", extend("default" = {}))]
    pub(crate) tiers: Vec<(String, Vec<String>)>,
}

/// `coverage:`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CoverageConfig {
    /// One absolute path used in all the places DD-TEST-007 keeps consistent by hand: the
    /// container's `GOCOVERDIR` and volume mount, the node's `hostPath` (one subdirectory per
    /// run and image: `<dir>/<run id>/<image name>`), the Kind config's
    /// `extraMounts[].containerPath` (checked in preflight) and where the data is copied from
    /// after the tests.
    #[serde(default = "default_coverage_dir")]
    pub(crate) dir: Located<String>,
    /// How long the instrumented workloads may take to stop after the tests (scaled to zero:
    /// SIGTERM; Go writes its counters when the program then returns from `main`, so it must
    /// handle the signal) before the data is copied anyway.
    #[serde(default = "default_coverage_stop_timeout")]
    pub(crate) stop_timeout: HumanDuration,
    /// The share of statements each image's E2E run should cover, in percent (DD-TEST-007 sets
    /// 10–15% for E2E). Below it: a warning on the image's coverage step and in the job
    /// summary, never a failed run. Unset: no target.
    #[serde(default)]
    #[schemars(range(min = 0.0, max = 100.0))]
    pub(crate) target: Option<Located<f64>>,
}

impl Default for CoverageConfig {
    fn default() -> Self {
        CoverageConfig {
            dir: default_coverage_dir(),
            stop_timeout: default_coverage_stop_timeout(),
            target: None,
        }
    }
}

fn default_coverage_dir() -> Located<String> {
    Located {
        value: "/coverdata".to_owned(),
        line: 0,
        column: 0,
    }
}

fn default_coverage_stop_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(90))
}

/// `test.command`: an argv list, or one string split as a POSIX shell splits words (quotes,
/// backslashes). Never run through a shell: no pipes, globs, variables or `&&`.
#[derive(Debug, Clone, JsonSchema)]
#[serde(untagged)]
pub(crate) enum CommandLine {
    Argv(Vec<String>),
    Line(String),
}

impl<'de> Deserialize<'de> for CommandLine {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let words = deserializer.deserialize_any(StringOrList {
            expecting: "the suite's command: a string (`go test ./test/e2e`) or a list of arguments (`[ginkgo, -v, ./test/e2e]`)",
        })?;
        Ok(match words {
            Words::One(line) => CommandLine::Line(line),
            Words::Many(argv) => CommandLine::Argv(argv),
        })
    }
}

/// A string or a list of strings (a file or glob, or several), for the schema.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)] // only its schema is used
pub(crate) enum OneOrMoreStrings {
    One(String),
    Many(Vec<String>),
}

enum Words {
    One(String),
    Many(Vec<String>),
}

impl Words {
    fn into_vec(self) -> Vec<String> {
        match self {
            Words::One(one) => vec![one],
            Words::Many(many) => many,
        }
    }
}

/// A string or a list of strings, with an error that says which (serde's untagged enums say
/// only "data did not match any variant").
struct StringOrList {
    expecting: &'static str,
}

impl<'de> de::Visitor<'de> for StringOrList {
    type Value = Words;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Words, E> {
        Ok(Words::One(value.to_owned()))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Words, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<String>()? {
            items.push(item);
        }
        Ok(Words::Many(items))
    }
}

/// `junit: reports/e2e.xml` or `junit: [a.xml, "b/*.xml"]`.
fn paths<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    deserializer
        .deserialize_any(StringOrList {
            expecting: "a JUnit file or glob, or a list of them",
        })
        .map(Words::into_vec)
}

/// `tiers:` as written: name → files, in the file's order.
fn tiers_in_order<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<(String, Vec<String>)>, D::Error> {
    struct Tiers;
    impl<'de> de::Visitor<'de> for Tiers {
        type Value = Vec<(String, Vec<String>)>;

        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter
                .write_str("tier names, each with a JUnit file or glob or a list of them (`e2e: [reports/e2e.xml]`)")
        }

        fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut tiers: Vec<(String, Vec<String>)> = Vec::new();
            while let Some(name) = map.next_key::<String>()? {
                let files = map.next_value::<TierFiles>()?.0;
                if tiers.iter().any(|(known, _)| *known == name) {
                    return Err(de::Error::custom(format!("tier `{name}` is named twice")));
                }
                tiers.push((name, files));
            }
            Ok(tiers)
        }
    }
    struct TierFiles(Vec<String>);
    impl<'de> Deserialize<'de> for TierFiles {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            paths(deserializer).map(TierFiles)
        }
    }
    deserializer.deserialize_map(Tiers)
}

impl CommandLine {
    /// The argv: the list as written, or the string split into words (`None`: an unclosed
    /// quote or a trailing backslash).
    pub(crate) fn argv(&self) -> Option<Vec<String>> {
        match self {
            CommandLine::Argv(argv) => Some(argv.clone()),
            CommandLine::Line(line) => shlex::split(line),
        }
    }
}

/// `test:`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TestConfig {
    /// The suite's command: `[ginkgo, -v, ./test/e2e]` or `"go test ./test/e2e -v"`. It runs with
    /// `KUBECONFIG` set to the run's cluster and `HYBRID_E2E_IMAGE_<NAME>` set to every image's
    /// reference (`<NAME>`: the image name, upper-cased, `-` as `_`).
    pub(crate) command: Located<CommandLine>,
    /// Extra environment variables for the suite.
    #[serde(default)]
    pub(crate) env: BTreeMap<String, String>,
    /// The directory the suite runs in, relative to this file. Default: this file's directory.
    #[serde(default)]
    pub(crate) working_dir: Option<Located<String>>,
    /// The JUnit XML file(s) the suite writes: paths or globs, relative to this file. Only files
    /// written during the run are read. They are merged into `junit.xml`, and their failures
    /// become annotations at the failing test's `file:line`.
    #[serde(default, deserialize_with = "paths")]
    #[schemars(with = "OneOrMoreStrings")]
    pub(crate) junit: Vec<String>,
    /// Stop the suite (SIGTERM, then SIGKILL) after this long. Default: 1h.
    #[serde(default)]
    pub(crate) timeout: Option<HumanDuration>,
    /// The test phase's own target (reported like the setup phases'). Default: none.
    #[serde(default)]
    pub(crate) target: Option<Located<HumanDuration>>,
}

fn default_concurrency() -> u32 {
    4
}

fn default_true() -> bool {
    true
}

fn default_report_dir() -> String {
    "hybrid-e2e-report".to_owned()
}

/// `engine:`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub(crate) enum EngineChoice {
    /// Docker if its daemon answers, else Podman.
    #[default]
    Auto,
    Docker,
    Podman,
}

/// `mode:`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ScheduleMode {
    /// DD-TEST-002 exactly: every build, then the cluster, then every load, then every deploy.
    #[default]
    Strict,
    /// The same steps as a dependency graph, the cluster started just in time.
    Pipelined,
}

impl ScheduleMode {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ScheduleMode::Strict => "strict",
            ScheduleMode::Pipelined => "pipelined",
        }
    }
}

/// `pipelined:`: when the cluster starts. From the history of earlier runs of this config it
/// starts so that it is predicted ready when the builds finish (predicted build end − predicted
/// cluster time − `margin`), never before the builds start and never planned to sit ready,
/// unused, longer than `max_idle`; without history it starts when the first build finishes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PipelinedConfig {
    /// A directory of earlier runs' `timings.json` (searched recursively; relative to this file),
    /// such as the one the nightly workflow keeps. Only runs of this same config file count.
    #[serde(default)]
    pub(crate) history: Option<String>,
    /// How many of the latest runs of this config to learn from.
    #[serde(default = "default_history_runs")]
    #[schemars(range(min = 1))]
    pub(crate) history_runs: u32,
    /// Aim for the cluster to be ready this long before the builds are predicted to finish.
    #[serde(default = "default_margin")]
    pub(crate) margin: HumanDuration,
    /// The longest the plan may leave a ready cluster waiting for its first image.
    #[serde(default = "default_max_idle")]
    pub(crate) max_idle: HumanDuration,
}

fn default_history_runs() -> u32 {
    10
}

fn default_margin() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}

fn default_max_idle() -> HumanDuration {
    HumanDuration(Duration::from_secs(30))
}

impl Default for PipelinedConfig {
    fn default() -> Self {
        PipelinedConfig {
            history: None,
            history_runs: default_history_runs(),
            margin: default_margin(),
            max_idle: default_max_idle(),
        }
    }
}

/// One image to build.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ImageConfig {
    /// A short name for reports and log files: lowercase letters, digits and `-`.
    pub(crate) name: Located<String>,
    /// The image reference, fully qualified (`localhost/team/app:e2e`). A reference without a
    /// registry gets `localhost/` (what Podman does anyway); one without a tag gets a unique run tag.
    pub(crate) image: Located<String>,
    /// The Dockerfile, relative to this file.
    pub(crate) dockerfile: Located<String>,
    /// The build context directory, relative to this file.
    #[serde(default = "default_context")]
    pub(crate) context: Located<String>,
    /// `--build-arg` values.
    #[serde(default)]
    pub(crate) build_args: BTreeMap<String, String>,
    /// Build with Go coverage: adds the build argument `GOFLAGS=-cover`.
    #[serde(default)]
    pub(crate) coverage: bool,
    /// Give up on this build after this long.
    #[serde(default)]
    pub(crate) timeout: Option<HumanDuration>,
}

fn default_context() -> Located<String> {
    Located {
        value: ".".to_owned(),
        line: 0,
        column: 0,
    }
}

/// One container of the integration tier (`services:`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServiceConfig {
    /// A short name: lowercase letters, digits and `-` (it names the container, its log files and
    /// its outputs: `postgres` gives `POSTGRES_HOST`, `POSTGRES_PORT_5432`).
    pub(crate) name: Located<String>,
    /// An image to pull (or already present): `docker.io/library/postgres:16`. Give `image` or
    /// `build`, not both.
    #[serde(default)]
    pub(crate) image: Option<Located<String>>,
    /// The name of an `images:` entry: built by the build phase first, run under its reference.
    #[serde(default)]
    pub(crate) build: Option<Located<String>>,
    /// The command to run instead of the image's own (argv, never a shell string).
    #[serde(default)]
    pub(crate) command: Option<Vec<String>>,
    /// Published ports: `HOST:CONTAINER`, or `CONTAINER` alone for a free host port the engine
    /// picks (the outputs say which). Bound to 127.0.0.1.
    #[serde(default)]
    pub(crate) ports: Vec<Located<String>>,
    /// Environment variables of the container.
    #[serde(default)]
    pub(crate) env: BTreeMap<String, String>,
    /// Bind mounts: `HOST_PATH:CONTAINER_PATH[:ro]`, the host path relative to this file.
    #[serde(default)]
    pub(crate) volumes: Vec<Located<String>>,
    /// Services that must be ready first, each with its condition: `healthy` (its health check
    /// passed; running, for a service without one), `completed` (a `one_shot` that exited 0) or
    /// `started`.
    #[serde(default)]
    pub(crate) depends_on: BTreeMap<String, Located<DependsOnCondition>>,
    /// A one-shot (migrations, seeding): it must exit 0; its dependents wait with `completed`.
    #[serde(default)]
    pub(crate) one_shot: bool,
    /// How to tell the service is ready. Without one, a running container is ready.
    #[serde(default)]
    pub(crate) healthcheck: Option<HealthCheckConfig>,
    /// How long the service may take to be ready (a one-shot: to finish). Default 60s.
    #[serde(default)]
    pub(crate) ready_timeout: Option<HumanDuration>,
    /// Resource limits passed as `--ulimit NAME=N:N` (e.g. `nofile: 1024`): needed where the
    /// engine cannot raise a container's limits above the host's (rootless Podman, sandboxes:
    /// `error setting rlimit`).
    #[serde(default)]
    pub(crate) ulimits: BTreeMap<String, u64>,
}

/// `services[].depends_on.<service>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DependsOnCondition {
    /// Its health check passed (running, for a service without one).
    Healthy,
    /// A `one_shot` that exited 0.
    Completed,
    /// Its container started.
    Started,
}

/// `services[].healthcheck`: exactly one of `exec`, `tcp` or `http`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct HealthCheckConfig {
    /// A command run in the container (`engine exec`; argv, never a shell string): exit 0 is healthy.
    #[serde(default)]
    pub(crate) exec: Option<Located<Vec<String>>>,
    /// A container port that must accept TCP connections (through its published host port).
    #[serde(default)]
    pub(crate) tcp: Option<Located<u16>>,
    /// An HTTP GET that must answer 2xx or 3xx (through the published host port).
    #[serde(default)]
    pub(crate) http: Option<HttpCheckConfig>,
    /// Time between attempts. Default 1s.
    #[serde(default)]
    pub(crate) interval: Option<HumanDuration>,
    /// Time one attempt may take. Default 5s.
    #[serde(default)]
    pub(crate) timeout: Option<HumanDuration>,
    /// Failed attempts in a row after which the service is unhealthy (0: keep trying until
    /// `ready_timeout`). Default 0.
    #[serde(default)]
    pub(crate) retries: u32,
}

/// `healthcheck.http`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct HttpCheckConfig {
    /// The container port (it must be published under `ports`).
    pub(crate) port: Located<u16>,
    /// The path to GET. Default `/`.
    #[serde(default = "default_http_path")]
    pub(crate) path: String,
}

fn default_http_path() -> String {
    "/".to_owned()
}

/// `cluster:`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ClusterConfig {
    /// The Kind cluster name. Default: `hybrid-e2e-<run id>`, unique per run.
    #[serde(default)]
    pub(crate) name: Option<Located<String>>,
    /// A Kind config file, relative to this file.
    #[serde(default)]
    pub(crate) config: Option<Located<String>>,
    /// The node image (`kindest/node:v1.33.1`). Default: Kind's own.
    #[serde(default)]
    pub(crate) node_image: Option<String>,
    /// Where to write the kubeconfig. Default: `<report_dir>/kubeconfig`.
    #[serde(default)]
    pub(crate) kubeconfig: Option<String>,
    /// Keep the cluster after the run: `never`, `on-failure` (the default) or `always`.
    #[serde(default)]
    pub(crate) preserve: Preserve,
    /// Give up on `kind create cluster` after this long (per attempt).
    #[serde(default)]
    pub(crate) create_timeout: Option<HumanDuration>,
    /// After `kind create`: how long the nodes, CoreDNS and the `default` ServiceAccount may
    /// take to be ready (default 3m).
    #[serde(default)]
    pub(crate) ready_timeout: Option<HumanDuration>,
}

/// `cluster.preserve`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Preserve {
    Never,
    #[default]
    OnFailure,
    Always,
}

impl Preserve {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Preserve::Never => "never",
            Preserve::OnFailure => "on-failure",
            Preserve::Always => "always",
        }
    }
}

/// One deploy group.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeployGroup {
    /// The group's name.
    pub(crate) name: Located<String>,
    /// Manifest files or globs, relative to this file (multi-document YAML is fine).
    pub(crate) manifests: Vec<Located<String>>,
    /// Groups that must be ready before this one is applied.
    #[serde(default)]
    pub(crate) depends_on: Vec<Located<String>>,
    /// What to wait for, as `kind/name` (`deployment/datastorage`). Empty: every workload in the
    /// group's manifests.
    #[serde(default)]
    pub(crate) wait_for: Vec<Located<String>>,
    /// How long the group may take to become ready.
    #[serde(default)]
    pub(crate) timeout: Option<HumanDuration>,
}

/// `targets:`: DD-TEST-002's budgets.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Targets {
    /// Phase 1, every image built.
    #[serde(default = "default_build_target")]
    pub(crate) build: Located<HumanDuration>,
    /// Phase 2, the cluster created and ready.
    #[serde(default = "default_cluster_target")]
    pub(crate) cluster: Located<HumanDuration>,
    /// Phase 3, every image loaded into every node.
    #[serde(default = "default_load_target")]
    pub(crate) load: Located<HumanDuration>,
    /// Phase 4, everything applied and ready.
    #[serde(default = "default_deploy_target")]
    pub(crate) deploy: Located<HumanDuration>,
    /// `services up`: every service started and healthy (one-shots finished).
    #[serde(default = "default_services_target")]
    pub(crate) services: Located<HumanDuration>,
    /// The whole setup.
    #[serde(default = "default_total_target")]
    pub(crate) total: Located<HumanDuration>,
}

fn unlocated(seconds: u64) -> Located<HumanDuration> {
    Located {
        value: HumanDuration(Duration::from_secs(seconds)),
        line: 0,
        column: 0,
    }
}

fn default_build_target() -> Located<HumanDuration> {
    unlocated(180)
}
fn default_cluster_target() -> Located<HumanDuration> {
    unlocated(15)
}
fn default_load_target() -> Located<HumanDuration> {
    unlocated(45)
}
fn default_deploy_target() -> Located<HumanDuration> {
    unlocated(180)
}
fn default_services_target() -> Located<HumanDuration> {
    unlocated(120)
}
fn default_total_target() -> Located<HumanDuration> {
    unlocated(360)
}

impl Default for Targets {
    fn default() -> Self {
        Targets {
            build: default_build_target(),
            cluster: default_cluster_target(),
            load: default_load_target(),
            deploy: default_deploy_target(),
            services: default_services_target(),
            total: default_total_target(),
        }
    }
}

/// The `lint:` section.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct LintConfig {
    /// Level per rule id: `error`, `warning` or `off`.
    #[serde(default)]
    pub(crate) rules: BTreeMap<RuleId, Level>,
    /// Extra globs (relative to each scanned directory) of files to lint besides the default names.
    #[serde(default)]
    pub(crate) include: Vec<String>,
    /// Globs of files and directories to skip.
    #[serde(default)]
    pub(crate) exclude: Vec<String>,
}

/// A rule id that must name a known rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RuleId(pub(crate) Rule);

impl<'de> Deserialize<'de> for RuleId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let id = String::deserialize(deserializer)?;
        Rule::from_id(&id).map(RuleId).ok_or_else(|| {
            let known: Vec<&str> = Rule::ALL.iter().map(|rule| rule.id()).collect();
            de::Error::custom(format!("unknown rule `{id}` (known rules: {})", known.join(", ")))
        })
    }
}

impl JsonSchema for RuleId {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "RuleId".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        let ids: Vec<&str> = Rule::ALL.iter().map(|rule| rule.id()).collect();
        json_schema!({ "type": "string", "enum": ids })
    }
}
