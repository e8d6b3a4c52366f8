"""The forest fast path predicts exactly what scikit-learn predicts, or turns itself off."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from serving.fastpath import VERIFY_BATCHES, Predictor
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from tests.serving.helpers import make_frame

pytestmark = pytest.mark.unit


def _labels(frame: pd.DataFrame) -> np.ndarray:
    # Three string classes, so class order and label mapping are exercised too.
    return np.where(frame["speed"] < 45, "jam", np.where(frame["speed"] < 55, "slow", "free"))


MODELS = {
    "pipeline with preprocessing + random forest": Pipeline([
        ("prep", ColumnTransformer([
            ("num", StandardScaler(), ["speed", "volume", "hour"]),
            ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["weather"]),
        ])),
        ("clf", RandomForestClassifier(n_estimators=30, max_depth=6, random_state=0)),
    ]),
    "bare extra trees on numeric columns": ExtraTreesClassifier(n_estimators=20, random_state=0),
}  # fmt: skip


@pytest.mark.parametrize("name", list(MODELS))
def test_fast_path_predictions_equal_sklearn_predictions(name: str) -> None:
    model = MODELS[name]
    train = make_frame(600, seed=1)
    if name.startswith("bare"):
        train = train[["speed", "volume", "hour"]]
    model.fit(train, _labels(train))
    predictor = Predictor(model)
    assert predictor.fast
    for seed in range(VERIFY_BATCHES + 5):
        rows = make_frame(1 + seed % 40, seed=100 + seed, speed_mean=40 + seed)
        rows = rows[list(train.columns)]
        assert predictor.predict(rows).tolist() == model.predict(rows).tolist()
    assert predictor.fast  # never disagreed


def test_non_forest_models_use_their_own_predict() -> None:
    train = make_frame(200)[["speed", "volume"]]
    model = LogisticRegression().fit(train, _labels(train))
    predictor = Predictor(model)
    assert not predictor.fast
    assert predictor.predict(train).tolist() == model.predict(train).tolist()


def test_a_disagreeing_fast_path_is_turned_off_and_the_model_answers() -> None:
    train = make_frame(200)[["speed", "volume"]]
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(train, _labels(train))
    predictor = Predictor(model)
    predictor._fast = lambda x: (np.full(len(x), "wrong"), None)  # a broken fast path
    assert predictor.predict(train).tolist() == model.predict(train).tolist()
    assert not predictor.fast
