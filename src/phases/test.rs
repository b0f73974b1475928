//! Phase 5 (optional, `test:`): the project's own E2E suite against the run's cluster. One step,
//! `suite`: the command (argv, never a shell) with `KUBECONFIG` and `HYBRID_E2E_IMAGE_<NAME>`,
//! output streamed and logged like a build's, stopped at its timeout or on cancellation like any
//! step; then the JUnit files it wrote during the run are read (`testresults`) and carried to
//! the record, so `junit.xml`, the summary and the annotations show every test.
//!
//! A failing test is `application`; a suite that could not start (the program missing, the
//! cluster gone) or whose cluster stopped answering under it is `infrastructure`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::RunContext;
use crate::exec::{ExecError, ProcessSpec};
use crate::k8s::client;
use crate::model::{Failure, FailureClass, TestResults, TestSuiteResult};
use crate::plan::{Plan, PlannedTest, image_variable};
use crate::runner::{Step, StepContext, StepResult};
use crate::testresults;

/// The phase's one step.
pub(crate) const STEP: &str = "suite";
/// How long the cluster may take to answer before the suite starts.
const CLUSTER_CHECK: Duration = Duration::from_secs(20);
/// Between SIGTERM and SIGKILL of the suite: test runners write their reports on SIGTERM
/// (Ginkgo's own grace period is 30 s).
const KILL_GRACE: Duration = Duration::from_secs(30);
/// `test.env` names whose values are secrets (the patterns CI agents redact by default):
/// `*_TOKEN`, `*_PASSWORD`, … or the bare word.
const SECRET_NAMES: [&str; 10] = [
    "TOKEN",
    "PASSWORD",
    "PASSWD",
    "SECRET",
    "PRIVATE_KEY",
    "ACCESS_KEY",
    "SECRET_KEY",
    "API_KEY",
    "CREDENTIALS",
    "CONNECTION_STRING",
];
/// Shorter values are not masked: hiding every `1` would make the output unreadable.
const SECRET_MIN_LENGTH: usize = 4;

/// The values of `env` that look like secrets by their name (`SUITE_TOKEN`, `DB_PASSWORD`).
/// A value of several lines (a PEM key) is also masked line by line: output is read, and
/// masked, one line at a time.
pub(crate) fn secret_values(env: &[(String, String)]) -> Vec<String> {
    let mut values: Vec<String> = Vec::new();
    for (name, value) in env {
        let name = name.to_ascii_uppercase();
        if !SECRET_NAMES
            .iter()
            .any(|secret| name == *secret || name.ends_with(&format!("_{secret}")))
        {
            continue;
        }
        let lines = value.lines().map(str::trim).filter(|line| *line != value.as_str());
        for candidate in std::iter::once(value.as_str()).chain(lines) {
            if candidate.chars().count() >= SECRET_MIN_LENGTH && !values.iter().any(|known| known == candidate) {
                values.push(candidate.to_owned());
            }
        }
    }
    values
}

/// The suite's step (the phase has nothing to do without `test:`).
pub(crate) fn steps(context: &Arc<RunContext>) -> Result<Vec<Step>, &'static str> {
    let plan = Arc::clone(&context.plan);
    if plan.test.is_none() {
        return Err("no `test:` configured");
    }
    let run = Arc::clone(context);
    Ok(vec![Step::new(STEP, move |step: StepContext| async move {
        let test = plan.test.as_ref().expect("checked above");
        // The services this run started (`services:`), reachable as `services up` prints them.
        let order: Vec<String> = plan
            .services
            .services
            .iter()
            .map(|service| service.name.clone())
            .collect();
        let endpoints = run.services.endpoints();
        let services = if endpoints.is_empty() {
            Vec::new()
        } else {
            super::services::outputs(&plan.run_id, &plan.services.network, &order, &endpoints)
        };
        run_suite(&plan, test, &services, &step).await
    })])
}

/// The suite's command line and environment.
pub(crate) fn command(plan: &Plan, test: &PlannedTest, services: &[(String, String)]) -> ProcessSpec {
    // Absolute: the suite runs in its own working directory.
    let absolute = |path: &Path| std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let working_dir = absolute(&test.working_dir);
    let mut argv = test.argv.iter();
    let program = argv.next().cloned().unwrap_or_default();
    // `./run-e2e.sh` is the working directory's, whatever the platform does with a relative
    // program and a changed directory.
    let program = if program.contains('/') && Path::new(&program).is_relative() {
        working_dir.join(program.trim_start_matches("./")).display().to_string()
    } else {
        program
    };
    let mut spec = ProcessSpec::new(program)
        .args(argv.cloned())
        .env("KUBECONFIG", absolute(&plan.cluster.kubeconfig).display().to_string())
        .env("HYBRID_E2E_CLUSTER_NAME", &plan.cluster.name)
        .env("HYBRID_E2E_RUN_ID", &plan.run_id)
        .env(
            "HYBRID_E2E_REPORT_DIR",
            absolute(&plan.report_dir).display().to_string(),
        );
    for image in &plan.images {
        spec = spec.env(image_variable(&image.name), &image.reference);
    }
    for (key, value) in services {
        spec = spec.env(key, value);
    }
    // The suite's own `env` wins.
    for (key, value) in &test.env {
        spec = spec.env(key, value);
    }
    spec.cwd = Some(working_dir);
    spec.redact = secret_values(&test.env);
    // The action's inputs (`INPUT_GITHUB_TOKEN`) are hybrid-e2e's, not the suite's.
    spec.env_remove = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter(|name| name.starts_with("INPUT_") && !test.env.iter().any(|(key, _)| key == name))
        .collect();
    spec.kill_grace(KILL_GRACE)
}

async fn run_suite(
    plan: &Plan,
    test: &PlannedTest,
    services: &[(String, String)],
    context: &StepContext,
) -> StepResult {
    let kubeconfig = &plan.cluster.kubeconfig;
    if !kubeconfig.is_file() {
        return StepResult::failed(
            Failure::new(
                FailureClass::Infrastructure,
                format!(
                    "the suite could not start: the cluster's kubeconfig {} is gone",
                    kubeconfig.display()
                ),
            )
            .hint("the cluster was deleted or never written; rerun the setup"),
        );
    }
    let answered = tokio::select! {
        // Cancelled before the suite started: nothing to stop.
        () = context.cancel.cancelled() => return StepResult::ok(),
        answered = tokio::time::timeout(CLUSTER_CHECK, client::connect(kubeconfig)) => answered,
    };
    match answered {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => return StepResult::failed(cluster_gone(&plan.cluster.name, &error.to_string())),
        Err(_) => {
            return StepResult::failed(cluster_gone(
                &plan.cluster.name,
                &format!("no answer within {}s", CLUSTER_CHECK.as_secs()),
            ));
        }
    }
    let spec = command(plan, test, services);
    if !spec.redact.is_empty() {
        context.secrets(&spec.redact);
    }
    context.say(&crate::exec::redact(
        &format!(
            "$ {} (in {})",
            spec.display(),
            spec.cwd.as_deref().unwrap_or(&test.working_dir).display()
        ),
        &spec.redact,
    ));
    let before = existing_reports(test);
    let outcome = match context.exec(&spec, Some(test.timeout)).await {
        Ok(outcome) => outcome,
        Err(error @ ExecError::NotFound { .. }) => {
            return StepResult::failed(
                Failure::new(
                    FailureClass::Infrastructure,
                    format!("the suite could not start: {error}"),
                )
                .hint("install the test runner on this machine, or fix `test.command` (it is run directly, not through a shell)"),
            );
        }
        Err(error) => {
            return StepResult::failed(Failure::new(
                FailureClass::Infrastructure,
                format!("the suite could not start: {error}"),
            ));
        }
    };
    let mut results = read_results(test, &before, context);
    if !spec.redact.is_empty() {
        // Everything of the report that is shown: names (pytest puts parameters in them),
        // messages, details and why a file could not be read.
        for suite in &mut results.suites {
            suite.name = crate::exec::redact(&suite.name, &spec.redact);
            for case in &mut suite.cases {
                let texts = std::iter::once(&mut case.name)
                    .chain(case.classname.iter_mut())
                    .chain(case.message.iter_mut())
                    .chain(case.details.iter_mut());
                for text in texts {
                    *text = crate::exec::redact(text, &spec.redact);
                }
            }
        }
        for problem in &mut results.unreadable {
            *problem = crate::exec::redact(problem, &spec.redact);
        }
    }
    let failing: Vec<(&TestSuiteResult, &crate::model::TestCaseResult)> =
        results.cases().filter(|(_, case)| case.outcome.is_failure()).collect();
    let counts = results.counts;
    let summary = format!(
        "{} test(s): {} passed, {} failed, {} skipped",
        counts.tests,
        counts.passed,
        counts.failing(),
        counts.skipped
    );
    if !results.junit_files.is_empty() {
        context.say(&summary);
    }
    let failure = if outcome.cancelled {
        None
    } else if outcome.timed_out {
        Some(
            Failure::new(
                FailureClass::Application,
                format!(
                    "the suite did not finish within {} and was stopped{}",
                    humantime::format_duration(test.timeout),
                    if counts.tests > 0 {
                        format!(" ({summary} so far)")
                    } else {
                        String::new()
                    }
                ),
            )
            .hint("raise `test.timeout`, or find the test that hangs at the end of the log")
            .tail(outcome.tail.clone()),
        )
    } else if let Some((_, first)) = failing.first() {
        let mut failure = Failure::new(
            FailureClass::Application,
            format!(
                "{} of {} test(s) failed; first: {}",
                failing.len(),
                counts.tests,
                first.name
            ),
        )
        .tail(outcome.tail.clone());
        if let Some(file) = &first.file {
            failure = failure.at(file.clone(), first.line);
        }
        if let Some(message) = &first.message {
            failure = failure.excerpt(message.lines().next().unwrap_or_default());
        }
        Some(failure)
    } else if !outcome.success() {
        let mut failure = Failure::new(
            FailureClass::Application,
            format!("the suite failed ({})", outcome.ending()),
        )
        .tail(outcome.tail.clone());
        if !test.junit.is_empty() && results.junit_files.is_empty() {
            failure = failure.hint("it wrote no JUnit file matching `test.junit`: did it start at all? See the log");
        }
        Some(failure)
    } else if !test.junit.is_empty() && results.junit_files.is_empty() {
        // Exit 0 alone says nothing about which tests ran: the report it promised is missing.
        Some(
            Failure::new(
                FailureClass::Application,
                "the suite exited 0 but wrote no JUnit file matching `test.junit`: nothing says which tests ran".to_owned(),
            )
            .hint("check `test.junit` (relative to the config file) against where the suite writes its report; a file the suite did not write or rewrite is not read")
            .tail(outcome.tail.clone()),
        )
    } else if !results.unreadable.is_empty() {
        Some(
            Failure::new(
                FailureClass::Application,
                format!(
                    "the suite exited 0 but {} of its JUnit file(s) could not be read: {}",
                    results.unreadable.len(),
                    results.unreadable.join("; ")
                ),
            )
            .hint("a report cut off or malformed hides which tests failed; see the log")
            .tail(outcome.tail.clone()),
        )
    } else {
        None
    };
    // Before anything is torn down: what of the deployment is not ready now (a crashed
    // service explains many failed tests), diagnosed as a failed deploy group is.
    let failure = match failure {
        Some(mut failure) => {
            let options = super::deploy::DeployOptions::from_plan(plan);
            match super::deploy::diagnose_deployed(&options, &context.cancel).await {
                Some((count, files)) if count > 0 => {
                    let files = files
                        .iter()
                        .find(|file| file.ends_with(".txt"))
                        .cloned()
                        .unwrap_or_default();
                    let note = format!("{count} deployed object(s) not ready after the tests; diagnostics: {files}");
                    context.warn(&format!("test: {note}"));
                    failure.hint = Some(match failure.hint.take() {
                        Some(hint) => format!("{hint}; {note}"),
                        None => note,
                    });
                }
                Some(_) => {}
                // The cluster went away under the suite: not the tests' fault — asked once more
                // (a second, fresh connection) before the tests' failures are blamed on it.
                None if !context.cancel.is_cancelled() && client::answers(kubeconfig).await.is_err() => {
                    failure.class = FailureClass::Infrastructure;
                    failure.message = format!("{}; cluster `{}` no longer answers", failure.message, plan.cluster.name);
                    failure.hint = Some(
                        "the cluster died or was deleted during the tests; `kind export logs` and the node container's logs say why"
                            .to_owned(),
                    );
                }
                None => {}
            }
            Some(failure)
        }
        None => None,
    };
    let mut result = match failure {
        Some(failure) => StepResult::failed(failure),
        None => StepResult::ok(),
    };
    if !test.junit.is_empty() && !results.junit_files.is_empty() && counts.tests == counts.skipped {
        context.warn(&format!(
            "test: the suite's JUnit lists {} test(s) and none ran",
            counts.tests
        ));
        result.warned = true;
    }
    result.note = (!results.junit_files.is_empty()).then_some(summary);
    result.tests = (!results.junit_files.is_empty() || !results.unreadable.is_empty()).then(|| Box::new(results));
    result
}

fn cluster_gone(cluster: &str, why: &str) -> Failure {
    Failure::new(
        FailureClass::Infrastructure,
        format!("the suite could not start: cluster `{cluster}` does not answer ({why})"),
    )
    .hint("the cluster is gone or unhealthy; `kind get clusters` and the node container's logs say which")
}

/// What identifies a file's content without reading it: a rewrite changes one of these.
/// (modified, changed in seconds and nanoseconds, size, inode): the change time moves on any
/// write, so a rewrite of the same size within the modification time's granularity still shows.
type FileIdentity = (SystemTime, (i64, i64), u64, u64);

fn identity(path: &Path) -> Option<FileIdentity> {
    use std::os::unix::fs::MetadataExt as _;
    let metadata = std::fs::metadata(path).ok()?;
    Some((
        metadata.modified().ok()?,
        (metadata.ctime(), metadata.ctime_nsec()),
        metadata.len(),
        metadata.ino(),
    ))
}

/// The files `test.junit` matches before the suite starts. A file the suite then neither
/// creates nor rewrites is an earlier run's — decided by the file itself, not by comparing
/// its time with this machine's clock (a network mount's clock may differ).
fn existing_reports(test: &PlannedTest) -> HashMap<PathBuf, FileIdentity> {
    test.junit
        .iter()
        .flat_map(|entry| crate::files::expand_glob(entry))
        .filter_map(|file| identity(&file).map(|id| (file, id)))
        .collect()
}

/// The JUnit files the suite wrote during this run (created or rewritten since `before`),
/// read; unreadable ones are warnings.
fn read_results(test: &PlannedTest, before: &HashMap<PathBuf, FileIdentity>, context: &StepContext) -> TestResults {
    let mut files = Vec::new();
    for entry in &test.junit {
        let matched = crate::files::expand_glob(entry);
        if matched.is_empty() {
            context.warn(&format!(
                "test: no JUnit file matches `{}` (`test.junit`)",
                entry.display()
            ));
        }
        for file in matched {
            let fresh = before
                .get(&file)
                .is_none_or(|earlier| identity(&file).as_ref() != Some(earlier));
            if fresh {
                files.push(file);
            } else {
                context.warn(&format!(
                    "test: {} was there before the suite started and it did not rewrite it; not read",
                    file.display()
                ));
            }
        }
    }
    files.sort();
    files.dedup();
    let mut suites = Vec::new();
    let mut unreadable = Vec::new();
    for file in &files {
        match testresults::read_file(file) {
            Ok(read) => suites.extend(read),
            Err(error) => {
                context.warn(&format!("test: {error}"));
                unreadable.push(error.to_string());
            }
        }
    }
    if let Some((module, directory)) = go_module_of(&test.working_dir) {
        testresults::resolve_go_files(&mut suites, &module, &directory);
    }
    // Locations are the suite's: made absolute here (so the record can make them relative to
    // the repository) when the file exists, else dropped — an annotation at a file that is not
    // in the repository points nowhere.
    let bases = [test.working_dir.clone(), test.base_dir.clone()];
    for case in suites.iter_mut().flat_map(|suite| &mut suite.cases) {
        if let Some(file) = case.file.take() {
            case.file = locate_file(&file, &bases).map(|found| found.display().to_string());
            if case.file.is_none() {
                case.line = None;
            }
        }
    }
    let names = files.iter().map(|file| file.display().to_string()).collect();
    TestResults::new(names, suites, unreadable)
}

/// Where a location a test report names is on this machine: an existing absolute path as it
/// is; a relative one (`./`, `\` separators allowed) under the first of `bases` that has it; a
/// path from another machine (`/src/app/test/e2e/x_test.go` in a container) by its longest tail
/// that exists under a base. `None`: nowhere.
pub(crate) fn locate_file(file: &str, bases: &[PathBuf]) -> Option<PathBuf> {
    let normalized = file.replace('\\', "/");
    let path = Path::new(&normalized);
    if path.is_absolute() && path.is_file() {
        return Some(path.to_owned());
    }
    let parts: Vec<&str> = normalized
        .split('/')
        .filter(|part| !part.is_empty() && *part != ".")
        .collect();
    (0..parts.len()).find_map(|start| {
        let tail: PathBuf = parts[start..].iter().collect();
        bases
            .iter()
            .map(|base| base.join(&tail))
            .find(|candidate| candidate.is_file())
    })
}

/// The Go module the working directory is in: its path and its directory.
fn go_module_of(directory: &Path) -> Option<(String, PathBuf)> {
    directory.ancestors().find_map(|candidate| {
        let text = std::fs::read_to_string(candidate.join("go.mod")).ok()?;
        testresults::go_module(&text).map(|module| (module.to_owned(), candidate.to_owned()))
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn locations_are_files_on_this_machine_or_none() {
        let directory = tempfile::tempdir().expect("tempdir");
        let root = directory.path().to_path_buf();
        let e2e = root.join("test/e2e");
        std::fs::create_dir_all(&e2e).expect("mkdir");
        std::fs::write(e2e.join("x_test.go"), "package e2e\n").expect("write");
        let bases = [e2e.clone(), root.clone()];
        let found = |file: &str| super::locate_file(file, &bases);
        assert_eq!(
            found("x_test.go"),
            Some(e2e.join("x_test.go")),
            "the working directory's"
        );
        assert_eq!(found("./test/e2e/x_test.go"), Some(root.join("test/e2e/x_test.go")));
        assert_eq!(found("test\\e2e\\x_test.go"), Some(root.join("test/e2e/x_test.go")));
        assert_eq!(
            found("/src/app/test/e2e/x_test.go"),
            Some(e2e.join("x_test.go")),
            "another machine's path, by its tail"
        );
        let absolute = e2e.join("x_test.go").display().to_string();
        assert_eq!(found(&absolute), Some(e2e.join("x_test.go")));
        assert_eq!(found("missing_test.go"), None);
        assert_eq!(found("/usr/lib/go/src/testing/testing.go"), None);
    }

    #[test]
    fn secrets_are_known_by_their_names() {
        let env: Vec<(String, String)> = [
            ("SUITE_TOKEN", "s3cret-value"),
            ("db_password", "hunter22"),
            ("AWS_SECRET_ACCESS_KEY", "abcd1234"),
            ("TOKEN", "tok-1234"),
            ("GITHUB_TOKEN", "1"),
            ("E2E_NAMESPACE", "example-e2e"),
            ("TOKENIZER", "whitespace"),
        ]
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect();
        assert_eq!(
            super::secret_values(&env),
            ["s3cret-value", "hunter22", "abcd1234", "tok-1234"],
            "too short to mask, or not a secret's name"
        );
        let pem = "-----BEGIN KEY-----\nMIIBOgIBAAJBAKj34\nGkxFJ0GSE2eDdqE\n-----END KEY-----";
        let values = super::secret_values(&[("TLS_PRIVATE_KEY".to_owned(), pem.to_owned())]);
        assert_eq!(values[0], pem);
        assert!(
            values.contains(&"MIIBOgIBAAJBAKj34".to_owned()),
            "each line too: {values:?}"
        );
    }

    #[test]
    fn globs_match_only_what_they_say() {
        let directory = tempfile::tempdir().expect("tempdir");
        for name in ["out/a.xml", "out/b.xml", "out/deep/c.xml", "out/a.txt"] {
            let path = directory.path().join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, "<testsuites/>").expect("write");
        }
        let names = |pattern: &str| -> Vec<String> {
            crate::files::expand_glob(&directory.path().join(pattern))
                .iter()
                .map(|path| {
                    path.strip_prefix(directory.path())
                        .expect("inside")
                        .display()
                        .to_string()
                })
                .collect()
        };
        assert_eq!(names("out/*.xml"), vec!["out/a.xml", "out/b.xml"]);
        assert_eq!(names("out/**/*.xml"), vec!["out/a.xml", "out/b.xml", "out/deep/c.xml"]);
        assert_eq!(names("out/a.xml"), vec!["out/a.xml"]);
        assert!(names("out/missing.xml").is_empty());
    }
}
