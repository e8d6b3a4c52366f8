"""Unit tests: the synthetic generator, file reading and schema validation (no servers)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from training import data
from training.errors import TrainingError

pytestmark = pytest.mark.unit


def test_generator_is_deterministic_for_the_same_seed() -> None:
    first = data.generate(500, seed=7, drift=0.3)
    second = data.generate(500, seed=7, drift=0.3)
    pd.testing.assert_frame_equal(first, second)
    assert not first.equals(data.generate(500, seed=8, drift=0.3))


def test_generator_has_the_schema_and_both_classes() -> None:
    df = data.generate(2000, seed=0)
    assert list(df.columns) == [*data.FEATURES, data.TARGET]
    assert set(df[data.TARGET].unique()) == {0, 1}
    assert set(df["weather"].unique()) <= set(data.WEATHER)
    assert df["hour"].between(0, 23).all()
    validated = data.validate(df, "synthetic")
    assert validated.dtypes.to_dict() == df.dtypes.to_dict()


def test_drift_shifts_feature_distributions() -> None:
    calm = data.generate(5000, seed=1, drift=0.0)
    drifted = data.generate(5000, seed=1, drift=1.0)
    assert drifted["recent_vehicle_count"].mean() > 1.3 * calm["recent_vehicle_count"].mean()
    assert (drifted["weather"] == "clear").mean() < (calm["weather"] == "clear").mean() - 0.2
    assert drifted["road_works"].mean() > calm["road_works"].mean() + 0.15


def test_drift_changes_the_concept_not_only_the_inputs() -> None:
    # Same rows of inputs, labelled under both concepts: the effect of road works differs.
    calm = data.generate(20000, seed=3, drift=0.0)
    drifted = data.generate(20000, seed=3, drift=1.0)

    def road_works_lift(df: pd.DataFrame) -> float:
        by = df.groupby("road_works")[data.TARGET].mean()
        return float(by.loc[1] - by.loc[0])

    assert road_works_lift(drifted) > road_works_lift(calm) + 0.1


@pytest.mark.parametrize(("rows", "drift"), [(0, 0.0), (10, -0.1), (10, 1.5)])
def test_generator_refuses_bad_arguments(rows: int, drift: float) -> None:
    with pytest.raises(TrainingError, match="synthetic dataset"):
        data.generate(rows, drift=drift)


def test_validate_names_the_empty_dataset() -> None:
    empty = data.generate(10).iloc[0:0]
    with pytest.raises(TrainingError, match=r"dataset my\.csv is empty \(0 rows\)"):
        data.validate(empty, "my.csv")


def test_validate_names_the_missing_column() -> None:
    df = data.generate(50).drop(columns=["weather"])
    with pytest.raises(TrainingError, match=r"missing column.*weather"):
        data.validate(df, "x.csv")


def test_validate_names_a_wrong_dtype() -> None:
    df = data.generate(50)
    df["hour"] = "noon"
    with pytest.raises(TrainingError, match="column 'hour' must be numeric, got dtype str"):
        data.validate(df, "x.csv")
    df = data.generate(50)
    df["weather"] = 3
    with pytest.raises(TrainingError, match="column 'weather' must be text"):
        data.validate(df, "x.csv")


def test_validate_refuses_missing_values_and_non_binary_labels() -> None:
    df = data.generate(50).astype({"recent_speed_kmh": float})
    df.loc[3, "recent_speed_kmh"] = np.nan
    with pytest.raises(TrainingError, match="'recent_speed_kmh' has 1 missing values"):
        data.validate(df, "x.csv")
    df = data.generate(50)
    df.loc[0, data.TARGET] = 2
    with pytest.raises(TrainingError, match="must hold 0/1 labels"):
        data.validate(df, "x.csv")


def test_validate_casts_integral_floats_and_bools() -> None:
    df = data.generate(50)
    df["hour"] = df["hour"].astype(float)
    df["road_works"] = df["road_works"].astype(bool)
    out = data.validate(df, "x.csv")
    assert out["hour"].dtype == np.int64
    assert out["road_works"].dtype == np.int64
    df["hour"] = df["hour"] + 0.5
    with pytest.raises(TrainingError, match="'hour' must hold whole numbers"):
        data.validate(df, "x.csv")


def test_read_local_csv_and_parquet_round_trip(tmp_path: Path) -> None:
    df = data.generate(100, seed=5)
    df.to_csv(tmp_path / "d.csv", index=False)
    df.to_parquet(tmp_path / "d.parquet", index=False)
    for name in ("d.csv", "d.parquet"):
        loaded, source = data.load(str(tmp_path / name))
        assert source.endswith(name)
        pd.testing.assert_frame_equal(loaded, data.validate(df, "reference"))


def test_read_reports_malformed_and_missing_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"this is not parquet")
    with pytest.raises(TrainingError, match="is not valid Parquet"):
        data.read(str(bad))
    with pytest.raises(TrainingError, match="no such file"):
        data.read(str(tmp_path / "absent.csv"))
    with pytest.raises(TrainingError, match=r"unsupported file type '\.json'"):
        data.read(str(tmp_path / "d.json"))
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(TrainingError, match="is empty"):
        data.read(str(empty))
