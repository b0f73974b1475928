//! The test phase (`test:`) end to end: the bundled example set up through the fakes (fake
//! `docker`/`kind`, the fake API server), then a fake E2E suite — a shell script run directly
//! (argv, no shell of ours) that writes Ginkgo- and `go test`-shaped JUnit — passing, failing
//! with locations, hanging past its timeout, missing, and interrupted by SIGTERM. What a
//! consumer sees: the exit code, `timings.json`, `junit.xml` read back by junitparser, the
//! annotations and the job summary.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::run_cli::{CANCELLED, INFRASTRUCTURE, bundled_example, example_timings, phase};
use crate::support::{Engines, Project, stderr, stdout};

const TESTS_FAILED: i32 = 8;

/// The fake suite: `suite.sh MODE`.
const SUITE: &str = r#"#!/bin/sh
# A fake E2E suite: records what it was given, writes JUnit as Ginkgo and go test do, exits as told.
env | grep -E '^(KUBECONFIG|HYBRID_E2E_)' | sort > seen-env.txt
pwd > seen-pwd.txt
echo "suite: running against $KUBECONFIG with token $SUITE_TOKEN"
mkdir -p out
case "$1" in
pass)
    sleep 1
    cat > out/e2e.xml <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="3" failures="0">
  <testsuite name="Example E2E Suite" tests="3" failures="0" skipped="1" time="1.2">
    <testcase name="[It] lifecycle completes" classname="Example E2E Suite" time="0.9"></testcase>
    <testcase name="[It] audit events are stored" classname="Example E2E Suite" time="0.3"></testcase>
    <testcase name="[It] needs a GPU" classname="Example E2E Suite" time="0"><skipped message="skipped"></skipped></testcase>
  </testsuite>
</testsuites>
EOF
    echo "suite: 2 passed"
    exit 0 ;;
fail)
    cat > out/e2e.xml <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="2" failures="1">
  <testsuite name="Example E2E Suite" tests="2" failures="1" time="2.5">
    <testcase name="[It] lifecycle completes" classname="Example E2E Suite" status="failed" time="2.1">
      <failure message="Expected&#xA;    &lt;string&gt;: Pending&#xA;to equal&#xA;    &lt;string&gt;: Completed" type="failed">[FAILED] Expected&#xA;    &lt;string&gt;: Pending&#xA;to equal&#xA;    &lt;string&gt;: Completed&#xA;In [It] at: $PWD/test/e2e/lifecycle_test.go:42 @ 12/26/25 10:57:21.123&#xA;</failure>
    </testcase>
    <testcase name="[It] audit events are stored" classname="Example E2E Suite" time="0.4"></testcase>
  </testsuite>
</testsuites>
EOF
    cat > out/unit.xml <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="1" failures="1">
  <testsuite name="example.com/app/pkg/store" tests="1" failures="1" time="0.01">
    <testcase name="TestPut" classname="example.com/app/pkg/store" time="0.01">
      <failure message="Failed"><![CDATA[    store_test.go:17: put: got 1, want 2 (as $SUITE_TOKEN)]]></failure>
    </testcase>
  </testsuite>
</testsuites>
EOF
    echo "suite: FAIL"
    exit 1 ;;
nojunit)
    echo "suite: ran, reported nowhere"
    exit 0 ;;
lose-cluster)
    rm -f "$KUBECONFIG"
    echo "suite: Unable to connect to the server"
    exit 1 ;;
hang)
    trap 'echo terminated > got-term.txt; exit 143' TERM
    echo started > started.txt
    sleep 60 &
    wait
    exit 0 ;;
esac
"#;

/// The bundled example with the fake suite as its `test:` (`extra` adds keys to it).
fn example_with_suite(mode: &str, extra: &str) -> Project {
    example_with_suite_on(fake_apiserver::Script::default(), mode, extra)
}

fn example_with_suite_on(script: fake_apiserver::Script, mode: &str, extra: &str) -> Project {
    let project = bundled_example(script, Engines::Fake);
    let path = project.path();
    let suite = path.join("suite.sh");
    std::fs::write(&suite, SUITE).expect("suite");
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&suite, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    for (file, body) in [
        ("test/e2e/lifecycle_test.go", "package e2e\n"),
        ("go.mod", "module example.com/app\n\ngo 1.23\n"),
        ("pkg/store/store_test.go", "package store\n"),
    ] {
        let file = path.join(file);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        std::fs::write(file, body).expect("write");
    }
    let config = path.join("hybrid-e2e.yaml");
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str(&format!(
        "\ntest:\n  command: ./suite.sh {mode}\n  env: {{SUITE_TOKEN: s3cret-value}}\n  junit: [\"out/*.xml\"]\n  target: 30s\n{extra}"
    ));
    std::fs::write(&config, text).expect("config");
    project
}

fn test_step(timings: &Value) -> Value {
    phase(timings, "test")["steps"][0].clone()
}

/// What junitparser, a real JUnit consumer, reads from `junit.xml` (`None`: the peer is not
/// installed here, and that is allowed).
fn junitparser(path: &Path) -> Option<Vec<Value>> {
    let root = crate::support::repo();
    let venv = root.join("target/peer-venv/bin/python");
    let python = std::env::var("HYBRID_E2E_PEER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or(if venv.exists() { venv } else { PathBuf::from("python3") });
    let output = Command::new(python)
        .arg(root.join("tests/peers/junit_summary.py"))
        .arg(path)
        .output()
        .ok()?;
    if !output.status.success() {
        let error = String::from_utf8_lossy(&output.stderr);
        assert!(
            error.contains("No module named"),
            "junitparser could not read {}: {error}",
            path.display()
        );
        eprintln!("skipping the junitparser check: {error}");
        return None;
    }
    Some(serde_json::from_slice(&output.stdout).expect("peer JSON"))
}

fn suite_named<'a>(suites: &'a [Value], name: &str) -> &'a Value {
    suites
        .iter()
        .find(|suite| suite["name"] == name)
        .unwrap_or_else(|| panic!("suite {name} in {suites:?}"))
}

#[test]
fn a_passing_suite_is_its_own_timed_phase_with_the_cluster_and_the_images() {
    for mode in ["strict", "pipelined"] {
        let project = example_with_suite("pass", "");
        let output = project.run(&["run", "--mode", mode], &[]);
        assert_eq!(output.status.code(), Some(0), "{mode}: {}", stderr(&output));
        let timings = example_timings(&project);
        let test = phase(&timings, "test");
        assert_eq!(test["status"], "ok", "{mode}: {test}");
        assert_eq!(test["target_seconds"], 30.0);
        assert!(test["duration_seconds"].as_f64().expect("duration") >= 1.0);
        // Its time is its own: the setup's is the setup phases' alone.
        let deploy = phase(&timings, "deploy");
        let time =
            |value: &Value| chrono::DateTime::parse_from_rfc3339(value.as_str().expect("a time")).expect("RFC 3339");
        // (Pipelined phase times come from one monotonic clock mapped onto the wall clock:
        // a few milliseconds of slack.)
        assert!(
            time(&test["started_at"]) + chrono::Duration::milliseconds(50) >= time(&deploy["finished_at"]),
            "{mode}: the suite starts after every deploy group: {} vs {}",
            test["started_at"],
            deploy["finished_at"]
        );
        if mode == "strict" {
            let setup: f64 = ["build", "cluster", "load", "deploy"]
                .iter()
                .map(|name| phase(&timings, name)["duration_seconds"].as_f64().expect("seconds"))
                .sum();
            let recorded = timings["setup_seconds"].as_f64().expect("setup");
            assert!((recorded - setup).abs() < 1e-6, "{recorded} vs {setup}");
        }
        assert_eq!(timings["within_target"], true);
        let step = test_step(&timings);
        assert_eq!(step["name"], "suite");
        assert_eq!(step["tests"]["counts"]["tests"], 3);
        assert_eq!(step["tests"]["counts"]["passed"], 2);
        assert_eq!(step["tests"]["counts"]["skipped"], 1);
        assert_eq!(step["log"], "logs/test/suite.log");
        let log = std::fs::read_to_string(project.path().join("hybrid-e2e-report/logs/test/suite.log")).expect("log");
        assert!(log.contains("suite: 2 passed"), "{log}");
        // The cluster and every image, and nothing of ours printed that the suite was given.
        let seen = std::fs::read_to_string(project.path().join("seen-env.txt")).expect("env");
        let kubeconfig = project.path().join("hybrid-e2e-report/kubeconfig");
        assert!(seen.contains(&format!("KUBECONFIG={}", kubeconfig.display())), "{seen}");
        for line in [
            "HYBRID_E2E_IMAGE_GATEWAY=localhost/example/gateway:e2e",
            "HYBRID_E2E_IMAGE_DATASTORAGE=localhost/example/datastorage:e2e",
            "HYBRID_E2E_IMAGE_MOCK_LLM=localhost/example/mock-llm:e2e",
        ] {
            assert!(seen.contains(line), "{line} in {seen}");
        }
        assert!(!stderr(&output).contains("s3cret-value"));
        assert!(
            !std::fs::read_to_string(project.path().join("hybrid-e2e-report/timings.json"))
                .expect("timings")
                .contains("s3cret-value")
        );
        let junit = project.path().join("hybrid-e2e-report/junit.xml");
        if let Some(suites) = junitparser(&junit) {
            let e2e = suite_named(&suites, "test / Example E2E Suite");
            assert_eq!(e2e["tests"], 3, "{e2e}");
            assert_eq!(e2e["failures"], 0);
            assert_eq!(e2e["skipped"], 1);
            assert_eq!(suite_named(&suites, "test")["tests"], 1, "the phase's own suite");
        }
    }
}

#[test]
fn failing_tests_fail_the_run_as_application_with_annotations_at_their_lines() {
    let project = example_with_suite("fail", "");
    let summary = project.path().join("step-summary.md");
    let workspace = project.path().display().to_string();
    let output = project.run(
        &["run"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_WORKSPACE", workspace.as_str()),
            ("GITHUB_STEP_SUMMARY", summary.to_str().expect("UTF-8")),
        ],
    );
    assert_eq!(output.status.code(), Some(TESTS_FAILED), "{}", stderr(&output));
    // The secret-looking `SUITE_TOKEN` the suite printed and wrote into its JUnit is masked for
    // the runner first, and shown nowhere: terminal, log, records, annotations.
    let (out, err) = (stdout(&output), stderr(&output));
    assert!(
        out.contains("::add-mask::s3cret-value") || err.contains("::add-mask::s3cret-value"),
        "{out}{err}"
    );
    let report = project.path().join("hybrid-e2e-report");
    for (name, text) in [
        ("stdout", out.replace("::add-mask::s3cret-value", "")),
        ("stderr", err.replace("::add-mask::s3cret-value", "")),
        (
            "suite.log",
            std::fs::read_to_string(report.join("logs/test/suite.log")).expect("log"),
        ),
        (
            "timings.json",
            std::fs::read_to_string(report.join("timings.json")).expect("timings"),
        ),
        (
            "junit.xml",
            std::fs::read_to_string(report.join("junit.xml")).expect("junit"),
        ),
        ("summary", std::fs::read_to_string(&summary).expect("summary")),
    ] {
        assert!(!text.contains("s3cret-value"), "{name} shows the secret: {text}");
    }
    assert!(err.contains("with token ***"), "{err}");
    let timings = example_timings(&project);
    assert_eq!(timings["status"], "failed");
    assert_eq!(timings["failed_phase"], "test");
    assert_eq!(timings["failure_class"], "application");
    assert_eq!(timings["within_target"], true, "the setup itself was within its budget");
    let step = test_step(&timings);
    assert_eq!(step["file"], "test/e2e/lifecycle_test.go");
    assert_eq!(step["line"], 42);
    assert!(
        step["message"]
            .as_str()
            .is_some_and(|message| message.starts_with("2 of 3 test(s) failed; first: [It] lifecycle completes")),
        "{step}"
    );
    let cases: Vec<&Value> = step["tests"]["suites"]
        .as_array()
        .expect("suites")
        .iter()
        .flat_map(|suite| suite["cases"].as_array().expect("cases"))
        .collect();
    let go = cases
        .iter()
        .find(|case| case["name"] == "TestPut")
        .expect("the go test");
    assert_eq!(go["file"], "pkg/store/store_test.go", "resolved through go.mod");
    assert_eq!(go["line"], 17);
    let annotations = stdout(&output);
    assert!(
        annotations.contains("::error title=hybrid-e2e test/Example E2E Suite,file=test/e2e/lifecycle_test.go,line=42,endLine=42::[failed] [It] lifecycle completes"),
        "{annotations}"
    );
    assert!(
        annotations.contains(
            "file=pkg/store/store_test.go,line=17,endLine=17::[failed] TestPut%0Astore_test.go:17: put: got 1, want 2"
        ),
        "{annotations}"
    );
    let summary = std::fs::read_to_string(&summary).expect("summary");
    assert!(
        summary.contains("Tests: 1 passed, 2 failed, 0 skipped of 3"),
        "{summary}"
    );
    assert!(summary.contains("`test/e2e/lifecycle_test.go:42`"), "{summary}");
    let failing = summary.find("❌ [It] lifecycle completes").expect("failure row");
    let slowest = summary
        .find("[It] audit events are stored | Example E2E Suite | passed (slowest)")
        .expect("slowest row");
    assert!(failing < slowest, "failures first");
    // preserve: on-failure keeps the cluster after failed tests.
    let calls: Vec<String> = project.kind_calls().into_iter().map(|(args, _)| args).collect();
    assert!(
        !calls.iter().any(|call| call.starts_with("delete cluster")),
        "{calls:?}"
    );
    assert!(stderr(&output).contains("preserved"), "{}", stderr(&output));
    if let Some(suites) = junitparser(&project.path().join("hybrid-e2e-report/junit.xml")) {
        let e2e = suite_named(&suites, "test / Example E2E Suite");
        assert_eq!(e2e["failures"], 1, "{e2e}");
        let failed = e2e["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .find(|case| case["result"] == "failure")
            .expect("the failure");
        assert_eq!(failed["type"], "failed");
        assert!(
            failed["message"]
                .as_str()
                .is_some_and(|message| message.contains("Completed"))
        );
        assert_eq!(suite_named(&suites, "test / example.com/app/pkg/store")["failures"], 1);
    }
}

#[test]
fn a_suite_that_hangs_is_stopped_at_its_timeout() {
    let project = example_with_suite("hang", "  timeout: 2s\n");
    let started = Instant::now();
    let output = project.run(&["run", "--preserve", "never"], &[]);
    assert_eq!(output.status.code(), Some(TESTS_FAILED), "{}", stderr(&output));
    let timings = example_timings(&project);
    let step = test_step(&timings);
    assert_eq!(step["status"], "failed");
    assert_eq!(step["failure_class"], "application");
    assert!(
        step["message"]
            .as_str()
            .is_some_and(|message| message.contains("did not finish within 2s")),
        "{step}"
    );
    let seconds = step["duration_seconds"].as_f64().expect("seconds");
    assert!((2.0..8.0).contains(&seconds), "{seconds}");
    assert!(
        project.path().join("got-term.txt").exists(),
        "the suite was sent SIGTERM first"
    );
    assert!(started.elapsed() < Duration::from_secs(120));
    // preserve: never tears the cluster down anyway.
    let calls: Vec<String> = project.kind_calls().into_iter().map(|(args, _)| args).collect();
    assert!(calls.iter().any(|call| call.starts_with("delete cluster")), "{calls:?}");
}

/// A report an earlier run left — even one dated in the future, as a skewed network mount
/// would — is not this run's: only what the suite creates or rewrites is read.
#[test]
fn an_earlier_runs_junit_is_not_read_whatever_its_date() {
    let project = example_with_suite("pass", "");
    let out = project.path().join("out");
    std::fs::create_dir_all(&out).expect("mkdir");
    let stale = out.join("earlier.xml");
    std::fs::write(
        &stale,
        r#"<testsuites><testsuite name="Earlier"><testcase name="old"><failure message="old failure"/></testcase></testsuite></testsuites>"#,
    )
    .expect("write");
    let touched = Command::new("touch")
        .args(["-d", "+1 hour"])
        .arg(&stale)
        .status()
        .expect("touch");
    assert!(touched.success());
    let output = project.run(&["run"], &[]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert!(err.contains("earlier.xml was there before the suite started"), "{err}");
    let timings = example_timings(&project);
    let files = test_step(&timings)["tests"]["junit_files"].to_string();
    assert!(files.contains("e2e.xml") && !files.contains("earlier.xml"), "{files}");
}

/// Exit 0 with no JUnit where `test.junit` says is no pass: nothing says which tests ran.
#[test]
fn a_suite_that_passes_without_its_junit_is_not_green() {
    let project = example_with_suite("nojunit", "");
    let summary = project.path().join("step-summary.md");
    let output = project.run(
        &["run"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", summary.to_str().expect("UTF-8")),
        ],
    );
    assert_eq!(output.status.code(), Some(TESTS_FAILED), "{}", stderr(&output));
    let timings = example_timings(&project);
    assert_eq!(timings["status"], "failed");
    assert_eq!(timings["failed_phase"], "test");
    let step = test_step(&timings);
    assert!(
        step["message"]
            .as_str()
            .is_some_and(|message| message.contains("exited 0 but wrote no JUnit file matching `test.junit`")),
        "{step}"
    );
    let summary = std::fs::read_to_string(&summary).expect("summary");
    assert!(!summary.contains("✅ Tests"), "{summary}");
}

/// A suite whose program is not there fails the preflight, in seconds, not after the setup's
/// minutes: no image is built and no cluster made.
#[test]
fn a_suite_that_cannot_start_fails_the_preflight() {
    let project = bundled_example(fake_apiserver::Script::default(), Engines::Fake);
    let config = project.path().join("hybrid-e2e.yaml");
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str("\ntest:\n  command: [hybrid-e2e-no-such-runner, ./...]\n");
    std::fs::write(&config, text).expect("config");
    let output = project.run(&["run"], &[]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(INFRASTRUCTURE), "{err}");
    assert!(
        err.contains("the suite's program `hybrid-e2e-no-such-runner` is not on PATH")
            && err.contains("not through a shell"),
        "{err}"
    );
    let timings = example_timings(&project);
    assert_eq!(timings["failed_phase"], "preflight");
    assert_eq!(timings["failure_class"], "infrastructure");
    assert!(
        !project
            .kind_calls()
            .iter()
            .any(|(args, _)| args.starts_with("create cluster")),
        "no cluster for a suite that cannot run"
    );
    // A script of the project's own, named by path, is found relative to the working directory.
    let text = std::fs::read_to_string(&config)
        .expect("config")
        .replace("[hybrid-e2e-no-such-runner, ./...]", "[./e2e.sh]");
    std::fs::write(&config, text).expect("config");
    let output = project.run(&["run"], &[]);
    let err = stderr(&output);
    assert!(err.contains("`./e2e.sh` is not an executable file in"), "{err}");
    assert!(err.contains("chmod +x"), "{err}");
}

#[test]
fn sigterm_during_the_tests_stops_the_suite_and_writes_the_record() {
    let project = example_with_suite("hang", "");
    let mut child = project
        .command(&["run"], &[])
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let marker = project.path().join("started.txt");
    let started = Instant::now();
    while !marker.exists() && started.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(marker.exists(), "the suite started");
    std::thread::sleep(Duration::from_millis(300));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let stopped = Instant::now();
    let status = child.wait().expect("wait");
    assert!(stopped.elapsed() < Duration::from_secs(20), "{:?}", stopped.elapsed());
    assert_eq!(status.code(), Some(CANCELLED));
    assert!(project.path().join("got-term.txt").exists(), "the suite got SIGTERM");
    let timings = example_timings(&project);
    assert_eq!(timings["status"], "cancelled");
    assert_eq!(timings["failure_class"], "cancelled");
    assert_eq!(phase(&timings, "test")["status"], "cancelled");
    assert_eq!(phase(&timings, "deploy")["status"], "ok");
}

#[test]
fn plan_shows_the_test_phase_without_its_secrets() {
    let project = example_with_suite("pass", "");
    let output = project.run(&["plan"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("5. test     target    30s  ./suite.sh pass (in "),
        "{text}"
    );
    assert!(
        text.contains("3 HYBRID_E2E_IMAGE_* variable(s) + SUITE_TOKEN"),
        "{text}"
    );
    assert!(text.contains("out/*.xml (merged into junit.xml)"), "{text}");
    assert!(!text.contains("s3cret-value"), "{text}");
}

/// A workload the setup did not wait for crashes: the failed suite's record says so, with the
/// diagnostics written before anything is torn down.
#[test]
fn after_failed_tests_every_deployed_object_that_is_not_ready_is_diagnosed() {
    let mut script = fake_apiserver::Script::default();
    script.behaviours.insert(
        "cache".to_owned(),
        fake_apiserver::Behaviour::CrashLoop {
            exit_code: 1,
            log: vec!["cache: out of memory".to_owned()],
        },
    );
    let project = example_with_suite_on(script, "fail", "");
    std::fs::write(
        project.path().join("deploy/cache.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: cache, namespace: example-e2e}\nspec:\n  replicas: 1\n  selector: {matchLabels: {app: cache}}\n  template:\n    metadata: {labels: {app: cache}}\n    spec:\n      containers:\n        - name: cache\n          image: docker.io/library/postgres:16-alpine\n---\napiVersion: v1\nkind: Service\nmetadata: {name: cache, namespace: example-e2e}\nspec:\n  selector: {app: cache}\n  ports: [{port: 6379}]\n",
    )
    .expect("manifest");
    let config = project.path().join("hybrid-e2e.yaml");
    let text = std::fs::read_to_string(&config).expect("config").replace(
        "deploy:\n  - name: postgres",
        "deploy:\n  - name: cache\n    manifests: [deploy/cache.yaml]\n    wait_for: [service/cache]\n  - name: postgres",
    );
    std::fs::write(&config, text).expect("config");
    let output = project.run(&["run"], &[]);
    assert_eq!(output.status.code(), Some(TESTS_FAILED), "{}", stderr(&output));
    let timings = example_timings(&project);
    assert_eq!(
        phase(&timings, "deploy")["status"],
        "ok",
        "the setup did not wait for it"
    );
    let step = test_step(&timings);
    let hint = step["hint"].as_str().expect("a hint");
    assert!(
        hint.contains("1 deployed object(s) not ready after the tests; diagnostics: diagnostics/deploy/example-e2e/"),
        "{hint}"
    );
    let summary = project
        .path()
        .join("hybrid-e2e-report/diagnostics/deploy/example-e2e/deployment-cache.txt");
    let text = std::fs::read_to_string(&summary).expect("diagnostics written");
    assert!(text.contains("CrashLoopBackOff"), "{text}");
    let calls: Vec<String> = project.kind_calls().into_iter().map(|(args, _)| args).collect();
    assert!(
        !calls.iter().any(|call| call.starts_with("delete cluster")),
        "kept: {calls:?}"
    );
}

/// The Python the peers run on (the peer venv `.ci/test.sh` makes, where pytest is installed).
fn peer_python() -> PathBuf {
    let venv = crate::support::repo().join("target/peer-venv/bin/python");
    std::env::var("HYBRID_E2E_PEER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or(if venv.exists() { venv } else { PathBuf::from("python3") })
}

const PYTEST_SUITE: &str = r#"import pytest


@pytest.fixture
def cluster():
    raise ConnectionError("dial tcp 10.96.0.1:443: connect: connection refused")


def test_passes():
    assert 1 + 1 == 2


def test_assertion():
    expected = {"phase": "Completed"}
    assert {"phase": "Pending"} == expected


def test_needs_cluster(cluster):
    pass


@pytest.mark.skip(reason="needs a GPU")
def test_skipped():
    pass
"#;

/// A crate whose tests pass, fail an assertion and panic on `unwrap`, for cargo-nextest.
const NEXTEST_LIB: &str = r#"pub fn parse(text: &str) -> Result<i32, String> {
    text.parse().map_err(|_| format!("not a number: {text}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn adds() {
        assert_eq!(super::parse("2"), Ok(2));
    }

    #[test]
    fn compares() {
        let parsed = super::parse("1").unwrap();
        assert_eq!(parsed, 2, "parsed the duration");
    }

    #[test]
    fn unwraps() {
        super::parse("x").unwrap();
    }
}
"#;

/// The triage report from JUnit the real cargo-nextest wrote (where it is installed, as on our
/// machines): the assertion and the panic each at its line of `src/lib.rs`, classified
/// `assertion` and `error`, with what happened in the message — not only where.
#[test]
fn triage_reads_real_cargo_nextest_junit() {
    let has_nextest = Command::new("cargo")
        .args(["nextest", "--version"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !has_nextest {
        eprintln!("skipping: cargo-nextest is not installed");
        return;
    }
    let directory = tempfile::tempdir().expect("tempdir");
    let path = directory.path();
    std::fs::create_dir_all(path.join("src")).expect("mkdir");
    std::fs::create_dir_all(path.join(".config")).expect("mkdir");
    std::fs::write(
        path.join("Cargo.toml"),
        "[package]\nname = \"triage-probe\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .expect("manifest");
    std::fs::write(path.join("src/lib.rs"), NEXTEST_LIB).expect("lib");
    std::fs::write(
        path.join(".config/nextest.toml"),
        "[profile.ci]\nfail-fast = false\n\n[profile.ci.junit]\npath = \"junit.xml\"\n",
    )
    .expect("nextest config");
    let nextest = Command::new("cargo")
        .args(["nextest", "run", "--offline", "--profile", "ci"])
        .current_dir(path)
        .env("CARGO_TARGET_DIR", path.join("target"))
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS")
        .output()
        .expect("cargo runs");
    let junit = path.join("target/nextest/ci/junit.xml");
    assert!(
        junit.is_file(),
        "nextest wrote no JUnit: {}",
        String::from_utf8_lossy(&nextest.stderr)
    );
    let output = Command::new(env!("CARGO_BIN_EXE_hybrid-e2e"))
        .args(["report", "--junit"])
        .arg(format!("rust={}", junit.display()))
        .args(["-o", "triage"])
        .current_dir(path)
        .env("NO_COLOR", "1")
        .env_remove("GITHUB_ACTIONS")
        .env_remove("HYBRID_E2E_CONFIG")
        .output()
        .expect("hybrid-e2e runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(path.join("triage/triage.json")).expect("json")).expect("JSON");
    let tier = &json["tiers"][0];
    assert_eq!(
        (tier["tests"].as_u64(), tier["passed"].as_u64(), tier["failed"].as_u64()),
        (Some(3), Some(1), Some(2)),
        "{tier:#}"
    );
    let line_of = |needle: &str| {
        NEXTEST_LIB
            .lines()
            .position(|line| line.contains(needle))
            .map(|index| index + 1)
    };
    let failure = |name: &str| {
        tier["failures"]
            .as_array()
            .expect("failures")
            .iter()
            .find(|failure| failure["name"].as_str().is_some_and(|test| test.ends_with(name)))
            .unwrap_or_else(|| panic!("{name} in {tier:#}"))
            .clone()
    };
    let compares = failure("tests::compares");
    assert_eq!(compares["category"], "assertion", "{compares}");
    assert_eq!(compares["file"], "src/lib.rs");
    assert_eq!(
        compares["line"].as_u64(),
        line_of("assert_eq!(parsed, 2").map(|line| line as u64)
    );
    assert!(
        compares["message"]
            .as_str()
            .is_some_and(|message| message.contains("assertion `left == right` failed")),
        "{compares}"
    );
    let unwraps = failure("tests::unwraps");
    assert_eq!(unwraps["category"], "error", "{unwraps}");
    assert_eq!(
        unwraps["line"].as_u64(),
        line_of("super::parse(\"x\").unwrap()").map(|line| line as u64)
    );
    assert!(
        unwraps["message"]
            .as_str()
            .is_some_and(|message| message.contains("called `Result::unwrap()` on an `Err` value")),
        "{unwraps}"
    );
}

/// The triage report from JUnit the real pytest wrote, next to Ginkgo's: per tier the pass rate,
/// every failure at its `file:line`, classified; Markdown in the job summary, JSON beside it.
#[test]
fn triage_reads_real_pytest_junit_and_ginkgo_and_classifies_each_failure() {
    let directory = tempfile::tempdir().expect("tempdir");
    let path = directory.path();
    std::fs::create_dir_all(path.join("tests")).expect("mkdir");
    std::fs::write(path.join("tests/test_api.py"), PYTEST_SUITE).expect("suite");
    let pytest = Command::new(peer_python())
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--junitxml=reports/pytest.xml",
            "tests",
        ])
        .current_dir(path)
        .output()
        .expect("python runs");
    if !path.join("reports/pytest.xml").exists() {
        let error = String::from_utf8_lossy(&pytest.stderr);
        assert!(
            std::env::var("HYBRID_E2E_REQUIRE_PEERS").map_or(true, |value| value != "1"),
            "pytest is required (.ci/test.sh installs it): {error}"
        );
        eprintln!("skipping: pytest is not installed: {error}");
        return;
    }
    assert_eq!(pytest.status.code(), Some(1), "two tests fail");
    let ginkgo = crate::support::repo().join("tests/fixtures/junit/ginkgo-e2e-setup-failed.xml");
    std::fs::write(
        path.join("hybrid-e2e.yaml"),
        format!(
            "version: 1\ntiers:\n  python: [\"reports/*.xml\"]\n  e2e: [\"{}\"]\n",
            ginkgo.display()
        ),
    )
    .expect("config");
    let summary = path.join("summary.md");
    let workspace = path.display().to_string();
    for args in [
        vec![
            "report".to_owned(),
            "--junit".to_owned(),
            "python=reports/*.xml".to_owned(),
            "--junit".to_owned(),
            format!("e2e={}", ginkgo.display()),
            "-o".to_owned(),
            "triage".to_owned(),
        ],
        vec![
            "report".to_owned(),
            "--triage".to_owned(),
            "-o".to_owned(),
            "triage".to_owned(),
        ],
    ] {
        let _ = std::fs::remove_file(&summary);
        let output = Command::new(env!("CARGO_BIN_EXE_hybrid-e2e"))
            .args(&args)
            .current_dir(path)
            .env("NO_COLOR", "1")
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_WORKSPACE", &workspace)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env_remove("HYBRID_E2E_CONFIG")
            .output()
            .expect("hybrid-e2e runs");
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr(&output));
        assert!(
            stderr(&output).contains("triage: e2e is blocked"),
            "{}",
            stderr(&output)
        );
        let json: Value =
            serde_json::from_str(&std::fs::read_to_string(path.join("triage/triage.json")).expect("json"))
                .expect("JSON");
        assert_eq!(json["status"], "blocked");
        let python = json["tiers"]
            .as_array()
            .expect("tiers")
            .iter()
            .find(|tier| tier["name"] == "python")
            .expect("python tier");
        assert_eq!(python["tests"], 4, "{python}");
        assert_eq!(python["passed"], 1);
        assert_eq!(python["skipped"], 1);
        assert_eq!(python["failed"], 2);
        let failure = |name: &str| {
            python["failures"]
                .as_array()
                .expect("failures")
                .iter()
                .find(|failure| failure["name"] == name)
                .unwrap_or_else(|| panic!("{name} in {python}"))
                .clone()
        };
        let assertion = failure("test_assertion");
        assert_eq!(assertion["category"], "assertion", "{assertion}");
        assert_eq!(assertion["file"], "tests/test_api.py");
        assert_eq!(assertion["line"], 15, "the assert statement");
        let setup = failure("test_needs_cluster");
        assert_eq!(setup["category"], "setup", "a fixture error: {setup}");
        assert_eq!(setup["outcome"], "error");
        let markdown = std::fs::read_to_string(path.join("triage/triage.md")).expect("markdown");
        assert_eq!(std::fs::read_to_string(&summary).expect("job summary"), markdown);
        assert!(markdown.contains("| ❌ python | 1/4 | 25.0% | 2 | 1 |"), "{markdown}");
        assert!(markdown.contains("`tests/test_api.py:15`"), "{markdown}");
    }
}

/// The cluster goes away under the suite (here: its kubeconfig): infrastructure, not the tests.
#[test]
fn a_cluster_lost_during_the_tests_is_infrastructure() {
    let project = example_with_suite("lose-cluster", "");
    let output = project.run(&["run"], &[]);
    assert_eq!(output.status.code(), Some(INFRASTRUCTURE), "{}", stderr(&output));
    let timings = example_timings(&project);
    assert_eq!(timings["failed_phase"], "test");
    assert_eq!(timings["failure_class"], "infrastructure");
    let step = test_step(&timings);
    assert!(
        step["message"].as_str().is_some_and(
            |message| message.contains("the suite failed (exit 1)") && message.contains("no longer answers")
        ),
        "{step}"
    );
}

/// A failed setup never runs the suite: the test phase is `skipped`, in both modes.
#[test]
fn a_failed_setup_skips_the_suite() {
    for mode in ["strict", "pipelined"] {
        let mut script = fake_apiserver::Script::default();
        script.behaviours.insert(
            "datastorage".to_owned(),
            fake_apiserver::Behaviour::CrashLoop {
                exit_code: 1,
                log: vec!["FATAL: no database".to_owned()],
            },
        );
        let project = example_with_suite_on(script, "pass", "");
        let output = project.run(&["run", "--mode", mode], &[]);
        assert_eq!(
            output.status.code(),
            Some(crate::run_cli::SETUP_FAILED),
            "{mode}: {}",
            stderr(&output)
        );
        let timings = example_timings(&project);
        assert_eq!(timings["failed_phase"], "deploy", "{mode}");
        let test = phase(&timings, "test");
        assert_eq!(test["status"], "skipped", "{mode}: {test}");
        assert!(test["steps"].as_array().is_some_and(Vec::is_empty));
        assert!(
            !project.path().join("seen-env.txt").exists(),
            "{mode}: the suite never ran"
        );
    }
}
