//! JUnit XML (`quick-junit`) of one or more runs: one testsuite per phase, one testcase per step
//! with its time; targets as properties; failures carry the class, the hint and the output tail.
//! The test phase's own JUnit follows its phase: every suite kept, its name prefixed with `test / `.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use super::summary;

use crate::model::{PhaseRecord, RunRecord, Status, TestOutcome, TestSuiteResult};

/// Build the report. With several runs (matrix jobs), suite names are prefixed with the job.
pub(crate) fn render(runs: &[RunRecord], fail_on_target: bool) -> String {
    let mut report = Report::new("hybrid-e2e");
    let labels = summary::job_labels(runs);
    for (run, label) in runs.iter().zip(&labels) {
        let prefixed = |name: &str| {
            if runs.len() > 1 {
                format!("{label} / {name}")
            } else {
                name.to_owned()
            }
        };
        for phase in &run.phases {
            report.add_test_suite(suite(run, phase, prefixed(&phase.name), fail_on_target));
            // The suite's own JUnit, suites kept, names prefixed with the phase.
            for tests in phase.steps.iter().filter_map(|step| step.tests.as_ref()) {
                for suite in &tests.suites {
                    report.add_test_suite(test_suite(suite, prefixed(&format!("{} / {}", phase.name, suite.name))));
                }
            }
        }
        if let Some(lint) = lint_suite(run, prefixed("lint")) {
            report.add_test_suite(lint);
        }
    }
    report.to_string().unwrap_or_default()
}

fn seconds(value: f64) -> Duration {
    Duration::from_secs_f64(value.max(0.0))
}

/// The findings behind failed steps (the Dockerfile lint `run` did before building), one
/// testcase each.
fn lint_suite(run: &RunRecord, name: String) -> Option<TestSuite> {
    let findings: Vec<_> = run
        .phases
        .iter()
        .flat_map(|phase| &phase.steps)
        .filter(|step| step.status == Status::Failed)
        .flat_map(|step| &step.findings)
        .collect();
    if findings.is_empty() {
        return None;
    }
    let mut suite = TestSuite::new(name);
    for finding in findings {
        let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
        status
            .set_message(format!("{} [{}]", finding.message, finding.rule))
            .set_type("lint");
        let mut case = TestCase::new(format!("{}:{}", finding.path, finding.line), status);
        case.set_classname("hybrid-e2e.lint");
        suite.add_test_case(case);
    }
    Some(suite)
}

/// One suite of the test phase's JUnit, as the suite wrote it (plus each failure's location).
fn test_suite(source: &TestSuiteResult, name: String) -> TestSuite {
    let mut suite = TestSuite::new(name);
    if let Some(seconds_) = source.duration_seconds {
        suite.set_time(seconds(seconds_));
    }
    if let Some(file) = &source.source {
        suite.add_property(Property::new("junit.file", file.as_str()));
    }
    for case in &source.cases {
        let status = match case.outcome {
            TestOutcome::Passed => TestCaseStatus::success(),
            TestOutcome::Skipped => {
                let mut status = TestCaseStatus::skipped();
                if let Some(message) = &case.message {
                    status.set_message(message.as_str());
                }
                status
            }
            TestOutcome::Failed | TestOutcome::Error => {
                let kind = if case.outcome == TestOutcome::Failed {
                    NonSuccessKind::Failure
                } else {
                    NonSuccessKind::Error
                };
                let mut status = TestCaseStatus::non_success(kind);
                if let Some(message) = &case.message {
                    status.set_message(message.as_str());
                }
                if let Some(kind) = &case.kind {
                    status.set_type(kind.as_str());
                }
                let mut description = case.details.join("\n");
                if let Some(file) = &case.file {
                    let line = case.line.map(|line| format!(":{line}")).unwrap_or_default();
                    description.push_str(&format!("\nat: {file}{line}"));
                }
                status.set_description(description);
                status
            }
        };
        let mut test_case = TestCase::new(case.name.as_str(), status);
        if let Some(classname) = &case.classname {
            test_case.set_classname(classname.as_str());
        }
        test_case.set_time(seconds(case.duration_seconds));
        suite.add_test_case(test_case);
    }
    suite
}

fn suite(run: &RunRecord, phase: &PhaseRecord, name: String, fail_on_target: bool) -> TestSuite {
    let mut suite = TestSuite::new(name);
    suite.set_time(seconds(phase.duration_seconds));
    suite.add_property(Property::new("status", phase.status.as_str()));
    if let Some(target) = phase.target_seconds {
        suite.add_property(Property::new("target.seconds", format!("{target}")));
    }
    suite.add_property(Property::new("run.id", run.run_id.as_str()));
    let over = phase.status == Status::OverTarget;
    if over {
        let message = format!(
            "phase {} took {:.1}s, over its target of {:.0}s",
            phase.name,
            phase.duration_seconds,
            phase.target_seconds.unwrap_or_default()
        );
        suite.add_property(Property::new("over-target", message.as_str()));
        // Over target fails only with --fail-on-target; otherwise it is reported as skipped
        // (not enforced), never as a passing "within target".
        let status = if fail_on_target {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            status.set_message(message.as_str()).set_type("over-target");
            status
        } else {
            let mut status = TestCaseStatus::skipped();
            status.set_message(format!("{message} (not enforced without --fail-on-target)"));
            status
        };
        let mut case = TestCase::new(format!("{} target", phase.name), status);
        case.set_classname(format!("hybrid-e2e.{}", phase.name))
            .set_time(seconds(phase.duration_seconds));
        suite.add_test_case(case);
    }
    if phase.steps.is_empty() && phase.status == Status::Skipped {
        let mut status = TestCaseStatus::skipped();
        status.set_message(phase.message.as_deref().unwrap_or("skipped"));
        let mut case = TestCase::new(phase.name.as_str(), status);
        case.set_classname(format!("hybrid-e2e.{}", phase.name));
        suite.add_test_case(case);
    }
    for step in &phase.steps {
        let status = match step.status {
            Status::Failed => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                let class = step.failure_class.map_or("unknown", |class| class.as_str());
                status
                    .set_message(format!("[{class}] {}", step.message.as_deref().unwrap_or("failed")))
                    .set_type(class);
                let mut description = String::new();
                if let Some(hint) = &step.hint {
                    description.push_str(&format!("hint: {hint}\n"));
                }
                if let Some(file) = &step.file {
                    let line = step.line.map(|line| format!(":{line}")).unwrap_or_default();
                    description.push_str(&format!("file: {file}{line}\n"));
                }
                if let Some(log) = &step.log {
                    description.push_str(&format!("log: {log}\n"));
                }
                status.set_description(description);
                status
            }
            // An interrupted run is never green: its interrupted steps are errors. In a failed
            // run, steps cancelled because another failed are skipped (the failure is red).
            Status::Cancelled if run.status == Status::Cancelled => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                status
                    .set_message("interrupted: the run was cancelled before this step finished")
                    .set_type("cancelled");
                status
            }
            Status::Cancelled | Status::Skipped => {
                let mut status = TestCaseStatus::skipped();
                status.set_message(step.status.as_str());
                status
            }
            Status::Ok | Status::OverTarget => TestCaseStatus::success(),
        };
        let mut case = TestCase::new(step.name.as_str(), status);
        case.set_classname(format!("hybrid-e2e.{}", phase.name))
            .set_time(seconds(step.duration_seconds));
        if let Some(bytes) = step.bytes {
            case.add_property(Property::new("bytes", bytes.to_string()));
        }
        if step.attempts > 1 {
            case.add_property(Property::new("attempts", step.attempts.to_string()));
        }
        if !step.tail.is_empty() {
            case.set_system_out(step.tail.join("\n"));
        }
        suite.add_test_case(case);
    }
    suite
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    #[test]
    fn snapshots() {
        insta::assert_snapshot!("junit_green", render(&[fixtures::green()], false));
        insta::assert_snapshot!("junit_over_target", render(&[fixtures::over_target()], false));
        insta::assert_snapshot!("junit_over_target_failing", render(&[fixtures::over_target()], true));
        insta::assert_snapshot!("junit_build_failure", render(&[fixtures::build_failure()], false));
        insta::assert_snapshot!("junit_deploy_failure", render(&[fixtures::deploy_failure()], false));
        insta::assert_snapshot!("junit_cancelled", render(&[fixtures::cancelled()], false));
        insta::assert_snapshot!("junit_merged", render(&fixtures::matrix(), false));
        insta::assert_snapshot!("junit_lint_failure", render(&[fixtures::lint_failure()], false));
        insta::assert_snapshot!("junit_test_failure", render(&[fixtures::test_failure()], false));
    }

    /// What a JUnit consumer (junitparser) reads back from the 5,000-step report.
    #[test]
    fn junitparser_reads_it_back() {
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("junit.xml");
        let mut huge = fixtures::huge();
        huge.config_file = Some("services/huge/hybrid-e2e.yaml".to_owned());
        std::fs::write(&path, render(&[huge, fixtures::build_failure()], false)).expect("write");
        let Some(output) = crate::test_support::python_peer("junit_summary.py", &[path.to_str().expect("UTF-8")])
        else {
            return;
        };
        let suites: Vec<serde_json::Value> = serde_json::from_str(&output).expect("peer JSON");
        let build = suites
            .iter()
            .find(|suite| suite["name"] == "services/huge/hybrid-e2e.yaml / build")
            .expect("merged suite names");
        assert_eq!(build["tests"], 5_000);
        assert_eq!(build["failures"], 500);
        let failure = build["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .find(|case| case["result"] == "failure")
            .expect("a failure");
        assert_eq!(failure["type"], "application");
        assert!(
            failure["message"]
                .as_str()
                .expect("message")
                .starts_with("[application]")
        );
    }

    /// What a consumer sees of a cancelled run and of an over-target one: never green, never a
    /// passing "within target".
    #[test]
    fn junitparser_sees_a_cancelled_run_as_errors_and_over_target_as_skipped() {
        let directory = tempfile::tempdir().expect("tempdir");
        let read = |name: &str, xml: String| {
            let path = directory.path().join(name);
            std::fs::write(&path, xml).expect("write");
            crate::test_support::python_peer("junit_summary.py", &[path.to_str().expect("UTF-8")])
                .map(|output| serde_json::from_str::<Vec<serde_json::Value>>(&output).expect("peer JSON"))
        };
        let Some(cancelled) = read("cancelled.xml", render(&[fixtures::cancelled()], false)) else {
            return;
        };
        let build = cancelled.iter().find(|suite| suite["name"] == "build").expect("build");
        assert_eq!(build["errors"], 2, "{build}");
        assert_eq!(build["cases"][0]["type"], "cancelled");
        let errors: i64 = cancelled
            .iter()
            .map(|suite| suite["errors"].as_i64().unwrap_or(0))
            .sum();
        let failures: i64 = cancelled
            .iter()
            .map(|suite| suite["failures"].as_i64().unwrap_or(0))
            .sum();
        assert!(errors + failures > 0, "a cancelled run is not green");
        let over = read("over.xml", render(&[fixtures::over_target()], false)).expect("peer");
        let load = over.iter().find(|suite| suite["name"] == "load").expect("load");
        let target = load["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .find(|case| case["name"] == "load target")
            .expect("the target case");
        assert_eq!(target["result"], "skipped", "{target}");
        assert!(
            target["message"].as_str().expect("message").contains("over its target"),
            "{target}"
        );
        let enforced = read("enforced.xml", render(&[fixtures::over_target()], true)).expect("peer");
        let load = enforced.iter().find(|suite| suite["name"] == "load").expect("load");
        assert_eq!(load["failures"], 1, "{load}");
    }

    /// A deploy failure as junitparser reads it: the failing group, its class and its digest.
    #[test]
    fn junitparser_reads_a_deploy_failure() {
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("junit.xml");
        std::fs::write(&path, render(&[fixtures::deploy_failure()], false)).expect("write");
        let Some(output) = crate::test_support::python_peer("junit_summary.py", &[path.to_str().expect("UTF-8")])
        else {
            return;
        };
        let suites: Vec<serde_json::Value> = serde_json::from_str(&output).expect("peer JSON");
        let deploy = suites
            .iter()
            .find(|suite| suite["name"].as_str().is_some_and(|name| name.ends_with("deploy")))
            .expect("a deploy suite");
        assert_eq!(deploy["tests"], 4, "{deploy}");
        assert_eq!(deploy["failures"], 1, "{deploy}");
        let failure = deploy["cases"]
            .as_array()
            .expect("cases")
            .iter()
            .find(|case| case["result"] == "failure")
            .expect("a failure");
        assert_eq!(failure["type"], "application");
        assert!(
            failure["message"]
                .as_str()
                .expect("message")
                .contains("Deployment/datastorage failed: CrashLoopBackOff"),
            "{failure}"
        );
    }
}
