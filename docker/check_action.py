"""Structural checks of the action's files that no peer makes (run by docker/check-action.sh).

Usage: check_action.py REPO CHECK    where CHECK is one of:
  action      action.yml: the inputs and outputs of issue 14, defaults, runs.* wiring
  workflows   uses: pinned, permissions per job, no pull_request_target, copies identical
  dockerfile  docker/Dockerfile through BuildKit's parser: multi-stage, no USER, COPY sources
  manifests   manifests/: fully qualified images, pull policy, probes, requests; Kind configs
  docs        docs/action.md tables list exactly action.yml's inputs and outputs
Prints what it checked; exits 1 with the problems when there are any.
"""
import re
import sys
from pathlib import Path

import yaml

EXPECTED_INPUTS = [
    "command", "config", "working_directory", "github_token", "check_run_id", "check_name",
    "fail_on_target", "preserve_cluster", "report_dir", "tag_suffix", "lint_paths",
    "lint_format", "args",
]
EXPECTED_OUTPUTS = [
    "setup-seconds", "within-target", "status", "failed-phase", "failure-class", "report-dir",
    "junit-path", "kubeconfig", "cluster-name",
]
REUSABLE = ["e2e.yml", "publish-results.yml", "nightly.yml"]
SELF_ACTION = "org/hybrid-e2e@v1"
PINNED_USES = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")


def load(path):
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def check_action(repo):
    problems = []
    action = load(repo / "action.yml")
    inputs = action.get("inputs") or {}
    if list(inputs) != EXPECTED_INPUTS:
        problems.append(f"action.yml inputs {list(inputs)} != {EXPECTED_INPUTS}")
    for name, spec in inputs.items():
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            problems.append(f"input {name!r} is not snake_case")
        if "default" not in (spec or {}):
            problems.append(f"input {name!r} has no default")
        if (spec or {}).get("required"):
            problems.append(f"input {name!r} is required (every input must have a usable default)")
    if str(inputs.get("github_token", {}).get("default")) != "${{ github.token }}":
        problems.append("github_token must default to ${{ github.token }}")
    if str(inputs.get("check_run_id", {}).get("default")) != "${{ job.check_run_id }}":
        problems.append("check_run_id must default to ${{ job.check_run_id }}")
    outputs = action.get("outputs") or {}
    if list(outputs) != EXPECTED_OUTPUTS:
        problems.append(f"action.yml outputs {list(outputs)} != {EXPECTED_OUTPUTS}")
    runs = action.get("runs") or {}
    if runs.get("using") != "docker":
        problems.append("runs.using must be docker")
    image = str(runs.get("image", ""))
    if not (image == "docker/Dockerfile" or re.fullmatch(r"docker://ghcr\.io/[a-z0-9._-]+/hybrid-e2e@sha256:[0-9a-f]{64}", image)):
        problems.append(f"runs.image {image!r}: docker/Dockerfile on main, a digest-pinned ghcr.io image on release tags")
    if runs.get("entrypoint") != "/usr/local/bin/hybrid-e2e":
        problems.append("runs.entrypoint must be /usr/local/bin/hybrid-e2e")
    if runs.get("args") != ["action"]:
        problems.append("runs.args must be [action] (without it the runner passes the `args` input as the command line)")
    if runs.get("post-entrypoint") != "/usr/local/bin/hybrid-e2e-post":
        problems.append("runs.post-entrypoint must be /usr/local/bin/hybrid-e2e-post")
    dockerfile = (repo / "docker" / "Dockerfile").read_text(encoding="utf-8")
    if "COPY hybrid-e2e-post.sh /out/hybrid-e2e-post" not in dockerfile or "COPY --from=tools /out/ /usr/local/bin/" not in dockerfile:
        problems.append("docker/Dockerfile must install hybrid-e2e-post next to hybrid-e2e in /usr/local/bin")
    post = (repo / "docker" / "hybrid-e2e-post.sh").read_text(encoding="utf-8")
    if "exec /usr/local/bin/hybrid-e2e action post" not in post:
        problems.append("docker/hybrid-e2e-post.sh must exec `hybrid-e2e action post`")
    print(f"action.yml: {len(inputs)} inputs, {len(outputs)} outputs, image {image}")
    return problems


def workflow_files(repo):
    return sorted((repo / ".github" / "workflows").glob("*.yml")) + sorted((repo / "workflows").glob("*.yml"))


def check_workflows(repo):
    problems = []
    for name in REUSABLE:
        canonical = repo / "workflows" / name
        callable_copy = repo / ".github" / "workflows" / name
        if not canonical.is_file() or not callable_copy.is_file():
            problems.append(f"{name}: workflows/{name} and .github/workflows/{name} must both exist")
        elif canonical.read_bytes() != callable_copy.read_bytes():
            problems.append(f"{name}: workflows/{name} and .github/workflows/{name} differ (copy one over the other)")
    files = workflow_files(repo)
    for path in files:
        text = path.read_text(encoding="utf-8")
        relative = path.relative_to(repo)
        workflow = load(path)
        triggers = workflow.get(True) or workflow.get("on") or {}
        if isinstance(triggers, str):
            triggers = {triggers: None}
        elif isinstance(triggers, list):
            triggers = dict.fromkeys(triggers)
        if "pull_request_target" in triggers:
            problems.append(f"{relative}: pull_request_target is not allowed")
        if path.name in REUSABLE and set(triggers) != {"workflow_call"}:
            problems.append(f"{relative}: reusable workflows are `on: workflow_call` only")
        if "permissions" not in workflow:
            problems.append(f"{relative}: no top-level permissions")
        for job_id, job in (workflow.get("jobs") or {}).items():
            if "permissions" not in job:
                problems.append(f"{relative}: job {job_id} has no permissions")
        for number, line in enumerate(text.splitlines(), 1):
            match = re.match(r"^\s*(?:-\s+)?uses:\s*(\S+)\s*(#.*)?$", line)
            if not match:
                continue
            uses, comment = match.group(1), match.group(2) or ""
            if uses.startswith("./") or uses == SELF_ACTION:
                continue
            if not PINNED_USES.match(uses):
                problems.append(f"{relative}:{number}: {uses} is not pinned to a full commit SHA")
            elif not re.search(r"#\s*v\d", comment):
                problems.append(f"{relative}:{number}: {uses} has no `# vX.Y.Z` comment")
    print(f"workflows: {len(files)} files")
    return problems


def check_dockerfile(repo):
    import dockerfile as buildkit

    problems = []
    path = repo / "docker" / "Dockerfile"
    commands = buildkit.parse_file(str(path))
    froms = [c for c in commands if c.cmd.upper() == "FROM"]
    if len(froms) < 2:
        problems.append("docker/Dockerfile must be multi-stage")
    if any(c.cmd.upper() == "USER" for c in commands):
        problems.append("docker/Dockerfile must not set USER (container actions run as root)")
    last_stage = commands[commands.index(froms[-1]):] if froms else []
    if not any(c.cmd.upper() == "ENTRYPOINT" for c in last_stage):
        problems.append("the final stage has no ENTRYPOINT")
    for command in commands:
        if command.cmd.upper() != "COPY" or any(flag.startswith("--from") for flag in command.flags):
            continue
        for source in command.value[:-1]:
            if "$" in source:
                continue
            if not (repo / "docker" / source).exists():
                problems.append(f"COPY source {source} is not in docker/ (the build context)")
    args = {c.value[0].split("=", 1)[0]: c.value[0].split("=", 1)[1] for c in commands
            if c.cmd.upper() == "ARG" and "=" in c.value[0]}
    for tool in ("KIND", "KUBECTL", "DOCKER_CLI"):
        if not args.get(f"{tool}_URL", "").startswith("https://"):
            problems.append(f"ARG {tool}_URL must default to an https:// release URL")
        if not re.fullmatch(r"[0-9a-f]{64}", args.get(f"{tool}_SHA256", "")):
            problems.append(f"ARG {tool}_SHA256 must default to a SHA-256")
    print(f"docker/Dockerfile: {len(commands)} instructions, {len(froms)} stages (BuildKit parser)")
    return problems


def documents(path):
    with open(path, encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def containers_of(doc):
    spec = (doc.get("spec") or {})
    if doc.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        pod = spec.get("template", {}).get("spec", {})
    elif doc.get("kind") == "Pod":
        pod = spec
    else:
        return []
    return [(c, True) for c in pod.get("containers", [])] + [(c, False) for c in pod.get("initContainers", [])]


def check_manifests(repo):
    problems = []
    count = 0
    for path in sorted((repo / "manifests").glob("*.yaml")):
        relative = path.relative_to(repo)
        for doc in documents(path):
            count += 1
            kind, name = doc.get("kind"), doc.get("metadata", {}).get("name")
            if "namespace" in doc.get("metadata", {}):
                problems.append(f"{relative}: {kind}/{name} sets a namespace (building blocks go where the user applies them)")
            for container, main in containers_of(doc):
                image = container.get("image", "")
                where = f"{relative}: {kind}/{name} container {container.get('name')}"
                if not re.match(r"^[a-z0-9.-]+\.[a-z]{2,}(:[0-9]+)?/", image):
                    problems.append(f"{where}: image {image} is not fully qualified (registry host first)")
                if image.endswith(":latest") or ":" not in image.rsplit("/", 1)[-1]:
                    problems.append(f"{where}: image {image} has no version tag")
                if container.get("imagePullPolicy") != "IfNotPresent":
                    problems.append(f"{where}: imagePullPolicy must be IfNotPresent (images loaded into Kind)")
                requests = (container.get("resources") or {}).get("requests") or {}
                if "cpu" not in requests or "memory" not in requests:
                    problems.append(f"{where}: no cpu/memory requests")
                if main and doc.get("kind") != "Job" and "readinessProbe" not in container:
                    problems.append(f"{where}: no readinessProbe")
            if doc.get("kind") == "Job":
                policy = doc["spec"]["template"]["spec"].get("restartPolicy")
                if policy not in ("OnFailure", "Never"):
                    problems.append(f"{relative}: Job {name} restartPolicy must be OnFailure or Never")
    kind_configs = sorted((repo / "manifests" / "kind").glob("*.yaml"))
    for path in kind_configs:
        relative = path.relative_to(repo)
        config = load(path)
        if config.get("kind") != "Cluster" or config.get("apiVersion") != "kind.x-k8s.io/v1alpha4":
            problems.append(f"{relative}: not a kind.x-k8s.io/v1alpha4 Cluster")
            continue
        nodes = config.get("nodes") or []
        control = [n for n in nodes if n.get("role") == "control-plane"]
        if not control:
            problems.append(f"{relative}: no control-plane node")
            continue
        node = control[0]
        mappings = node.get("extraPortMappings") or []
        if not mappings:
            problems.append(f"{relative}: no extraPortMappings (DD-TEST-001 NodePorts)")
        for mapping in mappings:
            if not 30000 <= int(mapping.get("containerPort", 0)) <= 32767:
                problems.append(f"{relative}: containerPort {mapping.get('containerPort')} is outside the NodePort range")
        patches = "\n".join(node.get("kubeadmConfigPatches") or [])
        for flag in ("max-requests-inflight", "max-mutating-requests-inflight"):
            if flag not in patches:
                problems.append(f"{relative}: kubeadmConfigPatches do not raise {flag}")
        mounts = node.get("extraMounts") or []
        if "coverage" in path.name and not any(m.get("containerPath") == "/coverdata" for m in mounts):
            problems.append(f"{relative}: no /coverdata extraMount (DD-TEST-007)")
        if "coverage" not in path.name and mounts:
            problems.append(f"{relative}: extraMounts belong in the coverage variant")
    print(f"manifests: {count} objects, {len(kind_configs)} Kind configs")
    return problems


def table_names(text, heading):
    """Names in the first column of the Markdown table under `heading`."""
    lines = text.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.strip().lower() == heading.lower())
    except StopIteration:
        return None
    names = []
    in_table = False
    for line in lines[start + 1:]:
        if line.startswith("|"):
            in_table = True
            cell = line.split("|")[1].strip()
            match = re.fullmatch(r"`([^`]+)`", cell)
            if match:
                names.append(match.group(1))
        elif in_table or line.startswith("#"):
            break
    return names


def check_docs(repo):
    problems = []
    action = load(repo / "action.yml")
    text = (repo / "docs" / "action.md").read_text(encoding="utf-8")
    for heading, expected in (("## Inputs", list(action["inputs"])), ("## Outputs", list(action["outputs"]))):
        names = table_names(text, heading)
        if names is None:
            problems.append(f"docs/action.md has no `{heading}` section")
        elif names != expected:
            problems.append(f"docs/action.md {heading} table lists {names}, action.yml has {expected}")
    print("docs/action.md: input and output tables")
    return problems


CHECKS = {
    "action": check_action,
    "workflows": check_workflows,
    "dockerfile": check_dockerfile,
    "manifests": check_manifests,
    "docs": check_docs,
}


def main():
    if len(sys.argv) != 3 or sys.argv[2] not in CHECKS:
        print(__doc__, file=sys.stderr)
        return 2
    problems = CHECKS[sys.argv[2]](Path(sys.argv[1]).resolve())
    for problem in problems:
        print(f"  problem: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
