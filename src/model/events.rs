//! The event stream: the phase runner and the pipeline emit, every reporter (terminal,
//! `timings.json`, tests) consumes. Events are delivered in order, synchronously.

use std::sync::Mutex;
use std::time::Duration;

use super::{PhaseName, PhaseReport, RunRecord, StepReport};

/// Something the run did.
#[derive(Debug)]
pub(crate) enum Event<'a> {
    RunStarted {
        /// `run`, or `services up` (whose `cluster` is the run's network).
        command: &'a str,
        run_id: &'a str,
        cluster: &'a str,
        report_dir: &'a str,
    },
    PhaseStarted {
        phase: PhaseName,
        steps: usize,
        target: Option<Duration>,
    },
    StepStarted {
        phase: PhaseName,
        step: &'a str,
    },
    StepOutput {
        phase: PhaseName,
        step: &'a str,
        line: &'a str,
    },
    /// A status change a step reports itself (a deploy object became ready, the cluster gate is
    /// waiting for CoreDNS): few and meaningful, so shown without `-v`.
    StepProgress {
        phase: PhaseName,
        step: &'a str,
        line: &'a str,
    },
    StepFinished {
        phase: PhaseName,
        report: &'a StepReport,
    },
    PhaseFinished {
        report: &'a PhaseReport,
    },
    Warning {
        message: &'a str,
    },
    /// Values no output may show (the suite's secret-looking `test.env` values): hybrid-e2e
    /// replaces them in what it prints and keeps, and a GitHub reporter masks them in the log.
    Secrets {
        values: &'a [String],
    },
    RunFinished {
        record: &'a RunRecord,
    },
}

/// A consumer of events.
pub(crate) trait Reporter: Send {
    fn handle(&mut self, event: &Event<'_>);
}

/// Every reporter of a run.
#[derive(Default)]
pub(crate) struct Reporters {
    sinks: Mutex<Vec<Box<dyn Reporter>>>,
}

impl Reporters {
    pub(crate) fn new(sinks: Vec<Box<dyn Reporter>>) -> Reporters {
        Reporters {
            sinks: Mutex::new(sinks),
        }
    }

    pub(crate) fn emit(&self, event: Event<'_>) {
        let mut sinks = self.sinks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        for sink in sinks.iter_mut() {
            sink.handle(&event);
        }
    }
}

/// Records every event as a line, for tests.
#[cfg(test)]
pub(crate) struct Recorder(pub(crate) std::sync::Arc<Mutex<Vec<String>>>);

#[cfg(test)]
impl Reporter for Recorder {
    fn handle(&mut self, event: &Event<'_>) {
        let line = match event {
            Event::RunStarted { .. } => "run-started".to_owned(),
            Event::PhaseStarted { phase, steps, .. } => format!("phase-started {phase} {steps}"),
            Event::StepStarted { phase, step } => format!("step-started {phase} {step}"),
            Event::StepOutput { .. } | Event::StepProgress { .. } => return,
            Event::StepFinished { phase, report } => {
                format!("step-finished {phase} {} {}", report.name, report.status.as_str())
            }
            Event::PhaseFinished { report } => {
                format!("phase-finished {} {}", report.phase, report.status.as_str())
            }
            Event::Warning { message } => format!("warning {message}"),
            Event::Secrets { values } => format!("secrets {}", values.len()),
            Event::RunFinished { record } => format!("run-finished {}", record.status.as_str()),
        };
        self.0.lock().expect("lock").push(line);
    }
}
