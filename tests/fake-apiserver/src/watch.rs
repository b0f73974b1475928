//! Watches, as the API server serves them (`GET …?watch=true&resourceVersion=N`): a chunked
//! stream of `{"type": "ADDED|MODIFIED|DELETED|BOOKMARK|ERROR", "object": …}` lines, one per
//! change after `N` (all current objects as `ADDED` first when `N` is unset or `0`), filtered by
//! namespace, name and label/field selectors; `timeoutSeconds` ends it cleanly (with a `BOOKMARK`
//! when `allowWatchBookmarks=true`); a `resourceVersion` older than the event log is answered
//! with an `ERROR` event, code 410 (the client lists again).
//!
//! The server computes status on read, from the time since an apply. For watches those changes
//! are *materialised*: whenever a watch is open (and when one starts) every object's view is
//! recomputed and compared with what watches were last told; a difference is a write — a new
//! resourceVersion, an event in the log, and from then on the version GET and LIST return. Applies
//! are logged at their own resourceVersion. Pods of workloads and `default` ServiceAccounts are
//! objects like any other here (`ADDED`, `MODIFIED`, and `DELETED` when a new template replaces
//! them); Events are not watched.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame};
use hyper::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

use super::{Answer, Key, State, lock, object_key, respond_json, route, selected, typed};

/// Events kept for watches that resume from an older resourceVersion.
const LOG_LIMIT: usize = 20_000;
/// A watch without `timeoutSeconds` ends after this long (a real server picks 30–60 minutes).
const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(1800);
/// How often an open watch's objects are recomputed, at least and at most (adaptive: four
/// times what one pass costs, so a big store never saturates a core).
const FASTEST_TICK: Duration = Duration::from_millis(1);
const SLOWEST_TICK: Duration = Duration::from_millis(20);

/// One change, as watches get it.
#[derive(Clone, Debug)]
pub struct LoggedEvent {
    /// When the server made the change (an apply, or a status change it materialised).
    pub at: Instant,
    pub resource_version: u64,
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub kind: &'static str,
    /// The object as the event carries it (typed, with its resourceVersion).
    pub object: Value,
}

/// What watches were last told about one object.
#[derive(Debug)]
struct Served {
    /// The view without its resourceVersion.
    view: Value,
    version: u64,
}

/// The server's watch bookkeeping.
#[derive(Default)]
pub(crate) struct WatchState {
    served: HashMap<Key, Served>,
    pub(crate) log: VecDeque<LoggedEvent>,
    /// Whether the log has dropped old events (then a resume from before it is a 410).
    trimmed: bool,
    /// Open watches.
    open: usize,
    /// The newest resourceVersion in the log, for open watches to wake on.
    changed: Option<tokio::sync::watch::Sender<u64>>,
}

impl WatchState {
    fn changed(&mut self) -> &tokio::sync::watch::Sender<u64> {
        self.changed.get_or_insert_with(|| tokio::sync::watch::channel(0).0)
    }
}

fn strip_version(view: &mut Value) {
    if let Some(metadata) = view.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("resourceVersion");
    }
}

impl State {
    /// The resourceVersion a read shows for the object `value` (its last served change).
    pub(crate) fn stamp(&self, value: &mut Value) {
        if let Some(served) = self.watch.served.get(&object_key(value)) {
            value["metadata"]["resourceVersion"] = json!(served.version.to_string());
        }
    }

    /// The object's current resourceVersion (a status change is a write too).
    pub(crate) fn current_version(&self, key: &Key, stored: &Value) -> Option<String> {
        match self.watch.served.get(key) {
            Some(served) => Some(served.version.to_string()),
            None => stored["metadata"]["resourceVersion"].as_str().map(str::to_owned),
        }
    }

    /// An apply (or a stored fixture) at `version`: logged unless nothing a reader sees changed.
    pub(crate) fn record_write(&mut self, key: &Key, version: u64, at: Instant) {
        let Some(stored) = self.objects.get(key) else { return };
        let mut view = self.view_untyped(stored);
        strip_version(&mut view);
        let kind = match self.watch.served.get(key) {
            None => "ADDED",
            Some(served) if served.view != view => "MODIFIED",
            Some(_) => return,
        };
        self.log_change(key.clone(), kind, view, version, at);
    }

    fn log_change(&mut self, key: Key, kind: &'static str, view: Value, version: u64, at: Instant) {
        let mut object = typed(view.clone());
        object["metadata"]["resourceVersion"] = json!(version.to_string());
        if kind == "DELETED" {
            self.watch.served.remove(&key);
        } else {
            self.watch.served.insert(key, Served { view, version });
        }
        self.watch.log.push_back(LoggedEvent {
            at,
            resource_version: version,
            kind,
            object,
        });
        while self.watch.log.len() > LOG_LIMIT {
            self.watch.log.pop_front();
            self.watch.trimmed = true;
        }
        self.watch.changed().send_replace(version);
    }

    /// Recompute every object's view; each one that changed since watches last saw it is a write.
    pub(crate) fn materialise(&mut self) {
        let now = Instant::now();
        *self.image_cache.borrow_mut() = Some(self.images_now());
        let mut current: Vec<(Key, Value)> = self
            .objects
            .iter()
            .map(|(key, stored)| (key.clone(), self.view_untyped(stored)))
            .collect();
        for virtual_object in self
            .workload_pods_untyped(None)
            .into_iter()
            .chain(self.default_service_accounts_untyped(None))
        {
            current.push((object_key(&virtual_object), virtual_object));
        }
        *self.image_cache.borrow_mut() = None;
        let mut seen = HashSet::with_capacity(current.len());
        for (key, mut view) in current {
            strip_version(&mut view);
            seen.insert(key.clone());
            let kind = match self.watch.served.get(&key) {
                None => "ADDED",
                Some(served) if served.view != view => "MODIFIED",
                Some(_) => continue,
            };
            let version = self.next_version().parse().unwrap_or(self.resource_version);
            self.log_change(key, kind, view, version, now);
        }
        let gone: Vec<Key> = self
            .watch
            .served
            .keys()
            .filter(|key| !seen.contains(*key))
            .cloned()
            .collect();
        for key in gone {
            let view = self
                .watch
                .served
                .get(&key)
                .map(|served| served.view.clone())
                .unwrap_or_default();
            let version = self.next_version().parse().unwrap_or(self.resource_version);
            self.log_change(key, "DELETED", view, version, now);
        }
    }
}

/// While any watch is open, materialise status changes every few milliseconds.
pub(crate) async fn materialise_while_watched(state: Arc<Mutex<State>>, wake: Arc<Notify>) {
    let mut tick = FASTEST_TICK;
    loop {
        let watched = lock(&state).watch.open > 0;
        if !watched {
            wake.notified().await;
            continue;
        }
        tokio::time::sleep(tick).await;
        let started = Instant::now();
        lock(&state).materialise();
        tick = (started.elapsed() * 4).clamp(FASTEST_TICK, SLOWEST_TICK);
    }
}

/// A response body fed by a channel: the watch stream (an error resets the connection).
struct ChannelBody(mpsc::Receiver<Result<Bytes, std::io::Error>>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.0
            .poll_recv(context)
            .map(|next| next.map(|chunk| chunk.map(Frame::data)))
    }
}

/// Which events one watch gets.
struct Filter {
    api_version: String,
    kind: String,
    namespace: Option<String>,
    name: Option<String>,
    label_selector: Option<String>,
    field_selector: Option<String>,
}

impl Filter {
    fn matches(&self, object: &Value) -> bool {
        let text = |pointer: &str| object.pointer(pointer).and_then(Value::as_str);
        text("/apiVersion") == Some(self.api_version.as_str())
            && text("/kind") == Some(self.kind.as_str())
            && self
                .namespace
                .as_deref()
                .is_none_or(|namespace| text("/metadata/namespace") == Some(namespace))
            && self
                .name
                .as_deref()
                .is_none_or(|name| text("/metadata/name") == Some(name))
            && selected(object, self.label_selector.as_ref(), self.field_selector.as_ref())
    }
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut text = serde_json::to_vec(&json!({"type": kind, "object": object})).expect("JSON");
    text.push(b'\n');
    Bytes::from(text)
}

/// Start serving a watch request.
pub(crate) fn serve(
    state: &Arc<Mutex<State>>,
    wake: &Arc<Notify>,
    segments: &[&str],
    parameters: &HashMap<String, String>,
) -> Answer {
    let target = {
        let state = lock(state);
        match route(&state, segments) {
            Ok(target) => target,
            Err((code, body)) => return respond_json(code, &body),
        }
    };
    if target.subresource.is_some() {
        return respond_json(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "watch is not supported on subresources", "reason": "MethodNotAllowed", "code": 405}),
        );
    }
    let from = match parameters.get("resourceVersion").map(String::as_str) {
        None | Some("") | Some("0") => None,
        Some(text) => match text.parse::<u64>() {
            Ok(version) => Some(version),
            Err(_) => {
                return respond_json(
                    StatusCode::BAD_REQUEST,
                    &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                        "message": format!("invalid resource version: {text}"), "reason": "BadRequest", "code": 400}),
                );
            }
        },
    };
    let timeout = parameters
        .get("timeoutSeconds")
        .and_then(|seconds| seconds.parse::<u64>().ok())
        .map_or(DEFAULT_WATCH_TIMEOUT, Duration::from_secs);
    let bookmarks = parameters
        .get("allowWatchBookmarks")
        .is_some_and(|value| value == "true");
    let filter = Filter {
        api_version: target.resource.api_version(),
        kind: target.resource.kind.clone(),
        namespace: target.namespace.clone(),
        name: target.name.clone(),
        label_selector: parameters.get("labelSelector").cloned(),
        field_selector: parameters.get("fieldSelector").cloned(),
    };
    let (sender, receiver) = mpsc::channel(256);
    let drop_after = lock(state).script.drop_watches_after;
    tokio::spawn(stream(
        Arc::clone(state),
        Arc::clone(wake),
        filter,
        from,
        timeout,
        bookmarks,
        drop_after,
        sender,
    ));
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(ChannelBody(receiver).boxed())
        .expect("response"))
}

/// Events after `cursor` for `filter`, and the newest resourceVersion looked at.
fn pending(state: &State, filter: &Filter, cursor: u64) -> (Vec<Bytes>, u64) {
    let lines = state
        .watch
        .log
        .iter()
        .filter(|event| event.resource_version > cursor && filter.matches(&event.object))
        .map(|event| line(event.kind, &event.object))
        .collect();
    (lines, state.resource_version.max(cursor))
}

#[allow(clippy::too_many_arguments)]
async fn stream(
    state: Arc<Mutex<State>>,
    wake: Arc<Notify>,
    filter: Filter,
    from: Option<u64>,
    timeout: Duration,
    bookmarks: bool,
    drop_after: Option<Duration>,
    sender: mpsc::Sender<Result<Bytes, std::io::Error>>,
) {
    let started = tokio::time::Instant::now();
    let (mut changes, first, mut cursor) = {
        let mut state = lock(&state);
        state.watch.open += 1;
        state.materialise();
        let changes = state.watch.changed().subscribe();
        let oldest = state.watch.log.front().map_or(0, |event| event.resource_version);
        match from {
            Some(version) if state.watch.trimmed && version + 1 < oldest => {
                let status = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                    "message": format!("too old resource version: {version} ({})", oldest - 1), "reason": "Expired", "code": 410});
                (changes, vec![line("ERROR", &status)], None)
            }
            Some(version) => (changes, Vec::new(), Some(version)),
            None => {
                // "Start at most recent": every object that exists now, as ADDED.
                let keys: BTreeSet<&Key> = state.watch.served.keys().collect();
                let mut lines = Vec::new();
                for key in keys {
                    let served = &state.watch.served[key];
                    let mut object = typed(served.view.clone());
                    object["metadata"]["resourceVersion"] = json!(served.version.to_string());
                    if filter.matches(&object) {
                        lines.push(line("ADDED", &object));
                    }
                }
                let version = state.resource_version;
                (changes, lines, Some(version))
            }
        }
    };
    wake.notify_one();
    let mut open = true;
    for chunk in first {
        open &= sender.send(Ok(chunk)).await.is_ok();
    }
    let deadline = started + timeout;
    let drop_at = drop_after.map(|after| started + after);
    while open && let Some(seen) = cursor {
        let (lines, newest) = pending(&lock(&state), &filter, seen);
        cursor = Some(newest);
        for chunk in lines {
            open &= sender.send(Ok(chunk)).await.is_ok();
        }
        if !open {
            break;
        }
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { break },
            () = tokio::time::sleep_until(deadline) => {
                if bookmarks {
                    let object = json!({"apiVersion": filter.api_version, "kind": filter.kind,
                        "metadata": {"resourceVersion": newest.to_string()}});
                    let _ = sender.send(Ok(line("BOOKMARK", &object))).await;
                }
                break;
            }
            () = async {
                match drop_at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            } => {
                let _ = sender
                    .send(Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "scripted watch drop")))
                    .await;
                break;
            }
            () = sender.closed() => break,
        }
    }
    lock(&state).watch.open -= 1;
}
