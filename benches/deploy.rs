//! Deploy-phase benchmarks, in one run:
//!
//! 1. Readiness: one tick of the real deploy wait (`src/k8s/wait.rs`, through
//!    `bench_support::ReadinessTick`) over 1,000 objects in 10 namespaces: the LIST bodies as an
//!    API server sends them (items without their type), decoded once into JSON through kube's
//!    client (as the wait does), every
//!    object judged by the readiness rules, every namespace's pods matched to their owners for
//!    fail-fast states and unschedulable pods. Its ready/failed/pending counts must equal what
//!    the generator built; its thread CPU time is compared, in the same run, with parsing the
//!    same bodies into `serde_json::Value` (the least a tick can do with them).
//!    Goals: ≤ 50 ms (5 % of the default 1 s poll interval) and ≤ 2.5× the parse.
//! 2. Apply: one group of objects against the fake API server (5 ms per apply, like a local Kind
//!    control plane), applied concurrently (the default, 16 in flight) vs one at a time
//!    (`--apply-concurrency 1`), through `hybrid-e2e run`; the deploy group's duration from
//!    `timings.json`, and the ratio (goal ≤ 0.35: with 16 in flight the applies overlap).
//!
//! Run: `cargo bench --bench deploy` (`-- --quick`: 60 objects to apply, 200 to judge, one run
//! each, wider margins; `.ci/test.sh` runs that).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use fake_apiserver::{Behaviour, FakeApiServer, Script};
use hybrid_e2e::bench_support::{ReadinessTick, TickCounts};
use nix::time::{ClockId, clock_gettime};
use serde_json::{Value, json};

mod common;
use common::Goals;

fn fake_tool(name: &str) -> PathBuf {
    fake_tools::binary(name)
}

fn write_project(directory: &Path, objects: usize) {
    let mut manifests = String::new();
    for index in 0..objects {
        if index % 4 == 0 {
            manifests.push_str(&format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: svc-{index}, namespace: bench}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: svc-{index}}}}}\n  template:\n    metadata: {{labels: {{app: svc-{index}}}}}\n    spec:\n      containers: [{{name: app, image: registry.k8s.io/pause:3.10}}]\n---\n"
            ));
        } else {
            manifests.push_str(&format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: config-{index}, namespace: bench}}\ndata: {{key: value-{index}}}\n---\n"
            ));
        }
    }
    std::fs::write(directory.join("objects.yaml"), manifests).expect("manifests");
    std::fs::write(
        directory.join("empty.Dockerfile"),
        "# fake-build-ms: 10\nFROM scratch\n",
    )
    .expect("dockerfile");
    std::fs::write(
        directory.join("hybrid-e2e.yaml"),
        "version: 1\nimages:\n  - {name: empty, image: localhost/bench/empty:1, dockerfile: empty.Dockerfile}\nnamespaces: [bench]\ndeploy:\n  - name: everything\n    manifests: [objects.yaml]\n    timeout: 5m\n",
    )
    .expect("config");
}

/// The deploy group's duration of one run with `apply_concurrency`.
fn deploy_seconds(directory: &Path, apply_concurrency: u32) -> f64 {
    let mut script = Script {
        apply_latency: Duration::from_millis(5),
        pullable_images: vec!["registry.k8s.io/pause:3.10".to_owned()],
        ..Script::default()
    };
    script.default_behaviour = Behaviour::ReadyAfter(Duration::ZERO);
    let api = FakeApiServer::start(script);
    let state = directory.join(format!("state-{apply_concurrency}"));
    let _ = std::fs::remove_dir_all(&state);
    std::fs::create_dir_all(&state).expect("state");
    let output = Command::new(env!("CARGO_BIN_EXE_hybrid-e2e"))
        .args(["run", "--apply-concurrency", &apply_concurrency.to_string()])
        .current_dir(directory)
        .env("HYBRID_E2E_KIND", fake_tool("kind"))
        .env("HYBRID_E2E_DOCKER", fake_tool("docker"))
        .env("HYBRID_E2E_ENGINE", "docker")
        .env("FAKE_KIND_STATE", &state)
        .env("FAKE_DOCKER_STATE", &state)
        .env("FAKE_KIND_API_SERVER", api.url())
        .env("HYBRID_E2E_MIN_FREE_DISK_GIB", "0")
        .env("HYBRID_E2E_PRESERVE", "never")
        .env("HYBRID_E2E_POLL_INTERVAL", "100ms")
        .env("NO_COLOR", "1")
        .output()
        .expect("hybrid-e2e runs");
    assert!(
        output.status.success(),
        "run failed in {}:\n{}",
        directory.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let timings: Value = serde_json::from_str(
        &std::fs::read_to_string(directory.join("hybrid-e2e-report/timings.json")).expect("timings"),
    )
    .expect("JSON");
    let deploy = timings["phases"]
        .as_array()
        .and_then(|phases| phases.iter().find(|phase| phase["name"] == "deploy"))
        .expect("deploy phase");
    let group = deploy["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|step| step["name"] == "everything"))
        .expect("group step");
    assert_eq!(group["status"], "ok");
    group["duration_seconds"].as_f64().expect("seconds")
}

fn apply_benchmark(goals: &mut Goals) {
    let objects = goals.pick(200, 60);
    let runs = goals.pick(3, 1);
    let directory = tempfile::tempdir().expect("tempdir");
    write_project(directory.path(), objects);
    let mut concurrent = f64::MAX;
    let mut sequential = f64::MAX;
    for _ in 0..runs {
        concurrent = concurrent.min(deploy_seconds(directory.path(), 16));
        sequential = sequential.min(deploy_seconds(directory.path(), 1));
    }
    let ratio = concurrent / sequential;
    println!(
        "2. apply {objects} objects in one group (5 ms per apply; best of {runs}; the group's time includes its readiness wait at a 100 ms poll)"
    );
    println!("   concurrent (16 in flight) {concurrent:.3} s, one at a time {sequential:.3} s");
    let goal = goals.pick(0.35, 0.6);
    goals.check(
        &format!("concurrent / one at a time <= {goal}"),
        &format!("{ratio:.3}"),
        ratio <= goal,
    );
}

fn condition(kind: &str, status: &str, reason: &str) -> Value {
    json!({"type": kind, "status": status, "reason": reason, "message": "", "lastTransitionTime": "2026-11-22T10:00:00Z"})
}

/// What the generator made an object: the verdict the wait must reach in its first tick.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Fate {
    Ready,
    /// Not ready yet, nothing wrong.
    Pending,
    /// A state that will not heal: a crash-looping pod, a failed Job, a lost claim, clashing names.
    Failing,
    /// Its pods cannot be scheduled (the tick here fails them at once).
    Unschedulable,
}

const KINDS: [&str; 8] = [
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "Job",
    "Pod",
    "Service",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
];

fn fate(index: usize) -> Fate {
    match index % 10 {
        0 => Fate::Pending,
        1 => Fate::Failing,
        2 => Fate::Unschedulable,
        _ => Fate::Ready,
    }
}

/// The verdict for `kind` with `fate`, from what Kubernetes means by it (not from our rules):
/// Services have no failure modes (ClusterIP is ready at once, a LoadBalancer without an address
/// waits), claims and CRDs have no pods to be unschedulable (they wait).
fn verdict(kind: &str, fate: Fate) -> Fate {
    match (kind, fate) {
        ("Service", Fate::Pending) => Fate::Pending,
        ("Service", _) => Fate::Ready,
        ("PersistentVolumeClaim" | "CustomResourceDefinition", Fate::Unschedulable) => Fate::Pending,
        (_, fate) => fate,
    }
}

fn container_status(fate: Fate, index: usize) -> Value {
    let image = format!("localhost/bench/app-{index}:1");
    let (ready, state) = match fate {
        Fate::Ready => (true, json!({"running": {"startedAt": "2026-11-22T10:00:00Z"}})),
        Fate::Failing => (
            false,
            json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container"}}),
        ),
        Fate::Pending | Fate::Unschedulable => (false, json!({"waiting": {"reason": "ContainerCreating"}})),
    };
    json!({"name": "app", "ready": ready, "restartCount": if fate == Fate::Failing {4} else {0},
        "image": image, "imageID": "", "state": state})
}

/// A pod as the API server lists it (no `apiVersion`/`kind` on list items).
fn pod(
    name: String,
    namespace: &str,
    labels: Value,
    owner: Option<(&str, String, String)>,
    fate: Fate,
    index: usize,
) -> Value {
    let mut metadata = json!({"name": name, "namespace": namespace, "uid": format!("uid-{name}"), "labels": labels,
        "creationTimestamp": "2026-11-22T10:00:00Z"});
    if let Some((kind, owner_name, uid)) = owner {
        let api_version = match kind {
            "Job" => "batch/v1",
            _ => "apps/v1",
        };
        metadata["ownerReferences"] = json!([{"apiVersion": api_version, "kind": kind, "name": owner_name, "uid": uid,
            "controller": true, "blockOwnerDeletion": true}]);
    }
    let status = match fate {
        Fate::Unschedulable => json!({"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
             "message": "0/1 nodes are available: 1 Insufficient memory.", "lastTransitionTime": "2026-11-22T10:00:00Z"}]}),
        _ => json!({"phase": if fate == Fate::Pending {"Pending"} else {"Running"},
            "conditions": [condition("PodScheduled", "True", ""), condition("Ready", if fate == Fate::Ready {"True"} else {"False"}, "")],
            "containerStatuses": [container_status(fate, index)]}),
    };
    json!({"metadata": metadata,
        "spec": {"restartPolicy": "Always", "containers": [{"name": "app", "image": format!("localhost/bench/app-{index}:1")}]},
        "status": status})
}

struct Cluster {
    /// As applied (what the wait tracks).
    applied: Vec<Value>,
    /// LIST bodies by (apiVersion, kind, namespace).
    lists: BTreeMap<(String, String, Option<String>), Vec<u8>>,
    /// Pod LIST bodies by namespace.
    pods: BTreeMap<String, Vec<u8>>,
    expected: TickCounts,
}

/// `count` objects of the eight kinds in ten namespaces (CRDs cluster-scoped), the server's view
/// of them, their pods (three per workload; owned through a ReplicaSet for Deployments), and
/// the counts the first tick must reach.
fn cluster(count: usize) -> Cluster {
    let mut applied = Vec::new();
    let mut items: BTreeMap<(String, String, Option<String>), Vec<Value>> = BTreeMap::new();
    let mut pods: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut expected = TickCounts {
        ready: 0,
        failed: 0,
        pending: 0,
        undecodable: 0,
    };
    for index in 0..count {
        let kind = KINDS[index % KINDS.len()];
        // Each round of the eight kinds shares a fate, so every kind gets every fate.
        let fate = fate(index / KINDS.len());
        match verdict(kind, fate) {
            Fate::Ready => expected.ready += 1,
            Fate::Pending => expected.pending += 1,
            Fate::Failing | Fate::Unschedulable => expected.failed += 1,
        }
        let name = format!("object-{index}");
        let namespace = (kind != "CustomResourceDefinition").then(|| format!("bench-{}", index % 10));
        let api_version = match kind {
            "Deployment" | "StatefulSet" | "DaemonSet" => "apps/v1",
            "Job" => "batch/v1",
            "CustomResourceDefinition" => "apiextensions.k8s.io/v1",
            _ => "v1",
        };
        let uid = format!("uid-{name}");
        let labels = json!({"app": name});
        let mut metadata = json!({"name": name, "uid": uid, "generation": 2, "labels": labels,
            "creationTimestamp": "2026-11-22T10:00:00Z"});
        if let Some(namespace) = &namespace {
            metadata["namespace"] = json!(namespace);
        }
        let healthy = fate == Fate::Ready;
        let (replicas, up) = (3, if healthy { 3 } else { 1 });
        let template = json!({"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app", "image": format!("localhost/bench/app-{index}:1")}]}});
        let server = match kind {
            "Deployment" => json!({"metadata": metadata,
                "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "template": template},
                "status": {"observedGeneration": 2, "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": up, "availableReplicas": up,
                    "conditions": [condition("Available", if healthy {"True"} else {"False"}, "MinimumReplicasAvailable"), condition("Progressing", "True", "NewReplicaSetAvailable")]}}),
            "StatefulSet" => json!({"metadata": metadata,
                "spec": {"replicas": replicas, "selector": {"matchLabels": labels}, "serviceName": name, "template": template, "updateStrategy": {"type": "RollingUpdate"}},
                "status": {"observedGeneration": 2, "replicas": replicas, "readyReplicas": up, "currentReplicas": replicas, "updatedReplicas": replicas, "currentRevision": "r1", "updateRevision": "r1"}}),
            "DaemonSet" => json!({"metadata": metadata,
                "spec": {"selector": {"matchLabels": labels}, "template": template},
                "status": {"observedGeneration": 2, "desiredNumberScheduled": 3, "currentNumberScheduled": 3, "updatedNumberScheduled": 3, "numberAvailable": up, "numberReady": up, "numberMisscheduled": 0}}),
            "Job" => json!({"metadata": metadata,
            "spec": {"template": template, "backoffLimit": 4},
            "status": match fate {
                Fate::Ready => json!({"succeeded": 1, "conditions": [condition("Complete", "True", "")]}),
                Fate::Failing => json!({"failed": 5, "conditions": [condition("Failed", "True", "BackoffLimitExceeded")]}),
                _ => json!({"active": 1}),
            }}),
            "Pod" => pod(
                name.clone(),
                namespace.as_deref().unwrap_or(""),
                labels.clone(),
                None,
                fate,
                index,
            ),
            "Service" => json!({"metadata": metadata,
                "spec": {"type": if fate == Fate::Pending {"LoadBalancer"} else {"ClusterIP"}, "ports": [{"port": 80}], "selector": labels},
                "status": {"loadBalancer": {}}}),
            "PersistentVolumeClaim" => json!({"metadata": metadata,
                "spec": {"storageClassName": "standard", "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
                "status": {"phase": match fate { Fate::Ready => "Bound", Fate::Failing => "Lost", _ => "Pending" }}}),
            _ => json!({"metadata": metadata,
                "spec": {"group": "bench.example.com", "names": {"kind": format!("Thing{index}"), "plural": format!("things{index}")}, "scope": "Namespaced"},
                "status": {"conditions": [
                    condition("NamesAccepted", if fate == Fate::Failing {"False"} else {"True"}, if fate == Fate::Failing {"ListKindConflict"} else {"NoConflicts"}),
                    condition("Established", if healthy {"True"} else {"False"}, "InitialNamesAccepted")]}}),
        };
        // Pods: three per workload (the pod object itself for a Pod), in the workload's state.
        if let Some(namespace) = &namespace {
            let list = pods.entry(namespace.clone()).or_default();
            match kind {
                "Deployment" => {
                    let replica_set = format!("{name}-5d8f9");
                    for replica in 0..3 {
                        let fate = if replica < up { Fate::Ready } else { fate };
                        list.push(pod(
                            format!("{replica_set}-{replica}"),
                            namespace,
                            labels.clone(),
                            Some(("ReplicaSet", replica_set.clone(), format!("uid-{replica_set}"))),
                            fate,
                            index,
                        ));
                    }
                }
                "StatefulSet" | "DaemonSet" | "Job" => {
                    for replica in 0..3 {
                        let fate = if replica < up && kind != "Job" {
                            Fate::Ready
                        } else {
                            fate
                        };
                        // A Job's pods crash and retry; the Job's own condition is the verdict.
                        list.push(pod(
                            format!("{name}-{replica}"),
                            namespace,
                            labels.clone(),
                            Some((kind, name.clone(), uid.clone())),
                            fate,
                            index,
                        ));
                    }
                }
                "Pod" => list.push(server.clone()),
                _ => {}
            }
        }
        let mut as_written = json!({"apiVersion": api_version, "kind": kind, "metadata": {"name": name}});
        if let Some(namespace) = &namespace {
            as_written["metadata"]["namespace"] = json!(namespace);
        }
        applied.push(as_written);
        items
            .entry((api_version.to_owned(), kind.to_owned(), namespace))
            .or_default()
            .push(server);
    }
    let lists = items
        .into_iter()
        .map(|((api_version, kind, namespace), items)| {
            let body = json!({"apiVersion": api_version, "kind": format!("{kind}List"),
                "metadata": {"resourceVersion": "4242"}, "items": items});
            ((api_version, kind, namespace), serde_json::to_vec(&body).expect("JSON"))
        })
        .collect();
    let pods = pods
        .into_iter()
        .map(|(namespace, items)| {
            let body =
                json!({"apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "4242"}, "items": items});
            (namespace, serde_json::to_vec(&body).expect("JSON"))
        })
        .collect();
    Cluster {
        applied,
        lists,
        pods,
        expected,
    }
}

fn thread_cpu() -> Duration {
    let time = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).expect("thread CPU clock");
    Duration::new(time.tv_sec() as u64, time.tv_nsec() as u32)
}

fn readiness_benchmark(goals: &mut Goals) {
    let count = goals.pick(1000, 200);
    let runs = goals.pick(20, 10);
    let cluster = cluster(count);
    let bytes: usize = cluster.lists.values().chain(cluster.pods.values()).map(Vec::len).sum();
    let mut tick_best = Duration::MAX;
    let mut parse_best = Duration::MAX;
    let mut decode_best = Duration::MAX;
    let mut counts = None;
    for _ in 0..runs {
        // The wait's state right after the applies (not timed), then one tick.
        let mut tick = ReadinessTick::new(&cluster.applied);
        let before = thread_cpu();
        let result = tick.run(
            |api_version, kind, namespace| {
                cluster
                    .lists
                    .get(&(api_version.to_owned(), kind.to_owned(), namespace.map(str::to_owned)))
                    .cloned()
                    .unwrap_or_else(|| panic!("no LIST body for {api_version} {kind} in {namespace:?}"))
            },
            |namespace| cluster.pods.get(namespace).cloned().unwrap_or_default(),
        );
        tick_best = tick_best.min(thread_cpu() - before);
        counts = Some(std::hint::black_box(result));
        // The baseline: the same bodies copied and parsed into JSON values, nothing else.
        let before = thread_cpu();
        for body in cluster.lists.values().chain(cluster.pods.values()) {
            let value: Value = serde_json::from_slice(&body.clone()).expect("JSON");
            std::hint::black_box(value);
        }
        parse_best = parse_best.min(thread_cpu() - before);
        // For comparison, what the tick no longer does: kube's typed decoding of the same bodies
        // (`ObjectList<DynamicObject>`, k8s-openapi `Pod`s), before it was converted back to JSON.
        let before = thread_cpu();
        for body in cluster.lists.values() {
            let list: kube::core::ObjectList<kube::api::DynamicObject> =
                serde_json::from_slice(&body.clone()).expect("list");
            std::hint::black_box(list);
        }
        for body in cluster.pods.values() {
            let list: kube::core::ObjectList<k8s_openapi::api::core::v1::Pod> =
                serde_json::from_slice(&body.clone()).expect("pods");
            std::hint::black_box(list);
        }
        decode_best = decode_best.min(thread_cpu() - before);
    }
    let counts = counts.expect("at least one run");
    let pods: usize = cluster
        .pods
        .values()
        .map(|body| {
            serde_json::from_slice::<Value>(body).map_or(0, |list| list["items"].as_array().map_or(0, Vec::len))
        })
        .sum();
    println!(
        "1. readiness: one tick of the deploy wait over {count} objects in 10 namespaces ({pods} pods; {:.1} MiB of LIST bodies), thread CPU, best of {runs}",
        bytes as f64 / 1_048_576.0
    );
    println!(
        "   tick {:.2} ms; parsing the same bodies into JSON values {:.2} ms; ratio {:.2}",
        tick_best.as_secs_f64() * 1000.0,
        parse_best.as_secs_f64() * 1000.0,
        tick_best.as_secs_f64() / parse_best.as_secs_f64()
    );
    println!(
        "   (a typed decode of the same bodies, which the tick no longer does: {:.2} ms)",
        decode_best.as_secs_f64() * 1000.0
    );
    println!(
        "   verdicts: {} ready, {} failed, {} pending (expected {} / {} / {})",
        counts.ready,
        counts.failed,
        counts.pending,
        cluster.expected.ready,
        cluster.expected.failed,
        cluster.expected.pending
    );
    goals.require(
        "the tick's verdicts equal the generator's",
        counts == cluster.expected,
        &format!("got {counts:?}, expected {:?}", cluster.expected),
    );
    // Per 1,000 objects (quick mode's 200 get a fifth); an unoptimized build gets its own limit.
    let budget_ms = goals.cpu(50.0, 100.0, 300.0) * count as f64 / 1000.0;
    let tick_ms = tick_best.as_secs_f64() * 1000.0;
    goals.check(
        &format!("tick CPU <= {budget_ms:.0} ms"),
        &format!("{tick_ms:.2} ms"),
        tick_ms <= budget_ms,
    );
    // One decode of each body and the rules over JSON: the parse itself plus a fraction.
    let ratio_goal = goals.cpu(2.5, 3.0, 3.0);
    let ratio = tick_best.as_secs_f64() / parse_best.as_secs_f64();
    goals.check(
        &format!("tick / JSON parse of its bodies <= {ratio_goal}"),
        &format!("{ratio:.2}"),
        ratio <= ratio_goal,
    );
}

fn main() -> ExitCode {
    let mut goals = Goals::from_args();
    readiness_benchmark(&mut goals);
    apply_benchmark(&mut goals);
    goals.finish()
}
