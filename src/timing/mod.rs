//! Time: a stopwatch that pairs wall-clock start/end with a monotonic duration, and the
//! versioned `timings.json` record (documented in `docs/timings.md`).

mod record;
mod stopwatch;

pub(crate) use record::{FailureClass, PhaseRecord, RunRecord, Status, StepRecord, TIMINGS_FORMAT_VERSION};
pub(crate) use stopwatch::{Stopwatch, Timing};
