//! The phases of a run.

/// A phase of a run, in the order the strict schedule runs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum PhaseName {
    Preflight,
    Build,
    Cluster,
    Load,
    Deploy,
    /// The integration tier's containers started and ready (`services up`; in `run`, before
    /// the test phase that uses them).
    Services,
    /// The project's own E2E suite, after the setup (`test:`).
    Test,
    /// E2E coverage (DD-TEST-007) copied out after the test phase (images with `coverage: true`).
    Coverage,
    Teardown,
}

impl PhaseName {
    /// The name used in `timings.json`, log paths and reports.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            PhaseName::Preflight => "preflight",
            PhaseName::Build => "build",
            PhaseName::Cluster => "cluster",
            PhaseName::Load => "load",
            PhaseName::Deploy => "deploy",
            PhaseName::Test => "test",
            PhaseName::Coverage => "coverage",
            PhaseName::Services => "services",
            PhaseName::Teardown => "teardown",
        }
    }

    /// Whether the phase counts towards the DD-TEST-002 setup time.
    pub(crate) fn is_setup(self) -> bool {
        matches!(
            self,
            PhaseName::Build | PhaseName::Cluster | PhaseName::Load | PhaseName::Deploy | PhaseName::Services
        )
    }
}

impl std::fmt::Display for PhaseName {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}
