"""Smoke tests for a live cluster after `pulumi up`: does it run what the render declares?

Run: `uv run --frozen pytest -m smoke tests/smoke --stack dev` (see docs/smoke-tests.md).
Every expectation comes from the offline render of --stack (tests/smoke/expectations.py); every
failure message says what the render expects and what the cluster shows.
"""

from __future__ import annotations

from typing import Any

import pytest

from infra.render import RenderedStack
from tests.smoke import expectations as ex
from tests.smoke.kube import Kubectl

pytestmark = pytest.mark.smoke

# How long one connection attempt that the default-deny policy must drop may take.
DENY_TIMEOUT_SECONDS = 3.0


def run_python(host: Any, script: str) -> str:
    """Run script with python3 in the container; its one line of output."""
    result = host.run("python3 -c %s", script)
    assert result.rc == 0, f"python3 in the container failed (rc {result.rc}): {result.stderr}"
    return str(result.stdout).strip()


def test_every_rendered_workload_is_available_with_its_replica_count(
    smoke_rendered: RenderedStack, kubectl: Kubectl
) -> None:
    expected = ex.expected_workloads(smoke_rendered)
    assert expected, "the render declares no Deployment, StatefulSet or Cluster"
    problems = [
        problem
        for exp in expected
        if (problem := ex.workload_problem(exp, kubectl.get(exp.resource, exp.name, exp.namespace)))
    ]
    assert not problems, "\n".join(problems)


def test_every_rendered_cronjob_exists_with_its_schedule(
    smoke_rendered: RenderedStack, kubectl: Kubectl
) -> None:
    expected = ex.expected_cronjobs(smoke_rendered)
    assert expected, "the render declares no CronJob"
    problems = [
        problem
        for exp in expected
        if (
            problem := ex.cronjob_problem(
                exp, kubectl.get("cronjob.batch", exp.name, exp.namespace)
            )
        )
    ]
    assert not problems, "\n".join(problems)


def test_every_rendered_namespace_enforces_its_pod_security_level(
    smoke_rendered: RenderedStack, kubectl: Kubectl
) -> None:
    expected = ex.expected_namespaces(smoke_rendered)
    problems = [
        problem
        for exp in expected
        if (problem := ex.namespace_problem(exp, kubectl.get("namespace", exp.name)))
    ]
    assert not problems, "\n".join(problems)


def test_serving_process_runs_as_the_rendered_non_root_uid(
    serving_host: Any, serving_target: ex.PodTarget
) -> None:
    uid = serving_target.run_as_user
    assert uid is not None, "render sets no runAsUser for the serving container"
    assert uid != 0, "render sets runAsUser 0 for the serving container"
    found = run_python(serving_host, ex.uid_script())
    assert found == f"{uid} {uid}", (
        f"expected PID 1 real/effective UID {uid} {uid}; found {found!r}"
    )


def test_serving_root_filesystem_is_read_only_and_rendered_mounts_writable(
    serving_host: Any, serving_target: ex.PodTarget
) -> None:
    options = run_python(serving_host, ex.root_mount_options_script()).split(",")
    assert "ro" in options, f"expected / mounted ro (readOnlyRootFilesystem); found {options}"
    at_root = run_python(serving_host, ex.write_probe_script("/"))
    assert at_root != "writable", f"expected creating a file in / to fail; found {at_root!r}"
    for path in serving_target.writable_paths:
        found = run_python(serving_host, ex.write_probe_script(path))
        assert found == "writable", f"expected rendered mount {path} writable; found {found!r}"


def test_serving_healthz_answers_on_the_rendered_port(
    serving_host: Any, serving_target: ex.PodTarget
) -> None:
    found = run_python(serving_host, ex.http_probe_script(serving_target.health_url))
    assert found == "status=200", f"expected 200 from {serving_target.health_url}; found {found}"


def test_mlflow_health_answers_on_the_rendered_port(
    mlflow_host: Any, mlflow_target: ex.PodTarget
) -> None:
    found = run_python(mlflow_host, ex.http_probe_script(mlflow_target.health_url))
    assert found == "status=200", f"expected 200 from {mlflow_target.health_url}; found {found}"


def test_serving_pod_reaches_mlflow_at_the_rendered_tracking_uri(
    serving_host: Any, smoke_rendered: RenderedStack
) -> None:
    url = ex.mlflow_health_via_tracking_uri(smoke_rendered)
    found = run_python(serving_host, ex.http_probe_script(url))
    assert found == "status=200", f"expected 200 from {url} (serving -> MLflow); found {found}"


def test_mlflow_pod_reaches_postgres_rw(mlflow_host: Any, smoke_rendered: RenderedStack) -> None:
    # The control for the default-deny test below: Postgres answers where the policy allows it,
    # so a failed connection from the serving namespace is the policy, not a dead database.
    host, port = ex.postgres_rw(smoke_rendered)
    found = run_python(mlflow_host, ex.tcp_probe_script(host, port, DENY_TIMEOUT_SECONDS))
    assert found == "connected", f"expected MLflow -> {host}:{port} connected; found {found}"


def test_default_deny_keeps_serving_namespace_from_postgres(
    serving_host: Any, smoke_rendered: RenderedStack
) -> None:
    host, port = ex.postgres_rw(smoke_rendered)
    found = run_python(serving_host, ex.tcp_probe_script(host, port, DENY_TIMEOUT_SECONDS))
    assert not found.startswith("dns-error"), f"expected {host} to resolve; found {found}"
    assert found != "connected", (
        f"expected serving -> {host}:{port} blocked within {DENY_TIMEOUT_SECONDS} s "
        f"(default-deny NetworkPolicy); found {found}: does the CNI enforce NetworkPolicies?"
    )
