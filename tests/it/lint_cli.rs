//! `hybrid-e2e lint` end to end: corpus expectations, every output format (snapshots), `--fix`,
//! config, suppression, exit codes and bad input.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::{copy_fixtures, hybrid_e2e, hybrid_e2e_in, repo, stderr, stdout};

const LINT_FINDINGS: i32 = 3;
const USAGE: i32 = 2;

fn json_findings(output: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(output)).expect("JSON report")
}

fn line_numbers(lines: &Value) -> Vec<u64> {
    lines
        .as_array()
        .expect("lines")
        .iter()
        .filter_map(Value::as_u64)
        .collect()
}

/// Every file's unsuppressed and suppressed `no-dnf-update` start lines match `expected.json`.
fn check_corpus(directory: &str) {
    let output = hybrid_e2e(&["lint", "--format", "json", directory]);
    assert_eq!(output.status.code(), Some(LINT_FINDINGS), "{}", stderr(&output));
    let report = json_findings(&output);
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join(directory).join("expected.json")).expect("expected.json"),
    )
    .expect("expected JSON");
    let mut found: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut suppressed: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for finding in report["findings"].as_array().expect("findings") {
        if finding["rule"] != "no-dnf-update" {
            continue;
        }
        let file = finding["path"]
            .as_str()
            .expect("path")
            .rsplit('/')
            .next()
            .expect("name")
            .to_owned();
        let line = finding["line"].as_u64().expect("line");
        let target = if finding["suppressed"] == true {
            &mut suppressed
        } else {
            &mut found
        };
        target.entry(file).or_default().push(line);
    }
    let files = expected["findings"].as_object().expect("findings map");
    assert_eq!(report["files_scanned"].as_u64(), Some(files.len() as u64));
    for (file, lines) in files {
        let lines = line_numbers(lines);
        assert_eq!(
            found.get(file).cloned().unwrap_or_default(),
            lines,
            "{directory}/{file}"
        );
    }
    for (file, lines) in expected["suppressed"].as_object().expect("suppressed map") {
        let lines = line_numbers(lines);
        assert_eq!(
            suppressed.get(file).cloned().unwrap_or_default(),
            lines,
            "{directory}/{file} suppressed"
        );
    }
}

#[test]
fn shared_corpus_matches_its_labels() {
    check_corpus("tests/fixtures/dockerfiles");
}

#[test]
fn our_own_corpus_matches_its_labels() {
    check_corpus("tests/fixtures/dockerfiles-extra");
}

#[test]
fn every_format_renders_the_shared_corpus() {
    for format in ["text", "json", "sarif", "github", "junit"] {
        let output = hybrid_e2e(&["lint", "--format", format, "tests/fixtures/dockerfiles"]);
        assert_eq!(
            output.status.code(),
            Some(LINT_FINDINGS),
            "{format}: {}",
            stderr(&output)
        );
        insta::assert_snapshot!(format!("corpus_{format}"), stdout(&output));
    }
}

#[test]
fn text_output_on_our_corpus() {
    let output = hybrid_e2e(&["lint", "tests/fixtures/dockerfiles-extra"]);
    insta::assert_snapshot!(stdout(&output));
}

#[test]
fn sarif_has_the_shape_code_scanning_needs() {
    let output = hybrid_e2e(&["lint", "--format", "sarif", "tests/fixtures/dockerfiles"]);
    let log: Value = serde_json::from_str(&stdout(&output)).expect("SARIF JSON");
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    for result in run["results"].as_array().expect("results") {
        let index = result["ruleIndex"].as_u64().expect("ruleIndex") as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
        let region = &result["locations"][0]["physicalLocation"]["region"];
        assert!(region["startLine"].as_u64().expect("startLine") >= 1);
        assert!(region["startColumn"].as_u64().expect("startColumn") >= 1);
    }
    let suppressed: Vec<&Value> = run["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter(|result| result.get("suppressions").is_some())
        .collect();
    assert_eq!(suppressed.len(), 1);
    assert_eq!(
        suppressed[0]["suppressions"][0]["justification"],
        "security baseline image, rebuilt weekly outside E2E"
    );
}

#[test]
fn fix_rewrites_files_and_leaves_them_clean() {
    let directory = copy_fixtures("tests/fixtures/dockerfiles");
    let before = std::fs::read_to_string(directory.path().join("v03-continuation.Dockerfile")).expect("read");
    let output = hybrid_e2e_in(directory.path(), &["lint", "--fix", "--format", "json"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("applied 18 fix(es) in 13 file(s)"),
        "{}",
        stderr(&output)
    );
    let after = std::fs::read_to_string(directory.path().join("v03-continuation.Dockerfile")).expect("read");
    assert_ne!(before, after);
    assert_eq!(
        after,
        "FROM registry.access.redhat.com/ubi9/ubi:latest\nRUN dnf install -y \\\n\tgit \\\n\tmake && \\\n\tdnf clean all\n"
    );
    let again = hybrid_e2e_in(directory.path(), &["lint", "--format", "json"]);
    assert_eq!(again.status.code(), Some(0));
    let report = json_findings(&again);
    let unsuppressed = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|finding| finding["suppressed"] == false)
        .count();
    assert_eq!(unsuppressed, 0, "{report}");
}

#[test]
fn fix_dry_run_prints_a_diff_and_writes_nothing() {
    let directory = copy_fixtures("tests/fixtures/dockerfiles");
    let before = std::fs::read_to_string(directory.path().join("v01-plain.Dockerfile")).expect("read");
    let output = hybrid_e2e_in(
        directory.path(),
        &[
            "lint",
            "--fix",
            "--dry-run",
            "v01-plain.Dockerfile",
            "v07-heredoc.Dockerfile",
        ],
    );
    assert_eq!(output.status.code(), Some(LINT_FINDINGS));
    insta::assert_snapshot!(stdout(&output));
    assert_eq!(
        std::fs::read_to_string(directory.path().join("v01-plain.Dockerfile")).expect("read"),
        before
    );
}

#[test]
fn targeted_updates_are_reported_but_not_fixed() {
    let directory = copy_fixtures("tests/fixtures/dockerfiles-extra");
    let output = hybrid_e2e_in(directory.path(), &["lint", "--fix", "x04-targeted.Dockerfile"]);
    assert_eq!(output.status.code(), Some(LINT_FINDINGS));
    assert!(
        stdout(&output).contains("targeted `dnf update` of `openssl`"),
        "{}",
        stdout(&output)
    );
    assert!(stderr(&output).contains("applied 0 fix(es)"));
}

#[test]
fn config_and_flags_set_rule_levels() {
    let directory = copy_fixtures("tests/fixtures/dockerfiles");
    std::fs::write(
        directory.path().join("hybrid-e2e.yaml"),
        "version: 1\nlint:\n  rules:\n    no-dnf-update: warning\n",
    )
    .expect("config");
    let lowered = hybrid_e2e_in(directory.path(), &["lint", "--format", "json"]);
    assert_eq!(lowered.status.code(), Some(0), "warnings do not fail the lint");
    assert!(
        json_findings(&lowered)["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .all(|finding| finding["severity"] == "warning" || finding["rule"] != "no-dnf-update")
    );
    let raised = hybrid_e2e_in(directory.path(), &["lint", "--rule", "no-dnf-update=error", "-q"]);
    assert_eq!(raised.status.code(), Some(LINT_FINDINGS), "flags override the config");
    let off = hybrid_e2e_in(directory.path(), &["lint", "--rule", "no-dnf-update=off"]);
    assert_eq!(off.status.code(), Some(0));
    assert!(
        stdout(&off).contains("ok: 15 files checked, no findings"),
        "{}",
        stdout(&off)
    );
}

#[test]
fn config_errors_point_at_the_line() {
    let directory = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        directory.path().join("hybrid-e2e.yaml"),
        "version: 1\nlint:\n  rules:\n    no-dnf-update: fatal\n",
    )
    .expect("config");
    let output = hybrid_e2e_in(directory.path(), &["lint"]);
    assert_eq!(output.status.code(), Some(USAGE));
    let message = stderr(&output);
    assert!(message.contains("hybrid-e2e.yaml:4:"), "{message}");
}

#[test]
fn include_exclude_and_gitignore() {
    let directory = tempfile::tempdir().expect("tempdir");
    let root = directory.path();
    for (file, body) in [
        ("Dockerfile", "FROM a\nRUN dnf update\n"),
        ("generated/Dockerfile", "FROM a\nRUN dnf update\n"),
        ("third_party/Containerfile", "FROM a\nRUN yum update\n"),
        ("images/api.df", "FROM a\nRUN microdnf update\n"),
    ] {
        std::fs::create_dir_all(root.join(file).parent().expect("parent")).expect("mkdir");
        std::fs::write(root.join(file), body).expect("write");
    }
    std::fs::write(root.join(".gitignore"), "generated/\n").expect("gitignore");
    let output = hybrid_e2e_in(
        root,
        &[
            "lint",
            "--format",
            "json",
            "--include",
            "images/*.df",
            "--exclude",
            "third_party/**",
        ],
    );
    let report = json_findings(&output);
    let paths: Vec<&str> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|finding| finding["path"].as_str())
        .collect();
    assert_eq!(paths, vec!["Dockerfile", "images/api.df"]);
    let everything = hybrid_e2e_in(root, &["lint", "--format", "json", "--no-ignore"]);
    assert_eq!(json_findings(&everything)["files_scanned"], 3);
}

#[test]
fn explicit_files_are_linted_whatever_their_name() {
    let directory = tempfile::tempdir().expect("tempdir");
    std::fs::write(directory.path().join("build.txt"), "FROM a\nRUN dnf -y upgrade\n").expect("write");
    let output = hybrid_e2e_in(directory.path(), &["lint", "--format", "json", "build.txt"]);
    assert_eq!(output.status.code(), Some(LINT_FINDINGS));
    assert_eq!(json_findings(&output)["findings"][0]["path"], "build.txt");
}

#[test]
fn bad_input_gets_a_diagnostic_per_file_and_the_rest_is_still_linted() {
    let output = hybrid_e2e(&[
        "lint",
        "--format",
        "json",
        "tests/fixtures/invalid",
        "tests/fixtures/invalid/Dockerfile.notes",
    ]);
    assert_eq!(output.status.code(), Some(LINT_FINDINGS));
    insta::assert_json_snapshot!(json_findings(&output));
}

#[test]
fn missing_paths_are_usage_errors() {
    let output = hybrid_e2e(&["lint", "no/such/path"]);
    assert_eq!(output.status.code(), Some(USAGE));
    assert!(
        stderr(&output).contains("path `no/such/path` does not exist"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn clean_tree_passes() {
    let output = hybrid_e2e(&["lint", "examples/"]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
}

#[test]
fn help_shows_examples_and_exit_codes() {
    let output = hybrid_e2e(&["lint", "--help"]);
    let help = stdout(&output);
    assert!(
        help.contains("hybrid-e2e lint --fix docker/") && help.contains("# hybrid-e2e ignore=no-dnf-update"),
        "{help}"
    );
    let top = stdout(&hybrid_e2e(&["--help"]));
    assert!(top.contains("Exit codes: 0 ok"), "{top}");
}

#[test]
fn fix_writes_through_symlinks() {
    let directory = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(directory.path().join("real")).expect("mkdir");
    std::fs::create_dir_all(directory.path().join("sym")).expect("mkdir");
    std::fs::write(
        directory.path().join("real/Dockerfile"),
        "FROM a\nRUN dnf update -y && make\n",
    )
    .expect("write");
    std::os::unix::fs::symlink("../real/Dockerfile", directory.path().join("sym/Dockerfile")).expect("symlink");
    let output = hybrid_e2e_in(directory.path(), &["lint", "--fix", "sym/Dockerfile"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        std::fs::symlink_metadata(directory.path().join("sym/Dockerfile"))
            .expect("meta")
            .file_type()
            .is_symlink()
    );
    assert_eq!(
        std::fs::read_to_string(directory.path().join("real/Dockerfile")).expect("read"),
        "FROM a\nRUN make\n"
    );
}
