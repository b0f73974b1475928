//! Which images a pod can run: the kubelet starts a container only when its image is in the
//! node's containerd store (loaded into the cluster, or shipped with the node image) or, unless
//! the pull policy is `Never`, when a pull finds it. Names are compared as containerd stores them
//! (`x:t` is `docker.io/library/x:t`, `org/x` is `docker.io/org/x:latest`, `localhost/x:t` stays).

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

/// What a Kind node image (kindest/node v1.33) has in containerd before anything is loaded.
pub(crate) const KIND_NODE_IMAGES: &[&str] = &[
    "docker.io/kindest/kindnetd:v20250512-df8de77b",
    "docker.io/kindest/local-path-helper:v20241212-8ac705d0",
    "docker.io/kindest/local-path-provisioner:v20250214-acbabc1a",
    "registry.k8s.io/coredns/coredns:v1.12.0",
    "registry.k8s.io/etcd:3.5.21-0",
    "registry.k8s.io/kube-apiserver:v1.33.1",
    "registry.k8s.io/kube-controller-manager:v1.33.1",
    "registry.k8s.io/kube-proxy:v1.33.1",
    "registry.k8s.io/kube-scheduler:v1.33.1",
    "registry.k8s.io/pause:3.10",
];

/// A reference as containerd names it (docker's normalisation: default registry `docker.io`,
/// `library/` for official images, tag `latest` when there is neither tag nor digest).
pub(crate) fn normalise(reference: &str) -> String {
    let (first, rest) = reference.split_once('/').unwrap_or(("", reference));
    let is_registry = !first.is_empty() && (first.contains('.') || first.contains(':') || first == "localhost");
    let mut name = match (first.is_empty(), is_registry) {
        (true, _) => format!("docker.io/library/{rest}"),
        (false, true) => reference.to_owned(),
        (false, false) => format!("docker.io/{reference}"),
    };
    let last = name.rsplit('/').next().unwrap_or_default();
    if !last.contains(':') && !name.contains('@') {
        name.push_str(":latest");
    }
    name
}

/// The pull policy a container gets: its own, else `Always` for `:latest` (or no tag), else
/// `IfNotPresent` (the API server's defaulting).
pub(crate) fn pull_policy(container: &Value) -> String {
    if let Some(policy) = container["imagePullPolicy"].as_str() {
        return policy.to_owned();
    }
    let image = container["image"].as_str().unwrap_or_default();
    if normalise(image).ends_with(":latest") {
        "Always".to_owned()
    } else {
        "IfNotPresent".to_owned()
    }
}

/// Every image a fake `kind` loaded into any of its clusters (`<state>/clusters/<name>`, one
/// reference per line after the first, which says how the cluster was made).
pub(crate) fn loaded_by_kind(state: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(state.join("clusters"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        found.extend(
            text.lines()
                .map(str::trim)
                .filter(|line| !line.is_empty() && *line != "half-made")
                .map(str::to_owned),
        );
    }
    found
}

/// Why a container cannot start for its image, as the kubelet reports it in `waiting`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ImageProblem {
    pub(crate) container: String,
    pub(crate) image: String,
    /// `ErrImageNeverPull`, `ErrImagePull` or `ImagePullBackOff`.
    pub(crate) reason: &'static str,
    pub(crate) message: String,
}

/// What the node has and what can be pulled.
#[derive(Clone)]
pub(crate) struct Images {
    pub(crate) present: BTreeSet<String>,
    pub(crate) pullable: BTreeSet<String>,
}

impl Images {
    /// The first container (init containers first) whose image cannot be had; `backoff`: the
    /// kubelet has already retried the pull (after the first failure it reports `ImagePullBackOff`).
    pub(crate) fn problem(&self, spec: &Value, backoff: bool) -> Option<ImageProblem> {
        for list in ["initContainers", "containers"] {
            for container in spec[list].as_array().into_iter().flatten() {
                let image = container["image"].as_str().unwrap_or_default();
                let name = normalise(image);
                let policy = pull_policy(container);
                let pullable = self.pullable.contains(&name);
                let present = self.present.contains(&name);
                let pull_error = || pull_failure(&name);
                let (reason, message) = match policy.as_str() {
                    "Never" if !present => (
                        "ErrImageNeverPull",
                        format!("Container image \"{image}\" is not present with pull policy of Never"),
                    ),
                    "Never" => continue,
                    "Always" if pullable => continue,
                    _ if present && policy != "Always" => continue,
                    _ if pullable => continue,
                    _ if backoff => (
                        "ImagePullBackOff",
                        format!("Back-off pulling image \"{image}\": ErrImagePull: {}", pull_error()),
                    ),
                    _ => ("ErrImagePull", pull_error()),
                };
                return Some(ImageProblem {
                    container: container["name"].as_str().unwrap_or("main").to_owned(),
                    image: image.to_owned(),
                    reason,
                    message,
                });
            }
        }
        None
    }
}

/// containerd's error for a reference no registry serves.
fn pull_failure(name: &str) -> String {
    if let Some(rest) = name.strip_prefix("localhost/") {
        let (path, tag) = rest.rsplit_once(':').unwrap_or((rest, "latest"));
        return format!(
            "failed to pull and unpack image \"{name}\": failed to resolve reference \"{name}\": failed to do request: Head \"https://localhost/v2/{path}/manifests/{tag}\": dial tcp [::1]:443: connect: connection refused"
        );
    }
    format!(
        "failed to pull and unpack image \"{name}\": failed to resolve reference \"{name}\": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed"
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn references_normalise_like_containerd() {
        assert_eq!(normalise("postgres:16"), "docker.io/library/postgres:16");
        assert_eq!(normalise("team/api:1"), "docker.io/team/api:1");
        assert_eq!(normalise("team/api"), "docker.io/team/api:latest");
        assert_eq!(normalise("localhost/team/api:1"), "localhost/team/api:1");
        assert_eq!(normalise("localhost:5000/api:1"), "localhost:5000/api:1");
        assert_eq!(normalise("quay.io/x/y@sha256:ab"), "quay.io/x/y@sha256:ab");
    }

    #[test]
    fn pull_policies_default_as_the_api_server_does() {
        assert_eq!(pull_policy(&json!({"image": "x"})), "Always");
        assert_eq!(pull_policy(&json!({"image": "x:latest"})), "Always");
        assert_eq!(pull_policy(&json!({"image": "x:1"})), "IfNotPresent");
        assert_eq!(
            pull_policy(&json!({"image": "x:1", "imagePullPolicy": "Never"})),
            "Never"
        );
    }

    #[test]
    fn a_container_runs_only_what_the_node_has_or_can_pull() {
        let images = Images {
            present: [
                "localhost/team/api:1".to_owned(),
                "docker.io/library/cached:1".to_owned(),
            ]
            .into(),
            pullable: ["docker.io/library/postgres:16".to_owned()].into(),
        };
        let spec = |image: &str, policy: &str| json!({"containers": [{"name": "c", "image": image, "imagePullPolicy": policy}]});
        assert_eq!(images.problem(&spec("localhost/team/api:1", "Never"), false), None);
        assert_eq!(images.problem(&spec("postgres:16", "IfNotPresent"), false), None);
        assert_eq!(images.problem(&spec("cached:1", "IfNotPresent"), false), None);
        let never = images.problem(&spec("team/api:1", "Never"), false).expect("not loaded");
        assert_eq!(never.reason, "ErrImageNeverPull");
        assert_eq!(
            never.message,
            "Container image \"team/api:1\" is not present with pull policy of Never"
        );
        assert_eq!(
            images
                .problem(&spec("team/api:1", "IfNotPresent"), false)
                .map(|problem| problem.reason),
            Some("ErrImagePull")
        );
        assert_eq!(
            images
                .problem(&spec("cached:1", "Always"), true)
                .map(|problem| problem.reason),
            Some("ImagePullBackOff"),
            "Always pulls even what the node has"
        );
    }
}
