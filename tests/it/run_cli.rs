//! `hybrid-e2e run` end to end through the fakes at the process boundary (`docker`, `podman`,
//! `kind` from tests/fake-tools; the API server from tests/fake-apiserver): orchestration —
//! retries, cancellation, fail-fast, preserve, publishing — needs no engine. The real-engine
//! runs are in `real_engines`.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{BASE_IMAGE, Engines, Project, stderr, stdout};

pub(crate) const SETUP_FAILED: i32 = 1;
pub(crate) const INFRASTRUCTURE: i32 = 5;
pub(crate) const CANCELLED: i32 = 130;

pub(crate) fn config(engine: &str, prefix: &str, extra: &str) -> String {
    format!(
        "version: 1\nengine: {engine}\nimages:\n  - name: api\n    image: {prefix}/api\n    dockerfile: docker/api.Dockerfile\n    build_args: {{MSG: hello}}\n  - name: worker\n    image: localhost/{prefix}/worker:e2e\n    dockerfile: docker/worker.Dockerfile\n{extra}"
    )
}

/// Each test's images differ (`/id`), so parallel tests never share an image ID that one of
/// them deletes while another tags it.
pub(crate) fn dockerfiles(prefix: &str, worker_run: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "docker/api.Dockerfile",
            format!(
                "FROM {BASE_IMAGE}\nRUN echo {prefix} > /id\nARG MSG=none\nLABEL msg=$MSG\nRUN echo \"msg=$MSG\" > /msg\nCMD [\"cat\", \"/msg\"]\n"
            ),
        ),
        (
            "docker/worker.Dockerfile",
            format!("FROM {BASE_IMAGE}\nRUN echo {prefix} > /id\nRUN {worker_run}\n"),
        ),
    ]
}

fn project(engine: &str, prefix: &str, extra: &str, worker_run: &str) -> Project {
    project_on(Engines::Fake, engine, prefix, extra, worker_run)
}

/// The two-image project (`api`, `worker`) on `engines`.
pub(crate) fn project_on(engines: Engines, engine: &str, prefix: &str, extra: &str, worker_run: &str) -> Project {
    let files = dockerfiles(prefix, worker_run);
    let files: Vec<(&str, &str)> = files.iter().map(|(path, body)| (*path, body.as_str())).collect();
    match engines {
        Engines::Fake => Project::new(&config(engine, prefix, extra), &files),
        Engines::Real => Project::real(&config(engine, prefix, extra), &files),
    }
}

pub(crate) fn phase<'a>(timings: &'a Value, name: &str) -> &'a Value {
    timings["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .find(|phase| phase["name"] == name)
        .expect("phase present")
}

pub(crate) fn remove_images(engine: &str, timings: &Value) {
    for image in timings["images"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        let _ = std::process::Command::new(engine)
            .args(["image", "rm", "--force", image])
            .output();
    }
}

#[test]
fn dnf_update_in_a_dockerfile_stops_the_run_before_any_build() {
    let project = Project::new(
        "version: 1\nimages:\n  - {name: api, image: localhost/it-lint/api:1, dockerfile: Dockerfile}\n",
        &[(
            "Dockerfile",
            "FROM registry.access.redhat.com/ubi9/ubi:9.6\nRUN dnf -y update && dnf clean all\n",
        )],
    );
    let output = project.run(&["run", "--engine", "docker"], &[]);
    let timings = project.timings();
    let preflight = phase(&timings, "preflight");
    let lint = preflight["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|step| step["name"] == "lint")
        .expect("lint step");
    assert_eq!(lint["status"], "failed", "{}", stderr(&output));
    assert!(
        lint["message"].as_str().expect("message").contains("Dockerfile:2:5"),
        "{lint}"
    );
    assert_eq!(phase(&timings, "build")["status"], "skipped");
    assert_ne!(output.status.code(), Some(0));
}

#[test]
fn a_known_transient_kind_failure_is_retried_once_after_a_delete() {
    let project = project("docker", "it-retry", "", "true");
    let output = project.run(
        &["run"],
        &[
            ("FAKE_KIND_CREATE_FAILURE", "no-such-container"),
            ("FAKE_KIND_CREATE_FAIL_TIMES", "1"),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let timings = project.timings();
    let create = &phase(&timings, "cluster")["steps"][0];
    assert_eq!(create["attempts"], 2);
    assert!(
        timings["warnings"]
            .to_string()
            .contains("failed with a known transient error, so it was deleted and retried once"),
        "the retry says why: {}",
        timings["warnings"]
    );
    let cluster = timings["cluster_name"].as_str().expect("cluster");
    let calls: Vec<String> = project.kind_calls().into_iter().map(|(args, _)| args).collect();
    let create_index = |from: usize| {
        calls
            .iter()
            .skip(from)
            .position(|call| call.starts_with("create cluster"))
            .map(|index| index + from)
    };
    let first = create_index(0).expect("first create");
    let second = create_index(first + 1).expect("second create");
    let between = &calls[first + 1..second];
    assert!(
        between.iter().any(|call| call.starts_with("export logs")),
        "logs exported before the delete: {between:?}"
    );
    assert!(
        between
            .iter()
            .any(|call| call == &format!("delete cluster --name {cluster}")),
        "{between:?}"
    );
    assert!(
        project
            .path()
            .join("hybrid-e2e-report/diagnostics/kind-logs-attempt-1")
            .is_dir()
    );
}

#[test]
fn a_permanent_kind_failure_is_not_retried_and_the_cluster_is_preserved() {
    let project = project("docker", "it-permanent", "", "true");
    let output = project.run(
        &["run"],
        &[
            ("FAKE_KIND_CREATE_FAILURE", "kubeadm"),
            ("FAKE_KIND_CREATE_FAIL_TIMES", "always"),
        ],
    );
    assert_eq!(output.status.code(), Some(INFRASTRUCTURE), "{}", stderr(&output));
    let timings = project.timings();
    assert_eq!(timings["failure_class"], "infrastructure");
    assert_eq!(phase(&timings, "cluster")["steps"][0]["attempts"], 1);
    let calls: Vec<String> = project.kind_calls().into_iter().map(|(args, _)| args).collect();
    assert_eq!(
        calls.iter().filter(|call| call.starts_with("create cluster")).count(),
        1
    );
    assert!(calls.iter().any(|call| call.starts_with("export logs")));
    assert!(
        !calls.iter().any(|call| call.starts_with("delete cluster")),
        "preserve: on-failure keeps the evidence"
    );
    assert!(stderr(&output).contains("preserved"), "{}", stderr(&output));
}

#[test]
fn a_transient_failure_that_persists_fails_after_one_retry() {
    let project = project("docker", "it-twice", "cluster:\n  preserve: never\n", "true");
    let output = project.run(
        &["run"],
        &[
            ("FAKE_KIND_CREATE_FAILURE", "log-line"),
            ("FAKE_KIND_CREATE_FAIL_TIMES", "always"),
        ],
    );
    assert_eq!(output.status.code(), Some(INFRASTRUCTURE));
    let timings = project.timings();
    let create = &phase(&timings, "cluster")["steps"][0];
    assert_eq!(create["attempts"], 2);
    assert!(create["message"].as_str().expect("message").contains("after one retry"));
    assert!(
        create["hint"].as_str().expect("hint").contains("kind logs:"),
        "{create}"
    );
    let calls: Vec<String> = project.kind_calls().into_iter().map(|(args, _)| args).collect();
    assert_eq!(
        calls.last().map(|call| call.starts_with("delete cluster")),
        Some(true),
        "preserve: never deletes the half-made cluster"
    );
}

#[test]
fn without_kind_run_stops_at_preflight_with_a_clear_message() {
    let project = Project::new("version: 1\n", &[]);
    let output = project.run(&["run"], &[("HYBRID_E2E_KIND", "/nonexistent/kind")]);
    assert_eq!(output.status.code(), Some(INFRASTRUCTURE));
    let text = stderr(&output);
    assert!(
        text.contains("kind")
            && text.contains("not installed")
            && text.contains("`plan`, `lint` and `report` work without them"),
        "{text}"
    );
    let timings = project.timings();
    assert_eq!(timings["failed_phase"], "preflight");
}

#[test]
fn sigterm_stops_the_builds_and_writes_a_partial_report() {
    let project = project("docker", "it-sigterm", "", "sleep 60");
    let mut child = project
        .command(&["run"], &[])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let log = project.path().join("hybrid-e2e-report/logs/build/worker.log");
    let started = Instant::now();
    while !std::fs::read_to_string(&log).unwrap_or_default().contains("sleep 60")
        && started.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    nix_kill(child.id());
    let stopped = Instant::now();
    let status = child.wait().expect("wait");
    assert!(
        stopped.elapsed() < Duration::from_secs(20),
        "took {:?} to stop",
        stopped.elapsed()
    );
    assert_eq!(status.code(), Some(CANCELLED));
    let timings = project.timings();
    assert_eq!(timings["status"], "cancelled");
    assert_eq!(timings["failure_class"], "cancelled", "a Ctrl-C is nobody's fault");
    assert!(!project.kind_calls().iter().any(|(args, _)| args.starts_with("create")));
    let junit = std::fs::read_to_string(project.path().join("hybrid-e2e-report/junit.xml")).expect("junit");
    assert!(
        junit.contains("type=\"cancelled\""),
        "the interrupted builds are errors in JUnit: {junit}"
    );
}

fn nix_kill(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

#[test]
fn fail_fast_false_collects_every_failure() {
    let files = [
        (
            "a.Dockerfile",
            format!("FROM {BASE_IMAGE}\nRUN echo it-collect-a && exit 3\n"),
        ),
        (
            "b.Dockerfile",
            format!("FROM {BASE_IMAGE}\nRUN echo it-collect-b && sleep 1 && exit 4\n"),
        ),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(path, body)| (*path, body.as_str())).collect();
    let project = Project::new(
        "version: 1\nengine: docker\nfail_fast: false\nimages:\n  - {name: a, image: localhost/it-collect/a:1, dockerfile: a.Dockerfile}\n  - {name: b, image: localhost/it-collect/b:1, dockerfile: b.Dockerfile}\n",
        &files,
    );
    let output = project.run(&["run"], &[]);
    assert_eq!(output.status.code(), Some(SETUP_FAILED));
    let timings = project.timings();
    let statuses: Vec<&str> = phase(&timings, "build")["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|step| step["status"].as_str())
        .collect();
    assert_eq!(statuses, vec!["failed", "failed"]);
}

#[test]
fn plan_prints_the_graph_without_side_effects() {
    let project = project(
        "auto",
        "it-plan",
        "deploy:\n  - {name: db, manifests: [k8s/db.yaml]}\n  - {name: app, manifests: [k8s/app.yaml], depends_on: [db]}\n",
        "true",
    );
    std::fs::create_dir_all(project.path().join("k8s")).expect("k8s dir");
    for (file, name) in [("db.yaml", "db"), ("app.yaml", "app")] {
        std::fs::write(
            project.path().join("k8s").join(file),
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  role: {name}\n"),
        )
        .expect("manifest");
    }
    let output = project.run(&["plan", "--tag-suffix", "pr7"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"e2e-[0-9a-f]{8}", "e2e-[RUN]");
    settings.add_filter(r"sha256 [0-9a-f]{12}", "sha256 [HASH]");
    settings.add_filter(r"/\S*/\.tmp\w+/", "[PROJECT]/");
    settings.bind(|| insta::assert_snapshot!(text));
    assert!(
        !project.path().join("hybrid-e2e-report").exists(),
        "plan writes nothing"
    );
    let json = project.run(&["plan", "--format", "json"], &[]);
    let plan: Value = serde_json::from_str(&stdout(&json)).expect("plan JSON");
    assert_eq!(plan["targets"]["total"], 360.0);
    assert_eq!(plan["deploy"][1]["depends_on"][0], "db");
}

#[test]
fn bad_config_is_a_usage_error_with_a_location() {
    let project = Project::new(
        "version: 1\nimages:\n  - name: api\n    image: localhost/x:1\n    dockerfile: missing.Dockerfile\n    colour: red\n",
        &[],
    );
    let output = project.run(&["plan"], &[]);
    assert_eq!(output.status.code(), Some(2));
    let text = stderr(&output);
    assert!(text.contains("colour") && text.contains("hybrid-e2e.yaml:6:"), "{text}");
}

/// `name<<DELIM` / value / `DELIM` blocks of a GITHUB_OUTPUT file.
fn parse_outputs(text: &str) -> std::collections::BTreeMap<String, String> {
    let mut outputs = std::collections::BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let (name, delimiter) = line.split_once("<<").expect("name<<delimiter");
        let value: Vec<&str> = lines.by_ref().take_while(|line| *line != delimiter).collect();
        outputs.insert(name.to_owned(), value.join("\n"));
    }
    outputs
}

#[test]
fn in_github_actions_a_run_annotates_summarises_and_sets_outputs() {
    let project = project("docker", "it-github", "", "echo broken && exit 9");
    let output_file = project.path().join("github-output");
    let summary_file = project.path().join("github-summary");
    let output = project.run(
        &["run"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_OUTPUT", output_file.to_str().expect("UTF-8")),
            ("GITHUB_STEP_SUMMARY", summary_file.to_str().expect("UTF-8")),
            ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
        ],
    );
    assert_eq!(output.status.code(), Some(SETUP_FAILED));
    let annotations = stdout(&output);
    assert!(
        annotations
            .contains("::error title=hybrid-e2e build/worker,file=docker/worker.Dockerfile,line=3::[application]"),
        "{annotations}"
    );
    assert!(stderr(&output).contains("::group::build") && stderr(&output).contains("::endgroup::"));
    let summary = std::fs::read_to_string(&summary_file).expect("summary appended");
    assert!(
        summary.starts_with("## ❌ hybrid-e2e") && summary.contains("```mermaid"),
        "{summary}"
    );
    let outputs = parse_outputs(&std::fs::read_to_string(&output_file).expect("outputs"));
    assert_eq!(outputs["failure-class"], "application");
    assert_eq!(outputs["failed-phase"], "build");
    assert_eq!(outputs["within-target"], "false");
    assert!(outputs["junit-path"].ends_with("hybrid-e2e-report/junit.xml"));
    // Local files first, always.
    for file in ["junit.xml", "summary.md", "timings.json"] {
        assert!(project.path().join("hybrid-e2e-report").join(file).is_file(), "{file}");
    }
    assert_eq!(project.timings()["commit"], "0123456789abcdef0123456789abcdef01234567");
}

#[test]
fn report_merges_matrix_jobs_and_survives_an_unwritable_summary() {
    let project = Project::new("version: 1\n", &[]);
    let fixtures = crate::support::repo().join("tests/fixtures/reports");
    let (a, b) = (fixtures.join("job-a"), fixtures.join("job-b"));
    let out = project.path().join("merged");
    let output = project.run(
        &[
            "report",
            a.to_str().expect("UTF-8"),
            "--merge",
            b.to_str().expect("UTF-8"),
            "-o",
            out.to_str().expect("UTF-8"),
            "--github",
            "always",
        ],
        &[("GITHUB_STEP_SUMMARY", "/proc/version/not-writable")],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("warning: failed to append to GITHUB_STEP_SUMMARY"),
        "{}",
        stderr(&output)
    );
    let junit = std::fs::read_to_string(out.join("junit.xml")).expect("junit written locally first");
    assert!(
        junit.contains("name=\"hybrid-e2e.yaml (job-a) / cluster\"")
            && junit.contains("name=\"hybrid-e2e.yaml (job-b) / cluster\""),
        "{junit}"
    );
    let summary = std::fs::read_to_string(out.join("summary.md")).expect("summary");
    assert!(
        summary.contains("### ✅ hybrid-e2e `hybrid-e2e.yaml (job-a)`")
            && summary.contains("### ❌ hybrid-e2e `hybrid-e2e.yaml (job-b)`"),
        "{summary}"
    );
    assert!(
        // No file of its own: anchored on the config, so the check run has it too.
        stdout(&output).contains(
            "::error title=hybrid-e2e cluster/create,file=hybrid-e2e.yaml,line=1::[infrastructure] kind create failed"
        ),
        "{}",
        stdout(&output)
    );
    let missing = project.run(&["report", "nowhere"], &[]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("nowhere/timings.json"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn a_forbidden_check_run_is_a_notice_and_the_token_never_shows() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime.block_on(async {
        let server = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::method("POST"))
            .and(wiremock::matchers::path("/repos/org/app/check-runs"))
            .respond_with(
                wiremock::ResponseTemplate::new(403)
                    .set_body_json(serde_json::json!({ "message": "Resource not accessible by integration" })),
            )
            .expect(1)
            .mount(&server)
            .await;
        server
    });
    let project = Project::new("version: 1\n", &[]);
    let job = crate::support::repo().join("tests/fixtures/reports/job-b");
    let out = project.path().join("out");
    let token = "ghs_SuperSecretTokenValue123";
    let output = project.run(
        &[
            "report",
            job.to_str().expect("UTF-8"),
            "-o",
            out.to_str().expect("UTF-8"),
            "--github",
            "always",
            "-v",
        ],
        &[
            ("GITHUB_TOKEN", token),
            ("GITHUB_REPOSITORY", "org/app"),
            ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
            ("GITHUB_API_URL", &server.uri()),
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "a failed publish never fails the job: {}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("may not write check runs") && stderr(&output).contains("workflow_run"),
        "{}",
        stderr(&output)
    );
    assert!(
        stdout(&output).contains("::warning title=hybrid-e2e check run::the token may not write check runs"),
        "the notice is on the run page too: {}",
        stdout(&output)
    );
    assert!(
        out.join("junit.xml").is_file() && out.join("summary.md").is_file(),
        "local files are written first"
    );
    assert!(
        !stdout(&output).contains(token) && !stderr(&output).contains(token),
        "the token leaked"
    );
    let help = project.run(&["report", "--help"], &[("GITHUB_TOKEN", token)]);
    assert!(!stdout(&help).contains(token), "--help shows the token");
    runtime.block_on(server.verify());
}

#[test]
fn manifests_that_would_run_the_wrong_image_or_wait_for_nothing_stop_the_run_before_any_build() {
    let files = [
        ("Dockerfile", format!("FROM {BASE_IMAGE}\nRUN echo it-manifest > /id\n")),
        // The config's first manifest is clean: the failure must not be anchored here.
        (
            "deploy/00-namespace.yaml",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: apps}\n".to_owned(),
        ),
        (
            "deploy/10-app.yaml",
            "# the service\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: b}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec:\n  template:\n    spec:\n      containers:\n        - {name: app, image: \"it-manifest/app:1\"}\n".to_owned(),
        ),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(path, body)| (*path, body.as_str())).collect();
    let project = Project::new(
        "version: 1\nimages:\n  - {name: app, image: it-manifest/app:1, dockerfile: Dockerfile}\ndeploy:\n  - {name: app, manifests: [deploy/], wait_for: [deployment/ap]}\n",
        &files,
    );
    let output = project.run(&["run"], &[]);
    let timings = project.timings();
    let manifests = phase(&timings, "preflight")["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|step| step["name"] == "manifests")
        .expect("manifests check")
        .clone();
    assert_eq!(manifests["status"], "failed", "{}", stderr(&output));
    // The failure points at the broken object (third document, line 8 of the second file), not
    // at the config's first manifest.
    assert_eq!(manifests["file"], "deploy/10-app.yaml", "{manifests}");
    assert_eq!(manifests["line"], 8, "{manifests}");
    let findings = manifests["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 2, "{manifests}");
    assert_eq!(
        (findings[0]["path"].as_str(), findings[0]["line"].as_u64()),
        (Some("deploy/10-app.yaml"), Some(8))
    );
    assert!(
        findings[0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("use `localhost/it-manifest/app:1`")),
        "{manifests}"
    );
    // A wait_for typo is found before the build, at its line in the config.
    assert_eq!(
        (findings[1]["path"].as_str(), findings[1]["line"].as_u64()),
        (Some("hybrid-e2e.yaml"), Some(5)),
        "{manifests}"
    );
    assert!(
        findings[1]["message"]
            .as_str()
            .is_some_and(|message| message.contains("wait_for `deployment/ap` matches no object")),
        "{manifests}"
    );
    assert_eq!(phase(&timings, "build")["status"], "skipped");
}

/// The bundled example (examples/) as a project: its config, Kind config and manifests as they
/// are; its Dockerfiles swapped for ones built from the local base image (the real ones pull Go
/// and UBI images, which these machines cannot), so the builds still run on the real engine.
pub(crate) fn bundled_example(script: fake_apiserver::Script, engines: Engines) -> Project {
    // PostgreSQL is a public image a real cluster pulls; the services must be loaded by the run.
    let script = script.pullable(&["docker.io/library/postgres:16-alpine"]);
    let example = crate::support::repo().join("examples");
    let read = |relative: &str| std::fs::read_to_string(example.join(relative)).expect("example file");
    let dockerfile = |name: &str| format!("FROM {BASE_IMAGE}\nRUN echo {name} > /service\n");
    let files: Vec<(&str, String)> = vec![
        ("kind-config.yaml", read("kind-config.yaml")),
        ("deploy/postgres.yaml", read("deploy/postgres.yaml")),
        ("deploy/datastorage.yaml", read("deploy/datastorage.yaml")),
        ("deploy/gateway.yaml", read("deploy/gateway.yaml")),
        ("docker/gateway-service.Dockerfile", dockerfile("gateway")),
        ("docker/datastorage.Dockerfile", dockerfile("datastorage")),
        ("docker/mock-llm.Containerfile", dockerfile("mock-llm")),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(path, body)| (*path, body.as_str())).collect();
    let config = read("hybrid-e2e.yaml").replace("engine: auto", "engine: docker");
    Project {
        engines,
        ..Project::with_script(&config, &files, script)
    }
}

pub(crate) fn example_timings(project: &Project) -> Value {
    let text = std::fs::read_to_string(project.path().join("hybrid-e2e-report/timings.json")).expect("timings.json");
    serde_json::from_str(&text).expect("JSON")
}

#[test]
fn a_crashing_service_fails_the_deploy_with_diagnostics_anchored_on_its_manifest() {
    let mut script = fake_apiserver::Script::default();
    script.behaviours.insert(
        "datastorage".to_owned(),
        fake_apiserver::Behaviour::CrashLoop {
            exit_code: 1,
            log: vec![
                "connecting to postgres".to_owned(),
                "FATAL: password authentication failed".to_owned(),
            ],
        },
    );
    let project = bundled_example(script, Engines::Fake);
    let output = project.run(&["run"], &[("GITHUB_ACTIONS", "true")]);
    let timings = example_timings(&project);
    assert_eq!(output.status.code(), Some(SETUP_FAILED), "{}", stderr(&output));
    assert_eq!(timings["failed_phase"], "deploy");
    assert_eq!(timings["failure_class"], "application");
    let deploy = phase(&timings, "deploy");
    let step = deploy["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|step| step["name"] == "datastorage"))
        .expect("datastorage step");
    assert_eq!(step["status"], "failed");
    assert_eq!(step["file"], "deploy/datastorage.yaml");
    assert_eq!(step["line"], 1);
    let tail = step["tail"]
        .as_array()
        .expect("tail")
        .iter()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(tail.contains("FATAL: password authentication failed"), "{tail}");
    assert!(tail.contains("CrashLoopBackOff"), "{tail}");
    // The gateway depends on datastorage: never applied.
    assert!(
        project
            .api
            .object("apps/v1", "Deployment", Some("example-e2e"), "gateway")
            .is_none()
    );
    let annotations = stdout(&output);
    assert!(
        annotations.contains("::error title=hybrid-e2e deploy/datastorage,file=deploy/datastorage.yaml,line=1::[application] Deployment/datastorage failed: CrashLoopBackOff"),
        "{annotations}"
    );
    let diagnostics = project.path().join("hybrid-e2e-report/diagnostics/deploy/example-e2e");
    let files: Vec<String> = std::fs::read_dir(&diagnostics)
        .expect("diagnostics written")
        .filter_map(|entry| entry.ok().map(|entry| entry.file_name().to_string_lossy().into_owned()))
        .collect();
    assert!(
        files.iter().any(|file| file == "deployment-datastorage.txt"),
        "{files:?}"
    );
    assert!(
        files.iter().any(|file| file.ends_with(".datastorage.previous.log")),
        "{files:?}"
    );
    // preserve: on-failure keeps the cluster for a look.
    let calls: Vec<String> = project.kind_calls().into_iter().map(|(args, _)| args).collect();
    assert!(
        !calls.iter().any(|call| call.starts_with("delete cluster")),
        "{calls:?}"
    );
    let junit = std::fs::read_to_string(project.path().join("hybrid-e2e-report/junit.xml")).expect("junit");
    assert!(
        junit.contains("Deployment/datastorage failed: CrashLoopBackOff"),
        "{junit}"
    );
}

#[test]
fn a_node_that_never_gets_ready_fails_the_gate_with_the_kind_logs_exported() {
    let prefix = "it-gate";
    let files = dockerfiles(prefix, "true");
    let files: Vec<(&str, &str)> = files.iter().map(|(path, body)| (*path, body.as_str())).collect();
    let script = fake_apiserver::Script {
        node_ready_after: Duration::from_secs(3600),
        ..fake_apiserver::Script::default()
    };
    let project = Project::with_script(
        &config("docker", prefix, "cluster:\n  ready_timeout: 2s\n  preserve: never\n"),
        &files,
        script,
    );
    let output = project.run(&["run"], &[]);
    assert_eq!(output.status.code(), Some(INFRASTRUCTURE), "{}", stderr(&output));
    let timings = project.timings();
    let create = &phase(&timings, "cluster")["steps"][0];
    let message = create["message"].as_str().expect("message");
    assert!(
        message.contains("not ready within 2s") && message.contains("node kind-control-plane not Ready"),
        "{message}"
    );
    assert!(
        create["hint"].as_str().expect("hint").contains("kind-logs-not-ready"),
        "{create}"
    );
    assert!(
        project
            .path()
            .join("hybrid-e2e-report/diagnostics/kind-logs-not-ready")
            .is_dir()
    );
}

#[test]
fn the_first_failing_build_cancels_the_others_and_no_cluster_is_made() {
    let project = project("docker", "it-failfast", "", "echo broken && exit 3");
    std::fs::write(
        project.path().join("docker/api.Dockerfile"),
        format!("FROM {BASE_IMAGE}\nRUN sleep 30\n"),
    )
    .expect("slow api");
    let started = Instant::now();
    let output = project.run(&["run"], &[]);
    assert_eq!(output.status.code(), Some(SETUP_FAILED), "{}", stderr(&output));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the slow build was not cancelled: {:?}",
        started.elapsed()
    );
    let timings = project.timings();
    let statuses: Vec<(&str, &str)> = phase(&timings, "build")["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|step| {
            (
                step["name"].as_str().unwrap_or_default(),
                step["status"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(statuses, vec![("api", "cancelled"), ("worker", "failed")]);
    assert!(!project.kind_calls().iter().any(|(args, _)| args.starts_with("create")));
}

#[test]
fn an_engine_that_does_not_answer_stops_the_run_in_preflight_as_infrastructure() {
    let project = project("docker", "it-down", "", "true");
    let output = project.run(&["run"], &[("FAKE_ENGINE_DOWN", "1")]);
    assert_eq!(output.status.code(), Some(INFRASTRUCTURE), "{}", stderr(&output));
    let timings = project.timings();
    assert_eq!(timings["failed_phase"], "preflight");
    assert_eq!(timings["failure_class"], "infrastructure");
    assert!(
        stderr(&output).contains("Cannot connect to the Docker daemon"),
        "{}",
        stderr(&output)
    );
    assert!(
        !project.engine_calls().iter().any(|(_, args)| args.starts_with("build")),
        "nothing was built"
    );
}

#[test]
fn cleanup_deletes_what_a_preserved_run_left_behind() {
    let project = project("podman", "it-cleanup", "cluster:\n  preserve: always\n", "true");
    let output = project.run(&["run"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let timings = project.timings();
    let cluster = timings["cluster_name"].as_str().expect("cluster").to_owned();
    assert!(
        !project
            .kind_calls()
            .iter()
            .any(|(args, _)| args.starts_with("delete cluster")),
        "preserve: always keeps the cluster"
    );
    assert!(stderr(&output).contains(&format!("cluster `{cluster}` preserved")));
    let first = stdout(&project.run(&["cleanup", "--dry-run"], &[]));
    assert!(first.contains("would delete image"), "{first}");
    let cleanup = project.run(&["cleanup"], &[]);
    assert_eq!(cleanup.status.code(), Some(0), "{}", stderr(&cleanup));
    let text = stdout(&cleanup);
    assert!(text.contains(&format!("deleted cluster {cluster}")), "{text}");
    for image in timings["images"].as_array().expect("images") {
        let image = image.as_str().expect("reference");
        assert!(text.contains(&format!("deleted image {image}")), "{text}");
        assert!(
            project
                .engine_calls()
                .iter()
                .any(|(program, args)| program == "podman" && args == &format!("image rm --force {image}")),
            "removed with the run's engine"
        );
    }
    let again = project.run(&["cleanup"], &[]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let text = stdout(&again);
    assert!(
        !text.contains("deleted")
            && text.contains("nothing to clean up")
            && text.contains("found nothing of 2 image(s)"),
        "a second cleanup reports only what it deleted: {text}"
    );
}

/// The bundled example on the fake engines, `datastorage` ready after 1.5 s: `gateway`, which
/// depends on it, waits; its clock is its own apply and wait, and the wait is recorded apart.
#[test]
fn a_deploy_groups_clock_is_its_own_work_and_its_wait_is_recorded_apart() {
    let mut script = fake_apiserver::Script::default();
    script.behaviours.insert(
        "datastorage".to_owned(),
        fake_apiserver::Behaviour::ReadyAfter(Duration::from_millis(1_500)),
    );
    let project = bundled_example(script, Engines::Fake);
    let output = project.run(&["run"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let timings = example_timings(&project);
    let deploy = phase(&timings, "deploy");
    let step = |name: &str| {
        deploy["steps"]
            .as_array()
            .and_then(|steps| steps.iter().find(|step| step["name"] == name))
            .expect("step")
            .clone()
    };
    let (datastorage, gateway) = (step("datastorage"), step("gateway"));
    let waited = gateway["waited_seconds"].as_f64().expect("waited_seconds");
    let own = gateway["duration_seconds"].as_f64().expect("duration");
    assert!(waited >= 1.4, "gateway waited for datastorage: {gateway}");
    assert!(own < 1.0, "gateway's own apply and wait, not its wait: {gateway}");
    assert!(
        gateway["started_at"].as_str() >= datastorage["finished_at"].as_str(),
        "its clock starts once its dependency is ready: {gateway} {datastorage}"
    );
    assert!(datastorage["duration_seconds"].as_f64().expect("duration") >= 1.4);
    assert_eq!(
        step("namespaces-crds")["waited_seconds"],
        Value::Null,
        "waits for nothing"
    );
}

/// docs/timings.md: keys documented as always present are present; preflight steps have real
/// clocks; the engine is recorded although a later check failed.
#[test]
fn timings_json_has_every_documented_key_and_preflight_clocks() {
    let project = Project::new(
        "version: 1\nimages:\n  - {name: api, image: localhost/it-keys/api:1, dockerfile: Dockerfile}\n",
        &[(
            "Dockerfile",
            "FROM registry.access.redhat.com/ubi9/ubi:9.6\nRUN dnf -y update\n",
        )],
    );
    let output = project.run(
        &["run", "--engine", "docker"],
        &[("HYBRID_E2E_KIND", "/nonexistent/kind")],
    );
    assert_eq!(output.status.code(), Some(INFRASTRUCTURE), "{}", stderr(&output));
    let timings = project.timings();
    assert_eq!(timings["engine"], "docker", "the engine check passed: {timings}");
    assert_eq!(timings["engine_version"], "28.0.0-fake");
    for phase in timings["phases"].as_array().expect("phases") {
        assert!(phase.get("target_line").is_some(), "{phase}");
        for step in phase["steps"].as_array().expect("steps") {
            for key in [
                "started_at",
                "finished_at",
                "duration_seconds",
                "waited_seconds",
                "status",
                "failure_class",
                "message",
                "hint",
                "file",
                "line",
                "column",
                "bytes",
                "bytes_per_second",
                "attempts",
                "log",
                "tail",
                "excerpt",
                "findings",
            ] {
                assert!(step.get(key).is_some(), "`{key}` missing from {step}");
            }
        }
    }
    let preflight = phase(&timings, "preflight");
    for step in preflight["steps"].as_array().expect("steps") {
        assert!(
            step["started_at"].is_string() && step["finished_at"].is_string(),
            "{step}"
        );
    }
    let kind_check = preflight["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|step| step["name"] == "kind"))
        .expect("kind check");
    assert!(
        kind_check["duration_seconds"].as_f64().expect("duration") > 0.0,
        "{kind_check}"
    );
    let lint = preflight["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|step| step["name"] == "lint"))
        .expect("lint check");
    assert_eq!(
        (lint["file"].as_str(), lint["line"].as_u64(), lint["column"].as_u64()),
        (Some("Dockerfile"), Some(2), Some(5)),
        "{lint}"
    );
}

/// A Dockerfile whose path has a `:` keeps its annotation, JUnit case and finding: findings
/// travel as data, never as `path:line:col` text parsed back.
#[test]
fn a_dockerfile_path_with_a_colon_keeps_its_annotation_and_junit_case() {
    let project = Project::new(
        "version: 1\nimages:\n  - {name: api, image: localhost/it-colon/api:1, dockerfile: \"odd:dir/Dockerfile\", context: \"odd:dir\"}\n",
        &[(
            "odd:dir/Dockerfile",
            "FROM registry.access.redhat.com/ubi9/ubi:9.6\nRUN dnf -y update\n",
        )],
    );
    let output = project.run(&["run", "--engine", "docker"], &[("GITHUB_ACTIONS", "true")]);
    assert_eq!(output.status.code(), Some(SETUP_FAILED), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("::error title=hybrid-e2e lint,file=odd%3Adir/Dockerfile,line=2,endLine=2,col=5::"),
        "{}",
        stdout(&output)
    );
    let junit = std::fs::read_to_string(project.path().join("hybrid-e2e-report/junit.xml")).expect("junit");
    assert!(
        junit.contains("<testcase name=\"odd:dir/Dockerfile:2\" classname=\"hybrid-e2e.lint\">"),
        "{junit}"
    );
    let timings = project.timings();
    let lint = phase(&timings, "preflight")["steps"]
        .as_array()
        .and_then(|steps| steps.iter().find(|step| step["name"] == "lint").cloned())
        .expect("lint");
    assert_eq!(lint["findings"][0]["path"], "odd:dir/Dockerfile");
}

/// Annotation paths are relative to the repository (`GITHUB_WORKSPACE`), whatever the working
/// directory or the config's location.
#[test]
fn annotations_are_relative_to_the_repository_root() {
    let config = "version: 1\nimages:\n  - {name: worker, image: localhost/it-root/worker:1, dockerfile: docker/worker.Dockerfile}\n";
    let dockerfile = format!("FROM {BASE_IMAGE}\nRUN echo broken && exit 3\n");
    let project = Project::new(
        "version: 1\n",
        &[
            ("services/worker/hybrid-e2e.yaml", config),
            ("services/worker/docker/worker.Dockerfile", &dockerfile),
        ],
    );
    let workspace = project.path().to_str().expect("UTF-8").to_owned();
    let env = [("GITHUB_ACTIONS", "true"), ("GITHUB_WORKSPACE", workspace.as_str())];
    let expected = "file=services/worker/docker/worker.Dockerfile,line=2::[application]";
    let from_root = project.run(&["--config", "services/worker/hybrid-e2e.yaml", "run"], &env);
    assert!(stdout(&from_root).contains(expected), "{}", stdout(&from_root));
    let mut inside = project.command(&["--config", "hybrid-e2e.yaml", "run"], &env);
    inside.current_dir(project.path().join("services/worker"));
    let from_inside = inside.output().expect("runs");
    assert!(stdout(&from_inside).contains(expected), "{}", stdout(&from_inside));
    let absolute = project.path().join("services/worker/hybrid-e2e.yaml");
    let from_absolute = project.run(&["--config", absolute.to_str().expect("UTF-8"), "run"], &env);
    assert!(stdout(&from_absolute).contains(expected), "{}", stdout(&from_absolute));
}

/// An error without a file of its own (kind missing) is anchored on the config, so the check
/// run carries it like the log does.
#[test]
fn an_error_without_a_file_is_anchored_on_the_config() {
    let project = Project::new("version: 1\n", &[]);
    let output = project.run(
        &["run"],
        &[("HYBRID_E2E_KIND", "/nonexistent/kind"), ("GITHUB_ACTIONS", "true")],
    );
    assert_eq!(output.status.code(), Some(INFRASTRUCTURE));
    assert!(
        stdout(&output)
            .contains("::error title=hybrid-e2e preflight/kind,file=hybrid-e2e.yaml,line=1::[infrastructure] `/nonexistent/kind` is not installed"),
        "{}",
        stdout(&output)
    );
}

/// `kind create` that fails before making a node: nothing is called preserved, no kubeconfig is
/// promised, and the failed log export is a warning, not a hint pointing at missing logs.
#[test]
fn a_create_that_leaves_no_cluster_is_not_called_preserved() {
    let project = project("docker", "it-nonode", "", "true");
    let output = project.run(
        &["run"],
        &[
            ("FAKE_KIND_CREATE_FAILURE", "pull"),
            ("FAKE_KIND_CREATE_FAIL_TIMES", "always"),
        ],
    );
    assert_eq!(output.status.code(), Some(INFRASTRUCTURE), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(!text.contains("preserved"), "{text}");
    let timings = project.timings();
    let warnings = timings["warnings"].to_string();
    assert!(
        warnings.contains("no cluster `") && warnings.contains("exists to keep"),
        "{warnings}"
    );
    assert!(warnings.contains("`kind export logs` for cluster"), "{warnings}");
    let create = &phase(&timings, "cluster")["steps"][0];
    assert!(
        !create["hint"].as_str().unwrap_or("").contains("kind logs"),
        "no hint at logs that were never exported: {create}"
    );
}

/// A successful publish names the check run's page at default verbosity.
#[test]
fn a_published_check_run_is_named_by_its_url() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let server = runtime.block_on(async {
        let server = wiremock::MockServer::start().await;
        wiremock::Mock::given(wiremock::matchers::method("POST"))
            .respond_with(wiremock::ResponseTemplate::new(201).set_body_json(serde_json::json!({
                "id": 7, "html_url": "https://github.com/org/app/runs/7"
            })))
            .mount(&server)
            .await;
        server
    });
    let project = Project::new("version: 1\n", &[]);
    let job = crate::support::repo().join("tests/fixtures/reports/job-a");
    let out = project.path().join("out");
    let output = project.run(
        &[
            "report",
            job.to_str().expect("UTF-8"),
            "-o",
            out.to_str().expect("UTF-8"),
            "--github",
            "always",
        ],
        &[
            ("GITHUB_TOKEN", "ghs_x"),
            ("GITHUB_REPOSITORY", "org/app"),
            ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
            ("GITHUB_API_URL", &server.uri()),
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("check run: https://github.com/org/app/runs/7"),
        "{}",
        stderr(&output)
    );
}

/// Podman's build failure (`Error: building at STEP …`) gets the same hint and line as Docker's.
#[test]
fn a_podman_build_failure_gets_the_same_hint_and_line_as_docker() {
    for engine in ["docker", "podman"] {
        let project = project(engine, "it-hint", "", "echo broken && exit 7");
        let output = project.run(&["run"], &[]);
        assert_eq!(output.status.code(), Some(SETUP_FAILED), "{}", stderr(&output));
        let timings = project.timings();
        let worker = phase(&timings, "build")["steps"]
            .as_array()
            .and_then(|steps| steps.iter().find(|step| step["name"] == "worker").cloned())
            .expect("worker");
        assert_eq!(
            worker["hint"], "a Dockerfile step failed; its output shows which and why",
            "{engine}: {worker}"
        );
        assert_eq!(worker["line"], 3, "{engine}: {worker}");
    }
}

/// The fake kind's load failures (`FAKE_KIND_LOAD_FAILURE`) end to end: the load phase fails,
/// classified, with kind's message and a hint in timings.json, and nothing is deployed.
#[test]
fn a_failed_load_is_classified_with_kind_s_message_and_a_hint() {
    for (mode, engine, hint) in [
        ("ctr", "docker", "load an archive instead"),
        ("disk", "podman", "the disk is full"),
        ("node-gone", "docker", "the Kind node container is gone"),
    ] {
        let project = project(engine, &format!("it-load-{mode}"), "", "true");
        let output = project.run(&["run"], &[("FAKE_KIND_LOAD_FAILURE", mode)]);
        assert_eq!(
            output.status.code(),
            Some(INFRASTRUCTURE),
            "{mode}: {}",
            stderr(&output)
        );
        let timings = project.timings();
        remove_images(engine, &timings);
        assert_eq!(timings["failed_phase"], "load", "{mode}");
        assert_eq!(timings["failure_class"], "infrastructure", "{mode}");
        let failed: Vec<&Value> = phase(&timings, "load")["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .filter(|step| step["status"] == "failed")
            .collect();
        assert!(!failed.is_empty(), "{mode}: {timings:#}");
        let step = failed[0];
        let message = step["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("failed to load image") || step.to_string().contains("failed to load image"),
            "{mode}: {step}"
        );
        assert!(
            step["hint"].as_str().unwrap_or_default().contains(hint),
            "{mode}: {step}"
        );
        assert_eq!(phase(&timings, "deploy")["status"], "skipped", "{mode}");
    }
}

/// The bundled example on the fake engines deploys only because the run loaded its images under
/// the names its manifests use: a container whose image nobody built, loaded or can pull keeps
/// its pod in ErrImagePull/ImagePullBackOff and fails the deploy as the application's fault.
#[test]
fn the_bundled_example_is_ready_only_with_what_was_loaded() {
    let project = bundled_example(fake_apiserver::Script::default(), Engines::Fake);
    let output = project.run(&["run"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(phase(&project.timings(), "deploy")["status"], "ok");
    // The cluster is gone after the run (preserve: on-failure); its loads are in kind's calls.
    let loads: Vec<String> = project
        .kind_calls()
        .into_iter()
        .map(|(args, _)| args)
        .filter(|args| args.starts_with("load "))
        .collect();
    for image in ["localhost/example/gateway:e2e", "localhost/example/datastorage:e2e"] {
        assert!(loads.iter().any(|call| call.contains(image)), "{image} in {loads:?}");
    }

    let project = bundled_example(fake_apiserver::Script::default(), Engines::Fake);
    let gateway = project.path().join("deploy/gateway.yaml");
    let text = std::fs::read_to_string(&gateway).expect("gateway manifest");
    let with_sidecar = text.replacen(
        "      containers:\n",
        "      containers:\n        - name: metrics\n          image: example/metrics-sidecar:1.0\n",
        1,
    );
    assert_ne!(text, with_sidecar, "the manifest has a containers list");
    std::fs::write(&gateway, with_sidecar).expect("write");
    let output = project.run(&["run"], &[]);
    assert_eq!(output.status.code(), Some(SETUP_FAILED), "{}", stderr(&output));
    let timings = project.timings();
    assert_eq!(timings["failed_phase"], "deploy");
    assert_eq!(timings["failure_class"], "application");
    let failed = phase(&timings, "deploy")["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|step| step["status"] == "failed")
        .expect("a failed group")
        .clone();
    assert_eq!(failed["name"], "gateway");
    let message = failed["message"].as_str().expect("message");
    assert!(
        message.contains("ErrImagePull") || message.contains("ImagePullBackOff"),
        "{message}"
    );
    assert_eq!(failed["file"], "deploy/gateway.yaml");
}

/// A signal during preflight (a daemon slow to answer) ends the run at once: 130, `cancelled`,
/// a complete `timings.json`.
#[test]
fn a_signal_during_preflight_ends_the_run_at_once() {
    let project = project("docker", "it-preflight-signal", "", "true");
    let mut child = project
        .command(&["run"], &[("FAKE_ENGINE_VERSION_DELAY_MS", "30000")])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let calls = project.path().join("engine-state/engine-calls.jsonl");
    let started = Instant::now();
    while !std::fs::read_to_string(&calls).unwrap_or_default().contains("version")
        && started.elapsed() < Duration::from_secs(30)
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    nix_kill(child.id());
    let stopped = Instant::now();
    let status = child.wait().expect("wait");
    assert!(
        stopped.elapsed() < Duration::from_secs(3),
        "took {:?}",
        stopped.elapsed()
    );
    assert_eq!(status.code(), Some(CANCELLED));
    let timings = project.timings();
    assert_eq!(timings["status"], "cancelled");
    assert_eq!(phase(&timings, "preflight")["status"], "cancelled");
    assert_eq!(phase(&timings, "build")["status"], "skipped");
}

/// On a terminal (a pseudo-terminal from `script`), `NO_COLOR`, `--color never` and
/// `HYBRID_E2E_COLOR=never` all mean no colour: no SGR sequence is written.
#[test]
fn colour_is_off_on_a_terminal_when_asked() {
    let project = Project::new("version: 1\n", &[]);
    let binary = env!("CARGO_BIN_EXE_hybrid-e2e");
    let on_a_terminal = |line: &str, env: &[(&str, &str)]| {
        let mut command = project.command(&[], &[]);
        command
            .env_remove("NO_COLOR")
            .env("HYBRID_E2E_KIND", "/nonexistent/kind")
            .envs(env.iter().copied())
            .args(["-qec", &format!("{binary} {line}"), "/dev/null"]);
        let mut script = Command::new("script");
        script.current_dir(project.path());
        for (key, value) in command.get_envs() {
            match value {
                Some(value) => script.env(key, value),
                None => script.env_remove(key),
            };
        }
        script.args(command.get_args());
        let output = script.output().expect("script runs");
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    // Select Graphic Rendition (`ESC [ digits ; … m`): colour and bold, not cursor movement.
    let sgr = |text: &str| {
        text.match_indices("\u{1b}[").any(|(index, _)| {
            text[index + 2..]
                .trim_start_matches(|c: char| c.is_ascii_digit() || c == ';')
                .starts_with('m')
        })
    };
    assert!(sgr(&on_a_terminal("run", &[])), "colour on a terminal by default");
    assert!(!sgr(&on_a_terminal("run", &[("NO_COLOR", "1")])), "NO_COLOR");
    assert!(!sgr(&on_a_terminal("--color never run", &[])), "--color never");
    assert!(
        !sgr(&on_a_terminal("run", &[("HYBRID_E2E_COLOR", "never")])),
        "HYBRID_E2E_COLOR"
    );
}

/// Every committed `timings.json` fixture follows from its own timeline: the setup is the sum of
/// its phases (strict), every phase spans its steps, every duration is its timestamps' difference,
/// and two fixtures never share a cluster name (a merge would give both runs one suite name).
#[test]
fn committed_report_fixtures_follow_from_their_own_timeline() {
    use chrono::DateTime;
    let seconds = |value: &serde_json::Value| {
        DateTime::parse_from_rfc3339(value.as_str().expect("a timestamp"))
            .expect("RFC 3339")
            .timestamp_millis() as f64
            / 1000.0
    };
    let fixtures = crate::support::repo().join("tests/fixtures/reports");
    let mut clusters = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&fixtures).expect("fixtures") {
        let path = entry.expect("entry").path().join("timings.json");
        let record: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("JSON");
        let name = path.display().to_string();
        assert!(
            clusters.insert(record["cluster_name"].to_string()),
            "{name}: cluster name reused"
        );
        let phases = record["phases"].as_array().expect("phases");
        let sum: f64 = phases
            .iter()
            .map(|phase| phase["duration_seconds"].as_f64().expect("duration"))
            .sum();
        let setup = record["setup_seconds"].as_f64().expect("setup_seconds");
        assert!((setup - sum).abs() < 1e-6, "{name}: setup {setup} s, phases {sum} s");
        let span = seconds(&record["finished_at"]) - seconds(&record["started_at"]);
        assert!(
            (span - setup).abs() < 1e-3,
            "{name}: {span} s between start and finish, setup {setup} s"
        );
        for phase in phases {
            let (start, finish) = (seconds(&phase["started_at"]), seconds(&phase["finished_at"]));
            let duration = phase["duration_seconds"].as_f64().expect("duration");
            assert!(
                (finish - start - duration).abs() < 1e-3,
                "{name}: phase {}",
                phase["name"]
            );
            for step in phase["steps"].as_array().expect("steps") {
                let (step_start, step_finish) = (seconds(&step["started_at"]), seconds(&step["finished_at"]));
                assert!(
                    step_start >= start && step_finish <= finish,
                    "{name}: step {} outside its phase",
                    step["name"]
                );
                let step_duration = step["duration_seconds"].as_f64().expect("duration");
                assert!(
                    (step_finish - step_start - step_duration).abs() < 1e-3,
                    "{name}: step {}",
                    step["name"]
                );
            }
        }
    }
    assert!(clusters.len() >= 2, "the merge fixtures are there");
}

/// The building blocks of `manifests/` (PostgreSQL, Redis, the migrations Job and its ConfigMap,
/// the DD-TEST-001 Kind config) as a user references them: every object is accepted by the fake
/// API server's validation and the groups become ready through the deploy phase, the migrations
/// only after the databases.
#[test]
fn the_building_blocks_apply_and_become_ready_through_the_deploy_phase() {
    let repo = crate::support::repo();
    let read = |relative: &str| std::fs::read_to_string(repo.join(relative)).expect("building block");
    let files: Vec<(&str, String)> = vec![
        ("Dockerfile", format!("FROM {BASE_IMAGE}\nRUN echo it-blocks > /id\n")),
        ("manifests/kind/cluster.yaml", read("manifests/kind/cluster.yaml")),
        ("manifests/postgres.yaml", read("manifests/postgres.yaml")),
        ("manifests/redis.yaml", read("manifests/redis.yaml")),
        ("manifests/migrations-job.yaml", read("manifests/migrations-job.yaml")),
        (
            "manifests/migrations-configmap.example.yaml",
            read("manifests/migrations-configmap.example.yaml"),
        ),
    ];
    let files: Vec<(&str, &str)> = files.iter().map(|(path, body)| (*path, body.as_str())).collect();
    let script = fake_apiserver::Script::default().pullable(&[
        "docker.io/library/postgres:16-alpine",
        "docker.io/library/redis:7-alpine",
    ]);
    let project = Project::with_script(
        "version: 1\nimages:\n  - {name: app, image: it-blocks/app:1, dockerfile: Dockerfile}\ncluster:\n  config: manifests/kind/cluster.yaml\ndeploy:\n  - name: deps\n    manifests: [manifests/postgres.yaml, manifests/redis.yaml]\n  - name: migrations\n    manifests: [manifests/migrations-job.yaml, manifests/migrations-configmap.example.yaml]\n    depends_on: [deps]\n",
        &files,
        script,
    );
    let output = project.run(&["run", "--preserve", "never"], &[]);
    let timings = project.timings();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let deploy = phase(&timings, "deploy");
    let step = |name: &str| {
        deploy["steps"]
            .as_array()
            .and_then(|steps| steps.iter().find(|step| step["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("step {name}: {deploy}"))
    };
    assert_eq!(step("deps")["status"], "ok", "{deploy}");
    assert_eq!(step("migrations")["status"], "ok", "{deploy}");
    // The migrations waited for the databases (their clock is their own work, the wait apart).
    assert!(
        step("migrations")["waited_seconds"].as_f64().unwrap_or(0.0) > 0.0,
        "{deploy}"
    );
    for (api_version, kind, name) in [
        ("apps/v1", "Deployment", "postgres"),
        ("apps/v1", "Deployment", "redis"),
        ("v1", "Service", "postgres"),
        ("v1", "Secret", "postgres"),
        ("batch/v1", "Job", "datastorage-migrations"),
    ] {
        assert!(
            project.api.object(api_version, kind, Some("default"), name).is_some(),
            "{kind}/{name} applied"
        );
    }
}
