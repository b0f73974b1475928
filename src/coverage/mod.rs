//! E2E coverage capture (DD-TEST-007) as pure decisions, for the phases that act on them: which
//! containers run an image built with `coverage: true` and what their pod template gets
//! (`instrument.rs`), whether the Kind config mounts the node directory (`kind_mounts.rs`), and
//! the share of statements a `go tool covdata textfmt` profile covers (`profile.rs`).
//!
//! DD-TEST-007's top failure is "path consistency across 4 places" (`GOCOVERDIR`, the volume,
//! the node's hostPath, the Kind `extraMounts`). Here one `coverage.dir` feeds all of them: the
//! container writes to `dir`, which is the node's `dir/<run id>/<image>`, copied out from
//! there.

pub(crate) mod instrument;
pub(crate) mod kind_mounts;
pub(crate) mod profile;

use std::time::Duration;

use serde::Serialize;

/// What the run does for coverage (present when an image has `coverage: true`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct CoverageSpec {
    /// `coverage.dir`: `GOCOVERDIR` and the mount path in the container; the node keeps each
    /// image's data under `dir/<run id>/<image name>`.
    pub(crate) dir: String,
    /// The run's id: each run writes and copies its own node directory, so data an earlier run
    /// left on a kept node or on the host mount is never counted again.
    pub(crate) run_id: String,
    /// How long the instrumented workloads may take to stop.
    #[serde(serialize_with = "seconds")]
    pub(crate) stop_timeout: Duration,
    /// `coverage.target`: the percentage of statements each image should reach (a warning below).
    pub(crate) target: Option<f64>,
    pub(crate) images: Vec<CoverageImage>,
}

/// An image built with `-cover`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct CoverageImage {
    pub(crate) name: String,
    /// The fully-qualified reference the manifests run.
    pub(crate) reference: String,
}

impl CoverageSpec {
    /// Where the node keeps `image`'s data in this run (the pod's hostPath).
    pub(crate) fn node_dir(&self, image: &str) -> String {
        format!("{}/{}/{image}", self.dir, self.run_id)
    }
}

fn seconds<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}
