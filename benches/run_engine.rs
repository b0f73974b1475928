//! `hybrid-e2e run` benchmarks, in one run:
//!
//! 1. Scheduler overhead: fake builds of known durations (1–4 s), a 3 s cluster and 1 s loads,
//!    concurrency 6; the setup time divided by the critical-path bound (goal ≤ 1.03).
//! 2. Real parallel builds: 4 images whose Dockerfiles `sleep 3`, all at once vs one at a time,
//!    with the real engine (Docker, and Podman when present); the ratio (expect ≈ 0.3).
//! 3. Memory: peak RSS of `run` orchestrating 50 images (goal < 50 MiB).
//!
//! Run: `cargo bench --bench run_engine`
//! (the fake `kind` and `docker` come from `tests/fake-tools`, built on first use; real builds need the engines
//! `.ci/test.sh` sets up, and are skipped with a note otherwise).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

fn fake_tool(name: &str) -> PathBuf {
    fake_tools::binary(name)
}

struct Run {
    setup_seconds: f64,
    wall: Duration,
    build_seconds: f64,
    max_rss_kib: i64,
}

/// One `hybrid-e2e run` in `project`, with the fake kind and, unless `real_engine`, the fake docker.
fn run(project: &Path, real_engine: Option<&str>, env: &[(&str, String)]) -> Run {
    let state = project.join(format!("state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&state);
    std::fs::create_dir_all(&state).expect("state");
    // The cluster's API server, for the readiness gate at the end of the cluster phase.
    let api = fake_apiserver::FakeApiServer::start(fake_apiserver::Script::default());
    let mut command = Command::new(env!("CARGO_BIN_EXE_hybrid-e2e"));
    command
        .arg("run")
        .env("FAKE_KIND_API_SERVER", api.url())
        .current_dir(project)
        .env("HYBRID_E2E_KIND", fake_tool("kind"))
        .env("FAKE_KIND_STATE", &state)
        .env("FAKE_DOCKER_STATE", &state)
        .env("HYBRID_E2E_MIN_FREE_DISK_GIB", "0")
        .env("HYBRID_E2E_PRESERVE", "never")
        .env("BUILDAH_ISOLATION", "chroot")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    match real_engine {
        Some(engine) => {
            command.env("HYBRID_E2E_ENGINE", engine);
        }
        None => {
            command
                .env("HYBRID_E2E_ENGINE", "docker")
                .env("HYBRID_E2E_DOCKER", fake_tool("docker"));
        }
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let started = Instant::now();
    let mut child = command.spawn().expect("hybrid-e2e runs");
    let mut peak_kib = 0;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        peak_kib = peak_kib.max(peak_rss_kib(child.id()));
        std::thread::sleep(Duration::from_millis(10));
    };
    let wall = started.elapsed();
    assert!(status.success(), "run failed in {}", project.display());
    let timings: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(project.join("hybrid-e2e-report/timings.json")).expect("timings"),
    )
    .expect("JSON");
    let build = timings["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .find(|phase| phase["name"] == "build")
        .expect("build");
    Run {
        setup_seconds: timings["setup_seconds"].as_f64().expect("setup"),
        wall,
        build_seconds: build["duration_seconds"].as_f64().expect("build seconds"),
        max_rss_kib: peak_kib,
    }
}

/// The process's own peak resident set (`VmHWM`), in KiB; its children (docker, kind) are not
/// counted, unlike `getrusage(RUSAGE_CHILDREN)` which also sees grandchildren.
fn peak_rss_kib(pid: u32) -> i64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                line.strip_prefix("VmHWM:")
                    .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

fn write_project(directory: &Path, images: &[(String, String)], concurrency: usize) {
    let mut config = format!("version: 1\nconcurrency: {concurrency}\nimages:\n");
    for (name, dockerfile) in images {
        std::fs::write(directory.join(format!("{name}.Dockerfile")), dockerfile).expect("write");
        config.push_str(&format!(
            "  - {{name: {name}, image: localhost/bench/{name}:1, dockerfile: {name}.Dockerfile}}\n"
        ));
    }
    std::fs::write(directory.join("hybrid-e2e.yaml"), config).expect("config");
}

fn scheduler_overhead() {
    let directory = tempfile::tempdir().expect("tempdir");
    let builds_ms = [1000u64, 2000, 3000, 4000, 2000, 1000];
    let images: Vec<(String, String)> = builds_ms
        .iter()
        .enumerate()
        .map(|(index, millis)| {
            (
                format!("svc{index}"),
                format!("# fake-build-ms: {millis}\nFROM scratch\n"),
            )
        })
        .collect();
    write_project(directory.path(), &images, 6);
    let (cluster_ms, load_ms) = (3000u64, 1000u64);
    let bound = (builds_ms.iter().max().copied().unwrap_or(0) + cluster_ms + load_ms) as f64 / 1000.0;
    let env = [
        ("FAKE_KIND_CREATE_DELAY_MS", cluster_ms.to_string()),
        ("FAKE_KIND_LOAD_DELAY_MS", load_ms.to_string()),
    ];
    let runs: Vec<Run> = (0..3).map(|_| run(directory.path(), None, &env)).collect();
    let best = runs.iter().map(|run| run.setup_seconds).fold(f64::MAX, f64::min);
    let wall = runs.iter().map(|run| run.wall.as_secs_f64()).fold(f64::MAX, f64::min);
    println!("1. scheduler overhead: 6 builds of 1-4 s, cluster 3 s, 6 loads of 1 s, concurrency 6 (best of 3)");
    println!(
        "   critical-path bound {bound:.3} s; setup {best:.3} s; ratio {:.4} (goal <= 1.03: {})",
        best / bound,
        if best / bound <= 1.03 { "met" } else { "MISSED" }
    );
    println!("   whole process incl. preflight and teardown: {wall:.3} s");
}

fn engine_ready(engine: &str) -> bool {
    Command::new(engine)
        .args(["image", "inspect", "hybrid-e2e.test/busybox:base"])
        .output()
        .is_ok_and(|output| output.status.success())
}

fn parallel_builds(engine: &str) {
    if !engine_ready(engine) {
        println!(
            "2. real parallel builds ({engine}): skipped, {engine} with hybrid-e2e.test/busybox:base is not available (.ci/test.sh sets it up)"
        );
        return;
    }
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |time| time.as_nanos());
    let mut results = Vec::new();
    for concurrency in [4usize, 1] {
        let directory = tempfile::tempdir().expect("tempdir");
        // A fresh nonce per image and per run: no layer cache hits.
        let images: Vec<(String, String)> = (0..4)
            .map(|index| {
                (
                    format!("sleep{index}"),
                    format!(
                        "FROM hybrid-e2e.test/busybox:base\nRUN echo {nonce}-{concurrency}-{index} > /id && sleep 3\n"
                    ),
                )
            })
            .collect();
        write_project(directory.path(), &images, concurrency);
        results.push(run(directory.path(), Some(engine), &[]).build_seconds);
        for index in 0..4 {
            let _ = Command::new(engine)
                .args(["image", "rm", "--force", &format!("localhost/bench/sleep{index}:1")])
                .output();
        }
    }
    println!(
        "2. real parallel builds ({engine}): 4 images with `sleep 3`: parallel {:.2} s, one at a time {:.2} s, ratio {:.2} (expect ~0.3)",
        results[0],
        results[1],
        results[0] / results[1]
    );
}

fn memory() {
    let directory = tempfile::tempdir().expect("tempdir");
    let images: Vec<(String, String)> = (0..50)
        .map(|index| {
            (
                format!("svc{index:02}"),
                "# fake-build-ms: 200\nFROM scratch\n".to_owned(),
            )
        })
        .collect();
    write_project(directory.path(), &images, 8);
    let result = run(directory.path(), None, &[("FAKE_KIND_LOAD_DELAY_MS", "100".to_owned())]);
    let mib = result.max_rss_kib as f64 / 1024.0;
    println!(
        "3. memory: peak RSS of `run` orchestrating 50 images: {mib:.1} MiB (goal < 50 MiB: {})",
        if mib < 50.0 { "met" } else { "MISSED" }
    );
}

fn main() {
    memory();
    scheduler_overhead();
    parallel_builds("docker");
    parallel_builds("podman");
}
