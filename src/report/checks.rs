//! A check run on the commit: the job's own (when its id is given) or a named one on the head
//! commit. Title, summary and text within GitHub's 65,535 bytes; every annotation, 50 per
//! request; retries with backoff on 5xx and rate limits (honouring `Retry-After`); a 403 (fork
//! PRs, read-only tokens) becomes one clear notice, and the workflow commands and job summary
//! stand in. The token never appears in any output.

use std::time::Duration;

use octocrab::params::checks::{
    CheckRunConclusion, CheckRunOutput, CheckRunOutputAnnotation, CheckRunOutputAnnotationLevel, CheckRunStatus,
};
use serde::Serialize;
use serde_json::Value;

use super::github::Annotation;
use super::rest::{self, Answer, Method, RestError};
use super::summary;
use super::workflow::AnnotationLevel;
use crate::model::{RunRecord, Status};

/// GitHub's limit for `output.summary` and `output.text`, in bytes.
const OUTPUT_LIMIT: usize = 65_535;
/// Annotations per create/update request.
const ANNOTATIONS_PER_REQUEST: usize = 50;

/// Where the check run goes.
#[derive(Clone)]
pub(crate) struct CheckTarget {
    pub(crate) api_url: String,
    pub(crate) token: String,
    pub(crate) owner: String,
    pub(crate) repo: String,
    pub(crate) head_sha: String,
    pub(crate) name: String,
    /// Update the job's own check run instead of creating one.
    pub(crate) check_run_id: Option<u64>,
    /// The first retry's backoff (doubles each time).
    pub(crate) backoff: Duration,
}

impl std::fmt::Debug for CheckTarget {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("CheckTarget")
            .field("api_url", &self.api_url)
            .field("token", &"***")
            .field("owner", &self.owner)
            .field("repo", &self.repo)
            .field("head_sha", &self.head_sha)
            .finish_non_exhaustive()
    }
}

impl CheckTarget {
    /// From the Actions environment: `GITHUB_REPOSITORY`, `GITHUB_API_URL`, the PR head SHA for
    /// `pull_request` events (else `GITHUB_SHA`). `None` when something is missing.
    pub(crate) fn from_env(
        token: Option<String>,
        name: &str,
        check_run_id: Option<u64>,
        commit: Option<String>,
    ) -> Option<CheckTarget> {
        let token = token.filter(|token| !token.is_empty())?;
        let repository = std::env::var("GITHUB_REPOSITORY").ok()?;
        let (owner, repo) = repository.split_once('/')?;
        let head_sha = commit
            .or_else(pull_request_head)
            .or_else(|| std::env::var("GITHUB_SHA").ok())
            .filter(|sha| !sha.is_empty())?;
        Some(CheckTarget {
            api_url: std::env::var("GITHUB_API_URL").unwrap_or_else(|_| "https://api.github.com".to_owned()),
            token,
            owner: owner.to_owned(),
            repo: repo.to_owned(),
            head_sha,
            name: name.to_owned(),
            check_run_id,
            backoff: Duration::from_secs(1),
        })
    }
}

/// The PR head commit of a `pull_request` event (`GITHUB_SHA` is the merge commit there).
fn pull_request_head() -> Option<String> {
    let path = std::env::var("GITHUB_EVENT_PATH").ok()?;
    let text = crate::files::read_text_capped(std::path::Path::new(&path), crate::files::EVENT_LIMIT).ok()?;
    let event: Value = serde_json::from_str(&text).ok()?;
    event.pointer("/pull_request/head/sha")?.as_str().map(str::to_owned)
}

/// How publishing went.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum CheckOutcome {
    Published {
        check_run_id: u64,
        /// Where users see it (`html_url`), when GitHub said.
        url: Option<String>,
        annotations: usize,
        requests: usize,
    },
    /// 403: the token may not write checks (fork PR, read-only token).
    Forbidden,
}

/// Why publishing failed (never fatal for the job; reported as a warning).
#[derive(Debug, thiserror::Error)]
pub(crate) enum CheckError {
    #[error("failed to set up the GitHub client: {0}")]
    Client(String),
    #[error("GitHub answered {status} to {what}: {message}")]
    Status { status: u16, what: String, message: String },
    #[error("failed to reach GitHub for {what}: {message}")]
    Transport { what: String, message: String },
}

/// Cut `text` to at most `limit` bytes on a character boundary, saying so.
fn fit(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let note = "\n\n… truncated to GitHub's 65,535-byte limit; the full report is in the job summary and summary.md.";
    let mut cut = limit.saturating_sub(note.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{note}", &text[..cut])
}

/// The one verdict of all runs: the worst of them.
fn conclusion(runs: &[RunRecord]) -> CheckRunConclusion {
    if runs.iter().any(|run| run.status == Status::Failed) {
        CheckRunConclusion::Failure
    } else if runs.iter().any(|run| run.status == Status::Cancelled) {
        CheckRunConclusion::Cancelled
    } else if runs.iter().any(|run| run.status == Status::OverTarget) {
        CheckRunConclusion::Neutral
    } else {
        CheckRunConclusion::Success
    }
}

/// One run: its verdict and its own setup time. Matrix jobs: how many jobs ended how, and which
/// job was slowest — never one run's verdict with another's duration.
fn title(runs: &[RunRecord]) -> String {
    let verdict = |status: Status| match status {
        Status::Failed => "failed",
        Status::Cancelled => "cancelled",
        Status::OverTarget => "over target",
        Status::Ok | Status::Skipped => "within target",
    };
    match runs {
        [run] => {
            let setup = format!("{:.0}s of {:.0}s", run.setup_seconds, run.total_target_seconds);
            let over: Vec<&str> = run
                .phases
                .iter()
                .filter(|phase| phase.status == Status::OverTarget)
                .map(|phase| phase.name.as_str())
                .collect();
            match (run.status, run.failed_phase.as_deref()) {
                // What failed after the setup is named, not blamed on it.
                (Status::Failed, Some("test")) => format!("E2E tests failed (setup {setup})"),
                (Status::OverTarget, _) if run.within_target && !over.is_empty() => {
                    format!("E2E setup within budget ({setup}); over target: {}", over.join(", "))
                }
                (
                    Status::Failed,
                    Some(phase @ ("preflight" | "build" | "cluster" | "load" | "deploy" | "services")),
                ) => {
                    format!("E2E setup failed in {phase} ({setup})")
                }
                (Status::Failed, Some(phase)) => format!("E2E {phase} failed (setup {setup})"),
                (status, _) => format!("E2E setup {} ({setup})", verdict(status)),
            }
        }
        _ => {
            let count = |status: Status| runs.iter().filter(|run| run.status == status).count();
            let counts: Vec<String> = [Status::Failed, Status::Cancelled, Status::OverTarget]
                .into_iter()
                .filter(|status| count(*status) > 0)
                .map(|status| format!("{} of {} jobs {}", count(status), runs.len(), verdict(status)))
                .collect();
            let head = if counts.is_empty() {
                format!("E2E setup: all {} jobs within target", runs.len())
            } else {
                format!("E2E setup: {}", counts.join(", "))
            };
            match runs.iter().max_by(|a, b| a.setup_seconds.total_cmp(&b.setup_seconds)) {
                Some(slowest) => format!(
                    "{head}; slowest {} {:.0}s",
                    summary::job_name(slowest),
                    slowest.setup_seconds
                ),
                None => head,
            }
        }
    }
}

/// The check run's `text`: one line per run, or a per-job table for matrix jobs.
fn text(runs: &[RunRecord]) -> String {
    let mut out = String::new();
    if runs.len() > 1 {
        out.push_str("| Job | Run | Cluster | Status | Setup |\n| --- | --- | --- | --- | ---: |\n");
    }
    for (run, label) in runs.iter().zip(summary::job_labels(runs)) {
        if runs.len() > 1 {
            out.push_str(&format!(
                "| `{}` | `{}` | `{}` | {} | {:.1}s |\n",
                label,
                run.run_id,
                run.cluster_name,
                run.status.as_str(),
                run.setup_seconds
            ));
        } else {
            out.push_str(&format!(
                "run {} · cluster {} · {}\n",
                run.run_id,
                run.cluster_name,
                run.status.as_str()
            ));
        }
    }
    fit(&out, OUTPUT_LIMIT)
}

/// Check-run annotations: only those anchored on a file (GitHub requires `path`).
fn check_annotations(annotations: &[Annotation]) -> Vec<CheckRunOutputAnnotation> {
    let number = |value: usize| u32::try_from(value).unwrap_or(u32::MAX);
    annotations
        .iter()
        .filter_map(|annotation| {
            let path = annotation.properties.file.clone()?;
            let line = annotation.properties.start_line.unwrap_or(1).max(1);
            let end = annotation.properties.end_line.unwrap_or(line).max(line);
            let (start_column, end_column) = match annotation.properties.start_column {
                Some(column) if line == end => (
                    Some(number(column)),
                    Some(number(annotation.properties.end_column.unwrap_or(column).max(column))),
                ),
                _ => (None, None),
            };
            Some(CheckRunOutputAnnotation {
                path,
                start_line: number(line),
                end_line: number(end),
                start_column,
                end_column,
                annotation_level: match annotation.level {
                    AnnotationLevel::Error => CheckRunOutputAnnotationLevel::Failure,
                    AnnotationLevel::Warning => CheckRunOutputAnnotationLevel::Warning,
                },
                message: fit(&annotation.message, 64 * 1024 - 1),
                title: annotation
                    .properties
                    .title
                    .as_ref()
                    .map(|title| title.chars().take(255).collect()),
                raw_details: None,
            })
        })
        .collect()
}

/// `POST …/check-runs`.
#[derive(Serialize)]
struct CreateCheckRun<'a> {
    name: &'a str,
    head_sha: &'a str,
    status: CheckRunStatus,
    conclusion: CheckRunConclusion,
    output: CheckRunOutput,
}

/// `PATCH …/check-runs/{id}`: output only (the job's own run decides its own conclusion).
#[derive(Serialize)]
struct UpdateCheckRun {
    output: CheckRunOutput,
}

/// The request bodies, in order: the create (or the first update of the job's own run), then
/// one update per further 50 annotations. The full summary (built for the check run's own
/// 65,535-byte budget) goes only into the last request, which replaces the short placeholder
/// the earlier ones carry, so a big summary is sent once.
pub(crate) fn request_bodies(target: &CheckTarget, runs: &[RunRecord], annotations: &[Annotation]) -> Vec<Value> {
    let annotations = check_annotations(annotations);
    let title = title(runs);
    let total = annotations.len();
    let mut chunks: Vec<Vec<CheckRunOutputAnnotation>> = Vec::new();
    let mut rest = annotations.into_iter().peekable();
    while rest.peek().is_some() {
        chunks.push(rest.by_ref().take(ANNOTATIONS_PER_REQUEST).collect());
    }
    if chunks.is_empty() {
        chunks.push(Vec::new());
    }
    let last = chunks.len() - 1;
    chunks
        .into_iter()
        .enumerate()
        .map(|(index, chunk)| {
            let output = if index == last {
                CheckRunOutput {
                    title: title.clone(),
                    summary: summary::render_within(runs, 0, OUTPUT_LIMIT),
                    text: Some(text(runs)),
                    annotations: chunk,
                    images: Vec::new(),
                }
            } else {
                CheckRunOutput {
                    title: title.clone(),
                    summary: format!(
                        "Publishing {total} annotation(s), {} per request; the full report follows.",
                        ANNOTATIONS_PER_REQUEST
                    ),
                    text: None,
                    annotations: chunk,
                    images: Vec::new(),
                }
            };
            let body = match (index, target.check_run_id) {
                (0, None) => serde_json::to_value(CreateCheckRun {
                    name: &target.name,
                    head_sha: &target.head_sha,
                    status: CheckRunStatus::Completed,
                    conclusion: conclusion(runs),
                    output,
                }),
                _ => serde_json::to_value(UpdateCheckRun { output }),
            };
            body.unwrap_or(Value::Null)
        })
        .collect()
}

/// Publish the check run.
pub(crate) async fn publish(
    target: &CheckTarget,
    runs: &[RunRecord],
    annotations: &[Annotation],
) -> Result<CheckOutcome, CheckError> {
    let client = octocrab::Octocrab::builder()
        .base_uri(target.api_url.as_str())
        .map_err(|error| CheckError::Client(error.to_string()))?
        .personal_token(target.token.clone())
        .set_connect_timeout(Some(Duration::from_secs(10)))
        .set_read_timeout(Some(Duration::from_secs(30)))
        .build()
        .map_err(|error| CheckError::Client(error.to_string()))?;
    let bodies = request_bodies(target, runs, annotations);
    let total: usize = bodies
        .iter()
        .map(|body| body["output"]["annotations"].as_array().map_or(0, Vec::len))
        .sum();
    let base = format!("/repos/{}/{}/check-runs", target.owner, target.repo);
    let mut check_run_id = target.check_run_id;
    let mut url = None;
    for body in &bodies {
        let (method, uri) = match check_run_id {
            Some(id) => (Method::Patch, format!("{base}/{id}")),
            None => (Method::Post, base.clone()),
        };
        match send(&client, method, &uri, body, target.backoff).await? {
            Sent::Ok(response) => {
                check_run_id = check_run_id.or_else(|| response.get("id").and_then(Value::as_u64));
                url = response
                    .get("html_url")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or(url);
            }
            Sent::Forbidden => return Ok(CheckOutcome::Forbidden),
        }
    }
    Ok(CheckOutcome::Published {
        check_run_id: check_run_id.unwrap_or_default(),
        url,
        annotations: total,
        requests: bodies.len(),
    })
}

enum Sent {
    Ok(Value),
    Forbidden,
}

/// The largest answer we read (a check run's JSON).
const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// One request with the shared retry policy (`rest::send`); a 403 that is not a rate limit is
/// `Forbidden` (fork PRs, read-only tokens).
async fn send(
    client: &octocrab::Octocrab,
    method: Method,
    uri: &str,
    body: &Value,
    backoff: Duration,
) -> Result<Sent, CheckError> {
    match rest::send(client, method, uri, Some(body), MAX_ANSWER_BYTES, backoff, &|| {}).await {
        Ok(Answer::Ok(bytes)) => Ok(Sent::Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))),
        Ok(Answer::Forbidden { .. }) => Ok(Sent::Forbidden),
        Err(RestError::Status { status, what, message }) => Err(CheckError::Status { status, what, message }),
        Err(RestError::Transport { what, message }) => Err(CheckError::Transport { what, message }),
        Err(error @ RestError::TooLarge { .. }) => Err(CheckError::Transport {
            what: uri.to_owned(),
            message: error.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;
    use crate::report::workflow::AnnotationProperties;
    use serde_json::json;
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use crate::test_support::runtime;

    fn target(server: &MockServer, check_run_id: Option<u64>) -> CheckTarget {
        CheckTarget {
            api_url: server.uri(),
            token: "ghs_test-token-never-printed".to_owned(),
            owner: "org".to_owned(),
            repo: "app".to_owned(),
            head_sha: "0123456789abcdef0123456789abcdef01234567".to_owned(),
            name: "hybrid-e2e".to_owned(),
            check_run_id,
            backoff: Duration::from_millis(10),
        }
    }

    fn annotations(count: usize) -> Vec<Annotation> {
        (0..count)
            .map(|index| Annotation {
                level: if index % 3 == 0 {
                    AnnotationLevel::Warning
                } else {
                    AnnotationLevel::Error
                },
                properties: AnnotationProperties {
                    title: Some(format!("hybrid-e2e build/image-{index}")),
                    file: Some(format!("docker/image-{index}.Dockerfile")),
                    start_line: Some(3),
                    end_line: Some(3),
                    start_column: Some(5),
                    end_column: None,
                },
                message: format!("[application] build {index} failed: ✗ \u{1F680}"),
            })
            .collect()
    }

    fn created() -> ResponseTemplate {
        ResponseTemplate::new(201).set_body_json(json!({ "id": 4242, "name": "hybrid-e2e" }))
    }

    /// Every request body, validated against GitHub's OpenAPI description.
    fn validate(requests: &[wiremock::Request]) {
        let bodies: Vec<Value> = requests
            .iter()
            .map(|request| {
                let operation = if request.method.as_str() == "POST" { "create" } else { "update" };
                json!({ "operation": operation, "body": serde_json::from_slice::<Value>(&request.body).expect("JSON body") })
            })
            .collect();
        if let Some(verdict) =
            crate::test_support::node_peer("validate_check_run.mjs", &Value::from(bodies).to_string())
        {
            assert_eq!(verdict.trim(), "valid");
        }
    }

    #[test]
    fn every_annotation_arrives_fifty_per_request() {
        runtime().block_on(async {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .and(path("/repos/org/app/check-runs"))
                .respond_with(created())
                .expect(1)
                .mount(&server)
                .await;
            Mock::given(method("PATCH"))
                .and(path("/repos/org/app/check-runs/4242"))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": 4242 })))
                .expect(2)
                .mount(&server)
                .await;
            let outcome = publish(&target(&server, None), &[fixtures::build_failure()], &annotations(120))
                .await
                .expect("published");
            assert_eq!(
                outcome,
                CheckOutcome::Published {
                    check_run_id: 4242,
                    url: None,
                    annotations: 120,
                    requests: 3
                }
            );
            let requests = server.received_requests().await.expect("recorded");
            let counts: Vec<usize> = requests
                .iter()
                .map(|request| {
                    serde_json::from_slice::<Value>(&request.body).expect("JSON")["output"]["annotations"]
                        .as_array()
                        .expect("annotations")
                        .len()
                })
                .collect();
            assert_eq!(counts, vec![50, 50, 20]);
            let first: Value = serde_json::from_slice(&requests[0].body).expect("JSON");
            assert_eq!(first["conclusion"], "failure");
            assert_eq!(first["head_sha"], "0123456789abcdef0123456789abcdef01234567");
            // The big summary is sent once, in the last request; the others carry a placeholder.
            let summaries: Vec<usize> = requests
                .iter()
                .map(|request| {
                    serde_json::from_slice::<Value>(&request.body).expect("JSON")["output"]["summary"]
                        .as_str()
                        .expect("summary")
                        .len()
                })
                .collect();
            assert!(summaries[0] < 200 && summaries[1] < 200, "{summaries:?}");
            assert!(summaries[2] > 1000, "{summaries:?}");
            assert!(
                requests[0]
                    .headers
                    .get("authorization")
                    .is_some_and(|value| value.to_str().unwrap_or("").contains("ghs_test-token"))
            );
            validate(&requests);
        });
    }

    #[test]
    fn the_jobs_own_check_run_is_updated_not_created() {
        runtime().block_on(async {
            let server = MockServer::start().await;
            Mock::given(method("PATCH"))
                .and(path("/repos/org/app/check-runs/77"))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": 77 })))
                .expect(1)
                .mount(&server)
                .await;
            let outcome = publish(&target(&server, Some(77)), &[fixtures::green()], &[])
                .await
                .expect("published");
            assert_eq!(
                outcome,
                CheckOutcome::Published {
                    check_run_id: 77,
                    url: None,
                    annotations: 0,
                    requests: 1
                }
            );
            let requests = server.received_requests().await.expect("recorded");
            let body: Value = serde_json::from_slice(&requests[0].body).expect("JSON");
            assert!(body.get("conclusion").is_none() && body.get("name").is_none(), "{body}");
            validate(&requests);
        });
    }

    #[test]
    fn a_502_is_retried() {
        runtime().block_on(async {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .respond_with(ResponseTemplate::new(502))
                .up_to_n_times(1)
                .mount(&server)
                .await;
            Mock::given(method("POST")).respond_with(created()).mount(&server).await;
            let outcome = publish(&target(&server, None), &[fixtures::green()], &annotations(3))
                .await
                .expect("published");
            assert!(matches!(outcome, CheckOutcome::Published { check_run_id: 4242, .. }));
            assert_eq!(server.received_requests().await.expect("recorded").len(), 2);
        });
    }

    #[test]
    fn a_secondary_rate_limit_waits_for_retry_after() {
        runtime().block_on(async {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .respond_with(
                    ResponseTemplate::new(403)
                        .insert_header("retry-after", "1")
                        .set_body_json(json!({ "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again." })),
                )
                .up_to_n_times(1)
                .mount(&server)
                .await;
            Mock::given(method("POST")).respond_with(created()).mount(&server).await;
            let started = std::time::Instant::now();
            let outcome = publish(&target(&server, None), &[fixtures::green()], &[]).await.expect("published");
            assert!(matches!(outcome, CheckOutcome::Published { .. }));
            assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After was not honoured");
        });
    }

    #[test]
    fn a_forbidden_token_falls_back_with_a_notice() {
        runtime().block_on(async {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .respond_with(
                    ResponseTemplate::new(403)
                        .set_body_json(json!({ "message": "Resource not accessible by integration" })),
                )
                .expect(1)
                .mount(&server)
                .await;
            let outcome = publish(&target(&server, None), &[fixtures::green()], &annotations(2))
                .await
                .expect("no error");
            assert_eq!(outcome, CheckOutcome::Forbidden);
        });
    }

    fn offline_target() -> CheckTarget {
        CheckTarget {
            api_url: String::new(),
            token: "t".to_owned(),
            owner: "o".to_owned(),
            repo: "r".to_owned(),
            head_sha: "s".to_owned(),
            name: "n".to_owned(),
            check_run_id: None,
            backoff: Duration::from_millis(1),
        }
    }

    /// A 5,000-step run: the check run's summary is built for its own 65,535 bytes — verdict and
    /// failures first, nothing cut inside a block — not a cut copy of the 1 MiB job summary.
    #[test]
    fn output_fits_githubs_byte_limits_with_whole_blocks() {
        let server_target = offline_target();
        let bodies = request_bodies(&server_target, &[fixtures::huge()], &annotations(1));
        let summary = bodies[0]["output"]["summary"].as_str().expect("summary");
        assert!(summary.len() <= OUTPUT_LIMIT, "{} bytes", summary.len());
        summary::assert_balanced(summary);
        assert!(
            summary.starts_with("## ❌ hybrid-e2e") && summary.contains("<code>build/image-0000</code>"),
            "the verdict and the failures come first"
        );
        assert!(
            summary.contains("| Phase | Status |"),
            "the phase table is kept: {}",
            &summary[summary.len().saturating_sub(600)..]
        );
        assert!(
            !format!("{server_target:?}").contains("\"t\""),
            "the token is never in debug output"
        );
    }

    #[test]
    fn a_merged_title_counts_jobs_and_names_the_slowest() {
        let [api, worker] = fixtures::matrix();
        let merged = title(&[api.clone(), worker]);
        assert_eq!(
            merged,
            "E2E setup: 1 of 2 jobs failed; slowest services/api/hybrid-e2e.yaml 94s"
        );
        assert_eq!(title(&[api]), "E2E setup within target (94s of 360s)");
        // What failed after the setup is named, not blamed on the setup.
        let tests = title(&[fixtures::test_failure()]);
        assert!(tests.starts_with("E2E tests failed (setup "), "{tests}");
        let build = title(&[fixtures::build_failure()]);
        assert!(build.starts_with("E2E setup failed in build ("), "{build}");
        let bodies = request_bodies(&offline_target(), &fixtures::matrix(), &[]);
        let text = bodies[0]["output"]["text"].as_str().expect("text");
        assert!(
            text.contains("| `services/worker/hybrid-e2e.yaml` | `20261122-100000-bbbb0002` |"),
            "{text}"
        );
    }
}
