//! The phase runner: runs a phase's steps under a concurrency limit (started in the order
//! given), cancels the rest on the first failure (unless `fail_fast: false`), times every step
//! and emits events. Every phase of a strict run, preflight and teardown included, goes through
//! here; the pipelined scheduler (`pipeline::scheduler`) runs each step through [`run_one`].

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::exec::{self, ExecError, ProcessOutcome, ProcessSpec};
use crate::model::{Event, Failure, PhaseName, PhaseReport, Reporters, Status, StepReport, Stopwatch};

/// What a step's work returns.
#[derive(Debug)]
pub(crate) struct StepResult {
    pub(crate) failure: Option<Failure>,
    pub(crate) bytes: Option<u64>,
    pub(crate) attempts: u32,
    /// A short note for the terminal (what a preflight check found).
    pub(crate) note: Option<String>,
    /// The step passed with a warning (shown as such, not as a plain `ok`).
    pub(crate) warned: bool,
    /// What a test suite's JUnit reported (the test phase).
    pub(crate) tests: Option<Box<crate::model::TestResults>>,
    /// What a coverage step captured (the coverage phase).
    pub(crate) coverage: Option<Box<crate::model::CoverageResult>>,
}

impl Default for StepResult {
    fn default() -> StepResult {
        StepResult::ok()
    }
}

impl StepResult {
    pub(crate) fn ok() -> StepResult {
        StepResult {
            failure: None,
            bytes: None,
            attempts: 1,
            note: None,
            warned: false,
            tests: None,
            coverage: None,
        }
    }

    pub(crate) fn failed(failure: Failure) -> StepResult {
        StepResult {
            failure: Some(failure),
            ..StepResult::ok()
        }
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
    /// When the step's own work began (set by [`StepContext::start_work`]).
    work_started: Arc<std::sync::Mutex<Option<Stopwatch>>>,
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

    /// The step has waited for what it depends on and starts its own work now: its clock starts
    /// here, and the time before is reported as waited, not as the step's.
    pub(crate) fn start_work(&self) {
        let mut started = self
            .work_started
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if started.is_none() {
            *started = Some(Stopwatch::start());
        }
    }

    /// A warning the user should see (the run's record keeps every warning emitted).
    pub(crate) fn warn(&self, message: &str) {
        self.reporters.emit(Event::Warning { message });
    }

    /// Values no output may show from now on (masked in the GitHub log).
    pub(crate) fn secrets(&self, values: &[String]) {
        self.reporters.emit(Event::Secrets { values });
    }

    /// Run a process for this step: output goes to the step's log file and the event stream.
    pub(crate) async fn exec(
        &self,
        spec: &ProcessSpec,
        timeout: Option<Duration>,
    ) -> Result<ProcessOutcome, ExecError> {
        let reporters = &self.reporters;
        let (phase, step) = (self.phase, self.name.as_str());
        let outcome = exec::run(
            spec,
            Some(&self.log),
            |line| reporters.emit(Event::StepOutput { phase, step, line }),
            &self.cancel,
            timeout,
        )
        .await?;
        if outcome.left_behind {
            self.warn(&format!(
                "{phase}/{step}: `{}` exited but something it started still held its output {}s later; that process group was killed",
                spec.program,
                exec::DRAIN_AFTER_EXIT.as_secs()
            ));
        }
        Ok(outcome)
    }
}

/// How a phase runs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PhaseOptions {
    pub(crate) concurrency: usize,
    pub(crate) fail_fast: bool,
    pub(crate) target: Option<Duration>,
    /// The config-file line of the target, for annotations.
    pub(crate) target_line: Option<u64>,
}

/// The teardown phase: its steps one after another, every one run whatever the others did,
/// and never cancelled (it runs after a Ctrl-C too).
pub(crate) async fn run_teardown(steps: Vec<Step>, reporters: &Arc<Reporters>, report_dir: &Path) -> PhaseReport {
    let options = PhaseOptions {
        concurrency: 1,
        fail_fast: false,
        target: None,
        target_line: None,
    };
    run_phase(
        PhaseName::Teardown,
        steps,
        options,
        &CancellationToken::new(),
        reporters,
        report_dir,
    )
    .await
}

/// Run `steps` as phase `phase`. Never fails itself: failures are in the report. Steps start in
/// the order given (a permit is taken before a step is started), so `concurrency: 1` runs them
/// one after another in that order.
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
    let mut reports: Vec<Option<StepReport>> = names.iter().map(|_| None).collect();
    let mut pending = steps.into_iter().enumerate();
    // Start steps in order as permits free up, collecting finished ones meanwhile.
    loop {
        let next = pending.next();
        if let Some((index, step)) = next {
            let permit = loop {
                tokio::select! {
                    biased;
                    () = phase_cancel.cancelled() => break None,
                    permit = Arc::clone(&semaphore).acquire_owned() => break permit.ok(),
                    Some(joined) = set.join_next(), if !set.is_empty() => {
                        collect(joined, &mut reports, &phase_cancel, options.fail_fast);
                    }
                }
            };
            let Some(permit) = permit else {
                let report = StepReport::not_run(step.name, Status::Cancelled);
                reporters.emit(Event::StepFinished { phase, report: &report });
                reports[index] = Some(report);
                continue;
            };
            let context = StepContext {
                phase,
                name: step.name.clone(),
                cancel: phase_cancel.clone(),
                log: report_dir.join(log_path(phase, &step.name)),
                reporters: Arc::clone(reporters),
                work_started: Arc::default(),
            };
            set.spawn(async move {
                let _permit = permit;
                (index, run_step(step, context).await)
            });
            continue;
        }
        match set.join_next().await {
            Some(joined) => collect(joined, &mut reports, &phase_cancel, options.fail_fast),
            None => break,
        }
    }
    let steps: Vec<StepReport> = reports
        .into_iter()
        .zip(names)
        .map(|(report, name)| report.unwrap_or_else(|| StepReport::panicked(name)))
        .collect();
    let timing = stopwatch.stop();
    let status = phase_status(&steps, cancel.is_cancelled(), options.target, timing.duration);
    let message = phase_message(&steps);
    let report = PhaseReport {
        phase,
        timing: Some(timing),
        target: options.target,
        target_line: options.target_line,
        status,
        steps,
        message,
    };
    reporters.emit(Event::PhaseFinished { report: &report });
    report
}

/// A phase's status from its steps: failed if one failed, cancelled if the run or a step was,
/// over target if it took longer than `target`, else ok.
pub(crate) fn phase_status(
    steps: &[StepReport],
    cancelled: bool,
    target: Option<Duration>,
    duration: Duration,
) -> Status {
    if steps.iter().any(|step| step.status == Status::Failed) {
        Status::Failed
    } else if cancelled || steps.iter().any(|step| step.status == Status::Cancelled) {
        Status::Cancelled
    } else if target.is_some_and(|target| duration > target) {
        Status::OverTarget
    } else {
        Status::Ok
    }
}

/// A phase's message: its first failure, as `step: message`.
pub(crate) fn phase_message(steps: &[StepReport]) -> Option<String> {
    steps.iter().find_map(|step| {
        step.failure
            .as_ref()
            .map(|failure| format!("{}: {}", step.name, failure.message))
    })
}

/// Run one step of `phase` on its own, when a scheduler other than [`run_phase`] decides it
/// may start (`mode: pipelined`): its log, its clock, its events, as in a phase.
pub(crate) async fn run_one(
    phase: PhaseName,
    step: Step,
    cancel: CancellationToken,
    reporters: &Arc<Reporters>,
    report_dir: &Path,
) -> StepReport {
    let context = StepContext {
        phase,
        name: step.name.clone(),
        cancel,
        log: report_dir.join(log_path(phase, &step.name)),
        reporters: Arc::clone(reporters),
        work_started: Arc::default(),
    };
    run_step(step, context).await
}

/// A step's log file, relative to the report directory.
pub(crate) fn log_path(phase: PhaseName, step: &str) -> String {
    format!("logs/{phase}/{step}.log")
}

/// File a finished (or panicked) step's report; the first failure cancels the rest under
/// fail-fast.
fn collect(
    joined: Result<(usize, StepReport), tokio::task::JoinError>,
    reports: &mut [Option<StepReport>],
    phase_cancel: &CancellationToken,
    fail_fast: bool,
) {
    match joined {
        Ok((index, report)) => {
            if report.status == Status::Failed && fail_fast {
                phase_cancel.cancel();
            }
            reports[index] = Some(report);
        }
        // A panicked step is reported as failed (its slot stays empty); it stops the rest like
        // any failure.
        Err(_) => {
            if fail_fast {
                phase_cancel.cancel();
            }
        }
    }
}

async fn run_step(step: Step, context: StepContext) -> StepReport {
    let (phase, reporters) = (context.phase, Arc::clone(&context.reporters));
    let (cancel, log) = (context.cancel.clone(), context.log.clone());
    let work_started = Arc::clone(&context.work_started);
    if cancel.is_cancelled() {
        let report = StepReport::not_run(step.name, Status::Cancelled);
        reporters.emit(Event::StepFinished { phase, report: &report });
        return report;
    }
    reporters.emit(Event::StepStarted {
        phase,
        step: &step.name,
    });
    let stopwatch = Stopwatch::start();
    let result = (step.work)(context).await;
    let whole = stopwatch.stop();
    // A step that waited for others before its own work: its clock is its own work.
    let own = *work_started.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let (timing, waited) = match own {
        Some(own) => {
            let timing = own.stop();
            (timing, Some(whole.duration.saturating_sub(timing.duration)))
        }
        None => (whole, None),
    };
    let status = match (&result.failure, cancel.is_cancelled()) {
        (Some(_), _) => Status::Failed,
        (None, true) => Status::Cancelled,
        (None, false) => Status::Ok,
    };
    let report = StepReport {
        timing: Some(timing),
        waited,
        status,
        failure: result.failure,
        bytes: result.bytes,
        attempts: result.attempts,
        log: log.exists().then(|| log_path(phase, &step.name)),
        note: result.note,
        warned: result.warned,
        tests: result.tests,
        coverage: result.coverage,
        ..StepReport::not_run(step.name, status)
    };
    reporters.emit(Event::StepFinished { phase, report: &report });
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FailureClass, Recorder};
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

    fn options(concurrency: usize, fail_fast: bool, target: Option<Duration>) -> PhaseOptions {
        PhaseOptions {
            concurrency,
            fail_fast,
            target,
            target_line: None,
        }
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
        let (report, _, elapsed) = run(steps, options(2, true, None));
        assert_eq!(report.status, Status::Ok);
        assert!(
            elapsed >= Duration::from_millis(400) && elapsed < Duration::from_millis(700),
            "{elapsed:?}"
        );
    }

    #[test]
    fn with_one_slot_steps_start_in_the_order_given() {
        let steps = (0..5).map(|index| sleeping(&format!("s{index}"), 5, false)).collect();
        let (_, lines, _) = run(steps, options(1, true, None));
        let started: Vec<&str> = lines
            .iter()
            .filter_map(|line| line.strip_prefix("step-started build "))
            .collect();
        assert_eq!(started, vec!["s0", "s1", "s2", "s3", "s4"]);
    }

    #[test]
    fn first_failure_cancels_the_rest() {
        let steps = vec![sleeping("slow", 5_000, false), sleeping("bad", 50, true)];
        let (report, lines, elapsed) = run(steps, options(4, true, None));
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
        assert_eq!(report.status, Status::Failed);
        assert_eq!(report.steps[0].status, Status::Cancelled);
        assert_eq!(report.steps[1].status, Status::Failed);
        assert_eq!(report.message.as_deref(), Some("bad: boom"));
        assert_eq!(lines.first().map(String::as_str), Some("phase-started build 2"));
        assert_eq!(lines.last().map(String::as_str), Some("phase-finished build failed"));
    }

    #[test]
    fn a_failure_cancels_steps_still_waiting_for_a_slot() {
        let steps = vec![sleeping("bad", 50, true), sleeping("queued", 50, false)];
        let (report, _, _) = run(steps, options(1, true, None));
        assert_eq!(report.steps[1].status, Status::Cancelled);
        assert!(
            report.steps[1].timing.is_none(),
            "a step that never started has no clock"
        );
    }

    #[test]
    fn a_panicking_step_fails_and_cancels_the_rest() {
        let panicking = Step::new("bug", |_context: StepContext| async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            panic!("a bug");
        });
        let steps = vec![sleeping("slow", 5_000, false), panicking];
        let (report, _, elapsed) = run(steps, options(4, true, None));
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
        let (report, _, _) = run(steps, options(4, false, None));
        let statuses: Vec<Status> = report.steps.iter().map(|step| step.status).collect();
        assert_eq!(statuses, vec![Status::Failed, Status::Failed, Status::Ok]);
    }

    #[test]
    fn over_target_is_its_own_status() {
        let (report, _, _) = run(
            vec![sleeping("a", 120, false)],
            options(1, true, Some(Duration::from_millis(50))),
        );
        assert_eq!(report.status, Status::OverTarget);
    }

    #[test]
    fn warnings_are_emitted() {
        let step = Step::new("check", |context: StepContext| async move {
            context.warn("inotify limits are low");
            StepResult::ok()
        });
        let (_, lines, _) = run(vec![step], options(1, true, None));
        assert!(
            lines.contains(&"warning inotify limits are low".to_owned()),
            "{lines:?}"
        );
    }
}
