//! The leaf every other module shares: phases, statuses, failure classes, failures and their
//! structured findings, the in-memory phase and step reports, the events the phase runner emits,
//! the stopwatch, and `timings.json` (the versioned record of a run). Nothing here imports
//! anything else of the crate.

mod coverage;
mod events;
mod failure;
mod outcome;
mod phase;
mod record;
mod report;
mod stopwatch;
mod tests;

pub(crate) use coverage::{CoverageResult, PackageCoverage};
#[cfg(test)]
pub(crate) use events::Recorder;
pub(crate) use events::{Event, Reporter, Reporters};
pub(crate) use failure::{Failure, Finding};
pub(crate) use outcome::{FailureClass, Status};
pub(crate) use phase::PhaseName;
#[cfg(test)]
pub(crate) use record::parse_run_record;
pub(crate) use record::{
    ClusterStartRecord, DockerfileFindings, PhaseRecord, ReadRecordError, RunFacts, RunRecord, ScheduleRecord,
    StepRecord, busy, read_run_record,
};
pub(crate) use report::{PhaseReport, StepReport};
pub(crate) use stopwatch::{Stopwatch, Timing};
pub(crate) use tests::{TestCaseResult, TestCounts, TestOutcome, TestResults, TestSuiteResult};
