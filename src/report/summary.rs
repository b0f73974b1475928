//! The job summary (`summary.md`, appended to `GITHUB_STEP_SUMMARY`, and the check run's
//! summary): the verdict, failure diagnostics in collapsed sections, a phase table against the
//! DD-TEST-002 targets, the critical path, a mermaid gantt of every step (split below mermaid's
//! 50,000 characters), warnings; for matrix jobs a fleet table first. Built from whole blocks
//! and kept under a byte budget (GitHub's 1 MiB per step summary, 65,535 bytes per check run)
//! by a fixed degradation order, with a visible note of what was dropped.

use std::fmt::Write as _;

use chrono::DateTime;

use crate::model::{DockerfileFindings, FailureClass, RunRecord, Status, StepRecord};

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

const DETAILS: [Detail; 5] = [
    Detail::Everything,
    Detail::ShortTails,
    Detail::NoTails,
    Detail::NoGantt,
    Detail::FirstFailuresOnly,
];

/// Render the summary of one or more runs (matrix jobs: a fleet table, then one section per
/// run) within GitHub's step-summary budget. `hidden_annotations` is how many annotations
/// GitHub's display caps dropped.
#[cfg(test)]
pub(crate) fn render(runs: &[RunRecord], hidden_annotations: usize) -> String {
    render_within(runs, hidden_annotations, SUMMARY_BUDGET)
}

/// [`render`] with notes shown first (report directories a merge could not read).
pub(crate) fn render_noted(runs: &[RunRecord], hidden_annotations: usize, notes: &[String]) -> String {
    render_budgeted(runs, hidden_annotations, notes, SUMMARY_BUDGET)
}

/// Render within `budget` bytes: the verdict, failures and the phase table first; details are
/// dropped in a fixed order (with a visible note), and if that is not enough, whole sections are
/// left out. Nothing is ever cut inside a block, so fences and `<details>` stay balanced.
pub(crate) fn render_within(runs: &[RunRecord], hidden_annotations: usize, budget: usize) -> String {
    render_budgeted(runs, hidden_annotations, &[], budget)
}

fn render_budgeted(runs: &[RunRecord], hidden_annotations: usize, first: &[String], budget: usize) -> String {
    let mut notes = Vec::new();
    for detail in DETAILS {
        let text = blocks(runs, hidden_annotations, first, detail, &notes).concat();
        if text.len() <= budget {
            return text;
        }
        notes.push(match detail {
            Detail::Everything => "output tails shortened to 5 lines",
            Detail::ShortTails => "output tails left out (they are in timings.json and the step logs)",
            Detail::NoTails => "the timeline left out",
            Detail::NoGantt => "only the first 20 failures listed",
            Detail::FirstFailuresOnly => "sections left out",
        });
    }
    fit_blocks(
        blocks(runs, hidden_annotations, first, Detail::FirstFailuresOnly, &notes),
        budget,
    )
}

/// Whole blocks, in order, while they fit; then one line saying how many were left out.
fn fit_blocks(blocks: Vec<String>, budget: usize) -> String {
    const NOTE: &str = "> ⚠️ More sections were left out to stay under GitHub's size limit; the full report is in `summary.md` and `junit.xml`.\n";
    let room = budget.saturating_sub(NOTE.len());
    let mut out = String::new();
    let mut left_out = 0;
    for block in blocks {
        if out.len() + block.len() <= room {
            out.push_str(&block);
        } else {
            left_out += 1;
        }
    }
    if left_out > 0 {
        out.push_str(NOTE);
    }
    out
}

/// Self-contained Markdown blocks, most important first.
fn blocks(
    runs: &[RunRecord],
    hidden_annotations: usize,
    first: &[String],
    detail: Detail,
    notes: &[&str],
) -> Vec<String> {
    let mut blocks = Vec::new();
    for note in first {
        blocks.push(format!("> ⚠️ {}\n\n", inline(note)));
    }
    if runs.len() > 1 {
        blocks.push(fleet(runs));
    }
    let labels = job_labels(runs);
    for (run, label) in runs.iter().zip(&labels) {
        section(&mut blocks, run, (runs.len() > 1).then_some(label.as_str()), detail);
    }
    if hidden_annotations > 0 {
        blocks.push(format!(
            "> ℹ️ {hidden_annotations} more annotation(s) were not shown inline (GitHub shows at most 10 errors and 10 warnings per step); they are all above and in `junit.xml`.\n\n"
        ));
    }
    if !notes.is_empty() {
        blocks.push(format!(
            "> ⚠️ To stay under GitHub's size limit: {}.\n\n",
            notes.join("; ")
        ));
    }
    blocks
}

fn verdict(status: Status) -> &'static str {
    match status {
        Status::Ok => "within target",
        Status::OverTarget => "over target",
        Status::Failed => "failed",
        Status::Cancelled => "cancelled",
        Status::Skipped => "skipped",
    }
}

/// A run's name in merged reports: its config file (one matrix leg per config), else its
/// cluster (unique per job).
pub(crate) fn job_name(run: &RunRecord) -> String {
    run.config_file.clone().unwrap_or_else(|| run.cluster_name.clone())
}

/// Every run's name in a merged report, unique: the job name, with the cluster (unique per
/// job) added where two runs share a config file.
pub(crate) fn job_labels(runs: &[RunRecord]) -> Vec<String> {
    let names: Vec<String> = runs.iter().map(job_name).collect();
    names
        .iter()
        .zip(runs)
        .map(|(name, run)| {
            if names.iter().filter(|other| *other == name).count() > 1 && *name != run.cluster_name {
                format!("{name} ({})", run.cluster_name)
            } else {
                name.clone()
            }
        })
        .collect()
}

/// Matrix jobs at a glance: one verdict line, one row per job.
fn fleet(runs: &[RunRecord]) -> String {
    let failed = runs.iter().filter(|run| run.status == Status::Failed).count();
    let over = runs.iter().filter(|run| run.status == Status::OverTarget).count();
    let cancelled = runs.iter().filter(|run| run.status == Status::Cancelled).count();
    let worst = runs
        .iter()
        .map(|run| run.status)
        .max_by_key(|status| match status {
            Status::Failed => 4,
            Status::Cancelled => 3,
            Status::OverTarget => 2,
            Status::Ok => 1,
            Status::Skipped => 0,
        })
        .unwrap_or(Status::Skipped);
    let mut out = format!(
        "## {} hybrid-e2e: {} job(s) — {failed} failed, {cancelled} cancelled, {over} over target\n\n",
        status_icon(worst),
        runs.len()
    );
    out.push_str(
        "| Job | Status | Setup | Budget | Failed phase | Class | Dockerfile findings |\n| --- | --- | ---: | ---: | --- | --- | --- |\n",
    );
    for (run, label) in runs.iter().zip(job_labels(runs)) {
        let _ = writeln!(
            out,
            "| `{}` | {} {} | {} | {} | {} | {} | {} |",
            inline(&label),
            status_icon(run.status),
            verdict(run.status),
            duration(run.setup_seconds),
            duration(run.total_target_seconds),
            run.failed_phase.as_deref().unwrap_or("—"),
            run.failure_class.map_or("—", |class| class.as_str()),
            dockerfile_findings(run.dockerfile_findings),
        );
    }
    out.push('\n');
    out
}

/// "2 errors, 1 warning"; "none"; "—" when the lint did not run.
fn dockerfile_findings(findings: Option<DockerfileFindings>) -> String {
    let Some(DockerfileFindings { errors, warnings }) = findings else {
        return "—".to_owned();
    };
    let plural = |count: usize, what: &str| format!("{count} {what}{}", if count == 1 { "" } else { "s" });
    match (errors, warnings) {
        (0, 0) => "none".to_owned(),
        (0, warnings) => plural(warnings, "warning"),
        (errors, 0) => format!("**{}**", plural(errors, "error")),
        (errors, warnings) => format!("**{}**, {}", plural(errors, "error"), plural(warnings, "warning")),
    }
}

/// One run's section; `job` names it in a merged report.
fn section(blocks: &mut Vec<String>, run: &RunRecord, job: Option<&str>, detail: Detail) {
    let mut out = String::new();
    let heading = if job.is_some() { "###" } else { "##" };
    let _ = writeln!(
        out,
        "{heading} {} hybrid-e2e{}: setup {} of {} budget — {}",
        status_icon(run.status),
        job.map(|job| format!(" `{}`", inline(job))).unwrap_or_default(),
        duration(run.setup_seconds),
        duration(run.total_target_seconds),
        verdict(run.status)
    );
    let mut facts = vec![
        format!("run `{}`", run.run_id),
        // `services up` runs no cluster: its record names the run's network there.
        if run.phases.iter().any(|phase| phase.name == "services") {
            format!("network `{}`", run.cluster_name)
        } else {
            format!("cluster `{}`", run.cluster_name)
        },
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
    if let Some(class) = run.failure_class {
        let whose = match class {
            FailureClass::Infrastructure => {
                "**Infrastructure** failure (runner, engine, Kind, disk, network): retry or fix the runner"
            }
            FailureClass::Application => "**Application** failure (the project): fix the code or the config",
            FailureClass::Cancelled => "**Cancelled**: the run was interrupted before it finished; nothing failed",
        };
        let message = run.message.as_deref().map(inline).unwrap_or_default();
        let _ = writeln!(out, "{whose}. {message}\n");
    }
    blocks.push(out);
    failures(blocks, run, detail);
    blocks.extend(tests(run, detail));
    blocks.extend(coverage_section(run));
    blocks.push(phase_table(run));
    blocks.extend(pipelined(run));
    blocks.extend(critical_path(run));
    if detail < Detail::NoGantt {
        blocks.extend(gantt(run));
    }
    if !run.warnings.is_empty() {
        let mut out = format!("<details><summary>⚠️ {} warning(s)</summary>\n\n", run.warnings.len());
        for warning in &run.warnings {
            let _ = writeln!(out, "- {}", inline(warning));
        }
        out.push_str("\n</details>\n\n");
        blocks.push(out);
    }
}

fn phase_table(run: &RunRecord) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| Phase | Status | Duration | Target | Share of the {} budget |",
        duration(run.total_target_seconds)
    );
    let _ = writeln!(out, "| --- | --- | ---: | ---: | --- |");
    let share_of = |seconds: f64| {
        if run.total_target_seconds > 0.0 {
            seconds / run.total_target_seconds
        } else {
            0.0
        }
    };
    for phase in &run.phases {
        let share = share_of(phase.duration_seconds);
        let bar = "█".repeat((share * 20.0).round().clamp(0.0, 20.0) as usize);
        // After the setup: the suite and the coverage capture have budgets of their own.
        let bar = if matches!(phase.name.as_str(), "test" | "coverage") {
            "not in the setup budget".to_owned()
        } else {
            format!("{bar} {:.0}%", share * 100.0)
        };
        let target = phase.target_seconds.map(duration).unwrap_or_else(|| "—".to_owned());
        let time = if phase.status == Status::Skipped {
            "—".to_owned()
        } else {
            duration(phase.duration_seconds)
        };
        let _ = writeln!(
            out,
            "| {} | {} {} | {time} | {target} | {bar} |",
            phase.name,
            status_icon(phase.status),
            phase.status.as_str(),
        );
    }
    let _ = writeln!(
        out,
        "| **setup** | {} | **{}** | **{}** | {:.0}% |\n",
        status_icon(run.status),
        duration(run.setup_seconds),
        duration(run.total_target_seconds),
        share_of(run.setup_seconds) * 100.0
    );
    out
}

/// `mode: pipelined`: the wall time next to what the strict schedule would have taken with the
/// same step durations, and when the cluster started against its prediction.
fn pipelined(run: &RunRecord) -> Option<String> {
    let schedule = run.schedule.as_ref()?;
    let mut out = format!("**Pipelined:** setup {} wall", duration(run.setup_seconds));
    if let Some(strict) = schedule.strict_seconds.filter(|strict| *strict > 0.0) {
        let change = 1.0 - run.setup_seconds / strict;
        let _ = write!(
            out,
            "; strict (DD-TEST-002) would have taken {} with the same step durations ({:.0}% {})",
            duration(strict),
            change.abs() * 100.0,
            if change >= 0.0 { "saved" } else { "lost" }
        );
    }
    if let Some(bound) = schedule.critical_path_seconds {
        let _ = write!(out, "; critical-path bound {}", duration(bound));
    }
    out.push_str(".\n\n");
    let start = &schedule.cluster_start;
    if let Some(started) = start.started_seconds {
        let why = match (
            start.policy.as_str(),
            start.predicted_build_seconds,
            start.predicted_cluster_seconds,
        ) {
            ("history", Some(build), Some(cluster)) => format!(
                "just in time from {} earlier run(s): builds predicted to end at {}, the cluster to take {}, margin {}",
                start.history_runs,
                duration(build),
                duration(cluster),
                duration(start.margin_seconds)
            ),
            ("no-builds", _, _) => "at once: nothing to build".to_owned(),
            _ => "when the first build finished: no history".to_owned(),
        };
        let _ = write!(out, "Cluster started at {} ({why})", duration(started));
        if let Some(ready) = start.ready_seconds {
            let _ = write!(out, ", ready at {}", duration(ready));
        }
        if let Some(idle) = start.idle_seconds {
            let _ = write!(out, ", idle {} before its first image", duration(idle));
        }
        let errors: Vec<String> = [
            ("builds", start.build_error_seconds),
            ("cluster", start.cluster_error_seconds),
        ]
        .iter()
        .filter_map(|(what, error)| error.map(|error| format!("{what} {error:+.1}s")))
        .collect();
        if !errors.is_empty() {
            let _ = write!(out, "; prediction error {}", errors.join(", "));
        }
        out.push_str(".\n\n");
    }
    Some(out)
}

/// Phases run one after another; within a phase, the step that finished last ends it (a deploy
/// group that waited for its dependencies says how long). A cancelled step bounds nothing: it
/// was stopped, not waited for. In a pipelined run the record names the chain of steps.
fn critical_path(run: &RunRecord) -> Option<String> {
    if let Some(schedule) = run
        .schedule
        .as_ref()
        .filter(|schedule| !schedule.critical_path.is_empty())
    {
        let path: Vec<String> = schedule
            .critical_path
            .iter()
            .map(|id| {
                let (phase, step) = id.split_once('/').unwrap_or(("", id));
                let seconds = run
                    .phases
                    .iter()
                    .filter(|record| record.name == phase)
                    .flat_map(|record| &record.steps)
                    .find(|record| record.name == step)
                    .map(|record| format!(" {}", duration(record.duration_seconds)))
                    .unwrap_or_default();
                format!("`{id}`{seconds}")
            })
            .collect();
        return Some(format!("**Critical path:** {}\n\n", path.join(" → ")));
    }
    let path: Vec<String> = run
        .phases
        .iter()
        .filter(|phase| phase.target_seconds.is_some() && phase.name != "test")
        .filter_map(|phase| {
            let last = phase
                .steps
                .iter()
                .filter(|step| step.status != Status::Cancelled)
                .filter_map(|step| Some((millis(step.finished_at.as_deref()?)?, step)))
                .max_by_key(|(end, _)| *end)?
                .1;
            let waited = last
                .waited_seconds
                .filter(|waited| *waited >= 0.05)
                .map(|waited| format!(" after {} waiting", duration(waited)))
                .unwrap_or_default();
            Some(format!(
                "`{}/{}` {}{waited}",
                phase.name,
                last.name,
                duration(last.duration_seconds)
            ))
        })
        .collect();
    (!path.is_empty()).then(|| format!("**Critical path:** {}\n\n", path.join(" → ")))
}

/// The timeline as mermaid gantt charts (split below mermaid's size limit), one block: whole
/// or not at all. A step's bar is its own work; time spent waiting for dependencies is its own
/// bar before it.
fn gantt(run: &RunRecord) -> Option<String> {
    let mut lines = Vec::new();
    for phase in &run.phases {
        let mut tasks: Vec<String> = Vec::new();
        for step in &phase.steps {
            let (Some(start), Some(end)) = (
                step.started_at.as_deref().and_then(millis),
                step.finished_at.as_deref().and_then(millis),
            ) else {
                continue;
            };
            if let Some(waited) = step.waited_seconds.filter(|waited| *waited >= 0.05) {
                tasks.push(format!(
                    "    {} waits ({}) :active, {}, {start}",
                    mermaid_name(&step.name),
                    duration(waited),
                    start - (waited * 1000.0).round() as i64
                ));
            }
            let tag = match step.status {
                Status::Failed => "crit, ",
                Status::Ok => "done, ",
                _ => "",
            };
            tasks.push(format!(
                "    {} ({}) :{tag}{start}, {}",
                mermaid_name(&step.name),
                duration(step.duration_seconds),
                end.max(start + 1)
            ));
        }
        if !tasks.is_empty() {
            lines.push(format!("    section {}", mermaid_name(&phase.name)));
            lines.extend(tasks);
        }
    }
    if lines.is_empty() {
        return None;
    }
    let header = "```mermaid\ngantt\n    dateFormat x\n    axisFormat %M:%S\n";
    let mut out = String::from("<details open><summary>Timeline</summary>\n\n");
    let mut block = String::from(header);
    let mut charts = 1;
    for line in lines {
        if block.len() + line.len() + 8 > MERMAID_LIMIT {
            let _ = writeln!(out, "{block}```\n");
            block = String::from(header);
            charts += 1;
        }
        block.push_str(&line);
        block.push('\n');
    }
    let _ = writeln!(out, "{block}```\n");
    if charts > 1 {
        let _ = writeln!(
            out,
            "_The timeline is split into {charts} charts (mermaid's 50,000-character limit)._\n"
        );
    }
    out.push_str("</details>\n\n");
    Some(out)
}

/// Passing tests listed as the slowest.
const SLOWEST: usize = 10;
/// Failing tests listed (the rest are in `junit.xml`).
const FAILING_LISTED: usize = 50;

/// The test phase's suite: counts, then its failures (each at its `file:line`), then the
/// slowest tests.
fn tests(run: &RunRecord, detail: Detail) -> Option<String> {
    let (phase, step, tests) = run
        .phases
        .iter()
        .flat_map(|phase| phase.steps.iter().map(move |step| (phase, step)))
        .find_map(|(phase, step)| step.tests.as_ref().map(|tests| (phase, step, tests)))?;
    let counts = tests.counts;
    // The suite's own outcome decides too: a suite that exited non-zero, timed out or was
    // cancelled, or whose JUnit could not all be read, is not green however its cases read.
    let icon = if counts.failing() > 0 {
        "❌"
    } else if step.status != Status::Ok {
        status_icon(step.status)
    } else if !tests.unreadable.is_empty() || counts.tests == counts.skipped {
        "⚠️"
    } else {
        "✅"
    };
    let mut out = format!(
        "### {icon} Tests: {} passed, {} failed, {} skipped of {} in {}\n\n",
        counts.passed,
        counts.failing(),
        counts.skipped,
        counts.tests,
        duration(phase.duration_seconds)
    );
    if step.status != Status::Ok
        && counts.failing() == 0
        && let Some(message) = &step.message
    {
        let _ = writeln!(out, "> {} {}\n", status_icon(step.status), inline(message));
    }
    for problem in &tests.unreadable {
        let _ = writeln!(out, "> ⚠️ not read: {}\n", inline(problem));
    }
    let mut failing: Vec<_> = tests.cases().filter(|(_, case)| case.outcome.is_failure()).collect();
    let limit = if detail >= Detail::FirstFailuresOnly {
        20
    } else {
        FAILING_LISTED
    };
    let mut slowest: Vec<_> = tests
        .cases()
        .filter(|(_, case)| case.outcome == crate::model::TestOutcome::Passed && case.duration_seconds > 0.0)
        .collect();
    slowest.sort_by(|a, b| b.1.duration_seconds.total_cmp(&a.1.duration_seconds));
    slowest.truncate(SLOWEST);
    if failing.is_empty() && slowest.is_empty() {
        return Some(out);
    }
    out.push_str("| Test | Suite | Result | Time | Where |\n| --- | --- | --- | ---: | --- |\n");
    let hidden = failing.len().saturating_sub(limit);
    failing.truncate(limit);
    for (suite, case) in failing {
        let location = case.file.as_ref().map_or_else(
            || "—".to_owned(),
            |file| {
                format!(
                    "`{}{}`",
                    inline(file),
                    case.line.map(|line| format!(":{line}")).unwrap_or_default()
                )
            },
        );
        // The message on one line, whitespace collapsed (Ginkgo's span several).
        let message = case
            .message
            .as_deref()
            .map(|message| message.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|message| !message.is_empty())
            .map(|message| format!(": {}", inline(&message.chars().take(160).collect::<String>())))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "| ❌ {} | {} | {}{message} | {} | {location} |",
            inline(&case.name),
            inline(&suite.name),
            case.outcome.as_str(),
            duration(case.duration_seconds)
        );
    }
    if hidden > 0 {
        let _ = writeln!(out, "| … {hidden} more failing test(s) | | | | in `junit.xml` |");
    }
    for (suite, case) in slowest {
        let _ = writeln!(
            out,
            "| {} | {} | passed (slowest) | {} | |",
            inline(&case.name),
            inline(&suite.name),
            duration(case.duration_seconds)
        );
    }
    out.push('\n');
    Some(out)
}

/// E2E coverage per image (DD-TEST-007): statements covered, raw files, and what went wrong
/// (also appended alone to the job summary by `hybrid-e2e coverage`).
pub(crate) fn coverage_section(run: &RunRecord) -> Option<String> {
    let results: Vec<&crate::model::CoverageResult> = run
        .phases
        .iter()
        .flat_map(|phase| &phase.steps)
        .filter_map(|step| step.coverage.as_ref())
        .collect();
    if results.is_empty() {
        return None;
    }
    let mut out = String::from(
        "### E2E coverage\n\n| Image | Statements covered | Raw data | Notes |\n| --- | ---: | --- | --- |\n",
    );
    for result in &results {
        let target = result
            .target_percent
            .map(|target| format!(", target {target}%"))
            .unwrap_or_default();
        let covered = match (result.percent, result.covered_statements, result.statements) {
            (Some(percent), Some(covered), Some(statements)) => {
                format!("{percent:.1}% ({covered} of {statements}){target}")
            }
            _ => "—".to_owned(),
        };
        let raw = format!(
            "`{}`: {} meta, {} counter file(s){}",
            inline(&result.directory),
            result.meta_files,
            result.counter_files,
            result
                .profile
                .as_deref()
                .map(|profile| format!("; profile `{}`", inline(profile)))
                .unwrap_or_default()
        );
        let notes = if result.problems.is_empty() {
            "✅".to_owned()
        } else {
            format!("⚠️ {}", inline(&result.problems.join("; ")))
        };
        let _ = writeln!(out, "| {} | {covered} | {raw} | {notes} |", inline(&result.image));
    }
    out.push('\n');
    for result in results.iter().filter(|result| !result.packages.is_empty()) {
        let _ = writeln!(
            out,
            "<details><summary><code>{}</code> per package ({})</summary>\n\n| Package | Statements covered |\n| --- | ---: |",
            inline(&result.image),
            result.packages.len()
        );
        for package in result.packages.iter().take(PACKAGES_SHOWN) {
            let percent = package
                .percent
                .map_or_else(|| "—".to_owned(), |percent| format!("{percent:.1}%"));
            let _ = writeln!(
                out,
                "| `{}` | {percent} ({} of {}) |",
                inline(&package.package),
                package.covered_statements,
                package.statements
            );
        }
        if result.packages.len() > PACKAGES_SHOWN {
            let _ = writeln!(
                out,
                "\n{} more in `{}` (`go tool cover -func`)",
                result.packages.len() - PACKAGES_SHOWN,
                inline(result.profile.as_deref().unwrap_or("the profile"))
            );
        }
        out.push_str("\n</details>\n\n");
    }
    Some(out)
}

/// Packages listed per image in the job summary (the largest first; the profile has all).
const PACKAGES_SHOWN: usize = 25;

fn failures(blocks: &mut Vec<String>, run: &RunRecord, detail: Detail) {
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
        let mut out = String::new();
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
        for finding in &step.findings {
            let _ = writeln!(
                out,
                "- `{}:{}:{}` {} [{}]",
                inline(&finding.path),
                finding.line,
                finding.column,
                inline(&finding.message),
                finding.rule
            );
        }
        if !step.findings.is_empty() {
            out.push('\n');
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
        out.push_str("</details>\n\n");
        blocks.push(out);
    }
    if failed.len() > limit {
        blocks.push(format!(
            "… and {} more failed step(s), listed in `junit.xml`.\n\n",
            failed.len() - limit
        ));
    }
}

/// Fences and `<details>` are balanced (a renderer-level check every rendered summary passes).
#[cfg(test)]
pub(crate) fn assert_balanced(markdown: &str) {
    let fences = markdown
        .lines()
        .filter(|line| line.trim_start().starts_with("```"))
        .count();
    assert!(fences % 2 == 0, "an unclosed code fence ({fences} fence lines)");
    let opened = markdown.matches("<details").count();
    let closed = markdown.matches("</details>").count();
    assert_eq!(opened, closed, "<details> opened {opened} times, closed {closed}");
    let mut depth = 0usize;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            depth = 1 - depth;
        } else if depth == 1 {
            assert!(
                !line.contains("</details>") && !line.contains("<details"),
                "a <details> tag inside a code block: {line}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures;

    /// Every fixture, rendered for both budgets (the job summary and the check run).
    fn every_rendering() -> Vec<(String, String)> {
        let [api, worker] = fixtures::matrix();
        let cases = vec![
            ("green", vec![fixtures::green()]),
            ("over_target", vec![fixtures::over_target()]),
            ("build_failure", vec![fixtures::build_failure()]),
            ("deploy_failure", vec![fixtures::deploy_failure()]),
            ("lint_failure", vec![fixtures::lint_failure()]),
            ("cancelled", vec![fixtures::cancelled()]),
            ("merged", vec![api, worker]),
            ("huge", vec![fixtures::huge()]),
        ];
        let mut out = Vec::new();
        for (name, runs) in cases {
            out.push((format!("{name} (step summary)"), render(&runs, 3)));
            out.push((format!("{name} (check run)"), render_within(&runs, 0, 65_535)));
        }
        out
    }

    #[test]
    fn snapshots() {
        insta::assert_snapshot!("summary_green", render(&[fixtures::green()], 0));
        insta::assert_snapshot!("summary_over_target", render(&[fixtures::over_target()], 0));
        insta::assert_snapshot!("summary_build_failure", render(&[fixtures::build_failure()], 0));
        insta::assert_snapshot!("summary_deploy_failure", render(&[fixtures::deploy_failure()], 0));
        insta::assert_snapshot!("summary_lint_failure", render(&[fixtures::lint_failure()], 0));
        insta::assert_snapshot!("summary_cancelled", render(&[fixtures::cancelled()], 3));
        insta::assert_snapshot!("summary_merged", render(&fixtures::matrix(), 0));
        insta::assert_snapshot!("summary_test_failure", render(&[fixtures::test_failure()], 0));
    }

    #[test]
    fn every_rendering_is_balanced_and_within_its_budget() {
        for (name, text) in every_rendering() {
            let budget = if name.ends_with("(check run)") {
                65_535
            } else {
                SUMMARY_BUDGET
            };
            assert!(text.len() <= budget, "{name}: {} bytes", text.len());
            assert_balanced(&text);
        }
    }

    #[test]
    fn failures_come_before_the_timeline() {
        let text = render(&[fixtures::deploy_failure()], 0);
        let failure = text.find("<code>deploy/datastorage</code>").expect("failure");
        let table = text.find("| Phase | Status |").expect("table");
        let timeline = text.find("```mermaid").expect("timeline");
        assert!(
            failure < table && table < timeline,
            "failures, then the table, then the timeline"
        );
    }

    #[test]
    fn a_pipelined_run_states_what_strict_would_have_taken_and_its_critical_path() {
        let mut run = fixtures::green();
        run.mode = "pipelined".to_owned();
        run.setup_seconds = 14.6;
        run.schedule = Some(crate::model::ScheduleRecord {
            cluster_start: crate::model::ClusterStartRecord {
                policy: "history".to_owned(),
                history_runs: 4,
                predicted_build_seconds: Some(12.3),
                predicted_cluster_seconds: Some(2.6),
                margin_seconds: 0.3,
                started_seconds: Some(9.4),
                ready_seconds: Some(12.1),
                build_error_seconds: Some(0.2),
                cluster_error_seconds: Some(0.1),
                idle_seconds: Some(0.0),
                ..Default::default()
            },
            build_slots_while_booting: 3,
            critical_path_seconds: Some(14.5),
            critical_path: vec!["build/api".to_owned(), "load/api".to_owned()],
            strict_seconds: Some(20.3),
        });
        let text = render(&[run], 0);
        assert!(
            text.contains("**Pipelined:** setup 14.6s wall; strict (DD-TEST-002) would have taken 20.3s with the same step durations (28% saved); critical-path bound 14.5s."),
            "{text}"
        );
        assert!(
            text.contains("Cluster started at 9.4s (just in time from 4 earlier run(s)"),
            "{text}"
        );
        assert!(text.contains("prediction error builds +0.2s, cluster +0.1s"), "{text}");
        assert!(text.contains("**Critical path:** `build/api`"), "{text}");
        assert_balanced(&text);
    }

    #[test]
    fn the_balance_check_catches_a_cut_block() {
        let cut = "<details><summary>x</summary>\n\n```text\nlast line";
        assert!(std::panic::catch_unwind(|| assert_balanced(cut)).is_err());
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
            text.contains("To stay under GitHub's size limit"),
            "the degradation is announced"
        );
        let head: String = text.lines().take(12).collect::<Vec<_>>().join("\n");
        insta::assert_snapshot!("summary_huge_head", head);
    }
}
