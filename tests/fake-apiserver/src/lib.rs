//! An in-process Kubernetes API server on loopback for hybrid-e2e's tests and benchmarks.
//!
//! It speaks the endpoints the deploy phase uses — discovery (aggregated and per-group), server-side
//! apply with strict field validation, get and list (label and field selectors, `limit`/`continue`
//! pages), watches
//! (`watch=true` from a `resourceVersion`, bookmarks, `timeoutSeconds`, 410 for a version older than
//! its event log, scripted resets: [`watch`]), pod logs and events, the scale subresource of
//! Deployments/StatefulSets/ReplicaSets (a merge patch, as `kubectl scale`; the pods beyond the
//! new count terminate for `Script::termination_grace`), JSON merge patches of objects (a
//! DaemonSet whose node selector no longer matches the node loses its pod the same way) and
//! graceful deletion of Pods — and plays scripted status
//! timelines. Every object it returns is built as the API's JSON and round-trips through the
//! `k8s-openapi` type of its kind, so shapes are the API's own. Status is computed when an object is
//! read, from the time since its last apply; while a watch is open, changes are materialised every
//! few milliseconds into resourceVersions and watch events.
//!
//! It is as strict as a real API server for what our users apply ([`validation`]): list entries
//! without their key and undeclared fields fail the typed patch (500), a fractional number in an
//! integer field fails the conversion (500), Deployment/ReplicaSet/StatefulSet/DaemonSet selectors,
//! Job restart policies, DNS names per kind, file modes (0–0777), ports (1–65535), replica counts
//! (≥ 0), immutable fields and custom resources against their CRD's schema are validated (422
//! `Invalid` with `details.causes`), and another field manager's fields conflict without `force`
//! (409), as does a stale `resourceVersion`. A pod starts only when the node has its images
//! ([`images`]): the Kind node image's own, those the test marks loaded, those a fake `kind` loaded
//! (`Script::kind_state`) and those marked pullable; otherwise its containers wait in
//! `ErrImageNeverPull` or `ErrImagePull`/`ImagePullBackOff` and its workload never becomes ready.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use k8s_openapi::api::apps::v1 as apps;
use k8s_openapi::api::batch::v1 as batch;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::rbac::v1 as rbac;
use k8s_openapi::api::storage::v1 as storage;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as meta;
use serde_json::{Value, json};

mod images;
mod validation;
mod watch;

pub use validation::ManagerOperation;
use validation::Managers;
pub use watch::LoggedEvent;

const TIMESTAMP: &str = "2026-11-22T10:00:00Z";
/// How long after its pod starts the kubelet reports a failed pull as `ImagePullBackOff`.
const IMAGE_BACKOFF_AFTER: Duration = Duration::from_millis(500);

/// How a workload (or a CRD) behaves after it is applied.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// Ready (status and Running, Ready pods) this long after its apply.
    ReadyAfter(Duration),
    /// Pods keep crashing: `CrashLoopBackOff`, 4 restarts, last exit `exit_code`; both the current
    /// and the previous instance log `log`.
    CrashLoop { exit_code: i32, log: Vec<String> },
    /// The image is not on the node and the pull policy is `Never`: `ErrImageNeverPull`.
    ImageNeverPulled,
    /// Running, never Ready: `Unhealthy` events from a failing readiness probe.
    ReadinessProbeFailing,
    /// Pending: `PodScheduled=False`, `Unschedulable`, a `FailedScheduling` event.
    Unschedulable,
    /// A Job that fails: `Failed=True`, `BackoffLimitExceeded`.
    JobFails,
    /// A CRD: `NamesAccepted` at once, `Established` after this.
    CrdEstablishedAfter(Duration),
}

/// What the server plays.
#[derive(Clone, Debug)]
pub struct Script {
    /// By `metadata.name` of workloads and CRDs.
    pub behaviours: HashMap<String, Behaviour>,
    pub default_behaviour: Behaviour,
    /// Time spent inside each apply request.
    pub apply_latency: Duration,
    /// Answer aggregated-discovery requests with the legacy lists (as a server without it does).
    pub legacy_discovery_only: bool,
    /// After the first apply, close this many GET/LIST connections without an answer.
    pub drop_connections: usize,
    pub node_ready_after: Duration,
    pub coredns_ready_after: Duration,
    /// A namespace created by apply gets its `default` ServiceAccount this long after.
    pub default_service_account_after: Duration,
    /// Images in the node's containerd store from the start (a Kind node image ships these).
    pub node_images: Vec<String>,
    /// Images loaded into the cluster, as the test says (normalised like containerd).
    pub loaded_images: Vec<String>,
    /// A fake `kind`'s state directory (`FAKE_KIND_STATE`): every image listed in its
    /// `clusters/<name>` files counts as loaded, read whenever a pod's status is computed.
    pub kind_state: Option<std::path::PathBuf>,
    /// Images a pull would find (public images such as `postgres:16`); nothing else can be pulled.
    pub pullable_images: Vec<String>,
    /// Objects that exist before the test, with the field manager that wrote them.
    pub existing: Vec<Owned>,
    /// Watch connections are reset (no clean end) this long after they start: clients must
    /// reconnect from the last resourceVersion they saw.
    pub drop_watches_after: Option<Duration>,
    /// Pods of a workload scaled down (scale subresource) stay, terminating (with a
    /// `deletionTimestamp`), this long: the graceful shutdown a kubelet gives them.
    pub termination_grace: Duration,
}

/// An object some other field manager wrote (for conflicts).
#[derive(Clone, Debug)]
pub struct Owned {
    pub value: Value,
    pub manager: String,
    pub operation: ManagerOperation,
}

impl Default for Script {
    fn default() -> Script {
        Script {
            behaviours: HashMap::new(),
            default_behaviour: Behaviour::ReadyAfter(Duration::from_millis(50)),
            apply_latency: Duration::ZERO,
            legacy_discovery_only: false,
            drop_connections: 0,
            node_ready_after: Duration::ZERO,
            coredns_ready_after: Duration::ZERO,
            default_service_account_after: Duration::from_millis(100),
            node_images: images::KIND_NODE_IMAGES
                .iter()
                .map(|image| (*image).to_owned())
                .collect(),
            loaded_images: Vec::new(),
            kind_state: None,
            pullable_images: Vec::new(),
            existing: Vec::new(),
            drop_watches_after: None,
            termination_grace: Duration::from_millis(300),
        }
    }
}

impl Script {
    /// The script with `images` loaded into the cluster.
    pub fn loaded(mut self, images: &[&str]) -> Script {
        self.loaded_images
            .extend(images.iter().map(|image| (*image).to_owned()));
        self
    }

    /// The script with `images` pullable from their registries.
    pub fn pullable(mut self, images: &[&str]) -> Script {
        self.pullable_images
            .extend(images.iter().map(|image| (*image).to_owned()));
        self
    }
}

/// A request as it arrived.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    pub query: String,
    pub content_type: Option<String>,
    pub accept: Option<String>,
    /// When it arrived.
    pub at: Instant,
}

/// A served resource.
#[derive(Clone, Debug, PartialEq)]
struct Resource {
    group: String,
    version: String,
    plural: String,
    kind: String,
    namespaced: bool,
}

impl Resource {
    fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

const BUILT_IN: &[(&str, &str, &str, &str, bool)] = &[
    ("", "v1", "namespaces", "Namespace", false),
    ("", "v1", "nodes", "Node", false),
    ("", "v1", "pods", "Pod", true),
    ("", "v1", "services", "Service", true),
    ("", "v1", "serviceaccounts", "ServiceAccount", true),
    ("", "v1", "configmaps", "ConfigMap", true),
    ("", "v1", "secrets", "Secret", true),
    ("", "v1", "events", "Event", true),
    ("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", true),
    ("apps", "v1", "deployments", "Deployment", true),
    ("apps", "v1", "statefulsets", "StatefulSet", true),
    ("apps", "v1", "daemonsets", "DaemonSet", true),
    ("apps", "v1", "replicasets", "ReplicaSet", true),
    ("batch", "v1", "jobs", "Job", true),
    ("batch", "v1", "cronjobs", "CronJob", true),
    (
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        false,
    ),
    ("storage.k8s.io", "v1", "storageclasses", "StorageClass", false),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role", true),
    ("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", true),
    ("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", false),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        false,
    ),
];

/// The JSON of `value` after a trip through the `k8s-openapi` type of `kind` (`None`: no type,
/// a custom resource).
fn typed_round_trip(kind: &str, value: &Value) -> Option<Result<Value, String>> {
    fn trip<T: serde::de::DeserializeOwned + serde::Serialize>(value: &Value) -> Result<Value, String> {
        let typed: T = serde_json::from_value(value.clone()).map_err(|error| error.to_string())?;
        serde_json::to_value(typed).map_err(|error| error.to_string())
    }
    Some(match kind {
        "Namespace" => trip::<core::Namespace>(value),
        "Node" => trip::<core::Node>(value),
        "Pod" => trip::<core::Pod>(value),
        "Service" => trip::<core::Service>(value),
        "ServiceAccount" => trip::<core::ServiceAccount>(value),
        "ConfigMap" => trip::<core::ConfigMap>(value),
        "Secret" => trip::<core::Secret>(value),
        "Event" => trip::<core::Event>(value),
        "PersistentVolumeClaim" => trip::<core::PersistentVolumeClaim>(value),
        "Deployment" => trip::<apps::Deployment>(value),
        "StatefulSet" => trip::<apps::StatefulSet>(value),
        "DaemonSet" => trip::<apps::DaemonSet>(value),
        "ReplicaSet" => trip::<apps::ReplicaSet>(value),
        "Job" => trip::<batch::Job>(value),
        "CronJob" => trip::<batch::CronJob>(value),
        "CustomResourceDefinition" => trip::<apiextensions::CustomResourceDefinition>(value),
        "StorageClass" => trip::<storage::StorageClass>(value),
        "Role" => trip::<rbac::Role>(value),
        "RoleBinding" => trip::<rbac::RoleBinding>(value),
        "ClusterRole" => trip::<rbac::ClusterRole>(value),
        "ClusterRoleBinding" => trip::<rbac::ClusterRoleBinding>(value),
        _ => return None,
    })
}

/// The Go integer type a fractional number could not be converted to, from serde's message
/// (`invalid type: floating point `1.5`, expected i32`).
fn conversion_target(error: &str) -> Option<&'static str> {
    if !error.contains("invalid type: floating point") {
        return None;
    }
    Some(if error.contains("expected i64") {
        "int64"
    } else {
        "int32"
    })
}

/// Field paths present in `input` but not in `output` (what a typed round trip dropped).
fn dropped_fields(input: &Value, output: &Value, path: &str, found: &mut Vec<String>) {
    match (input, output) {
        (Value::Object(input), Value::Object(output)) => {
            for (key, value) in input {
                let here = format!("{path}.{key}");
                match output.get(key) {
                    None if !value.is_null() => found.push(here),
                    Some(inner) => dropped_fields(value, inner, &here, found),
                    None => {}
                }
            }
        }
        (Value::Array(input), Value::Array(output)) => {
            for (index, (value, inner)) in input.iter().zip(output).enumerate() {
                dropped_fields(value, inner, &format!("{path}[{index}]"), found);
            }
        }
        _ => {}
    }
}

/// A stored object: what was applied, when.
#[derive(Clone, Debug)]
struct Stored {
    value: Value,
    applied_at: Instant,
    /// Scaled down through the scale subresource: when, and how many pods it had before (they
    /// terminate gracefully for `Script::termination_grace`).
    scaled_down: Option<(Instant, usize)>,
    /// Deleted (a Pod): terminating for `Script::termination_grace` from then, then gone.
    deleted_at: Option<Instant>,
    /// Who owns which fields (server-side apply).
    managers: Managers,
}

type Key = (String, String, String, String); // api version, kind, namespace ("" = cluster), name

fn object_key(value: &Value) -> Key {
    let text = |pointer: &str| value.pointer(pointer).and_then(Value::as_str).unwrap_or("").to_owned();
    (
        text("/apiVersion"),
        text("/kind"),
        text("/metadata/namespace"),
        text("/metadata/name"),
    )
}

struct State {
    script: Script,
    started: Instant,
    objects: BTreeMap<Key, Stored>,
    resource_version: u64,
    requests: Vec<RecordedRequest>,
    applies_in_flight: usize,
    max_applies_in_flight: usize,
    applied_once: bool,
    dropped: usize,
    /// What watches have been told: every object's last view and its resourceVersion, the
    /// event log, open watches (see `watch.rs`).
    watch: watch::WatchState,
    /// The node's images, cached while one materialisation computes every view.
    image_cache: std::cell::RefCell<Option<images::Images>>,
}

fn hash(text: &str) -> String {
    // FNV-1a: stable pod names without a dependency.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

fn condition(kind: &str, status: &str, reason: &str, message: &str) -> Value {
    json!({"type": kind, "status": status, "reason": reason, "message": message, "lastTransitionTime": TIMESTAMP})
}

impl State {
    fn new(script: Script) -> State {
        let mut state = State {
            script,
            started: Instant::now(),
            objects: BTreeMap::new(),
            resource_version: 100,
            requests: Vec::new(),
            applies_in_flight: 0,
            max_applies_in_flight: 0,
            applied_once: false,
            dropped: 0,
            watch: watch::WatchState::default(),
            image_cache: std::cell::RefCell::new(None),
        };
        let started = state.started;
        for namespace in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            state.store(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}),
                started,
            );
        }
        for namespace in ["default", "kube-system"] {
            state.store(
                json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": namespace}}),
                started,
            );
        }
        state.store(
            json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "kind-control-plane", "labels": node_labels()}}),
            started,
        );
        state.store(
            json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
                "provisioner": "rancher.io/local-path", "volumeBindingMode": "WaitForFirstConsumer", "reclaimPolicy": "Delete"}),
            started,
        );
        state.store(
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "coredns", "namespace": "kube-system", "labels": {"k8s-app": "kube-dns"}},
                "spec": {"replicas": 2, "selector": {"matchLabels": {"k8s-app": "kube-dns"}},
                    "template": {"metadata": {"labels": {"k8s-app": "kube-dns"}}, "spec": {"containers": [{"name": "coredns", "image": "registry.k8s.io/coredns/coredns:v1.12.0"}]}}}}),
            started,
        );
        for owned in state.script.existing.clone() {
            if let Some(namespace) = owned.value["metadata"]["namespace"].as_str()
                && !state.namespace_exists(namespace)
            {
                state.store(
                    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}),
                    started,
                );
            }
            state.store(owned.value.clone(), started);
            let key = object_key(&owned.value);
            if let Some(stored) = state.objects.get_mut(&key) {
                let fields = validation::leaf_fields(&owned.value).into_keys().collect();
                stored.managers.insert(owned.manager, (owned.operation, fields));
            }
        }
        state
    }

    fn next_version(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }

    /// Store (create or update) `value` as applied at `at`; returns whether it was created.
    fn store(&mut self, mut value: Value, at: Instant) -> bool {
        let api_version = value["apiVersion"].as_str().unwrap_or("").to_owned();
        let kind = value["kind"].as_str().unwrap_or("").to_owned();
        let namespace = value["metadata"]["namespace"].as_str().unwrap_or("").to_owned();
        let name = value["metadata"]["name"].as_str().unwrap_or("").to_owned();
        let key = (api_version, kind, namespace, name.clone());
        let version = self.next_version();
        let previous = self.objects.get(&key).filter(|old| !self.gone(old)).cloned();
        let created = previous.is_none();
        let uid = match &previous {
            Some(old) => old.value["metadata"]["uid"].clone(),
            None => json!(format!("uid-{}", hash(&format!("{key:?}")))),
        };
        if key.1 == "Job" && value["spec"]["manualSelector"].as_bool() != Some(true) {
            // The Job API's defaulting: a selector on the controller uid, labels to match.
            let labels = json!({
                "batch.kubernetes.io/controller-uid": uid, "controller-uid": uid,
                "batch.kubernetes.io/job-name": name, "job-name": name,
            });
            value["spec"]["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
            let template = &mut value["spec"]["template"];
            if !template["metadata"].is_object() {
                template["metadata"] = json!({});
            }
            if !template["metadata"]["labels"].is_object() {
                template["metadata"]["labels"] = json!({});
            }
            for (label, label_value) in labels.as_object().expect("labels") {
                template["metadata"]["labels"][label] = label_value.clone();
            }
        }
        let metadata = value["metadata"].as_object_mut().expect("metadata");
        metadata.insert("resourceVersion".to_owned(), json!(version));
        match &previous {
            Some(old) => {
                let old_meta = &old.value["metadata"];
                metadata.insert("uid".to_owned(), old_meta["uid"].clone());
                metadata.insert("creationTimestamp".to_owned(), old_meta["creationTimestamp"].clone());
                let generation = old_meta["generation"].as_i64().unwrap_or(1);
                let changed = old.value.get("spec") != value.get("spec");
                value["metadata"]["generation"] = json!(if changed { generation + 1 } else { generation });
            }
            None => {
                metadata.insert("uid".to_owned(), uid);
                metadata.insert("creationTimestamp".to_owned(), json!(TIMESTAMP));
                metadata.insert("generation".to_owned(), json!(1));
            }
        }
        // A re-apply that changes nothing keeps its timeline.
        let applied_at = match &previous {
            Some(old) if old.value.get("spec") == value.get("spec") => old.applied_at,
            _ => at,
        };
        // An apply does not undo a deletion in progress.
        let deleted_at = previous.as_ref().and_then(|old| old.deleted_at);
        let managers = previous.map(|old| old.managers).unwrap_or_default();
        self.objects.insert(
            key.clone(),
            Stored {
                value,
                applied_at,
                managers,
                scaled_down: None,
                deleted_at,
            },
        );
        // Watches see the write at its own resourceVersion.
        self.record_write(&key, version.parse().unwrap_or(self.resource_version), at);
        created
    }

    /// Whether a deleted object has finished terminating.
    fn gone(&self, stored: &Stored) -> bool {
        stored
            .deleted_at
            .is_some_and(|at| at.elapsed() >= self.script.termination_grace)
    }

    fn behaviour(&self, name: &str, kind: &str) -> Behaviour {
        if let Some(behaviour) = self.script.behaviours.get(name) {
            return behaviour.clone();
        }
        if kind == "CustomResourceDefinition" {
            return Behaviour::CrdEstablishedAfter(Duration::from_millis(100));
        }
        self.script.default_behaviour.clone()
    }

    /// The behaviour of a workload (CoreDNS follows `coredns_ready_after`).
    fn workload_behaviour(&self, namespace: &str, name: &str, kind: &str) -> Behaviour {
        if namespace == "kube-system" && name == "coredns" && kind == "Deployment" {
            return Behaviour::ReadyAfter(self.script.coredns_ready_after);
        }
        self.behaviour(name, kind)
    }

    /// The behaviour of a pod: its owner's, or its own for a pod applied directly.
    fn pod_behaviour(&self, pod: &Value) -> Behaviour {
        let namespace = pod["metadata"]["namespace"].as_str().unwrap_or("");
        let owner = &pod["metadata"]["ownerReferences"][0];
        match (owner["name"].as_str(), owner["kind"].as_str()) {
            (Some(name), Some(kind)) => self.workload_behaviour(namespace, name, kind),
            _ => self.behaviour(pod["metadata"]["name"].as_str().unwrap_or(""), "Pod"),
        }
    }

    /// Every pod in `namespace` as a read returns it now: applied ones and those of workloads.
    fn pods(&self, namespace: Option<&str>) -> Vec<Value> {
        let mut pods: Vec<Value> = self
            .objects
            .iter()
            .filter(|((version, kind, object_namespace, _), stored)| {
                version == "v1"
                    && kind == "Pod"
                    && namespace.is_none_or(|namespace| namespace == object_namespace)
                    && !self.gone(stored)
            })
            .map(|(_, stored)| self.view(stored))
            .collect();
        pods.extend(self.workload_pods(namespace));
        pods
    }

    /// CRDs that are Established now, as resources.
    fn crd_resources(&self) -> Vec<Resource> {
        let mut resources = Vec::new();
        for ((_, kind, _, _), stored) in &self.objects {
            if kind != "CustomResourceDefinition" || !self.crd_established(stored) {
                continue;
            }
            let spec = &stored.value["spec"];
            for version in spec["versions"].as_array().into_iter().flatten() {
                if version["served"].as_bool() != Some(true) {
                    continue;
                }
                resources.push(Resource {
                    group: spec["group"].as_str().unwrap_or("").to_owned(),
                    version: version["name"].as_str().unwrap_or("").to_owned(),
                    plural: spec["names"]["plural"].as_str().unwrap_or("").to_owned(),
                    kind: spec["names"]["kind"].as_str().unwrap_or("").to_owned(),
                    namespaced: spec["scope"].as_str() == Some("Namespaced"),
                });
            }
        }
        resources
    }

    /// The `openAPIV3Schema` of `kind` in `group`/`version`, when a CRD serves it.
    fn crd_schema(&self, group: &str, version: &str, kind: &str) -> Option<Value> {
        self.objects
            .iter()
            .filter(|((_, object_kind, _, _), _)| object_kind == "CustomResourceDefinition")
            .map(|(_, stored)| &stored.value["spec"])
            .filter(|spec| spec["group"] == group && spec["names"]["kind"] == kind)
            .flat_map(|spec| spec["versions"].as_array().into_iter().flatten())
            .find(|served| served["name"] == version)
            .and_then(|served| served.pointer("/schema/openAPIV3Schema").cloned())
    }

    fn crd_established(&self, stored: &Stored) -> bool {
        let name = stored.value["metadata"]["name"].as_str().unwrap_or("");
        match self.behaviour(name, "CustomResourceDefinition") {
            Behaviour::CrdEstablishedAfter(delay) => stored.applied_at.elapsed() >= delay,
            _ => true,
        }
    }

    fn resources(&self) -> Vec<Resource> {
        let mut resources: Vec<Resource> = BUILT_IN
            .iter()
            .map(|(group, version, plural, kind, namespaced)| Resource {
                group: (*group).to_owned(),
                version: (*version).to_owned(),
                plural: (*plural).to_owned(),
                kind: (*kind).to_owned(),
                namespaced: *namespaced,
            })
            .collect();
        resources.extend(self.crd_resources());
        resources
    }

    fn find_resource(&self, group: &str, version: &str, plural: &str) -> Option<Resource> {
        self.resources()
            .into_iter()
            .find(|resource| resource.group == group && resource.version == version && resource.plural == plural)
    }

    fn namespace_exists(&self, namespace: &str) -> bool {
        self.objects.contains_key(&(
            "v1".to_owned(),
            "Namespace".to_owned(),
            String::new(),
            namespace.to_owned(),
        ))
    }

    /// Every object of `resource` (in `namespace`), as a read returns it now.
    fn list(&self, resource: &Resource, namespace: Option<&str>) -> Vec<Value> {
        let api_version = resource.api_version();
        let mut items: Vec<Value> = self
            .objects
            .iter()
            .filter(|((version, kind, object_namespace, _), stored)| {
                *version == api_version
                    && *kind == resource.kind
                    && namespace.is_none_or(|namespace| namespace == object_namespace)
                    && !self.gone(stored)
            })
            .map(|(_, stored)| self.view(stored))
            .collect();
        match resource.kind.as_str() {
            "Pod" => items.extend(self.workload_pods(namespace)),
            "Event" => items.extend(self.events(namespace)),
            "ServiceAccount" => items.extend(self.default_service_accounts(namespace)),
            _ => {}
        }
        items
    }

    fn get(&self, resource: &Resource, namespace: Option<&str>, name: &str) -> Option<Value> {
        self.list(resource, namespace)
            .into_iter()
            .find(|item| item["metadata"]["name"].as_str() == Some(name))
    }

    /// `default` ServiceAccounts of namespaces created by apply, once the controller "made" them.
    fn default_service_accounts(&self, namespace: Option<&str>) -> Vec<Value> {
        self.default_service_accounts_untyped(namespace)
            .into_iter()
            .map(|account| {
                let mut account = typed(account);
                self.stamp(&mut account);
                account
            })
            .collect()
    }

    fn default_service_accounts_untyped(&self, namespace: Option<&str>) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|((_, kind, _, name), stored)| {
                kind == "Namespace"
                    && !self.objects.contains_key(&(
                        "v1".to_owned(),
                        "ServiceAccount".to_owned(),
                        name.clone(),
                        "default".to_owned(),
                    ))
                    && stored.applied_at.elapsed() >= self.script.default_service_account_after
                    && namespace.is_none_or(|namespace| namespace == name)
            })
            .map(|((_, _, _, name), _)| {
                json!({"apiVersion": "v1", "kind": "ServiceAccount",
                    "metadata": {"name": "default", "namespace": name, "uid": format!("uid-sa-{name}"), "resourceVersion": "1", "creationTimestamp": TIMESTAMP}})
            })
            .collect()
    }

    /// The object with its status as of now, its resourceVersion the last one watches saw.
    fn view(&self, stored: &Stored) -> Value {
        let mut value = typed(self.view_untyped(stored));
        self.stamp(&mut value);
        value
    }

    /// [`State::view`] before its trip through the typed API (cheap enough to compare often).
    fn view_untyped(&self, stored: &Stored) -> Value {
        let mut value = stored.value.clone();
        if stored.deleted_at.is_some() {
            value["metadata"]["deletionTimestamp"] = json!(TIMESTAMP);
            value["metadata"]["deletionGracePeriodSeconds"] = json!(30);
        }
        let kind = value["kind"].as_str().unwrap_or("").to_owned();
        let name = value["metadata"]["name"].as_str().unwrap_or("").to_owned();
        let generation = value["metadata"]["generation"].as_i64().unwrap_or(1);
        let elapsed = stored.applied_at.elapsed();
        let namespace = value["metadata"]["namespace"].as_str().unwrap_or("").to_owned();
        let behaviour = self.workload_behaviour(&namespace, &name, &kind);
        // A workload whose pods cannot get their image is never ready (see `pod_status`).
        let template = match kind.as_str() {
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => Some(&value["spec"]["template"]),
            _ => None,
        };
        let images_missing = template.is_some_and(|template| {
            !matches!(behaviour, Behaviour::Unschedulable | Behaviour::ImageNeverPulled)
                && self.images().problem(&template["spec"], false).is_some()
        });
        let ready = match &behaviour {
            Behaviour::ReadyAfter(delay) => elapsed >= *delay && !images_missing,
            _ => false,
        };
        let replicas = value["spec"]["replicas"].as_i64().unwrap_or(1);
        let status = match kind.as_str() {
            "Namespace" => Some(json!({"phase": "Active"})),
            "Node" => {
                let ready = self.started.elapsed() >= self.script.node_ready_after;
                Some(json!({"conditions": [if ready {
                    condition("Ready", "True", "KubeletReady", "kubelet is posting ready status")
                } else {
                    condition("Ready", "False", "KubeletNotReady", "container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized")
                }]}))
            }
            "Deployment" => {
                let up = if ready { replicas } else { 0 };
                let mut status = json!({
                "observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
                "readyReplicas": up, "availableReplicas": up,
                "conditions": [
                    if ready { condition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.") }
                    else { condition("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.") },
                    condition("Progressing", "True", if ready { "NewReplicaSetAvailable" } else { "ReplicaSetUpdated" }, "")
                ]});
                if !ready {
                    status["unavailableReplicas"] = json!(replicas);
                }
                Some(status)
            }
            "StatefulSet" => {
                let up = if ready { replicas } else { 0 };
                Some(
                    json!({"observedGeneration": generation, "replicas": replicas, "readyReplicas": up, "availableReplicas": up,
                    "currentReplicas": replicas, "updatedReplicas": replicas, "currentRevision": format!("{name}-r1"), "updateRevision": format!("{name}-r1")}),
                )
            }
            "DaemonSet" => {
                let scheduled = i64::from(runs_on_the_node(&value["spec"]["template"]));
                let up = if ready { scheduled } else { 0 };
                Some(
                    json!({"observedGeneration": generation, "desiredNumberScheduled": scheduled, "currentNumberScheduled": scheduled,
                    "updatedNumberScheduled": scheduled, "numberReady": up, "numberAvailable": up, "numberMisscheduled": 0}),
                )
            }
            "ReplicaSet" => {
                let up = if ready { replicas } else { 0 };
                Some(
                    json!({"observedGeneration": generation, "replicas": replicas, "readyReplicas": up, "availableReplicas": up}),
                )
            }
            "Job" => Some(match behaviour {
                Behaviour::JobFails => json!({"failed": 1, "conditions": [
                    condition("FailureTarget", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit"),
                    condition("Failed", "True", "BackoffLimitExceeded", "Job has reached the specified backoff limit")]}),
                _ if ready => json!({"succeeded": 1, "conditions": [
                    condition("SuccessCriteriaMet", "True", "CompletionsReached", "Reached expected number of succeeded pods"),
                    condition("Complete", "True", "CompletionsReached", "Reached expected number of succeeded pods")]}),
                _ => json!({"active": 1}),
            }),
            "Pod" => Some(self.pod_status(&value, &behaviour, elapsed, 0)),
            "Service" => Some(json!({"loadBalancer": {}})),
            "PersistentVolumeClaim" => Some(json!({"phase": "Pending"})),
            "CustomResourceDefinition" => {
                let established = self.crd_established(stored);
                Some(json!({"conditions": [
                    condition("NamesAccepted", "True", "NoConflicts", "no conflicts found"),
                    if established { condition("Established", "True", "InitialNamesAccepted", "the initial names have been accepted") }
                    else { condition("Established", "False", "Installing", "the initial names have been accepted") }
                ], "acceptedNames": value["spec"]["names"].clone(), "storedVersions": ["v1"]}))
            }
            _ => None,
        };
        if let Some(status) = status {
            value["status"] = status;
        }
        value
    }

    /// What the node has (node image, loaded by the test or by the fake kind) and can pull.
    fn images(&self) -> images::Images {
        if let Some(cached) = self.image_cache.borrow().as_ref() {
            return cached.clone();
        }
        self.images_now()
    }

    fn images_now(&self) -> images::Images {
        let mut present: std::collections::BTreeSet<String> = self
            .script
            .node_images
            .iter()
            .chain(&self.script.loaded_images)
            .map(|image| images::normalise(image))
            .collect();
        if let Some(state) = &self.script.kind_state {
            present.extend(
                images::loaded_by_kind(state)
                    .iter()
                    .map(|image| images::normalise(image)),
            );
        }
        let pullable = self
            .script
            .pullable_images
            .iter()
            .map(|image| images::normalise(image))
            .collect();
        images::Images { present, pullable }
    }

    /// Why `pod` cannot start its containers for want of an image (`None` when it can, or when
    /// its behaviour never gets that far).
    fn image_problem(&self, pod: &Value, behaviour: &Behaviour, elapsed: Duration) -> Option<images::ImageProblem> {
        if matches!(behaviour, Behaviour::Unschedulable | Behaviour::ImageNeverPulled) {
            return None;
        }
        // The kubelet's first pull fails with ErrImagePull; after a retry it backs off.
        self.images().problem(&pod["spec"], elapsed >= IMAGE_BACKOFF_AFTER)
    }

    fn pod_status(&self, pod: &Value, behaviour: &Behaviour, elapsed: Duration, _index: usize) -> Value {
        if let Some(problem) = self.image_problem(pod, behaviour, elapsed) {
            let statuses: Vec<Value> = pod["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|container| {
                    let name = container["name"].as_str().unwrap_or("main");
                    let state = if name == problem.container {
                        json!({"waiting": {"reason": problem.reason, "message": problem.message}})
                    } else {
                        json!({"running": {"startedAt": TIMESTAMP}})
                    };
                    json!({"name": name, "image": container["image"], "imageID": "", "ready": false,
                        "restartCount": 0, "started": false, "state": state})
                })
                .collect();
            return json!({"phase": "Pending", "startTime": TIMESTAMP,
                "conditions": [condition("PodScheduled", "True", "", ""), condition("Ready", "False", "ContainersNotReady", &format!("containers with unready status: [{}]", problem.container))],
                "containerStatuses": statuses});
        }
        let containers: Vec<(String, String)> = pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|container| {
                (
                    container["name"].as_str().unwrap_or("main").to_owned(),
                    container["image"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect();
        let statuses = |state: Value, ready: bool, restarts: i64, last: Value| -> Value {
            Value::Array(
                containers
                    .iter()
                    .map(|(name, image)| {
                        let mut status = json!({"name": name, "image": image, "imageID": "", "ready": ready,
                            "restartCount": restarts, "started": ready, "state": state.clone()});
                        if !last.is_null() {
                            status["lastState"] = last.clone();
                        }
                        status
                    })
                    .collect(),
            )
        };
        match behaviour {
            Behaviour::ReadyAfter(delay) | Behaviour::CrdEstablishedAfter(delay) if elapsed >= *delay => json!({
                "phase": "Running", "podIP": "10.244.0.10", "startTime": TIMESTAMP,
                "conditions": [condition("PodScheduled", "True", "", ""), condition("Initialized", "True", "", ""),
                    condition("ContainersReady", "True", "", ""), condition("Ready", "True", "", "")],
                "containerStatuses": statuses(json!({"running": {"startedAt": TIMESTAMP}}), true, 0, Value::Null)}),
            Behaviour::ReadyAfter(_) | Behaviour::CrdEstablishedAfter(_) => json!({
                "phase": "Pending", "conditions": [condition("PodScheduled", "True", "", ""), condition("Ready", "False", "ContainersNotReady", "")],
                "containerStatuses": statuses(json!({"waiting": {"reason": "ContainerCreating"}}), false, 0, Value::Null)}),
            Behaviour::CrashLoop { exit_code, .. } => json!({
                "phase": "Running", "startTime": TIMESTAMP,
                "conditions": [condition("PodScheduled", "True", "", ""), condition("Ready", "False", "ContainersNotReady", "containers with unready status")],
                "containerStatuses": statuses(
                    json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 1m20s restarting failed container"}}),
                    false, 4,
                    json!({"terminated": {"reason": "Error", "exitCode": exit_code, "startedAt": TIMESTAMP, "finishedAt": TIMESTAMP}}))}),
            Behaviour::ImageNeverPulled => {
                let image = containers.first().map(|(_, image)| image.clone()).unwrap_or_default();
                json!({"phase": "Pending",
                    "conditions": [condition("PodScheduled", "True", "", ""), condition("Ready", "False", "ContainersNotReady", "")],
                    "containerStatuses": statuses(
                        json!({"waiting": {"reason": "ErrImageNeverPull", "message": format!("Container image \"{image}\" is not present with pull policy of Never")}}),
                        false, 0, Value::Null)})
            }
            Behaviour::ReadinessProbeFailing => json!({
                "phase": "Running", "startTime": TIMESTAMP,
                "conditions": [condition("PodScheduled", "True", "", ""), condition("Ready", "False", "ContainersNotReady", "containers with unready status")],
                "containerStatuses": statuses(json!({"running": {"startedAt": TIMESTAMP}}), false, 0, Value::Null)}),
            Behaviour::Unschedulable => json!({
                "phase": "Pending",
                "conditions": [condition("PodScheduled", "False", "Unschedulable", "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.")]}),
            Behaviour::JobFails => json!({
                "phase": "Failed", "message": "the container exited with code 1",
                "conditions": [condition("PodScheduled", "True", "", ""), condition("Ready", "False", "PodFailed", "")],
                "containerStatuses": statuses(json!({"terminated": {"reason": "Error", "exitCode": 1, "startedAt": TIMESTAMP, "finishedAt": TIMESTAMP}}), false, 0, Value::Null)}),
        }
    }

    /// Pods of every workload (and of CoreDNS) in `namespace`.
    fn workload_pods(&self, namespace: Option<&str>) -> Vec<Value> {
        self.workload_pods_untyped(namespace)
            .into_iter()
            .map(|pod| {
                let mut pod = typed(pod);
                self.stamp(&mut pod);
                pod
            })
            .collect()
    }

    fn workload_pods_untyped(&self, namespace: Option<&str>) -> Vec<Value> {
        let mut pods = Vec::new();
        for ((api_version, kind, object_namespace, name), stored) in &self.objects {
            if !matches!(
                kind.as_str(),
                "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job"
            ) || namespace.is_some_and(|namespace| namespace != object_namespace)
            {
                continue;
            }
            let replicas = match kind.as_str() {
                "DaemonSet" => usize::from(runs_on_the_node(&stored.value["spec"]["template"])),
                "Job" => 1,
                _ => stored.value["spec"]["replicas"].as_i64().unwrap_or(1).max(0) as usize,
            };
            // Pods beyond the replicas of a scale-down are still terminating for a while.
            let terminating = stored
                .scaled_down
                .filter(|(at, _)| at.elapsed() < self.script.termination_grace)
                .map_or(0, |(_, before)| before.saturating_sub(replicas));
            let count = replicas + terminating;
            let template_hash = &hash(&format!("{name}{}", stored.value["spec"]["template"]))[..10];
            let behaviour = self.workload_behaviour(object_namespace, name, kind);
            for index in 0..count {
                let pod_name = if kind == "Job" {
                    format!("{name}-{}", &template_hash[..5])
                } else {
                    format!("{name}-{template_hash}-{index}")
                };
                let mut labels = stored.value["spec"]["template"]["metadata"]["labels"].clone();
                if !labels.is_object() {
                    labels = json!({});
                }
                if kind == "Deployment" {
                    labels["pod-template-hash"] = json!(template_hash);
                }
                let mut pod = json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": pod_name, "namespace": object_namespace, "labels": labels,
                        "uid": format!("uid-{}", hash(&pod_name)), "resourceVersion": "1", "creationTimestamp": TIMESTAMP,
                        "ownerReferences": [{"apiVersion": api_version, "kind": kind, "name": name,
                            "uid": stored.value["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true}]},
                    "spec": stored.value["spec"]["template"]["spec"].clone(),
                });
                if kind == "Job" && pod["spec"].get("restartPolicy").is_none() {
                    pod["spec"]["restartPolicy"] = json!("Never");
                }
                pod["status"] = self.pod_status(&pod, &behaviour, stored.applied_at.elapsed(), index);
                if index >= replicas {
                    pod["metadata"]["deletionTimestamp"] = json!(TIMESTAMP);
                    pod["metadata"]["deletionGracePeriodSeconds"] = json!(30);
                }
                pods.push(pod);
            }
        }
        pods
    }

    /// Warning events for the pods of misbehaving workloads.
    fn events(&self, namespace: Option<&str>) -> Vec<Value> {
        let mut events = Vec::new();
        for pod in self.pods(namespace) {
            let image = pod["spec"]["containers"][0]["image"].as_str().unwrap_or("").to_owned();
            let waiting = pod["status"]["containerStatuses"]
                .as_array()
                .into_iter()
                .flatten()
                .find_map(|status| {
                    let reason = status["state"]["waiting"]["reason"].as_str()?;
                    matches!(reason, "ErrImageNeverPull" | "ErrImagePull" | "ImagePullBackOff").then(|| {
                        (
                            reason.to_owned(),
                            status["image"].as_str().unwrap_or("").to_owned(),
                            status["state"]["waiting"]["message"].as_str().unwrap_or("").to_owned(),
                        )
                    })
                });
            let scripted = self.pod_behaviour(&pod);
            let (reason, message, count) = match (waiting, scripted) {
                (Some((reason, image, message)), scripted) if !matches!(scripted, Behaviour::ImageNeverPulled) => match reason.as_str() {
                    "ErrImageNeverPull" => ("ErrImageNeverPull", message, 3),
                    "ImagePullBackOff" => ("BackOff", format!("Back-off pulling image \"{image}\""), 4),
                    _ => ("Failed", format!("Failed to pull image \"{image}\": {message}"), 2),
                },
                (_, scripted) => match scripted {
                Behaviour::CrashLoop { .. } => ("BackOff", "Back-off restarting failed container in pod".to_owned(), 6),
                Behaviour::ImageNeverPulled => (
                    "ErrImageNeverPull",
                    format!("Container image \"{image}\" is not present with pull policy of Never"),
                    3,
                ),
                Behaviour::ReadinessProbeFailing => (
                    "Unhealthy",
                    "Readiness probe failed: HTTP probe failed with statuscode: 503".to_owned(),
                    12,
                ),
                Behaviour::Unschedulable => (
                    "FailedScheduling",
                    "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.".to_owned(),
                    2,
                ),
                _ => continue,
                },
            };
            let pod_name = pod["metadata"]["name"].as_str().unwrap_or("").to_owned();
            let pod_namespace = pod["metadata"]["namespace"].as_str().unwrap_or("").to_owned();
            events.push(typed(json!({
                "apiVersion": "v1", "kind": "Event",
                "metadata": {"name": format!("{pod_name}.{}", &hash(reason)[..8]), "namespace": pod_namespace, "uid": format!("uid-event-{pod_name}"), "resourceVersion": "1", "creationTimestamp": TIMESTAMP},
                "involvedObject": {"kind": "Pod", "name": pod_name, "namespace": pod_namespace, "uid": pod["metadata"]["uid"], "apiVersion": "v1"},
                "type": "Warning", "reason": reason, "message": message, "count": count,
                "firstTimestamp": TIMESTAMP, "lastTimestamp": TIMESTAMP,
                "source": {"component": if reason == "FailedScheduling" { "default-scheduler" } else { "kubelet" }},
            })));
        }
        events
    }

    /// The log of `container` in pod `name` (`previous`: the instance before the last restart).
    fn log(&self, namespace: &str, name: &str, container: &str, previous: bool) -> Result<String, (StatusCode, Value)> {
        let pod = self
            .pods(Some(namespace))
            .into_iter()
            .find(|pod| pod["metadata"]["name"].as_str() == Some(name))
            .ok_or_else(|| not_found("pods", name))?;
        let names: Vec<&str> = pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|container| container["name"].as_str())
            .collect();
        // Like the real server: no `container` is fine when the pod has exactly one.
        let container = match (container, names.as_slice()) {
            ("", [only]) => *only,
            ("", _) => {
                return Err(status_error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    &format!("a container name must be specified for pod {name}, choose one of: {names:?}"),
                ));
            }
            (container, _) if names.contains(&container) => container,
            (container, _) => {
                return Err(status_error(
                    StatusCode::BAD_REQUEST,
                    "BadRequest",
                    &format!("container {container} is not valid for pod {name}"),
                ));
            }
        };
        let statuses = pod["status"]["containerStatuses"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let Some(status) = statuses.iter().find(|status| status["name"] == container) else {
            return Err(status_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("container \"{container}\" in pod \"{name}\" is waiting to start: ContainerCreating"),
            ));
        };
        let restarted = status["restartCount"].as_i64().unwrap_or(0) > 0;
        if previous && !restarted {
            return Err(status_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("previous terminated container \"{container}\" in pod \"{name}\" not found"),
            ));
        }
        if !previous
            && let Some(reason) = status["state"]["waiting"]["reason"].as_str()
            && reason != "CrashLoopBackOff"
        {
            return Err(status_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("container \"{container}\" in pod \"{name}\" is waiting to start: {reason}"),
            ));
        }
        let lines: Vec<String> = match self.pod_behaviour(&pod) {
            Behaviour::CrashLoop { log, .. } if previous => {
                std::iter::once("previous instance".to_owned()).chain(log).collect()
            }
            Behaviour::CrashLoop { log, .. } => log,
            Behaviour::ReadinessProbeFailing => vec![
                "starting".to_owned(),
                "GET /healthz 503: database not reachable".to_owned(),
                "GET /healthz 503: database not reachable".to_owned(),
            ],
            _ => vec!["listening on :8080".to_owned(), "ready".to_owned()],
        };
        Ok(lines.iter().map(|line| format!("{line}\n")).collect())
    }
}

/// `value` after a trip through its `k8s-openapi` type (unchanged for custom resources).
fn typed(value: Value) -> Value {
    let kind = value["kind"].as_str().unwrap_or("").to_owned();
    match typed_round_trip(&kind, &value) {
        Some(Ok(round_tripped)) => round_tripped,
        Some(Err(error)) => panic!("fake-apiserver built a {kind} the API would not accept: {error}\n{value:#}"),
        None => value,
    }
}

fn status_error(code: StatusCode, reason: &str, message: &str) -> (StatusCode, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code.as_u16()}),
    )
}

fn not_found(plural: &str, name: &str) -> (StatusCode, Value) {
    status_error(
        StatusCode::NOT_FOUND,
        "NotFound",
        &format!("{plural} \"{name}\" not found"),
    )
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' if index + 2 < bytes.len() => {
                match u8::from_str_radix(std::str::from_utf8(&bytes[index + 1..index + 3]).unwrap_or(""), 16) {
                    Ok(byte) => {
                        out.push(byte);
                        index += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            byte => out.push(byte),
        }
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_map(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

fn field(value: &Value, dotted: &str) -> Option<String> {
    let mut current = value;
    for part in dotted.split('.') {
        current = current.get(part)?;
    }
    current.as_str().map(str::to_owned)
}

/// Equality-based label selectors (`a=b,c==d,e!=f`) and simple field selectors.
fn selected(item: &Value, label_selector: Option<&String>, field_selector: Option<&String>) -> bool {
    for term in label_selector
        .into_iter()
        .flat_map(|selector| selector.split(','))
        .filter(|term| !term.is_empty())
    {
        let labels = &item["metadata"]["labels"];
        let ok = if let Some((key, value)) = term.split_once("!=") {
            labels[key].as_str() != Some(value)
        } else if let Some((key, value)) = term.split_once("==").or_else(|| term.split_once('=')) {
            labels[key].as_str() == Some(value)
        } else {
            labels.get(term).is_some()
        };
        if !ok {
            return false;
        }
    }
    for term in field_selector
        .into_iter()
        .flat_map(|selector| selector.split(','))
        .filter(|term| !term.is_empty())
    {
        let ok = match term.split_once("!=") {
            Some((key, value)) => field(item, key).as_deref() != Some(value),
            None => match term.split_once("==").or_else(|| term.split_once('=')) {
                Some((key, value)) => field(item, key).as_deref() == Some(value),
                None => true,
            },
        };
        if !ok {
            return false;
        }
    }
    true
}

fn discovery_verbs() -> Vec<String> {
    ["get", "list", "watch", "create", "update", "patch", "delete"]
        .iter()
        .map(|verb| (*verb).to_owned())
        .collect()
}

fn aggregated_discovery(resources: &[Resource], core: bool) -> Value {
    let mut groups: BTreeMap<(String, String), Vec<&Resource>> = BTreeMap::new();
    for resource in resources.iter().filter(|resource| resource.group.is_empty() == core) {
        groups
            .entry((resource.group.clone(), resource.version.clone()))
            .or_default()
            .push(resource);
    }
    let mut items: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for ((group, version), members) in groups {
        let resources: Vec<Value> = members
            .iter()
            .map(|resource| {
                let mut entry = json!({"resource": resource.plural,
                    "responseKind": {"group": resource.group, "version": resource.version, "kind": resource.kind},
                    "scope": if resource.namespaced { "Namespaced" } else { "Cluster" },
                    "singularResource": resource.kind.to_lowercase(), "verbs": discovery_verbs()});
                if resource.kind == "Pod" {
                    entry["subresources"] = json!([{"subresource": "log", "responseKind": {"group": "", "version": "v1", "kind": "Pod"}, "verbs": ["get"]}]);
                }
                entry
            })
            .collect();
        items
            .entry(group)
            .or_default()
            .push(json!({"version": version, "resources": resources, "freshness": "Current"}));
    }
    let items: Vec<Value> = items
        .into_iter()
        .map(|(group, versions)| json!({"metadata": {"name": group}, "versions": versions}))
        .collect();
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items})
}

fn resource_list(resources: &[Resource], group: &str, version: &str) -> Value {
    let group_version = if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    };
    let mut entries: Vec<meta::APIResource> = Vec::new();
    for resource in resources
        .iter()
        .filter(|resource| resource.group == group && resource.version == version)
    {
        entries.push(meta::APIResource {
            name: resource.plural.clone(),
            singular_name: resource.kind.to_lowercase(),
            namespaced: resource.namespaced,
            kind: resource.kind.clone(),
            verbs: discovery_verbs(),
            ..Default::default()
        });
        if resource.kind == "Pod" {
            entries.push(meta::APIResource {
                name: "pods/log".to_owned(),
                singular_name: String::new(),
                namespaced: true,
                kind: "Pod".to_owned(),
                verbs: vec!["get".to_owned()],
                ..Default::default()
            });
        }
    }
    let mut value = serde_json::to_value(meta::APIResourceList {
        group_version,
        resources: entries,
    })
    .expect("APIResourceList");
    value["kind"] = json!("APIResourceList");
    value["apiVersion"] = json!("v1");
    value
}

fn group_list(resources: &[Resource]) -> Value {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for resource in resources.iter().filter(|resource| !resource.group.is_empty()) {
        let versions = groups.entry(resource.group.clone()).or_default();
        if !versions.contains(&resource.version) {
            versions.push(resource.version.clone());
        }
    }
    let list = meta::APIGroupList {
        groups: groups
            .into_iter()
            .map(|(name, versions)| {
                let versions: Vec<meta::GroupVersionForDiscovery> = versions
                    .into_iter()
                    .map(|version| meta::GroupVersionForDiscovery {
                        group_version: format!("{name}/{version}"),
                        version,
                    })
                    .collect();
                meta::APIGroup {
                    preferred_version: versions.first().cloned(),
                    name,
                    versions,
                    ..Default::default()
                }
            })
            .collect(),
    };
    let mut value = serde_json::to_value(list).expect("APIGroupList");
    value["kind"] = json!("APIGroupList");
    value["apiVersion"] = json!("v1");
    value
}

type Answer = Result<Response<BoxBody<Bytes, std::io::Error>>, std::io::Error>;

fn respond(code: StatusCode, content_type: &str, body: Vec<u8>) -> Answer {
    Ok(Response::builder()
        .status(code)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)).map_err(|never| match never {}).boxed())
        .expect("response"))
}

fn respond_json(code: StatusCode, value: &Value) -> Answer {
    respond(code, "application/json", serde_json::to_vec(value).expect("JSON"))
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Where a request points: a resource, a namespace, a name and a subresource.
struct Target {
    resource: Resource,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

fn route(state: &State, segments: &[&str]) -> Result<Target, (StatusCode, Value)> {
    let (group, version, rest) = match segments {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => {
            return Err(status_error(
                StatusCode::NOT_FOUND,
                "NotFound",
                "the server could not find the requested resource",
            ));
        }
    };
    let (namespace, plural, name, subresource) = match rest {
        ["namespaces", namespace, plural, tail @ ..] => (
            Some((*namespace).to_owned()),
            *plural,
            tail.first().map(|name| (*name).to_owned()),
            tail.get(1).map(|sub| (*sub).to_owned()),
        ),
        [plural, tail @ ..] => (
            None,
            *plural,
            tail.first().map(|name| (*name).to_owned()),
            tail.get(1).map(|sub| (*sub).to_owned()),
        ),
        [] => return Err(status_error(StatusCode::NOT_FOUND, "NotFound", "no resource")),
    };
    let resource = state.find_resource(group, version, plural).ok_or_else(|| {
        status_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "the server could not find the requested resource",
        )
    })?;
    Ok(Target {
        resource,
        namespace,
        name,
        subresource,
    })
}

async fn handle(state: Arc<Mutex<State>>, wake: Arc<tokio::sync::Notify>, request: Request<Incoming>) -> Answer {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let recorded = RecordedRequest {
        method: method.clone(),
        path: path.clone(),
        query: query.clone(),
        content_type: header("content-type"),
        accept: header("accept"),
        at: Instant::now(),
    };
    let accept = recorded.accept.clone().unwrap_or_default();
    let content_type = recorded.content_type.clone().unwrap_or_default();
    {
        let mut state = lock(&state);
        state.requests.push(recorded);
        if method == "GET" && state.applied_once && state.dropped < state.script.drop_connections {
            state.dropped += 1;
            // An error from the service makes hyper close the connection without an answer.
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "scripted drop",
            ));
        }
    }
    let body = request
        .into_body()
        .collect()
        .await
        .map(|body| body.to_bytes())
        .unwrap_or_default();
    let parameters = query_map(&query);
    let segments: Vec<&str> = path.split('/').filter(|segment| !segment.is_empty()).collect();
    if method == "GET" {
        let aggregated = accept.contains("g=apidiscovery.k8s.io");
        let state = lock(&state);
        let resources = state.resources();
        match segments.as_slice() {
            ["version"] => {
                return respond_json(
                    StatusCode::OK,
                    &json!({"major": "1", "minor": "33", "gitVersion": "v1.33.1", "platform": "linux/amd64"}),
                );
            }
            ["api"] | ["apis"] if aggregated && state.script.legacy_discovery_only => {
                let (code, body) = status_error(
                    StatusCode::NOT_ACCEPTABLE,
                    "NotAcceptable",
                    "only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf",
                );
                return respond_json(code, &body);
            }
            ["api"] | ["apis"] if aggregated => {
                let body = aggregated_discovery(&resources, segments == ["api"]);
                return respond(
                    StatusCode::OK,
                    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
                    serde_json::to_vec(&body).expect("JSON"),
                );
            }
            ["api"] => {
                return respond_json(
                    StatusCode::OK,
                    &json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}),
                );
            }
            ["apis"] => return respond_json(StatusCode::OK, &group_list(&resources)),
            ["api", "v1"] => return respond_json(StatusCode::OK, &resource_list(&resources, "", "v1")),
            ["apis", group, version] => {
                return respond_json(StatusCode::OK, &resource_list(&resources, group, version));
            }
            _ => {}
        }
    }
    if method == "GET"
        && parameters
            .get("watch")
            .is_some_and(|watch| watch == "true" || watch == "1")
    {
        return watch::serve(&state, &wake, &segments, &parameters);
    }
    let answer = match method.as_str() {
        "GET" => read(&lock(&state), &segments, &parameters),
        "PATCH" if content_type.starts_with("application/merge-patch+json") && segments.last() == Some(&"scale") => {
            scale(&mut lock(&state), &segments, &body)
        }
        "PATCH" if content_type.starts_with("application/merge-patch+json") => {
            merge_patch(&mut lock(&state), &segments, &body)
        }
        "PATCH" => apply(&state, &segments, &parameters, &content_type, &body).await,
        "DELETE" => delete(&mut lock(&state), &segments),
        _ => Err(status_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the fake API server only serves GET, apply, merge patches and Pod deletion",
        )),
    };
    match answer {
        Ok((code, Reply::Json(value))) => respond_json(code, &value),
        Ok((code, Reply::Text(text))) => respond(code, "text/plain", text.into_bytes()),
        Err((code, value)) => respond_json(code, &value),
    }
}

enum Reply {
    Json(Value),
    Text(String),
}

fn read(
    state: &State,
    segments: &[&str],
    parameters: &HashMap<String, String>,
) -> Result<(StatusCode, Reply), (StatusCode, Value)> {
    let target = route(state, segments)?;
    let namespace = target.namespace.as_deref();
    match (&target.name, target.subresource.as_deref()) {
        (Some(name), Some("log")) => {
            let container = parameters.get("container").cloned().unwrap_or_default();
            let previous = parameters.get("previous").is_some_and(|value| value == "true");
            let log = state.log(namespace.unwrap_or("default"), name, &container, previous)?;
            let lines: Vec<&str> = log.lines().collect();
            let tail = parameters
                .get("tailLines")
                .and_then(|lines| lines.parse::<usize>().ok())
                .unwrap_or(lines.len());
            let kept: String = lines[lines.len().saturating_sub(tail)..]
                .iter()
                .map(|line| format!("{line}\n"))
                .collect();
            Ok((StatusCode::OK, Reply::Text(kept)))
        }
        (Some(_), Some(sub)) => Err(status_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            &format!("no subresource {sub}"),
        )),
        (Some(name), None) => state
            .get(&target.resource, namespace, name)
            .map(|object| (StatusCode::OK, Reply::Json(object)))
            .ok_or_else(|| not_found(&qualified_plural(&target.resource), name)),
        (None, _) => {
            let items: Vec<Value> = state
                .list(&target.resource, namespace)
                .into_iter()
                .filter(|item| selected(item, parameters.get("labelSelector"), parameters.get("fieldSelector")))
                .map(|mut item| {
                    // Like the real server: list items carry no apiVersion/kind.
                    if let Some(map) = item.as_object_mut() {
                        map.remove("apiVersion");
                        map.remove("kind");
                    }
                    item
                })
                .collect();
            // Pages: `limit`, then `continue` with the token the previous page gave (its offset
            // and the list's resourceVersion, as the real server encodes them opaquely).
            let (offset, version) = match parameters.get("continue").filter(|token| !token.is_empty()) {
                Some(token) => {
                    let parsed = token
                        .split_once(':')
                        .and_then(|(offset, version)| Some((offset.parse::<usize>().ok()?, version.to_owned())));
                    match parsed {
                        Some(parsed) => parsed,
                        None => {
                            return Err(status_error(
                                StatusCode::BAD_REQUEST,
                                "BadRequest",
                                "continue key is not valid: invalid continue token",
                            ));
                        }
                    }
                }
                None => (0, state.resource_version.to_string()),
            };
            let limit = parameters
                .get("limit")
                .and_then(|limit| limit.parse::<usize>().ok())
                .filter(|limit| *limit > 0)
                .unwrap_or(usize::MAX);
            let end = offset.saturating_add(limit).min(items.len());
            let mut metadata = json!({"resourceVersion": version});
            if end < items.len() {
                metadata["continue"] = json!(format!("{end}:{version}"));
                metadata["remainingItemCount"] = json!(items.len() - end);
            }
            let page: Vec<Value> = items
                .into_iter()
                .skip(offset)
                .take(end.saturating_sub(offset))
                .collect();
            Ok((
                StatusCode::OK,
                Reply::Json(
                    json!({"apiVersion": target.resource.api_version(), "kind": format!("{}List", target.resource.kind),
                    "metadata": metadata, "items": page}),
                ),
            ))
        }
    }
}

fn qualified_plural(resource: &Resource) -> String {
    if resource.group.is_empty() {
        resource.plural.clone()
    } else {
        format!("{}.{}", resource.plural, resource.group)
    }
}

/// The scale subresource of a Deployment, StatefulSet or ReplicaSet, patched as `kubectl scale`
/// does (`{"spec": {"replicas": N}}`, a JSON merge patch); answers with the `autoscaling/v1`
/// `Scale`. Pods beyond `N` terminate gracefully (see `Script::termination_grace`).
fn scale(state: &mut State, segments: &[&str], body: &[u8]) -> Result<(StatusCode, Reply), (StatusCode, Value)> {
    let target = route(state, segments)?;
    let resource = target.resource.clone();
    if !matches!(resource.kind.as_str(), "Deployment" | "StatefulSet" | "ReplicaSet") {
        return Err(not_found(
            &format!("{}/scale", resource.plural),
            target.name.as_deref().unwrap_or(""),
        ));
    }
    let (Some(name), Some(namespace)) = (target.name.clone(), target.namespace.clone()) else {
        return Err(status_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "scale needs a namespaced name",
        ));
    };
    let patch = decode_patch(body)?;
    let Some(replicas) = patch.pointer("/spec/replicas").and_then(Value::as_i64) else {
        return Err(status_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            "Scale.autoscaling \"\" is invalid: spec.replicas: Required value",
        ));
    };
    if replicas < 0 {
        return Err(status_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            &format!(
                "Scale.autoscaling \"{name}\" is invalid: spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0"
            ),
        ));
    }
    let key = (
        resource.api_version(),
        resource.kind.clone(),
        namespace.clone(),
        name.clone(),
    );
    let version = state.next_version();
    let Some(stored) = state.objects.get_mut(&key) else {
        return Err(not_found(&resource.plural, &name));
    };
    let before = stored.value["spec"]["replicas"].as_i64().unwrap_or(1).max(0) as usize;
    stored.value["spec"]["replicas"] = json!(replicas);
    stored.value["metadata"]["resourceVersion"] = json!(version);
    if (replicas as usize) < before {
        stored.scaled_down = Some((Instant::now(), before));
    }
    let selector = stored.value["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|labels| {
            labels
                .iter()
                .map(|(key, value)| format!("{key}={}", value.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let at = Instant::now();
    state.record_write(&key, version.parse().unwrap_or(state.resource_version), at);
    Ok((
        StatusCode::OK,
        Reply::Json(json!({
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": name, "namespace": namespace, "resourceVersion": version},
            "spec": {"replicas": replicas},
            "status": {"replicas": before, "selector": selector},
        })),
    ))
}

/// A JSON patch body, or the API server's 400.
fn decode_patch(body: &[u8]) -> Result<Value, (StatusCode, Value)> {
    serde_json::from_slice(body).map_err(|error| {
        status_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!("error decoding patch: {error}"),
        )
    })
}

/// The one node's labels (a Kind control plane's).
fn node_labels() -> Value {
    json!({"node-role.kubernetes.io/control-plane": "", "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": "kind-control-plane"})
}

/// Whether a DaemonSet's pod template selects the node (its `nodeSelector` only: no affinity).
fn runs_on_the_node(template: &Value) -> bool {
    let labels = node_labels();
    template["spec"]["nodeSelector"]
        .as_object()
        .is_none_or(|selector| selector.iter().all(|(key, value)| labels.get(key) == Some(value)))
}

/// RFC 7386: `null` removes, objects merge, anything else replaces.
fn merge_into(target: &mut Value, patch: &Value) {
    let Some(fields) = patch.as_object() else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let object = target.as_object_mut().expect("an object");
    for (key, value) in fields {
        if value.is_null() {
            object.remove(key);
        } else {
            merge_into(object.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// A JSON merge patch of a stored object (`kubectl patch --type merge`). A DaemonSet whose pod
/// template stops selecting the node loses its pod gracefully, as the DaemonSet controller
/// deletes it (see `Script::termination_grace`); a changed template starts its timeline again.
fn merge_patch(state: &mut State, segments: &[&str], body: &[u8]) -> Result<(StatusCode, Reply), (StatusCode, Value)> {
    let target = route(state, segments)?;
    let resource = target.resource.clone();
    let Some(name) = target.name.clone() else {
        return Err(status_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "a merge patch needs a name",
        ));
    };
    let patch = decode_patch(body)?;
    let key = (
        resource.api_version(),
        resource.kind.clone(),
        target.namespace.clone().unwrap_or_default(),
        name.clone(),
    );
    let version = state.next_version();
    let stored = existing(state, &key, &resource, &name)?;
    let ran = runs_on_the_node(&stored.value["spec"]["template"]);
    let before = stored.value.clone();
    merge_into(&mut stored.value, &patch);
    stored.value["metadata"]["resourceVersion"] = json!(version);
    let now = Instant::now();
    if before.get("spec") != stored.value.get("spec") {
        let generation = before["metadata"]["generation"].as_i64().unwrap_or(1);
        stored.value["metadata"]["generation"] = json!(generation + 1);
        stored.applied_at = now;
    }
    if resource.kind == "DaemonSet" && ran && !runs_on_the_node(&stored.value["spec"]["template"]) {
        stored.scaled_down = Some((now, 1));
    }
    written(state, &key, &version, now)
}

/// The stored object under `key` while it exists (not deleted and gone), or the API's 404.
fn existing<'a>(
    state: &'a mut State,
    key: &Key,
    resource: &Resource,
    name: &str,
) -> Result<&'a mut Stored, (StatusCode, Value)> {
    let gone = state.objects.get(key).is_none_or(|stored| state.gone(stored));
    state
        .objects
        .get_mut(key)
        .filter(|_| !gone)
        .ok_or_else(|| not_found(&resource.plural, name))
}

/// After a write to `key` at `version`: watches see it, and the answer is the object as read.
fn written(
    state: &mut State,
    key: &Key,
    version: &str,
    at: Instant,
) -> Result<(StatusCode, Reply), (StatusCode, Value)> {
    state.record_write(key, version.parse().unwrap_or(state.resource_version), at);
    let stored = state.objects.get(key).cloned().expect("written just now");
    Ok((StatusCode::OK, Reply::Json(state.view(&stored))))
}

/// Delete a Pod gracefully: it terminates for `Script::termination_grace`, then is gone.
fn delete(state: &mut State, segments: &[&str]) -> Result<(StatusCode, Reply), (StatusCode, Value)> {
    let target = route(state, segments)?;
    let resource = target.resource.clone();
    let Some(name) = target.name.clone() else {
        return Err(status_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the fake API server deletes one named Pod at a time",
        ));
    };
    if resource.kind != "Pod" {
        return Err(status_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "the fake API server deletes only Pods",
        ));
    }
    let key = (
        resource.api_version(),
        resource.kind.clone(),
        target.namespace.clone().unwrap_or_default(),
        name.clone(),
    );
    let version = state.next_version();
    let stored = existing(state, &key, &resource, &name)?;
    let now = Instant::now();
    stored.deleted_at.get_or_insert(now);
    stored.value["metadata"]["resourceVersion"] = json!(version);
    written(state, &key, &version, now)
}

async fn apply(
    state: &Arc<Mutex<State>>,
    segments: &[&str],
    parameters: &HashMap<String, String>,
    content_type: &str,
    body: &[u8],
) -> Result<(StatusCode, Reply), (StatusCode, Value)> {
    let latency = {
        let mut state = lock(state);
        state.applies_in_flight += 1;
        state.max_applies_in_flight = state.max_applies_in_flight.max(state.applies_in_flight);
        state.script.apply_latency
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let result = apply_locked(&mut lock(state), segments, parameters, content_type, body);
    let mut state = lock(state);
    state.applies_in_flight -= 1;
    if result.is_ok() {
        state.applied_once = true;
    }
    result
}

fn apply_locked(
    state: &mut State,
    segments: &[&str],
    parameters: &HashMap<String, String>,
    content_type: &str,
    body: &[u8],
) -> Result<(StatusCode, Reply), (StatusCode, Value)> {
    if !content_type.starts_with("application/apply-patch+yaml") {
        return Err(status_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UnsupportedMediaType",
            &format!("the fake API server only takes server-side apply, not {content_type}"),
        ));
    }
    let target = route(state, segments)?;
    let Some(name) = target.name.clone() else {
        return Err(status_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "apply needs a name",
        ));
    };
    if parameters.get("fieldManager").is_none_or(String::is_empty) {
        return Err(status_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
        ));
    }
    let text = String::from_utf8_lossy(body);
    let mut value: Value = match serde_json::from_str(&text) {
        Ok(value) => value,
        Err(_) => serde_saphyr::from_str(&text).map_err(|error| {
            status_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!("error decoding YAML: {error}"),
            )
        })?,
    };
    let resource = &target.resource;
    let kind = value["kind"].as_str().unwrap_or("").to_owned();
    let api_version = value["apiVersion"].as_str().unwrap_or("").to_owned();
    if kind != resource.kind
        || api_version != resource.api_version()
        || value["metadata"]["name"].as_str() != Some(name.as_str())
    {
        return Err(status_error(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            &format!(
                "the body ({api_version} {kind} {:?}) does not match the URL",
                value["metadata"]["name"]
            ),
        ));
    }
    let namespace = if resource.namespaced {
        let namespace = target.namespace.clone().unwrap_or_else(|| "default".to_owned());
        if value["metadata"]["namespace"]
            .as_str()
            .is_some_and(|inner| inner != namespace)
        {
            return Err(status_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        if !state.namespace_exists(&namespace) {
            return Err(not_found("namespaces", &namespace));
        }
        value["metadata"]["namespace"] = json!(namespace);
        Some(namespace)
    } else {
        None
    };
    // The apiserver decodes the apply body through float64: `400.0` is the integer 400 again.
    validation::normalise_numbers(&mut value);
    let target = format!(
        "{}/{name}; {api_version}, Kind={kind}",
        namespace.as_deref().unwrap_or("")
    );
    let key = (
        api_version.clone(),
        kind.clone(),
        namespace.clone().unwrap_or_default(),
        name.clone(),
    );
    let old = state.objects.get(&key).cloned();
    let manager = parameters.get("fieldManager").cloned().unwrap_or_default();
    let force = parameters.get("force").is_some_and(|force| force == "true");
    let strict = parameters.get("fieldValidation").is_some_and(|mode| mode == "Strict");
    // 1. The typed patch (structured-merge-diff): list entries need their keys, fields must be in
    //    the schema. Errors the apiserver does not turn into a status: 500 without a reason.
    // Validation sees what was sent: the k8s-openapi round trip below fills in required fields
    // (an empty selector for none) that a real server never invents.
    let submitted = value.clone();
    let mut typed_errors = validation::typed_patch_errors(&kind, &value);
    let crd_schema = state.crd_schema(&resource.group, &resource.version, &kind);
    if let Some(schema) = &crd_schema {
        typed_errors.extend(validation::custom_undeclared(schema, &value));
    }
    if let Some(round_trip) = typed_round_trip(&kind, &value) {
        // 2. The conversion into the Go type: a fractional number in an integer field.
        let typed = round_trip.map_err(|error| match conversion_target(&error) {
            Some(go_type) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                validation::internal_status(&format!(
                    "failed to convert new object ({target}) to proper version: unable to convert unstructured object to {api_version}, Kind={kind}: cannot convert float64 to {go_type}"
                )),
            ),
            None => status_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                &format!(
                    "{kind} in version \"{}\" cannot be handled as a {kind}: {error}",
                    resource.version
                ),
            ),
        })?;
        let mut dropped = Vec::new();
        dropped_fields(&value, &typed, "", &mut dropped);
        if strict {
            typed_errors.extend(
                dropped
                    .iter()
                    .map(|field| format!("{field}: field not declared in schema")),
            );
        }
        if typed_errors.is_empty() {
            value = typed;
        }
    }
    if !typed_errors.is_empty() {
        return Err((
            StatusCode::INTERNAL_SERVER_ERROR,
            validation::internal_status(&validation::typed_patch_message(&target, &typed_errors)),
        ));
    }
    if let Some(map) = value.as_object_mut() {
        map.remove("status");
    }
    // 3. Field managers: without force, changing a field another manager owns is a conflict.
    if let Some(old) = &old
        && !force
    {
        let conflicts = validation::conflicts(&old.managers, &manager, &old.value, &value);
        if !conflicts.is_empty() {
            return Err((
                StatusCode::CONFLICT,
                validation::conflict_status(&conflicts, &api_version, &kind, &resource.group, &name),
            ));
        }
    }
    // 4. Validation (after defaulting), with the update rules when the object exists.
    let errors = match &crd_schema {
        Some(schema) => validation::validate_custom(&kind, &resource.group, schema, &submitted),
        None => validation::validate_builtin(
            &kind,
            &resource.group,
            &submitted,
            &value,
            old.as_ref().map(|old| &old.value),
        ),
    };
    if !errors.is_empty() {
        return Err((
            StatusCode::UNPROCESSABLE_ENTITY,
            validation::invalid_status(&kind, &resource.group, &name, &errors),
        ));
    }
    // 5. Storage: a resourceVersion in the body is a precondition (a create wipes it).
    if let (Some(old), Some(version)) = (&old, value["metadata"]["resourceVersion"].as_str())
        && state.current_version(&key, &old.value).as_deref() != Some(version)
    {
        let mut status = status_error(
            StatusCode::CONFLICT,
            "Conflict",
            &format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                qualified_plural(resource)
            ),
        );
        status.1["details"] = json!({"name": name, "group": resource.group, "kind": resource.plural});
        return Err(status);
    }
    if let Some(metadata) = value["metadata"].as_object_mut() {
        metadata.remove("resourceVersion");
    }
    let created = state.store(value.clone(), Instant::now());
    if let Some(stored) = state.objects.get_mut(&key) {
        validation::record_apply(&mut stored.managers, &manager, &value, force);
    }
    let stored = state.objects.get(&key).cloned().expect("stored");
    let code = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((code, Reply::Json(state.view(&stored))))
}

/// The running server. Dropping it stops it.
pub struct FakeApiServer {
    address: SocketAddr,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeApiServer {
    /// Serve `script` on 127.0.0.1 (a free port) from a thread of its own.
    pub fn start(script: Script) -> FakeApiServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        listener.set_nonblocking(true).expect("nonblocking");
        let address = listener.local_addr().expect("address");
        let state = Arc::new(Mutex::new(State::new(script)));
        let (shutdown, mut stop) = tokio::sync::oneshot::channel::<()>();
        let served = Arc::clone(&state);
        let wake = Arc::new(tokio::sync::Notify::new());
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                tokio::spawn(watch::materialise_while_watched(Arc::clone(&served), Arc::clone(&wake)));
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                loop {
                    let accepted = tokio::select! {
                        accepted = listener.accept() => accepted,
                        _ = &mut stop => break,
                    };
                    let Ok((stream, _)) = accepted else { continue };
                    let state = Arc::clone(&served);
                    let wake = Arc::clone(&wake);
                    tokio::spawn(async move {
                        let service = service_fn(move |request| handle(Arc::clone(&state), Arc::clone(&wake), request));
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
            runtime.shutdown_timeout(Duration::from_millis(200));
        });
        FakeApiServer {
            address,
            state,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// A kubeconfig for this server (context `kind-fake`).
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: {}\n  name: kind-fake\ncontexts:\n- context:\n    cluster: kind-fake\n    user: kind-fake\n  name: kind-fake\ncurrent-context: kind-fake\nusers:\n- name: kind-fake\n  user:\n    token: fake-token\n",
            self.url()
        )
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).requests.clone()
    }

    /// When `name` (of `api_version`/`kind`, in `namespace`) was last applied with a changed spec:
    /// the start of its scripted timeline.
    pub fn applied_at(&self, api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Option<Instant> {
        let key = (
            api_version.to_owned(),
            kind.to_owned(),
            namespace.unwrap_or("").to_owned(),
            name.to_owned(),
        );
        lock(&self.state).objects.get(&key).map(|stored| stored.applied_at)
    }

    /// Every watch event the server has logged (writes and status changes), oldest first.
    pub fn event_log(&self) -> Vec<LoggedEvent> {
        lock(&self.state).watch.log.iter().cloned().collect()
    }

    /// How many watch requests arrived (reconnects included).
    pub fn watch_requests(&self) -> usize {
        self.requests()
            .iter()
            .filter(|request| {
                request
                    .query
                    .split('&')
                    .any(|pair| pair == "watch=true" || pair == "watch=1")
            })
            .count()
    }

    /// The most apply requests that were in flight at once.
    pub fn max_concurrent_applies(&self) -> usize {
        lock(&self.state).max_applies_in_flight
    }

    /// An object as a GET would return it now.
    pub fn object(&self, api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let state = lock(&self.state);
        let namespace = namespace.unwrap_or("");
        let resource = state
            .resources()
            .into_iter()
            .find(|resource| resource.api_version() == api_version && resource.kind == kind);
        match resource {
            // Pods of workloads, events and `default` ServiceAccounts are made on read, as a GET makes them.
            Some(resource) => state.get(&resource, Some(namespace), name),
            // A custom resource whose CRD is not Established (yet): what is stored.
            None => {
                let key = (
                    api_version.to_owned(),
                    kind.to_owned(),
                    namespace.to_owned(),
                    name.to_owned(),
                );
                state.objects.get(&key).map(|stored| state.view(stored))
            }
        }
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_round_trip_finds_unknown_fields_by_path() {
        let input = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "a", "labels": null},
            "spec": {"replicsa": 1, "template": {"spec": {"containers": [{"name": "c", "image": "i", "imagePullPolicyy": "Never"}]}}}});
        let output = typed_round_trip("Deployment", &input)
            .expect("typed kind")
            .expect("valid");
        let mut dropped = Vec::new();
        dropped_fields(&input, &output, "", &mut dropped);
        assert_eq!(
            dropped,
            vec![".spec.replicsa", ".spec.template.spec.containers[0].imagePullPolicyy"]
        );
        assert!(
            typed_round_trip("Widget", &input).is_none(),
            "custom resources are not typed"
        );
    }

    #[test]
    fn selectors_and_query_strings_decode_like_the_api_server() {
        let query = query_map("labelSelector=app%3Dapi%2Ctier%21%3Ddb&fieldSelector=metadata.name%3Dx&watch=false");
        let item = json!({"metadata": {"name": "x", "labels": {"app": "api", "tier": "web"}}});
        assert!(selected(&item, query.get("labelSelector"), query.get("fieldSelector")));
        let other = json!({"metadata": {"name": "x", "labels": {"app": "api", "tier": "db"}}});
        assert!(!selected(&other, query.get("labelSelector"), None));
        assert_eq!(percent_decode("a%2"), "a%2", "a truncated escape stays as it is");
    }

    #[test]
    fn every_scripted_state_is_an_object_the_api_would_accept() {
        let behaviours = [
            Behaviour::ReadyAfter(Duration::ZERO),
            Behaviour::ReadyAfter(Duration::from_secs(3600)),
            Behaviour::CrashLoop {
                exit_code: 2,
                log: vec!["x".to_owned()],
            },
            Behaviour::ImageNeverPulled,
            Behaviour::ReadinessProbeFailing,
            Behaviour::Unschedulable,
            Behaviour::JobFails,
        ];
        for behaviour in behaviours {
            let script = Script {
                default_behaviour: behaviour.clone(),
                ..Script::default()
            };
            let mut state = State::new(script);
            state.store(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}),
                Instant::now(),
            );
            for (api_version, kind) in [
                ("apps/v1", "Deployment"),
                ("apps/v1", "StatefulSet"),
                ("apps/v1", "DaemonSet"),
                ("apps/v1", "ReplicaSet"),
                ("batch/v1", "Job"),
            ] {
                state.store(
                    json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": format!("w-{}", kind.to_lowercase()), "namespace": "team"},
                        "spec": {"selector": {"matchLabels": {"app": "w"}}, "template": {"metadata": {"labels": {"app": "w"}},
                            "spec": {"containers": [{"name": "c", "image": "localhost/w:1"}]}}}}),
                    Instant::now(),
                );
            }
            let stored: Vec<Stored> = state.objects.values().cloned().collect();
            for object in &stored {
                // `view` and `typed` panic on a shape the k8s-openapi types reject.
                let _ = state.view(object);
            }
            assert_eq!(state.workload_pods(Some("team")).len(), 5, "{behaviour:?}");
            let _ = state.events(Some("team"));
        }
    }
}
