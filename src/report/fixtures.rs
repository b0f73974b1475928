//! Run records for the reporters' snapshot tests: shaped like real `timings.json` files.

use crate::model::{FailureClass, Finding, PhaseRecord, RunRecord, Status, StepRecord};

fn at(seconds: f64) -> String {
    let base = chrono::DateTime::parse_from_rfc3339("2026-11-22T10:00:00.000Z").expect("base time");
    (base + chrono::Duration::milliseconds((seconds * 1000.0) as i64))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

pub(crate) fn step(name: &str, start: f64, seconds: f64, status: Status) -> StepRecord {
    StepRecord {
        name: name.to_owned(),
        started_at: Some(at(start)),
        finished_at: Some(at(start + seconds)),
        duration_seconds: seconds,
        status,
        failure_class: None,
        message: None,
        hint: None,
        file: None,
        line: None,
        column: None,
        bytes: None,
        bytes_per_second: None,
        attempts: 1,
        log: Some(format!("logs/x/{name}.log")),
        tail: Vec::new(),
        findings: Vec::new(),
    }
}

fn phase(
    name: &str,
    start: f64,
    seconds: f64,
    target: Option<f64>,
    status: Status,
    steps: Vec<StepRecord>,
) -> PhaseRecord {
    PhaseRecord {
        name: name.to_owned(),
        started_at: Some(at(start)),
        finished_at: Some(at(start + seconds)),
        duration_seconds: seconds,
        target_seconds: target,
        target_line: None,
        status,
        failure_class: None,
        message: None,
        steps,
    }
}

fn base(status: Status, phases: Vec<PhaseRecord>) -> RunRecord {
    let setup = phases
        .iter()
        .filter(|phase| phase.target_seconds.is_some())
        .map(|phase| phase.duration_seconds)
        .sum();
    RunRecord {
        format_version: 1,
        run_id: "20261122-100000-0a1b2c3d".to_owned(),
        config_file: Some("hybrid-e2e.yaml".to_owned()),
        config_hash: "ab".repeat(32),
        commit: Some("0123456789abcdef0123456789abcdef01234567".to_owned()),
        host: "runner".to_owned(),
        engine: Some("docker".to_owned()),
        engine_version: Some("28.2.2".to_owned()),
        kind_version: Some("kind v0.32.0 go1.25.1 linux/amd64".to_owned()),
        cluster_name: "hybrid-e2e-0a1b2c3d".to_owned(),
        images: vec!["localhost/team/api:e2e-0a1b2c3d".to_owned()],
        started_at: at(0.0),
        finished_at: Some(at(200.0)),
        status,
        failure_class: None,
        failed_phase: None,
        message: None,
        setup_seconds: setup,
        total_target_seconds: 360.0,
        within_target: status == Status::Ok,
        phases,
        warnings: Vec::new(),
    }
}

fn preflight() -> PhaseRecord {
    phase(
        "preflight",
        0.0,
        0.4,
        None,
        Status::Ok,
        vec![step("engine", 0.0, 0.0, Status::Ok), step("kind", 0.0, 0.0, Status::Ok)],
    )
}

pub(crate) fn green() -> RunRecord {
    let mut load = step("api", 75.0, 20.0, Status::Ok);
    load.bytes = Some(52_428_800);
    load.bytes_per_second = Some(2_621_440.0);
    base(
        Status::Ok,
        vec![
            preflight(),
            phase(
                "build",
                1.0,
                61.3,
                Some(180.0),
                Status::Ok,
                vec![
                    step("api", 1.0, 58.1, Status::Ok),
                    step("worker", 1.0, 61.3, Status::Ok),
                ],
            ),
            phase(
                "cluster",
                62.3,
                12.5,
                Some(15.0),
                Status::Ok,
                vec![step("create", 62.3, 12.5, Status::Ok)],
            ),
            phase(
                "load",
                74.8,
                20.2,
                Some(45.0),
                Status::Ok,
                vec![load, step("worker", 75.0, 18.0, Status::Ok)],
            ),
            phase("deploy", 95.0, 0.0, Some(180.0), Status::Skipped, Vec::new()),
        ],
    )
}

pub(crate) fn over_target() -> RunRecord {
    let mut run = green();
    run.phases[2].duration_seconds = 41.0;
    run.phases[2].status = Status::OverTarget;
    run.phases[2].target_line = Some(14);
    run.phases[2].steps[0].duration_seconds = 41.0;
    run.phases[2].steps[0].attempts = 2;
    run.status = Status::OverTarget;
    run.within_target = false;
    run.message = Some("over target".to_owned());
    run
}

pub(crate) fn build_failure() -> RunRecord {
    let mut failed = step("worker", 1.0, 9.7, Status::Failed);
    failed.failure_class = Some(FailureClass::Application);
    failed.message = Some("`docker build` of localhost/team/worker:e2e failed (exit 1)".to_owned());
    failed.hint = Some("a Dockerfile step failed; its output is above".to_owned());
    failed.file = Some("docker/worker.Dockerfile".to_owned());
    failed.line = Some(3);
    failed.tail = vec![
        "Step 3/4 : RUN make build".to_owned(),
        "go: cannot find main module; see 'go help modules'".to_owned(),
        "The command '/bin/sh -c make build' returned a non-zero code: 2 | 50% <done>".to_owned(),
    ];
    let mut run = base(
        Status::Failed,
        vec![
            preflight(),
            phase(
                "build",
                1.0,
                9.7,
                Some(180.0),
                Status::Failed,
                vec![step("api", 1.0, 9.7, Status::Cancelled), failed],
            ),
            phase("cluster", 0.0, 0.0, Some(15.0), Status::Skipped, Vec::new()),
            phase("load", 0.0, 0.0, Some(45.0), Status::Skipped, Vec::new()),
            phase("deploy", 0.0, 0.0, Some(180.0), Status::Skipped, Vec::new()),
        ],
    );
    run.phases[1].message = Some("worker: `docker build` failed".to_owned());
    run.failure_class = Some(FailureClass::Application);
    run.failed_phase = Some("build".to_owned());
    run.message = Some("build failed: worker: `docker build` of localhost/team/worker:e2e failed (exit 1)".to_owned());
    run.warnings =
        vec!["image `api`: `team/api` has no registry; using `localhost/team/api:e2e-0a1b2c3d` everywhere".to_owned()];
    run
}

/// All green until a service crash-loops in deploy; the group after it is cancelled.
pub(crate) fn deploy_failure() -> RunRecord {
    let mut run = green();
    let mut failed = step("datastorage", 98.1, 21.4, Status::Failed);
    failed.failure_class = Some(FailureClass::Application);
    failed.message =
        Some("Deployment/datastorage failed: CrashLoopBackOff: container `datastorage`: back-off 1m20s restarting failed container".to_owned());
    failed.hint = Some(
        "the container keeps exiting; its last log lines (and its previous instance's) say why; diagnostics: diagnostics/deploy/example-e2e/deployment-datastorage.txt"
            .to_owned(),
    );
    failed.file = Some("deploy/datastorage.yaml".to_owned());
    failed.line = Some(1);
    failed.tail = vec![
        "Deployment/datastorage at deploy/datastorage.yaml:1 (document 1): failed: pod datastorage-5d8f7c9b6a-0: CrashLoopBackOff: container `datastorage`: back-off 1m20s restarting failed container".to_owned(),
        "pod datastorage-5d8f7c9b6a-0: running; Ready=False ContainersNotReady (containers with unready status: [datastorage])".to_owned(),
        "  container datastorage: not ready; waiting CrashLoopBackOff (back-off 1m20s restarting failed container); restarts 4; last terminated Error exit 1".to_owned(),
        "event BackOff pod/datastorage-5d8f7c9b6a-0 (x6): Back-off restarting failed container datastorage".to_owned(),
        "logs of datastorage-5d8f7c9b6a-0/datastorage (previous instance) (last 2 of 2 lines; full: diagnostics/deploy/example-e2e/datastorage-5d8f7c9b6a-0.datastorage.previous.log):".to_owned(),
        "  | connecting to postgres:5432".to_owned(),
        "  | FATAL: password authentication failed for user \"datastorage\"".to_owned(),
    ];
    let mut cancelled = step("gateway", 95.2, 24.3, Status::Cancelled);
    cancelled.log = None;
    run.phases[4] = phase(
        "deploy",
        95.0,
        24.5,
        Some(180.0),
        Status::Failed,
        vec![
            step("namespaces-crds", 95.0, 0.6, Status::Ok),
            step("postgres", 95.2, 2.9, Status::Ok),
            failed,
            cancelled,
        ],
    );
    run.phases[4].message = Some("datastorage: Deployment/datastorage failed: CrashLoopBackOff".to_owned());
    run.phases[4].failure_class = Some(FailureClass::Application);
    run.status = Status::Failed;
    run.within_target = false;
    run.failure_class = Some(FailureClass::Application);
    run.failed_phase = Some("deploy".to_owned());
    run.message = Some("deploy failed: datastorage: Deployment/datastorage failed: CrashLoopBackOff".to_owned());
    run.setup_seconds = 61.3 + 12.5 + 20.2 + 24.5;
    run
}

pub(crate) fn lint_failure() -> RunRecord {
    let mut lint = step("lint", 0.0, 0.0, Status::Failed);
    lint.failure_class = Some(FailureClass::Application);
    lint.message = Some("lint: docker/api.Dockerfile:2:5: `dnf -y update` upgrades every installed package [no-dnf-update]\ndocker/db.Dockerfile:7:12: `yum update` upgrades every installed package in stage `runtime` [no-dnf-update]".to_owned());
    lint.file = Some("docker/api.Dockerfile".to_owned());
    lint.findings = vec![
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
    let mut run = base(
        Status::Failed,
        vec![phase("preflight", 0.0, 0.3, None, Status::Failed, vec![lint])],
    );
    run.failure_class = Some(FailureClass::Application);
    run.failed_phase = Some("preflight".to_owned());
    run
}

pub(crate) fn cancelled() -> RunRecord {
    let mut run = base(
        Status::Cancelled,
        vec![
            preflight(),
            phase(
                "build",
                1.0,
                4.0,
                Some(180.0),
                Status::Cancelled,
                vec![step("api", 1.0, 4.0, Status::Cancelled)],
            ),
        ],
    );
    run.failure_class = Some(FailureClass::Infrastructure);
    run.message = Some("cancelled by a signal".to_owned());
    run
}

/// 5,000 steps, hundreds of them failing with long output: hits every size limit.
pub(crate) fn huge() -> RunRecord {
    let steps: Vec<StepRecord> = (0..5_000)
        .map(|index| {
            let failed = (index as usize).is_multiple_of(10);
            let mut step = step(
                &format!("image-{index:04}"),
                (index % 50) as f64,
                30.0 + (index % 7) as f64,
                if failed { Status::Failed } else { Status::Ok },
            );
            if failed {
                step.failure_class = Some(FailureClass::Application);
                step.message = Some(format!(
                    "`docker build` of localhost/team/image-{index:04}:e2e failed (exit 2)"
                ));
                step.file = Some(format!("docker/image-{index:04}.Dockerfile"));
                step.tail = (0..30)
                    .map(|line| format!("{line:02} {}", "compiler output ".repeat(8)))
                    .collect();
            }
            step
        })
        .collect();
    let mut run = base(
        Status::Failed,
        vec![
            preflight(),
            phase("build", 1.0, 400.0, Some(180.0), Status::Failed, steps),
        ],
    );
    run.failure_class = Some(FailureClass::Application);
    run.failed_phase = Some("build".to_owned());
    run.message = Some("build failed".to_owned());
    run
}
