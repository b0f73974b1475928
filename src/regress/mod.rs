//! `hybrid-e2e regress`: nightly timing-regression reports that tell a real regression from
//! runner noise (docs/regress.md). History in, `regress.json`, `regress.md`, SVG charts, the job
//! summary and optionally one issue per regressed series out. Reads `model` (and `report`'s
//! GitHub helpers); only `commands` imports it.

mod analysis;
mod api;
mod artifacts;
mod chart;
mod document;
mod extract;
#[cfg(test)]
mod fixtures;
mod history;
mod issues;
mod markdown;
mod params;
mod run;
pub(crate) mod stats;

pub(crate) use analysis::{AnalysisOptions, GroupBy};
pub(crate) use api::ApiTarget;
pub(crate) use artifacts::current_workflow;
pub(crate) use history::Cap;
pub(crate) use markdown::verdict_line;
pub(crate) use params::{ParamFlags, load as load_params};
pub(crate) use run::{ArtifactOptions, RegressError, RegressOptions, regress};
pub(crate) use stats::Verdict;

/// Entry points for `benches/regress.rs` only; not an API.
#[doc(hidden)]
pub(crate) mod replay;
