"""Numbers the model cannot take are refused by validation on every request and every path.

scikit-learn's trees compare features as float32, and the forest fast path casts to float32:
a number beyond that range used to be refused only while the fast path was still being
checked (``model.predict`` raised) and silently predicted as infinity afterwards. Such refused
batches also used up the fast path's checked batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from serving.fastpath import VERIFY_BATCHES, Predictor
from serving.settings import Settings
from sklearn.ensemble import RandomForestClassifier

from tests.services import MlflowServer
from tests.serving.helpers import (
    FEATURES,
    SLOW_ROW,
    make_frame,
    register_model,
    serve_ready,
    unique_name,
)

BEYOND_FLOAT32 = 1e39  # a finite float64, infinite as float32
INT32_MAX = 2**31 - 1
# More requests than the fast path checks: the answer must not change once checks run out.
REPEATS = VERIFY_BATCHES + 5


@pytest.fixture(scope="module")
def forest_client(mlflow_server: MlflowServer) -> Iterator[TestClient]:
    """The app serving a random forest (fast path) whose signature has an int32 column."""
    name = unique_name()
    forest = RandomForestClassifier(n_estimators=10, max_depth=4, random_state=0)
    register_model(mlflow_server.tracking_uri, name, classifier=forest, hour_dtype="int32")
    settings = Settings(mlflow_tracking_uri=mlflow_server.tracking_uri, model_name=name)
    with serve_ready(settings) as client:
        yield client


def _bad(**changes: Any) -> dict[str, Any]:
    return {**SLOW_ROW, **changes}


def _split(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "dataframe_split": {"columns": FEATURES, "data": [[r[f] for f in FEATURES] for r in rows]}
    }


def _columns(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"inputs": {f: [r[f] for r in rows] for f in FEATURES}}


# (route, body builder, field named for a bad second row's feature)
PATHS = {
    "predict instances": ("/predict", lambda rows: {"instances": rows}, "instances[1]"),
    "invocations records": ("/invocations", lambda rows: {"dataframe_records": rows},
                            "dataframe_records[1]"),
    "invocations split": ("/invocations", _split, "dataframe_split.data[1]"),
    "invocations columns": ("/invocations", _columns, "inputs[1]"),
}  # fmt: skip
VALUES = {
    "float beyond float32": ("speed", BEYOND_FLOAT32, "float32"),
    "negative beyond float32": ("volume", -BEYOND_FLOAT32, "float32"),
    "integer beyond float32": ("speed", 10**39, "float32"),
    "integer beyond int32": ("hour", INT32_MAX + 1, "int32"),
    "integral float beyond int32": ("hour", float(-(2**31) - 1), "int32"),
}


@pytest.mark.integration
@pytest.mark.parametrize("value_case", list(VALUES))
@pytest.mark.parametrize("path_case", list(PATHS))
def test_out_of_range_numbers_are_refused_on_every_request(
    forest_client: TestClient, path_case: str, value_case: str
) -> None:
    route, build, where = PATHS[path_case]
    feature, value, range_name = VALUES[value_case]
    body = build([SLOW_ROW, _bad(**{feature: value})])
    for _ in range(REPEATS):
        response = forest_client.post(route, json=body)
        assert response.status_code == 422, response.text
        error = response.json()
        assert error["field"] == f"{where}.{feature}", error
        assert range_name in error["message"], error
    assert forest_client.post(route, json=build([SLOW_ROW])).status_code == 200


@pytest.mark.integration
def test_values_at_the_edge_of_the_range_are_predicted(forest_client: TestClient) -> None:
    edge = _bad(speed=float(np.finfo(np.float32).max), volume=-1e38, hour=INT32_MAX)
    response = forest_client.post("/predict", json={"instances": [edge, SLOW_ROW]})
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 2


@pytest.mark.unit
def test_refused_batches_do_not_use_up_the_fast_path_checks() -> None:
    train = make_frame(200)[["speed", "volume"]]
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(train, train["speed"] > 50)
    predictor = Predictor(model)
    refused = pd.DataFrame({"speed": [BEYOND_FLOAT32], "volume": [1.0]})
    for _ in range(REPEATS):  # input validation would have stopped these; the model does too
        with pytest.raises(ValueError, match="float32"):
            predictor.predict(refused)
    # The checks are all still there: a fast path that now disagrees is caught and turned off.
    predictor._fast = lambda x: (np.full(len(x), "wrong"), None)
    assert predictor.predict(train).tolist() == model.predict(train).tolist()
    assert not predictor.fast
