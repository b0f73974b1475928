//! `command: run` in the action: the CLI's `run`, plus what a container action needs. The main
//! step never deletes the cluster (the job's later steps use it; the post step tears down per
//! `preserve`); the kubeconfig for later steps goes to `<workspace>/.hybrid-e2e/<cluster>/`
//! (not the report directory, which is uploaded as an artifact) unless the config names one;
//! inside a container the run joins Kind's network, uses the internal kubeconfig and hands
//! Docker host paths (see `phases::cluster::network` and `kind_config`); `GITHUB_STATE` gets
//! the cluster as soon as it is being created.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use super::container::{Whereabouts, normalize};
use super::files;
use super::kind_config;
use crate::cli::RunArgs;
use crate::commands::run::{RunHooks, run_with};
use crate::config::{EngineChoice, LoadedConfig, Preserve};
use crate::errors::ExpectedError;
use crate::model::{Event, PhaseName, Reporter};
use crate::plan::{InContainer, Plan};
use crate::report::printer::Printer;

/// Why `engine: podman` cannot work in the action.
pub(crate) const PODMAN_REFUSED: &str = "engine: podman is not available in the container action: the action drives \
the runner's Docker through the mounted socket, and its image has no Podman. Use `engine: docker` (or `auto`) here, \
or run the CLI on the runner for Podman (`hybrid-e2e run` in a `run:` step, after installing it)";

/// Where the run happens.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    /// `/github/workspace` in the action (absolute).
    pub(crate) workspace: PathBuf,
    /// The working directory (absolute; the process's current directory for `run`).
    pub(crate) working_dir: PathBuf,
    pub(crate) whereabouts: Whereabouts,
}

/// What the run's hooks learned, for the state and the outputs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Learned {
    pub(crate) cluster: Option<String>,
    /// This container's view of the kubeconfig for later steps.
    pub(crate) host_kubeconfig: Option<PathBuf>,
    pub(crate) preserve: Option<Preserve>,
    pub(crate) report_dir: Option<PathBuf>,
    /// The cluster phase started: a cluster may exist (a failed create is retained).
    pub(crate) cluster_started: bool,
}

/// The state the post step needs, as `GITHUB_STATE` entries.
fn state_entries(learned: &Learned) -> Vec<(String, String)> {
    let text = |path: &Option<PathBuf>| path.as_ref().map(|path| path.display().to_string()).unwrap_or_default();
    vec![
        ("cluster_name".to_owned(), learned.cluster.clone().unwrap_or_default()),
        ("kubeconfig".to_owned(), text(&learned.host_kubeconfig)),
        (
            "preserve".to_owned(),
            learned.preserve.unwrap_or_default().as_str().to_owned(),
        ),
        ("report_dir".to_owned(), text(&learned.report_dir)),
    ]
}

/// Saves the state when the cluster phase starts (before `kind create`), so a job cancelled
/// while the cluster is being made still has it torn down.
struct SaveStateOnCluster {
    learned: Arc<Mutex<Learned>>,
    saved: bool,
}

impl Reporter for SaveStateOnCluster {
    fn handle(&mut self, event: &Event<'_>) {
        if self.saved
            || !matches!(
                event,
                Event::StepStarted {
                    phase: PhaseName::Cluster,
                    ..
                }
            )
        {
            return;
        }
        self.saved = true;
        let entries = {
            let mut learned = self.learned.lock().unwrap_or_else(PoisonError::into_inner);
            learned.cluster_started = true;
            state_entries(&learned)
        };
        if let Err(error) = files::append("GITHUB_STATE", &entries) {
            eprintln!("warning: the post step will not find the cluster: {error}");
        }
    }
}

/// `path` made absolute against `base`, lexically.
pub(crate) fn absolute(base: &Path, path: &Path) -> PathBuf {
    normalize(&base.join(path))
}

/// The action's own directory for `cluster` (kubeconfigs, the translated Kind config).
fn own_dir(layout: &Layout, cluster: &str) -> PathBuf {
    layout.workspace.join(".hybrid-e2e").join(cluster)
}

/// The kubeconfig for the job's later steps: the config's, else in the action's own directory.
fn host_kubeconfig(layout: &Layout, config: &LoadedConfig, plan: &Plan) -> PathBuf {
    if config.file.cluster.kubeconfig.is_some() {
        absolute(&layout.working_dir, &plan.cluster.kubeconfig)
    } else {
        own_dir(layout, &plan.cluster.name).join("kubeconfig")
    }
}

/// The Docker network of Kind's nodes.
fn kind_network() -> String {
    std::env::var("KIND_EXPERIMENTAL_DOCKER_NETWORK")
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "kind".to_owned())
}

/// `command: coverage`: the cluster the main step made, reached as it reached it (from a
/// container: Kind's network and the internal kubeconfig; the main step's files otherwise).
pub(crate) fn reach_kept_cluster(layout: &Layout, config: &LoadedConfig, plan: &mut Plan) -> Result<(), ExpectedError> {
    if plan.engine == EngineChoice::Podman {
        return Err(ExpectedError::Action(PODMAN_REFUSED.to_owned()));
    }
    let host_kubeconfig = host_kubeconfig(layout, config, plan);
    let cluster = &mut plan.cluster;
    match &layout.whereabouts {
        Whereabouts::Container(me) => {
            cluster.kubeconfig = PathBuf::from(format!("{}.internal", host_kubeconfig.display()));
            cluster.in_container = Some(InContainer {
                container: me.id.clone(),
                network: kind_network(),
                host_kubeconfig,
                kind_config: None,
            });
        }
        Whereabouts::Host | Whereabouts::UnknownContainer(_) => cluster.kubeconfig = host_kubeconfig,
    }
    Ok(())
}

/// Make the plan the action's: deferred teardown, kubeconfigs, the container's network, host
/// paths in the Kind config.
fn adjust(
    layout: &Layout,
    config: &LoadedConfig,
    plan: &mut Plan,
    learned: &Mutex<Learned>,
) -> Result<(), ExpectedError> {
    if plan.engine == EngineChoice::Podman {
        return Err(ExpectedError::Action(PODMAN_REFUSED.to_owned()));
    }
    let own_dir = own_dir(layout, &plan.cluster.name);
    let host_kubeconfig = host_kubeconfig(layout, config, plan);
    let cluster = &mut plan.cluster;
    let mkdir = |directory: &Path| {
        std::fs::create_dir_all(directory).map_err(|source| ExpectedError::WriteOutput {
            path: directory.to_path_buf(),
            source,
        })
    };
    mkdir(&own_dir)?;
    // Not for commits: later steps' `git status` and `git add -A` skip it.
    let _ = std::fs::write(layout.workspace.join(".hybrid-e2e/.gitignore"), "*\n");
    cluster.teardown_deferred = true;
    match &layout.whereabouts {
        Whereabouts::Container(me) => {
            let kind_config = match &cluster.config {
                Some(original) => {
                    let (written, rewrite) = kind_config::rewrite_file(
                        original,
                        &own_dir.join("kind-config.json"),
                        &layout.working_dir,
                        &me.mounts,
                    )
                    .map_err(ExpectedError::Action)?;
                    for (from, to) in &rewrite.translated {
                        eprintln!("hybrid-e2e action: Kind extraMounts hostPath {from} -> {to} (the runner's path)");
                    }
                    for kept in &rewrite.kept {
                        eprintln!(
                            "hybrid-e2e action: Kind extraMounts hostPath {kept} is under no runner mount: Docker reads it as a host path"
                        );
                    }
                    written
                }
                None => None,
            };
            // Our own client: `kind get kubeconfig --internal`, next to the host one.
            cluster.kubeconfig = PathBuf::from(format!("{}.internal", host_kubeconfig.display()));
            cluster.in_container = Some(InContainer {
                container: me.id.clone(),
                network: kind_network(),
                host_kubeconfig: host_kubeconfig.clone(),
                kind_config,
            });
        }
        Whereabouts::Host | Whereabouts::UnknownContainer(_) => cluster.kubeconfig = host_kubeconfig.clone(),
    }
    let mut learned = learned.lock().unwrap_or_else(PoisonError::into_inner);
    learned.cluster = Some(plan.cluster.name.clone());
    learned.host_kubeconfig = Some(host_kubeconfig);
    learned.preserve = Some(plan.cluster.preserve);
    learned.report_dir = Some(absolute(&layout.working_dir, &plan.report_dir));
    Ok(())
}

/// Run; the exit code and what was learned.
pub(crate) fn run(
    args: RunArgs,
    config: Option<&Path>,
    printer: &Printer,
    layout: &Layout,
) -> (Result<u8, ExpectedError>, Learned) {
    let learned = Arc::new(Mutex::new(Learned::default()));
    let hook_layout = layout.clone();
    let hook_learned = Arc::clone(&learned);
    let hooks = RunHooks {
        adjust_plan: Some(Box::new(move |config: &LoadedConfig, plan: &mut Plan| {
            adjust(&hook_layout, config, plan, &hook_learned)
        })),
        reporters: vec![Box::new(SaveStateOnCluster {
            learned: Arc::clone(&learned),
            saved: false,
        })],
    };
    let result = run_with(args, config, printer, hooks);
    let learned = learned.lock().unwrap_or_else(PoisonError::into_inner).clone();
    (result, learned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_names_what_the_post_step_reads() {
        let learned = Learned {
            cluster: Some("hybrid-e2e-9f8e".to_owned()),
            host_kubeconfig: Some(PathBuf::from(
                "/github/workspace/.hybrid-e2e/hybrid-e2e-9f8e/kubeconfig",
            )),
            preserve: Some(Preserve::Never),
            report_dir: Some(PathBuf::from("/github/workspace/hybrid-e2e-report")),
            cluster_started: true,
        };
        let entries = state_entries(&learned);
        let names: Vec<&str> = entries.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["cluster_name", "kubeconfig", "preserve", "report_dir"]);
        let lookup = |name: &str| {
            entries
                .iter()
                .find(|(entry, _)| format!("STATE_{entry}") == name)
                .map(|(_, value)| value.clone())
        };
        let saved = super::super::post::SavedState::from_lookup(lookup);
        assert_eq!(
            super::super::post::decide(&saved),
            super::super::post::Decision::Delete {
                cluster: "hybrid-e2e-9f8e".to_owned()
            }
        );
    }
}
