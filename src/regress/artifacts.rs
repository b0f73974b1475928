//! History from the artifacts of earlier workflow runs: list the completed runs of a workflow on
//! a branch, list each run's artifacts (paginated), keep those whose name matches the pattern,
//! download each zip (bounded), extract its `timings.json` files safely and read them with the
//! checked reader. Expired, missing and corrupt artifacts are skipped with a warning; a run whose
//! artifacts are already in the history is not listed again.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::api::{Api, ApiError, paginate};
use super::extract::{ZipLimits, extract_timings};
use super::history::Skipped;
use crate::model::{RunRecord, read_run_record};

/// The largest artifact zip we download.
const MAX_ARTIFACT_BYTES: usize = 512 * 1024 * 1024;

/// Which artifacts to read.
#[derive(Debug, Clone)]
pub(crate) struct ArtifactQuery {
    /// A workflow file name (`nightly.yml`) or id; `None`: every workflow's runs.
    pub(crate) workflow: Option<String>,
    pub(crate) branch: Option<String>,
    /// Artifact names to read (glob, e.g. `hybrid-e2e-report-*`).
    pub(crate) pattern: globset::GlobMatcher,
    /// Workflow runs looked at, newest first.
    pub(crate) max_runs: usize,
    /// Artifacts downloaded in one invocation (the rest wait for the next night).
    pub(crate) max_downloads: usize,
    /// Where archives are extracted (`<dir>/<artifact id>/…`).
    pub(crate) dest: PathBuf,
}

/// A run record read from an artifact.
#[derive(Debug)]
pub(crate) struct ArtifactRecord {
    pub(crate) record: RunRecord,
    pub(crate) branch: Option<String>,
    /// `github:run/<run id>/artifact/<artifact id>`.
    pub(crate) source: String,
}

/// What was fetched.
#[derive(Debug, Default)]
pub(crate) struct Fetched {
    pub(crate) records: Vec<ArtifactRecord>,
    pub(crate) skipped: Vec<Skipped>,
    pub(crate) runs_listed: usize,
    pub(crate) downloaded: usize,
    /// Matching artifacts not downloaded because of `max_downloads`.
    pub(crate) deferred: usize,
}

/// The source string of one artifact of one run.
pub(crate) fn source(run_id: u64, artifact_id: u64) -> String {
    format!("github:run/{run_id}/artifact/{artifact_id}")
}

/// The run id of a `github:run/<id>/…` source.
fn run_of(source: &str) -> Option<u64> {
    source.strip_prefix("github:run/")?.split('/').next()?.parse().ok()
}

/// The workflow file of this run (`GITHUB_WORKFLOW_REF` = `owner/repo/.github/workflows/nightly.yml@refs/heads/main`).
pub(crate) fn current_workflow() -> Option<String> {
    let reference = std::env::var("GITHUB_WORKFLOW_REF").ok()?;
    let path = reference.split('@').next()?;
    path.rsplit('/')
        .next()
        .filter(|file| !file.is_empty())
        .map(str::to_owned)
}

/// Fetch the history in the artifacts. `known` are the sources already in the history.
pub(crate) async fn fetch(api: &Api, query: &ArtifactQuery, known: &HashSet<&str>) -> Result<Fetched, ApiError> {
    let known_runs: HashSet<u64> = known.iter().filter_map(|source| run_of(source)).collect();
    let runs_path = match &query.workflow {
        Some(workflow) => api.repo_path(&format!("/actions/workflows/{workflow}/runs")),
        None => api.repo_path("/actions/runs"),
    };
    let mut filter = String::from("status=completed");
    if let Some(branch) = &query.branch {
        filter.push_str(&format!("&branch={}", url_encode(branch)));
    }
    let runs = paginate(api, &runs_path, &filter, Some("workflow_runs"), query.max_runs).await?;
    let mut fetched = Fetched {
        runs_listed: runs.len(),
        ..Fetched::default()
    };
    for run in &runs {
        let Some(run_id) = run.get("id").and_then(Value::as_u64) else {
            continue;
        };
        if known_runs.contains(&run_id) {
            continue;
        }
        let branch = run.get("head_branch").and_then(Value::as_str).map(str::to_owned);
        let artifacts = match paginate(
            api,
            &api.repo_path(&format!("/actions/runs/{run_id}/artifacts")),
            "",
            Some("artifacts"),
            usize::MAX,
        )
        .await
        {
            Ok(artifacts) => artifacts,
            Err(error) if error.status() == Some(404) => {
                fetched.skipped.push(Skipped {
                    source: format!("github:run/{run_id}"),
                    reason: format!("its artifacts could not be listed: {error}"),
                });
                continue;
            }
            Err(error) => return Err(error),
        };
        let matching: Vec<(u64, String, Value)> = artifacts
            .into_iter()
            .filter_map(|artifact| {
                let id = artifact.get("id").and_then(Value::as_u64)?;
                let name = artifact.get("name").and_then(Value::as_str)?.to_owned();
                (query.pattern.is_match(&name) && !known.contains(source(run_id, id).as_str()))
                    .then_some((id, name, artifact))
            })
            .collect();
        // A run is imported whole or not at all (a run in the history is not listed again), unless
        // it alone is over the budget.
        if fetched.downloaded > 0 && fetched.downloaded + matching.len() > query.max_downloads {
            fetched.deferred += matching.len();
            continue;
        }
        for (artifact_id, name, artifact) in matching {
            let source = source(run_id, artifact_id);
            let skip = |reason: String| Skipped {
                source: format!("{source} ({name})"),
                reason,
            };
            if artifact.get("expired").and_then(Value::as_bool) == Some(true) {
                fetched.skipped.push(skip("the artifact has expired".to_owned()));
                continue;
            }
            let size = artifact.get("size_in_bytes").and_then(Value::as_u64).unwrap_or(0);
            if size > MAX_ARTIFACT_BYTES as u64 {
                fetched.skipped.push(skip(format!(
                    "the artifact is {size} bytes (at most {MAX_ARTIFACT_BYTES})"
                )));
                continue;
            }
            fetched.downloaded += 1;
            let uri = api.repo_path(&format!("/actions/artifacts/{artifact_id}/zip"));
            let bytes = match api.download(&uri, MAX_ARTIFACT_BYTES).await {
                Ok(bytes) => bytes,
                Err(error @ (ApiError::Status { .. } | ApiError::TooLarge { .. })) => {
                    let reason = match error.status() {
                        Some(410) => "the artifact has expired (410 Gone)".to_owned(),
                        Some(404) => "the artifact is gone (404)".to_owned(),
                        _ => error.to_string(),
                    };
                    fetched.skipped.push(skip(reason));
                    continue;
                }
                Err(error) => return Err(error),
            };
            let dest = query.dest.join(artifact_id.to_string());
            match read_archive(&bytes, &dest) {
                Ok(records) if records.is_empty() => {
                    fetched.skipped.push(skip("no timings.json in the archive".to_owned()));
                }
                Ok(records) => {
                    for record in records {
                        match record {
                            Ok(record) => fetched.records.push(ArtifactRecord {
                                record,
                                branch: branch.clone(),
                                source: source.clone(),
                            }),
                            Err(reason) => fetched.skipped.push(skip(reason)),
                        }
                    }
                }
                Err(reason) => fetched.skipped.push(skip(reason)),
            }
        }
    }
    Ok(fetched)
}

/// Extract and read an archive's `timings.json` files.
fn read_archive(bytes: &[u8], dest: &Path) -> Result<Vec<Result<RunRecord, String>>, String> {
    let files = extract_timings(bytes, dest, ZipLimits::default()).map_err(|error| error.to_string())?;
    Ok(files
        .iter()
        .map(|file| read_run_record(file).map_err(|error| error.to_string()))
        .collect())
}

/// Percent-encode a query value (branch names may hold `/`, `#`, `&`, `+`).
fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (byte as char).to_string(),
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests;
