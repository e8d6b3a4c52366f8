"""The real app under uvicorn follows the real MLflow registry (Postgres + SeaweedFS S3)."""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import httpx
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from tests.services import MlflowServer
from tests.serving.helpers import (
    FAST_ROW,
    SLOW_ROW,
    make_frame,
    metric,
    register_model,
    run_serving,
    unique_name,
)

pytestmark = pytest.mark.integration


def test_serving_loads_the_champion_and_reports_it(
    mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    name = unique_name()
    registered = register_model(mlflow_server.tracking_uri, name)
    rows = make_frame(5, seed=7)
    with run_serving(tmp_path, mlflow_server.tracking_uri, name) as app:
        ready = app.wait_ready()
        response = app.post("/predict", json={"instances": rows.to_dict(orient="records")})
        text = app.metrics()

    assert ready["model_version"] == registered.version
    assert ready["model_alias"] == "champion"
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == registered.version
    assert body["predictions"] == registered.pipeline.predict(rows).tolist()
    assert len(set(body["ids"])) == 5
    assert response.headers["x-model-version"] == registered.version
    info = metric(text, "serving_model_info", model_alias="champion", model_name=name,
                  model_version=registered.version)  # fmt: skip
    assert info == 1.0
    assert metric(text, "serving_model_version") == float(registered.version)
    assert metric(text, "serving_model_offline_accuracy_ratio") == pytest.approx(
        registered.test_accuracy
    )
    assert metric(text, "serving_model_loads_total") == 1.0
    assert metric(text, "serving_registry_up") == 1.0
    assert (metric(text, "serving_model_last_load_timestamp_seconds") or 0) > 0


def test_serving_is_not_ready_until_a_first_model_loads(
    mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    name = unique_name()
    with run_serving(tmp_path, mlflow_server.tracking_uri, name) as app:
        readyz = app.get("/readyz")
        predict = app.post("/predict", json={"instances": [SLOW_ROW]})
        failures = metric(app.metrics(), "serving_model_load_failures_total")
        registered = register_model(mlflow_server.tracking_uri, name)
        ready = app.wait_ready()
        after = app.post("/predict", json={"instances": [SLOW_ROW]})

    assert readyz.status_code == 503
    assert "no model" in readyz.json()["detail"] or "not found" in readyz.json()["detail"]
    assert predict.status_code == 503
    assert "no model loaded yet" in predict.json()["message"]
    assert (failures or 0) >= 1
    assert ready["model_version"] == registered.version
    assert after.status_code == 200


def test_serving_follows_an_alias_move_under_load_without_failures(
    mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    name = unique_name()
    first = register_model(mlflow_server.tracking_uri, name)
    second = register_model(mlflow_server.tracking_uri, name, flip=True, alias=None)
    rows = pd.DataFrame([SLOW_ROW, FAST_ROW])
    expected = {
        first.version: first.pipeline.predict(rows).tolist(),
        second.version: second.pipeline.predict(rows).tolist(),
    }
    assert expected[first.version] != expected[second.version]  # versions are distinguishable
    results: list[tuple[int, str | None, bool]] = []
    lock = threading.Lock()
    seen_second = threading.Event()

    def client() -> None:
        # Bounded: stop after 40 requests once the new version has been seen, at most 1500.
        after_switch = 0
        with httpx.Client(base_url=app.url, timeout=30) as http:
            for _ in range(1500):
                response = http.post("/predict", json={"instances": [SLOW_ROW, FAST_ROW]})
                body = response.json() if response.status_code == 200 else {}
                version = body.get("model_version")
                ok = version in expected and body["predictions"] == expected[version]
                with lock:
                    results.append((response.status_code, version, ok))
                if version == second.version:
                    seen_second.set()
                    after_switch += 1
                    if after_switch >= 40:
                        return

    with run_serving(tmp_path, mlflow_server.tracking_uri, name) as app:
        app.wait_ready(version=first.version)
        threads = [threading.Thread(target=client) for _ in range(8)]
        for thread in threads:
            thread.start()
        while len(results) < 80:  # the load is running on version 1 before the move
            threading.Event().wait(0.05)
        MlflowClient(mlflow_server.tracking_uri).set_registered_model_alias(
            name, "champion", second.version
        )
        for thread in threads:
            thread.join(timeout=300)

    statuses = Counter(status for status, _, _ in results)
    versions = Counter(version for _, version, _ in results)
    assert statuses == {200: len(results)}, statuses
    assert all(ok for _, _, ok in results), "a response's predictions did not match its version"
    assert versions[first.version] >= 80
    assert versions[second.version] >= 8 * 40


def test_serving_micro_batches_concurrent_single_row_requests(
    mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    name = unique_name()
    register_model(mlflow_server.tracking_uri, name)
    statuses: list[int] = []

    def client() -> None:
        with httpx.Client(base_url=app.url, timeout=30) as http:
            for _ in range(40):
                statuses.append(http.post("/predict", json={"instances": [SLOW_ROW]}).status_code)

    # A wider wait window makes gathering visible even on a busy 2-core machine.
    with run_serving(tmp_path, mlflow_server.tracking_uri, name, BATCH_MAX_WAIT_MS="20") as app:
        app.wait_ready()
        threads = [threading.Thread(target=client) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        text = app.metrics()

    assert statuses.count(200) == 16 * 40
    rows = metric(text, "serving_batch_size_rows_sum")
    calls = metric(text, "serving_batch_size_rows_count")
    single = metric(text, "serving_batch_size_rows_bucket", le="1.0")
    assert rows == 16 * 40
    assert calls is not None
    assert calls < rows  # fewer predict calls than rows: requests were batched
    assert single is not None
    assert single < calls  # some predict calls carried more than one row
