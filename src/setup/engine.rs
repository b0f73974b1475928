//! The phase engine: runs a phase's steps in parallel under a concurrency limit, cancels the
//! rest on the first failure (unless `fail_fast: false`), times every step and emits events.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::exec::{self, ExecError, ProcessOutcome, ProcessSpec};
use crate::report::events::{Event, Reporters};
use crate::timing::{FailureClass, Status, Stopwatch, Timing};

/// The phases of a run, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum PhaseName {
    Preflight,
    Build,
    Cluster,
    Load,
    Deploy,
    Teardown,
}

impl PhaseName {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PhaseName::Preflight => "preflight",
            PhaseName::Build => "build",
            PhaseName::Cluster => "cluster",
            PhaseName::Load => "load",
            PhaseName::Deploy => "deploy",
            PhaseName::Teardown => "teardown",
        }
    }

    /// Whether the phase counts towards the DD-TEST-002 setup time.
    pub(crate) fn is_setup(self) -> bool {
        matches!(
            self,
            PhaseName::Build | PhaseName::Cluster | PhaseName::Load | PhaseName::Deploy
        )
    }
}

/// Why a step failed, whose fault it is, and what to do.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) class: FailureClass,
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
    /// The file the failure points at (a Dockerfile, the kind config).
    pub(crate) file: Option<String>,
    /// The line in `file` (the failing Dockerfile step).
    pub(crate) line: Option<usize>,
    /// The last lines of output.
    pub(crate) tail: Vec<String>,
}

impl Failure {
    pub(crate) fn new(class: FailureClass, message: impl Into<String>) -> Failure {
        Failure {
            class,
            message: message.into(),
            hint: None,
            file: None,
            line: None,
            tail: Vec::new(),
        }
    }

    pub(crate) fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }

    pub(crate) fn file(mut self, file: impl Into<String>) -> Failure {
        self.file = Some(file.into());
        self
    }

    pub(crate) fn tail(mut self, tail: Vec<String>) -> Failure {
        self.tail = tail;
        self
    }
}

/// What a step's work returns.
#[derive(Debug, Default)]
pub(crate) struct StepResult {
    pub(crate) failure: Option<Failure>,
    pub(crate) bytes: Option<u64>,
    pub(crate) attempts: u32,
}

impl StepResult {
    pub(crate) fn ok() -> StepResult {
        StepResult {
            failure: None,
            bytes: None,
            attempts: 1,
        }
    }

    pub(crate) fn failed(failure: Failure) -> StepResult {
        StepResult {
            failure: Some(failure),
            bytes: None,
            attempts: 1,
        }
    }
}

/// A finished step.
#[derive(Debug, Clone)]
pub(crate) struct StepReport {
    pub(crate) name: String,
    pub(crate) timing: Option<Timing>,
    pub(crate) status: Status,
    pub(crate) failure: Option<Failure>,
    pub(crate) bytes: Option<u64>,
    pub(crate) attempts: u32,
    /// Relative to the report directory.
    pub(crate) log: Option<String>,
    /// A short note for the terminal (what a preflight check found).
    pub(crate) note: Option<String>,
}

/// A finished phase.
#[derive(Debug, Clone)]
pub(crate) struct PhaseReport {
    pub(crate) phase: PhaseName,
    pub(crate) timing: Option<Timing>,
    pub(crate) target: Option<Duration>,
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

/// Boxed step work.
pub(crate) type StepFuture = Pin<Box<dyn Future<Output = StepResult> + Send>>;

/// One unit of work in a phase.
pub(crate) struct Step {
    pub(crate) name: String,
    pub(crate) work: Box<dyn FnOnce(StepContext) -> StepFuture + Send>,
}

impl Step {
    pub(crate) fn new<F, Fut>(name: impl Into<String>, work: F) -> Step
    where
        F: FnOnce(StepContext) -> Fut + Send + 'static,
        Fut: Future<Output = StepResult> + Send + 'static,
    {
        Step {
            name: name.into(),
            work: Box::new(move |context| Box::pin(work(context))),
        }
    }
}

/// What a step may use while it runs.
#[derive(Clone)]
pub(crate) struct StepContext {
    pub(crate) phase: PhaseName,
    pub(crate) name: String,
    pub(crate) cancel: CancellationToken,
    pub(crate) log: PathBuf,
    reporters: Arc<Reporters>,
}

impl StepContext {
    /// A status line of the step's own (not a process's): to its log file and, as progress, to the
    /// event stream.
    pub(crate) fn say(&self, line: &str) {
        use std::io::Write as _;
        if let Some(parent) = self.log.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        if let Ok(mut file) = std::fs::OpenOptions::new().create(true).append(true).open(&self.log) {
            let _ = writeln!(file, "{line}");
        }
        let (phase, step) = (self.phase, self.name.as_str());
        self.reporters.emit(Event::StepProgress { phase, step, line });
    }

    /// Run a process for this step: output goes to the step's log file and the event stream.
    pub(crate) async fn exec(
        &self,
        spec: &ProcessSpec,
        timeout: Option<Duration>,
    ) -> Result<ProcessOutcome, ExecError> {
        let reporters = &self.reporters;
        let (phase, step) = (self.phase, self.name.as_str());
        exec::run(
            spec,
            Some(&self.log),
            |line| reporters.emit(Event::StepOutput { phase, step, line }),
            &self.cancel,
            timeout,
        )
        .await
    }
}

/// How a phase runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PhaseOptions {
    pub(crate) concurrency: usize,
    pub(crate) fail_fast: bool,
    pub(crate) target: Option<Duration>,
}

/// Run `steps` as phase `phase`. Never fails itself: failures are in the report.
pub(crate) async fn run_phase(
    phase: PhaseName,
    steps: Vec<Step>,
    options: PhaseOptions,
    cancel: &CancellationToken,
    reporters: &Arc<Reporters>,
    report_dir: &Path,
) -> PhaseReport {
    reporters.emit(Event::PhaseStarted {
        phase,
        steps: steps.len(),
        target: options.target,
    });
    let stopwatch = Stopwatch::start();
    let phase_cancel = cancel.child_token();
    let semaphore = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let mut set = JoinSet::new();
    let names: Vec<String> = steps.iter().map(|step| step.name.clone()).collect();
    for (index, step) in steps.into_iter().enumerate() {
        let semaphore = Arc::clone(&semaphore);
        let cancel = phase_cancel.clone();
        let reporters = Arc::clone(reporters);
        let log_relative = format!("logs/{}/{}.log", phase.as_str(), step.name);
        let log = report_dir.join(&log_relative);
        set.spawn(async move {
            let permit = tokio::select! {
                permit = semaphore.acquire_owned() => permit.ok(),
                () = cancel.cancelled() => None,
            };
            if permit.is_none() || cancel.is_cancelled() {
                let report = StepReport {
                    name: step.name,
                    timing: None,
                    status: Status::Cancelled,
                    failure: None,
                    bytes: None,
                    attempts: 0,
                    log: None,
                    note: None,
                };
                reporters.emit(Event::StepFinished { phase, report: &report });
                return (index, report);
            }
            reporters.emit(Event::StepStarted {
                phase,
                step: &step.name,
            });
            let stopwatch = Stopwatch::start();
            let context = StepContext {
                phase,
                name: step.name.clone(),
                cancel: cancel.clone(),
                log: log.clone(),
                reporters: Arc::clone(&reporters),
            };
            let result = (step.work)(context).await;
            let timing = stopwatch.stop();
            let status = match (&result.failure, cancel.is_cancelled()) {
                (Some(_), _) => Status::Failed,
                (None, true) => Status::Cancelled,
                (None, false) => Status::Ok,
            };
            let report = StepReport {
                name: step.name,
                timing: Some(timing),
                status,
                failure: result.failure,
                bytes: result.bytes,
                attempts: result.attempts,
                log: log.exists().then_some(log_relative),
                note: None,
            };
            reporters.emit(Event::StepFinished { phase, report: &report });
            (index, report)
        });
    }
    let mut reports: Vec<Option<StepReport>> = names.iter().map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        let Ok((index, report)) = joined else {
            // A panicked step is reported as failed below; it stops the rest like any failure.
            if options.fail_fast {
                phase_cancel.cancel();
            }
            continue;
        };
        if report.status == Status::Failed && options.fail_fast {
            phase_cancel.cancel();
        }
        reports[index] = Some(report);
    }
    let steps: Vec<StepReport> = reports
        .into_iter()
        .zip(names)
        .map(|(report, name)| {
            report.unwrap_or(StepReport {
                name,
                timing: None,
                status: Status::Failed,
                failure: Some(Failure::new(
                    FailureClass::Infrastructure,
                    "the step panicked (a bug in hybrid-e2e)",
                )),
                bytes: None,
                attempts: 0,
                log: None,
                note: None,
            })
        })
        .collect();
    let timing = stopwatch.stop();
    let status = if steps.iter().any(|step| step.status == Status::Failed) {
        Status::Failed
    } else if cancel.is_cancelled() || steps.iter().any(|step| step.status == Status::Cancelled) {
        Status::Cancelled
    } else if options.target.is_some_and(|target| timing.duration > target) {
        Status::OverTarget
    } else {
        Status::Ok
    };
    let message = steps.iter().find_map(|step| {
        step.failure
            .as_ref()
            .map(|failure| format!("{}: {}", step.name, failure.message))
    });
    let report = PhaseReport {
        phase,
        timing: Some(timing),
        target: options.target,
        status,
        steps,
        message,
    };
    reporters.emit(Event::PhaseFinished { report: &report });
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::events::Recorder;
    use std::sync::Mutex;
    use std::time::Instant;

    use crate::test_support::runtime;

    fn sleeping(name: &str, millis: u64, fail: bool) -> Step {
        Step::new(name, move |context: StepContext| async move {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(millis)) => {}
                () = context.cancel.cancelled() => return StepResult::ok(),
            }
            if fail {
                StepResult::failed(Failure::new(FailureClass::Application, "boom"))
            } else {
                StepResult::ok()
            }
        })
    }

    fn run(steps: Vec<Step>, options: PhaseOptions) -> (PhaseReport, Vec<String>, Duration) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let reporters = Arc::new(Reporters::new(vec![Box::new(Recorder(Arc::clone(&lines)))]));
        let directory = tempfile::tempdir().expect("tempdir");
        let started = Instant::now();
        let report = runtime().block_on(run_phase(
            PhaseName::Build,
            steps,
            options,
            &CancellationToken::new(),
            &reporters,
            directory.path(),
        ));
        let elapsed = started.elapsed();
        let lines = lines.lock().expect("lock").clone();
        (report, lines, elapsed)
    }

    #[test]
    fn steps_run_in_parallel_under_the_limit() {
        let steps = (0..4).map(|index| sleeping(&format!("s{index}"), 200, false)).collect();
        let (report, _, elapsed) = run(
            steps,
            PhaseOptions {
                concurrency: 2,
                fail_fast: true,
                target: None,
            },
        );
        assert_eq!(report.status, Status::Ok);
        assert!(
            elapsed >= Duration::from_millis(400) && elapsed < Duration::from_millis(700),
            "{elapsed:?}"
        );
    }

    #[test]
    fn first_failure_cancels_the_rest() {
        let steps = vec![sleeping("slow", 5_000, false), sleeping("bad", 50, true)];
        let (report, lines, elapsed) = run(
            steps,
            PhaseOptions {
                concurrency: 4,
                fail_fast: true,
                target: None,
            },
        );
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
        assert_eq!(report.status, Status::Failed);
        assert_eq!(report.steps[0].status, Status::Cancelled);
        assert_eq!(report.steps[1].status, Status::Failed);
        assert_eq!(report.message.as_deref(), Some("bad: boom"));
        assert_eq!(lines.first().map(String::as_str), Some("phase-started build 2"));
        assert_eq!(lines.last().map(String::as_str), Some("phase-finished build failed"));
    }

    #[test]
    fn a_panicking_step_fails_and_cancels_the_rest() {
        let panicking = Step::new("bug", |_context: StepContext| async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            panic!("a bug");
        });
        let steps = vec![sleeping("slow", 5_000, false), panicking];
        let (report, _, elapsed) = run(
            steps,
            PhaseOptions {
                concurrency: 4,
                fail_fast: true,
                target: None,
            },
        );
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
        assert_eq!(report.steps[0].status, Status::Cancelled);
        assert_eq!(report.steps[1].status, Status::Failed);
        assert!(
            report.steps[1]
                .failure
                .as_ref()
                .is_some_and(|failure| failure.message.contains("panicked"))
        );
    }

    #[test]
    fn without_fail_fast_every_failure_is_collected() {
        let steps = vec![
            sleeping("a", 50, true),
            sleeping("b", 150, true),
            sleeping("c", 100, false),
        ];
        let (report, _, _) = run(
            steps,
            PhaseOptions {
                concurrency: 4,
                fail_fast: false,
                target: None,
            },
        );
        let statuses: Vec<Status> = report.steps.iter().map(|step| step.status).collect();
        assert_eq!(statuses, vec![Status::Failed, Status::Failed, Status::Ok]);
    }

    #[test]
    fn over_target_is_its_own_status() {
        let (report, _, _) = run(
            vec![sleeping("a", 120, false)],
            PhaseOptions {
                concurrency: 1,
                fail_fast: true,
                target: Some(Duration::from_millis(50)),
            },
        );
        assert_eq!(report.status, Status::OverTarget);
    }
}
