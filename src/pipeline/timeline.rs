//! `plan`'s view of the schedule: the step graph, and the predicted timeline of both modes from
//! the same predicted step durations (the history's medians; without history each step gets its
//! phase's target, as a budget).

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::graph::{self, ClusterGate, Graph};
use super::history::{self, ClusterPlan, History};
use crate::config::ScheduleMode;
use crate::phases::deploy::DeployOptions;
use crate::plan::Plan;

/// Everything `plan` shows about the schedule.
struct Prediction {
    graph: Graph,
    durations: Vec<f64>,
    from_history: usize,
    history: Option<(std::path::PathBuf, History)>,
    cluster: ClusterPlan,
    strict: graph::Timeline,
    pipelined: graph::Timeline,
}

fn predict(plan: &Plan) -> Prediction {
    let graph = Graph::from_plan(plan, !DeployOptions::from_plan(plan).is_empty());
    let history = history::history_of(plan);
    let usable = history
        .as_ref()
        .map(|(_, history)| history)
        .filter(|history| history.runs > 0);
    let (durations, from_history) = history::predicted_durations(plan, &graph, usable);
    let cluster = history::plan_cluster_start(plan, &graph, usable);
    let strict = graph::simulate_strict(&graph, &durations, plan.concurrency);
    let pipelined = graph::simulate_pipelined(&graph, &durations, plan.concurrency, cluster.gate);
    Prediction {
        graph,
        durations,
        from_history,
        history,
        cluster,
        strict,
        pipelined,
    }
}

fn seconds(value: f64) -> String {
    format!("{value:.1}s")
}

/// The schedule section of `plan`'s text.
pub(crate) fn render_text(plan: &Plan) -> String {
    let prediction = predict(plan);
    let graph = &prediction.graph;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nschedule ({}): the steps and what each needs",
        match plan.mode {
            ScheduleMode::Strict => "mode strict runs the phases in order; mode pipelined would run this graph",
            ScheduleMode::Pipelined => "mode pipelined runs this graph",
        }
    );
    let width = graph.nodes.iter().map(|node| node.id().len()).max().unwrap_or(0).max(4);
    for (index, node) in graph.nodes.iter().enumerate() {
        let needs: Vec<String> = node.needs.iter().map(|need| graph.nodes[*need].id()).collect();
        let mut text = if needs.is_empty() {
            "needs nothing".to_owned()
        } else {
            format!("needs {}", needs.join(", "))
        };
        if Some(index) == graph.cluster() {
            text = match prediction.cluster.gate {
                ClusterGate::At(at) if prediction.cluster.record.policy == "history" => format!(
                    "just in time: at {} (predicted builds end {} − cluster {} − margin {}; at most {} idle)",
                    seconds(at),
                    seconds(prediction.cluster.record.predicted_build_seconds.unwrap_or_default()),
                    seconds(prediction.cluster.record.predicted_cluster_seconds.unwrap_or_default()),
                    seconds(prediction.cluster.record.margin_seconds),
                    seconds(prediction.cluster.record.max_idle_seconds),
                ),
                ClusterGate::At(_) => "needs nothing (no images to build)".to_owned(),
                ClusterGate::FirstBuild => "just in time: when the first build finishes (no history)".to_owned(),
            };
            let _ = write!(
                text,
                "; builds get {} slot(s) while it boots",
                graph::build_slots_while_booting(plan.concurrency)
            );
        }
        if graph.needs_no_built_image(index) {
            text.push_str(" (public or pre-existing images only)");
        }
        let _ = writeln!(out, "   {:<width$}  {text}", node.id());
    }
    // After the setup, outside the graph's timeline (their time is not the setup's).
    if plan.test.is_some() {
        let _ = writeln!(
            out,
            "   {:<width$}  needs every deploy/* and load/* step (after the setup: its own phase and target, not in the timeline below)",
            "test/suite"
        );
    }
    if let Some(coverage) = &plan.coverage {
        let after = if plan.test.is_some() {
            "needs test/suite"
        } else {
            "runs with `hybrid-e2e coverage` after your suite"
        };
        for image in &coverage.images {
            let _ = writeln!(out, "   {:<width$}  {after}", format!("coverage/{}", image.name));
        }
    }
    let source = match &prediction.history {
        Some((directory, history)) if prediction.from_history > 0 => format!(
            "from the median step times of {} earlier run(s) in {}{}",
            history.runs,
            directory.display(),
            if prediction.from_history < graph.nodes.len() {
                "; steps without history get their phase's target"
            } else {
                ""
            }
        ),
        Some((directory, _)) => format!(
            "no earlier run of this config in {}, so each step gets its phase's target as a budget",
            directory.display()
        ),
        None => {
            "no history (`pipelined.history` or --history), so each step gets its phase's target as a budget".to_owned()
        }
    };
    let _ = writeln!(out, "predicted timeline, {source}:");
    let row = |out: &mut String, cells: [&str; 4]| {
        let line = format!(
            "   {:<width$}  {:>8}  {:<17}  {}",
            cells[0], cells[1], cells[2], cells[3]
        );
        let _ = writeln!(out, "{}", line.trim_end());
    };
    row(&mut out, ["step", "takes", "strict", "pipelined"]);
    for (index, node) in graph.nodes.iter().enumerate() {
        let span = |(start, end): (f64, f64)| format!("{} → {}", seconds(start), seconds(end));
        row(
            &mut out,
            [
                &node.id(),
                &seconds(prediction.durations[index]),
                &span(prediction.strict[index]),
                &span(prediction.pipelined[index]),
            ],
        );
    }
    let strict = graph::makespan(&prediction.strict);
    let pipelined = graph::makespan(&prediction.pipelined);
    let ratio = if strict > 0.0 {
        format!(" ({:.2} of strict)", pipelined / strict)
    } else {
        String::new()
    };
    row(
        &mut out,
        ["setup", "", &seconds(strict), &format!("{}{ratio}", seconds(pipelined))],
    );
    out
}

/// The schedule as data, for `plan --format json`.
pub(crate) fn to_json(plan: &Plan) -> Value {
    let prediction = predict(plan);
    let graph = &prediction.graph;
    let nodes: Vec<Value> = graph
        .nodes
        .iter()
        .enumerate()
        .map(|(index, node)| {
            json!({
                "id": node.id(),
                "needs": node.needs.iter().map(|need| graph.nodes[*need].id()).collect::<Vec<_>>(),
                "predicted_seconds": prediction.durations[index],
                "strict": [prediction.strict[index].0, prediction.strict[index].1],
                "pipelined": [prediction.pipelined[index].0, prediction.pipelined[index].1],
            })
        })
        .collect();
    json!({
        "mode": plan.mode.as_str(),
        "steps": nodes,
        "steps_predicted_from_history": prediction.from_history,
        "history_runs": prediction.history.as_ref().map_or(0, |(_, history)| history.runs),
        "cluster_start": prediction.cluster.record,
        "strict_seconds": graph::makespan(&prediction.strict),
        "pipelined_seconds": graph::makespan(&prediction.pipelined),
    })
}
