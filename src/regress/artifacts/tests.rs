use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::regress::api::ApiTarget;
use crate::regress::fixtures::{self, zip_of};
use crate::test_support::runtime;

fn api(server: &MockServer) -> Api {
    Api::new(&ApiTarget {
        api_url: server.uri(),
        token: "ghs_artifact-token".to_owned(),
        owner: "org".to_owned(),
        repo: "app".to_owned(),
        backoff: Duration::from_millis(5),
    })
    .expect("client")
}

fn query(dest: &Path, max_downloads: usize) -> ArtifactQuery {
    ArtifactQuery {
        workflow: Some("nightly.yml".to_owned()),
        branch: Some("main".to_owned()),
        pattern: globset::Glob::new("hybrid-e2e-report-*")
            .expect("glob")
            .compile_matcher(),
        max_runs: 1_000,
        max_downloads,
        dest: dest.to_owned(),
    }
}

fn run_json(id: u64) -> serde_json::Value {
    json!({ "id": id, "head_branch": "main", "status": "completed", "conclusion": "success" })
}

fn artifact(id: u64, name: &str, expired: bool) -> serde_json::Value {
    json!({ "id": id, "name": name, "expired": expired, "size_in_bytes": 2048,
            "archive_download_url": format!("https://api.github.com/repos/org/app/actions/artifacts/{id}/zip") })
}

/// A zipped report directory whose `timings.json` is run `night` of service `service`.
fn report_zip(service: usize, night: usize) -> Vec<u8> {
    let run = fixtures::run(service, night, &mut fixtures::Rng::new(night as u64), &[]);
    let text = fixtures::timings_json(&run);
    zip_of(
        &[
            ("timings.json", text.as_bytes()),
            ("logs/build/api.log", b"step output"),
        ],
        &[],
    )
}

async fn mount_runs(server: &MockServer) {
    // 103 completed runs on two pages; only the first three have report artifacts.
    Mock::given(method("GET"))
        .and(path("/repos/org/app/actions/workflows/nightly.yml/runs"))
        .and(query_param("branch", "main"))
        .and(query_param("status", "completed"))
        .and(query_param("page", "1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({ "total_count": 103, "workflow_runs": (0..100).map(|i| run_json(1_000 - i)).collect::<Vec<_>>() }),
        ))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/org/app/actions/workflows/nightly.yml/runs"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({ "total_count": 103, "workflow_runs": (100..103).map(|i| run_json(1_000 - i)).collect::<Vec<_>>() }),
        ))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/repos/org/app/actions/runs/\d+/artifacts$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "total_count": 0, "artifacts": [] })))
        .with_priority(10)
        .mount(server)
        .await;
}

#[test]
fn runs_and_artifacts_are_paginated_expired_and_missing_ones_skipped_and_rate_limits_waited_out() {
    runtime().block_on(async {
        let server = MockServer::start().await;
        mount_runs(&server).await;
        // Run 1000: 100 unrelated artifacts on page 1, its report on page 2.
        let mut page1: Vec<serde_json::Value> = (0..100).map(|i| artifact(50_000 + i, "coverage", false)).collect();
        page1[3] = artifact(7, "hybrid-e2e-report-svc00", false);
        Mock::given(method("GET"))
            .and(path("/repos/org/app/actions/runs/1000/artifacts"))
            .and(query_param("page", "1"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "total_count": 101, "artifacts": page1 })))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/repos/org/app/actions/runs/1000/artifacts"))
            .and(query_param("page", "2"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({ "total_count": 101, "artifacts": [artifact(8, "hybrid-e2e-report-svc01", false)] }),
            ))
            .mount(&server)
            .await;
        // Run 999: one expired, one gone (404), one corrupt, one fine after a secondary rate limit.
        Mock::given(method("GET"))
            .and(path("/repos/org/app/actions/runs/999/artifacts"))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!({ "total_count": 4, "artifacts": [
                artifact(9, "hybrid-e2e-report-svc00", true),
                artifact(10, "hybrid-e2e-report-svc01", false),
                artifact(11, "hybrid-e2e-report-svc02", false),
                artifact(12, "hybrid-e2e-report-svc03", false),
            ] })),
            )
            .mount(&server)
            .await;
        // Run 998: already in the history: not even listed.
        Mock::given(method("GET"))
            .and(path("/repos/org/app/actions/runs/998/artifacts"))
            .respond_with(ResponseTemplate::new(500))
            .expect(0)
            .mount(&server)
            .await;
        for (id, service, night) in [(7, 0, 20), (8, 1, 20), (12, 3, 19)] {
            Mock::given(method("GET"))
                .and(path(format!("/repos/org/app/actions/artifacts/{id}/zip")))
                .respond_with(
                    ResponseTemplate::new(302).insert_header("location", format!("{}/blob/{id}.zip", server.uri())),
                )
                .mount(&server)
                .await;
            Mock::given(method("GET"))
                .and(path(format!("/blob/{id}.zip")))
                .respond_with(ResponseTemplate::new(200).set_body_bytes(report_zip(service, night)))
                .mount(&server)
                .await;
        }
        Mock::given(method("GET"))
            .and(path("/repos/org/app/actions/artifacts/12/zip"))
            .respond_with(
                ResponseTemplate::new(403)
                    .insert_header("retry-after", "1")
                    .set_body_json(json!({ "message": "You have exceeded a secondary rate limit." })),
            )
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/repos/org/app/actions/artifacts/10/zip"))
            .respond_with(ResponseTemplate::new(404).set_body_json(json!({ "message": "Not Found" })))
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/repos/org/app/actions/artifacts/11/zip"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(b"<html>not a zip</html>".to_vec()))
            .mount(&server)
            .await;

        let dest = tempfile::tempdir().expect("tempdir");
        let known: HashSet<&str> = ["github:run/998/artifact/1"].into_iter().collect();
        let started = std::time::Instant::now();
        let fetched = fetch(&api(&server), &query(dest.path(), 100), &known)
            .await
            .expect("fetched");
        assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After was honoured");
        assert_eq!(fetched.runs_listed, 103);
        let mut sources: Vec<&str> = fetched.records.iter().map(|record| record.source.as_str()).collect();
        sources.sort_unstable();
        assert_eq!(
            sources,
            [
                "github:run/1000/artifact/7",
                "github:run/1000/artifact/8",
                "github:run/999/artifact/12"
            ]
        );
        assert_eq!(fetched.records[0].branch.as_deref(), Some("main"));
        assert_eq!(
            fetched.records[0].record.config_file.as_deref(),
            Some("services/svc00/hybrid-e2e.yaml")
        );
        let reasons: Vec<String> = fetched
            .skipped
            .iter()
            .map(|skipped| format!("{}: {}", skipped.source, skipped.reason))
            .collect();
        assert_eq!(reasons.len(), 3, "{reasons:?}");
        assert!(
            reasons[0].contains("artifact/9") && reasons[0].contains("expired"),
            "{reasons:?}"
        );
        assert!(
            reasons[1].contains("artifact/10") && reasons[1].contains("404"),
            "{reasons:?}"
        );
        assert!(
            reasons[2].contains("artifact/11") && reasons[2].contains("not a readable zip"),
            "{reasons:?}"
        );
        assert!(dest.path().join("7/timings.json").is_file());
        let requests = server.received_requests().await.expect("recorded");
        let downloads = requests
            .iter()
            .filter(|request| request.url.path().starts_with("/blob/"))
            .count();
        assert_eq!(downloads, 3);
        assert!(
            requests
                .iter()
                .filter(|request| request.url.path().starts_with("/repos/"))
                .all(|request| request.headers.get("authorization").is_some()),
            "every API request carries the token"
        );
    });
}

#[test]
fn a_run_is_imported_whole_or_left_for_the_next_night() {
    runtime().block_on(async {
        let server = MockServer::start().await;
        mount_runs(&server).await;
        for run in [1000u64, 999] {
            Mock::given(method("GET"))
                .and(path(format!("/repos/org/app/actions/runs/{run}/artifacts")))
                .respond_with(
                    ResponseTemplate::new(200).set_body_json(json!({ "total_count": 2, "artifacts": [
                    artifact(run * 10, "hybrid-e2e-report-svc00", false),
                    artifact(run * 10 + 1, "hybrid-e2e-report-svc01", false),
                ] })),
                )
                .mount(&server)
                .await;
        }
        Mock::given(method("GET"))
            .and(path_regex(r"^/repos/org/app/actions/artifacts/\d+/zip$"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(report_zip(0, 3)))
            .mount(&server)
            .await;
        let dest = tempfile::tempdir().expect("tempdir");
        let fetched = fetch(&api(&server), &query(dest.path(), 3), &HashSet::new())
            .await
            .expect("fetched");
        assert_eq!((fetched.downloaded, fetched.deferred), (2, 2));
        assert!(
            fetched
                .records
                .iter()
                .all(|record| record.source.starts_with("github:run/1000/"))
        );
    });
}

#[test]
fn a_token_without_actions_read_is_an_error_not_an_empty_history() {
    runtime().block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(
                ResponseTemplate::new(403)
                    .set_body_json(json!({ "message": "Resource not accessible by integration" })),
            )
            .expect(1)
            .mount(&server)
            .await;
        let dest = tempfile::tempdir().expect("tempdir");
        let error = fetch(&api(&server), &query(dest.path(), 10), &HashSet::new())
            .await
            .expect_err("forbidden");
        assert!(matches!(error, ApiError::Forbidden { .. }), "{error}");
        assert!(!error.to_string().contains("ghs_"), "the token is never printed");
    });
}

#[test]
fn the_workflow_comes_from_the_runs_own_reference() {
    assert_eq!(run_of("github:run/42/artifact/7"), Some(42));
    assert_eq!(run_of("/tmp/x"), None);
    assert_eq!(url_encode("feature/a b&c"), "feature%2Fa%20b%26c");
}
