#!/usr/bin/env bash
# Builds the action's image from docker/Dockerfile FOR REAL, for tests, with no internet but
# Debian's package mirror:
#   - the base image is Debian bookworm made here with mmdebstrap + `docker import` (cached:
#     built once per machine);
#   - kind, kubectl and the Docker CLI come from local files put into the build context's
#     vendor/ directory; the Dockerfile's *_URL args point at file:///vendor/NAME with their real
#     SHA-256, so the same download-and-verify code as the release runs;
#   - the build context is a copy of docker/ (as the Actions runner uses the Dockerfile's
#     directory as context), kept under the cache directory so repeated builds hit Docker's cache.
#
# Usage: docker/build-test-image.sh BINARY KIND
#   BINARY  the hybrid-e2e executable to ship (must be static: see the Dockerfile)
#   KIND    the kind executable to ship (tests: the fake kind)
# Environment (all optional):
#   KUBECTL             kubectl to ship          [default: a real one found here, else a stand-in]
#   DOCKER_CLI          docker client to ship    [default: `command -v docker`]
#   IMAGE_TAG           tag of the built image   [default: hybrid-e2e.test/action:local]
#   BASE_TAG            tag of the Debian base   [default: hybrid-e2e.test/debian:bookworm]
#   DEBIAN_MIRROR       mirror for mmdebstrap    [default: http://deb.debian.org/debian]
#   HYBRID_E2E_IMAGE_CACHE  cache directory      [default: <repo>/target/action-image]
# Output: the image tag on stdout (everything else goes to stderr). Exit status non-zero on failure.
# Idempotent: a second run reuses the base image and Docker's layer cache (a few seconds).
set -euo pipefail

die() { printf 'build-test-image: %s\n' "$*" >&2; exit 1; }
log() { printf 'build-test-image: %s\n' "$*" >&2; }

[[ $# -eq 2 ]] || die "usage: $0 BINARY KIND"
binary=$(realpath -e "$1") || die "binary not found: $1"
kind=$(realpath -e "$2") || die "kind not found: $2"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
image_tag=${IMAGE_TAG:-hybrid-e2e.test/action:local}
base_tag=${BASE_TAG:-hybrid-e2e.test/debian:bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${HYBRID_E2E_IMAGE_CACHE:-$repo/target/action-image}
mkdir -p "$cache"

docker info >/dev/null 2>&1 || die "the Docker daemon does not answer (start dockerd first)"

# One build at a time per cache directory (tests may call this concurrently).
exec 9>"$cache/.lock"
flock 9

# --- kubectl and the Docker CLI ------------------------------------------------------------
find_kubectl() {
    # A real kubectl, not the Google Cloud SDK's dispatcher (which needs its siblings).
    local candidate
    for candidate in /usr/lib/google-cloud-sdk/bin/kubectl.1.3[0-9] /usr/local/bin/kubectl /usr/bin/kubectl; do
        [[ -x $candidate ]] || continue
        if "$candidate" version --client >/dev/null 2>&1; then
            realpath "$candidate"
        fi
    done | sort -V | tail -n 1
}
kubectl=${KUBECTL:-$(find_kubectl)}
if [[ -z $kubectl ]]; then
    # No kubectl on this machine (Debian packages none that is current): ship a stand-in that
    # answers `kubectl version --client`, which is all the image build runs.
    kubectl="$cache/kubectl-standin"
    printf '#!/bin/sh\necho "Client Version: v0.0.0-hybrid-e2e-test-standin"\n' >"$kubectl"
    chmod 0755 "$kubectl"
    log "no kubectl found: shipping a stand-in (set KUBECTL=/path/to/kubectl for a real one)"
fi
[[ -x $kubectl ]] || die "kubectl is not executable: $kubectl"
docker_cli=${DOCKER_CLI:-$(command -v docker)}
docker_cli=$(realpath -e "$docker_cli") || die "docker client not found"

# --- the Debian base image (once per machine) ----------------------------------------------
# Made like the official debian:bookworm-slim: minbase, no docs/man pages/locales (dpkg
# path-excludes that stay in the image, as slim's /etc/dpkg/dpkg.cfg.d/docker), and apt's
# docker-clean configuration (no package caches left in layers). The label records this recipe;
# a base made by an older recipe is rebuilt.
recipe=3
if [[ "$(docker image inspect --format '{{index .Config.Labels "hybrid-e2e.base-recipe"}}' "$base_tag" 2>/dev/null)" != "$recipe" ]]; then
    if ! command -v mmdebstrap >/dev/null 2>&1; then
        log "installing mmdebstrap"
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >&2
    fi
    log "making $base_tag with mmdebstrap (minbase bookworm, slimmed; about a minute)"
    rootfs="$cache/debian-bookworm.tar"
    printf '%s\n' 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";' >"$cache/docker-clean"
    # shellcheck disable=SC2016 # "$1" in the last hook is the rootfs, expanded by mmdebstrap's shell
    mmdebstrap --quiet --variant=minbase \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-include=/usr/share/locale/locale.alias' \
        --customize-hook="upload $cache/docker-clean /etc/apt/apt.conf.d/docker-clean" \
        --customize-hook='rm -f "$1"/var/cache/apt/*.bin' \
        bookworm "$rootfs" \
        "deb $mirror bookworm main" \
        "deb $mirror bookworm-updates main" \
        "deb ${mirror%/debian}/debian-security bookworm-security main" >&2
    docker import --change 'CMD ["bash"]' --change "LABEL hybrid-e2e.base-recipe=$recipe" \
        "$rootfs" "$base_tag" >/dev/null
    rm -f "$rootfs"
fi

# --- the build context: a copy of docker/ plus the binaries ----------------------------------
context="$cache/context"
mkdir -p "$context/vendor"
# Copy only when the content changed, so file metadata stays stable between runs.
sync_file() { cmp -s "$1" "$2" 2>/dev/null || cp -p "$1" "$2"; }
for file in Dockerfile .dockerignore fetch-verified.sh hybrid-e2e-post.sh; do
    sync_file "$here/$file" "$context/$file"
done
sync_file "$binary" "$context/hybrid-e2e"
sync_file "$kind" "$context/vendor/kind"
sync_file "$kubectl" "$context/vendor/kubectl"
# The release downloads Docker's static bundle (a .tgz with docker/docker); pack the local client
# the same way, only when it changed (gzip of ~40 MB takes a while).
cli_sum=$(sha256sum "$docker_cli" | cut -d' ' -f1)
if [[ ! -f $context/vendor/docker.tgz || "$(cat "$cache/docker.tgz.source" 2>/dev/null)" != "$cli_sum" ]]; then
    staging=$(mktemp -d)
    mkdir "$staging/docker"
    cp "$docker_cli" "$staging/docker/docker"
    tar --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$staging" -cf - docker/docker | gzip -n -1 >"$context/vendor/docker.tgz"
    rm -rf "$staging"
    printf '%s\n' "$cli_sum" >"$cache/docker.tgz.source"
fi

sha() { sha256sum "$1" | cut -d' ' -f1; }

log "building $image_tag (base $base_tag)"
docker build \
    --build-arg "BASE_IMAGE=$base_tag" \
    --build-arg "KIND_URL=file:///vendor/kind" \
    --build-arg "KIND_SHA256=$(sha "$context/vendor/kind")" \
    --build-arg "KUBECTL_URL=file:///vendor/kubectl" \
    --build-arg "KUBECTL_SHA256=$(sha "$context/vendor/kubectl")" \
    --build-arg "DOCKER_CLI_URL=file:///vendor/docker.tgz" \
    --build-arg "DOCKER_CLI_SHA256=$(sha "$context/vendor/docker.tgz")" \
    --tag "$image_tag" \
    --file "$context/Dockerfile" \
    "$context" >&2

size=$(docker image inspect --format '{{.Size}}' "$image_tag")
log "built $image_tag ($((size / 1000000)) MB)"
printf '%s\n' "$image_tag"
