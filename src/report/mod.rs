//! Report sinks: the engine's event stream fanned out to the terminal and `timings.json`; from a
//! finished run (or saved report directories), JUnit, the job summary, annotations and step
//! outputs; GitHub workflow commands shared with `lint`.

pub(crate) mod checks;
pub(crate) mod display;
pub(crate) mod events;
#[cfg(test)]
pub(crate) mod fixtures;
pub(crate) mod github;
pub(crate) mod junit;
pub(crate) mod publish;
pub(crate) mod summary;
pub(crate) mod timings;
pub(crate) mod workflow;
