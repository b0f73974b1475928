//! Helpers for unit tests that check our output against real peers (BuildKit's parser,
//! junitparser, `@actions/core`). `.ci/test.sh` installs the peers and sets
//! `HYBRID_E2E_REQUIRE_PEERS=1`, so there a missing peer fails the test instead of skipping it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A path inside the repository.
pub(crate) fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn peers_required() -> bool {
    std::env::var("HYBRID_E2E_REQUIRE_PEERS").is_ok_and(|value| value == "1")
}

/// Run a peer program; `None` (with a note) when it is not installed and peers are optional.
fn run_peer(program: &str, args: &[&str], stdin: Option<&str>) -> Option<String> {
    let spawned = Command::new(program)
        .args(args)
        .current_dir(repo_path("tests/peers"))
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => return missing(&format!("{program}: {error}")),
    };
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(input.as_bytes()).expect("write to peer");
    }
    let output = child.wait_with_output().expect("peer runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        // `PeerMissing`: a peer script that found no binary to drive (kubectl_yaml.py, kubectl).
        if stderr.contains("ModuleNotFoundError")
            || stderr.contains("ERR_MODULE_NOT_FOUND")
            || stderr.contains("PeerMissing")
        {
            return missing(&stderr);
        }
        panic!("peer {program} {args:?} failed: {stderr}");
    }
    Some(String::from_utf8(output.stdout).expect("peer prints UTF-8"))
}

fn missing(why: &str) -> Option<String> {
    assert!(
        !peers_required(),
        "a required test peer is missing (run .ci/test.sh to install it): {why}"
    );
    eprintln!("skipping the peer check, peer not installed: {why}");
    None
}

/// Run `tests/peers/SCRIPT` with the peer Python (`HYBRID_E2E_PEER_PYTHON`, default `python3`).
pub(crate) fn python_peer(script: &str, args: &[&str]) -> Option<String> {
    let python = std::env::var("HYBRID_E2E_PEER_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let script = repo_path("tests/peers").join(script);
    let mut all = vec![script.to_str().expect("UTF-8 path")];
    all.extend_from_slice(args);
    run_peer(&python, &all, None)
}

/// Run `tests/peers/SCRIPT` with node, feeding `stdin`.
pub(crate) fn node_peer(script: &str, stdin: &str) -> Option<String> {
    if !repo_path("tests/peers/node_modules").is_dir() {
        return missing("tests/peers/node_modules is not installed (npm ci in tests/peers)");
    }
    run_peer("node", &[script], Some(stdin))
}

/// Every Dockerfile of the test corpora, sorted.
pub(crate) fn corpus_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    for directory in ["tests/fixtures/dockerfiles", "tests/fixtures/dockerfiles-extra"] {
        for entry in std::fs::read_dir(repo_path(directory)).expect("corpus directory") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|extension| extension == "Dockerfile") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// A single-threaded runtime for async unit tests.
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}
