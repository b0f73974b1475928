//! Infrastructure or application? One table of known output patterns, each with a class, a
//! one-line hint, and whether `kind create cluster` may be retried on it.

use crate::model::FailureClass;

/// Where the output came from: the same text means different things in different phases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Build,
    KindCreate,
    Load,
    /// `services up`: pulling, starting and probing the integration tier's containers.
    Services,
}

/// A known pattern.
#[derive(Debug)]
pub(crate) struct Pattern {
    /// Every needle must occur (case-insensitive).
    pub(crate) needles: &'static [&'static str],
    /// Phases the pattern applies to; empty: all.
    pub(crate) sources: &'static [Source],
    pub(crate) class: FailureClass,
    /// A known transient `kind create` failure: delete the half-made cluster and retry once.
    pub(crate) transient: bool,
    pub(crate) hint: &'static str,
}

use FailureClass::{Application, Infrastructure};

/// Checked in order; the first match wins.
pub(crate) const PATTERNS: &[Pattern] = &[
    Pattern {
        needles: &["proxy already running"],
        sources: &[],
        class: Infrastructure,
        transient: true,
        hint: "a rootless port proxy (`rootlessport`) of an earlier container still holds the port: remove the stale containers (`hybrid-e2e services down --all`, `podman rm -f NAME`) or kill the leftover `rootlessport` process",
    },
    Pattern {
        needles: &["error setting rlimit"],
        sources: &[],
        class: Infrastructure,
        transient: false,
        hint: "the engine cannot raise the container's resource limits above this host's hard limits (rootless Podman, a sandbox): set `ulimits:` for the service (e.g. `nofile: 1024`, `nproc: 1024`) or raise the host's limits",
    },
    Pattern {
        needles: &["machine", "already running"],
        sources: &[],
        class: Infrastructure,
        transient: false,
        hint: "the Podman machine is in a stale state after a stop: `podman machine stop && podman machine start` (or `podman machine rm -f` and `podman machine init`)",
    },
    Pattern {
        needles: &["cannot connect to podman"],
        sources: &[],
        class: Infrastructure,
        transient: false,
        hint: "Podman's service does not answer: `podman machine start` (macOS/Windows) or `systemctl --user start podman.socket`; `podman info` must answer",
    },
    Pattern {
        needles: &["port is already allocated"],
        sources: &[Source::Services],
        class: Infrastructure,
        transient: false,
        hint: "a host port of a service is taken (by another container or process): free it, or publish the container port alone (`ports: [\"5432\"]`) for a free host port",
    },
    Pattern {
        needles: &["address already in use"],
        sources: &[Source::Services],
        class: Infrastructure,
        transient: false,
        hint: "a host port of a service is taken (by another container or process): free it, or publish the container port alone (`ports: [\"5432\"]`) for a free host port",
    },
    Pattern {
        needles: &["no space left on device"],
        sources: &[],
        class: Infrastructure,
        transient: false,
        hint: "the disk is full: prune images (`docker system prune -af` / `podman system prune -af`) or use a bigger runner",
    },
    Pattern {
        needles: &["cannot connect to the docker daemon"],
        sources: &[],
        class: Infrastructure,
        transient: false,
        hint: "the Docker daemon is not running or not reachable (DOCKER_HOST?)",
    },
    Pattern {
        needles: &["could not find a log line that matches"],
        sources: &[Source::KindCreate],
        class: Infrastructure,
        transient: true,
        hint: "the Kind node never finished booting systemd within 30s (slow or overloaded runner, inotify limits, rootless Podman logging)",
    },
    Pattern {
        needles: &["failed to read logs", "no such container"],
        sources: &[Source::KindCreate],
        class: Infrastructure,
        transient: true,
        hint: "the node container vanished while Kind was booting it (engine race, a concurrent delete of a same-named cluster); use a unique cluster name per job",
    },
    Pattern {
        needles: &["port is already allocated"],
        sources: &[],
        class: Infrastructure,
        transient: true,
        hint: "a host port of the Kind config is taken (or Kind's random API-server port raced); avoid fixed hostPorts",
    },
    Pattern {
        needles: &["address already in use"],
        sources: &[],
        class: Infrastructure,
        transient: true,
        hint: "a host port of the Kind config is taken; avoid fixed hostPorts",
    },
    Pattern {
        needles: &["crun: unknown version specified"],
        sources: &[],
        class: Infrastructure,
        transient: true,
        hint: "a known crun/Podman runner bug; pin crun or retry",
    },
    Pattern {
        needles: &["oci runtime error"],
        sources: &[],
        class: Infrastructure,
        transient: true,
        hint: "the container runtime failed to start a container; usually transient on shared runners",
    },
    Pattern {
        needles: &["internal libpod error"],
        sources: &[],
        class: Infrastructure,
        transient: true,
        hint: "Podman's state is inconsistent; `podman system migrate` or a fresh runner fixes it",
    },
    Pattern {
        needles: &["node(s) already exist for a cluster with the name"],
        sources: &[Source::KindCreate],
        class: Infrastructure,
        transient: false,
        hint: "a cluster with this name already exists: use a unique name per job, or `hybrid-e2e cleanup`",
    },
    Pattern {
        needles: &["too many open files"],
        sources: &[],
        class: Infrastructure,
        transient: false,
        hint: "raise inotify limits: sysctl fs.inotify.max_user_watches=524288 fs.inotify.max_user_instances=512",
    },
    Pattern {
        needles: &["i/o timeout"],
        sources: &[],
        class: Infrastructure,
        transient: false,
        hint: "a network operation timed out (registry or mirror unreachable)",
    },
    Pattern {
        needles: &["tls handshake timeout"],
        sources: &[],
        class: Infrastructure,
        transient: false,
        hint: "a network operation timed out (registry or mirror unreachable)",
    },
    Pattern {
        needles: &["temporary failure in name resolution"],
        sources: &[],
        class: Infrastructure,
        transient: false,
        hint: "DNS does not resolve on this runner",
    },
    Pattern {
        needles: &["not present locally"],
        sources: &[Source::Load],
        class: Application,
        transient: false,
        hint: "the image is not in the engine Kind loads from under this reference: Podman images need `podman save` + `kind load image-archive`, and Podman tags are `localhost/...`",
    },
    Pattern {
        needles: &["images import", "content digest", "not found"],
        sources: &[Source::Load],
        class: Infrastructure,
        transient: false,
        hint: "the node's containerd could not import the image stream (a known kind/containerd problem with images from Docker's containerd image store); load an archive instead (`docker save` + `kind load image-archive`) or use a newer kind",
    },
    Pattern {
        needles: &["no such container"],
        sources: &[Source::Load],
        class: Infrastructure,
        transient: false,
        hint: "the Kind node container is gone (it crashed, or something deleted it); the kind logs in diagnostics/ say why",
    },
    Pattern {
        needles: &["image not known"],
        sources: &[],
        class: Application,
        transient: false,
        hint: "no image with this reference exists in the engine; the build tag and the reference must be the same fully-qualified name",
    },
    Pattern {
        needles: &["unable to prepare context"],
        sources: &[Source::Build],
        class: Application,
        transient: false,
        hint: "the build context directory is missing or unreadable",
    },
    Pattern {
        needles: &["pull access denied"],
        sources: &[Source::Build],
        class: Application,
        transient: false,
        hint: "a base image name is wrong or needs registry credentials",
    },
    Pattern {
        needles: &["manifest unknown"],
        sources: &[Source::Build],
        class: Application,
        transient: false,
        hint: "a base image tag does not exist",
    },
    Pattern {
        needles: &["returned a non-zero code"],
        sources: &[Source::Build],
        class: Application,
        transient: false,
        hint: "a Dockerfile step failed; its output shows which and why",
    },
    Pattern {
        // Podman/Buildah: `Error: building at STEP "RUN …": exit status 7`.
        needles: &["building at step"],
        sources: &[Source::Build],
        class: Application,
        transient: false,
        hint: "a Dockerfile step failed; its output shows which and why",
    },
    Pattern {
        needles: &["executor failed running"],
        sources: &[Source::Build],
        class: Application,
        transient: false,
        hint: "a Dockerfile step failed; its output shows which and why",
    },
];

/// The class and hint for `output` from `source`, with the phase's default when nothing matches:
/// builds fail for application reasons, Kind and loads for infrastructure ones.
pub(crate) fn classify(source: Source, output: &str) -> (FailureClass, Option<&'static Pattern>) {
    let lower = output.to_ascii_lowercase();
    let found = PATTERNS.iter().find(|pattern| {
        (pattern.sources.is_empty() || pattern.sources.contains(&source))
            && pattern.needles.iter().all(|needle| lower.contains(needle))
    });
    match found {
        Some(pattern) => (pattern.class, Some(pattern)),
        None => (
            if source == Source::Build {
                Application
            } else {
                Infrastructure
            },
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Real error texts from the reference user's reports and Kind's source.
    #[test]
    fn real_error_texts_are_classified() {
        let cases: &[(Source, &str, FailureClass, bool)] = &[
            (
                Source::KindCreate,
                "ERROR: failed to create cluster: failed to read logs: command \"podman logs -f aianalysis-e2e-control-plane\" failed with error: exit status 125\nCommand Output: Error: failed to obtain logs for Container 'aianalysis-e2e-control-plane': no container with ID e0b4 found in database: no such container",
                Infrastructure,
                true,
            ),
            (
                Source::KindCreate,
                "ERROR: failed to create cluster: could not find a log line that matches \"Reached target .*Multi-User System.*|detected cgroup v1\"",
                Infrastructure,
                true,
            ),
            (
                Source::KindCreate,
                "docker: Error response from daemon: driver failed programming external connectivity on endpoint x: Bind for 0.0.0.0:8080 failed: port is already allocated.",
                Infrastructure,
                true,
            ),
            (
                Source::Build,
                "subprocess exited with status 7\nError: building at STEP \"RUN echo hi && exit 7\": exit status 7",
                Application,
                false,
            ),
            (
                Source::Build,
                "The command '/bin/sh -c echo hi && exit 7' returned a non-zero code: 7",
                Application,
                false,
            ),
            (
                Source::KindCreate,
                "Error: crun: unknown version specified",
                Infrastructure,
                true,
            ),
            (
                Source::KindCreate,
                "ERROR: failed to create cluster: node(s) already exist for a cluster with the name \"x\"",
                Infrastructure,
                false,
            ),
            (
                Source::Build,
                "Error: write /var/tmp/buildah2243797505/layer: no space left on device",
                Infrastructure,
                false,
            ),
            (
                Source::Build,
                "Error: unable to start container \"99fb\": starting some containers: internal libpod error",
                Infrastructure,
                true,
            ),
            (
                Source::Build,
                "The command '/bin/sh -c make' returned a non-zero code: 2",
                Application,
                false,
            ),
            (
                Source::Build,
                "Error: error building at STEP \"RUN make\": exit status 2",
                Application,
                false,
            ),
            (
                Source::Build,
                "unable to prepare context: path \"nope\" not found",
                Application,
                false,
            ),
            (
                Source::Load,
                "ERROR: image: \"localhost/remediationorchestrator-controller:e2e-coverage\" not present locally",
                Application,
                false,
            ),
            (
                Source::Load,
                "Error: localhost/kubernaut-datastorage:e2e-test-datastorage: image not known",
                Application,
                false,
            ),
            (
                Source::KindCreate,
                "something nobody has seen before",
                Infrastructure,
                false,
            ),
            (Source::Build, "something nobody has seen before", Application, false),
            (
                Source::Services,
                "Error: rootlessport listen tcp 0.0.0.0:5432: bind: address already in use: proxy already running",
                Infrastructure,
                true,
            ),
            (
                Source::Services,
                "Error: unable to start container \"ds\": internal libpod error",
                Infrastructure,
                true,
            ),
            (
                Source::Services,
                "Error: mkdir /var/lib/containers/storage/overlay/l/X: no space left on device",
                Infrastructure,
                false,
            ),
            (
                Source::Services,
                "Error: unable to start \"podman-machine-default\": machine \"podman-machine-default\": VM already running or starting",
                Infrastructure,
                false,
            ),
            (
                Source::Services,
                "Error: runc: runc create failed: unable to start container process: error during container init: error setting rlimits for ready process: error setting rlimit type 7: operation not permitted: OCI permission denied",
                Infrastructure,
                false,
            ),
            (
                Source::Services,
                "docker: Error response from daemon: driver failed programming external connectivity on endpoint x: Bind for 127.0.0.1:5432 failed: port is already allocated.",
                Infrastructure,
                false,
            ),
        ];
        for (source, output, class, transient) in cases {
            let (found, pattern) = classify(*source, output);
            assert_eq!(found, *class, "{output}");
            assert_eq!(pattern.is_some_and(|pattern| pattern.transient), *transient, "{output}");
            // A known text gets its hint, not the phase's default.
            assert_eq!(
                pattern.is_some(),
                !output.contains("nobody has seen"),
                "no pattern (so no hint) for {output}"
            );
        }
    }

    #[test]
    fn every_pattern_has_lowercase_needles_and_a_hint() {
        for pattern in PATTERNS {
            assert!(!pattern.hint.is_empty());
            for needle in pattern.needles {
                assert_eq!(*needle, needle.to_ascii_lowercase(), "needles are matched lowercase");
            }
        }
    }
}
