//! `timings.json`: what a run did and how long each part took. Versioned; fields are only ever
//! added.

use serde::{Deserialize, Serialize};

/// Bumped only on incompatible changes.
pub(crate) const TIMINGS_FORMAT_VERSION: u32 = 1;

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
}

/// Whose fault a failure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum FailureClass {
    /// The machine, engine, kind, disk or network failed: retry or fix the runner.
    Infrastructure,
    /// The project is broken: a Dockerfile step, a missing build context, a bad reference.
    Application,
}

impl FailureClass {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FailureClass::Infrastructure => "infrastructure",
            FailureClass::Application => "application",
        }
    }
}

/// The whole run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RunRecord {
    pub(crate) format_version: u32,
    pub(crate) run_id: String,
    pub(crate) config_file: Option<String>,
    pub(crate) config_hash: String,
    pub(crate) commit: Option<String>,
    pub(crate) host: String,
    pub(crate) engine: Option<String>,
    pub(crate) engine_version: Option<String>,
    pub(crate) kind_version: Option<String>,
    pub(crate) cluster_name: String,
    /// The fully-qualified image references the run built.
    pub(crate) images: Vec<String>,
    pub(crate) started_at: String,
    pub(crate) finished_at: Option<String>,
    pub(crate) status: Status,
    pub(crate) failure_class: Option<FailureClass>,
    pub(crate) failed_phase: Option<String>,
    pub(crate) message: Option<String>,
    /// From the start of the build phase to the end of the deploy phase.
    pub(crate) setup_seconds: f64,
    pub(crate) total_target_seconds: f64,
    pub(crate) within_target: bool,
    pub(crate) phases: Vec<PhaseRecord>,
    pub(crate) warnings: Vec<String>,
}

/// One phase.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PhaseRecord {
    pub(crate) name: String,
    pub(crate) started_at: Option<String>,
    pub(crate) finished_at: Option<String>,
    pub(crate) duration_seconds: f64,
    pub(crate) target_seconds: Option<f64>,
    /// The config-file line setting the target, when the config sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) target_line: Option<u64>,
    pub(crate) status: Status,
    pub(crate) failure_class: Option<FailureClass>,
    pub(crate) message: Option<String>,
    pub(crate) steps: Vec<StepRecord>,
}

/// One step of a phase.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StepRecord {
    pub(crate) name: String,
    pub(crate) started_at: Option<String>,
    pub(crate) finished_at: Option<String>,
    pub(crate) duration_seconds: f64,
    pub(crate) status: Status,
    pub(crate) failure_class: Option<FailureClass>,
    pub(crate) message: Option<String>,
    pub(crate) hint: Option<String>,
    /// Where the failure points (a Dockerfile, the kind config), for annotations.
    pub(crate) file: Option<String>,
    /// The line in `file`, when known (the Dockerfile step that failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) line: Option<usize>,
    /// Images saved or loaded: bytes moved and throughput.
    pub(crate) bytes: Option<u64>,
    pub(crate) bytes_per_second: Option<f64>,
    pub(crate) attempts: u32,
    /// The step's full output, relative to the report directory.
    pub(crate) log: Option<String>,
    /// The last lines of output of a failed step (the digest reporters show).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) tail: Vec<String>,
}
