//! Finished steps and phases, as the phase runner reports them (in memory; `timings.json` is
//! their record).

use std::time::Duration;

use super::{CoverageResult, Failure, FailureClass, PhaseName, Status, TestResults, Timing};

/// A finished step.
#[derive(Debug, Clone)]
pub(crate) struct StepReport {
    pub(crate) name: String,
    /// The step's own work (after any wait for what it depends on).
    pub(crate) timing: Option<Timing>,
    /// How long the step waited for what it depends on before its own work began.
    pub(crate) waited: Option<std::time::Duration>,
    pub(crate) status: Status,
    pub(crate) failure: Option<Failure>,
    pub(crate) bytes: Option<u64>,
    pub(crate) attempts: u32,
    /// Relative to the report directory.
    pub(crate) log: Option<String>,
    /// A short note for the terminal (what a preflight check found).
    pub(crate) note: Option<String>,
    /// It passed with a warning (the terminal says `warning`, not `ok`).
    pub(crate) warned: bool,
    /// The test phase's suite: what its JUnit said.
    pub(crate) tests: Option<Box<TestResults>>,
    /// The coverage phase's image: what was captured.
    pub(crate) coverage: Option<Box<CoverageResult>>,
}

impl StepReport {
    /// A step that never ran (cancelled before its turn, or skipped).
    pub(crate) fn not_run(name: impl Into<String>, status: Status) -> StepReport {
        StepReport {
            name: name.into(),
            timing: None,
            waited: None,
            status,
            failure: None,
            bytes: None,
            attempts: 0,
            log: None,
            note: None,
            warned: false,
            tests: None,
            coverage: None,
        }
    }

    /// A step whose work panicked: a bug, reported as a failure so the run never looks green.
    pub(crate) fn panicked(name: impl Into<String>) -> StepReport {
        StepReport {
            status: Status::Failed,
            failure: Some(Failure::new(
                FailureClass::Infrastructure,
                "the step panicked (a bug in hybrid-e2e)",
            )),
            ..StepReport::not_run(name, Status::Failed)
        }
    }
}

/// A finished phase.
#[derive(Debug, Clone)]
pub(crate) struct PhaseReport {
    pub(crate) phase: PhaseName,
    pub(crate) timing: Option<Timing>,
    pub(crate) target: Option<Duration>,
    /// The config-file line setting the target (`None`: the DD-TEST-002 default).
    pub(crate) target_line: Option<u64>,
    pub(crate) status: Status,
    pub(crate) steps: Vec<StepReport>,
    pub(crate) message: Option<String>,
}

impl PhaseReport {
    pub(crate) fn skipped(phase: PhaseName, target: Option<Duration>, message: impl Into<String>) -> PhaseReport {
        PhaseReport {
            phase,
            timing: None,
            target,
            target_line: None,
            status: Status::Skipped,
            steps: Vec::new(),
            message: Some(message.into()),
        }
    }

    /// The first failure of the phase.
    pub(crate) fn failure(&self) -> Option<(&StepReport, &Failure)> {
        self.steps
            .iter()
            .find_map(|step| step.failure.as_ref().map(|failure| (step, failure)))
    }
}
