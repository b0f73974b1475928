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
const FORMAT_VERSION: u32 = 1;

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
    /// The suite's setup or teardown failed (`BeforeSuite`, a fixture): its tests did not run.
    Setup,
    /// The environment failed the test: a timeout, a refused connection, a pod never ready.
    Infrastructure,
    /// The test ran and an unexpected error or panic stopped it.
    Error,
    /// The test ran and its own check failed.
    Assertion,
}

impl Category {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Category::Setup => "setup",
            Category::Infrastructure => "infrastructure",
            Category::Error => "error",
            Category::Assertion => "assertion",
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
    /// Failing cases, a failed `[BeforeSuite]` included.
    pub(crate) failed: usize,
    pub(crate) skipped: usize,
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
    /// `passed`, `failed` (a test failed) or `blocked` (a tier's setup failed).
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
    // JUnit's directory upwards).
    if let Some((module, directory)) = tier
        .files
        .first()
        .and_then(|file| std::path::absolute(file).ok())
        .and_then(|file| go_module_of(&file))
    {
        testresults::resolve_go_files(&mut suites, &module, &directory);
    }
    let cases: Vec<(&TestSuiteResult, &TestCaseResult)> = suites
        .iter()
        .flat_map(|suite| suite.cases.iter().map(move |case| (suite, case)))
        .collect();
    let specs: Vec<&TestCaseResult> = cases
        .iter()
        .filter(|(_, case)| !is_suite_node(&case.name))
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
    let duration = suites
        .iter()
        .map(|suite| {
            suite
                .duration_seconds
                .unwrap_or_else(|| suite.cases.iter().map(|case| case.duration_seconds).sum())
        })
        .sum();
    TierReport {
        name: tier.name.clone(),
        junit_files: tier.files.iter().map(|file| file.display().to_string()).collect(),
        tests: counts.tests,
        passed: counts.passed,
        // Every failing case, the suite's own setup nodes included.
        failed: failures.len(),
        skipped: counts.skipped,
        pass_rate: (counts.tests > 0).then(|| counts.passed as f64 / counts.tests as f64),
        duration_seconds: duration,
        blocked: setup_failed && counts.passed == 0,
        failures,
        unreadable,
    }
}

/// Ginkgo's suite-level nodes, reported as test cases but not tests.
fn is_suite_node(name: &str) -> bool {
    const NODES: [&str; 6] = [
        "[BeforeSuite]",
        "[SynchronizedBeforeSuite]",
        "[AfterSuite]",
        "[SynchronizedAfterSuite]",
        "[DeferCleanup (Suite)]",
        "[ReportAfterSuite]",
    ];
    NODES.iter().any(|node| name.starts_with(node))
}

/// Texts that say the environment failed, not the code under test.
const INFRASTRUCTURE: [&str; 17] = [
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
];

/// Setup vs infrastructure vs the test's own error or assertion.
pub(crate) fn classify(case: &TestCaseResult) -> Category {
    let message = case.message.as_deref().unwrap_or_default();
    let text = format!("{message}\n{}", case.details.join("\n")).to_lowercase();
    let kind = case.kind.as_deref().unwrap_or_default().to_lowercase();
    if is_suite_node(&case.name)
        || case.name.starts_with("[BeforeAll]")
        || text.contains("in [beforesuite] at:")
        || text.contains("in [synchronizedbeforesuite] at:")
        || text.contains("in [beforeall] at:")
        // pytest: an error in a fixture.
        || text.contains("failed on setup with")
        || text.contains("error at setup of")
    {
        return Category::Setup;
    }
    if matches!(kind.as_str(), "timedout" | "interrupted" | "aborted")
        || INFRASTRUCTURE.iter().any(|needle| text.contains(needle))
    {
        return Category::Infrastructure;
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
    if (case.outcome == TestOutcome::Error || kind == "panicked" || text.contains("panic")) && !assertion {
        return Category::Error;
    }
    Category::Assertion
}

fn relative(file: &str, root: Option<&Path>) -> String {
    root.and_then(|root| Path::new(file).strip_prefix(root).ok())
        .map_or_else(|| file.to_owned(), |relative| relative.display().to_string())
}

fn go_module_of(file: &Path) -> Option<(String, PathBuf)> {
    file.ancestors().skip(1).find_map(|candidate| {
        let text = std::fs::read_to_string(candidate.join("go.mod")).ok()?;
        testresults::go_module(&text).map(|module| (module.to_owned(), candidate.to_owned()))
    })
}

/// One line: the blocked tiers first (with where their setup failed), then the failing ones.
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
            "{} is blocked: its setup failed{at}, 0/{} tests ran",
            tier.name, tier.tests
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
        parts.push(format!(
            "{}: {} JUnit file(s) unreadable",
            tier.name,
            tier.unreadable.len()
        ));
    }
    if parts.is_empty() {
        let tests: usize = tiers.iter().map(|tier| tier.tests).sum();
        return format!("all {tests} test(s) of {} tier(s) passed", tiers.len());
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests;
