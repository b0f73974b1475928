//! `hybrid-e2e report --junit TIER=PATH …` (or the config's `tiers:`): the cross-tier triage
//! document the reference user writes by hand after every change — per tier the pass rate and
//! duration, every failure with its `file:line` grouped by suite, each classified (a setup or
//! infrastructure failure vs a test's own assertion), and one verdict line — as Markdown
//! (`triage.md`, also for the job summary) and the same data as JSON (`triage.json`).
//! Reads `model` and `testresults`; only `commands` imports it.

mod markdown;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::model::{TestCaseResult, TestCounts, TestOutcome, TestSuiteResult};
use crate::testresults;
pub(crate) use markdown::render;

/// Bumped only on incompatible changes of `triage.json`.
/// 2: `failed` counts tests only (`suite_node_failures` beside), `ran`, the `teardown` category
/// and the `incomplete` status.
const FORMAT_VERSION: u32 = 2;

/// One tier as asked for: its name and its JUnit files (already expanded).
#[derive(Debug, Clone)]
pub(crate) struct TierInput {
    pub(crate) name: String,
    pub(crate) files: Vec<PathBuf>,
}

/// Whose problem a failure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Category {
    /// The suite's setup failed (`BeforeSuite`, `BeforeAll`, a fixture): its tests did not run.
    Setup,
    /// The environment failed the test: a timeout, a refused connection, a pod never ready.
    Infrastructure,
    /// The test ran and an unexpected error, exception or panic stopped it.
    Error,
    /// The test ran and its own check failed.
    Assertion,
    /// The suite's cleanup failed (`AfterSuite`, `AfterAll`, a fixture's teardown): its tests
    /// ran.
    Teardown,
}

impl Category {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Category::Setup => "setup",
            Category::Infrastructure => "infrastructure",
            Category::Error => "error",
            Category::Assertion => "assertion",
            Category::Teardown => "teardown",
        }
    }
}

/// One failed test.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TriageFailure {
    pub(crate) suite: String,
    pub(crate) name: String,
    pub(crate) category: Category,
    /// `failed` or `error`, as the JUnit said.
    pub(crate) outcome: TestOutcome,
    pub(crate) file: Option<String>,
    pub(crate) line: Option<usize>,
    /// The failure's message on one line.
    pub(crate) message: Option<String>,
    pub(crate) duration_seconds: f64,
}

/// One tier.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TierReport {
    pub(crate) name: String,
    pub(crate) junit_files: Vec<String>,
    /// Tests proper: suite setup and teardown nodes (`[BeforeSuite]`) are not counted.
    pub(crate) tests: usize,
    pub(crate) passed: usize,
    /// Failing tests (failed or errored): `tests` = `passed` + `failed` + `skipped`.
    pub(crate) failed: usize,
    pub(crate) skipped: usize,
    /// Tests that ran: passed, or failed in their own body (not in a setup they share).
    pub(crate) ran: usize,
    /// Failing suite setup and teardown nodes (`[BeforeSuite]`, `[AfterSuite]`), which are in
    /// `failures` but not in `tests`.
    pub(crate) suite_node_failures: usize,
    /// passed / tests (`null` without tests).
    pub(crate) pass_rate: Option<f64>,
    pub(crate) duration_seconds: f64,
    /// A setup failure kept the tier's tests from running.
    pub(crate) blocked: bool,
    pub(crate) failures: Vec<TriageFailure>,
    /// Files that could not be read (with why).
    pub(crate) unreadable: Vec<String>,
}

impl TierReport {
    /// Nothing failed, yet nothing ran either: no tests, or every test skipped.
    pub(crate) fn ran_nothing(&self) -> bool {
        self.ran == 0 && self.failures.is_empty() && self.unreadable.is_empty()
    }

    /// Failures per category, in category order.
    pub(crate) fn by_category(&self) -> Vec<(Category, usize)> {
        let mut counts: std::collections::BTreeMap<Category, usize> = Default::default();
        for failure in &self.failures {
            *counts.entry(failure.category).or_default() += 1;
        }
        counts.into_iter().collect()
    }
}

/// The whole document.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Triage {
    pub(crate) format_version: u32,
    /// `passed`, `failed` (a test failed or a file could not be read), `blocked` (a tier's setup
    /// failed) or `incomplete` (nothing failed, but a tier ran no test: none, or all skipped).
    pub(crate) status: &'static str,
    pub(crate) verdict: String,
    pub(crate) tests: usize,
    pub(crate) passed: usize,
    pub(crate) tiers: Vec<TierReport>,
}

/// Read every tier's JUnit and judge it.
pub(crate) fn triage(tiers: &[TierInput], root: Option<&Path>) -> Triage {
    let reports: Vec<TierReport> = tiers.iter().map(|tier| read_tier(tier, root)).collect();
    let tests = reports.iter().map(|tier| tier.tests).sum();
    let passed = reports.iter().map(|tier| tier.passed).sum();
    let status = if reports.iter().any(|tier| tier.blocked) {
        "blocked"
    } else if reports
        .iter()
        .any(|tier| !tier.failures.is_empty() || !tier.unreadable.is_empty())
    {
        "failed"
    } else if reports.iter().any(TierReport::ran_nothing) {
        "incomplete"
    } else {
        "passed"
    };
    Triage {
        format_version: FORMAT_VERSION,
        status,
        verdict: verdict(&reports),
        tests,
        passed,
        tiers: reports,
    }
}

fn read_tier(tier: &TierInput, root: Option<&Path>) -> TierReport {
    let mut suites: Vec<TestSuiteResult> = Vec::new();
    let mut unreadable = Vec::new();
    for file in &tier.files {
        match testresults::read_file(file) {
            Ok(read) => suites.extend(read),
            Err(error) => unreadable.push(error.to_string()),
        }
    }
    if tier.files.is_empty() {
        unreadable.push("no JUnit file matched".to_owned());
    }
    // `go test` names files without their directory: resolve through the module (from the
    // JUnit's directory upwards, else from the repository's root: a JUnit file downloaded
    // outside the checkout).
    if let Some((module, directory)) = tier
        .files
        .first()
        .and_then(|file| std::path::absolute(file).ok())
        .and_then(|file| file.parent().and_then(go_module_of))
        .or_else(|| root.and_then(go_module_of))
    {
        testresults::resolve_go_files(&mut suites, &module, &directory);
    }
    let cases: Vec<(&TestSuiteResult, &TestCaseResult)> = suites
        .iter()
        .flat_map(|suite| suite.cases.iter().map(move |case| (suite, case)))
        .collect();
    let specs: Vec<&TestCaseResult> = cases
        .iter()
        .filter(|(_, case)| suite_node(&case.name).is_none())
        .map(|(_, case)| *case)
        .collect();
    let counts = TestCounts::of(specs.iter().copied());
    let failures: Vec<TriageFailure> = cases
        .iter()
        .filter(|(_, case)| case.outcome.is_failure())
        .map(|(suite, case)| TriageFailure {
            suite: suite.name.clone(),
            name: case.name.clone(),
            category: classify(case),
            outcome: case.outcome,
            file: case.file.as_deref().map(|file| relative(file, root)),
            line: case.line,
            message: case
                .message
                .as_deref()
                .map(|message| message.split_whitespace().collect::<Vec<_>>().join(" "))
                .filter(|message| !message.is_empty()),
            duration_seconds: case.duration_seconds,
        })
        .collect();
    let setup_failed = failures.iter().any(|failure| failure.category == Category::Setup);
    let failed_in_setup = cases
        .iter()
        .filter(|(_, case)| case.outcome.is_failure() && suite_node(&case.name).is_none())
        .filter(|(_, case)| classify(case) == Category::Setup)
        .count();
    let ran = counts.passed + counts.failing() - failed_in_setup;
    // Folded from +0.0: an empty f64 `sum()` is -0.0, which prints as "-0.0s".
    let duration = suites
        .iter()
        .map(|suite| {
            suite.duration_seconds.unwrap_or_else(|| {
                suite
                    .cases
                    .iter()
                    .fold(0.0, |total, case| total + case.duration_seconds)
            })
        })
        .fold(0.0, |total, seconds| total + seconds);
    TierReport {
        name: tier.name.clone(),
        junit_files: tier.files.iter().map(|file| file.display().to_string()).collect(),
        tests: counts.tests,
        passed: counts.passed,
        failed: counts.failing(),
        skipped: counts.skipped,
        ran,
        suite_node_failures: failures.len().saturating_sub(counts.failing()),
        pass_rate: (counts.tests > 0).then(|| counts.passed as f64 / counts.tests as f64),
        duration_seconds: duration,
        blocked: setup_failed && ran == 0,
        failures,
        unreadable,
    }
}

/// Ginkgo's suite-level nodes, reported as test cases but not tests: which part of the suite
/// a name is, if it is one.
fn suite_node(name: &str) -> Option<Category> {
    const SETUP: [&str; 2] = ["[BeforeSuite]", "[SynchronizedBeforeSuite]"];
    const TEARDOWN: [&str; 4] = [
        "[AfterSuite]",
        "[SynchronizedAfterSuite]",
        "[DeferCleanup (Suite)]",
        "[ReportAfterSuite]",
    ];
    if SETUP.iter().any(|node| name.starts_with(node)) {
        Some(Category::Setup)
    } else if TEARDOWN.iter().any(|node| name.starts_with(node)) {
        Some(Category::Teardown)
    } else {
        None
    }
}

/// Texts that say the environment failed, not the code under test.
const INFRASTRUCTURE: [&str; 18] = [
    "connection refused",
    "connection reset",
    "no such host",
    "i/o timeout",
    "context deadline exceeded",
    "tls handshake timeout",
    "unable to connect to the server",
    "imagepullbackoff",
    "errimagepull",
    "crashloopbackoff",
    "oomkilled",
    "no space left on device",
    "pod not ready",
    "not ready within",
    "the server is currently unable",
    "too many open files",
    "network is unreachable",
    // pytest-timeout: `Failed: Timeout >10.0s`.
    "failed: timeout",
];

/// Setup vs infrastructure vs the test's own error or assertion vs teardown. The same kind of
/// failure gets the same category whatever produced the JUnit: a timeout is infrastructure
/// (Ginkgo's `timedout`, nextest's `test timeout`, go test's "test timed out after"); an
/// exception or panic that is not an assertion is an error (pytest's `KeyError`, Rust's
/// `unwrap`, Go's `panic:`).
pub(crate) fn classify(case: &TestCaseResult) -> Category {
    let message = case.message.as_deref().unwrap_or_default();
    let text = format!("{message}\n{}", case.details.join("\n")).to_lowercase();
    let kind = case.kind.as_deref().unwrap_or_default().to_lowercase();
    if let Some(node) = suite_node(&case.name) {
        return node;
    }
    if case.name.starts_with("[BeforeAll]")
        || text.contains("in [beforesuite] at:")
        || text.contains("in [synchronizedbeforesuite] at:")
        || text.contains("in [beforeall] at:")
        // pytest: an error in a fixture.
        || text.contains("failed on setup with")
        || text.contains("error at setup of")
    {
        return Category::Setup;
    }
    if case.name.starts_with("[AfterAll]")
        || text.contains("in [aftersuite] at:")
        || text.contains("in [synchronizedaftersuite] at:")
        || text.contains("in [afterall] at:")
        || text.contains("failed on teardown with")
        || text.contains("error at teardown of")
    {
        return Category::Teardown;
    }
    if matches!(kind.as_str(), "timedout" | "interrupted" | "aborted")
        || kind.contains("timeout")
        || text.contains("test timed out after")
        || INFRASTRUCTURE.iter().any(|needle| text.contains(needle))
    {
        return Category::Infrastructure;
    }
    // The message names an exception that is not an assertion: the traceback that follows it
    // (pytest includes the test's source) may well contain the word "assert".
    if is_exception(message) {
        return Category::Error;
    }
    let assertion = [
        "assert",
        "expected",
        "to equal",
        "want",
        "mismatch",
        "not equal",
        "should",
    ]
    .iter()
    .any(|needle| text.contains(needle));
    let stopped_by_error = case.outcome == TestOutcome::Error || kind == "panicked" || text.contains("panic");
    if stopped_by_error && !assertion {
        return Category::Error;
    }
    Category::Assertion
}

/// `KeyError: 'x'`, `requests.exceptions.ConnectionError: …`, `java.lang.IllegalStateException`:
/// a failure message that names an exception type (an `AssertionError` is an assertion).
fn is_exception(message: &str) -> bool {
    let head = message
        .split([':', ' ', '('])
        .next()
        .unwrap_or_default()
        .rsplit('.')
        .next()
        .unwrap_or_default();
    (head.ends_with("Error") || head.ends_with("Exception"))
        && head != "AssertionError"
        && head.chars().next().is_some_and(char::is_uppercase)
        && head.chars().all(char::is_alphanumeric)
}

fn relative(file: &str, root: Option<&Path>) -> String {
    root.and_then(|root| Path::new(file).strip_prefix(root).ok())
        .map_or_else(|| file.to_owned(), |relative| relative.display().to_string())
}

/// The Go module whose `go.mod` is in `directory` or above it.
fn go_module_of(directory: &Path) -> Option<(String, PathBuf)> {
    directory.ancestors().find_map(|candidate| {
        let text = std::fs::read_to_string(candidate.join("go.mod")).ok()?;
        testresults::go_module(&text).map(|module| (module.to_owned(), candidate.to_owned()))
    })
}

/// One line: the blocked tiers first (with where their setup failed), then the failing ones,
/// the unreadable ones, and those that ran nothing; "all passed" only when none of these.
fn verdict(tiers: &[TierReport]) -> String {
    let mut parts = Vec::new();
    for tier in tiers.iter().filter(|tier| tier.blocked) {
        let at = tier
            .failures
            .iter()
            .find(|failure| failure.category == Category::Setup)
            .and_then(|failure| {
                failure.file.as_ref().map(|file| {
                    format!(
                        " at {file}{}",
                        failure.line.map(|line| format!(":{line}")).unwrap_or_default()
                    )
                })
            })
            .unwrap_or_default();
        parts.push(format!(
            "{} is blocked: its setup failed{at}, {}/{} tests ran",
            tier.name, tier.ran, tier.tests
        ));
    }
    for tier in tiers.iter().filter(|tier| !tier.blocked && !tier.failures.is_empty()) {
        let categories: Vec<String> = tier
            .by_category()
            .iter()
            .map(|(category, count)| format!("{count} {}", category.as_str()))
            .collect();
        parts.push(format!(
            "{} has {} failure(s) ({})",
            tier.name,
            tier.failures.len(),
            categories.join(", ")
        ));
    }
    for tier in tiers.iter().filter(|tier| !tier.unreadable.is_empty()) {
        if tier.junit_files.is_empty() {
            parts.push(format!("{}: no JUnit file matched", tier.name));
        } else {
            parts.push(format!(
                "{}: {} JUnit file(s) unreadable",
                tier.name,
                tier.unreadable.len()
            ));
        }
    }
    for tier in tiers.iter().filter(|tier| tier.ran_nothing()) {
        if tier.tests == 0 {
            parts.push(format!("{} ran no tests", tier.name));
        } else {
            parts.push(format!("{}: all {} test(s) skipped", tier.name, tier.tests));
        }
    }
    if parts.is_empty() {
        let ran: usize = tiers.iter().map(|tier| tier.ran).sum();
        let skipped: usize = tiers.iter().map(|tier| tier.skipped).sum();
        let skipped = if skipped > 0 {
            format!(" ({skipped} skipped)")
        } else {
            String::new()
        };
        return format!("all {ran} test(s) of {} tier(s) passed{skipped}", tiers.len());
    }
    parts.join("; ")
}

/// A share as a percentage with one decimal, never rounded up to 100.0 or down to 0.0 when
/// it is not all or nothing.
pub(crate) fn percent(part: usize, whole: usize) -> Option<String> {
    if whole == 0 {
        return None;
    }
    let value = part as f64 * 100.0 / whole as f64;
    let shown = if part < whole && value > 99.9 {
        99.9
    } else if part > 0 && value < 0.1 {
        0.1
    } else {
        value
    };
    Some(format!("{shown:.1}%"))
}

#[cfg(test)]
mod tests;
