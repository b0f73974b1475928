//! Preflight: what `hybrid-e2e doctor` reports and `run` checks before building anything —
//! engine, kind, free disk, inotify limits, a leftover cluster with the same name, host ports of
//! the Kind config, and the Dockerfile lint of the images about to be built.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use super::plan::Plan;
use super::tools::{self, Engine, Kind};
use crate::deploy::{manifests, objects};
use crate::lint::{self, RuleLevels};
use crate::timing::FailureClass;

/// inotify limits Kind's docs recommend for multi-node clusters.
const MIN_INOTIFY_WATCHES: u64 = 524_288;
const MIN_INOTIFY_INSTANCES: u64 = 512;

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CheckStatus {
    Pass,
    Warn,
    Fail,
}

/// One preflight check.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    pub(crate) name: &'static str,
    pub(crate) status: CheckStatus,
    pub(crate) detail: String,
    pub(crate) hint: Option<String>,
    pub(crate) class: FailureClass,
    /// A file the check points at (a Dockerfile finding, the kind config).
    pub(crate) file: Option<String>,
}

impl Check {
    fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            status: CheckStatus::Pass,
            detail: detail.into(),
            hint: None,
            class: FailureClass::Infrastructure,
            file: None,
        }
    }
    fn warn(name: &'static str, detail: impl Into<String>, hint: impl Into<String>) -> Check {
        Check {
            status: CheckStatus::Warn,
            hint: Some(hint.into()),
            ..Check::pass(name, detail)
        }
    }
    fn fail(name: &'static str, detail: impl Into<String>, hint: impl Into<String>) -> Check {
        Check {
            status: CheckStatus::Fail,
            hint: Some(hint.into()),
            ..Check::pass(name, detail)
        }
    }
}

/// What preflight found.
#[derive(Debug)]
pub(crate) struct Preflight {
    pub(crate) engine: Option<Engine>,
    pub(crate) kind: Kind,
    pub(crate) kind_version: Option<String>,
    pub(crate) checks: Vec<Check>,
}

impl Preflight {
    pub(crate) fn failed(&self) -> bool {
        self.checks.iter().any(|check| check.status == CheckStatus::Fail)
    }
}

/// Run every check. `levels` are the lint levels for the Dockerfile check.
pub(crate) async fn run(plan: &Plan, min_free_disk: u64, levels: &RuleLevels) -> Preflight {
    let mut checks = Vec::new();
    let engine = match tools::detect_engine(plan.engine).await {
        Ok(engine) => {
            checks.push(Check::pass(
                "engine",
                format!("{} {} ({})", engine.kind.as_str(), engine.version, engine.program),
            ));
            Some(engine)
        }
        Err(problem) => {
            checks.push(Check::fail("engine", problem.message, problem.hint));
            None
        }
    };
    let kind = Kind::new(engine.as_ref().map(|engine| engine.kind));
    let kind_version = match kind.version().await {
        Ok(version) => {
            checks.push(Check::pass("kind", version.clone()));
            Some(version)
        }
        Err(reason) => {
            checks.push(Check::fail(
                "kind",
                reason,
                "`run` needs Docker or Podman plus kind (as on GitHub's hosted runners); install kind or set HYBRID_E2E_KIND. `plan`, `lint` and `report` work without them",
            ));
            None
        }
    };
    checks.push(kubectl_check().await);
    checks.push(disk_check(&plan.report_dir, min_free_disk));
    checks.push(inotify_check());
    if kind_version.is_some() {
        checks.push(match kind.clusters().await {
            Ok(clusters) if clusters.contains(&plan.cluster.name) => Check::fail(
                "cluster name",
                format!("a Kind cluster named `{}` already exists", plan.cluster.name),
                "use a unique name per job (the default is), or remove it with `hybrid-e2e cleanup`",
            ),
            Ok(_) => Check::pass("cluster name", format!("`{}` is free", plan.cluster.name)),
            Err(reason) => Check::warn(
                "cluster name",
                format!("could not list clusters: {reason}"),
                "check the engine",
            ),
        });
    }
    checks.extend(port_checks(plan.cluster.config.as_deref()));
    checks.push(lint_check(plan, levels));
    if !plan.deploy.is_empty() {
        checks.push(manifest_check(plan));
    }
    Preflight {
        engine,
        kind,
        kind_version,
        checks,
    }
}

async fn kubectl_check() -> Check {
    let spec = crate::exec::ProcessSpec::new("kubectl").args(["version", "--client"]);
    match crate::exec::capture(&spec, tools::QUERY_TIMEOUT).await {
        Ok((true, stdout, _)) => Check::pass("kubectl", stdout.lines().next().unwrap_or("").trim().to_owned()),
        _ => Check::warn(
            "kubectl",
            "not found",
            "`run` does not need kubectl; it helps when debugging a preserved cluster",
        ),
    }
}

/// The nearest existing ancestor of `path` (the report directory may not exist yet).
fn existing_ancestor(path: &Path) -> PathBuf {
    let mut current = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    while !current.exists() {
        if !current.pop() {
            return PathBuf::from("/");
        }
    }
    current
}

fn disk_check(report_dir: &Path, min_free: u64) -> Check {
    let directory = existing_ancestor(report_dir);
    match nix::sys::statvfs::statvfs(&directory) {
        Ok(stats) => {
            let free = stats.blocks_available() * stats.fragment_size();
            let detail = format!(
                "{:.1} GiB free at {}",
                free as f64 / 1_073_741_824.0,
                directory.display()
            );
            if free < min_free {
                Check::fail(
                    "disk",
                    format!("{detail}; at least {:.1} GiB needed", min_free as f64 / 1_073_741_824.0),
                    "free space (`docker system prune -af`, `podman system prune -af`) or lower --min-free-disk",
                )
            } else {
                Check::pass("disk", detail)
            }
        }
        Err(error) => Check::warn(
            "disk",
            format!("cannot read free space of {}: {error}", directory.display()),
            "check the disk yourself",
        ),
    }
}

fn read_number(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn inotify_check() -> Check {
    let watches = read_number("/proc/sys/fs/inotify/max_user_watches");
    let instances = read_number("/proc/sys/fs/inotify/max_user_instances");
    match (watches, instances) {
        (Some(watches), Some(instances)) if watches >= MIN_INOTIFY_WATCHES && instances >= MIN_INOTIFY_INSTANCES => {
            Check::pass(
                "inotify",
                format!("max_user_watches {watches}, max_user_instances {instances}"),
            )
        }
        (Some(watches), Some(instances)) => Check::warn(
            "inotify",
            format!(
                "max_user_watches {watches}, max_user_instances {instances} (Kind recommends {MIN_INOTIFY_WATCHES} and {MIN_INOTIFY_INSTANCES})"
            ),
            "sudo sysctl fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512 (pods fail with `too many open files` otherwise)",
        ),
        _ => Check::warn("inotify", "limits unreadable", "not Linux? Kind needs Linux containers"),
    }
}

/// Host ports a Kind config maps (`extraPortMappings[].hostPort`, `networking.apiServerPort`).
pub(crate) fn kind_config_ports(text: &str) -> Vec<(String, u16)> {
    let Ok(value) = serde_saphyr::from_str::<serde_json::Value>(text) else {
        return Vec::new();
    };
    let mut ports = Vec::new();
    if let Some(port) = value
        .pointer("/networking/apiServerPort")
        .and_then(serde_json::Value::as_u64)
    {
        let address = value
            .pointer("/networking/apiServerAddress")
            .and_then(|value| value.as_str())
            .unwrap_or("127.0.0.1");
        if port != 0 {
            ports.push((address.to_owned(), port as u16));
        }
    }
    for node in value
        .get("nodes")
        .and_then(|nodes| nodes.as_array())
        .into_iter()
        .flatten()
    {
        for mapping in node
            .get("extraPortMappings")
            .and_then(|mappings| mappings.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(port) = mapping.get("hostPort").and_then(serde_json::Value::as_u64) {
                let address = mapping
                    .get("listenAddress")
                    .and_then(|value| value.as_str())
                    .unwrap_or("0.0.0.0");
                ports.push((address.to_owned(), port as u16));
            }
        }
    }
    ports
}

fn port_checks(config: Option<&Path>) -> Vec<Check> {
    let Some(config) = config else { return Vec::new() };
    let Ok(text) = std::fs::read_to_string(config) else {
        return vec![Check::fail(
            "ports",
            format!("cannot read Kind config {}", config.display()),
            "check the path",
        )];
    };
    let busy: Vec<String> = kind_config_ports(&text)
        .into_iter()
        .filter(|(address, port)| TcpListener::bind((address.as_str(), *port)).is_err())
        .map(|(address, port)| format!("{address}:{port}"))
        .collect();
    if busy.is_empty() {
        vec![Check::pass(
            "ports",
            format!("host ports of {} are free", config.display()),
        )]
    } else {
        vec![Check {
            file: Some(config.display().to_string()),
            ..Check::fail(
                "ports",
                format!("host port(s) already in use: {}", busy.join(", ")),
                "stop what listens there, or drop fixed hostPorts from the Kind config",
            )
        }]
    }
}

/// The deploy groups' manifests parse, and run the images this run builds under the same
/// fully-qualified references with a pull policy that uses the loaded image.
fn manifest_check(plan: &Plan) -> Check {
    let built: Vec<String> = plan.images.iter().map(|image| image.reference.clone()).collect();
    let mut problems = Vec::new();
    let mut documents = 0;
    for group in &plan.deploy {
        if group.files.is_empty() {
            problems.push(format!("deploy group `{}`: its manifests match no file", group.name));
        }
        for file in &group.files {
            match manifests::read_documents(file) {
                Ok(parsed) => {
                    documents += parsed.len();
                    let uses = manifests::image_uses(file, &parsed);
                    problems.extend(manifests::check_images(&uses, &built).into_iter().map(|problem| {
                        format!(
                            "{} (document {}): {}",
                            file.display(),
                            problem.use_.document + 1,
                            problem.message
                        )
                    }));
                }
                Err(error) => problems.push(error.to_string()),
            }
        }
        // A `wait_for` that names no object of its group would fail the group after minutes
        // of building; say so now (the deploy phase checks again, before applying).
        if !group.wait_for.is_empty()
            && let Ok(objects) = objects::load(&group.files)
        {
            problems.extend(
                objects::wait_for_problems(&group.wait_for, &objects)
                    .into_iter()
                    .map(|problem| format!("deploy group `{}`: {problem}", group.name)),
            );
        }
    }
    if problems.is_empty() {
        return Check::pass(
            "manifests",
            format!(
                "{documents} document(s) in {} group(s) use the built images correctly",
                plan.deploy.len()
            ),
        );
    }
    Check {
        class: FailureClass::Application,
        file: plan
            .deploy
            .iter()
            .flat_map(|group| &group.files)
            .next()
            .map(|file| file.display().to_string()),
        ..Check::fail(
            "manifests",
            problems.join("\n"),
            "use the fully-qualified references `hybrid-e2e plan` prints, with imagePullPolicy IfNotPresent",
        )
    }
}

/// The Dockerfiles about to be built, through `hybrid-e2e lint`'s rules.
fn lint_check(plan: &Plan, levels: &RuleLevels) -> Check {
    let mut failures = Vec::new();
    let mut warnings = 0;
    for image in &plan.images {
        let path = image.dockerfile.display().to_string();
        let bytes = match std::fs::read(&image.dockerfile) {
            Ok(bytes) => bytes,
            Err(error) => {
                failures.push(format!("{path}: cannot read: {error}"));
                continue;
            }
        };
        for finding in lint::check_bytes(&path, &bytes, levels) {
            if finding.is_failure() {
                failures.push(format!(
                    "{}:{}:{}: {} [{}]",
                    finding.path, finding.line, finding.column, finding.message, finding.rule
                ));
            } else if finding.suppressed.is_none() {
                warnings += 1;
            }
        }
    }
    if failures.is_empty() {
        let suffix = if warnings > 0 {
            format!(", {warnings} warning(s)")
        } else {
            String::new()
        };
        return Check::pass("lint", format!("{} Dockerfile(s) clean{suffix}", plan.images.len()));
    }
    let file = failures[0].split(':').next().map(str::to_owned);
    Check {
        class: FailureClass::Application,
        file,
        ..Check::fail(
            "lint",
            failures.join("\n"),
            "fix the Dockerfile (`hybrid-e2e lint --fix`), suppress with a reason, or lower the rule in `lint: rules:`",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_host_ports_from_a_kind_config() {
        let text = "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking:\n  apiServerPort: 6443\nnodes:\n  - role: control-plane\n    extraPortMappings:\n      - containerPort: 30080\n        hostPort: 8080\n      - containerPort: 30443\n        hostPort: 8443\n        listenAddress: 127.0.0.1\n";
        assert_eq!(
            kind_config_ports(text),
            vec![
                ("127.0.0.1".to_owned(), 6443),
                ("0.0.0.0".to_owned(), 8080),
                ("127.0.0.1".to_owned(), 8443)
            ]
        );
    }

    #[test]
    fn a_busy_port_fails_the_check() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let directory = tempfile::tempdir().expect("tempdir");
        let config = directory.path().join("kind.yaml");
        std::fs::write(&config, format!("nodes:\n  - role: control-plane\n    extraPortMappings:\n      - {{containerPort: 80, hostPort: {port}, listenAddress: 127.0.0.1}}\n")).expect("write");
        let checks = port_checks(Some(&config));
        assert_eq!(checks[0].status, CheckStatus::Fail, "{checks:?}");
        assert!(checks[0].detail.contains(&port.to_string()));
    }

    #[test]
    fn disk_threshold_is_enforced() {
        assert_eq!(disk_check(Path::new("."), 0).status, CheckStatus::Pass);
        assert_eq!(disk_check(Path::new("."), u64::MAX).status, CheckStatus::Fail);
    }
}
