//! How a step, a phase or a run ended, and whose fault a failure is.

use serde::{Deserialize, Serialize};

/// How a phase, a step or the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Status {
    Ok,
    OverTarget,
    Failed,
    Cancelled,
    Skipped,
}

impl Status {
    /// The name used in `timings.json`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::OverTarget => "over-target",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
            Status::Skipped => "skipped",
        }
    }

    /// Whether the next phase may run after a phase that ended like this.
    pub(crate) fn is_success(self) -> bool {
        matches!(self, Status::Ok | Status::OverTarget)
    }
}

/// Whose fault a failure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum FailureClass {
    /// The machine, engine, kind, disk or network failed: retry or fix the runner.
    Infrastructure,
    /// The project is broken: a Dockerfile step, a missing build context, a bad reference.
    Application,
    /// Nobody's fault: the run was interrupted (Ctrl-C, SIGTERM, a cancelled job).
    Cancelled,
}

impl FailureClass {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FailureClass::Infrastructure => "infrastructure",
            FailureClass::Application => "application",
            FailureClass::Cancelled => "cancelled",
        }
    }
}
