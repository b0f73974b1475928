use super::*;
use crate::regress::fixtures;

fn timings(run_id: &str, started_at: &str, setup: f64) -> serde_json::Value {
    let finding = serde_json::json!({
        "path": "docker/api.Dockerfile", "line": 3, "column": 5, "rule": "no-dnf-update", "message": "m"
    });
    let step = serde_json::json!({
        "name": "api", "started_at": null, "finished_at": null, "duration_seconds": setup - 1.0,
        "status": "ok", "failure_class": null, "message": null, "hint": null, "file": null,
        "bytes": null, "bytes_per_second": null, "attempts": 1, "log": null, "findings": [finding]
    });
    let phase = serde_json::json!({
        "name": "build", "started_at": null, "finished_at": null, "duration_seconds": setup,
        "target_seconds": 180.0, "status": "ok", "failure_class": null, "message": null, "steps": [step]
    });
    serde_json::json!({
        "format_version": 1, "run_id": run_id, "config_file": "./services/api/hybrid-e2e.yaml",
        "config_hash": "abc", "commit": null, "host": "fv-az123-456", "engine": "docker",
        "engine_version": "28", "kind_version": null, "cluster_name": "c", "images": [],
        "started_at": started_at, "finished_at": null, "status": "ok", "failure_class": null,
        "failed_phase": null, "message": null, "setup_seconds": setup, "total_target_seconds": 360.0,
        "within_target": true, "phases": [phase], "warnings": []
    })
}

fn write(dir: &Path, relative: &str, text: &str) {
    let path = dir.join(relative);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

#[test]
fn services_are_config_paths_relative_to_the_repository_and_runners_lose_their_numbers() {
    assert_eq!(
        service_name(Some("./services/api/hybrid-e2e.yaml"), None),
        "services/api/hybrid-e2e.yaml"
    );
    assert_eq!(
        service_name(
            Some("/home/runner/work/app/app/e2e/gw.yaml"),
            Some(Path::new("/home/runner/work/app/app"))
        ),
        "e2e/gw.yaml"
    );
    assert_eq!(service_name(Some("e2e\\gw.yaml"), None), "e2e/gw.yaml");
    assert_eq!(service_name(None, None), "(no config file)");
    assert_eq!(runner_type("fv-az123-456").as_deref(), Some("fv-az"));
    assert_eq!(runner_type("runner-17").as_deref(), Some("runner"));
    assert_eq!(runner_type("laptop").as_deref(), Some("laptop"));
    assert_eq!(runner_type("1234"), None);
}

#[test]
fn report_directories_are_read_recursively_and_bad_files_are_skipped_with_the_readers_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = |n: usize| timings(&format!("r{n}"), &fixtures::started_at(n), 100.0 + n as f64).to_string();
    write(dir.path(), "nightly/2026-01-01/api/timings.json", &good(0));
    write(dir.path(), "nightly/2026-01-02/api/timings.json", &good(1));
    write(
        dir.path(),
        "corrupt/timings.json",
        "{\"format_version\": 1, \"run_id\": ",
    );
    let truncated = good(2);
    write(dir.path(), "truncated/timings.json", &truncated[..truncated.len() / 2]);
    let mut future = timings("r3", &fixtures::started_at(3), 1.0);
    future["format_version"] = 2.into();
    write(dir.path(), "future/timings.json", &future.to_string());
    let mut negative = timings("r4", &fixtures::started_at(4), 1.0);
    negative["phases"][0]["duration_seconds"] = (-3.0).into();
    write(dir.path(), "negative/timings.json", &negative.to_string());
    let mut bad_time = timings("r5", "yesterday", 1.0);
    bad_time["started_at"] = "yesterday".into();
    write(dir.path(), "bad-time/timings.json", &bad_time.to_string());
    // 65 MiB: over the reader's 64 MiB cap.
    let huge = format!("{}{}", good(6), " ".repeat(65 * 1024 * 1024));
    write(dir.path(), "huge/timings.json", &huge);
    write(dir.path(), "other/summary.md", "# not a record");
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.path().join("nightly"), dir.path().join("link")).expect("symlink");

    let files = find_timings(&[dir.path().to_owned()]).expect("walk");
    assert_eq!(files.len(), 8, "{files:?} (the symlinked directory is not followed)");
    let origin = Origin {
        branch: Some("main".to_owned()),
        source: None,
    };
    let results = read_timings(&files, &origin, None);
    let runs: Vec<&HistoryRun> = results.iter().filter_map(|result| result.as_ref().ok()).collect();
    let skipped: Vec<&Skipped> = results.iter().filter_map(|result| result.as_ref().err()).collect();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].service, "services/api/hybrid-e2e.yaml");
    assert_eq!((runs[0].runner.as_deref(), runs[0].findings), (Some("fv-az"), 1));
    assert_eq!(runs[0].branch.as_deref(), Some("main"));
    let reason = |name: &str| {
        skipped
            .iter()
            .find(|skipped| skipped.source.contains(&format!("/{name}/")))
            .map(|skipped| skipped.reason.clone())
            .unwrap_or_else(|| panic!("{name} not skipped: {skipped:?}"))
    };
    assert!(
        reason("corrupt").contains("not a valid timings.json"),
        "{}",
        reason("corrupt")
    );
    assert!(reason("truncated").contains("not a valid timings.json"));
    assert!(reason("future").contains("format_version 2"), "{}", reason("future"));
    assert!(
        reason("negative").contains("duration_seconds"),
        "{}",
        reason("negative")
    );
    assert!(reason("bad-time").contains("started_at"));
    assert!(reason("huge").contains("larger than 64 MiB"), "{}", reason("huge"));
}

#[test]
fn the_history_file_round_trips_and_skips_bad_lines_by_number() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("history.jsonl");
    let runs = fixtures::fleet(2, 3, 1, &[]);
    write_history_file(
        &path,
        &runs,
        Cap {
            runs_per_key: 100,
            max_bytes: 1 << 30,
        },
    )
    .expect("written");
    let (read, skipped) = read_history_file(&path).expect("read");
    assert_eq!((read.len(), skipped.len()), (6, 0));
    assert_eq!(read.iter().find(|run| run.run_id == runs[0].run_id), Some(&runs[0]));

    let mut text = std::fs::read_to_string(&path).expect("text");
    text.push_str("not json\n\n");
    let mut future: serde_json::Value = serde_json::to_value(&runs[0]).expect("value");
    future["format_version"] = 7.into();
    future["phases"] = "changed shape".into();
    text.push_str(&format!("{future}\n"));
    let mut negative = runs[1].clone();
    negative.setup_seconds = -1.0;
    text.push_str(&format!("{}\n", serde_json::to_string(&negative).expect("json")));
    let cut = serde_json::to_string(&runs[2]).expect("json");
    text.push_str(&cut[..cut.len() / 2]);
    std::fs::write(&path, text).expect("write");
    let (read, skipped) = read_history_file(&path).expect("read");
    assert_eq!(read.len(), 6);
    let reasons: Vec<String> = skipped.iter().map(|s| format!("{} {}", s.source, s.reason)).collect();
    assert_eq!(skipped.len(), 4, "{reasons:?}");
    assert!(
        reasons[0].ends_with("history.jsonl:7 expected ident at line 1 column 2"),
        "{reasons:?}"
    );
    assert!(reasons[1].contains(":9 format_version 7"), "{reasons:?}");
    assert!(reasons[2].contains(":10 a duration is -1"), "{reasons:?}");
    assert!(reasons[3].contains(":11 "), "{reasons:?}");
    assert_eq!(
        read_history_file(&dir.path().join("missing.jsonl"))
            .expect("empty")
            .0
            .len(),
        0
    );
}

#[test]
fn the_cap_keeps_the_newest_runs_per_key_and_the_size_and_appending_twice_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nested/history.jsonl");
    let runs = fixtures::fleet(3, 50, 2, &[]);
    let cap = Cap {
        runs_per_key: 20,
        max_bytes: 1 << 30,
    };
    let outcome = write_history_file(&path, &runs, cap).expect("written");
    assert_eq!((outcome.kept, outcome.dropped), (60, 90));
    let (kept, _) = read_history_file(&path).expect("read");
    let oldest = kept.iter().map(|run| run.timestamp).fold(f64::INFINITY, f64::min);
    assert_eq!(oldest, runs[30 * 3].timestamp, "the newest 20 nights of each service");

    // Appending the same runs again (from another source) is a no-op: same bytes.
    let before = std::fs::read(&path).expect("bytes");
    let mut history = History::default();
    for run in kept.iter().cloned().chain(runs.iter().skip(90).cloned()) {
        history.insert(run);
    }
    assert_eq!(history.runs().len(), 60);
    write_history_file(&path, history.runs(), cap).expect("rewritten");
    assert_eq!(std::fs::read(&path).expect("bytes"), before);

    // The size cap drops the oldest first and holds.
    let small = Cap {
        runs_per_key: 1_000,
        max_bytes: 40_000,
    };
    let outcome = write_history_file(&path, &runs, small).expect("written");
    let bytes = std::fs::metadata(&path).expect("metadata").len();
    assert!(bytes <= 40_000 && outcome.bytes == bytes, "{bytes} bytes, {outcome:?}");
    let (kept, _) = read_history_file(&path).expect("read");
    assert_eq!(kept.last().map(|run| &run.run_id), runs.last().map(|run| &run.run_id));
    assert!(kept.len() < 150 && kept.len() > 10, "{}", kept.len());
}
