//! Preflight: what `hybrid-e2e doctor` reports and `run` checks before building anything —
//! engine, kind, free disk, inotify limits, a leftover cluster with the same name, host ports of
//! the Kind config, and the Dockerfile lint of the images about to be built.

use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use super::RunContext;
use crate::coverage;
use crate::files;
use crate::k8s::{manifests, objects};
use crate::lint;
use crate::model::{DockerfileFindings, Failure, FailureClass, Finding};
use crate::plan::Plan;
use crate::runner::{Step, StepContext, StepResult};
use crate::tools::{self, Kind};

mod services;

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

/// One preflight check's result.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    pub(crate) name: &'static str,
    pub(crate) status: CheckStatus,
    pub(crate) detail: String,
    pub(crate) hint: Option<String>,
    pub(crate) class: FailureClass,
    /// A file the check points at (a Dockerfile finding, the kind config).
    pub(crate) file: Option<String>,
    /// The line in `file`, when known.
    pub(crate) line: Option<usize>,
    /// Structured findings (the Dockerfile lint).
    pub(crate) findings: Vec<Finding>,
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
            line: None,
            findings: Vec::new(),
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

    /// As a runner step's result: a failure, or a note (and a warning raised on `context`).
    fn into_result(self, context: &StepContext) -> StepResult {
        match self.status {
            CheckStatus::Pass => StepResult {
                note: Some(self.detail),
                ..StepResult::ok()
            },
            CheckStatus::Warn => {
                context.warn(&format!(
                    "{}: {} ({})",
                    self.name,
                    self.detail,
                    self.hint.as_deref().unwrap_or("")
                ));
                StepResult {
                    note: Some(self.detail),
                    warned: true,
                    ..StepResult::ok()
                }
            }
            CheckStatus::Fail => {
                let mut failure = Failure::new(self.class, self.detail.clone()).findings(self.findings);
                if let Some(hint) = self.hint {
                    failure = failure.hint(hint);
                }
                if let Some(file) = self.file {
                    failure = failure.at(file, self.line);
                }
                failure.column = failure.findings.first().map(|finding| finding.column);
                StepResult {
                    note: Some(self.detail),
                    ..StepResult::failed(failure)
                }
            }
        }
    }
}

type CheckFuture = Pin<Box<dyn Future<Output = Check> + Send>>;

/// One check: its name and how to run it.
struct CheckSpec {
    name: &'static str,
    run: fn(Arc<RunContext>) -> CheckFuture,
}

/// Every check, in order: the engine first (kind's provider depends on it), kind before the
/// cluster-name check that asks it.
fn checks(run: &RunContext) -> Vec<CheckSpec> {
    let mut checks = vec![
        CheckSpec {
            name: "engine",
            run: |run| Box::pin(async move { engine_check(&run).await }),
        },
        CheckSpec {
            name: "kind",
            run: |run| Box::pin(async move { kind_check(&run).await }),
        },
        CheckSpec {
            name: "kubectl",
            run: |_| Box::pin(kubectl_check()),
        },
        CheckSpec {
            name: "disk",
            run: |run| Box::pin(async move { disk_check(&run.plan.report_dir, run.min_free_disk) }),
        },
        CheckSpec {
            name: "inotify",
            run: |_| Box::pin(async { inotify_check() }),
        },
        CheckSpec {
            name: "cluster name",
            run: |run| Box::pin(async move { cluster_name_check(&run).await }),
        },
    ];
    if run.plan.cluster.config.is_some() {
        checks.push(CheckSpec {
            name: "ports",
            run: |run| Box::pin(async move { port_check(run.plan.cluster.config.as_deref()) }),
        });
    }
    if run.plan.coverage.is_some() {
        checks.push(CheckSpec {
            name: "coverage",
            run: |run| Box::pin(async move { coverage_check(&run.plan) }),
        });
    }
    if run.plan.test.is_some() {
        checks.push(CheckSpec {
            name: "test",
            run: |run| Box::pin(async move { test_check(&run.plan) }),
        });
    }
    checks.push(CheckSpec {
        name: "lint",
        run: |run| {
            Box::pin(async move {
                let (check, counts) = lint_check(&run.plan, &run.lint_levels);
                run.set_dockerfile_findings(counts);
                check
            })
        },
    });
    if !run.plan.deploy.is_empty() {
        checks.push(CheckSpec {
            name: "manifests",
            run: |run| Box::pin(async move { manifest_check(&run.plan) }),
        });
    }
    // `services:` with `test:`: the run starts the services before the suite.
    if !run.plan.services.services.is_empty() && run.plan.test.is_some() {
        checks.extend(services::run_checks());
    }
    checks
}

/// The preflight phase: one runner step per check, run one after another in order.
pub(crate) fn steps(run: &Arc<RunContext>) -> Result<Vec<Step>, &'static str> {
    Ok(check_steps(run, checks(run)))
}

/// The preflight of `services up` (engine, disk under the engine's storage, ports and who holds
/// them, stale containers of an earlier run, the Dockerfile lint).
pub(crate) fn services_steps(run: &Arc<RunContext>) -> Result<Vec<Step>, &'static str> {
    Ok(check_steps(run, services::checks(run)))
}

fn check_steps(run: &Arc<RunContext>, checks: Vec<CheckSpec>) -> Vec<Step> {
    checks
        .into_iter()
        .map(|check| {
            let run = Arc::clone(run);
            Step::new(check.name, move |context: StepContext| async move {
                // A signal ends a slow check at once (its child processes die with it); the
                // runner reports the step cancelled.
                tokio::select! {
                    check = (check.run)(run) => check.into_result(&context),
                    () = context.cancel.cancelled() => StepResult::ok(),
                }
            })
        })
        .collect()
}

/// The checks that need nothing but the files (the Dockerfile lint, the manifests and their
/// `wait_for`): what `hybrid-e2e plan` validates besides the config.
pub(crate) fn file_checks(plan: &Plan, levels: &lint::RuleLevels) -> Vec<Check> {
    let mut checks = vec![lint_check(plan, levels).0];
    if !plan.deploy.is_empty() {
        checks.push(manifest_check(plan));
    }
    checks
}

/// Every check's result, for `hybrid-e2e doctor`.
pub(crate) async fn run_all(run: &Arc<RunContext>) -> Vec<Check> {
    let mut results = Vec::new();
    for check in checks(run) {
        results.push((check.run)(Arc::clone(run)).await);
    }
    results
}

async fn engine_check(run: &RunContext) -> Check {
    match tools::detect_engine(run.plan.engine).await {
        Ok(engine) => {
            let detail = format!("{} {} ({})", engine.kind.as_str(), engine.version, engine.program);
            run.set_engine(engine);
            Check::pass("engine", detail)
        }
        Err(problem) => Check::fail("engine", problem.message, problem.hint),
    }
}

async fn kind_check(run: &RunContext) -> Check {
    let kind = run.kind();
    match kind.version().await {
        Ok(version) => {
            run.set_kind_version(version.clone());
            Check::pass("kind", version)
        }
        Err(reason) => Check::fail(
            "kind",
            reason,
            "`run` needs Docker or Podman plus kind (as on GitHub's hosted runners); install kind or set HYBRID_E2E_KIND. `plan`, `lint` and `report` work without them",
        ),
    }
}

async fn cluster_name_check(run: &RunContext) -> Check {
    let name = &run.plan.cluster.name;
    if run.kind_version().is_none() {
        return Check::pass("cluster name", format!("`{name}` not checked (kind is missing)"));
    }
    let kind: Arc<Kind> = run.kind();
    match kind.clusters().await {
        Ok(clusters) if clusters.contains(name) => Check::fail(
            "cluster name",
            format!("a Kind cluster named `{name}` already exists"),
            "use a unique name per job (the default is), or remove it with `hybrid-e2e cleanup`",
        ),
        Ok(_) => Check::pass("cluster name", format!("`{name}` is free")),
        Err(reason) => Check::warn(
            "cluster name",
            format!("could not list clusters: {reason}"),
            "check the engine",
        ),
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
    // kind reads its config with sigs.k8s.io/yaml (YAML 1.1): `hostPort: 0100` is port 64 there.
    let Ok(Some(value)) = crate::k8s::yaml::first_document_value(text) else {
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

fn port_check(config: Option<&Path>) -> Check {
    let Some(config) = config else {
        return Check::pass("ports", "no Kind config: Kind picks a free API server port");
    };
    let text = match files::read_text_capped(config, files::CONFIG_LIMIT) {
        Ok(text) => text,
        Err(error) => {
            return Check::fail(
                "ports",
                format!("cannot read the Kind config: {error}"),
                "check the path",
            );
        }
    };
    let busy: Vec<String> = kind_config_ports(&text)
        .into_iter()
        .filter(|(address, port)| TcpListener::bind((address.as_str(), *port)).is_err())
        .map(|(address, port)| format!("{address}:{port}"))
        .collect();
    if busy.is_empty() {
        Check::pass("ports", format!("host ports of {} are free", config.display()))
    } else {
        Check {
            file: Some(config.display().to_string()),
            ..Check::fail(
                "ports",
                format!("host port(s) already in use: {}", busy.join(", ")),
                "stop what listens there, or drop fixed hostPorts from the Kind config",
            )
        }
    }
}

/// The suite's program exists where the test phase will start it (after the whole setup:
/// finding out then costs the setup's minutes).
fn test_check(plan: &Plan) -> Check {
    let Some(test) = &plan.test else {
        return Check::pass("test", "no `test:`");
    };
    let Some(program) = test.argv.first() else {
        return Check::fail(
            "test",
            "`test.command` is empty",
            "give the suite's program and its arguments",
        );
    };
    let path = test
        .env
        .iter()
        .find(|(key, _)| key == "PATH")
        .map(|(_, value)| value.clone())
        .or_else(|| std::env::var("PATH").ok())
        // Unset, a spawn searches the C library's default path.
        .unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".to_owned());
    match crate::exec::find_program(program, &test.working_dir, &path) {
        Some(found) => Check::pass("test", format!("the suite runs {}", found.display())),
        None => {
            let (detail, hint) = if program.contains('/') {
                (
                    format!(
                        "the suite's program `{program}` is not an executable file in {}",
                        test.working_dir.display()
                    ),
                    "check the path (relative to `test.working_dir`) and its mode (`chmod +x`)".to_owned(),
                )
            } else {
                (
                    format!("the suite's program `{program}` is not on PATH"),
                    format!(
                        "install it on this machine, or give its path in `test.command`; it is started directly (argv), not through a shell{}",
                        if plan.cluster.in_container.is_some() {
                            " — inside the container action the project's test tools are not installed: run the suite in a later step (docs/action.md)"
                        } else {
                            ""
                        }
                    ),
                )
            };
            Check {
                file: plan.config_file.clone(),
                ..Check::fail("test", detail, hint)
            }
        }
    }
}

/// DD-TEST-007's fourth place: the Kind config mounts `coverage.dir` on every node (so the data
/// also lands on the host). A warning with the lines to add, never a failure: the copy after the
/// tests reads the node containers either way.
fn coverage_check(plan: &Plan) -> Check {
    let Some(spec) = &plan.coverage else {
        return Check::pass("coverage", "no image has `coverage: true`");
    };
    let images: Vec<&str> = spec.images.iter().map(|image| image.name.as_str()).collect();
    // Without `test:` the suite runs as a later step: `hybrid-e2e coverage` captures after it,
    // from the same node directories, so the mounts matter all the same.
    let captured_by = if plan.test.is_none() {
        "; no `test:`: capture after your suite with `hybrid-e2e coverage` (action: `command: coverage`) while the cluster is kept"
    } else {
        ""
    };
    let (document, file) = match &plan.cluster.config {
        None => (serde_json::Value::Null, None),
        Some(path) => {
            let text = match files::read_text_capped(path, files::CONFIG_LIMIT) {
                Ok(text) => text,
                Err(error) => {
                    return Check::warn(
                        "coverage",
                        format!("cannot read the Kind config: {error}"),
                        "check the path",
                    );
                }
            };
            let document = crate::k8s::yaml::first_document_value(&text)
                .ok()
                .flatten()
                .unwrap_or(serde_json::Value::Null);
            (document, Some(path.display().to_string()))
        }
    };
    let found = coverage::kind_mounts::check(&document, &spec.dir);
    if found.complete() {
        return Check::pass(
            "coverage",
            format!(
                "every Kind node mounts {} (host: {}); {} {} there{captured_by}",
                spec.dir,
                found.host_paths.join(", "),
                images.join(", "),
                if images.len() == 1 { "writes" } else { "write" }
            ),
        );
    }
    let elsewhere = if found.elsewhere.is_empty() {
        String::new()
    } else {
        format!(
            "; it mounts {} instead: `coverage.dir` and `containerPath` must be the same path",
            found.elsewhere.join(", ")
        )
    };
    let config = file.as_deref().unwrap_or("the Kind config (`cluster.config`)");
    Check {
        file: file.clone(),
        ..Check::warn(
            "coverage",
            format!(
                "{config} does not mount {} on {} node(s){elsewhere}: the coverage data stays inside the node containers (copied out before teardown, lost with a node){captured_by}",
                spec.dir,
                found.missing.len()
            ),
            format!("add to {config} {}", coverage::kind_mounts::fix(&found, &spec.dir)),
        )
    }
}

/// The deploy groups' manifests parse, and run the images this run builds under the same
/// fully-qualified references with a pull policy that uses the loaded image; every `wait_for`
/// names an object. Each problem is a finding at the file and line it comes from: the manifest
/// document, or the config entry.
fn manifest_check(plan: &Plan) -> Check {
    let built: Vec<manifests::BuiltImage> = plan
        .images
        .iter()
        .map(|image| manifests::BuiltImage {
            reference: image.reference.clone(),
            per_run_tag: image.per_run_tag,
        })
        .collect();
    let config = plan.config_file.clone().unwrap_or_else(|| "hybrid-e2e.yaml".to_owned());
    let mut findings: Vec<Finding> = Vec::new();
    let mut hints: Vec<&'static str> = Vec::new();
    let mut documents = 0;
    let finding = |path: String, line: usize, rule: &str, message: String| Finding {
        path,
        line: line.max(1),
        column: 1,
        rule: rule.to_owned(),
        message,
    };
    for group in &plan.deploy {
        if group.files.is_empty() {
            findings.push(finding(
                config.clone(),
                group.line as usize,
                "manifest-missing",
                format!("deploy group `{}`: its manifests match no file", group.name),
            ));
            hints.push("check the paths and globs in `manifests:` (relative to the config file)");
        }
        for file in &group.files {
            let path = file.display().to_string();
            match manifests::read_documents(file) {
                Ok(parsed) => {
                    documents += parsed.len();
                    let uses = manifests::image_uses(file, &parsed);
                    for problem in manifests::check_images(&uses, &built) {
                        findings.push(finding(
                            path.clone(),
                            problem.use_.line,
                            "manifest-image",
                            format!("(document {}) {}", problem.use_.document, problem.message),
                        ));
                        hints.push(
                            "use the fully-qualified references `hybrid-e2e plan` prints, with imagePullPolicy IfNotPresent",
                        );
                    }
                }
                Err(error) => {
                    // The finding names the file and line; the message is the problem alone.
                    let (line, message) = match &error {
                        manifests::ManifestError::Yaml { error, .. } => (error.line, error.problem.to_string()),
                        other => (1, other.to_string()),
                    };
                    findings.push(finding(path.clone(), line, "manifest-yaml", message));
                    hints.push("fix the manifest: `kubectl apply -f` would refuse it too");
                }
            }
        }
        // A `wait_for` that names no object of its group would fail the group after minutes
        // of building; say so now (the deploy phase checks again, before applying).
        if !group.wait_for.is_empty()
            && let Ok(objects) = objects::load(&group.files)
        {
            for (selector, line) in group.wait_for.iter().zip(&group.wait_for_lines) {
                for problem in objects::wait_for_problems(std::slice::from_ref(selector), &objects) {
                    findings.push(finding(
                        config.clone(),
                        *line as usize,
                        "wait-for",
                        format!("deploy group `{}`: {problem}", group.name),
                    ));
                    hints.push("name an object of the group's manifests as `kind/name` (e.g. `deployment/api`)");
                }
            }
        }
    }
    if findings.is_empty() {
        return Check::pass(
            "manifests",
            format!(
                "{documents} document(s) in {} group(s) use the built images correctly",
                plan.deploy.len()
            ),
        );
    }
    let detail = findings
        .iter()
        .map(|finding| format!("{}:{}: {}", finding.path, finding.line, finding.message))
        .collect::<Vec<_>>()
        .join("\n");
    let mut seen = std::collections::HashSet::new();
    hints.retain(|hint| seen.insert(*hint));
    Check {
        class: FailureClass::Application,
        file: findings.first().map(|finding| finding.path.clone()),
        line: findings.first().map(|finding| finding.line),
        findings,
        ..Check::fail("manifests", detail, hints.join("; "))
    }
}

/// The Dockerfiles about to be built, through `hybrid-e2e lint`'s rules.
fn lint_check(plan: &Plan, levels: &lint::RuleLevels) -> (Check, DockerfileFindings) {
    let mut failures = Vec::new();
    let mut findings = Vec::new();
    let mut warnings = 0;
    for image in &plan.images {
        let path = image.dockerfile.display().to_string();
        let bytes = match files::read_capped(&image.dockerfile, files::DOCKERFILE_LIMIT) {
            Ok(bytes) => bytes,
            Err(error) => {
                failures.push(format!("{path}: cannot lint: {error}"));
                continue;
            }
        };
        for finding in lint::check_bytes(&path, &bytes, levels) {
            if finding.is_failure() {
                failures.push(format!(
                    "{}:{}:{}: {} [{}]",
                    finding.path, finding.line, finding.column, finding.message, finding.rule
                ));
                findings.push(Finding {
                    path: finding.path.clone(),
                    line: finding.line,
                    column: finding.column,
                    rule: finding.rule.to_string(),
                    message: finding.message.clone(),
                });
            } else if finding.suppressed.is_none() {
                warnings += 1;
            }
        }
    }
    let counts = DockerfileFindings {
        // Each failure line is an error finding or a Dockerfile that could not be linted.
        errors: failures.len(),
        warnings,
    };
    if failures.is_empty() {
        let suffix = if warnings > 0 {
            format!(", {warnings} warning(s)")
        } else {
            String::new()
        };
        return (
            Check::pass("lint", format!("{} Dockerfile(s) clean{suffix}", plan.images.len())),
            counts,
        );
    }
    let check = Check {
        class: FailureClass::Application,
        file: findings.first().map(|finding| finding.path.clone()),
        line: findings.first().map(|finding| finding.line),
        findings,
        ..Check::fail(
            "lint",
            failures.join("\n"),
            "fix the Dockerfile (`hybrid-e2e lint --fix`), suppress with a reason, or lower the rule in `lint: rules:`",
        )
    };
    (check, counts)
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
        // YAML 1.1, as kind reads it: a leading zero is octal.
        let octal = "kind: Cluster\nnodes:\n  - role: control-plane\n    extraPortMappings:\n      - {containerPort: 30080, hostPort: 010000}\n";
        assert_eq!(kind_config_ports(octal), vec![("0.0.0.0".to_owned(), 4096)]);
    }

    #[test]
    fn a_busy_port_fails_the_check() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let directory = tempfile::tempdir().expect("tempdir");
        let config = directory.path().join("kind.yaml");
        std::fs::write(&config, format!("nodes:\n  - role: control-plane\n    extraPortMappings:\n      - {{containerPort: 80, hostPort: {port}, listenAddress: 127.0.0.1}}\n")).expect("write");
        let check = port_check(Some(&config));
        assert_eq!(check.status, CheckStatus::Fail, "{check:?}");
        assert!(check.detail.contains(&port.to_string()));
    }

    #[test]
    fn disk_threshold_is_enforced() {
        assert_eq!(disk_check(Path::new("."), 0).status, CheckStatus::Pass);
        assert_eq!(disk_check(Path::new("."), u64::MAX).status, CheckStatus::Fail);
    }
}
