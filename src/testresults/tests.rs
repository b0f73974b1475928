use super::*;
use crate::model::TestCounts;

fn fixture(name: &str) -> Vec<TestSuiteResult> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/junit")
        .join(name);
    read_file(&path).expect("fixture reads")
}

fn failures(suites: &[TestSuiteResult]) -> Vec<(String, Option<String>, Option<usize>)> {
    suites
        .iter()
        .flat_map(|suite| &suite.cases)
        .filter(|case| case.outcome.is_failure())
        .map(|case| (case.name.clone(), case.file.clone(), case.line))
        .collect()
}

#[test]
fn ginkgo_failures_point_at_the_spec() {
    let suites = fixture("ginkgo-unit.xml");
    assert_eq!(suites.len(), 1);
    let counts = TestCounts::of(&suites[0].cases);
    assert_eq!((counts.tests, counts.passed, counts.failed), (4, 2, 2));
    assert_eq!(
        failures(&suites),
        vec![
            (
                "[It] Phase transitions 1.4: Pending→Processing preserves gateway metadata".to_owned(),
                Some("/src/test/unit/remediationorchestrator/controller/reconcile_phases_test.go".to_owned()),
                Some(205)
            ),
            (
                "[It] Audit events AE-7.5: Approval Requested emits orchestrator.approval.requested".to_owned(),
                Some("/src/test/unit/remediationorchestrator/controller/audit_events_test.go".to_owned()),
                Some(225)
            ),
        ]
    );
    let case = &suites[0].cases[1];
    assert_eq!(case.kind.as_deref(), Some("failed"));
    assert_eq!(case.details[0], "[FAILED] Expected");
    assert!(
        case.message
            .as_deref()
            .is_some_and(|message| message.contains("<string>: test-group"))
    );
}

#[test]
fn go_test_failures_name_the_file_and_the_package() {
    for name in ["go-junit-report.xml", "gotestsum.xml"] {
        let suites = fixture(name);
        let found = failures(&suites);
        assert_eq!(found.len(), 1, "{name}");
        assert!(
            matches!(&found[0], (_, Some(file), Some(31 | 42)) if file == "store_test.go" || file == "handler_test.go"),
            "{name}: {found:?}"
        );
    }
    let suites = fixture("go-junit-report.xml");
    assert_eq!(
        suites[0].cases[1].message.as_deref(),
        Some("store_test.go:42: put: got 1, want 2"),
        "go test's `Failed` is replaced by its own words"
    );
    let skipped = &suites[0].cases[2];
    assert_eq!(skipped.outcome, TestOutcome::Skipped);
    assert_eq!(skipped.file, None, "a skip has no failure location");
}

#[test]
fn go_files_resolve_through_the_module() {
    let directory = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(directory.path().join("pkg/store")).expect("mkdir");
    std::fs::write(directory.path().join("pkg/store/store_test.go"), "package store\n").expect("write");
    let mut suites = fixture("go-junit-report.xml");
    resolve_go_files(&mut suites, "github.com/org/app", directory.path());
    assert_eq!(
        suites[0].cases[1].file.as_deref(),
        Some(
            directory
                .path()
                .join("pkg/store/store_test.go")
                .to_str()
                .expect("UTF-8")
        )
    );
    let mut other = fixture("gotestsum.xml");
    resolve_go_files(&mut other, "github.com/org/app", directory.path());
    assert_eq!(
        other[0].cases[0].file.as_deref(),
        Some("handler_test.go"),
        "a file that does not exist stays as written"
    );
    // go-junit-report v1: the suite is the import path, the classname only its last element.
    let v1 = r#"<testsuites><testsuite name="github.com/org/app/pkg/store" tests="1"><testcase classname="store" name="TestPut" time="0.01"><failure message="Failed" type="">store_test.go:42: got 1, want 2</failure></testcase></testsuite></testsuites>"#;
    let mut suites = parse(v1).expect("parses");
    resolve_go_files(&mut suites, "github.com/org/app", directory.path());
    assert_eq!(
        suites[0].cases[0].file.as_deref(),
        directory.path().join("pkg/store/store_test.go").to_str()
    );
    assert_eq!(suites[0].cases[0].line, Some(42));
}

#[test]
fn nextest_panics_point_at_the_assertion() {
    let suites = fixture("nextest.xml");
    assert_eq!(
        failures(&suites),
        vec![(
            "parse::tests::parses_a_duration".to_owned(),
            Some("src/parse.rs".to_owned()),
            Some(17)
        )]
    );
    let case = &suites[0].cases[0];
    assert_eq!(
        case.message.as_deref(),
        Some(
            "thread 'parse::tests::parses_a_duration' panicked at src/parse.rs:17:9: assertion `left == right` failed"
        ),
        "without a message attribute, the panic line and what it says"
    );
    assert!((suites[0].cases[2].duration_seconds - 0.2).abs() < 1e-9);
}

#[test]
fn a_bare_testsuite_root_nested_suites_and_odd_times_are_read() {
    let xml = r#"<testsuite name="outer" time="1,234.5"><testsuite name="inner"><testcase name="a" time="x"/><testcase name="b"><error message="boom"/></testcase></testsuite><testcase name="c"/></testsuite>"#;
    let suites = parse(xml).expect("parses");
    let names: Vec<(&str, usize)> = suites
        .iter()
        .map(|suite| (suite.name.as_str(), suite.cases.len()))
        .collect();
    assert_eq!(names, vec![("inner", 2), ("outer", 1)]);
    assert_eq!(suites[1].duration_seconds, Some(1234.5));
    assert_eq!(suites[0].cases[0].duration_seconds, 0.0);
    assert_eq!(suites[0].cases[1].outcome, TestOutcome::Error);
}

#[test]
fn what_is_not_junit_says_so() {
    assert!(parse("<html><body/></html>").is_err_and(|error| error.contains("<html>")));
    assert!(parse("not xml at all").is_err());
    assert!(parse("<testsuites><testsuite><testcase></testsuite>").is_err());
}

#[test]
fn a_file_cut_off_while_written_is_not_a_shorter_green_file() {
    for cut in [
        r#"<testsuite name="x"><testcase name="a"><failure message="m">t</failure>"#,
        r#"<testsuite name="x"><testcase name="a"/>"#,
        r#"<testsuites><testsuite name="x"><testcase name="a"/></testsuite>"#,
        r#"<testsuites><testsuite name="x"><testcase name="a"><system-out>half a li"#,
    ] {
        let error = parse(cut).expect_err(cut);
        assert!(error.contains("cut off"), "{cut}: {error}");
    }
    assert!(parse(r#"<testsuites><testsuite name="x"><testcase name="a"/></testsuite></testsuites>"#).is_ok());
}

#[test]
fn panics_say_what_happened_not_only_where() {
    // go test through gotestsum: the location found is a stack frame; the panic line is news.
    let go = r#"<testsuites><testsuite name="example.com/api"><testcase classname="example.com/api" name="TestIndex" time="0.01"><failure message="Failed" type="">=== RUN   TestIndex
--- FAIL: TestIndex (0.00s)
panic: runtime error: index out of range [3] with length 2 [recovered]
	panic: runtime error: index out of range [3] with length 2

goroutine 7 [running]:
example.com/api.TestIndex(0xc000007860)
	/home/runner/work/api/panic_test.go:30 +0x1d
</failure></testcase></testsuite></testsuites>"#;
    let suites = parse(go).expect("parses");
    assert_eq!(
        suites[0].cases[0].message.as_deref(),
        Some("panic: runtime error: index out of range [3] with length 2 [recovered]")
    );
    // cargo-nextest with a message attribute that stops at the location.
    let rust = r#"<testsuites><testsuite name="app"><testcase name="t" classname="app"><failure type="test failure with exit code 101" message="thread 't' (10286) panicked at src/lib.rs:6:27">thread 't' (10286) panicked at src/lib.rs:6:27:
called `Result::unwrap()` on an `Err` value: NotFound
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace</failure></testcase></testsuite></testsuites>"#;
    let suites = parse(rust).expect("parses");
    assert_eq!(
        suites[0].cases[0].message.as_deref(),
        Some("thread 't' (10286) panicked at src/lib.rs:6:27: called `Result::unwrap()` on an `Err` value: NotFound")
    );
}

#[test]
fn absurd_times_are_no_times() {
    let xml = r#"<testsuite name="s" time="1e308"><testcase name="a" time="-5"/><testcase name="b" time="NaN"/><testcase name="c" time="2.5"/><testcase name="d" time="-0"/></testsuite>"#;
    let suites = parse(xml).expect("parses");
    assert_eq!(suites[0].duration_seconds, None);
    let times: Vec<f64> = suites[0].cases.iter().map(|case| case.duration_seconds).collect();
    assert_eq!(times, [0.0, 0.0, 2.5, 0.0]);
    assert!(times[3].is_sign_positive(), "no -0 in the JSON");
}
