"""The inference log layout in mlops_contract: keys, partitions, refusals (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from mlops_contract import inference_log as layout
from serving.fastpath import Predictor
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

from tests.serving.helpers import make_frame


def test_object_key_is_hive_partitioned_by_the_utc_hour_and_unique_per_replica_and_flush() -> None:
    ts = datetime(2025, 3, 9, 23, 59, 59, tzinfo=timezone(timedelta(hours=-2)))  # 01:59 UTC
    key = layout.object_key(layout.PREDICTIONS, ts, "serving-7f9c-abcde", 1741579199000, 42)
    assert key == (
        "v1/predictions/date=2025-03-10/hour=01/serving-7f9c-abcde-1741579199000-000042.parquet"
    )
    other = layout.object_key(layout.PREDICTIONS, ts, "serving-7f9c-fghij", 1741579199000, 42)
    assert other != key


def test_partitions_cover_every_hour_of_a_window_across_midnight() -> None:
    start = datetime(2025, 1, 31, 22, 30, tzinfo=UTC)
    end = datetime(2025, 2, 1, 1, 0, tzinfo=UTC)
    assert layout.partitions(layout.LABELS, start, end) == [
        "v1/labels/date=2025-01-31/hour=22/",
        "v1/labels/date=2025-01-31/hour=23/",
        "v1/labels/date=2025-02-01/hour=00/",
        "v1/labels/date=2025-02-01/hour=01/",
    ]
    assert layout.partitions(layout.LABELS, start, start) == ["v1/labels/date=2025-01-31/hour=22/"]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: layout.partition("scores", datetime.now(UTC)), "kind must be one of"),
        (lambda: layout.partition(layout.LABELS, datetime(2025, 1, 1)), "no timezone"),
        (lambda: layout.object_key(layout.LABELS, datetime.now(UTC), "a/b", 0, 0), "replica"),
        (lambda: layout.object_key(layout.LABELS, datetime.now(UTC), "a", -1, 0), "unix_ms"),
        (
            lambda: layout.partitions(
                layout.LABELS, datetime.now(UTC), datetime.now(UTC) - timedelta(hours=1)
            ),
            "before start",
        ),
    ],
)
def test_bad_layout_arguments_are_refused_with_the_reason(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_the_forest_fast_path_reports_the_models_positive_class_probability() -> None:
    frame = make_frame(300)[["speed", "volume"]]
    target = (frame["speed"] < 50).astype(int)
    model = RandomForestClassifier(n_estimators=20, random_state=0).fit(frame, target)
    predictor = Predictor(model)
    assert predictor.fast
    labels, proba = predictor.predict_scored(frame, proba=True)
    assert labels.tolist() == model.predict(frame).tolist()
    assert proba is not None
    np.testing.assert_allclose(proba, model.predict_proba(frame)[:, 1])
    assert predictor.predict_scored(frame, proba=False)[1] is None


def test_other_binary_models_report_predict_proba_and_multiclass_reports_none() -> None:
    frame = make_frame(300)[["speed", "volume"]]
    binary = LogisticRegression().fit(frame, (frame["speed"] < 50).astype(int))
    _, proba = Predictor(binary).predict_scored(frame, proba=True)
    assert proba is not None
    np.testing.assert_allclose(proba, binary.predict_proba(frame)[:, 1])
    three = LogisticRegression().fit(frame, np.digitize(frame["speed"], [40, 60]))
    labels, none = Predictor(three).predict_scored(frame, proba=True)
    assert none is None
    assert labels.tolist() == three.predict(frame).tolist()
