//! `mode: pipelined` end to end through the fakes: a Kubernaut-shaped project (three images,
//! two public dependencies, a migrations Job, the service) scheduled as a dependency graph —
//! overlap, fail-fast that cancels only dependents, the Kind retry during builds, SIGTERM, the
//! just-in-time cluster start with and without history, the idle bound, and `plan`.

use std::time::{Duration, Instant};

use fake_apiserver::{Behaviour, Script};
use serde_json::Value;

use crate::run_cli::{CANCELLED, SETUP_FAILED};
use crate::support::{BASE_IMAGE, Project, stderr, stdout};

const CONFIG: &str = "version: 1
engine: docker
mode: pipelined
concurrency: 4
images:
  - {name: signalprocessing, image: localhost/sp/signalprocessing:e2e, dockerfile: docker/signalprocessing.Dockerfile}
  - {name: datastorage, image: localhost/sp/datastorage:e2e, dockerfile: docker/datastorage.Dockerfile}
  - {name: migrate, image: localhost/sp/migrate:e2e, dockerfile: docker/migrate.Dockerfile}
namespaces: [sp-e2e]
deploy:
  - {name: postgres, manifests: [deploy/postgres.yaml]}
  - {name: redis, manifests: [deploy/redis.yaml]}
  - {name: migrations, manifests: [deploy/migrations.yaml], depends_on: [postgres]}
  - {name: datastorage, manifests: [deploy/datastorage.yaml], depends_on: [migrations, redis]}
  - {name: signalprocessing, manifests: [deploy/signalprocessing.yaml], depends_on: [datastorage]}
";

fn deployment(name: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: sp-e2e}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      containers:\n        - {{name: {name}, image: \"{image}\", imagePullPolicy: IfNotPresent}}\n"
    )
}

/// The project: build times in ms (signalprocessing, datastorage, migrate), extra config, the
/// cluster's readiness script; `extra_run` goes into signalprocessing's Dockerfile.
fn kubernaut(builds: [u64; 3], extra: &str, extra_run: &str, mut script: Script) -> Project {
    let dockerfile = |millis: u64, run: &str| format!("# fake-build-ms: {millis}\nFROM {BASE_IMAGE}\nRUN {run}\n");
    let files = [
        ("docker/signalprocessing.Dockerfile", dockerfile(builds[0], extra_run)),
        ("docker/datastorage.Dockerfile", dockerfile(builds[1], "true")),
        ("docker/migrate.Dockerfile", dockerfile(builds[2], "true")),
        ("deploy/postgres.yaml", deployment("postgres", "postgres:16")),
        ("deploy/redis.yaml", deployment("redis", "redis:7")),
        (
            "deploy/migrations.yaml",
            "apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrations, namespace: sp-e2e}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - {name: migrate, image: localhost/sp/migrate:e2e, imagePullPolicy: IfNotPresent}\n"
                .to_owned(),
        ),
        ("deploy/datastorage.yaml", deployment("datastorage", "localhost/sp/datastorage:e2e")),
        (
            "deploy/signalprocessing.yaml",
            deployment("signalprocessing", "localhost/sp/signalprocessing:e2e"),
        ),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(path, body)| (*path, body.as_str())).collect();
    script = script.pullable(&["postgres:16", "redis:7"]);
    for (name, millis) in [
        ("postgres", 300),
        ("redis", 200),
        ("migrations", 200),
        ("datastorage", 200),
        ("signalprocessing", 200),
    ] {
        script
            .behaviours
            .entry(name.to_owned())
            .or_insert(Behaviour::ReadyAfter(Duration::from_millis(millis)));
    }
    Project::with_script(&format!("{CONFIG}{extra}"), &files, script)
}

const FAKE_KIND: [(&str, &str); 2] = [("FAKE_KIND_CREATE_DELAY_MS", "500"), ("FAKE_KIND_LOAD_DELAY_MS", "100")];

fn step<'a>(timings: &'a Value, id: &str) -> &'a Value {
    let (phase, name) = id.split_once('/').expect("phase/step");
    timings["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .filter(|record| record["name"] == phase)
        .flat_map(|record| record["steps"].as_array().expect("steps"))
        .find(|record| record["name"] == name)
        .unwrap_or_else(|| panic!("{id} in {timings}"))
}

fn millis(text: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text.as_str().expect("a timestamp"))
        .expect("RFC 3339")
        .timestamp_millis()
}

fn start(timings: &Value, id: &str) -> i64 {
    millis(&step(timings, id)["started_at"])
}

fn end(timings: &Value, id: &str) -> i64 {
    millis(&step(timings, id)["finished_at"])
}

fn status<'a>(timings: &'a Value, id: &str) -> &'a str {
    step(timings, id)["status"].as_str().expect("status")
}

fn seconds(value: &Value) -> f64 {
    value.as_f64().unwrap_or_else(|| panic!("a number: {value}"))
}

#[test]
fn pipelined_overlaps_the_phases_and_reports_what_strict_would_have_taken() {
    let project = kubernaut([2000, 1200, 300], "", "true", Script::default());
    let output = project.run(&["run"], &FAKE_KIND);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let timings = project.timings();
    assert_eq!(timings["mode"], "pipelined");
    // No history: the cluster starts when the first build (migrate) is done, while the others
    // still build.
    let cluster = start(&timings, "cluster/create");
    assert!(cluster >= end(&timings, "build/migrate") - 5, "{timings}");
    assert!(cluster < end(&timings, "build/signalprocessing"));
    assert_eq!(timings["schedule"]["cluster_start"]["policy"], "first-build");
    // Public images need only the cluster: postgres is ready before the service is built.
    assert!(end(&timings, "deploy/postgres") < end(&timings, "build/signalprocessing"));
    // Each load after its build and the cluster; each group after its loads and dependencies.
    for image in ["signalprocessing", "datastorage", "migrate"] {
        let load = start(&timings, &format!("load/{image}"));
        assert!(load >= end(&timings, &format!("build/{image}")) - 5);
        assert!(load >= end(&timings, "cluster/create") - 5);
    }
    assert!(start(&timings, "deploy/migrations") >= end(&timings, "load/migrate") - 5);
    assert!(start(&timings, "deploy/migrations") >= end(&timings, "deploy/postgres") - 5);
    assert!(start(&timings, "deploy/signalprocessing") >= end(&timings, "load/signalprocessing") - 5);
    assert!(start(&timings, "deploy/signalprocessing") >= end(&timings, "deploy/datastorage") - 5);
    // A phase spans its first step's start to its last step's end; the phases overlap.
    for record in timings["phases"].as_array().expect("phases") {
        let steps: Vec<&Value> = record["steps"].as_array().expect("steps").iter().collect();
        if record["name"] == "preflight" || steps.is_empty() {
            continue;
        }
        let first = steps
            .iter()
            .map(|step| millis(&step["started_at"]))
            .min()
            .expect("a start");
        let last = steps
            .iter()
            .map(|step| millis(&step["finished_at"]))
            .max()
            .expect("an end");
        assert!((millis(&record["started_at"]) - first).abs() <= 2, "{record}");
        assert!((millis(&record["finished_at"]) - last).abs() <= 5, "{record}");
    }
    let phase_start = |name: &str| {
        timings["phases"]
            .as_array()
            .and_then(|phases| phases.iter().find(|record| record["name"] == name))
            .map(|record| millis(&record["started_at"]))
            .expect("phase")
    };
    let phase_end = |name: &str| {
        timings["phases"]
            .as_array()
            .and_then(|phases| phases.iter().find(|record| record["name"] == name))
            .map(|record| millis(&record["finished_at"]))
            .expect("phase")
    };
    assert!(phase_start("deploy") < phase_end("build"), "deploy overlaps build");
    // The report: strict from the same step durations, the critical path, the wall time.
    let schedule = &timings["schedule"];
    let setup = seconds(&timings["setup_seconds"]);
    let strict = seconds(&schedule["strict_seconds"]);
    let bound = seconds(&schedule["critical_path_seconds"]);
    assert!(strict > setup, "strict {strict} vs pipelined {setup}");
    assert!(
        setup >= bound - 0.05 && setup < bound * 1.5 + 0.5,
        "setup {setup}, bound {bound}"
    );
    assert_eq!(
        schedule["critical_path"],
        serde_json::json!([
            "build/signalprocessing",
            "load/signalprocessing",
            "deploy/signalprocessing"
        ])
    );
    assert_eq!(schedule["build_slots_while_booting"], 3);
    let summary = std::fs::read_to_string(project.path().join("hybrid-e2e-report/summary.md")).expect("summary");
    assert!(summary.contains("strict (DD-TEST-002) would have taken"), "{summary}");
    assert!(
        summary.contains("**Critical path:** `build/signalprocessing`"),
        "{summary}"
    );
    assert!(
        summary.contains("section cluster") && summary.contains("section deploy"),
        "{summary}"
    );
    // Readiness was watched, not polled.
    assert!(project.api.watch_requests() > 0);
}

#[test]
fn builds_get_one_slot_fewer_while_the_cluster_boots() {
    // Two slots: signalprocessing and datastorage build; datastorage (300 ms) ends, the
    // cluster starts and boots for a second; migrate may not take the free slot meanwhile.
    let config = CONFIG.replace("concurrency: 4", "concurrency: 2");
    let project = {
        let project = kubernaut([2500, 300, 300], "", "true", Script::default());
        std::fs::write(project.path().join("hybrid-e2e.yaml"), config).expect("config");
        project
    };
    let output = project.run(&["run"], &[("FAKE_KIND_CREATE_DELAY_MS", "1000")]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let timings = project.timings();
    assert_eq!(timings["schedule"]["build_slots_while_booting"], 1);
    assert!(
        start(&timings, "build/migrate") >= end(&timings, "cluster/create") - 5,
        "migrate waited for the cluster to boot: {timings}"
    );
}

#[test]
fn a_failing_build_cancels_only_what_depends_on_it_and_the_cluster_is_torn_down() {
    let project = kubernaut(
        [1500, 300, 300],
        "cluster: {preserve: never}\n",
        "true",
        Script::default(),
    );
    std::fs::write(
        project.path().join("docker/datastorage.Dockerfile"),
        format!("# fake-build-ms: 300\nFROM {BASE_IMAGE}\nRUN echo broken && exit 3\n"),
    )
    .expect("dockerfile");
    let output = project.run(&["run"], &FAKE_KIND);
    assert_eq!(output.status.code(), Some(SETUP_FAILED), "{}", stderr(&output));
    let timings = project.timings();
    assert_eq!(timings["failed_phase"], "build");
    assert_eq!(timings["failure_class"], "application");
    assert_eq!(status(&timings, "build/datastorage"), "failed");
    for dependent in ["load/datastorage", "deploy/datastorage", "deploy/signalprocessing"] {
        assert_eq!(status(&timings, dependent), "cancelled", "{dependent}");
        assert!(
            step(&timings, dependent)["started_at"].is_null(),
            "{dependent} never ran"
        );
    }
    for independent in [
        "build/signalprocessing",
        "build/migrate",
        "cluster/create",
        "load/signalprocessing",
        "load/migrate",
        "deploy/postgres",
        "deploy/redis",
        "deploy/migrations",
    ] {
        assert_eq!(
            status(&timings, independent),
            "ok",
            "{independent} did not need datastorage"
        );
    }
    let cluster = timings["cluster_name"].as_str().expect("cluster");
    assert!(
        project
            .kind_calls()
            .iter()
            .any(|(args, _)| *args == format!("delete cluster --name {cluster}")),
        "preserve: never deletes the cluster"
    );
    let teardown = timings["phases"]
        .as_array()
        .and_then(|phases| phases.iter().find(|record| record["name"] == "teardown"))
        .expect("teardown");
    assert_eq!(teardown["status"], "ok");
    assert!(timings["schedule"]["strict_seconds"].is_null(), "not every step ran");
}

#[test]
fn a_cluster_that_fails_to_boot_during_builds_is_retried_once_and_the_builds_go_on() {
    let project = kubernaut([2500, 1200, 300], "", "true", Script::default());
    let output = project.run(
        &["run"],
        &[
            ("FAKE_KIND_CREATE_FAILURE", "log-line"),
            ("FAKE_KIND_CREATE_FAIL_TIMES", "1"),
            ("FAKE_KIND_CREATE_DELAY_MS", "300"),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let timings = project.timings();
    let create = step(&timings, "cluster/create");
    assert_eq!(create["attempts"], 2, "{create}");
    assert!(
        start(&timings, "cluster/create") < end(&timings, "build/signalprocessing"),
        "the cluster booted (twice) while signalprocessing was building"
    );
    for build in ["build/signalprocessing", "build/datastorage", "build/migrate"] {
        assert_eq!(status(&timings, build), "ok");
        assert_eq!(step(&timings, build)["attempts"], 1);
    }
    assert!(
        timings["warnings"].to_string().contains("retried once"),
        "{}",
        timings["warnings"]
    );
}

#[test]
fn sigterm_in_the_middle_of_overlapping_steps_leaves_a_complete_timings_json() {
    let mut script = Script::default();
    script
        .behaviours
        .insert("postgres".to_owned(), Behaviour::ReadyAfter(Duration::from_secs(30)));
    let project = kubernaut([300, 300, 300], "cluster: {preserve: never}\n", "sleep 30", script);
    let mut child = project
        .command(&["run"], &FAKE_KIND)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // Wait until postgres is being deployed while signalprocessing still builds.
    let log = project.path().join("hybrid-e2e-report/logs/deploy/postgres.log");
    let started = Instant::now();
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("Deployment/postgres")
        && started.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let stopped = Instant::now();
    let code = child.wait().expect("wait").code();
    assert!(stopped.elapsed() < Duration::from_secs(20), "{:?}", stopped.elapsed());
    assert_eq!(code, Some(CANCELLED));
    let timings = project.timings();
    assert_eq!(timings["status"], "cancelled");
    assert_eq!(timings["mode"], "pipelined");
    let names: Vec<&str> = timings["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .filter_map(|record| record["name"].as_str())
        .collect();
    assert_eq!(
        names,
        vec!["preflight", "build", "cluster", "load", "deploy", "teardown"]
    );
    for record in timings["phases"].as_array().expect("phases") {
        for step in record["steps"].as_array().expect("steps") {
            for key in [
                "name",
                "started_at",
                "finished_at",
                "duration_seconds",
                "status",
                "attempts",
            ] {
                assert!(step.get(key).is_some(), "`{key}` missing: {step}");
            }
        }
    }
    assert_eq!(
        status(&timings, "build/signalprocessing"),
        "cancelled",
        "stopped mid-build"
    );
    assert_eq!(status(&timings, "deploy/postgres"), "cancelled", "stopped mid-wait");
    assert_eq!(status(&timings, "cluster/create"), "ok");
    assert_eq!(status(&timings, "deploy/signalprocessing"), "cancelled");
    assert!(step(&timings, "deploy/signalprocessing")["started_at"].is_null());
    assert!(timings["schedule"]["cluster_start"]["started_seconds"].is_number());
    let cluster = timings["cluster_name"].as_str().expect("cluster");
    assert!(
        project
            .kind_calls()
            .iter()
            .any(|(args, _)| *args == format!("delete cluster --name {cluster}")),
        "preserve: never still tears down a cancelled run"
    );
}

/// Copy the last run's timings.json into `history/<n>/` and clear the report.
fn keep_history(project: &Project, run: usize) {
    let directory = project.path().join(format!("history/{run}"));
    std::fs::create_dir_all(&directory).expect("mkdir");
    std::fs::copy(
        project.path().join("hybrid-e2e-report/timings.json"),
        directory.join("timings.json"),
    )
    .expect("copy");
}

#[test]
fn the_cluster_starts_just_in_time_from_history_and_without_it_after_the_first_build() {
    let project = kubernaut(
        [2500, 1200, 300],
        "pipelined: {margin: 200ms, max_idle: 30s}\n",
        "true",
        Script::default(),
    );
    let output = project.run(&["run"], &FAKE_KIND);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let first = project.timings();
    let start_record = &first["schedule"]["cluster_start"];
    assert_eq!(start_record["policy"], "first-build");
    assert!(start_record["planned_start_seconds"].is_null());
    let started = seconds(&start_record["started_seconds"]);
    assert!(
        (0.25..1.5).contains(&started),
        "after migrate's 300 ms build: {started}"
    );
    keep_history(&project, 1);

    let output = project.run(&["run", "--history", "history"], &FAKE_KIND);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let second = project.timings();
    let start_record = &second["schedule"]["cluster_start"];
    assert_eq!(start_record["policy"], "history", "{start_record}");
    assert_eq!(start_record["history_runs"], 1);
    let predicted_build = seconds(&start_record["predicted_build_seconds"]);
    let predicted_cluster = seconds(&start_record["predicted_cluster_seconds"]);
    assert!(
        (predicted_build - seconds(&step(&first, "build/signalprocessing")["duration_seconds"])).abs() < 0.01,
        "the slowest build decides: {start_record}"
    );
    assert!((predicted_cluster - seconds(&step(&first, "cluster/create")["duration_seconds"])).abs() < 0.01);
    let planned = seconds(&start_record["planned_start_seconds"]);
    let latest = seconds(&start_record["predicted_latest_start_seconds"]);
    assert!(
        latest <= predicted_build - predicted_cluster + 0.01,
        "the loads need the cluster by the builds' end at the latest: {start_record}"
    );
    assert!(
        (planned - ((predicted_build - predicted_cluster).min(latest) - 0.2).max(0.0)).abs() < 0.01,
        "ready a margin before it is needed: {start_record}"
    );
    let started = seconds(&start_record["started_seconds"]);
    assert!(started >= planned - 0.01 && started < planned + 0.5, "{start_record}");
    for key in [
        "build_error_seconds",
        "cluster_error_seconds",
        "ready_seconds",
        "idle_seconds",
    ] {
        assert!(start_record[key].is_number(), "{key}: {start_record}");
    }
    assert!(
        seconds(&start_record["build_error_seconds"]).abs() < 1.0,
        "the same builds again: {start_record}"
    );
}

#[test]
fn the_idle_bound_starts_the_cluster_later_than_a_large_margin_would() {
    // Builds of 3.0, 2.5 and 2.0 s; a 10 s margin would start the cluster at once and leave it
    // waiting ~1.5 s for the first image; max_idle 0.5s starts it later.
    let project = kubernaut(
        [3000, 2500, 2000],
        "pipelined: {margin: 10s, max_idle: 500ms}\n",
        "true",
        Script::default(),
    );
    let output = project.run(&["run"], &FAKE_KIND);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    keep_history(&project, 1);
    let output = project.run(&["run", "--history", "history"], &FAKE_KIND);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let timings = project.timings();
    let record = &timings["schedule"]["cluster_start"];
    assert_eq!(record["policy"], "history");
    let first_build = seconds(&record["predicted_first_build_seconds"]);
    let cluster = seconds(&record["predicted_cluster_seconds"]);
    let planned = seconds(&record["planned_start_seconds"]);
    assert!(
        (planned - (first_build - cluster - 0.5)).abs() < 0.01 && planned > 0.5,
        "the bound, not the margin, decides: {record}"
    );
    let idle = seconds(&record["idle_seconds"]);
    assert!(idle <= 0.5 + 0.3, "{record}");
}

#[test]
fn plan_shows_the_graph_and_both_modes_predicted_timelines() {
    let project = kubernaut([300, 300, 300], "", "true", Script::default());
    let output = project.run(&["plan"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    for expected in [
        "mode pipelined (a dependency graph",
        "schedule (mode pipelined runs this graph)",
        "load/migrate",
        "needs build/migrate, cluster/create",
        "deploy/postgres",
        "(public or pre-existing images only)",
        "deploy/signalprocessing",
        "needs deploy/namespaces-crds, load/signalprocessing, deploy/datastorage",
        "just in time: when the first build finishes (no history)",
        "builds get 3 slot(s) while it boots",
        "predicted timeline, no history",
        "of strict)",
    ] {
        assert!(text.contains(expected), "`{expected}` in:\n{text}");
    }
    let strict = project.run(&["plan", "--mode", "strict", "--format", "json"], &[]);
    assert_eq!(strict.status.code(), Some(0), "{}", stderr(&strict));
    let plan: Value = serde_json::from_str(&stdout(&strict)).expect("JSON");
    assert_eq!(plan["mode"], "strict");
    let schedule = &plan["schedule"];
    assert!(seconds(&schedule["pipelined_seconds"]) < seconds(&schedule["strict_seconds"]));
    assert_eq!(schedule["steps"].as_array().map(Vec::len), Some(13));
}
