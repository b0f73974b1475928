//! The plan: the config resolved for one run (run id, unique names, fully-qualified references,
//! absolute paths, targets), and how `hybrid-e2e plan` prints it.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::{DependsOnCondition, EngineChoice, LoadedConfig, PortMapping, Preserve, ScheduleMode};
use crate::coverage::{CoverageImage, CoverageSpec};
use crate::image_ref::ImageReference;
use crate::model::PhaseName;

/// Per-run knobs from flags and `HYBRID_E2E_*` variables; they win over the file.
#[derive(Debug, Clone, Default)]
pub(crate) struct Overrides {
    pub(crate) engine: Option<EngineChoice>,
    pub(crate) preserve: Option<Preserve>,
    pub(crate) cluster_name: Option<String>,
    pub(crate) tag_suffix: Option<String>,
    pub(crate) report_dir: Option<PathBuf>,
    pub(crate) concurrency: Option<usize>,
    pub(crate) apply_concurrency: Option<usize>,
    pub(crate) poll_interval: Option<Duration>,
    pub(crate) mode: Option<ScheduleMode>,
    /// `pipelined.history`: the directory of earlier runs' `timings.json`.
    pub(crate) history: Option<PathBuf>,
}

/// `mode: pipelined`'s just-in-time cluster start.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PlannedPipelined {
    /// Where earlier runs' `timings.json` are (absolute, or relative to the working directory).
    pub(crate) history: Option<PathBuf>,
    /// How many of the latest runs of this config count.
    pub(crate) history_runs: usize,
    #[serde(serialize_with = "seconds")]
    pub(crate) margin: Duration,
    #[serde(serialize_with = "seconds")]
    pub(crate) max_idle: Duration,
}

/// One image to build and load.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PlannedImage {
    pub(crate) name: String,
    /// The one fully-qualified reference used to tag, load and deploy.
    pub(crate) reference: String,
    /// The tag is the run's own (the config gave none): unique per run, so no manifest can
    /// name it.
    #[serde(skip)]
    pub(crate) per_run_tag: bool,
    pub(crate) dockerfile: PathBuf,
    pub(crate) context: PathBuf,
    pub(crate) build_args: Vec<(String, String)>,
    #[serde(serialize_with = "seconds")]
    pub(crate) timeout: Duration,
}

/// The Kind cluster of this run.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PlannedCluster {
    pub(crate) name: String,
    pub(crate) config: Option<PathBuf>,
    pub(crate) node_image: Option<String>,
    pub(crate) kubeconfig: PathBuf,
    pub(crate) preserve: Preserve,
    #[serde(serialize_with = "seconds")]
    pub(crate) create_timeout: Duration,
    #[serde(serialize_with = "seconds")]
    pub(crate) ready_timeout: Duration,
    /// `hybrid-e2e action`: the run never deletes the cluster (the job's later steps use it);
    /// the action's post step does, per `preserve`.
    #[serde(skip)]
    pub(crate) teardown_deferred: bool,
    /// `hybrid-e2e action` inside a container: how the run reaches the Kind API (see
    /// [`InContainer`]). `None` everywhere else.
    #[serde(skip)]
    pub(crate) in_container: Option<InContainer>,
}

/// A run inside a container whose engine is the host's (the GitHub container action): Kind
/// publishes its API on the *host's* 127.0.0.1, unreachable from here. After the cluster exists
/// the run joins Kind's Docker network and uses `kind get kubeconfig --internal`
/// (`https://<cluster>-control-plane:6443`) for its own client, `kubeconfig` of the cluster; the
/// host-side kubeconfig goes to `host_kubeconfig` for the job's later steps.
#[derive(Debug, Clone)]
pub(crate) struct InContainer {
    /// This container as the engine knows it (`docker network connect NETWORK CONTAINER`).
    pub(crate) container: String,
    /// The Docker network of Kind's nodes: `kind`, or `KIND_EXPERIMENTAL_DOCKER_NETWORK`.
    pub(crate) network: String,
    /// Where `kind get kubeconfig` (API at the host's 127.0.0.1:PORT) is written.
    pub(crate) host_kubeconfig: PathBuf,
    /// The Kind config with `extraMounts.hostPath` translated to host paths, given to kind
    /// instead of the cluster's `config` (which stays the file annotations point at).
    pub(crate) kind_config: Option<PathBuf>,
}

/// DD-TEST-002's budgets.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct PhaseTargets {
    #[serde(serialize_with = "seconds")]
    pub(crate) build: Duration,
    #[serde(serialize_with = "seconds")]
    pub(crate) cluster: Duration,
    #[serde(serialize_with = "seconds")]
    pub(crate) load: Duration,
    #[serde(serialize_with = "seconds")]
    pub(crate) deploy: Duration,
    #[serde(serialize_with = "seconds")]
    pub(crate) services: Duration,
    #[serde(serialize_with = "seconds")]
    pub(crate) total: Duration,
}

/// Where each target is set in the config file (`None`: the DD-TEST-002 default).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TargetLines {
    pub(crate) build: Option<u64>,
    pub(crate) cluster: Option<u64>,
    pub(crate) load: Option<u64>,
    pub(crate) deploy: Option<u64>,
    pub(crate) services: Option<u64>,
}

/// The test phase: the project's suite against the run's cluster.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PlannedTest {
    pub(crate) argv: Vec<String>,
    /// Extra environment (values are never printed: they may hold tokens).
    #[serde(serialize_with = "keys_only")]
    pub(crate) env: Vec<(String, String)>,
    pub(crate) working_dir: PathBuf,
    /// JUnit paths or globs, resolved against the config file's directory.
    pub(crate) junit: Vec<PathBuf>,
    #[serde(serialize_with = "seconds")]
    pub(crate) timeout: Duration,
    #[serde(serialize_with = "optional_seconds")]
    pub(crate) target: Option<Duration>,
    #[serde(skip)]
    pub(crate) target_line: Option<u64>,
    /// The config file's directory: where repository-relative locations are resolved from.
    pub(crate) base_dir: PathBuf,
}

fn keys_only<S: serde::Serializer>(env: &[(String, String)], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(env.iter().map(|(key, _)| key))
}

fn optional_seconds<S: serde::Serializer>(duration: &Option<Duration>, serializer: S) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => serializer.serialize_some(&duration.as_secs_f64()),
        None => serializer.serialize_none(),
    }
}

/// The suite's default timeout.
pub(crate) const DEFAULT_TEST_TIMEOUT: Duration = Duration::from_secs(3600);

/// `HYBRID_E2E_IMAGE_<NAME>`: the image name upper-cased, `-` as `_`.
pub(crate) fn image_variable(name: &str) -> String {
    format!("HYBRID_E2E_IMAGE_{}", name.to_ascii_uppercase().replace('-', "_"))
}

/// A deploy group: applied concurrently by the deploy phase once its dependencies are ready.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PlannedGroup {
    pub(crate) name: String,
    pub(crate) manifests: Vec<String>,
    pub(crate) depends_on: Vec<String>,
    pub(crate) wait_for: Vec<String>,
    /// The config-file line of each `wait_for` entry.
    #[serde(skip)]
    pub(crate) wait_for_lines: Vec<u64>,
    /// The config-file line of the group.
    #[serde(skip)]
    pub(crate) line: u64,
    #[serde(serialize_with = "seconds")]
    pub(crate) timeout: Duration,
    /// The manifest files, globs and directories expanded.
    pub(crate) files: Vec<PathBuf>,
}

/// One container of the integration tier (`services up`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PlannedService {
    pub(crate) name: String,
    /// `hybrid-e2e-<run suffix>-<name>`: unique per run.
    pub(crate) container: String,
    /// The reference to run: the built image's, or the one to pull.
    pub(crate) image: String,
    /// The `images:` entry built for it.
    pub(crate) build: Option<String>,
    pub(crate) command: Option<Vec<String>>,
    pub(crate) ports: Vec<PortMapping>,
    pub(crate) env: Vec<(String, String)>,
    /// Bind mounts: host path (resolved), container path, read-only.
    pub(crate) volumes: Vec<(PathBuf, String, bool)>,
    pub(crate) depends_on: Vec<(String, DependsOnCondition)>,
    pub(crate) one_shot: bool,
    pub(crate) health: Option<PlannedHealth>,
    #[serde(serialize_with = "seconds")]
    pub(crate) ready_timeout: Duration,
    pub(crate) ulimits: Vec<(String, u64)>,
    /// The config-file line of the service.
    #[serde(skip)]
    pub(crate) line: u64,
}

/// How a service's readiness is probed.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PlannedHealth {
    pub(crate) probe: HealthProbe,
    #[serde(serialize_with = "seconds")]
    pub(crate) interval: Duration,
    #[serde(serialize_with = "seconds")]
    pub(crate) timeout: Duration,
    /// Failed attempts in a row that make it unhealthy (0: until the readiness timeout).
    pub(crate) retries: u32,
}

/// A health probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum HealthProbe {
    /// argv run in the container.
    Exec(Vec<String>),
    /// A container port accepting TCP connections (through its host port).
    Tcp(u16),
    /// `GET path` on a container port answering 2xx/3xx (through its host port).
    Http { port: u16, path: String },
}

/// The services of a run and their shared network.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PlannedServices {
    /// `hybrid-e2e-<run suffix>`: one network per run.
    pub(crate) network: String,
    /// The project label's value: a hash of the config file's absolute path, so stale
    /// containers of this project are found and other projects' are left alone.
    pub(crate) project: String,
    pub(crate) services: Vec<PlannedService>,
}

/// Everything a run will do.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Plan {
    pub(crate) run_id: String,
    pub(crate) config_file: Option<String>,
    pub(crate) config_hash: String,
    pub(crate) engine: EngineChoice,
    pub(crate) mode: ScheduleMode,
    /// The just-in-time cluster start of `mode: pipelined`.
    pub(crate) pipelined: PlannedPipelined,
    pub(crate) concurrency: usize,
    pub(crate) fail_fast: bool,
    pub(crate) report_dir: PathBuf,
    pub(crate) images: Vec<PlannedImage>,
    pub(crate) cluster: PlannedCluster,
    pub(crate) crds: Vec<String>,
    /// `crds` expanded into files.
    pub(crate) crd_files: Vec<PathBuf>,
    pub(crate) namespaces: Vec<String>,
    pub(crate) deploy: Vec<PlannedGroup>,
    /// The integration tier (`services up`).
    pub(crate) services: PlannedServices,
    /// Server-side applies in flight at once within a group.
    pub(crate) apply_concurrency: usize,
    /// How often readiness is polled.
    #[serde(serialize_with = "seconds")]
    pub(crate) poll_interval: Duration,
    pub(crate) targets: PhaseTargets,
    /// Config-file lines where the targets are set (`None`: the DD-TEST-002 default), for
    /// annotations on over-target phases.
    #[serde(skip)]
    pub(crate) target_lines: TargetLines,
    /// `test:` (`None`: the run ends after the setup).
    pub(crate) test: Option<PlannedTest>,
    /// E2E coverage capture (`None`: no image has `coverage: true`).
    pub(crate) coverage: Option<CoverageSpec>,
    pub(crate) warnings: Vec<String>,
}

fn seconds<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

/// A manifest entry as files: a file, every `.yaml`/`.yml`/`.json` in a directory, or a glob
/// relative to the config file's directory. Sorted, so applies are deterministic.
fn expand_manifests(config: &LoadedConfig, entry: &str) -> Vec<PathBuf> {
    let path = config.resolve(entry);
    let is_manifest = |path: &std::path::Path| {
        path.extension()
            .and_then(|extension| extension.to_str())
            .is_some_and(|extension| matches!(extension, "yaml" | "yml" | "json"))
    };
    let mut files: Vec<PathBuf> = if path.is_file() {
        vec![path]
    } else if path.is_dir() {
        std::fs::read_dir(&path)
            .into_iter()
            .flatten()
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.is_file() && is_manifest(path))
            .collect()
    } else if let Ok(glob) = globset::Glob::new(&path.to_string_lossy()) {
        // Walk from the glob's literal directory (absolute or relative alike) and match the
        // paths the walk yields, which are spelled the way the glob is.
        let matcher = glob.compile_matcher();
        let root: PathBuf = path
            .components()
            .take_while(|component| !component.as_os_str().to_string_lossy().contains(['*', '?', '[', '{']))
            .collect();
        let root = if root.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            root
        };
        ignore::WalkBuilder::new(&root)
            .hidden(false)
            .build()
            .filter_map(Result::ok)
            .map(|entry| entry.into_path())
            .filter(|path| path.is_file() && matcher.is_match(path.strip_prefix("./").unwrap_or(path)))
            .collect()
    } else {
        Vec::new()
    };
    files.sort();
    files
}

/// The services of `config` for the run with `suffix`; built images run under their planned
/// references.
fn plan_services(config: &LoadedConfig, images: &[PlannedImage], suffix: &str) -> PlannedServices {
    let services = config
        .file
        .services
        .iter()
        .map(|service| {
            let name = service.name.value.clone();
            let image = match (&service.build, &service.image) {
                (Some(build), _) => images
                    .iter()
                    .find(|image| image.name == build.value)
                    .map_or_else(|| build.value.clone(), |image| image.reference.clone()),
                (None, Some(image)) => image.value.clone(),
                (None, None) => String::new(),
            };
            let health = service.healthcheck.as_ref().and_then(|check| {
                let probe = if let Some(exec) = &check.exec {
                    HealthProbe::Exec(exec.value.clone())
                } else if let Some(port) = &check.tcp {
                    HealthProbe::Tcp(port.value)
                } else {
                    let http = check.http.as_ref()?;
                    HealthProbe::Http {
                        port: http.port.value,
                        path: http.path.clone(),
                    }
                };
                Some(PlannedHealth {
                    probe,
                    interval: check.interval.map_or(Duration::from_secs(1), |interval| interval.0),
                    timeout: check.timeout.map_or(Duration::from_secs(5), |timeout| timeout.0),
                    retries: check.retries,
                })
            });
            PlannedService {
                container: format!("hybrid-e2e-{suffix}-{name}"),
                name,
                image,
                build: service.build.as_ref().map(|build| build.value.clone()),
                command: service.command.clone(),
                ports: service
                    .ports
                    .iter()
                    .filter_map(|port| crate::config::parse_port(&port.value).ok())
                    .collect(),
                env: service
                    .env
                    .iter()
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect(),
                volumes: service
                    .volumes
                    .iter()
                    .filter_map(|volume| crate::config::parse_volume(&volume.value).ok())
                    .map(|mount| {
                        let host = config.resolve(&mount.host);
                        let host = std::path::absolute(&host).unwrap_or(host);
                        (host, mount.container, mount.read_only)
                    })
                    .collect(),
                depends_on: service
                    .depends_on
                    .iter()
                    .map(|(name, condition)| (name.clone(), condition.value))
                    .collect(),
                one_shot: service.one_shot,
                health,
                ready_timeout: service
                    .ready_timeout
                    .map_or(Duration::from_secs(60), |timeout| timeout.0),
                ulimits: service
                    .ulimits
                    .iter()
                    .map(|(name, value)| (name.clone(), *value))
                    .collect(),
                line: service.name.line,
            }
        })
        .collect();
    PlannedServices {
        network: format!("hybrid-e2e-{suffix}"),
        project: project_id(config),
        services,
    }
}

/// A hash of the config file's absolute path (of the current directory without a file).
pub(crate) fn project_id(config: &LoadedConfig) -> String {
    let path = config.path.as_deref().map_or_else(
        || std::env::current_dir().unwrap_or_default(),
        |path| std::path::absolute(path).unwrap_or_else(|_| path.to_owned()),
    );
    let digest = Sha256::digest(path.display().to_string().as_bytes());
    digest[..6].iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Server-side applies in flight at once by default: enough to hide API latency, few enough
/// not to be throttled by a single-node control plane.
pub(crate) const DEFAULT_APPLY_CONCURRENCY: usize = 16;

/// `20261122-134501-3fa9c2d1`: sortable, unique enough per machine.
pub(crate) fn new_run_id() -> String {
    let now = chrono::Utc::now();
    let mut hasher = Sha256::new();
    hasher.update(now.timestamp_nanos_opt().unwrap_or_default().to_le_bytes());
    hasher.update(std::process::id().to_le_bytes());
    let digest = hasher.finalize();
    format!(
        "{}-{:02x}{:02x}{:02x}{:02x}",
        now.format("%Y%m%d-%H%M%S"),
        digest[0],
        digest[1],
        digest[2],
        digest[3]
    )
}

/// The short unique part of a run id.
fn run_suffix(run_id: &str) -> &str {
    run_id.rsplit('-').next().unwrap_or(run_id)
}

impl Plan {
    pub(crate) fn new(config: &LoadedConfig, overrides: &Overrides, run_id: String) -> Plan {
        let file = &config.file;
        let suffix = run_suffix(&run_id).to_owned();
        let run_tag = format!("e2e-{suffix}");
        let mut warnings = Vec::new();
        let images: Vec<PlannedImage> = file
            .images
            .iter()
            .map(|image| {
                // Validation already rejected bad references.
                let parsed = ImageReference::parse(&image.image.value).unwrap_or_else(|_| ImageReference {
                    domain: None,
                    path: image.name.value.clone(),
                    tag: None,
                    digest: None,
                });
                let mut reference = parsed.fully_qualified(&run_tag);
                if let Some(suffix) = &overrides.tag_suffix {
                    reference = reference.with_tag_suffix(suffix);
                }
                if parsed.domain.is_none() {
                    warnings.push(format!(
                        "image `{}`: `{}` has no registry; using `{reference}` everywhere (Podman would tag it `localhost/...` while containerd reads `docker.io/library/...`)",
                        image.name.value, image.image.value
                    ));
                }
                if reference.tag.as_deref() == Some("latest") {
                    warnings.push(format!(
                        "image `{}`: `:latest` makes Kubernetes default to imagePullPolicy: Always, so the loaded image is ignored; use a unique tag",
                        image.name.value
                    ));
                }
                let mut build_args: Vec<(String, String)> =
                    image.build_args.iter().map(|(key, value)| (key.clone(), value.clone())).collect();
                if image.coverage && !image.build_args.contains_key("GOFLAGS") {
                    build_args.push(("GOFLAGS".to_owned(), "-cover".to_owned()));
                }
                PlannedImage {
                    name: image.name.value.clone(),
                    per_run_tag: parsed.tag.is_none() && parsed.digest.is_none(),
                    reference: reference.to_string(),
                    dockerfile: config.resolve(&image.dockerfile.value),
                    context: config.resolve(&image.context.value),
                    build_args,
                    timeout: image.timeout.map_or(Duration::from_secs(15 * 60), |timeout| timeout.0),
                }
            })
            .collect();
        let coverage = {
            let images: Vec<CoverageImage> = file
                .images
                .iter()
                .zip(&images)
                .filter(|(config, _)| config.coverage)
                .map(|(_, planned)| CoverageImage {
                    name: planned.name.clone(),
                    reference: planned.reference.clone(),
                })
                .collect();
            (!images.is_empty()).then(|| CoverageSpec {
                dir: file.coverage.dir.value.clone(),
                run_id: run_id.clone(),
                stop_timeout: file.coverage.stop_timeout.0,
                target: file.coverage.target.as_ref().map(|target| target.value),
                images,
            })
        };
        let services = plan_services(config, &images, &suffix);
        let report_dir = overrides
            .report_dir
            .clone()
            .unwrap_or_else(|| config.resolve(&file.report_dir));
        let cluster = PlannedCluster {
            name: overrides
                .cluster_name
                .clone()
                .or_else(|| file.cluster.name.as_ref().map(|name| name.value.clone()))
                .unwrap_or_else(|| format!("hybrid-e2e-{suffix}")),
            config: file
                .cluster
                .config
                .as_ref()
                .map(|config_path| config.resolve(&config_path.value)),
            node_image: file.cluster.node_image.clone(),
            kubeconfig: file
                .cluster
                .kubeconfig
                .as_deref()
                .map_or_else(|| report_dir.join("kubeconfig"), |path| config.resolve(path)),
            preserve: overrides.preserve.unwrap_or(file.cluster.preserve),
            create_timeout: file
                .cluster
                .create_timeout
                .map_or(Duration::from_secs(300), |timeout| timeout.0),
            ready_timeout: file
                .cluster
                .ready_timeout
                .map_or(Duration::from_secs(180), |timeout| timeout.0),
            teardown_deferred: false,
            in_container: None,
        };
        let mut plan = Plan {
            run_id,
            config_file: config.path.as_ref().map(|path| path.display().to_string()),
            config_hash: config.hash.clone(),
            engine: overrides.engine.unwrap_or(file.engine),
            mode: overrides.mode.unwrap_or(file.mode),
            pipelined: PlannedPipelined {
                history: overrides
                    .history
                    .clone()
                    .or_else(|| file.pipelined.history.as_deref().map(|path| config.resolve(path))),
                history_runs: (file.pipelined.history_runs as usize).max(1),
                margin: file.pipelined.margin.0,
                max_idle: file.pipelined.max_idle.0,
            },
            concurrency: overrides.concurrency.unwrap_or(file.concurrency as usize).max(1),
            fail_fast: file.fail_fast,
            report_dir,
            images,
            cluster,
            crds: file.crds.clone(),
            crd_files: file
                .crds
                .iter()
                .flat_map(|entry| expand_manifests(config, entry))
                .collect(),
            apply_concurrency: overrides.apply_concurrency.unwrap_or(DEFAULT_APPLY_CONCURRENCY).max(1),
            poll_interval: overrides.poll_interval.unwrap_or(Duration::from_secs(1)),
            namespaces: file.namespaces.clone(),
            services,
            deploy: file
                .deploy
                .iter()
                .map(|group| PlannedGroup {
                    name: group.name.value.clone(),
                    manifests: group.manifests.iter().map(|manifest| manifest.value.clone()).collect(),
                    depends_on: group
                        .depends_on
                        .iter()
                        .map(|dependency| dependency.value.clone())
                        .collect(),
                    wait_for: group.wait_for.iter().map(|entry| entry.value.clone()).collect(),
                    wait_for_lines: group.wait_for.iter().map(|entry| entry.line).collect(),
                    line: group.name.line,
                    files: group
                        .manifests
                        .iter()
                        .flat_map(|manifest| expand_manifests(config, &manifest.value))
                        .collect(),
                    timeout: group.timeout.map_or(file.targets.deploy.value.0, |timeout| timeout.0),
                })
                .collect(),
            targets: PhaseTargets {
                build: file.targets.build.value.0,
                cluster: file.targets.cluster.value.0,
                load: file.targets.load.value.0,
                deploy: file.targets.deploy.value.0,
                services: file.targets.services.value.0,
                total: file.targets.total.value.0,
            },
            target_lines: {
                let line = |target: &crate::config::Located<crate::config::HumanDuration>| {
                    (target.line > 0).then_some(target.line)
                };
                TargetLines {
                    build: line(&file.targets.build),
                    cluster: line(&file.targets.cluster),
                    load: line(&file.targets.load),
                    deploy: line(&file.targets.deploy),
                    services: line(&file.targets.services),
                }
            },
            test: file.test.as_ref().map(|test| PlannedTest {
                // Validation already rejected a command that does not split.
                argv: test.command.value.argv().unwrap_or_default(),
                env: test
                    .env
                    .iter()
                    .map(|(key, value)| (key.clone(), value.clone()))
                    .collect(),
                working_dir: test
                    .working_dir
                    .as_ref()
                    .map_or_else(|| config.resolve("."), |directory| config.resolve(&directory.value)),
                junit: test.junit.iter().map(|entry| config.resolve(entry)).collect(),
                timeout: test.timeout.map_or(DEFAULT_TEST_TIMEOUT, |timeout| timeout.0),
                target: test.target.as_ref().map(|target| target.value.0),
                target_line: test.target.as_ref().map(|target| target.line).filter(|line| *line > 0),
                base_dir: config.resolve("."),
            }),
            coverage,
            warnings,
        };
        if let Some(test) = &plan.test
            && let Some(target) = test.target.filter(|target| *target >= test.timeout)
        {
            plan.warnings.push(format!(
                "`test.target` {} is not below `test.timeout` {}: the suite is stopped before it could be over its target",
                humantime::format_duration(target),
                humantime::format_duration(test.timeout)
            ));
        }
        plan
    }

    /// A phase's DD-TEST-002 target (`None`: the phase has none).
    pub(crate) fn target(&self, phase: PhaseName) -> Option<Duration> {
        match phase {
            PhaseName::Build => Some(self.targets.build),
            PhaseName::Cluster => Some(self.targets.cluster),
            PhaseName::Load => Some(self.targets.load),
            PhaseName::Deploy => Some(self.targets.deploy),
            PhaseName::Services => Some(self.targets.services),
            PhaseName::Test => self.test.as_ref().and_then(|test| test.target),
            PhaseName::Preflight | PhaseName::Coverage | PhaseName::Teardown => None,
        }
    }

    /// The config line setting a phase's target.
    pub(crate) fn target_line(&self, phase: PhaseName) -> Option<u64> {
        let lines = &self.target_lines;
        match phase {
            PhaseName::Build => lines.build,
            PhaseName::Cluster => lines.cluster,
            PhaseName::Load => lines.load,
            PhaseName::Deploy => lines.deploy,
            PhaseName::Services => lines.services,
            PhaseName::Test => self.test.as_ref().and_then(|test| test.target_line),
            PhaseName::Preflight | PhaseName::Coverage | PhaseName::Teardown => None,
        }
    }

    /// Deploy groups in dependency waves: every group after the groups it depends on.
    pub(crate) fn deploy_waves(&self) -> Vec<Vec<&PlannedGroup>> {
        let mut placed: Vec<&str> = Vec::new();
        let mut waves = Vec::new();
        let mut remaining: Vec<&PlannedGroup> = self.deploy.iter().collect();
        while !remaining.is_empty() {
            let (ready, blocked): (Vec<&PlannedGroup>, Vec<&PlannedGroup>) = remaining.into_iter().partition(|group| {
                group
                    .depends_on
                    .iter()
                    .all(|dependency| placed.contains(&dependency.as_str()))
            });
            if ready.is_empty() {
                // Cycles are rejected by validation; never loop forever.
                waves.push(blocked);
                break;
            }
            placed.extend(ready.iter().map(|group| group.name.as_str()));
            waves.push(ready);
            remaining = blocked;
        }
        waves
    }

    /// The human-readable plan.
    pub(crate) fn render_text(&self) -> String {
        let mut out = String::new();
        let format = |duration: Duration| humantime::format_duration(duration).to_string();
        let config = self.config_file.as_deref().unwrap_or("(defaults: no hybrid-e2e.yaml)");
        let _ = writeln!(
            out,
            "plan for {config} (sha256 {})",
            &self.config_hash[..12.min(self.config_hash.len())]
        );
        let _ = writeln!(
            out,
            "engine {} · up to {} steps at once per phase · {} · mode {}",
            format!("{:?}", self.engine).to_lowercase(),
            self.concurrency,
            match (self.mode, self.fail_fast) {
                (ScheduleMode::Strict, true) => "first failure cancels the phase",
                (ScheduleMode::Pipelined, true) => "a failure cancels what depends on it",
                (_, false) => "collect every failure",
            },
            match self.mode {
                ScheduleMode::Strict => "strict (DD-TEST-002)",
                ScheduleMode::Pipelined => "pipelined (a dependency graph: see the schedule below)",
            }
        );
        let _ = writeln!(out, "reports: {}", self.report_dir.display());
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "1. build    target {:>6}  {} image(s) in parallel",
            format(self.targets.build),
            self.images.len()
        );
        for image in &self.images {
            let args: Vec<String> = image
                .build_args
                .iter()
                .map(|(key, value)| format!("{key}={value}"))
                .collect();
            let args = if args.is_empty() {
                String::new()
            } else {
                format!(" [{}]", args.join(" "))
            };
            let _ = writeln!(
                out,
                "   - {:<16} {}  <- {}{args}",
                image.name,
                image.reference,
                image.dockerfile.display()
            );
        }
        let cluster = &self.cluster;
        let _ = writeln!(
            out,
            "2. cluster  target {:>6}  kind create cluster {}{}{} (preserve: {})",
            format(self.targets.cluster),
            cluster.name,
            cluster
                .config
                .as_ref()
                .map(|path| format!(" --config {}", path.display()))
                .unwrap_or_default(),
            cluster
                .node_image
                .as_ref()
                .map(|image| format!(" --image {image}"))
                .unwrap_or_default(),
            cluster.preserve.as_str()
        );
        let _ = writeln!(out, "   kubeconfig: {}", cluster.kubeconfig.display());
        let _ = writeln!(
            out,
            "   then wait (up to {}) until nodes are Ready, CoreDNS is available and the default ServiceAccount exists",
            format(cluster.ready_timeout)
        );
        let _ = writeln!(
            out,
            "3. load     target {:>6}  {} image(s) in parallel into every node",
            format(self.targets.load),
            self.images.len()
        );
        let waves = self.deploy_waves();
        let _ = writeln!(
            out,
            "4. deploy   target {:>6}  {} group(s), server-side apply (concurrent within a group), one readiness wait per group",
            format(self.targets.deploy),
            self.deploy.len()
        );
        if !self.deploy.is_empty() || !self.crds.is_empty() || !self.namespaces.is_empty() {
            let none = || "none configured".to_owned();
            let _ = writeln!(
                out,
                "   step namespaces-crds: namespaces {} · CRDs {} · plus every Namespace/CRD in the groups' manifests; then wait for Established and default ServiceAccounts",
                Some(self.namespaces.join(", "))
                    .filter(|text| !text.is_empty())
                    .unwrap_or_else(none),
                Some(self.crds.join(", "))
                    .filter(|text| !text.is_empty())
                    .unwrap_or_else(none)
            );
        }
        for (index, wave) in waves.iter().enumerate() {
            let names: Vec<String> = wave
                .iter()
                .map(|group| format!("{} (timeout {})", group.name, format(group.timeout)))
                .collect();
            let _ = writeln!(out, "   wave {}: {}", index + 1, names.join(", "));
        }
        let _ = writeln!(
            out,
            "total target {}{}",
            format(self.targets.total),
            if self.test.is_some() {
                " (the setup: phases 1-4)"
            } else {
                ""
            }
        );
        if let Some(test) = &self.test {
            let target = test.target.map_or_else(|| "—".to_owned(), format);
            let _ = writeln!(
                out,
                "5. test     target {target:>6}  {} (in {}, timeout {}) with KUBECONFIG={} and {} HYBRID_E2E_IMAGE_* variable(s){}",
                shell_words(&test.argv),
                test.working_dir.display(),
                format(test.timeout),
                self.cluster.kubeconfig.display(),
                self.images.len(),
                if test.env.is_empty() {
                    String::new()
                } else {
                    format!(
                        " + {}",
                        test.env
                            .iter()
                            .map(|(key, _)| key.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            );
            if !test.junit.is_empty() {
                let files: Vec<String> = test.junit.iter().map(|path| path.display().to_string()).collect();
                let _ = writeln!(out, "   JUnit: {} (merged into junit.xml)", files.join(", "));
            }
        }
        if let Some(coverage) = &self.coverage {
            let images: Vec<&str> = coverage.images.iter().map(|image| image.name.as_str()).collect();
            let when = if self.test.is_some() {
                "after the test phase"
            } else {
                "with `hybrid-e2e coverage` after your suite (no `test:`)"
            };
            let _ = writeln!(
                out,
                "6. coverage {when}: stop {} gracefully (at most {}), copy {}/{}/<image> from every node into {}, measure with `go` where it is on PATH{}",
                images.join(", "),
                format(coverage.stop_timeout),
                coverage.dir,
                coverage.run_id,
                self.report_dir.join("coverage").display(),
                coverage
                    .target
                    .map(|target| format!("; target {target}%"))
                    .unwrap_or_default()
            );
        }
        if !self.services.services.is_empty() {
            let _ = writeln!(
                out,
                "\nservices (`hybrid-e2e services up`, target {}): network {}",
                format(self.targets.services),
                self.services.network
            );
            for service in &self.services.services {
                let needs: Vec<String> = service
                    .depends_on
                    .iter()
                    .map(|(name, condition)| format!("{name} {}", format!("{condition:?}").to_lowercase()))
                    .collect();
                let ports: Vec<String> = service
                    .ports
                    .iter()
                    .map(|port| match port.host {
                        0 => format!("{}", port.container),
                        host => format!("{host}:{}", port.container),
                    })
                    .collect();
                let _ = writeln!(
                    out,
                    "   {} {}{}{}{}",
                    service.name,
                    service.image,
                    if service.one_shot { " (one-shot)" } else { "" },
                    if ports.is_empty() {
                        String::new()
                    } else {
                        format!(" ports {}", ports.join(", "))
                    },
                    if needs.is_empty() {
                        String::new()
                    } else {
                        format!(" after {}", needs.join(", "))
                    }
                );
            }
        }
        for warning in &self.warnings {
            let _ = writeln!(out, "warning: {warning}");
        }
        out
    }
}

/// An argv as a shell would read it back (for display only: it is never run through a shell).
fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|word| shlex::try_quote(word).map_or_else(|_| word.clone(), |quoted| quoted.into_owned()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn plan(text: &str, overrides: &Overrides) -> Plan {
        let directory = tempfile::tempdir().expect("tempdir");
        std::fs::write(directory.path().join("Dockerfile"), "FROM a\n").expect("write");
        std::fs::write(directory.path().join("m.yaml"), "kind: List\n").expect("write");
        let config = LoadedConfig::parse(&directory.path().join("hybrid-e2e.yaml"), text).expect("valid");
        Plan::new(&config, overrides, "20261122-120000-0a1b2c3d".to_owned())
    }

    #[test]
    fn services_get_unique_names_their_built_references_and_a_section_in_the_text() {
        let text = "version: 1\nimages:\n  - {name: api, image: team/api, dockerfile: Dockerfile}\nservices:\n  - {name: db, image: docker.io/library/postgres:16, ports: [\"5432\"]}\n  - {name: app, build: api, ports: [\"18080:8080\"], depends_on: {db: healthy}}\n";
        let plan = plan(text, &Overrides::default());
        assert_eq!(plan.services.network, "hybrid-e2e-0a1b2c3d");
        assert_eq!(plan.services.services[0].container, "hybrid-e2e-0a1b2c3d-db");
        assert_eq!(plan.services.services[1].image, "localhost/team/api:e2e-0a1b2c3d");
        assert_eq!(plan.services.project.len(), 12);
        let rendered = plan.render_text();
        assert!(
            rendered.contains("   app localhost/team/api:e2e-0a1b2c3d ports 18080:8080 after db healthy"),
            "{rendered}"
        );
    }

    const CONFIG: &str = "version: 1\nimages:\n  - {name: api, image: team/api, dockerfile: Dockerfile, coverage: true}\n  - {name: db, image: quay.io/org/db:latest, dockerfile: Dockerfile}\ndeploy:\n  - {name: c, manifests: [m.yaml], depends_on: [a, b]}\n  - {name: a, manifests: [m.yaml]}\n  - {name: b, manifests: [m.yaml], depends_on: [a]}\n";

    #[test]
    fn references_are_qualified_and_unique_per_run() {
        let plan = plan(CONFIG, &Overrides::default());
        assert_eq!(plan.images[0].reference, "localhost/team/api:e2e-0a1b2c3d");
        assert_eq!(
            plan.images[0].build_args,
            vec![("GOFLAGS".to_owned(), "-cover".to_owned())]
        );
        assert_eq!(plan.cluster.name, "hybrid-e2e-0a1b2c3d");
        assert!(plan.warnings.iter().any(|warning| warning.contains("has no registry")));
        assert!(plan.warnings.iter().any(|warning| warning.contains(":latest")));
    }

    #[test]
    fn overrides_win() {
        let overrides = Overrides {
            preserve: Some(Preserve::Always),
            cluster_name: Some("mine".to_owned()),
            tag_suffix: Some("pr7".to_owned()),
            report_dir: Some(PathBuf::from("/tmp/r")),
            ..Overrides::default()
        };
        let plan = plan(CONFIG, &overrides);
        assert_eq!(plan.cluster.preserve, Preserve::Always);
        assert_eq!(plan.cluster.name, "mine");
        assert_eq!(plan.images[1].reference, "quay.io/org/db:latest-pr7");
        assert_eq!(plan.cluster.kubeconfig, Path::new("/tmp/r/kubeconfig"));
    }

    #[test]
    fn a_test_target_the_timeout_cuts_off_is_a_warning() {
        let text = "version: 1\ntest:\n  command: [make, e2e]\n  timeout: 5m\n  target: 10m\n";
        let cut_off = plan(text, &Overrides::default());
        assert_eq!(
            cut_off.warnings,
            [
                "`test.target` 10m is not below `test.timeout` 5m: the suite is stopped before it could be over its target"
            ]
        );
        let fine = plan(&text.replace("target: 10m", "target: 4m"), &Overrides::default());
        assert!(fine.warnings.is_empty(), "{:?}", fine.warnings);
    }

    #[test]
    fn target_lines_come_from_the_config() {
        let plan = plan(&format!("{CONFIG}targets:\n  load: 1m\n"), &Overrides::default());
        assert_eq!(plan.target_line(PhaseName::Load), Some(10));
        assert_eq!(plan.target_line(PhaseName::Build), None, "defaults have no line");
    }

    #[test]
    fn manifest_globs_match_relative_and_absolute_alike() {
        let directory = tempfile::tempdir().expect("tempdir");
        let deploy = directory.path().join("deploy");
        std::fs::create_dir_all(&deploy).expect("mkdir");
        for name in ["a1.yaml", "a2.yaml", "b.yaml"] {
            std::fs::write(deploy.join(name), "kind: List\n").expect("write");
        }
        let absolute = format!("{}/deploy/a*.yaml", directory.path().display());
        let text = format!(
            "version: 1\ndeploy:\n  - {{name: rel, manifests: [\"deploy/a*.yaml\"]}}\n  - {{name: abs, manifests: [\"{absolute}\"]}}\n"
        );
        let config = LoadedConfig::parse(&directory.path().join("hybrid-e2e.yaml"), &text).expect("valid");
        let plan = Plan::new(&config, &Overrides::default(), "20261122-120000-0a1b2c3d".to_owned());
        let names = |group: &PlannedGroup| -> Vec<String> {
            group
                .files
                .iter()
                .map(|file| file.file_name().expect("name").to_string_lossy().into_owned())
                .collect()
        };
        assert_eq!(names(&plan.deploy[0]), vec!["a1.yaml", "a2.yaml"]);
        assert_eq!(
            names(&plan.deploy[1]),
            vec!["a1.yaml", "a2.yaml"],
            "an absolute glob matches too"
        );
    }

    #[test]
    fn deploy_groups_come_in_dependency_waves() {
        let plan = plan(CONFIG, &Overrides::default());
        let waves: Vec<Vec<&str>> = plan
            .deploy_waves()
            .iter()
            .map(|wave| wave.iter().map(|group| group.name.as_str()).collect())
            .collect();
        assert_eq!(waves, vec![vec!["a"], vec!["b"], vec!["c"]]);
    }
}
