"""Serving loads a version only if its downloaded artifact has the digest training recorded.

Real MLflow (Postgres registry, artifacts proxied to the real SeaweedFS bucket); the tampering is
done in that bucket, behind MLflow's back, as a holder of the storage keys could.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient
from mlops_contract import registry
from serving.main import create_app
from serving.settings import Settings
from training.data import FEATURES, generate

from tests.services import MlflowServer
from tests.serving.helpers import (
    SLOW_ROW,
    metric,
    read_artifact,
    register_model,
    stored_digest,
    tamper_artifact,
    unique_name,
    wait_ready,
)
from tests.training.helpers import FAST_TRAIN, cli_env, run_in_process

pytestmark = pytest.mark.integration

MISMATCH = "serving_model_digest_mismatch_total"
POLL_SECONDS = 0.5


@contextmanager
def serving(server: MlflowServer, name: str) -> Iterator[TestClient]:
    """The real app in-process, following name@champion, not waiting for readiness."""
    settings = Settings(
        mlflow_tracking_uri=server.tracking_uri,
        model_name=name,
        model_poll_interval_seconds=POLL_SECONDS,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def client(uri: str) -> MlflowClient:
    """Tracking and registry on the test server (never MLflow's process-wide default)."""
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def refusals(app: TestClient, version: str) -> float:
    """How often the app refused version (0 before the first refusal)."""
    return metric(app.get("/metrics").text, MISMATCH, model_version=version) or 0.0


def wait_refused(app: TestClient, version: str, timeout: float = 60.0) -> None:
    """Wait (bounded) until the app has refused version once."""
    deadline = time.monotonic() + timeout
    while refusals(app, version) < 1:
        assert time.monotonic() < deadline, app.get("/readyz").json()
        time.sleep(0.1)


def wait_version(app: TestClient, version: str, timeout: float = 60.0) -> dict[str, Any]:
    """Wait (bounded) until /readyz reports version; return its body."""
    deadline = time.monotonic() + timeout
    while True:
        body: dict[str, Any] = app.get("/readyz").json()
        if body.get("model_version") == version:
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.1)


def move(server: MlflowServer, name: str, version: str) -> None:
    client(server.tracking_uri).set_registered_model_alias(name, registry.CHAMPION_ALIAS, version)


def test_training_records_the_digest_of_the_artifact_serving_downloads(
    mlflow_server: MlflowServer,
) -> None:
    name = unique_name()
    assert run_in_process("train", *FAST_TRAIN, env=cli_env(mlflow_server, name)) == 0
    tags = client(mlflow_server.tracking_uri).get_model_version(name, "1").tags
    assert tags[registry.MODEL_DIGEST_TAG] == stored_digest(mlflow_server.tracking_uri, name, "1")


def test_a_tampered_version_is_refused_and_the_champion_keeps_serving(
    mlflow_server: MlflowServer,
) -> None:
    name = unique_name()
    environment = cli_env(mlflow_server, name)
    for seed in ("1", "2"):  # two versions registered by training, with different models
        assert run_in_process("train", *FAST_TRAIN, "--seed", seed, env=environment) == 0
    recorded = (
        client(mlflow_server.tracking_uri)
        .get_model_version(name, "2")
        .tags[registry.MODEL_DIGEST_TAG]
    )
    # Version 2's model replaced by version 1's: a loadable model that is not the one trained,
    # so only the digest can tell (a server that did not check would switch to "version 2").
    model_1 = read_artifact(mlflow_server, name, "1", "model.skops")
    assert model_1 != read_artifact(mlflow_server, name, "2", "model.skops")
    tamper_artifact(mlflow_server, name, "2", "model.skops", model_1)
    actual = stored_digest(mlflow_server.tracking_uri, name, "2")
    assert actual != recorded
    move(mlflow_server, name, "1")
    with serving(mlflow_server, name) as app:
        wait_ready(app)
        move(mlflow_server, name, "2")
        wait_refused(app, "2")
        ready = app.get("/readyz")
        row = generate(1, seed=5)[list(FEATURES)].to_dict(orient="records")
        predicted = app.post("/predict", json={"instances": row})
        # Ten more polls: the refused version is not downloaded and counted again.
        time.sleep(10 * POLL_SECONDS)
        text = app.get("/metrics").text
        still = app.get("/readyz").json()

    assert ready.status_code == 200
    body = ready.json()
    assert body["model_version"] == "1"
    assert f"refusing {name} version 2" in body["detail"]
    assert actual in body["detail"]
    assert recorded in body["detail"]
    assert predicted.status_code == 200
    assert predicted.json()["model_version"] == "1"
    assert metric(text, MISMATCH, model_version="2") == 1.0
    assert metric(text, "serving_model_loads_total") == 1.0
    assert metric(text, "serving_model_version") == 1.0
    assert still["model_version"] == "1"
    assert "refusing" in still["detail"]


def test_a_version_without_a_recorded_digest_is_refused_until_one_is_recorded(
    mlflow_server: MlflowServer,
) -> None:
    name = unique_name()
    uri = mlflow_server.tracking_uri
    register_model(uri, name)
    untagged = register_model(uri, name, flip=True, alias=None, record_digest=False)
    assert (
        registry.MODEL_DIGEST_TAG not in client(uri).get_model_version(name, untagged.version).tags
    )
    with serving(mlflow_server, name) as app:
        wait_ready(app)
        move(mlflow_server, name, untagged.version)
        wait_refused(app, untagged.version)
        refused = app.get("/readyz").json()
        # Recording the digest (of the artifact as stored) ends the refusal without a restart.
        client(uri).set_model_version_tag(
            name,
            untagged.version,
            registry.MODEL_DIGEST_TAG,
            stored_digest(uri, name, untagged.version),
        )
        loaded = wait_version(app, untagged.version)
        text = app.get("/metrics").text

    assert refused["model_version"] == "1"
    assert f"version {untagged.version}" in refused["detail"]
    assert f"none (no {registry.MODEL_DIGEST_TAG} tag)" in refused["detail"]
    assert loaded["status"] == "ready"
    assert metric(text, MISMATCH, model_version=untagged.version) == 1.0
    assert metric(text, "serving_model_loads_total") == 2.0


def test_serving_stays_not_ready_when_its_first_version_is_tampered_and_loads_the_next(
    mlflow_server: MlflowServer,
) -> None:
    name = unique_name()
    uri = mlflow_server.tracking_uri
    first = register_model(uri, name)
    second = register_model(uri, name, flip=True, alias=None)
    swapped = read_artifact(mlflow_server, name, second.version, "model.skops")
    tamper_artifact(mlflow_server, name, first.version, "model.skops", swapped)
    with serving(mlflow_server, name) as app:
        wait_refused(app, first.version)
        readyz = app.get("/readyz")
        predict = app.post("/predict", json={"instances": [SLOW_ROW]})
        move(mlflow_server, name, second.version)  # the refusal ends when the alias moves
        loaded = wait_version(app, second.version)

    assert readyz.status_code == 503
    assert f"refusing {name} version {first.version}" in readyz.json()["detail"]
    assert "no model loaded" in readyz.json()["detail"]
    assert predict.status_code == 503
    assert loaded["status"] == "ready"
