//! A fake `kind` for hybrid-e2e's tests: Kind cannot run on our machines (no node image, no
//! nested containers), so this stands in at the process boundary. It speaks the subcommands
//! hybrid-e2e uses, prints Kind's real error texts, keeps cluster state on disk, records every
//! call, and checks that what it is asked to load really exists (`docker image inspect`, a
//! readable image archive).
//!
//! Driven by environment variables:
//! - `FAKE_KIND_STATE`: directory for state and `calls.jsonl` (required).
//! - `FAKE_KIND_CREATE_DELAY_MS`, `FAKE_KIND_LOAD_DELAY_MS`: sleep before answering.
//! - `FAKE_KIND_CREATE_FAILURE`: `log-line`, `no-such-container`, `port`, `crun` (transient in
//!   the field), `kubeadm`, `pull` (permanent; `pull` leaves no node behind);
//!   `FAKE_KIND_CREATE_FAIL_TIMES`: how many creates fail (default 1; `always` for every one).
//! - `FAKE_KIND_LOAD_FAILURE`: every load fails after its images were checked: `ctr` (or `1`:
//!   containerd cannot import what `docker save` streamed, `content digest ... not found`), `disk`
//!   (the node's disk is full), `node-gone` (the node container vanished).
//! - `FAKE_KIND_NODE_IMAGE`: clusters are sibling containers on the `kind` Docker network, API
//!   over TLS on the host's 127.0.0.1 (src/kind_node.rs); the variables above do not apply then.
//!
//! Arguments are parsed as kind's cobra CLI parses them (`fake_tools::kind_cli`): flags anywhere,
//! unknown flags and missing values are errors; `--config` must be a v1alpha4 `Cluster`.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use fake_tools::kind_cli::{self, Invocation};

fn state_dir() -> PathBuf {
    PathBuf::from(std::env::var("FAKE_KIND_STATE").expect("FAKE_KIND_STATE must be set for the fake kind"))
}

fn cluster_file(name: &str) -> PathBuf {
    state_dir().join("clusters").join(name)
}

fn record(args: &[String]) {
    let entry = serde_json::json!({
        "args": args,
        "provider": std::env::var("KIND_EXPERIMENTAL_PROVIDER").ok(),
    });
    let path = state_dir().join("calls.jsonl");
    // One write per line: parallel loads append to the same file (O_APPEND keeps lines whole).
    let line = format!("{entry}\n");
    if let Ok(mut file) = fs::OpenOptions::new().create(true).append(true).open(path) {
        let _ = file.write_all(line.as_bytes());
    }
}

fn delay(variable: &str) {
    if let Some(millis) = std::env::var(variable).ok().and_then(|value| value.parse::<u64>().ok()) {
        std::thread::sleep(Duration::from_millis(millis));
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("{message}");
    ExitCode::from(1)
}

/// A kubeconfig like kind's; the server is the test's fake API server when one is running
/// (`FAKE_KIND_API_SERVER`), else an address where nothing listens.
fn kubeconfig(name: &str) -> String {
    let server = std::env::var("FAKE_KIND_API_SERVER").unwrap_or_else(|_| "https://127.0.0.1:6443".to_owned());
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: {server}\n  name: kind-{name}\ncontexts:\n- context:\n    cluster: kind-{name}\n    user: kind-{name}\n  name: kind-{name}\ncurrent-context: kind-{name}\nusers:\n- name: kind-{name}\n  user: {{}}\n"
    )
}

/// How many creates have been attempted so far (across processes).
fn next_attempt() -> u32 {
    let path = state_dir().join("create-attempts");
    let attempts = fs::read_to_string(&path)
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        .unwrap_or(0)
        + 1;
    let _ = fs::write(&path, attempts.to_string());
    attempts
}

fn create(invocation: &Invocation) -> ExitCode {
    // kind reads the config before anything else; its `name` applies without `--name`.
    let mut config_name = None;
    if let Some(config) = invocation.flag("config") {
        let Ok(text) = fs::read_to_string(config) else {
            return fail(&format!(
                "ERROR: failed to create cluster: error reading file: open {config}: no such file or directory"
            ));
        };
        match kind_cli::parse_cluster_config(&text) {
            Ok(name) => config_name = name,
            Err(error) => return fail(&format!("ERROR: failed to create cluster: {error}")),
        }
    }
    let name = invocation
        .flag("name")
        .map(str::to_owned)
        .or(config_name)
        .unwrap_or_else(|| "kind".to_owned());
    let provider = std::env::var("KIND_EXPERIMENTAL_PROVIDER").unwrap_or_else(|_| "docker".to_owned());
    eprintln!("Creating cluster \"{name}\" ...");
    if cluster_file(&name).exists() {
        return fail(&format!(
            "ERROR: failed to create cluster: node(s) already exist for a cluster with the name \"{name}\""
        ));
    }
    delay("FAKE_KIND_CREATE_DELAY_MS");
    let attempt = next_attempt();
    let fail_times = std::env::var("FAKE_KIND_CREATE_FAIL_TIMES").unwrap_or_else(|_| "1".to_owned());
    let failing = fail_times == "always" || fail_times.parse::<u32>().is_ok_and(|times| attempt <= times);
    if let (Ok(failure), true) = (std::env::var("FAKE_KIND_CREATE_FAILURE"), failing) {
        // With --retain, a failed create leaves its node container behind, as kind does —
        // unless it failed before there was one (the node image could not be pulled).
        if invocation.is_set("retain") && failure != "pull" {
            let _ = fs::create_dir_all(state_dir().join("clusters"));
            let _ = fs::write(cluster_file(&name), "half-made\n");
        }
        let node = format!("{name}-control-plane");
        let message = match failure.as_str() {
            "log-line" => " ✗ Preparing nodes 📦\nERROR: failed to create cluster: could not find a log line that matches \"Reached target .*Multi-User System.*|detected cgroup v1\"".to_owned(),
            "no-such-container" => format!(
                "ERROR: failed to create cluster: failed to read logs: command \"{provider} logs -f {node}\" failed with error: exit status 125\nCommand Output: Error: failed to obtain logs for Container '{node}': no container with ID e0b4fa08c34f25ce2903763513cafc0cb1687196e2a808cd0a3a0648883bee1a found in database: no such container"
            ),
            "port" => format!(
                "ERROR: failed to create cluster: command \"{provider} run --name {node} --hostname {node} --privileged --publish=127.0.0.1:6443:6443/TCP kindest/node:v1.33.1\" failed with error: exit status 125\nCommand Output: {provider}: Error response from daemon: driver failed programming external connectivity on endpoint {node}: Bind for 127.0.0.1:6443 failed: port is already allocated."
            ),
            "pull" => format!(
                "ERROR: failed to create cluster: failed to pull image \"kindest/node:v1.33.1\": command \"{provider} pull kindest/node:v1.33.1\" failed with error: exit status 1"
            ),
            "crun" => format!(
                "ERROR: failed to create cluster: command \"{provider} run --name {node} kindest/node:v1.33.1\" failed with error: exit status 126\nCommand Output: Error: OCI runtime error: crun: unknown version specified"
            ),
            _ => format!(
                "ERROR: failed to create cluster: failed to init node with kubeadm: command \"{provider} exec --privileged {node} kubeadm init --config=/kind/kubeadm.conf --skip-token-print --v=6\" failed with error: exit status 1\nCommand Output: [init] Using Kubernetes version: v1.33.1\nerror execution phase wait-control-plane: timed out waiting for the condition"
            ),
        };
        return fail(&message);
    }
    let _ = fs::create_dir_all(state_dir().join("clusters"));
    let _ = fs::write(cluster_file(&name), "");
    if let Some(path) = invocation.flag("kubeconfig") {
        let _ = fs::write(path, kubeconfig(&name));
    }
    eprintln!(
        " ✓ Ensuring node image 🖼\n ✓ Preparing nodes 📦\n ✓ Writing configuration 📜\n ✓ Starting control-plane 🕹️\nSet kubectl context to \"kind-{name}\""
    );
    ExitCode::SUCCESS
}

fn require_cluster(invocation: &Invocation) -> Result<String, ExitCode> {
    let name = invocation.cluster_name();
    if cluster_file(&name).exists() {
        Ok(name)
    } else {
        Err(fail(&format!("ERROR: no nodes found for cluster \"{name}\"")))
    }
}

fn add_loaded(cluster: &str, images: &[String]) {
    let lines: String = images.iter().map(|image| format!("{image}\n")).collect();
    if let Ok(mut file) = fs::OpenOptions::new().append(true).open(cluster_file(cluster)) {
        let _ = file.write_all(lines.as_bytes());
    }
}

fn load_docker_image(invocation: &Invocation) -> ExitCode {
    let cluster = match require_cluster(invocation) {
        Ok(cluster) => cluster,
        Err(code) => return code,
    };
    delay("FAKE_KIND_LOAD_DELAY_MS");
    let images = &invocation.args;
    let docker = std::env::var("HYBRID_E2E_DOCKER").unwrap_or_else(|_| "docker".to_owned());
    for image in images {
        // kind always shells out to `docker`, whatever the provider.
        let present = Command::new(&docker)
            .args(["image", "inspect", "-f", "{{ .Id }}", image])
            .output()
            .is_ok_and(|output| output.status.success());
        if !present {
            return fail(&format!("ERROR: image: \"{image}\" not present locally"));
        }
    }
    if let Some(message) = load_failure("docker", &cluster) {
        return fail(&message);
    }
    add_loaded(&cluster, images);
    ExitCode::SUCCESS
}

/// kind's error for the scripted load failure (`FAKE_KIND_LOAD_FAILURE`), if any: the import
/// into the node's containerd (`ctr images import`) fails.
fn load_failure(provider: &str, cluster: &str) -> Option<String> {
    let mode = std::env::var("FAKE_KIND_LOAD_FAILURE").ok()?;
    let node = format!("{cluster}-control-plane");
    let command = format!(
        "ERROR: failed to load image: command \"{provider} exec --privileged -i {node} ctr --namespace=k8s.io images import --all-platforms --digests --snapshotter=overlayfs -\" failed with error: exit status 1"
    );
    let output = match mode.as_str() {
        "disk" => "ctr: failed to ingest \"blobs/sha256/5f70bf18a086\": write /var/lib/containerd/io.containerd.content.v1.content/ingest/5f70bf18a086/data: no space left on device".to_owned(),
        "node-gone" => format!("Error response from daemon: No such container: {node}"),
        _ => "ctr: content digest sha256:9b2a4f1c8e3d: not found".to_owned(),
    };
    Some(format!("{command}\nCommand Output: {output}"))
}

/// The image names in a docker-archive or OCI archive (`manifest.json` RepoTags, or the OCI
/// `org.opencontainers.image.ref.name` / containerd name annotations).
fn archive_images(path: &Path) -> Result<Vec<String>, String> {
    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|mut file| file.read_to_end(&mut bytes))
        .map_err(|error| format!("open {}: {error}", path.display()))?;
    let mut offset = 0;
    let mut names = Vec::new();
    let mut saw_any = false;
    while offset + 512 <= bytes.len() {
        let header = &bytes[offset..offset + 512];
        if header.iter().all(|&byte| byte == 0) {
            break;
        }
        let name = String::from_utf8_lossy(&header[..100])
            .trim_end_matches('\0')
            .to_owned();
        let size_text = String::from_utf8_lossy(&header[124..136])
            .trim_matches(|c: char| c == '\0' || c == ' ')
            .to_owned();
        let size = usize::from_str_radix(&size_text, 8).map_err(|_| "unexpected EOF: not a tar archive".to_owned())?;
        let body_start = offset + 512;
        let body_end = body_start + size;
        if body_end > bytes.len() {
            return Err("unexpected EOF".to_owned());
        }
        saw_any = true;
        let body = &bytes[body_start..body_end];
        if name.trim_start_matches("./") == "manifest.json" {
            let manifest: serde_json::Value =
                serde_json::from_slice(body).map_err(|error| format!("manifest.json: {error}"))?;
            for entry in manifest.as_array().into_iter().flatten() {
                for tag in entry["RepoTags"].as_array().into_iter().flatten() {
                    names.extend(tag.as_str().map(str::to_owned));
                }
            }
        }
        if name.trim_start_matches("./") == "index.json" {
            let index: serde_json::Value =
                serde_json::from_slice(body).map_err(|error| format!("index.json: {error}"))?;
            for manifest in index["manifests"].as_array().into_iter().flatten() {
                for key in ["io.containerd.image.name", "org.opencontainers.image.ref.name"] {
                    if let Some(name) = manifest["annotations"][key].as_str() {
                        names.push(name.to_owned());
                    }
                }
            }
        }
        offset = body_start + size.div_ceil(512) * 512;
    }
    if !saw_any {
        return Err("unexpected EOF: empty archive".to_owned());
    }
    names.dedup();
    Ok(names)
}

fn load_image_archive(invocation: &Invocation) -> ExitCode {
    let cluster = match require_cluster(invocation) {
        Ok(cluster) => cluster,
        Err(code) => return code,
    };
    delay("FAKE_KIND_LOAD_DELAY_MS");
    let archives = &invocation.args;
    let mut loaded = Vec::new();
    for archive in archives {
        match archive_images(Path::new(archive)) {
            Ok(names) => loaded.extend(names),
            Err(error) => return fail(&format!("ERROR: failed to load image: {error}")),
        }
    }
    let provider = std::env::var("KIND_EXPERIMENTAL_PROVIDER").unwrap_or_else(|_| "docker".to_owned());
    if let Some(message) = load_failure(&provider, &cluster) {
        return fail(&message);
    }
    add_loaded(&cluster, &loaded);
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    record(&args);
    // --- sibling-container clusters (FAKE_KIND_NODE_IMAGE): tests/fake-tools/src/kind_node.rs ---
    if let Some(code) = fake_tools::kind_node::handle(&args) {
        return code;
    }
    // --- end sibling-container clusters ---
    let invocation = match kind_cli::parse(&args) {
        Ok(invocation) => invocation,
        Err(error) => return fail(&format!("ERROR: {error}")),
    };
    let command: Vec<&str> = invocation.command.iter().map(String::as_str).collect();
    match command.as_slice() {
        ["version"] => {
            println!("kind v0.32.0 go1.25.1 linux/amd64");
            ExitCode::SUCCESS
        }
        ["create", "cluster"] => create(&invocation),
        ["delete", "cluster"] => {
            let name = invocation.cluster_name();
            eprintln!("Deleting cluster \"{name}\" ...");
            let _ = fs::remove_file(cluster_file(&name));
            ExitCode::SUCCESS
        }
        ["get", "clusters"] => {
            let mut names: Vec<String> = fs::read_dir(state_dir().join("clusters"))
                .into_iter()
                .flatten()
                .filter_map(|entry| entry.ok().map(|entry| entry.file_name().to_string_lossy().into_owned()))
                .collect();
            names.sort();
            if names.is_empty() {
                eprintln!("No kind clusters found.");
            }
            for name in names {
                println!("{name}");
            }
            ExitCode::SUCCESS
        }
        // The nodes: `FAKE_KIND_NODES` (comma-separated container names, e.g. real containers a
        // test made to stand for them), else kind's name for the one control plane.
        ["get", "nodes"] => {
            let name = invocation.cluster_name();
            if !cluster_file(&name).exists() {
                eprintln!("No kind nodes found for cluster \"{name}\".");
                return ExitCode::SUCCESS;
            }
            match std::env::var("FAKE_KIND_NODES").ok().filter(|nodes| !nodes.is_empty()) {
                Some(nodes) => nodes.split(',').for_each(|node| println!("{node}")),
                None => println!("{name}-control-plane"),
            }
            ExitCode::SUCCESS
        }
        ["get", "kubeconfig"] => match require_cluster(&invocation) {
            Ok(name) => {
                print!("{}", kubeconfig(&name));
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        ["export", "logs"] => {
            let name = invocation.cluster_name();
            if !cluster_file(&name).exists() {
                return fail(&format!("ERROR: unknown cluster \"{name}\""));
            }
            let directory = invocation
                .args
                .first()
                .cloned()
                .unwrap_or_else(|| "/tmp/kind-logs".to_owned());
            let node = Path::new(&directory).join(format!("{name}-control-plane"));
            let _ = fs::create_dir_all(&node);
            let _ = fs::write(
                Path::new(&directory).join("kind-version.txt"),
                "kind v0.32.0 go1.25.1 linux/amd64\n",
            );
            let _ = fs::write(
                node.join("serial.log"),
                "systemd 252 running in system mode\nFailed to start kubelet.service\n",
            );
            eprintln!("Exporting logs for cluster \"{name}\" to:\n{directory}");
            ExitCode::SUCCESS
        }
        ["load", "docker-image"] => load_docker_image(&invocation),
        ["load", "image-archive"] => load_image_archive(&invocation),
        _ => fail(&format!("ERROR: the fake kind does not play {args:?}")),
    }
}
