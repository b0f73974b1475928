//! Report sinks: the engine's event stream fanned out to the terminal and `timings.json`, and
//! GitHub workflow commands shared with `lint`. JUnit, the job summary and check runs join them.

pub(crate) mod display;
pub(crate) mod events;
pub(crate) mod timings;
pub(crate) mod workflow;
