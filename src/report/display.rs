//! The terminal reporter: one block per phase, one line per step, the tail of a failing step's
//! output, never interleaved. On a terminal, a live spinner per running step; in GitHub Actions
//! each phase is a `::group::` instead.

use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::printer::{Printer, Progress, Verbosity};
use crate::model::{Event, Reporter, Status};

const OK: Style = AnsiColor::Green.on_default().bold();
const BAD: Style = AnsiColor::Red.on_default().bold();
const WARN: Style = AnsiColor::Yellow.on_default().bold();
const DIM: Style = Style::new().dimmed();
const BOLD: Style = Style::new().bold();

/// Lines of a failing step's output shown on the terminal (all of it is in the log file).
const FAILURE_TAIL: usize = 20;

pub(crate) struct Display {
    out: Box<dyn Write + Send>,
    github_groups: bool,
    /// Under GitHub Actions: secrets are masked with `::add-mask::`.
    github: bool,
    /// A `::group::` is open (a skipped phase never opened one).
    group_open: bool,
    verbose: bool,
    quiet: bool,
    /// Styles are written only with colour on (lines above the spinners bypass `out`).
    color: bool,
    /// Spinners for running steps, on a terminal only.
    live: Option<Live>,
}

struct Live {
    multi: MultiProgress,
    bars: HashMap<String, ProgressBar>,
}

impl Display {
    /// Write to `out` as `printer` decides (live spinners draw on standard error).
    pub(crate) fn new(out: Box<dyn Write + Send>, printer: &Printer) -> Display {
        Display {
            out,
            github_groups: printer.progress == Progress::GithubGroups,
            github: printer.github,
            group_open: false,
            verbose: printer.verbosity == Verbosity::Verbose,
            quiet: printer.verbosity == Verbosity::Quiet,
            color: printer.color,
            live: (printer.progress == Progress::Live).then(|| Live {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                bars: HashMap::new(),
            }),
        }
    }

    /// To standard error.
    pub(crate) fn stderr(printer: &Printer) -> Display {
        Display::new(printer.stderr(), printer)
    }

    /// Show `text` above the spinners (or plainly when there are none), styles only with colour.
    fn emit(&mut self, text: &[u8]) {
        if text.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(text);
        let text = if self.color {
            text.into_owned()
        } else {
            anstream::adapter::strip_str(&text).to_string()
        };
        match &self.live {
            Some(live) => {
                for line in text.lines() {
                    let _ = live.multi.println(line);
                }
            }
            None => {
                let _ = self.out.write_all(text.as_bytes());
                let _ = self.out.flush();
            }
        }
    }

    fn track(&mut self, event: &Event<'_>) {
        let Some(live) = &mut self.live else { return };
        match event {
            Event::StepStarted { phase, step } => {
                let bar = live.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("  {spinner} {prefix} {elapsed}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(format!("{}/{step}", phase.as_str()));
                bar.enable_steady_tick(Duration::from_millis(120));
                live.bars.insert(format!("{}/{step}", phase.as_str()), bar);
            }
            Event::StepFinished { phase, report } => {
                if let Some(bar) = live.bars.remove(&format!("{}/{}", phase.as_str(), report.name)) {
                    bar.finish_and_clear();
                    live.multi.remove(&bar);
                }
            }
            _ => {}
        }
    }
}

pub(crate) fn seconds(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}

fn status_style(status: Status) -> (Style, &'static str) {
    let style = match status {
        Status::Ok => OK,
        Status::OverTarget | Status::Cancelled => WARN,
        Status::Failed => BAD,
        Status::Skipped => DIM,
    };
    (style, status.as_str())
}

impl Reporter for Display {
    fn handle(&mut self, event: &Event<'_>) {
        self.track(event);
        let mut buffer: Vec<u8> = Vec::new();
        let out = &mut buffer;
        let _ = match event {
            Event::RunStarted {
                command,
                run_id,
                cluster,
                report_dir,
            } if !self.quiet => {
                let place = if matches!(*command, "run" | "coverage") {
                    "cluster"
                } else {
                    "network"
                };
                writeln!(
                    out,
                    "{BOLD}hybrid-e2e {command}{BOLD:#} {run_id} {DIM}{place} {cluster} · reports in {report_dir}{DIM:#}"
                )
            }
            Event::PhaseStarted { phase, steps, target } if !self.quiet => {
                let target = target
                    .map(|target| format!(", target {}", humantime::format_duration(target)))
                    .unwrap_or_default();
                let steps = if *steps == 1 {
                    "1 step".to_owned()
                } else {
                    format!("{steps} steps")
                };
                if self.github_groups {
                    self.group_open = true;
                    writeln!(out, "::group::{} ({steps}{target})", phase.as_str())
                } else {
                    writeln!(
                        out,
                        "{BOLD}==> {}{BOLD:#} {DIM}({steps}{target}){DIM:#}",
                        phase.as_str()
                    )
                }
            }
            Event::StepStarted { phase, step } if self.verbose => {
                writeln!(out, "  {DIM}  started {}/{step}{DIM:#}", phase.as_str())
            }
            Event::StepOutput { phase, step, line } if self.verbose => {
                writeln!(out, "    {DIM}{}/{step} |{DIM:#} {line}", phase.as_str())
            }
            Event::StepProgress { phase, step, line } if !self.quiet => {
                writeln!(out, "    {DIM}{}/{step}:{DIM:#} {line}", phase.as_str())
            }
            Event::StepFinished { phase, report } => {
                let (style, label) = if report.warned && report.status == Status::Ok {
                    (WARN, "warning")
                } else {
                    status_style(report.status)
                };
                let time = report.timing.map(|timing| seconds(timing.duration)).unwrap_or_default();
                // A check's finding (preflight), unless the failure says it below.
                let note = match (&report.note, &report.failure) {
                    (Some(note), None) => format!(" {}", note.replace('\n', "; ")),
                    _ => String::new(),
                };
                let attempts = if report.attempts > 1 {
                    format!(" ({} attempts)", report.attempts)
                } else {
                    String::new()
                };
                let mut result = if self.quiet && report.failure.is_none() {
                    Ok(())
                } else {
                    let bytes = report
                        .bytes
                        .map(|bytes| format!(" {:.1} MiB", bytes as f64 / 1_048_576.0))
                        .unwrap_or_default();
                    writeln!(
                        out,
                        "  {style}{label:>11}{style:#} {}/{} {DIM}{time}{bytes}{attempts}{DIM:#}{note}",
                        phase.as_str(),
                        report.name
                    )
                };
                if let Some(failure) = &report.failure {
                    result = result.and_then(|()| {
                        writeln!(
                            out,
                            "            {BAD}[{}]{BAD:#} {}",
                            failure.class.as_str(),
                            failure.message
                        )?;
                        if let Some(hint) = &failure.hint {
                            writeln!(out, "            hint: {hint}")?;
                        }
                        let skip = failure.tail.len().saturating_sub(FAILURE_TAIL);
                        for line in &failure.tail[skip..] {
                            writeln!(out, "            {DIM}|{DIM:#} {line}")?;
                        }
                        if let Some(log) = &report.log {
                            writeln!(out, "            full output: {log}")?;
                        }
                        Ok(())
                    });
                }
                result
            }
            Event::PhaseFinished { report } if !self.quiet || report.status == Status::Failed => {
                let (style, label) = status_style(report.status);
                let time = report.timing.map(|timing| seconds(timing.duration)).unwrap_or_default();
                let target = report
                    .target
                    .map(|target| format!(" / target {}", humantime::format_duration(target)))
                    .unwrap_or_default();
                let message = match (&report.message, report.status) {
                    (Some(message), Status::Skipped) => format!(": {message}"),
                    _ => String::new(),
                };
                let line = writeln!(
                    out,
                    "    {style}{} {label}{style:#} {DIM}{time}{target}{DIM:#}{message}",
                    report.phase.as_str()
                );
                if self.github_groups && std::mem::take(&mut self.group_open) {
                    line.and_then(|()| writeln!(out, "::endgroup::"))
                } else {
                    line
                }
            }
            Event::Warning { message } => writeln!(out, "{WARN}warning{WARN:#}: {message}"),
            // `core.setSecret`: the runner hides the value from then on, in every step's log.
            Event::Secrets { values } if self.github => values
                .iter()
                .try_for_each(|value| writeln!(out, "::add-mask::{}", super::workflow::escape_data(value))),
            Event::RunFinished { record } => {
                let (style, label) = status_style(record.status);
                let class = record
                    .failure_class
                    .map(|class| format!(" [{}]", class.as_str()))
                    .unwrap_or_default();
                writeln!(
                    out,
                    "{style}{label}{style:#}{class}: setup {:.1}s of {:.0}s budget{}",
                    record.setup_seconds,
                    record.total_target_seconds,
                    record
                        .message
                        .as_deref()
                        .map(|message| format!(" — {message}"))
                        .unwrap_or_default()
                )
            }
            _ => Ok(()),
        };
        self.emit(&buffer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{PhaseName, PhaseReport, StepReport, Timing};
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn github_groups_stay_balanced_when_a_phase_is_skipped() {
        let shared = Shared::default();
        let printer = Printer {
            progress: Progress::GithubGroups,
            ..Printer::plain(Verbosity::Normal)
        };
        let mut display = Display::new(Box::new(shared.clone()), &printer);
        display.handle(&Event::PhaseStarted {
            phase: PhaseName::Build,
            steps: 1,
            target: None,
        });
        let build = PhaseReport {
            status: Status::Ok,
            ..PhaseReport::skipped(PhaseName::Build, None, "")
        };
        display.handle(&Event::PhaseFinished { report: &build });
        let deploy = PhaseReport::skipped(PhaseName::Deploy, None, "no deploy groups configured");
        display.handle(&Event::PhaseFinished { report: &deploy });
        let text = String::from_utf8(shared.0.lock().expect("lock").clone()).expect("UTF-8");
        assert_eq!(text.matches("::group::").count(), 1, "{text}");
        assert_eq!(text.matches("::endgroup::").count(), 1, "{text}");
        assert!(text.contains("deploy skipped"));
    }

    fn timing(seconds: f64) -> Timing {
        let started_at = chrono::DateTime::parse_from_rfc3339("2026-11-22T10:00:00Z")
            .expect("time")
            .to_utc();
        let duration = Duration::from_secs_f64(seconds);
        Timing {
            started_at,
            finished_at: started_at + chrono::Duration::from_std(duration).expect("duration"),
            duration,
        }
    }

    /// A failed build as the pipeline emits it: a preflight check, two builds (one failing with
    /// a hint and output), skipped phases, the verdict.
    fn scripted_run(printer: &Printer) -> String {
        let shared = Shared::default();
        let mut display = Display::new(Box::new(shared.clone()), printer);
        display.handle(&Event::RunStarted {
            command: "run",
            run_id: "20261122-100000-0a1b2c3d",
            cluster: "hybrid-e2e-0a1b2c3d",
            report_dir: "hybrid-e2e-report",
        });
        display.handle(&Event::Warning {
            message: "image `api`: `team/api` has no registry; using `localhost/team/api:e2e-0a1b2c3d` everywhere",
        });
        display.handle(&Event::PhaseStarted {
            phase: PhaseName::Preflight,
            steps: 1,
            target: None,
        });
        let engine = StepReport {
            timing: Some(timing(0.1)),
            status: Status::Ok,
            note: Some("docker 28.2.2 (docker)".to_owned()),
            attempts: 1,
            ..StepReport::not_run("engine", Status::Ok)
        };
        display.handle(&Event::StepFinished {
            phase: PhaseName::Preflight,
            report: &engine,
        });
        let preflight = PhaseReport {
            timing: Some(timing(0.1)),
            status: Status::Ok,
            steps: vec![engine],
            ..PhaseReport::skipped(PhaseName::Preflight, None, "")
        };
        display.handle(&Event::PhaseFinished { report: &preflight });
        display.handle(&Event::PhaseStarted {
            phase: PhaseName::Build,
            steps: 2,
            target: Some(Duration::from_secs(180)),
        });
        for step in ["api", "worker"] {
            display.handle(&Event::StepStarted {
                phase: PhaseName::Build,
                step,
            });
        }
        display.handle(&Event::StepOutput {
            phase: PhaseName::Build,
            step: "worker",
            line: "Step 3/3 : RUN make",
        });
        let api = StepReport {
            timing: Some(timing(41.2)),
            status: Status::Ok,
            bytes: Some(52_428_800),
            attempts: 1,
            log: Some("logs/build/api.log".to_owned()),
            ..StepReport::not_run("api", Status::Ok)
        };
        let worker = StepReport {
            timing: Some(timing(12.5)),
            status: Status::Failed,
            failure: Some(
                crate::model::Failure::new(
                    crate::model::FailureClass::Application,
                    "`docker build` of localhost/team/worker:e2e failed (exit 2)",
                )
                .hint("a Dockerfile step failed: the build output above says why")
                .tail(vec!["make: *** [all] Error 2".to_owned()]),
            ),
            attempts: 1,
            log: Some("logs/build/worker.log".to_owned()),
            ..StepReport::not_run("worker", Status::Failed)
        };
        for report in [&api, &worker] {
            display.handle(&Event::StepFinished {
                phase: PhaseName::Build,
                report,
            });
        }
        let build = PhaseReport {
            timing: Some(timing(41.3)),
            target: Some(Duration::from_secs(180)),
            status: Status::Failed,
            steps: vec![api, worker],
            ..PhaseReport::skipped(PhaseName::Build, None, "")
        };
        display.handle(&Event::PhaseFinished { report: &build });
        display.handle(&Event::RunFinished {
            record: &crate::report::fixtures::build_failure(),
        });
        String::from_utf8(shared.0.lock().expect("lock").clone()).expect("UTF-8")
    }

    #[test]
    fn terminal_snapshots_plain_github_and_quiet() {
        insta::assert_snapshot!("display_plain", scripted_run(&Printer::plain(Verbosity::Normal)));
        let github = Printer {
            progress: Progress::GithubGroups,
            github: true,
            ..Printer::plain(Verbosity::Normal)
        };
        insta::assert_snapshot!("display_github", scripted_run(&github));
        insta::assert_snapshot!("display_verbose", scripted_run(&Printer::plain(Verbosity::Verbose)));
        insta::assert_snapshot!("display_quiet", scripted_run(&Printer::plain(Verbosity::Quiet)));
    }

    #[test]
    fn a_check_that_passed_with_a_warning_says_warning_not_ok() {
        let shared = Shared::default();
        let mut display = Display::new(Box::new(shared.clone()), &Printer::plain(Verbosity::Normal));
        let inotify = StepReport {
            timing: Some(timing(0.0)),
            note: Some("max_user_watches 8192".to_owned()),
            warned: true,
            ..StepReport::not_run("inotify", Status::Ok)
        };
        display.handle(&Event::StepFinished {
            phase: PhaseName::Preflight,
            report: &inotify,
        });
        let text = String::from_utf8(shared.0.lock().expect("lock").clone()).expect("UTF-8");
        assert_eq!(text, "      warning preflight/inotify 0.0s max_user_watches 8192\n");
    }

    #[test]
    fn without_colour_no_escape_code_is_written() {
        let text = scripted_run(&Printer::plain(Verbosity::Normal));
        assert!(!text.contains('\u{1b}'), "{text:?}");
        let coloured = scripted_run(&Printer {
            color: true,
            ..Printer::plain(Verbosity::Normal)
        });
        assert!(coloured.contains('\u{1b}'), "colour on writes styles");
    }
}
