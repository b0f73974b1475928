//! `regress.md` and the job summary, rendered from the [`RegressDocument`]: a verdict line, the
//! fleet table, a table per phase, the top regressed steps and a mermaid `xychart-beta` per
//! phase (the SVG charts sit next to it in the output directory). Kept under GitHub's 1 MiB
//! per step by a fixed degradation order, with a visible note of what was dropped.

use std::fmt::Write as _;

use super::analysis::phase_rank;
use super::document::{RegressDocument, SeriesEntry, ServiceEntry};
use super::stats::{Rule, Verdict};
use crate::model::Status;
use crate::report::summary::SUMMARY_BUDGET;

/// Mermaid refuses diagrams over 50,000 characters.
pub(crate) const MERMAID_LIMIT: usize = 49_000;
/// Services drawn in one inline chart (xychart-beta has no legend: one colour square each).
const LINES_PER_MERMAID_CHART: usize = 7;
/// Regressed steps listed.
const TOP_STEPS: usize = 10;
/// Colours of the inline charts and the squares that name them (the target line is black).
const MERMAID_COLOURS: [(&str, &str); LINES_PER_MERMAID_CHART] = [
    ("#1f77b4", "🟦"),
    ("#ff7f0e", "🟧"),
    ("#2ca02c", "🟩"),
    ("#9467bd", "🟪"),
    ("#8c564b", "🟫"),
    ("#d4b000", "🟨"),
    ("#d62728", "🟥"),
];

/// What to leave out to fit the budget, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Detail {
    Everything,
    FlaggedRowsOnly,
    NoCharts,
}

fn icon(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Regression => "🔴",
        Verdict::Improvement => "🟢",
        Verdict::Ok => "✅",
        Verdict::InsufficientData => "⚪",
    }
}

fn seconds(value: Option<f64>) -> String {
    match value {
        None => "–".to_owned(),
        Some(value) if value >= 90.0 => format!("{}m {:02.0}s", (value / 60.0).floor(), value % 60.0),
        Some(value) => format!("{value:.1}s"),
    }
}

fn percent(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "–".to_owned(), |ratio| format!("{:+.1}%", ratio * 100.0))
}

/// Text in a table cell or a code span: no `|`, `<`, `>`, backticks or line breaks.
fn inline(text: &str) -> String {
    text.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('`', "ˋ")
        .replace(['\n', '\r'], " ")
}

fn code(text: &str) -> String {
    format!("`{}`", inline(text))
}

fn status_cell(entry: &SeriesEntry) -> String {
    let rule = match entry.rule {
        Some(Rule::ChangePoint) => " (change point)",
        Some(Rule::Threshold) => " (threshold)",
        None => "",
    };
    format!("{} {}{rule}", icon(entry.status), entry.status.as_str())
}

/// The one-line verdict.
pub(crate) fn verdict_line(document: &RegressDocument) -> String {
    let flagged: Vec<&SeriesEntry> = document
        .series
        .iter()
        .filter(|entry| entry.status == document.verdict)
        .collect();
    let names = |entries: &[&SeriesEntry]| {
        let mut shown: Vec<String> = entries.iter().take(5).map(|entry| entry.label()).collect();
        if entries.len() > 5 {
            shown.push(format!("{} more", entries.len() - 5));
        }
        shown.join(", ")
    };
    match document.verdict {
        Verdict::Regression => format!(
            "{} regression in {} series: {}",
            icon(Verdict::Regression),
            flagged.len(),
            names(&flagged)
        ),
        Verdict::Improvement => format!(
            "{} improvement in {} series, no regression: {}",
            icon(Verdict::Improvement),
            flagged.len(),
            names(&flagged)
        ),
        Verdict::Ok => format!(
            "{} no regression: {} series within runner noise",
            icon(Verdict::Ok),
            document.series.len()
        ),
        Verdict::InsufficientData => format!(
            "{} insufficient data: fewer than {} completed runs before the current one",
            icon(Verdict::InsufficientData),
            document.params.defaults.min_runs
        ),
    }
}

/// Render the report, degrading to stay under the job-summary budget.
pub(crate) fn render(document: &RegressDocument) -> String {
    let mut notes: Vec<&str> = Vec::new();
    for detail in [Detail::Everything, Detail::FlaggedRowsOnly, Detail::NoCharts] {
        let text = render_with(document, detail, &notes);
        if text.len() <= SUMMARY_BUDGET {
            return text;
        }
        notes.push(match detail {
            Detail::Everything => "the phase tables list only regressed and improved series",
            Detail::FlaggedRowsOnly => "the inline charts left out (the SVG charts are in the report directory)",
            Detail::NoCharts => "truncated",
        });
    }
    let mut text = render_with(document, Detail::NoCharts, &notes);
    let mut cut = SUMMARY_BUDGET.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push_str("\n\n> ⚠️ Report truncated at GitHub's 1 MiB limit; `regress.json` has everything.\n");
    text
}

fn render_with(document: &RegressDocument, detail: Detail, notes: &[&str]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## hybrid-e2e regress: {}\n", verdict_line(document));
    facts(&mut out, document);
    if !notes.is_empty() {
        let _ = writeln!(
            out,
            "> ⚠️ To stay under GitHub's 1 MiB step-summary limit: {}.\n",
            notes.join("; ")
        );
    }
    fleet(&mut out, &document.services);
    phases(&mut out, document, detail);
    top_steps(&mut out, document);
    if detail < Detail::NoCharts {
        charts(&mut out, document);
    }
    skipped(&mut out, document);
    out
}

fn facts(out: &mut String, document: &RegressDocument) {
    let p = &document.params.defaults;
    let history = &document.history;
    let mut parts = vec![
        format!("{} service(s)", document.services.len()),
        format!("{} run(s) analyzed of {}", history.runs_analyzed, history.runs),
        format!(
            "rolling median of {} runs; breach above max({}·MAD, {:.0}%, {:.0}s) on {} runs in a row",
            p.window,
            p.k,
            p.min_ratio * 100.0,
            p.floor_seconds,
            p.consecutive
        ),
    ];
    if p.change_point.is_some() {
        parts.push("change-point test on".to_owned());
    }
    if !document.params.phases.is_empty() {
        let phases: Vec<&str> = document.params.phases.keys().map(String::as_str).collect();
        parts.push(format!("own parameters for {}", phases.join(", ")));
    }
    let group_by = if document.group_by.is_empty() {
        "nothing".to_owned()
    } else {
        document.group_by.join(", ")
    };
    parts.push(format!("series split by {group_by}"));
    let _ = writeln!(out, "{}\n", parts.join(" · "));
}

/// Services with more than one group (engine, runner, branch): their rows name the group.
fn several_groups(services: &[ServiceEntry]) -> std::collections::HashSet<&str> {
    let mut seen = std::collections::HashSet::new();
    services
        .iter()
        .filter(|service| !seen.insert(service.service.as_str()))
        .map(|service| service.service.as_str())
        .collect()
}

/// `service`, plus the group parts when the service has several groups.
fn name_with_group(service: &str, parts: [&Option<String>; 3], several: &std::collections::HashSet<&str>) -> String {
    let mut name = code(service);
    if several.contains(service) {
        for extra in parts.into_iter().flatten() {
            let _ = write!(name, " {}", inline(extra));
        }
    }
    name
}

fn fleet(out: &mut String, services: &[ServiceEntry]) {
    if services.is_empty() {
        let _ = writeln!(out, "No runs to compare yet.\n");
        return;
    }
    let _ = writeln!(out, "### Fleet\n");
    let _ = writeln!(
        out,
        "| service | setup median | p95 | last | target | status | Dockerfile findings |\n| --- | ---: | ---: | ---: | ---: | --- | ---: |"
    );
    let several = several_groups(services);
    for service in services {
        let name = name_with_group(
            &service.service,
            [&service.branch, &service.engine, &service.runner],
            &several,
        );
        let mut status = format!("{} {}", icon(service.status), service.status.as_str());
        if service.regressions > 1 {
            let _ = write!(status, " ({} series)", service.regressions);
        }
        match service.last_run_status {
            Status::Failed => status.push_str(" · ❌ last run failed"),
            Status::Cancelled => status.push_str(" · ⏹️ last run cancelled"),
            _ => {}
        }
        if let (Some(last), Some(target)) = (service.setup_last_seconds, service.setup_target_seconds)
            && last > target
        {
            status.push_str(" · ⚠️ over target");
        }
        let findings = match service.dockerfile_findings {
            0 => "0".to_owned(),
            count => format!("⚠️ {count}"),
        };
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {status} | {findings} |",
            seconds(service.setup_median_seconds),
            seconds(service.setup_p95_seconds),
            seconds(service.setup_last_seconds),
            seconds(service.setup_target_seconds),
        );
    }
    out.push('\n');
}

/// A series' service, plus its group when the service has several.
fn row_name(entry: &SeriesEntry, several: &std::collections::HashSet<&str>) -> String {
    name_with_group(&entry.service, [&entry.branch, &entry.engine, &entry.runner], several)
}

fn phases(out: &mut String, document: &RegressDocument, detail: Detail) {
    let mut names: Vec<&str> = document
        .series
        .iter()
        .filter(|entry| entry.step.is_none() && entry.phase != "setup")
        .map(|entry| entry.phase.as_str())
        .collect();
    names.sort_by_key(|name| (phase_rank(name), *name));
    names.dedup();
    if names.is_empty() {
        return;
    }
    let _ = writeln!(out, "### Phases\n");
    let several = several_groups(&document.services);
    for phase in names {
        let rows: Vec<&SeriesEntry> = document
            .series
            .iter()
            .filter(|entry| entry.step.is_none() && entry.phase == phase)
            .filter(|entry| {
                detail == Detail::Everything || matches!(entry.status, Verdict::Regression | Verdict::Improvement)
            })
            .collect();
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "#### {}\n\n| service | current | median | change | target | status |\n| --- | ---: | ---: | ---: | ---: | --- |",
            inline(phase)
        );
        for entry in rows {
            let over = match (entry.current_seconds, entry.target_seconds) {
                (Some(current), Some(target)) if current > target => " ⚠️",
                _ => "",
            };
            let _ = writeln!(
                out,
                "| {} | {}{over} | {} | {} | {} | {} |",
                row_name(entry, &several),
                seconds(entry.current_seconds),
                seconds(entry.median_seconds),
                percent(entry.change_ratio),
                seconds(entry.target_seconds),
                status_cell(entry)
            );
        }
        out.push('\n');
    }
}

fn top_steps(out: &mut String, document: &RegressDocument) {
    let several = several_groups(&document.services);
    let mut regressed: Vec<&SeriesEntry> = document
        .series
        .iter()
        .filter(|entry| entry.step.is_some() && entry.status == Verdict::Regression)
        .collect();
    regressed.sort_by(|a, b| {
        let change = |entry: &SeriesEntry| {
            entry
                .current_seconds
                .zip(entry.median_seconds)
                .map_or(0.0, |(current, median)| current - median)
        };
        change(b).total_cmp(&change(a)).then_with(|| a.label().cmp(&b.label()))
    });
    let _ = writeln!(out, "### Top regressed steps\n");
    if regressed.is_empty() {
        let _ = writeln!(out, "No step regressed.\n");
        return;
    }
    let _ = writeln!(
        out,
        "| service | step | current | median | change | runs in a row | confirmed by |\n| --- | --- | ---: | ---: | ---: | ---: | --- |"
    );
    for entry in regressed.iter().take(TOP_STEPS) {
        let rule = match (entry.rule, &entry.change_point) {
            (Some(Rule::ChangePoint), Some(change)) => format!(
                "change point {} runs ago (p = {:.1e})",
                change.runs_after, change.p_value
            ),
            _ => "threshold".to_owned(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {rule} |",
            row_name(entry, &several),
            code(&format!(
                "{}/{}",
                entry.phase,
                entry.step.as_deref().unwrap_or_default()
            )),
            seconds(entry.current_seconds),
            seconds(entry.median_seconds),
            percent(entry.change_ratio),
            entry.consecutive_breaches,
        );
    }
    if regressed.len() > TOP_STEPS {
        let _ = writeln!(
            out,
            "\n… and {} more regressed step(s) in `regress.json`.",
            regressed.len() - TOP_STEPS
        );
    }
    out.push('\n');
}

fn charts(out: &mut String, document: &RegressDocument) {
    let mut phases: Vec<&str> = document
        .series
        .iter()
        .filter(|entry| entry.step.is_none())
        .map(|entry| entry.phase.as_str())
        .collect();
    phases.sort_by_key(|name| (phase_rank(name), *name));
    phases.dedup();
    if phases.is_empty() {
        return;
    }
    let _ = writeln!(out, "### Trends\n");
    let several = several_groups(&document.services);
    for phase in phases {
        let mut lines: Vec<&SeriesEntry> = document
            .series
            .iter()
            .filter(|entry| entry.step.is_none() && entry.phase == phase && !entry.recent_seconds.is_empty())
            .collect();
        if lines.is_empty() {
            continue;
        }
        lines.sort_by(|a, b| {
            a.status
                .rank()
                .cmp(&b.status.rank())
                .then_with(|| b.change_ratio.unwrap_or(0.0).total_cmp(&a.change_ratio.unwrap_or(0.0)))
        });
        let more = lines.len().saturating_sub(LINES_PER_MERMAID_CHART);
        lines.truncate(LINES_PER_MERMAID_CHART);
        let chart = mermaid_chart(phase, &lines);
        let svg = document.charts.iter().find(|chart| chart.phase == phase);
        let _ = writeln!(out, "#### {}\n", inline(phase));
        if chart.len() < MERMAID_LIMIT {
            let _ = writeln!(out, "```mermaid\n{chart}```\n");
        } else {
            let _ = writeln!(
                out,
                "_The inline chart is over mermaid's 50,000 characters; see the SVG._\n"
            );
        }
        let mut legend: Vec<String> = lines
            .iter()
            .zip(MERMAID_COLOURS)
            .map(|(entry, (_, square))| {
                let runs = if entry.recent_seconds.len() < longest(&lines) {
                    format!(" ({} runs)", entry.recent_seconds.len())
                } else {
                    String::new()
                };
                format!("{square} {}{runs}", row_name(entry, &several))
            })
            .collect();
        if let Some(target) = lines[0].target_seconds {
            legend.push(format!("⬛ target {}", seconds(Some(target))));
        }
        if more > 0 {
            legend.push(format!("{more} more service(s) in the SVG"));
        }
        if let Some(svg) = svg {
            legend.push(format!("SVG: `{}` in the report directory", inline(&svg.file)));
        }
        let _ = writeln!(out, "{}\n", legend.join(" · "));
    }
}

fn longest(lines: &[&SeriesEntry]) -> usize {
    lines.iter().map(|entry| entry.recent_seconds.len()).max().unwrap_or(0)
}

/// One `xychart-beta`: the newest runs of each line (shorter lines are padded on the left with
/// their first value and say so in the legend), the first line's target as a black line.
pub(crate) fn mermaid_chart(phase: &str, lines: &[&SeriesEntry]) -> String {
    let points = longest(lines).max(1);
    let target = lines.first().and_then(|entry| entry.target_seconds);
    let mut top = lines
        .iter()
        .flat_map(|entry| entry.recent_seconds.iter().copied())
        .chain(target)
        .fold(0.0_f64, f64::max);
    top = nice_ceiling(top * 1.1);
    let mut palette: Vec<&str> = MERMAID_COLOURS.iter().take(lines.len()).map(|(hex, _)| *hex).collect();
    palette.push("#000000");
    let mut chart = format!(
        "%%{{init: {{\"themeVariables\": {{\"xyChart\": {{\"plotColorPalette\": \"{}\"}}}}}}}}%%\nxychart-beta\n",
        palette.join(", ")
    );
    let title: String = phase.chars().filter(|c| !matches!(c, '"' | '\n' | '\r')).collect();
    let _ = writeln!(chart, "    title \"{title}: seconds per run, last {points} runs\"");
    let labels: Vec<String> = (1..=points).map(|index| format!("\"{index}\"")).collect();
    let _ = writeln!(chart, "    x-axis \"run, oldest first\" [{}]", labels.join(", "));
    let _ = writeln!(chart, "    y-axis \"seconds\" 0 --> {top}");
    for entry in lines {
        let values = &entry.recent_seconds;
        let pad = points - values.len();
        let first = values.first().copied().unwrap_or(0.0);
        let numbers: Vec<String> = std::iter::repeat_n(first, pad)
            .chain(values.iter().copied())
            .map(|value| format!("{value:.1}"))
            .collect();
        let _ = writeln!(chart, "    line [{}]", numbers.join(", "));
    }
    if let Some(target) = target {
        let numbers: Vec<String> = (0..points).map(|_| format!("{target:.1}")).collect();
        let _ = writeln!(chart, "    line [{}]", numbers.join(", "));
    }
    chart
}

/// A round number at or above `value` for an axis end (1, 2 or 5 × a power of ten).
fn nice_ceiling(value: f64) -> f64 {
    if !(value.is_finite() && value > 0.0) {
        return 1.0;
    }
    let power = 10f64.powf(value.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|step| step * power)
        .find(|candidate| *candidate >= value)
        .unwrap_or(10.0 * power)
}

fn skipped(out: &mut String, document: &RegressDocument) {
    let history = &document.history;
    let mut notes = Vec::new();
    if history.stale_groups > 0 {
        notes.push(format!(
            "{} group(s) without a run in the {} days before the newest run left out",
            history.stale_groups, history.stale_after_days
        ));
    }
    if history.other_config_runs > 0 {
        notes.push(format!(
            "{} run(s) of an earlier config file left out (`--group-by` without `config-hash` keeps them)",
            history.other_config_runs
        ));
    }
    for note in &notes {
        let _ = writeln!(out, "> ℹ️ {note}.\n");
    }
    if history.skipped_total == 0 {
        return;
    }
    let _ = writeln!(
        out,
        "<details><summary>⚠️ {} input(s) skipped</summary>\n",
        history.skipped_total
    );
    for skipped in history.skipped.iter().take(50) {
        let _ = writeln!(out, "- {}: {}", code(&skipped.source), inline(&skipped.reason));
    }
    if history.skipped_total > 50 {
        let _ = writeln!(out, "- … {} more in `regress.json`", history.skipped_total - 50);
    }
    let _ = writeln!(out, "\n</details>\n");
}

#[cfg(test)]
mod tests;
