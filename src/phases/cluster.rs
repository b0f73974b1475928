//! Phase 2: `kind create cluster --retain`, retried once (after deleting the half-made cluster)
//! only on known transient failures, with `kind export logs` before any delete; then the
//! kubeconfig is exported and the readiness gate waits until workloads can run. Teardown deletes the cluster according to `preserve`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::RunContext;
use super::classify::{self, Source};
use crate::exec::ProcessSpec;
use crate::k8s::client;
use crate::model::{Failure, FailureClass};
use crate::plan::PlannedCluster;
use crate::runner::{Step, StepContext, StepResult};
use crate::tools::Kind;

pub(crate) mod gate;
mod network;

use gate::{GateChecks, GateError};

/// How long `kind export logs` and `kind delete cluster` may take.
const HOUSEKEEPING_TIMEOUT: Duration = Duration::from_secs(120);
/// Attempts at `kind create cluster`: the first, and one retry on a known transient failure.
const CREATE_ATTEMPTS: u32 = 2;

pub(crate) fn create_command(kind: &Kind, cluster: &PlannedCluster) -> ProcessSpec {
    let mut spec = kind.command().args(["create", "cluster", "--name", &cluster.name]);
    // In the container action: the Kind config with host paths, and the host-side kubeconfig.
    let in_container = cluster.in_container.as_ref();
    if let Some(config) = in_container
        .and_then(|access| access.kind_config.as_ref())
        .or(cluster.config.as_ref())
    {
        spec = spec.arg("--config").arg(config.display().to_string());
    }
    if let Some(image) = &cluster.node_image {
        spec = spec.arg("--image").arg(image);
    }
    let kubeconfig = in_container.map_or(&cluster.kubeconfig, |access| &access.host_kubeconfig);
    spec.arg("--kubeconfig")
        .arg(kubeconfig.display().to_string())
        .arg("--retain")
}

/// The one step of the cluster phase: create, export the kubeconfig, pass the readiness gate.
pub(crate) fn steps(run: &Arc<RunContext>) -> Result<Vec<Step>, &'static str> {
    let plan = &run.plan;
    Ok(vec![step(
        Arc::clone(run),
        plan.cluster.clone(),
        plan.report_dir.join("diagnostics"),
        gate::poll(plan.poll_interval, plan.mode == crate::config::ScheduleMode::Pipelined),
    )])
}

fn step(run: Arc<RunContext>, cluster: PlannedCluster, diagnostics: PathBuf, poll: Duration) -> Step {
    Step::new("create", move |context: StepContext| async move {
        let kind = run.kind();
        // A failed create is retained (--retain) and may still need deleting.
        run.mark_cluster_created();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let outcome = match context
                .exec(&create_command(&kind, &cluster), Some(cluster.create_timeout))
                .await
            {
                Ok(outcome) => outcome,
                Err(error) => {
                    let failure = Failure::new(FailureClass::Infrastructure, error.to_string())
                        .hint("`run` needs kind on PATH (or HYBRID_E2E_KIND)");
                    return StepResult {
                        attempts: attempt,
                        ..StepResult::failed(failure)
                    };
                }
            };
            if outcome.cancelled {
                return StepResult {
                    attempts: attempt,
                    ..StepResult::ok()
                };
            }
            if outcome.success() {
                let exported = match &cluster.in_container {
                    None => write_kubeconfig(&kind, &cluster.name, false, &cluster.kubeconfig).await,
                    // Inside the container action: join Kind's network, then both kubeconfigs.
                    Some(access) => {
                        let docker = run
                            .engine()
                            .map_or_else(|| "docker".to_owned(), |engine| engine.program.clone());
                        let mut say = |line: &str| context.say(line);
                        network::reach_from_container(&docker, &kind, &cluster, access, &mut say).await
                    }
                };
                let mut ready = match exported {
                    Ok(()) => wait_until_ready(&context, &cluster, poll).await,
                    Err(failure) => Err(failure),
                };
                if ready.is_ok() && !context.cancel.is_cancelled() {
                    super::coverage::prepare_nodes(&run, &context).await;
                }
                if let Err(failure) = &mut ready {
                    // The node's kubelet and container logs say why it never became Ready.
                    let logs_dir = diagnostics.join("kind-logs-not-ready");
                    if export_logs(&context, &kind, &cluster.name, &logs_dir).await {
                        let logs = format!("kind logs: {}", logs_dir.display());
                        failure.hint = Some(match failure.hint.take() {
                            Some(hint) if !hint.is_empty() => format!("{hint}; {logs}"),
                            _ => logs,
                        });
                    }
                }
                return StepResult {
                    failure: ready.err(),
                    attempts: attempt,
                    ..StepResult::ok()
                };
            }
            let text = outcome.tail_text();
            let (class, pattern) = classify::classify(Source::KindCreate, &text);
            // Evidence first: kind deletes nothing with --retain, so the node logs are still there.
            let logs_dir = diagnostics.join(format!("kind-logs-attempt-{attempt}"));
            let exported = export_logs(&context, &kind, &cluster.name, &logs_dir).await;
            let transient = pattern.is_some_and(|pattern| pattern.transient);
            if transient && attempt < CREATE_ATTEMPTS && !context.cancel.is_cancelled() {
                let why = pattern.map_or("", |pattern| pattern.hint);
                context.warn(&format!(
                    "`kind create cluster {}` failed with a known transient error, so it was deleted and retried once: {why}",
                    cluster.name
                ));
                context
                    .exec(&delete_command(&kind, &cluster.name), Some(HOUSEKEEPING_TIMEOUT))
                    .await
                    .ok();
                continue;
            }
            let reason = if outcome.timed_out {
                format!("timed out after {}", humantime::format_duration(cluster.create_timeout))
            } else {
                outcome.ending()
            };
            let retried = if attempt > 1 { " (after one retry)" } else { "" };
            let mut failure = Failure::new(
                class,
                format!("`kind create cluster {}` failed{retried}: {reason}", cluster.name),
            )
            .tail(outcome.tail);
            let mut hint = pattern.map(|pattern| pattern.hint.to_owned()).unwrap_or_default();
            if exported {
                hint = format!(
                    "{hint}{}kind logs: {}",
                    if hint.is_empty() { "" } else { "; " },
                    logs_dir.display()
                );
            }
            if !hint.is_empty() {
                failure = failure.hint(hint);
            }
            if let Some(config) = &cluster.config {
                failure = failure.file(config.display().to_string());
            }
            return StepResult {
                attempts: attempt,
                ..StepResult::failed(failure)
            };
        }
    })
}

/// The readiness gate: nodes Ready, CoreDNS available, `default` ServiceAccount present.
async fn wait_until_ready(context: &StepContext, cluster: &PlannedCluster, poll: Duration) -> Result<(), Failure> {
    let client = client::client(&cluster.kubeconfig)
        .await
        .map_err(|error| Failure::new(FailureClass::Infrastructure, error.to_string()))?;
    let checks = GateChecks {
        nodes: true,
        coredns: true,
        service_accounts: vec!["default".to_owned()],
    };
    match gate::wait_until_ready(
        &client,
        &checks,
        cluster.ready_timeout,
        poll,
        &context.cancel,
        &mut |line| {
            context.say(&line);
        },
    )
    .await
    {
        Ok(()) | Err(GateError::Cancelled) => Ok(()),
        Err(error) => Err(Failure::new(FailureClass::Infrastructure, error.to_string())
            .hint("the node or CoreDNS did not come up (often too little CPU, memory or disk for the Kind node)")),
    }
}

/// A cluster an earlier run made and kept (`hybrid-e2e coverage`): inside the container action,
/// join Kind's network and write the internal kubeconfig as the cluster phase did; elsewhere,
/// write the kubeconfig again only when the run's is gone. What was done, for the terminal.
pub(crate) async fn reach_existing(run: &RunContext) -> Result<Vec<String>, Failure> {
    let cluster = &run.plan.cluster;
    let kind = run.kind();
    let mut said = Vec::new();
    match &cluster.in_container {
        Some(access) => {
            let docker = run
                .engine()
                .map_or_else(|| "docker".to_owned(), |engine| engine.program.clone());
            let mut say = |line: &str| said.push(line.to_owned());
            network::reach_from_container(&docker, &kind, cluster, access, &mut say).await?;
        }
        None if !cluster.kubeconfig.is_file() => {
            write_kubeconfig(&kind, &cluster.name, false, &cluster.kubeconfig).await?;
            said.push(format!("kubeconfig written again: {}", cluster.kubeconfig.display()));
        }
        None => {}
    }
    // A cluster `kind get clusters` still lists may no longer serve (its node container
    // stopped): say so now, not as one warning per request later.
    client::answers(&cluster.kubeconfig)
        .await
        .map_err(|error| Failure::new(FailureClass::Infrastructure, error.to_string()))?;
    Ok(said)
}

/// `kind get kubeconfig [--internal]` into `path`: `--kubeconfig` alone is not always reliable.
async fn write_kubeconfig(kind: &Kind, name: &str, internal: bool, path: &std::path::Path) -> Result<(), Failure> {
    let mut spec = kind.command().args(["get", "kubeconfig", "--name", name]);
    if internal {
        spec = spec.arg("--internal");
    }
    let (ok, stdout, stderr) = crate::exec::capture(&spec, HOUSEKEEPING_TIMEOUT)
        .await
        .map_err(|error| Failure::new(FailureClass::Infrastructure, error.to_string()))?;
    if !ok || stdout.trim().is_empty() {
        let tail = stderr.lines().map(str::to_owned).collect();
        let message = format!("`{}` failed", spec.display());
        return Err(Failure::new(FailureClass::Infrastructure, message).tail(tail));
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).ok();
    }
    std::fs::write(path, stdout).map_err(|error| {
        Failure::new(
            FailureClass::Infrastructure,
            format!("failed to write {}: {error}", path.display()),
        )
    })
}

pub(crate) fn delete_command(kind: &Kind, name: &str) -> ProcessSpec {
    kind.command().args(["delete", "cluster", "--name", name])
}

/// `kind export logs DIR --name NAME`; whether it worked (a failure is a warning: the run goes
/// on, and nothing claims logs that do not exist).
async fn export_logs(context: &StepContext, kind: &Kind, name: &str, directory: &std::path::Path) -> bool {
    let spec = kind
        .command()
        .args(["export", "logs"])
        .arg(directory.display().to_string())
        .args(["--name", name]);
    let never = tokio_util::sync::CancellationToken::new();
    // Not cancellable: on Ctrl-C the evidence matters most.
    match crate::exec::run(&spec, Some(&context.log), |_| {}, &never, Some(HOUSEKEEPING_TIMEOUT)).await {
        Ok(outcome) if outcome.success() => true,
        Ok(outcome) => {
            context.warn(&format!(
                "`kind export logs` for cluster `{name}` failed ({}): no node logs were saved{}",
                outcome.ending(),
                outcome
                    .tail
                    .last()
                    .map(|line| format!("; last output: {line}"))
                    .unwrap_or_default()
            ));
            false
        }
        Err(error) => {
            context.warn(&format!(
                "`kind export logs` for cluster `{name}` could not run: {error}"
            ));
            false
        }
    }
}

/// The teardown phase: delete the cluster.
pub(crate) fn teardown_steps(run: &Arc<RunContext>) -> Vec<Step> {
    vec![delete_step(run.kind(), run.plan.cluster.name.clone())]
}

fn delete_step(kind: Arc<Kind>, name: String) -> Step {
    Step::new("delete-cluster", move |context: StepContext| async move {
        // Teardown must run even when the run was cancelled.
        let never = tokio_util::sync::CancellationToken::new();
        match crate::exec::run(
            &delete_command(&kind, &name),
            Some(&context.log),
            |_| {},
            &never,
            Some(HOUSEKEEPING_TIMEOUT),
        )
        .await
        {
            Ok(outcome) if outcome.success() => StepResult::ok(),
            Ok(outcome) => StepResult::failed(
                Failure::new(
                    FailureClass::Infrastructure,
                    format!("`kind delete cluster --name {name}` failed"),
                )
                .hint("remove it with `hybrid-e2e cleanup`")
                .tail(outcome.tail),
            ),
            Err(error) => StepResult::failed(Failure::new(FailureClass::Infrastructure, error.to_string())),
        }
    })
}
