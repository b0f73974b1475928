//! Write every report to the report directory first, then publish to GitHub when running there.
//! A failed publish is a warning: it never fails the job or loses the local files.

use std::path::{Path, PathBuf};

use super::checks::{self, CheckOutcome, CheckTarget};
use super::github;
use super::junit;
use super::summary;
use super::workflow::{self, AnnotationLevel, AnnotationProperties};
use crate::model::RunRecord;

/// What was written and what could not be published.
#[derive(Debug, Default)]
pub(crate) struct Published {
    pub(crate) files: Vec<PathBuf>,
    /// Problems publishing to GitHub (never fatal).
    pub(crate) warnings: Vec<String>,
    /// The check run, where users see it.
    pub(crate) check_run_url: Option<String>,
    /// Workflow commands (annotations, notices) for standard output.
    pub(crate) commands: String,
}

/// Why the local reports could not be written (fatal: that is where nothing may be lost).
#[derive(Debug, thiserror::Error)]
#[error("failed to write {path}: {source}")]
pub(crate) struct WriteError {
    pub(crate) path: PathBuf,
    pub(crate) source: std::io::Error,
}

fn write(path: PathBuf, text: &str) -> Result<PathBuf, WriteError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| WriteError {
            path: path.clone(),
            source,
        })?;
    }
    std::fs::write(&path, text).map_err(|source| WriteError {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// `junit.xml` and `summary.md` into `out_dir`; then, with `github`, annotations on stdout, the
/// job summary, the step outputs and the check run.
pub(crate) async fn publish(
    runs: &[RunRecord],
    notes: &[String],
    out_dir: &Path,
    github: bool,
    fail_on_target: bool,
    check: Option<CheckTarget>,
) -> Result<Published, WriteError> {
    let annotations = github::annotations(runs);
    let (commands, hidden) = github::annotation_commands(&annotations);
    let summary = summary::render_noted(runs, hidden, notes);
    let mut published = Published::default();
    published
        .files
        .push(write(out_dir.join("junit.xml"), &junit::render(runs, fail_on_target))?);
    published.files.push(write(out_dir.join("summary.md"), &summary)?);
    if !github {
        return Ok(published);
    }
    published.commands.push_str(&commands);
    if let Err(warning) = github::append("GITHUB_STEP_SUMMARY", &summary) {
        published.warnings.push(warning);
    }
    if let Some(run) = merged_outcome(runs) {
        let outputs = github::outputs(&run, out_dir);
        if let Err(warning) = github::append("GITHUB_OUTPUT", &github::output_file_text(&outputs)) {
            published.warnings.push(warning);
        }
    }
    if let Some(target) = check {
        match checks::publish(&target, runs, &annotations).await {
            Ok(CheckOutcome::Published {
                check_run_id,
                url,
                annotations,
                requests,
            }) => {
                tracing::info!("check run {check_run_id}: {annotations} annotation(s) in {requests} request(s)");
                published.check_run_url = url;
            }
            Ok(CheckOutcome::Forbidden) => {
                // On the run page too, not only in the log.
                published.commands.push_str(&workflow::annotation(
                    AnnotationLevel::Warning,
                    &AnnotationProperties {
                        title: Some("hybrid-e2e check run".to_owned()),
                        ..AnnotationProperties::default()
                    },
                    FORBIDDEN_NOTICE,
                ));
                published.warnings.push(FORBIDDEN_NOTICE.to_owned());
            }
            Err(error) => published.warnings.push(format!("check run not published: {error}")),
        }
    }
    Ok(published)
}

/// What a 403 on the check run means and what to do.
const FORBIDDEN_NOTICE: &str = "the token may not write check runs (403: a pull request from a fork, or \
`permissions: checks: write` missing); the annotations and the job summary carry the results. For a check run on fork PRs, \
upload the report directory as an artifact and run `hybrid-e2e report --github always` from a `workflow_run` workflow \
(docs/github.md)";

/// The run whose outcome stands for all of them in step outputs: the first failed one, else the
/// slowest.
fn merged_outcome(runs: &[RunRecord]) -> Option<RunRecord> {
    runs.iter()
        .find(|run| run.failed_phase.is_some())
        .or_else(|| runs.iter().max_by(|a, b| a.setup_seconds.total_cmp(&b.setup_seconds)))
        .map(|run| {
            let mut run = run.clone();
            run.within_target = runs.iter().all(|run| run.within_target);
            run
        })
}
