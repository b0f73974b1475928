//! Phase 6 (images with `coverage: true`, after the test phase): DD-TEST-007's capture. One
//! step per image: its workloads (found in the deploy groups' manifests as the deploy phase
//! instrumented them) are scaled to zero — SIGTERM; Go writes its counters when the process then
//! returns from main (a service must handle the signal: one killed by it writes none) — the step
//! waits (bounded by `coverage.stop_timeout`) until their pods are gone, copies `<dir>/<run id>/<image>`
//! out of every node container into `<report_dir>/coverage/<image>/`, and — where `go` is on
//! PATH — converts it with `go tool covdata textfmt` and reads the share of statements covered.
//!
//! Every problem is a warning on the step: coverage never fails a run. The cluster phase calls
//! [`prepare_nodes`] so non-root containers can write to the node directory.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams};
use serde_json::{Value, json};

use super::RunContext;
use crate::coverage::instrument::{self, Stop};
use crate::coverage::{CoverageImage, CoverageSpec, profile};
use crate::exec::{self, ExecError, ProcessSpec};
use crate::k8s::apply;
use crate::k8s::client::{self, REQUEST_TIMEOUT, Session};
use crate::k8s::objects::{self, ManifestObject};
use crate::k8s::wait::{pod_selector, selector_matches};
use crate::model::{CoverageResult, PackageCoverage, PhaseRecord};
use crate::plan::Plan;
use crate::runner::{Step, StepContext, StepResult};
use crate::tools::ContainerEngine;

/// How long one copy or one `go tool covdata` may take.
const COPY_TIMEOUT: Duration = Duration::from_secs(120);
/// How often the stop is checked.
const STOP_POLL: Duration = Duration::from_millis(250);
/// The field manager of the stop and the restore (not the deploy's: the manifests own
/// `replicas`).
const STOP_MANAGER: &str = "hybrid-e2e-coverage";
/// The node label a stopped DaemonSet's pods require: no node has it.
const STOP_LABEL: &str = "hybrid-e2e.io/coverage-stopped";

/// One step per coverage image (the phase has nothing to do without one).
pub(crate) fn steps(run: &Arc<RunContext>) -> Result<Vec<Step>, &'static str> {
    let Some(spec) = run.plan.coverage.clone() else {
        return Err("no image has `coverage: true`");
    };
    let spec = Arc::new(spec);
    Ok(spec
        .images
        .iter()
        .map(|image| {
            let (run, spec, image) = (Arc::clone(run), Arc::clone(&spec), image.clone());
            Step::new(image.name.clone(), move |context: StepContext| async move {
                let result = capture(&run, &spec, &image, &context).await;
                for problem in &result.problems {
                    context.warn(&warning(&image.name, problem));
                }
                StepResult {
                    note: Some(summary(&result)),
                    warned: !result.problems.is_empty(),
                    coverage: Some(Box::new(result)),
                    ..StepResult::ok()
                }
            })
        })
        .collect())
}

/// The run's warning for one of an image's coverage problems.
fn warning(image: &str, problem: &str) -> String {
    format!("coverage of `{image}`: {problem}")
}

/// The warnings a recorded coverage phase added to its run (`hybrid-e2e coverage` replaces them
/// with its own).
pub(crate) fn warnings_of(phase: &PhaseRecord) -> Vec<String> {
    phase
        .steps
        .iter()
        .filter_map(|step| step.coverage.as_ref())
        .flat_map(|result| result.problems.iter().map(|problem| warning(&result.image, problem)))
        .collect()
}

/// The step's one line: what was copied and covered.
fn summary(result: &CoverageResult) -> String {
    let covered = match result.percent {
        Some(percent) => format!(", {percent:.1}% of statements"),
        None => String::new(),
    };
    format!(
        "{} metadata and {} counter file(s) in {}{covered}",
        result.meta_files, result.counter_files, result.directory
    )
}

/// A workload that runs a coverage image.
#[derive(Debug, Clone)]
pub(crate) struct Workload {
    pub(crate) api_version: String,
    pub(crate) kind: String,
    pub(crate) namespace: String,
    pub(crate) name: String,
    /// Its pods' selector (`null` for a bare Pod: its own name).
    pub(crate) selector: Option<Value>,
    /// The object as the deploy phase applied it (instrumented): what a deleted bare Pod is
    /// created again from.
    pub(crate) deployed: Arc<ManifestObject>,
}

impl Workload {
    fn describe(&self) -> String {
        format!("{} {}/{}", self.kind, self.namespace, self.name)
    }

    fn is(&self, other: &Workload) -> bool {
        (&self.api_version, &self.kind, &self.namespace, &self.name)
            == (&other.api_version, &other.kind, &other.namespace, &other.name)
    }
}

/// The workloads of the deploy groups that run `image`, as deployed (namespaced objects without
/// a namespace went to `default`).
/// A group whose manifests no longer load is a problem (they changed during the run).
pub(crate) fn workloads(plan: &Plan, spec: &CoverageSpec, image: &str) -> (Vec<Workload>, Vec<String>) {
    let mut found: Vec<Workload> = Vec::new();
    let mut problems = Vec::new();
    for group in &plan.deploy {
        let loaded = match objects::load(&group.files) {
            Ok(loaded) => loaded,
            Err(error) => {
                problems.push(format!(
                    "the manifests of group `{}` could not be read again: {error}",
                    group.name
                ));
                continue;
            }
        };
        for mut object in loaded {
            if !instrument::images_in(&object.value, spec)
                .iter()
                .any(|name| name == image)
            {
                continue;
            }
            let selector = pod_selector(&object.value);
            instrument::instrument(&mut object.value, spec);
            let workload = Workload {
                api_version: object.api_version.clone(),
                kind: object.kind.clone(),
                namespace: object.namespace.clone().unwrap_or_else(|| "default".to_owned()),
                name: object.name.clone(),
                selector,
                deployed: Arc::new(object),
            };
            if !found.iter().any(|known| known.is(&workload)) {
                found.push(workload);
            }
        }
    }
    (found, problems)
}

async fn capture(
    run: &RunContext,
    spec: &CoverageSpec,
    image: &CoverageImage,
    context: &StepContext,
) -> CoverageResult {
    let plan = &run.plan;
    let directory = Path::new("coverage").join(&image.name);
    let mut result = CoverageResult {
        image: image.name.clone(),
        directory: directory.display().to_string(),
        target_percent: spec.target,
        ..CoverageResult::default()
    };
    let (found, problems) = workloads(plan, spec, &image.name);
    result.problems.extend(problems);
    let mut stopped = Vec::new();
    let mut session = None;
    if found.is_empty() {
        result
            .problems
            .push(format!("no deployed manifest runs `{}`", image.reference));
    } else {
        match connect(plan).await {
            Ok(connected) => {
                stopped = stop_workloads(&connected, spec, &found, context, &mut result).await;
                session = Some(connected);
            }
            Err(error) => result.problems.push(format!(
                "the cluster did not answer ({error}): the workloads were not stopped"
            )),
        }
    }
    // This run's data only: what an earlier run left in the report directory goes first.
    let destination = plan.report_dir.join(&directory);
    let profile_path = plan
        .report_dir
        .join("coverage")
        .join(format!("{}.coverprofile", image.name));
    let _ = std::fs::remove_dir_all(&destination);
    let _ = std::fs::remove_file(&profile_path);
    let copied = if context.cancel.is_cancelled() {
        result.problems.push("cancelled before the data was copied".to_owned());
        false
    } else {
        copy_from_nodes(run, spec, image, &destination, context, &mut result).await
    };
    if let Some(session) = &session
        && run.cluster_kept()
        && !stopped.is_empty()
    {
        restore(session, spec, &stopped, context, &mut result).await;
    }
    if !copied {
        return result;
    }
    let (meta, counters) = count_files(&destination);
    (result.meta_files, result.counter_files) = (meta, counters);
    if meta == 0 {
        result.problems.push(format!(
            "no coverage data under {} on the nodes: was the image built with `-cover` (the `GOFLAGS` build argument reaching `go build`), and could the container write to GOCOVERDIR?",
            spec.node_dir(&image.name)
        ));
        return result;
    }
    if counters == 0 {
        result.problems.push(
            "metadata but no counter files: the process did not exit normally (Go writes counters only when main returns or os.Exit runs: handle SIGTERM and return; killed by the signal, still running or unable to write to GOCOVERDIR, it writes none)"
                .to_owned(),
        );
        return result;
    }
    convert(&destination, &profile_path, context, &mut result).await;
    result
}

/// A workload the step stopped, and how to bring it back.
struct Stopped {
    workload: Workload,
    undo: Undo,
}

enum Undo {
    /// Scale back to the replicas it had.
    Replicas(i64),
    /// Remove [`STOP_LABEL`] from the pod template's node selector.
    Reschedule,
    /// Create the deleted Pod again, as the deploy phase applied it, once it is gone.
    Recreate,
}

/// The session of a coverage step (bounded: a cluster that does not answer is a problem, not a hang).
async fn connect(plan: &Plan) -> Result<Session, String> {
    match tokio::time::timeout(REQUEST_TIMEOUT, client::connect(&plan.cluster.kubeconfig)).await {
        Ok(Ok(session)) => Ok(session),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {}s", REQUEST_TIMEOUT.as_secs())),
    }
}

/// The cluster outlives the run: bring back what was stopped, so a kept cluster runs what the
/// tests ran.
async fn restore(
    session: &Session,
    spec: &CoverageSpec,
    stopped: &[Stopped],
    context: &StepContext,
    result: &mut CoverageResult,
) {
    for entry in stopped {
        let workload = &entry.workload;
        let (done, outcome) = match &entry.undo {
            Undo::Replicas(replicas) => (
                format!("scaled back to {replicas}"),
                scale(session, workload, *replicas).await,
            ),
            Undo::Reschedule => (
                "scheduled again".to_owned(),
                set_stop_label(session, workload, false).await,
            ),
            Undo::Recreate => (
                "created again".to_owned(),
                recreate(session, workload, spec.stop_timeout, context).await,
            ),
        };
        match (outcome, &entry.undo) {
            (Ok(()), _) => {
                context.say(&format!("{}: {done} (the cluster is kept)", workload.describe()));
                result.workloads.push(format!("{}: {done}", workload.describe()));
            }
            (Err(error), Undo::Recreate) => result.problems.push(format!(
                "{} was deleted and not created again: {error}; apply it from {} (with `GOCOVERDIR` and the coverage volume the deploy phase added) once it is gone",
                workload.describe(),
                workload.deployed.location()
            )),
            (Err(error), _) => result.problems.push(format!(
                "{} stays stopped in the kept cluster: {error}",
                workload.describe()
            )),
        }
    }
}

/// Scale every workload to zero (or say why it cannot be) and wait, bounded, until their pods
/// are gone; the ones scaled, with the replicas they had.
async fn stop_workloads(
    session: &Session,
    spec: &CoverageSpec,
    found: &[Workload],
    context: &StepContext,
    result: &mut CoverageResult,
) -> Vec<Stopped> {
    let mut stopped = Vec::new();
    for workload in found {
        let stop = instrument::stop_for(&workload.kind);
        let attempt = match stop {
            Stop::ScaleToZero => Some(
                scale_to_zero(session, workload)
                    .await
                    .map(|replicas| ("scaled to 0", Some(Undo::Replicas(replicas)))),
            ),
            Stop::Unschedule => Some(
                set_stop_label(session, workload, true)
                    .await
                    .map(|()| ("unscheduled from every node", Some(Undo::Reschedule))),
            ),
            Stop::DeleteAndRecreate => Some(stop_pod(session, workload).await),
            Stop::ExitsByItself | Stop::Running => None,
        };
        let how = match (stop, attempt) {
            (_, Some(Ok((how, undo)))) => {
                if let Some(undo) = undo {
                    stopped.push(Stopped {
                        workload: workload.clone(),
                        undo,
                    });
                }
                how.to_owned()
            }
            (_, Some(Err(error))) => {
                result
                    .problems
                    .push(format!("{} was not stopped: {error}", workload.describe()));
                "not stopped".to_owned()
            }
            (Stop::ExitsByItself, None) => "exits by itself".to_owned(),
            (_, None) => {
                result.problems.push(format!(
                    "{} cannot be stopped: its data is copied while it runs (counters are written on exit)",
                    workload.describe()
                ));
                "left running".to_owned()
            }
        };
        context.say(&format!("{}: {how}", workload.describe()));
        result.workloads.push(format!("{}: {how}", workload.describe()));
    }
    if stopped.is_empty() {
        return stopped;
    }
    let waiting: Vec<Workload> = stopped.iter().map(|entry| entry.workload.clone()).collect();
    let deadline = tokio::time::Instant::now() + spec.stop_timeout;
    loop {
        let remaining = match pods_left(session, &waiting).await {
            Ok(remaining) => remaining,
            Err(error) => {
                result.problems.push(format!("could not list the pods: {error}"));
                return stopped;
            }
        };
        if remaining.is_empty() {
            context.say("every instrumented pod has exited");
            return stopped;
        }
        if tokio::time::Instant::now() >= deadline {
            result.problems.push(format!(
                "pods still running after {} (`coverage.stop_timeout`; their terminationGracePeriodSeconds may be longer): {}; their counters may be missing",
                humantime::format_duration(spec.stop_timeout),
                remaining.join(", ")
            ));
            return stopped;
        }
        tokio::select! {
            () = context.cancel.cancelled() => return stopped,
            () = tokio::time::sleep(STOP_POLL) => {}
        }
    }
}

/// `replicas: 0` through the scale subresource (as `kubectl scale` does); the replicas it had.
async fn scale_to_zero(session: &Session, workload: &Workload) -> Result<i64, String> {
    let api = workload_api(session, workload).await?;
    let replicas = match tokio::time::timeout(REQUEST_TIMEOUT, api.get(&workload.name)).await {
        Ok(Ok(object)) => object
            .data
            .pointer("/spec/replicas")
            .and_then(Value::as_i64)
            .unwrap_or(1),
        Ok(Err(error)) => return Err(error.to_string()),
        Err(_) => return Err(format!("no answer within {}s", REQUEST_TIMEOUT.as_secs())),
    };
    patch_replicas(&api, workload, 0).await?;
    Ok(replicas)
}

/// `replicas` through the scale subresource.
async fn scale(session: &Session, workload: &Workload, replicas: i64) -> Result<(), String> {
    patch_replicas(&workload_api(session, workload).await?, workload, replicas).await
}

async fn workload_api(session: &Session, workload: &Workload) -> Result<Api<DynamicObject>, String> {
    let Some((resource, _)) = session.resolve(&workload.api_version, &workload.kind).await else {
        return Err(format!(
            "the cluster serves no {} {}",
            workload.api_version, workload.kind
        ));
    };
    Ok(session.api(&resource, true, Some(&workload.namespace)))
}

/// The scale subresource's merge patch, under a field manager of its own.
async fn patch_replicas(api: &Api<DynamicObject>, workload: &Workload, replicas: i64) -> Result<(), String> {
    let patch = json!({"spec": {"replicas": replicas}});
    let params = PatchParams {
        field_manager: Some(STOP_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    match tokio::time::timeout(
        REQUEST_TIMEOUT,
        api.patch_scale(&workload.name, &params, &Patch::Merge(&patch)),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {}s", REQUEST_TIMEOUT.as_secs())),
    }
}

/// Add (or remove) [`STOP_LABEL`] in a DaemonSet's pod template node selector: a JSON merge
/// patch, so the manifest's own node selector stays as it is.
async fn set_stop_label(session: &Session, workload: &Workload, stop: bool) -> Result<(), String> {
    let api = workload_api(session, workload).await?;
    let value = if stop { json!("true") } else { Value::Null };
    let patch = json!({"spec": {"template": {"spec": {"nodeSelector": {STOP_LABEL: value}}}}});
    let params = PatchParams {
        field_manager: Some(STOP_MANAGER.to_owned()),
        ..PatchParams::default()
    };
    match tokio::time::timeout(
        REQUEST_TIMEOUT,
        api.patch(&workload.name, &params, &Patch::Merge(&patch)),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {}s", REQUEST_TIMEOUT.as_secs())),
    }
}

/// Stop a bare Pod: one that has already exited (`Succeeded`, `Failed`) wrote its counters
/// then and is left alone; a running one is deleted gracefully (its own grace period).
async fn stop_pod(session: &Session, workload: &Workload) -> Result<(&'static str, Option<Undo>), String> {
    let api = workload_api(session, workload).await?;
    let live = match tokio::time::timeout(REQUEST_TIMEOUT, api.get(&workload.name)).await {
        Ok(Ok(object)) => object,
        Ok(Err(error)) => return Err(error.to_string()),
        Err(_) => return Err(format!("no answer within {}s", REQUEST_TIMEOUT.as_secs())),
    };
    if has_exited(&live.data) {
        return Ok(("has exited by itself", None));
    }
    match tokio::time::timeout(REQUEST_TIMEOUT, api.delete(&workload.name, &DeleteParams::default())).await {
        Ok(Ok(_)) => Ok(("deleted", Some(Undo::Recreate))),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {}s", REQUEST_TIMEOUT.as_secs())),
    }
}

/// Whether a Pod's containers are done for good (`status.phase` `Succeeded` or `Failed`).
fn has_exited(pod: &Value) -> bool {
    matches!(
        pod.pointer("/status/phase").and_then(Value::as_str),
        Some("Succeeded" | "Failed")
    )
}

/// Create a deleted Pod again once it is gone (applying it while it still terminates would
/// update the dying Pod, which then disappears), as the deploy phase applied it: same object,
/// same field manager. Bounded by `within`; Ctrl-C ends the wait.
async fn recreate(
    session: &Session,
    workload: &Workload,
    within: Duration,
    context: &StepContext,
) -> Result<(), String> {
    let api = workload_api(session, workload).await?;
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout(REQUEST_TIMEOUT, api.get_opt(&workload.name)).await {
            Ok(Ok(None)) => break,
            Ok(Ok(Some(_))) => {}
            Ok(Err(error)) => return Err(error.to_string()),
            Err(_) => return Err(format!("no answer within {}s", REQUEST_TIMEOUT.as_secs())),
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "it was still terminating after {} (`coverage.stop_timeout`)",
                humantime::format_duration(within)
            ));
        }
        tokio::select! {
            () = context.cancel.cancelled() => return Err("cancelled while it was terminating".to_owned()),
            () = tokio::time::sleep(STOP_POLL) => {}
        }
    }
    apply::apply_one(session, &workload.deployed)
        .await
        .map(|_| ())
        .map_err(|error| error.message)
}

/// Whether `pod` belongs to `workload`: in its namespace, matched by its selector, and owned by
/// it (directly, or — a Deployment's — through one of its ReplicaSets), so a broad selector
/// does not wait on other workloads' pods.
fn owned_by(pod: &Pod, namespace: &str, workload: &Workload) -> bool {
    if workload.namespace != namespace {
        return false;
    }
    if workload.kind == "Pod" {
        return pod.metadata.name.as_deref() == Some(workload.name.as_str());
    }
    let labels = serde_json::to_value(pod.metadata.labels.clone().unwrap_or_default()).unwrap_or_default();
    if !workload
        .selector
        .as_ref()
        .is_some_and(|selector| selector_matches(selector, &labels))
    {
        return false;
    }
    let owners = pod.metadata.owner_references.as_deref().unwrap_or_default();
    owners.is_empty()
        || owners.iter().any(|owner| {
            (owner.kind == workload.kind && owner.name == workload.name)
                || (workload.kind == "Deployment"
                    && owner.kind == "ReplicaSet"
                    && owner.name.starts_with(&format!("{}-", workload.name)))
        })
}

/// The pods of `workloads` that still exist (terminating ones included).
async fn pods_left(session: &Session, workloads: &[Workload]) -> Result<Vec<String>, String> {
    let mut left = Vec::new();
    let mut namespaces: Vec<&str> = workloads.iter().map(|workload| workload.namespace.as_str()).collect();
    namespaces.sort_unstable();
    namespaces.dedup();
    for namespace in namespaces {
        let api: Api<Pod> = Api::namespaced(session.client.clone(), namespace);
        let pods = match tokio::time::timeout(REQUEST_TIMEOUT, api.list(&ListParams::default())).await {
            Ok(Ok(pods)) => pods,
            Ok(Err(error)) => return Err(error.to_string()),
            Err(_) => return Err(format!("no answer within {}s", REQUEST_TIMEOUT.as_secs())),
        };
        for pod in &pods.items {
            if workloads.iter().any(|workload| owned_by(pod, namespace, workload)) {
                left.push(format!(
                    "{namespace}/{}",
                    pod.metadata.name.as_deref().unwrap_or_default()
                ));
            }
        }
    }
    Ok(left)
}

/// The cluster's node containers (not kind's external load balancer of a multi-control-plane
/// cluster: it runs no pods).
async fn node_containers(run: &RunContext) -> Result<Vec<String>, String> {
    let name = &run.plan.cluster.name;
    let nodes = run.kind().nodes(name).await?;
    Ok(nodes
        .into_iter()
        .filter(|node| node != &format!("{name}-external-load-balancer"))
        .collect())
}

/// `ENGINE cp NODE:<node dir>/. DESTINATION` from every node of the cluster (a node the image
/// never ran on has no such directory: that is not a problem unless no node has it). Whether
/// anything was copied.
async fn copy_from_nodes(
    run: &RunContext,
    spec: &CoverageSpec,
    image: &CoverageImage,
    destination: &Path,
    context: &StepContext,
    result: &mut CoverageResult,
) -> bool {
    let Some(engine) = run.engine() else {
        result
            .problems
            .push("no container engine answered: nothing copied".to_owned());
        return false;
    };
    let nodes = match node_containers(run).await {
        Ok(nodes) if !nodes.is_empty() => nodes,
        Ok(_) => {
            result.problems.push(format!(
                "cluster `{}` has no nodes left to copy from",
                run.plan.cluster.name
            ));
            return false;
        }
        Err(error) => {
            result.problems.push(format!("the nodes could not be listed: {error}"));
            return false;
        }
    };
    if let Err(error) = std::fs::create_dir_all(destination) {
        result
            .problems
            .push(format!("cannot create {}: {error}", destination.display()));
        return false;
    }
    let source = spec.node_dir(&image.name);
    let mut failures = Vec::new();
    for node in &nodes {
        let copy = copy_command(&engine, node, &source, destination);
        match exec::query(&copy, COPY_TIMEOUT).await {
            Ok((true, _)) => context.say(&format!("copied {node}:{source}")),
            Ok((false, output)) => failures.push(format!("{node}: {}", output.lines().last().unwrap_or_default())),
            Err(error) => failures.push(format!("{node}: {error}")),
        }
    }
    if failures.len() == nodes.len() {
        result.problems.push(format!(
            "nothing copied from {source} on the nodes ({})",
            failures.join("; ")
        ));
        return false;
    }
    true
}

/// The copy of a node directory's contents (argv: the path never meets a shell).
pub(crate) fn copy_command(engine: &ContainerEngine, node: &str, source: &str, destination: &Path) -> ProcessSpec {
    engine
        .command()
        .arg("cp")
        .arg(format!("{node}:{source}/."))
        .arg(destination.display().to_string())
}

/// Go's raw coverage files in `directory`: (`covmeta.*`, `covcounters.*`).
fn count_files(directory: &Path) -> (usize, usize) {
    let names: Vec<String> = std::fs::read_dir(directory)
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    let count = |prefix: &str| names.iter().filter(|name| name.starts_with(prefix)).count();
    (count("covmeta."), count("covcounters."))
}

/// `go tool covdata textfmt -i DIR -o PROFILE`, then the profile's totals.
async fn convert(directory: &Path, profile_path: &Path, context: &StepContext, result: &mut CoverageResult) {
    let go = std::env::var("HYBRID_E2E_GO")
        .ok()
        .filter(|go| !go.is_empty())
        .unwrap_or_else(|| "go".to_owned());
    let command = ProcessSpec::new(&go)
        .args(["tool", "covdata", "textfmt", "-i"])
        .arg(directory.display().to_string())
        .arg("-o")
        .arg(profile_path.display().to_string());
    match exec::query(&command, COPY_TIMEOUT).await {
        Ok((true, _)) => {}
        Ok((false, output)) => {
            result
                .problems
                .push(format!("`go tool covdata textfmt` failed: {output}"));
            return;
        }
        Err(ExecError::NotFound { .. }) => {
            result.problems.push(format!(
                "`{go}` is not on PATH: the raw data is in {}; no percentage (install Go, or run `go tool covdata percent -i` on it)",
                result.directory
            ));
            return;
        }
        Err(error) => {
            result
                .problems
                .push(format!("`go tool covdata textfmt` did not run: {error}"));
            return;
        }
    }
    let text = match crate::files::read_text_capped(profile_path, crate::files::PROFILE_LIMIT) {
        Ok(text) => text,
        Err(error) => {
            result.problems.push(format!("the profile cannot be read: {error}"));
            return;
        }
    };
    match profile::read(&text) {
        Ok(read) => {
            let totals = read.total;
            result.profile = Some(format!(
                "coverage/{}",
                profile_path.file_name().unwrap_or_default().to_string_lossy()
            ));
            result.statements = Some(totals.statements);
            result.covered_statements = Some(totals.covered);
            result.percent = totals.percent();
            result.packages = read
                .packages
                .into_iter()
                .map(|(package, totals)| PackageCoverage {
                    package,
                    statements: totals.statements,
                    covered_statements: totals.covered,
                    percent: totals.percent(),
                })
                .collect();
            if let Some(percent) = result.percent {
                context.say(&format!(
                    "{percent:.1}% of statements ({} of {})",
                    totals.covered, totals.statements
                ));
                if let Some(target) = result.target_percent
                    && percent < target
                {
                    result.problems.push(format!(
                        "{percent:.1}% of statements is below `coverage.target` ({target}%)"
                    ));
                }
            }
        }
        Err(error) => result.problems.push(format!("{}: {error}", profile_path.display())),
    }
}

/// Make `<dir>/<run id>/<image>` on every node, writable by any user (DirectoryOrCreate would make it
/// root's 0755, and most images do not run as root). Best-effort: a warning says what failed.
pub(crate) async fn prepare_nodes(run: &RunContext, context: &StepContext) {
    let Some(spec) = &run.plan.coverage else {
        return;
    };
    let Some(engine) = run.engine() else {
        return;
    };
    let nodes = match node_containers(run).await {
        Ok(nodes) => nodes,
        Err(error) => {
            context.warn(&format!(
                "coverage: the nodes could not be listed to prepare {}: {error}",
                spec.dir
            ));
            return;
        }
    };
    let directories: Vec<String> = spec.images.iter().map(|image| spec.node_dir(&image.name)).collect();
    for node in nodes {
        let command = engine
            .command()
            .args(["exec", &node, "mkdir", "-p", "-m", "0777"])
            .args(directories.iter().cloned());
        match exec::query(&command, COPY_TIMEOUT).await {
            Ok((true, _)) => context.say(&format!("coverage: {} ready on {node}", directories.join(", "))),
            Ok((false, output)) => context.warn(&format!(
                "coverage: could not make {} on {node}: {output} (a container that is not root may fail to write its counters)",
                directories.join(", ")
            )),
            Err(error) => context.warn(&format!("coverage: could not make the directories on {node}: {error}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tools::EngineKind;

    #[test]
    fn the_copy_is_argv_with_the_node_path_whole() {
        let engine = ContainerEngine {
            kind: EngineKind::Podman,
            program: "podman".to_owned(),
            version: "5".to_owned(),
        };
        let copy = copy_command(
            &engine,
            "e2e-worker",
            "/coverdata/gateway",
            Path::new("/r/coverage/gateway"),
        );
        assert_eq!(copy.program, "podman");
        assert_eq!(
            copy.args,
            ["cp", "e2e-worker:/coverdata/gateway/.", "/r/coverage/gateway"]
        );
    }

    #[test]
    fn a_pod_that_has_exited_is_left_alone() {
        assert!(has_exited(&json!({"status": {"phase": "Succeeded"}})));
        assert!(has_exited(&json!({"status": {"phase": "Failed"}})));
        assert!(!has_exited(&json!({"status": {"phase": "Running"}})));
        assert!(!has_exited(&json!({"status": {"phase": "Pending"}})));
        assert!(!has_exited(&json!({})));
    }

    #[test]
    fn a_bare_pod_is_waited_for_by_its_name_a_workload_by_selector_and_owner() {
        let pod = |name: &str, labels: Value, owner: Option<(&str, &str)>| -> Pod {
            let owners =
                owner.map(|(kind, name)| json!([{"apiVersion": "apps/v1", "kind": kind, "name": name, "uid": "u"}]));
            serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": "e2e", "labels": labels, "ownerReferences": owners},
            }))
            .expect("a pod")
        };
        let workload = |kind: &str, name: &str, selector: Option<Value>| Workload {
            api_version: "v1".to_owned(),
            kind: kind.to_owned(),
            namespace: "e2e".to_owned(),
            name: name.to_owned(),
            selector,
            deployed: Arc::new(ManifestObject {
                file: "deploy/x.yaml".into(),
                document: 1,
                line: 1,
                api_version: "v1".to_owned(),
                kind: kind.to_owned(),
                name: name.to_owned(),
                namespace: Some("e2e".to_owned()),
                value: json!({}),
            }),
        };
        let probe = workload("Pod", "probe", None);
        assert!(owned_by(&pod("probe", json!({}), None), "e2e", &probe));
        assert!(!owned_by(&pod("probe-2", json!({}), None), "e2e", &probe));
        assert!(!owned_by(&pod("probe", json!({}), None), "other", &probe));
        let agent = workload("DaemonSet", "agent", Some(json!({"matchLabels": {"app": "agent"}})));
        let agent_pod = pod("agent-x1", json!({"app": "agent"}), Some(("DaemonSet", "agent")));
        assert!(owned_by(&agent_pod, "e2e", &agent));
        let other_owner = pod("agent-x2", json!({"app": "agent"}), Some(("DaemonSet", "other")));
        assert!(!owned_by(&other_owner, "e2e", &agent));
    }

    #[test]
    fn raw_files_are_told_apart() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["covmeta.abc", "covcounters.abc.1.2", "covcounters.abc.3.4", "notes.txt"] {
            std::fs::write(dir.path().join(name), b"x").expect("write");
        }
        assert_eq!(count_files(dir.path()), (1, 2));
        assert_eq!(count_files(&dir.path().join("missing")), (0, 0));
    }
}
