"""What a live cluster must show after `pulumi up`, derived from the offline render of its stack.

Pure functions only: they take a `RenderedStack` (or the JSON `kubectl get -o json` returns) and
return expectations or problems, so they are unit tested without a cluster
(tests/infra/test_smoke_expectations.py). The smoke tests in this directory query the cluster and
assert with them. Every problem message names what the render expects and what was found.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from infra.components.postgres import PORT as POSTGRES_PORT
from infra.components.postgres import rw_host
from infra.render import RenderedStack
from tests import wiring

POD_SECURITY_PREFIX = "pod-security.kubernetes.io/"
ENFORCE_LABEL = f"{POD_SECURITY_PREFIX}enforce"
# Kinds whose live status says how many pods serve, and the status field that says it.
# A CloudNativePG Cluster manages its pods itself (no StatefulSet), so it reports instances.
_AVAILABLE_FIELD = {
    "Deployment": "availableReplicas",
    "StatefulSet": "readyReplicas",
    "Cluster": "readyInstances",
}
_KUBECTL_RESOURCE = {
    "Deployment": "deployment.apps",
    "StatefulSet": "statefulset.apps",
    "Cluster": "clusters.postgresql.cnpg.io",
}
# The workloads the in-pod checks run in: names are fixed by the program, not by stack config.
SERVING = ("Deployment", "serving", "serving")
MLFLOW = ("Deployment", "mlflow", "mlflow")


def _by_kind(rendered: RenderedStack, kind: str) -> list[dict[str, Any]]:
    return [m for m in rendered.manifests if m["kind"] == kind]


def _meta(obj: Mapping[str, Any]) -> tuple[str, str]:
    return str(obj["metadata"].get("namespace", "")), str(obj["metadata"]["name"])


@dataclass(frozen=True)
class WorkloadExpectation:
    """A rendered workload and how many of its pods must be available."""

    kind: str
    namespace: str
    name: str
    min_available: int
    max_available: int

    @property
    def resource(self) -> str:
        """The resource name `kubectl get` takes for this kind."""
        return _KUBECTL_RESOURCE[self.kind]

    def describe(self) -> str:
        """Say what is expected, for assertion messages."""
        count = (
            str(self.min_available)
            if self.min_available == self.max_available
            else f"{self.min_available}..{self.max_available} (HPA)"
        )
        return f"{self.kind} {self.namespace}/{self.name} with {count} available"


def _hpa_bounds(rendered: RenderedStack) -> dict[tuple[str, str, str], tuple[int, int]]:
    bounds = {}
    for hpa in _by_kind(rendered, "HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        key = (target["kind"], hpa["metadata"]["namespace"], target["name"])
        bounds[key] = (int(hpa["spec"].get("minReplicas", 1)), int(hpa["spec"]["maxReplicas"]))
    return bounds


def expected_workloads(rendered: RenderedStack) -> list[WorkloadExpectation]:
    """Every rendered Deployment, StatefulSet and CloudNativePG Cluster, with its pod count.

    A workload scaled by a rendered HPA may run anywhere between the HPA's minReplicas and
    maxReplicas; any other one runs exactly its rendered `replicas` (`instances` for a Cluster).
    """
    hpa = _hpa_bounds(rendered)
    result = []
    for obj in rendered.manifests:
        if obj["kind"] not in _AVAILABLE_FIELD:
            continue
        namespace, name = _meta(obj)
        spec = obj["spec"]
        count = int(spec.get("instances" if obj["kind"] == "Cluster" else "replicas", 1))
        low, high = hpa.get((obj["kind"], namespace, name), (count, count))
        result.append(WorkloadExpectation(obj["kind"], namespace, name, low, high))
    return result


def workload_problem(expected: WorkloadExpectation, live: Mapping[str, Any] | None) -> str | None:
    """None if the live object meets the expectation, else what is wrong."""
    if live is None:
        return f"expected {expected.describe()}; found no such object"
    available = int((live.get("status") or {}).get(_AVAILABLE_FIELD[expected.kind]) or 0)
    if not expected.min_available <= available <= expected.max_available:
        return f"expected {expected.describe()}; found {available} available"
    return None


@dataclass(frozen=True)
class CronJobExpectation:
    """A rendered CronJob and its schedule."""

    namespace: str
    name: str
    schedule: str

    def describe(self) -> str:
        """Say what is expected, for assertion messages."""
        return f"CronJob {self.namespace}/{self.name} on schedule {self.schedule!r}, not suspended"


def expected_cronjobs(rendered: RenderedStack) -> list[CronJobExpectation]:
    """Every rendered CronJob with its schedule."""
    return [
        CronJobExpectation(*_meta(obj), schedule=str(obj["spec"]["schedule"]))
        for obj in _by_kind(rendered, "CronJob")
    ]


def cronjob_problem(expected: CronJobExpectation, live: Mapping[str, Any] | None) -> str | None:
    """None if the live CronJob has the rendered schedule and is not suspended."""
    if live is None:
        return f"expected {expected.describe()}; found no such CronJob"
    spec = live.get("spec") or {}
    found = spec.get("schedule")
    if found != expected.schedule:
        return f"expected {expected.describe()}; found schedule {found!r}"
    if spec.get("suspend"):
        return f"expected {expected.describe()}; found it suspended"
    return None


@dataclass(frozen=True)
class NamespaceExpectation:
    """A rendered Namespace and its Pod Security Admission labels."""

    name: str
    labels: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        """Say what is expected, for assertion messages."""
        wanted = ", ".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        return f"Namespace {self.name} labelled {wanted}"


def expected_namespaces(rendered: RenderedStack) -> list[NamespaceExpectation]:
    """Every rendered Namespace with its `pod-security.kubernetes.io/*` labels.

    A rendered Namespace without an enforce label is a render bug, not a cluster state to
    accept: it raises, naming the namespace.
    """
    result = []
    for obj in _by_kind(rendered, "Namespace"):
        _, name = _meta(obj)
        labels = obj["metadata"].get("labels") or {}
        pss = {k: str(v) for k, v in labels.items() if k.startswith(POD_SECURITY_PREFIX)}
        if ENFORCE_LABEL not in pss:
            raise ValueError(f"rendered Namespace {name} has no {ENFORCE_LABEL} label")
        result.append(NamespaceExpectation(name, pss))
    return result


def namespace_problem(expected: NamespaceExpectation, live: Mapping[str, Any] | None) -> str | None:
    """None if the live Namespace carries every rendered Pod Security label with its value."""
    if live is None:
        return f"expected {expected.describe()}; found no such Namespace"
    labels = (live.get("metadata") or {}).get("labels") or {}
    wrong = {k: labels.get(k) for k, v in expected.labels.items() if labels.get(k) != v}
    if wrong:
        found = ", ".join(f"{k}={v}" for k, v in sorted(wrong.items()))
        return f"expected {expected.describe()}; found {found}"
    return None


@dataclass(frozen=True)
class PodTarget:
    """A container the in-pod checks exec into, with what the render says about it."""

    kind: str
    namespace: str
    workload: str
    container: str
    selector: str
    port: int
    health_path: str
    run_as_user: int | None
    writable_paths: tuple[str, ...]

    @property
    def health_url(self) -> str:
        """The liveness endpoint as seen from inside the container itself."""
        return f"http://localhost:{self.port}{self.health_path}"


def label_selector(match_labels: Mapping[str, str]) -> str:
    """`kubectl -l` form of a matchLabels mapping, sorted for stable output."""
    return ",".join(f"{k}={v}" for k, v in sorted(match_labels.items()))


def pod_target(
    rendered: RenderedStack, kind: str, name: str, container: str, port_name: str = "http"
) -> PodTarget:
    """The rendered container `container` of `kind`/`name`, as a target for in-pod checks."""
    found = wiring.find_container(rendered, kind, name, container)
    pod_spec = found.workload["spec"]["template"]["spec"]
    user = (found.container.get("securityContext") or {}).get("runAsUser")
    if user is None:
        user = (pod_spec.get("securityContext") or {}).get("runAsUser")
    return PodTarget(
        kind=kind,
        namespace=found.workload["metadata"]["namespace"],
        workload=name,
        container=container,
        selector=label_selector(found.workload["spec"]["selector"]["matchLabels"]),
        port=found.port(port_name),
        health_path=found.probe_path("livenessProbe"),
        run_as_user=None if user is None else int(user),
        writable_paths=tuple(m["mountPath"] for m in found.container.get("volumeMounts", [])),
    )


def serving_target(rendered: RenderedStack) -> PodTarget:
    """The model server container."""
    return pod_target(rendered, *SERVING)


def mlflow_target(rendered: RenderedStack) -> PodTarget:
    """The MLflow tracking server container."""
    return pod_target(rendered, *MLFLOW)


def tracking_uri(rendered: RenderedStack) -> str:
    """The MLFLOW_TRACKING_URI the serving container is given."""
    env = wiring.find_container(rendered, *SERVING).literal_env()
    if "MLFLOW_TRACKING_URI" not in env:
        raise KeyError("rendered serving container has no literal MLFLOW_TRACKING_URI")
    return env["MLFLOW_TRACKING_URI"]


def mlflow_health_via_tracking_uri(rendered: RenderedStack) -> str:
    """MLflow's rendered health path under the tracking URI serving is given."""
    return f"{tracking_uri(rendered).rstrip('/')}{mlflow_target(rendered).health_path}"


def postgres_rw(rendered: RenderedStack) -> tuple[str, int]:
    """Host and port of the rendered CloudNativePG Cluster's read-write Service."""
    clusters = _by_kind(rendered, "Cluster")
    if len(clusters) != 1:
        raise ValueError(f"expected one rendered CloudNativePG Cluster, found {len(clusters)}")
    namespace, name = _meta(clusters[0])
    return rw_host(name, namespace), POSTGRES_PORT


def ready_pod(pods: Mapping[str, Any]) -> str | None:
    """Name of a running, Ready, not terminating pod in a `kubectl get pods -o json` list."""
    for pod in sorted(pods.get("items", []), key=lambda p: p["metadata"]["name"]):
        status = pod.get("status") or {}
        ready = any(
            c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions", [])
        )
        terminating = pod["metadata"].get("deletionTimestamp") is not None
        if status.get("phase") == "Running" and ready and not terminating:
            return str(pod["metadata"]["name"])
    return None


# Scripts run with `python3 -c` inside the containers (curl, nc and id may be absent in the
# images; both have Python). Each prints one line that the smoke test compares and reports.


def http_probe_script(url: str, timeout_seconds: float = 10.0) -> str:
    """Print `status=<code>` for a GET of url, or `error=<type>: <message>`."""
    return (
        "import urllib.request, urllib.error\n"
        "try:\n"
        f"    r = urllib.request.urlopen({url!r}, timeout={timeout_seconds!r})\n"
        "    print(f'status={r.status}')\n"
        "except urllib.error.HTTPError as e:\n"
        "    print(f'status={e.code}')\n"
        "except Exception as e:\n"
        "    print(f'error={type(e).__name__}: {e}')\n"
    )


def tcp_probe_script(host: str, port: int, timeout_seconds: float = 3.0) -> str:
    """Print `connected`, `timeout`, `refused`, `dns-error: ...` or `error: ...`.

    DNS failures are told apart so that a denied connection is not confused with a wrong name.
    """
    return (
        "import socket\n"
        "try:\n"
        f"    addr = socket.getaddrinfo({host!r}, {port!r}, type=socket.SOCK_STREAM)[0][4]\n"
        "except OSError as e:\n"
        "    print(f'dns-error: {e}')\n"
        "    raise SystemExit(0)\n"
        "try:\n"
        f"    socket.create_connection(addr[:2], timeout={timeout_seconds!r}).close()\n"
        "    print('connected')\n"
        "except (TimeoutError, socket.timeout):\n"
        "    print('timeout')\n"
        "except ConnectionRefusedError:\n"
        "    print('refused')\n"
        "except OSError as e:\n"
        "    print(f'error: {e}')\n"
    )


def uid_script() -> str:
    """Print the real and effective UIDs of PID 1, the container's main process."""
    return (
        "for line in open('/proc/1/status'):\n"
        "    if line.startswith('Uid:'):\n"
        "        print(' '.join(line.split()[1:3]))\n"
    )


def root_mount_options_script() -> str:
    """Print the mount options of `/` (the last mount there is the one processes see)."""
    return (
        "options = ''\n"
        "for line in open('/proc/self/mounts'):\n"
        "    fields = line.split()\n"
        "    if fields[1] == '/':\n"
        "        options = fields[3]\n"
        "print(options)\n"
    )


def write_probe_script(directory: str) -> str:
    """Print `writable`, or the errno name of a failed file creation in directory."""
    return (
        "import errno, os, tempfile\n"
        "try:\n"
        f"    fd, path = tempfile.mkstemp(prefix='.smoke-', dir={directory!r})\n"
        "    os.close(fd)\n"
        "    os.unlink(path)\n"
        "    print('writable')\n"
        "except OSError as e:\n"
        "    print(errno.errorcode.get(e.errno, str(e.errno)))\n"
    )
