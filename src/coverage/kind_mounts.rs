//! The fourth place of DD-TEST-007's "path consistency across 4 places": the Kind config's
//! `extraMounts`. Every node that may run an instrumented pod should mount a host directory at
//! `coverage.dir`, so the data also lands on the host (and survives the node). Without it the
//! data lives only in the node container: the copy after the tests still finds it, but nothing
//! outlives a node that is gone first.

use serde_json::Value;

/// What a Kind config mounts at `coverage.dir`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct MountCheck {
    /// The nodes (index in `nodes:`, and role) without a mount at `dir`. A config without
    /// `nodes:` is kind's one control-plane node: index 0.
    pub(crate) missing: Vec<(usize, String)>,
    /// The host directories mounted at `dir`, as written.
    pub(crate) host_paths: Vec<String>,
    /// Mounts that look meant for coverage but sit elsewhere (`/tmp/coverdata` for `/coverdata`).
    pub(crate) elsewhere: Vec<String>,
    /// Whether the config declares `nodes:` (the fix differs).
    pub(crate) has_nodes: bool,
}

impl MountCheck {
    pub(crate) fn complete(&self) -> bool {
        self.missing.is_empty()
    }
}

/// Check `config` (a parsed Kind config) for a mount at `dir` on every node.
pub(crate) fn check(config: &Value, dir: &str) -> MountCheck {
    let mut result = MountCheck::default();
    let nodes = config.get("nodes").and_then(Value::as_array);
    result.has_nodes = nodes.is_some_and(|nodes| !nodes.is_empty());
    let Some(nodes) = nodes.filter(|nodes| !nodes.is_empty()) else {
        result.missing.push((0, "control-plane".to_owned()));
        return result;
    };
    let last = dir.rsplit('/').next().unwrap_or(dir);
    for (index, node) in nodes.iter().enumerate() {
        let mut found = false;
        for mount in node.get("extraMounts").and_then(Value::as_array).into_iter().flatten() {
            let container = mount
                .get("containerPath")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim_end_matches('/');
            if container == dir {
                found = true;
                if let Some(host) = mount.get("hostPath").and_then(Value::as_str)
                    && !result.host_paths.iter().any(|known| known == host)
                {
                    result.host_paths.push(host.to_owned());
                }
            } else if container
                .rsplit('/')
                .next()
                .is_some_and(|segment| segment == last || segment.starts_with("cov"))
                && !result.elsewhere.iter().any(|known| known == container)
            {
                result.elsewhere.push(container.to_owned());
            }
        }
        if !found {
            let role = node.get("role").and_then(Value::as_str).unwrap_or("control-plane");
            result.missing.push((index, role.to_owned()));
        }
    }
    result
}

/// The Kind config lines that complete `check` (to paste under each node named).
pub(crate) fn fix(check: &MountCheck, dir: &str) -> String {
    let mount = format!(
        "    extraMounts:\n      - hostPath: ./coverdata   # any host directory; relative to where kind runs\n        containerPath: {dir}\n"
    );
    if !check.has_nodes {
        return format!("nodes:\n  - role: control-plane\n{mount}");
    }
    let names: Vec<String> = check
        .missing
        .iter()
        .map(|(index, role)| format!("nodes[{index}] ({role})"))
        .collect();
    format!("under {}:\n{mount}", names.join(", "))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_node_needs_the_mount_at_the_coverage_dir() {
        let config = json!({"kind": "Cluster", "nodes": [
            {"role": "control-plane", "extraMounts": [{"hostPath": "./coverdata", "containerPath": "/coverdata"}]},
            {"role": "worker", "extraMounts": [{"hostPath": "/tmp/c", "containerPath": "/tmp/coverdata"}]},
            {"role": "worker", "extraMounts": [{"hostPath": "/r", "containerPath": "/var/recovery"}]},
        ]});
        let found = check(&config, "/coverdata");
        assert_eq!(found.missing, vec![(1, "worker".to_owned()), (2, "worker".to_owned())]);
        assert_eq!(found.host_paths, vec!["./coverdata"]);
        assert_eq!(found.elsewhere, vec!["/tmp/coverdata"]);
        assert!(!found.complete());
        assert_eq!(
            fix(&found, "/coverdata"),
            "under nodes[1] (worker), nodes[2] (worker):\n    extraMounts:\n      - hostPath: ./coverdata   # any host directory; relative to where kind runs\n        containerPath: /coverdata\n"
        );
    }

    #[test]
    fn a_config_without_nodes_is_one_control_plane() {
        let found = check(
            &json!({"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4"}),
            "/coverdata",
        );
        assert_eq!(found.missing, vec![(0, "control-plane".to_owned())]);
        assert!(fix(&found, "/coverdata").starts_with("nodes:\n  - role: control-plane\n    extraMounts:"));
        let complete = check(
            &json!({"nodes": [{"role": "control-plane", "extraMounts": [{"hostPath": "/h", "containerPath": "/coverdata/"}]}]}),
            "/coverdata",
        );
        assert!(complete.complete());
        assert_eq!(complete.host_paths, vec!["/h"]);
    }
}
