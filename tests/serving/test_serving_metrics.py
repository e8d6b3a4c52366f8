"""Metrics move as requests, feedback and drifted inputs arrive; /invocations matches /predict."""

from __future__ import annotations

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from tests.serving.helpers import (
    DRIFT_WINDOW_ROWS,
    FAST_ROW,
    SLOW_ROW,
    Registered,
    make_frame,
    metric,
)

pytestmark = pytest.mark.integration


def _predict(client: TestClient, rows: list[dict[str, object]]) -> dict[str, object]:
    response = client.post("/predict", json={"instances": rows})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_invocations_accepts_the_three_mlflow_formats_with_predict_results(
    client: TestClient, registered: Registered
) -> None:
    frame = make_frame(6, seed=3)
    records = frame.to_dict(orient="records")
    split = frame.to_dict(orient="split")
    split.pop("index")
    expected = registered.pipeline.predict(frame).tolist()
    payloads = {
        "dataframe_split": {"dataframe_split": split},
        "dataframe_records": {"dataframe_records": records},
        "inputs (columns)": {"inputs": frame.to_dict(orient="list")},
        "inputs (records)": {"inputs": records},
        "instances": {"instances": records},
    }
    answers = {k: client.post("/invocations", json=v) for k, v in payloads.items()}
    assert _predict(client, records)["predictions"] == expected
    for fmt, response in answers.items():
        assert response.status_code == 200, (fmt, response.text)
        assert response.json() == {"predictions": expected}, fmt


def test_request_and_prediction_metrics_count_what_was_served(
    client: TestClient, registered: Registered
) -> None:
    before = client.get("/metrics").text
    _predict(client, [SLOW_ROW, FAST_ROW, SLOW_ROW])
    client.post("/predict", json={"instances": []})
    after = client.get("/metrics").text
    ok = {"route": "/predict", "status": "200"}
    bad = {"route": "/predict", "status": "422"}
    assert (metric(after, "serving_requests_total", **ok) or 0) == (
        metric(before, "serving_requests_total", **ok) or 0
    ) + 1
    assert (metric(after, "serving_requests_total", **bad) or 0) == (
        metric(before, "serving_requests_total", **bad) or 0
    ) + 1
    version = registered.version
    slow_class, fast_class = (
        str(c) for c in registered.pipeline.predict(pd.DataFrame([SLOW_ROW, FAST_ROW]))
    )
    for cls, count in ((slow_class, 2), (fast_class, 1)):
        labels = {"model_version": version, "class": cls}
        assert (metric(after, "serving_predictions_total", **labels) or 0) - (
            metric(before, "serving_predictions_total", **labels) or 0
        ) == count
    latency = {"route": "/predict"}
    assert (metric(after, "serving_request_duration_seconds_count", **latency) or 0) > (
        metric(before, "serving_request_duration_seconds_count", **latency) or 0
    )


def test_feedback_counts_every_label_received_and_scores_none_in_the_pod(
    client: TestClient, registered: Registered
) -> None:
    body = _predict(client, [SLOW_ROW] * 4)
    ids, predictions = body["ids"], body["predictions"]
    assert isinstance(ids, list)
    assert isinstance(predictions, list)
    before = client.get("/metrics").text
    labels = [
        {"id": ids[0], "label": predictions[0]},
        {"id": ids[1], "label": 1 - predictions[1]},
        {"id": "predicted-by-another-replica", "label": 1},
    ]
    response = client.post("/feedback", json={"feedback": labels})
    again = client.post("/feedback", json={"feedback": [{"id": ids[0], "label": 0}]})
    after = client.get("/metrics").text

    assert response.status_code == 200
    # This app has no inference log: the labels are counted, not stored.
    assert response.json() == {"received": 3, "logged": False}
    assert again.json() == {"received": 1, "logged": False}  # a repeated id is a new label
    received = (metric(after, "serving_feedback_total") or 0) - (
        metric(before, "serving_feedback_total") or 0
    )
    assert received == 4
    # Online accuracy is the inference log's (pushed by retrain), not a per-pod gauge.
    assert "serving_online_accuracy_ratio" not in after


def test_drift_psi_rises_for_the_shifted_feature_only(client: TestClient) -> None:
    in_distribution = make_frame(DRIFT_WINDOW_ROWS, seed=11).to_dict(orient="records")
    for start in range(0, DRIFT_WINDOW_ROWS, 50):
        _predict(client, in_distribution[start : start + 50])
    calm = client.get("/metrics").text
    shifted = make_frame(DRIFT_WINDOW_ROWS, seed=12, speed_mean=90.0).to_dict(orient="records")
    for start in range(0, DRIFT_WINDOW_ROWS, 50):
        _predict(client, shifted[start : start + 50])
    drifted = client.get("/metrics").text

    assert metric(drifted, "serving_drift_window_rows") == DRIFT_WINDOW_ROWS
    calm_speed = metric(calm, "serving_feature_drift_psi", feature="speed")
    drifted_speed = metric(drifted, "serving_feature_drift_psi", feature="speed")
    drifted_volume = metric(drifted, "serving_feature_drift_psi", feature="volume")
    drifted_weather = metric(drifted, "serving_feature_drift_psi", feature="weather")
    assert calm_speed is not None
    assert drifted_speed is not None
    assert calm_speed < 0.25
    assert drifted_speed > 1.0
    assert drifted_volume is not None
    assert drifted_volume < 0.25
    assert drifted_weather is not None
    assert drifted_weather < 0.25
