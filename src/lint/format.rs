//! Rendering lint results: `text` (rustc-style), `json` (stable contract), `sarif` (2.1.0, for
//! GitHub code scanning), `github` (workflow-command annotations) and `junit`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use serde::Serialize;
use serde_json::json;

use super::check::Finding;
use super::rules::{Level, Rule};
use crate::report::workflow::{self, AnnotationLevel, AnnotationProperties};

/// The output formats of `lint --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Human-readable, rustc-style, coloured on a terminal.
    Text,
    /// The stable JSON contract (`version: 1`).
    Json,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
    /// GitHub workflow-command annotations.
    Github,
    /// JUnit XML: one testsuite per file.
    Junit,
}

/// Everything a renderer needs.
#[derive(Debug)]
pub(crate) struct LintResults<'a> {
    pub(crate) files_scanned: usize,
    /// Sorted by path, line and column.
    pub(crate) findings: &'a [Finding],
    /// Every scanned file, in order, so clean files appear in JUnit.
    pub(crate) files: &'a [String],
}

impl LintResults<'_> {
    fn counts(&self) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        for finding in self.findings {
            match (&finding.suppressed, finding.severity) {
                (Some(_), _) => counts.2 += 1,
                (None, Level::Error) => counts.0 += 1,
                (None, _) => counts.1 += 1,
            }
        }
        counts
    }
}

pub(crate) fn render(format: Format, results: &LintResults<'_>, quiet: bool) -> String {
    match format {
        Format::Text => text(results, quiet),
        Format::Json => json_report(results),
        Format::Sarif => sarif(results),
        Format::Github => github(results),
        Format::Junit => junit(results),
    }
}

const ERROR_STYLE: Style = AnsiColor::Red.on_default().bold();
const WARNING_STYLE: Style = AnsiColor::Yellow.on_default().bold();
const NOTE_STYLE: Style = AnsiColor::Cyan.on_default().bold();
const GUTTER_STYLE: Style = AnsiColor::Blue.on_default().bold();
const BOLD: Style = Style::new().bold();

fn plural(count: usize, word: &str) -> String {
    if count == 1 {
        format!("1 {word}")
    } else {
        format!("{count} {word}s")
    }
}

/// rustc-style text. Styles are always written; the caller strips them when not on a terminal.
fn text(results: &LintResults<'_>, quiet: bool) -> String {
    let mut out = String::new();
    for finding in results.findings.iter().filter(|finding| finding.suppressed.is_none()) {
        let (label, style) = match finding.severity {
            Level::Error => ("error", ERROR_STYLE),
            _ => ("warning", WARNING_STYLE),
        };
        let _ = writeln!(
            out,
            "{style}{label}[{}]{style:#}{BOLD}: {}{BOLD:#}",
            finding.rule, finding.message
        );
        let number = finding.line.to_string();
        let pad = " ".repeat(number.len());
        let _ = writeln!(
            out,
            "{pad}{GUTTER_STYLE}-->{GUTTER_STYLE:#} {}:{}:{}",
            finding.path, finding.line, finding.column
        );
        if !finding.source_line.is_empty() {
            let source = finding.source_line.replace('\t', "    ");
            let before: String = finding
                .source_line
                .chars()
                .take(finding.column.saturating_sub(1))
                .collect();
            let offset = before.replace('\t', "    ").chars().count();
            let available = source.chars().count().saturating_sub(offset).max(1);
            let width = if finding.end_line == finding.line {
                finding.end_column.saturating_sub(finding.column).clamp(1, available)
            } else {
                available
            };
            let _ = writeln!(out, "{pad} {GUTTER_STYLE}|{GUTTER_STYLE:#}");
            let _ = writeln!(out, "{GUTTER_STYLE}{number} |{GUTTER_STYLE:#} {source}");
            let _ = writeln!(
                out,
                "{pad} {GUTTER_STYLE}|{GUTTER_STYLE:#} {}{style}{}{style:#}",
                " ".repeat(offset),
                "^".repeat(width)
            );
        }
        let _ = writeln!(out, "{pad} {NOTE_STYLE}={NOTE_STYLE:#} why: {}", finding.rule.why());
        if finding.fix.is_some() {
            let _ = writeln!(
                out,
                "{pad} {NOTE_STYLE}={NOTE_STYLE:#} fix: `hybrid-e2e lint --fix` removes it"
            );
        }
        out.push('\n');
    }
    if !quiet {
        let (errors, warnings, suppressed) = results.counts();
        let files = plural(results.files_scanned, "file");
        let suppressed_note = if suppressed > 0 {
            format!(", {suppressed} suppressed")
        } else {
            String::new()
        };
        if errors + warnings == 0 {
            let _ = writeln!(out, "{BOLD}ok{BOLD:#}: {files} checked, no findings{suppressed_note}");
        } else {
            let style = if errors > 0 { ERROR_STYLE } else { WARNING_STYLE };
            let _ = writeln!(
                out,
                "{style}{}{style:#}: {files} checked, {}, {}{suppressed_note}",
                if errors > 0 { "failed" } else { "ok" },
                plural(errors, "error"),
                plural(warnings, "warning"),
            );
        }
    }
    out
}

#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    files_scanned: usize,
    findings: Vec<JsonFinding<'a>>,
}

#[derive(Serialize)]
struct JsonFinding<'a> {
    path: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    rule: &'static str,
    severity: &'static str,
    message: &'a str,
    suppressed: bool,
    stage: Option<&'a str>,
}

fn json_report(results: &LintResults<'_>) -> String {
    let report = JsonReport {
        version: 1,
        files_scanned: results.files_scanned,
        findings: results
            .findings
            .iter()
            .map(|finding| JsonFinding {
                path: &finding.path,
                line: finding.line,
                column: finding.column,
                end_line: finding.end_line,
                rule: finding.rule.id(),
                severity: finding.severity.as_str(),
                message: &finding.message,
                suppressed: finding.suppressed.is_some(),
                stage: finding.stage.as_deref(),
            })
            .collect(),
    };
    let mut out = serde_json::to_string_pretty(&report).unwrap_or_default();
    out.push('\n');
    out
}

fn sarif_level(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Off => "none",
    }
}

fn sarif(results: &LintResults<'_>) -> String {
    let rules: Vec<serde_json::Value> = Rule::ALL
        .iter()
        .map(|rule| {
            json!({
                "id": rule.id(),
                "shortDescription": { "text": rule.id().replace('-', " ") },
                "fullDescription": { "text": rule.why() },
                "help": { "text": rule.why() },
                "defaultConfiguration": { "level": sarif_level(rule.default_level()) },
            })
        })
        .collect();
    let findings: Vec<serde_json::Value> = results
        .findings
        .iter()
        .map(|finding| {
            let rule_index = Rule::ALL.iter().position(|rule| *rule == finding.rule).unwrap_or(0);
            let mut result = json!({
                "ruleId": finding.rule.id(),
                "ruleIndex": rule_index,
                "level": sarif_level(finding.severity),
                "message": { "text": finding.message },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": finding.path },
                        "region": {
                            "startLine": finding.line,
                            "startColumn": finding.column,
                            "endLine": finding.end_line,
                            "endColumn": finding.end_column.max(1),
                        }
                    }
                }],
            });
            if let Some(reason) = &finding.suppressed {
                result["suppressions"] = json!([{
                    "kind": "inSource",
                    "justification": reason.clone().unwrap_or_default(),
                }]);
            }
            result
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "hybrid-e2e",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "columnKind": "unicodeCodePoints",
            "results": findings,
        }],
    });
    let mut out = serde_json::to_string_pretty(&log).unwrap_or_default();
    out.push('\n');
    out
}

/// The annotation for one finding, as `core.error(message, properties)` would print it.
pub(crate) fn github_annotation(finding: &Finding) -> String {
    let level = match finding.severity {
        Level::Error => AnnotationLevel::Error,
        _ => AnnotationLevel::Warning,
    };
    let single_line = finding.end_line == finding.line;
    let properties = AnnotationProperties {
        title: Some(format!("hybrid-e2e lint: {}", finding.rule)),
        file: Some(finding.path.clone()),
        start_line: Some(finding.line),
        end_line: Some(finding.end_line),
        // GitHub ignores columns on multi-line annotations; its end column is inclusive.
        start_column: single_line.then_some(finding.column),
        end_column: single_line
            .then(|| finding.end_column.saturating_sub(1))
            .filter(|&end| end >= finding.column),
    };
    workflow::annotation(level, &properties, &finding.message)
}

fn github(results: &LintResults<'_>) -> String {
    results
        .findings
        .iter()
        .filter(|finding| finding.suppressed.is_none())
        .map(github_annotation)
        .collect()
}

fn junit(results: &LintResults<'_>) -> String {
    let mut by_file: BTreeMap<&str, Vec<&Finding>> =
        results.files.iter().map(|file| (file.as_str(), Vec::new())).collect();
    for finding in results.findings {
        by_file.entry(&finding.path).or_default().push(finding);
    }
    let mut report = Report::new("hybrid-e2e lint");
    for (path, findings) in by_file {
        let mut suite = TestSuite::new(path);
        if findings.is_empty() {
            let mut case = TestCase::new("lint", TestCaseStatus::success());
            case.set_classname(path);
            suite.add_test_case(case);
        }
        for finding in findings {
            let name = format!("{} at {}:{}", finding.rule, finding.line, finding.column);
            let detail = format!(
                "{}:{}:{}: {} [{}]\n{}\nwhy: {}",
                finding.path,
                finding.line,
                finding.column,
                finding.message,
                finding.rule,
                finding.source_line,
                finding.rule.why()
            );
            let status = match (&finding.suppressed, finding.severity) {
                (Some(reason), _) => {
                    let mut status = TestCaseStatus::skipped();
                    status.set_message(format!(
                        "suppressed: {}",
                        reason.as_deref().unwrap_or("no reason given")
                    ));
                    status
                }
                (None, Level::Error) => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    status
                        .set_message(finding.message.clone())
                        .set_type(finding.rule.id())
                        .set_description(detail.clone());
                    status
                }
                (None, _) => TestCaseStatus::success(),
            };
            let mut case = TestCase::new(name, status);
            case.set_classname(path);
            case.add_property(Property::new("severity", finding.severity.as_str()));
            if let Some(stage) = &finding.stage {
                case.add_property(Property::new("stage", stage.as_str()));
            }
            if finding.severity != Level::Error || finding.suppressed.is_some() {
                case.set_system_out(detail);
            }
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report.to_string().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lint::check::check_text;
    use crate::lint::rules::RuleLevels;
    use crate::test_support;

    /// Findings of the whole corpus, with paths relative to the repository.
    fn corpus() -> (Vec<Finding>, Vec<String>) {
        let mut findings = Vec::new();
        let mut files = Vec::new();
        for path in test_support::corpus_files() {
            let name = path
                .strip_prefix(test_support::repo_path(""))
                .expect("in repo")
                .to_string_lossy()
                .into_owned();
            let text = std::fs::read_to_string(&path).expect("read");
            findings.extend(check_text(&name, &text, &RuleLevels::default()));
            files.push(name);
        }
        (findings, files)
    }

    #[test]
    fn junit_reads_back_with_junitparser() {
        let (findings, files) = corpus();
        let results = LintResults {
            files_scanned: files.len(),
            findings: &findings,
            files: &files,
        };
        let directory = tempfile::tempdir().expect("tempdir");
        let path = directory.path().join("lint.xml");
        std::fs::write(&path, junit(&results)).expect("write");
        let Some(output) = test_support::python_peer("junit_summary.py", &[path.to_str().expect("UTF-8")]) else {
            return;
        };
        let suites: Vec<serde_json::Value> = serde_json::from_str(&output).expect("peer JSON");
        assert_eq!(suites.len(), files.len());
        for suite in &suites {
            let name = suite["name"].as_str().expect("name");
            let mine: Vec<&Finding> = findings.iter().filter(|finding| finding.path == name).collect();
            let failures = mine.iter().filter(|finding| finding.is_failure()).count();
            let skipped = mine.iter().filter(|finding| finding.suppressed.is_some()).count();
            assert_eq!(suite["tests"].as_u64(), Some(mine.len().max(1) as u64), "{name}");
            assert_eq!(suite["failures"].as_u64(), Some(failures as u64), "{name}");
            assert_eq!(suite["skipped"].as_u64(), Some(skipped as u64), "{name}");
            for case in suite["cases"].as_array().expect("cases") {
                if case["result"] == "failure" {
                    assert_eq!(case["type"], "no-dnf-update", "{name}");
                    assert!(
                        case["message"].as_str().expect("message").contains("dnf")
                            || case["message"].as_str().expect("message").contains("yum")
                    );
                }
            }
        }
    }

    #[test]
    fn github_annotations_match_actions_core() {
        let (findings, files) = corpus();
        let results = LintResults {
            files_scanned: files.len(),
            findings: &findings,
            files: &files,
        };
        let requests: Vec<serde_json::Value> = findings
            .iter()
            .filter(|finding| finding.suppressed.is_none())
            .map(|finding| {
                let single_line = finding.end_line == finding.line;
                json!({
                    "level": if finding.severity == Level::Error { "error" } else { "warning" },
                    "message": finding.message,
                    "properties": {
                        "title": format!("hybrid-e2e lint: {}", finding.rule),
                        "file": finding.path,
                        "startLine": finding.line,
                        "endLine": finding.end_line,
                        "startColumn": if single_line { Some(finding.column) } else { None },
                        "endColumn": if single_line && finding.end_column > finding.column { Some(finding.end_column - 1) } else { None },
                    }
                })
            })
            .collect();
        assert!(requests.len() > 30);
        let Some(theirs) = test_support::node_peer("annotate.mjs", &serde_json::Value::from(requests).to_string())
        else {
            return;
        };
        pretty_assertions::assert_eq!(github(&results), theirs);
    }

    #[test]
    fn sarif_validates_against_the_sarif_2_1_0_schema() {
        let (findings, files) = corpus();
        let results = LintResults {
            files_scanned: files.len(),
            findings: &findings,
            files: &files,
        };
        let Some(verdict) = test_support::node_peer("validate_sarif.mjs", &sarif(&results)) else {
            return;
        };
        assert_eq!(verdict.trim(), "valid");
    }
}
