//! What the coverage phase captured for one image (DD-TEST-007), as `timings.json` keeps it.

use serde::{Deserialize, Serialize};

/// One image's E2E coverage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct CoverageResult {
    /// The image's name in the config.
    pub(crate) image: String,
    /// The workloads that ran it and how each was stopped (`Deployment example-e2e/gateway:
    /// scaled to 0`).
    #[serde(default)]
    pub(crate) workloads: Vec<String>,
    /// Where the raw data (`covmeta.*`, `covcounters.*`) was copied, relative to the report
    /// directory.
    pub(crate) directory: String,
    /// Metadata files copied (one per instrumented binary).
    pub(crate) meta_files: usize,
    /// Counter files copied (one per process that exited gracefully).
    pub(crate) counter_files: usize,
    /// The `go tool covdata textfmt` profile, relative to the report directory (`null`: `go`
    /// is not on PATH, or there was nothing to convert).
    #[serde(default)]
    pub(crate) profile: Option<String>,
    #[serde(default)]
    pub(crate) statements: Option<u64>,
    #[serde(default)]
    pub(crate) covered_statements: Option<u64>,
    /// Statements covered, in percent (from the profile).
    #[serde(default)]
    pub(crate) percent: Option<f64>,
    /// `coverage.target` when set: `percent` below it is a warning.
    #[serde(default)]
    pub(crate) target_percent: Option<f64>,
    /// Per Go package (import path), from the profile; most statements first.
    #[serde(default)]
    pub(crate) packages: Vec<PackageCoverage>,
    /// What went wrong on the way (each a warning; the run's outcome never depends on them).
    #[serde(default)]
    pub(crate) problems: Vec<String>,
}

/// One Go package's share of an image's E2E coverage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct PackageCoverage {
    /// The import path (`example.com/gateway/internal/store`).
    pub(crate) package: String,
    pub(crate) statements: u64,
    pub(crate) covered_statements: u64,
    /// Statements covered, in percent (`null` for a package without statements).
    pub(crate) percent: Option<f64>,
}
