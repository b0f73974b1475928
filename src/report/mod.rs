//! Report sinks shared by every command: GitHub workflow commands today; JUnit, job summary and
//! check runs join them with the setup engine.

pub(crate) mod workflow;
