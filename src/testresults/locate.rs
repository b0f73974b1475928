//! Where a failed test failed, from the text its JUnit carries: Ginkgo's `In [It] at:
//! /path/x_test.go:42 @ …` (v2) or a leading `/path/x_test.go:42` (v1), `go test`'s
//! `    x_test.go:42: …` output lines, testify's `Error Trace:`, pytest's `tests/test_x.py:12:
//! AssertionError`, Rust's `panicked at src/lib.rs:10:5:`. No match: no location.

use std::path::Path;

use crate::model::TestSuiteResult;

/// Source files a location may name.
const EXTENSIONS: [&str; 14] = [
    "go", "py", "rs", "js", "ts", "mjs", "java", "kt", "rb", "cs", "c", "cc", "cpp", "sh",
];

/// Frames in toolchains and dependencies, never the test's own line.
const FOREIGN: [&str; 7] = [
    "/go/pkg/mod/",
    "/usr/local/go/",
    "/usr/lib/go",
    "site-packages/",
    "/rustc/",
    ".cargo/registry/",
    "/_pytest/",
];

/// The `file:line` a failure's text names, if any.
pub(crate) fn locate(text: &str) -> Option<(String, usize)> {
    // Ginkgo v2 names the node's location after `at: ` (`In [It] at: …`, `[FAILED] in
    // [BeforeEach] - …` is followed by the same on its own line).
    for line in text.lines() {
        if let Some(index) = line.find(" at: ").map(|index| index + 5).or_else(|| {
            line.trim_start()
                .starts_with("at: ")
                .then(|| line.len() - line.trim_start().len() + 4)
        }) && let Some(found) = candidates(&line[index..]).into_iter().next()
        {
            return Some(found);
        }
    }
    // Rust: `panicked at src/lib.rs:10:5:` (or the old `panicked at 'message', src/lib.rs:10:5`).
    for line in text.lines() {
        if let Some(index) = line.find("panicked at ")
            && let Some(found) = candidates(&line[index + "panicked at ".len()..]).into_iter().next()
        {
            return Some(found);
        }
    }
    let all: Vec<(String, usize)> = text.lines().flat_map(candidates).collect();
    // pytest's traceback ends with the innermost frame of the test's own code.
    if all.iter().all(|(file, _)| file.ends_with(".py")) {
        return all.last().cloned();
    }
    all.into_iter().next()
}

/// Every `path.ext:LINE` on `line`, in order, outside toolchains and dependencies.
fn candidates(line: &str) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    let bytes = line.as_bytes();
    for (colon, _) in line.match_indices(':') {
        let digits: String = line[colon + 1..].chars().take_while(char::is_ascii_digit).collect();
        let Ok(number) = digits.parse::<usize>() else {
            continue;
        };
        if number == 0 {
            continue;
        }
        let start = line[..colon]
            .rfind(|c: char| c.is_whitespace() || matches!(c, '\'' | '"' | '(' | '[' | '=' | ',' | '<' | '>'))
            .map_or(0, |index| index + 1);
        let path = &line[start..colon];
        let Some((_, extension)) = path.rsplit_once('.') else {
            continue;
        };
        if !EXTENSIONS.contains(&extension) || path.len() <= extension.len() + 1 {
            continue;
        }
        // A URL's port or a time of day is no location.
        if path.contains("://") || bytes.get(start).is_some_and(|byte| byte.is_ascii_digit()) && !path.contains('/') {
            continue;
        }
        if FOREIGN.iter().any(|foreign| path.contains(foreign)) {
            continue;
        }
        found.push((path.to_owned(), number));
    }
    found
}

/// `go test` names a file without its directory (`x_test.go`); its JUnit names the package's
/// import path in the `classname` (go-junit-report v2, gotestsum) or in the suite's name (v1,
/// whose `classname` is the package's last element). Under the module `module` (its `go.mod` in
/// `module_dir`), the file is `module_dir/<package path below the module>/x_test.go` — when
/// that file exists.
pub(crate) fn resolve_go_files(suites: &mut [TestSuiteResult], module: &str, module_dir: &Path) {
    for suite in suites.iter_mut() {
        let suite_name = suite.name.clone();
        for case in &mut suite.cases {
            let Some(file) = case
                .file
                .as_deref()
                .filter(|file| !file.contains('/') && file.ends_with(".go"))
            else {
                continue;
            };
            let resolved = [case.classname.as_deref(), Some(suite_name.as_str())]
                .into_iter()
                .flatten()
                .filter_map(|package| package.strip_prefix(module))
                .filter(|below| below.is_empty() || below.starts_with('/'))
                .map(|below| module_dir.join(below.trim_start_matches('/')).join(file))
                .find(|candidate| candidate.is_file());
            if let Some(candidate) = resolved {
                case.file = Some(candidate.display().to_string());
            }
        }
    }
}

/// The module path a `go.mod` declares.
pub(crate) fn go_module(go_mod: &str) -> Option<&str> {
    go_mod.lines().find_map(|line| {
        let rest = line.trim().strip_prefix("module")?;
        rest.starts_with(char::is_whitespace)
            .then(|| rest.trim().trim_matches('"'))
            .filter(|module| !module.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_producer_s_location_is_found() {
        let cases = [
            // Ginkgo v2.
            (
                "[FAILED] Expected\n    <int>: 1\nto equal\n    <int>: 2\nIn [It] at: /home/runner/work/app/app/test/e2e/audit_test.go:225 @ 12/26/25 10:57:21.123\n",
                Some(("/home/runner/work/app/app/test/e2e/audit_test.go", 225)),
            ),
            (
                "[FAILED] in [BeforeEach] - /src/test/e2e/suite_test.go:61 @ 12/26/25 10:57:21.123",
                Some(("/src/test/e2e/suite_test.go", 61)),
            ),
            // Ginkgo v1.
            (
                "/src/test/unit/phases_test.go:205\nExpected\n    <string>: a\nto equal\n    <string>: b",
                Some(("/src/test/unit/phases_test.go", 205)),
            ),
            // go test through go-junit-report / gotestsum.
            (
                "=== RUN   TestParse\n    parse_test.go:42: got 1, want 2\n--- FAIL: TestParse (0.00s)\n",
                Some(("parse_test.go", 42)),
            ),
            // testify.
            (
                "\tError Trace:\t/src/pkg/store/store_test.go:88\n\tError:      \tNot equal:",
                Some(("/src/pkg/store/store_test.go", 88)),
            ),
            // pytest: the last frame of the test's own code.
            (
                "def test_x():\n>       helper()\n\ntests/test_api.py:12: \n_ _ _\n\n    def helper():\n>       assert 1 == 2\nE       assert 1 == 2\n\ntests/helpers.py:4: AssertionError",
                Some(("tests/helpers.py", 4)),
            ),
            // Rust (cargo-nextest).
            (
                "thread 'tests::parses' panicked at src/parse.rs:17:9:\nassertion `left == right` failed",
                Some(("src/parse.rs", 17)),
            ),
            // Nothing to point at.
            ("Timed out after 120.000s at 10:57:21", None),
            ("dial tcp 10.96.0.1:443: connect: connection refused", None),
            // Toolchain frames are skipped.
            (
                "panic: boom\n/usr/local/go/src/runtime/panic.go:770\n/src/app/handler_test.go:31",
                Some(("/src/app/handler_test.go", 31)),
            ),
        ];
        for (text, expected) in cases {
            let found = locate(text);
            assert_eq!(
                found.as_ref().map(|(file, line)| (file.as_str(), *line)),
                expected,
                "{text}"
            );
        }
    }

    #[test]
    fn module_paths_are_read_from_go_mod() {
        assert_eq!(
            go_module("// x\nmodule github.com/org/app\n\ngo 1.23\n"),
            Some("github.com/org/app")
        );
        assert_eq!(go_module("go 1.23\n"), None);
    }
}
