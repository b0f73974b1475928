//! Readiness, the kstatus way (`sigs.k8s.io/cli-utils/pkg/kstatus`), over objects as the API
//! server returns them: `observedGeneration` first (kube-rs's `is_deployment_completed` skips
//! it), then per-kind rules, then the generic `Ready`/`Reconciling`/`Stalled` conditions. Pods
//! are also checked for the states that will never get better on their own (fail fast).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::model::FailureClass;

/// Whether an object is ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Readiness {
    /// Ready (kstatus `Current`).
    Current,
    /// Not yet; the message says what is missing.
    InProgress(String),
    /// Will not become ready without a change.
    Failed(Problem),
}

/// Why something failed, whose fault it is, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) reason: String,
    pub(crate) message: String,
    pub(crate) class: FailureClass,
    pub(crate) hint: Option<&'static str>,
}

impl std::fmt::Display for Problem {
    /// `Reason: message`, or the reason alone when the message is empty.
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.message.trim().is_empty() {
            formatter.write_str(&self.reason)
        } else {
            write!(formatter, "{}: {}", self.reason, self.message)
        }
    }
}

/// What readiness needs to know about the cluster.
#[derive(Debug, Default)]
pub(crate) struct Context {
    /// StorageClasses with `volumeBindingMode: WaitForFirstConsumer` (the default class as "").
    pub(crate) wait_for_first_consumer: BTreeSet<String>,
}

fn int(value: &Value, pointer: &str) -> i64 {
    value.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

fn text<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// `(status, reason, message)` of condition `kind`.
fn condition<'a>(object: &'a Value, kind: &str) -> Option<(&'a str, &'a str, &'a str)> {
    object
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find_map(|condition| {
            (condition.get("type")?.as_str()? == kind).then(|| {
                (
                    text(condition, "/status"),
                    text(condition, "/reason"),
                    text(condition, "/message"),
                )
            })
        })
}

fn in_progress(message: impl Into<String>) -> Readiness {
    Readiness::InProgress(message.into())
}

/// Evaluate one object.
pub(crate) fn evaluate(object: &Value, context: &Context) -> Readiness {
    let kind = text(object, "/kind");
    let generation = int(object, "/metadata/generation");
    let has_status = object.get("status").is_some_and(|status| !status.is_null());
    if generation > 0 && has_status && object.pointer("/status/observedGeneration").is_some() {
        let observed = int(object, "/status/observedGeneration");
        if observed < generation {
            return in_progress(format!(
                "the controller has not seen generation {generation} yet (observed {observed})"
            ));
        }
    }
    if let Some(("True", reason, message)) = condition(object, "Stalled") {
        return Readiness::Failed(Problem {
            reason: if reason.is_empty() {
                "Stalled".to_owned()
            } else {
                reason.to_owned()
            },
            message: message.to_owned(),
            class: FailureClass::Application,
            hint: None,
        });
    }
    if let Some(("True", _, message)) = condition(object, "Reconciling") {
        return in_progress(format!("reconciling: {message}"));
    }
    match kind {
        "Deployment" => deployment(object),
        "StatefulSet" => stateful_set(object),
        "DaemonSet" => daemon_set(object),
        "ReplicaSet" => replica_set(object),
        "Job" => job(object),
        "Pod" => pod(object),
        "CustomResourceDefinition" => crd(object),
        "Service" => service(object),
        "PersistentVolumeClaim" => pvc(object, context),
        _ => generic(object),
    }
}

fn generic(object: &Value) -> Readiness {
    match condition(object, "Ready") {
        Some(("False", reason, message)) => in_progress(format!("Ready=False {reason}: {message}")),
        Some(("Unknown", ..)) => in_progress("Ready=Unknown"),
        _ => Readiness::Current,
    }
}

fn deployment(object: &Value) -> Readiness {
    if !object.get("status").is_some_and(Value::is_object) {
        return in_progress("no status yet");
    }
    let wanted = object.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    let (replicas, updated, ready, available) = (
        int(object, "/status/replicas"),
        int(object, "/status/updatedReplicas"),
        int(object, "/status/readyReplicas"),
        int(object, "/status/availableReplicas"),
    );
    if let Some((_, "ProgressDeadlineExceeded", message)) = condition(object, "Progressing") {
        return Readiness::Failed(Problem {
            reason: "ProgressDeadlineExceeded".to_owned(),
            message: message.to_owned(),
            class: FailureClass::Application,
            hint: Some(
                "the rollout made no progress within progressDeadlineSeconds; the pods' states and events say why",
            ),
        });
    }
    if wanted > replicas {
        return in_progress(format!("replicas: {replicas}/{wanted}"));
    }
    if updated < wanted {
        return in_progress(format!("updated: {updated}/{wanted}"));
    }
    if replicas > updated {
        return in_progress(format!("pending termination: {}", replicas - updated));
    }
    if available < updated {
        return in_progress(format!("available: {available}/{updated}"));
    }
    if ready < updated {
        return in_progress(format!("ready: {ready}/{updated}"));
    }
    if wanted > 0 && condition(object, "Available").is_some_and(|(status, ..)| status != "True") {
        return in_progress("Available is not True");
    }
    Readiness::Current
}

fn stateful_set(object: &Value) -> Readiness {
    if !object.get("status").is_some_and(Value::is_object) {
        return in_progress("no status yet");
    }
    if let Some(waiting) = not_observed(object) {
        return waiting;
    }
    let wanted = object.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    let (replicas, ready, current, updated) = (
        int(object, "/status/replicas"),
        int(object, "/status/readyReplicas"),
        int(object, "/status/currentReplicas"),
        int(object, "/status/updatedReplicas"),
    );
    if wanted > replicas {
        return in_progress(format!("replicas: {replicas}/{wanted}"));
    }
    if wanted > ready {
        return in_progress(format!("ready: {ready}/{wanted}"));
    }
    // OnDelete: the user replaces pods, so revisions may legitimately differ (kstatus calls it
    // Current); a fresh deploy still needs its replicas ready, checked above.
    if text(object, "/spec/updateStrategy/type") == "OnDelete" {
        return Readiness::Current;
    }
    if let Some(partition) = object
        .pointer("/spec/updateStrategy/rollingUpdate/partition")
        .and_then(Value::as_i64)
    {
        let expected = (wanted - partition).max(0);
        if updated < expected {
            return in_progress(format!("updated: {updated}/{expected} (partition {partition})"));
        }
        return Readiness::Current;
    }
    let (current_revision, update_revision) = (
        text(object, "/status/currentRevision"),
        text(object, "/status/updateRevision"),
    );
    if current_revision != update_revision {
        return in_progress(format!("rolling out revision {update_revision}"));
    }
    if current < wanted {
        return in_progress(format!("current: {current}/{wanted}"));
    }
    Readiness::Current
}

/// A DaemonSet's or StatefulSet's status is all zeros until its controller first syncs it,
/// which reads as "0 of 0 ready": without `observedGeneration` the controller has not looked yet.
fn not_observed(object: &Value) -> Option<Readiness> {
    (int(object, "/metadata/generation") > 0 && object.pointer("/status/observedGeneration").is_none())
        .then(|| in_progress("the controller has not observed it yet"))
}

fn daemon_set(object: &Value) -> Readiness {
    if !object.get("status").is_some_and(Value::is_object) {
        return in_progress("no status yet");
    }
    if let Some(waiting) = not_observed(object) {
        return waiting;
    }
    let desired = int(object, "/status/desiredNumberScheduled");
    let checks = [
        ("scheduled", int(object, "/status/currentNumberScheduled")),
        ("updated", int(object, "/status/updatedNumberScheduled")),
        ("available", int(object, "/status/numberAvailable")),
        ("ready", int(object, "/status/numberReady")),
    ];
    for (what, count) in checks {
        if count < desired {
            return in_progress(format!("{what}: {count}/{desired}"));
        }
    }
    Readiness::Current
}

fn replica_set(object: &Value) -> Readiness {
    if !object.get("status").is_some_and(Value::is_object) {
        return in_progress("no status yet");
    }
    let wanted = object.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    let ready = int(object, "/status/readyReplicas");
    let available = int(object, "/status/availableReplicas");
    if ready < wanted {
        return in_progress(format!("ready: {ready}/{wanted}"));
    }
    if available < wanted {
        return in_progress(format!("available: {available}/{wanted}"));
    }
    Readiness::Current
}

fn job(object: &Value) -> Readiness {
    if let Some(("True", reason, message)) = condition(object, "Failed") {
        return Readiness::Failed(Problem {
            reason: if reason.is_empty() {
                "JobFailed".to_owned()
            } else {
                reason.to_owned()
            },
            message: message.to_owned(),
            class: FailureClass::Application,
            hint: Some("the job's pods failed; their last log lines say why"),
        });
    }
    if let Some(("True", ..)) = condition(object, "Complete") {
        return Readiness::Current;
    }
    in_progress(format!(
        "job running: {} active, {} succeeded, {} failed",
        int(object, "/status/active"),
        int(object, "/status/succeeded"),
        int(object, "/status/failed")
    ))
}

/// Container states that will not recover by waiting, with whose fault they are and a hint.
const FATAL_WAITING: &[(&str, FailureClass, &str)] = &[
    (
        "ErrImageNeverPull",
        FailureClass::Application,
        "the image was not loaded into the cluster under this reference; Podman tags are `localhost/...`: use the same fully-qualified reference in the build, the load and the manifest",
    ),
    (
        "ImagePullBackOff",
        FailureClass::Application,
        "the node tried to pull the image: it is not loaded under this reference, or imagePullPolicy is Always (`:latest` or no tag means Always); use IfNotPresent or Never",
    ),
    (
        "ErrImagePull",
        FailureClass::Application,
        "the node tried to pull the image: it is not loaded under this reference, or imagePullPolicy is Always (`:latest` or no tag means Always); use IfNotPresent or Never",
    ),
    (
        "InvalidImageName",
        FailureClass::Application,
        "the image reference in the manifest is malformed",
    ),
    (
        "CrashLoopBackOff",
        FailureClass::Application,
        "the container keeps crashing; its last log lines say why",
    ),
    (
        "CreateContainerConfigError",
        FailureClass::Application,
        "a ConfigMap, Secret or key the container references does not exist",
    ),
    (
        "CreateContainerError",
        FailureClass::Application,
        "the container could not be created (a bad mount, a missing volume, a name clash)",
    ),
    (
        "RunContainerError",
        FailureClass::Application,
        "the runtime could not start the container: a missing command, a bad securityContext or mount",
    ),
];

/// The first container state in a pod that will not get better on its own.
pub(crate) fn pod_problem(pod: &Value) -> Option<Problem> {
    let statuses = ["/status/initContainerStatuses", "/status/containerStatuses"]
        .iter()
        .filter_map(|pointer| pod.pointer(pointer).and_then(Value::as_array))
        .flatten();
    let restart_never = text(pod, "/spec/restartPolicy") == "Never";
    for status in statuses {
        let name = text(status, "/name");
        let waiting_reason = text(status, "/state/waiting/reason");
        if let Some((reason, class, hint)) = FATAL_WAITING.iter().find(|(reason, ..)| *reason == waiting_reason) {
            return Some(Problem {
                reason: (*reason).to_owned(),
                message: format!("container `{name}`: {}", text(status, "/state/waiting/message")),
                class: *class,
                hint: Some(hint),
            });
        }
        let exit_code = status.pointer("/state/terminated/exitCode").and_then(Value::as_i64);
        if let Some(code) = exit_code
            && code != 0
            && (restart_never
                || text(status, "/state/terminated/reason") == "Error" && int(status, "/restartCount") > 0)
        {
            return Some(Problem {
                reason: "ContainerExitedNonZero".to_owned(),
                message: format!(
                    "container `{name}` exited with code {code} ({})",
                    text(status, "/state/terminated/reason")
                ),
                class: FailureClass::Application,
                hint: Some("the container's command failed; its last log lines say why"),
            });
        }
    }
    None
}

/// [`pod_problem`] for a pod a workload of `owner_kind` runs. A Job's pods are allowed to crash
/// and exit non-zero: the Job controller retries up to `backoffLimit`, and the Job's own
/// `Failed` condition is the verdict. Image and configuration errors stay fatal for every owner.
pub(crate) fn owned_pod_problem(pod: &Value, owner_kind: &str) -> Option<Problem> {
    let problem = pod_problem(pod)?;
    let retried_by_owner =
        owner_kind == "Job" && matches!(problem.reason.as_str(), "CrashLoopBackOff" | "ContainerExitedNonZero");
    (!retried_by_owner).then_some(problem)
}

/// Whether a Kubernetes message says an object of one of `kinds` does not exist, as the kubelet
/// and the scheduler word it: `configmap "api-config" not found`.
pub(crate) fn names_a_missing(message: &str, kinds: &[&str]) -> bool {
    message.contains("not found") && kinds.iter().any(|kind| message.contains(&format!("{kind} \"")))
}

/// Why a pod unschedulable past the window fails: the cluster's (too small), or the manifest's
/// (a claim that does not exist, a node selector no Kind node has).
pub(crate) fn unschedulable_problem(message: String) -> Problem {
    let (class, hint) = if names_a_missing(&message, &["persistentvolumeclaim"]) {
        (
            FailureClass::Application,
            "the pod uses a PersistentVolumeClaim that does not exist; apply it in this group or one it depends on",
        )
    } else if message.contains("didn't match Pod's node affinity/selector") {
        (
            FailureClass::Application,
            "no node has the labels the pod's nodeSelector/affinity asks for; label the Kind node (kind config `labels:`) or drop the selector",
        )
    } else {
        (
            FailureClass::Infrastructure,
            "no node can take the pod: lower its resource requests, or give the Kind node more CPU/memory",
        )
    };
    Problem {
        reason: "Unschedulable".to_owned(),
        message,
        class,
        hint: Some(hint),
    }
}

/// Whether the scheduler could not place the pod (the waiter fails it after a short window).
pub(crate) fn unschedulable(pod: &Value) -> Option<String> {
    match condition(pod, "PodScheduled") {
        Some(("False", "Unschedulable", message)) => Some(message.to_owned()),
        _ => None,
    }
}

fn pod(object: &Value) -> Readiness {
    match text(object, "/status/phase") {
        "Succeeded" => return Readiness::Current,
        "Failed" => {
            return Readiness::Failed(Problem {
                reason: "PodFailed".to_owned(),
                message: text(object, "/status/message").to_owned(),
                class: FailureClass::Application,
                hint: Some("the pod's containers failed; their last log lines say why"),
            });
        }
        _ => {}
    }
    if let Some(problem) = pod_problem(object) {
        return Readiness::Failed(problem);
    }
    if let Some(message) = unschedulable(object) {
        return in_progress(format!("unschedulable: {message}"));
    }
    match condition(object, "Ready") {
        Some(("True", ..)) => Readiness::Current,
        _ => in_progress(format!(
            "pod {}; not Ready",
            text(object, "/status/phase").to_lowercase()
        )),
    }
}

fn crd(object: &Value) -> Readiness {
    if let Some(("False", reason, message)) = condition(object, "NamesAccepted") {
        return Readiness::Failed(Problem {
            reason: if reason.is_empty() {
                "NamesNotAccepted".to_owned()
            } else {
                reason.to_owned()
            },
            message: message.to_owned(),
            class: FailureClass::Application,
            hint: Some("the CRD's names clash with another resource"),
        });
    }
    match condition(object, "Established") {
        Some(("True", ..)) => Readiness::Current,
        _ => in_progress("not Established yet"),
    }
}

fn service(object: &Value) -> Readiness {
    if text(object, "/spec/type") == "LoadBalancer"
        && object
            .pointer("/status/loadBalancer/ingress")
            .and_then(Value::as_array)
            .is_none_or(Vec::is_empty)
    {
        return in_progress("waiting for a load balancer address (Kind has none without cloud-provider-kind)");
    }
    Readiness::Current
}

fn pvc(object: &Value, context: &Context) -> Readiness {
    match text(object, "/status/phase") {
        "Bound" => Readiness::Current,
        "Lost" => Readiness::Failed(Problem {
            reason: "ClaimLost".to_owned(),
            message: "the claim lost its volume".to_owned(),
            class: FailureClass::Infrastructure,
            hint: None,
        }),
        _ => {
            let class = text(object, "/spec/storageClassName");
            if context.wait_for_first_consumer.contains(class) {
                // Binds when a pod uses it; waiting for it here would deadlock the wait.
                Readiness::Current
            } else {
                in_progress("not Bound yet")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_message_leaves_no_dangling_colon() {
        let problem = |message: &str| Problem {
            reason: "BackoffLimitExceeded".to_owned(),
            message: message.to_owned(),
            class: FailureClass::Application,
            hint: None,
        };
        assert_eq!(problem("").to_string(), "BackoffLimitExceeded");
        assert_eq!(problem("  ").to_string(), "BackoffLimitExceeded");
        assert_eq!(
            problem("Job has reached the specified backoff limit").to_string(),
            "BackoffLimitExceeded: Job has reached the specified backoff limit"
        );
    }
    use serde_json::json;

    fn check(object: Value) -> Readiness {
        let context = Context {
            wait_for_first_consumer: ["standard".to_owned(), String::new()].into(),
        };
        evaluate(&object, &context)
    }

    fn deployment(generation: i64, spec_replicas: i64, status: Value) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "generation": generation},
               "spec": {"replicas": spec_replicas}, "status": status})
    }

    fn available(progressing_reason: &str) -> Value {
        json!([
            {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
            {"type": "Progressing", "status": "True", "reason": progressing_reason}
        ])
    }

    #[test]
    fn deployments() {
        let ready = json!({"observedGeneration": 2, "replicas": 2, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2, "conditions": available("NewReplicaSetAvailable")});
        assert_eq!(check(deployment(2, 2, ready.clone())), Readiness::Current);
        // Stale status after a re-apply: what kube-rs's is_deployment_completed misses.
        assert!(
            matches!(check(deployment(3, 2, ready)), Readiness::InProgress(message) if message.contains("generation 3"))
        );
        let rolling = json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 1, "readyReplicas": 2, "availableReplicas": 2});
        assert_eq!(
            check(deployment(1, 2, rolling)),
            Readiness::InProgress("updated: 1/2".to_owned())
        );
        let terminating = json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 2, "readyReplicas": 2, "availableReplicas": 2});
        assert_eq!(
            check(deployment(1, 2, terminating)),
            Readiness::InProgress("pending termination: 1".to_owned())
        );
        let not_ready = json!({"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "availableReplicas": 1});
        assert_eq!(
            check(deployment(1, 1, not_ready)),
            Readiness::InProgress("ready: 0/1".to_owned())
        );
        let stuck = json!({"observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "conditions": [
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"d-5d\" has timed out progressing."}]});
        assert!(
            matches!(check(deployment(1, 1, stuck)), Readiness::Failed(problem) if problem.reason == "ProgressDeadlineExceeded")
        );
        assert_eq!(
            check(deployment(1, 0, json!({"observedGeneration": 1}))),
            Readiness::Current,
            "scaled to zero"
        );
        assert_eq!(
            check(json!({"kind": "Deployment", "metadata": {"generation": 1}, "spec": {}})),
            Readiness::InProgress("no status yet".to_owned())
        );
    }

    #[test]
    fn stateful_sets_daemon_sets_replica_sets() {
        let sts = |status: Value| json!({"kind": "StatefulSet", "metadata": {"generation": 1}, "spec": {"replicas": 2}, "status": status});
        assert_eq!(
            check(sts(
                json!({"observedGeneration": 1, "replicas": 2, "readyReplicas": 2, "currentReplicas": 2, "updatedReplicas": 2, "currentRevision": "r1", "updateRevision": "r1"})
            )),
            Readiness::Current
        );
        assert!(matches!(
            check(sts(json!({"observedGeneration": 1, "replicas": 2, "readyReplicas": 2, "currentReplicas": 1, "updatedReplicas": 1, "currentRevision": "r1", "updateRevision": "r2"}))),
            Readiness::InProgress(message) if message.contains("revision r2")
        ));
        let ds = json!({"kind": "DaemonSet", "metadata": {"generation": 1}, "status": {"observedGeneration": 1, "desiredNumberScheduled": 2, "currentNumberScheduled": 2, "updatedNumberScheduled": 2, "numberAvailable": 1, "numberReady": 2}});
        assert_eq!(check(ds), Readiness::InProgress("available: 1/2".to_owned()));
        let rs = json!({"kind": "ReplicaSet", "metadata": {"generation": 1}, "spec": {"replicas": 1}, "status": {"observedGeneration": 1, "replicas": 1, "readyReplicas": 1, "availableReplicas": 1}});
        assert_eq!(check(rs), Readiness::Current);
        // Fresh from the API server, before the controller's first sync: zeros, not "0 of 0 ready".
        let fresh_ds = json!({"kind": "DaemonSet", "metadata": {"generation": 1}, "status": {"currentNumberScheduled": 0, "desiredNumberScheduled": 0, "numberMisscheduled": 0, "numberReady": 0}});
        assert_eq!(
            check(fresh_ds),
            Readiness::InProgress("the controller has not observed it yet".to_owned())
        );
        let fresh_sts = sts(json!({"replicas": 0, "availableReplicas": 0}));
        assert!(matches!(check(fresh_sts), Readiness::InProgress(message) if message.contains("not observed")));
        // OnDelete: revisions are the user's business, ready replicas still are ours.
        let on_delete = |ready: i64| {
            json!({"kind": "StatefulSet", "metadata": {"generation": 1},
            "spec": {"replicas": 2, "updateStrategy": {"type": "OnDelete"}},
            "status": {"observedGeneration": 1, "replicas": 2, "readyReplicas": ready, "currentReplicas": 1, "updatedReplicas": 1, "currentRevision": "r1", "updateRevision": "r2"}})
        };
        assert_eq!(check(on_delete(1)), Readiness::InProgress("ready: 1/2".to_owned()));
        assert_eq!(check(on_delete(2)), Readiness::Current);
    }

    #[test]
    fn jobs_need_complete_and_fail_on_failed() {
        let job = |conditions: Value| json!({"kind": "Job", "metadata": {"generation": 1}, "status": {"active": 1, "conditions": conditions}});
        assert_eq!(
            check(job(json!([{"type": "Complete", "status": "True"}]))),
            Readiness::Current
        );
        assert!(
            matches!(check(job(json!([{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]))),
            Readiness::Failed(problem) if problem.reason == "BackoffLimitExceeded")
        );
        assert!(matches!(check(job(json!([]))), Readiness::InProgress(message) if message.contains("1 active")));
    }

    fn pod_with(container_status: Value, restart_policy: &str) -> Value {
        json!({"kind": "Pod", "metadata": {"name": "p"}, "spec": {"restartPolicy": restart_policy},
               "status": {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False"}], "containerStatuses": [container_status]}})
    }

    #[test]
    fn pods_fail_fast_on_states_that_never_recover() {
        for (reason, class) in [
            ("ImagePullBackOff", FailureClass::Application),
            ("ErrImagePull", FailureClass::Application),
            ("ErrImageNeverPull", FailureClass::Application),
            ("InvalidImageName", FailureClass::Application),
            ("CrashLoopBackOff", FailureClass::Application),
            ("CreateContainerConfigError", FailureClass::Application),
            ("RunContainerError", FailureClass::Application),
        ] {
            let pod = pod_with(
                json!({"name": "app", "restartCount": 3, "state": {"waiting": {"reason": reason, "message": "m"}}}),
                "Always",
            );
            match check(pod) {
                Readiness::Failed(problem) => {
                    assert_eq!((problem.reason.as_str(), problem.class), (reason, class));
                    assert!(problem.hint.is_some());
                }
                other => panic!("{reason}: {other:?}"),
            }
        }
        let never_pull = pod_problem(&pod_with(
            json!({"name": "app", "state": {"waiting": {"reason": "ErrImageNeverPull"}}}),
            "Always",
        ))
        .expect("problem");
        assert!(never_pull.hint.expect("hint").contains("localhost/"));
        let exited = pod_with(
            json!({"name": "migrate", "state": {"terminated": {"exitCode": 3, "reason": "Error"}}}),
            "Never",
        );
        assert!(matches!(check(exited), Readiness::Failed(problem) if problem.message.contains("exited with code 3")));
        let creating = pod_with(
            json!({"name": "app", "state": {"waiting": {"reason": "ContainerCreating"}}}),
            "Always",
        );
        assert!(matches!(check(creating), Readiness::InProgress(_)));
    }

    #[test]
    fn a_jobs_pods_may_crash_and_retry_but_not_miss_their_image() {
        let crashed = pod_with(
            json!({"name": "migrate", "state": {"terminated": {"exitCode": 1, "reason": "Error"}}}),
            "Never",
        );
        assert!(owned_pod_problem(&crashed, "Deployment").is_some());
        assert_eq!(
            owned_pod_problem(&crashed, "Job"),
            None,
            "the Job controller retries up to backoffLimit"
        );
        let looping = pod_with(
            json!({"name": "migrate", "restartCount": 1, "state": {"waiting": {"reason": "CrashLoopBackOff"}}}),
            "OnFailure",
        );
        assert_eq!(owned_pod_problem(&looping, "Job"), None);
        let never_pulled = pod_with(
            json!({"name": "migrate", "state": {"waiting": {"reason": "ErrImageNeverPull"}}}),
            "Never",
        );
        assert!(
            matches!(owned_pod_problem(&never_pulled, "Job"), Some(problem) if problem.reason == "ErrImageNeverPull")
        );
    }

    #[test]
    fn pods_phases_and_scheduling() {
        assert_eq!(
            check(json!({"kind": "Pod", "status": {"phase": "Succeeded"}})),
            Readiness::Current
        );
        assert!(matches!(
            check(json!({"kind": "Pod", "status": {"phase": "Failed", "message": "evicted"}})),
            Readiness::Failed(_)
        ));
        let ready =
            json!({"kind": "Pod", "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
        assert_eq!(check(ready), Readiness::Current);
        let pending = json!({"kind": "Pod", "status": {"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/1 nodes are available: 1 Insufficient cpu."}]}});
        assert!(
            unschedulable(&pending)
                .expect("unschedulable")
                .contains("Insufficient cpu")
        );
        assert!(matches!(check(pending), Readiness::InProgress(message) if message.starts_with("unschedulable")));
        // Scheduler messages as kube-scheduler words them: whose fault each one is.
        for (message, class) in [
            (
                "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
                FailureClass::Infrastructure,
            ),
            (
                "0/1 nodes are available: persistentvolumeclaim \"data\" not found. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
                FailureClass::Application,
            ),
            (
                "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
                FailureClass::Application,
            ),
        ] {
            let problem = unschedulable_problem(message.to_owned());
            assert_eq!(problem.class, class, "{message}");
            assert_eq!(problem.message, message);
            assert!(problem.hint.is_some());
        }
    }

    #[test]
    fn crds_services_pvcs_and_generic_conditions() {
        let crd = |conditions: Value| json!({"kind": "CustomResourceDefinition", "status": {"conditions": conditions}});
        assert_eq!(
            check(crd(json!([{"type": "Established", "status": "True"}]))),
            Readiness::Current
        );
        assert!(matches!(
            check(crd(json!([{"type": "NamesAccepted", "status": "True"}]))),
            Readiness::InProgress(_)
        ));
        assert!(matches!(
            check(crd(
                json!([{"type": "NamesAccepted", "status": "False", "reason": "ListKindConflict"}])
            )),
            Readiness::Failed(_)
        ));
        assert_eq!(
            check(json!({"kind": "Service", "spec": {"type": "ClusterIP"}})),
            Readiness::Current
        );
        assert!(matches!(
            check(json!({"kind": "Service", "spec": {"type": "LoadBalancer"}, "status": {"loadBalancer": {}}})),
            Readiness::InProgress(_)
        ));
        let pvc = |class: &str| json!({"kind": "PersistentVolumeClaim", "spec": {"storageClassName": class}, "status": {"phase": "Pending"}});
        assert_eq!(
            check(pvc("standard")),
            Readiness::Current,
            "an unconsumed WaitForFirstConsumer claim does not block"
        );
        assert!(matches!(check(pvc("fast-immediate")), Readiness::InProgress(_)));
        let custom = |conditions: Value| json!({"kind": "Widget", "metadata": {"generation": 4}, "status": {"observedGeneration": 4, "conditions": conditions}});
        assert_eq!(
            check(custom(json!([{"type": "Ready", "status": "True"}]))),
            Readiness::Current
        );
        assert!(matches!(
            check(custom(
                json!([{"type": "Ready", "status": "False", "reason": "Waiting"}])
            )),
            Readiness::InProgress(_)
        ));
        assert!(matches!(
            check(custom(
                json!([{"type": "Reconciling", "status": "True", "message": "scaling"}])
            )),
            Readiness::InProgress(_)
        ));
        assert!(
            matches!(check(custom(json!([{"type": "Stalled", "status": "True", "reason": "BadSpec"}]))), Readiness::Failed(problem) if problem.reason == "BadSpec")
        );
        assert_eq!(
            check(json!({"kind": "ConfigMap", "metadata": {"name": "c"}})),
            Readiness::Current
        );
    }
}
