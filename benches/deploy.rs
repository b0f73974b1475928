//! Deploy-phase benchmarks, in one run:
//!
//! 1. Apply: one group of 200 objects against the fake API server (5 ms per apply, like a local
//!    Kind control plane), applied concurrently (the default, 16 in flight) vs one at a time
//!    (`--apply-concurrency 1`), through `hybrid-e2e run`; the deploy phase's duration from
//!    `timings.json` and the ratio.
//! 2. Readiness: one evaluation of 1,000 API-shaped objects (Deployments, StatefulSets,
//!    DaemonSets, Jobs, Pods, Services, PVCs, CRDs) as one tick of the wait does it, in thread
//!    CPU time (goal ≤ 50 ms).
//!
//! Run: `cargo bench --bench deploy`

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use fake_apiserver::{Behaviour, FakeApiServer, Script};
use nix::time::{ClockId, clock_gettime};
use serde_json::{Value, json};

fn fake_tool(name: &str) -> PathBuf {
    fake_tools::binary(name)
}

const OBJECTS: usize = 200;

fn write_project(directory: &Path) {
    let mut manifests = String::new();
    for index in 0..OBJECTS {
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

/// The deploy phase's duration of one run with `apply_concurrency`.
fn deploy_seconds(directory: &Path, apply_concurrency: u32) -> f64 {
    let mut script = Script {
        apply_latency: Duration::from_millis(5),
        ..Script::default()
    };
    script.default_behaviour = Behaviour::ReadyAfter(Duration::ZERO);
    let api = FakeApiServer::start(script);
    let state = directory.join(format!("state-{apply_concurrency}"));
    let _ = std::fs::remove_dir_all(&state);
    std::fs::create_dir_all(&state).expect("state");
    let status = Command::new(env!("CARGO_BIN_EXE_hybrid-e2e"))
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
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("hybrid-e2e runs");
    assert!(status.success(), "run failed in {}", directory.display());
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

fn apply_benchmark() {
    let directory = tempfile::tempdir().expect("tempdir");
    write_project(directory.path());
    let mut concurrent = f64::MAX;
    let mut sequential = f64::MAX;
    for _ in 0..3 {
        concurrent = concurrent.min(deploy_seconds(directory.path(), 16));
        sequential = sequential.min(deploy_seconds(directory.path(), 1));
    }
    println!(
        "apply {OBJECTS} objects in one group (5 ms per apply): concurrent (16 in flight) {concurrent:.3} s, one at a time {sequential:.3} s, ratio {:.3} (best of 3; includes the readiness wait)",
        concurrent / sequential
    );
}

fn condition(kind: &str, status: &str, reason: &str) -> Value {
    json!({"type": kind, "status": status, "reason": reason, "message": "", "lastTransitionTime": "2026-11-22T10:00:00Z"})
}

/// 1,000 objects as the API server returns them, a realistic mix, about 80 % ready.
fn objects() -> Vec<Value> {
    (0..1000)
        .map(|index| {
            let ready = index % 5 != 0;
            let replicas = 3;
            let up = if ready { replicas } else { 1 };
            let metadata = json!({"name": format!("object-{index}"), "namespace": "bench", "generation": 2, "uid": format!("uid-{index}"), "labels": {"app": format!("object-{index}")}});
            match index % 8 {
                0 => json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata,
                    "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "x"}}},
                    "status": {"observedGeneration": 2, "replicas": replicas, "updatedReplicas": up, "readyReplicas": up, "availableReplicas": up,
                        "conditions": [condition("Available", if ready {"True"} else {"False"}, "MinimumReplicasAvailable"), condition("Progressing", "True", "NewReplicaSetAvailable")]}}),
                1 => json!({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": metadata,
                    "spec": {"replicas": replicas, "updateStrategy": {"type": "RollingUpdate"}},
                    "status": {"observedGeneration": 2, "replicas": replicas, "readyReplicas": up, "currentReplicas": up, "updatedReplicas": up, "currentRevision": "r1", "updateRevision": "r1"}}),
                2 => json!({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": metadata,
                    "status": {"observedGeneration": 2, "desiredNumberScheduled": 2, "currentNumberScheduled": 2, "updatedNumberScheduled": 2, "numberAvailable": if ready {2} else {1}, "numberReady": if ready {2} else {1}}}),
                3 => json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": metadata,
                    "status": if ready { json!({"succeeded": 1, "conditions": [condition("Complete", "True", "")]}) } else { json!({"active": 1}) }}),
                4 => json!({"apiVersion": "v1", "kind": "Pod", "metadata": metadata,
                    "spec": {"restartPolicy": "Always"},
                    "status": {"phase": "Running", "conditions": [condition("Ready", if ready {"True"} else {"False"}, "")],
                        "containerStatuses": [{"name": "app", "ready": ready, "restartCount": 0, "state": if ready { json!({"running": {}}) } else { json!({"waiting": {"reason": "ContainerCreating"}}) }}]}}),
                5 => json!({"apiVersion": "v1", "kind": "Service", "metadata": metadata, "spec": {"type": "ClusterIP"}, "status": {"loadBalancer": {}}}),
                6 => json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": metadata, "spec": {"storageClassName": "standard"}, "status": {"phase": if ready {"Bound"} else {"Pending"}}}),
                _ => json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition", "metadata": metadata,
                    "status": {"conditions": [condition("NamesAccepted", "True", "NoConflicts"), condition("Established", if ready {"True"} else {"False"}, "InitialNamesAccepted")]}}),
            }
        })
        .collect()
}

fn thread_cpu() -> Duration {
    let time = clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID).expect("thread CPU clock");
    Duration::new(time.tv_sec() as u64, time.tv_nsec() as u32)
}

fn readiness_benchmark() {
    let objects = objects();
    let mut best = Duration::MAX;
    let mut ready = 0;
    for _ in 0..20 {
        let before = thread_cpu();
        ready = std::hint::black_box(hybrid_e2e::bench_support::evaluate_readiness(std::hint::black_box(
            &objects,
        )));
        best = best.min(thread_cpu() - before);
    }
    println!(
        "readiness of 1,000 objects: {:.3} ms of CPU (best of 20; goal <= 50 ms); {ready} ready",
        best.as_secs_f64() * 1000.0
    );
}

fn main() {
    readiness_benchmark();
    apply_benchmark();
}
