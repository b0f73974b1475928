//! The errors a user can cause or meet, and the stable exit code each maps to
//! (documented in `docs/exit-codes.md`).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::config::ConfigError;
use crate::lint::LintError;
use crate::model::ReadRecordError;

/// Exit codes. Stable: scripts and CI depend on them.
pub(crate) mod exit_codes {
    /// Everything passed.
    pub(crate) const OK: u8 = 0;
    /// `run`: the setup failed for an application reason (a build step, a bad reference, lint).
    pub(crate) const SETUP_FAILED: u8 = 1;
    /// Bad command line or config file.
    pub(crate) const USAGE: u8 = 2;
    /// `lint` found an unsuppressed error-level finding (or a file it could not lint).
    pub(crate) const LINT_FINDINGS: u8 = 3;
    /// `run --fail-on-target`: a phase or the total was over its target.
    pub(crate) const TARGETS_EXCEEDED: u8 = 4;
    /// The machine failed us: engine, kind, disk, network, or a file that could not be written.
    pub(crate) const INFRASTRUCTURE: u8 = 5;
    /// `report --merge`: some report directories could not be read; the others were rendered.
    pub(crate) const REPORT_PARTIAL: u8 = 6;
    /// `regress --fail-on-regression`: a series has a confirmed timing regression.
    pub(crate) const REGRESSION: u8 = 7;
    /// `run` with `test:`: the setup succeeded and the E2E suite's tests failed (or it hung
    /// past `test.timeout`).
    pub(crate) const TESTS_FAILED: u8 = 8;
    /// `run` was interrupted (SIGINT/SIGTERM); the partial report was written.
    pub(crate) const CANCELLED: u8 = 130;
    /// A bug in hybrid-e2e: a panic (Rust's own exit code for one, kept for a caught one).
    pub(crate) const BUG: u8 = 101;
}

/// An error that ends the command. Messages are lowercase fragments.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExpectedError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Lint(#[from] LintError),
    #[error("failed to write {path}: {source}")]
    WriteOutput { path: PathBuf, source: std::io::Error },
    #[error("failed to start the async runtime: {source}")]
    Runtime { source: std::io::Error },
    #[error(transparent)]
    ReadReport(#[from] ReadRecordError),
    /// `hybrid-e2e action`: an input, or a setting the container action cannot honour.
    #[error("{0}")]
    Action(String),
    /// A command line or input that cannot work, said in words.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Regress(#[from] crate::regress::RegressError),
    /// `coverage`: nothing could be captured (no run, no cluster, no engine, ...).
    #[error(transparent)]
    Coverage(#[from] crate::pipeline::CaptureError),
}

impl ExpectedError {
    /// The documented exit code (docs/exit-codes.md).
    pub(crate) fn code(&self) -> u8 {
        match self {
            ExpectedError::Config(_)
            | ExpectedError::ReadReport(_)
            | ExpectedError::Action(_)
            | ExpectedError::Usage(_)
            | ExpectedError::Regress(crate::regress::RegressError::Usage(_)) => exit_codes::USAGE,
            ExpectedError::Regress(crate::regress::RegressError::Io(_)) => exit_codes::INFRASTRUCTURE,
            ExpectedError::Coverage(error) if error.is_usage() => exit_codes::USAGE,
            ExpectedError::Coverage(_) => exit_codes::INFRASTRUCTURE,
            ExpectedError::Lint(error) if error.is_usage() => exit_codes::USAGE,
            ExpectedError::Lint(_) | ExpectedError::WriteOutput { .. } | ExpectedError::Runtime { .. } => {
                exit_codes::INFRASTRUCTURE
            }
        }
    }

    pub(crate) fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code())
    }
}
