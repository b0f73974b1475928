//! One readiness wait for a set of applied objects: poll (one LIST per resource and namespace
//! per tick), evaluate the kstatus rules, report only changes, and fail fast on pod states that
//! will not get better on their own. One overall deadline; `spec.progressDeadlineSeconds` per
//! object where it is set.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, ListParams};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::apply::Applied;
use super::client::{REQUEST_TIMEOUT, Session};
use super::readiness::{self, Context, Problem, Readiness};
use crate::model::FailureClass;

/// How the wait runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WaitOptions {
    pub(crate) timeout: Duration,
    pub(crate) poll: Duration,
    /// How long a pod may stay unschedulable before the wait fails (the scheduler retries, and
    /// a node may still be joining).
    pub(crate) unschedulable_window: Duration,
}

/// An object that did not become ready.
#[derive(Debug, Clone)]
pub(crate) struct NotReady {
    pub(crate) applied: Applied,
    /// The object as last read from the server.
    pub(crate) last_seen: Option<Value>,
    /// What readiness said last.
    pub(crate) status: String,
    /// Set when it failed (rather than still being in progress).
    pub(crate) problem: Option<Problem>,
}

/// How the wait ended.
#[derive(Debug)]
pub(crate) enum WaitOutcome {
    Ready,
    /// Something will not become ready; every object not ready at that moment is listed.
    Failed(Vec<NotReady>),
    TimedOut {
        not_ready: Vec<NotReady>,
        last_error: Option<String>,
    },
    Cancelled,
}

struct Tracked {
    applied: Applied,
    last_seen: Option<Value>,
    message: Option<String>,
    ready: bool,
    problem: Option<Problem>,
    unschedulable_since: Option<Instant>,
    deadline: Option<Instant>,
}

impl Tracked {
    fn new(applied: &Applied, started: Instant) -> Tracked {
        Tracked {
            applied: applied.clone(),
            last_seen: None,
            message: None,
            ready: false,
            problem: None,
            unschedulable_since: None,
            deadline: progress_deadline(applied, started),
        }
    }

    fn not_ready(&self) -> NotReady {
        NotReady {
            applied: self.applied.clone(),
            last_seen: self.last_seen.clone(),
            status: self.message.clone().unwrap_or_else(|| "not seen yet".to_owned()),
            problem: self.problem.clone(),
        }
    }
}

/// Storage classes that bind on first consumer (the default class also as ""), best effort.
pub(crate) async fn readiness_context(session: &Session) -> Context {
    let api: Api<StorageClass> = Api::all(session.client.clone());
    let mut context = Context::default();
    let Ok(Ok(list)) = tokio::time::timeout(REQUEST_TIMEOUT, api.list(&ListParams::default())).await else {
        return context;
    };
    for class in list.items {
        if class.volume_binding_mode.as_deref() != Some("WaitForFirstConsumer") {
            continue;
        }
        let name = class.metadata.name.clone().unwrap_or_default();
        let default = class
            .metadata
            .annotations
            .as_ref()
            .and_then(|annotations| annotations.get("storageclass.kubernetes.io/is-default-class"))
            .is_some_and(|value| value == "true");
        if default {
            context.wait_for_first_consumer.insert(String::new());
        }
        context.wait_for_first_consumer.insert(name);
    }
    context
}

/// Whether `labels` satisfy a `LabelSelector` (matchLabels and matchExpressions).
pub(crate) fn selector_matches(selector: &Value, labels: &Value) -> bool {
    let label = |key: &str| labels.get(key).and_then(Value::as_str);
    if let Some(required) = selector.get("matchLabels").and_then(Value::as_object)
        && required.iter().any(|(key, value)| label(key) != value.as_str())
    {
        return false;
    }
    for expression in selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = expression.get("key").and_then(Value::as_str).unwrap_or("");
        let values: Vec<&str> = expression
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let ok = match expression.get("operator").and_then(Value::as_str).unwrap_or("") {
            "In" => label(key).is_some_and(|value| values.contains(&value)),
            "NotIn" => label(key).is_none_or(|value| !values.contains(&value)),
            "Exists" => label(key).is_some(),
            "DoesNotExist" => label(key).is_none(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// The pod selector of a workload: `spec.selector`, else its template's labels.
pub(crate) fn pod_selector(object: &Value) -> Option<Value> {
    if object.get("kind").and_then(Value::as_str) == Some("Pod") {
        return None;
    }
    if let Some(selector) = object
        .pointer("/spec/selector")
        .filter(|selector| selector.get("matchLabels").is_some() || selector.get("matchExpressions").is_some())
    {
        return Some(selector.clone());
    }
    let labels = object.pointer("/spec/template/metadata/labels")?;
    Some(serde_json::json!({ "matchLabels": labels }))
}

/// The pods in `pods` that belong to `object` (a workload), or the pod itself. Pods being
/// deleted (a replaced rollout's) are left out: their states are history, not the problem.
pub(crate) fn pods_of<'a>(object: &Value, pods: &'a [Value]) -> Vec<&'a Value> {
    let mut owned = matching_pods(object, pods);
    owned.retain(|pod| pod.pointer("/metadata/deletionTimestamp").is_none());
    owned
}

fn matching_pods<'a>(object: &Value, pods: &'a [Value]) -> Vec<&'a Value> {
    let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    if object.get("kind").and_then(Value::as_str) == Some("Pod") {
        return pods
            .iter()
            .filter(|pod| pod.pointer("/metadata/name").and_then(Value::as_str) == Some(name))
            .collect();
    }
    // Owned directly (a Job's, StatefulSet's, DaemonSet's, ReplicaSet's pods), or selected
    // (a Deployment's pods belong to its ReplicaSets). A pod some other controller owns is not
    // this workload's even when its labels match (a Job's pods labelled like a Deployment's).
    let uid = object.pointer("/metadata/uid").and_then(Value::as_str);
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or("");
    let is_deployment = kind == "Deployment";
    let selector = pod_selector(object);
    pods.iter()
        .filter(|pod| {
            let owners = pod
                .pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .map(Vec::as_slice)
                .unwrap_or_default();
            // Without a uid (the object as written, never read back) the owner's kind and name
            // identify it.
            let owns = |owner: &Value| match uid {
                Some(uid) => owner.get("uid").and_then(Value::as_str) == Some(uid),
                None => {
                    owner.get("kind").and_then(Value::as_str) == Some(kind)
                        && owner.get("name").and_then(Value::as_str) == Some(name)
                }
            };
            if owners.iter().any(owns) {
                return true;
            }
            let selected = || {
                selector.as_ref().is_some_and(|selector| {
                    let labels = pod.pointer("/metadata/labels").cloned().unwrap_or(Value::Null);
                    selector_matches(selector, &labels)
                })
            };
            let controller = owners
                .iter()
                .find(|owner| owner.get("controller").and_then(Value::as_bool) == Some(true));
            match controller {
                Some(controller) => {
                    is_deployment && controller.get("kind").and_then(Value::as_str) == Some("ReplicaSet") && selected()
                }
                None => selected(),
            }
        })
        .collect()
}

fn has_pods(object: &Value) -> bool {
    matches!(
        object.get("kind").and_then(Value::as_str),
        Some("Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" | "Pod")
    )
}

/// The object as the server returned it, with the type the list items leave out.
fn typed(mut item: Value, applied: &Applied) -> Value {
    if let Some(map) = item.as_object_mut() {
        map.entry("apiVersion")
            .or_insert_with(|| Value::String(applied.resource.api_version.clone()));
        map.entry("kind")
            .or_insert_with(|| Value::String(applied.resource.kind.clone()));
    }
    item
}

/// A LIST response with its items as JSON, decoded once: the readiness rules read JSON, so a
/// typed decode (`DynamicObject`, `Pod`) and its conversion back to JSON would only cost time
/// (they were 2–3× the parse itself in `benches/deploy.rs`).
#[derive(Debug, serde::Deserialize)]
struct ValueList {
    #[serde(default)]
    items: Option<Vec<Value>>,
}

impl ValueList {
    fn decode(body: &[u8]) -> serde_json::Result<Vec<Value>> {
        Ok(serde_json::from_slice::<ValueList>(body)?.items.unwrap_or_default())
    }
}

/// LIST `url` (a collection's path, e.g. `Api::resource_url`), through kube's client (its
/// retries, auth and error mapping), the items as JSON.
async fn list_values(session: &Session, url: &str) -> kube::Result<Vec<Value>> {
    let mut request = kube::core::Request::new(url)
        .list(&ListParams::default())
        .map_err(kube::Error::BuildRequest)?;
    request.extensions_mut().insert("list");
    Ok(session
        .client
        .request::<ValueList>(request)
        .await?
        .items
        .unwrap_or_default())
}

/// Listed pods as the readiness rules read them (list items leave the type out).
fn pod_values(items: Vec<Value>) -> Vec<Value> {
    items
        .into_iter()
        .map(|mut value| {
            if let Some(map) = value.as_object_mut() {
                map.insert("apiVersion".to_owned(), Value::String("v1".to_owned()));
                map.insert("kind".to_owned(), Value::String("Pod".to_owned()));
            }
            value
        })
        .collect()
}

/// List `namespace`'s pods.
pub(crate) async fn list_pods(session: &Session, namespace: &str) -> Result<Vec<Value>, String> {
    let api: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(session.client.clone(), namespace);
    match tokio::time::timeout(REQUEST_TIMEOUT, list_values(session, api.resource_url())).await {
        Ok(Ok(items)) => Ok(pod_values(items)),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("listing pods timed out".to_owned()),
    }
}

/// `from + after`, saturating: a timeout or `progressDeadlineSeconds` past what the clock holds
/// means "no sooner than a year" instead of a panic (both the polling and the watching wait).
pub(crate) fn deadline_after(from: Instant, after: Duration) -> Instant {
    from.checked_add(after)
        .unwrap_or_else(|| from + Duration::from_secs(365 * 24 * 3600))
}

/// Wait until every object in `objects` is ready, one fails, the deadline passes or `cancel` fires.
/// `on_change` gets a line whenever an object's status changes.
pub(crate) async fn wait(
    session: &Session,
    objects: &[Applied],
    options: WaitOptions,
    cancel: &CancellationToken,
    on_change: &mut (dyn FnMut(String) + Send),
) -> WaitOutcome {
    let started = Instant::now();
    // Saturating: a timeout past what the clock holds means "no sooner than a year".
    let deadline = deadline_after(started, options.timeout);
    let context = readiness_context(session).await;
    let mut tracked: Vec<Tracked> = objects.iter().map(|applied| Tracked::new(applied, started)).collect();
    let mut last_error: Option<String> = None;
    loop {
        let now = Instant::now();
        for ((_, _, namespace), indexes) in &pending_lists(&tracked) {
            let applied = &tracked[indexes[0]].applied;
            let api = session.api(&applied.resource, namespace.is_some(), namespace.as_deref());
            let request_timeout =
                REQUEST_TIMEOUT.min(deadline.saturating_duration_since(now).max(Duration::from_secs(1)));
            let listed = tokio::select! {
                biased;
                () = cancel.cancelled() => return WaitOutcome::Cancelled,
                listed = tokio::time::timeout(request_timeout, list_values(session, api.resource_url())) => listed,
            };
            match listed {
                Ok(Ok(items)) => observe_list(&mut tracked, indexes, items, &context, on_change),
                Ok(Err(error)) => last_error = Some(format!("listing {}: {error}", applied.resource.plural)),
                Err(_) => last_error = Some(format!("listing {} timed out", applied.resource.plural)),
            }
        }
        // Pods of workloads still pending: fail fast on states that will not heal.
        for namespace in pod_namespaces(&tracked) {
            let listed = tokio::select! {
                biased;
                () = cancel.cancelled() => return WaitOutcome::Cancelled,
                listed = list_pods(session, &namespace) => listed,
            };
            match listed {
                Ok(pods) => check_pods(
                    &mut tracked,
                    &namespace,
                    &pods,
                    now,
                    options.unschedulable_window,
                    on_change,
                ),
                Err(error) => last_error = Some(format!("listing pods in {namespace}: {error}")),
            }
        }
        check_deadlines(&mut tracked, now);
        if tracked.iter().all(|entry| entry.ready) {
            return WaitOutcome::Ready;
        }
        if tracked.iter().any(|entry| entry.problem.is_some()) {
            return WaitOutcome::Failed(
                tracked
                    .iter()
                    .filter(|entry| !entry.ready)
                    .map(Tracked::not_ready)
                    .collect(),
            );
        }
        if Instant::now() >= deadline {
            return WaitOutcome::TimedOut {
                not_ready: tracked
                    .iter()
                    .filter(|entry| !entry.ready)
                    .map(Tracked::not_ready)
                    .collect(),
                last_error,
            };
        }
        let pause = options.poll.min(deadline.saturating_duration_since(Instant::now()));
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = cancel.cancelled() => return WaitOutcome::Cancelled,
        }
    }
}

/// One LIST per (resource, namespace) with objects still pending: the tracked indexes of each.
fn pending_lists(tracked: &[Tracked]) -> BTreeMap<(String, String, Option<String>), Vec<usize>> {
    let mut lists: BTreeMap<(String, String, Option<String>), Vec<usize>> = BTreeMap::new();
    for (index, entry) in tracked.iter().enumerate().filter(|(_, entry)| !entry.ready) {
        let resource = &entry.applied.resource;
        lists
            .entry((
                resource.api_version.clone(),
                resource.plural.clone(),
                entry.applied.namespace.clone(),
            ))
            .or_default()
            .push(index);
    }
    lists
}

/// Fold one LIST's items into the objects at `indexes`: each found by name, typed, and judged by
/// the readiness rules.
fn observe_list(
    tracked: &mut [Tracked],
    indexes: &[usize],
    items: Vec<Value>,
    context: &Context,
    on_change: &mut (dyn FnMut(String) + Send),
) {
    let mut by_name: HashMap<String, Value> = HashMap::new();
    for item in items {
        let name = item
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        by_name.insert(name, item);
    }
    for &index in indexes {
        let entry = &mut tracked[index];
        // `get`, not `remove`: the same object may be tracked twice (two files, one name).
        let Some(value) = by_name.get(&entry.applied.object.name).cloned() else {
            set_message(entry, "not found on the server (deleted?)".to_owned(), on_change);
            continue;
        };
        let value = typed(value, &entry.applied);
        match readiness::evaluate(&value, context) {
            Readiness::Current => {
                entry.ready = true;
                set_message(entry, "ready".to_owned(), on_change);
            }
            Readiness::InProgress(message) => set_message(entry, message, on_change),
            Readiness::Failed(problem) => {
                set_message(entry, format!("failed: {problem}"), on_change);
                entry.problem = Some(problem);
            }
        }
        entry.last_seen = Some(value);
    }
}

/// Namespaces whose pods the pending workloads need checked.
fn pod_namespaces(tracked: &[Tracked]) -> BTreeSet<String> {
    tracked
        .iter()
        .filter(|entry| !entry.ready && entry.problem.is_none())
        .filter(|entry| entry.last_seen.as_ref().is_some_and(has_pods))
        .filter_map(|entry| entry.applied.namespace.clone())
        .collect()
}

/// Match `namespace`'s pods to their pending owners; fail fast on states that will not heal, and
/// on pods unschedulable for longer than `unschedulable_window`.
fn check_pods(
    tracked: &mut [Tracked],
    namespace: &str,
    pods: &[Value],
    now: Instant,
    unschedulable_window: Duration,
    on_change: &mut (dyn FnMut(String) + Send),
) {
    for entry in tracked
        .iter_mut()
        .filter(|entry| !entry.ready && entry.problem.is_none())
        .filter(|entry| entry.applied.namespace.as_deref() == Some(namespace))
    {
        let Some(object) = &entry.last_seen else { continue };
        let owned = pods_of(object, pods);
        let owner_kind = entry.applied.object.kind.as_str();
        let failing = owned
            .iter()
            .find_map(|pod| readiness::owned_pod_problem(pod, owner_kind).map(|problem| (pod, problem)));
        if let Some((pod, problem)) = failing {
            let pod = pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("?");
            set_message(entry, format!("failed: pod {pod}: {problem}"), on_change);
            entry.problem = Some(problem);
            continue;
        }
        match owned.iter().find_map(|pod| readiness::unschedulable(pod)) {
            Some(message) => {
                let since = *entry.unschedulable_since.get_or_insert(now);
                if now.duration_since(since) >= unschedulable_window {
                    set_message(entry, format!("failed: unschedulable: {message}"), on_change);
                    entry.problem = Some(readiness::unschedulable_problem(message));
                }
            }
            None => entry.unschedulable_since = None,
        }
    }
}

/// Objects past their own `spec.progressDeadlineSeconds` fail.
fn check_deadlines(tracked: &mut [Tracked], now: Instant) {
    for entry in tracked
        .iter_mut()
        .filter(|entry| !entry.ready && entry.problem.is_none())
    {
        if let Some(limit) = entry.deadline
            && now >= limit
        {
            entry.problem = Some(progress_deadline_problem(&entry.applied, entry.message.as_deref()));
        }
    }
}

/// When an object applied at `started` is past its own `spec.progressDeadlineSeconds` (both
/// waits).
pub(crate) fn progress_deadline(applied: &Applied, started: Instant) -> Option<Instant> {
    progress_deadline_seconds(applied).map(|seconds| deadline_after(started, Duration::from_secs(seconds)))
}

fn progress_deadline_seconds(applied: &Applied) -> Option<u64> {
    applied
        .object
        .value
        .pointer("/spec/progressDeadlineSeconds")
        .and_then(Value::as_u64)
}

/// The failure of an object past its `progressDeadlineSeconds`, with its last status.
pub(crate) fn progress_deadline_problem(applied: &Applied, status: Option<&str>) -> Problem {
    Problem {
        reason: "ProgressDeadlineExceeded".to_owned(),
        message: format!(
            "not ready within its progressDeadlineSeconds ({}s): {}",
            progress_deadline_seconds(applied).unwrap_or(0),
            status.unwrap_or("no status")
        ),
        class: FailureClass::Application,
        hint: None,
    }
}

/// The wait's first tick over response bodies already fetched, for `benches/deploy.rs` (through
/// `bench_support`): the same steps in the same order as [`wait`], the bodies decoded as kube
/// decodes them (the items as JSON, as [`list_values`] does).
pub(crate) struct FetchedTick {
    tracked: Vec<Tracked>,
    context: Context,
}

/// What a tick left: how many objects are ready, failed or still pending, and how many bodies
/// did not decode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TickCounts {
    pub(crate) ready: usize,
    pub(crate) failed: usize,
    pub(crate) pending: usize,
    pub(crate) undecodable: usize,
}

impl FetchedTick {
    pub(crate) fn new(objects: &[Applied]) -> FetchedTick {
        let started = Instant::now();
        FetchedTick {
            tracked: objects.iter().map(|applied| Tracked::new(applied, started)).collect(),
            context: Context::default(),
        }
    }

    /// One tick: `list(resource, namespace)` and `pods(namespace)` answer with the body of that
    /// LIST. Pods unschedulable at all fail (a zero window).
    pub(crate) fn run(
        &mut self,
        mut list: impl FnMut(&kube::discovery::ApiResource, Option<&str>) -> Vec<u8>,
        mut pods: impl FnMut(&str) -> Vec<u8>,
    ) -> TickCounts {
        let now = Instant::now();
        let mut undecodable = 0;
        let mut on_change = |_: String| {};
        for ((_, _, namespace), indexes) in &pending_lists(&self.tracked) {
            let body = list(&self.tracked[indexes[0]].applied.resource, namespace.as_deref());
            match ValueList::decode(&body) {
                Ok(items) => observe_list(&mut self.tracked, indexes, items, &self.context, &mut on_change),
                Err(_) => undecodable += 1,
            }
        }
        for namespace in pod_namespaces(&self.tracked) {
            let body = pods(&namespace);
            match ValueList::decode(&body) {
                Ok(items) => check_pods(
                    &mut self.tracked,
                    &namespace,
                    &pod_values(items),
                    now,
                    Duration::ZERO,
                    &mut on_change,
                ),
                Err(_) => undecodable += 1,
            }
        }
        check_deadlines(&mut self.tracked, now);
        let ready = self.tracked.iter().filter(|entry| entry.ready).count();
        let failed = self.tracked.iter().filter(|entry| entry.problem.is_some()).count();
        TickCounts {
            ready,
            failed,
            pending: self.tracked.len() - ready - failed,
            undecodable,
        }
    }
}

fn set_message(entry: &mut Tracked, message: String, on_change: &mut (dyn FnMut(String) + Send)) {
    if entry.message.as_deref() != Some(message.as_str()) {
        on_change(format!("{}: {message}", entry.applied.object.describe()));
        entry.message = Some(message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deadlines_past_what_the_clock_holds_saturate_instead_of_panicking() {
        let now = Instant::now();
        // `progressDeadlineSeconds: 18446744073709551615` (u64::MAX) or `--timeout` near Duration::MAX.
        for after in [Duration::from_secs(u64::MAX), Duration::MAX] {
            let deadline = deadline_after(now, after);
            assert!(deadline >= now + Duration::from_secs(365 * 24 * 3600));
        }
        assert_eq!(
            deadline_after(now, Duration::from_secs(5)),
            now + Duration::from_secs(5)
        );
    }

    #[test]
    fn selectors_match_like_the_api_server() {
        let selector = json!({
            "matchLabels": {"app": "api"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["web", "edge"]},
                {"key": "canary", "operator": "DoesNotExist"},
            ]
        });
        assert!(selector_matches(&selector, &json!({"app": "api", "tier": "web"})));
        assert!(!selector_matches(&selector, &json!({"app": "api", "tier": "db"})));
        assert!(!selector_matches(
            &selector,
            &json!({"app": "api", "tier": "web", "canary": "1"})
        ));
        assert!(!selector_matches(&selector, &json!({"tier": "web"})));
        let not_in = json!({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]});
        assert!(selector_matches(&not_in, &json!({})));
        assert!(!selector_matches(&not_in, &json!({"env": "prod"})));
    }

    #[test]
    fn a_workload_finds_its_pods_by_selector_or_template_labels() {
        let pods = vec![
            json!({"metadata": {"name": "api-1", "labels": {"app": "api"}}}),
            json!({"metadata": {"name": "db-1", "labels": {"app": "db"}}}),
        ];
        let deployment = json!({"kind": "Deployment", "metadata": {"name": "api"}, "spec": {"selector": {"matchLabels": {"app": "api"}}}});
        let names = |found: Vec<&Value>| -> Vec<String> {
            found
                .iter()
                .map(|pod| pod["metadata"]["name"].as_str().unwrap_or("").to_owned())
                .collect()
        };
        assert_eq!(names(pods_of(&deployment, &pods)), vec!["api-1"]);
        let job = json!({"kind": "Job", "metadata": {"name": "migrate"}, "spec": {"template": {"metadata": {"labels": {"app": "db"}}}}});
        assert_eq!(names(pods_of(&job, &pods)), vec!["db-1"]);
        let pod = json!({"kind": "Pod", "metadata": {"name": "db-1"}});
        assert_eq!(names(pods_of(&pod, &pods)), vec!["db-1"]);
        let job_pod = json!({"metadata": {"name": "migrate-x1", "labels": {"other": "1"}, "ownerReferences": [{"kind": "Job", "uid": "u-7"}]}});
        let unlabelled_job = json!({"kind": "Job", "metadata": {"name": "migrate", "uid": "u-7"}, "spec": {}});
        assert_eq!(
            names(pods_of(&unlabelled_job, std::slice::from_ref(&job_pod))),
            vec!["migrate-x1"],
            "found by its owner reference"
        );
        let job_labelled_like_api = json!({"metadata": {"name": "load-x2", "labels": {"app": "api"},
            "ownerReferences": [{"kind": "Job", "uid": "u-9", "controller": true}]}});
        let replica_set_pod = json!({"metadata": {"name": "api-5d8f9-abcde", "labels": {"app": "api"},
            "ownerReferences": [{"kind": "ReplicaSet", "uid": "u-rs", "controller": true}]}});
        assert_eq!(
            names(pods_of(&deployment, &[job_labelled_like_api, replica_set_pod])),
            vec!["api-5d8f9-abcde"],
            "another controller's pod is not the Deployment's, its ReplicaSet's is"
        );
        let as_written = json!({"kind": "StatefulSet", "metadata": {"name": "db"}, "spec": {"selector": {"matchLabels": {"app": "db"}}}});
        let stateful_pod = json!({"metadata": {"name": "db-0", "labels": {"app": "db"},
            "ownerReferences": [{"kind": "StatefulSet", "name": "db", "uid": "u-db", "controller": true}]}});
        assert_eq!(
            names(pods_of(&as_written, std::slice::from_ref(&stateful_pod))),
            vec!["db-0"],
            "never read back (no uid): the owner's kind and name identify it"
        );
        let mut rollout = pods.clone();
        rollout.push(json!({"metadata": {"name": "api-old", "labels": {"app": "api"}, "deletionTimestamp": "2026-11-22T10:00:00Z"}}));
        assert_eq!(
            names(pods_of(&deployment, &rollout)),
            vec!["api-1"],
            "a terminating pod is history"
        );
    }
}
