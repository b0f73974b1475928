use super::*;

fn fixtures(names: &[&str]) -> Vec<PathBuf> {
    names
        .iter()
        .map(|name| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/junit")
                .join(name)
        })
        .collect()
}

/// The seed's three tiers: unit (Ginkgo and cargo-nextest) with assertion failures,
/// integration (go test via go-junit-report and gotestsum), E2E blocked by its setup.
fn seed() -> Triage {
    let tiers = vec![
        TierInput {
            name: "unit".to_owned(),
            files: fixtures(&["ginkgo-unit.xml", "nextest.xml"]),
        },
        TierInput {
            name: "integration".to_owned(),
            files: fixtures(&["go-junit-report.xml", "gotestsum.xml"]),
        },
        TierInput {
            name: "e2e".to_owned(),
            files: fixtures(&["ginkgo-e2e-setup-failed.xml"]),
        },
    ];
    triage(&tiers, Some(Path::new("/src")))
}

#[test]
fn the_seed_s_document_comes_out_of_the_junit() {
    let triage = seed();
    assert_eq!(triage.status, "blocked");
    let unit = &triage.tiers[0];
    assert_eq!(
        (unit.passed, unit.tests, unit.failed),
        (3, 6, 3),
        "[BeforeSuite] is not a test"
    );
    let e2e = &triage.tiers[2];
    assert!(e2e.blocked);
    assert_eq!((e2e.passed, e2e.tests, e2e.skipped), (0, 2, 2));
    assert_eq!(e2e.failures[0].category, Category::Setup);
    assert_eq!(
        e2e.failures[0].file.as_deref(),
        Some("test/infrastructure/remediationorchestrator_e2e_hybrid.go")
    );
    assert_eq!(e2e.failures[0].line, Some(600));
    assert!(
        triage
            .verdict
            .starts_with("e2e is blocked: its setup failed at test/infrastructure/remediationorchestrator_e2e_hybrid.go:600, 0/2 tests ran"),
        "{}",
        triage.verdict
    );
    // Paths relative to /src here; the fixture paths differ per machine, so they are cut.
    let mut json = serde_json::to_value(&triage).expect("JSON");
    for tier in json["tiers"].as_array_mut().expect("tiers") {
        tier["junit_files"] = serde_json::json!(["…"]);
    }
    insta::assert_json_snapshot!("triage_seed_json", json);
    let markdown = render(&triage);
    let fences = markdown.lines().filter(|line| line.starts_with("```")).count();
    assert_eq!(fences % 2, 0, "fences balanced");
    assert_eq!(
        markdown.matches("<details>").count(),
        markdown.matches("</details>").count()
    );
    insta::assert_snapshot!("triage_seed_markdown", markdown);
}

#[test]
fn all_green_says_so() {
    let triage = triage(
        &[TierInput {
            name: "unit".to_owned(),
            files: Vec::new(),
        }],
        None,
    );
    assert_eq!(triage.status, "failed", "a tier without JUnit is not green");
    let xml = "<testsuites><testsuite name=\"s\"><testcase name=\"a\" time=\"1\"/></testsuite></testsuites>";
    let directory = tempfile::tempdir().expect("tempdir");
    let path = directory.path().join("ok.xml");
    std::fs::write(&path, xml).expect("write");
    let triage = super::triage(
        &[TierInput {
            name: "unit".to_owned(),
            files: vec![path],
        }],
        None,
    );
    assert_eq!(triage.status, "passed");
    assert_eq!(triage.verdict, "all 1 test(s) of 1 tier(s) passed");
}

#[test]
fn failures_are_classified() {
    let case = |name: &str, outcome: TestOutcome, kind: Option<&str>, message: &str| TestCaseResult {
        name: name.to_owned(),
        classname: None,
        duration_seconds: 0.0,
        outcome,
        message: Some(message.to_owned()),
        kind: kind.map(str::to_owned),
        file: None,
        line: None,
        details: Vec::new(),
    };
    let cases = [
        (
            case(
                "[BeforeSuite]",
                TestOutcome::Failed,
                Some("failed"),
                "Timed out after 120s",
            ),
            Category::Setup,
        ),
        (
            case(
                "test_api",
                TestOutcome::Error,
                None,
                "failed on setup with \"ConnectionError\"",
            ),
            Category::Setup,
        ),
        (
            case(
                "[It] x",
                TestOutcome::Failed,
                Some("failed"),
                "dial tcp 10.96.0.1:443: connect: connection refused",
            ),
            Category::Infrastructure,
        ),
        (
            case(
                "[It] y",
                TestOutcome::Failed,
                Some("timedout"),
                "A node timeout occurred",
            ),
            Category::Infrastructure,
        ),
        (
            case("test_z", TestOutcome::Error, None, "KeyError: 'x'"),
            Category::Error,
        ),
        (
            case(
                "[It] p",
                TestOutcome::Failed,
                Some("panicked"),
                "runtime error: nil map",
            ),
            Category::Error,
        ),
        (
            case("TestPut", TestOutcome::Failed, None, "store_test.go:42: got 1, want 2"),
            Category::Assertion,
        ),
        (
            case("test_q", TestOutcome::Failed, None, "AssertionError: assert 1 == 2"),
            Category::Assertion,
        ),
    ];
    for (case, expected) in cases {
        assert_eq!(classify(&case), expected, "{case:?}");
    }
}
