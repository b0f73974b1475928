//! Reporter benchmarks, through the CLI users run, each against a baseline timed in the same
//! run on the same input: Python reading the same `timings.json` file(s) and writing them back
//! as JSON (`json.dumps(json.load(...))`, both C-accelerated), timed inside Python, so its interpreter
//! start-up is not counted while ours (the whole `hybrid-e2e report` process) is.
//!
//! 1. `hybrid-e2e report` of a 10,000-step run: JUnit, summary, annotations and outputs
//!    (goal: <= 2.5x the baseline).
//! 2. `hybrid-e2e report --merge` of 20 matrix report directories (goal: <= 4x the baseline:
//!    20 small files, so our process start-up and the four reports written weigh more).
//!
//! The goals were set from the first measurement (1.7x for both) with room for this machine's
//! noise; they catch a report that gets slower than the data it reads, not small drifts.
//!
//! Run: `cargo bench --bench report_render` (`-- --quick`: 2,000 steps, 3 runs each, wider
//! margin; `.ci/test.sh` runs that).

use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod common;
use common::Goals;

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
            assert!(status.success(), "hybrid-e2e {args:?} failed");
            started.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// The baseline: Python reads every `timings.json` in `sys.argv[2:]` and writes them, as one
/// JSON array, to `sys.argv[1]`; it prints the seconds that took.
const BASELINE: &str = "import json, sys, time\nstarted = time.perf_counter()\nwith open(sys.argv[1], 'w') as out:\n    out.write(json.dumps([json.load(open(d + '/timings.json')) for d in sys.argv[2:]]))\nprint(time.perf_counter() - started)";

/// Best of `runs` of the baseline over `directories`, as it timed itself.
fn baseline(out: &str, directories: &[&str], runs: usize) -> Duration {
    (0..runs)
        .map(|_| {
            let output = Command::new("python3")
                .args(["-c", BASELINE, out])
                .args(directories)
                .output()
                .expect("python3 runs");
            assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
            let seconds: f64 = String::from_utf8_lossy(&output.stdout).trim().parse().expect("seconds");
            Duration::from_secs_f64(seconds)
        })
        .min()
        .unwrap_or_default()
}

fn main() -> ExitCode {
    let mut goals = Goals::from_args();
    let steps = goals.pick(10_000, 2_000);
    let runs = goals.pick(5, 3);
    let directory = tempfile::tempdir().expect("tempdir");
    let big = directory.path().join("big");
    write(&big, &record("big", steps));
    let big_arg = big.to_str().expect("UTF-8");
    let baseline_out = directory.path().join("baseline.json");
    let baseline_arg = baseline_out.to_str().expect("UTF-8");
    let single = time(&["report", big_arg, "--github", "always"], runs);
    let single_baseline = baseline(baseline_arg, &[big_arg], runs);
    let summary = std::fs::metadata(big.join("summary.md"))
        .map(|meta| meta.len())
        .unwrap_or(0);
    let input = std::fs::metadata(big.join("timings.json"))
        .map(|meta| meta.len())
        .unwrap_or(0);
    let ratio = single.as_secs_f64() / single_baseline.as_secs_f64();
    println!(
        "1. report of a {steps}-step run ({:.1} MiB timings.json; JUnit, summary {:.0} KiB, annotations, outputs), best of {runs}",
        input as f64 / 1_048_576.0,
        summary as f64 / 1024.0,
    );
    println!(
        "   ours {:.1} ms; baseline (python3 json load + dump of the same file, timed in Python) {:.1} ms; ratio {ratio:.2}",
        single.as_secs_f64() * 1000.0,
        single_baseline.as_secs_f64() * 1000.0
    );
    let goal = goals.cpu(2.5, 3.75, 10.0);
    goals.check(
        &format!("report / baseline <= {goal}"),
        &format!("{ratio:.2}"),
        ratio <= goal,
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
    let merge = time(&args, runs);
    let job_args: Vec<&str> = jobs.iter().map(String::as_str).collect();
    let merge_baseline = baseline(baseline_arg, &job_args, runs);
    let ratio = merge.as_secs_f64() / merge_baseline.as_secs_f64();
    println!("2. report --merge of 20 matrix report directories (60 steps each), best of {runs}");
    println!(
        "   ours {:.1} ms; baseline (python3 json load of the 20 files + dump, timed in Python) {:.1} ms; ratio {ratio:.2}",
        merge.as_secs_f64() * 1000.0,
        merge_baseline.as_secs_f64() * 1000.0
    );
    let goal = goals.cpu(4.0, 6.0, 15.0);
    goals.check(
        &format!("merge / baseline <= {goal}"),
        &format!("{ratio:.2}"),
        ratio <= goal,
    );
    goals.finish()
}
