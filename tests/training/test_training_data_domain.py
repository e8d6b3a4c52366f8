"""Training refuses values outside each column's domain before scikit-learn sees them.

Non-finite numbers, numbers beyond float32 (the trees compare in float32), hours outside
0..23, weekdays outside 0..6, flags and labels other than 0/1, and unknown weather: the error
names the dataset, the column, the first offending row and its value.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlops_contract import inference_log as layout
from training import data, inference_log
from training.errors import TrainingError

from tests.training.helpers import FAST_TRAIN, error_lines, run_training

BAD_ROW = 3
# (column, bad value, words of the domain in the message)
CASES: dict[str, tuple[str, Any, str]] = {
    "infinite speed": ("recent_speed_kmh", np.inf, "finite number within the float32 range"),
    "negative infinite count": ("recent_vehicle_count", -np.inf, "finite number"),
    "speed beyond float32": ("recent_speed_kmh", 1e39, "float32"),
    "hour 24": ("hour", 24, "whole numbers from 0 to 23"),
    "negative hour": ("hour", -1, "whole numbers from 0 to 23"),
    "weekday 7": ("weekday", 7, "whole numbers from 0 to 6"),
    "event flag 2": ("special_event", 2, "whole numbers from 0 to 1"),
    "label 2": (data.TARGET, 2, "0/1 labels"),
    "unknown weather": ("weather", "hail", "must be one of clear, rain, fog, snow"),
    "hour beyond int64": ("hour", 1e30, "whole numbers from 0 to 23"),
}


def _bad_frame(column: str, value: Any) -> pd.DataFrame:
    frame = data.generate(20, seed=4)
    if isinstance(value, float):
        frame[column] = frame[column].astype(np.float64)
    frame.loc[BAD_ROW, column] = value
    frame.loc[BAD_ROW + 5, column] = value  # the message names the first of them
    return frame


def _write(frame: pd.DataFrame, path: Path) -> str:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return str(path)


@pytest.mark.unit
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
@pytest.mark.parametrize("case", list(CASES))
def test_a_file_with_a_value_outside_the_domain_names_column_row_and_value(
    tmp_path: Path, case: str, suffix: str
) -> None:
    column, value, domain = CASES[case]
    source = _write(_bad_frame(column, value), tmp_path / f"bad{suffix}")
    with pytest.raises(TrainingError) as caught:
        data.load(source)
    message = str(caught.value)
    assert message.startswith(f"dataset {source}: column {column!r} "), message
    assert domain in message, message
    assert f"row {BAD_ROW} " in message, message
    assert f"holds {value!r}" in message or f"holds {float(value)!r}" in message, message
    assert "2 row(s) in all" in message, message


@pytest.mark.unit
def test_values_at_the_edges_of_the_domain_are_accepted() -> None:
    frame = data.generate(20, seed=4)
    frame.loc[0, ["hour", "weekday"]] = [0, 6]
    frame.loc[1, ["hour", "weekday"]] = [23, 0]
    frame["recent_speed_kmh"] = frame["recent_speed_kmh"].astype(np.float64)
    frame.loc[2, "recent_speed_kmh"] = float(np.finfo(np.float32).max)
    frame.loc[3, "recent_vehicle_count"] = -float(np.finfo(np.float32).max)
    out = data.validate(frame, "edges")
    assert out["hour"].tolist()[:2] == [0, 23]


def _joined(frame: pd.DataFrame) -> pd.DataFrame:
    """The inference log's joined rows (prefixed features, label, prediction) for ``frame``."""
    joined = frame[list(data.FEATURES)].rename(columns=layout.feature_column)
    return joined.assign(**{
        layout.LABEL: frame[data.TARGET].astype(str),
        layout.PREDICTION: frame[data.TARGET].astype(str),
        layout.MODEL_VERSION: "1",
        layout.TS: pd.Timestamp("2026-01-01", tz="UTC"),
        layout.PREDICTION_ID: [f"id-{i}" for i in range(len(frame))],
    })  # fmt: skip


@pytest.mark.unit
@pytest.mark.parametrize("case", [c for c in CASES if c != "label 2"])
def test_inference_log_rows_outside_the_domain_are_left_out_and_counted(case: str) -> None:
    # Serving takes any weather string and any hour: a client's bad rows must not fail retrain.
    column, value, _ = CASES[case]
    frame = _bad_frame(column, value)
    out, dropped = inference_log.to_training_frame(_joined(frame))
    assert dropped == 2
    assert len(out) == len(frame) - 2
    kept = frame.drop(index=[BAD_ROW, BAD_ROW + 5])
    assert out[layout.PREDICTION_ID].tolist() == [f"id-{i}" for i in kept.index]
    data.validate(out[[*data.FEATURES, data.TARGET]], "kept rows")  # nothing bad got through


@pytest.mark.integration
@pytest.mark.parametrize("command", ["train", "retrain"])
def test_train_and_retrain_fail_with_one_line_naming_the_row(
    training_env: dict[str, str], tmp_path: Path, command: str
) -> None:
    source = _write(_bad_frame("hour", 24), tmp_path / "bad.csv")
    extra = ["--policy", "always"] if command == "retrain" else []
    proc = run_training(command, *FAST_TRAIN, *extra, "--data", source, env=training_env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    lines = error_lines(proc)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: dataset {source}: column 'hour' "), lines[0]
    assert f"row {BAD_ROW} (counting data rows from 0) holds 24" in lines[0], lines[0]
    assert "Traceback" not in proc.stderr
