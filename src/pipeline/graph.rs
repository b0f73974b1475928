//! The run as a dependency graph of steps (`mode: pipelined`), and the arithmetic on it that
//! needs no clock: the critical path, and both schedules simulated from step durations — the
//! pipelined one (what `plan` predicts) and DD-TEST-002's strict one (what the report says
//! strict would have taken).
//!
//! The edges: a load needs its image built and the cluster ready; `deploy/namespaces-crds`
//! needs the cluster; a deploy group needs `namespaces-crds`, the loads of the built images
//! its manifests run, and its `depends_on` groups. A group of public or pre-existing images
//! only needs the cluster (through `namespaces-crds`).

use std::collections::BTreeSet;

use crate::k8s::manifests;
use crate::model::PhaseName;
use crate::plan::Plan;

/// The step `namespaces-crds` of the deploy phase (see `phases::deploy`).
const PREPARE: &str = crate::phases::deploy::PREPARE_STEP;

/// One step of the run and the steps it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    pub(crate) phase: PhaseName,
    pub(crate) name: String,
    /// Indexes of the nodes that must have finished (successfully) first.
    pub(crate) needs: Vec<usize>,
}

impl Node {
    /// `phase/step`, as reports name it.
    pub(crate) fn id(&self) -> String {
        format!("{}/{}", self.phase, self.name)
    }
}

/// The steps of a run in the order the phases would create them: builds, the cluster, loads,
/// then `namespaces-crds` and the deploy groups.
#[derive(Debug, Clone, Default)]
pub(crate) struct Graph {
    pub(crate) nodes: Vec<Node>,
}

impl Graph {
    /// The graph of `plan`; `deploy` says whether the deploy phase has steps.
    pub(crate) fn from_plan(plan: &Plan, deploy: bool) -> Graph {
        let mut nodes = Vec::new();
        let builds: Vec<usize> = plan
            .images
            .iter()
            .map(|image| {
                nodes.push(Node {
                    phase: PhaseName::Build,
                    name: image.name.clone(),
                    needs: Vec::new(),
                });
                nodes.len() - 1
            })
            .collect();
        nodes.push(Node {
            phase: PhaseName::Cluster,
            name: "create".to_owned(),
            needs: Vec::new(),
        });
        let cluster = nodes.len() - 1;
        let loads: Vec<usize> = plan
            .images
            .iter()
            .zip(&builds)
            .map(|(image, build)| {
                nodes.push(Node {
                    phase: PhaseName::Load,
                    name: image.name.clone(),
                    needs: vec![*build, cluster],
                });
                nodes.len() - 1
            })
            .collect();
        if deploy {
            nodes.push(Node {
                phase: PhaseName::Deploy,
                name: PREPARE.to_owned(),
                needs: vec![cluster],
            });
            let prepare = nodes.len() - 1;
            let first_group = nodes.len();
            let references: Vec<&str> = plan.images.iter().map(|image| image.reference.as_str()).collect();
            for group in &plan.deploy {
                let mut needs = vec![prepare];
                for image in group_images(&group.files, &references) {
                    needs.push(loads[image]);
                }
                for dependency in &group.depends_on {
                    if let Some(index) = plan.deploy.iter().position(|other| other.name == *dependency) {
                        needs.push(first_group + index);
                    }
                }
                nodes.push(Node {
                    phase: PhaseName::Deploy,
                    name: group.name.clone(),
                    needs,
                });
            }
        }
        Graph { nodes }
    }

    /// The nodes of `phase`.
    pub(crate) fn of(&self, phase: PhaseName) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(move |index| self.nodes[*index].phase == phase)
    }

    /// The cluster's node.
    pub(crate) fn cluster(&self) -> Option<usize> {
        self.of(PhaseName::Cluster).next()
    }

    /// Whether node `index` is a deploy group that needs no built image (public or
    /// pre-existing images only).
    pub(crate) fn needs_no_built_image(&self, index: usize) -> bool {
        let node = &self.nodes[index];
        node.phase == PhaseName::Deploy
            && node.name != PREPARE
            && !node.needs.iter().any(|need| self.nodes[*need].phase == PhaseName::Load)
    }
}

/// The indexes (into `references`) of the built images `files` run.
pub(crate) fn group_images(files: &[std::path::PathBuf], references: &[&str]) -> Vec<usize> {
    let mut found = BTreeSet::new();
    for file in files {
        let Ok(documents) = manifests::read_documents(file) else {
            continue;
        };
        for use_ in manifests::image_uses(file, &documents) {
            if let Some(index) = references.iter().position(|reference| *reference == use_.image) {
                found.insert(index);
            }
        }
    }
    found.into_iter().collect()
}

/// The longest chain of dependent nodes by `durations` (seconds), with the chain; `None` when
/// a duration is unknown.
pub(crate) fn critical_path(graph: &Graph, durations: &[Option<f64>]) -> Option<(f64, Vec<usize>)> {
    let count = graph.nodes.len();
    if count == 0 {
        return Some((0.0, Vec::new()));
    }
    // Nodes only need earlier nodes (the order the graph is built in).
    let mut finish = vec![0.0_f64; count];
    let mut previous: Vec<Option<usize>> = vec![None; count];
    for index in 0..count {
        let (start, via) = graph.nodes[index]
            .needs
            .iter()
            .map(|need| (finish[*need], Some(*need)))
            .fold(
                (0.0, None),
                |best, candidate| if candidate.0 > best.0 { candidate } else { best },
            );
        finish[index] = start + durations[index]?;
        previous[index] = via;
    }
    let (mut last, total) =
        finish.iter().copied().enumerate().fold(
            (0, f64::MIN),
            |best, (index, end)| if end > best.1 { (index, end) } else { best },
        );
    let mut chain = vec![last];
    while let Some(before) = previous[last] {
        chain.push(before);
        last = before;
    }
    chain.reverse();
    Some((total, chain))
}

/// When the cluster may start in a simulated pipelined schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ClusterGate {
    /// At this many seconds after the builds start (or once every build is done).
    At(f64),
    /// When the first build finishes.
    FirstBuild,
}

/// Each node's simulated `(start, end)`, seconds from the builds' start.
pub(crate) type Timeline = Vec<(f64, f64)>;

/// The pipelined schedule the scheduler would run with these durations: nodes in order as soon
/// as what they need is done; builds and loads under `concurrency` (builds one slot fewer while
/// the cluster boots), the cluster at its gate, deploy groups unlimited.
pub(crate) fn simulate_pipelined(graph: &Graph, durations: &[f64], concurrency: usize, gate: ClusterGate) -> Timeline {
    simulate(graph, durations, concurrency, Some(gate))
}

/// DD-TEST-002's strict schedule with these durations: each phase after the previous one
/// finished, its steps under `concurrency` (deploy groups unlimited, in `depends_on` order
/// after `namespaces-crds`).
pub(crate) fn simulate_strict(graph: &Graph, durations: &[f64], concurrency: usize) -> Timeline {
    simulate(graph, durations, concurrency, None)
}

/// The end of the last node of a timeline.
pub(crate) fn makespan(timeline: &Timeline) -> f64 {
    timeline.iter().map(|(_, end)| *end).fold(0.0, f64::max)
}

/// Build slots while the cluster boots.
pub(crate) fn build_slots_while_booting(concurrency: usize) -> usize {
    concurrency.saturating_sub(1).max(1)
}

fn simulate(graph: &Graph, durations: &[f64], concurrency: usize, gate: Option<ClusterGate>) -> Timeline {
    const ORDER: [PhaseName; 4] = [PhaseName::Build, PhaseName::Cluster, PhaseName::Load, PhaseName::Deploy];
    let count = graph.nodes.len();
    let mut times: Vec<Option<(f64, f64)>> = vec![None; count];
    let cluster = graph.cluster();
    let builds: Vec<usize> = graph.of(PhaseName::Build).collect();
    // The cluster is considered first: when it may start at the same moment as a build, it
    // starts, and the build waits for its (reduced) slot.
    let order: Vec<usize> = cluster
        .into_iter()
        .chain((0..count).filter(|index| Some(*index) != cluster))
        .collect();
    let mut now = 0.0_f64;
    let done = |times: &[Option<(f64, f64)>], index: usize, now: f64| times[index].is_some_and(|(_, end)| end <= now);
    let running = |times: &[Option<(f64, f64)>], index: usize, now: f64| {
        times[index].is_some_and(|(start, end)| start <= now && now < end)
    };
    loop {
        let mut started = false;
        for &index in &order {
            if times[index].is_some() {
                continue;
            }
            let node = &graph.nodes[index];
            let ready = match gate {
                // Pipelined: what it needs is done.
                Some(_) => node.needs.iter().all(|need| done(&times, *need, now)),
                // Strict: every earlier phase is done, and within deploy its own order.
                None => {
                    let position = ORDER.iter().position(|phase| *phase == node.phase).unwrap_or(0);
                    let earlier_done = (0..count)
                        .filter(|other| {
                            ORDER
                                .iter()
                                .position(|phase| *phase == graph.nodes[*other].phase)
                                .unwrap_or(0)
                                < position
                        })
                        .all(|other| done(&times, other, now));
                    earlier_done
                        && node
                            .needs
                            .iter()
                            .filter(|need| graph.nodes[**need].phase == node.phase)
                            .all(|need| done(&times, *need, now))
                }
            };
            if !ready {
                continue;
            }
            let booting = cluster.is_some_and(|cluster| running(&times, cluster, now));
            let limit = match node.phase {
                PhaseName::Build if gate.is_some() && booting => build_slots_while_booting(concurrency),
                PhaseName::Build | PhaseName::Load => concurrency.max(1),
                PhaseName::Cluster => 1,
                _ => usize::MAX,
            };
            let busy = (0..count)
                .filter(|other| graph.nodes[*other].phase == node.phase && running(&times, *other, now))
                .count();
            if busy >= limit {
                continue;
            }
            if node.phase == PhaseName::Cluster
                && let Some(gate) = gate
            {
                let all_built = builds.iter().all(|build| done(&times, *build, now));
                let open = all_built
                    || match gate {
                        ClusterGate::At(at) => now >= at,
                        ClusterGate::FirstBuild => builds.iter().any(|build| done(&times, *build, now)),
                    };
                if !open {
                    continue;
                }
            }
            times[index] = Some((now, now + durations[index].max(0.0)));
            started = true;
        }
        if times.iter().all(Option::is_some) {
            break;
        }
        if started {
            // What just started may already be done (no duration): look again at this moment.
            continue;
        }
        // The next moment anything can change: an end, or the cluster's gate.
        let mut next = times
            .iter()
            .flatten()
            .map(|(_, end)| *end)
            .filter(|end| *end > now)
            .fold(f64::INFINITY, f64::min);
        if let (Some(ClusterGate::At(at)), Some(cluster)) = (gate, cluster)
            && times[cluster].is_none()
            && at > now
        {
            next = next.min(at);
        }
        if !next.is_finite() {
            // Nothing left can start (a cycle; validation rejects those): stop here.
            break;
        }
        now = next;
    }
    times.into_iter().map(|time| time.unwrap_or((now, now))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Kubernaut-shaped graph of the benchmark: 3 images, postgres and redis (public),
    /// migrations (its own image, after postgres), datastorage (after migrations), the service
    /// (after datastorage).
    fn kubernaut() -> Graph {
        let node = |phase, name: &str, needs: Vec<usize>| Node {
            phase,
            name: name.to_owned(),
            needs,
        };
        Graph {
            nodes: vec![
                node(PhaseName::Build, "signalprocessing", vec![]),          // 0
                node(PhaseName::Build, "datastorage", vec![]),               // 1
                node(PhaseName::Build, "migrate", vec![]),                   // 2
                node(PhaseName::Cluster, "create", vec![]),                  // 3
                node(PhaseName::Load, "signalprocessing", vec![0, 3]),       // 4
                node(PhaseName::Load, "datastorage", vec![1, 3]),            // 5
                node(PhaseName::Load, "migrate", vec![2, 3]),                // 6
                node(PhaseName::Deploy, PREPARE, vec![3]),                   // 7
                node(PhaseName::Deploy, "postgres", vec![7]),                // 8
                node(PhaseName::Deploy, "redis", vec![7]),                   // 9
                node(PhaseName::Deploy, "migrations", vec![7, 6, 8]),        // 10
                node(PhaseName::Deploy, "datastorage", vec![7, 5, 10, 9]),   // 11
                node(PhaseName::Deploy, "signalprocessing", vec![7, 4, 11]), // 12
            ],
        }
    }

    const DURATIONS: [f64; 13] = [12.5, 8.0, 3.0, 2.6, 1.1, 1.1, 1.1, 0.2, 1.2, 0.9, 0.9, 0.9, 0.8];

    #[test]
    fn the_critical_path_follows_the_slowest_chain() {
        let graph = kubernaut();
        let durations: Vec<Option<f64>> = DURATIONS.iter().copied().map(Some).collect();
        let (total, chain) = critical_path(&graph, &durations).expect("known durations");
        assert!((total - (12.5 + 1.1 + 0.8)).abs() < 1e-9, "{total}");
        let ids: Vec<String> = chain.iter().map(|index| graph.nodes[*index].id()).collect();
        assert_eq!(
            ids,
            vec![
                "build/signalprocessing",
                "load/signalprocessing",
                "deploy/signalprocessing"
            ]
        );
        let mut unknown = durations.clone();
        unknown[4] = None;
        assert_eq!(critical_path(&graph, &unknown), None);
    }

    #[test]
    fn strict_runs_the_phases_one_after_another() {
        let graph = kubernaut();
        let strict = simulate_strict(&graph, &DURATIONS, 4);
        // build 12.5, cluster 2.6, loads 1.1, prepare 0.2 then postgres 1.2 → migrations 0.9
        // → datastorage 0.9 → service 0.8.
        let expected = 12.5 + 2.6 + 1.1 + 0.2 + 1.2 + 0.9 + 0.9 + 0.8;
        assert!((makespan(&strict) - expected).abs() < 1e-9, "{}", makespan(&strict));
        // With one slot the builds queue.
        let serial = simulate_strict(&graph, &DURATIONS, 1);
        assert!((serial[2].1 - (12.5 + 8.0 + 3.0)).abs() < 1e-9, "{serial:?}");
    }

    #[test]
    fn pipelined_overlaps_and_starts_the_cluster_at_its_gate() {
        let graph = kubernaut();
        let first = simulate_pipelined(&graph, &DURATIONS, 4, ClusterGate::FirstBuild);
        assert!(
            (first[3].0 - 3.0).abs() < 1e-9,
            "the cluster starts when `migrate` is built: {first:?}"
        );
        assert!(
            (first[8].0 - (3.0 + 2.6 + 0.2)).abs() < 1e-9,
            "postgres needs only the cluster"
        );
        assert!(
            (makespan(&first) - (12.5 + 1.1 + 0.8)).abs() < 1e-9,
            "{}",
            makespan(&first)
        );
        let planned = simulate_pipelined(&graph, &DURATIONS, 4, ClusterGate::At(9.0));
        assert!((planned[3].0 - 9.0).abs() < 1e-9);
        // A gate after the builds: it starts when they are all done instead.
        let late = simulate_pipelined(&graph, &DURATIONS, 4, ClusterGate::At(100.0));
        assert!((late[3].0 - 12.5).abs() < 1e-9, "{late:?}");
    }

    #[test]
    fn builds_get_one_slot_fewer_while_the_cluster_boots() {
        let node = |phase, name: &str, needs: Vec<usize>| Node {
            phase,
            name: name.to_owned(),
            needs,
        };
        let graph = Graph {
            nodes: vec![
                node(PhaseName::Build, "a", vec![]),
                node(PhaseName::Build, "b", vec![]),
                node(PhaseName::Build, "c", vec![]),
                node(PhaseName::Cluster, "create", vec![]),
            ],
        };
        // Two slots: `a` and `b` start; `a` ends at 1 and the cluster starts (first build);
        // while it boots (1..4) only one build may run, so `c` waits for `b` (ends at 5).
        let timeline = simulate_pipelined(&graph, &[1.0, 5.0, 1.0, 3.0], 2, ClusterGate::FirstBuild);
        assert_eq!(timeline[3], (1.0, 4.0));
        assert_eq!(timeline[2], (4.0, 5.0), "{timeline:?}");
        assert_eq!(build_slots_while_booting(1), 1, "never zero");
    }

    #[test]
    fn groups_of_public_images_need_no_load() {
        let graph = kubernaut();
        assert!(graph.needs_no_built_image(8), "postgres");
        assert!(!graph.needs_no_built_image(10), "migrations runs a built image");
        assert!(!graph.needs_no_built_image(7), "namespaces-crds is no group");
    }
}
