//! The terminal reporter: one block per phase, one line per step, the tail of a failing step's
//! output, never interleaved. On a terminal, a live spinner per running step; in GitHub Actions
//! each phase is a `::group::` instead.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use anstyle::{AnsiColor, Style};

use super::events::{Event, Reporter};
use crate::timing::Status;

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
    /// A `::group::` is open (a skipped phase never opened one).
    group_open: bool,
    verbose: bool,
    quiet: bool,
    /// Spinners for running steps, on a terminal only.
    live: Option<Live>,
}

struct Live {
    multi: MultiProgress,
    bars: HashMap<String, ProgressBar>,
}

impl Display {
    pub(crate) fn new(out: Box<dyn Write + Send>, github_groups: bool, verbose: bool, quiet: bool) -> Display {
        Display {
            out,
            github_groups,
            group_open: false,
            verbose,
            quiet,
            live: None,
        }
    }

    /// To standard error, colours only on a terminal.
    pub(crate) fn stderr(verbose: bool, quiet: bool) -> Display {
        let github = std::env::var("GITHUB_ACTIONS").is_ok_and(|value| value == "true");
        let mut display = Display::new(Box::new(anstream::stderr()), github, verbose, quiet);
        if std::io::stderr().is_terminal() && !github && !verbose && !quiet {
            display.live = Some(Live {
                multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
                bars: HashMap::new(),
            });
        }
        display
    }

    /// Show `text` above the spinners (or plainly when there are none).
    fn emit(&mut self, text: &[u8]) {
        if text.is_empty() {
            return;
        }
        match &self.live {
            Some(live) => {
                for line in String::from_utf8_lossy(text).lines() {
                    let _ = live.multi.println(line);
                }
            }
            None => {
                let _ = self.out.write_all(text);
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
                run_id,
                cluster,
                report_dir,
            } if !self.quiet => {
                writeln!(
                    out,
                    "{BOLD}hybrid-e2e run{BOLD:#} {run_id} {DIM}cluster {cluster} · reports in {report_dir}{DIM:#}"
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
                let (style, label) = status_style(report.status);
                let time = report
                    .timing
                    .map(|timing| seconds(timing.duration))
                    .or_else(|| report.note.clone())
                    .unwrap_or_default();
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
                        "  {style}{label:>11}{style:#} {}/{} {DIM}{time}{bytes}{attempts}{DIM:#}",
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
    use crate::setup::engine::{PhaseName, PhaseReport};
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
        let mut display = Display::new(Box::new(shared.clone()), true, false, false);
        display.handle(&Event::PhaseStarted {
            phase: PhaseName::Build,
            steps: 1,
            target: None,
        });
        let build = PhaseReport {
            phase: PhaseName::Build,
            timing: None,
            target: None,
            status: Status::Ok,
            steps: Vec::new(),
            message: None,
        };
        display.handle(&Event::PhaseFinished { report: &build });
        let deploy = PhaseReport::skipped(PhaseName::Deploy, None, "no deploy groups configured");
        display.handle(&Event::PhaseFinished { report: &deploy });
        let text = String::from_utf8(shared.0.lock().expect("lock").clone()).expect("UTF-8");
        assert_eq!(text.matches("::group::").count(), 1, "{text}");
        assert_eq!(text.matches("::endgroup::").count(), 1, "{text}");
        assert!(text.contains("deploy skipped"));
    }
}
