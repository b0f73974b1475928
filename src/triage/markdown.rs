//! `triage.md`: the verdict, a table of the tiers, then per tier its failures grouped by suite,
//! each with its category and `file:line`.

use std::fmt::Write as _;

use super::{Category, TierReport, Triage};

/// Failures listed per tier (the rest are counted; `triage.json` has them all).
const LISTED: usize = 100;

fn inline(text: &str) -> String {
    text.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace(['\n', '\r'], " ")
}

fn duration(seconds: f64) -> String {
    if seconds >= 90.0 {
        format!("{}m {:02.0}s", (seconds / 60.0).floor(), seconds % 60.0)
    } else {
        format!("{seconds:.1}s")
    }
}

fn rate(tier: &TierReport) -> String {
    super::percent(tier.passed, tier.tests).unwrap_or_else(|| "—".to_owned())
}

fn icon(tier: &TierReport) -> &'static str {
    if tier.blocked {
        "⛔"
    } else if !tier.failures.is_empty() || !tier.unreadable.is_empty() {
        "❌"
    } else if tier.ran_nothing() {
        "⚠️"
    } else {
        "✅"
    }
}

/// Failing tests, and the failing suite nodes beside them (they are not tests).
fn failed(tier: &TierReport) -> String {
    match tier.suite_node_failures {
        0 => tier.failed.to_string(),
        1 => format!("{} (+1 suite node)", tier.failed),
        nodes => format!("{} (+{nodes} suite nodes)", tier.failed),
    }
}

/// The Markdown document.
pub(crate) fn render(triage: &Triage) -> String {
    let mut out = String::new();
    let headline = match triage.status {
        "passed" => "✅",
        "blocked" => "⛔",
        "incomplete" => "⚠️",
        _ => "❌",
    };
    let overall = super::percent(triage.passed, triage.tests)
        .map(|percent| format!(" ({percent})"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "## {headline} Test triage: {}/{} passed{overall} across {} tier(s)\n",
        triage.passed,
        triage.tests,
        triage.tiers.len()
    );
    let _ = writeln!(out, "**Verdict:** {}.\n", inline(&triage.verdict));
    out.push_str("| Tier | Passed | Pass rate | Failed | Skipped | Duration | Failures by category |\n");
    out.push_str("| --- | ---: | ---: | ---: | ---: | ---: | --- |\n");
    for tier in &triage.tiers {
        let categories: Vec<String> = tier
            .by_category()
            .iter()
            .map(|(category, count)| format!("{count} {}", category.as_str()))
            .collect();
        let _ = writeln!(
            out,
            "| {} {} | {}/{} | {} | {} | {} | {} | {} |",
            icon(tier),
            inline(&tier.name),
            tier.passed,
            tier.tests,
            rate(tier),
            failed(tier),
            tier.skipped,
            duration(tier.duration_seconds),
            if categories.is_empty() {
                "—".to_owned()
            } else {
                categories.join(", ")
            }
        );
    }
    out.push('\n');
    for tier in &triage.tiers {
        if tier.failures.is_empty() && tier.unreadable.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "### {} {}: {}/{} ({}){}\n",
            icon(tier),
            inline(&tier.name),
            tier.passed,
            tier.tests,
            rate(tier),
            if tier.blocked {
                " — setup failed, its tests did not run"
            } else {
                ""
            }
        );
        for problem in &tier.unreadable {
            let _ = writeln!(out, "> ⚠️ {}\n", inline(problem));
        }
        // Setup and infrastructure first: they explain the rest.
        let mut failures: Vec<_> = tier.failures.iter().collect();
        failures.sort_by_key(|failure| (failure.category, failure.suite.clone()));
        let hidden = failures.len().saturating_sub(LISTED);
        failures.truncate(LISTED);
        let mut suites: Vec<&str> = failures.iter().map(|failure| failure.suite.as_str()).collect();
        suites.dedup();
        let mut seen = std::collections::BTreeSet::new();
        for suite in suites {
            if !seen.insert(suite) {
                continue;
            }
            let _ = writeln!(out, "**{}**\n", inline(suite));
            out.push_str("| Test | Category | Where | Message |\n| --- | --- | --- | --- |\n");
            for failure in failures.iter().filter(|failure| failure.suite == suite) {
                let location = failure.file.as_ref().map_or_else(
                    || "—".to_owned(),
                    |file| {
                        format!(
                            "`{}{}`",
                            inline(file),
                            failure.line.map(|line| format!(":{line}")).unwrap_or_default()
                        )
                    },
                );
                let category = match failure.category {
                    Category::Setup => "⛔ setup",
                    Category::Infrastructure => "🏗️ infrastructure",
                    Category::Error => "💥 error",
                    Category::Assertion => "❌ assertion",
                    Category::Teardown => "🧹 teardown",
                };
                let message = failure
                    .message
                    .as_deref()
                    .map(|message| inline(&message.chars().take(200).collect::<String>()))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "| {} | {category} | {location} | {message} |",
                    inline(&failure.name)
                );
            }
            out.push('\n');
        }
        if hidden > 0 {
            let _ = writeln!(out, "… and {hidden} more failure(s), in `triage.json`.\n");
        }
        let locations: Vec<String> = tier
            .failures
            .iter()
            .filter_map(|failure| {
                let file = failure.file.as_ref()?;
                Some(format!(
                    "{file}{}",
                    failure.line.map(|line| format!(":{line}")).unwrap_or_default()
                ))
            })
            .take(LISTED)
            .collect();
        if !locations.is_empty() {
            let _ = writeln!(
                out,
                "<details><summary>Failure locations</summary>\n\n```text\n{}\n```\n\n</details>\n",
                locations.join("\n").replace("```", "ˋˋˋ")
            );
        }
    }
    out
}
