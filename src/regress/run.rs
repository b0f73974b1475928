//! One `regress` invocation: gather the history (file, report directories, `--current`,
//! artifacts), analyze it, write `regress.json`, `regress.md` and the charts to the output
//! directory first, then the capped history file, then (in Actions) the job summary and the
//! issues. Publishing problems are warnings; the local files are never lost to them.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::analysis::{AnalysisOptions, analyze};
use super::api::{Api, ApiTarget};
use super::artifacts::{self, ArtifactQuery};
use super::chart;
use super::document::{ChartEntry, RegressDocument, SKIPPED_LISTED};
use super::history::{
    Cap, CapOutcome, History, HistoryRun, Origin, find_timings, in_parallel, read_history_file, read_timings,
    write_history_file,
};
use super::issues;
use super::markdown;
use crate::report::github;
use crate::report::workflow::{self, AnnotationLevel, AnnotationProperties};

/// Everything one invocation needs.
#[derive(Debug, Clone)]
pub(crate) struct RegressOptions {
    pub(crate) history_dirs: Vec<PathBuf>,
    pub(crate) history_file: Option<PathBuf>,
    pub(crate) current_dirs: Vec<PathBuf>,
    pub(crate) artifacts: Option<ArtifactOptions>,
    /// The GitHub API, for artifacts and issues.
    pub(crate) api: Option<ApiTarget>,
    /// The branch of the runs read from directories (artifacts know their own).
    pub(crate) branch: Option<String>,
    /// The workflow run this is (`GITHUB_RUN_ID`): the `--current` runs are its artifacts, so the
    /// next night does not download them again.
    pub(crate) workflow_run_id: Option<u64>,
    /// Stripped from absolute config paths to name services.
    pub(crate) repo_root: Option<PathBuf>,
    pub(crate) output: PathBuf,
    pub(crate) analysis: AnalysisOptions,
    pub(crate) cap: Cap,
    /// Open, update and close issues (at most this many new ones).
    pub(crate) issues: Option<usize>,
    /// Append the report to `GITHUB_STEP_SUMMARY`.
    pub(crate) job_summary: bool,
    /// `generated_at` of the document (RFC 3339).
    pub(crate) now: String,
}

/// `--github-artifacts` and its companions.
#[derive(Debug, Clone)]
pub(crate) struct ArtifactOptions {
    pub(crate) pattern: String,
    pub(crate) workflow: Option<String>,
    pub(crate) max_runs: usize,
    pub(crate) max_downloads: usize,
}

/// What happened.
#[derive(Debug)]
pub(crate) struct RegressOutcome {
    pub(crate) document: RegressDocument,
    pub(crate) files: Vec<PathBuf>,
    pub(crate) warnings: Vec<String>,
    pub(crate) cap: Option<CapOutcome>,
    /// Workflow commands for standard output in Actions: a warning per regressed series.
    pub(crate) annotations: String,
}

/// GitHub shows at most this many annotations of one level per step.
const ANNOTATIONS: usize = 10;

/// One warning annotation per regressed series (the first ten), on its config file.
fn annotations(document: &RegressDocument) -> String {
    document
        .series
        .iter()
        .filter(|series| series.status == super::stats::Verdict::Regression)
        .take(ANNOTATIONS)
        .map(|series| {
            let properties = AnnotationProperties {
                title: Some(format!("hybrid-e2e timing regression: {}", series.label())),
                file: Some(series.service.clone()).filter(|service| !service.starts_with('(')),
                ..AnnotationProperties::default()
            };
            let seconds = |value: Option<f64>| value.map_or_else(|| "–".to_owned(), |value| format!("{value:.1}s"));
            let message = format!(
                "{} took {} against a rolling median of {} ({}); {} run(s) in a row over the threshold",
                series.label(),
                seconds(series.current_seconds),
                seconds(series.median_seconds),
                series
                    .change_ratio
                    .map_or_else(|| "–".to_owned(), |ratio| format!("{:+.1}%", ratio * 100.0)),
                series.consecutive_breaches
            );
            workflow::annotation(AnnotationLevel::Warning, &properties, &message)
        })
        .collect()
}

/// Why `regress` could not do its job.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RegressError {
    /// Bad options (exit code 2).
    #[error("{0}")]
    Usage(String),
    /// A directory that could not be read or a file that could not be written (exit code 5).
    #[error("{0}")]
    Io(String),
}

fn write(path: PathBuf, text: &str) -> Result<PathBuf, RegressError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|error| RegressError::Io(format!("failed to create {}: {error}", parent.display())))?;
    }
    std::fs::write(&path, text)
        .map_err(|error| RegressError::Io(format!("failed to write {}: {error}", path.display())))?;
    Ok(path)
}

/// Read report directories into the history; returns the runs found (service, run id).
fn read_dirs(
    history: &mut History,
    dirs: &[PathBuf],
    origin: &Origin,
    repo_root: Option<&Path>,
) -> Result<Vec<(String, String)>, RegressError> {
    let files = find_timings(dirs).map_err(|error| RegressError::Io(format!("cannot read {error}")))?;
    let mut found = Vec::new();
    for result in read_timings(&files, origin, repo_root) {
        match result {
            Ok(run) => {
                found.push((run.service.clone(), run.run_id.clone()));
                history.insert(run);
            }
            Err(skipped) => history.skip(skipped.source, skipped.reason),
        }
    }
    Ok(found)
}

/// CPU time of the process so far (all threads), for the stage timings of `-vv`.
fn process_cpu_ms() -> f64 {
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF).map_or(0.0, |usage| {
        let ms = |time: nix::sys::time::TimeVal| time.tv_sec() as f64 * 1000.0 + time.tv_usec() as f64 / 1000.0;
        ms(usage.user_time()) + ms(usage.system_time())
    })
}

/// Run `regress`.
pub(crate) async fn regress(options: RegressOptions) -> Result<RegressOutcome, RegressError> {
    if options.history_dirs.is_empty()
        && options.history_file.is_none()
        && options.current_dirs.is_empty()
        && options.artifacts.is_none()
    {
        return Err(RegressError::Usage(
            "no history: give --history DIR, --history-file FILE, --current DIR or --github-artifacts PATTERN"
                .to_owned(),
        ));
    }
    let mut warnings = Vec::new();
    let mut history = History::default();
    let started = std::time::Instant::now();
    let stage = |name: &str| {
        tracing::debug!(
            "{name}: {:.1} ms (CPU {:.1} ms)",
            started.elapsed().as_secs_f64() * 1000.0,
            process_cpu_ms()
        );
    };
    if let Some(path) = &options.history_file {
        let (runs, skipped) = read_history_file(path).map_err(|error| RegressError::Io(error.to_string()))?;
        for run in runs {
            history.insert(run);
        }
        history.skipped.extend(skipped);
        stage("history file read");
    }
    let origin = Origin {
        branch: options.branch.clone(),
        source: None,
    };
    let repo_root = options.repo_root.as_deref();
    read_dirs(&mut history, &options.history_dirs, &origin, repo_root)?;
    let current_origin = Origin {
        source: options.workflow_run_id.map(|run| format!("github:run/{run}/current")),
        ..origin.clone()
    };
    let current = read_dirs(&mut history, &options.current_dirs, &current_origin, repo_root)?;
    stage("report directories read");
    if !options.current_dirs.is_empty() && current.is_empty() {
        return Err(RegressError::Usage(format!(
            "--current: no readable timings.json in {}",
            options
                .current_dirs
                .iter()
                .map(|dir| dir.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let api = match &options.api {
        Some(target) if options.artifacts.is_some() || options.issues.is_some() => {
            Some(Api::new(target).map_err(|error| RegressError::Usage(error.to_string()))?)
        }
        _ => None,
    };
    if let Some(artifact_options) = &options.artifacts {
        match &api {
            None => warnings.push(
                "--github-artifacts needs a token and a repository (GITHUB_TOKEN, GITHUB_REPOSITORY); artifacts not read"
                    .to_owned(),
            ),
            Some(api) => fetch_artifacts(api, artifact_options, &options, &mut history, &mut warnings).await?,
        }
    }
    let mut analysis_options = options.analysis.clone();
    analysis_options.current = current.into_iter().collect::<HashSet<_>>();
    let mut analysis = analyze(history.runs(), &analysis_options);
    stage("analyzed");
    let document = &mut analysis.document;
    document.generated_at = options.now.clone();
    document.history.skipped_total = history.skipped.len();
    document.history.skipped = history.skipped.iter().take(SKIPPED_LISTED).cloned().collect();
    let mut files = Vec::new();
    let svgs = in_parallel(&analysis.charts, 2, chart::render);
    for (data, svg) in analysis.charts.iter().zip(svgs) {
        match svg {
            Ok(svg) => {
                let file = chart::file_name(&data.phase);
                files.push(write(options.output.join(&file), &svg)?);
                document.charts.push(ChartEntry {
                    phase: data.phase.clone(),
                    file,
                });
            }
            Err(error) => warnings.push(error),
        }
    }
    stage("charts");
    let json = serde_json::to_string_pretty(&document).map_err(|error| RegressError::Io(error.to_string()))?;
    files.push(write(options.output.join("regress.json"), &format!("{json}\n"))?);
    let markdown = markdown::render(document);
    files.push(write(options.output.join("regress.md"), &markdown)?);
    stage("regress.json and regress.md");
    let cap = match &options.history_file {
        Some(path) => {
            let outcome = write_history_file(path, history.runs(), options.cap)
                .map_err(|error| RegressError::Io(error.to_string()))?;
            files.push(path.clone());
            stage("history file written");
            Some(outcome)
        }
        None => None,
    };
    if options.job_summary
        && let Err(warning) = github::append("GITHUB_STEP_SUMMARY", &markdown)
    {
        warnings.push(warning);
    }
    if let Some(max_new) = options.issues {
        match &api {
            None => warnings.push(
                "--issues needs a token and a repository (GITHUB_TOKEN, GITHUB_REPOSITORY); no issue touched"
                    .to_owned(),
            ),
            Some(api) => match issues::sync(api, document, issues::run_url_from_env().as_deref(), max_new).await {
                Ok(outcome) => {
                    tracing::info!(
                        "issues: {} opened, {} updated, {} closed",
                        outcome.opened.len(),
                        outcome.updated.len(),
                        outcome.closed.len()
                    );
                    if outcome.not_opened > 0 {
                        warnings.push(format!(
                            "{} more regressed series without an issue (--max-new-issues {max_new})",
                            outcome.not_opened
                        ));
                    }
                }
                Err(error) => warnings.push(format!("issues not updated: {error}")),
            },
        }
    }
    let annotations = if options.job_summary {
        annotations(&analysis.document)
    } else {
        String::new()
    };
    Ok(RegressOutcome {
        document: analysis.document,
        files,
        warnings,
        cap,
        annotations,
    })
}

async fn fetch_artifacts(
    api: &Api,
    artifact_options: &ArtifactOptions,
    options: &RegressOptions,
    history: &mut History,
    warnings: &mut Vec<String>,
) -> Result<(), RegressError> {
    let pattern = globset::Glob::new(&artifact_options.pattern)
        .map_err(|error| RegressError::Usage(format!("--github-artifacts `{}`: {error}", artifact_options.pattern)))?
        .compile_matcher();
    let query = ArtifactQuery {
        workflow: artifact_options.workflow.clone(),
        branch: options.branch.clone(),
        pattern,
        max_runs: artifact_options.max_runs,
        max_downloads: artifact_options.max_downloads,
        dest: options.output.join("artifacts"),
    };
    let known: HashSet<String> = history.sources().into_iter().map(str::to_owned).collect();
    let known: HashSet<&str> = known.iter().map(String::as_str).collect();
    match artifacts::fetch(api, &query, &known).await {
        Ok(fetched) => {
            tracing::info!(
                "artifacts: {} workflow run(s) listed, {} downloaded, {} run record(s)",
                fetched.runs_listed,
                fetched.downloaded,
                fetched.records.len()
            );
            if fetched.deferred > 0 {
                warnings.push(format!(
                    "{} artifact(s) left for the next run (--max-downloads {})",
                    fetched.deferred, artifact_options.max_downloads
                ));
            }
            for item in fetched.records {
                let origin = Origin {
                    branch: item.branch.or_else(|| options.branch.clone()),
                    source: Some(item.source.clone()),
                };
                match HistoryRun::from_record(&item.record, &origin, options.repo_root.as_deref()) {
                    Some(run) => {
                        history.insert(run);
                    }
                    None => history.skip(item.source, "`started_at` is not an RFC 3339 time"),
                }
            }
            history.skipped.extend(fetched.skipped);
        }
        Err(error) => warnings.push(format!("artifacts not read: {error}")),
    }
    Ok(())
}
