//! Reporter benchmarks, through the CLI users run:
//!
//! 1. `hybrid-e2e report` of a 10,000-step run: JUnit, summary, annotations and outputs
//!    (goal: ≤ 200 ms).
//! 2. `hybrid-e2e report --merge` of 20 matrix report directories (goal: ≤ 500 ms).
//!
//! Run: `cargo bench --bench report_render`.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn step(index: usize) -> Value {
    let failed = index.is_multiple_of(25);
    json!({
        "name": format!("image-{index:05}"),
        "started_at": "2026-11-22T10:00:00.000Z",
        "finished_at": "2026-11-22T10:00:30.000Z",
        "duration_seconds": 30.0 + (index % 11) as f64,
        "status": if failed { "failed" } else { "ok" },
        "failure_class": if failed { Value::from("application") } else { Value::Null },
        "message": if failed { Value::from(format!("`docker build` of localhost/team/image-{index:05}:e2e failed (exit 2)")) } else { Value::Null },
        "hint": null,
        "file": if failed { Value::from(format!("docker/image-{index:05}.Dockerfile")) } else { Value::Null },
        "bytes": 52428800,
        "bytes_per_second": 2621440.0,
        "attempts": 1,
        "log": format!("logs/build/image-{index:05}.log"),
        "tail": if failed { (0..20).map(|line| Value::from(format!("{line} compiler output compiler output"))).collect::<Vec<_>>() } else { Vec::new() },
    })
}

fn record(cluster: &str, steps: usize) -> Value {
    let phase = |name: &str, count: usize| {
        json!({
            "name": name, "started_at": "2026-11-22T10:00:00.000Z", "finished_at": "2026-11-22T10:02:00.000Z",
            "duration_seconds": 120.0, "target_seconds": 180.0, "status": "failed", "failure_class": "application",
            "message": "some failed", "steps": (0..count).map(step).collect::<Vec<_>>(),
        })
    };
    json!({
        "format_version": 1, "run_id": format!("run-{cluster}"), "config_file": "hybrid-e2e.yaml", "config_hash": "00",
        "commit": "0123456789abcdef", "host": "runner", "engine": "docker", "engine_version": "28.2.2",
        "kind_version": "kind v0.32.0", "cluster_name": cluster, "images": [], "started_at": "2026-11-22T10:00:00.000Z",
        "finished_at": "2026-11-22T10:05:00.000Z", "status": "failed", "failure_class": "application", "failed_phase": "build",
        "message": "build failed", "setup_seconds": 300.0, "total_target_seconds": 360.0, "within_target": false,
        "phases": [phase("build", steps / 2), phase("load", steps - steps / 2)], "warnings": [],
    })
}

fn write(directory: &Path, record: &Value) {
    std::fs::create_dir_all(directory).expect("mkdir");
    std::fs::write(directory.join("timings.json"), record.to_string()).expect("write");
}

/// Best of `runs` wall times of `hybrid-e2e ARGS`.
fn time(args: &[&str], runs: usize) -> Duration {
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            let status = Command::new(env!("CARGO_BIN_EXE_hybrid-e2e"))
                .args(args)
                .env("HYBRID_E2E_GITHUB", "never")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .expect("runs");
            assert!(status.success());
            started.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn main() {
    let directory = tempfile::tempdir().expect("tempdir");
    let big = directory.path().join("big");
    write(&big, &record("big", 10_000));
    let big_arg = big.to_str().expect("UTF-8");
    let single = time(&["report", big_arg, "--github", "always"], 5);
    let summary = std::fs::metadata(big.join("summary.md"))
        .map(|meta| meta.len())
        .unwrap_or(0);
    println!(
        "1. report of a 10,000-step run (JUnit, summary {:.0} KiB, annotations, outputs): {:.1} ms (goal <= 200 ms: {})",
        summary as f64 / 1024.0,
        single.as_secs_f64() * 1000.0,
        if single <= Duration::from_millis(200) {
            "met"
        } else {
            "MISSED"
        }
    );
    let jobs: Vec<String> = (0..20)
        .map(|index| {
            let job = directory.path().join(format!("job-{index:02}"));
            write(&job, &record(&format!("job-{index:02}"), 60));
            job.to_str().expect("UTF-8").to_owned()
        })
        .collect();
    let merged = directory.path().join("merged");
    let mut args = vec!["report", jobs[0].as_str(), "--merge"];
    args.extend(jobs[1..].iter().map(String::as_str));
    args.extend(["-o", merged.to_str().expect("UTF-8")]);
    let merge = time(&args, 5);
    println!(
        "2. report --merge of 20 matrix report directories: {:.1} ms (goal <= 500 ms: {})",
        merge.as_secs_f64() * 1000.0,
        if merge <= Duration::from_millis(500) {
            "met"
        } else {
            "MISSED"
        }
    );
}
