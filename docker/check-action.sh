#!/usr/bin/env bash
# Checks the container action's files with the real peers (versions pinned in
# tests/peers/requirements-action.txt, installed into a venv on first use):
#   actionlint (+ shellcheck on run: scripts), check-jsonschema (GitHub's workflow and action
#   schemas), zizmor --offline, hadolint, BuildKit's Dockerfile parser, shellcheck on docker/*.sh,
#   kubernetes-validate --strict on manifests/, our own `hybrid-e2e lint docker/`, and the
#   structural checks of docker/check_action.py (inputs/outputs, pins, permissions, docs tables).
#
# Usage: docker/check-action.sh
# Environment (optional):
#   HYBRID_E2E_ACTION_VENV   venv for the peers     [default: <repo>/target/action-venv]
#   HYBRID_E2E_BIN           hybrid-e2e to run `lint docker/` with
#                            [default: target/release/hybrid-e2e or target/debug/hybrid-e2e]
#   HYBRID_E2E_REQUIRE_PEERS=1  a missing hybrid-e2e binary fails instead of being skipped
# Output: one line per check ("ok", "FAILED" with the tool's output, "skipped" with the reason)
# and a closing "N passed, N failed" line. Exit status 1 when any check failed.
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
cd "$repo" || exit 2
venv=${HYBRID_E2E_ACTION_VENV:-$repo/target/action-venv}
requirements=tests/peers/requirements-action.txt

passed=0
failed=0
skipped=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

check() {
    local name=$1
    shift
    if "$@" >"$log" 2>&1; then
        passed=$((passed + 1))
        printf 'ok       %s\n' "$name"
    else
        failed=$((failed + 1))
        printf 'FAILED   %s\n' "$name"
        sed 's/^/    /' "$log"
    fi
}
skip() {
    skipped=$((skipped + 1))
    printf 'skipped  %s: %s\n' "$1" "$2"
}

# --- the peers ---------------------------------------------------------------------------------
stamp="$venv/.requirements-action.sha256"
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [[ ! -x $venv/bin/python || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    echo "installing the peers into $venv ($requirements)"
    if [[ ! -x $venv/bin/python ]]; then
        python3 -m venv "$venv" || { echo "python3 -m venv failed (apt-get install python3-venv)" >&2; exit 2; }
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" || exit 2
    printf '%s\n' "$want" >"$stamp"
fi
export PATH="$venv/bin:$PATH" # actionlint finds shellcheck here
py="$venv/bin/python"

shopt -s nullglob
workflows=(.github/workflows/*.yml workflows/*.yml)
shopt -u nullglob

# --- workflows and action.yml ---------------------------------------------------------------------
check "actionlint $(actionlint --version | head -n 1)" \
    actionlint -no-color "${workflows[@]}"
check "check-jsonschema vendor.github-workflows (${#workflows[@]} files)" \
    check-jsonschema --builtin-schema vendor.github-workflows "${workflows[@]}"
check "check-jsonschema vendor.github-actions action.yml" \
    check-jsonschema --builtin-schema vendor.github-actions action.yml
check "$(zizmor --version) --offline" \
    zizmor --offline --no-progress --config .github/zizmor.yml action.yml "${workflows[@]}"
check "action.yml wiring (check_action.py action)" "$py" docker/check_action.py "$repo" action
check "workflow pins and permissions (check_action.py workflows)" "$py" docker/check_action.py "$repo" workflows
check "docs/action.md tables match action.yml (check_action.py docs)" "$py" docker/check_action.py "$repo" docs

# --- the image ------------------------------------------------------------------------------------
check "$(hadolint --version) docker/Dockerfile" \
    hadolint --failure-threshold error docker/Dockerfile
check "BuildKit's parser on docker/Dockerfile (check_action.py dockerfile)" \
    "$py" docker/check_action.py "$repo" dockerfile
check "shellcheck docker/*.sh" shellcheck docker/*.sh

bin=${HYBRID_E2E_BIN:-}
if [[ -z $bin ]]; then
    for candidate in target/release/hybrid-e2e target/debug/hybrid-e2e; do
        [[ -x $candidate ]] && { bin=$candidate; break; }
    done
fi
if [[ -n $bin && -x $bin ]]; then
    check "hybrid-e2e lint docker/ ($bin)" "$bin" lint docker/
elif [[ ${HYBRID_E2E_REQUIRE_PEERS:-} == 1 ]]; then
    failed=$((failed + 1))
    echo "FAILED   hybrid-e2e lint docker/: no hybrid-e2e binary (set HYBRID_E2E_BIN)"
else
    skip "hybrid-e2e lint docker/" "no hybrid-e2e binary (build it or set HYBRID_E2E_BIN)"
fi

# --- building blocks ------------------------------------------------------------------------------
shopt -s nullglob
manifests=(manifests/*.yaml)
shopt -u nullglob
for version in 1.33.0 1.36.0; do
    check "kubernetes-validate --strict -k $version manifests/*.yaml" \
        kubernetes-validate --strict --quiet -k "$version" "${manifests[@]}"
done
check "building blocks and Kind configs (check_action.py manifests)" \
    "$py" docker/check_action.py "$repo" manifests

echo
if ((skipped)); then
    echo "check-action: $passed passed, $failed failed, $skipped skipped"
else
    echo "check-action: $passed passed, $failed failed"
fi
((failed == 0))
