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
