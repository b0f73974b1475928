//! Kind configs inside the container action: kind asks the *host's* Docker to bind-mount each
//! node's `extraMounts[].hostPath`, so a path of this container (a relative one, which kind
//! resolves against its working directory, or one under `/github/workspace`) must become the
//! runner's path first, or Docker silently mounts a fresh empty directory of the host. The
//! rewritten config is written next to the kubeconfigs (as JSON, which is YAML) and given to
//! kind; the user's file stays the one annotations point at.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::container::{Mount, normalize, to_host_path};

/// What the rewrite did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Rewrite {
    /// (as written, as given to Docker).
    pub(crate) translated: Vec<(String, String)>,
    /// Absolute paths under no mount of ours: passed on as host paths (e.g. `/dev`, `/lib/modules`).
    pub(crate) kept: Vec<String>,
}

/// Translate every node's `extraMounts[].hostPath` of the Kind config `document`: relative paths
/// against `working_dir` (this container's view), then to the host through `mounts`.
pub(crate) fn translate(document: &mut Value, working_dir: &Path, mounts: &[Mount]) -> Result<Rewrite, String> {
    let mut rewrite = Rewrite::default();
    let Some(nodes) = document.get_mut("nodes").and_then(Value::as_array_mut) else {
        return Ok(rewrite);
    };
    for (index, node) in nodes.iter_mut().enumerate() {
        let Some(extra) = node.get_mut("extraMounts").and_then(Value::as_array_mut) else {
            continue;
        };
        for mount in extra {
            let Some(written) = mount.get("hostPath").and_then(Value::as_str).map(str::to_owned) else {
                continue;
            };
            let path = Path::new(&written);
            let inside = if path.is_absolute() {
                normalize(path)
            } else {
                normalize(&working_dir.join(path))
            };
            match to_host_path(&inside, mounts) {
                Some(host) => {
                    let host = host.display().to_string();
                    if host != written {
                        rewrite.translated.push((written.clone(), host.clone()));
                    }
                    mount["hostPath"] = Value::String(host);
                }
                None if path.is_absolute() => rewrite.kept.push(written),
                None => {
                    return Err(format!(
                        "nodes[{index}].extraMounts: hostPath `{written}` is {} in this container, under none of the \
                         directories the runner mounts from the host (the workspace, /github/home): the node's Docker \
                         cannot see it. Put it in the workspace.",
                        inside.display()
                    ));
                }
            }
        }
    }
    Ok(rewrite)
}

/// Read `config` (YAML), translate it, write the result to `out` when anything changed; the
/// file kind should read (`None`: the original is fine).
pub(crate) fn rewrite_file(
    config: &Path,
    out: &Path,
    working_dir: &Path,
    mounts: &[Mount],
) -> Result<(Option<PathBuf>, Rewrite), String> {
    let text = crate::files::read_text_capped(config, crate::files::CONFIG_LIMIT)
        .map_err(|error| format!("cannot read the Kind config: {error}"))?;
    // Read as kind reads it (sigs.k8s.io/yaml, YAML 1.1), so the JSON copy means what the
    // original meant to kind: `readOnly: yes` stays true, `0644` stays 420.
    let mut document: Value = crate::k8s::yaml::first_document_value(&text)
        .map_err(|error| format!("the Kind config {} is not valid YAML: {error}", config.display()))?
        .unwrap_or(Value::Null);
    let rewrite = translate(&mut document, working_dir, mounts)
        .map_err(|error| format!("Kind config {}: {error}", config.display()))?;
    if rewrite.translated.is_empty() {
        return Ok((None, rewrite));
    }
    let mut json = serde_json::to_string_pretty(&document).map_err(|error| error.to_string())?;
    json.push('\n');
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).map_err(|error| format!("cannot create {}: {error}", parent.display()))?;
    }
    std::fs::write(out, json).map_err(|error| format!("cannot write {}: {error}", out.display()))?;
    Ok((Some(out.to_path_buf()), rewrite))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mounts() -> Vec<Mount> {
        vec![
            Mount {
                source: PathBuf::from("/home/runner/work/repo/repo"),
                destination: PathBuf::from("/github/workspace"),
            },
            Mount {
                source: PathBuf::from("/home/runner/work/_temp/_github_home"),
                destination: PathBuf::from("/github/home"),
            },
        ]
    }

    fn config(text: &str) -> Value {
        serde_saphyr::from_str(text).expect("YAML")
    }

    #[test]
    fn relative_and_workspace_paths_become_host_paths() {
        let mut document = config(
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n  - role: control-plane\n    extraMounts:\n      - hostPath: ./coverdata\n        containerPath: /coverdata\n      - hostPath: /github/workspace/fixtures\n        containerPath: /fixtures\n        readOnly: true\n      - hostPath: /dev/mapper\n        containerPath: /dev/mapper\n  - role: worker\n  - role: worker\n    extraMounts:\n      - {hostPath: ../shared, containerPath: /shared}\n",
        );
        let rewrite = translate(&mut document, Path::new("/github/workspace/e2e"), &mounts()).expect("rewrite");
        let nodes = document["nodes"].as_array().expect("nodes");
        let host = |node: usize, mount: usize| {
            nodes[node]["extraMounts"][mount]["hostPath"]
                .as_str()
                .expect("hostPath")
        };
        assert_eq!(host(0, 0), "/home/runner/work/repo/repo/e2e/coverdata");
        assert_eq!(host(0, 1), "/home/runner/work/repo/repo/fixtures");
        assert_eq!(host(0, 2), "/dev/mapper");
        assert_eq!(host(2, 0), "/home/runner/work/repo/repo/shared");
        assert_eq!(rewrite.translated.len(), 3);
        assert_eq!(rewrite.kept, vec!["/dev/mapper".to_owned()]);
        // Everything else is untouched.
        assert_eq!(nodes[0]["extraMounts"][1]["readOnly"], true);
        assert_eq!(nodes[0]["extraMounts"][0]["containerPath"], "/coverdata");
        assert_eq!(document["apiVersion"], "kind.x-k8s.io/v1alpha4");
    }

    #[test]
    fn relative_paths_outside_the_mounts_are_refused() {
        let mut document = config(
            "nodes:\n  - role: control-plane\n    extraMounts:\n      - {hostPath: ../../../tmp/x, containerPath: /x}\n",
        );
        let error = translate(&mut document, Path::new("/github/workspace/e2e"), &mounts()).expect_err("outside");
        assert!(
            error.contains("nodes[0].extraMounts") && error.contains("/tmp/x"),
            "{error}"
        );
    }

    #[test]
    fn configs_without_mounts_are_left_alone() {
        let mut document = config("kind: Cluster\nnodes:\n  - role: control-plane\n  - role: worker\n");
        let before = document.clone();
        assert_eq!(
            translate(&mut document, Path::new("/github/workspace"), &mounts()),
            Ok(Rewrite::default())
        );
        assert_eq!(document, before);
    }

    #[test]
    fn the_rewritten_copy_means_what_kind_read_in_the_original() {
        let directory = tempfile::tempdir().expect("tempdir");
        let original = directory.path().join("kind.yaml");
        std::fs::write(
            &original,
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n  - role: control-plane\n    extraMounts:\n      - hostPath: coverdata\n        containerPath: /coverdata\n        readOnly: yes\n    extraPortMappings:\n      - {containerPort: 30080, hostPort: 010000}\n",
        )
        .expect("write");
        let out = directory.path().join("out/kind-config.json");
        rewrite_file(&original, &out, Path::new("/github/workspace"), &mounts()).expect("rewritten");
        let back: Value = serde_json::from_str(&std::fs::read_to_string(&out).expect("read")).expect("JSON");
        assert_eq!(back["nodes"][0]["extraMounts"][0]["readOnly"], true);
        assert_eq!(back["nodes"][0]["extraPortMappings"][0]["hostPort"], 4096);
    }

    #[test]
    fn the_rewritten_file_keeps_patches_verbatim() {
        let directory = tempfile::tempdir().expect("tempdir");
        let original = directory.path().join("kind.yaml");
        std::fs::write(
            &original,
            "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nkubeadmConfigPatches:\n  - |\n    kind: ClusterConfiguration\n    apiServer:\n      extraArgs:\n        max-requests-inflight: \"800\"\nnodes:\n  - role: control-plane\n    extraMounts:\n      - hostPath: coverdata\n        containerPath: /coverdata\n",
        )
        .expect("write");
        let out = directory.path().join("out/kind-config.json");
        let (written, rewrite) =
            rewrite_file(&original, &out, Path::new("/github/workspace"), &mounts()).expect("rewritten");
        assert_eq!(written.as_deref(), Some(out.as_path()));
        assert_eq!(rewrite.translated.len(), 1);
        let back: Value = serde_saphyr::from_str(&std::fs::read_to_string(&out).expect("read")).expect("YAML");
        assert_eq!(
            back["kubeadmConfigPatches"][0],
            "kind: ClusterConfiguration\napiServer:\n  extraArgs:\n    max-requests-inflight: \"800\"\n"
        );
        assert_eq!(
            back["nodes"][0]["extraMounts"][0]["hostPath"],
            "/home/runner/work/repo/repo/coverdata"
        );
        // Nothing to translate: kind reads the original.
        std::fs::write(&original, "kind: Cluster\nnodes:\n  - role: control-plane\n").expect("write");
        let (written, _) = rewrite_file(&original, &out, Path::new("/github/workspace"), &mounts()).expect("ok");
        assert_eq!(written, None);
    }
}
