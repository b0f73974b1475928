//! The fake `kind` as a process, parsing its command line as kind's cobra CLI does (issue 20):
//! flags anywhere (`load docker-image --name c img` loads `img`), `--flag value` and
//! `--flag=value`, unknown flags and missing values are errors with kind's texts and exit 1, and
//! `--config` must be a v1alpha4 `Cluster`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Kind {
    state: PathBuf,
}

impl Kind {
    fn new(test: &str) -> Kind {
        let state = std::env::temp_dir().join(format!("fake-kind-cli-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&state);
        std::fs::create_dir_all(state.join("engine/images")).expect("state");
        Kind { state }
    }

    /// An image the fake docker has (what `kind load docker-image` checks first).
    fn docker_has(&self, reference: &str) {
        let file = reference.replace(['/', ':', '@'], "_");
        std::fs::write(self.state.join("engine/images").join(file), "{}").expect("image");
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_kind"))
            .args(args)
            .env("FAKE_KIND_STATE", &self.state)
            .env("FAKE_ENGINE_STATE", self.state.join("engine"))
            .env("HYBRID_E2E_DOCKER", env!("CARGO_BIN_EXE_docker"))
            .env_remove("FAKE_KIND_CREATE_FAILURE")
            .env_remove("FAKE_KIND_LOAD_FAILURE")
            .output()
            .expect("the fake kind runs")
    }

    fn loaded(&self, cluster: &str) -> Vec<String> {
        std::fs::read_to_string(self.state.join("clusters").join(cluster))
            .unwrap_or_default()
            .lines()
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect()
    }

    fn path(&self) -> &Path {
        &self.state
    }
}

impl Drop for Kind {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.state);
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn fails_with(output: &Output, message: &str) {
    assert_eq!(output.status.code(), Some(1), "{}", stderr(output));
    assert_eq!(stderr(output).trim_end(), message);
}

#[test]
fn images_after_flags_are_loaded() {
    let kind = Kind::new("load");
    assert!(kind.run(&["create", "cluster", "--name", "c"]).status.success());
    kind.docker_has("localhost/team/api:1");
    kind.docker_has("postgres:16");
    let output = kind.run(&["load", "docker-image", "--name", "c", "localhost/team/api:1"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = kind.run(&["load", "docker-image", "postgres:16", "--name=c"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(kind.loaded("c"), ["localhost/team/api:1", "postgres:16"]);
    // The images are checked whatever their place: one docker does not have fails the load.
    fails_with(
        &kind.run(&["load", "docker-image", "-n", "c", "missing:1"]),
        "ERROR: image: \"missing:1\" not present locally",
    );
    fails_with(
        &kind.run(&["load", "docker-image", "--name", "c"]),
        "ERROR: a list of image names is required",
    );
    fails_with(
        &kind.run(&["load", "image-archive", "--name", "c"]),
        "ERROR: name of image archive is required",
    );
}

#[test]
fn unknown_flags_and_missing_values_are_errors() {
    let kind = Kind::new("flags");
    fails_with(
        &kind.run(&["create", "cluster", "--name", "c", "--retian"]),
        "ERROR: unknown flag: --retian",
    );
    fails_with(
        &kind.run(&["load", "docker-image", "img", "-x"]),
        "ERROR: unknown shorthand flag: 'x' in -x",
    );
    fails_with(
        &kind.run(&["get", "kubeconfig", "--name"]),
        "ERROR: flag needs an argument: --name",
    );
    fails_with(
        &kind.run(&["create", "cluster", "c"]),
        "ERROR: unknown command \"c\" for \"kind create cluster\"",
    );
    fails_with(
        &kind.run(&["create", "cluster", "--retain=maybe"]),
        "ERROR: invalid argument \"maybe\" for \"--retain\" flag: strconv.ParseBool: parsing \"maybe\": invalid syntax",
    );
    assert!(!kind.path().join("clusters").exists(), "nothing was created");
    // Flags before the command words work as in cobra.
    let output = kind.run(&["-q", "create", "cluster", "--retain", "--name=c"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(kind.path().join("clusters/c").exists());
}

#[test]
fn the_config_must_be_a_kind_cluster() {
    let kind = Kind::new("config");
    let config = kind.path().join("kind.yaml");
    let create = |text: &str| {
        std::fs::write(&config, text).expect("config");
        kind.run(&["create", "cluster", "--config", config.to_str().expect("UTF-8")])
    };
    fails_with(
        &create("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha3\n"),
        "ERROR: failed to create cluster: unknown apiVersion: kind.x-k8s.io/v1alpha3",
    );
    fails_with(
        &create("kind: Config\napiVersion: kind.x-k8s.io/v1alpha4\n"),
        "ERROR: failed to create cluster: unknown kind kind.x-k8s.io/v1alpha4 for apiVersion: Config",
    );
    fails_with(
        &create("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnode:\n  - role: control-plane\n"),
        "ERROR: failed to create cluster: unable to decode config: yaml: unmarshal errors:\n  line 3: field node not found in type v1alpha4.Cluster",
    );
    // A valid config's `name` names the cluster when there is no --name.
    let output = create(
        "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nname: from-config\nnodes:\n  - role: control-plane\n    extraPortMappings:\n      - {containerPort: 80, hostPort: 8080}\n",
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(kind.path().join("clusters/from-config").exists());
}
