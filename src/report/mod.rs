//! Report sinks: the run's event stream fanned out to the terminal (through one `Printer`) and
//! `timings.json`; from finished runs (or saved report directories), JUnit, the job summary,
//! annotations, step outputs and check runs; GitHub workflow commands shared with `lint`.

pub(crate) mod checks;
pub(crate) mod display;
#[cfg(test)]
pub(crate) mod fixtures;
pub(crate) mod github;
pub(crate) mod junit;
pub(crate) mod printer;
pub(crate) mod publish;
pub(crate) mod rest;
pub(crate) mod summary;
pub(crate) mod timings;
pub(crate) mod workflow;
