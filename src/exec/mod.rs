//! Running child processes: argv only (never a shell), in their own process group, output
//! captured line by line to a log file and a bounded tail, killed as a group on cancel or timeout.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio_util::sync::CancellationToken;

/// Lines of output kept in memory per process (the rest is in the log file).
const TAIL_LINES: usize = 200;
/// The most stdout [`capture`] keeps (a kubeconfig, a version, a cluster list).
const CAPTURE_LIMIT: usize = 16 * 1024 * 1024;
/// How long a process group gets between SIGTERM and SIGKILL, unless its spec says otherwise.
const KILL_GRACE: Duration = Duration::from_secs(5);
/// How long output is still read after the program itself exited: what holds its pipes open
/// longer is something it left running in the background, which is then killed.
pub(crate) const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);

/// A command to run: a program and its arguments, never a shell string.
#[derive(Debug, Clone)]
pub(crate) struct ProcessSpec {
    pub(crate) program: String,
    pub(crate) args: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) cwd: Option<PathBuf>,
    /// Between SIGTERM and SIGKILL of the group (on timeout or cancel).
    pub(crate) kill_grace: Duration,
    /// Values replaced by `***` in every line read (log, tail, listeners): secrets.
    pub(crate) redact: Vec<String>,
    /// Variables of hybrid-e2e's own environment the process does not inherit.
    pub(crate) env_remove: Vec<String>,
}

impl ProcessSpec {
    pub(crate) fn new(program: impl Into<String>) -> ProcessSpec {
        ProcessSpec {
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            kill_grace: KILL_GRACE,
            redact: Vec::new(),
            env_remove: Vec::new(),
        }
    }

    /// A longer (or shorter) time between SIGTERM and SIGKILL: a test runner writes its reports
    /// on SIGTERM.
    pub(crate) fn kill_grace(mut self, grace: Duration) -> ProcessSpec {
        self.kill_grace = grace;
        self
    }

    pub(crate) fn arg(mut self, arg: impl Into<String>) -> ProcessSpec {
        self.args.push(arg.into());
        self
    }

    pub(crate) fn args<I: IntoIterator<Item = S>, S: Into<String>>(mut self, args: I) -> ProcessSpec {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub(crate) fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> ProcessSpec {
        self.env.push((key.into(), value.into()));
        self
    }

    /// The command line for logs, each argument quoted when needed (display only).
    pub(crate) fn display(&self) -> String {
        std::iter::once(&self.program)
            .chain(&self.args)
            .map(|word| {
                if !word.is_empty()
                    && word
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c))
                {
                    word.clone()
                } else {
                    format!("'{}'", word.replace('\'', r"'\''"))
                }
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// How a process ended.
#[derive(Debug, Clone)]
pub(crate) struct ProcessOutcome {
    /// Exit code; `None` when killed by a signal.
    pub(crate) code: Option<i32>,
    pub(crate) timed_out: bool,
    pub(crate) cancelled: bool,
    /// The program exited but something it left running held its output open: it was killed.
    pub(crate) left_behind: bool,
    /// The last lines of combined stdout and stderr (of stderr alone when stdout is captured).
    pub(crate) tail: Vec<String>,
    /// Standard output, when captured ([`capture`]).
    pub(crate) stdout: Vec<u8>,
}

impl ProcessOutcome {
    pub(crate) fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out && !self.cancelled
    }

    pub(crate) fn tail_text(&self) -> String {
        self.tail.join("\n")
    }

    /// How the process ended, for messages: `exit 3`, `killed by a signal`, `timed out`.
    pub(crate) fn ending(&self) -> String {
        match (self.timed_out, self.code) {
            (true, _) => "timed out".to_owned(),
            (false, Some(code)) => format!("exit {code}"),
            (false, None) => "killed by a signal".to_owned(),
        }
    }
}

/// Why a process could not be run at all.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExecError {
    #[error("`{program}` not found on PATH")]
    NotFound { program: String },
    #[error("failed to start `{program}`: {source}")]
    Spawn { program: String, source: std::io::Error },
    #[error("failed to write the log file {path}: {source}")]
    Log { path: PathBuf, source: std::io::Error },
}

/// Run `spec`, appending its output to `log` and passing each line to `on_line`.
pub(crate) async fn run(
    spec: &ProcessSpec,
    log: Option<&Path>,
    on_line: impl FnMut(&str),
    cancel: &CancellationToken,
    timeout: Option<Duration>,
) -> Result<ProcessOutcome, ExecError> {
    spawn(spec, log, on_line, cancel, timeout, false).await
}

/// The one way a child process is started and read: argv, its own process group, killed on
/// drop, cancel or timeout. With `keep_stdout`, standard output is collected whole (bounded)
/// instead of going to the log, `on_line` and the tail.
async fn spawn(
    spec: &ProcessSpec,
    log: Option<&Path>,
    mut on_line: impl FnMut(&str),
    cancel: &CancellationToken,
    timeout: Option<Duration>,
    keep_stdout: bool,
) -> Result<ProcessOutcome, ExecError> {
    let mut command = Command::new(&spec.program);
    for name in &spec.env_remove {
        command.env_remove(name);
    }
    command
        .args(&spec.args)
        .envs(spec.env.iter().map(|(key, value)| (key, value)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(cwd) = &spec.cwd {
        command.current_dir(cwd);
    }
    let mut child = command.spawn().map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => ExecError::NotFound {
            program: spec.program.clone(),
        },
        _ => ExecError::Spawn {
            program: spec.program.clone(),
            source,
        },
    })?;
    let pid = child.id().map(|id| Pid::from_raw(id as i32));
    let mut log_file = match log {
        Some(path) => {
            if let Some(parent) = path.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|source| ExecError::Log {
                        path: path.to_owned(),
                        source,
                    })?;
            }
            let mut file = tokio::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .await
                .map_err(|source| ExecError::Log {
                    path: path.to_owned(),
                    source,
                })?;
            let header = redact(&format!("$ {}\n", spec.display()), &spec.redact);
            file.write_all(header.as_bytes())
                .await
                .map_err(|source| ExecError::Log {
                    path: path.to_owned(),
                    source,
                })?;
            Some(file)
        }
        None => None,
    };
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr is piped"));
    let mut tail = VecDeque::with_capacity(TAIL_LINES);
    let (mut out_buffer, mut err_buffer) = (Vec::new(), Vec::new());
    let (mut out_open, mut err_open) = (true, true);
    // A deadline past what the clock can hold is no deadline (durations are bounded at parse
    // time; this is the second line of defence, never a panic).
    let deadline = timeout.and_then(|timeout| tokio::time::Instant::now().checked_add(timeout));
    let sleep_until = |deadline: Option<tokio::time::Instant>| async move {
        match deadline {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            None => std::future::pending().await,
        }
    };
    let mut timed_out = false;
    let mut cancelled = false;
    let mut captured = Vec::new();
    // The program's own exit: seen (`leader_done`), with its status unless waiting failed.
    let mut leader_done = false;
    let mut status: Option<std::process::ExitStatus> = None;
    // After SIGTERM: when the group gets SIGKILL. Output is read all the while, so a runner
    // that prints a lot while writing its report on SIGTERM never blocks on a full pipe.
    let mut kill_at: Option<tokio::time::Instant> = None;
    // After the program exited: when reading stops.
    let mut drain_until: Option<tokio::time::Instant> = None;
    let mut stop_reading = false;
    let mut left_behind = false;
    loop {
        let line = if stop_reading || !(out_open || err_open) {
            // Text the reads ended without a newline is output too (often the last line).
            if !out_buffer.is_empty() {
                let rest = std::mem::take(&mut out_buffer);
                if keep_stdout {
                    let room = CAPTURE_LIMIT.saturating_sub(captured.len());
                    captured.extend_from_slice(&rest[..rest.len().min(room)]);
                    continue;
                }
                rest
            } else if !err_buffer.is_empty() {
                std::mem::take(&mut err_buffer)
            } else {
                break;
            }
        } else {
            tokio::select! {
                read = stdout.read_until(b'\n', &mut out_buffer), if out_open => {
                    if matches!(read, Ok(0) | Err(_)) { out_open = false; }
                    let line = std::mem::take(&mut out_buffer);
                    if keep_stdout {
                        let room = CAPTURE_LIMIT.saturating_sub(captured.len());
                        captured.extend_from_slice(&line[..line.len().min(room)]);
                        continue;
                    }
                    line
                }
                read = stderr.read_until(b'\n', &mut err_buffer), if err_open => {
                    if matches!(read, Ok(0) | Err(_)) { err_open = false; }
                    std::mem::take(&mut err_buffer)
                }
                // A program that has exited is neither cancelled nor timed out: what it left
                // running is the drain's.
                () = cancel.cancelled(), if !cancelled && !leader_done => {
                    cancelled = true;
                    kill_at = kill_at.or_else(|| signal_group(pid, Signal::SIGTERM).then(|| tokio::time::Instant::now() + spec.kill_grace));
                    continue;
                }
                () = sleep_until(deadline), if !timed_out && !leader_done && deadline.is_some() => {
                    timed_out = true;
                    kill_at = kill_at.or_else(|| signal_group(pid, Signal::SIGTERM).then(|| tokio::time::Instant::now() + spec.kill_grace));
                    continue;
                }
                () = sleep_until(kill_at), if kill_at.is_some() => {
                    // The grace is over: whatever is left of the group goes (a child that
                    // ignores SIGTERM), and what is still in the pipes is read briefly.
                    signal_group(pid, Signal::SIGKILL);
                    kill_at = None;
                    if leader_done {
                        drain_until = tokio::time::Instant::now().checked_add(DRAIN_AFTER_EXIT);
                    }
                    continue;
                }
                waited = child.wait(), if !leader_done => {
                    leader_done = true;
                    status = waited.ok();
                    // While terminating, the rest of the group keeps the grace: a wrapper script
                    // exits on SIGTERM at once while its test runner still writes its report.
                    if kill_at.is_none() {
                        drain_until = tokio::time::Instant::now().checked_add(DRAIN_AFTER_EXIT);
                    }
                    continue;
                }
                () = sleep_until(drain_until), if drain_until.is_some() && kill_at.is_none() => {
                    // The program is done; whatever still holds its output open is what it left
                    // behind (`kubectl port-forward &`): its group goes, and so does the wait.
                    signal_group(pid, Signal::SIGKILL);
                    left_behind = true;
                    stop_reading = true;
                    continue;
                }
            }
        };
        if line.is_empty() {
            continue;
        }
        let line = if spec.redact.is_empty() {
            line
        } else {
            redact(&String::from_utf8_lossy(&line), &spec.redact).into_bytes()
        };
        if let Some(file) = &mut log_file
            && let Err(source) = file.write_all(&line).await
        {
            return Err(ExecError::Log {
                path: log.map(Path::to_owned).unwrap_or_default(),
                source,
            });
        }
        let text = String::from_utf8_lossy(&line);
        let text = text.trim_end_matches(['\n', '\r']);
        on_line(text);
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(text.to_owned());
    }
    if kill_at.is_some() {
        // The pipes closed before the grace ran out: nothing of the group is left to wait for,
        // but a member that closed its output may still run.
        signal_group(pid, Signal::SIGKILL);
    }
    let status = match status {
        Some(status) => status,
        None => child.wait().await.map_err(|source| ExecError::Spawn {
            program: spec.program.clone(),
            source,
        })?,
    };
    if let Some(file) = &mut log_file {
        let _ = file.flush().await;
    }
    Ok(ProcessOutcome {
        code: status.code(),
        timed_out,
        cancelled,
        left_behind,
        tail: tail.into(),
        stdout: captured,
    })
}

/// `text` with every one of `secrets` replaced by `***` (longest first, so a secret that
/// contains another is replaced whole).
pub(crate) fn redact(text: &str, secrets: &[String]) -> String {
    let mut secrets: Vec<&String> = secrets.iter().filter(|secret| !secret.is_empty()).collect();
    secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
    secrets
        .into_iter()
        .fold(text.to_owned(), |text, secret| text.replace(secret.as_str(), "***"))
}

/// Where a spawn would find `program`: with a `/`, that file relative to `dir`; without, the
/// first executable file of that name in the directories of `path` (a `PATH` value).
pub(crate) fn find_program(program: &str, dir: &Path, path: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let executable = |candidate: &Path| {
        std::fs::metadata(candidate)
            .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
    };
    if program.contains('/') {
        let candidate = dir.join(program);
        return executable(&candidate).then_some(candidate);
    }
    std::env::split_paths(path)
        .map(|directory| dir.join(directory).join(program))
        .find(|candidate| executable(candidate))
}

/// Send `signal` to the process group; whether there was a group to send it to. (After the
/// leader is reaped its id stays the group's while any member lives; a reuse of the id by an
/// unrelated group within the seconds this covers would need the PID space to wrap.)
fn signal_group(pid: Option<Pid>, signal: Signal) -> bool {
    pid.is_some_and(|pid| killpg(pid, signal).is_ok())
}

/// Run a short query (`docker version`, `kind get clusters`) and return its trimmed stdout+stderr
/// and whether it succeeded, giving up after `timeout`.
pub(crate) async fn query(spec: &ProcessSpec, timeout: Duration) -> Result<(bool, String), ExecError> {
    let cancel = CancellationToken::new();
    let outcome = run(spec, None, |_| {}, &cancel, Some(timeout)).await?;
    Ok((outcome.success(), outcome.tail_text().trim().to_owned()))
}

/// Run a short command and return (success, stdout, stderr) separately, giving up after
/// `timeout` (the child's group is killed then).
pub(crate) async fn capture(spec: &ProcessSpec, timeout: Duration) -> Result<(bool, String, String), ExecError> {
    let cancel = CancellationToken::new();
    let outcome = spawn(spec, None, |_| {}, &cancel, Some(timeout), true).await?;
    let mut stderr = outcome.tail_text();
    if outcome.timed_out {
        stderr = format!("`{}` timed out", spec.display());
    }
    Ok((
        outcome.success(),
        String::from_utf8_lossy(&outcome.stdout).into_owned(),
        stderr,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::test_support::runtime;

    /// `spec` run to the end or `timeout`, output ignored.
    async fn timed(spec: &ProcessSpec, timeout: Duration) -> ProcessOutcome {
        run(spec, None, |_| {}, &CancellationToken::new(), Some(timeout))
            .await
            .expect("runs")
    }

    #[test]
    fn programs_are_found_as_a_spawn_finds_them() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).expect("mkdir");
        for (name, mode) in [("suite", 0o755), ("notes", 0o644)] {
            std::fs::write(bin.join(name), "#!/bin/sh\n").expect("write");
            std::fs::set_permissions(bin.join(name), std::fs::Permissions::from_mode(mode)).expect("chmod");
        }
        let path = format!("/nonexistent:{}", bin.display());
        assert_eq!(find_program("suite", Path::new("/"), &path), Some(bin.join("suite")));
        assert_eq!(find_program("notes", Path::new("/"), &path), None, "not executable");
        assert_eq!(find_program("missing", Path::new("/"), &path), None);
        assert_eq!(
            find_program("./bin/suite", dir.path(), ""),
            Some(dir.path().join("./bin/suite"))
        );
        assert_eq!(
            find_program("./suite", dir.path(), &path),
            None,
            "a path is not looked up on PATH"
        );
        assert_eq!(
            find_program("bin", dir.path(), dir.path().to_str().expect("UTF-8")),
            None,
            "a directory is no program"
        );
    }

    #[test]
    fn captures_output_to_the_log_and_the_tail() {
        runtime().block_on(async {
            let directory = tempfile::tempdir().expect("tempdir");
            let log = directory.path().join("step.log");
            let spec = ProcessSpec::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]);
            let mut lines = Vec::new();
            let outcome = run(
                &spec,
                Some(&log),
                |line| lines.push(line.to_owned()),
                &CancellationToken::new(),
                None,
            )
            .await
            .expect("runs");
            assert_eq!(outcome.code, Some(3));
            lines.sort();
            assert_eq!(lines, vec!["err", "out"]);
            let written = std::fs::read_to_string(&log).expect("log");
            assert!(
                written.starts_with("$ sh -c 'echo out; echo err >&2; exit 3'\n"),
                "{written}"
            );
        });
    }

    #[test]
    fn arguments_are_never_interpreted_by_a_shell() {
        runtime().block_on(async {
            let spec = ProcessSpec::new("printf").args(["%s\\n", "$(touch /tmp/hybrid-e2e-pwned); `id`"]);
            let (ok, output) = query(&spec, Duration::from_secs(5)).await.expect("runs");
            assert!(ok);
            assert_eq!(output, "$(touch /tmp/hybrid-e2e-pwned); `id`");
        });
    }

    #[test]
    fn timeout_kills_the_whole_process_group() {
        runtime().block_on(async {
            let directory = tempfile::tempdir().expect("tempdir");
            let marker = directory.path().join("grandchild-survived");
            let script = format!("(sleep 2; touch {}) & sleep 30", marker.display());
            let spec = ProcessSpec::new("sh").args(["-c", &script]);
            let started = std::time::Instant::now();
            let outcome = timed(&spec, Duration::from_millis(300)).await;
            assert!(outcome.timed_out && !outcome.success());
            assert!(started.elapsed() < Duration::from_secs(5));
            tokio::time::sleep(Duration::from_millis(2_500)).await;
            assert!(!marker.exists(), "a grandchild outlived the kill");
        });
    }

    /// A program that exits but leaves a background process holding its output (`kubectl
    /// port-forward &`) ends when it exits, not when its leftover does; the leftover goes.
    #[test]
    fn a_leftover_background_process_neither_hangs_the_step_nor_outlives_it() {
        runtime().block_on(async {
            let directory = tempfile::tempdir().expect("tempdir");
            let marker = directory.path().join("leftover-survived");
            let script = format!(
                "(sleep 4; touch {}) & echo done; printf 'last, no newline'; exit 0",
                marker.display()
            );
            let spec = ProcessSpec::new("sh").args(["-c", &script]);
            let started = std::time::Instant::now();
            let mut lines = Vec::new();
            // Its timeout (1 s) passes during the drain: the program had exited, so it did
            // not time out.
            let outcome = run(
                &spec,
                None,
                |line| lines.push(line.to_owned()),
                &CancellationToken::new(),
                Some(Duration::from_secs(1)),
            )
            .await
            .expect("runs");
            assert!(
                outcome.success() && !outcome.timed_out && outcome.left_behind,
                "{outcome:?}"
            );
            assert_eq!(lines, ["done", "last, no newline"]);
            assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
            tokio::time::sleep(Duration::from_millis(4_500).saturating_sub(started.elapsed())).await;
            assert!(!marker.exists(), "the leftover outlived the step");
        });
    }

    /// A child that ignores SIGTERM is killed when the grace runs out, even after its parent
    /// exited on the signal.
    #[test]
    fn what_ignores_sigterm_is_killed_after_the_grace() {
        runtime().block_on(async {
            let spec = ProcessSpec::new("sh")
                .args(["-c", "(trap '' TERM; sleep 30) & trap 'exit 143' TERM; sleep 30 & wait"])
                .kill_grace(Duration::from_millis(300));
            let started = std::time::Instant::now();
            let outcome = timed(&spec, Duration::from_millis(300)).await;
            assert!(outcome.timed_out);
            assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        });
    }

    /// A wrapper script exits on SIGTERM at once; the test runner under it keeps the grace to
    /// write its report — printing more than a pipe holds meanwhile, which is read, not blocked.
    #[test]
    fn the_group_keeps_its_grace_after_the_wrapper_exits_and_its_output_is_read() {
        runtime().block_on(async {
            let directory = tempfile::tempdir().expect("tempdir");
            let report = directory.path().join("report.xml");
            let runner = format!(
                "trap 'head -c 200000 /dev/zero | tr \"\\\\0\" x; echo; sleep 0.5; echo report > {}; exit 0' TERM; sleep 30 & wait",
                report.display()
            );
            let script = "sh -c \"$RUNNER\" & trap 'exit 143' TERM; wait";
            let spec = ProcessSpec::new("sh")
                .args(["-c", script])
                .env("RUNNER", runner)
                .kill_grace(Duration::from_secs(5));
            let started = std::time::Instant::now();
            let mut read = 0;
            let outcome = run(
                &spec,
                None,
                |line| read += line.len(),
                &CancellationToken::new(),
                Some(Duration::from_millis(300)),
            )
            .await
            .expect("runs");
            assert!(outcome.timed_out);
            assert!(report.is_file(), "the runner was killed before it wrote its report");
            assert!(read >= 200_000, "{read} bytes read");
            assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        });
    }

    #[test]
    fn secrets_are_replaced_in_every_line_read() {
        runtime().block_on(async {
            let directory = tempfile::tempdir().expect("tempdir");
            let log = directory.path().join("step.log");
            let mut spec = ProcessSpec::new("sh").args(["-c", "echo token=s3cret-value-long; echo s3cret-value >&2"]);
            spec.redact = vec!["s3cret-value".to_owned(), "s3cret-value-long".to_owned()];
            let mut lines = Vec::new();
            let outcome = run(
                &spec,
                Some(&log),
                |line| lines.push(line.to_owned()),
                &CancellationToken::new(),
                None,
            )
            .await
            .expect("runs");
            lines.sort();
            assert_eq!(lines, ["***", "token=***"]);
            assert!(!outcome.tail_text().contains("s3cret"));
            let written = std::fs::read_to_string(&log).expect("log");
            assert!(!written.contains("s3cret"), "{written}");
        });
    }

    #[test]
    fn cancel_stops_the_process() {
        runtime().block_on(async {
            let cancel = CancellationToken::new();
            let trigger = cancel.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                trigger.cancel();
            });
            let outcome = run(&ProcessSpec::new("sleep").arg("30"), None, |_| {}, &cancel, None)
                .await
                .expect("runs");
            assert!(outcome.cancelled);
        });
    }

    #[test]
    fn capture_keeps_stdout_whole_and_apart_from_stderr() {
        runtime().block_on(async {
            let spec = ProcessSpec::new("sh").args(["-c", "printf 'a\\nb'; echo oops >&2"]);
            let (ok, stdout, stderr) = capture(&spec, Duration::from_secs(5)).await.expect("runs");
            assert!(ok);
            assert_eq!(stdout, "a\nb");
            assert_eq!(stderr, "oops");
            let slow = ProcessSpec::new("sleep").arg("5");
            let (ok, _, stderr) = capture(&slow, Duration::from_millis(100)).await.expect("runs");
            assert!(!ok && stderr.contains("timed out"), "{stderr}");
        });
    }

    #[test]
    fn missing_programs_are_named() {
        runtime().block_on(async {
            let error = query(&ProcessSpec::new("no-such-program-xyz"), Duration::from_secs(1))
                .await
                .expect_err("missing");
            assert!(matches!(error, ExecError::NotFound { .. }), "{error}");
        });
    }
}
