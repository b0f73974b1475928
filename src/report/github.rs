//! GitHub Actions: workflow-command annotations anchored on real files, step outputs with random
//! multiline delimiters, and the job summary. Everything here is also written to the report
//! directory first, so a failed publish loses nothing.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use super::workflow::{self, AnnotationLevel, AnnotationProperties};
use crate::model::{Finding, RunRecord, Status, TestResults};

/// GitHub shows at most this many annotations of one level per step.
pub(crate) const SHOWN_PER_LEVEL: usize = 10;

/// One annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Annotation {
    pub(crate) level: AnnotationLevel,
    pub(crate) properties: AnnotationProperties,
    pub(crate) message: String,
}

/// One annotation per structured finding (the Dockerfile lint `run` does before building).
pub(crate) fn finding_annotations(findings: &[Finding]) -> Vec<Annotation> {
    findings
        .iter()
        .map(|finding| Annotation {
            level: AnnotationLevel::Error,
            properties: AnnotationProperties {
                title: Some("hybrid-e2e lint".to_owned()),
                file: Some(finding.path.clone()),
                start_line: Some(finding.line),
                end_line: Some(finding.line),
                start_column: Some(finding.column),
                end_column: None,
            },
            message: format!("{} [{}]", finding.message, finding.rule),
        })
        .collect()
}

/// Failing tests annotated, at most this many per run (the rest are in `junit.xml`).
const TEST_ANNOTATIONS: usize = 50;

/// One annotation per failing test of a suite, at the `file:line` its JUnit named (no
/// location: no file; a file without a line: the file).
fn test_annotations(tests: Option<&TestResults>) -> Vec<Annotation> {
    let Some(tests) = tests else {
        return Vec::new();
    };
    tests
        .cases()
        .filter(|(_, case)| case.outcome.is_failure())
        .take(TEST_ANNOTATIONS)
        .map(|(suite, case)| {
            let mut message = format!("[{}] {}", case.outcome.as_str(), case.name);
            if let Some(text) = &case.message {
                let _ = write!(message, "\n{}", text.trim());
            }
            Annotation {
                level: AnnotationLevel::Error,
                properties: AnnotationProperties {
                    title: Some(format!("hybrid-e2e test/{}", suite.name)),
                    file: case.file.clone(),
                    start_line: case.file.as_ref().and(case.line),
                    end_line: case.file.as_ref().and(case.line),
                    ..AnnotationProperties::default()
                },
                message,
            }
        })
        .collect()
}

/// Every annotation the runs call for, errors first.
pub(crate) fn annotations(runs: &[RunRecord]) -> Vec<Annotation> {
    let mut all = Vec::new();
    for run in runs {
        for phase in &run.phases {
            for step in phase.steps.iter().filter(|step| step.status == Status::Failed) {
                let message = step.message.clone().unwrap_or_else(|| "failed".to_owned());
                if !step.findings.is_empty() {
                    all.extend(finding_annotations(&step.findings));
                    continue;
                }
                // A suite's failing tests: one annotation each, at the test's `file:line`.
                let failing = test_annotations(step.tests.as_ref());
                if !failing.is_empty() {
                    all.extend(failing);
                    continue;
                }
                let class = step.failure_class.map_or("unknown", |class| class.as_str());
                let mut text = format!("[{class}] {message}");
                if let Some(hint) = &step.hint {
                    let _ = write!(text, "\nhint: {hint}");
                }
                if let Some(last) = step.excerpt.as_ref().or(step.tail.last()) {
                    let _ = write!(text, "\nlast output: {last}");
                }
                // A failure without a file of its own (kind missing, a cluster that never came
                // up) is anchored on the config file, so the check run has every error too.
                let (file, line) = match (&step.file, &run.config_file) {
                    (Some(file), _) => (Some(file.clone()), step.line.unwrap_or(1)),
                    (None, Some(config)) => (Some(config.clone()), 1),
                    (None, None) => (None, 1),
                };
                all.push(Annotation {
                    level: AnnotationLevel::Error,
                    properties: AnnotationProperties {
                        title: Some(format!("hybrid-e2e {}/{}", phase.name, step.name)),
                        start_line: file.as_ref().map(|_| line),
                        start_column: step.column.filter(|_| step.file.is_some()),
                        file,
                        ..AnnotationProperties::default()
                    },
                    message: text,
                });
            }
            if phase.status == Status::OverTarget {
                all.push(Annotation {
                    level: AnnotationLevel::Warning,
                    properties: AnnotationProperties {
                        title: Some(format!("hybrid-e2e {} over target", phase.name)),
                        file: run.config_file.clone(),
                        start_line: run
                            .config_file
                            .as_ref()
                            .map(|_| phase.target_line.unwrap_or(1) as usize),
                        ..AnnotationProperties::default()
                    },
                    message: format!(
                        "phase {} took {:.1}s; its DD-TEST-002 target is {:.0}s",
                        phase.name,
                        phase.duration_seconds,
                        phase.target_seconds.unwrap_or_default()
                    ),
                });
            }
        }
    }
    all.sort_by_key(|annotation| annotation.level != AnnotationLevel::Error);
    all
}

/// The workflow commands, and how many annotations GitHub will not display.
pub(crate) fn annotation_commands(annotations: &[Annotation]) -> (String, usize) {
    let mut commands = String::new();
    for annotation in annotations {
        commands.push_str(&workflow::annotation(
            annotation.level,
            &annotation.properties,
            &annotation.message,
        ));
    }
    let errors = annotations
        .iter()
        .filter(|annotation| annotation.level == AnnotationLevel::Error)
        .count();
    let warnings = annotations.len() - errors;
    let hidden = errors.saturating_sub(SHOWN_PER_LEVEL) + warnings.saturating_sub(SHOWN_PER_LEVEL);
    (commands, hidden)
}

/// The step outputs of a run (`setup-seconds`, `within-target`, ...).
pub(crate) fn outputs(run: &RunRecord, report_dir: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("setup-seconds", format!("{:.1}", run.setup_seconds)),
        ("within-target", run.within_target.to_string()),
        ("status", run.status.as_str().to_owned()),
        ("failed-phase", run.failed_phase.clone().unwrap_or_default()),
        (
            "failure-class",
            run.failure_class
                .map(|class| class.as_str().to_owned())
                .unwrap_or_default(),
        ),
        ("report-dir", report_dir.display().to_string()),
        ("junit-path", report_dir.join("junit.xml").display().to_string()),
    ]
}

/// `name<<DELIMITER` / value / `DELIMITER`, with a random delimiter that cannot occur in a value.
pub(crate) fn output_file_text(outputs: &[(&str, String)]) -> String {
    let mut text = String::new();
    for (name, value) in outputs {
        let mut delimiter = format!("ghadelimiter_{}", random_hex());
        while value.contains(&delimiter) {
            delimiter = format!("ghadelimiter_{}", random_hex());
        }
        let _ = write!(text, "{name}<<{delimiter}\n{value}\n{delimiter}\n");
    }
    text
}

fn random_hex() -> String {
    let mut bytes = [0u8; 16];
    if let Ok(mut file) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut file, &mut bytes);
    }
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Append to a GitHub file command (`GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY`).
pub(crate) fn append(variable: &str, text: &str) -> Result<(), String> {
    let Some(path) = std::env::var_os(variable).filter(|path| !path.is_empty()) else {
        return Ok(());
    };
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| file.write_all(text.as_bytes()))
        .map_err(|error| {
            format!(
                "failed to append to {variable} ({}): {error}",
                Path::new(&path).display()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_delimiters_are_random_and_never_in_the_value() {
        let text = output_file_text(&[("a", "one\nghadelimiter_x\ntwo".to_owned()), ("b", "x".to_owned())]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("a<<ghadelimiter_") && lines[0].len() > 30);
        let delimiter = lines[0].trim_start_matches("a<<");
        assert_eq!(lines[4], delimiter);
        assert_ne!(
            text.lines().nth(5).map(|line| line.trim_start_matches("b<<")),
            Some(delimiter)
        );
    }

    #[test]
    fn findings_become_one_annotation_each_whatever_the_path() {
        let finding = |path: &str, line, column| Finding {
            path: path.to_owned(),
            line,
            column,
            rule: "no-dnf-update".to_owned(),
            message: "`dnf -y update` upgrades every installed package".to_owned(),
        };
        let annotations = finding_annotations(&[finding("a/Dockerfile", 2, 5), finding("b:c/Dockerfile", 7, 1)]);
        assert_eq!(annotations.len(), 2);
        assert_eq!(annotations[0].properties.file.as_deref(), Some("a/Dockerfile"));
        assert_eq!(annotations[1].properties.file.as_deref(), Some("b:c/Dockerfile"));
        assert_eq!(
            (
                annotations[1].properties.start_line,
                annotations[1].properties.start_column
            ),
            (Some(7), Some(1))
        );
    }
}

#[cfg(test)]
mod snapshot_tests {
    use super::*;
    use crate::report::fixtures;

    #[test]
    fn annotation_snapshots() {
        let (green, hidden) = annotation_commands(&annotations(&[fixtures::green()]));
        assert_eq!((green.as_str(), hidden), ("", 0));
        insta::assert_snapshot!(
            "annotations_build_failure",
            annotation_commands(&annotations(&[fixtures::build_failure()])).0
        );
        insta::assert_snapshot!(
            "annotations_deploy_failure",
            annotation_commands(&annotations(&[fixtures::deploy_failure()])).0
        );
        insta::assert_snapshot!(
            "annotations_test_failure",
            annotation_commands(&annotations(&[fixtures::test_failure()])).0
        );
        insta::assert_snapshot!(
            "annotations_over_target",
            annotation_commands(&annotations(&[fixtures::over_target()])).0
        );
        let (huge, hidden) = annotation_commands(&annotations(&[fixtures::huge()]));
        assert_eq!(huge.lines().count(), 500, "every annotation is emitted");
        assert_eq!(hidden, 490, "GitHub shows 10 errors per step; the rest are counted");
    }
}
