//! The emulated runner: the action's real image, run the way the Actions runner runs a container
//! action, against the machine's real Docker. This is the named group `action_image::`;
//! `.ci/test.sh` runs it on its own with `HYBRID_E2E_REQUIRE_ENGINES=1`, so a missing Docker
//! fails it instead of skipping it.
//!
//! Built once per test process: the static binary (`-C target-feature=+crt-static`, profile
//! `action-test`: the release profile without its slow size optimisations,
//! `x86_64-unknown-linux-gnu`, in `target/action-static`), the fake kind and its node program,
//! the node image (on the busybox base), and the action image from `docker/` by
//! `docker/build-test-image.sh` (Debian base made with mmdebstrap, cached; the fake kind in place
//! of kind). Then each test runs steps like `ContainerActionHandler` does: `docker run --rm
//! --workdir /github/workspace`, the docker socket and the workspace, `_github_home`,
//! `_github_workflow` and `_runner_file_commands` mounts, `INPUT_*` named and defaulted from
//! action.yml, `GITHUB_OUTPUT`/`GITHUB_STATE`/`GITHUB_STEP_SUMMARY` at the mounted paths, no
//! `--network` and no `--hostname`. The fake kind makes real sibling containers: nodes on the
//! `kind` network, the API over TLS with client certificates published on the host's
//! 127.0.0.1. Everything is asserted from the host: outputs, summary, annotations, the
//! kubeconfig the job's later steps would use, the node's bind mount, the post step's teardown.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::action::{FileCommands, TOKEN, declared, example_files, input_env, write_files};
use crate::support::{BASE_IMAGE, engine_ready, repo, stderr, stdout};

const NODE_IMAGE: &str = "hybrid-e2e.test/fake-kind-node:it";
const ACTION_IMAGE: &str = "hybrid-e2e.test/action:it";

struct Built {
    image: String,
}

fn run_ok(command: &mut Command, what: &str) -> Output {
    let output = command.output().unwrap_or_else(|error| panic!("{what}: {error}"));
    assert!(
        output.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The static binaries, the node image and the action image; `None` when Docker is not usable
/// here (and not required).
fn built() -> Option<&'static Built> {
    static BUILT: OnceLock<Option<Built>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            if !engine_ready("docker") {
                return None;
            }
            let started = Instant::now();
            let binaries = static_binaries();
            let binary = binaries.join("hybrid-e2e");
            let size = std::fs::metadata(&binary).expect("binary").len();
            eprintln!(
                "action_image: static binaries in {:.0?} (hybrid-e2e: {size} bytes)",
                started.elapsed()
            );
            let release = binaries;

            let context = tempfile::tempdir().expect("context");
            std::fs::copy(release.join("fake-kind-node"), context.path().join("fake-kind-node")).expect("copy node");
            std::fs::write(
                context.path().join("Dockerfile"),
                format!(
                    "FROM {BASE_IMAGE}\nCOPY fake-kind-node /usr/local/bin/fake-kind-node\nENTRYPOINT [\"/usr/local/bin/fake-kind-node\"]\n"
                ),
            )
            .expect("Dockerfile");
            run_ok(
                Command::new("docker")
                    .args(["build", "--quiet", "--tag", NODE_IMAGE])
                    .arg(context.path()),
                "the node image",
            );

            let images = Instant::now();
            let output = run_ok(
                Command::new("bash")
                    .arg(repo().join("docker/build-test-image.sh"))
                    .arg(&binary)
                    .arg(release.join("kind"))
                    .env("IMAGE_TAG", ACTION_IMAGE),
                "docker/build-test-image.sh",
            );
            let image = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            assert_eq!(image, ACTION_IMAGE);
            let size = run_ok(
                Command::new("docker").args(["image", "inspect", "--format", "{{.Size}}", &image]),
                "docker image inspect",
            );
            eprintln!(
                "action_image: images in {:.0?} ({image}: {} bytes); {:.0?} in all",
                images.elapsed(),
                String::from_utf8_lossy(&size.stdout).trim(),
                started.elapsed()
            );
            Some(Built { image })
        })
        .as_ref()
}

/// Whether the ELF file at `path` is statically linked (no program interpreter).
fn is_static(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else { return false };
    // ELF64 little-endian: program headers at e_phoff (0x20), e_phentsize (0x36), e_phnum (0x38).
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 {
        return false;
    }
    let read = |at: usize, width: usize| -> usize {
        bytes[at..at + width]
            .iter()
            .rev()
            .fold(0usize, |value, byte| (value << 8) | usize::from(*byte))
    };
    let (offset, size, count) = (read(0x20, 8), read(0x36, 2), read(0x38, 2));
    // PT_INTERP (3): a dynamic executable names its loader.
    !(0..count).any(|index| {
        let at = offset + index * size;
        at + 4 <= bytes.len() && read(at, 4) == 3
    })
}

/// Stripped copies of the static `hybrid-e2e`, fake `kind` and `fake-kind-node`, in a fresh
/// directory. `.ci/test.sh` builds the whole test suite for the static target, so the test's own
/// binaries are used (`HYBRID_E2E_STATIC_BIN_DIR` names where the fakes are); elsewhere they are
/// built here, in their own target directory (slow: every dependency again, statically).
fn static_binaries() -> PathBuf {
    let own = PathBuf::from(env!("CARGO_BIN_EXE_hybrid-e2e"));
    let prebuilt = std::env::var_os("HYBRID_E2E_STATIC_BIN_DIR").map(PathBuf::from);
    let source = match prebuilt {
        Some(directory)
            if is_static(&own)
                && is_static(&directory.join("kind"))
                && is_static(&directory.join("fake-kind-node")) =>
        {
            directory
        }
        _ => {
            let target = repo().join("target/action-static");
            let cargo = || {
                let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()));
                command
                    .current_dir(repo())
                    .env("RUSTFLAGS", "-C target-feature=+crt-static")
                    .env_remove("CARGO_ENCODED_RUSTFLAGS")
                    .env_remove("CARGO_BUILD_TARGET")
                    .args([
                        "build",
                        "--profile",
                        "action-test",
                        "--locked",
                        "--target",
                        "x86_64-unknown-linux-gnu",
                        "--target-dir",
                    ])
                    .arg(&target);
                command
            };
            // The shipped binary alone (its features are not unified with the test programs').
            run_ok(cargo().args(["--bin", "hybrid-e2e"]), "the static build");
            run_ok(
                cargo().args([
                    "-p",
                    "fake-kind-node",
                    "-p",
                    "fake-tools",
                    "--bin",
                    "fake-kind-node",
                    "--bin",
                    "kind",
                ]),
                "the static fake kind and node",
            );
            target.join("x86_64-unknown-linux-gnu/action-test")
        }
    };
    let copies = repo().join("target/action-static/bin");
    std::fs::create_dir_all(&copies).expect("mkdir");
    for name in ["kind", "fake-kind-node"] {
        std::fs::copy(source.join(name), copies.join(name)).expect("copy");
    }
    let binary = if source.join("hybrid-e2e").is_file() {
        source.join("hybrid-e2e")
    } else {
        own
    };
    std::fs::copy(binary, copies.join("hybrid-e2e")).expect("copy");
    for name in ["hybrid-e2e", "kind", "fake-kind-node"] {
        // Debug builds carry their symbols: keep the image small.
        let _ = Command::new("strip").arg(copies.join(name)).status();
        assert!(is_static(&copies.join(name)), "{name} is not static");
    }
    copies
}

/// The docker socket the runner mounts.
fn docker_socket() -> String {
    std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|host| host.strip_prefix("unix://").map(str::to_owned))
        .unwrap_or_else(|| "/var/run/docker.sock".to_owned())
}

/// One job's directories on the "runner": the workspace and the runner's temp directory.
struct Job {
    workspace: tempfile::TempDir,
    temp: tempfile::TempDir,
    /// Clusters to remove if a test fails before its post step.
    clusters: std::cell::RefCell<Vec<String>>,
}

impl Job {
    fn new() -> Job {
        let job = Job {
            workspace: tempfile::tempdir().expect("workspace"),
            temp: tempfile::tempdir().expect("runner temp"),
            clusters: std::cell::RefCell::new(Vec::new()),
        };
        for directory in ["_github_home", "_github_workflow", "_runner_file_commands"] {
            std::fs::create_dir_all(job.temp.path().join(directory)).expect("runner dir");
        }
        std::fs::write(job.temp.path().join("_github_workflow/event.json"), "{}\n").expect("event");
        job
    }

    fn ws(&self) -> &Path {
        self.workspace.path()
    }

    fn commands(&self, step: &str) -> FileCommands {
        FileCommands::new(&self.temp.path().join("_runner_file_commands"), step)
    }

    /// `docker run` as ContainerActionHandler builds it for a step of this action.
    fn step(&self, built: &Built, entrypoint: &str, commands: &FileCommands, env: &[(String, String)]) -> Command {
        let mut command = Command::new("docker");
        command.args(["run", "--name", &format!("hybrid-e2e-it-{}", unique())]);
        command.args([
            "--label",
            "hybrid-e2e-it-action",
            "--workdir",
            "/github/workspace",
            "--rm",
        ]);
        let runner_env = [
            ("HOME", "/github/home".to_owned()),
            ("CI", "true".to_owned()),
            ("GITHUB_ACTIONS", "true".to_owned()),
            ("GITHUB_JOB", "e2e".to_owned()),
            ("GITHUB_WORKSPACE", "/github/workspace".to_owned()),
            ("GITHUB_EVENT_PATH", "/github/workflow/event.json".to_owned()),
            ("GITHUB_OUTPUT", format!("/github/file_commands/{}", commands.output)),
            ("GITHUB_STATE", format!("/github/file_commands/{}", commands.state)),
            (
                "GITHUB_STEP_SUMMARY",
                format!("/github/file_commands/{}", commands.summary),
            ),
            ("RUNNER_OS", "Linux".to_owned()),
            ("RUNNER_TEMP", self.temp.path().display().to_string()),
            // The step's `env:` (fakes and test timings).
            ("FAKE_KIND_NODE_IMAGE", NODE_IMAGE.to_owned()),
            ("FAKE_KIND_STATE", "/github/home/fake-kind".to_owned()),
            // The example's database comes from Docker Hub; the rest is loaded by the run.
            (
                "FAKE_KIND_NODE_PULLABLE",
                "docker.io/library/postgres:16-alpine".to_owned(),
            ),
            ("HYBRID_E2E_POLL_INTERVAL", "200ms".to_owned()),
            ("HYBRID_E2E_MIN_FREE_DISK_GIB", "0.1".to_owned()),
        ];
        for (key, value) in runner_env
            .iter()
            .map(|(key, value)| ((*key).to_owned(), value.clone()))
            .chain(env.iter().cloned())
        {
            command.args(["-e", &format!("{key}={value}")]);
        }
        let socket = docker_socket();
        let temp = self.temp.path();
        for (host, inside) in [
            (PathBuf::from(&socket), "/var/run/docker.sock"),
            (temp.join("_github_home"), "/github/home"),
            (temp.join("_github_workflow"), "/github/workflow"),
            (temp.join("_runner_file_commands"), "/github/file_commands"),
            (self.ws().to_path_buf(), "/github/workspace"),
        ] {
            command.args(["-v", &format!("{}:{inside}", host.display())]);
        }
        command.args(["--entrypoint", entrypoint, &built.image, "action"]);
        command
    }

    fn main(&self, built: &Built, commands: &FileCommands, with: &[(&str, &str)], env: &[(&str, &str)]) -> Command {
        let mut all = input_env(with);
        all.extend(env.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())));
        self.step(built, "/usr/local/bin/hybrid-e2e", commands, &all)
    }

    /// The post step: a fresh container, the same inputs, the saved state as `STATE_*`.
    fn post(&self, built: &Built, main: &FileCommands, with: &[(&str, &str)]) -> Output {
        let commands = self.commands("post");
        let mut env = input_env(with);
        env.extend(
            main.state()
                .into_iter()
                .map(|(name, value)| (format!("STATE_{name}"), value)),
        );
        self.step(built, "/usr/local/bin/hybrid-e2e-post", &commands, &env)
            .output()
            .expect("docker runs the post step")
    }

    fn remember(&self, cluster: &str) {
        self.clusters.borrow_mut().push(cluster.to_owned());
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        for cluster in self.clusters.borrow().iter() {
            let nodes = node_containers(cluster);
            if !nodes.is_empty() {
                let _ = Command::new("docker")
                    .args(["rm", "--force", "--volumes"])
                    .args(&nodes)
                    .output();
            }
        }
        // Files the containers wrote as root in the workspace: tempfile removes them (we are root
        // here too; elsewhere they may outlive the test).
    }
}

fn unique() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    format!("{}-{}", std::process::id(), COUNT.fetch_add(1, Ordering::SeqCst))
}

fn node_containers(cluster: &str) -> Vec<String> {
    let output = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            &format!("label=io.x-k8s.kind.cluster={cluster}"),
            "--format",
            "{{.Names}}",
        ])
        .output()
        .expect("docker ps");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The example project in `e2e/` of the workspace, images renamed so no other test's images
/// collide, and a Kind config with a coverage-style mount relative to the working directory.
fn example_in(workspace: &Path) {
    let files: Vec<(String, String)> = example_files()
        .into_iter()
        .map(|(path, body)| (path, body.replace("localhost/example/", "localhost/example-action-it/")))
        .collect();
    write_files(&workspace.join("e2e"), &files);
    std::fs::write(
        workspace.join("e2e/kind-config.yaml"),
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n  - role: control-plane\n    extraMounts:\n      - hostPath: ./coverdata\n        containerPath: /coverdata\n  - role: worker\n",
    )
    .expect("kind config");
    std::fs::create_dir_all(workspace.join("e2e/coverdata")).expect("coverdata");
    std::fs::write(workspace.join("e2e/coverdata/marker"), "written on the runner\n").expect("marker");
}

fn assert_no_token(output: &Output) {
    for text in [stdout(output), stderr(output)] {
        assert!(!text.contains(TOKEN), "the token was printed:\n{text}");
    }
}

/// A Deployment read with `kubeconfig`, as a later step of the job would (on the host).
fn deployment(kubeconfig: &Path, namespace: &str, name: &str) -> Result<serde_json::Value, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    runtime.block_on(async {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let parsed = kube::config::Kubeconfig::read_from(kubeconfig).map_err(|error| error.to_string())?;
        let config = kube::Config::from_custom_kubeconfig(parsed, &kube::config::KubeConfigOptions::default())
            .await
            .map_err(|error| error.to_string())?;
        let client = kube::Client::try_from(config).map_err(|error| error.to_string())?;
        let api: kube::Api<k8s_openapi::api::apps::v1::Deployment> = kube::Api::namespaced(client, namespace);
        let deployment = tokio::time::timeout(Duration::from_secs(20), api.get(name))
            .await
            .map_err(|_| "timed out".to_owned())?
            .map_err(|error| error.to_string())?;
        serde_json::to_value(deployment).map_err(|error| error.to_string())
    })
}

/// A container where the action's runs (the default bridge: no `--network`), probing `script`.
fn probe_from_the_default_bridge(built: &Built, script: &str) -> String {
    let output = Command::new("docker")
        .args(["run", "--rm", "--entrypoint", "bash", &built.image, "-c", script])
        .output()
        .expect("probe");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_example_runs_end_to_end_in_the_action_image_and_the_post_step_tears_down() {
    let Some(built) = built() else { return };
    let job = Job::new();
    example_in(job.ws());
    let commands = job.commands("main");
    let with = [("working_directory", "e2e")];
    let started = Instant::now();
    let output = job
        .main(built, &commands, &with, &[])
        .output()
        .expect("docker runs the action");
    eprintln!("action_image: main step {:.1?}", started.elapsed());
    let state = commands.state();
    if let Some(cluster) = state.get("cluster_name") {
        job.remember(cluster);
    }
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    assert_no_token(&output);
    let log = stderr(&output);

    // Outputs: exactly action.yml's, with paths the host can use.
    let outputs = commands.outputs();
    let mut declared_outputs = declared("outputs");
    declared_outputs.sort();
    assert_eq!(outputs.keys().cloned().collect::<Vec<_>>(), declared_outputs);
    assert_eq!(outputs["status"], "ok", "{log}");
    assert_eq!(outputs["within-target"], "true");
    assert_eq!(outputs["report-dir"], "e2e/hybrid-e2e-report");
    assert!(job.ws().join(&outputs["junit-path"]).is_file());
    assert!(job.ws().join("e2e/hybrid-e2e-report/timings.json").is_file());
    let cluster = outputs["cluster-name"].clone();
    let kubeconfig = PathBuf::from(&outputs["kubeconfig"]);
    assert_eq!(
        kubeconfig,
        job.ws().join(".hybrid-e2e").join(&cluster).join("kubeconfig"),
        "the runner's path of the workspace's kubeconfig"
    );
    let summary = commands.summary();
    assert!(
        summary.contains("hybrid-e2e") && summary.contains("```mermaid"),
        "{summary}"
    );
    assert!(log.contains("::group::deploy"), "{log}");

    // The network fix happened, and the Kind config was handed host paths.
    assert!(log.contains("joined Docker network `kind`"), "{log}");
    assert!(
        log.contains(&format!(
            "Kind extraMounts hostPath ./coverdata -> {}",
            job.ws().join("e2e/coverdata").display()
        )),
        "{log}"
    );
    let node = format!("{cluster}-control-plane");
    let marker = Command::new("docker")
        .args(["exec", &node, "cat", "/coverdata/marker"])
        .output()
        .expect("docker exec");
    assert_eq!(
        String::from_utf8_lossy(&marker.stdout),
        "written on the runner\n",
        "the node's mount is the runner's e2e/coverdata"
    );

    // A later step on the host: the kubeconfig reaches the API (TLS, client certificate) and the
    // deploy is there.
    let text = std::fs::read_to_string(&kubeconfig).expect("kubeconfig");
    assert!(
        text.contains("server: https://127.0.0.1:") && text.contains("client-key-data: "),
        "{text}"
    );
    let gateway = deployment(&kubeconfig, "example-e2e", "gateway").expect("the host reaches the API");
    assert_eq!(gateway["metadata"]["name"], "gateway");
    // ... which the action's own container could not have: on the default bridge the published
    // port is not on its loopback, and the node's name does not resolve.
    let port = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("server: https://127.0.0.1:"))
        .expect("port");
    let probe = probe_from_the_default_bridge(
        built,
        &format!(
            "timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/{port}' 2>/dev/null && echo loopback-open || echo loopback-closed; \
             getent hosts {node} >/dev/null && echo name-resolves || echo name-unresolved"
        ),
    );
    assert_eq!(probe, "loopback-closed\nname-unresolved\n", "the trap real kind sets");

    // The suite ran as a later step; `command: coverage` (a fresh container again) captures the
    // gateway's coverage from the node: it joins Kind's network itself, copies with the image's
    // docker CLI into the workspace, and adds the phase to the run's reports. The instrumented
    // process's part is played by writing Go's raw files into its node directory.
    let timings: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(job.ws().join("e2e/hybrid-e2e-report/timings.json")).expect("timings"),
    )
    .expect("JSON");
    let run_id = timings["run_id"].as_str().expect("run id");
    let planted = Command::new("docker")
        .args([
            "exec",
            &node,
            "sh",
            "-c",
            &format!(
                "printf meta > /coverdata/{run_id}/gateway/covmeta.0f1e && printf 'x' > /coverdata/{run_id}/gateway/covcounters.0f1e.1.1"
            ),
        ])
        .output()
        .expect("docker exec");
    assert!(planted.status.success(), "{}", String::from_utf8_lossy(&planted.stderr));
    let coverage_commands = job.commands("coverage");
    let coverage_with = [("working_directory", "e2e"), ("command", "coverage")];
    let coverage = job
        .main(built, &coverage_commands, &coverage_with, &[])
        .output()
        .expect("docker runs the coverage step");
    let coverage_log = stderr(&coverage);
    assert_eq!(coverage.status.code(), Some(0), "{coverage_log}");
    assert_no_token(&coverage);
    assert!(coverage_log.contains("joined Docker network `kind`"), "{coverage_log}");
    let copied = job.ws().join("e2e/hybrid-e2e-report/coverage/gateway");
    assert!(copied.join("covmeta.0f1e").is_file(), "{coverage_log}");
    assert!(copied.join("covcounters.0f1e.1.1").is_file(), "{coverage_log}");
    let after: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(job.ws().join("e2e/hybrid-e2e-report/timings.json")).expect("timings"),
    )
    .expect("JSON");
    let step = after["phases"]
        .as_array()
        .expect("phases")
        .iter()
        .find(|phase| phase["name"] == "coverage")
        .and_then(|phase| phase["steps"].as_array())
        .and_then(|steps| steps.first())
        .cloned()
        .expect("a coverage phase in timings.json");
    assert_eq!(step["coverage"]["meta_files"], 1, "{step:#}");
    assert_eq!(step["coverage"]["counter_files"], 1, "{step:#}");
    // The image has no Go: raw data, no percentage, and a warning that says so.
    assert_eq!(step["coverage"]["percent"], serde_json::Value::Null);
    assert_eq!(
        step["coverage"]["workloads"],
        serde_json::json!([
            "Deployment example-e2e/gateway: scaled to 0",
            "Deployment example-e2e/gateway: scaled back to 1"
        ])
    );
    assert!(
        coverage_commands.summary().starts_with("### E2E coverage"),
        "{}",
        coverage_commands.summary()
    );
    // Its own post step (every use of the action has one, last used first) leaves the cluster
    // to the `run` step's.
    let coverage_post = job.post(built, &coverage_commands, &coverage_with);
    assert_eq!(coverage_post.status.code(), Some(0), "{}", stderr(&coverage_post));
    assert!(
        stderr(&coverage_post).contains("nothing to tear down after `command: coverage`"),
        "{}",
        stderr(&coverage_post)
    );
    assert!(
        !node_containers(&cluster).is_empty(),
        "the cluster is the run step's to delete"
    );

    // The post step deletes the cluster (preserve on-failure, outcome success).
    let state = commands.state();
    assert_eq!(state["outcome"], "success");
    assert_eq!(state["preserve"], "on-failure");
    let post = job.post(built, &commands, &with);
    assert_eq!(post.status.code(), Some(0), "{}", stderr(&post));
    assert!(
        stderr(&post).contains(&format!("deleted Kind cluster `{cluster}`")),
        "{}",
        stderr(&post)
    );
    assert_eq!(node_containers(&cluster), Vec::<String>::new());
    assert!(!kubeconfig.exists());
    for image in ["gateway", "datastorage", "mock-llm"] {
        let _ = Command::new("docker")
            .args(["image", "rm", &format!("localhost/example-action-it/{image}:e2e")])
            .output();
    }
}

#[test]
fn lint_annotations_reach_the_step_log() {
    let Some(built) = built() else { return };
    let job = Job::new();
    write_files(
        job.ws(),
        &[(
            "services/api/Dockerfile".to_owned(),
            "FROM registry.access.redhat.com/ubi9/ubi:9.6\nRUN dnf -y update \\\n    && dnf install -y git\n"
                .to_owned(),
        )],
    );
    let commands = job.commands("lint");
    let output = job
        .main(
            built,
            &commands,
            &[("command", "lint"), ("lint_paths", "services")],
            &[],
        )
        .output()
        .expect("docker runs the action");
    assert_eq!(output.status.code(), Some(3), "{}", stderr(&output));
    let annotations = stdout(&output);
    assert!(
        annotations.contains("file=services/api/Dockerfile,line=2,") && annotations.starts_with("::error "),
        "{annotations}"
    );
    assert!(commands.outputs().is_empty());
    assert_no_token(&output);
}

#[test]
fn a_cancelled_job_leaves_its_report_and_the_post_step_still_runs() {
    let Some(built) = built() else { return };
    let job = Job::new();
    example_in(job.ws());
    let commands = job.commands("main");
    let with = [("working_directory", "e2e")];
    let name = format!("hybrid-e2e-it-cancel-{}", unique());
    let main = job.main(built, &commands, &with, &[("FAKE_KIND_NODE_READY_AFTER_MS", "600000")]);
    // A named container, so the "runner" can cancel it.
    let position = main.get_args().position(|arg| arg == "--name").expect("--name") + 1;
    let args: Vec<String> = main
        .get_args()
        .enumerate()
        .map(|(index, arg)| {
            if index == position {
                name.clone()
            } else {
                arg.to_string_lossy().into_owned()
            }
        })
        .collect();
    let child = Command::new("docker")
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("docker run");
    // Cancel once the deploy is waiting: the runner stops the container with SIGTERM.
    let deadline = Instant::now() + Duration::from_secs(300);
    let report = job.ws().join("e2e/hybrid-e2e-report/logs/deploy");
    while !report.is_dir() {
        assert!(Instant::now() < deadline, "the deploy never started");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(1));
    let _ = Command::new("docker")
        .args(["kill", "--signal", "TERM", &name])
        .output();
    let output = child.wait_with_output().expect("main step ends");
    let state = commands.state();
    if let Some(cluster) = state.get("cluster_name") {
        job.remember(cluster);
    }
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert_eq!(state["outcome"], "cancelled");
    let timings: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(job.ws().join("e2e/hybrid-e2e-report/timings.json")).expect("timings.json written"),
    )
    .expect("JSON");
    assert_eq!(timings["status"], "cancelled");
    assert_eq!(commands.outputs()["status"], "cancelled");
    // on-failure keeps a cancelled run's cluster for a look; the job's runner goes away with it.
    let post = job.post(built, &commands, &with);
    assert_eq!(post.status.code(), Some(0));
    assert!(stderr(&post).contains("ended: cancelled"), "{}", stderr(&post));
    assert!(!node_containers(&state["cluster_name"]).is_empty());
}
