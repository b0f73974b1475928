//! What the deploy phase changes in a manifest for coverage, and what the coverage phase finds
//! again in the same manifests: every container whose image is a `coverage: true` image gets
//! `GOCOVERDIR=<dir>` and a volume mounted at `<dir>` that is the node's `<dir>/<run id>/<image>`
//! (`hostPath`, `DirectoryOrCreate`). Nothing else in the manifest changes.

use serde_json::{Value, json};

use super::CoverageSpec;

/// Volume names of ours start with this (DNS labels: at most 63 characters).
const VOLUME_PREFIX: &str = "hybrid-e2e-coverage-";

/// How a workload's processes are stopped so they can exit normally: Go writes its counters
/// only when the program returns from `main` (or calls `os.Exit`), so the kubelet's SIGTERM
/// must be handled by the program; one killed by a signal writes none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Deployments, StatefulSets, ReplicaSets: scaled to zero.
    ScaleToZero,
    /// DaemonSets: given a node selector no node matches, so the DaemonSet controller deletes
    /// their pods gracefully (the usual way to pause a DaemonSet); the selector is removed after.
    Unschedule,
    /// Bare Pods: deleted gracefully, and re-created from what the cluster had when it is kept.
    DeleteAndRecreate,
    /// Jobs and CronJobs: their processes exit by themselves (and write their data then).
    ExitsByItself,
    /// Anything else: its data is copied as it is (a running process has written its
    /// metadata, not its counters).
    Running,
}

/// How `kind` workloads stop.
pub(crate) fn stop_for(kind: &str) -> Stop {
    match kind {
        "Deployment" | "StatefulSet" | "ReplicaSet" => Stop::ScaleToZero,
        "DaemonSet" => Stop::Unschedule,
        "Pod" => Stop::DeleteAndRecreate,
        "Job" | "CronJob" => Stop::ExitsByItself,
        _ => Stop::Running,
    }
}

fn pod_spec_pointer(kind: &str) -> Option<&'static str> {
    match kind {
        "Pod" => Some("/spec"),
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => Some("/spec/template/spec"),
        "CronJob" => Some("/spec/jobTemplate/spec/template/spec"),
        _ => None,
    }
}

/// The coverage images a manifest's containers run (by name, in the config's order).
pub(crate) fn images_in(manifest: &Value, spec: &CoverageSpec) -> Vec<String> {
    let kind = manifest.get("kind").and_then(Value::as_str).unwrap_or_default();
    let Some(pod) = pod_spec_pointer(kind).and_then(|pointer| manifest.pointer(pointer)) else {
        return Vec::new();
    };
    let running: Vec<&str> = CONTAINER_LISTS
        .iter()
        .filter_map(|list| pod.get(*list).and_then(Value::as_array))
        .flatten()
        .filter_map(|container| container.get("image").and_then(Value::as_str))
        .collect();
    spec.images
        .iter()
        .filter(|image| running.contains(&image.reference.as_str()))
        .map(|image| image.name.clone())
        .collect()
}

/// The pod spec's lists of containers that run images (init containers exit normally: their
/// counters are written too).
const CONTAINER_LISTS: [&str; 2] = ["initContainers", "containers"];

/// The volume of `image`'s data: a DNS label (at most 63 characters; a long name is cut and
/// made unique again with a hash of the whole).
pub(crate) fn volume_name(image: &str) -> String {
    use sha2::{Digest, Sha256};
    let name = format!("{VOLUME_PREFIX}{image}");
    if name.len() <= 63 {
        return name;
    }
    let digest = Sha256::digest(image.as_bytes());
    let hash: String = digest.iter().take(4).map(|byte| format!("{byte:02x}")).collect();
    format!("{}-{hash}", name[..54].trim_end_matches('-'))
}

/// Instrument `manifest` in place; returns the coverage images it runs (empty: unchanged).
/// A `GOCOVERDIR` or a mount at `dir` the manifest already has is replaced: the data must land
/// where the coverage phase copies it from.
pub(crate) fn instrument(manifest: &mut Value, spec: &CoverageSpec) -> Vec<String> {
    let images = images_in(manifest, spec);
    if images.is_empty() {
        return images;
    }
    let kind = manifest
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let Some(pod) = pod_spec_pointer(&kind).and_then(|pointer| manifest.pointer_mut(pointer)) else {
        return Vec::new();
    };
    for image in spec.images.iter().filter(|image| images.contains(&image.name)) {
        let volume = volume_name(&image.name);
        for field in CONTAINER_LISTS {
            let Some(containers) = pod.get_mut(field).and_then(Value::as_array_mut) else {
                continue;
            };
            for container in containers
                .iter_mut()
                .filter(|container| container.get("image").and_then(Value::as_str) == Some(image.reference.as_str()))
            {
                set_env(container, "GOCOVERDIR", &spec.dir);
                let mounts = list(container, "volumeMounts");
                mounts.retain(|mount| mount.get("mountPath").and_then(Value::as_str) != Some(spec.dir.as_str()));
                mounts.push(json!({"name": volume, "mountPath": spec.dir}));
            }
        }
        let volumes = list(pod, "volumes");
        volumes.retain(|existing| existing.get("name").and_then(Value::as_str) != Some(volume.as_str()));
        volumes.push(json!({
            "name": volume,
            "hostPath": {"path": spec.node_dir(&image.name), "type": "DirectoryOrCreate"},
        }));
    }
    images
}

/// `object[key]` as a list, made one if it is missing or null.
fn list<'a>(object: &'a mut Value, key: &str) -> &'a mut Vec<Value> {
    if !object.get(key).is_some_and(Value::is_array) {
        object[key] = json!([]);
    }
    object[key].as_array_mut().expect("made a list above")
}

fn set_env(container: &mut Value, name: &str, value: &str) {
    let env = list(container, "env");
    env.retain(|variable| variable.get("name").and_then(Value::as_str) != Some(name));
    env.push(json!({"name": name, "value": value}));
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::coverage::CoverageImage;

    fn spec() -> CoverageSpec {
        CoverageSpec {
            dir: "/coverdata".to_owned(),
            run_id: "20261130-180000-0a1b2c3d".to_owned(),
            stop_timeout: Duration::from_secs(90),
            target: None,
            images: vec![
                CoverageImage {
                    name: "gateway".to_owned(),
                    reference: "localhost/example/gateway:e2e".to_owned(),
                },
                CoverageImage {
                    name: "sidecar".to_owned(),
                    reference: "localhost/example/sidecar:e2e".to_owned(),
                },
            ],
        }
    }

    fn deployment(containers: Value) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "gateway", "namespace": "e2e"},
            "spec": {"selector": {"matchLabels": {"app": "gateway"}},
                "template": {"metadata": {"labels": {"app": "gateway"}}, "spec": {"containers": containers}}},
        })
    }

    #[test]
    fn a_coverage_container_gets_the_directory_in_all_places_and_nothing_else_changes() {
        let mut manifest = deployment(json!([
            {"name": "gateway", "image": "localhost/example/gateway:e2e", "env": [{"name": "LOG", "value": "debug"}]},
            {"name": "proxy", "image": "docker.io/library/nginx:1.27"},
        ]));
        assert_eq!(instrument(&mut manifest, &spec()), vec!["gateway"]);
        let pod = &manifest["spec"]["template"]["spec"];
        assert_eq!(
            pod["containers"][0]["env"],
            json!([{"name": "LOG", "value": "debug"}, {"name": "GOCOVERDIR", "value": "/coverdata"}])
        );
        assert_eq!(
            pod["containers"][0]["volumeMounts"],
            json!([{"name": "hybrid-e2e-coverage-gateway", "mountPath": "/coverdata"}])
        );
        assert_eq!(
            pod["volumes"],
            json!([{"name": "hybrid-e2e-coverage-gateway", "hostPath": {"path": "/coverdata/20261130-180000-0a1b2c3d/gateway", "type": "DirectoryOrCreate"}}])
        );
        assert_eq!(
            pod["containers"][1],
            json!({"name": "proxy", "image": "docker.io/library/nginx:1.27"})
        );
        // Instrumenting twice changes nothing more (a re-applied group).
        let once = manifest.clone();
        instrument(&mut manifest, &spec());
        assert_eq!(manifest, once);
    }

    #[test]
    fn a_hand_made_dd_test_007_mount_is_replaced_by_the_one_the_copy_reads() {
        let mut manifest = deployment(json!([
            {"name": "gateway", "image": "localhost/example/gateway:e2e",
             "env": [{"name": "GOCOVERDIR", "value": "/tmp/cov"}],
             "volumeMounts": [{"name": "coverdata", "mountPath": "/coverdata"}, {"name": "config", "mountPath": "/etc/app"}]},
        ]));
        manifest["spec"]["template"]["spec"]["volumes"] =
            json!([{"name": "coverdata", "hostPath": {"path": "/coverdata"}}]);
        instrument(&mut manifest, &spec());
        let container = &manifest["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["env"], json!([{"name": "GOCOVERDIR", "value": "/coverdata"}]));
        assert_eq!(
            container["volumeMounts"],
            json!([{"name": "config", "mountPath": "/etc/app"}, {"name": "hybrid-e2e-coverage-gateway", "mountPath": "/coverdata"}])
        );
    }

    #[test]
    fn pods_cronjobs_and_two_images_in_one_pod() {
        let mut pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [
                {"name": "a", "image": "localhost/example/gateway:e2e"},
                {"name": "b", "image": "localhost/example/sidecar:e2e"}]}});
        assert_eq!(instrument(&mut pod, &spec()), vec!["gateway", "sidecar"]);
        assert_eq!(pod["spec"]["volumes"].as_array().map(Vec::len), Some(2));
        assert_eq!(
            pod["spec"]["containers"][1]["volumeMounts"][0]["name"],
            "hybrid-e2e-coverage-sidecar"
        );
        let mut cron = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "Never", "containers": [{"name": "c", "image": "localhost/example/gateway:e2e"}]}}}}}});
        assert_eq!(instrument(&mut cron, &spec()), vec!["gateway"]);
        assert_eq!(
            cron.pointer("/spec/jobTemplate/spec/template/spec/volumes/0/hostPath/path"),
            Some(&json!("/coverdata/20261130-180000-0a1b2c3d/gateway"))
        );
        let mut service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {}});
        let before = service.clone();
        assert!(instrument(&mut service, &spec()).is_empty());
        assert_eq!(service, before);
        assert_eq!(stop_for("Deployment"), Stop::ScaleToZero);
        assert_eq!(stop_for("DaemonSet"), Stop::Unschedule);
        assert_eq!(stop_for("Pod"), Stop::DeleteAndRecreate);
        assert_eq!(stop_for("Service"), Stop::Running);
        assert_eq!(stop_for("Job"), Stop::ExitsByItself);
    }

    #[test]
    fn volume_names_stay_dns_labels_and_distinct() {
        let (first, second) = (format!("{}-api", "a".repeat(60)), format!("{}-web", "a".repeat(60)));
        let (first, second) = (volume_name(&first), volume_name(&second));
        for name in [&first, &second] {
            assert!(
                name.len() <= 63 && name.starts_with("hybrid-e2e-coverage-aaaa"),
                "{name}"
            );
        }
        assert_ne!(first, second, "cut names stay apart");
        assert_eq!(volume_name("gateway"), "hybrid-e2e-coverage-gateway");
    }

    #[test]
    fn init_containers_are_instrumented_too() {
        let mut job = json!({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "migrate"},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                "initContainers": [{"name": "init", "image": "localhost/example/gateway:e2e"}],
                "containers": [{"name": "main", "image": "docker.io/library/busybox:1.36"}]}}}});
        assert_eq!(instrument(&mut job, &spec()), vec!["gateway"]);
        let pod = &job["spec"]["template"]["spec"];
        assert_eq!(pod["initContainers"][0]["env"][0]["name"], "GOCOVERDIR");
        assert!(pod["containers"][0].get("env").is_none());
    }
}
