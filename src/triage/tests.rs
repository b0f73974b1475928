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
                "[AfterSuite] ",
                TestOutcome::Failed,
                Some("failed"),
                "cleanup: namespace still terminating",
            ),
            Category::Teardown,
        ),
        (
            case(
                "test_db",
                TestOutcome::Error,
                None,
                "failed on teardown with \"OSError: busy\"",
            ),
            Category::Teardown,
        ),
        (
            case("t1", TestOutcome::Failed, Some("test timeout"), "timed out"),
            Category::Infrastructure,
        ),
        (
            case(
                "TestSlow",
                TestOutcome::Failed,
                None,
                "panic: test timed out after 10m0s",
            ),
            Category::Infrastructure,
        ),
        (
            case("test_key", TestOutcome::Failed, None, "KeyError: 'missing'"),
            Category::Error,
        ),
        (
            TestCaseResult {
                details: vec![
                    "def test_lookup(client):".to_owned(),
                    "    # the response should have an id".to_owned(),
                    "    assert client.get('/x').ok".to_owned(),
                    ">       return data['id']".to_owned(),
                    "E       KeyError: 'id'".to_owned(),
                ],
                ..case("test_lookup", TestOutcome::Failed, None, "KeyError: 'id'")
            },
            Category::Error,
        ),
        (
            case("test_slow", TestOutcome::Failed, None, "Failed: Timeout >10.0s"),
            Category::Infrastructure,
        ),
        (
            case(
                "test_http",
                TestOutcome::Failed,
                None,
                "requests.exceptions.HTTPError: 500 Server Error",
            ),
            Category::Error,
        ),
        (
            case(
                "bad_unwrap",
                TestOutcome::Failed,
                None,
                "thread 'bad_unwrap' panicked at src/lib.rs:6:27: called `Result::unwrap()` on an `Err` value",
            ),
            Category::Error,
        ),
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

fn tier_of(name: &str, xml: &str) -> (tempfile::TempDir, TierInput) {
    let directory = tempfile::tempdir().expect("tempdir");
    let path = directory.path().join(format!("{name}.xml"));
    std::fs::write(&path, xml).expect("write");
    (
        directory,
        TierInput {
            name: name.to_owned(),
            files: vec![path],
        },
    )
}

#[test]
fn a_tier_that_ran_nothing_is_not_green() {
    let (_unit_dir, unit) = tier_of(
        "unit",
        r#"<testsuite name="s"><testcase name="a" time="1"/><testcase name="b" time="1"/></testsuite>"#,
    );
    let (_e2e_dir, e2e) = tier_of(
        "e2e",
        r#"<testsuite name="s"><testcase name="a"><skipped/></testcase><testcase name="b"><skipped/></testcase></testsuite>"#,
    );
    let (_none_dir, none) = tier_of("integration", r#"<testsuites tests="0"></testsuites>"#);
    let triage = triage(&[unit.clone(), e2e], None);
    assert_eq!(triage.status, "incomplete");
    assert_eq!(triage.verdict, "e2e: all 2 test(s) skipped");
    let markdown = render(&triage);
    assert!(
        markdown.starts_with("## ⚠️ Test triage: 2/4 passed (50.0%)"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| ⚠️ e2e | 0/2 | 0.0% | 0 | 2 | 0.0s |"),
        "{markdown}"
    );
    let triage = super::triage(&[unit.clone(), none], None);
    assert_eq!(triage.status, "incomplete");
    assert_eq!(triage.verdict, "integration ran no tests");
    assert!(
        render(&triage).contains("| ⚠️ integration | 0/0 | — | 0 | 0 | 0.0s |"),
        "no -0.0s"
    );
    // Skips beside tests that ran are said, not hidden.
    let (_mixed_dir, mixed) = tier_of(
        "e2e",
        r#"<testsuite name="s"><testcase name="a"/><testcase name="b"><skipped/></testcase></testsuite>"#,
    );
    let triage = super::triage(&[unit, mixed], None);
    assert_eq!(triage.status, "passed");
    assert_eq!(triage.verdict, "all 3 test(s) of 2 tier(s) passed (1 skipped)");
}

#[test]
fn a_failed_cleanup_is_teardown_and_blocks_nothing() {
    let (_directory, e2e) = tier_of(
        "e2e",
        r#"<testsuite name="E2E"><testcase name="[It] reconciles" time="3"><failure message="Expected 1 to equal 2">In [It] at: /src/test/e2e/reconcile_test.go:40</failure></testcase><testcase name="[AfterSuite]" time="1"><failure message="cleanup failed">In [AfterSuite] at: /src/test/e2e/suite_test.go:90</failure></testcase></testsuite>"#,
    );
    let triage = triage(&[e2e], Some(Path::new("/src")));
    let tier = &triage.tiers[0];
    assert!(!tier.blocked, "the test ran");
    assert_eq!(triage.status, "failed");
    assert_eq!(
        (tier.tests, tier.ran, tier.failed, tier.suite_node_failures),
        (1, 1, 1, 1)
    );
    assert_eq!(triage.verdict, "e2e has 2 failure(s) (1 assertion, 1 teardown)");
    let markdown = render(&triage);
    assert!(
        markdown.contains("| ❌ e2e | 0/1 | 0.0% | 1 (+1 suite node) | 0 |"),
        "{markdown}"
    );
    assert!(
        markdown.contains("| [AfterSuite] | 🧹 teardown | `test/e2e/suite_test.go:90` |"),
        "{markdown}"
    );
}

#[test]
fn percentages_never_round_to_all_or_nothing() {
    assert_eq!(percent(4, 15).as_deref(), Some("26.7%"));
    assert_eq!(percent(2, 3).as_deref(), Some("66.7%"));
    assert_eq!(percent(9999, 10000).as_deref(), Some("99.9%"));
    assert_eq!(percent(1, 10000).as_deref(), Some("0.1%"));
    assert_eq!(percent(3, 3).as_deref(), Some("100.0%"));
    assert_eq!(percent(0, 3).as_deref(), Some("0.0%"));
    assert_eq!(percent(0, 0), None);
}
