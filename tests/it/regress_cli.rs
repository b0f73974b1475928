//! `hybrid-e2e regress` through the binary: report directories in, the `regress.json` contract,
//! `regress.md`, the charts, the history file and the exit codes out.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::support::{repo, stderr};

/// 2026-01-01T02:00:00Z.
const FIRST_NIGHT: i64 = 1_767_232_800;

/// A deterministic N(1, 0.07) noise factor per (service, night, step).
fn noise(service: usize, night: usize, step: usize) -> f64 {
    let mut state = (service as u64 * 1_000_003 + night as u64 * 7_919 + step as u64 * 104_729 + 1)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut uniform = || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        ((state.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let (u1, u2) = (uniform(), uniform());
    1.0 + 0.07 * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// The `timings.json` of `service` on `night`; `slow_load` multiplies its load step.
fn record(service: usize, night: usize, slow_load: f64) -> Value {
    let at = chrono::DateTime::from_timestamp(FIRST_NIGHT + night as i64 * 86_400, 0)
        .expect("time")
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let shape = [
        ("build", 180.0, "api", 140.0),
        ("cluster", 15.0, "create", 11.0),
        ("load", 45.0, "api", 30.0),
        ("deploy", 180.0, "api", 75.0),
    ];
    let mut setup = 0.0;
    let phases: Vec<Value> = shape
        .iter()
        .enumerate()
        .map(|(index, (phase, target, step, base))| {
            let factor = if *phase == "load" { slow_load } else { 1.0 };
            let seconds = base * factor * noise(service, night, index);
            setup += seconds;
            let step = json!({
                "name": step, "started_at": at, "finished_at": at, "duration_seconds": seconds, "status": "ok",
                "failure_class": null, "message": null, "hint": null, "file": null, "bytes": null,
                "bytes_per_second": null, "attempts": 1, "log": null
            });
            json!({
                "name": phase, "started_at": at, "finished_at": at, "duration_seconds": seconds,
                "target_seconds": target, "status": "ok", "failure_class": null, "message": null, "steps": [step]
            })
        })
        .collect();
    json!({
        "format_version": 1, "run_id": format!("r{night:03}-{service}"),
        "config_file": format!("services/svc{service}/hybrid-e2e.yaml"), "config_hash": format!("h{service}"),
        "commit": null, "host": format!("fv-az{night}-{service}"), "engine": "docker", "engine_version": "28",
        "kind_version": null, "cluster_name": "c", "images": [], "started_at": at, "finished_at": at,
        "status": "ok", "failure_class": null, "failed_phase": null, "message": null, "setup_seconds": setup,
        "total_target_seconds": 360.0, "within_target": true, "phases": phases, "warnings": []
    })
}

/// `nights` nights of three services under `dir/night-NNN/svcS/`; service 1's load step is 60 %
/// slower from night `slow_from` on.
fn history(dir: &Path, nights: usize, slow_from: usize) {
    for night in 0..nights {
        for service in 0..3 {
            let slow = if service == 1 && night >= slow_from { 1.6 } else { 1.0 };
            let path = dir.join(format!("night-{night:03}/svc{service}"));
            std::fs::create_dir_all(&path).expect("mkdir");
            std::fs::write(path.join("timings.json"), record(service, night, slow).to_string()).expect("write");
        }
    }
}

fn regress(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hybrid-e2e"));
    command
        .arg("regress")
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("GITHUB_TOKEN")
        .env_remove("GITHUB_REPOSITORY")
        .env_remove("GITHUB_REF_NAME")
        .env_remove("GITHUB_WORKSPACE")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("HYBRID_E2E_GITHUB");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("hybrid-e2e runs")
}

fn json_file(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("readable")).expect("JSON")
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("dir") {
        let path = entry.expect("entry").path();
        let target = to.join(path.file_name().expect("name"));
        if path.is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).expect("copy");
        }
    }
}

#[test]
fn report_directories_become_the_documented_contract_and_bad_files_are_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let reports = dir.path().join("reports");
    history(&reports, 32, 30);
    copy_dir(&repo().join("tests/fixtures/regress/bad"), &reports);
    let huge = reports.join("huge");
    std::fs::create_dir_all(&huge).expect("mkdir");
    std::fs::write(
        huge.join("timings.json"),
        format!("{}{}", record(0, 99, 1.0), " ".repeat(65 * 1024 * 1024)),
    )
    .expect("write");
    let output = regress(dir.path(), &["--history", "reports", "-o", "out"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("warning: 5 input(s) skipped"), "{err}");
    assert!(err.contains("regression in 2 series"), "{err}");
    let report = json_file(&dir.path().join("out/regress.json"));
    assert_eq!(report["format_version"], 1);
    assert_eq!(report["verdict"], "regression");
    assert_eq!(report["history"]["runs"], 96);
    assert_eq!(report["history"]["skipped_total"], 5);
    let reasons: Vec<&str> = report["history"]["skipped"]
        .as_array()
        .expect("skipped")
        .iter()
        .filter_map(|skipped| skipped["reason"].as_str())
        .collect();
    for wanted in [
        "format_version 2",
        "larger than 64 MiB",
        "not a valid timings.json",
        "-12.5",
    ] {
        assert!(
            reasons.iter().any(|reason| reason.contains(wanted)),
            "{wanted}: {reasons:?}"
        );
    }
    let series = report["series"].as_array().expect("series");
    assert_eq!(series.len(), 3 * 9, "setup, 4 phases and 4 steps per service");
    for key in [
        "service",
        "phase",
        "step",
        "status",
        "current_seconds",
        "median_seconds",
        "mad_seconds",
        "change_ratio",
        "consecutive_breaches",
        "runs",
        "p95_seconds",
        "over_target_share",
        "slope_seconds_per_week",
    ] {
        assert!(
            series.iter().all(|entry| entry.get(key).is_some()),
            "every series has `{key}`"
        );
    }
    let setup = series
        .iter()
        .find(|entry| entry["phase"] == "setup")
        .expect("a setup series");
    assert_eq!((setup["step"].clone(), setup["runs"].clone()), (Value::Null, json!(32)));
    let regressed: Vec<String> = series
        .iter()
        .filter(|entry| entry["status"] == "regression")
        .map(|entry| format!("{} {} {}", entry["service"], entry["phase"], entry["step"]))
        .collect();
    assert_eq!(
        regressed,
        [
            "\"services/svc1/hybrid-e2e.yaml\" \"load\" null",
            "\"services/svc1/hybrid-e2e.yaml\" \"load\" \"api\""
        ]
    );
    assert_eq!(report["services"].as_array().map(Vec::len), Some(3));
    assert_eq!(report["services"][1]["status"], "regression");
    let markdown = std::fs::read_to_string(dir.path().join("out/regress.md")).expect("regress.md");
    assert!(
        markdown.starts_with("## hybrid-e2e regress: 🔴 regression in 2 series"),
        "{markdown}"
    );
    assert_eq!(markdown.matches("```mermaid").count(), 5);
    let charts = report["charts"].as_array().expect("charts");
    assert_eq!(charts.len(), 5);
    for chart in charts {
        let svg = std::fs::read_to_string(dir.path().join("out").join(chart["file"].as_str().expect("file")))
            .expect("svg written");
        let mut reader = quick_xml::Reader::from_str(&svg);
        while !matches!(
            reader.read_event().expect("well-formed XML"),
            quick_xml::events::Event::Eof
        ) {}
    }
}

#[test]
fn fail_on_regression_exits_7_only_on_a_confirmed_regression() {
    let dir = tempfile::tempdir().expect("tempdir");
    history(&dir.path().join("reports"), 32, 31);
    // One slow night is a breach, not a regression.
    let one = regress(dir.path(), &["--history", "reports", "--fail-on-regression"], &[]);
    assert_eq!(one.status.code(), Some(0), "{}", stderr(&one));
    let dir = tempfile::tempdir().expect("tempdir");
    history(&dir.path().join("reports"), 32, 30);
    let two = regress(dir.path(), &["--history", "reports", "--fail-on-regression"], &[]);
    assert_eq!(two.status.code(), Some(7), "{}", stderr(&two));
    let reported = regress(dir.path(), &["--history", "reports", "--github", "always"], &[]);
    assert_eq!(reported.status.code(), Some(0), "without the flag it is only reported");
    let annotations = String::from_utf8_lossy(&reported.stdout).into_owned();
    assert_eq!(
        annotations.lines().next(),
        Some(
            "::warning title=hybrid-e2e timing regression%3A services/svc1/hybrid-e2e.yaml load,file=services/svc1/hybrid-e2e.yaml::services/svc1/hybrid-e2e.yaml load took 43.0s against a rolling median of 31.0s (+38.6%25); 2 run(s) in a row over the threshold"
        ),
        "{annotations}"
    );
    // The run before the change, named with --current, is judged instead of the newest.
    let current = regress(
        dir.path(),
        &[
            "--history",
            "reports",
            "--current",
            "reports/night-029",
            "--fail-on-regression",
            "-o",
            "then",
        ],
        &[],
    );
    assert_eq!(current.status.code(), Some(0), "{}", stderr(&current));
    let report = json_file(&dir.path().join("then/regress.json"));
    assert_eq!(report["series"][0]["current_run_id"], "r029-0");
}

#[test]
fn the_history_file_is_capped_and_appending_the_same_runs_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    history(&dir.path().join("reports"), 20, 100);
    let args = [
        "--history",
        "reports",
        "--history-file",
        "cache/history.jsonl",
        "--branch",
        "main",
    ];
    let first = regress(dir.path(), &args, &[]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let bytes = std::fs::read(dir.path().join("cache/history.jsonl")).expect("history file");
    assert_eq!(bytes.iter().filter(|&&byte| byte == b'\n').count(), 60);
    let again = regress(dir.path(), &args, &[]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(
        std::fs::read(dir.path().join("cache/history.jsonl")).expect("history file"),
        bytes
    );
    // The file alone is enough the next night.
    let alone = regress(
        dir.path(),
        &["--history-file", "cache/history.jsonl", "-o", "alone"],
        &[],
    );
    assert_eq!(alone.status.code(), Some(0), "{}", stderr(&alone));
    assert_eq!(json_file(&dir.path().join("alone/regress.json"))["history"]["runs"], 60);
    let line: Value = serde_json::from_slice(bytes.split(|&byte| byte == b'\n').next().expect("a line")).expect("JSON");
    assert_eq!(
        (line["format_version"].clone(), line["branch"].clone()),
        (json!(1), json!("main"))
    );
    let capped = regress(
        dir.path(),
        &[
            "--history-file",
            "cache/history.jsonl",
            "--history-runs",
            "7",
            "-o",
            "capped",
        ],
        &[],
    );
    assert_eq!(capped.status.code(), Some(0));
    let text = std::fs::read_to_string(dir.path().join("cache/history.jsonl")).expect("history file");
    assert_eq!(text.lines().count(), 3 * 7);
    assert!(
        stderr(&capped).contains("history file: 21 run(s)"),
        "{}",
        stderr(&capped)
    );
}

#[test]
fn the_job_summary_gets_the_report_in_actions() {
    let dir = tempfile::tempdir().expect("tempdir");
    history(&dir.path().join("reports"), 10, 100);
    let summary = dir.path().join("summary.md");
    std::fs::write(&summary, "earlier step\n").expect("write");
    let output = regress(
        dir.path(),
        &["--history", "reports"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", summary.to_str().expect("UTF-8")),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "",
        "no regression, no annotation"
    );
    let text = std::fs::read_to_string(&summary).expect("summary");
    assert!(
        text.starts_with("earlier step\n## hybrid-e2e regress: ✅ no regression"),
        "{text}"
    );
    let written = std::fs::read_to_string(dir.path().join("hybrid-e2e-regress/regress.md")).expect("regress.md");
    assert!(text.ends_with(&written), "the job summary is regress.md");
}

#[test]
fn bad_options_are_usage_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    history(&dir.path().join("reports"), 3, 100);
    let nothing = regress(dir.path(), &[], &[]);
    assert_eq!(nothing.status.code(), Some(2));
    assert!(stderr(&nothing).contains("no history"), "{}", stderr(&nothing));
    let group = regress(
        dir.path(),
        &["--history", "reports", "--group-by", "engine,colour"],
        &[],
    );
    assert_eq!(group.status.code(), Some(2));
    assert!(stderr(&group).contains("unknown --group-by `colour`"));
    std::fs::write(dir.path().join("params.yaml"), "phases:\n  build:\n    windw: 3\n").expect("write");
    let params = regress(dir.path(), &["--history", "reports", "--params", "params.yaml"], &[]);
    assert_eq!(params.status.code(), Some(2));
    assert!(
        stderr(&params).contains("phases.build") && stderr(&params).contains("windw"),
        "{}",
        stderr(&params)
    );
    let window = regress(dir.path(), &["--history", "reports", "--window", "1"], &[]);
    assert_eq!(window.status.code(), Some(2));
    let current = regress(
        dir.path(),
        &["--history", "reports", "--current", "empty-dir-that-is-missing"],
        &[],
    );
    assert_eq!(current.status.code(), Some(5), "{}", stderr(&current));
    let young = regress(
        dir.path(),
        &["--history", "reports", "--window", "14", "--fail-on-regression"],
        &[],
    );
    assert_eq!(young.status.code(), Some(0));
    assert!(stderr(&young).contains("insufficient data"), "{}", stderr(&young));
}

#[test]
fn regress_is_in_the_help_and_only_commands_and_the_top_level_error_import_it() {
    let help = Command::new(env!("CARGO_BIN_EXE_hybrid-e2e"))
        .arg("--help")
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(
        text.contains("regress") && text.contains("7 timing regression"),
        "{text}"
    );
    let mut offenders = Vec::new();
    let mut stack = vec![repo().join("src")];
    while let Some(directory) = stack.pop() {
        for entry in std::fs::read_dir(&directory).expect("src") {
            let path = entry.expect("entry").path();
            let relative = path
                .strip_prefix(repo().join("src"))
                .expect("under src")
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                if relative != "regress" && relative != "commands" {
                    stack.push(path);
                }
            } else if relative != "lib.rs"
                && relative != "errors.rs"
                && std::fs::read_to_string(&path).is_ok_and(|text| text.contains("crate::regress"))
            {
                offenders.push(relative);
            }
        }
    }
    assert_eq!(
        offenders,
        Vec::<String>::new(),
        "only commands (and lib.rs's dispatch, errors.rs's exit-code mapping) import regress"
    );
}
