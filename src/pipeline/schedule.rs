//! The schedule as data: which phases run, in which order, with which options. Adding a phase
//! is one entry.

use std::sync::Arc;

use crate::model::PhaseName;
use crate::phases::{self, RunContext};
use crate::plan::Plan;
use crate::runner::{PhaseOptions, Step};

/// One entry of the schedule: a phase, its steps (or why it has nothing to do), how they run.
pub(super) struct PhaseEntry {
    pub(super) phase: PhaseName,
    pub(super) steps: fn(&Arc<RunContext>) -> Result<Vec<Step>, &'static str>,
    pub(super) options: fn(&Plan, usize) -> PhaseOptions,
}

/// DD-TEST-002's strict schedule: every phase after the previous one succeeded.
pub(super) const STRICT: [PhaseEntry; 8] = [
    PhaseEntry {
        phase: PhaseName::Preflight,
        steps: phases::preflight::steps,
        // One check after another, every one reported.
        options: |_, _| PhaseOptions {
            concurrency: 1,
            fail_fast: false,
            target: None,
            target_line: None,
        },
    },
    PhaseEntry {
        phase: PhaseName::Build,
        steps: |run| phases::build::steps(run),
        options: |plan, _| limited(plan, PhaseName::Build),
    },
    PhaseEntry {
        phase: PhaseName::Cluster,
        steps: phases::cluster::steps,
        options: |plan, _| limited(plan, PhaseName::Cluster),
    },
    PhaseEntry {
        phase: PhaseName::Load,
        steps: |run| phases::load::steps(run),
        options: |plan, _| limited(plan, PhaseName::Load),
    },
    PhaseEntry {
        phase: PhaseName::Deploy,
        steps: |run| phases::deploy::steps(run),
        // Group steps wait for each other; the runner must not hold them back.
        options: |plan, steps| PhaseOptions {
            concurrency: steps,
            ..limited(plan, PhaseName::Deploy)
        },
    },
    // With `services:` and `test:`, in both modes: the integration tier's containers, after the
    // setup and before the suite that uses them (`services up` starts them alone).
    PhaseEntry {
        phase: PhaseName::Services,
        steps: phases::services::steps,
        // Service steps wait for each other; the runner must not hold them back.
        options: |plan, steps| PhaseOptions {
            concurrency: steps.max(1),
            fail_fast: plan.fail_fast,
            target: plan.target(PhaseName::Services),
            target_line: plan.target_line(PhaseName::Services),
        },
    },
    // After the setup, in both modes: the project's suite (only with `test:`).
    PhaseEntry {
        phase: PhaseName::Test,
        steps: phases::test::steps,
        options: |plan, _| PhaseOptions {
            concurrency: 1,
            fail_fast: true,
            target: plan.target(PhaseName::Test),
            target_line: plan.target_line(PhaseName::Test),
        },
    },
    // After the suite (images with `coverage: true`): stop the instrumented workloads, copy
    // their data out of the nodes. One step per image, all at once; never fails the run.
    PhaseEntry {
        phase: PhaseName::Coverage,
        steps: phases::coverage::steps,
        options: |_, steps| PhaseOptions {
            concurrency: steps.max(1),
            fail_fast: false,
            target: None,
            target_line: None,
        },
    },
];

/// The entry of `phase` (`hybrid-e2e coverage` runs one alone); `None` for teardown, which runs
/// after the schedule.
pub(super) fn entry(phase: PhaseName) -> Option<&'static PhaseEntry> {
    STRICT.iter().find(|entry| entry.phase == phase)
}

/// A phase under the plan's concurrency limit and fail-fast choice, against its target.
fn limited(plan: &Plan, phase: PhaseName) -> PhaseOptions {
    PhaseOptions {
        concurrency: plan.concurrency,
        fail_fast: plan.fail_fast,
        target: plan.target(phase),
        target_line: plan.target_line(phase),
    }
}
