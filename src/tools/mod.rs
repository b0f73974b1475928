//! The external tools a run drives: the container engine and kind. Their programs can be
//! overridden (`HYBRID_E2E_DOCKER`, `HYBRID_E2E_PODMAN`, `HYBRID_E2E_KIND`), which is also how
//! the tests put fakes in place.

use std::time::Duration;

pub(crate) mod containers;
mod engine;
mod kind;

pub(crate) use engine::{ContainerEngine, EngineKind, detect_engine};
pub(crate) use kind::Kind;

/// How long a version or status query may take.
pub(crate) const QUERY_TIMEOUT: Duration = Duration::from_secs(20);
