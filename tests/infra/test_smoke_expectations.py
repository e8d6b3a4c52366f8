"""The smoke tests' expectations, derived from real renders, and the in-pod scripts run locally.

No cluster is needed: the pure functions of tests/smoke/expectations.py are checked against the
dev and prod renders and their stack files, the probe scripts run under this interpreter
against real loopback sockets, and pytest itself is run to show that the smoke tests collect
and are skipped without `-m smoke`.
"""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.config import PlatformConfig, load_stack_file
from infra.render import RenderedStack
from tests.smoke import expectations as ex
from tests.wiring import REPO_ROOT

pytestmark = pytest.mark.unit


def stack_config(stack: str) -> PlatformConfig:
    return load_stack_file(REPO_ROOT / "stacks" / f"Pulumi.{stack}.yaml")


def by_name(items: list[ex.WorkloadExpectation]) -> dict[tuple[str, str], ex.WorkloadExpectation]:
    return {(w.kind, w.name): w for w in items}


def hand_rendered(tmp_path: Path, *manifests: dict[str, Any]) -> RenderedStack:
    return RenderedStack(stack="test", out_dir=tmp_path, manifests=list(manifests), resources=[])


# ---- workloads ---------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_expected_workloads_follow_the_stack_config(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    cfg = stack_config(stack)
    workloads = by_name(ex.expected_workloads(rendered_stacks[stack]))
    serving = workloads[("Deployment", "serving")]
    assert (serving.namespace, serving.min_available, serving.max_available) == (
        cfg.namespaces.serving,
        cfg.serving.replicas,
        cfg.serving.max_replicas,
    )
    mlflow = workloads[("Deployment", "mlflow")]
    assert (mlflow.min_available, mlflow.max_available) == (cfg.mlflow.replicas,) * 2
    database = workloads[("Cluster", cfg.postgres.cluster_name)]
    assert (database.min_available, database.max_available) == (cfg.postgres.instances,) * 2
    assert database.resource == "clusters.postgresql.cnpg.io"
    # Every rendered Deployment is expected, none forgotten.
    rendered = {
        m["metadata"]["name"] for m in rendered_stacks[stack].manifests if m["kind"] == "Deployment"
    }
    assert {name for kind, name in workloads if kind == "Deployment"} == rendered


def test_workload_problem_names_expected_range_and_found_count() -> None:
    exp = ex.WorkloadExpectation("Deployment", "mlops-serving", "serving", 1, 2)
    assert ex.workload_problem(exp, {"status": {"availableReplicas": 2}}) is None
    problem = ex.workload_problem(exp, {"status": {}})
    assert problem == (
        "expected Deployment mlops-serving/serving with 1..2 (HPA) available; found 0 available"
    )
    too_many = ex.workload_problem(exp, {"status": {"availableReplicas": 3}})
    assert too_many is not None
    assert too_many.endswith("found 3 available")
    missing = ex.workload_problem(exp, None)
    assert missing is not None
    assert missing.endswith("found no such object")


def test_cluster_and_statefulset_counts_come_from_their_own_status_fields() -> None:
    cluster = ex.WorkloadExpectation("Cluster", "mlops-platform", "mlflow-db", 3, 3)
    assert ex.workload_problem(cluster, {"status": {"readyInstances": 3}}) is None
    # availableReplicas means nothing on a Cluster: 3 there must not count.
    problem = ex.workload_problem(
        cluster, {"status": {"availableReplicas": 3, "readyInstances": 2}}
    )
    assert (
        problem == "expected Cluster mlops-platform/mlflow-db with 3 available; found 2 available"
    )
    sts = ex.WorkloadExpectation("StatefulSet", "ns", "db", 1, 1)
    assert ex.workload_problem(sts, {"status": {"readyReplicas": 1}}) is None
    assert sts.resource == "statefulset.apps"


def test_statefulset_in_a_render_is_expected_with_its_replicas(tmp_path: Path) -> None:
    sts = {
        "kind": "StatefulSet",
        "metadata": {"name": "store", "namespace": "ns"},
        "spec": {"replicas": 2},
    }
    assert ex.expected_workloads(hand_rendered(tmp_path, sts)) == [
        ex.WorkloadExpectation("StatefulSet", "ns", "store", 2, 2)
    ]


# ---- CronJob -----------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_expected_cronjob_has_the_stack_schedule(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    cfg = stack_config(stack)
    assert ex.expected_cronjobs(rendered_stacks[stack]) == [
        ex.CronJobExpectation(cfg.namespaces.training, "retrain", cfg.training.schedule)
    ]


def test_cronjob_problem_names_both_schedules_and_suspension() -> None:
    exp = ex.CronJobExpectation("mlops-training", "retrain", "0 */6 * * *")
    assert ex.cronjob_problem(exp, {"spec": {"schedule": "0 */6 * * *"}}) is None
    wrong = ex.cronjob_problem(exp, {"spec": {"schedule": "0 3 * * *"}})
    assert wrong is not None
    assert "'0 */6 * * *'" in wrong
    assert wrong.endswith("found schedule '0 3 * * *'")
    suspended = ex.cronjob_problem(exp, {"spec": {"schedule": "0 */6 * * *", "suspend": True}})
    assert suspended is not None
    assert suspended.endswith("found it suspended")
    missing = ex.cronjob_problem(exp, None)
    assert missing is not None
    assert missing.endswith("found no such CronJob")


# ---- Namespaces --------------------------------------------------------------------------


def test_expected_namespaces_enforce_restricted_on_apps_and_baseline_on_operator(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    cfg = stack_config("dev")
    enforce = {
        n.name: n.labels[ex.ENFORCE_LABEL] for n in ex.expected_namespaces(rendered_stacks["dev"])
    }
    apps = cfg.namespaces
    assert enforce == {
        apps.platform: "restricted",
        apps.training: "restricted",
        apps.serving: "restricted",
        apps.monitoring: "restricted",
        cfg.postgres.operator_namespace: "baseline",
    }


def test_namespace_problem_names_the_wrong_or_missing_labels() -> None:
    exp = ex.NamespaceExpectation(
        "mlops-serving",
        {ex.ENFORCE_LABEL: "restricted", f"{ex.POD_SECURITY_PREFIX}warn": "restricted"},
    )
    good = {"metadata": {"labels": {**exp.labels, "other": "x"}}}
    assert ex.namespace_problem(exp, good) is None
    weak = {"metadata": {"labels": {ex.ENFORCE_LABEL: "privileged"}}}
    problem = ex.namespace_problem(exp, weak)
    assert problem is not None
    assert problem.endswith(
        f"found {ex.ENFORCE_LABEL}=privileged, {ex.POD_SECURITY_PREFIX}warn=None"
    )
    missing = ex.namespace_problem(exp, None)
    assert missing is not None
    assert missing.endswith("found no such Namespace")


def test_rendered_namespace_without_enforce_label_is_a_render_bug(tmp_path: Path) -> None:
    ns = {"kind": "Namespace", "metadata": {"name": "loose", "labels": {"a": "b"}}}
    with pytest.raises(ValueError, match=f"Namespace loose has no {ex.ENFORCE_LABEL}"):
        ex.expected_namespaces(hand_rendered(tmp_path, ns))


# ---- pods the in-container checks run in -------------------------------------------------


def test_serving_and_mlflow_targets_carry_the_rendered_wiring(
    rendered_stacks: dict[str, RenderedStack],
) -> None:
    rendered = rendered_stacks["dev"]
    serving = ex.serving_target(rendered)
    assert serving.namespace == stack_config("dev").namespaces.serving
    assert serving.health_url == "http://localhost:8080/healthz"  # docs/contracts.md port
    assert (
        serving.selector
        == "app.kubernetes.io/component=model-server,app.kubernetes.io/name=serving"
    )
    assert serving.run_as_user is not None
    assert serving.run_as_user > 0
    assert serving.writable_paths == ("/tmp",)
    mlflow = ex.mlflow_target(rendered)
    assert mlflow.health_url == "http://localhost:5000/health"
    assert ex.mlflow_health_via_tracking_uri(rendered) == (
        "http://mlflow.mlops-platform.svc.cluster.local:5000/health"
    )
    assert ex.postgres_rw(rendered) == ("mlflow-db-rw.mlops-platform.svc.cluster.local", 5432)


def test_container_run_as_user_overrides_the_pod_level_one(tmp_path: Path) -> None:
    deployment = {
        "kind": "Deployment",
        "metadata": {"name": "serving", "namespace": "s"},
        "spec": {
            "selector": {"matchLabels": {"b": "2", "a": "1"}},
            "template": {
                "spec": {
                    "securityContext": {"runAsUser": 1000},
                    "containers": [
                        {
                            "name": "serving",
                            "securityContext": {"runAsUser": 2000},
                            "ports": [{"name": "http", "containerPort": 9000}],
                            "livenessProbe": {"httpGet": {"path": "/live"}},
                        }
                    ],
                }
            },
        },
    }
    target = ex.serving_target(hand_rendered(tmp_path, deployment))
    assert (target.run_as_user, target.selector, target.health_url) == (
        2000,
        "a=1,b=2",
        "http://localhost:9000/live",
    )
    assert target.writable_paths == ()


def pod(
    name: str, phase: str = "Running", ready: str = "True", deleting: bool = False
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if deleting:
        meta["deletionTimestamp"] = "2025-01-01T00:00:00Z"
    return {
        "metadata": meta,
        "status": {"phase": phase, "conditions": [{"type": "Ready", "status": ready}]},
    }


def test_ready_pod_skips_pending_unready_and_terminating_pods() -> None:
    pods = {
        "items": [
            pod("a-terminating", deleting=True),
            pod("b-pending", phase="Pending", ready="False"),
            pod("c-unready", ready="False"),
            pod("d-ready"),
        ]
    }
    assert ex.ready_pod(pods) == "d-ready"
    assert ex.ready_pod({"items": pods["items"][:3]}) is None
    assert ex.ready_pod({"items": []}) is None


# ---- the scripts that run inside the containers, run here on real sockets ----------------


def run_script(script: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=30
    )
    return proc.stdout.strip()


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # http.server's method name
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_http_probe_reports_status_codes_and_errors(http_server: str) -> None:
    assert run_script(ex.http_probe_script(f"{http_server}/healthz")) == "status=200"
    assert run_script(ex.http_probe_script(f"{http_server}/missing")) == "status=404"
    refused = run_script(ex.http_probe_script(f"http://127.0.0.1:{closed_port()}/healthz", 3))
    assert refused.startswith("error=URLError"), refused


def test_tcp_probe_tells_connected_refused_and_dns_failure_apart() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert run_script(ex.tcp_probe_script("127.0.0.1", port)) == "connected"
    assert run_script(ex.tcp_probe_script("127.0.0.1", closed_port())) == "refused"
    assert run_script(ex.tcp_probe_script("no-such-host.invalid", 5432)).startswith("dns-error")


def test_write_probe_reports_writable_or_the_errno(tmp_path: Path) -> None:
    assert run_script(ex.write_probe_script(str(tmp_path))) == "writable"
    assert list(tmp_path.iterdir()) == []  # the probe cleans up after itself
    assert run_script(ex.write_probe_script(str(tmp_path / "absent"))) == "ENOENT"


def test_uid_and_mount_scripts_read_proc() -> None:
    uid = Path("/proc/1").stat().st_uid
    assert run_script(ex.uid_script()).split() == [str(uid), str(uid)]
    options = run_script(ex.root_mount_options_script()).split(",")
    assert options[0] in {"rw", "ro"}, options


# ---- pytest wiring: collected with -m smoke, skipped without it --------------------------


def run_pytest(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
    return subprocess.run(
        cmd, cwd=REPO_ROOT, capture_output=True, text=True, check=False, timeout=300
    )


def test_smoke_tests_collect_with_their_options_and_no_cluster() -> None:
    proc = run_pytest(
        "--collect-only",
        "-q",
        "-m",
        "smoke",
        "tests/smoke",
        "--stack",
        "prod",
        "--kube-context",
        "none",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    collected = [line for line in proc.stdout.splitlines() if "::test_" in line]
    assert len(collected) >= 10, proc.stdout
    assert all(line.startswith("tests/smoke/test_cluster.py::") for line in collected)


def test_smoke_tests_are_skipped_without_m_smoke() -> None:
    collect = run_pytest("--collect-only", "-q", "tests/smoke")
    count = len([line for line in collect.stdout.splitlines() if "::test_" in line])
    proc = run_pytest("-q", "-rs", "tests/smoke")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{count} skipped" in proc.stdout, proc.stdout
    assert "passed" not in proc.stdout
    assert "failed" not in proc.stdout
    assert "needs a live cluster" in proc.stdout
