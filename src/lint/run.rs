//! The `lint` command: discover, check in parallel, fix, render.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use super::check::{self, Finding};
use super::discover::{self, DiscoverError, Selection, Target};
use super::fix;
use super::format::{self, Format, LintResults};
use super::rules::RuleLevels;
use crate::files;

/// Why `lint` could not run at all (findings are not errors: see [`LintOutcome`]).
#[derive(Debug, thiserror::Error)]
pub(crate) enum LintError {
    #[error("failed to find files to lint: {0}")]
    Discover(#[from] DiscoverError),
    #[error("failed to write the fixed file {path}: {source}")]
    WriteFix { path: PathBuf, source: std::io::Error },
}

impl LintError {
    /// Errors caused by the command line rather than the machine.
    pub(crate) fn is_usage(&self) -> bool {
        matches!(self, LintError::Discover(_))
    }
}

/// What `lint` was asked to do.
#[derive(Debug)]
pub(crate) struct LintOptions {
    pub(crate) paths: Vec<PathBuf>,
    pub(crate) format: Format,
    pub(crate) fix: bool,
    pub(crate) dry_run: bool,
    pub(crate) levels: RuleLevels,
    pub(crate) include: Vec<String>,
    pub(crate) exclude: Vec<String>,
    pub(crate) use_ignore_files: bool,
    pub(crate) quiet: bool,
}

/// The rendered report and whether the lint failed.
#[derive(Debug)]
pub(crate) struct LintOutcome {
    pub(crate) rendered: String,
    /// `--fix --dry-run`: the unified diffs.
    pub(crate) diff: String,
    pub(crate) failed: bool,
    pub(crate) fixes_applied: usize,
    pub(crate) files_fixed: usize,
    /// Files `--fix` had to leave alone, with why.
    pub(crate) fix_problems: Vec<String>,
}

/// One file's results.
struct FileResult {
    findings: Vec<Finding>,
    fixed: usize,
    diff: String,
    problem: Option<String>,
}

pub(crate) fn run(options: &LintOptions) -> Result<LintOutcome, LintError> {
    let selection = Selection::new(&options.include, &options.exclude, options.use_ignore_files)?;
    let targets = discover::discover(&options.paths, &selection)?;
    let results = check_all(&targets, options)?;
    let mut findings = Vec::new();
    let mut diff = String::new();
    let mut fixes_applied = 0;
    let mut files_fixed = 0;
    let mut fix_problems = Vec::new();
    for result in results {
        findings.extend(result.findings);
        diff.push_str(&result.diff);
        fixes_applied += result.fixed;
        files_fixed += usize::from(result.fixed > 0);
        fix_problems.extend(result.problem);
    }
    findings
        .sort_by(|a, b| (a.path.as_str(), a.line, a.column, a.rule).cmp(&(b.path.as_str(), b.line, b.column, b.rule)));
    let files: Vec<String> = targets.iter().map(|target| target.display.clone()).collect();
    let report = LintResults {
        files_scanned: targets.len(),
        findings: &findings,
        files: &files,
    };
    let rendered = format::render(options.format, &report, options.quiet);
    let would_change = options.dry_run && !diff.is_empty();
    let failed = would_change || findings.iter().any(Finding::is_failure);
    Ok(LintOutcome {
        rendered,
        diff,
        failed,
        fixes_applied,
        files_fixed,
        fix_problems,
    })
}

/// Check (and fix) every target on all cores; results come back in target order.
fn check_all(targets: &[Target], options: &LintOptions) -> Result<Vec<FileResult>, LintError> {
    let workers = thread::available_parallelism()
        .map_or(1, usize::from)
        .min(targets.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let mut indexed: Vec<(usize, Result<FileResult, LintError>)> = thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(target) = targets.get(index) else { break };
                        done.push((index, check_one(target, options)));
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|handle| handle.join().unwrap_or_default())
            .collect()
    });
    indexed.sort_by_key(|(index, _)| *index);
    indexed.into_iter().map(|(_, result)| result).collect()
}

fn check_one(target: &Target, options: &LintOptions) -> Result<FileResult, LintError> {
    let path = target.display.as_str();
    let read = match &target.problem {
        Some(problem) => Err(problem.clone()),
        None => {
            files::read_capped(&target.path, files::DOCKERFILE_LIMIT).map_err(|error| format!("cannot lint: {error}"))
        }
    };
    let bytes = match read {
        Ok(bytes) => bytes,
        Err(message) => {
            let problem = check::file_problem(path, &options.levels, 1, 1, message);
            let findings = problem.into_iter().collect();
            return Ok(FileResult {
                findings,
                fixed: 0,
                diff: String::new(),
                problem: None,
            });
        }
    };
    let findings = check::check_bytes(path, &bytes, &options.levels);
    let fixable = findings
        .iter()
        .any(|finding| finding.fix.is_some() && finding.suppressed.is_none());
    if !options.fix || !fixable {
        return Ok(FileResult {
            findings,
            fixed: 0,
            diff: String::new(),
            problem: None,
        });
    }
    // Fixes exist only for files that parsed, so the bytes are valid UTF-8.
    let text = String::from_utf8_lossy(&bytes);
    match fix::fix_text(path, &text, &options.levels) {
        Ok(fixed) => {
            let diff = if options.dry_run {
                fix::unified_diff(path, &text, &fixed.text)
            } else {
                String::new()
            };
            if !options.dry_run {
                write_preserving_permissions(&target.path, fixed.text.as_bytes()).map_err(|source| {
                    LintError::WriteFix {
                        path: target.path.clone(),
                        source,
                    }
                })?;
            }
            let findings = if options.dry_run { findings } else { fixed.remaining };
            Ok(FileResult {
                findings,
                fixed: fixed.applied,
                diff,
                problem: None,
            })
        }
        Err(error) => Ok(FileResult {
            findings,
            fixed: 0,
            diff: String::new(),
            problem: Some(format!("{path}: {error}")),
        }),
    }
}

/// Write through a temporary file in the same directory and rename, so a crash never leaves a
/// half-written Dockerfile.
fn write_preserving_permissions(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    // Through symlinks: fix the file the link points at, and keep the link.
    let resolved = fs::canonicalize(path)?;
    let path = resolved.as_path();
    let directory = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut temporary = tempfile_in(directory)?;
    temporary.1.write_all(contents)?;
    temporary.1.sync_all()?;
    if let Ok(metadata) = fs::metadata(path) {
        fs::set_permissions(&temporary.0, metadata.permissions())?;
    }
    fs::rename(&temporary.0, path)
}

fn tempfile_in(directory: &Path) -> std::io::Result<(PathBuf, fs::File)> {
    for attempt in 0..100u32 {
        let candidate = directory.join(format!(".hybrid-e2e-fix-{}-{attempt}.tmp", std::process::id()));
        match fs::OpenOptions::new().write(true).create_new(true).open(&candidate) {
            Ok(file) => return Ok((candidate, file)),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    }
    Err(std::io::Error::other("could not create a temporary file"))
}
