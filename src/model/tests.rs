//! Test results read from a suite's JUnit XML (the test phase, the triage report): suites and
//! cases with their outcome, time and the source location of a failure. Structured, so every
//! reporter renders them without parsing text again.

use serde::{Deserialize, Serialize};

/// How one test case ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum TestOutcome {
    /// A `<failure>`: the test's own check failed.
    Failed,
    /// An `<error>`: the test could not run to its end (an exception, a fixture, a panic).
    Error,
    Skipped,
    Passed,
}

impl TestOutcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TestOutcome::Failed => "failed",
            TestOutcome::Error => "error",
            TestOutcome::Skipped => "skipped",
            TestOutcome::Passed => "passed",
        }
    }

    /// A failure or an error.
    pub(crate) fn is_failure(self) -> bool {
        matches!(self, TestOutcome::Failed | TestOutcome::Error)
    }
}

/// One test case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TestCaseResult {
    pub(crate) name: String,
    /// The JUnit `classname` (a Go package, a Python module, a Rust binary).
    #[serde(default)]
    pub(crate) classname: Option<String>,
    pub(crate) duration_seconds: f64,
    pub(crate) outcome: TestOutcome,
    /// The failure's or skip's `message`.
    #[serde(default)]
    pub(crate) message: Option<String>,
    /// The failure's `type` attribute (Ginkgo: `failed`, `panicked`, `timedout`...).
    #[serde(default)]
    pub(crate) kind: Option<String>,
    /// Where the failure is, relative to the repository when it could be made so.
    #[serde(default)]
    pub(crate) file: Option<String>,
    #[serde(default)]
    pub(crate) line: Option<usize>,
    /// The first lines of the failure's text.
    #[serde(default)]
    pub(crate) details: Vec<String>,
}

/// One suite (a `<testsuite>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TestSuiteResult {
    pub(crate) name: String,
    /// The JUnit file it was read from.
    #[serde(default)]
    pub(crate) source: Option<String>,
    #[serde(default)]
    pub(crate) duration_seconds: Option<f64>,
    pub(crate) cases: Vec<TestCaseResult>,
}

/// Counts over cases.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TestCounts {
    pub(crate) tests: usize,
    pub(crate) passed: usize,
    pub(crate) failed: usize,
    pub(crate) errors: usize,
    pub(crate) skipped: usize,
}

impl TestCounts {
    pub(crate) fn of<'a>(cases: impl IntoIterator<Item = &'a TestCaseResult>) -> TestCounts {
        let mut counts = TestCounts::default();
        for case in cases {
            counts.tests += 1;
            match case.outcome {
                TestOutcome::Passed => counts.passed += 1,
                TestOutcome::Failed => counts.failed += 1,
                TestOutcome::Error => counts.errors += 1,
                TestOutcome::Skipped => counts.skipped += 1,
            }
        }
        counts
    }

    /// Failures and errors.
    pub(crate) fn failing(&self) -> usize {
        self.failed + self.errors
    }
}

/// What the test phase's suite reported: the JUnit files it wrote and their suites.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct TestResults {
    /// The JUnit files read, as found.
    pub(crate) junit_files: Vec<String>,
    pub(crate) counts: TestCounts,
    pub(crate) suites: Vec<TestSuiteResult>,
    /// JUnit files that matched but could not be read (with why).
    #[serde(default)]
    pub(crate) unreadable: Vec<String>,
}

impl TestResults {
    pub(crate) fn new(junit_files: Vec<String>, suites: Vec<TestSuiteResult>, unreadable: Vec<String>) -> TestResults {
        let counts = TestCounts::of(suites.iter().flat_map(|suite| &suite.cases));
        TestResults {
            junit_files,
            counts,
            suites,
            unreadable,
        }
    }

    /// Every case with its suite.
    pub(crate) fn cases(&self) -> impl Iterator<Item = (&TestSuiteResult, &TestCaseResult)> {
        self.suites
            .iter()
            .flat_map(|suite| suite.cases.iter().map(move |case| (suite, case)))
    }
}
