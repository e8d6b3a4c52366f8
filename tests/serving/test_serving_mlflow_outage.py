"""MLflow goes down: serving keeps answering with the last good model, says so, and recovers.

This module stops the session's MLflow server; tests/serving/conftest.py runs it last, and the
server is restarted in a ``finally`` whatever happens.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

from tests.services import MlflowServer
from tests.serving.helpers import (
    SLOW_ROW,
    ServingProcess,
    metric,
    register_model,
    run_serving,
    unique_name,
)

pytestmark = pytest.mark.integration


def _wait_registry_up(app: ServingProcess, value: float, timeout: float = 90.0) -> str:
    deadline = time.monotonic() + timeout
    text = app.metrics()
    while metric(text, "serving_registry_up") != value:
        assert time.monotonic() < deadline, f"serving_registry_up never became {value}"
        time.sleep(0.2)
        text = app.metrics()
    return text


def test_serving_keeps_the_last_good_model_while_mlflow_is_down_then_recovers(
    mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    name = unique_name()
    first = register_model(mlflow_server.tracking_uri, name)
    expected_first = first.pipeline.predict(pd.DataFrame([SLOW_ROW])).tolist()
    with run_serving(tmp_path, mlflow_server.tracking_uri, name) as app:
        app.wait_ready(version=first.version)
        failures_before = metric(app.metrics(), "serving_model_load_failures_total") or 0
        try:
            mlflow_server.stop()
            down_metrics = _wait_registry_up(app, 0.0)
            down_predict = app.post("/predict", json={"instances": [SLOW_ROW]})
            down_ready = app.get("/readyz")
        finally:
            mlflow_server.start()
        _wait_registry_up(app, 1.0)
        up_ready = app.get("/readyz").json()
        second = register_model(mlflow_server.tracking_uri, name, flip=True)
        moved = app.wait_ready(version=second.version)
        after_move = app.post("/predict", json={"instances": [SLOW_ROW]}).json()

    assert down_predict.status_code == 200
    assert down_predict.json()["model_version"] == first.version
    assert down_predict.json()["predictions"] == expected_first
    assert down_ready.status_code == 200
    detail = down_ready.json()["detail"]
    assert "unreachable" in detail
    assert f"last good version {first.version}" in detail
    assert down_ready.json()["registry_up"] is False
    assert (metric(down_metrics, "serving_model_load_failures_total") or 0) > failures_before
    assert up_ready["registry_up"] is True
    assert "unreachable" not in up_ready["detail"]
    assert moved["model_version"] == second.version
    assert after_move["model_version"] == second.version
    assert after_move["predictions"] != expected_first
