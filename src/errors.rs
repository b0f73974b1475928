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
    /// `regress --fail-on-regression`: a series has a confirmed timing regression.
    pub(crate) const REGRESSION: u8 = 6;
    /// `run` was interrupted (SIGINT/SIGTERM); the partial report was written.
    pub(crate) const CANCELLED: u8 = 130;
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
    /// `regress`: bad options or parameters.
    #[error("{0}")]
    RegressUsage(String),
    /// `regress`: history that could not be read, or a report that could not be written.
    #[error("{0}")]
    RegressIo(String),
}

impl ExpectedError {
    pub(crate) fn exit_code(&self) -> ExitCode {
        let code = match self {
            ExpectedError::Config(_) | ExpectedError::ReadReport(_) | ExpectedError::RegressUsage(_) => {
                exit_codes::USAGE
            }
            ExpectedError::RegressIo(_) => exit_codes::INFRASTRUCTURE,
            ExpectedError::Lint(error) if error.is_usage() => exit_codes::USAGE,
            ExpectedError::Lint(_) | ExpectedError::WriteOutput { .. } | ExpectedError::Runtime { .. } => {
                exit_codes::INFRASTRUCTURE
            }
        };
        ExitCode::from(code)
    }
}
