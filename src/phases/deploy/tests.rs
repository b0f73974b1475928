//! The deploy phase end to end against the in-process fake API server (tests/fake-apiserver):
//! the real kube client, discovery, server-side apply, the wait and the diagnosis run unchanged.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fake_apiserver::{Behaviour, FakeApiServer, Script};
use tokio_util::sync::CancellationToken;

use super::{DeployOptions, PREPARE_STEP, group_steps};
use crate::model::{FailureClass, PhaseName, PhaseReport, Reporters, Status};
use crate::plan::PlannedGroup;
use crate::runner::{self, PhaseOptions};
use crate::test_support::runtime;

fn deployment(name: &str, namespace: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n        - name: {name}\n          image: localhost/team/{name}:e2e\n          imagePullPolicy: Never\n"
    )
}

fn service(name: &str, namespace: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  selector: {{app: {name}}}\n  ports:\n    - port: 80\n"
    )
}

struct Deploy {
    dir: tempfile::TempDir,
    groups: Vec<PlannedGroup>,
    namespaces: Vec<String>,
    crd_files: Vec<PathBuf>,
    apply_concurrency: usize,
    fail_fast: bool,
    /// Event-driven readiness (`mode: pipelined`).
    watch: bool,
    coverage: Option<crate::coverage::CoverageSpec>,
}

impl Deploy {
    fn new(files: &[(&str, String)]) -> Deploy {
        let dir = tempfile::tempdir().expect("tempdir");
        for (path, body) in files {
            std::fs::write(dir.path().join(path), body).expect("write");
        }
        Deploy {
            dir,
            groups: Vec::new(),
            namespaces: vec!["team".to_owned()],
            crd_files: Vec::new(),
            apply_concurrency: 16,
            fail_fast: true,
            watch: false,
            coverage: None,
        }
    }

    fn group(mut self, name: &str, files: &[&str], depends_on: &[&str], timeout: Duration) -> Deploy {
        self.groups.push(PlannedGroup {
            name: name.to_owned(),
            manifests: files.iter().map(|file| (*file).to_owned()).collect(),
            depends_on: depends_on.iter().map(|name| (*name).to_owned()).collect(),
            wait_for: Vec::new(),
            wait_for_lines: Vec::new(),
            line: 1,
            timeout,
            files: files.iter().map(|file| self.dir.path().join(file)).collect(),
        });
        self
    }

    fn run(&self, api: &FakeApiServer) -> PhaseReport {
        let kubeconfig = self.dir.path().join("kubeconfig");
        std::fs::write(&kubeconfig, api.kubeconfig()).expect("kubeconfig");
        let options = DeployOptions {
            kubeconfig,
            report_dir: self.dir.path().join("report"),
            config_file: self.dir.path().join("hybrid-e2e.yaml"),
            namespaces: self.namespaces.clone(),
            crd_files: self.crd_files.clone(),
            groups: self.groups.clone(),
            apply_concurrency: self.apply_concurrency,
            poll: Duration::from_millis(50),
            unschedulable_window: Duration::from_millis(300),
            fail_fast: self.fail_fast,
            watch: self.watch,
            coverage: self.coverage.clone(),
        };
        let steps = group_steps(options);
        let phase_options = PhaseOptions {
            concurrency: steps.len(),
            fail_fast: self.fail_fast,
            target: None,
            target_line: None,
        };
        let reporters = Arc::new(Reporters::new(Vec::new()));
        runtime().block_on(runner::run_phase(
            PhaseName::Deploy,
            steps,
            phase_options,
            &CancellationToken::new(),
            &reporters,
            &self.dir.path().join("report"),
        ))
    }

    fn log(&self, step: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("report/logs/deploy/{step}.log"))).unwrap_or_default()
    }

    fn report_file(&self, relative: &str) -> String {
        std::fs::read_to_string(self.dir.path().join("report").join(relative))
            .unwrap_or_else(|error| panic!("{relative}: {error}"))
    }
}

/// The images the tests' manifests run, loaded into the cluster: the fake API server starts a
/// pod only for images the node has (`an_image_that_was_never_loaded_...` loads nothing).
const LOADED: &[&str] = &[
    "localhost/team/api:e2e",
    "localhost/team/db:e2e",
    "localhost/team/web:e2e",
    "localhost/team/migrate:e2e",
    "localhost/team/worker:e2e",
];

fn script(behaviours: &[(&str, Behaviour)]) -> Script {
    let mut script = Script::default().loaded(LOADED);
    for (name, behaviour) in behaviours {
        script.behaviours.insert((*name).to_owned(), behaviour.clone());
    }
    script
}

fn statuses(report: &PhaseReport) -> Vec<(String, Status)> {
    report
        .steps
        .iter()
        .map(|step| (step.name.clone(), step.status))
        .collect()
}

#[test]
fn groups_apply_server_side_in_dependency_order_and_wait_once() {
    let api = FakeApiServer::start(script(&[
        ("db", Behaviour::ReadyAfter(Duration::from_millis(400))),
        ("api", Behaviour::ReadyAfter(Duration::from_millis(100))),
    ]));
    let deploy = Deploy::new(&[
        (
            "db.yaml",
            format!("{}---\n{}", deployment("db", "team"), service("db", "team")),
        ),
        ("api.yaml", deployment("api", "team")),
    ])
    .group("db", &["db.yaml"], &[], Duration::from_secs(20))
    .group("api", &["api.yaml"], &["db"], Duration::from_secs(20));
    let report = deploy.run(&api);
    assert_eq!(report.status, Status::Ok, "{:#?}", report.failure());
    assert_eq!(
        statuses(&report),
        vec![
            (PREPARE_STEP.to_owned(), Status::Ok),
            ("db".to_owned(), Status::Ok),
            ("api".to_owned(), Status::Ok)
        ]
    );
    let requests = api.requests();
    let applies: Vec<_> = requests.iter().filter(|request| request.method == "PATCH").collect();
    assert_eq!(applies.len(), 4, "namespace, db, its service, api");
    for apply in &applies {
        assert_eq!(apply.content_type.as_deref(), Some("application/apply-patch+yaml"));
        for parameter in ["fieldManager=hybrid-e2e", "force=true", "fieldValidation=Strict"] {
            assert!(apply.query.contains(parameter), "{}", apply.query);
        }
    }
    let order: Vec<&str> = applies.iter().map(|apply| apply.path.as_str()).collect();
    assert_eq!(order[0], "/api/v1/namespaces/team");
    assert_eq!(
        order[3], "/apis/apps/v1/namespaces/team/deployments/api",
        "api waits for db: {order:?}"
    );
    // Aggregated discovery: two requests, not one per group.
    assert!(requests.iter().any(|request| {
        request.path == "/apis"
            && request
                .accept
                .as_deref()
                .is_some_and(|accept| accept.contains("apidiscovery.k8s.io"))
    }));
    let db_log = deploy.log("db");
    assert!(db_log.contains("Deployment/db: ready"), "{db_log}");
    assert_eq!(
        db_log.matches("Deployment/db: ready").count(),
        1,
        "only changes are printed: {db_log}"
    );
    assert!(deploy.log("api").contains("waiting for group `db` to be ready"));
}

#[test]
fn a_crash_loop_fails_fast_with_pod_states_events_and_both_instances_logs() {
    let log: Vec<String> = (1..=80).map(|line| format!("line {line}")).collect();
    let api = FakeApiServer::start(script(&[(
        "api",
        Behaviour::CrashLoop {
            exit_code: 3,
            log: log.clone(),
        },
    )]));
    let deploy = Deploy::new(&[(
        "api.yaml",
        format!("{}---\n{}", service("api", "team"), deployment("api", "team")),
    )])
    .group("api", &["api.yaml"], &[], Duration::from_secs(60));
    let started = Instant::now();
    let report = deploy.run(&api);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "fails fast, not at the timeout"
    );
    let (step, failure) = report.failure().expect("failed");
    assert_eq!(step.name, "api");
    assert_eq!(failure.class, FailureClass::Application);
    assert!(
        failure.message.starts_with("Deployment/api failed: CrashLoopBackOff"),
        "{}",
        failure.message
    );
    assert!(failure.file.as_deref().is_some_and(|file| file.ends_with("api.yaml")));
    assert_eq!(failure.line, Some(11), "the Deployment is the second document");
    let digest = failure.tail.join("\n");
    assert!(digest.contains("waiting CrashLoopBackOff"), "{digest}");
    assert!(digest.contains("last terminated Error exit 3"), "{digest}");
    assert!(digest.contains("event BackOff pod/api-"), "{digest}");
    assert!(digest.contains("(previous instance) (last 50 of"), "{digest}");
    assert!(
        digest.contains("  | line 80") && !digest.contains("  | line 30\n"),
        "last 50 lines only: {digest}"
    );
    let hint = failure.hint.as_deref().unwrap_or("");
    let summary = hint
        .split("diagnostics: ")
        .nth(1)
        .expect("the diagnostics file is named");
    let written = deploy.report_file(summary);
    assert!(written.contains("# object as last seen"), "{written}");
    let logs: Vec<_> = std::fs::read_dir(deploy.dir.path().join("report/diagnostics/deploy/team"))
        .expect("diagnostics")
        .filter_map(|entry| entry.ok().map(|entry| entry.file_name().to_string_lossy().into_owned()))
        .filter(|name| name.ends_with(".log"))
        .collect();
    assert_eq!(logs.len(), 2, "current and previous instance: {logs:?}");
}

/// Two objects fail in one group: the failure's excerpt (what annotations quote) is the failing
/// object's own last log line, not the last line of the whole digest (another object's).
#[test]
fn the_excerpt_is_the_failing_objects_own_output() {
    let api = FakeApiServer::start(script(&[
        (
            "api",
            Behaviour::CrashLoop {
                exit_code: 2,
                log: vec!["panic: api cannot read its config".to_owned()],
            },
        ),
        (
            "worker",
            Behaviour::CrashLoop {
                exit_code: 1,
                log: vec!["worker: unrelated line".to_owned()],
            },
        ),
    ]));
    let deploy = Deploy::new(&[(
        "all.yaml",
        format!("{}---\n{}", deployment("api", "team"), deployment("worker", "team")),
    )])
    .group("all", &["all.yaml"], &[], Duration::from_secs(60));
    let report = deploy.run(&api);
    let (_, failure) = report.failure().expect("failed");
    let cause = if failure.message.starts_with("Deployment/api") {
        "api cannot read"
    } else {
        "worker: unrelated"
    };
    let other = if cause.starts_with("api") {
        "worker: unrelated"
    } else {
        "api cannot read"
    };
    let excerpt = failure.excerpt.as_deref().expect("an excerpt");
    assert!(excerpt.contains(cause), "{excerpt} (failure: {})", failure.message);
    assert!(
        failure.tail.last().is_some_and(|last| last.contains(other)),
        "the digest ends with the other object: {:?}",
        failure.tail.last()
    );
}

#[test]
fn an_image_that_was_never_loaded_fails_fast_with_the_localhost_hint() {
    // Nothing loaded: the pod's `imagePullPolicy: Never` image is not on the node.
    let api = FakeApiServer::start(Script::default());
    let deploy = Deploy::new(&[("api.yaml", deployment("api", "team"))]).group(
        "api",
        &["api.yaml"],
        &[],
        Duration::from_secs(60),
    );
    let started = Instant::now();
    let report = deploy.run(&api);
    assert!(started.elapsed() < Duration::from_secs(20));
    let (_, failure) = report.failure().expect("failed");
    assert!(failure.message.contains("ErrImageNeverPull"), "{}", failure.message);
    assert!(
        failure.hint.as_deref().unwrap_or("").contains("localhost/"),
        "{:?}",
        failure.hint
    );
}

#[test]
fn a_failing_readiness_probe_times_out_as_an_application_failure_with_its_events() {
    let api = FakeApiServer::start(script(&[("api", Behaviour::ReadinessProbeFailing)]));
    let deploy = Deploy::new(&[("api.yaml", deployment("api", "team"))]).group(
        "api",
        &["api.yaml"],
        &[],
        Duration::from_secs(2),
    );
    let report = deploy.run(&api);
    let (_, failure) = report.failure().expect("failed");
    assert!(
        failure.message.starts_with("Deployment/api not ready within 2s"),
        "{}",
        failure.message
    );
    assert_eq!(failure.class, FailureClass::Application);
    let digest = failure.tail.join("\n");
    assert!(digest.contains("event Unhealthy pod/api-"), "{digest}");
    assert!(digest.contains("Readiness probe failed"), "{digest}");
    assert!(
        failure.hint.as_deref().unwrap_or("").contains("probe"),
        "{:?}",
        failure.hint
    );
}

#[test]
fn an_unschedulable_pod_is_an_infrastructure_failure_after_a_short_window() {
    let api = FakeApiServer::start(script(&[("api", Behaviour::Unschedulable)]));
    let deploy = Deploy::new(&[("api.yaml", deployment("api", "team"))]).group(
        "api",
        &["api.yaml"],
        &[],
        Duration::from_secs(60),
    );
    let started = Instant::now();
    let report = deploy.run(&api);
    assert!(started.elapsed() < Duration::from_secs(20));
    let (_, failure) = report.failure().expect("failed");
    assert_eq!(failure.class, FailureClass::Infrastructure, "{}", failure.message);
    assert!(failure.message.contains("Insufficient cpu"), "{}", failure.message);
}

#[test]
fn a_typo_is_rejected_by_strict_validation_naming_file_document_and_field() {
    let api = FakeApiServer::start(Script::default().loaded(LOADED));
    let typo = deployment("api", "team").replace("  replicas: 1\n", "  replicsa: 1\n");
    let deploy = Deploy::new(&[("api.yaml", format!("{}---\n{typo}", service("api", "team")))]).group(
        "api",
        &["api.yaml"],
        &[],
        Duration::from_secs(20),
    );
    let report = deploy.run(&api);
    let (_, failure) = report.failure().expect("failed");
    assert_eq!(failure.class, FailureClass::Application);
    assert!(
        failure.message.contains("Deployment/api at ")
            && failure
                .message
                .contains("api.yaml:11 (document 2): unknown field `spec.replicsa`"),
        "{}",
        failure.message
    );
    assert_eq!(failure.line, Some(11));
}

#[test]
fn crds_come_first_and_their_kinds_are_served_after_rediscovery() {
    let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  scope: Namespaced\n  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}\n  versions:\n    - name: v1\n      served: true\n      storage: true\n      schema:\n        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}\n".to_owned();
    let widget =
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1, namespace: team}\nspec: {size: 3}\n".to_owned();
    let api = FakeApiServer::start(script(&[(
        "widgets.example.com",
        Behaviour::CrdEstablishedAfter(Duration::from_millis(700)),
    )]));
    let mut deploy = Deploy::new(&[("crd.yaml", crd), ("widget.yaml", widget)]).group(
        "widgets",
        &["widget.yaml"],
        &[],
        Duration::from_secs(20),
    );
    deploy.crd_files = vec![deploy.dir.path().join("crd.yaml")];
    let report = deploy.run(&api);
    assert_eq!(report.status, Status::Ok, "{:#?}", report.failure());
    assert!(
        deploy
            .log(PREPARE_STEP)
            .contains("CRDs Established; discovery refreshed")
    );
    assert!(api.object("example.com/v1", "Widget", Some("team"), "w1").is_some());
}

#[test]
fn dropped_connections_and_legacy_discovery_do_not_break_the_wait() {
    let mut script = script(&[("api", Behaviour::ReadyAfter(Duration::from_millis(200)))]);
    script.drop_connections = 3;
    script.legacy_discovery_only = true;
    let api = FakeApiServer::start(script);
    let deploy = Deploy::new(&[("api.yaml", deployment("api", "team"))]).group(
        "api",
        &["api.yaml"],
        &[],
        Duration::from_secs(20),
    );
    let report = deploy.run(&api);
    assert_eq!(report.status, Status::Ok, "{:#?}", report.failure());
    assert!(
        api.requests().iter().any(|request| request.path == "/apis/apps/v1"),
        "fell back to per-group discovery"
    );
}

#[test]
fn a_missing_namespace_is_named_with_the_fix() {
    let api = FakeApiServer::start(Script::default().loaded(LOADED));
    let mut deploy = Deploy::new(&[("api.yaml", deployment("api", "elsewhere"))]).group(
        "api",
        &["api.yaml"],
        &[],
        Duration::from_secs(20),
    );
    deploy.namespaces.clear();
    let report = deploy.run(&api);
    let (_, failure) = report.failure().expect("failed");
    assert!(
        failure.message.contains("namespaces \"elsewhere\" not found"),
        "{}",
        failure.message
    );
    assert!(
        failure.hint.as_deref().unwrap_or("").contains("namespaces:"),
        "{:?}",
        failure.hint
    );
}

#[test]
fn applies_in_a_group_run_concurrently() {
    let script = Script {
        apply_latency: Duration::from_millis(100),
        ..Script::default().loaded(LOADED)
    };
    let api = FakeApiServer::start(script);
    let body: String = (0..20)
        .map(|index| {
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c{index}, namespace: team}}\ndata: {{k: v}}\n---\n"
            )
        })
        .collect();
    let deploy = Deploy::new(&[("many.yaml", body)]).group("many", &["many.yaml"], &[], Duration::from_secs(20));
    let started = Instant::now();
    let report = deploy.run(&api);
    assert_eq!(report.status, Status::Ok, "{:#?}", report.failure());
    assert!(api.max_concurrent_applies() > 4, "{}", api.max_concurrent_applies());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "20 x 100 ms applies took {:?}",
        started.elapsed()
    );
}

#[test]
fn the_cluster_gate_waits_for_the_node_coredns_and_the_default_service_account() {
    use crate::phases::cluster::gate::{GateChecks, wait_until_ready};
    let script = Script {
        node_ready_after: Duration::from_millis(300),
        coredns_ready_after: Duration::from_millis(500),
        ..Script::default().loaded(LOADED)
    };
    let api = FakeApiServer::start(script);
    let dir = tempfile::tempdir().expect("tempdir");
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, api.kubeconfig()).expect("kubeconfig");
    let checks = GateChecks {
        nodes: true,
        coredns: true,
        service_accounts: vec!["default".to_owned(), "absent".to_owned()],
    };
    let mut lines = Vec::new();
    let result = runtime().block_on(async {
        let client = crate::k8s::client::client(&kubeconfig).await.expect("client");
        wait_until_ready(
            &client,
            &checks,
            Duration::from_secs(2),
            Duration::from_millis(50),
            &CancellationToken::new(),
            &mut |line| lines.push(line),
        )
        .await
    });
    let message = result
        .expect_err("the absent namespace never gets its ServiceAccount")
        .to_string();
    assert!(
        message.contains("ServiceAccount absent/default does not exist yet"),
        "{message}"
    );
    assert!(!message.contains("node"), "the node became Ready: {message}");
    assert!(lines[0].contains("node kind-control-plane not Ready"), "{lines:?}");
    assert!(
        lines.iter().any(|line| line.contains("CoreDNS not available")),
        "{lines:?}"
    );
}

#[test]
fn without_fail_fast_a_group_whose_dependency_failed_is_not_applied() {
    // A chain db <- api <- web: both dependents carry db's class (an application failure),
    // including web, whose own blocker never ran.
    let api = FakeApiServer::start(script(&[("db", Behaviour::ImageNeverPulled)]));
    let mut deploy = Deploy::new(&[
        ("db.yaml", deployment("db", "team")),
        ("api.yaml", deployment("api", "team")),
        ("web.yaml", deployment("web", "team")),
    ])
    .group("db", &["db.yaml"], &[], Duration::from_secs(20))
    .group("api", &["api.yaml"], &["db"], Duration::from_secs(20))
    .group("web", &["web.yaml"], &["api"], Duration::from_secs(20));
    deploy.fail_fast = false;
    let report = deploy.run(&api);
    for (name, blocker) in [("api", "db"), ("web", "api")] {
        let step = report.steps.iter().find(|step| step.name == name).expect("step");
        assert_eq!(step.status, Status::Failed, "{name}");
        let failure = step.failure.as_ref().expect("failure");
        assert_eq!(
            failure.message,
            format!("not applied: group `{blocker}`, which it depends on, did not become ready")
        );
        assert_eq!(failure.class, FailureClass::Application, "{name} inherits db's class");
    }
    assert!(api.object("apps/v1", "Deployment", Some("team"), "api").is_none());
    assert!(api.object("apps/v1", "Deployment", Some("team"), "web").is_none());
}

#[test]
fn with_fail_fast_a_dependent_of_a_failed_group_is_cancelled_not_failed_twice() {
    let api = FakeApiServer::start(script(&[("db", Behaviour::ImageNeverPulled)]));
    let deploy = Deploy::new(&[
        ("db.yaml", deployment("db", "team")),
        ("api.yaml", deployment("api", "team")),
    ])
    .group("db", &["db.yaml"], &[], Duration::from_secs(20))
    .group("api", &["api.yaml"], &["db"], Duration::from_secs(20));
    let report = deploy.run(&api);
    assert_eq!(
        statuses(&report),
        vec![
            (PREPARE_STEP.to_owned(), Status::Ok),
            ("db".to_owned(), Status::Failed),
            ("api".to_owned(), Status::Cancelled)
        ]
    );
    assert_eq!(
        report.steps.iter().filter(|step| step.failure.is_some()).count(),
        1,
        "one failure, the real one"
    );
}

#[test]
fn a_failed_job_is_reported_by_its_failed_condition_with_its_pods_logs() {
    let job = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  namespace: team\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: migrate\n          image: localhost/team/migrate:e2e\n          imagePullPolicy: Never\n".to_owned();
    let api = FakeApiServer::start(script(&[("migrate", Behaviour::JobFails)]));
    let deploy = Deploy::new(&[("job.yaml", job)]).group("migrate", &["job.yaml"], &[], Duration::from_secs(20));
    let report = deploy.run(&api);
    let (step, failure) = report.failure().expect("failed");
    assert_eq!(step.name, "migrate");
    assert_eq!(failure.class, FailureClass::Application);
    assert!(
        failure.message.starts_with("Job/migrate failed: BackoffLimitExceeded"),
        "the Job's verdict, not its first pod's exit: {}",
        failure.message
    );
    let digest = failure.tail.join("\n");
    assert!(digest.contains("pod migrate-"), "{digest}");
    assert!(digest.contains("terminated Error exit 1"), "{digest}");
}

#[test]
fn a_wait_for_that_names_nothing_fails_before_anything_is_applied() {
    let api = FakeApiServer::start(Script::default().loaded(LOADED));
    let mut deploy = Deploy::new(&[("api.yaml", deployment("api", "team"))]).group(
        "api",
        &["api.yaml"],
        &[],
        Duration::from_secs(20),
    );
    deploy.groups[0].wait_for = vec!["deployment/apii".to_owned(), "deployment/api".to_owned()];
    let report = deploy.run(&api);
    let (_, failure) = report.failure().expect("failed");
    assert!(
        failure.message.contains("wait_for `deployment/apii` matches no object"),
        "{}",
        failure.message
    );
    assert!(api.object("apps/v1", "Deployment", Some("team"), "api").is_none());
}

#[test]
fn an_object_in_two_files_is_waited_for_without_a_false_not_found() {
    let api = FakeApiServer::start(Script::default().loaded(LOADED));
    let mut deploy = Deploy::new(&[
        ("api.yaml", deployment("api", "team")),
        ("again.yaml", deployment("api", "team")),
    ])
    .group("api", &["api.yaml", "again.yaml"], &[], Duration::from_secs(20));
    deploy.groups[0].wait_for = vec!["deployment/api".to_owned(), "deployments/api".to_owned()];
    let report = deploy.run(&api);
    assert_eq!(report.status, Status::Ok, "{:#?}", report.failure());
    assert!(!deploy.log("api").contains("not found"), "{}", deploy.log("api"));
}

/// Issue 19's bug report: the authwebhook Deployment's `defaultMode: 0400` must reach the API
/// server as 256 (r--------), an integer, as with `kubectl apply`; `0644`/`0755` (420/493) must be
/// accepted, where their decimal reading (644/755) is out of the server's 0–0777 range.
#[test]
fn the_bug_report_deployment_applies_its_octal_file_modes() {
    let api = FakeApiServer::start(script(&[]).loaded(&["localhost/team/authwebhook:e2e"]));
    let manifest = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: authwebhook\n  namespace: team\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: authwebhook}\n  template:\n    metadata:\n      labels: {app: authwebhook}\n    spec:\n      containers:\n        - name: authwebhook\n          image: localhost/team/authwebhook:e2e\n          imagePullPolicy: Never\n          volumeMounts:\n            - {name: certs, mountPath: /certs, readOnly: true}\n            - {name: config, mountPath: /config}\n      volumes:\n        - name: certs\n          secret:\n            secretName: authwebhook-certs\n            defaultMode: 0400\n        - name: config\n          configMap:\n            name: authwebhook-config\n            defaultMode: 0644\n            items:\n              - {key: run.sh, path: run.sh, mode: 0755}\n";
    let deploy = Deploy::new(&[("authwebhook.yaml", manifest.to_owned())]).group(
        "authwebhook",
        &["authwebhook.yaml"],
        &[],
        Duration::from_secs(20),
    );
    let report = deploy.run(&api);
    assert_eq!(report.status, Status::Ok, "{:?}", report.failure());
    let applied = api
        .object("apps/v1", "Deployment", Some("team"), "authwebhook")
        .expect("applied");
    let volumes = &applied["spec"]["template"]["spec"]["volumes"];
    assert_eq!(volumes[0]["secret"]["defaultMode"], serde_json::json!(256));
    assert!(volumes[0]["secret"]["defaultMode"].is_i64(), "sent as an integer");
    assert_eq!(volumes[1]["configMap"]["defaultMode"], serde_json::json!(420));
    assert_eq!(volumes[1]["configMap"]["items"][0]["mode"], serde_json::json!(493));
}

/// A manifest the server's validation rejects fails with the server's words, located at the
/// object's file and line (issue 20).
#[test]
fn what_the_server_rejects_is_located_in_the_manifest() {
    let api = FakeApiServer::start(script(&[]));
    let mismatched =
        deployment("api", "team").replace("    matchLabels: {app: api}\n", "    matchLabels: {app: apii}\n");
    let deploy = Deploy::new(&[("api.yaml", format!("{}---\n{mismatched}", service("api", "team")))]).group(
        "api",
        &["api.yaml"],
        &[],
        Duration::from_secs(20),
    );
    let report = deploy.run(&api);
    let (_, failure) = report.failure().expect("failed");
    assert_eq!(failure.class, FailureClass::Application);
    assert!(
        failure.message.contains("api.yaml:11 (document 2): Deployment.apps \"api\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"api\"}: `selector` does not match template `labels` (422 Invalid)"),
        "{}",
        failure.message
    );
    assert_eq!(failure.line, Some(11));
    assert!(failure.file.as_deref().is_some_and(|file| file.ends_with("api.yaml")));
    assert!(
        failure.hint.as_deref().unwrap_or("").contains("validation"),
        "{:?}",
        failure.hint
    );
}

/// A fractional number in an integer field fails the server's conversion (a 500 that is the
/// server's verdict): not retried, an application failure with a hint.
#[test]
fn a_fractional_integer_is_rejected_at_once_as_the_manifest_s_fault() {
    let api = FakeApiServer::start(script(&[]));
    let deploy = Deploy::new(&[(
        "api.yaml",
        deployment("api", "team").replace("replicas: 1", "replicas: 1.5"),
    )])
    .group("api", &["api.yaml"], &[], Duration::from_secs(20));
    let report = deploy.run(&api);
    let (_, failure) = report.failure().expect("failed");
    assert_eq!(failure.class, FailureClass::Application, "{}", failure.message);
    assert!(
        failure.message.contains("cannot convert float64 to int32"),
        "{}",
        failure.message
    );
    assert!(failure.hint.as_deref().unwrap_or("").contains("whole number"));
    let applies = api
        .requests()
        .iter()
        .filter(|request| request.method == "PATCH" && request.path.ends_with("/deployments/api"))
        .count();
    assert_eq!(applies, 1, "not retried");
}

/// We apply with `force=true`: a field another manager owns (here `kubectl` client-side apply's
/// replicas) is taken over instead of failing with 409.
#[test]
fn fields_another_manager_owns_are_taken_over_because_applies_are_forced() {
    let existing: serde_json::Value =
        crate::k8s::yaml::read_manifest(&deployment("api", "team").replace("replicas: 1", "replicas: 3"))
            .expect("YAML")
            .remove(0)
            .value;
    let api = FakeApiServer::start(Script {
        existing: vec![fake_apiserver::Owned {
            value: existing,
            manager: "kubectl-client-side-apply".to_owned(),
            operation: fake_apiserver::ManagerOperation::Update,
        }],
        ..script(&[])
    });
    let deploy = Deploy::new(&[("api.yaml", deployment("api", "team"))]).group(
        "api",
        &["api.yaml"],
        &[],
        Duration::from_secs(20),
    );
    let report = deploy.run(&api);
    assert_eq!(report.status, Status::Ok, "{:?}", report.failure());
    let applied = api
        .object("apps/v1", "Deployment", Some("team"), "api")
        .expect("applied");
    assert_eq!(applied["spec"]["replicas"], 1);
    assert!(
        api.requests()
            .iter()
            .filter(|request| request.method == "PATCH")
            .all(|request| request.query.contains("force=true") && request.query.contains("fieldManager=hybrid-e2e")),
        "every apply is forced"
    );
}

/// A manifest exported from a live cluster carries a stale `resourceVersion`: the server answers
/// 409 Conflict, and the failure says what to remove, at the manifest's line.
#[test]
fn a_stale_resource_version_is_a_conflict_with_the_fix() {
    let existing: serde_json::Value = crate::k8s::yaml::read_manifest(&deployment("api", "team"))
        .expect("YAML")
        .remove(0)
        .value;
    let api = FakeApiServer::start(Script {
        existing: vec![fake_apiserver::Owned {
            value: existing,
            manager: "hybrid-e2e".to_owned(),
            operation: fake_apiserver::ManagerOperation::Apply,
        }],
        ..script(&[])
    });
    let stale =
        deployment("api", "team").replace("  namespace: team\n", "  namespace: team\n  resourceVersion: \"1\"\n");
    let deploy = Deploy::new(&[("api.yaml", stale)]).group("api", &["api.yaml"], &[], Duration::from_secs(20));
    let report = deploy.run(&api);
    let (_, failure) = report.failure().expect("failed");
    assert_eq!(failure.class, FailureClass::Application);
    assert!(
        failure.message.contains("api.yaml:1 (document 1): Operation cannot be fulfilled on deployments.apps \"api\": the object has been modified"),
        "{}",
        failure.message
    );
    assert!(failure.message.contains("(409 Conflict)"), "{}", failure.message);
    assert!(
        failure.hint.as_deref().unwrap_or("").contains("resourceVersion"),
        "{:?}",
        failure.hint
    );
}

/// One scenario, as `(statuses, failure class, the failure message up to its first `:`)`.
type Outcome = (Vec<(String, Status)>, Option<FailureClass>, Option<String>);

fn outcome(report: &PhaseReport) -> Outcome {
    let failure = report.failure();
    (
        statuses(report),
        failure.map(|(_, failure)| failure.class),
        failure.map(|(_, failure)| failure.message.split(':').next().unwrap_or("").to_owned()),
    )
}

/// The event-driven wait (`mode: pipelined`) reaches the polling wait's outcome on every
/// scripted readiness story: ready in dependency order, a crash loop, an image never loaded,
/// a failing probe (timeout), an unschedulable pod, a failed Job, a CRD and its custom resource.
#[test]
fn the_event_driven_wait_reaches_the_polling_waits_outcomes() {
    let job = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  namespace: team\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - name: migrate\n          image: localhost/team/migrate:e2e\n          imagePullPolicy: Never\n".to_owned();
    let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  scope: Namespaced\n  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList}\n  versions:\n    - name: v1\n      served: true\n      storage: true\n      schema:\n        openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}\n".to_owned();
    let widget =
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w1, namespace: team}\nspec: {size: 3}\n".to_owned();
    type Scenario = (
        &'static str,
        Script,
        Vec<(&'static str, String)>,
        Vec<(&'static str, &'static [&'static str])>,
        Duration,
    );
    let scenarios: Vec<Scenario> = vec![
        (
            "ready in order",
            script(&[
                ("db", Behaviour::ReadyAfter(Duration::from_millis(300))),
                ("api", Behaviour::ReadyAfter(Duration::from_millis(100))),
            ]),
            vec![
                (
                    "db.yaml",
                    format!("{}---\n{}", deployment("db", "team"), service("db", "team")),
                ),
                ("api.yaml", deployment("api", "team")),
            ],
            vec![("db", &[]), ("api", &["db"])],
            Duration::from_secs(20),
        ),
        (
            "crash loop",
            script(&[(
                "api",
                Behaviour::CrashLoop {
                    exit_code: 3,
                    log: vec!["boom".to_owned()],
                },
            )]),
            vec![("api.yaml", deployment("api", "team"))],
            vec![("api", &[])],
            Duration::from_secs(60),
        ),
        (
            "never loaded",
            Script::default(),
            vec![("api.yaml", deployment("api", "team"))],
            vec![("api", &[])],
            Duration::from_secs(60),
        ),
        (
            "failing probe",
            script(&[("api", Behaviour::ReadinessProbeFailing)]),
            vec![("api.yaml", deployment("api", "team"))],
            vec![("api", &[])],
            Duration::from_secs(2),
        ),
        (
            "unschedulable",
            script(&[("api", Behaviour::Unschedulable)]),
            vec![("api.yaml", deployment("api", "team"))],
            vec![("api", &[])],
            Duration::from_secs(60),
        ),
        (
            "failed job",
            script(&[("migrate", Behaviour::JobFails)]),
            vec![("job.yaml", job)],
            vec![("job", &[])],
            Duration::from_secs(20),
        ),
        (
            "crd",
            script(&[(
                "widgets.example.com",
                Behaviour::CrdEstablishedAfter(Duration::from_millis(400)),
            )]),
            vec![("crd.yaml", crd), ("widget.yaml", widget)],
            vec![("widget", &[])],
            Duration::from_secs(20),
        ),
    ];
    for (name, script, files, groups, timeout) in scenarios {
        let mut outcomes = Vec::new();
        for watch in [false, true] {
            let api = FakeApiServer::start(script.clone());
            let mut deploy = Deploy::new(&files);
            for (group, depends_on) in &groups {
                let file = files
                    .iter()
                    .map(|(file, _)| *file)
                    .find(|file| file.starts_with(group) && !file.starts_with("crd"))
                    .expect("a file per group");
                deploy = deploy.group(group, &[file], depends_on, timeout);
            }
            if files.iter().any(|(file, _)| *file == "crd.yaml") {
                deploy.crd_files = vec![deploy.dir.path().join("crd.yaml")];
            }
            deploy.watch = watch;
            let report = deploy.run(&api);
            // A watcher lists first (and may decide from that list alone), then watches.
            let watcher_requests = api
                .requests()
                .iter()
                .filter(|request| request.query.contains("limit=500") || request.query.contains("watch=true"))
                .count();
            assert_eq!(watcher_requests > 0, watch, "{name}: watch {watch}");
            outcomes.push(outcome(&report));
        }
        assert_eq!(outcomes[0], outcomes[1], "{name}: polling vs watching");
    }
}

/// With a watch per group a dependent's first apply follows its dependency's readiness within
/// milliseconds (a 1 s poll would add up to a second), and a dropped watch is resumed.
#[test]
fn with_watches_a_dependent_applies_moments_after_its_dependency_is_ready() {
    let delay = Duration::from_millis(400);
    let mut script = script(&[
        ("db", Behaviour::ReadyAfter(delay)),
        ("api", Behaviour::ReadyAfter(Duration::from_millis(50))),
    ]);
    script.drop_watches_after = Some(Duration::from_millis(150));
    let api = FakeApiServer::start(script);
    let mut deploy = Deploy::new(&[
        ("db.yaml", deployment("db", "team")),
        ("api.yaml", deployment("api", "team")),
    ])
    .group("db", &["db.yaml"], &[], Duration::from_secs(20))
    .group("api", &["api.yaml"], &["db"], Duration::from_secs(20));
    deploy.watch = true;
    let report = deploy.run(&api);
    assert_eq!(report.status, Status::Ok, "{:#?}", report.failure());
    let ready = api
        .applied_at("apps/v1", "Deployment", Some("team"), "db")
        .expect("db applied")
        + delay;
    let dependent = api
        .requests()
        .iter()
        .find(|request| request.method == "PATCH" && request.path.ends_with("/deployments/api"))
        .expect("api applied")
        .at;
    let latency = dependent.saturating_duration_since(ready);
    assert!(dependent >= ready, "never before its dependency is ready");
    assert!(latency < Duration::from_millis(150), "detection latency {latency:?}");
    assert!(
        api.watch_requests() >= 3,
        "watches dropped every 150 ms were resumed: {}",
        api.watch_requests()
    );
}

/// Coverage images' containers are applied with `GOCOVERDIR` and the node directory (what the
/// API server stores, and so what the pods get); other workloads are applied as written.
#[test]
fn coverage_images_are_applied_with_the_coverage_directory() {
    let api = FakeApiServer::start(script(&[]));
    let mut deploy = Deploy::new(&[(
        "app.yaml",
        format!("{}---\n{}", deployment("api", "team"), deployment("web", "team")),
    )])
    .group("app", &["app.yaml"], &[], Duration::from_secs(20));
    deploy.coverage = Some(crate::coverage::CoverageSpec {
        dir: "/coverdata".to_owned(),
        run_id: "20261130-180000-0a1b2c3d".to_owned(),
        stop_timeout: Duration::from_secs(5),
        target: None,
        images: vec![crate::coverage::CoverageImage {
            name: "api".to_owned(),
            reference: "localhost/team/api:e2e".to_owned(),
        }],
    });
    let report = deploy.run(&api);
    assert_eq!(report.status, Status::Ok, "{report:?}");
    let api_object = api
        .object("apps/v1", "Deployment", Some("team"), "api")
        .expect("api stored");
    let pod = &api_object["spec"]["template"]["spec"];
    assert_eq!(
        pod["containers"][0]["env"][0],
        serde_json::json!({"name": "GOCOVERDIR", "value": "/coverdata"})
    );
    assert_eq!(pod["containers"][0]["volumeMounts"][0]["mountPath"], "/coverdata");
    assert_eq!(
        pod["volumes"][0]["hostPath"]["path"],
        "/coverdata/20261130-180000-0a1b2c3d/api"
    );
    let web = api
        .object("apps/v1", "Deployment", Some("team"), "web")
        .expect("web stored");
    assert!(web["spec"]["template"]["spec"].get("volumes").is_none(), "{web}");
}
