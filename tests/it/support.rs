//! Running the binary the way users do.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `hybrid-e2e ARGS` in `directory`, with colour off and no inherited config.
pub(crate) fn hybrid_e2e_in(directory: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hybrid-e2e"))
        .args(args)
        .current_dir(directory)
        .env_remove("HYBRID_E2E_CONFIG")
        .env_remove("HYBRID_E2E_COLOR")
        .env("NO_COLOR", "1")
        .output()
        .expect("hybrid-e2e runs")
}

/// `hybrid-e2e ARGS` at the repository root.
pub(crate) fn hybrid_e2e(args: &[&str]) -> Output {
    hybrid_e2e_in(&repo(), args)
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 stdout")
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("UTF-8 stderr")
}

/// Copy a fixture directory into a fresh temporary directory.
pub(crate) fn copy_fixtures(relative: &str) -> tempfile::TempDir {
    let directory = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(repo().join(relative)).expect("fixture dir") {
        let path = entry.expect("entry").path();
        if path.is_file() {
            std::fs::copy(&path, directory.path().join(path.file_name().expect("name"))).expect("copy");
        }
    }
    directory
}

/// The base image the test Dockerfiles build on (made by `.ci/test.sh` with `docker import` /
/// `podman import` of a busybox-static root filesystem: no registry is reachable here).
pub(crate) const BASE_IMAGE: &str = "hybrid-e2e.test/busybox:base";

/// Whether the real `engine` (docker or podman) is usable with the base image; panics instead of
/// skipping when `.ci/test.sh` said engines are required (`HYBRID_E2E_REQUIRE_ENGINES=1`).
pub(crate) fn engine_ready(engine: &str) -> bool {
    let ready = Command::new(engine)
        .args(["image", "inspect", BASE_IMAGE])
        .output()
        .is_ok_and(|output| output.status.success());
    if !ready {
        assert!(
            std::env::var("HYBRID_E2E_REQUIRE_ENGINES").map_or(true, |value| value != "1"),
            "{engine} with {BASE_IMAGE} is required (run .ci/test.sh to install and start it)"
        );
        eprintln!("skipping: {engine} with {BASE_IMAGE} is not available");
    }
    ready
}

/// Which container engine a project's runs use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engines {
    /// The fake `docker` and `podman` (tests/fake-tools): orchestration without a daemon.
    Fake,
    /// The machine's real Docker and Podman (the `real_engines` tests).
    Real,
}

/// A throwaway project: Dockerfiles, a config, a report directory and fake-tools state.
pub(crate) struct Project {
    pub(crate) dir: tempfile::TempDir,
    /// The cluster's API server: the fake kind's kubeconfig points here.
    pub(crate) api: fake_apiserver::FakeApiServer,
    pub(crate) engines: Engines,
}

impl Project {
    /// A project on the fake engines.
    pub(crate) fn new(config: &str, files: &[(&str, &str)]) -> Project {
        Project::with_script(config, files, fake_apiserver::Script::default())
    }

    /// A project on the machine's real engines.
    pub(crate) fn real(config: &str, files: &[(&str, &str)]) -> Project {
        Project {
            engines: Engines::Real,
            ..Project::new(config, files)
        }
    }

    /// A project whose cluster plays `script`. Its pods start only with images the fake kind
    /// loaded into the cluster (or the script marks loaded or pullable).
    pub(crate) fn with_script(config: &str, files: &[(&str, &str)], mut script: fake_apiserver::Script) -> Project {
        let dir = tempfile::tempdir().expect("tempdir");
        script.kind_state = Some(dir.path().join("kind-state"));
        for (path, body) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, body).expect("write");
        }
        std::fs::write(dir.path().join("hybrid-e2e.yaml"), config).expect("config");
        std::fs::create_dir_all(dir.path().join("kind-state")).expect("state");
        Project {
            dir,
            api: fake_apiserver::FakeApiServer::start(script),
            engines: Engines::Fake,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `hybrid-e2e ARGS` with the fake kind, in the project, with extra environment.
    pub(crate) fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_hybrid-e2e"));
        command
            .args(args)
            .current_dir(self.path())
            .env("NO_COLOR", "1")
            .env("HYBRID_E2E_KIND", fake_tools::binary("kind"))
            .env("FAKE_KIND_STATE", self.path().join("kind-state"))
            .env("FAKE_KIND_API_SERVER", self.api.url())
            .env("HYBRID_E2E_POLL_INTERVAL", "100ms")
            .env("HYBRID_E2E_MIN_FREE_DISK_GIB", "0.1")
            .env("BUILDAH_ISOLATION", "chroot")
            .env_remove("HYBRID_E2E_CONFIG")
            .env_remove("GITHUB_ACTIONS")
            .env_remove("GITHUB_SHA");
        if self.engines == Engines::Fake {
            command
                .env("HYBRID_E2E_DOCKER", fake_tools::binary("docker"))
                .env("HYBRID_E2E_PODMAN", fake_tools::binary("podman"))
                .env("FAKE_ENGINE_STATE", self.path().join("engine-state"));
        } else {
            command.env_remove("HYBRID_E2E_DOCKER").env_remove("HYBRID_E2E_PODMAN");
        }
        for (key, value) in env {
            command.env(key, value);
        }
        command
    }

    /// The fake engines' recorded calls: (program, args joined by spaces).
    pub(crate) fn engine_calls(&self) -> Vec<(String, String)> {
        std::fs::read_to_string(self.path().join("engine-state/engine-calls.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line).expect("call JSON");
                let args: Vec<&str> = value["args"]
                    .as_array()
                    .expect("args")
                    .iter()
                    .filter_map(|arg| arg.as_str())
                    .collect();
                (value["program"].as_str().unwrap_or_default().to_owned(), args.join(" "))
            })
            .collect()
    }

    pub(crate) fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        self.command(args, env).output().expect("hybrid-e2e runs")
    }

    /// The fake kind's recorded calls: (args joined by spaces, provider).
    pub(crate) fn kind_calls(&self) -> Vec<(String, Option<String>)> {
        std::fs::read_to_string(self.path().join("kind-state/calls.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|line| {
                let value: serde_json::Value = serde_json::from_str(line).expect("call JSON");
                let args: Vec<&str> = value["args"]
                    .as_array()
                    .expect("args")
                    .iter()
                    .filter_map(|arg| arg.as_str())
                    .collect();
                (args.join(" "), value["provider"].as_str().map(str::to_owned))
            })
            .collect()
    }

    pub(crate) fn timings(&self) -> serde_json::Value {
        let text =
            std::fs::read_to_string(self.path().join("hybrid-e2e-report/timings.json")).expect("timings.json written");
        serde_json::from_str(&text).expect("timings JSON")
    }

    /// Images the fake kind loaded into `cluster`.
    pub(crate) fn loaded_images(&self, cluster: &str) -> Vec<String> {
        std::fs::read_to_string(self.path().join("kind-state/clusters").join(cluster))
            .unwrap_or_default()
            .lines()
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect()
    }
}
