use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{body_partial_json, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::regress::analysis::{AnalysisOptions, analyze};
use crate::regress::api::ApiTarget;
use crate::regress::fixtures::{self, Change};
use crate::test_support::runtime;

fn api(server: &MockServer) -> Api {
    Api::new(&ApiTarget {
        api_url: server.uri(),
        token: "ghs_issue-token".to_owned(),
        owner: "org".to_owned(),
        repo: "app".to_owned(),
        backoff: Duration::from_millis(5),
    })
    .expect("client")
}

/// Two services; service 0's deploy/api is 50 % slower for the last three nights.
fn document() -> RegressDocument {
    let change = Change {
        service: 0,
        phase: "deploy",
        step: "api",
        night: 37,
        factor: 1.5,
    };
    let runs = fixtures::fleet(2, 40, 5, &[change]);
    analyze(
        &runs,
        &AnalysisOptions {
            stale_after_days: 30.0,
            ..AnalysisOptions::default()
        },
    )
    .document
}

fn issue(number: u64, marker: &str) -> serde_json::Value {
    json!({ "number": number, "state": "open", "body": format!("{marker}\n\nold text"), "labels": [{ "name": LABEL }] })
}

#[test]
fn issues_are_found_by_marker_updated_opened_and_closed_never_duplicated() {
    let document = document();
    let regressed: Vec<&SeriesEntry> = document
        .series
        .iter()
        .filter(|series| series.status == Verdict::Regression)
        .collect();
    let labels: Vec<String> = regressed.iter().map(|series| series.label()).collect();
    assert!(
        labels.contains(&"services/svc00/hybrid-e2e.yaml deploy/api".to_owned()),
        "{labels:?}"
    );
    let recovered = document
        .series
        .iter()
        .find(|series| series.status == Verdict::Ok)
        .expect("an ok series");
    runtime().block_on(async {
        let server = MockServer::start().await;
        // Page 1: 99 unrelated issues and a pull request carrying a marker; page 2: the series' issues.
        let mut page1: Vec<serde_json::Value> = (0..99)
            .map(|n| json!({ "number": 1_000 + n, "body": "unrelated", "labels": [] }))
            .collect();
        page1.push(json!({ "number": 5, "body": marker(regressed[0]), "pull_request": {} }));
        Mock::given(method("GET"))
            .and(path("/repos/org/app/issues"))
            .and(query_param("labels", LABEL))
            .and(query_param("state", "open"))
            .and(query_param("page", "1"))
            .respond_with(ResponseTemplate::new(200).set_body_json(page1))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/repos/org/app/issues"))
            .and(query_param("page", "2"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([
                issue(7, &marker(regressed[0])),
                issue(9, &marker(recovered)),
                json!({ "number": 11, "body": null }),
            ])))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/repos/org/app/labels/{LABEL}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "name": LABEL })))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("PATCH"))
            .and(path("/repos/org/app/issues/7"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "number": 7 })))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/repos/org/app/issues"))
            .and(body_partial_json(json!({ "labels": [LABEL] })))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({ "number": 42 })))
            .expect((regressed.len() - 1) as u64)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/repos/org/app/issues/9/comments"))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({ "id": 1 })))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("PATCH"))
            .and(path("/repos/org/app/issues/9"))
            .and(body_partial_json(json!({ "state": "closed" })))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "number": 9 })))
            .expect(1)
            .mount(&server)
            .await;
        let outcome = sync(
            &api(&server),
            &document,
            Some("https://github.com/org/app/actions/runs/1"),
            10,
        )
        .await
        .expect("synced");
        assert_eq!(outcome.updated, vec![7]);
        assert_eq!(outcome.opened.len(), regressed.len() - 1);
        assert_eq!(outcome.closed, vec![9]);
        let requests = server.received_requests().await.expect("recorded");
        let created: Vec<serde_json::Value> = requests
            .iter()
            .filter(|request| request.method.as_str() == "POST" && request.url.path() == "/repos/org/app/issues")
            .map(|request| serde_json::from_slice(&request.body).expect("JSON"))
            .collect();
        for body in &created {
            let text = body["body"].as_str().expect("body");
            assert!(text.starts_with("<!-- hybrid-e2e-regression: "), "{text}");
            assert!(
                body["title"]
                    .as_str()
                    .expect("title")
                    .starts_with("Timing regression: ")
            );
        }
        let updated: serde_json::Value = requests
            .iter()
            .find(|request| request.method.as_str() == "PATCH" && request.url.path().ends_with("/issues/7"))
            .map(|request| serde_json::from_slice(&request.body).expect("JSON"))
            .expect("update");
        assert!(updated["body"].as_str().expect("body").contains("actions/runs/1"));
    });
}

#[test]
fn new_issues_are_capped_per_night() {
    let document = document();
    let regressed = document
        .series
        .iter()
        .filter(|series| series.status == Verdict::Regression)
        .count();
    assert!(regressed >= 2, "{regressed}");
    runtime().block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/repos/org/app/issues"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/repos/org/app/issues"))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({ "number": 1 })))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path(format!("/repos/org/app/labels/{LABEL}")))
            .respond_with(ResponseTemplate::new(404).set_body_json(json!({ "message": "Not Found" })))
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("POST"))
            .and(path("/repos/org/app/labels"))
            .and(body_partial_json(json!({ "name": LABEL })))
            .respond_with(ResponseTemplate::new(201).set_body_json(json!({ "name": LABEL })))
            .expect(1)
            .mount(&server)
            .await;
        let outcome = sync(&api(&server), &document, None, 1).await.expect("synced");
        assert_eq!((outcome.opened.len(), outcome.not_opened), (1, regressed - 1));
    });
}

#[test]
fn markers_survive_odd_service_names() {
    let mut series = document().series.remove(0);
    series.service = "a--> <b>|c".to_owned();
    let text = marker(&series);
    assert_eq!(marker_of(&format!("x\n{text}\ny")), Some(text.as_str()));
    assert_eq!(text.matches("-->").count(), 1, "{text}");
}
