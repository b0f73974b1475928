//! The fake kind's sibling-container clusters, for the container action's tests
//! (`FAKE_KIND_NODE_IMAGE=<image>`; the image runs `tests/fake-kind-node`). Instead of keeping
//! clusters as files, `create cluster` does what kind's Docker provider does, through the same
//! `docker` CLI and daemon: it creates the `kind` network (or `KIND_EXPERIMENTAL_DOCKER_NETWORK`)
//! if missing, starts one container per node named `<cluster>-control-plane`,
//! `<cluster>-worker`, ... with kind's labels, publishes the control plane's 6443 on the host's
//! `127.0.0.1` (a random port), bind-mounts each node's `extraMounts` (relative `hostPath`s made
//! absolute against the working directory, as kind does: inside a container that is a path the
//! host's Docker does not have), and waits for the node's `/etc/kubernetes/admin.conf`.
//! `get kubeconfig` renames and readdresses that file as kind does: `--internal` keeps
//! `https://<cluster>-control-plane:6443`, otherwise `https://127.0.0.1:<published port>`. So from
//! inside a container the external kubeconfig reaches nothing, and the internal one resolves
//! only on the `kind` network: the traps real kind sets.
//!
//! `delete cluster` removes the node containers (not the network, like kind), `get clusters` and
//! `get nodes` list them, `export logs` writes each node's `docker logs`, `load docker-image`
//! checks the image exists on the daemon and records it in every node (`/kind/state`).
//! `FAKE_KIND_NODE_PULLABLE` (comma-separated) is handed to the node: images a registry serves.
//! `FAKE_KIND_NODE_READY_AFTER_MS` is handed to the node: workloads become ready that late.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Output};
use std::time::{Duration, Instant};

const CLUSTER_LABEL: &str = "io.x-k8s.kind.cluster";
const ROLE_LABEL: &str = "io.x-k8s.kind.role";

/// The node image, when sibling-container clusters are asked for.
pub fn node_image() -> Option<String> {
    std::env::var("FAKE_KIND_NODE_IMAGE")
        .ok()
        .filter(|image| !image.is_empty())
}

/// Handle `args` with sibling containers; `None` when not asked for (or not a command of ours).
pub fn handle(args: &[String]) -> Option<ExitCode> {
    let image = node_image()?;
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let code = match words.as_slice() {
        ["create", "cluster", ..] => create(args, &image),
        ["delete", "cluster", ..] => delete(&name(args)),
        ["get", "clusters", ..] => get_clusters(),
        ["get", "nodes", ..] => get_nodes(&name(args)),
        ["get", "kubeconfig", ..] => get_kubeconfig(&name(args), args.iter().any(|arg| arg == "--internal")),
        ["export", "logs", directory, ..] => export_logs(&name(args), Path::new(directory)),
        ["load", "docker-image", ..] => load_docker_image(args),
        _ => return None,
    };
    Some(code)
}

fn docker() -> Command {
    Command::new(std::env::var("HYBRID_E2E_DOCKER").unwrap_or_else(|_| "docker".to_owned()))
}

fn run(command: &mut Command) -> Output {
    command.output().unwrap_or_else(|error| Output {
        status: std::process::ExitStatus::default(),
        stdout: Vec::new(),
        stderr: format!("cannot run docker: {error}").into_bytes(),
    })
}

fn ok(output: &Output) -> bool {
    output.status.success() && !String::from_utf8_lossy(&output.stderr).starts_with("cannot run docker")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).trim().to_owned()
}

fn fail(message: &str) -> ExitCode {
    eprintln!("{message}");
    ExitCode::from(1)
}

fn flag(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|arg| arg == name)
        .and_then(|index| args.get(index + 1).cloned())
}

fn name(args: &[String]) -> String {
    flag(args, "--name").unwrap_or_else(|| "kind".to_owned())
}

fn network() -> String {
    std::env::var("KIND_EXPERIMENTAL_DOCKER_NETWORK")
        .ok()
        .filter(|network| !network.is_empty())
        .unwrap_or_else(|| "kind".to_owned())
}

/// The node containers of `cluster`, control planes first.
fn nodes(cluster: &str) -> Vec<String> {
    let output = run(docker().args([
        "ps",
        "-a",
        "--filter",
        &format!("label={CLUSTER_LABEL}={cluster}"),
        "--format",
        "{{.Names}}",
    ]));
    let mut names: Vec<String> = text(&output.stdout)
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    names.sort_by_key(|name| (!name.contains("-control-plane"), name.clone()));
    names
}

/// One node of the Kind config.
#[derive(Debug, Clone, PartialEq)]
struct NodeSpec {
    role: String,
    /// (hostPath, containerPath, readOnly).
    mounts: Vec<(String, String, bool)>,
}

fn node_specs(config: Option<&str>) -> Result<Vec<NodeSpec>, String> {
    let Some(path) = config else {
        return Ok(vec![NodeSpec {
            role: "control-plane".to_owned(),
            mounts: Vec::new(),
        }]);
    };
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("ERROR: failed to create cluster: error reading file: open {path}: {error}"))?;
    let document: serde_json::Value =
        serde_saphyr::from_str(&text).map_err(|error| format!("ERROR: failed to create cluster: {error}"))?;
    let mut specs = Vec::new();
    for node in document["nodes"].as_array().into_iter().flatten() {
        let mounts = node["extraMounts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|mount| {
                Some((
                    mount["hostPath"].as_str()?.to_owned(),
                    mount["containerPath"].as_str()?.to_owned(),
                    mount["readOnly"].as_bool().unwrap_or(false),
                ))
            })
            .collect();
        specs.push(NodeSpec {
            role: node["role"].as_str().unwrap_or("control-plane").to_owned(),
            mounts,
        });
    }
    if specs.is_empty() {
        specs.push(NodeSpec {
            role: "control-plane".to_owned(),
            mounts: Vec::new(),
        });
    }
    Ok(specs)
}

/// kind's node names: `-control-plane`, `-control-plane2`, `-worker`, `-worker2`, ...
fn node_names(cluster: &str, specs: &[NodeSpec]) -> Vec<String> {
    let mut counts = std::collections::HashMap::new();
    specs
        .iter()
        .map(|spec| {
            let count = counts.entry(spec.role.clone()).or_insert(0);
            *count += 1;
            if *count == 1 {
                format!("{cluster}-{}", spec.role)
            } else {
                format!("{cluster}-{}{count}", spec.role)
            }
        })
        .collect()
}

fn ensure_network(network: &str) -> Result<(), String> {
    if ok(&run(docker().args(["network", "inspect", network]))) {
        return Ok(());
    }
    let created = run(docker().args(["network", "create", "--driver", "bridge", network]));
    // A concurrent create made it: fine.
    if ok(&created) || ok(&run(docker().args(["network", "inspect", network]))) {
        Ok(())
    } else {
        Err(text(&created.stderr))
    }
}

fn create(args: &[String], image: &str) -> ExitCode {
    let cluster = name(args);
    eprintln!("Creating cluster \"{cluster}\" ...");
    if !nodes(&cluster).is_empty() {
        return fail(&format!(
            "ERROR: failed to create cluster: node(s) already exist for a cluster with the name \"{cluster}\""
        ));
    }
    let specs = match node_specs(flag(args, "--config").as_deref()) {
        Ok(specs) => specs,
        Err(message) => return fail(&message),
    };
    let network = network();
    if let Err(error) = ensure_network(&network) {
        return fail(&format!(
            "ERROR: failed to create cluster: failed to ensure docker network: {error}"
        ));
    }
    eprintln!(" ✓ Ensuring node image ({image}) 🖼");
    let names = node_names(&cluster, &specs);
    for (index, (spec, node)) in specs.iter().zip(&names).enumerate() {
        let mut command = docker();
        command.args([
            "run",
            "--detach",
            "--name",
            node,
            "--hostname",
            node,
            "--network",
            &network,
        ]);
        command.args(["--label", &format!("{CLUSTER_LABEL}={cluster}")]);
        command.args(["--label", &format!("{ROLE_LABEL}={}", spec.role)]);
        let first_control_plane = index == 0 && spec.role == "control-plane";
        if first_control_plane {
            command.args(["--publish", "127.0.0.1::6443/TCP"]);
        }
        // The node's script knob (tests/fake-kind-node), as kind passes nothing else in.
        for knob in ["FAKE_KIND_NODE_READY_AFTER_MS", "FAKE_KIND_NODE_PULLABLE"] {
            if let Ok(value) = std::env::var(knob) {
                command.args(["--env", &format!("{knob}={value}")]);
            }
        }
        for (host, inside, read_only) in &spec.mounts {
            // kind makes a relative hostPath absolute against its working directory.
            let host = std::path::absolute(host).unwrap_or_else(|_| PathBuf::from(host));
            let suffix = if *read_only { ":ro" } else { "" };
            command.arg(format!("--volume={}:{inside}{suffix}", host.display()));
        }
        command.arg(image);
        if first_control_plane {
            command.args(["control-plane", "--cluster", &cluster]);
        } else {
            command.arg("worker");
        }
        let output = run(&mut command);
        if !ok(&output) {
            return fail(&format!(
                "ERROR: failed to create cluster: command \"docker run --name {node} ...\" failed with error: {}\nCommand Output: {}",
                output.status,
                text(&output.stderr)
            ));
        }
    }
    eprintln!(" ✓ Preparing nodes 📦\n ✓ Writing configuration 📜");
    // The control plane is up when kubeadm has written admin.conf.
    let deadline = Instant::now() + Duration::from_secs(60);
    while admin_conf(&names[0]).is_err() {
        if Instant::now() > deadline {
            return fail(&format!(
                "ERROR: failed to create cluster: the control plane {} did not come up within 60s",
                names[0]
            ));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(" ✓ Starting control-plane 🕹️");
    if let Some(path) = flag(args, "--kubeconfig") {
        match kubeconfig(&cluster, false) {
            Ok(text) => {
                if let Some(parent) = Path::new(&path).parent() {
                    let _ = std::fs::create_dir_all(parent);
                }
                let _ = std::fs::write(&path, text);
            }
            Err(message) => return fail(&message),
        }
    }
    eprintln!("Set kubectl context to \"kind-{cluster}\"");
    ExitCode::SUCCESS
}

fn admin_conf(node: &str) -> Result<String, String> {
    let output = run(docker().args(["exec", node, "cat", "/etc/kubernetes/admin.conf"]));
    if ok(&output) && !output.stdout.is_empty() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(text(&output.stderr))
    }
}

/// `field: value` of the node's admin.conf.
fn field<'a>(conf: &'a str, name: &str) -> Option<&'a str> {
    conf.lines()
        .find_map(|line| line.trim().strip_prefix(name)?.strip_prefix(':').map(str::trim))
}

/// kind's kubeconfig of `cluster`: admin.conf, names `kind-<cluster>`, the internal or the
/// host's address.
fn kubeconfig(cluster: &str, internal: bool) -> Result<String, String> {
    let control_plane = format!("{cluster}-control-plane");
    let conf = admin_conf(&control_plane)
        .map_err(|error| format!("ERROR: failed to get cluster internal kubeconfig: {error}"))?;
    let server = if internal {
        field(&conf, "server").unwrap_or_default().to_owned()
    } else {
        let output = run(docker().args(["port", &control_plane, "6443/tcp"]));
        let address = text(&output.stdout).lines().next().unwrap_or_default().to_owned();
        if !ok(&output) || address.is_empty() {
            return Err(format!(
                "ERROR: failed to get api server endpoint: {}",
                text(&output.stderr)
            ));
        }
        format!("https://{address}")
    };
    let data = |name: &str| field(&conf, name).unwrap_or_default().to_owned();
    Ok(format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {ca}\n    server: {server}\n  name: kind-{cluster}\ncontexts:\n- context:\n    cluster: kind-{cluster}\n    user: kind-{cluster}\n  name: kind-{cluster}\ncurrent-context: kind-{cluster}\nkind: Config\npreferences: {{}}\nusers:\n- name: kind-{cluster}\n  user:\n    client-certificate-data: {cert}\n    client-key-data: {key}\n",
        ca = data("certificate-authority-data"),
        cert = data("client-certificate-data"),
        key = data("client-key-data"),
    ))
}

fn get_kubeconfig(cluster: &str, internal: bool) -> ExitCode {
    if nodes(cluster).is_empty() {
        return fail(&format!(
            "ERROR: could not locate any control plane nodes for cluster named '{cluster}'. Use the --name option to select a different cluster"
        ));
    }
    match kubeconfig(cluster, internal) {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(message) => fail(&message),
    }
}

fn delete(cluster: &str) -> ExitCode {
    eprintln!("Deleting cluster \"{cluster}\" ...");
    let nodes = nodes(cluster);
    if nodes.is_empty() {
        return ExitCode::SUCCESS;
    }
    let output = run(docker().args(["rm", "--force", "--volumes"]).args(&nodes));
    if ok(&output) {
        eprintln!("Deleted nodes: {nodes:?}");
        ExitCode::SUCCESS
    } else {
        fail(&format!(
            "ERROR: failed to delete cluster \"{cluster}\": {}",
            text(&output.stderr)
        ))
    }
}

fn get_clusters() -> ExitCode {
    let output = run(docker().args([
        "ps",
        "-a",
        "--filter",
        &format!("label={CLUSTER_LABEL}"),
        "--format",
        &format!("{{{{.Label \"{CLUSTER_LABEL}\"}}}}"),
    ]));
    let mut clusters: Vec<String> = text(&output.stdout)
        .lines()
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    clusters.sort();
    clusters.dedup();
    if clusters.is_empty() {
        eprintln!("No kind clusters found.");
    }
    for cluster in clusters {
        println!("{cluster}");
    }
    ExitCode::SUCCESS
}

fn get_nodes(cluster: &str) -> ExitCode {
    let nodes = nodes(cluster);
    if nodes.is_empty() {
        eprintln!("No kind nodes found for cluster \"{cluster}\".");
    }
    for node in nodes {
        println!("{node}");
    }
    ExitCode::SUCCESS
}

fn export_logs(cluster: &str, directory: &Path) -> ExitCode {
    let _ = std::fs::create_dir_all(directory);
    let _ = std::fs::write(
        directory.join("kind-version.txt"),
        "kind v0.32.0 go1.25.1 linux/amd64\n",
    );
    for node in nodes(cluster) {
        let output = run(docker().args(["logs", &node]));
        let node_dir = directory.join(&node);
        let _ = std::fs::create_dir_all(&node_dir);
        let mut log = output.stdout;
        log.extend_from_slice(&output.stderr);
        let _ = std::fs::write(node_dir.join("container.log"), log);
    }
    eprintln!("Exporting logs for cluster \"{cluster}\" to:\n{}", directory.display());
    ExitCode::SUCCESS
}

fn load_docker_image(args: &[String]) -> ExitCode {
    let cluster = name(args);
    let images: Vec<&String> = args[2..].iter().take_while(|arg| !arg.starts_with("--")).collect();
    let nodes = nodes(&cluster);
    if nodes.is_empty() {
        return fail(&format!("ERROR: no nodes found for cluster \"{cluster}\""));
    }
    for image in &images {
        if !ok(&run(docker().args([
            "image",
            "inspect",
            "-f",
            "{{ .Id }}",
            image.as_str(),
        ]))) {
            return fail(&format!("ERROR: image: \"{image}\" not present locally"));
        }
    }
    for node in &nodes {
        let output = run(docker()
            .args(["exec", node, "/usr/local/bin/fake-kind-node", "record-image"])
            .args(&images));
        if !ok(&output) {
            return fail(&format!(
                "ERROR: failed to load image: command \"docker exec --privileged -i {node} ctr --namespace=k8s.io images import --all-platforms --digests --snapshotter=overlayfs -\" failed with error: {}",
                text(&output.stderr)
            ));
        }
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_are_named_like_kinds() {
        let spec = |role: &str| NodeSpec {
            role: role.to_owned(),
            mounts: Vec::new(),
        };
        let specs = [spec("control-plane"), spec("worker"), spec("worker")];
        assert_eq!(
            node_names("e2e", &specs),
            ["e2e-control-plane", "e2e-worker", "e2e-worker2"]
        );
    }

    #[test]
    fn the_kind_config_gives_roles_and_mounts() {
        let directory = std::env::temp_dir().join(format!("fake-kind-node-spec-{}", std::process::id()));
        std::fs::create_dir_all(&directory).expect("mkdir");
        let path = directory.join("kind.yaml");
        std::fs::write(
            &path,
            "kind: Cluster\nnodes:\n  - role: control-plane\n    extraMounts:\n      - hostPath: ./coverdata\n        containerPath: /coverdata\n  - role: worker\n",
        )
        .expect("write");
        let specs = node_specs(path.to_str()).expect("specs");
        assert_eq!(specs.len(), 2);
        assert_eq!(
            specs[0].mounts,
            vec![("./coverdata".to_owned(), "/coverdata".to_owned(), false)]
        );
        assert_eq!(node_specs(None).expect("default")[0].role, "control-plane");
        let _ = std::fs::remove_dir_all(directory);
    }

    #[test]
    fn admin_conf_fields_are_read() {
        let conf =
            "clusters:\n- cluster:\n    certificate-authority-data: Q0E=\n    server: https://x-control-plane:6443\n";
        assert_eq!(field(conf, "server"), Some("https://x-control-plane:6443"));
        assert_eq!(field(conf, "certificate-authority-data"), Some("Q0E="));
        assert_eq!(field(conf, "client-key-data"), None);
    }
}
