use super::*;
use crate::regress::analysis::{AnalysisOptions, analyze};
use crate::regress::document::ChartEntry;
use crate::regress::fixtures::{self, Change};

fn options() -> AnalysisOptions {
    AnalysisOptions {
        stale_after_days: 30.0,
        ..AnalysisOptions::default()
    }
}

fn with_charts(mut document: RegressDocument) -> RegressDocument {
    let mut phases: Vec<String> = document
        .series
        .iter()
        .filter(|entry| entry.step.is_none())
        .map(|entry| entry.phase.clone())
        .collect();
    phases.dedup();
    document.charts = phases
        .into_iter()
        .map(|phase| ChartEntry {
            file: format!("charts/{phase}.svg"),
            phase,
        })
        .collect();
    document
}

/// Three services; the second one's `load/api` is 60 % slower for its last two nights, and its last
/// run's Dockerfile lint found a `dnf update`.
fn regressed() -> RegressDocument {
    let change = Change {
        service: 1,
        phase: "load",
        step: "api",
        night: 38,
        factor: 1.6,
    };
    let mut runs = fixtures::fleet(3, 40, 11, &[change]);
    if let Some(last) = runs
        .iter_mut()
        .rev()
        .find(|run| run.service == fixtures::service_name(1))
    {
        last.findings = 2;
    }
    with_charts(analyze(&runs, &options()).document)
}

/// A mermaid `xychart-beta` as the grammar of mermaid's `xychart.jison` reads it: an optional
/// init directive, the keyword, a quoted title, `x-axis "title" [categories]`, `y-axis "title"
/// min --> max`, and `line [numbers]`, each line as long as the categories.
fn check_xychart(block: &str) -> Result<usize, String> {
    let mut lines = block.lines().filter(|line| !line.trim().is_empty());
    let mut first = lines.next().ok_or("empty")?.trim();
    if first.starts_with("%%{init:") {
        let json = first
            .strip_prefix("%%{init:")
            .and_then(|rest| rest.strip_suffix("}%%"))
            .ok_or("bad directive")?;
        serde_json::from_str::<serde_json::Value>(json).map_err(|error| format!("directive: {error}"))?;
        first = lines.next().ok_or("no diagram")?.trim();
    }
    if first != "xychart-beta" {
        return Err(format!("not an xychart: {first}"));
    }
    let quoted = |text: &str| -> Result<String, String> {
        let rest = text.trim().strip_prefix('"').ok_or(format!("unquoted: {text}"))?;
        let end = rest.find('"').ok_or("unterminated string")?;
        Ok(rest[end + 1..].to_owned())
    };
    let numbers = |text: &str| -> Result<usize, String> {
        let inner = text
            .trim()
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .ok_or("no [ ]")?;
        for value in inner.split(',') {
            value
                .trim()
                .parse::<f64>()
                .map_err(|_| format!("not a number: {value}"))?;
        }
        Ok(inner.split(',').count())
    };
    let (mut categories, mut series) = (0, 0);
    for line in lines {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("title ") {
            if !quoted(rest)?.is_empty() {
                return Err("text after the title".to_owned());
            }
        } else if let Some(rest) = line.strip_prefix("x-axis ") {
            let rest = quoted(rest)?;
            let inner = rest
                .trim()
                .strip_prefix('[')
                .and_then(|t| t.strip_suffix(']'))
                .ok_or("x-axis [ ]")?;
            categories = inner.split(',').count();
            for category in inner.split(',') {
                if !quoted(category)?.is_empty() {
                    return Err(format!("category {category}"));
                }
            }
        } else if let Some(rest) = line.strip_prefix("y-axis ") {
            let range = quoted(rest)?;
            let (low, high) = range.split_once("-->").ok_or("y-axis range")?;
            low.trim().parse::<f64>().map_err(|_| "y min")?;
            high.trim().parse::<f64>().map_err(|_| "y max")?;
        } else if let Some(rest) = line.strip_prefix("line ") {
            if numbers(rest)? != categories {
                return Err(format!(
                    "a line of {} values for {categories} categories",
                    numbers(rest)?
                ));
            }
            series += 1;
        } else {
            return Err(format!("unknown statement: {line}"));
        }
    }
    Ok(series)
}

/// Every mermaid block of `markdown` through mermaid's own parser (`tests/peers/mermaid`, installed
/// by `.ci/test.sh`): `Some(blocks parsed)`, or `None` when the peer is not installed (a failure
/// when `HYBRID_E2E_REQUIRE_PEERS=1`).
fn mermaid_peer(markdown: &str) -> Option<usize> {
    use std::io::Write as _;
    let dir = crate::test_support::repo_path("tests/peers/mermaid");
    if !dir.join("node_modules").is_dir() {
        assert!(
            std::env::var("HYBRID_E2E_REQUIRE_PEERS").map_or(true, |value| value != "1"),
            "the mermaid peer is missing: npm ci in tests/peers/mermaid (.ci/test.sh does)"
        );
        eprintln!("skipping the mermaid peer: tests/peers/mermaid is not installed");
        return None;
    }
    let mut child = std::process::Command::new("node")
        .arg("parse.mjs")
        .current_dir(&dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("node runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(markdown.as_bytes())
        .expect("write");
    let output = child.wait_with_output().expect("peer ends");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success() && !text.contains("FAIL"),
        "mermaid rejects a chart:\n{text}"
    );
    text.trim().strip_prefix("ok ").and_then(|count| count.parse().ok())
}

fn mermaid_blocks(text: &str) -> Vec<&str> {
    text.split("```mermaid\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap_or_default())
        .collect()
}

#[test]
fn snapshot_of_a_regression() {
    let document = regressed();
    assert_eq!(document.verdict, Verdict::Regression);
    let text = render(&document);
    insta::assert_snapshot!("regress_md_regression", text);
    let blocks = mermaid_blocks(&text);
    assert_eq!(blocks.len(), 5, "one chart per phase and the setup total");
    for block in blocks {
        assert!(block.len() < MERMAID_LIMIT);
        assert_eq!(check_xychart(block), Ok(4), "three services and the target:\n{block}");
    }
    if let Some(parsed) = mermaid_peer(&text) {
        assert_eq!(parsed, 5);
    }
}

#[test]
fn snapshot_of_a_quiet_night_and_of_too_little_history() {
    let runs = fixtures::fleet(2, 30, 12, &[]);
    let quiet = with_charts(analyze(&runs, &options()).document);
    assert_eq!(quiet.verdict, Verdict::Ok);
    insta::assert_snapshot!("regress_md_ok", render(&quiet));
    if let Some(parsed) = mermaid_peer(&render(&quiet)) {
        assert_eq!(parsed, 5);
    }
    let young = analyze(&fixtures::fleet(2, 5, 13, &[]), &options()).document;
    assert_eq!(young.verdict, Verdict::InsufficientData);
    insta::assert_snapshot!("regress_md_insufficient", render(&young));
}

#[test]
fn shorter_series_are_padded_and_said_so() {
    let mut runs = fixtures::fleet(2, 20, 14, &[]);
    runs.retain(|run| run.service == fixtures::service_name(0) || run.run_id.as_str() >= "r0012");
    let document = analyze(&runs, &options()).document;
    let text = render(&document);
    assert!(text.contains("(8 runs)"), "{text}");
    for block in mermaid_blocks(&text) {
        assert_eq!(check_xychart(block), Ok(3));
    }
    if let Some(parsed) = mermaid_peer(&text) {
        assert_eq!(parsed, 5);
    }
}

#[test]
fn a_huge_fleet_stays_under_the_summary_limit_and_says_what_it_dropped() {
    let base = regressed();
    let mut document = base.clone();
    for copy in 0..400 {
        for entry in &base.series {
            let mut entry = entry.clone();
            entry.service = format!("{}-{copy:03}-{}", entry.service, "x".repeat(200));
            document.series.push(entry);
        }
        for service in &base.services {
            let mut service = service.clone();
            service.service = format!("{}-{copy:03}", service.service);
            document.services.push(service);
        }
    }
    let text = render(&document);
    assert!(text.len() <= SUMMARY_BUDGET, "{} bytes", text.len());
    assert!(
        text.contains("To stay under GitHub's 1 MiB"),
        "the degradation is announced"
    );
    for block in mermaid_blocks(&text) {
        assert!(block.len() < MERMAID_LIMIT);
        assert!(check_xychart(block).is_ok());
    }
}

#[test]
fn the_checker_rejects_what_mermaid_rejects() {
    if mermaid_peer("```mermaid\nxychart-beta\n    x-axis \"r\" [\"1\"]\n    line [1]\n```\n").is_some() {
        let bad = std::panic::catch_unwind(|| mermaid_peer("```mermaid\nxychart-beta\n    line [1, oops]\n```\n"));
        assert!(bad.is_err(), "the peer rejects a bad chart");
    }
    assert!(check_xychart("xychart-beta\n    x-axis \"a\" [\"1\", \"2\"]\n    line [1, 2, 3]\n").is_err());
    assert!(check_xychart("xychart-beta\n    title unquoted\n").is_err());
    assert!(check_xychart("graph TD\n").is_err());
    assert!(check_xychart("xychart-beta\n    bar [1]\n").is_err());
}
