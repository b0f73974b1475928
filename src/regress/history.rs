//! The history `regress` reads: one [`HistoryRun`] per run, made from a `timings.json` (report
//! directories found recursively, or extracted from Actions artifacts) or read back from the
//! compact history file: JSON lines, the newest N runs per key and branch, a size cap, and
//! appending a run that is already there is a no-op (keyed by service and run id).

use std::collections::{BTreeMap, HashSet};
use std::io::{BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::{RunRecord, Status, read_run_record};

/// Bumped only on incompatible changes of a history line; fields are only ever added.
pub(crate) const HISTORY_FORMAT_VERSION: u32 = 1;
/// The largest history file we read, whatever the cap it was written with.
const MAX_HISTORY_FILE_BYTES: u64 = 1024 * 1024 * 1024;
/// The largest duration a history line may state (as `timings.json`: no setup takes a year).
const MAX_SECONDS: f64 = 365.0 * 24.0 * 3600.0;

/// One run of one service, as the history file keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct HistoryRun {
    pub(crate) format_version: u32,
    pub(crate) run_id: String,
    /// The config file, relative to the repository: one matrix leg per config.
    pub(crate) service: String,
    pub(crate) branch: Option<String>,
    pub(crate) engine: Option<String>,
    /// The runner type: the host name without digits (`fv-az123-45` → `fv-az`).
    pub(crate) runner: Option<String>,
    pub(crate) config_hash: String,
    pub(crate) commit: Option<String>,
    pub(crate) started_at: String,
    pub(crate) status: Status,
    pub(crate) setup_seconds: f64,
    pub(crate) total_target_seconds: f64,
    /// Dockerfile lint findings the run recorded.
    pub(crate) findings: usize,
    /// Where it came from: `github:run/<id>/artifact/<id>` for Actions artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) source: Option<String>,
    pub(crate) phases: Vec<HistoryPhase>,
    /// `started_at` in seconds since the Unix epoch (not stored).
    #[serde(skip)]
    pub(crate) timestamp: f64,
}

/// One phase of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct HistoryPhase {
    pub(crate) name: String,
    pub(crate) seconds: f64,
    pub(crate) target_seconds: Option<f64>,
    pub(crate) status: Status,
    pub(crate) steps: Vec<HistoryStep>,
}

/// One step of a phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct HistoryStep {
    pub(crate) name: String,
    pub(crate) seconds: f64,
    pub(crate) status: Status,
}

/// What a `timings.json` does not say about its run.
#[derive(Debug, Clone, Default)]
pub(crate) struct Origin {
    pub(crate) branch: Option<String>,
    pub(crate) source: Option<String>,
}

/// Something that was left out of the history, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Skipped {
    pub(crate) source: String,
    pub(crate) reason: String,
}

/// Durations are kept to the millisecond: what the clocks measure, fewer bytes, and a value that
/// reads back exactly (so rewriting the file changes nothing).
fn millis(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

/// Seconds since the Unix epoch of an RFC 3339 time.
fn epoch_seconds(text: &str) -> Option<f64> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|time| time.timestamp_millis() as f64 / 1000.0)
}

/// The service of a run: its config file relative to the repository (`repo_root` is stripped
/// from absolute paths), `./` removed, `\` as `/`.
pub(crate) fn service_name(config_file: Option<&str>, repo_root: Option<&Path>) -> String {
    let Some(config) = config_file.filter(|config| !config.is_empty()) else {
        return "(no config file)".to_owned();
    };
    let mut path = PathBuf::from(config.replace('\\', "/"));
    if path.is_absolute()
        && let Some(relative) = repo_root.and_then(|root| path.strip_prefix(root).ok())
    {
        path = relative.to_path_buf();
    }
    let text = path.to_string_lossy().into_owned();
    let mut text = text.as_str();
    while let Some(rest) = text.strip_prefix("./") {
        text = rest;
    }
    text.to_owned()
}

/// The runner type of a host: its name without digits, separators collapsed
/// (`fv-az123-456` → `fv-az`, `runner-17` → `runner`). Runner VMs are numbered; their type is not.
pub(crate) fn runner_type(host: &str) -> Option<String> {
    let mut out = String::new();
    for c in host.chars().filter(|c| !c.is_ascii_digit()) {
        let separator = matches!(c, '-' | '_' | '.');
        if separator && (out.is_empty() || out.ends_with(['-', '_', '.'])) {
            continue;
        }
        out.push(c);
    }
    let out = out.trim_end_matches(['-', '_', '.']).to_owned();
    (!out.is_empty()).then_some(out)
}

impl HistoryRun {
    /// Every duration to the millisecond.
    pub(crate) fn rounded(mut self) -> HistoryRun {
        self.setup_seconds = millis(self.setup_seconds);
        self.total_target_seconds = millis(self.total_target_seconds);
        for phase in &mut self.phases {
            phase.seconds = millis(phase.seconds);
            phase.target_seconds = phase.target_seconds.map(millis);
            for step in &mut phase.steps {
                step.seconds = millis(step.seconds);
            }
        }
        self
    }

    /// The history line of a checked `timings.json`; `None` when its `started_at` is not a time.
    pub(crate) fn from_record(record: &RunRecord, origin: &Origin, repo_root: Option<&Path>) -> Option<HistoryRun> {
        let timestamp = epoch_seconds(&record.started_at)?;
        // Preflight's lint counts (errors and warnings) where the record has them; records older
        // than that field carry findings only behind a failure.
        let findings = record.dockerfile_findings.map_or_else(
            || {
                record
                    .phases
                    .iter()
                    .flat_map(|phase| &phase.steps)
                    .map(|step| step.findings.len())
                    .sum()
            },
            |counts| counts.errors + counts.warnings,
        );
        Some(
            HistoryRun {
                format_version: HISTORY_FORMAT_VERSION,
                run_id: record.run_id.clone(),
                service: service_name(record.config_file.as_deref(), repo_root),
                branch: origin.branch.clone(),
                engine: record.engine.clone(),
                runner: runner_type(&record.host),
                config_hash: record.config_hash.clone(),
                commit: record.commit.clone(),
                started_at: record.started_at.clone(),
                status: record.status,
                setup_seconds: record.setup_seconds,
                total_target_seconds: record.total_target_seconds,
                findings,
                source: origin.source.clone(),
                phases: record
                    .phases
                    .iter()
                    .map(|phase| HistoryPhase {
                        name: phase.name.clone(),
                        seconds: phase.duration_seconds,
                        target_seconds: phase.target_seconds,
                        status: phase.status,
                        steps: phase
                            .steps
                            .iter()
                            .map(|step| HistoryStep {
                                name: step.name.clone(),
                                seconds: step.duration_seconds,
                                status: step.status,
                            })
                            .collect(),
                    })
                    .collect(),
                timestamp,
            }
            .rounded(),
        )
    }

    /// Every duration finite and in range, a known version, a time that parses (history files
    /// live in caches and branches, where anything may happen to them).
    fn checked(mut self) -> Result<HistoryRun, String> {
        if self.format_version != HISTORY_FORMAT_VERSION {
            return Err(format!(
                "format_version {} (this hybrid-e2e reads {HISTORY_FORMAT_VERSION})",
                self.format_version
            ));
        }
        self.timestamp = epoch_seconds(&self.started_at).ok_or("`started_at` is not an RFC 3339 time")?;
        let in_range = |value: f64| value.is_finite() && (0.0..=MAX_SECONDS).contains(&value);
        let numbers = [self.setup_seconds, self.total_target_seconds]
            .into_iter()
            .chain(
                self.phases
                    .iter()
                    .flat_map(|phase| std::iter::once(phase.seconds).chain(phase.target_seconds)),
            )
            .chain(
                self.phases
                    .iter()
                    .flat_map(|phase| phase.steps.iter().map(|step| step.seconds)),
            );
        for value in numbers {
            if !in_range(value) {
                return Err(format!("a duration is {value}; expected 0 up to one year"));
            }
        }
        Ok(self.rounded())
    }

    /// The key the cap counts runs under: service, engine, runner type and branch.
    fn cap_key(&self) -> (&str, Option<&str>, Option<&str>, Option<&str>) {
        (
            &self.service,
            self.engine.as_deref(),
            self.runner.as_deref(),
            self.branch.as_deref(),
        )
    }
}

/// Every run of every source, each once.
#[derive(Debug, Default)]
pub(crate) struct History {
    runs: Vec<HistoryRun>,
    seen: HashSet<(String, String)>,
    pub(crate) skipped: Vec<Skipped>,
}

impl History {
    /// Add a run; a run already there (same service and run id) is left as it is.
    pub(crate) fn insert(&mut self, run: HistoryRun) -> bool {
        if self.seen.insert((run.service.clone(), run.run_id.clone())) {
            self.runs.push(run);
            true
        } else {
            false
        }
    }

    pub(crate) fn runs(&self) -> &[HistoryRun] {
        &self.runs
    }

    pub(crate) fn skip(&mut self, source: impl Into<String>, reason: impl Into<String>) {
        self.skipped.push(Skipped {
            source: source.into(),
            reason: reason.into(),
        });
    }

    /// The sources already read (`github:run/…` of artifacts), so they are not downloaded again.
    pub(crate) fn sources(&self) -> HashSet<&str> {
        self.runs.iter().filter_map(|run| run.source.as_deref()).collect()
    }
}

/// Every `timings.json` under `roots` (recursively; symbolic links are not followed), sorted.
pub(crate) fn find_timings(roots: &[PathBuf]) -> Result<Vec<PathBuf>, std::io::Error> {
    fn walk(directory: &Path, found: &mut Vec<PathBuf>) -> Result<(), std::io::Error> {
        for entry in std::fs::read_dir(directory)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                walk(&entry.path(), found)?;
            } else if kind.is_file() && entry.file_name() == "timings.json" {
                found.push(entry.path());
            }
        }
        Ok(())
    }
    let mut found = Vec::new();
    for root in roots {
        if root.is_file() {
            found.push(root.clone());
        } else {
            walk(root, &mut found)
                .map_err(|error| std::io::Error::new(error.kind(), format!("{}: {error}", root.display())))?;
        }
    }
    found.sort();
    Ok(found)
}

/// Read the `timings.json` files with the one checked reader, on up to four threads; each
/// becomes a run or a [`Skipped`] with the reader's message.
pub(crate) fn read_timings(
    files: &[PathBuf],
    origin: &Origin,
    repo_root: Option<&Path>,
) -> Vec<Result<HistoryRun, Skipped>> {
    let read = |path: &PathBuf| {
        let skipped = |reason: String| Skipped {
            source: path.display().to_string(),
            reason,
        };
        let record = read_run_record(path).map_err(|error| skipped(error.to_string()))?;
        HistoryRun::from_record(&record, origin, repo_root)
            .ok_or_else(|| skipped(format!("`started_at` {:?} is not an RFC 3339 time", record.started_at)))
    };
    in_parallel(files, 64, read)
}

/// `f` over `items` on up to four threads, results in order (one thread below `min_items`).
pub(crate) fn in_parallel<T: Sync, R: Send>(items: &[T], min_items: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from).clamp(1, 4);
    if threads == 1 || items.len() < min_items.max(2) {
        return items.iter().map(&f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().unwrap_or_default())
            .collect()
    })
}

/// Why the history file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HistoryFileError {
    #[error("cannot read the history file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("the history file {path} is larger than {} MiB; it is not one hybrid-e2e wrote", MAX_HISTORY_FILE_BYTES / 1024 / 1024)]
    TooLarge { path: PathBuf },
    #[error("cannot write the history file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// Read the history file (a missing file is an empty history). A line that is not a run this
/// version understands is skipped with its line number: one bad line never loses the rest.
pub(crate) fn read_history_file(path: &Path) -> Result<(Vec<HistoryRun>, Vec<Skipped>), HistoryFileError> {
    let read_error = |source| HistoryFileError::Read {
        path: path.to_owned(),
        source,
    };
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(error) => return Err(read_error(error)),
    };
    if file.metadata().map_err(read_error)?.len() > MAX_HISTORY_FILE_BYTES {
        return Err(HistoryFileError::TooLarge { path: path.to_owned() });
    }
    let mut bytes = Vec::new();
    BufReader::new(file).read_to_end(&mut bytes).map_err(read_error)?;
    // Lines are independent: parse them on up to four threads.
    let lines: Vec<(usize, &[u8])> = bytes
        .split(|&byte| byte == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
        .collect();
    let parse = |(index, line): &(usize, &[u8])| -> Result<HistoryRun, Skipped> {
        serde_json::from_slice::<HistoryRun>(line)
            .map_err(|error| {
                // Name a newer format rather than the field it broke.
                match serde_json::from_slice::<serde_json::Value>(line)
                    .ok()
                    .and_then(|value| value.get("format_version")?.as_u64())
                {
                    Some(version) if version > u64::from(HISTORY_FORMAT_VERSION) => {
                        format!("format_version {version} (this hybrid-e2e reads {HISTORY_FORMAT_VERSION})")
                    }
                    _ => error.to_string(),
                }
            })
            .and_then(HistoryRun::checked)
            .map_err(|reason| Skipped {
                source: format!("{}:{}", path.display(), index + 1),
                reason,
            })
    };
    let mut runs = Vec::with_capacity(lines.len());
    let mut skipped = Vec::new();
    for result in in_parallel(&lines, 256, parse) {
        match result {
            Ok(run) => runs.push(run),
            Err(reason) => skipped.push(reason),
        }
    }
    Ok((runs, skipped))
}

/// How much history the file keeps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cap {
    /// Newest runs kept per service, engine, runner type and branch.
    pub(crate) runs_per_key: usize,
    /// The file never grows beyond this; the oldest runs go first.
    pub(crate) max_bytes: u64,
}

/// What the cap did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct CapOutcome {
    pub(crate) kept: usize,
    pub(crate) dropped: usize,
    pub(crate) bytes: u64,
}

/// The lines of the capped history, oldest first (ties by service and run id: the same runs
/// always give the same bytes).
pub(crate) fn capped_lines(runs: &[HistoryRun], cap: Cap) -> (Vec<String>, CapOutcome) {
    let mut by_key: BTreeMap<_, Vec<&HistoryRun>> = BTreeMap::new();
    for run in runs {
        by_key.entry(run.cap_key()).or_default().push(run);
    }
    let mut kept: Vec<&HistoryRun> = Vec::with_capacity(runs.len());
    for mut group in by_key.into_values() {
        group.sort_by(|a, b| {
            b.timestamp
                .total_cmp(&a.timestamp)
                .then_with(|| b.run_id.cmp(&a.run_id))
        });
        group.truncate(cap.runs_per_key);
        kept.extend(group);
    }
    kept.sort_by(|a, b| {
        a.timestamp
            .total_cmp(&b.timestamp)
            .then_with(|| a.service.cmp(&b.service))
            .then_with(|| a.run_id.cmp(&b.run_id))
    });
    let mut lines: Vec<String> = in_parallel(&kept, 256, |run| serde_json::to_string(run).unwrap_or_default());
    let mut bytes: u64 = lines.iter().map(|line| line.len() as u64 + 1).sum();
    let mut first = 0;
    while bytes > cap.max_bytes && first < lines.len() {
        bytes -= lines[first].len() as u64 + 1;
        first += 1;
    }
    lines.drain(..first);
    let outcome = CapOutcome {
        kept: lines.len(),
        dropped: runs.len() - lines.len(),
        bytes,
    };
    (lines, outcome)
}

/// Write the capped history to `path` (through a temporary file and a rename: a reader never
/// sees half a file).
pub(crate) fn write_history_file(path: &Path, runs: &[HistoryRun], cap: Cap) -> Result<CapOutcome, HistoryFileError> {
    let write_error = |source| HistoryFileError::Write {
        path: path.to_owned(),
        source,
    };
    let (lines, outcome) = capped_lines(runs, cap);
    if let Some(parent) = path.parent().filter(|parent| !parent.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(write_error)?;
    }
    let temporary = path.with_extension("jsonl.tmp");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&temporary).map_err(write_error)?);
    for line in &lines {
        file.write_all(line.as_bytes()).map_err(write_error)?;
        file.write_all(b"\n").map_err(write_error)?;
    }
    file.into_inner().map_err(|error| write_error(error.into_error()))?;
    std::fs::rename(&temporary, path).map_err(write_error)?;
    Ok(outcome)
}

#[cfg(test)]
mod tests;
