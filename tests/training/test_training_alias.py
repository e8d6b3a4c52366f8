"""One MODEL_ALIAS for both apps: training promotes and rolls back it, serving follows it."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient
from mlops_contract import env, registry
from serving.main import create_app
from serving.settings import load_settings

from tests import services
from tests.training.helpers import (
    FAST_TRAIN,
    FIXED_HOLDOUT,
    alias_version,
    cli_env,
    run_in_process,
    unique_model_name,
)

pytestmark = pytest.mark.integration

ALIAS = "custom"


def wait_serving(client: TestClient, version: str, timeout: float = 60.0) -> dict[str, object]:
    """Poll /readyz until the app serves version; return the readiness body."""
    deadline = time.monotonic() + timeout
    body: dict[str, object] = {}
    while time.monotonic() < deadline:
        response = client.get("/readyz")
        body = response.json()
        if response.status_code == 200 and body["model_version"] == version:
            return body
        time.sleep(0.2)
    raise AssertionError(f"serving never reached version {version}: {body}")


def test_training_moves_the_alias_serving_follows(
    mlflow_server: services.MlflowServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = unique_model_name()
    environment = {**cli_env(mlflow_server, name), env.MODEL_ALIAS: ALIAS}
    assert run_in_process("train", *FAST_TRAIN, "--seed", "1", env=environment) == 0
    assert run_in_process("promote", *FIXED_HOLDOUT, env=environment) == 0
    mlflow = MlflowClient(tracking_uri=mlflow_server.tracking_uri)
    assert alias_version(mlflow, name, ALIAS) == "1"
    assert alias_version(mlflow, name, registry.CHAMPION_ALIAS) is None  # only the one named

    # Serving configured by the same variables, from the environment as in its pod.
    for key in (env.MLFLOW_TRACKING_URI, env.MODEL_NAME, env.MODEL_ALIAS):
        monkeypatch.setenv(key, environment[key])
    monkeypatch.setenv(env.MODEL_POLL_INTERVAL_SECONDS, "0.5")
    settings = load_settings()
    assert settings.model_alias == ALIAS
    with TestClient(create_app(settings)) as app:
        ready = wait_serving(app, "1")
        assert ready["model_alias"] == ALIAS
        assert ready["model_name"] == name

        assert run_in_process("train", *FAST_TRAIN, "--seed", "2", env=environment) == 0
        assert run_in_process("promote", *FIXED_HOLDOUT, env=environment) == 0
        assert alias_version(mlflow, name, ALIAS) == "2"
        assert alias_version(mlflow, name, registry.PREVIOUS_ALIAS) == "1"
        wait_serving(app, "2")

        assert run_in_process("rollback", env=environment) == 0
        assert alias_version(mlflow, name, ALIAS) == "1"
        wait_serving(app, "1")
