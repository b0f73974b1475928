//! Why a workload is not ready, captured before anything is torn down: its pods (phase,
//! conditions, container states, restarts, exit codes), the Warning events for it and its pods,
//! and the logs of failing containers (the previous instance too after a restart). Full logs go
//! to files under `diagnostics/deploy/`; a digest goes into the step's failure for the reporters.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::AsyncReadExt as _;

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams, LogParams};
use serde_json::Value;

use super::client::{REQUEST_TIMEOUT, Session};
use super::readiness;
use super::wait::{NotReady, list_pods, pods_of};
use crate::model::FailureClass;

/// Log lines of each failing container kept in the digest.
pub(crate) const LOG_LINES: usize = 50;
/// The most of one container's log written to its file.
const LOG_FILE_LIMIT: i64 = 8 * 1024 * 1024;
/// The whole diagnosis may take this long: it runs before teardown, on a failing run.
const BUDGET: Duration = Duration::from_secs(60);
/// Pods described (and logs read) per object: failing ones first; a 50-replica Deployment
/// crash-looping says the same thing 50 times.
const PODS_PER_OBJECT: usize = 3;
/// Warning events kept per object (the newest).
const EVENTS_PER_OBJECT: usize = 10;
/// Digest lines are cut here: a JSON log line can be megabytes.
const LINE_LIMIT: usize = 500;

/// What the diagnosis found.
#[derive(Debug, Default)]
pub(crate) struct Diagnosis {
    pub(crate) class: Option<FailureClass>,
    pub(crate) hint: Option<String>,
    /// Pod states, events and log tails, for the reporters.
    pub(crate) digest: Vec<String>,
    /// The last line of the first (failing) object's own diagnosis — its last log line when
    /// there are logs — so an annotation never quotes another object's output.
    pub(crate) excerpt: Option<String>,
    /// Files written (relative to the report directory where possible).
    pub(crate) files: Vec<String>,
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// One line per pod condition that is not True and per container state worth knowing.
fn describe_pod(pod: &Value, lines: &mut Vec<String>) {
    let mut head = format!(
        "pod {}: {}",
        text(pod, "/metadata/name"),
        text(pod, "/status/phase").to_lowercase()
    );
    for condition in pod
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if text(condition, "/status") != "True" {
            let _ = write!(
                head,
                "; {}={} {}",
                text(condition, "/type"),
                text(condition, "/status"),
                text(condition, "/reason")
            );
            let message = text(condition, "/message");
            if !message.is_empty() {
                let _ = write!(head, " ({message})");
            }
        }
    }
    lines.push(head);
    for status in container_statuses(pod) {
        let mut line = format!(
            "  container {}: {}",
            text(status, "/name"),
            if status.get("ready").and_then(Value::as_bool) == Some(true) {
                "ready"
            } else {
                "not ready"
            }
        );
        if let Some(waiting) = status.pointer("/state/waiting") {
            let _ = write!(line, "; waiting {}", text(waiting, "/reason"));
            let message = text(waiting, "/message");
            if !message.is_empty() {
                let _ = write!(line, " ({message})");
            }
        }
        if let Some(terminated) = status.pointer("/state/terminated") {
            let _ = write!(
                line,
                "; terminated {} exit {}",
                text(terminated, "/reason"),
                terminated.get("exitCode").and_then(Value::as_i64).unwrap_or(0)
            );
        }
        let restarts = status.get("restartCount").and_then(Value::as_i64).unwrap_or(0);
        if restarts > 0 {
            let _ = write!(line, "; restarts {restarts}");
        }
        if let Some(last) = status.pointer("/lastState/terminated") {
            let _ = write!(
                line,
                "; last terminated {} exit {}",
                text(last, "/reason"),
                last.get("exitCode").and_then(Value::as_i64).unwrap_or(0)
            );
        }
        lines.push(line);
    }
}

fn container_statuses(pod: &Value) -> impl Iterator<Item = &Value> {
    ["/status/initContainerStatuses", "/status/containerStatuses"]
        .into_iter()
        .filter_map(|pointer| pod.pointer(pointer).and_then(Value::as_array))
        .flatten()
}

/// Whether a container's logs are worth reading: not ready, restarted or terminated badly.
fn is_failing(status: &Value) -> bool {
    status.get("ready").and_then(Value::as_bool) != Some(true)
        || status.get("restartCount").and_then(Value::as_i64).unwrap_or(0) > 0
}

/// `remaining` of the budget, capped at one request's timeout (`None`: the budget is spent).
fn request_timeout(deadline: Instant) -> Option<Duration> {
    let remaining = deadline.saturating_duration_since(Instant::now());
    (!remaining.is_zero()).then(|| remaining.min(REQUEST_TIMEOUT))
}

async fn list_events(session: &Session, namespace: &str, deadline: Instant) -> Vec<Value> {
    let api: Api<Event> = Api::namespaced(session.client.clone(), namespace);
    let Some(timeout) = request_timeout(deadline) else {
        return Vec::new();
    };
    match tokio::time::timeout(timeout, api.list(&ListParams::default())).await {
        Ok(Ok(list)) => list
            .items
            .into_iter()
            .filter_map(|event| serde_json::to_value(event).ok())
            .collect(),
        _ => Vec::new(),
    }
}

/// A container's log, bytes that are not UTF-8 replaced (a binary's output must not lose the
/// rest of the log), and whether it reached [`LOG_FILE_LIMIT`] (the bytes received, before the
/// replacement grows them).
async fn fetch_log(
    session: &Session,
    namespace: &str,
    pod: &str,
    container: &str,
    previous: bool,
    tail_lines: Option<i64>,
    deadline: Instant,
) -> Option<(String, bool)> {
    let api: Api<Pod> = Api::namespaced(session.client.clone(), namespace);
    let params = LogParams {
        container: Some(container.to_owned()),
        previous,
        limit_bytes: Some(LOG_FILE_LIMIT),
        tail_lines,
        ..LogParams::default()
    };
    let read = async {
        let mut stream = api.log_stream(pod, &params).await.ok()?;
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).await.ok()?;
        let cut = bytes.len() as u64 >= LOG_FILE_LIMIT as u64;
        Some((String::from_utf8_lossy(&bytes).into_owned(), cut))
    };
    tokio::time::timeout(request_timeout(deadline)?, read)
        .await
        .ok()
        .flatten()
}

/// What a container's log contributes: the file's body, how the digest counts its lines, and the
/// lines the digest shows.
#[derive(Debug)]
struct LogExcerpt {
    file: String,
    counted: String,
    tail: Vec<String>,
}

impl LogExcerpt {
    /// `log` as fetched (its first [`LOG_FILE_LIMIT`] bytes); `cut` if it reached the limit;
    /// `last` its last lines fetched on their own (`None`: not needed, or could not be read).
    fn new(log: &str, cut: bool, last: Option<&str>) -> LogExcerpt {
        let limit = LOG_FILE_LIMIT / 1024 / 1024;
        let mut file = log.to_owned();
        let (source, counted) = match (cut, last) {
            (false, _) => (log, None),
            (true, Some(last)) => {
                let _ = write!(
                    file,
                    "\n… (cut at {limit} MiB; the last {LOG_LINES} lines follow)\n{last}"
                );
                (last, Some(format!("the log is over {limit} MiB")))
            }
            (true, None) => {
                let _ = write!(file, "\n… (cut at {limit} MiB; the end of the log could not be read)\n");
                (
                    log,
                    Some(format!("lines before the {limit} MiB cut; the end could not be read")),
                )
            }
        };
        let all: Vec<&str> = source.lines().collect();
        let tail: Vec<String> = all[all.len().saturating_sub(LOG_LINES)..]
            .iter()
            .map(|line| (*line).to_owned())
            .collect();
        let counted = match counted {
            None => format!("last {} of {} lines", tail.len(), all.len()),
            Some(why) => format!("last {} lines; {why}", tail.len()),
        };
        LogExcerpt { file, counted, tail }
    }
}

/// `line` cut to [`LINE_LIMIT`] bytes at a character boundary.
fn clip(line: &str) -> String {
    if line.len() <= LINE_LIMIT {
        return line.to_owned();
    }
    let mut end = LINE_LIMIT;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &line[..end], line.len())
}

/// When an event last happened (`eventTime` for events.k8s.io-style writers).
fn event_time(event: &Value) -> &str {
    [
        "/lastTimestamp",
        "/eventTime",
        "/firstTimestamp",
        "/metadata/creationTimestamp",
    ]
    .iter()
    .map(|pointer| text(event, pointer))
    .find(|time| !time.is_empty())
    .unwrap_or("")
}

/// Whether `event` is about `object` or one of its pods. A Deployment's pods are created by
/// its ReplicaSets, whose `FailedCreate` events (quota, admission, a missing ServiceAccount)
/// explain a Deployment without pods.
fn concerns(event: &Value, object_kind: &str, object_name: &str, pod_names: &[String]) -> bool {
    let name = text(event, "/involvedObject/name");
    let kind = text(event, "/involvedObject/kind");
    (kind == object_kind && name == object_name)
        || (kind == "Pod" && pod_names.iter().any(|pod| pod == name))
        || (object_kind == "Deployment"
            && kind == "ReplicaSet"
            && name
                .strip_prefix(object_name)
                .and_then(|rest| rest.strip_prefix('-'))
                // `{deployment}-{pod-template-hash}`: `api-gateway-5d8f9` is not `api`'s.
                .is_some_and(|hash| !hash.is_empty() && !hash.contains('-')))
}

/// Whether a mount failure names a ConfigMap, Secret or claim that does not exist, not, say, a
/// CSI driver.
fn names_a_missing_object(message: &str) -> bool {
    readiness::names_a_missing(message, &["configmap", "secret", "persistentvolumeclaim"])
}

/// Whose fault a Warning event says it is, and what to do.
fn classify_event(reason: &str, message: &str) -> Option<(FailureClass, &'static str)> {
    Some(match reason {
        // A volume that names a ConfigMap, Secret or claim that does not exist is the manifest's bug.
        "FailedMount" if names_a_missing_object(message) => (
            FailureClass::Application,
            "the pod mounts a ConfigMap, Secret or claim that does not exist; apply it in this group or one it depends on",
        ),
        "FailedCreate" => (
            FailureClass::Application,
            "the controller could not create pods (quota, admission, a missing ServiceAccount); the event says which",
        ),
        "FailedScheduling" | "NodeNotReady" | "FailedAttachVolume" | "FailedMount" | "Evicted" => (
            FailureClass::Infrastructure,
            "the cluster could not place or prepare the pod (scheduling, node or volume); see the events",
        ),
        "Unhealthy" => (
            FailureClass::Application,
            "a probe fails: the container runs but does not answer as its probe expects; its last log lines say why",
        ),
        "BackOff" => (
            FailureClass::Application,
            "the container keeps exiting; its last log lines (and its previous instance's) say why",
        ),
        _ => return None,
    })
}

/// What the newest classifiable of `warnings` (oldest first) says: an old `FailedScheduling`
/// is history once the pod runs and crashes.
///
/// A mount failure that names a missing object wins over the kubelet's generic "Unable to
/// attach or mount volumes: timed out" that it repeats alongside it.
fn newest_verdict(warnings: &[&Value]) -> Option<(FailureClass, &'static str)> {
    let verdict = |event: &&Value| classify_event(text(event, "/reason"), text(event, "/message"));
    warnings
        .iter()
        .rev()
        .filter(|event| text(event, "/reason") == "FailedMount" && names_a_missing_object(text(event, "/message")))
        .find_map(verdict)
        .or_else(|| warnings.iter().rev().find_map(verdict))
}

/// Whether a pod is failing (not ready, restarted or stuck), so it is described first.
fn pod_is_failing(pod: &Value) -> bool {
    let no_containers_yet = container_statuses(pod).next().is_none();
    no_containers_yet || (text(pod, "/status/phase") != "Succeeded" && container_statuses(pod).any(is_failing))
}

/// An object as written to a diagnostics file: a Secret's values are never written.
fn redacted(object: &Value) -> Value {
    let mut object = object.clone();
    if text(&object, "/kind") == "Secret" {
        for field in ["data", "stringData"] {
            if let Some(values) = object.get_mut(field).and_then(Value::as_object_mut) {
                for value in values.values_mut() {
                    *value = Value::String("<redacted>".to_owned());
                }
            }
        }
    }
    object
}

/// The file name part for an object or pod name (names are DNS labels; be safe anyway).
fn safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn relative(path: &Path, report_dir: &Path) -> String {
    path.strip_prefix(report_dir).unwrap_or(path).display().to_string()
}

/// Diagnose every object in `not_ready`; write files under `report_dir/diagnostics/deploy`.
pub(crate) async fn diagnose(session: &Session, not_ready: &[NotReady], report_dir: &Path) -> Diagnosis {
    let deadline = Instant::now() + BUDGET;
    let mut diagnosis = Diagnosis::default();
    let directory = report_dir.join("diagnostics").join("deploy");
    let mut pods_by_namespace: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    let mut events_by_namespace: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    // Failures first: they are the reason; the rest may just be slow.
    let mut ordered: Vec<&NotReady> = not_ready.iter().filter(|entry| entry.problem.is_some()).collect();
    ordered.extend(not_ready.iter().filter(|entry| entry.problem.is_none()));
    for entry in ordered {
        let object = &entry.applied.object;
        let mut lines = vec![format!(
            "{} ({}): {}",
            object.describe(),
            object.location(),
            entry.status
        )];
        if let Some(problem) = &entry.problem {
            diagnosis.class.get_or_insert(problem.class);
            if let Some(hint) = problem.hint {
                diagnosis.hint.get_or_insert_with(|| hint.to_owned());
            }
        }
        let Some(namespace) = entry.applied.namespace.clone() else {
            if diagnosis.digest.is_empty() {
                diagnosis.excerpt = lines.last().map(|line| clip(line));
            }
            diagnosis.digest.extend(lines);
            continue;
        };
        if !pods_by_namespace.contains_key(&namespace) {
            let pods = match request_timeout(deadline) {
                Some(timeout) => tokio::time::timeout(timeout, list_pods(session, &namespace))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or_default(),
                None => Vec::new(),
            };
            pods_by_namespace.insert(namespace.clone(), pods);
            events_by_namespace.insert(namespace.clone(), list_events(session, &namespace, deadline).await);
        }
        let seen = entry.last_seen.clone().unwrap_or_else(|| object.value.clone());
        let mut pods: Vec<Value> = pods_of(&seen, &pods_by_namespace[&namespace])
            .into_iter()
            .cloned()
            .collect();
        // Failing pods first (stable otherwise), then only the first few.
        pods.sort_by_key(|pod| !pod_is_failing(pod));
        let all_pods = pods.len();
        pods.truncate(PODS_PER_OBJECT);
        if pods.is_empty()
            && matches!(
                object.kind.as_str(),
                "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job"
            )
        {
            lines.push("no pods: the controller created none (quota, admission or a selector that matches nothing; see the events)".to_owned());
        }
        let mut pod_names: Vec<String> = Vec::new();
        for pod in &pods {
            describe_pod(pod, &mut lines);
            pod_names.push(text(pod, "/metadata/name").to_owned());
        }
        if all_pods > pods.len() {
            lines.push(format!(
                "({} more pod(s) not shown; the first {PODS_PER_OBJECT} failing ones are)",
                all_pods - pods.len()
            ));
        }
        let mut warnings: Vec<&Value> = events_by_namespace[&namespace]
            .iter()
            .filter(|event| text(event, "/type") == "Warning")
            .filter(|event| concerns(event, &object.kind, &object.name, &pod_names))
            .collect();
        // Oldest first like `kubectl describe`, the newest few kept.
        warnings.sort_by(|a, b| event_time(a).cmp(event_time(b)));
        let skipped = warnings.len().saturating_sub(EVENTS_PER_OBJECT);
        if skipped > 0 {
            lines.push(format!("({skipped} older warning event(s) not shown)"));
        }
        for event in &warnings[skipped..] {
            let reason = text(event, "/reason");
            let count = event.get("count").and_then(Value::as_i64).unwrap_or(1);
            lines.push(format!(
                "event {reason} {}/{} (x{count}): {}",
                text(event, "/involvedObject/kind").to_lowercase(),
                text(event, "/involvedObject/name"),
                text(event, "/message").trim_end()
            ));
        }
        if let Some((class, hint)) = newest_verdict(&warnings) {
            diagnosis.class.get_or_insert(class);
            diagnosis.hint.get_or_insert_with(|| hint.to_owned());
        }
        let object_dir = directory.join(safe(&namespace));
        let _ = std::fs::create_dir_all(&object_dir);
        for pod in &pods {
            let pod_name = text(pod, "/metadata/name");
            for status in container_statuses(pod).filter(|status| is_failing(status)) {
                let container = text(status, "/name");
                let restarted = status.get("restartCount").and_then(Value::as_i64).unwrap_or(0) > 0;
                for previous in [false, true] {
                    if previous && !restarted {
                        continue;
                    }
                    let Some((log, cut)) =
                        fetch_log(session, &namespace, pod_name, container, previous, None, deadline).await
                    else {
                        continue;
                    };
                    // The API returns the first `limitBytes`; a crash is at the end, so a cut log
                    // gets its last lines fetched on their own.
                    let last = if cut {
                        fetch_log(
                            session,
                            &namespace,
                            pod_name,
                            container,
                            previous,
                            Some(LOG_LINES as i64),
                            deadline,
                        )
                        .await
                        .map(|(last, _)| last)
                    } else {
                        None
                    };
                    let suffix = if previous { ".previous" } else { "" };
                    let path = object_dir.join(format!("{}.{}{suffix}.log", safe(pod_name), safe(container)));
                    let excerpt = LogExcerpt::new(&log, cut, last.as_deref());
                    if std::fs::write(&path, &excerpt.file).is_ok() {
                        diagnosis.files.push(relative(&path, report_dir));
                    }
                    lines.push(format!(
                        "logs of {pod_name}/{container}{} ({}; full: {}):",
                        if previous { " (previous instance)" } else { "" },
                        excerpt.counted,
                        relative(&path, report_dir)
                    ));
                    lines.extend(excerpt.tail.iter().map(|line| format!("  | {line}")));
                }
            }
        }
        let summary = object_dir.join(format!("{}-{}.txt", object.kind.to_lowercase(), safe(&object.name)));
        let mut body = lines.join("\n");
        body.push_str("\n\n# object as last seen\n");
        body.push_str(&serde_json::to_string_pretty(&redacted(&seen)).unwrap_or_default());
        body.push_str("\n\n# pods\n");
        body.push_str(&serde_json::to_string_pretty(&pods).unwrap_or_default());
        body.push('\n');
        if std::fs::write(&summary, body).is_ok() {
            diagnosis.files.push(relative(&summary, report_dir));
        }
        if diagnosis.digest.is_empty() {
            diagnosis.excerpt = lines
                .last()
                .map(|line| clip(line).trim_start_matches("  | ").to_owned());
        }
        diagnosis.digest.extend(lines.iter().map(|line| clip(line)));
    }
    if Instant::now() >= deadline {
        diagnosis.digest.push(format!(
            "(diagnosis stopped after {}: the API server was slow; what was gathered is above)",
            humantime::format_duration(BUDGET)
        ));
    }
    diagnosis
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pods_are_described_by_what_is_wrong() {
        let pod = json!({
            "metadata": {"name": "api-7d9c-1"},
            "status": {
                "phase": "Running",
                "conditions": [
                    {"type": "Ready", "status": "False", "reason": "ContainersNotReady", "message": "containers with unready status: [api]"},
                    {"type": "PodScheduled", "status": "True"}
                ],
                "containerStatuses": [{
                    "name": "api", "ready": false, "restartCount": 4,
                    "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 1m20s restarting failed container=api"}},
                    "lastState": {"terminated": {"reason": "Error", "exitCode": 1}}
                }]
            }
        });
        let mut lines = Vec::new();
        describe_pod(&pod, &mut lines);
        assert_eq!(
            lines,
            vec![
                "pod api-7d9c-1: running; Ready=False ContainersNotReady (containers with unready status: [api])",
                "  container api: not ready; waiting CrashLoopBackOff (back-off 1m20s restarting failed container=api); restarts 4; last terminated Error exit 1",
            ]
        );
        assert!(is_failing(&pod["status"]["containerStatuses"][0]));
        assert!(pod_is_failing(&pod));
        assert_eq!(safe("a/b c"), "a_b_c");
    }

    #[test]
    fn a_deployments_events_include_its_replica_sets_and_pods_only() {
        let event = |kind: &str, name: &str| json!({"involvedObject": {"kind": kind, "name": name}});
        let pods = vec!["api-7d9c-x".to_owned()];
        assert!(concerns(&event("Deployment", "api"), "Deployment", "api", &pods));
        assert!(concerns(&event("ReplicaSet", "api-7d9c"), "Deployment", "api", &pods));
        assert!(concerns(&event("Pod", "api-7d9c-x"), "Deployment", "api", &pods));
        assert!(!concerns(&event("ReplicaSet", "api2-55f"), "Deployment", "api", &pods));
        assert!(
            !concerns(&event("ReplicaSet", "api-gateway-5d8f9"), "Deployment", "api", &pods),
            "another Deployment's ReplicaSet"
        );
        assert!(!concerns(&event("ReplicaSet", "api-"), "Deployment", "api", &pods));
        assert!(!concerns(
            &event("Deployment", "api-gateway"),
            "Deployment",
            "api",
            &pods
        ));
        assert!(!concerns(&event("ReplicaSet", "api-7d9c"), "StatefulSet", "api", &pods));
    }

    #[test]
    fn events_are_classified_by_reason_and_what_they_say() {
        let missing = classify_event(
            "FailedMount",
            "MountVolume.SetUp failed for volume \"config\" : configmap \"api-config\" not found",
        );
        assert_eq!(missing.map(|(class, _)| class), Some(FailureClass::Application));
        let attach = classify_event(
            "FailedMount",
            "Unable to attach or mount volumes: timed out waiting for the condition",
        );
        assert_eq!(attach.map(|(class, _)| class), Some(FailureClass::Infrastructure));
        let driver = classify_event(
            "FailedMount",
            "MountVolume.MountDevice failed for volume \"pvc-1\" : kubernetes.io/csi: attacher.MountDevice failed to create newCsiDriverClient: driver name hostpath.csi.k8s.io not found in the list of registered CSI drivers",
        );
        assert_eq!(
            driver.map(|(class, _)| class),
            Some(FailureClass::Infrastructure),
            "a missing CSI driver is the cluster's"
        );
        let secret = classify_event("FailedMount", "secret \"db-credentials\" not found");
        assert_eq!(secret.map(|(class, _)| class), Some(FailureClass::Application));
        assert_eq!(
            classify_event("FailedCreate", "pods \"api-1\" is forbidden: exceeded quota").map(|(class, _)| class),
            Some(FailureClass::Application)
        );
        assert_eq!(classify_event("Pulled", "ok"), None);
        let scheduled_late = json!({"reason": "FailedScheduling", "message": "0/1 nodes are available"});
        let crashing = json!({"reason": "BackOff", "message": "Back-off restarting failed container"});
        let pulled = json!({"reason": "Pulled", "message": "already present"});
        assert_eq!(
            newest_verdict(&[&scheduled_late, &crashing, &pulled]).map(|(class, _)| class),
            Some(FailureClass::Application),
            "the newest classifiable event decides"
        );
    }

    #[test]
    fn long_lines_are_clipped_on_a_character_boundary() {
        assert_eq!(clip("short"), "short");
        // 1 + 2×400 bytes: byte 500 falls inside an `é`, so the cut walks back to 499.
        let long = format!("a{}", "é".repeat(400));
        let clipped = clip(&long);
        assert_eq!(clipped, format!("a{}… (801 bytes)", "é".repeat(249)));
    }

    #[test]
    fn a_cut_log_keeps_its_end_or_says_it_could_not() {
        let log: String = (1..=60).map(|n| format!("line {n}\n")).collect();
        let whole = LogExcerpt::new(&log, false, None);
        assert_eq!(whole.counted, "last 50 of 60 lines");
        assert_eq!(whole.tail.first().map(String::as_str), Some("line 11"));
        assert_eq!(whole.file, log);

        let cut = LogExcerpt::new(&log, true, Some("crash: out of memory\n"));
        assert_eq!(cut.counted, "last 1 lines; the log is over 8 MiB");
        assert_eq!(cut.tail, vec!["crash: out of memory"]);
        assert!(
            cut.file.starts_with("line 1\n")
                && cut
                    .file
                    .ends_with("(cut at 8 MiB; the last 50 lines follow)\ncrash: out of memory\n"),
            "{}",
            cut.file
        );

        let unreadable_end = LogExcerpt::new(&log, true, None);
        assert_eq!(
            unreadable_end.counted,
            "last 50 lines; lines before the 8 MiB cut; the end could not be read"
        );
        assert!(
            unreadable_end
                .file
                .ends_with("(cut at 8 MiB; the end of the log could not be read)\n")
        );
    }

    #[test]
    fn a_missing_config_map_outranks_the_kubelets_generic_mount_timeout() {
        let missing = json!({"reason": "FailedMount", "message": "MountVolume.SetUp failed for volume \"config\" : configmap \"api-config\" not found"});
        let generic = json!({"reason": "FailedMount", "message": "Unable to attach or mount volumes: unmounted volumes=[config], unattached volumes=[config kube-api-access-x]: timed out waiting for the condition"});
        assert_eq!(
            newest_verdict(&[&missing, &generic]).map(|(class, _)| class),
            Some(FailureClass::Application)
        );
        assert_eq!(
            newest_verdict(&[&generic]).map(|(class, _)| class),
            Some(FailureClass::Infrastructure)
        );
    }

    #[test]
    fn a_secrets_values_never_reach_a_diagnostics_file() {
        let secret = json!({"kind": "Secret", "metadata": {"name": "db"}, "data": {"password": "aHVudGVyMg=="}, "stringData": {"token": "t0k"}});
        let written = serde_json::to_string(&redacted(&secret)).expect("json");
        assert!(
            !written.contains("aHVudGVyMg==") && !written.contains("t0k"),
            "{written}"
        );
        assert!(written.contains("\"password\":\"<redacted>\""), "{written}");
        let config = json!({"kind": "ConfigMap", "data": {"k": "v"}});
        assert_eq!(redacted(&config), config);
    }
}
