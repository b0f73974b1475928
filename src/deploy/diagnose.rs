//! Why a workload is not ready, captured before anything is torn down: its pods (phase,
//! conditions, container states, restarts, exit codes), the Warning events for it and its pods,
//! and the logs of failing containers (the previous instance too after a restart). Full logs go
//! to files under `diagnostics/deploy/`; a digest goes into the step's failure for the reporters.

use std::fmt::Write as _;
use std::path::Path;

use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams, LogParams};
use serde_json::Value;

use super::apply::{REQUEST_TIMEOUT, Session};
use super::wait::{NotReady, list_pods, pods_of};
use crate::timing::FailureClass;

/// Log lines of each failing container kept in the digest.
pub(crate) const LOG_LINES: usize = 50;
/// The most of one container's log written to its file.
const LOG_FILE_LIMIT: i64 = 8 * 1024 * 1024;

/// What the diagnosis found.
#[derive(Debug, Default)]
pub(crate) struct Diagnosis {
    pub(crate) class: Option<FailureClass>,
    pub(crate) hint: Option<String>,
    /// Pod states, events and log tails, for the reporters.
    pub(crate) digest: Vec<String>,
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

async fn list_events(session: &Session, namespace: &str) -> Vec<Value> {
    let api: Api<Event> = Api::namespaced(session.client.clone(), namespace);
    match tokio::time::timeout(REQUEST_TIMEOUT, api.list(&ListParams::default())).await {
        Ok(Ok(list)) => list
            .items
            .into_iter()
            .filter_map(|event| serde_json::to_value(event).ok())
            .collect(),
        _ => Vec::new(),
    }
}

async fn fetch_log(session: &Session, namespace: &str, pod: &str, container: &str, previous: bool) -> Option<String> {
    let api: Api<Pod> = Api::namespaced(session.client.clone(), namespace);
    let params = LogParams {
        container: Some(container.to_owned()),
        previous,
        limit_bytes: Some(LOG_FILE_LIMIT),
        ..LogParams::default()
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, api.logs(pod, &params)).await {
        Ok(Ok(log)) => Some(log),
        _ => None,
    }
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
            diagnosis.digest.extend(lines);
            continue;
        };
        if !pods_by_namespace.contains_key(&namespace) {
            let pods = list_pods(session, &namespace).await.unwrap_or_default();
            pods_by_namespace.insert(namespace.clone(), pods);
            events_by_namespace.insert(namespace.clone(), list_events(session, &namespace).await);
        }
        let seen = entry.last_seen.clone().unwrap_or_else(|| object.value.clone());
        let pods: Vec<Value> = pods_of(&seen, &pods_by_namespace[&namespace])
            .into_iter()
            .cloned()
            .collect();
        if pods.is_empty()
            && matches!(
                object.kind.as_str(),
                "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job"
            )
        {
            lines.push("no pods: the controller created none (quota, admission or a selector that matches nothing; see the events)".to_owned());
        }
        let mut names: Vec<String> = vec![object.name.clone()];
        for pod in &pods {
            describe_pod(pod, &mut lines);
            names.push(text(pod, "/metadata/name").to_owned());
        }
        let warnings: Vec<&Value> = events_by_namespace[&namespace]
            .iter()
            .filter(|event| text(event, "/type") == "Warning")
            .filter(|event| names.iter().any(|name| name == text(event, "/involvedObject/name")))
            .collect();
        for event in &warnings {
            let reason = text(event, "/reason");
            let count = event.get("count").and_then(Value::as_i64).unwrap_or(1);
            lines.push(format!(
                "event {reason} {}/{} (x{count}): {}",
                text(event, "/involvedObject/kind").to_lowercase(),
                text(event, "/involvedObject/name"),
                text(event, "/message").trim_end()
            ));
            let (class, hint) = match reason {
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
                _ => continue,
            };
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
                    let Some(log) = fetch_log(session, &namespace, pod_name, container, previous).await else {
                        continue;
                    };
                    let suffix = if previous { ".previous" } else { "" };
                    let path = object_dir.join(format!("{}.{}{suffix}.log", safe(pod_name), safe(container)));
                    if std::fs::write(&path, &log).is_ok() {
                        diagnosis.files.push(relative(&path, report_dir));
                    }
                    let all: Vec<&str> = log.lines().collect();
                    let tail = &all[all.len().saturating_sub(LOG_LINES)..];
                    lines.push(format!(
                        "logs of {pod_name}/{container}{} (last {} of {} lines; full: {}):",
                        if previous { " (previous instance)" } else { "" },
                        tail.len(),
                        all.len(),
                        relative(&path, report_dir)
                    ));
                    lines.extend(tail.iter().map(|line| format!("  | {line}")));
                }
            }
        }
        let summary = object_dir.join(format!("{}-{}.txt", object.kind.to_lowercase(), safe(&object.name)));
        let mut body = lines.join("\n");
        body.push_str("\n\n# object as last seen\n");
        body.push_str(&serde_json::to_string_pretty(&seen).unwrap_or_default());
        body.push_str("\n\n# pods\n");
        body.push_str(&serde_json::to_string_pretty(&pods).unwrap_or_default());
        body.push('\n');
        if std::fs::write(&summary, body).is_ok() {
            diagnosis.files.push(relative(&summary, report_dir));
        }
        diagnosis.digest.extend(lines);
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
        assert_eq!(safe("a/b c"), "a_b_c");
    }
}
