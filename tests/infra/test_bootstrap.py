"""The first deploy converges: a one-shot Job promotes a first model before serving starts."""

from __future__ import annotations

from typing import Any

import pytest
from mlops_contract import env

from infra.render import RenderedStack
from tests.infra.rendering import STACKS

# What only the CronJob reads: production data and signals, and where it reports.
SIGNAL_VARS = {
    env.PROMETHEUS_URL,
    env.PUSHGATEWAY_URL,
    env.INFERENCE_LOG_BUCKET,
    env.RETRAIN_WINDOW_MINUTES,
    env.RETRAIN_MIN_ROWS,
}


def _record(rendered: RenderedStack, name: str) -> dict[str, Any]:
    (found,) = [r for r in rendered.resources if r["name"] == name]
    return found


def _container(pod_spec: dict[str, Any]) -> dict[str, Any]:
    (container,) = pod_spec["containers"]
    return dict(container)


@pytest.mark.parametrize("stack", STACKS)
def test_serving_waits_for_the_bootstrap_job_which_waits_for_the_registry(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    rendered = rendered_stacks[stack]
    bootstrap = _record(rendered, "training-bootstrap")
    assert bootstrap["type"] == "kubernetes:batch/v1:Job"
    assert "training-bootstrap" in _record(rendered, "serving-deployment")["depends_on"]
    assert {"mlflow-deployment", "object-store-buckets"} <= set(bootstrap["depends_on"])
    # Later deploys never rerun it: the CronJob owns retraining after the first model.
    assert bootstrap["options"]["ignoreChanges"] == ["metadata", "spec"]


@pytest.mark.parametrize("stack", STACKS)
def test_bootstrap_runs_the_cronjobs_container_on_synthetic_data(
    rendered_stacks: dict[str, RenderedStack], stack: str
) -> None:
    rendered = rendered_stacks[stack]
    job = _record(rendered, "training-bootstrap")["inputs"]
    cron = _record(rendered, "training-cronjob")["inputs"]
    pod = job["spec"]["template"]["spec"]
    cron_pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    boot, retrain = _container(pod), _container(cron_pod)
    assert boot["command"] == ["python", "-m", "training", "bootstrap"]
    boot_env = {e["name"]: e for e in boot.pop("env")}
    cron_env = {e["name"]: e for e in retrain.pop("env")}
    assert not SIGNAL_VARS & set(boot_env)
    assert {k: v for k, v in cron_env.items() if k not in SIGNAL_VARS} == boot_env
    for key in ("image", "envFrom", "resources", "securityContext", "volumeMounts"):
        assert boot[key] == retrain[key], key
    assert boot["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["serviceAccountName"] == cron_pod["serviceAccountName"]
    assert pod["restartPolicy"] == "Never"
