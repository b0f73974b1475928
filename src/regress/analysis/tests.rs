use super::*;
use crate::regress::fixtures::{self, Change};

fn options() -> AnalysisOptions {
    AnalysisOptions {
        stale_after_days: 30.0,
        ..AnalysisOptions::default()
    }
}

fn find<'a>(document: &'a RegressDocument, service: usize, phase: &str, step: Option<&str>) -> &'a SeriesEntry {
    document
        .series
        .iter()
        .find(|entry| {
            entry.service == fixtures::service_name(service) && entry.phase == phase && entry.step.as_deref() == step
        })
        .unwrap_or_else(|| panic!("no series {service} {phase} {step:?}"))
}

#[test]
fn every_lane_has_a_setup_total_phases_and_steps_in_run_order() {
    let runs = fixtures::fleet(2, 20, 3, &[]);
    let analysis = analyze(&runs, &options());
    let document = &analysis.document;
    assert_eq!(document.services.len(), 2);
    assert_eq!(document.series.len(), 2 * 16);
    let first: Vec<String> = document.series[..6]
        .iter()
        .map(|entry| format!("{}/{}", entry.phase, entry.step.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        first,
        [
            "setup/",
            "build/",
            "build/api",
            "build/datastorage",
            "build/mock-llm",
            "cluster/"
        ]
    );
    let setup = find(document, 0, "setup", None);
    assert_eq!(
        (setup.runs, setup.completed_runs, setup.target_seconds),
        (20, 20, Some(360.0))
    );
    assert_eq!(find(document, 0, "build", None).target_seconds, Some(180.0));
    assert_eq!(find(document, 0, "build", Some("api")).target_seconds, None);
    assert_eq!(setup.recent_seconds.len(), 20);
    assert_eq!(setup.current_run_id.as_deref(), Some("r0019-s00"));
    assert_eq!(
        analysis
            .charts
            .iter()
            .map(|chart| chart.phase.as_str())
            .collect::<Vec<_>>(),
        ["setup", "build", "cluster", "load", "deploy"]
    );
    assert!(analysis.charts.iter().all(|chart| chart.lines.len() == 2));
    assert_eq!(document.history.runs_analyzed, 40);
}

#[test]
fn a_regression_after_m_runs_is_flagged_in_the_changed_series_and_the_service_row() {
    let change = Change {
        service: 1,
        phase: "load",
        step: "api",
        night: 33,
        factor: 1.6,
    };
    let runs = fixtures::fleet(3, 35, 4, &[change]);
    let document = analyze(&runs, &options()).document;
    assert_eq!(document.verdict, Verdict::Regression);
    let step = find(&document, 1, "load", Some("api"));
    assert_eq!((step.status, step.consecutive_breaches), (Verdict::Regression, 2));
    assert!(
        step.change_ratio.is_some_and(|ratio| ratio > 0.4),
        "{:?}",
        step.change_ratio
    );
    assert_eq!(find(&document, 1, "load", None).status, Verdict::Regression);
    assert_eq!(document.services[1].status, Verdict::Regression);
    assert_eq!(document.services[0].status, Verdict::Ok);
    // One run after the change is not enough.
    let before: Vec<HistoryRun> = runs
        .iter()
        .filter(|run| run.timestamp < runs[34 * 3].timestamp)
        .cloned()
        .collect();
    let document = analyze(&before, &options()).document;
    let step = find(&document, 1, "load", Some("api"));
    assert_eq!((step.status, step.consecutive_breaches), (Verdict::Ok, 1));
}

#[test]
fn engines_runners_and_config_hashes_are_not_mixed_unless_asked() {
    let mut runs = fixtures::fleet(1, 30, 5, &[]);
    for run in runs.iter_mut().skip(1).step_by(2) {
        run.engine = Some("podman".to_owned());
        run.setup_seconds *= 2.0;
    }
    let document = analyze(&runs, &options()).document;
    assert_eq!(document.services.len(), 2, "docker and podman are two groups");
    assert!(document.series.iter().all(|entry| entry.runs == 15));
    let mixed = analyze(
        &runs,
        &AnalysisOptions {
            group_by: GroupBy::parse("runner,config-hash").expect("valid"),
            ..options()
        },
    )
    .document;
    assert_eq!(mixed.services.len(), 1);
    assert_eq!(find(&mixed, 0, "setup", None).runs, 30);
    assert_eq!(mixed.group_by, ["runner", "config-hash"]);

    // A new config hash starts a new series; the old runs are counted, not used.
    let mut runs = fixtures::fleet(1, 30, 6, &[]);
    for run in runs.iter_mut().skip(25) {
        run.config_hash = "edited".to_owned();
    }
    let document = analyze(&runs, &options()).document;
    assert_eq!(document.history.other_config_runs, 25);
    assert_eq!(find(&document, 0, "setup", None).status, Verdict::InsufficientData);
    let kept = analyze(
        &runs,
        &AnalysisOptions {
            group_by: GroupBy::parse("engine,runner").expect("valid"),
            ..options()
        },
    )
    .document;
    assert_eq!(find(&kept, 0, "setup", None).runs, 30);
    assert!(GroupBy::parse("engine,colour").is_err());
    assert_eq!(GroupBy::parse("none").expect("none").names(), Vec::<&str>::new());
}

#[test]
fn failed_and_cancelled_runs_count_but_do_not_move_the_statistics() {
    let mut runs = fixtures::fleet(1, 30, 7, &[]);
    runs[10].status = Status::Failed;
    runs[10].setup_seconds = 5.0;
    runs[20].status = Status::Cancelled;
    runs[20].phases.truncate(2);
    runs[25].phases[3].steps[1].status = Status::Skipped;
    let document = analyze(&runs, &options()).document;
    let setup = find(&document, 0, "setup", None);
    assert_eq!(
        (
            setup.runs,
            setup.completed_runs,
            setup.failed_runs,
            setup.cancelled_runs
        ),
        (30, 28, 1, 1)
    );
    assert_eq!(
        find(&document, 0, "deploy", None).runs,
        29,
        "the cancelled run stopped before deploy"
    );
    assert_eq!(
        find(&document, 0, "deploy", Some("redis")).runs,
        28,
        "a skipped step is not a run"
    );
    assert_eq!(setup.status, Verdict::Ok);
}

#[test]
fn the_current_run_can_be_an_older_one_and_stale_groups_are_left_out() {
    let mut runs = fixtures::fleet(2, 40, 8, &[]);
    // Service 1 stopped running 35 nights ago.
    runs.retain(|run| run.service == fixtures::service_name(0) || run.timestamp < 1_767_232_800.0 + 5.0 * 86_400.0);
    let document = analyze(&runs, &options()).document;
    assert_eq!((document.services.len(), document.history.stale_groups), (1, 1));
    let current: HashSet<(String, String)> = [(fixtures::service_name(0), "r0029-s00".to_owned())].into();
    let document = analyze(&runs, &AnalysisOptions { current, ..options() }).document;
    let setup = find(&document, 0, "setup", None);
    assert_eq!((setup.current_run_id.as_deref(), setup.runs), (Some("r0029-s00"), 30));
}
