//! The phases of a run, each a module the pipeline calls with the run's context: `preflight`,
//! `build`, `cluster` (with its readiness gate and the teardown), `load`, `deploy`. A phase
//! turns the plan into runner steps; `classify` is the one table of known failure outputs.

pub(crate) mod build;
pub(crate) mod classify;
pub(crate) mod cluster;
pub(crate) mod coverage;
pub(crate) mod deploy;
pub(crate) mod load;
pub(crate) mod preflight;
pub(crate) mod services;
pub(crate) mod test;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use crate::lint::RuleLevels;
use crate::model::DockerfileFindings;
use crate::plan::Plan;
use crate::tools::{ContainerEngine, Kind};

/// What every phase of one run shares: the plan, and what earlier phases found out (preflight
/// detects the engine and kind; the cluster phase says whether a cluster may exist).
pub(crate) struct RunContext {
    pub(crate) plan: Arc<Plan>,
    pub(crate) lint_levels: RuleLevels,
    /// Preflight fails below this many free bytes.
    pub(crate) min_free_disk: u64,
    engine: OnceLock<Arc<ContainerEngine>>,
    kind: OnceLock<Arc<Kind>>,
    kind_version: OnceLock<String>,
    dockerfile_findings: OnceLock<DockerfileFindings>,
    cluster_created: AtomicBool,
    /// The cluster outlives the run (`preserve`, or the action's deferred teardown): the
    /// coverage phase brings back what it stopped.
    cluster_kept: AtomicBool,
    /// What `services up` started, for its outputs.
    pub(crate) services: Arc<services::Started>,
}

impl RunContext {
    pub(crate) fn new(plan: Plan, lint_levels: RuleLevels, min_free_disk: u64) -> RunContext {
        RunContext {
            plan: Arc::new(plan),
            lint_levels,
            min_free_disk,
            engine: OnceLock::new(),
            kind: OnceLock::new(),
            kind_version: OnceLock::new(),
            dockerfile_findings: OnceLock::new(),
            cluster_created: AtomicBool::new(false),
            cluster_kept: AtomicBool::new(false),
            services: Arc::default(),
        }
    }

    /// The engine preflight found (`None` before preflight, or when none answers).
    pub(crate) fn engine(&self) -> Option<Arc<ContainerEngine>> {
        self.engine.get().cloned()
    }

    pub(crate) fn set_engine(&self, engine: ContainerEngine) {
        let _ = self.engine.set(Arc::new(engine));
    }

    /// The kind CLI, with the provider matching the engine.
    pub(crate) fn kind(&self) -> Arc<Kind> {
        Arc::clone(
            self.kind
                .get_or_init(|| Arc::new(Kind::new(self.engine.get().map(|engine| engine.kind)))),
        )
    }

    pub(crate) fn kind_version(&self) -> Option<String> {
        self.kind_version.get().cloned()
    }

    pub(crate) fn set_kind_version(&self, version: String) {
        let _ = self.kind_version.set(version);
    }

    /// What preflight's lint found (`None` before it ran).
    pub(crate) fn dockerfile_findings(&self) -> Option<DockerfileFindings> {
        self.dockerfile_findings.get().copied()
    }

    pub(crate) fn set_dockerfile_findings(&self, findings: DockerfileFindings) {
        let _ = self.dockerfile_findings.set(findings);
    }

    /// Whether `kind create cluster` ran (a failed create is retained and may need deleting).
    pub(crate) fn cluster_created(&self) -> bool {
        self.cluster_created.load(Ordering::SeqCst)
    }

    pub(crate) fn mark_cluster_created(&self) {
        self.cluster_created.store(true, Ordering::SeqCst);
    }

    /// Whether the cluster will be left running after the run.
    pub(crate) fn cluster_kept(&self) -> bool {
        self.cluster_kept.load(Ordering::SeqCst)
    }

    pub(crate) fn set_cluster_kept(&self, kept: bool) {
        self.cluster_kept.store(kept, Ordering::SeqCst);
    }
}
