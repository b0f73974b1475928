//! Stand-ins for `kind`, `docker`, `podman` and `go` (coverage only) at the process boundary, for hybrid-e2e's tests
//! and benchmarks (never shipped). The binaries are thin: `src/bin/*.rs` call into here.
//! [`binaries`] builds them on first use, so `cargo test` and `cargo bench` need no manual step.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub mod engine;
pub mod kind_cli;
pub mod kind_node;

/// The directory holding the fake `kind`, `docker` and `podman`, built (release, in their own
/// target directory, so this never waits for the lock of the build that runs the tests) on
/// first use.
pub fn binaries() -> &'static Path {
    static DIRECTORY: OnceLock<PathBuf> = OnceLock::new();
    DIRECTORY.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let workspace = manifest.join("../..");
        let target = workspace.join("target/fake-tools");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        // Host binaries in their own directory, whatever target the tests themselves are built
        // for (`.ci/test.sh` builds them for the static target).
        let output = Command::new(cargo)
            .current_dir(&workspace)
            .env_remove("CARGO_BUILD_TARGET")
            .env_remove("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS")
            .args([
                "build",
                "--release",
                "--locked",
                "-p",
                "fake-tools",
                "--bins",
                "--target-dir",
            ])
            .arg(&target)
            .output()
            .expect("cargo runs");
        assert!(
            output.status.success(),
            "building the fake tools failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        target.join("release")
    })
}

/// The path of one fake (`kind`, `docker`, `podman`).
pub fn binary(name: &str) -> PathBuf {
    binaries().join(name)
}
