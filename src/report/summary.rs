//! The job summary (`summary.md`, appended to `GITHUB_STEP_SUMMARY`): a phase table against the
//! DD-TEST-002 targets, a mermaid gantt of every step (split below mermaid's 50,000 characters),
//! the critical path, failure diagnostics in collapsed sections, warnings. Kept under GitHub's
//! 1 MiB per step by a fixed degradation order, with a visible note of what was dropped.

use std::fmt::Write as _;

use chrono::DateTime;

use crate::model::{RunRecord, Status, StepRecord};

/// GitHub rejects step summaries over 1 MiB; leave room for what other steps append.
pub(crate) const SUMMARY_BUDGET: usize = 1024 * 1024 - 16 * 1024;
/// Mermaid refuses diagrams over 50,000 characters.
const MERMAID_LIMIT: usize = 49_000;

fn status_icon(status: Status) -> &'static str {
    match status {
        Status::Ok => "✅",
        Status::OverTarget => "⚠️",
        Status::Failed => "❌",
        Status::Cancelled => "⏹️",
        Status::Skipped => "⏭️",
    }
}

fn duration(seconds: f64) -> String {
    if seconds >= 90.0 {
        format!("{}m {:02.0}s", (seconds / 60.0).floor(), seconds % 60.0)
    } else {
        format!("{seconds:.1}s")
    }
}

/// Mermaid task names may not contain `:`, `#` or `;`.
fn mermaid_name(text: &str) -> String {
    text.chars()
        .map(|c| {
            if matches!(c, ':' | '#' | ';' | '\n' | '\r') {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// Markdown-safe inline text.
fn inline(text: &str) -> String {
    text.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace(['\n', '\r'], " ")
}

fn millis(timestamp: &str) -> Option<i64> {
    DateTime::parse_from_rfc3339(timestamp)
        .ok()
        .map(|time| time.timestamp_millis())
}

/// What to leave out to fit the budget, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Detail {
    Everything,
    ShortTails,
    NoTails,
    NoGantt,
    FirstFailuresOnly,
}

/// Render the summary of one or more runs (matrix jobs are merged one section per run).
/// `hidden_annotations` is how many annotations GitHub's display caps dropped.
pub(crate) fn render(runs: &[RunRecord], hidden_annotations: usize) -> String {
    let mut notes = Vec::new();
    for detail in [
        Detail::Everything,
        Detail::ShortTails,
        Detail::NoTails,
        Detail::NoGantt,
        Detail::FirstFailuresOnly,
    ] {
        let text = render_with(runs, hidden_annotations, detail, &notes);
        if text.len() <= SUMMARY_BUDGET {
            return text;
        }
        notes.push(match detail {
            Detail::Everything => "output tails shortened to 5 lines",
            Detail::ShortTails => "output tails left out (they are in timings.json and the step logs)",
            Detail::NoTails => "the timeline left out",
            Detail::NoGantt => "only the first 20 failures listed",
            Detail::FirstFailuresOnly => "truncated",
        });
    }
    let mut text = render_with(runs, hidden_annotations, Detail::FirstFailuresOnly, &notes);
    let mut cut = SUMMARY_BUDGET.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push_str("\n\n> ⚠️ Summary truncated at GitHub's 1 MiB limit.\n");
    text
}

fn render_with(runs: &[RunRecord], hidden_annotations: usize, detail: Detail, notes: &[&str]) -> String {
    let mut out = String::new();
    for run in runs {
        section(&mut out, run, runs.len() > 1, detail);
    }
    if hidden_annotations > 0 {
        let _ = writeln!(
            out,
            "> ℹ️ {hidden_annotations} more annotation(s) were not shown inline (GitHub shows at most 10 errors and 10 warnings per step); they are all above and in `junit.xml`.\n"
        );
    }
    if !notes.is_empty() {
        let _ = writeln!(
            out,
            "> ⚠️ To stay under GitHub's 1 MiB step-summary limit: {}.\n",
            notes.join("; ")
        );
    }
    out
}

fn section(out: &mut String, run: &RunRecord, merged: bool, detail: Detail) {
    let verdict = match run.status {
        Status::Ok => "within target",
        Status::OverTarget => "over target",
        Status::Failed => "failed",
        Status::Cancelled => "cancelled",
        Status::Skipped => "skipped",
    };
    let heading = if merged { "###" } else { "##" };
    let _ = writeln!(
        out,
        "{heading} {} hybrid-e2e{}: setup {} of {} budget — {verdict}",
        status_icon(run.status),
        if merged {
            format!(" `{}`", run.cluster_name)
        } else {
            String::new()
        },
        duration(run.setup_seconds),
        duration(run.total_target_seconds)
    );
    let mut facts = vec![
        format!("run `{}`", run.run_id),
        format!("cluster `{}`", run.cluster_name),
    ];
    if let (Some(engine), Some(version)) = (&run.engine, &run.engine_version) {
        facts.push(format!("{engine} {version}"));
    }
    if let Some(kind) = &run.kind_version {
        facts.push(kind.split_whitespace().take(2).collect::<Vec<_>>().join(" "));
    }
    if let Some(commit) = &run.commit {
        facts.push(format!("commit `{}`", &commit[..commit.len().min(12)]));
    }
    let _ = writeln!(out, "\n{}\n", facts.join(" · "));
    if let (Some(class), Some(message)) = (run.failure_class, &run.message) {
        let whose = match class {
            crate::model::FailureClass::Infrastructure => {
                "**Infrastructure** failure (runner, engine, Kind, disk, network): retry or fix the runner"
            }
            crate::model::FailureClass::Application => {
                "**Application** failure (the project): fix the code or the config"
            }
        };
        let _ = writeln!(out, "{whose}. {}\n", inline(message));
    }
    let _ = writeln!(
        out,
        "| Phase | Status | Duration | Target | Share of the {} budget |",
        duration(run.total_target_seconds)
    );
    let _ = writeln!(out, "| --- | --- | ---: | ---: | --- |");
    for phase in &run.phases {
        let share = if run.total_target_seconds > 0.0 {
            phase.duration_seconds / run.total_target_seconds
        } else {
            0.0
        };
        let bar = "█".repeat((share * 20.0).round().clamp(0.0, 20.0) as usize);
        let target = phase.target_seconds.map(duration).unwrap_or_else(|| "—".to_owned());
        let time = if phase.status == Status::Skipped {
            "—".to_owned()
        } else {
            duration(phase.duration_seconds)
        };
        let _ = writeln!(
            out,
            "| {} | {} {} | {time} | {target} | {bar} {:.0}% |",
            phase.name,
            status_icon(phase.status),
            phase.status.as_str(),
            share * 100.0
        );
    }
    let _ = writeln!(
        out,
        "| **setup** | {} | **{}** | **{}** | {:.0}% |\n",
        status_icon(run.status),
        duration(run.setup_seconds),
        duration(run.total_target_seconds),
        if run.total_target_seconds > 0.0 {
            run.setup_seconds / run.total_target_seconds * 100.0
        } else {
            0.0
        }
    );
    critical_path(out, run);
    if detail < Detail::NoGantt {
        gantt(out, run);
    }
    failures(out, run, detail);
    if !run.warnings.is_empty() {
        let _ = writeln!(
            out,
            "<details><summary>⚠️ {} warning(s)</summary>\n",
            run.warnings.len()
        );
        for warning in &run.warnings {
            let _ = writeln!(out, "- {}", inline(warning));
        }
        let _ = writeln!(out, "\n</details>\n");
    }
}

/// Phases run one after another; within a phase, the longest step bounds it (a deploy group's
/// time includes waiting for the groups it depends on, so the last group of a chain ends it).
/// A cancelled step bounds nothing: it was stopped, not waited for.
fn critical_path(out: &mut String, run: &RunRecord) {
    let path: Vec<String> = run
        .phases
        .iter()
        .filter(|phase| phase.target_seconds.is_some())
        .filter_map(|phase| {
            let longest = phase
                .steps
                .iter()
                .filter(|step| step.status != Status::Cancelled)
                .max_by(|a, b| a.duration_seconds.total_cmp(&b.duration_seconds))?;
            Some(format!(
                "`{}/{}` {}",
                phase.name,
                longest.name,
                duration(longest.duration_seconds)
            ))
        })
        .collect();
    if !path.is_empty() {
        let _ = writeln!(out, "**Critical path:** {}\n", path.join(" → "));
    }
}

fn gantt(out: &mut String, run: &RunRecord) {
    let mut lines = Vec::new();
    for phase in &run.phases {
        let tasks: Vec<String> = phase
            .steps
            .iter()
            .filter_map(|step| {
                let start = millis(step.started_at.as_deref()?)?;
                let end = millis(step.finished_at.as_deref()?)?.max(start + 1);
                let tag = match step.status {
                    Status::Failed => "crit, ",
                    Status::Ok => "done, ",
                    _ => "",
                };
                Some(format!(
                    "    {} ({}) :{tag}{start}, {end}",
                    mermaid_name(&step.name),
                    duration(step.duration_seconds)
                ))
            })
            .collect();
        if !tasks.is_empty() {
            lines.push(format!("    section {}", mermaid_name(&phase.name)));
            lines.extend(tasks);
        }
    }
    if lines.is_empty() {
        return;
    }
    let header = "```mermaid\ngantt\n    dateFormat x\n    axisFormat %M:%S\n";
    let mut block = String::from(header);
    let mut blocks = 1;
    let _ = writeln!(out, "<details open><summary>Timeline</summary>\n");
    for line in lines {
        if block.len() + line.len() + 8 > MERMAID_LIMIT {
            let _ = writeln!(out, "{block}```\n");
            block = String::from(header);
            blocks += 1;
        }
        block.push_str(&line);
        block.push('\n');
    }
    let _ = writeln!(out, "{block}```\n");
    if blocks > 1 {
        let _ = writeln!(
            out,
            "_The timeline is split into {blocks} charts (mermaid's 50,000-character limit)._\n"
        );
    }
    let _ = writeln!(out, "</details>\n");
}

fn failures(out: &mut String, run: &RunRecord, detail: Detail) {
    let failed: Vec<(&str, &StepRecord)> = run
        .phases
        .iter()
        .flat_map(|phase| phase.steps.iter().map(move |step| (phase.name.as_str(), step)))
        .filter(|(_, step)| step.status == Status::Failed)
        .collect();
    let limit = if detail >= Detail::FirstFailuresOnly {
        20
    } else {
        usize::MAX
    };
    for (phase, step) in failed.iter().take(limit) {
        let class = step.failure_class.map_or("unknown", |class| class.as_str());
        let _ = writeln!(
            out,
            "<details><summary>❌ <code>{phase}/{}</code> [{class}] {}</summary>\n",
            inline(&step.name),
            inline(step.message.as_deref().unwrap_or("failed"))
        );
        if let Some(hint) = &step.hint {
            let _ = writeln!(out, "**Hint:** {}\n", inline(hint));
        }
        if let Some(file) = &step.file {
            let line = step.line.map(|line| format!(":{line}")).unwrap_or_default();
            let _ = writeln!(out, "**File:** `{}{line}`\n", inline(file));
        }
        let keep = match detail {
            Detail::Everything => step.tail.len(),
            Detail::ShortTails => 5,
            _ => 0,
        };
        if keep > 0 && !step.tail.is_empty() {
            let tail = &step.tail[step.tail.len().saturating_sub(keep)..];
            let _ = writeln!(out, "```text\n{}\n```\n", tail.join("\n").replace("```", "ˋˋˋ"));
        }
        if let Some(log) = &step.log {
            let _ = writeln!(out, "Full output: `{log}` in the report directory.\n");
        }
        let _ = writeln!(out, "</details>\n");
    }
    if failed.len() > limit {
        let _ = writeln!(
            out,
            "… and {} more failed step(s), listed in `junit.xml`.\n",
            failed.len() - limit
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    #[test]
    fn snapshots() {
        insta::assert_snapshot!("summary_green", render(&[fixtures::green()], 0));
        insta::assert_snapshot!("summary_over_target", render(&[fixtures::over_target()], 0));
        insta::assert_snapshot!("summary_build_failure", render(&[fixtures::build_failure()], 0));
        insta::assert_snapshot!("summary_deploy_failure", render(&[fixtures::deploy_failure()], 0));
        insta::assert_snapshot!("summary_cancelled", render(&[fixtures::cancelled()], 3));
        insta::assert_snapshot!(
            "summary_merged",
            render(&[fixtures::green(), fixtures::over_target()], 0)
        );
    }

    #[test]
    fn a_huge_run_stays_under_every_limit() {
        let text = render(&[fixtures::huge()], 480);
        assert!(text.len() <= SUMMARY_BUDGET, "{} bytes", text.len());
        for block in text.split("```mermaid").skip(1) {
            let diagram = block.split("```").next().expect("diagram");
            assert!(
                diagram.len() < 50_000,
                "a mermaid diagram of {} characters",
                diagram.len()
            );
        }
        assert!(text.contains("split into"), "the timeline is split");
        assert!(
            text.contains("To stay under GitHub's 1 MiB"),
            "the degradation is announced"
        );
        let head: String = text.lines().take(12).collect::<Vec<_>>().join("\n");
        insta::assert_snapshot!("summary_huge_head", head);
    }
}
