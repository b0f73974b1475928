//! One GitHub issue per regressed series (label `hybrid-e2e-regression`), found again by a hidden
//! marker in its body, so it is never duplicated: opened when a series regresses, updated while
//! it stays regressed, closed with a comment when it recovers (ok or improvement). Series with
//! insufficient data, or not in this report, leave their issues alone.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde_json::{Value, json};

use super::api::{Api, ApiError, Method, paginate};
use super::document::{RegressDocument, SeriesEntry};
use super::stats::Verdict;

/// The label of every issue `regress` opens.
pub(crate) const LABEL: &str = "hybrid-e2e-regression";
/// Open issues looked at.
const MAX_LISTED: usize = 1_000;
/// GitHub's limit for an issue body, in characters.
const BODY_LIMIT: usize = 65_536;

/// What was done.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct IssueOutcome {
    pub(crate) opened: Vec<u64>,
    pub(crate) updated: Vec<u64>,
    pub(crate) closed: Vec<u64>,
    /// Regressed series without an issue because of `max_new`.
    pub(crate) not_opened: usize,
}

/// The hidden marker of a series.
pub(crate) fn marker(series: &SeriesEntry) -> String {
    // `--` cannot end an HTML comment early; a series id never holds a newline.
    let id = series.id().replace("--", "-\u{200b}-").replace(['\n', '\r'], " ");
    format!("<!-- hybrid-e2e-regression: {id} -->")
}

fn marker_of(body: &str) -> Option<&str> {
    let start = body.find("<!-- hybrid-e2e-regression: ")?;
    let end = body[start..].find("-->")? + start + 3;
    Some(&body[start..end])
}

fn title(series: &SeriesEntry) -> String {
    let change = series
        .change_ratio
        .map(|ratio| format!(" {:+.0}%", ratio * 100.0))
        .unwrap_or_default();
    let text = format!("Timing regression: {}{change}", series.label());
    text.chars().take(250).collect()
}

fn body(series: &SeriesEntry, run_url: Option<&str>) -> String {
    let number = |value: Option<f64>| value.map_or_else(|| "–".to_owned(), |value| format!("{value:.1} s"));
    let mut text = format!(
        "{}\n\n`hybrid-e2e regress` found a timing regression in **{}** that is not runner noise.\n\n| | |\n| --- | --- |\n",
        marker(series),
        series.label().replace('|', "\\|")
    );
    let rows = [
        ("current run", number(series.current_seconds)),
        ("rolling median", number(series.median_seconds)),
        (
            "change",
            series
                .change_ratio
                .map_or_else(|| "–".to_owned(), |ratio| format!("{:+.1}%", ratio * 100.0)),
        ),
        ("threshold", number(series.threshold_seconds)),
        ("runs over it in a row", series.consecutive_breaches.to_string()),
        ("p95", number(series.p95_seconds)),
        ("target", number(series.target_seconds)),
        (
            "trend",
            series
                .slope_seconds_per_week
                .map_or_else(|| "–".to_owned(), |slope| format!("{slope:+.1} s/week")),
        ),
        (
            "current run id",
            series.current_run_id.clone().unwrap_or_else(|| "–".to_owned()),
        ),
    ];
    for (name, value) in rows {
        let _ = writeln!(text, "| {name} | {} |", value.replace('|', "\\|"));
    }
    if let Some(change) = &series.change_point {
        let _ = writeln!(
            text,
            "\nA change point {} run(s) ago: median {:.1} s → {:.1} s (p = {:.1e}), since run `{}`.",
            change.runs_after,
            change.median_before_seconds,
            change.median_after_seconds,
            change.p_value,
            change.since_run_id.as_deref().unwrap_or("?")
        );
    }
    if let Some(url) = run_url {
        let _ = writeln!(text, "\nReport: {url}");
    }
    text.push_str(
        "\nThis issue is updated every night while the series stays regressed and closed when it recovers.\n",
    );
    text.chars().take(BODY_LIMIT).collect()
}

/// Create the label unless it exists (issues created with an unknown label may lose it).
async fn ensure_label(api: &Api) -> Result<(), ApiError> {
    match api
        .json(Method::Get, &api.repo_path(&format!("/labels/{LABEL}")), None)
        .await
    {
        Ok(_) => Ok(()),
        Err(error) if error.status() == Some(404) => {
            let body = json!({
                "name": LABEL,
                "color": "d93f0b",
                "description": "A timing regression found by hybrid-e2e regress",
            });
            match api.json(Method::Post, &api.repo_path("/labels"), Some(&body)).await {
                // 422: created meanwhile.
                Err(error) if error.status() == Some(422) => Ok(()),
                other => other.map(|_| ()),
            }
        }
        Err(error) => Err(error),
    }
}

/// The workflow run that wrote this report, from the Actions environment.
pub(crate) fn run_url_from_env() -> Option<String> {
    let server = std::env::var("GITHUB_SERVER_URL").ok()?;
    let repository = std::env::var("GITHUB_REPOSITORY").ok()?;
    let run = std::env::var("GITHUB_RUN_ID").ok()?;
    Some(format!("{server}/{repository}/actions/runs/{run}"))
}

/// Open, update or close the issues of the report's series. At most `max_new` issues are
/// opened per invocation (a broken night should not file hundreds).
pub(crate) async fn sync(
    api: &Api,
    document: &RegressDocument,
    run_url: Option<&str>,
    max_new: usize,
) -> Result<IssueOutcome, ApiError> {
    let listed = paginate(
        api,
        &api.repo_path("/issues"),
        &format!("labels={LABEL}&state=open"),
        None,
        MAX_LISTED,
    )
    .await?;
    let mut open: HashMap<String, u64> = HashMap::new();
    for issue in &listed {
        if issue.get("pull_request").is_some() {
            continue;
        }
        let (Some(number), Some(body)) = (
            issue.get("number").and_then(Value::as_u64),
            issue.get("body").and_then(Value::as_str),
        ) else {
            continue;
        };
        if let Some(marker) = marker_of(body) {
            // The oldest issue of a series wins, should two ever exist.
            open.entry(marker.to_owned())
                .and_modify(|existing| *existing = (*existing).min(number))
                .or_insert(number);
        }
    }
    let mut outcome = IssueOutcome::default();
    let mut label_checked = false;
    for series in &document.series {
        let marker = marker(series);
        let existing = open.get(&marker).copied();
        match (series.status, existing) {
            (Verdict::Regression, Some(number)) => {
                let uri = api.repo_path(&format!("/issues/{number}"));
                api.json(
                    Method::Patch,
                    &uri,
                    Some(&json!({ "title": title(series), "body": body(series, run_url) })),
                )
                .await?;
                outcome.updated.push(number);
            }
            (Verdict::Regression, None) if outcome.opened.len() < max_new => {
                if !label_checked {
                    ensure_label(api).await?;
                    label_checked = true;
                }
                let created = api
                    .json(
                        Method::Post,
                        &api.repo_path("/issues"),
                        Some(&json!({ "title": title(series), "body": body(series, run_url), "labels": [LABEL] })),
                    )
                    .await?;
                if let Some(number) = created.get("number").and_then(Value::as_u64) {
                    outcome.opened.push(number);
                }
            }
            (Verdict::Regression, None) => outcome.not_opened += 1,
            (Verdict::Ok | Verdict::Improvement, Some(number)) => {
                let comment = format!(
                    "Recovered: the current run took {} against a rolling median of {} ({}).{}",
                    series
                        .current_seconds
                        .map_or_else(|| "–".to_owned(), |value| format!("{value:.1} s")),
                    series
                        .median_seconds
                        .map_or_else(|| "–".to_owned(), |value| format!("{value:.1} s")),
                    series.status.as_str(),
                    run_url.map(|url| format!(" Report: {url}")).unwrap_or_default()
                );
                api.json(
                    Method::Post,
                    &api.repo_path(&format!("/issues/{number}/comments")),
                    Some(&json!({ "body": comment })),
                )
                .await?;
                api.json(
                    Method::Patch,
                    &api.repo_path(&format!("/issues/{number}")),
                    Some(&json!({ "state": "closed", "state_reason": "completed" })),
                )
                .await?;
                outcome.closed.push(number);
            }
            _ => {}
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests;
