//! `mode: pipelined` against `mode: strict`, in one run, through the CLI with the fake tools
//! (scripted durations) and the fake API server:
//!
//! 1. A Kubernaut-shaped workload with the reference user's SignalProcessing numbers scaled down
//!    10× (build 125.4 s, cluster 26.3 s, load 11.3 s, deploy 38.1 s; total 201.1 s): three images
//!    (signalprocessing 12.54 s, datastorage 8.2 s, migrate 3.0 s), a 2.63 s cluster, 1.13 s loads,
//!    PostgreSQL and Redis from public images with their own readiness time (1.2 s, 0.8 s), a
//!    migrations Job (0.9 s) after PostgreSQL, DataStorage (0.9 s) after it and Redis, the service
//!    (0.8 s) after DataStorage. Strict as users get it (1 s readiness polling) and with 50 ms
//!    polling; pipelined without history (the cluster starts when the first build ends) and with
//!    the history of the earlier pipelined runs (just in time). Goals: pipelined setup ÷ strict
//!    setup ≤ 0.80 (against both strict variants), pipelined setup ÷ its own critical-path bound
//!    ≤ 1.05.
//! 2. Detection latency of the event-driven readiness: a chain of deploy groups, each ready
//!    200 ms after its apply; for every edge, the dependent's first apply request minus the
//!    moment its dependency is ready in the API, as the fake API server clocks both. Goal:
//!    median ≤ 50 ms (strict's 1 s polling shown for comparison).
//!
//! Run: `cargo bench --bench pipelined` (about 4 minutes) or `cargo bench --bench pipelined --
//! --quick` (durations scaled down 40×, one repetition). Exits non-zero when a goal is missed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use fake_apiserver::{Behaviour, FakeApiServer, Script};
use serde_json::Value;

/// The reference numbers, in seconds, before scaling.
const BUILDS: [(&str, f64); 3] = [("signalprocessing", 125.4), ("datastorage", 82.0), ("migrate", 30.0)];
const CLUSTER: f64 = 26.3;
const LOAD: f64 = 11.3;
/// Readiness after apply, per group (the deploy phase's 38.1 s along its longest chain:
/// postgres 12 → migrations 9 → datastorage 9 → signalprocessing 8).
const READY: [(&str, f64); 5] = [
    ("postgres", 12.0),
    ("redis", 8.0),
    ("migrations", 9.0),
    ("datastorage", 9.0),
    ("signalprocessing", 8.0),
];

const CONFIG: &str = "version: 1
engine: docker
concurrency: 4
images:
  - {name: signalprocessing, image: localhost/sp/signalprocessing:e2e, dockerfile: docker/signalprocessing.Dockerfile}
  - {name: datastorage, image: localhost/sp/datastorage:e2e, dockerfile: docker/datastorage.Dockerfile}
  - {name: migrate, image: localhost/sp/migrate:e2e, dockerfile: docker/migrate.Dockerfile}
cluster: {preserve: never}
namespaces: [sp-e2e]
deploy:
  - {name: postgres, manifests: [deploy/postgres.yaml]}
  - {name: redis, manifests: [deploy/redis.yaml]}
  - {name: migrations, manifests: [deploy/migrations.yaml], depends_on: [postgres]}
  - {name: datastorage, manifests: [deploy/datastorage.yaml], depends_on: [migrations, redis]}
  - {name: signalprocessing, manifests: [deploy/signalprocessing.yaml], depends_on: [datastorage]}
pipelined: {history: history, margin: 300ms}
";

fn deployment(name: &str, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: {name}, namespace: sp-e2e}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: {name}}}}}\n  template:\n    metadata: {{labels: {{app: {name}}}}}\n    spec:\n      containers:\n        - {{name: {name}, image: \"{image}\", imagePullPolicy: IfNotPresent}}\n"
    )
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

fn write_project(directory: &Path, scale: f64) {
    write(&directory.join("hybrid-e2e.yaml"), CONFIG);
    for (name, seconds) in BUILDS {
        write(
            &directory.join(format!("docker/{name}.Dockerfile")),
            &format!(
                "# fake-build-ms: {}\nFROM scratch\nCOPY . /\n",
                (seconds / scale * 1000.0).round()
            ),
        );
    }
    write(
        &directory.join("deploy/postgres.yaml"),
        &deployment("postgres", "postgres:16"),
    );
    write(&directory.join("deploy/redis.yaml"), &deployment("redis", "redis:7"));
    write(
        &directory.join("deploy/migrations.yaml"),
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrations, namespace: sp-e2e}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - {name: migrate, image: localhost/sp/migrate:e2e, imagePullPolicy: IfNotPresent}\n",
    );
    write(
        &directory.join("deploy/datastorage.yaml"),
        &deployment("datastorage", "localhost/sp/datastorage:e2e"),
    );
    write(
        &directory.join("deploy/signalprocessing.yaml"),
        &deployment("signalprocessing", "localhost/sp/signalprocessing:e2e"),
    );
}

/// One `hybrid-e2e run` of the project; its timings.json, its wall time and the API server.
fn run(directory: &Path, scale: f64, args: &[&str], script: Script, tag: &str) -> (Value, Duration, FakeApiServer) {
    let state = directory.join(format!("state-{tag}"));
    let _ = std::fs::remove_dir_all(&state);
    std::fs::create_dir_all(&state).expect("state");
    let api = FakeApiServer::start(Script {
        kind_state: Some(state.clone()),
        ..script
    });
    let millis = |seconds: f64| format!("{}", (seconds / scale * 1000.0).round());
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_hybrid-e2e"))
        .arg("run")
        .args(args)
        .current_dir(directory)
        .env("HYBRID_E2E_KIND", fake_tools::binary("kind"))
        .env("HYBRID_E2E_DOCKER", fake_tools::binary("docker"))
        .env("HYBRID_E2E_ENGINE", "docker")
        .env("FAKE_KIND_STATE", &state)
        .env("FAKE_DOCKER_STATE", &state)
        .env("FAKE_KIND_API_SERVER", api.url())
        .env("FAKE_KIND_CREATE_DELAY_MS", millis(CLUSTER))
        .env("FAKE_KIND_LOAD_DELAY_MS", millis(LOAD))
        .env("HYBRID_E2E_MIN_FREE_DISK_GIB", "0")
        .env("NO_COLOR", "1")
        .env_remove("HYBRID_E2E_POLL_INTERVAL")
        .env_remove("HYBRID_E2E_MODE")
        .output()
        .expect("hybrid-e2e runs");
    let wall = started.elapsed();
    assert!(
        output.status.success(),
        "run {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let timings: Value = serde_json::from_str(
        &std::fs::read_to_string(directory.join("hybrid-e2e-report/timings.json")).expect("timings"),
    )
    .expect("JSON");
    (timings, wall, api)
}

fn workload_script(scale: f64) -> Script {
    let mut script = Script::default().pullable(&["postgres:16", "redis:7"]);
    for (name, seconds) in READY {
        script.behaviours.insert(
            name.to_owned(),
            Behaviour::ReadyAfter(Duration::from_secs_f64(seconds / scale)),
        );
    }
    script
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    }
}

/// One variant's figures over the repetitions (medians).
struct Figures {
    setup: Vec<f64>,
    wall: Vec<f64>,
    bound: Vec<f64>,
    strict_estimate: Vec<f64>,
}

impl Figures {
    fn new() -> Figures {
        Figures {
            setup: Vec::new(),
            wall: Vec::new(),
            bound: Vec::new(),
            strict_estimate: Vec::new(),
        }
    }

    fn add(&mut self, timings: &Value, wall: Duration) {
        self.setup.push(timings["setup_seconds"].as_f64().expect("setup"));
        self.wall.push(wall.as_secs_f64());
        if let Some(bound) = timings["schedule"]["critical_path_seconds"].as_f64() {
            self.bound.push(bound);
        }
        if let Some(strict) = timings["schedule"]["strict_seconds"].as_f64() {
            self.strict_estimate.push(strict);
        }
    }
}

fn workload_benchmark(scale: f64, repetitions: usize) -> Vec<String> {
    let directory = tempfile::tempdir().expect("tempdir");
    let project = directory.path();
    write_project(project, scale);
    let mut strict = Figures::new();
    let mut strict_fast = Figures::new();
    let mut first_build = Figures::new();
    let mut just_in_time = Figures::new();
    let mut bound_ratios: Vec<f64> = Vec::new();
    let mut predictions: Vec<String> = Vec::new();
    for repetition in 0..repetitions {
        let (timings, wall, _) = run(project, scale, &["--mode", "strict"], workload_script(scale), "strict");
        strict.add(&timings, wall);
        let (timings, wall, _) = run(
            project,
            scale,
            &["--mode", "strict", "--poll-interval", "50ms"],
            workload_script(scale),
            "strict-fast",
        );
        strict_fast.add(&timings, wall);
        // Without history: the first pipelined run (history/ is empty before the first one).
        let empty = project.join("no-history");
        std::fs::create_dir_all(&empty).expect("mkdir");
        let (timings, wall, _) = run(
            project,
            scale,
            &["--mode", "pipelined", "--history", "no-history"],
            workload_script(scale),
            "first-build",
        );
        assert_eq!(timings["schedule"]["cluster_start"]["policy"], "first-build");
        first_build.add(&timings, wall);
        bound_ratios.push(
            timings["setup_seconds"].as_f64().expect("setup")
                / timings["schedule"]["critical_path_seconds"].as_f64().expect("bound"),
        );
        keep(project, &format!("first-{repetition}"));
        let (timings, wall, _) = run(
            project,
            scale,
            &["--mode", "pipelined"],
            workload_script(scale),
            "history",
        );
        let start = &timings["schedule"]["cluster_start"];
        assert_eq!(start["policy"], "history", "{start}");
        predictions.push(format!(
            "planned {:.2}s, started {:.2}s, ready {:.2}s, builds ended {:.2}s (error {:+.2}s), idle {:.2}s",
            start["planned_start_seconds"].as_f64().unwrap_or(f64::NAN),
            start["started_seconds"].as_f64().unwrap_or(f64::NAN),
            start["ready_seconds"].as_f64().unwrap_or(f64::NAN),
            start["build_seconds"].as_f64().unwrap_or(f64::NAN),
            start["build_error_seconds"].as_f64().unwrap_or(f64::NAN),
            start["idle_seconds"].as_f64().unwrap_or(f64::NAN),
        ));
        just_in_time.add(&timings, wall);
        bound_ratios.push(
            timings["setup_seconds"].as_f64().expect("setup")
                / timings["schedule"]["critical_path_seconds"].as_f64().expect("bound"),
        );
        keep(project, &format!("jit-{repetition}"));
    }
    let strict_setup = median(&mut strict.setup);
    let strict_fast_setup = median(&mut strict_fast.setup);
    let first_setup = median(&mut first_build.setup);
    let jit_setup = median(&mut just_in_time.setup);
    let estimate = median(&mut just_in_time.strict_estimate);
    let bound = median(&mut just_in_time.bound);
    let worst_bound_ratio = bound_ratios.iter().copied().fold(0.0, f64::max);
    println!(
        "workload: Kubernaut SignalProcessing scaled down {scale}× (build {:.2}s, cluster {:.2}s, load {:.2}s, readiness chain {:.2}s); median of {repetitions}",
        BUILDS[0].1 / scale,
        CLUSTER / scale,
        LOAD / scale,
        (12.0 + 9.0 + 9.0 + 8.0) / scale
    );
    println!(
        "  strict (1 s polling, the default)   setup {strict_setup:6.2}s   process {:6.2}s",
        median(&mut strict.wall)
    );
    println!(
        "  strict (50 ms polling)              setup {strict_fast_setup:6.2}s   process {:6.2}s",
        median(&mut strict_fast.wall)
    );
    println!(
        "  pipelined, no history (first build) setup {first_setup:6.2}s   process {:6.2}s   ÷ strict {:.3} (÷ 50 ms strict {:.3})",
        median(&mut first_build.wall),
        first_setup / strict_setup,
        first_setup / strict_fast_setup
    );
    println!(
        "  pipelined, just in time (history)   setup {jit_setup:6.2}s   process {:6.2}s   ÷ strict {:.3} (÷ 50 ms strict {:.3})",
        median(&mut just_in_time.wall),
        jit_setup / strict_setup,
        jit_setup / strict_fast_setup
    );
    println!(
        "  pipelined ÷ its critical-path bound ({bound:.2}s): median {:.3}, worst {worst_bound_ratio:.3}; its report's strict estimate from the same step durations: {estimate:.2}s",
        jit_setup / bound
    );
    for prediction in &predictions {
        println!("  just-in-time cluster: {prediction}");
    }
    let mut missed = Vec::new();
    for (name, ratio) in [
        ("pipelined (no history) ÷ strict", first_setup / strict_setup),
        ("pipelined (history) ÷ strict", jit_setup / strict_setup),
        (
            "pipelined (no history) ÷ strict with 50 ms polling",
            first_setup / strict_fast_setup,
        ),
        (
            "pipelined (history) ÷ strict with 50 ms polling",
            jit_setup / strict_fast_setup,
        ),
    ] {
        if ratio > 0.80 {
            missed.push(format!("{name} = {ratio:.3} > 0.80"));
        }
    }
    if worst_bound_ratio > 1.05 {
        missed.push(format!(
            "pipelined ÷ critical-path bound = {worst_bound_ratio:.3} > 1.05"
        ));
    }
    missed
}

/// Keep the last run's timings.json in `history/<name>/` (the pipelined runs' history).
fn keep(project: &Path, name: &str) {
    let directory = project.join("history").join(name);
    std::fs::create_dir_all(&directory).expect("mkdir");
    std::fs::copy(
        project.join("hybrid-e2e-report/timings.json"),
        directory.join("timings.json"),
    )
    .expect("copy");
}

const CHAIN: usize = 11;
const CHAIN_READY: Duration = Duration::from_millis(200);

/// A project of `CHAIN` deploy groups, each depending on the one before.
fn write_chain(directory: &Path) -> PathBuf {
    let mut config = String::from(
        "version: 1\nengine: docker\nimages:\n  - {name: base, image: localhost/chain/base:1, dockerfile: base.Dockerfile}\nnamespaces: [chain]\ndeploy:\n",
    );
    for index in 0..CHAIN {
        let name = format!("g{index}");
        let depends = if index == 0 {
            String::new()
        } else {
            format!(", depends_on: [g{}]", index - 1)
        };
        config.push_str(&format!("  - {{name: {name}, manifests: [{name}.yaml]{depends}}}\n"));
        write(
            &directory.join(format!("{name}.yaml")),
            &deployment(&name, "registry.k8s.io/pause:3.10").replace("sp-e2e", "chain"),
        );
    }
    write(
        &directory.join("base.Dockerfile"),
        "# fake-build-ms: 10\nFROM scratch\n",
    );
    write(&directory.join("hybrid-e2e.yaml"), &config);
    directory.to_owned()
}

/// Every edge's detection latency (ms) of one run in `mode`.
fn chain_latencies(directory: &Path, mode: &str) -> Vec<f64> {
    let script = Script {
        default_behaviour: Behaviour::ReadyAfter(CHAIN_READY),
        ..Script::default()
    };
    let (_, _, api) = run(directory, 1.0, &["--mode", mode], script, mode);
    let requests = api.requests();
    (1..CHAIN)
        .map(|index| {
            let ready = api
                .applied_at("apps/v1", "Deployment", Some("chain"), &format!("g{}", index - 1))
                .expect("applied")
                + CHAIN_READY;
            let applied = requests
                .iter()
                .find(|request| request.method == "PATCH" && request.path.ends_with(&format!("/deployments/g{index}")))
                .expect("dependent applied")
                .at;
            applied.saturating_duration_since(ready).as_secs_f64() * 1000.0
        })
        .collect()
}

fn latency_benchmark(repetitions: usize) -> Vec<String> {
    let directory = tempfile::tempdir().expect("tempdir");
    let project = write_chain(directory.path());
    let mut watched = Vec::new();
    let mut polled = Vec::new();
    for _ in 0..repetitions {
        watched.extend(chain_latencies(&project, "pipelined"));
        polled.extend(chain_latencies(&project, "strict"));
    }
    let count = watched.len();
    let watched_median = median(&mut watched);
    let watched_max = watched.iter().copied().fold(0.0, f64::max);
    let polled_median = median(&mut polled);
    println!(
        "detection latency (dependency ready in the API → dependent's first apply), {count} edges: event-driven median {watched_median:.1} ms (max {watched_max:.1} ms); strict's 1 s polling median {polled_median:.0} ms"
    );
    if watched_median > 50.0 {
        vec![format!("detection latency median {watched_median:.1} ms > 50 ms")]
    } else {
        Vec::new()
    }
}

fn main() {
    let quick = std::env::args().any(|argument| argument == "--quick");
    let (scale, repetitions) = if quick { (40.0, 1) } else { (10.0, 3) };
    let mut missed = workload_benchmark(scale, repetitions);
    missed.extend(latency_benchmark(if quick { 1 } else { 3 }));
    if missed.is_empty() {
        println!("all goals met");
    } else {
        for goal in &missed {
            eprintln!("goal missed: {goal}");
        }
        std::process::exit(1);
    }
}
