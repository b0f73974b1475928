//! The just-in-time cluster start of `mode: pipelined`, predicted from history: the last N
//! `timings.json` of the same config (same `config_hash`) in a directory the user points at
//! (the nightly workflow keeps them). Each step's predicted duration is the median of its
//! successful runs. The cluster is planned to be ready when the builds are predicted to finish,
//! less a margin — never before the builds start, never so early that the ready cluster is
//! predicted to wait for its first image longer than `max_idle`. Without usable history it
//! starts when the first build finishes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::graph::{self, ClusterGate, Graph};
use crate::model::{ClusterStartRecord, PhaseName, RunRecord, Status, read_run_record};
use crate::plan::Plan;

/// Files looked at, at most (a nightly directory of a year is far below this).
const MAX_FILES: usize = 5_000;
/// Directory levels searched below the history directory.
const MAX_DEPTH: usize = 4;

/// What earlier runs of this config say.
#[derive(Debug, Clone, Default)]
pub(crate) struct History {
    /// The runs used (the newest `history_runs` of this config).
    pub(crate) runs: usize,
    /// Median own duration in seconds per `phase/step`, over the runs where it succeeded.
    pub(crate) durations: HashMap<String, f64>,
}

fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    })
}

fn timings_files(directory: &Path, depth: usize, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .collect();
    entries.sort();
    for path in entries {
        if found.len() >= MAX_FILES {
            return;
        }
        // Symbolic links are not followed (no loops); regular files only.
        let Ok(metadata) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if metadata.is_dir() && depth < MAX_DEPTH {
            timings_files(&path, depth + 1, found);
        } else if metadata.is_file() && path.file_name().is_some_and(|name| name == "timings.json") {
            found.push(path);
        }
    }
}

impl History {
    /// The newest `runs` records of `config_hash` under `directory` (unreadable or foreign
    /// files are skipped), summarised.
    pub(crate) fn load(directory: &Path, config_hash: &str, runs: usize) -> History {
        let mut files = Vec::new();
        timings_files(directory, 0, &mut files);
        let mut records: Vec<RunRecord> = files
            .iter()
            .filter_map(|path| read_run_record(path).ok())
            .filter(|record| record.config_hash == config_hash)
            .collect();
        records.sort_by(|a, b| a.started_at.cmp(&b.started_at));
        let newest = &records[records.len().saturating_sub(runs.max(1))..];
        let mut samples: HashMap<String, Vec<f64>> = HashMap::new();
        for record in newest {
            for phase in &record.phases {
                for step in &phase.steps {
                    if matches!(step.status, Status::Ok | Status::OverTarget) && step.started_at.is_some() {
                        samples
                            .entry(format!("{}/{}", phase.name, step.name))
                            .or_default()
                            .push(step.duration_seconds);
                    }
                }
            }
        }
        History {
            runs: newest.len(),
            durations: samples
                .into_iter()
                .filter_map(|(key, mut values)| Some((key, median(&mut values)?)))
                .collect(),
        }
    }

    /// The predicted duration of `phase/name`.
    pub(crate) fn duration(&self, phase: PhaseName, name: &str) -> Option<f64> {
        self.durations.get(&format!("{phase}/{name}")).copied()
    }
}

/// When the cluster of this run starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ClusterPlan {
    pub(crate) gate: ClusterGate,
    pub(crate) record: ClusterStartRecord,
}

/// The history `plan` points at (`None` when it points nowhere).
pub(crate) fn history_of(plan: &Plan) -> Option<(PathBuf, History)> {
    let directory = plan.pipelined.history.clone()?;
    let history = History::load(&directory, &plan.config_hash, plan.pipelined.history_runs);
    Some((directory, history))
}

/// Plan the cluster's start for `graph` from `history`.
pub(crate) fn plan_cluster_start(plan: &Plan, graph: &Graph, history: Option<&History>) -> ClusterPlan {
    let pipelined = &plan.pipelined;
    let mut record = ClusterStartRecord {
        policy: "first-build".to_owned(),
        history_runs: history.map_or(0, |history| history.runs as u32),
        margin_seconds: pipelined.margin.as_secs_f64(),
        max_idle_seconds: pipelined.max_idle.as_secs_f64(),
        ..ClusterStartRecord::default()
    };
    let builds: Vec<usize> = graph.of(PhaseName::Build).collect();
    if builds.is_empty() {
        record.policy = "no-builds".to_owned();
        record.planned_start_seconds = Some(0.0);
        return ClusterPlan {
            gate: ClusterGate::At(0.0),
            record,
        };
    }
    let predicted_cluster = history.and_then(|history| history.duration(PhaseName::Cluster, "create"));
    let known: Vec<Option<f64>> = builds
        .iter()
        .map(|build| history.and_then(|history| history.duration(PhaseName::Build, &graph.nodes[*build].name)))
        .collect();
    let longest_known = known.iter().flatten().copied().fold(None, |best: Option<f64>, value| {
        Some(best.map_or(value, |best| best.max(value)))
    });
    let (Some(cluster), Some(longest)) = (predicted_cluster, longest_known) else {
        return ClusterPlan {
            gate: ClusterGate::FirstBuild,
            record,
        };
    };
    // An image without history of its own is assumed as slow as the slowest known one: the
    // cluster then starts later, never idle for it.
    let build_durations: Vec<f64> = known.iter().map(|known| known.unwrap_or(longest)).collect();
    let builds_only = Graph {
        nodes: builds.iter().map(|build| graph.nodes[*build].clone()).collect(),
    };
    let timeline = graph::simulate_strict(&builds_only, &build_durations, plan.concurrency);
    let first_end = timeline.iter().map(|(_, end)| *end).fold(f64::INFINITY, f64::min);
    let last_end = graph::makespan(&timeline);
    // Every step's predicted time (steps without history count as instant): the latest start
    // that does not delay the predicted end of the whole graph. Groups that need only the
    // cluster (public images, their migrations) may need it before the builds end.
    let durations: Vec<f64> = graph
        .nodes
        .iter()
        .map(|node| match node.phase {
            PhaseName::Build => {
                build_durations[builds
                    .iter()
                    .position(|build| graph.nodes[*build] == *node)
                    .unwrap_or(0)]
            }
            PhaseName::Cluster => cluster,
            _ => history
                .and_then(|history| history.duration(node.phase, &node.name))
                .unwrap_or(0.0),
        })
        .collect();
    let latest = latest_start(plan, graph, &durations, last_end);
    let margin = pipelined.margin.as_secs_f64();
    let max_idle = pipelined.max_idle.as_secs_f64();
    // Ready `margin` before it is needed (at the latest when the builds end); but never waiting
    // for the first image longer than `max_idle`, and never before the builds start.
    let start = (last_end - cluster - margin)
        .min(latest - margin)
        .max(first_end - cluster - max_idle)
        .max(0.0);
    record.policy = "history".to_owned();
    record.predicted_first_build_seconds = Some(first_end);
    record.predicted_build_seconds = Some(last_end);
    record.predicted_cluster_seconds = Some(cluster);
    record.predicted_latest_start_seconds = Some(latest);
    record.planned_start_seconds = Some(start);
    ClusterPlan {
        gate: ClusterGate::At(start),
        record,
    }
}

/// The latest cluster start (seconds after the builds start, up to `until`) whose simulated
/// pipelined schedule ends no later than starting it at once.
fn latest_start(plan: &Plan, graph: &Graph, durations: &[f64], until: f64) -> f64 {
    let end_at = |start: f64| {
        graph::makespan(&graph::simulate_pipelined(
            graph,
            durations,
            plan.concurrency,
            ClusterGate::At(start),
        ))
    };
    let earliest = end_at(0.0);
    let (mut low, mut high) = (0.0, until.max(0.0));
    if end_at(high) <= earliest + 1e-3 {
        return high;
    }
    // Milliseconds are enough: the search stops once the window is that narrow.
    while high - low > 1e-3 {
        let middle = (low + high) / 2.0;
        if end_at(middle) <= earliest + 1e-3 {
            low = middle;
        } else {
            high = middle;
        }
    }
    low
}

/// Predicted durations of every node of `graph` (history first; without it, each step gets its
/// phase's target as a budget) and whether any came from history.
pub(crate) fn predicted_durations(plan: &Plan, graph: &Graph, history: Option<&History>) -> (Vec<f64>, usize) {
    let mut from_history = 0;
    let durations = graph
        .nodes
        .iter()
        .map(
            |node| match history.and_then(|history| history.duration(node.phase, &node.name)) {
                Some(seconds) => {
                    from_history += 1;
                    seconds
                }
                None => plan.target(node.phase).map_or(0.0, |target| target.as_secs_f64()),
            },
        )
        .collect();
    (durations, from_history)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(config_hash: &str, started_at: &str, steps: &[(&str, &str, f64)]) -> serde_json::Value {
        let mut phases: Vec<serde_json::Value> = Vec::new();
        for (phase, step, seconds) in steps {
            let entry = serde_json::json!({"name": step, "started_at": started_at, "finished_at": started_at,
                "duration_seconds": seconds, "status": "ok", "failure_class": null, "message": null, "hint": null,
                "file": null, "bytes": null, "bytes_per_second": null, "attempts": 1, "log": null});
            match phases.iter_mut().find(|existing| existing["name"] == *phase) {
                Some(existing) => existing["steps"].as_array_mut().expect("steps").push(entry),
                None => phases.push(
                    serde_json::json!({"name": phase, "started_at": null, "finished_at": null,
                    "duration_seconds": 0.0, "target_seconds": null, "status": "ok", "failure_class": null,
                    "message": null, "steps": [entry]}),
                ),
            }
        }
        serde_json::json!({"format_version": 1, "run_id": started_at, "config_file": null, "config_hash": config_hash,
            "commit": null, "host": "h", "engine": null, "engine_version": null, "kind_version": null,
            "cluster_name": "c", "images": [], "started_at": started_at, "finished_at": null, "status": "ok",
            "failure_class": null, "failed_phase": null, "message": null, "setup_seconds": 1.0,
            "total_target_seconds": 360.0, "within_target": true, "phases": phases, "warnings": []})
    }

    fn plan(pipelined: &str) -> Plan {
        let directory = tempfile::tempdir().expect("tempdir");
        std::fs::write(directory.path().join("Dockerfile"), "FROM a\n").expect("write");
        let text = format!(
            "version: 1\nconcurrency: 4\nimages:\n  - {{name: a, image: localhost/a:1, dockerfile: Dockerfile}}\n  - {{name: b, image: localhost/b:1, dockerfile: Dockerfile}}\npipelined: {pipelined}\n"
        );
        let config =
            crate::config::LoadedConfig::parse(&directory.path().join("hybrid-e2e.yaml"), &text).expect("valid");
        Plan::new(
            &config,
            &crate::plan::Overrides::default(),
            "20261122-120000-0a1b2c3d".to_owned(),
        )
    }

    fn history(durations: &[(&str, f64)]) -> History {
        History {
            runs: 3,
            durations: durations
                .iter()
                .map(|(key, value)| ((*key).to_owned(), *value))
                .collect(),
        }
    }

    fn planned(pipelined: &str, known: &[(&str, f64)]) -> (ClusterGate, String) {
        let plan = plan(pipelined);
        let graph = Graph::from_plan(&plan, false);
        let planned = plan_cluster_start(&plan, &graph, Some(&history(known)));
        (planned.gate, planned.record.policy)
    }

    #[test]
    fn the_cluster_is_planned_ready_a_margin_before_the_builds_end_within_the_idle_bound() {
        let known = [("build/a", 10.0), ("build/b", 4.0), ("cluster/create", 3.0)];
        assert_eq!(
            planned("{margin: 1s}", &known),
            (ClusterGate::At(6.0), "history".to_owned()),
            "builds end at 10, the cluster takes 3, ready 1 s before"
        );
        assert_eq!(
            planned("{margin: 20s}", &known).0,
            ClusterGate::At(0.0),
            "never before the builds start"
        );
        assert_eq!(
            planned("{margin: 20s, max_idle: 500ms}", &known).0,
            ClusterGate::At(0.5),
            "ready no earlier than 0.5 s before the first image (b, at 4 s)"
        );
        // An image without history is taken to be as slow as the slowest known one.
        assert_eq!(
            planned(
                "{margin: 1s, max_idle: 500ms}",
                &[("build/a", 10.0), ("cluster/create", 3.0)]
            )
            .0,
            ClusterGate::At(6.5)
        );
        assert_eq!(
            planned("{margin: 1s}", &[("build/a", 10.0)]),
            (ClusterGate::FirstBuild, "first-build".to_owned()),
            "no cluster history: no prediction"
        );
    }

    #[test]
    fn history_is_the_median_of_the_newest_runs_of_the_same_config() {
        let directory = tempfile::tempdir().expect("tempdir");
        let write = |relative: &str, value: serde_json::Value| {
            let path = directory.path().join(relative);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, value.to_string()).expect("write");
        };
        write(
            "2026-11-01/timings.json",
            record("abc", "2026-11-01T00:00:00.000Z", &[("build", "api", 100.0)]),
        );
        write(
            "2026-11-02/timings.json",
            record(
                "abc",
                "2026-11-02T00:00:00.000Z",
                &[("build", "api", 10.0), ("cluster", "create", 3.0)],
            ),
        );
        write(
            "2026-11-03/timings.json",
            record(
                "abc",
                "2026-11-03T00:00:00.000Z",
                &[("build", "api", 12.0), ("cluster", "create", 5.0)],
            ),
        );
        write(
            "deep/er/2026-11-04/timings.json",
            record("abc", "2026-11-04T00:00:00.000Z", &[("build", "api", 14.0)]),
        );
        write(
            "other/timings.json",
            record("zzz", "2026-11-05T00:00:00.000Z", &[("build", "api", 999.0)]),
        );
        write("broken/timings.json", serde_json::json!({"format_version": 1}));
        let history = History::load(directory.path(), "abc", 3);
        assert_eq!(history.runs, 3, "the newest three of this config");
        assert_eq!(history.duration(PhaseName::Build, "api"), Some(12.0));
        assert_eq!(history.duration(PhaseName::Cluster, "create"), Some(4.0));
        assert_eq!(History::load(&directory.path().join("missing"), "abc", 3).runs, 0);
    }
}
