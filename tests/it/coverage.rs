//! E2E coverage capture (DD-TEST-007) end to end: the bundled example (its gateway is built with
//! `coverage: true`) with a suite, on the real Docker engine. Kind cannot run here, so its node
//! is a real container the test starts (the fake `kind` lists it as the cluster's node); the
//! API server is the fake one, which plays the scale subresource and terminating pods. What a
//! consumer sees is checked: the manifest the API server got, the scale-down and the wait for
//! the pods, the files copied out of the node, `timings.json`, the job summary, the exit code.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::run_cli::{bundled_example, phase};
use crate::support::{BASE_IMAGE, Engines, Project, engine_ready, stderr, stdout};

/// The stand-in suite: the instrumented process's part is played here — it writes Go's raw
/// coverage files into the node's directory for the gateway in this run (what the pod's
/// `GOCOVERDIR` mount is), and records the directory's mode (the cluster phase made it writable
/// for all). An earlier run's data sits next to it on the node, never to be counted.
/// Counter files hold textfmt blocks, which the fake `go` merges (real ones are binary).
const SUITE: &str = r#"#!/bin/sh
set -eu
"$ENGINE" exec "$NODE" busybox stat -c %a "/coverdata/$HYBRID_E2E_RUN_ID/gateway" > node-dir-mode.txt
"$ENGINE" exec -e RUN="$HYBRID_E2E_RUN_ID" "$NODE" sh -c 'mkdir -p /coverdata/20200101-000000-00000000/gateway
printf "example.com/gateway/old.go:1.1,2.2 99 1\n" > /coverdata/20200101-000000-00000000/gateway/covcounters.old.1.1
printf meta > /coverdata/$RUN/gateway/covmeta.0f1e2d
printf "example.com/gateway/main.go:10.13,12.2 4 1\nexample.com/gateway/main.go:14.2,16.3 6 0\n" > /coverdata/$RUN/gateway/covcounters.0f1e2d.1.1700000000
printf "example.com/gateway/main.go:14.2,16.3 6 0\nexample.com/gateway/route.go:3.1,9.2 10 3\n" > /coverdata/$RUN/gateway/covcounters.0f1e2d.2.1700000001'
echo "suite: 12 passed"
"#;

/// A real container standing for the Kind node on `engine`, removed when dropped.
struct Node {
    engine: &'static str,
    name: String,
}

impl Node {
    fn start(engine: &'static str, name: &str) -> Node {
        let _ = Command::new(engine).args(["rm", "-f", name]).output();
        let mut command = Command::new(engine);
        command.args(["run", "-d", "--name", name]);
        if engine == "podman" {
            // Podman's default rlimits cannot be set on this machine (see services.rs).
            command.args(["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]);
        }
        let output = command
            .args([BASE_IMAGE, "sleep", "600"])
            .output()
            .expect("the engine runs");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        Node {
            engine,
            name: name.to_owned(),
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = Command::new(self.engine)
            .args(["rm", "-f", "-t", "0", &self.name])
            .output();
    }
}

/// The example with the suite as its `test:`, on `engines`.
fn example_with_suite(script: fake_apiserver::Script, engines: Engines) -> Project {
    let project = bundled_example(script, engines);
    let suite = project.path().join("suite.sh");
    std::fs::write(&suite, SUITE).expect("suite");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&suite, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let config = project.path().join("hybrid-e2e.yaml");
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str("\ntest:\n  command: [./suite.sh]\n  target: 1m\ncoverage:\n  stop_timeout: 20s\n");
    std::fs::write(&config, text).expect("config");
    project
}

fn coverage_step<'a>(timings: &'a Value, image: &str) -> &'a Value {
    phase(timings, "coverage")["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|step| step["name"] == image)
        .unwrap_or_else(|| panic!("no coverage step {image}: {timings:#}"))
}

/// A directory of fake tools that holds `go` (or not), ahead of the machine's PATH.
fn path_with_go(project: &Project, with_go: bool) -> String {
    let bin = project.path().join("tool-bin");
    std::fs::create_dir_all(&bin).expect("bin");
    if with_go {
        std::os::unix::fs::symlink(fake_tools::binary("go"), bin.join("go")).expect("go");
    }
    // Nothing else of the machine's PATH may provide a `go` for the test without it.
    let system: Vec<String> = std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .filter(|dir| !Path::new(dir).join("go").exists())
        .map(str::to_owned)
        .collect();
    format!("{}:{}", bin.display(), system.join(":"))
}

/// `hybrid-e2e run ARGS` of the example on `engine` with a real container as its Kind node, and
/// `more_manifests` appended to the gateway's group. An earlier run's file waits in the report
/// directory, never to be counted.
fn run_with_node(
    engine: &'static str,
    with_go: bool,
    args: &[&str],
    more_manifests: &str,
) -> Option<(Project, std::process::Output)> {
    run_with_node_and(
        engine,
        with_go,
        args,
        more_manifests,
        Duration::from_secs(2),
        |config| config,
    )
}

/// [`run_with_node`] with the fake API server's termination grace and an edit of the config.
fn run_with_node_and(
    engine: &'static str,
    with_go: bool,
    args: &[&str],
    more_manifests: &str,
    termination_grace: Duration,
    edit_config: fn(String) -> String,
) -> Option<(Project, std::process::Output)> {
    if !engine_ready(engine) {
        return None;
    }
    let script = fake_apiserver::Script {
        termination_grace,
        ..fake_apiserver::Script::default()
    };
    let project = example_with_suite(script, Engines::Real);
    let config = project.path().join("hybrid-e2e.yaml");
    let text = edit_config(std::fs::read_to_string(&config).expect("config"));
    std::fs::write(&config, text.replace("engine: docker", &format!("engine: {engine}"))).expect("config");
    let manifests = project.path().join("deploy/gateway.yaml");
    let mut text = std::fs::read_to_string(&manifests).expect("manifests");
    text.push_str(more_manifests);
    std::fs::write(&manifests, text).expect("manifests");
    let node_name = format!(
        "hybrid-e2e-coverage-node-{}-{engine}-{}",
        std::process::id(),
        if with_go { "go" } else { "nogo" }
    );
    let node = Node::start(engine, &node_name);
    let path = path_with_go(&project, with_go);
    let stale = project.path().join("hybrid-e2e-report/coverage/gateway");
    std::fs::create_dir_all(&stale).expect("stale dir");
    std::fs::write(
        stale.join("covcounters.stale.9.9"),
        "example.com/gateway/gone.go:1.1,2.2 50 1\n",
    )
    .expect("stale");
    let mut argv = vec!["run"];
    argv.extend_from_slice(args);
    let output = project.run(
        &argv,
        &[
            ("FAKE_KIND_NODES", node.name.as_str()),
            ("NODE", node.name.as_str()),
            ("ENGINE", engine),
            ("PATH", path.as_str()),
        ],
    );
    Some((project, output))
}

#[test]
fn coverage_is_captured_after_a_graceful_stop_and_measured_with_go() {
    captured_and_measured("docker");
}

/// The same with Podman: its `exec` and `cp`, and kind's Podman provider.
#[test]
fn coverage_is_captured_from_podman_nodes() {
    captured_and_measured("podman");
}

fn captured_and_measured(engine: &'static str) {
    let Some((project, output)) = run_with_node(engine, true, &[], "") else {
        return;
    };
    let (out, err) = (stdout(&output), stderr(&output));
    assert_eq!(output.status.code(), Some(0), "{out}\n{err}");
    let timings = project.timings();

    // The deploy phase gave the gateway — only the gateway — the directory in all its places.
    let gateway = project
        .api
        .object("apps/v1", "Deployment", Some("example-e2e"), "gateway")
        .expect("gateway deployed");
    let pod = &gateway["spec"]["template"]["spec"];
    assert_eq!(pod["containers"][0]["env"][0]["name"], "GOCOVERDIR");
    assert_eq!(pod["containers"][0]["env"][0]["value"], "/coverdata");
    assert_eq!(pod["containers"][0]["volumeMounts"][0]["mountPath"], "/coverdata");
    let run_id = timings["run_id"].as_str().expect("run id");
    assert_eq!(
        pod["volumes"][0]["hostPath"]["path"],
        format!("/coverdata/{run_id}/gateway")
    );
    let datastorage = project
        .api
        .object("apps/v1", "Deployment", Some("example-e2e"), "datastorage")
        .expect("datastorage deployed");
    assert!(datastorage["spec"]["template"]["spec"].get("volumes").is_none());

    // The cluster phase made the node directory writable for a non-root process (the example's
    // gateway runs as 65532).
    let mode = std::fs::read_to_string(project.path().join("node-dir-mode.txt")).expect("the suite ran");
    assert_eq!(mode.trim(), "777");

    // The graceful stop: scaled to 0 through the scale subresource (a merge patch, as `kubectl
    // scale`), nothing deleted, and the pods were waited for until gone (2 s of termination).
    assert_eq!(gateway["spec"]["replicas"], 0);
    let requests = project.api.requests();
    let scale = requests
        .iter()
        .find(|request| request.method == "PATCH" && request.path.ends_with("/deployments/gateway/scale"))
        .expect("the gateway was scaled");
    assert!(
        scale
            .content_type
            .as_deref()
            .is_some_and(|content_type| content_type.starts_with("application/merge-patch+json"))
    );
    assert!(!requests.iter().any(|request| request.method == "DELETE"));
    assert!(
        !requests
            .iter()
            .any(|request| request.method == "PATCH" && request.path.ends_with("/datastorage/scale"))
    );
    let last_pod_list = requests
        .iter()
        .filter(|request| request.method == "GET" && request.path == "/api/v1/namespaces/example-e2e/pods")
        .map(|request| request.at)
        .max()
        .expect("pods listed");
    assert!(
        last_pod_list.duration_since(scale.at) >= Duration::from_secs(2),
        "the copy must wait for the terminating pods"
    );

    // The data, copied out of the node, converted and measured: blocks 4 (ran) + 6 (never, in
    // both pods' counters) + 10 (ran) statements: 14 of 20.
    let step = coverage_step(&timings, "gateway");
    assert_eq!(step["status"], "ok", "{step:#}");
    let coverage = &step["coverage"];
    assert_eq!(coverage["meta_files"], 1);
    assert_eq!(coverage["counter_files"], 2);
    assert_eq!(coverage["statements"], 20);
    assert_eq!(coverage["covered_statements"], 14);
    assert_eq!(coverage["percent"], 70.0);
    assert_eq!(coverage["problems"], serde_json::json!([]));
    assert_eq!(
        coverage["packages"],
        serde_json::json!([{"package": "example.com/gateway", "statements": 20, "covered_statements": 14, "percent": 70.0}])
    );
    assert_eq!(
        coverage["workloads"],
        serde_json::json!(["Deployment example-e2e/gateway: scaled to 0"])
    );
    let report = project.path().join("hybrid-e2e-report");
    assert!(report.join("coverage/gateway/covmeta.0f1e2d").is_file());
    assert!(
        !report.join("coverage/gateway/covcounters.stale.9.9").exists(),
        "an earlier run's data is not this run's"
    );
    assert!(
        report
            .join("coverage/gateway/covcounters.0f1e2d.2.1700000001")
            .is_file()
    );
    let profile = std::fs::read_to_string(report.join("coverage/gateway.coverprofile")).expect("profile");
    assert!(profile.starts_with("mode: set\n"), "{profile}");
    // Coverage is not setup: the setup's clock and budget are untouched by it.
    let setup: f64 = ["build", "cluster", "load", "deploy"]
        .iter()
        .map(|name| phase(&timings, name)["duration_seconds"].as_f64().unwrap_or(0.0))
        .sum();
    assert!((timings["setup_seconds"].as_f64().expect("setup") - setup).abs() < 0.01);

    let summary = std::fs::read_to_string(report.join("summary.md")).expect("summary.md written");
    assert!(
        summary.contains("| gateway | 70.0% (14 of 20) | `coverage/gateway`: 1 meta, 2 counter file(s); profile `coverage/gateway.coverprofile` | ✅ |"),
        "{summary}"
    );
}

#[test]
fn without_go_the_raw_data_is_kept_and_a_kept_cluster_is_scaled_back() {
    let Some((project, output)) = run_with_node("docker", false, &["--preserve", "always"], "") else {
        return;
    };
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    let timings = project.timings();
    let step = coverage_step(&timings, "gateway");
    let coverage = &step["coverage"];
    assert_eq!(coverage["counter_files"], 2);
    assert_eq!(coverage["percent"], Value::Null);
    assert!(
        coverage["problems"][0]
            .as_str()
            .is_some_and(|problem| problem.contains("`go` is not on PATH")),
        "{coverage:#}"
    );
    assert!(
        err.contains("coverage of `gateway`"),
        "the warning reaches the terminal: {err}"
    );
    // The cluster outlives the run: the gateway is as the tests left it, one replica.
    let gateway = project
        .api
        .object("apps/v1", "Deployment", Some("example-e2e"), "gateway")
        .expect("gateway deployed");
    assert_eq!(gateway["spec"]["replicas"], 1);
    assert_eq!(
        coverage["workloads"],
        serde_json::json!([
            "Deployment example-e2e/gateway: scaled to 0",
            "Deployment example-e2e/gateway: scaled back to 1"
        ])
    );
    assert!(
        project
            .path()
            .join("hybrid-e2e-report/coverage/gateway/covmeta.0f1e2d")
            .is_file()
    );
}

/// DaemonSets and bare Pods stop gracefully too: the DaemonSet gets a node selector no node
/// has, so its pod terminates; the bare Pod is deleted. Both are waited for before the copy, and
/// in a kept cluster the selector is removed and the Pod, once gone, applied again as the deploy
/// phase applied it.
#[test]
fn daemonsets_and_bare_pods_are_stopped_and_brought_back() {
    const MORE: &str = "---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: gateway-agent, namespace: example-e2e}
spec:
  selector: {matchLabels: {app: gateway-agent}}
  template:
    metadata: {labels: {app: gateway-agent}}
    spec:
      nodeSelector: {kubernetes.io/os: linux}
      containers:
        - {name: agent, image: localhost/example/gateway:e2e}
---
apiVersion: v1
kind: Pod
metadata: {name: gateway-probe, namespace: example-e2e, labels: {app: gateway-probe}}
spec:
  containers:
    - {name: probe, image: localhost/example/gateway:e2e}
";
    let Some((project, output)) = run_with_node("docker", false, &["--preserve", "always"], MORE) else {
        return;
    };
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    let timings = project.timings();
    let coverage = &coverage_step(&timings, "gateway")["coverage"];
    assert_eq!(
        coverage["workloads"],
        serde_json::json!([
            "Deployment example-e2e/gateway: scaled to 0",
            "DaemonSet example-e2e/gateway-agent: unscheduled from every node",
            "Pod example-e2e/gateway-probe: deleted",
            "Deployment example-e2e/gateway: scaled back to 1",
            "DaemonSet example-e2e/gateway-agent: scheduled again",
            "Pod example-e2e/gateway-probe: created again"
        ]),
        "{coverage:#}"
    );
    let problems = coverage["problems"].as_array().expect("problems");
    assert!(
        problems.len() == 1
            && problems[0]
                .as_str()
                .is_some_and(|problem| problem.contains("`go` is not on PATH")),
        "stopping them is no problem: {problems:?}"
    );

    // What the API server was asked: two merge patches of the DaemonSet (stop, restore), one
    // graceful delete of the Pod, and the copy only once both had terminated (2 s).
    let requests = project.api.requests();
    let patches: Vec<_> = requests
        .iter()
        .filter(|request| {
            request.method == "PATCH"
                && request.path == "/apis/apps/v1/namespaces/example-e2e/daemonsets/gateway-agent"
                && request
                    .content_type
                    .as_deref()
                    .is_some_and(|content_type| content_type.starts_with("application/merge-patch+json"))
        })
        .collect();
    assert_eq!(patches.len(), 2, "{patches:?}");
    assert!(
        patches
            .iter()
            .all(|patch| patch.query.contains("fieldManager=hybrid-e2e-coverage"))
    );
    let delete = requests
        .iter()
        .find(|request| {
            request.method == "DELETE" && request.path == "/api/v1/namespaces/example-e2e/pods/gateway-probe"
        })
        .expect("the bare Pod was deleted");
    let stopped = patches[0].at.max(delete.at);
    let last_pod_list = requests
        .iter()
        .filter(|request| {
            request.method == "GET"
                && request.path == "/api/v1/namespaces/example-e2e/pods"
                && request.at < patches[1].at
        })
        .map(|request| request.at)
        .max()
        .expect("pods listed");
    assert!(
        last_pod_list.duration_since(stopped) >= Duration::from_secs(2),
        "the copy must wait for the terminating pods"
    );

    // The kept cluster is as the tests left it: the DaemonSet has its own selector only and runs
    // its pod again; the Pod is back, not terminating, as the deploy phase instrumented it.
    let agent = project
        .api
        .object("apps/v1", "DaemonSet", Some("example-e2e"), "gateway-agent")
        .expect("the DaemonSet");
    assert_eq!(
        agent["spec"]["template"]["spec"]["nodeSelector"],
        serde_json::json!({"kubernetes.io/os": "linux"})
    );
    assert_eq!(agent["status"]["desiredNumberScheduled"], 1);
    let probe = project
        .api
        .object("v1", "Pod", Some("example-e2e"), "gateway-probe")
        .expect("the Pod was created again");
    assert!(probe["metadata"].get("deletionTimestamp").is_none(), "{probe:#}");
    assert_eq!(probe["metadata"]["labels"]["app"], "gateway-probe");
    assert_eq!(probe["spec"]["containers"][0]["env"][0]["name"], "GOCOVERDIR");
    // Applied again only once the old Pod was gone (2 s of termination), with the deploy
    // phase's own field manager and validation.
    let reapplied = requests
        .iter()
        .filter(|request| {
            request.method == "PATCH" && request.path == "/api/v1/namespaces/example-e2e/pods/gateway-probe"
        })
        .map(|request| (request.at, request.query.as_str()))
        .next_back()
        .expect("the Pod was applied again");
    assert!(reapplied.0.duration_since(delete.at) >= Duration::from_secs(2));
    assert!(
        reapplied.1.contains("fieldManager=hybrid-e2e&") && reapplied.1.contains("fieldValidation=Strict"),
        "{}",
        reapplied.1
    );
}

/// A Pod still terminating when the copy is done (its grace outlasts `coverage.stop_timeout`)
/// is not applied again — that would update the dying Pod, which then disappears — and the
/// problem says where its manifest is.
#[test]
fn a_pod_still_terminating_is_not_brought_back_into_its_own_deletion() {
    const PROBE: &str = "---
apiVersion: v1
kind: Pod
metadata: {name: gateway-probe, namespace: example-e2e}
spec:
  containers:
    - {name: probe, image: localhost/example/gateway:e2e}
";
    let Some((project, output)) = run_with_node_and(
        "docker",
        false,
        &["--preserve", "always"],
        PROBE,
        Duration::from_secs(5),
        |config| config.replace("stop_timeout: 20s", "stop_timeout: 1s"),
    ) else {
        return;
    };
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "coverage problems are warnings: {err}");
    let timings = project.timings();
    let coverage = &coverage_step(&timings, "gateway")["coverage"];
    let problems: Vec<&str> = coverage["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let not_again = problems
        .iter()
        .find(|problem| problem.starts_with("Pod example-e2e/gateway-probe was deleted and not created again"))
        .unwrap_or_else(|| panic!("{problems:#?}"));
    assert!(
        not_again.contains("still terminating after 1s") && not_again.contains("deploy/gateway.yaml:"),
        "{not_again}"
    );
    let requests = project.api.requests();
    let delete = requests
        .iter()
        .find(|request| request.method == "DELETE" && request.path.ends_with("/pods/gateway-probe"))
        .expect("the Pod was deleted");
    assert!(
        !requests.iter().any(|request| request.method == "PATCH"
            && request.path.ends_with("/pods/gateway-probe")
            && request.at > delete.at),
        "nothing was applied to the terminating Pod"
    );
}

/// Without node containers (fake engines: nothing to copy) every problem is a warning, the run
/// passes, and the preflight saw the example's Kind config mount `coverage.dir` on every node.
#[test]
fn coverage_problems_never_fail_the_run() {
    let project = example_with_suite(fake_apiserver::Script::default(), Engines::Fake);
    let output = project.run(&["run"], &[("NODE", "absent"), ("ENGINE", "docker")]);
    let err = stderr(&output);
    // The suite's `docker exec` fails against no node: the test phase fails, coverage still runs.
    assert_eq!(output.status.code(), Some(8), "{err}");
    let timings = project.timings();
    let preflight = phase(&timings, "preflight")["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|step| step["name"] == "coverage")
        .cloned()
        .expect("coverage check");
    assert_eq!(preflight["status"], "ok", "{preflight:#}");
    let step = coverage_step(&timings, "gateway");
    assert_eq!(step["status"], "ok");
    assert!(
        step["coverage"]["problems"]
            .as_array()
            .expect("problems")
            .iter()
            .any(|problem| problem.as_str().is_some_and(|text| text.contains("nothing copied"))),
        "{step:#}"
    );
    assert!(
        !step["coverage"]["problems"].to_string().contains("-cover"),
        "nothing was copied: no guess about the build: {step:#}"
    );
    assert_eq!(timings["failed_phase"], "test", "coverage never becomes the failure");
}

/// `mode: pipelined` instruments through the same deploy steps and captures after its suite.
#[test]
fn pipelined_runs_instrument_and_capture_too() {
    let project = example_with_suite(fake_apiserver::Script::default(), Engines::Fake);
    let output = project.run(
        &["run", "--mode", "pipelined"],
        &[("NODE", "absent"), ("ENGINE", "docker")],
    );
    assert_eq!(output.status.code(), Some(8), "{}", stderr(&output));
    let timings = project.timings();
    assert_eq!(timings["mode"], "pipelined");
    let gateway = project
        .api
        .object("apps/v1", "Deployment", Some("example-e2e"), "gateway")
        .expect("gateway deployed");
    assert_eq!(
        gateway["spec"]["template"]["spec"]["containers"][0]["env"][0]["name"],
        "GOCOVERDIR"
    );
    // The suite failed and `preserve: on-failure` keeps the cluster: stopped, copied, restored.
    assert_eq!(gateway["spec"]["replicas"], 1);
    let step = coverage_step(&timings, "gateway");
    assert_eq!(
        step["coverage"]["workloads"],
        serde_json::json!([
            "Deployment example-e2e/gateway: scaled to 0",
            "Deployment example-e2e/gateway: scaled back to 1"
        ])
    );
}

/// A suite that could not reach the cluster (its kubeconfig gone): nothing of the workloads is
/// the suite's, so nothing is stopped or measured.
#[test]
fn no_coverage_when_the_suite_never_reached_the_cluster() {
    let project = example_with_suite(fake_apiserver::Script::default(), Engines::Fake);
    // The cluster goes away under the suite: its kubeconfig is gone.
    let lost = project.path().join("lost.sh");
    std::fs::write(
        &lost,
        "#!/bin/sh\nrm -f \"$KUBECONFIG\"\necho 'Unable to connect to the server'\nexit 1\n",
    )
    .expect("suite");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&lost, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let config = project.path().join("hybrid-e2e.yaml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, text.replace("command: [./suite.sh]", "command: [./lost.sh]")).expect("config");
    let output = project.run(&["run"], &[]);
    assert_eq!(output.status.code(), Some(5), "{}", stderr(&output));
    assert_eq!(phase(&project.timings(), "test")["status"], "failed");
    let timings = project.timings();
    let coverage = phase(&timings, "coverage");
    assert_eq!(coverage["status"], "skipped", "{coverage:#}");
    let gateway = project
        .api
        .object("apps/v1", "Deployment", Some("example-e2e"), "gateway")
        .expect("gateway deployed");
    assert_eq!(gateway["spec"]["replicas"], 1, "nothing was scaled");
}

/// The Kind config lacks the mount: preflight warns with the lines to add (the run goes on).
#[test]
fn a_kind_config_without_the_mount_gets_the_exact_fix() {
    let project = example_with_suite(fake_apiserver::Script::default(), Engines::Fake);
    std::fs::write(
        project.path().join("kind-config.yaml"),
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n  - role: control-plane\n    extraMounts:\n      - {hostPath: ./cov, containerPath: /tmp/coverdata}\n  - role: worker\n",
    )
    .expect("kind config");
    let output = project.run(&["plan"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let output = project.run(&["run"], &[("NODE", "absent"), ("ENGINE", "docker")]);
    let err = stderr(&output);
    assert!(
        err.contains("does not mount /coverdata on 2 node(s); it mounts /tmp/coverdata instead"),
        "{err}"
    );
    assert!(
        err.contains("under nodes[0] (control-plane), nodes[1] (worker):"),
        "{err}"
    );
    assert!(err.contains("containerPath: /coverdata"), "{err}");
}

/// Writes what the instrumented gateway would have written into its node directory of `run_id`
/// (the suite's part when it runs outside `run`).
fn write_gateway_data(engine: &str, node: &str, run_id: &str) {
    let script = format!(
        "mkdir -p /coverdata/{run_id}/gateway && printf meta > /coverdata/{run_id}/gateway/covmeta.0f1e2d && \
printf 'example.com/gateway/main.go:10.13,12.2 4 1\\nexample.com/gateway/main.go:14.2,16.3 6 0\\n' > /coverdata/{run_id}/gateway/covcounters.0f1e2d.1.1700000000"
    );
    let output = Command::new(engine)
        .args(["exec", node, "sh", "-c", &script])
        .output()
        .expect("exec");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

/// The suite ran as a later step (no `test:`): `run` kept the cluster, `hybrid-e2e coverage`
/// captures afterwards into the same run's reports — the phase added once, the run's outcome
/// and setup clock untouched, the job summary given only the coverage table.
#[test]
fn the_coverage_command_captures_after_a_suite_run_outside_run() {
    if !engine_ready("docker") {
        return;
    }
    let script = fake_apiserver::Script {
        termination_grace: Duration::from_secs(1),
        ..fake_apiserver::Script::default()
    };
    let project = bundled_example(script, Engines::Real);
    let config = project.path().join("hybrid-e2e.yaml");
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str("\ncoverage:\n  target: 50\n");
    std::fs::write(&config, text).expect("config");
    let node = Node::start(
        "docker",
        &format!("hybrid-e2e-coverage-cmd-node-{}", std::process::id()),
    );
    let path = path_with_go(&project, true);
    let env = [("FAKE_KIND_NODES", node.name.as_str()), ("PATH", path.as_str())];
    let output = project.run(&["run", "--preserve", "always"], &env);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let before = project.timings();
    assert!(
        before["phases"]
            .as_array()
            .expect("phases")
            .iter()
            .all(|phase| phase["name"] != "coverage"),
        "no `test:`: the run itself captures nothing"
    );
    let run_id = before["run_id"].as_str().expect("run id");
    write_gateway_data("docker", &node.name, run_id);

    let summary_file = project.path().join("step-summary.md");
    let github = [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_STEP_SUMMARY", summary_file.to_str().expect("UTF-8")),
    ];
    let output = project.run(&["coverage"], &[&env[..], &github[..]].concat());
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert!(err.contains("hybrid-e2e coverage"), "{err}");
    let after = project.timings();
    let step = coverage_step(&after, "gateway");
    assert_eq!(step["coverage"]["percent"], 40.0, "{step:#}");
    // Below `coverage.target`: a warning, never a failure.
    assert_eq!(
        step["coverage"]["problems"],
        serde_json::json!(["40.0% of statements is below `coverage.target` (50%)"])
    );
    assert!(err.contains("below `coverage.target`"), "{err}");
    assert_eq!(
        step["coverage"]["workloads"],
        serde_json::json!([
            "Deployment example-e2e/gateway: scaled to 0",
            "Deployment example-e2e/gateway: scaled back to 1"
        ])
    );
    for field in [
        "run_id",
        "status",
        "setup_seconds",
        "within_target",
        "started_at",
        "finished_at",
    ] {
        assert_eq!(after[field], before[field], "{field} is the run's");
    }
    let report = project.path().join("hybrid-e2e-report");
    let summary = std::fs::read_to_string(report.join("summary.md")).expect("summary.md");
    assert!(
        summary.contains("| gateway | 40.0% (4 of 10), target 50% |"),
        "{summary}"
    );
    let junit = std::fs::read_to_string(report.join("junit.xml")).expect("junit.xml");
    assert!(
        junit.contains("<testsuite name=\"coverage\" tests=\"1\"") && junit.contains("<testcase name=\"gateway\""),
        "{junit}"
    );
    let appended = std::fs::read_to_string(&summary_file).expect("job summary");
    assert!(appended.starts_with("### E2E coverage"), "{appended}");
    assert!(!appended.contains("Setup"), "only what is new: {appended}");

    // Again, leaving the workloads stopped (the cluster is deleted next): one coverage phase.
    write_gateway_data("docker", &node.name, run_id);
    let output = project.run(&["coverage", "--leave-stopped"], &env);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let again = project.timings();
    let phases: Vec<&str> = again["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .filter_map(|phase| phase["name"].as_str())
        .collect();
    assert_eq!(
        phases.iter().filter(|name| **name == "coverage").count(),
        1,
        "{phases:?}"
    );
    // Its warnings replace the first capture's instead of piling up.
    let warnings: Vec<&Value> = again["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter(|warning| warning.as_str().is_some_and(|text| text.starts_with("coverage of")))
        .collect();
    assert_eq!(
        warnings,
        [&serde_json::json!(
            "coverage of `gateway`: 40.0% of statements is below `coverage.target` (50%)"
        )]
    );
    let gateway = project
        .api
        .object("apps/v1", "Deployment", Some("example-e2e"), "gateway")
        .expect("gateway");
    assert_eq!(gateway["spec"]["replicas"], 0, "--leave-stopped");
}

/// What `coverage` refuses or cannot do, each with the reason: no run to read (2), images the
/// run did not deploy (2), a run that made no cluster (2), no engine (5), a cluster that is gone
/// (2). And the tag suffix it reads from the run when not given.
#[test]
fn the_coverage_command_refuses_what_it_cannot_read_from() {
    let project = bundled_example(fake_apiserver::Script::default(), Engines::Fake);
    let expect = |args: &[&str], env: &[(&str, &str)], code: i32, says: &str| {
        let output = project.run(args, env);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: `{says}` not in {err}");
        err
    };
    expect(
        &["coverage"],
        &[],
        2,
        "follows a `hybrid-e2e run` that kept its cluster",
    );

    // A pull request's run: its manifests run the suffixed tags.
    for manifest in ["deploy/gateway.yaml", "deploy/datastorage.yaml"] {
        let path = project.path().join(manifest);
        let text = std::fs::read_to_string(&path).expect("manifest");
        std::fs::write(&path, text.replace(":e2e\n", ":e2e-pr7\n")).expect("manifest");
    }
    let output = project.run(&["run", "--preserve", "always", "--tag-suffix", "pr7"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    expect(
        &["coverage", "--tag-suffix", "pr9"],
        &[],
        2,
        "give `coverage` the run's --tag-suffix",
    );
    // No suffix given: the run's (its image references carry it); nothing to copy from fake
    // nodes is a warning, not a failure.
    let err = expect(&["coverage"], &[], 0, "note: tag suffix `pr7`");
    assert!(err.contains("coverage of `gateway`"), "{err}");
    expect(
        &["coverage", "--engine", "podman"],
        &[("HYBRID_E2E_PODMAN", "/nonexistent/podman")],
        5,
        "no container engine",
    );
    let timings = project.path().join("hybrid-e2e-report/timings.json");
    let kept = std::fs::read_to_string(&timings).expect("timings");
    let mut record: Value = serde_json::from_str(&kept).expect("JSON");
    for phase in record["phases"].as_array_mut().expect("phases") {
        if phase["name"] == "cluster" {
            phase["status"] = serde_json::json!("failed");
        }
    }
    std::fs::write(&timings, record.to_string()).expect("timings");
    expect(&["coverage"], &[], 2, "made no cluster");
    std::fs::write(&timings, kept).expect("timings");

    // Listed by kind, but its API server no longer answers (the node container stopped): the
    // machine's problem, exit 5, before anything is stopped or copied.
    let kubeconfig = project.path().join("hybrid-e2e-report/kubeconfig");
    let working = std::fs::read_to_string(&kubeconfig).expect("kubeconfig");
    let server = working
        .lines()
        .find_map(|line| line.trim().strip_prefix("server: "))
        .expect("a server")
        .to_owned();
    std::fs::write(&kubeconfig, working.replace(&server, "https://127.0.0.1:1")).expect("kubeconfig");
    let err = expect(&["coverage"], &[], 5, "cannot reach Kind cluster");
    assert!(!err.contains("coverage of `gateway`"), "nothing was tried: {err}");
    std::fs::write(&kubeconfig, working).expect("kubeconfig");

    // The run deleted its cluster (preserve: never).
    let output = project.run(&["run", "--preserve", "never", "--tag-suffix", "pr7"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    expect(&["coverage"], &[], 2, "no longer exists");
}
