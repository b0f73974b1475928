//! The event-driven readiness wait (`mode: pipelined`): the same outcome as [`super::wait`] —
//! the same kstatus rules, the same fail-fast pod states, unschedulable window, per-object
//! `progressDeadlineSeconds` and one overall deadline — but decided the moment the API server
//! says so. One kube-runtime watcher per (resource, namespace) of the objects waited for, one
//! pod watcher per namespace whose workloads have pods; each keeps its own store (replaced
//! atomically on a re-list), and every event re-evaluates what is still pending. Watches
//! reconnect from the last resourceVersion seen (with a short back-off on errors) and end
//! before the client's read timeout, so a quiet watch is renewed, not broken.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use futures::stream::{BoxStream, SelectAll};
use futures::{FutureExt as _, StreamExt as _};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DynamicObject};
use kube::runtime::utils::Backoff;
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt as _, watcher as watch_objects};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::apply::Applied;
use super::client::{REQUEST_TIMEOUT, Session};
use super::readiness::{self, Problem, Readiness};
use super::wait::{
    NotReady, WaitOptions, WaitOutcome, deadline_after, pods_of, progress_deadline, progress_deadline_problem,
    readiness_context,
};

/// Watches end (cleanly) after this many seconds and are renewed from the last version seen:
/// below the client's read timeout, so a quiet watch never looks like a dead connection.
const WATCH_SECONDS: u32 = REQUEST_TIMEOUT.as_secs() as u32 - 5;

/// Back-off after a watch error: quick first (a dropped connection is usually back at once),
/// doubling to a few seconds.
struct QuickBackoff {
    next: Duration,
}

const FIRST_RETRY: Duration = Duration::from_millis(50);
const LAST_RETRY: Duration = Duration::from_secs(5);

impl Iterator for QuickBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let delay = self.next;
        self.next = (self.next * 2).min(LAST_RETRY);
        Some(delay)
    }
}

impl Backoff for QuickBackoff {
    fn reset(&mut self) {
        self.next = FIRST_RETRY;
    }
}

/// What one watcher reports, as JSON.
type SourceEvent = (usize, Result<Event<Value>, String>);

/// The objects one watcher has seen (`None` until its first list is complete).
#[derive(Default)]
struct Store {
    objects: Option<HashMap<String, Value>>,
    /// A re-list in progress: replaces `objects` when it is complete.
    buffer: Option<HashMap<String, Value>>,
}

impl Store {
    fn apply(&mut self, event: Event<Value>) {
        let name = |value: &Value| {
            value
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        match event {
            Event::Init => self.buffer = Some(HashMap::new()),
            Event::InitApply(value) => {
                self.buffer.get_or_insert_with(HashMap::new).insert(name(&value), value);
            }
            Event::InitDone => self.objects = Some(self.buffer.take().unwrap_or_default()),
            Event::Apply(value) => {
                self.objects
                    .get_or_insert_with(HashMap::new)
                    .insert(name(&value), value);
            }
            Event::Delete(value) => {
                if let Some(objects) = &mut self.objects {
                    objects.remove(&name(&value));
                }
            }
        }
    }
}

struct Tracked {
    applied: Applied,
    /// The watcher whose store holds it.
    source: usize,
    last_seen: Option<Value>,
    message: Option<String>,
    ready: bool,
    problem: Option<Problem>,
    unschedulable_since: Option<Instant>,
    deadline: Option<Instant>,
}

impl Tracked {
    fn not_ready(&self) -> NotReady {
        NotReady {
            applied: self.applied.clone(),
            last_seen: self.last_seen.clone(),
            status: self.message.clone().unwrap_or_else(|| "not seen yet".to_owned()),
            problem: self.problem.clone(),
        }
    }

    fn set_message(&mut self, message: String, on_change: &mut (dyn FnMut(String) + Send)) {
        if self.message.as_deref() != Some(message.as_str()) {
            on_change(format!("{}: {message}", self.applied.object.describe()));
            self.message = Some(message);
        }
    }
}

fn has_pods(kind: &str) -> bool {
    matches!(
        kind,
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" | "Pod"
    )
}

/// The object as the server returned it, with the type that list items leave out.
fn typed(mut item: Value, applied: &Applied) -> Value {
    if let Some(map) = item.as_object_mut() {
        map.entry("apiVersion")
            .or_insert_with(|| Value::String(applied.resource.api_version.clone()));
        map.entry("kind")
            .or_insert_with(|| Value::String(applied.resource.kind.clone()));
    }
    item
}

fn to_json<K: serde::Serialize>(event: Event<K>) -> Result<Event<Value>, String> {
    let convert = |object: K| serde_json::to_value(object).map_err(|error| error.to_string());
    Ok(match event {
        Event::Init => Event::Init,
        Event::InitDone => Event::InitDone,
        Event::InitApply(object) => Event::InitApply(convert(object)?),
        Event::Apply(object) => Event::Apply(convert(object)?),
        Event::Delete(object) => Event::Delete(convert(object)?),
    })
}

fn watch_stream<K>(api: Api<K>, index: usize) -> BoxStream<'static, SourceEvent>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug + Send + 'static,
{
    watch_objects(api, watcher::Config::default().timeout(WATCH_SECONDS))
        .backoff(QuickBackoff { next: FIRST_RETRY })
        .map(move |item| (index, item.map_err(|error| error.to_string()).and_then(to_json)))
        .boxed()
}

/// Wait, event-driven, until every object in `objects` is ready, one fails, the deadline passes
/// or `cancel` fires. `on_change` gets a line whenever an object's status changes.
pub(crate) async fn wait(
    session: &Session,
    objects: &[Applied],
    options: WaitOptions,
    cancel: &CancellationToken,
    on_change: &mut (dyn FnMut(String) + Send),
) -> WaitOutcome {
    let started = Instant::now();
    let deadline = deadline_after(started, options.timeout);
    if objects.is_empty() {
        return WaitOutcome::Ready;
    }
    let context = tokio::select! {
        biased;
        () = cancel.cancelled() => return WaitOutcome::Cancelled,
        context = readiness_context(session) => context,
    };
    // One watcher per (api version, plural, namespace) of the objects.
    let mut sources: BTreeMap<(String, String, Option<String>), usize> = BTreeMap::new();
    let mut streams: SelectAll<BoxStream<'static, SourceEvent>> = SelectAll::new();
    let mut tracked: Vec<Tracked> = Vec::with_capacity(objects.len());
    for applied in objects {
        let key = (
            applied.resource.api_version.clone(),
            applied.resource.plural.clone(),
            applied.namespace.clone(),
        );
        let next = sources.len();
        let source = *sources.entry(key).or_insert_with(|| {
            let api = session.api(
                &applied.resource,
                applied.namespace.is_some(),
                applied.namespace.as_deref(),
            );
            streams.push(watch_stream::<DynamicObject>(api, next));
            next
        });
        tracked.push(Tracked {
            applied: applied.clone(),
            source,
            last_seen: None,
            message: None,
            ready: false,
            problem: None,
            unschedulable_since: None,
            deadline: progress_deadline(applied, started),
        });
    }
    // One pod watcher per namespace of objects that have pods.
    let pod_namespaces: BTreeSet<String> = objects
        .iter()
        .filter(|applied| has_pods(&applied.resource.kind))
        .filter_map(|applied| applied.namespace.clone())
        .collect();
    let mut pod_sources: HashMap<String, usize> = HashMap::new();
    for namespace in pod_namespaces {
        let index = sources.len() + pod_sources.len();
        let api: Api<Pod> = Api::namespaced(session.client.clone(), &namespace);
        streams.push(watch_stream(api, index));
        pod_sources.insert(namespace, index);
    }
    let mut stores: Vec<Store> = (0..sources.len() + pod_sources.len())
        .map(|_| Store::default())
        .collect();
    let mut last_error: Option<String> = None;
    loop {
        let now = Instant::now();
        evaluate(&mut tracked, &stores, &pod_sources, &context, options, now, on_change);
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
        if now >= deadline {
            return WaitOutcome::TimedOut {
                not_ready: tracked
                    .iter()
                    .filter(|entry| !entry.ready)
                    .map(Tracked::not_ready)
                    .collect(),
                last_error,
            };
        }
        // The next moment time alone can change the outcome.
        let mut wake = deadline;
        for entry in tracked.iter().filter(|entry| !entry.ready) {
            if let Some(limit) = entry.deadline {
                wake = wake.min(limit);
            }
            if let Some(since) = entry.unschedulable_since {
                wake = wake.min(since + options.unschedulable_window);
            }
        }
        let next = tokio::select! {
            biased;
            () = cancel.cancelled() => return WaitOutcome::Cancelled,
            next = streams.next() => next,
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(wake.max(now))) => continue,
        };
        let Some(first) = next else {
            // Watchers never end on their own; if they did, time is all that is left.
            tokio::select! {
                () = cancel.cancelled() => return WaitOutcome::Cancelled,
                () = tokio::time::sleep_until(tokio::time::Instant::from_std(wake.max(now))) => continue,
            }
        };
        // Everything already delivered, then one evaluation.
        let mut pending = vec![first];
        while let Some(Some(more)) = streams.next().now_or_never() {
            pending.push(more);
        }
        for (index, event) in pending {
            match event {
                Ok(event) => stores[index].apply(event),
                Err(error) => last_error = Some(error),
            }
        }
    }
}

/// One evaluation of every pending object from the watchers' stores (the rules of
/// [`super::wait::wait`]'s tick).
fn evaluate(
    tracked: &mut [Tracked],
    stores: &[Store],
    pod_sources: &HashMap<String, usize>,
    context: &readiness::Context,
    options: WaitOptions,
    now: Instant,
    on_change: &mut (dyn FnMut(String) + Send),
) {
    for entry in tracked
        .iter_mut()
        .filter(|entry| !entry.ready && entry.problem.is_none())
    {
        let Some(objects) = &stores[entry.source].objects else {
            continue;
        };
        let Some(value) = objects.get(&entry.applied.object.name).cloned() else {
            entry.set_message("not found on the server (deleted?)".to_owned(), on_change);
            continue;
        };
        let value = typed(value, &entry.applied);
        match readiness::evaluate(&value, context) {
            Readiness::Current => {
                entry.ready = true;
                entry.set_message("ready".to_owned(), on_change);
            }
            Readiness::InProgress(message) => entry.set_message(message, on_change),
            Readiness::Failed(problem) => {
                entry.set_message(format!("failed: {problem}"), on_change);
                entry.problem = Some(problem);
            }
        }
        entry.last_seen = Some(value);
    }
    // Pods of workloads still pending: fail fast on states that will not heal.
    for entry in tracked
        .iter_mut()
        .filter(|entry| !entry.ready && entry.problem.is_none())
    {
        let Some(object) = &entry.last_seen else { continue };
        if !has_pods(object.get("kind").and_then(Value::as_str).unwrap_or("")) {
            continue;
        }
        let Some(pods) = entry
            .applied
            .namespace
            .as_ref()
            .and_then(|namespace| pod_sources.get(namespace))
            .and_then(|index| stores[*index].objects.as_ref())
        else {
            continue;
        };
        let pods: Vec<Value> = pods
            .values()
            .map(|pod| {
                let mut pod = pod.clone();
                if let Some(map) = pod.as_object_mut() {
                    map.insert("apiVersion".to_owned(), Value::String("v1".to_owned()));
                    map.insert("kind".to_owned(), Value::String("Pod".to_owned()));
                }
                pod
            })
            .collect();
        let owned = pods_of(object, &pods);
        let owner_kind = entry.applied.object.kind.clone();
        let failing = owned
            .iter()
            .find_map(|pod| readiness::owned_pod_problem(pod, &owner_kind).map(|problem| (*pod, problem)));
        if let Some((pod, problem)) = failing {
            let pod = pod.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("?");
            entry.set_message(format!("failed: pod {pod}: {problem}"), on_change);
            entry.problem = Some(problem);
            continue;
        }
        match owned.iter().find_map(|pod| readiness::unschedulable(pod)) {
            Some(message) => {
                let since = *entry.unschedulable_since.get_or_insert(now);
                if now.duration_since(since) >= options.unschedulable_window {
                    entry.set_message(format!("failed: unschedulable: {message}"), on_change);
                    entry.problem = Some(readiness::unschedulable_problem(message));
                }
            }
            None => entry.unschedulable_since = None,
        }
    }
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
