//! Run records for the reporters' snapshot tests, each built from one timeline through the same
//! mapping a real run uses (`RunRecord::new`), so every derived figure follows: phase spans
//! cover their steps, the setup time is the sum of the setup phases, statuses and messages are
//! the ones the runner and the pipeline would give.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::model::{
    DockerfileFindings, Failure, FailureClass, Finding, PhaseName, PhaseReport, RunFacts, RunRecord, Status,
    StepReport, TestCaseResult, TestOutcome, TestSuiteResult, Timing,
};

/// The fixtures' clock starts here.
fn base_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-22T10:00:00.000Z")
        .expect("base time")
        .to_utc()
}

fn timing(start: f64, seconds: f64) -> Timing {
    let started_at = base_time() + chrono::Duration::milliseconds((start * 1000.0).round() as i64);
    let duration = Duration::from_secs_f64(seconds);
    Timing {
        started_at,
        finished_at: started_at + chrono::Duration::milliseconds((seconds * 1000.0).round() as i64),
        duration,
    }
}

/// One step on the timeline: starts at `start` seconds, works `seconds`.
pub(crate) struct StepAt {
    report: StepReport,
    start: f64,
    seconds: f64,
}

pub(crate) fn step(name: &str, start: f64, seconds: f64, status: Status) -> StepAt {
    StepAt {
        report: StepReport {
            timing: (status != Status::Cancelled || seconds > 0.0).then(|| timing(start, seconds)),
            attempts: 1,
            log: Some(format!("logs/x/{name}.log")),
            ..StepReport::not_run(name, status)
        },
        start,
        seconds,
    }
}

impl StepAt {
    fn failed(mut self, failure: Failure) -> StepAt {
        self.report.status = Status::Failed;
        self.report.failure = Some(failure);
        self
    }

    fn waited(mut self, seconds: f64) -> StepAt {
        self.report.waited = Some(Duration::from_secs_f64(seconds));
        self
    }

    fn bytes(mut self, bytes: u64) -> StepAt {
        self.report.bytes = Some(bytes);
        self
    }
}

/// A phase that ran its steps: it spans from `start` to the last step's end (plus the runner's
/// bookkeeping), and ends as the runner would decide.
fn phase(phase: PhaseName, start: f64, target: Option<f64>, steps: Vec<StepAt>, cancelled: bool) -> PhaseReport {
    let end = steps.iter().map(|step| step.start + step.seconds).fold(start, f64::max) + 0.1;
    let timing = timing(start, end - start);
    let target = target.map(Duration::from_secs_f64);
    let steps: Vec<StepReport> = steps.into_iter().map(|step| step.report).collect();
    let status = if steps.iter().any(|step| step.status == Status::Failed) {
        Status::Failed
    } else if cancelled || steps.iter().any(|step| step.status == Status::Cancelled) {
        Status::Cancelled
    } else if target.is_some_and(|target| timing.duration > target) {
        Status::OverTarget
    } else {
        Status::Ok
    };
    let message = steps.iter().find_map(|step| {
        step.failure
            .as_ref()
            .map(|failure| format!("{}: {}", step.name, failure.message))
    });
    PhaseReport {
        phase,
        timing: Some(timing),
        target,
        target_line: None,
        status,
        steps,
        message,
    }
}

fn skipped(name: PhaseName, target: f64, reason: &str) -> PhaseReport {
    PhaseReport::skipped(name, Some(Duration::from_secs_f64(target)), reason)
}

fn facts(run: &str, cluster: &str) -> RunFacts {
    RunFacts {
        run_id: format!("20261122-100000-{run}"),
        config_file: Some("hybrid-e2e.yaml".to_owned()),
        config_hash: "ab".repeat(32),
        commit: Some("0123456789abcdef0123456789abcdef01234567".to_owned()),
        host: "runner".to_owned(),
        engine: Some(("docker".to_owned(), "28.2.2".to_owned())),
        kind_version: Some("kind v0.32.0 go1.25.1 linux/amd64".to_owned()),
        cluster_name: cluster.to_owned(),
        images: vec![
            "localhost/team/api:e2e-0a1b2c3d".to_owned(),
            "localhost/team/worker:e2e-0a1b2c3d".to_owned(),
        ],
        total_target: Duration::from_secs(360),
        // One warning-level finding (e.g. a floating base-image tag) in every fixture run.
        dockerfile_findings: Some(DockerfileFindings { errors: 0, warnings: 1 }),
        warnings: Vec::new(),
    }
}

fn record(facts: RunFacts, phases: &[PhaseReport], cancelled: bool) -> RunRecord {
    let end = phases
        .iter()
        .filter_map(|phase| phase.timing)
        .map(|timing| timing.finished_at)
        .max()
        .unwrap_or_else(base_time);
    let seconds = (end - base_time()).num_milliseconds() as f64 / 1000.0 + 0.2;
    RunRecord::new(facts, phases, timing(0.0, seconds), cancelled)
}

fn preflight() -> PhaseReport {
    phase(
        PhaseName::Preflight,
        0.0,
        None,
        vec![
            step("engine", 0.0, 0.1, Status::Ok),
            step("kind", 0.1, 0.05, Status::Ok),
            step("lint", 0.15, 0.02, Status::Ok),
        ],
        false,
    )
}

/// Build, cluster and load of the green run; `load_seconds` stretches the `api` load.
fn green_phases(load_seconds: f64) -> Vec<PhaseReport> {
    let build = phase(
        PhaseName::Build,
        0.3,
        Some(180.0),
        vec![
            step("api", 0.3, 58.1, Status::Ok),
            step("worker", 0.3, 61.3, Status::Ok),
        ],
        false,
    );
    let cluster = phase(
        PhaseName::Cluster,
        61.8,
        Some(15.0),
        vec![step("create", 61.8, 12.5, Status::Ok)],
        false,
    );
    let load = phase(
        PhaseName::Load,
        74.5,
        Some(45.0),
        vec![
            step("api", 74.5, load_seconds, Status::Ok).bytes(52_428_800),
            step("worker", 74.5, 18.0, Status::Ok).bytes(31_457_280),
        ],
        false,
    );
    vec![preflight(), build, cluster, load]
}

pub(crate) fn green() -> RunRecord {
    let mut phases = green_phases(20.1);
    phases.push(skipped(
        PhaseName::Deploy,
        180.0,
        "no namespaces, CRDs or deploy groups configured",
    ));
    record(facts("0a1b2c3d", "hybrid-e2e-0a1b2c3d"), &phases, false)
}

/// The `api` load took 41 s (a retried load), 2.7× the load phase's 15 s target set in the
/// config at line 14.
pub(crate) fn over_target() -> RunRecord {
    let mut phases = green_phases(41.0);
    let load = &mut phases[3];
    load.target = Some(Duration::from_secs(15));
    load.target_line = Some(14);
    load.status = Status::OverTarget;
    load.steps[0].attempts = 2;
    phases.push(skipped(
        PhaseName::Deploy,
        180.0,
        "no namespaces, CRDs or deploy groups configured",
    ));
    record(facts("0a1b2c3d", "hybrid-e2e-0a1b2c3d"), &phases, false)
}

pub(crate) fn build_failure() -> RunRecord {
    let failed = step("worker", 0.3, 9.7, Status::Failed).failed(
        Failure::new(
            FailureClass::Application,
            "`docker build` of localhost/team/worker:e2e-0a1b2c3d failed (exit 2)",
        )
        .hint("a Dockerfile step failed; its output shows which and why")
        .at("docker/worker.Dockerfile", Some(3))
        .tail(vec![
            "Step 3/4 : RUN make build".to_owned(),
            "go: cannot find main module; see 'go help modules'".to_owned(),
            "The command '/bin/sh -c make build' returned a non-zero code: 2 | 50% <done>".to_owned(),
        ]),
    );
    let build = phase(
        PhaseName::Build,
        0.3,
        Some(180.0),
        vec![step("api", 0.3, 9.8, Status::Cancelled), failed],
        false,
    );
    let reason = "an earlier phase did not succeed";
    let phases = vec![
        preflight(),
        build,
        skipped(PhaseName::Cluster, 15.0, reason),
        skipped(PhaseName::Load, 45.0, reason),
        skipped(PhaseName::Deploy, 180.0, reason),
    ];
    let mut facts = facts("0a1b2c3d", "hybrid-e2e-0a1b2c3d");
    facts.warnings =
        vec!["image `api`: `team/api` has no registry; using `localhost/team/api:e2e-0a1b2c3d` everywhere".to_owned()];
    record(facts, &phases, false)
}

/// All green until a service crash-loops in deploy: `datastorage` waited 3.0 s for `postgres`
/// and then worked 21.4 s; `gateway`, which depends on it, is cancelled.
pub(crate) fn deploy_failure() -> RunRecord {
    let failed = step("datastorage", 98.5, 21.4, Status::Failed).waited(3.0).failed(
        Failure::new(
            FailureClass::Application,
            "Deployment/datastorage failed: CrashLoopBackOff: container `datastorage`: back-off 1m20s restarting failed container",
        )
        .hint("the container keeps exiting; its last log lines (and its previous instance's) say why; diagnostics: diagnostics/deploy/example-e2e/deployment-datastorage.txt")
        .at("deploy/datastorage.yaml", Some(1))
        .tail(vec![
            "Deployment/datastorage at deploy/datastorage.yaml:1 (document 1): failed: pod datastorage-5d8f7c9b6a-0: CrashLoopBackOff: container `datastorage`: back-off 1m20s restarting failed container".to_owned(),
            "pod datastorage-5d8f7c9b6a-0: running; Ready=False ContainersNotReady (containers with unready status: [datastorage])".to_owned(),
            "  container datastorage: not ready; waiting CrashLoopBackOff (back-off 1m20s restarting failed container); restarts 4; last terminated Error exit 1".to_owned(),
            "event BackOff pod/datastorage-5d8f7c9b6a-0 (x6): Back-off restarting failed container datastorage".to_owned(),
            "logs of datastorage-5d8f7c9b6a-0/datastorage (previous instance) (last 2 of 2 lines; full: diagnostics/deploy/example-e2e/datastorage-5d8f7c9b6a-0.datastorage.previous.log):".to_owned(),
            "  | connecting to postgres:5432".to_owned(),
            "  | FATAL: password authentication failed for user \"datastorage\"".to_owned(),
        ])
        .excerpt("FATAL: password authentication failed for user \"datastorage\""),
    );
    let deploy = phase(
        PhaseName::Deploy,
        94.9,
        Some(180.0),
        vec![
            step("namespaces-crds", 94.9, 0.6, Status::Ok),
            step("postgres", 95.5, 3.0, Status::Ok).waited(0.6),
            failed,
            step("gateway", 119.9, 0.0, Status::Cancelled).waited(25.0),
        ],
        false,
    );
    let mut phases = green_phases(20.1);
    phases.push(deploy);
    record(facts("0a1b2c3d", "hybrid-e2e-0a1b2c3d"), &phases, false)
}

pub(crate) fn lint_failure() -> RunRecord {
    let findings = vec![
        Finding {
            path: "docker/api.Dockerfile".to_owned(),
            line: 2,
            column: 5,
            rule: "no-dnf-update".to_owned(),
            message: "`dnf -y update` upgrades every installed package".to_owned(),
        },
        Finding {
            path: "docker/db.Dockerfile".to_owned(),
            line: 7,
            column: 12,
            rule: "no-dnf-update".to_owned(),
            message: "`yum update` upgrades every installed package in stage `runtime`".to_owned(),
        },
    ];
    let mut failure = Failure::new(
        FailureClass::Application,
        "lint: docker/api.Dockerfile:2:5: `dnf -y update` upgrades every installed package [no-dnf-update]\ndocker/db.Dockerfile:7:12: `yum update` upgrades every installed package in stage `runtime` [no-dnf-update]",
    )
    .hint("fix the Dockerfile (`hybrid-e2e lint --fix`), suppress with a reason, or lower the rule in `lint: rules:`")
    .at("docker/api.Dockerfile", Some(2))
    .findings(findings);
    failure.column = Some(5);
    let preflight = phase(
        PhaseName::Preflight,
        0.0,
        None,
        vec![
            step("engine", 0.0, 0.1, Status::Ok),
            step("lint", 0.1, 0.02, Status::Ok).failed(failure),
        ],
        false,
    );
    let reason = "an earlier phase did not succeed";
    let phases = vec![
        preflight,
        skipped(PhaseName::Build, 180.0, reason),
        skipped(PhaseName::Cluster, 15.0, reason),
        skipped(PhaseName::Load, 45.0, reason),
        skipped(PhaseName::Deploy, 180.0, reason),
    ];
    let facts = RunFacts {
        dockerfile_findings: Some(DockerfileFindings { errors: 2, warnings: 1 }),
        ..facts("0a1b2c3d", "hybrid-e2e-0a1b2c3d")
    };
    record(facts, &phases, false)
}

/// Ctrl-C four seconds into the builds.
pub(crate) fn cancelled() -> RunRecord {
    let build = phase(
        PhaseName::Build,
        0.3,
        Some(180.0),
        vec![
            step("api", 0.3, 4.0, Status::Cancelled),
            step("worker", 0.3, 4.0, Status::Cancelled),
        ],
        true,
    );
    let reason = "an earlier phase did not succeed";
    let phases = vec![
        preflight(),
        build,
        skipped(PhaseName::Cluster, 15.0, reason),
        skipped(PhaseName::Load, 45.0, reason),
        skipped(PhaseName::Deploy, 180.0, reason),
    ];
    record(facts("0a1b2c3d", "hybrid-e2e-0a1b2c3d"), &phases, true)
}

/// Two matrix jobs with their own run ids and clusters: `api` green, `worker` failed.
pub(crate) fn matrix() -> [RunRecord; 2] {
    let mut api = green();
    api.run_id = "20261122-100000-aaaa0001".to_owned();
    api.cluster_name = "hybrid-e2e-aaaa0001".to_owned();
    api.config_file = Some("services/api/hybrid-e2e.yaml".to_owned());
    let mut worker = build_failure();
    worker.run_id = "20261122-100000-bbbb0002".to_owned();
    worker.cluster_name = "hybrid-e2e-bbbb0002".to_owned();
    worker.config_file = Some("services/worker/hybrid-e2e.yaml".to_owned());
    [api, worker]
}

/// 5,000 builds, 500 of them failing with 30 long output lines each: hits every size limit.
pub(crate) fn huge() -> RunRecord {
    let steps: Vec<StepAt> = (0..5_000)
        .map(|index| {
            let name = format!("image-{index:04}");
            let start = 0.3 + f64::from(index % 50);
            let seconds = 30.0 + f64::from(index % 7);
            if index % 10 == 0 {
                step(&name, start, seconds, Status::Failed).failed(
                    Failure::new(
                        FailureClass::Application,
                        format!("`docker build` of localhost/team/{name}:e2e failed (exit 2)"),
                    )
                    .at(format!("docker/{name}.Dockerfile"), None)
                    .tail(
                        (0..30)
                            .map(|line| format!("{line:02} {}", "compiler output ".repeat(8)))
                            .collect(),
                    ),
                )
            } else {
                step(&name, start, seconds, Status::Ok)
            }
        })
        .collect();
    let build = phase(PhaseName::Build, 0.3, Some(180.0), steps, false);
    let reason = "an earlier phase did not succeed";
    let phases = vec![
        preflight(),
        build,
        skipped(PhaseName::Cluster, 15.0, reason),
        skipped(PhaseName::Load, 45.0, reason),
        skipped(PhaseName::Deploy, 180.0, reason),
    ];
    record(facts("0a1b2c3d", "hybrid-e2e-0a1b2c3d"), &phases, false)
}

/// The green setup, then the test phase: the suite's JUnit (the Ginkgo unit fixture and the
/// go-junit-report one) with two Ginkgo failures and one `go test` failure.
pub(crate) fn test_failure() -> RunRecord {
    let mut phases = green_phases(20.1);
    phases.push(skipped(
        PhaseName::Deploy,
        180.0,
        "no namespaces, CRDs or deploy groups configured",
    ));
    // What `testresults` reads from the Ginkgo and go-junit-report fixtures
    // (tests/fixtures/junit), built here: `report` reads `model` only.
    let case = |name: &str, classname: &str, seconds: f64, outcome: TestOutcome| TestCaseResult {
        name: name.to_owned(),
        classname: Some(classname.to_owned()),
        duration_seconds: seconds,
        outcome,
        message: None,
        kind: None,
        file: None,
        line: None,
        details: Vec::new(),
    };
    let failed = |mut case: TestCaseResult, message: &str, kind: Option<&str>, file: &str, line: usize| {
        case.message = Some(message.to_owned());
        case.kind = kind.map(str::to_owned);
        case.file = Some(file.to_owned());
        case.line = Some(line);
        case.details = message.lines().map(str::to_owned).collect();
        case
    };
    let ginkgo = "RemediationOrchestrator Unit Suite";
    let go = "github.com/org/app/pkg/store";
    let suites = vec![
        TestSuiteResult {
            name: ginkgo.to_owned(),
            source: Some("out/e2e.xml".to_owned()),
            duration_seconds: Some(1.108),
            cases: vec![
                case("[BeforeSuite]", ginkgo, 0.012, TestOutcome::Passed),
                failed(
                    case(
                        "[It] Phase transitions 1.4: Pending→Processing preserves gateway metadata",
                        ginkgo,
                        0.021,
                        TestOutcome::Failed,
                    ),
                    "Expected\n    <string>: \nto equal\n    <string>: test-group",
                    Some("failed"),
                    "test/unit/remediationorchestrator/controller/reconcile_phases_test.go",
                    205,
                ),
                failed(
                    case(
                        "[It] Audit events AE-7.5: Approval Requested emits orchestrator.approval.requested",
                        ginkgo,
                        0.3,
                        TestOutcome::Failed,
                    ),
                    "Missing event orchestrator.approval.requested",
                    Some("failed"),
                    "test/unit/remediationorchestrator/controller/audit_events_test.go",
                    225,
                ),
                case(
                    "[It] Phase transitions 1.1: New→Pending",
                    ginkgo,
                    0.775,
                    TestOutcome::Passed,
                ),
            ],
        },
        TestSuiteResult {
            name: go.to_owned(),
            source: Some("out/e2e.xml".to_owned()),
            duration_seconds: Some(0.012),
            cases: vec![
                case("TestGet", go, 0.0, TestOutcome::Passed),
                failed(
                    case("TestPut", go, 0.01, TestOutcome::Failed),
                    "store_test.go:42: put: got 1, want 2",
                    None,
                    "pkg/store/store_test.go",
                    42,
                ),
                TestCaseResult {
                    message: Some("Skipped".to_owned()),
                    ..case("TestNeedsDatabase", go, 0.0, TestOutcome::Skipped)
                },
            ],
        },
    ];
    let tests = crate::model::TestResults::new(vec!["out/e2e.xml".to_owned()], suites, Vec::new());
    let mut suite = step("suite", 95.0, 41.5, Status::Ok).failed(
        Failure::new(
            FailureClass::Application,
            "3 of 7 test(s) failed; first: [It] Phase transitions 1.4: Pending→Processing preserves gateway metadata",
        )
        .at(
            "test/unit/remediationorchestrator/controller/reconcile_phases_test.go",
            Some(205),
        )
        .tail(vec![
            "Ran 4 of 4 Specs in 1.108 seconds".to_owned(),
            "FAIL! -- 2 Passed | 2 Failed".to_owned(),
        ]),
    );
    suite.report.tests = Some(Box::new(tests));
    let mut test = phase(PhaseName::Test, 95.0, Some(600.0), vec![suite], false);
    test.target_line = Some(30);
    phases.push(test);
    // After the failed suite the coverage is still captured: one image measured, one without Go's data.
    let mut measured = step("remediationorchestrator", 190.2, 3.4, Status::Ok);
    measured.report.coverage = Some(Box::new(crate::model::CoverageResult {
        image: "remediationorchestrator".to_owned(),
        workloads: vec!["Deployment kubernaut-system/remediationorchestrator-controller: scaled to 0".to_owned()],
        directory: "coverage/remediationorchestrator".to_owned(),
        meta_files: 1,
        counter_files: 2,
        profile: Some("coverage/remediationorchestrator.coverprofile".to_owned()),
        statements: Some(4210),
        covered_statements: Some(547),
        percent: Some(547.0 * 100.0 / 4210.0),
        target_percent: Some(10.0),
        packages: vec![
            package(
                "github.com/jordigilh/kubernaut/internal/controller/remediationorchestrator",
                2900,
                498,
            ),
            package(
                "github.com/jordigilh/kubernaut/pkg/remediationorchestrator/routing",
                1190,
                49,
            ),
            package("github.com/jordigilh/kubernaut/cmd/remediationorchestrator", 120, 0),
        ],
        problems: Vec::new(),
    }));
    let mut unmeasured = step("datastorage", 190.2, 1.1, Status::Ok);
    unmeasured.report.warned = true;
    unmeasured.report.coverage = Some(Box::new(crate::model::CoverageResult {
        image: "datastorage".to_owned(),
        workloads: vec!["Deployment kubernaut-system/datastorage: scaled to 0".to_owned()],
        directory: "coverage/datastorage".to_owned(),
        meta_files: 1,
        counter_files: 0,
        target_percent: Some(10.0),
        problems: vec![
            "metadata but no counter files: the process did not exit normally (Go writes counters only when main returns or os.Exit runs: handle SIGTERM and return; killed by the signal, still running or unable to write to GOCOVERDIR, it writes none)".to_owned(),
        ],
        ..crate::model::CoverageResult::default()
    }));
    phases.push(phase(
        PhaseName::Coverage,
        190.2,
        None,
        vec![measured, unmeasured],
        false,
    ));
    record(facts("5e6f7a8b", "hybrid-e2e-5e6f7a8b"), &phases, false)
}

fn package(name: &str, statements: u64, covered: u64) -> crate::model::PackageCoverage {
    crate::model::PackageCoverage {
        package: name.to_owned(),
        statements,
        covered_statements: covered,
        percent: Some(covered as f64 * 100.0 / statements as f64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test phase is its own: the setup's time, budget and verdict are the setup's alone; a
    /// test phase over its own target makes the run over target, not the setup.
    #[test]
    fn the_test_phase_never_spends_the_setup_s_budget() {
        let run = test_failure();
        let setup: f64 = run
            .phases
            .iter()
            .filter(|phase| ["build", "cluster", "load", "deploy"].contains(&phase.name.as_str()))
            .map(|phase| phase.duration_seconds)
            .sum();
        assert!((run.setup_seconds - setup).abs() < 1e-9);
        assert_eq!(run.status, Status::Failed);
        assert_eq!(run.failed_phase.as_deref(), Some("test"));
        assert_eq!(run.failure_class, Some(FailureClass::Application));
        assert!(run.within_target, "the setup itself was within its budget");

        let mut phases = green_phases(20.1);
        phases.push(skipped(PhaseName::Deploy, 180.0, "nothing to deploy"));
        phases.push(phase(
            PhaseName::Test,
            95.0,
            Some(10.0),
            vec![step("suite", 95.0, 30.0, Status::Ok)],
            false,
        ));
        let run = record(facts("5e6f7a8b", "hybrid-e2e-5e6f7a8b"), &phases, false);
        assert_eq!(run.status, Status::OverTarget, "the test phase is over its own target");
        assert!(run.within_target, "but the setup is not");
    }

    /// The fixtures are consistent with themselves: every phase spans its steps, the setup is
    /// the sum of the setup phases, an over-target phase really is over.
    #[test]
    fn every_fixture_follows_from_its_timeline() {
        let [api, worker] = matrix();
        for run in [
            green(),
            over_target(),
            build_failure(),
            deploy_failure(),
            lint_failure(),
            cancelled(),
            api,
            worker,
        ] {
            let setup: f64 = run
                .phases
                .iter()
                .filter(|phase| matches!(phase.name.as_str(), "build" | "cluster" | "load" | "deploy"))
                .map(|phase| phase.duration_seconds)
                .sum();
            assert!((run.setup_seconds - setup).abs() < 1e-6, "{}", run.run_id);
            for phase in &run.phases {
                for step in &phase.steps {
                    assert!(
                        step.duration_seconds <= phase.duration_seconds + 1e-6,
                        "{}/{} longer than its phase",
                        phase.name,
                        step.name
                    );
                }
                if phase.status == Status::OverTarget {
                    assert!(phase.duration_seconds > phase.target_seconds.expect("target"));
                }
            }
        }
        let over = over_target();
        let load = over.phases.iter().find(|phase| phase.name == "load").expect("load");
        assert!((load.duration_seconds / load.target_seconds.expect("target") - 2.74).abs() < 0.05);
    }
}
