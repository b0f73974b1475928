//! The bad-input battery: one test per class of bad input a user (or an artifact, or the
//! machine) can hand us. Each must end in a clear error naming what to fix — never a panic,
//! an endless read or a silent pass.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::support::{Project, hybrid_e2e_in, stderr, stdout};

const USAGE: i32 = 2;
const LINT_FINDINGS: i32 = 3;
const INFRASTRUCTURE: i32 = 5;
const REPORT_PARTIAL: i32 = 6;

fn run_in(project: &Project, args: &[&str], env: &[(&str, &str)]) -> Output {
    project.run(args, env)
}

fn assert_usage(output: &Output, needles: &[&str]) {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(USAGE), "{text}");
    for needle in needles {
        assert!(text.contains(needle), "`{needle}` missing from:\n{text}");
    }
    assert!(!text.contains("panicked"), "{text}");
}

/// Durations too long for any clock are refused where they are written, with the maximum.
#[test]
fn durations_beyond_any_clock_are_refused_with_the_maximum() {
    for (key, yaml) in [
        (
            "timeout",
            "version: 1\nimages:\n  - name: api\n    image: localhost/x/api:1\n    dockerfile: Dockerfile\n    timeout: \"18000000000000000000s\"\n",
        ),
        (
            "create_timeout",
            "version: 1\ncluster:\n  create_timeout: \"18000000000000000000s\"\n",
        ),
    ] {
        let project = Project::new(yaml, &[("Dockerfile", "FROM a\n")]);
        let output = run_in(&project, &["plan"], &[]);
        assert_usage(&output, &["is too long: at most 7days", key]);
    }
    let project = Project::new("version: 1\n", &[]);
    let output = run_in(&project, &["plan", "--poll-interval", "100000000000s"], &[]);
    assert_usage(&output, &["outside 10ms to 1m"]);
}

fn write_timings(dir: &std::path::Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let text = std::fs::read_to_string(crate::support::repo().join("tests/fixtures/reports/job-a/timings.json"))
        .expect("fixture");
    let mut value: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    edit(&mut value);
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(dir.join("timings.json"), value.to_string()).expect("write");
}

/// Numbers in an uploaded `timings.json` are checked: huge, negative and non-finite durations
/// name the file and the field.
#[test]
fn numbers_read_from_a_report_are_checked() {
    let project = Project::new("version: 1\n", &[]);
    for (value, label) in [(serde_json::json!(1e20), "1e20"), (serde_json::json!(-5.0), "-5")] {
        let dir = project.path().join(format!("report-{label}"));
        write_timings(&dir, |timings| timings["phases"][0]["duration_seconds"] = value.clone());
        let output = run_in(&project, &["report", dir.to_str().expect("UTF-8")], &[]);
        assert_usage(&output, &["timings.json", "phases[0].duration_seconds"]);
    }
}

/// A config or report that never ends, or is far too large, is refused without reading it all.
#[test]
fn endless_and_huge_inputs_are_refused_quickly() {
    let project = Project::new("version: 1\n", &[]);
    let started = Instant::now();
    let output = run_in(&project, &["--config", "/dev/zero", "plan"], &[]);
    assert_usage(&output, &["/dev/zero is a device, not a regular file"]);
    let huge = project.path().join("huge");
    std::fs::create_dir_all(&huge).expect("mkdir");
    let file = std::fs::File::create(huge.join("timings.json")).expect("create");
    file.set_len(100 * 1024 * 1024).expect("sparse 100 MiB");
    let output = run_in(&project, &["report", huge.to_str().expect("UTF-8")], &[]);
    assert_usage(&output, &["larger than 64 MiB"]);
    let config = project.path().join("big.yaml");
    std::fs::File::create(&config)
        .and_then(|file| file.set_len(8 * 1024 * 1024))
        .expect("sparse config");
    let output = run_in(&project, &["--config", config.to_str().expect("UTF-8"), "plan"], &[]);
    assert_usage(&output, &["larger than 1 MiB"]);
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
}

/// `lint` never passes silently: a FIFO, a link to a device (even named on the command line)
/// and an unreadable directory are diagnostics and exit 3.
#[test]
fn lint_diagnoses_what_it_cannot_read() {
    let project = Project::new("version: 1\n", &[("locked/Dockerfile", "FROM a\nRUN dnf -y update\n")]);
    let root = project.path();
    nix::unistd::mkfifo(&root.join("Dockerfile"), nix::sys::stat::Mode::S_IRWXU).expect("mkfifo");
    std::fs::create_dir_all(root.join("sub")).expect("mkdir");
    std::os::unix::fs::symlink("/dev/zero", root.join("sub/Dockerfile")).expect("symlink");
    let output = run_in(&project, &["lint", "sub/Dockerfile"], &[]);
    assert_eq!(output.status.code(), Some(LINT_FINDINGS), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("is a device, not a regular file"),
        "{}",
        stdout(&output)
    );
    let output = run_in(&project, &["lint", "Dockerfile"], &[]);
    assert_eq!(output.status.code(), Some(LINT_FINDINGS));
    assert!(stdout(&output).contains("is a named pipe"), "{}", stdout(&output));
    // An unreadable directory: root reads everything, so run as nobody (setpriv, util-linux).
    std::fs::set_permissions(root.join("locked"), std::os::unix::fs::PermissionsExt::from_mode(0o000)).expect("chmod");
    let walk = |dir: &std::path::Path| {
        let binary = copy_binary_for_nobody();
        std::fs::set_permissions(root, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(binary)
            .args(["lint", dir.to_str().expect("UTF-8")])
            .env("NO_COLOR", "1")
            .output()
            .expect("setpriv runs")
    };
    let output = walk(root);
    assert_eq!(output.status.code(), Some(LINT_FINDINGS), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("cannot read the directory"),
        "{}",
        stdout(&output)
    );
    assert!(!stdout(&output).contains("ok:"), "{}", stdout(&output));
}

/// The binary where the `nobody` user may run it (the test build is under /root).
fn copy_binary_for_nobody() -> std::path::PathBuf {
    let target = std::env::temp_dir().join(format!("hybrid-e2e-nobody-{}", std::process::id()));
    if !target.exists() {
        std::fs::copy(env!("CARGO_BIN_EXE_hybrid-e2e"), &target).expect("copy");
        std::fs::set_permissions(&target, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    }
    target
}

/// Commands nested nine deep (`$(...)`, `sh -c`, backquotes) are still checked.
#[test]
fn deep_nesting_is_not_a_way_around_the_lint() {
    let mut substitution = "dnf update".to_owned();
    let mut shell = "dnf update".to_owned();
    for _ in 0..9 {
        substitution = format!("echo $( {substitution} )");
        shell = format!("sh -c \"{}\"", shell.replace('\\', "\\\\").replace('"', "\\\""));
    }
    let project = Project::new(
        "version: 1\n",
        &[
            ("a/Dockerfile", &format!("FROM a\nRUN {substitution}\n")),
            ("b/Dockerfile", &format!("FROM a\nRUN {shell}\n")),
            ("c/Dockerfile", "FROM a\nRUN echo `echo \\`dnf update\\``\n"),
        ],
    );
    let output = run_in(&project, &["lint", "--format", "json"], &[]);
    assert_eq!(output.status.code(), Some(LINT_FINDINGS));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    let flagged: Vec<&str> = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|finding| finding["rule"] == "no-dnf-update")
        .filter_map(|finding| finding["path"].as_str())
        .collect();
    assert_eq!(
        flagged,
        vec!["a/Dockerfile", "b/Dockerfile", "c/Dockerfile"],
        "{report}"
    );
}

/// A full disk behind standard output is an error, not a silent success; a closed pipe is not.
#[test]
fn writing_to_a_full_stdout_fails() {
    let full = std::fs::File::options()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let output = Command::new(env!("CARGO_BIN_EXE_hybrid-e2e"))
        .arg("config-schema")
        .stdout(full)
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(INFRASTRUCTURE));
    assert!(
        stderr(&output).contains("failed to write standard output"),
        "{}",
        stderr(&output)
    );
}

/// `hybrid-e2e config-schema | head -c0`: a reader that went away is no error (as with `cat`).
#[test]
fn a_closed_pipe_on_stdout_is_not_an_error() {
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader); // closed before the child writes: its write gets EPIPE
    let output = Command::new(env!("CARGO_BIN_EXE_hybrid-e2e"))
        .arg("config-schema")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stderr(&output).contains("panicked"), "{}", stderr(&output));
}

/// A newer `timings.json` says so instead of rendering what it does not understand.
#[test]
fn a_newer_report_format_is_refused_with_the_fix() {
    let project = Project::new("version: 1\n", &[]);
    let dir = project.path().join("future");
    write_timings(&dir, |timings| timings["format_version"] = serde_json::json!(99));
    let output = run_in(&project, &["report", dir.to_str().expect("UTF-8")], &[]);
    assert_usage(&output, &["format_version 99", "upgrade hybrid-e2e"]);
}

/// One unreadable directory of a merge: a warning and a note; the rest renders; exit 6.
#[test]
fn a_partial_merge_renders_the_rest_and_says_so() {
    let project = Project::new("version: 1\n", &[]);
    let fixtures = crate::support::repo().join("tests/fixtures/reports");
    let bad = project.path().join("bad");
    std::fs::create_dir_all(&bad).expect("mkdir");
    std::fs::write(bad.join("timings.json"), "{ not json").expect("write");
    let out = project.path().join("out");
    let output = run_in(
        &project,
        &[
            "report",
            fixtures.join("job-a").to_str().expect("UTF-8"),
            "--merge",
            bad.to_str().expect("UTF-8"),
            fixtures.join("job-b").to_str().expect("UTF-8"),
            "-o",
            out.to_str().expect("UTF-8"),
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(REPORT_PARTIAL), "{}", stderr(&output));
    assert!(stderr(&output).contains("warning: not merged:"), "{}", stderr(&output));
    let summary = std::fs::read_to_string(out.join("summary.md")).expect("summary written");
    assert!(
        summary.contains("not merged:") && summary.contains("job-a") && summary.contains("job-b"),
        "{summary}"
    );
    assert!(out.join("junit.xml").is_file());
}

/// Names other tools must accept are checked where they enter, with the other tool's rule.
#[test]
fn cluster_names_and_tag_suffixes_follow_kind_and_docker() {
    let project = Project::new("version: 1\ncluster:\n  name: \"Bad Name;rm\"\n", &[]);
    let output = run_in(&project, &["plan"], &[]);
    assert_usage(
        &output,
        &["hybrid-e2e.yaml:3:", "not a valid Kind cluster name", "^[a-z0-9.-]+$"],
    );
    let project = Project::new("version: 1\n", &[]);
    let output = run_in(&project, &["plan"], &[("HYBRID_E2E_CLUSTER_NAME", "Bad Name;rm")]);
    assert_usage(&output, &["$HYBRID_E2E_CLUSTER_NAME", "not a valid Kind cluster name"]);
    let output = run_in(&project, &["plan", "--tag-suffix", "$(x) y"], &[]);
    assert_usage(&output, &["cannot be part of an image tag", "Docker's tag rule"]);
}

/// Two images under one reference (as the run qualifies them) would build over each other.
#[test]
fn two_images_under_one_reference_are_refused() {
    let project = Project::new(
        "version: 1\nimages:\n  - {name: a, image: team/api, dockerfile: Dockerfile}\n  - {name: b, image: localhost/team/api, dockerfile: Dockerfile}\n",
        &[("Dockerfile", "FROM a\n")],
    );
    let output = run_in(&project, &["plan"], &[]);
    assert_usage(&output, &["two images cannot share a reference", "hybrid-e2e.yaml:4:"]);
}

/// An absolute manifest glob matches like a relative one.
#[test]
fn absolute_manifest_globs_match() {
    let manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n";
    let project = Project::new(
        "version: 1\n",
        &[("deploy/a1.yaml", manifest), ("deploy/a2.yaml", manifest)],
    );
    let config = format!(
        "version: 1\ndeploy:\n  - {{name: g, manifests: [\"{}/deploy/a*.yaml\"]}}\n",
        project.path().display()
    );
    std::fs::write(project.path().join("hybrid-e2e.yaml"), config).expect("config");
    let output = run_in(&project, &["plan", "--format", "json"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let plan: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("JSON");
    assert_eq!(plan["deploy"][0]["files"].as_array().map(Vec::len), Some(2), "{plan}");
}

/// Numbers from variables are checked, and the error names the variable the user set.
#[test]
fn bad_numbers_in_variables_name_the_variable() {
    let project = Project::new("version: 1\n", &[]);
    for value in ["-5", "NaN", "1e30"] {
        let output = run_in(&project, &["doctor"], &[("HYBRID_E2E_MIN_FREE_DISK_GIB", value)]);
        assert_usage(&output, &["$HYBRID_E2E_MIN_FREE_DISK_GIB", "outside 0 to 1048576 GiB"]);
    }
    let output = run_in(&project, &["plan"], &[("HYBRID_E2E_ENGINE", "dockr")]);
    assert_usage(&output, &["$HYBRID_E2E_ENGINE", "(it sets --engine)"]);
}

/// `plan` checks everything that needs no machine, as `run` would in preflight; without a
/// config it says so.
#[test]
fn plan_validates_what_needs_no_machine() {
    let project = Project::new(
        "version: 1\nimages:\n  - {name: app, image: it/app:1, dockerfile: Dockerfile}\ndeploy:\n  - {name: a, manifests: [\"nope/*.yaml\"]}\n  - {name: b, manifests: [bad.yaml]}\n  - {name: c, manifests: [app.yaml], wait_for: [deployment/ap]}\n",
        &[
            ("Dockerfile", "FROM a\n"),
            ("bad.yaml", "kind: [\n"),
            (
                "app.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: app}\nspec:\n  selector: {matchLabels: {app: app}}\n  template:\n    metadata: {labels: {app: app}}\n    spec:\n      containers:\n        - {name: app, image: it/app:1}\n",
            ),
        ],
    );
    let output = run_in(&project, &["plan"], &[]);
    assert_usage(
        &output,
        &[
            "hybrid-e2e.yaml:5: deploy group `a`: its manifests match no file",
            "bad.yaml:1:",
            "wait_for `deployment/ap` matches no object",
            "use `localhost/it/app:1`",
        ],
    );
    // Each problem its own hint: the glob and the YAML are not told about image references.
    let text = stderr(&output);
    assert!(text.contains("check the paths and globs"), "{text}");
    let empty = tempfile::tempdir().expect("tempdir");
    let output = hybrid_e2e_in(empty.path(), &["plan"]);
    assert_usage(&output, &["no hybrid-e2e.yaml in", "--config FILE"]);
    let output = hybrid_e2e_in(empty.path(), &["run"]);
    assert_usage(&output, &["no hybrid-e2e.yaml in"]);
}

/// Each subcommand's help shows its own options only.
#[test]
fn each_help_shows_only_its_own_options() {
    let help = |command: &str| stdout(&crate::support::hybrid_e2e(&[command, "--help"]));
    let cleanup = help("cleanup");
    for foreign in [
        "--poll-interval",
        "--apply-concurrency",
        "--preserve",
        "--tag-suffix",
        "--min-free-disk",
    ] {
        assert!(!cleanup.contains(foreign), "cleanup --help offers {foreign}");
    }
    assert!(cleanup.contains("--prefix") && cleanup.contains("--dry-run"));
    assert!(
        !help("config-schema").contains("--config"),
        "config-schema reads no config"
    );
    for command in ["run", "lint", "report", "plan"] {
        assert!(
            !help(command).contains("findings only"),
            "{command}: -q says findings only"
        );
    }
    assert!(!help("doctor").contains("--preserve"));
}

/// Config errors: the real file name in the snippet, words instead of types, no library hints.
#[test]
fn config_errors_read_like_ours() {
    let project = Project::new("version: 1\nconcurrency: 99999999999\nversion: 1\n", &[]);
    let output = run_in(&project, &["plan"], &[]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(USAGE), "{text}");
    assert!(text.starts_with("error: hybrid-e2e.yaml:"), "one prefix: {text}");
    assert!(text.contains("--> hybrid-e2e.yaml:"), "{text}");
    assert!(!text.contains("<input>") && !text.contains("error: error"), "{text}");
    let project = Project::new("version: 1\nconcurrency: 99999999999\n", &[]);
    let text = stderr(&run_in(&project, &["plan"], &[]));
    assert!(text.contains("expected a whole number from 0 to 4294967295"), "{text}");
    assert!(!text.contains("u32"), "{text}");
    let project = Project::new("version: 1\nversion: 1\n", &[]);
    let text = stderr(&run_in(&project, &["plan"], &[]));
    assert!(text.contains("`version` is given twice"), "{text}");
    assert!(!text.contains("DuplicateKeyPolicy"), "{text}");
}

/// The README stands on its own: nothing outside the repository.
#[test]
fn the_readme_refers_to_nothing_outside_the_repository() {
    let readme = std::fs::read_to_string(crate::support::repo().join("README.md")).expect("README");
    assert!(!readme.contains("../"), "the README points outside the repository");
    assert!(readme.contains("DD-TEST-002"), "the standard is named");
}
