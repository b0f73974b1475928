"""What `kubectl apply --server-side` sends for a manifest, captured from the real client.

Usage:
    kubectl_yaml.py [--check | --print] [--kubectl PATH] [FILE ...]

Without FILEs it covers every `*.yaml`, `*.yml` and `*.json` (not `*.kubectl.json`) in
tests/fixtures/kube-yaml/. For `NAME.yaml` it writes `NAME.kubectl.json` next to it; with --check
it writes nothing and exits 1 when a stored file differs from what kubectl sends now (CI reruns
kubectl live this way).

How: a throwaway in-process HTTP server plays the API server. It answers discovery for every
apiVersion/kind pair found in the file and records the body of every server-side apply PATCH.
Every kind is declared namespaced (for a cluster-scoped kind kubectl would drop the file's own
`metadata.namespace`), and the context's namespace is a sentinel that kubectl injects where the
file has none; the sentinel is removed again, so the bodies are exactly what kubectl made of the
YAML. kubectl runs with `--validate=false`, so it needs no OpenAPI document. Nothing leaves
127.0.0.1.

The kubectl version used is written to tests/fixtures/kube-yaml/KUBECTL_VERSION; --check refuses
to compare with another version (exit 3, `PeerMissing`).

The stored file is either
    [ {object sent}, ... ]                       one element per object, in the order sent
or, when kubectl refuses the file,
    {"error": "<kubectl's stderr, first line>", "sent": [ ... ]}
(kubectl applies the documents before a broken one, hence `sent`). Numbers keep kubectl's exact
text (Go's encoding/json), so `1.0` is stored as `1` and `18446744073709551615` as
`18446744073709552000`, as on the wire.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "fixtures" / "kube-yaml"
SENTINEL_NAMESPACE = "kubectl-yaml-sentinel"

# Built-in kinds every file may use, whatever the regex scan below finds.
BUILTIN = [
    ("v1", "ConfigMap"), ("v1", "Secret"), ("v1", "Namespace"), ("v1", "Service"),
    ("v1", "ServiceAccount"), ("v1", "Pod"), ("v1", "PersistentVolumeClaim"),
    ("apps/v1", "Deployment"), ("apps/v1", "StatefulSet"), ("apps/v1", "DaemonSet"),
    ("batch/v1", "Job"), ("batch/v1", "CronJob"),
    ("rbac.authorization.k8s.io/v1", "Role"), ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("apiextensions.k8s.io/v1", "CustomResourceDefinition"),
    ("networking.k8s.io/v1", "Ingress"), ("networking.k8s.io/v1", "NetworkPolicy"),
    ("policy/v1", "PodDisruptionBudget"),
]

# Loose on purpose: over-declaring kinds is harmless, missing one makes kubectl fail loudly.
API_VERSION_RE = re.compile(r"""apiVersion["']?\s*:\s*["']?([A-Za-z0-9.\-/]+)""")
KIND_RE = re.compile(r"""kind["']?\s*:\s*["']?([A-Za-z0-9]+)""")


def kinds_in(text):
    versions = set(API_VERSION_RE.findall(text))
    kinds = set(KIND_RE.findall(text))
    pairs = set(BUILTIN)
    for version in versions:
        for kind in kinds:
            pairs.add((version, kind))
    return pairs


class FakeApiServer:
    """Discovery for `pairs`, and a recorder of apply PATCH bodies."""

    def __init__(self, pairs):
        self.bodies = []
        self.unexpected = []
        groups = {}
        for version, kind in sorted(pairs):
            groups.setdefault(version, []).append(kind)
        self.groups = groups
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, code, payload):
                data = json.dumps(payload).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                path = self.path.split("?")[0]
                answer = outer.discovery(path)
                if answer is None:
                    outer.unexpected.append("GET " + self.path)
                    self.reply(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                     "reason": "NotFound", "code": 404})
                else:
                    self.reply(200, answer)

            def do_PATCH(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8")
                outer.bodies.append(body.strip())
                self.reply(200, json.loads(body))

            def do_POST(self):
                outer.unexpected.append("POST " + self.path)
                self.reply(405, {})

            do_PUT = do_POST

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll interval: shutdown() waits for it, once per file.
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def resource_list(self, version):
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": version,
            "resources": [
                {"name": kind.lower() + "s", "singularName": kind.lower(), "namespaced": True,
                 "kind": kind, "verbs": ["create", "delete", "get", "list", "patch", "update"]}
                for kind in self.groups[version]
            ],
        }

    def discovery(self, path):
        if path == "/version":
            return {"major": "1", "minor": "32", "gitVersion": "v1.32.0"}
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0",
                                                    "serverAddress": "127.0.0.1"}]}
        if path == "/api/v1" and "v1" in self.groups:
            return self.resource_list("v1")
        if path == "/apis":
            groups = {}
            for version in self.groups:
                if "/" in version:
                    group, ver = version.split("/", 1)
                    groups.setdefault(group, []).append(ver)
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": group, "versions": [{"groupVersion": f"{group}/{v}", "version": v}
                                             for v in vers],
                 "preferredVersion": {"groupVersion": f"{group}/{vers[0]}", "version": vers[0]}}
                for group, vers in sorted(groups.items())]}
        if path.startswith("/apis/"):
            version = path[len("/apis/"):]
            if version in self.groups:
                return self.resource_list(version)
        return None

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def url(self):
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"


def kubeconfig(url, directory):
    path = Path(directory) / "kubeconfig"
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "fake", "cluster": {"server": url}}],
        "users": [{"name": "fake", "user": {}}],
        "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake",
                                                  "namespace": SENTINEL_NAMESPACE}}],
        "current-context": "fake",
    }))
    return path


class RawNumber(str):
    """A JSON number kept as the exact text kubectl sent."""


def load_exact(text):
    return json.loads(text, parse_int=RawNumber, parse_float=RawNumber)


def dump_exact(value, indent=0):
    pad = "  " * indent
    inner = "  " * (indent + 1)
    if isinstance(value, RawNumber):
        return str(value)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {dump_exact(v, indent + 1)}"
                 for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        items = [inner + dump_exact(v, indent + 1) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(value, ensure_ascii=False)


def without_sentinel(obj):
    metadata = obj.get("metadata") if isinstance(obj, dict) else None
    if isinstance(metadata, dict) and metadata.get("namespace") == SENTINEL_NAMESPACE:
        del metadata["namespace"]
    return obj


def run_kubectl(kubectl, path):
    text = path.read_bytes().decode("utf-8", errors="replace")
    with FakeApiServer(kinds_in(text)) as server, tempfile.TemporaryDirectory() as tmp:
        config = kubeconfig(server.url, tmp)
        env = dict(os.environ, KUBECONFIG=str(config), HOME=tmp)
        proc = subprocess.run(
            [kubectl, "apply", "--server-side", "--validate=false", "-f", str(path)],
            env=env, capture_output=True, text=True, timeout=60,
        )
        sent = [without_sentinel(load_exact(body)) for body in server.bodies]
        if proc.returncode == 0:
            return sent
        # Keep only the first line: later ones name temp paths or repeat it.
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        message = lines[0] if lines else f"kubectl exited {proc.returncode}"
        message = message.replace(str(path), path.name)
        return {"error": message, "sent": sent}


def kubectl_version(kubectl):
    out = subprocess.run([kubectl, "version", "--client", "-o", "json"], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    return json.loads(out)["clientVersion"]["gitVersion"]


def default_kubectl():
    if os.environ.get("KUBECTL"):
        return os.environ["KUBECTL"]
    beside = Path(sys.executable).parent / "kubectl"
    if beside.is_file():
        return str(beside)
    return shutil.which("kubectl")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true")
    mode.add_argument("--print", action="store_true")
    parser.add_argument("--kubectl", default=None)
    parser.add_argument("--jobs", type=int, default=8)
    parser.add_argument("files", nargs="*", type=Path)
    args = parser.parse_args()
    args.kubectl = args.kubectl or default_kubectl()
    if not args.kubectl:
        print("PeerMissing: no kubectl (pip install -r tests/peers/requirements.txt)", file=sys.stderr)
        return 3
    if args.print:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = list(pool.map(lambda path: run_kubectl(args.kubectl, path.resolve()), args.files))
        print(dump_exact({str(path): result for path, result in zip(args.files, results)}))
        return 0
    files = args.files or sorted(
        path for path in CORPUS.iterdir()
        if path.suffix in (".yaml", ".yml", ".json") and not path.name.endswith(".kubectl.json")
    )
    version = kubectl_version(args.kubectl)
    version_file = CORPUS / "KUBECTL_VERSION"
    recorded = version_file.read_text().strip() if version_file.exists() else None
    if args.check and recorded != version:
        # Versions differ in a few rules (files starting with `{` since v1.33): not a fair check.
        print(f"PeerMissing: the expectations were written by kubectl {recorded}, this is {version} "
              f"({args.kubectl}); pip install -r tests/peers/requirements.txt", file=sys.stderr)
        return 3
    if not args.check and not args.files:
        version_file.write_text(version + "\n")
    differ = []
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(lambda path: run_kubectl(args.kubectl, path), files))
    for path, sent in zip(files, results):
        result = dump_exact(sent) + "\n"
        target = path.with_name(path.stem + ".kubectl.json")
        if args.check:
            stored = target.read_text() if target.exists() else None
            if stored != result:
                differ.append(str(target))
                print(f"DIFFERS: {target}", file=sys.stderr)
        else:
            target.write_text(result)
            print(f"wrote {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
    if differ:
        print(f"{len(differ)} of {len(files)} files differ from what kubectl sends now",
              file=sys.stderr)
        return 1
    if args.check:
        print(f"{len(files)} files agree with kubectl {version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
