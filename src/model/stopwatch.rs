//! Wall-clock timestamps for reports, a monotonic `Instant` for durations (wall clocks jump).

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

/// A running stopwatch.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stopwatch {
    started_at: DateTime<Utc>,
    instant: Instant,
}

/// A finished measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timing {
    pub(crate) started_at: DateTime<Utc>,
    pub(crate) finished_at: DateTime<Utc>,
    pub(crate) duration: Duration,
}

impl Stopwatch {
    pub(crate) fn start() -> Stopwatch {
        Stopwatch {
            started_at: Utc::now(),
            instant: Instant::now(),
        }
    }

    pub(crate) fn stop(&self) -> Timing {
        let duration = self.instant.elapsed();
        let finished_at = self.started_at + chrono::Duration::from_std(duration).unwrap_or_default();
        Timing {
            started_at: self.started_at,
            finished_at,
            duration,
        }
    }
}
