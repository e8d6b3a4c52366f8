"""Unit tests: the recent train/holdout split and the per-version figures `retrain` pushes."""

from __future__ import annotations

import pandas as pd
import pytest
from training import data, inference_log, online
from training.champion import Champion

pytestmark = pytest.mark.unit


def _labelled(rows: int, versions: list[str]) -> pd.DataFrame:
    frame = data.validate(data.generate(rows, seed=3), "x")
    start = pd.Timestamp("2030-01-01T00:00:00Z")
    return frame.assign(
        model_version=[versions[i % len(versions)] for i in range(rows)],
        ts=[start + pd.Timedelta(seconds=i) for i in range(rows)],
        prediction=[float(y if i % 4 else 1 - y) for i, y in enumerate(frame[data.TARGET])],
    )


def test_the_holdout_is_the_newest_rows_and_the_cap_keeps_the_most_recent() -> None:
    rows = _labelled(1000, ["1"])
    shuffled = rows.sample(frac=1.0, random_state=0)  # the reader's order must not matter
    train, holdout = inference_log.recent_split(shuffled, max_rows=400, holdout_fraction=0.25)
    assert (len(train), len(holdout)) == (300, 100)
    assert list(train.columns) == [*data.FEATURES, data.TARGET]
    newest = rows.tail(400)
    pd.testing.assert_frame_equal(holdout, newest.tail(100)[train.columns].reset_index(drop=True))
    pd.testing.assert_frame_equal(train, newest.head(300)[train.columns].reset_index(drop=True))
    with pytest.raises(ValueError, match="holdout fraction"):
        inference_log.recent_split(rows, max_rows=400, holdout_fraction=1.0)


def test_figures_per_version_and_the_champion_even_without_rows() -> None:
    rows = _labelled(400, ["1", "2"])
    figures = online.figures(rows, Champion(version="3", offline_accuracy=0.9))
    by_version = {f.version: f for f in figures}
    assert set(by_version) == {"1", "2", "3"}
    # Rows alternate between the versions and every fourth prediction is wrong: all of them v1's.
    for version, accuracy in (("1", 0.5), ("2", 1.0)):
        f = by_version[version]
        assert f.labelled == 200
        assert f.online == accuracy
        assert f.offline is None
        assert not f.champion
    assert by_version["3"] == online.VersionFigures(
        version="3", labelled=0, online=None, offline=0.9, champion=True
    )
    assert online.figures(rows.head(0), None) == []
