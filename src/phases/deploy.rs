//! Phase 4 as engine steps: `namespaces-crds` (Namespaces and CRDs first, CRDs Established,
//! default ServiceAccounts present, discovery re-run), then one step per deploy group. A group
//! applies all its objects concurrently as soon as the groups it depends on are ready, then waits
//! once for all of them; on failure it diagnoses before anything is torn down.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::RunContext;
use super::cluster::gate::{self, GateChecks, GateError};
use crate::coverage;
use crate::k8s::apply::{self, Applied, ApplyError};
use crate::k8s::client::{self, Session};
use crate::k8s::diagnose;
use crate::k8s::objects::{self, ManifestObject};
use crate::k8s::wait::{self, NotReady, WaitOptions, WaitOutcome};
use crate::k8s::watch as event_driven;
use crate::model::{Failure, FailureClass};
use crate::plan::{Plan, PlannedGroup};
use crate::runner::{Step, StepContext, StepResult};

#[cfg(test)]
mod tests;

/// The step that prepares the cluster before any group.
pub(crate) const PREPARE_STEP: &str = "namespaces-crds";
/// How long Namespaces and CRDs may take.
const PREPARE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a pod may stay unschedulable before the wait gives up on it.
const UNSCHEDULABLE_WINDOW: Duration = Duration::from_secs(30);

/// What the deploy phase needs from the plan.
#[derive(Debug, Clone)]
pub(crate) struct DeployOptions {
    pub(crate) kubeconfig: PathBuf,
    pub(crate) report_dir: PathBuf,
    pub(crate) config_file: PathBuf,
    pub(crate) namespaces: Vec<String>,
    pub(crate) crd_files: Vec<PathBuf>,
    pub(crate) groups: Vec<PlannedGroup>,
    pub(crate) apply_concurrency: usize,
    pub(crate) poll: Duration,
    pub(crate) unschedulable_window: Duration,
    /// The engine cancels the phase on the first failure: dependents of a failed group are
    /// then cancelled, not failed a second time.
    pub(crate) fail_fast: bool,
    /// Event-driven readiness (a watch per group: `mode: pipelined`) instead of polling.
    pub(crate) watch: bool,
    /// Containers of `coverage: true` images get `GOCOVERDIR` and the node directory.
    pub(crate) coverage: Option<crate::coverage::CoverageSpec>,
}

impl DeployOptions {
    pub(crate) fn from_plan(plan: &Plan) -> DeployOptions {
        DeployOptions {
            kubeconfig: plan.cluster.kubeconfig.clone(),
            report_dir: plan.report_dir.clone(),
            config_file: PathBuf::from(plan.config_file.clone().unwrap_or_else(|| "hybrid-e2e.yaml".to_owned())),
            namespaces: plan.namespaces.clone(),
            crd_files: plan.crd_files.clone(),
            groups: plan.deploy.clone(),
            apply_concurrency: plan.apply_concurrency,
            poll: plan.poll_interval,
            unschedulable_window: UNSCHEDULABLE_WINDOW,
            fail_fast: plan.fail_fast,
            watch: plan.mode == crate::config::ScheduleMode::Pipelined,
            coverage: plan.coverage.clone(),
        }
    }

    /// Whether the phase has anything to do.
    pub(crate) fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.namespaces.is_empty() && self.crd_files.is_empty()
    }
}

type Prepared = Option<Result<Arc<Session>, (String, FailureClass)>>;

/// How a group ended, for the groups that depend on it: ready, or failed with this class.
type GroupState = Option<Result<(), FailureClass>>;

/// Sends "failed" if the step ends (or panics) without saying how it went, so no dependent hangs.
struct Signal(watch::Sender<GroupState>);

impl Drop for Signal {
    fn drop(&mut self) {
        self.0.send_if_modified(|state| {
            if state.is_none() {
                *state = Some(Err(FailureClass::Infrastructure));
                true
            } else {
                false
            }
        });
    }
}

/// How long a dependent waits for the engine's fail-fast cancellation after its dependency
/// failed (the engine cancels once it has collected the failed step).
const CANCEL_GRACE: Duration = Duration::from_secs(5);

/// A group that cannot run because something before it failed: with fail-fast the engine is
/// about to cancel the phase, so it reports cancelled rather than a second failure.
/// Its own dependents learn the blocker's class at once (not the drop guard's default).
async fn blocked(
    options: &DeployOptions,
    context: &StepContext,
    signal: &Signal,
    reason: String,
    class: FailureClass,
) -> StepResult {
    // It never gets to work of its own: all its time was waiting.
    context.start_work();
    let _ = signal.0.send(Some(Err(class)));
    if options.fail_fast {
        let _ = tokio::time::timeout(CANCEL_GRACE, context.cancel.cancelled()).await;
        if context.cancel.is_cancelled() {
            return StepResult::ok();
        }
    }
    not_applied(reason, class)
}

/// The deploy phase's steps (run them all at once: they order themselves), or why there are none.
pub(crate) fn steps(run: &RunContext) -> Result<Vec<Step>, &'static str> {
    let options = DeployOptions::from_plan(&run.plan);
    if options.is_empty() {
        return Err("no namespaces, CRDs or deploy groups configured");
    }
    Ok(group_steps(options))
}

/// The steps for `options`: `namespaces-crds` first, then one per group.
pub(crate) fn group_steps(options: DeployOptions) -> Vec<Step> {
    let options = Arc::new(options);
    let (prepared_tx, prepared_rx) = watch::channel::<Prepared>(None);
    let mut ready: HashMap<String, watch::Receiver<GroupState>> = HashMap::new();
    let mut senders = Vec::new();
    for group in &options.groups {
        let (tx, rx) = watch::channel(None);
        ready.insert(group.name.clone(), rx);
        senders.push(tx);
    }
    let mut steps = Vec::with_capacity(options.groups.len() + 1);
    {
        let options = Arc::clone(&options);
        steps.push(Step::new(PREPARE_STEP, move |context: StepContext| async move {
            let result = prepare(&options, &context).await;
            let (step, prepared) = match result {
                Ok(session) => (StepResult::ok(), Ok(session)),
                Err(failure) => {
                    let cause = (failure.message.clone(), failure.class);
                    (StepResult::failed(failure), Err(cause))
                }
            };
            let _ = prepared_tx.send(Some(prepared));
            step
        }));
    }
    for (index, sender) in senders.into_iter().enumerate() {
        let options = Arc::clone(&options);
        let group = options.groups[index].clone();
        let mut prepared = prepared_rx.clone();
        let dependencies: Vec<(String, watch::Receiver<GroupState>)> = group
            .depends_on
            .iter()
            .filter_map(|name| ready.get(name).map(|rx| (name.clone(), rx.clone())))
            .collect();
        steps.push(Step::new(group.name.clone(), move |context: StepContext| async move {
            let signal = Signal(sender);
            let prepared_state: Prepared = tokio::select! {
                biased;
                () = context.cancel.cancelled() => return StepResult::ok(),
                state = prepared.wait_for(Option::is_some) => state.ok().and_then(|state| state.clone()),
            };
            let session = match prepared_state {
                Some(Ok(session)) => session,
                // A cancelled phase is not this group's failure.
                _ if context.cancel.is_cancelled() => return StepResult::ok(),
                Some(Err((message, class))) => {
                    let reason = format!("preparing the cluster failed: {message}");
                    return blocked(&options, &context, &signal, reason, class).await;
                }
                None => {
                    let reason = "preparing the cluster did not finish".to_owned();
                    return blocked(&options, &context, &signal, reason, FailureClass::Infrastructure).await;
                }
            };
            for (name, mut receiver) in dependencies {
                context.say(&format!("waiting for group `{name}` to be ready"));
                let state = tokio::select! {
                    biased;
                    () = context.cancel.cancelled() => return StepResult::ok(),
                    state = receiver.wait_for(Option::is_some) => state.ok().and_then(|state| *state),
                };
                if context.cancel.is_cancelled() {
                    return StepResult::ok();
                }
                match state {
                    Some(Ok(())) => {}
                    failed => {
                        let class = match failed {
                            Some(Err(class)) => class,
                            _ => FailureClass::Infrastructure,
                        };
                        let reason = format!("group `{name}`, which it depends on, did not become ready");
                        return blocked(&options, &context, &signal, reason, class).await;
                    }
                }
            }
            // Everything it depends on is ready: the group's own clock starts now.
            context.start_work();
            let result = deploy_group(&options, &group, &session, &context).await;
            let state = match (&result.failure, context.cancel.is_cancelled()) {
                (Some(failure), _) => Err(failure.class),
                // Cancelled mid-wait: not ready, and nobody's fault (dependents see the cancel).
                (None, true) => Err(FailureClass::Infrastructure),
                (None, false) => Ok(()),
            };
            let _ = signal.0.send(Some(state));
            result
        }));
    }
    steps
}

/// A group never applied; the class is its blocker's (an infrastructure failure upstream is
/// not this group's application bug).
fn not_applied(reason: String, class: FailureClass) -> StepResult {
    StepResult::failed(Failure::new(class, format!("not applied: {reason}")))
}

fn apply_failure(errors: &[ApplyError]) -> Failure {
    let first = &errors[0];
    let mut message = first.message.clone();
    if errors.len() > 1 {
        message.push_str(&format!(" (and {} more apply error(s))", errors.len() - 1));
    }
    let mut failure = Failure::new(first.class, message)
        .at(first.object.file.display().to_string(), Some(first.object.line))
        .tail(errors.iter().map(|error| error.message.clone()).collect());
    if let Some(hint) = &first.hint {
        failure = failure.hint(hint.clone());
    }
    failure
}

/// Namespaces (from the config and from every group) and CRDs first; wait for them.
async fn prepare(options: &DeployOptions, context: &StepContext) -> Result<Arc<Session>, Failure> {
    let session = client::connect(&options.kubeconfig).await.map_err(|error| {
        Failure::new(FailureClass::Infrastructure, error.to_string())
            .hint("the cluster phase exported this kubeconfig; is the cluster still running?")
    })?;
    let mut wanted: Vec<Arc<ManifestObject>> = options
        .namespaces
        .iter()
        .map(|name| Arc::new(objects::namespace(name, &options.config_file)))
        .collect();
    let crds = objects::load(&options.crd_files).map_err(|error| object_failure(&error))?;
    wanted.extend(crds.into_iter().map(Arc::new));
    for group in &options.groups {
        // A group whose manifests do not load reports that itself.
        if let Ok(found) = objects::load(&group.files) {
            wanted.extend(
                found
                    .into_iter()
                    .filter(|object| object.is_namespace() || object.is_crd())
                    .map(Arc::new),
            );
        }
    }
    let mut seen = BTreeSet::new();
    wanted.retain(|object| seen.insert((object.kind.clone(), object.name.clone())));
    let session = Arc::new(session);
    if wanted.is_empty() {
        return Ok(session);
    }
    context.say(&format!("applying {} Namespace/CRD object(s)", wanted.len()));
    let (applied, errors) = split(apply::apply_all(&session, &wanted, options.apply_concurrency).await);
    if !errors.is_empty() {
        return Err(apply_failure(&errors));
    }
    let outcome = wait_for(
        options,
        &session,
        &applied,
        WaitOptions {
            timeout: PREPARE_TIMEOUT,
            poll: options.poll,
            unschedulable_window: options.unschedulable_window,
        },
        context,
    )
    .await;
    if let Some(failure) = wait_failure(&session, outcome, PREPARE_TIMEOUT, &options.report_dir).await {
        return Err(failure);
    }
    if context.cancel.is_cancelled() {
        return Ok(session);
    }
    let namespaces: Vec<String> = applied
        .iter()
        .filter(|applied| applied.object.is_namespace())
        .map(|applied| applied.object.name.clone())
        .collect();
    if !namespaces.is_empty() {
        let checks = GateChecks {
            service_accounts: namespaces,
            ..GateChecks::default()
        };
        let waited = gate::wait_until_ready(
            &session.client,
            &checks,
            PREPARE_TIMEOUT,
            gate::poll(options.poll, options.watch),
            &context.cancel,
            &mut |line| context.say(&line),
        )
        .await;
        match waited {
            Ok(()) => {}
            Err(GateError::Cancelled) => return Ok(session),
            Err(error) => return Err(Failure::new(FailureClass::Infrastructure, error.to_string())),
        }
    }
    if applied.iter().any(|applied| applied.object.is_crd()) {
        session
            .rediscover()
            .await
            .map_err(|error| Failure::new(FailureClass::Infrastructure, format!("after the CRDs: {error}")))?;
        context.say("CRDs Established; discovery refreshed");
    }
    Ok(session)
}

fn object_failure(error: &objects::ObjectError) -> Failure {
    let mut failure = Failure::new(FailureClass::Application, error.to_string());
    if let Some((file, line)) = error.file() {
        failure = failure.at(file.display().to_string(), line);
    }
    failure
}

fn split(results: Vec<Result<Applied, ApplyError>>) -> (Vec<Applied>, Vec<ApplyError>) {
    let mut applied = Vec::new();
    let mut errors = Vec::new();
    for result in results {
        match result {
            Ok(object) => applied.push(object),
            Err(error) => errors.push(error),
        }
    }
    (applied, errors)
}

/// Apply a group concurrently, then wait once for what it waits for.
async fn deploy_group(
    options: &DeployOptions,
    group: &PlannedGroup,
    session: &Session,
    context: &StepContext,
) -> StepResult {
    let started = Instant::now();
    let found = match objects::load(&group.files) {
        Ok(found) => found,
        Err(error) => return StepResult::failed(object_failure(&error)),
    };
    // A wait_for that names nothing is a config error: say so before touching the cluster
    // (preflight says it first; the manifests may have changed since).
    let problems = objects::wait_for_problems(&group.wait_for, &found);
    if !problems.is_empty() {
        return StepResult::failed(
            Failure::new(
                FailureClass::Application,
                format!("deploy group `{}`: {}", group.name, problems.join("; ")),
            )
            .file(options.config_file.display().to_string()),
        );
    }
    let mut instrumented = Vec::new();
    let objects: Vec<Arc<ManifestObject>> = found
        .into_iter()
        .filter(ManifestObject::belongs_to_its_group)
        .map(|mut object| {
            if let Some(spec) = &options.coverage {
                let images = coverage::instrument::instrument(&mut object.value, spec);
                if !images.is_empty() {
                    instrumented.push(format!("{} ({})", object.describe(), images.join(", ")));
                }
            }
            Arc::new(object)
        })
        .collect();
    if !instrumented.is_empty() {
        context.say(&format!(
            "coverage: GOCOVERDIR and the node directory added to {}",
            instrumented.join("; ")
        ));
    }
    context.say(&format!(
        "applying {} object(s) from {} file(s), {} at a time",
        objects.len(),
        group.files.len(),
        options.apply_concurrency
    ));
    let (applied, errors) = split(apply::apply_all(session, &objects, options.apply_concurrency).await);
    if !errors.is_empty() {
        return StepResult::failed(apply_failure(&errors));
    }
    context.say(&format!("applied {} object(s)", applied.len()));
    // Each object once, however many selectors or files name it (an object in two files is
    // applied twice, waited for and diagnosed once).
    let mut seen = std::collections::HashSet::new();
    let waited_for: Vec<Applied> = applied
        .into_iter()
        .filter(|applied| {
            group.wait_for.is_empty() || group.wait_for.iter().any(|selector| applied.object.matches(selector))
        })
        .filter(|applied| {
            seen.insert((
                applied.resource.api_version.clone(),
                applied.resource.kind.clone(),
                applied.namespace.clone(),
                applied.object.name.clone(),
            ))
        })
        .collect();
    let timeout = group
        .timeout
        .saturating_sub(started.elapsed())
        .max(Duration::from_secs(1));
    let outcome = wait_for(
        options,
        session,
        &waited_for,
        WaitOptions {
            timeout,
            poll: options.poll,
            unschedulable_window: options.unschedulable_window,
        },
        context,
    )
    .await;
    match wait_failure(session, outcome, group.timeout, &options.report_dir).await {
        Some(failure) => StepResult::failed(failure),
        None => StepResult::ok(),
    }
}

/// The one readiness wait, polling or event-driven as the mode says.
async fn wait_for(
    options: &DeployOptions,
    session: &Session,
    objects: &[Applied],
    wait_options: WaitOptions,
    context: &StepContext,
) -> WaitOutcome {
    let mut say = |line: String| context.say(&line);
    if options.watch {
        event_driven::wait(session, objects, wait_options, &context.cancel, &mut say).await
    } else {
        wait::wait(session, objects, wait_options, &context.cancel, &mut say).await
    }
}

/// The failure a wait ended in, diagnosed (`None` when ready or cancelled).
async fn wait_failure(
    session: &Session,
    outcome: WaitOutcome,
    timeout: Duration,
    report_dir: &std::path::Path,
) -> Option<Failure> {
    let (not_ready, timed_out, last_error) = match outcome {
        WaitOutcome::Ready | WaitOutcome::Cancelled => return None,
        WaitOutcome::Failed(not_ready) => (not_ready, false, None),
        WaitOutcome::TimedOut { not_ready, last_error } => (not_ready, true, last_error),
    };
    let diagnosis = diagnose::diagnose(session, &not_ready, report_dir).await;
    let cause: &NotReady = not_ready
        .iter()
        .find(|entry| entry.problem.is_some())
        .or_else(|| not_ready.first())?;
    let object = &cause.applied.object;
    let mut message = match &cause.problem {
        Some(problem) => format!("{} failed: {problem}", object.describe()),
        None => format!(
            "{} not ready within {}: {}",
            object.describe(),
            humantime::format_duration(timeout),
            cause.status
        ),
    };
    let others = not_ready.len() - 1;
    if others > 0 {
        message.push_str(&format!(" ({others} other object(s) not ready either)"));
    }
    if timed_out && let Some(error) = &last_error {
        message.push_str(&format!("; last API error: {error}"));
    }
    // Timed out without ever reading one of the objects while the API kept failing: the
    // cluster, not the manifests.
    let api_unreachable = timed_out && last_error.is_some() && not_ready.iter().all(|entry| entry.last_seen.is_none());
    let class = cause
        .problem
        .as_ref()
        .map(|problem| problem.class)
        .or(diagnosis.class)
        .unwrap_or(if api_unreachable {
            FailureClass::Infrastructure
        } else {
            FailureClass::Application
        });
    let mut hint = cause
        .problem
        .as_ref()
        .and_then(|problem| problem.hint.map(str::to_owned))
        .or(diagnosis.hint.clone())
        .or_else(|| {
            api_unreachable.then(|| {
                "the API server never answered for these objects; is the cluster still up (kind logs, `docker ps`)?"
                    .to_owned()
            })
        })
        .unwrap_or_default();
    if let Some(summary) = diagnosis.files.iter().find(|file| file.ends_with(".txt")) {
        if !hint.is_empty() {
            hint.push_str("; ");
        }
        hint.push_str(&format!("diagnostics: {summary}"));
    }
    let mut failure = Failure::new(class, message)
        .at(object.file.display().to_string(), Some(object.line))
        .tail(diagnosis.digest);
    if let Some(excerpt) = diagnosis.excerpt {
        failure = failure.excerpt(excerpt);
    }
    if !hint.is_empty() {
        failure = failure.hint(hint);
    }
    Some(failure)
}

/// How long the look at the deployed objects after a failed suite may wait for them.
const AFTER_TESTS_WAIT: Duration = Duration::from_secs(3);

/// After the suite failed, before anything is torn down: every object the groups deployed
/// that is not ready now, diagnosed into `diagnostics/deploy/` as a failed group's are.
/// Best-effort and bounded: `None` when the cluster does not answer. Returns how many objects
/// were not ready and the diagnostics files written.
pub(crate) async fn diagnose_deployed(
    options: &DeployOptions,
    cancel: &tokio_util::sync::CancellationToken,
) -> Option<(usize, Vec<String>)> {
    use kube::discovery::Scope;
    let session = tokio::time::timeout(Duration::from_secs(15), client::connect(&options.kubeconfig))
        .await
        .ok()?
        .ok()?;
    let mut seen = std::collections::HashSet::new();
    let mut deployed = Vec::new();
    for group in &options.groups {
        let Ok(found) = objects::load(&group.files) else {
            continue;
        };
        for object in found.into_iter().filter(ManifestObject::belongs_to_its_group) {
            let Some((resource, capabilities)) = session.resolve(&object.api_version, &object.kind).await else {
                continue;
            };
            let namespace = (capabilities.scope == Scope::Namespaced)
                .then(|| object.namespace.clone().unwrap_or_else(|| "default".to_owned()));
            if seen.insert((
                resource.api_version.clone(),
                resource.kind.clone(),
                namespace.clone(),
                object.name.clone(),
            )) {
                deployed.push(Applied {
                    object: Arc::new(object),
                    resource,
                    namespace,
                });
            }
        }
    }
    if deployed.is_empty() {
        return Some((0, Vec::new()));
    }
    let outcome = wait::wait(
        &session,
        &deployed,
        WaitOptions {
            timeout: AFTER_TESTS_WAIT,
            poll: options.poll.min(Duration::from_secs(1)),
            unschedulable_window: options.unschedulable_window,
        },
        cancel,
        &mut |_| {},
    )
    .await;
    let not_ready = match outcome {
        WaitOutcome::Ready | WaitOutcome::Cancelled => return Some((0, Vec::new())),
        WaitOutcome::Failed(not_ready) | WaitOutcome::TimedOut { not_ready, .. } => not_ready,
    };
    let diagnosis = diagnose::diagnose(&session, &not_ready, &options.report_dir).await;
    Some((not_ready.len(), diagnosis.files))
}
