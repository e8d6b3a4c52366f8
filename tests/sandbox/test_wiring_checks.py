"""The sandbox refuses a render that does not match the apps, naming both sides."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from mlops_contract import env as contract_env
from serving.settings import Settings as ServingSettings
from training.settings import Settings as TrainingSettings

from infra.render import RenderedStack
from sandbox import wiring
from sandbox.stack import Rendered

pytestmark = pytest.mark.unit


def _with_container_env(
    rendered: RenderedStack, kind: str, name: str, change: Any
) -> RenderedStack:
    """A copy of the render with `change(env list)` applied to one workload's main container."""
    manifests = copy.deepcopy(rendered.manifests)
    for obj in manifests:
        if obj["kind"] == kind and obj["metadata"]["name"] == name:
            spec = obj["spec"]
            pod = spec["jobTemplate"]["spec"]["template"]["spec"] if kind == "CronJob" else None
            pod = pod or spec["template"]["spec"]
            change(pod["containers"][0].setdefault("env", []))
    return RenderedStack(rendered.stack, rendered.out_dir, manifests, rendered.resources)


def test_the_dev_render_passes_the_checks(sandbox_render: RenderedStack) -> None:
    rendered = Rendered.load(sandbox_render)
    assert {"datasets", "mlflow-artifacts"} <= set(rendered.buckets)
    assert rendered.cron()["schedule"]


def test_a_rendered_variable_the_app_does_not_read_names_both(
    sandbox_render: RenderedStack,
) -> None:
    typo = _with_container_env(
        sandbox_render,
        "Deployment",
        "serving",
        lambda env: env.append({"name": "MODEL_POLL_INTERVAL_SECOND", "value": "5"}),
    )
    with pytest.raises(wiring.WiringError) as error:
        Rendered.load(typo)
    message = str(error.value)
    assert "MODEL_POLL_INTERVAL_SECOND" in message
    assert "Deployment/serving container serving" in message
    assert "serving.settings.Settings" in message


def test_a_required_setting_the_render_does_not_set_names_both(
    sandbox_render: RenderedStack,
) -> None:
    def drop_tracking_uri(env: list[dict[str, Any]]) -> None:
        env[:] = [e for e in env if e["name"] != contract_env.MLFLOW_TRACKING_URI]

    missing = _with_container_env(sandbox_render, "Deployment", "serving", drop_tracking_uri)
    with pytest.raises(wiring.WiringError) as error:
        Rendered.load(missing)
    message = str(error.value)
    assert "requires MLFLOW_TRACKING_URI" in message
    assert "serving.settings.Settings" in message
    assert "Deployment/serving" in message


def test_the_cronjob_is_checked_against_training_settings(
    sandbox_render: RenderedStack,
) -> None:
    typo = _with_container_env(
        sandbox_render,
        "CronJob",
        "retrain",
        lambda env: env.append({"name": "RETRAIN_MAX_PSII", "value": "0.2"}),
    )
    with pytest.raises(wiring.WiringError, match=r"RETRAIN_MAX_PSII.*training\.settings\.Settings"):
        Rendered.load(typo)


def test_a_bucket_the_render_does_not_create_names_both(sandbox_render: RenderedStack) -> None:
    def other_bucket(env: list[dict[str, Any]]) -> None:
        for entry in env:
            if entry["name"] == contract_env.DATASETS_BUCKET:
                entry["value"] = "no-such-bucket"

    wrong = _with_container_env(sandbox_render, "CronJob", "retrain", other_bucket)
    with pytest.raises(wiring.WiringError, match=r"DATASETS_BUCKET=no-such-bucket.*-buckets"):
        Rendered.load(wrong)


def test_settings_env_reads_aliases_and_field_names() -> None:
    known, required = wiring.settings_env(TrainingSettings)
    assert {
        contract_env.S3_ENDPOINT_URL,
        "AWS_ENDPOINT_URL_S3",
        contract_env.RETRAIN_POLICY,
    } <= known
    known, required = wiring.settings_env(ServingSettings)
    assert {"MAX_BATCH_ROWS", contract_env.INFERENCE_LOG_BUCKET} <= known
    assert required == {contract_env.MLFLOW_TRACKING_URI}


def _container(value: str) -> wiring.RenderedContainer:
    workload = {"kind": "Deployment", "metadata": {"name": "api", "namespace": "ns"}}
    container = {
        "name": "api",
        "env": [
            {"name": "URL", "value": value},
            {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "k"}}},
        ],
    }
    return wiring.RenderedContainer(workload, container)


def test_cluster_addresses_become_loopback_ones() -> None:
    container = _container("http://mlflow.mlops-platform.svc.cluster.local:5000/api")
    overrides = wiring.cluster_overrides(container, {("mlflow", 5000): "127.0.0.1:41000"})
    assert overrides == {"URL": "http://127.0.0.1:41000/api"}


def test_an_address_nothing_local_stands_in_for_is_named() -> None:
    container = _container("http://grafana.mlops-monitoring.svc.cluster.local:3000")
    with pytest.raises(wiring.WiringError, match=r"URL=.*Service grafana port 3000"):
        wiring.cluster_overrides(container, {("mlflow", 5000): "127.0.0.1:41000"})


def test_a_secret_key_without_a_local_value_is_named() -> None:
    container = _container("x")
    assert wiring.secrets_by_variable(container, {("creds", "k"): "v"}) == {"KEY": "v"}
    with pytest.raises(wiring.WiringError, match=r"KEY comes from Secret creds key k"):
        wiring.secrets_by_variable(container, {("creds", "other"): "v"})
