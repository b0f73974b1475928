//! `mode: pipelined` at run time: after preflight, the steps of build, cluster, load and deploy
//! run as one dependency graph ([`super::graph`]). A step starts the moment what it needs has
//! succeeded and its phase has a free slot: builds and loads under `concurrency` (builds one
//! slot fewer while the cluster boots), the cluster once, just in time ([`super::history`]),
//! deploy groups unlimited (their readiness is event-driven). A failure cancels exactly the
//! steps that need it, transitively; everything else goes on. A signal cancels what runs and
//! everything still waiting. Every step is timed as in a phase; a phase's span runs from its
//! first step's start to its last step's end, and its target applies to the time its steps were
//! running (their union: the span also holds waits for other phases).

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::graph::{self, ClusterGate, Graph};
use super::history;
use crate::model::{Event, PhaseName, PhaseReport, Reporters, ScheduleRecord, Status, StepReport, Timing, busy};
use crate::phases::{self, RunContext};
use crate::runner::{self, Step};

/// The phases the graph covers, in report order.
const PHASES: [PhaseName; 4] = [PhaseName::Build, PhaseName::Cluster, PhaseName::Load, PhaseName::Deploy];

/// What the graph did.
pub(super) struct Outcome {
    pub(super) phases: Vec<PhaseReport>,
    pub(super) schedule: Option<ScheduleRecord>,
}

/// The steps of the graph's nodes, in the graph's order (or why the phases cannot run).
fn steps(context: &Arc<RunContext>) -> Result<(Vec<Step>, Option<&'static str>), &'static str> {
    let mut steps = phases::build::steps(context)?;
    steps.extend(phases::cluster::steps(context)?);
    steps.extend(phases::load::steps(context)?);
    let skipped_deploy = match phases::deploy::steps(context) {
        Ok(deploy) => {
            steps.extend(deploy);
            None
        }
        Err(reason) => Some(reason),
    };
    Ok((steps, skipped_deploy))
}

/// One node's progress.
#[derive(Default)]
struct Slot {
    step: Option<Step>,
    /// When it was started.
    started: Option<Instant>,
    report: Option<StepReport>,
}

impl Slot {
    fn running(&self) -> bool {
        self.started.is_some() && self.report.is_none()
    }

    fn succeeded(&self) -> bool {
        self.report.as_ref().is_some_and(|report| report.status == Status::Ok)
    }

    /// When its own work started and ended (monotonic), if it ran.
    fn own_work(&self) -> Option<(Instant, Instant, &StepReport)> {
        let report = self.report.as_ref()?;
        let timing = report.timing?;
        let start = self.started? + report.waited.unwrap_or_default();
        Some((start, start + timing.duration, report))
    }
}

/// Run the graph of `context`'s plan.
pub(super) async fn run(context: &Arc<RunContext>, cancel: &CancellationToken, reporters: &Arc<Reporters>) -> Outcome {
    let plan = Arc::clone(&context.plan);
    let (steps, skipped_deploy) = match steps(context) {
        Ok(found) => found,
        Err(reason) => {
            let phases = PHASES
                .iter()
                .map(|phase| {
                    let report = PhaseReport::skipped(*phase, plan.target(*phase), reason);
                    reporters.emit(Event::PhaseFinished { report: &report });
                    report
                })
                .collect();
            return Outcome { phases, schedule: None };
        }
    };
    let graph = Graph::from_plan(&plan, skipped_deploy.is_none());
    let names_match = steps.len() == graph.nodes.len()
        && steps
            .iter()
            .zip(&graph.nodes)
            .all(|(step, node)| step.name == node.name);
    assert!(names_match, "the graph's nodes are the phases' steps, in order");
    let history = match history::history_of(&plan) {
        Some((directory, history)) => {
            if history.runs == 0 {
                reporters.emit(Event::Warning {
                    message: &format!(
                        "no earlier run of this config in {} (same config_hash): the cluster starts when the first build finishes",
                        directory.display()
                    ),
                });
            }
            Some(history).filter(|history| history.runs > 0)
        }
        None => None,
    };
    let cluster_plan = history::plan_cluster_start(&plan, &graph, history.as_ref());
    let run = Scheduler {
        graph,
        slots: steps
            .into_iter()
            .map(|step| Slot {
                step: Some(step),
                ..Slot::default()
            })
            .collect(),
        concurrency: plan.concurrency.max(1),
        reporters: Arc::clone(reporters),
        report_dir: plan.report_dir.clone(),
        phase_started: BTreeSet::new(),
        phase_reports: HashMap::new(),
        targets: PHASES.iter().map(|phase| (*phase, plan.target(*phase))).collect(),
        target_lines: PHASES.iter().map(|phase| (*phase, plan.target_line(*phase))).collect(),
    };
    let (mut run, began) = run.execute(cluster_plan.gate, cancel).await;
    let schedule = run.schedule(&cluster_plan, began);
    if let Some(idle) = schedule.cluster_start.idle_seconds
        && idle > schedule.cluster_start.max_idle_seconds + 0.5
    {
        reporters.emit(Event::Warning {
            message: &format!(
                "the ready cluster waited {idle:.1}s for its first image, more than max_idle ({:.0}s): the builds ran slower than predicted",
                schedule.cluster_start.max_idle_seconds
            ),
        });
    }
    let mut phases = Vec::new();
    for phase in PHASES {
        if let Some(report) = run.phase_reports.remove(&phase) {
            phases.push(report);
        } else if let (PhaseName::Deploy, Some(reason)) = (phase, skipped_deploy) {
            let report = PhaseReport::skipped(phase, plan.target(phase), reason);
            reporters.emit(Event::PhaseFinished { report: &report });
            phases.push(report);
        }
    }
    Outcome {
        phases,
        schedule: Some(schedule),
    }
}

struct Scheduler {
    graph: Graph,
    slots: Vec<Slot>,
    concurrency: usize,
    reporters: Arc<Reporters>,
    report_dir: PathBuf,
    phase_started: BTreeSet<PhaseName>,
    phase_reports: HashMap<PhaseName, PhaseReport>,
    targets: HashMap<PhaseName, Option<Duration>>,
    target_lines: HashMap<PhaseName, Option<u64>>,
}

impl Scheduler {
    /// Run every node; returns the scheduler and when the graph began (the builds' start).
    async fn execute(mut self, gate: ClusterGate, cancel: &CancellationToken) -> (Scheduler, (Instant, Timing)) {
        let began = Instant::now();
        let began_wall = crate::model::Stopwatch::start().stop();
        let gate_at = match gate {
            ClusterGate::At(seconds) => Some(began + Duration::from_secs_f64(seconds.max(0.0))),
            ClusterGate::FirstBuild => None,
        };
        let step_cancel = cancel.child_token();
        let mut set: JoinSet<StepReport> = JoinSet::new();
        let mut tasks: HashMap<tokio::task::Id, usize> = HashMap::new();
        let mut signalled = false;
        // Phases without steps are done at once.
        for phase in PHASES {
            if self.graph.of(phase).next().is_none() && phase != PhaseName::Deploy {
                self.phase_started.insert(phase);
                self.reporters.emit(Event::PhaseStarted {
                    phase,
                    steps: 0,
                    target: self.targets[&phase],
                });
                self.finish_phase(phase, cancel.is_cancelled(), Some(began_wall));
            }
        }
        loop {
            self.settle(cancel.is_cancelled());
            if !cancel.is_cancelled() {
                let order: Vec<usize> = self
                    .graph
                    .cluster()
                    .into_iter()
                    .chain((0..self.slots.len()).filter(|index| Some(*index) != self.graph.cluster()))
                    .collect();
                for index in order {
                    if self.may_start(index, gate_at) {
                        self.start(index, &step_cancel, &mut set, &mut tasks);
                    }
                }
            }
            if set.is_empty() && self.slots.iter().all(|slot| slot.report.is_some()) {
                break;
            }
            let cluster_waiting = self
                .graph
                .cluster()
                .is_some_and(|cluster| self.slots[cluster].started.is_none() && self.slots[cluster].report.is_none());
            let gate_timer = gate_at.filter(|_| cluster_waiting && !cancel.is_cancelled());
            if set.is_empty() && gate_timer.is_none() && !cancel.is_cancelled() {
                // Nothing runs and nothing will: a dependency cycle validation missed. Say so
                // rather than hang.
                for slot in &mut self.slots {
                    if slot.report.is_none() {
                        slot.step = None;
                    }
                }
                self.settle(false);
                break;
            }
            tokio::select! {
                biased;
                joined = set.join_next_with_id(), if !set.is_empty() => {
                    let (index, report) = match joined {
                        Some(Ok((id, report))) => (tasks.remove(&id), report),
                        Some(Err(error)) => {
                            let index = tasks.remove(&error.id());
                            let name = index.map(|index| self.graph.nodes[index].name.clone()).unwrap_or_default();
                            let report = StepReport::panicked(name);
                            if let Some(index) = index {
                                let phase = self.graph.nodes[index].phase;
                                self.reporters.emit(Event::StepFinished { phase, report: &report });
                            }
                            (index, report)
                        }
                        None => (None, StepReport::not_run("", Status::Cancelled)),
                    };
                    if let Some(index) = index {
                        self.slots[index].report = Some(report);
                        self.finish_phase_if_done(self.graph.nodes[index].phase, cancel.is_cancelled());
                    }
                }
                () = cancel.cancelled(), if !signalled => signalled = true,
                () = async {
                    match gate_timer {
                        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                        None => std::future::pending().await,
                    }
                } => {}
            }
        }
        (self, (began, began_wall))
    }

    /// Nodes that can no longer run are finished as not run: those whose needs failed (or were
    /// cancelled), and — after a signal — everything still waiting.
    fn settle(&mut self, cancelled: bool) {
        loop {
            let mut changed = false;
            for index in 0..self.slots.len() {
                if self.slots[index].started.is_some() || self.slots[index].report.is_some() {
                    continue;
                }
                let blocker = self.graph.nodes[index].needs.iter().copied().find(|need| {
                    self.slots[*need]
                        .report
                        .as_ref()
                        .is_some_and(|report| report.status != Status::Ok)
                });
                let note = match (blocker, cancelled) {
                    (Some(need), _) => {
                        let failed = self.slots[need]
                            .report
                            .as_ref()
                            .is_some_and(|report| report.status == Status::Failed);
                        format!(
                            "not run: it needs {}, which {}",
                            self.graph.nodes[need].id(),
                            if failed { "failed" } else { "did not run to the end" }
                        )
                    }
                    (None, true) => "not run: the run was cancelled".to_owned(),
                    (None, false) if self.slots[index].step.is_none() => {
                        "not run: its dependencies never finished".to_owned()
                    }
                    (None, false) => continue,
                };
                let (phase, name) = (self.graph.nodes[index].phase, self.graph.nodes[index].name.clone());
                self.mark_phase_started(phase);
                let report = StepReport {
                    note: Some(note),
                    ..StepReport::not_run(name, Status::Cancelled)
                };
                self.reporters.emit(Event::StepFinished { phase, report: &report });
                self.slots[index].step = None;
                self.slots[index].report = Some(report);
                self.finish_phase_if_done(phase, cancelled);
                changed = true;
            }
            if !changed {
                return;
            }
        }
    }

    fn may_start(&self, index: usize, gate_at: Option<Instant>) -> bool {
        let slot = &self.slots[index];
        if slot.started.is_some() || slot.report.is_some() || slot.step.is_none() {
            return false;
        }
        let node = &self.graph.nodes[index];
        if !node.needs.iter().all(|need| self.slots[*need].succeeded()) {
            return false;
        }
        let running = |phase: PhaseName| {
            self.graph
                .of(phase)
                .filter(|other| self.slots[*other].running())
                .count()
        };
        let booting = self
            .graph
            .cluster()
            .is_some_and(|cluster| self.slots[cluster].running());
        match node.phase {
            PhaseName::Build => {
                let limit = if booting {
                    graph::build_slots_while_booting(self.concurrency)
                } else {
                    self.concurrency
                };
                running(PhaseName::Build) < limit
            }
            PhaseName::Load => running(PhaseName::Load) < self.concurrency,
            PhaseName::Cluster => {
                let builds: Vec<usize> = self.graph.of(PhaseName::Build).collect();
                let done = |build: &usize| self.slots[*build].report.is_some();
                builds.iter().all(done)
                    || match gate_at {
                        Some(at) => Instant::now() >= at,
                        None => builds.iter().any(done),
                    }
            }
            _ => true,
        }
    }

    fn start(
        &mut self,
        index: usize,
        cancel: &CancellationToken,
        set: &mut JoinSet<StepReport>,
        tasks: &mut HashMap<tokio::task::Id, usize>,
    ) {
        let Some(step) = self.slots[index].step.take() else {
            return;
        };
        let phase = self.graph.nodes[index].phase;
        self.mark_phase_started(phase);
        self.slots[index].started = Some(Instant::now());
        let (reporters, report_dir, cancel) = (Arc::clone(&self.reporters), self.report_dir.clone(), cancel.clone());
        let handle = set.spawn(async move { runner::run_one(phase, step, cancel, &reporters, &report_dir).await });
        tasks.insert(handle.id(), index);
    }

    fn mark_phase_started(&mut self, phase: PhaseName) {
        if self.phase_started.insert(phase) {
            self.reporters.emit(Event::PhaseStarted {
                phase,
                steps: self.graph.of(phase).count(),
                target: self.targets[&phase],
            });
        }
    }

    fn finish_phase_if_done(&mut self, phase: PhaseName, cancelled: bool) {
        if !self.phase_reports.contains_key(&phase)
            && self.graph.of(phase).all(|index| self.slots[index].report.is_some())
        {
            self.finish_phase(phase, cancelled, None);
        }
    }

    /// The phase's report, from its steps: its span runs from its first step's own start to its
    /// last step's end (monotonic clock); `empty` is the timing of a phase without steps.
    fn finish_phase(&mut self, phase: PhaseName, cancelled: bool, empty: Option<Timing>) {
        let indexes: Vec<usize> = self.graph.of(phase).collect();
        let steps: Vec<StepReport> = indexes
            .iter()
            .filter_map(|index| self.slots[*index].report.clone())
            .collect();
        let works: Vec<(Instant, Instant, &StepReport)> = indexes
            .iter()
            .filter_map(|index| self.slots[*index].own_work())
            .collect();
        let timing = match (
            works.iter().min_by_key(|(start, _, _)| *start),
            works.iter().map(|(_, end, _)| *end).max(),
        ) {
            (Some((first, _, report)), Some(last)) => report.timing.map(|own| {
                let duration = last.saturating_duration_since(*first);
                Timing {
                    started_at: own.started_at,
                    finished_at: own.started_at + chrono::Duration::from_std(duration).unwrap_or_default(),
                    duration,
                }
            }),
            _ => empty,
        };
        // The target applies to the time the phase's steps were running: its span also holds
        // the waits for other phases (a load waits for its build).
        let target = self.targets[&phase];
        let status = runner::phase_status(&steps, cancelled, target, busy(&steps).unwrap_or_default());
        let report = PhaseReport {
            phase,
            timing,
            target,
            target_line: self.target_lines[&phase],
            status,
            message: runner::phase_message(&steps),
            steps,
        };
        self.reporters.emit(Event::PhaseFinished { report: &report });
        self.phase_reports.insert(phase, report);
    }

    /// The schedule's record: the cluster's start against its plan, the critical path, and
    /// what strict would have taken.
    fn schedule(&mut self, plan: &history::ClusterPlan, began: (Instant, Timing)) -> ScheduleRecord {
        let (began, _) = began;
        let seconds = |at: Instant| at.saturating_duration_since(began).as_secs_f64();
        let durations: Vec<Option<f64>> = self
            .slots
            .iter()
            .map(|slot| {
                slot.report
                    .as_ref()
                    .filter(|report| report.status == Status::Ok)
                    .and_then(|report| report.timing)
                    .map(|timing| timing.duration.as_secs_f64())
            })
            .collect();
        let critical = graph::critical_path(&self.graph, &durations);
        let strict = durations
            .iter()
            .copied()
            .collect::<Option<Vec<f64>>>()
            .map(|known| graph::makespan(&graph::simulate_strict(&self.graph, &known, self.concurrency)));
        let mut start = plan.record.clone();
        if let Some(cluster) = self.graph.cluster() {
            let slot = &self.slots[cluster];
            start.started_seconds = slot.started.map(seconds);
            if let Some((_, end, report)) = slot.own_work().filter(|(_, _, report)| report.status == Status::Ok) {
                start.ready_seconds = Some(seconds(end));
                start.cluster_seconds = report.timing.map(|timing| timing.duration.as_secs_f64());
            }
        }
        let builds: Vec<usize> = self.graph.of(PhaseName::Build).collect();
        if !builds.is_empty() && builds.iter().all(|build| self.slots[*build].succeeded()) {
            start.build_seconds = builds
                .iter()
                .filter_map(|build| self.slots[*build].own_work())
                .map(|(_, end, _)| seconds(end))
                .reduce(f64::max);
        }
        start.build_error_seconds = start
            .build_seconds
            .zip(start.predicted_build_seconds)
            .map(|(actual, predicted)| actual - predicted);
        start.cluster_error_seconds = start
            .cluster_seconds
            .zip(start.predicted_cluster_seconds)
            .map(|(actual, predicted)| actual - predicted);
        let first_load = self
            .graph
            .of(PhaseName::Load)
            .filter_map(|load| self.slots[load].own_work())
            .map(|(start, _, _)| seconds(start))
            .reduce(f64::min);
        start.idle_seconds = start
            .ready_seconds
            .zip(first_load)
            .map(|(ready, load)| (load - ready).max(0.0));
        ScheduleRecord {
            cluster_start: start,
            build_slots_while_booting: graph::build_slots_while_booting(self.concurrency) as u32,
            critical_path_seconds: critical.as_ref().map(|(total, _)| *total),
            critical_path: critical
                .map(|(_, chain)| chain.iter().map(|index| self.graph.nodes[*index].id()).collect())
                .unwrap_or_default(),
            strict_seconds: strict,
        }
    }
}
